//! The retry loop.

use std::fmt::Display;
use std::future::Future;
use std::time::Duration;

use hale_util::report_progress;
use tokio::time::{Instant, sleep, timeout_at};

use super::policy::RetryPolicy;
use crate::classify::{Classify, RetryDecision, retry_decision};
use crate::error::ResilienceError;
use crate::events::{EventKind, GiveUpReason};
use crate::stats::bump;
use crate::util::{lock, millis};

impl RetryPolicy {
    crate::util::classified_calls! {
        FnMut, Display;
        /// Runs `operation`, and again after each retryable failure while attempts and
        /// the deadline allow, waiting the jittered backoff in between. Errors are judged
        /// by their [`ErrorClass`](crate::ErrorClass). `operation` is called once per
        /// attempt and must start a fresh attempt each time.
        ///
        /// # Errors
        ///
        /// The last attempt's error when the policy gives up (not retryable, attempts
        /// used, or no time left before the deadline): the operation's own error as
        /// [`ResilienceError::Inner`], or [`ResilienceError::DeadlineExceeded`] when the
        /// deadline cut a running attempt.
        ///
        /// # Cancel safety
        ///
        /// Dropping the future abandons the retry: a running attempt is dropped, a
        /// backoff wait ends, and no further attempt is made or reported.
        ///
        /// # Examples
        ///
        /// ```
        /// # #[tokio::main(flavor = "current_thread", start_paused = true)]
        /// # async fn main() {
        /// let retry = hale_resilience::RetryPolicy::builder("geocoder").maximum_attempts(3).build().unwrap();
        /// let mut calls = 0;
        /// let place = retry
        ///     .call(|| {
        ///         calls += 1;
        ///         let flaky = calls < 3;
        ///         async move { if flaky { Err("reset".to_string()) } else { Ok("Kraków") } }
        ///     })
        ///     .await;
        /// assert_eq!(place.unwrap(), "Kraków");
        /// # }
        /// ```
        call;
        /// Like [`call`](Self::call), judging errors with `classifier` (for example a
        /// [`Classifier`](crate::Classifier) built from closures).
        ///
        /// # Errors
        ///
        /// As for [`call`](Self::call).
        ///
        /// # Cancel safety
        ///
        /// As for [`call`](Self::call).
        ///
        /// # Examples
        ///
        /// ```
        /// use hale_resilience::{Classifier, RetryPolicy};
        ///
        /// # #[tokio::main(flavor = "current_thread", start_paused = true)]
        /// # async fn main() {
        /// let by_status = Classifier::<u16>::new().retry_if(|status| *status >= 500);
        /// let retry = RetryPolicy::builder("api").maximum_attempts(5).build().unwrap();
        /// let _ = retry.call_with(&by_status, || async { Err::<(), u16>(400) }).await;
        /// assert_eq!(retry.stats().attempts, 1); // a 400 is not retried
        /// # }
        /// ```
        call_with;
    }

