//! Rate limiting with GCRA (the generic cell rate algorithm).
//!
//! GCRA is a token bucket kept as a single number: the *theoretical arrival time* (TAT)
//! at which the bucket would be full again. With an emission interval `T = period / limit`
//! and a burst of `b` calls, a call arriving at `now` conforms if
//! `max(TAT, now) − (b − 1)·T ≤ now`, and then moves the TAT forward by `T`. That is one
//! atomic compare-and-swap per call, no timer and no refill task.
//!
//! A call that does not conform may wait up to `max_wait` for its turn (its slot is
//! reserved at once, so waiters are served in order); otherwise it is rejected with
//! [`Rejection::RateLimited`], whose `retry_after` says when a call would conform. A retry
//! policy around the limiter uses that hint as the floor of its delay.
//!
//! A reserved slot is not given back if the waiting caller is cancelled: the limiter errs
//! on the side of sending fewer calls.
//!
//! ```
//! use std::time::Duration;
//! use hale_resilience::RateLimiter;
//!
//! # #[tokio::main(flavor = "current_thread", start_paused = true)]
//! # async fn main() {
//! // 2 calls per second, bursts of up to 2.
//! let limiter = RateLimiter::builder("llm-api")
//!     .limit(2, Duration::from_secs(1))
//!     .build()
//!     .unwrap();
//! assert!(limiter.check().is_ok());
//! assert!(limiter.check().is_ok());
//! let refused = limiter.check().unwrap_err();
//! assert_eq!(refused.retry_after(), Some(Duration::from_millis(500)));
//! # }
//! ```

use std::fmt;
use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use serde::{Deserialize, Serialize};
use tokio::time::Instant;

use crate::builder::PolicyBuilder;
use crate::error::{ConfigError, Rejection, ResilienceError};
use crate::events::ResilienceBus;
use crate::registry::Registry;
use crate::stats::{bump, counters};

/// Rate-limit settings.
///
/// | field | default | meaning |
/// |---|---|---|
/// | `limit` | 10 | calls allowed per `period` on average |
/// | `period` | 1 s | the period `limit` refers to |
/// | `burst` | `limit` | calls allowed back to back after a quiet spell |
/// | `max_wait` | 0 | how long a call may wait for its turn |
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RateLimitConfig {
    /// Calls per period.
    pub limit: u32,
    /// The period.
    pub period: Duration,
    /// Largest burst; `None` means `limit`.
    pub burst: Option<u32>,
    /// Longest wait for a turn.
    pub max_wait: Duration,
}

impl Default for RateLimitConfig {
    fn default() -> Self {
        Self {
            limit: 10,
            period: Duration::from_secs(1),
            burst: None,
            max_wait: Duration::ZERO,
        }
    }
}

impl RateLimitConfig {
    /// Checks the settings; `name` only labels the error.
    ///
    /// # Errors
    ///
    /// [`ConfigError::Zero`] when `limit` or `burst` is 0, or `period / limit` is less
    /// than a nanosecond.
    ///
    /// # Examples
    ///
    /// ```
    /// use hale_resilience::RateLimitConfig;
    ///
    /// assert!(RateLimitConfig::default().validate("api").is_ok());
    /// let never = RateLimitConfig { limit: 0, ..Default::default() };
    /// assert!(never.validate("api").is_err());
    /// ```
    pub fn validate(&self, name: &str) -> Result<(), ConfigError> {
        let zero = |field| {
            Err(ConfigError::Zero {
                policy: "rate limit",
                name: name.to_owned(),
                field,
            })
        };
        if self.limit == 0 {
            return zero("limit");
        }
        if self.emission_interval_nanos() == 0 {
            return zero("period / limit");
        }
        if self.burst == Some(0) {
            return zero("burst");
        }
        Ok(())
    }

    fn emission_interval_nanos(&self) -> u64 {
        let nanos = self.period.as_nanos() / u128::from(self.limit.max(1));
        u64::try_from(nanos).unwrap_or(u64::MAX)
    }
}

impl crate::builder::sealed::Build for RateLimitConfig {
    type Policy = RateLimiter;

    fn validate_named(&self, name: &str) -> Result<(), ConfigError> {
        self.validate(name)
    }

    fn build_valid(self, name: Arc<str>, events: ResilienceBus) -> RateLimiter {
        let interval = self.emission_interval_nanos();
        let burst = u64::from(self.burst.unwrap_or(self.limit).max(1));
        RateLimiter {
            shared: Arc::new(Shared {
                name,
                interval,
                tolerance: interval.saturating_mul(burst - 1),
                max_wait: u64::try_from(self.max_wait.as_nanos()).unwrap_or(u64::MAX),
                config: self,
                origin: Instant::now(),
                theoretical_arrival: AtomicU64::new(0),
                events,
                counters: RateLimitCounters::default(),
            }),
        }
    }
}

