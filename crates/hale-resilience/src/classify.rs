//! Telling policies how to treat an error.
//!
//! Two questions are asked of every error an operation returns:
//!
//! - **Retry?** Is it worth trying again (a dropped connection), or will it fail the same
//!   way every time (a malformed request)? And did the server say when to come back
//!   (an HTTP `Retry-After` header)?
//! - **Failure?** Should a circuit breaker count it against the dependency's health? A
//!   "not found" is the dependency working correctly, not a reason to trip the breaker.
//!
//! Answer them either by implementing [`ErrorClass`] on your error type (then use the
//! policies' plain `call` methods) or with a [`Classifier`] built from closures (then use
//! their `call_with` methods). Both are [`Classify`] implementations.
//!
//! Errors that policies produce themselves are classified here once for everyone: a
//! timed-out attempt is retryable and a failure; a rate-limit rejection is retryable after
//! its hint; an open circuit, a passed deadline or a refused single-flight is final; and
//! rejections never count against a breaker because the dependency was not called.

use std::sync::Arc;
use std::time::Duration;

use crate::error::{Rejection, ResilienceError};

/// What a retry policy should do after an error.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RetryDecision {
    /// Try again after the policy's own backoff.
    Retry,
    /// Try again, but not before this long (a server's retry-after hint). The policy
    /// waits for the longer of the hint and its own backoff.
    RetryAfter(Duration),
    /// Do not try again; return this error.
    DoNotRetry,
}

/// How an error type classifies itself. Every method has a default, so an error type
/// that is always retryable and always a failure needs only `impl ErrorClass for MyError {}`.
///
/// ```
/// use std::time::Duration;
/// use hale_resilience::ErrorClass;
///
/// enum ApiError {
///     BadRequest,
///     Overloaded { retry_after: Duration },
///     Unavailable,
/// }
///
/// impl ErrorClass for ApiError {
///     fn is_retryable(&self) -> bool {
///         !matches!(self, ApiError::BadRequest)
///     }
///     fn retry_after(&self) -> Option<Duration> {
///         match self {
///             ApiError::Overloaded { retry_after } => Some(*retry_after),
///             _ => None,
///         }
///     }
///     fn is_failure(&self) -> bool {
///         // A bad request is our fault, not a sign the API is unhealthy.
///         !matches!(self, ApiError::BadRequest)
///     }
/// }
/// ```
pub trait ErrorClass {
    /// Whether trying again may succeed. Default: yes.
    fn is_retryable(&self) -> bool {
        true
    }

    /// A server's hint of when to try again. Default: none.
    fn retry_after(&self) -> Option<Duration> {
        None
    }

    /// Whether a circuit breaker counts this error as a failure of the dependency.
    /// Errors that are not failures are recorded as successful calls. Default: yes.
    fn is_failure(&self) -> bool {
        true
    }
}

impl ErrorClass for String {}
/// Never constructed: for services that cannot fail (common among `tower` services).
impl ErrorClass for std::convert::Infallible {}
impl ErrorClass for &'static str {}
impl ErrorClass for Box<dyn std::error::Error + Send + Sync> {}

impl ErrorClass for std::io::Error {
    /// Transient network and interruption errors are retryable; everything else (not
    /// found, permission denied, invalid input, ...) will fail the same way again.
    fn is_retryable(&self) -> bool {
        use std::io::ErrorKind as K;
        matches!(
            self.kind(),
            K::TimedOut
                | K::Interrupted
                | K::WouldBlock
                | K::ConnectionReset
                | K::ConnectionAborted
                | K::ConnectionRefused
                | K::BrokenPipe
                | K::NotConnected
                | K::UnexpectedEof
        )
    }
}

/// Answers the two classification questions for errors of type `E`.
pub trait Classify<E> {
    /// What a retry policy should do after `error`.
    fn retry_decision(&self, error: &E) -> RetryDecision;

    /// Whether a circuit breaker counts `error` as a failure.
    fn is_failure(&self, error: &E) -> bool;
}

/// Classifies errors through their [`ErrorClass`] implementation. This is what the
/// policies' plain `call` methods use.
#[derive(Debug, Clone, Copy, Default)]
pub struct ByErrorClass;

impl<E: ErrorClass> Classify<E> for ByErrorClass {
    fn retry_decision(&self, error: &E) -> RetryDecision {
        if !error.is_retryable() {
            RetryDecision::DoNotRetry
        } else if let Some(hint) = error.retry_after() {
            RetryDecision::RetryAfter(hint)
        } else {
            RetryDecision::Retry
        }
    }

    fn is_failure(&self, error: &E) -> bool {
        error.is_failure()
    }
}

type RetryFn<E> = Arc<dyn Fn(&E) -> RetryDecision + Send + Sync>;
type FailureFn<E> = Arc<dyn Fn(&E) -> bool + Send + Sync>;

/// A classifier made of closures, for error types you cannot or would rather not
/// implement [`ErrorClass`] on. Build it once and share it; cloning is cheap.
///
/// Without any closure set, every error is retryable and a failure.
///
/// ```
/// use hale_resilience::{Classifier, Classify, RetryDecision};
///
/// let classifier = Classifier::<u16>::new()
///     .retry_if(|status| *status >= 500)
///     .failure_if(|status| *status >= 500);
///
/// assert_eq!(classifier.retry_decision(&503), RetryDecision::Retry);
/// assert_eq!(classifier.retry_decision(&404), RetryDecision::DoNotRetry);
/// assert!(!classifier.is_failure(&404));
/// ```
pub struct Classifier<E> {
    retry: Option<RetryFn<E>>,
    failure: Option<FailureFn<E>>,
}

impl<E> Classifier<E> {
    /// A classifier that retries every error and counts every error as a failure.
    pub fn new() -> Self {
        Self {
            retry: None,
            failure: None,
        }
    }

