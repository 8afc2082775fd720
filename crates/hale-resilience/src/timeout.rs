//! A time limit on any call.
//!
//! The operation is cancelled (its future dropped) when the limit passes, and the caller
//! gets [`ResilienceError::Timeout`]. Cancellation happens at the operation's next
//! `.await`; code that blocks a thread synchronously cannot be interrupted this way.
//!
//! Every [`Duration`] is a valid limit, so [`Timeout::new`] cannot fail:
//!
//! - **zero**: the operation is polled once; it succeeds only if it completes without
//!   waiting, and times out otherwise (tokio's and tower's rule);
//! - **too long to represent as an instant** (`Duration::MAX`): no limit at all.
//!
//! ```
//! use std::time::Duration;
//! use hale_resilience::{ResilienceError, Timeout};
//!
//! # #[tokio::main(flavor = "current_thread", start_paused = true)]
//! # async fn main() {
//! let timeout = Timeout::new("search", Duration::from_secs(2));
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

use crate::error::ResilienceError;
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
    /// Any duration is accepted: zero gives a call one poll, and a duration too long to
    /// represent as an instant (`Duration::MAX`) sets no limit (see the
    /// [module docs](crate::timeout)).
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use hale_resilience::Timeout;
    ///
    /// let timeout = Timeout::new("search", Duration::from_secs(2));
    /// assert_eq!(timeout.duration(), Duration::from_secs(2));
    /// let unlimited = Timeout::new("batch", Duration::MAX); // no limit, no panic
    /// assert_eq!(unlimited.duration(), Duration::MAX);
    /// ```
    pub fn new(name: impl Into<Arc<str>>, after: Duration) -> Self {
        Self {
            name: name.into(),
            after,
            events: ResilienceBus::default(),
            counters: Arc::default(),
        }
    }

    /// Reports timeouts to `bus` (they are traced either way).
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use hale_resilience::{ResilienceBus, Timeout};
    ///
    /// # #[tokio::main(flavor = "current_thread", start_paused = true)]
    /// # async fn main() {
    /// let bus = ResilienceBus::new();
    /// let mut events = bus.subscribe();
    /// let timeout = Timeout::new("search", Duration::from_millis(10)).events(&bus);
    /// let _ = timeout.call(std::future::pending::<Result<(), String>>).await;
    /// assert_eq!(events.try_recv().unwrap().policy, "search");
    /// # }
    /// ```
    pub fn events(mut self, bus: &ResilienceBus) -> Self {
        self.events = bus.clone();
        self
    }

    /// The timeout's name.
    ///
    /// # Examples
    ///
    /// ```
    /// # use std::time::Duration;
    /// let timeout = hale_resilience::Timeout::new("search", Duration::from_secs(1));
    /// assert_eq!(timeout.name(), "search");
    /// ```
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The limit.
    ///
    /// # Examples
    ///
    /// ```
    /// # use std::time::Duration;
    /// let timeout = hale_resilience::Timeout::new("search", Duration::from_secs(1));
    /// assert_eq!(timeout.duration(), Duration::from_secs(1));
    /// ```
    pub fn duration(&self) -> Duration {
        self.after
    }

    /// Counters since creation.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use hale_resilience::{Timeout, TimeoutStats};
    ///
    /// # #[tokio::main(flavor = "current_thread", start_paused = true)]
    /// # async fn main() {
    /// let timeout = Timeout::new("search", Duration::from_secs(1));
    /// let _ = timeout.call(|| async { Ok::<_, String>(()) }).await;
    /// let _ = timeout.call(std::future::pending::<Result<(), String>>).await;
    /// assert_eq!(timeout.stats(), TimeoutStats { calls: 2, timed_out: 1 });
    /// # }
    /// ```
    pub fn stats(&self) -> TimeoutStats {
        self.counters.snapshot()
    }

    crate::util::call_via_run! {
        /// Runs `operation` under this time limit. The operation's own errors come back
        /// as [`ResilienceError::Inner`].
        ///
        /// # Errors
        ///
        /// [`ResilienceError::Timeout`] when the limit passed first (the operation's
        /// future is dropped then), or the operation's own error as
        /// [`ResilienceError::Inner`].
        ///
        /// # Cancel safety
        ///
        /// Dropping the returned future drops the operation's future with it, at once;
        /// the call counts in [`stats`](Self::stats) as a call, not as a timeout, and no
        /// event is reported.
        ///
        /// # Examples
        ///
        /// ```
        /// use std::time::Duration;
        /// use hale_resilience::{ResilienceError, Timeout};
        ///
        /// # #[tokio::main(flavor = "current_thread", start_paused = true)]
        /// # async fn main() {
        /// let timeout = Timeout::new("search", Duration::from_secs(2));
        /// let fast = timeout.call(|| async { Ok::<_, String>("hits") }).await;
        /// assert_eq!(fast.unwrap(), "hits");
        /// let slow = timeout
        ///     .call(|| async {
        ///         tokio::time::sleep(Duration::from_secs(3)).await;
        ///         Ok::<_, String>("too late")
        ///     })
        ///     .await;
        /// assert!(matches!(slow, Err(ResilienceError::Timeout { .. })));
        /// # }
        /// ```
    }

    /// The building block for composition: `operation` already reports
    /// [`ResilienceError`]s, which pass through unchanged.
    ///
    /// # Errors
    ///
    /// [`ResilienceError::Timeout`] when the limit passed first, or the operation's own
    /// error unchanged.
    ///
    /// # Cancel safety
    ///
    /// As for [`call`](Self::call): dropping the future drops the operation at once.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use hale_resilience::{Rejection, ResilienceError, Timeout};
    ///
    /// # #[tokio::main(flavor = "current_thread", start_paused = true)]
    /// # async fn main() {
    /// let timeout = Timeout::new("search", Duration::from_secs(2));
    /// // An inner policy's rejection passes through as it is.
    /// let refused = timeout
    ///     .run(|| async {
    ///         Err::<(), ResilienceError<String>>(ResilienceError::Rejected(Rejection::BulkheadFull {
    ///             bulkhead: "search".into(),
    ///             max_concurrent: 4,
    ///         }))
    ///     })
    ///     .await;
    /// assert!(refused.unwrap_err().is_rejected());
    /// # }
    /// ```
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
        let timeout = Timeout::new("db", Duration::from_millis(300)).events(&bus);
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

    #[tokio::test(start_paused = true)]
    async fn a_zero_limit_gives_the_call_one_poll() {
        let timeout = Timeout::new("db", Duration::ZERO);
        let ready = timeout.call(|| async { Ok::<_, String>(1) }).await;
        assert_eq!(ready.unwrap(), 1);
        let began = Instant::now();
        let waiting = timeout
            .call(|| async {
                tokio::task::yield_now().await;
                Ok::<_, String>(2)
            })
            .await;
        assert!(matches!(waiting, Err(ResilienceError::Timeout { after, .. }) if after.is_zero()));
        assert_eq!(began.elapsed(), Duration::ZERO);
    }

    #[tokio::test(start_paused = true)]
    async fn an_unrepresentable_limit_is_no_limit() {
        let timeout = Timeout::new("db", Duration::MAX);
        let late = timeout
            .call(|| async {
                sleep(Duration::from_secs(365 * 24 * 3600)).await;
                Ok::<_, String>("a year later")
            })
            .await;
        assert_eq!(late.unwrap(), "a year later");
        assert_eq!(timeout.stats().timed_out, 0);
    }
}
