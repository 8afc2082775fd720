//! A time limit on any call.
//!
//! The operation is cancelled (its future dropped) when the limit passes, and the caller
//! gets [`ResilienceError::Timeout`]. Cancellation happens at the operation's next
//! `.await`; code that blocks a thread synchronously cannot be interrupted this way.
//!
//! ```
//! use std::time::Duration;
//! use hale_resilience::{ResilienceError, Timeout};
//!
//! # #[tokio::main(flavor = "current_thread", start_paused = true)]
//! # async fn main() {
//! let timeout = Timeout::new("search", Duration::from_secs(2)).unwrap();
//! let result = timeout
//!     .call(|| async {
//!         tokio::time::sleep(Duration::from_secs(10)).await;
//!         Ok::<_, String>("too late")
//!     })
//!     .await;
//! assert!(matches!(result, Err(ResilienceError::Timeout { .. })));
//! assert_eq!(timeout.stats().timed_out, 1);
//! # }
//! ```

use std::fmt;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use crate::error::{ConfigError, ResilienceError};
use crate::events::{EventKind, ResilienceBus};
use crate::stats::{bump, counters};
use crate::util::millis;

counters! {
    TimeoutCounters =>
    /// Counters of a timeout since it was created.
    pub struct TimeoutStats {
        /// Calls made through it.
        calls,
        /// Calls it cancelled.
        timed_out,
    }
}

/// A time limit for calls. Cheap to clone; clones share their counters.
#[derive(Clone)]
pub struct Timeout {
    name: Arc<str>,
    after: Duration,
    events: ResilienceBus,
    counters: Arc<TimeoutCounters>,
}

impl Timeout {
    /// A timeout named `name` (usually the dependency) that cancels calls after `after`.
    pub fn new(name: impl Into<Arc<str>>, after: Duration) -> Result<Self, ConfigError> {
        let name = name.into();
        if after.is_zero() {
            return Err(ConfigError::Zero {
                policy: "timeout",
                name: name.to_string(),
                field: "duration",
            });
        }
        Ok(Self {
            name,
            after,
            events: ResilienceBus::default(),
            counters: Arc::default(),
        })
    }

    /// Reports timeouts to `bus` (they are traced either way).
    pub fn events(mut self, bus: &ResilienceBus) -> Self {
        self.events = bus.clone();
        self
    }

    /// The timeout's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The limit.
    pub fn duration(&self) -> Duration {
        self.after
    }

    /// Counters since creation.
    pub fn stats(&self) -> TimeoutStats {
        self.counters.snapshot()
    }

    crate::util::call_via_run!();

    /// The building block for composition: `operation` already reports
    /// [`ResilienceError`]s, which pass through unchanged.
    pub async fn run<T, E, F, Fut>(&self, operation: F) -> Result<T, ResilienceError<E>>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<T, ResilienceError<E>>>,
    {
        bump(&self.counters.calls);
        match tokio::time::timeout(self.after, operation()).await {
            Ok(result) => result,
            Err(_elapsed) => {
                bump(&self.counters.timed_out);
                self.events.emit(
                    &self.name,
                    EventKind::TimedOut {
                        after_ms: millis(self.after),
                    },
                );
                Err(ResilienceError::Timeout {
                    policy: Arc::clone(&self.name),
                    after: self.after,
                })
            }
        }
    }
}

impl fmt::Debug for Timeout {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Timeout")
            .field("name", &self.name)
            .field("after", &self.after)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::time::{Instant, sleep};

    #[tokio::test(start_paused = true)]
    async fn fast_calls_pass_and_slow_ones_are_cut_at_the_limit() {
        let bus = ResilienceBus::new();
        let mut events = bus.subscribe();
        let timeout = Timeout::new("db", Duration::from_millis(300))
            .unwrap()
            .events(&bus);
        let fast = timeout
            .call(|| async {
                sleep(Duration::from_millis(299)).await;
                Ok::<_, String>(1)
            })
            .await;
        assert_eq!(fast.unwrap(), 1);

        let began = Instant::now();
        let slow = timeout.call(std::future::pending::<Result<(), String>>).await;
        assert!(
            matches!(slow, Err(ResilienceError::Timeout { after, .. }) if after == Duration::from_millis(300))
        );
        assert_eq!(began.elapsed(), Duration::from_millis(300));
        assert_eq!(
            timeout.stats(),
            TimeoutStats {
                calls: 2,
                timed_out: 1
            }
        );
        assert_eq!(events.drain().len(), 1);
    }

    #[test]
    fn a_zero_limit_is_rejected() {
        assert!(Timeout::new("db", Duration::ZERO).is_err());
    }
}
