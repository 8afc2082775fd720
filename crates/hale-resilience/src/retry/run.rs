//! The retry loop.

use std::fmt::Display;
use std::future::Future;
use std::time::Duration;

use tokio::time::{Instant, sleep, timeout_at};

use super::policy::RetryPolicy;
use crate::classify::{Classify, RetryDecision, retry_decision};
use crate::error::ResilienceError;
use crate::events::{EventKind, GiveUpReason};
use crate::stats::bump;
use crate::util::{lock, millis};

impl RetryPolicy {
    crate::util::classified_calls!(FnMut, Display);

    /// The building block for composition: `operation` already reports
    /// [`ResilienceError`]s (for example because it is wrapped in a timeout), and those
    /// are classified by the fixed rules described in [`crate::classify`].
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
