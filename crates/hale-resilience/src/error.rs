//! Errors shared by every policy.
//!
//! A call wrapped in policies can fail in four ways, and callers usually want to react to
//! each differently:
//!
//! - the operation itself failed: [`ResilienceError::Inner`] carries its own error;
//! - a policy refused to start it ([`ResilienceError::Rejected`]): the dependency was
//!   **not** called, so nothing needs undoing;
//! - it ran too long ([`ResilienceError::Timeout`]) and was cancelled;
//! - the retry policy's overall deadline passed ([`ResilienceError::DeadlineExceeded`]).
//!
//! Building a policy with impossible settings fails early with a [`ConfigError`].

use std::sync::Arc;
use std::time::Duration;

/// Why a policy refused to start a call. The dependency was not called.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Rejection {
    /// The circuit breaker is open (or forced open).
    #[error("circuit breaker `{breaker}` is open; the call was not attempted")]
    CircuitOpen {
        /// Name of the breaker.
        breaker: Arc<str>,
        /// Time until the breaker lets a trial call through, if it will on its own
        /// (`None` when forced open).
        retry_after: Option<Duration>,
    },
    /// The bulkhead had no free slot within its maximum wait.
    #[error("bulkhead `{bulkhead}` is full ({max_concurrent} calls in flight)")]
    BulkheadFull {
        /// Name of the bulkhead.
        bulkhead: Arc<str>,
        /// Its concurrency limit.
        max_concurrent: usize,
    },
    /// The rate limiter had no token within its maximum wait.
    #[error("rate limit `{limiter}` exceeded; next call allowed in {retry_after:?}")]
    RateLimited {
        /// Name of the limiter.
        limiter: Arc<str>,
        /// How long until a call would be allowed.
        retry_after: Duration,
    },
    /// A single-flight guard in refuse mode already runs work for this key.
    #[error("single-flight guard `{guard}` is already running `{key}`")]
    AlreadyRunning {
        /// Name of the guard.
        guard: Arc<str>,
        /// The key, formatted with `Debug`.
        key: String,
    },
}

impl Rejection {
    /// Name of the policy that refused the call.
    pub fn policy(&self) -> &str {
        match self {
            Self::CircuitOpen { breaker, .. } => breaker,
            Self::BulkheadFull { bulkhead, .. } => bulkhead,
            Self::RateLimited { limiter, .. } => limiter,
            Self::AlreadyRunning { guard, .. } => guard,
        }
    }

    /// When the refusing policy expects to accept a call again, if it knows.
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            Self::CircuitOpen { retry_after, .. } => *retry_after,
            Self::RateLimited { retry_after, .. } => Some(*retry_after),
            Self::BulkheadFull { .. } | Self::AlreadyRunning { .. } => None,
        }
    }
}