impl PolicyBuilder<RateLimitConfig> {
    /// `calls` per `period` on average.
    ///
    /// # Examples
    ///
    /// ```
    /// # use std::time::Duration;
    /// let limiter = hale_resilience::RateLimiter::builder("api")
    ///     .limit(60, Duration::from_secs(60))
    ///     .build()
    ///     .unwrap();
    /// assert_eq!(limiter.config().limit, 60);
    /// ```
    pub fn limit(mut self, calls: u32, period: Duration) -> Self {
        self.config.limit = calls;
        self.config.period = period;
        self
    }

    /// Largest burst of back-to-back calls (default: `limit`).
    ///
    /// # Examples
    ///
    /// ```
    /// # use std::time::Duration;
    /// let limiter = hale_resilience::RateLimiter::builder("api")
    ///     .limit(100, Duration::from_secs(1))
    ///     .burst(2)
    ///     .build()
    ///     .unwrap();
    /// assert!(limiter.check().is_ok() && limiter.check().is_ok());
    /// assert!(limiter.check().is_err());
    /// ```
    pub fn burst(mut self, calls: u32) -> Self {
        self.config.burst = Some(calls);
        self
    }

    /// Longest wait for a turn (zero, the default: refuse at once).
    ///
    /// # Examples
    ///
    /// ```
    /// # use std::time::Duration;
    /// let limiter = hale_resilience::RateLimiter::builder("api")
    ///     .max_wait(Duration::from_secs(2))
    ///     .build()
    ///     .unwrap();
    /// assert_eq!(limiter.config().max_wait, Duration::from_secs(2));
    /// ```
    pub fn max_wait(mut self, wait: Duration) -> Self {
        self.config.max_wait = wait;
        self
    }
}

counters! {
    RateLimitCounters =>
    /// Counters of a rate limiter since it was built.
    pub struct RateLimitStats {
        /// Calls let through (at once or after waiting).
        permitted,
        /// Calls that waited for their turn.
        delayed,
        /// Calls rejected.
        rejected,
    }
}

/// A GCRA rate limiter. Cheap to clone; clones share the budget.
#[derive(Clone)]
pub struct RateLimiter {
    shared: Arc<Shared>,
}

struct Shared {
    name: Arc<str>,
    config: RateLimitConfig,
    /// Emission interval `T`, in nanoseconds.
    interval: u64,
    /// Burst tolerance `(b − 1)·T`, in nanoseconds.
    tolerance: u64,
    max_wait: u64,
    origin: Instant,
    /// TAT in nanoseconds since `origin`. Starting at 0 means the full burst is available.
    theoretical_arrival: AtomicU64,
    events: ResilienceBus,
    counters: RateLimitCounters,
}

impl RateLimiter {
    /// Starts building a limiter named `name` (usually the dependency it protects), from
    /// the defaults of [`RateLimitConfig`].
    ///
    /// # Examples
    ///
    /// ```
    /// let limiter = hale_resilience::RateLimiter::builder("llm-api").build().unwrap();
    /// assert_eq!(limiter.name(), "llm-api");
    /// ```
    pub fn builder(name: impl Into<Arc<str>>) -> PolicyBuilder<RateLimitConfig> {
        PolicyBuilder::new(name)
    }

    /// A registry of limiters, one per dependency name, all built from `config` and
    /// reporting to `events`.
    ///
    /// # Errors
    ///
    /// The [`ConfigError`] of `config`, checked once, here.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use hale_resilience::{RateLimitConfig, RateLimiter, ResilienceBus};
    ///
    /// # #[tokio::main(flavor = "current_thread", start_paused = true)]
    /// # async fn main() {
    /// let config = RateLimitConfig { limit: 1, period: Duration::from_secs(1), ..Default::default() };
    /// let limiters = RateLimiter::registry(config, &ResilienceBus::new()).unwrap();
    /// assert!(limiters.get("openai").check().is_ok());
    /// assert!(limiters.get("openai").check().is_err()); // the same budget
    /// # }
    /// ```
    pub fn registry(config: RateLimitConfig, events: &ResilienceBus) -> Result<Registry<Self>, ConfigError> {
        Registry::from_config(config, events)
    }

    /// The limiter's name.
    ///
    /// # Examples
    ///
    /// ```
    /// let limiter = hale_resilience::RateLimiter::builder("api").build().unwrap();
    /// assert_eq!(limiter.name(), "api");
    /// ```
    pub fn name(&self) -> &str {
        &self.shared.name
    }

    /// The settings.
    ///
    /// # Examples
    ///
    /// ```
    /// let limiter = hale_resilience::RateLimiter::builder("api").build().unwrap();
    /// assert_eq!(limiter.config().limit, 10);
    /// ```
    pub fn config(&self) -> &RateLimitConfig {
        &self.shared.config
    }