    /// Retry only the errors for which `retryable` returns true.
    pub fn retry_if<F>(self, retryable: F) -> Self
    where
        F: Fn(&E) -> bool + Send + Sync + 'static,
    {
        self.retry_with(move |error| {
            if retryable(error) {
                RetryDecision::Retry
            } else {
                RetryDecision::DoNotRetry
            }
        })
    }

    /// Decide retries with a closure that may also return a retry-after hint.
    pub fn retry_with<F>(mut self, decide: F) -> Self
    where
        F: Fn(&E) -> RetryDecision + Send + Sync + 'static,
    {
        self.retry = Some(Arc::new(decide));
        self
    }

    /// Count only the errors for which `failure` returns true against a circuit breaker.
    pub fn failure_if<F>(mut self, failure: F) -> Self
    where
        F: Fn(&E) -> bool + Send + Sync + 'static,
    {
        self.failure = Some(Arc::new(failure));
        self
    }
}

impl<E> Default for Classifier<E> {
    fn default() -> Self {
        Self::new()
    }
}

impl<E> Clone for Classifier<E> {
    fn clone(&self) -> Self {
        Self {
            retry: self.retry.clone(),
            failure: self.failure.clone(),
        }
    }
}

impl<E> std::fmt::Debug for Classifier<E> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Classifier")
            .field("custom_retry", &self.retry.is_some())
            .field("custom_failure", &self.failure.is_some())
            .finish()
    }
}

impl<E> Classify<E> for Classifier<E> {
    fn retry_decision(&self, error: &E) -> RetryDecision {
        self.retry
            .as_ref()
            .map_or(RetryDecision::Retry, |decide| decide(error))
    }

    fn is_failure(&self, error: &E) -> bool {
        self.failure.as_ref().is_none_or(|failure| failure(error))
    }
}

/// How a circuit breaker records the end of a call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CallOutcome {
    /// The dependency answered well.
    Success,
    /// The dependency failed (counts toward the failure rate).
    Failure,
    /// Nothing to learn about the dependency (it was not really called); the call is
    /// not recorded at all.
    Ignored,
}

/// The retry decision for any error a wrapped call can return.
pub(crate) fn retry_decision<E, C>(classifier: &C, error: &ResilienceError<E>) -> RetryDecision
where
    C: Classify<E> + ?Sized,
{
    match error {
        ResilienceError::Inner(inner) => classifier.retry_decision(inner),
        ResilienceError::Timeout { .. } => RetryDecision::Retry,
        ResilienceError::DeadlineExceeded { .. } => RetryDecision::DoNotRetry,
        ResilienceError::Rejected(rejection) => match rejection {
            Rejection::BulkheadFull { .. } => RetryDecision::Retry,
            Rejection::RateLimited { retry_after, .. } => RetryDecision::RetryAfter(*retry_after),
            // Hammering an open breaker or a refused duplicate cannot help.
            Rejection::CircuitOpen { .. } | Rejection::AlreadyRunning { .. } => RetryDecision::DoNotRetry,
        },
    }
}

/// How a circuit breaker should record the result of a wrapped call.
pub(crate) fn call_outcome<T, E, C>(classifier: &C, result: &Result<T, ResilienceError<E>>) -> CallOutcome
where
    C: Classify<E> + ?Sized,
{
    match result {
        Ok(_) => CallOutcome::Success,
        Err(ResilienceError::Inner(inner)) => {
            if classifier.is_failure(inner) {
                CallOutcome::Failure
            } else {
                CallOutcome::Success
            }
        }
        Err(ResilienceError::Timeout { .. } | ResilienceError::DeadlineExceeded { .. }) => {
            CallOutcome::Failure
        }
        Err(ResilienceError::Rejected(_)) => CallOutcome::Ignored,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn io_errors_split_into_transient_and_permanent() {
        let reset = std::io::Error::from(std::io::ErrorKind::ConnectionReset);
        let missing = std::io::Error::from(std::io::ErrorKind::NotFound);
        assert_eq!(ByErrorClass.retry_decision(&reset), RetryDecision::Retry);
        assert_eq!(ByErrorClass.retry_decision(&missing), RetryDecision::DoNotRetry);
    }

    #[test]
    fn policy_errors_have_fixed_classes() {
        let c = Classifier::<String>::new();
        let timeout = ResilienceError::<String>::Timeout {
            policy: "t".into(),
            after: Duration::from_secs(1),
        };
        assert_eq!(retry_decision(&c, &timeout), RetryDecision::Retry);
        let limited = ResilienceError::<String>::from(Rejection::RateLimited {
            limiter: "l".into(),
            retry_after: Duration::from_secs(3),
        });
        assert_eq!(
            retry_decision(&c, &limited),
            RetryDecision::RetryAfter(Duration::from_secs(3))
        );
        let open: Result<(), _> = Err(ResilienceError::<String>::from(Rejection::CircuitOpen {
            breaker: "b".into(),
            retry_after: None,
        }));
        assert_eq!(call_outcome(&c, &open), CallOutcome::Ignored);
        let slow: Result<(), _> = Err(timeout);
        assert_eq!(call_outcome(&c, &slow), CallOutcome::Failure);
    }

    #[test]
    fn errors_that_are_not_failures_count_as_successes() {
        let c = Classifier::<u16>::new().failure_if(|status| *status >= 500);
        let not_found: Result<(), _> = Err(ResilienceError::Inner(404u16));
        let unavailable: Result<(), _> = Err(ResilienceError::Inner(503u16));
        assert_eq!(call_outcome(&c, &not_found), CallOutcome::Success);
        assert_eq!(call_outcome(&c, &unavailable), CallOutcome::Failure);
    }
}