    /// The building block for composition: `operation` already reports
    /// [`ResilienceError`]s (for example because it is wrapped in a timeout), and those
    /// are classified by the fixed rules described in [`crate::classify`].
    ///
    /// # Errors
    ///
    /// As for [`call`](Self::call), with the operation's errors unchanged.
    ///
    /// # Cancel safety
    ///
    /// As for [`call`](Self::call).
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use hale_resilience::{ByErrorClass, ResilienceError, RetryPolicy, Timeout};
    ///
    /// # #[tokio::main(flavor = "current_thread", start_paused = true)]
    /// # async fn main() {
    /// let retry = RetryPolicy::builder("search").maximum_attempts(2).build().unwrap();
    /// let timeout = Timeout::new("search", Duration::from_secs(1));
    /// let result = retry
    ///     .run_with(&ByErrorClass, || timeout.run(std::future::pending::<Result<(), ResilienceError<String>>>))
    ///     .await;
    /// assert!(result.unwrap_err().is_timeout());
    /// assert_eq!(timeout.stats().timed_out, 2); // a timed-out attempt is retried
    /// # }
    /// ```
    pub async fn run_with<T, E, C, F, Fut>(
        &self,
        classifier: &C,
        mut operation: F,
    ) -> Result<T, ResilienceError<E>>
    where
        E: Display,
        C: Classify<E> + ?Sized,
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<T, ResilienceError<E>>>,
    {
        let shared = &self.shared;
        let counters = &shared.counters;
        bump(&counters.calls);
        let deadline = shared.config.deadline;
        // A budget too large to represent as an instant is no budget at all.
        let deadline_at = deadline.and_then(|budget| Instant::now().checked_add(budget));
        let mut previous_delay = None;
        let mut attempt: u32 = 0;
        loop {
            attempt = attempt.saturating_add(1);
            bump(&counters.attempts);
            // A supervised caller's heartbeat beats at every attempt (so
            // also right after each backoff).
            report_progress();
            let result = match (deadline_at, deadline) {
                (Some(at), Some(budget)) => timeout_at(at, operation()).await.unwrap_or_else(|_| {
                    Err(ResilienceError::DeadlineExceeded {
                        policy: shared.name.clone(),
                        deadline: budget,
                    })
                }),
                _ => operation().await,
            };
            let error = match result {
                Ok(value) => {
                    bump(&counters.successes);
                    return Ok(value);
                }
                Err(error) => error,
            };

            let hint = match retry_decision(classifier, &error) {
                RetryDecision::DoNotRetry => {
                    let reason = if matches!(error, ResilienceError::DeadlineExceeded { .. }) {
                        GiveUpReason::Deadline
                    } else {
                        GiveUpReason::NonRetryable
                    };
                    return Err(self.give_up(attempt, reason, error));
                }
                RetryDecision::Retry => None,
                RetryDecision::RetryAfter(hint) => Some(hint),
            };
            if shared
                .config
                .maximum_attempts
                .is_some_and(|maximum| attempt >= maximum)
            {
                return Err(self.give_up(attempt, GiveUpReason::AttemptsExhausted, error));
            }

            let backoff = self.next_delay(attempt, previous_delay);
            // A server's hint is a floor: coming back earlier would only be refused again.
            let delay = hint.map_or(backoff, |hint| hint.max(backoff));
            // The delay may come from a server's hint, so it can be absurdly large:
            // an overflowing wake-up time is past any deadline.
            let wake_at = Instant::now().checked_add(delay);
            if deadline_at.is_some_and(|at| wake_at.is_none_or(|wake| wake >= at)) {
                return Err(self.give_up(attempt, GiveUpReason::Deadline, error));
            }

            bump(&counters.retries);
            shared.events.emit(
                &shared.name,
                EventKind::RetryScheduled {
                    attempt,
                    delay_ms: millis(delay),
                    error: error.to_string(),
                },
            );
            sleep(delay).await;
            previous_delay = Some(backoff);
        }
    }

    fn next_delay(&self, failed_attempts: u32, previous: Option<Duration>) -> Duration {
        let mut rng = lock(&self.shared.rng);
        self.shared.backoff.delay(failed_attempts, previous, &mut *rng)
    }

    fn give_up<E: Display>(
        &self,
        attempts: u32,
        reason: GiveUpReason,
        error: ResilienceError<E>,
    ) -> ResilienceError<E> {
        let counters = &self.shared.counters;
        bump(match reason {
            GiveUpReason::NonRetryable => &counters.gave_up_non_retryable,
            GiveUpReason::AttemptsExhausted => &counters.gave_up_exhausted,
            GiveUpReason::Deadline => &counters.gave_up_deadline,
        });
        self.shared.events.emit(
            &self.shared.name,
            EventKind::RetryGaveUp {
                attempts,
                reason,
                error: error.to_string(),
            },
        );
        error
    }
}