    /// Counters since the limiter was built.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use hale_resilience::{RateLimitStats, RateLimiter};
    ///
    /// # #[tokio::main(flavor = "current_thread", start_paused = true)]
    /// # async fn main() {
    /// let limiter = RateLimiter::builder("api").limit(1, Duration::from_secs(1)).build().unwrap();
    /// let _ = limiter.check();
    /// let _ = limiter.check();
    /// assert_eq!(limiter.stats(), RateLimitStats { permitted: 1, delayed: 0, rejected: 1 });
    /// # }
    /// ```
    pub fn stats(&self) -> RateLimitStats {
        self.shared.counters.snapshot()
    }

    /// Takes a turn if one is available now, without waiting.
    ///
    /// # Errors
    ///
    /// [`Rejection::RateLimited`], whose `retry_after` says when a call would be
    /// allowed.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use hale_resilience::RateLimiter;
    ///
    /// # #[tokio::main(flavor = "current_thread", start_paused = true)]
    /// # async fn main() {
    /// let limiter = RateLimiter::builder("api").limit(1, Duration::from_secs(1)).build().unwrap();
    /// assert!(limiter.check().is_ok());
    /// assert_eq!(limiter.check().unwrap_err().retry_after(), Some(Duration::from_secs(1)));
    /// # }
    /// ```
    pub fn check(&self) -> Result<(), Rejection> {
        match self.reserve(0) {
            Ok(_) => {
                bump(&self.shared.counters.permitted);
                Ok(())
            }
            Err(retry_after) => Err(self.reject(retry_after)),
        }
    }

    /// Takes a turn, waiting for it if it comes within `max_wait`. The turn is reserved
    /// at once, so waiters are served in order.
    ///
    /// # Errors
    ///
    /// [`Rejection::RateLimited`] at once, without waiting, when the turn would come
    /// later than `max_wait`.
    ///
    /// # Cancel safety
    ///
    /// Dropping the future while it waits does **not** give the reserved turn back: the
    /// limiter errs on the side of fewer calls, and the next caller waits as if the
    /// dropped one had called.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use hale_resilience::RateLimiter;
    /// use tokio::time::Instant;
    ///
    /// # #[tokio::main(flavor = "current_thread", start_paused = true)]
    /// # async fn main() {
    /// let limiter = RateLimiter::builder("api")
    ///     .limit(2, Duration::from_secs(1))
    ///     .burst(1)
    ///     .max_wait(Duration::from_secs(1))
    ///     .build()
    ///     .unwrap();
    /// let began = Instant::now();
    /// limiter.acquire().await.unwrap();
    /// limiter.acquire().await.unwrap(); // waits for its turn
    /// assert_eq!(began.elapsed(), Duration::from_millis(500));
    /// # }
    /// ```
    pub async fn acquire(&self) -> Result<(), Rejection> {
        match self.reserve(self.shared.max_wait) {
            Ok(wait) => {
                if wait > 0 {
                    bump(&self.shared.counters.delayed);
                    tokio::time::sleep(Duration::from_nanos(wait)).await;
                }
                bump(&self.shared.counters.permitted);
                Ok(())
            }
            Err(retry_after) => Err(self.reject(retry_after)),
        }
    }

    crate::util::call_via_run! {
        /// Runs `operation` once it has a turn, waiting as [`acquire`](Self::acquire)
        /// does. The operation's own errors come back as [`ResilienceError::Inner`].
        ///
        /// # Errors
        ///
        /// [`ResilienceError::Rejected`] with [`Rejection::RateLimited`] when no turn
        /// came within `max_wait` (the operation was not called), or the operation's
        /// own error.
        ///
        /// # Cancel safety
        ///
        /// Dropping the future while it waits for its turn does not give the turn back
        /// (see [`acquire`](Self::acquire)); dropping it while the operation runs drops
        /// the operation.
        ///
        /// # Examples
        ///
        /// ```
        /// # #[tokio::main(flavor = "current_thread", start_paused = true)]
        /// # async fn main() {
        /// let limiter = hale_resilience::RateLimiter::builder("api").build().unwrap();
        /// let reply = limiter.call(|| async { Ok::<_, String>("pong") }).await;
        /// assert_eq!(reply.unwrap(), "pong");
        /// # }
        /// ```
    }

    /// The building block for composition: `operation` already reports
    /// [`ResilienceError`]s, which pass through unchanged.
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
    /// use hale_resilience::ResilienceError;
    ///
    /// # #[tokio::main(flavor = "current_thread", start_paused = true)]
    /// # async fn main() {
    /// let limiter = hale_resilience::RateLimiter::builder("api").build().unwrap();
    /// let reply = limiter.run(|| async { Ok::<_, ResilienceError<String>>(1) }).await;
    /// assert_eq!(reply.unwrap(), 1);
    /// # }
    /// ```
    pub async fn run<T, E, F, Fut>(&self, operation: F) -> Result<T, ResilienceError<E>>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<T, ResilienceError<E>>>,
    {
        self.acquire().await?;
        operation().await
    }