/// The error of a call made through one or more policies.
///
/// `E` is the operation's own error type.
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum ResilienceError<E> {
    /// The operation ran and failed with its own error (after any retries).
    #[error("{0}")]
    Inner(E),
    /// A policy refused to start the call; the dependency was not called.
    #[error(transparent)]
    Rejected(#[from] Rejection),
    /// An attempt ran longer than its timeout and was cancelled.
    #[error("`{policy}` timed out after {after:?}")]
    Timeout {
        /// Name of the timeout (or pipeline) that fired.
        policy: Arc<str>,
        /// The configured limit.
        after: Duration,
    },
    /// The retry policy's overall deadline passed while an attempt was running.
    #[error("retry policy `{policy}` passed its overall deadline of {deadline:?}")]
    DeadlineExceeded {
        /// Name of the retry policy.
        policy: Arc<str>,
        /// The configured deadline, measured from the first attempt.
        deadline: Duration,
    },
}

impl<E> ResilienceError<E> {
    /// The operation's own error, if that is what this is.
    pub fn as_inner(&self) -> Option<&E> {
        match self {
            Self::Inner(error) => Some(error),
            _ => None,
        }
    }

    /// Consumes the error and returns the operation's own error, if that is what this is.
    pub fn into_inner(self) -> Option<E> {
        match self {
            Self::Inner(error) => Some(error),
            _ => None,
        }
    }

    /// The rejection, if a policy refused to start the call.
    pub fn as_rejection(&self) -> Option<&Rejection> {
        match self {
            Self::Rejected(rejection) => Some(rejection),
            _ => None,
        }
    }

    /// True when a policy refused the call and the dependency was not called.
    pub fn is_rejected(&self) -> bool {
        matches!(self, Self::Rejected(_))
    }

    /// True for a per-attempt timeout or a passed overall deadline.
    pub fn is_timeout(&self) -> bool {
        matches!(self, Self::Timeout { .. } | Self::DeadlineExceeded { .. })
    }

    /// Maps the operation's own error, keeping every policy error as it is.
    pub fn map_inner<F, E2>(self, f: F) -> ResilienceError<E2>
    where
        F: FnOnce(E) -> E2,
    {
        match self {
            Self::Inner(error) => ResilienceError::Inner(f(error)),
            Self::Rejected(rejection) => ResilienceError::Rejected(rejection),
            Self::Timeout { policy, after } => ResilienceError::Timeout { policy, after },
            Self::DeadlineExceeded { policy, deadline } => {
                ResilienceError::DeadlineExceeded { policy, deadline }
            }
        }
    }
}

/// A policy was configured with settings that cannot work. Returned when it is built,
/// never later.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// A count or duration that must be positive was zero.
    #[error("{policy} `{name}`: {field} must be greater than zero")]
    Zero {
        /// Kind of policy (`"retry"`, `"circuit breaker"`, ...).
        policy: &'static str,
        /// Name of the policy instance.
        name: String,
        /// The offending setting.
        field: &'static str,
    },
    /// The retry backoff coefficient was below 1 or not a number.
    #[error("retry `{name}`: backoff coefficient must be a finite number >= 1, got {value}")]
    BackoffCoefficient {
        /// Name of the policy instance.
        name: String,
        /// The rejected value.
        value: f64,
    },
    /// The retry maximum interval was shorter than the initial interval.
    #[error("retry `{name}`: maximum interval {maximum:?} is shorter than initial interval {initial:?}")]
    MaxIntervalBelowInitial {
        /// Name of the policy instance.
        name: String,
        /// The initial interval.
        initial: Duration,
        /// The maximum interval.
        maximum: Duration,
    },
    /// Unlimited retry attempts without an overall deadline could retry forever.
    #[error("retry `{name}`: unlimited attempts need an overall deadline")]
    UnboundedRetry {
        /// Name of the policy instance.
        name: String,
    },
    /// A rate threshold was not a percentage in `(0, 100]`.
    #[error("{policy} `{name}`: {field} must be a percentage in (0, 100], got {value}")]
    Percentage {
        /// Kind of policy.
        policy: &'static str,
        /// Name of the policy instance.
        name: String,
        /// The offending setting.
        field: &'static str,
        /// The rejected value.
        value: f64,
    },
    /// A count-based breaker could never reach its minimum number of calls.
    #[error(
        "circuit breaker `{name}`: minimum number of calls {minimum} exceeds the window of {window} calls"
    )]
    MinimumCallsAboveWindow {
        /// Name of the breaker.
        name: String,
        /// The minimum number of calls.
        minimum: u32,
        /// The count-based window size.
        window: u32,
    },
    /// A resource mediator was given the same resource twice.
    #[error("resource mediator `{name}`: resource `{resource}` is declared twice")]
    DuplicateResource {
        /// Name of the mediator.
        name: String,
        /// The duplicated resource.
        resource: String,
    },
    /// A fallback chain was built without any alternative.
    #[error("fallback chain `{name}` has no alternatives")]
    NoAlternatives {
        /// Name of the chain.
        name: String,
    },
}