    /// Reserves the next turn if it comes within `max_wait` nanoseconds. Returns the
    /// wait on success, or how long until a call would conform.
    fn reserve(&self, max_wait: u64) -> Result<u64, Duration> {
        let shared = &self.shared;
        let now = u64::try_from(shared.origin.elapsed().as_nanos()).unwrap_or(u64::MAX);
        let mut current = shared.theoretical_arrival.load(Ordering::Acquire);
        loop {
            let arrival = current.max(now);
            let allowed_at = arrival.saturating_sub(shared.tolerance);
            let wait = allowed_at.saturating_sub(now);
            if wait > max_wait {
                return Err(Duration::from_nanos(wait));
            }
            let next = arrival.saturating_add(shared.interval);
            match shared.theoretical_arrival.compare_exchange_weak(
                current,
                next,
                Ordering::AcqRel,
                Ordering::Acquire,
            ) {
                Ok(_) => return Ok(wait),
                Err(actual) => current = actual,
            }
        }
    }

    fn reject(&self, retry_after: Duration) -> Rejection {
        bump(&self.shared.counters.rejected);
        let rejection = Rejection::RateLimited {
            limiter: Arc::clone(&self.shared.name),
            retry_after,
        };
        self.shared.events.emit_rejection(&rejection);
        rejection
    }
}

impl fmt::Debug for RateLimiter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RateLimiter")
            .field("name", &self.shared.name)
            .field("config", &self.shared.config)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::time::advance;

    fn limiter(limit: u32, burst: u32, max_wait: Duration) -> RateLimiter {
        RateLimiter::builder("api")
            .limit(limit, Duration::from_secs(1))
            .burst(burst)
            .max_wait(max_wait)
            .build()
            .unwrap()
    }

    #[tokio::test(start_paused = true)]
    async fn a_burst_then_one_call_per_interval() {
        let limiter = limiter(10, 3, Duration::ZERO);
        for _ in 0..3 {
            assert!(limiter.check().is_ok());
        }
        let refused = limiter.check().unwrap_err();
        assert_eq!(refused.retry_after(), Some(Duration::from_millis(100)));
        advance(Duration::from_millis(99)).await;
        assert!(limiter.check().is_err());
        advance(Duration::from_millis(1)).await;
        assert!(limiter.check().is_ok());
        assert!(limiter.check().is_err());
    }

    #[tokio::test(start_paused = true)]
    async fn over_a_long_run_the_average_rate_holds() {
        let limiter = limiter(10, 5, Duration::ZERO);
        let mut allowed = 0;
        // Offer a call every 10 ms for 10 s: 1000 offers.
        for _ in 0..1000 {
            if limiter.check().is_ok() {
                allowed += 1;
            }
            advance(Duration::from_millis(10)).await;
        }
        // 10 per second for 10 s plus the initial burst, give or take the edge.
        assert!((100..=105).contains(&allowed), "allowed {allowed}");
    }

    #[tokio::test(start_paused = true)]
    async fn waiters_are_spaced_one_interval_apart() {
        let limiter = limiter(4, 1, Duration::from_secs(1));
        let began = Instant::now();
        let mut starts = Vec::new();
        for _ in 0..4 {
            limiter.acquire().await.unwrap();
            starts.push(began.elapsed());
        }
        assert_eq!(
            starts,
            vec![
                Duration::ZERO,
                Duration::from_millis(250),
                Duration::from_millis(500),
                Duration::from_millis(750)
            ]
        );
        assert_eq!(limiter.stats().delayed, 3);
    }

    #[tokio::test(start_paused = true)]
    async fn a_wait_longer_than_max_wait_is_refused_at_once() {
        let limiter = limiter(1, 1, Duration::from_millis(500));
        limiter.acquire().await.unwrap();
        let began = Instant::now();
        let refused = limiter.acquire().await.unwrap_err();
        assert_eq!(began.elapsed(), Duration::ZERO);
        assert_eq!(refused.retry_after(), Some(Duration::from_secs(1)));
        assert_eq!(limiter.stats().rejected, 1);
    }

    #[test]
    fn impossible_settings_are_rejected() {
        let build = |config| RateLimiter::builder("x").config(config).build();
        assert!(
            build(RateLimitConfig {
                limit: 0,
                ..Default::default()
            })
            .is_err()
        );
        assert!(
            build(RateLimitConfig {
                burst: Some(0),
                ..Default::default()
            })
            .is_err()
        );
        assert!(
            build(RateLimitConfig {
                period: Duration::ZERO,
                ..Default::default()
            })
            .is_err()
        );
    }
}
