//! Retry settings, their validation, and the policy handle.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use rand::SeedableRng;
use rand::rngs::SmallRng;
use serde::{Deserialize, Serialize};

use crate::builder::PolicyBuilder;
use crate::error::ConfigError;
use crate::events::ResilienceBus;
use crate::stats::counters;
use hale_util::{Backoff, Jitter};

/// Retry settings, on the model of Temporal's retry policy.
///
/// | field | default | meaning |
/// |---|---|---|
/// | `initial_interval` | 1 s | delay before the first retry (before jitter) |
/// | `backoff_coefficient` | 2.0 | growth of the delay per retry; must be ≥ 1 |
/// | `maximum_interval` | 100 × initial | cap on the delay; must be ≥ initial |
/// | `maximum_attempts` | `Some(3)` | attempts in total, first included; `None` = unlimited |
/// | `deadline` | none | overall time budget from the first attempt's start |
/// | `jitter` | [`Jitter::Full`] | randomisation of each delay |
/// | `seed` | none | seeds the jitter RNG for reproducible delays |
///
/// Temporal retries forever by default; here the default is 3 attempts, and unlimited
/// attempts are only accepted together with a deadline, because a call an agent waits on
/// forever is a hang.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RetryConfig {
    /// Delay before the first retry, before jitter.
    pub initial_interval: Duration,
    /// Factor by which the delay grows after each retry.
    pub backoff_coefficient: f64,
    /// Cap on the delay; `None` means 100 × the initial interval.
    pub maximum_interval: Option<Duration>,
    /// Attempts in total, the first included; `None` for unlimited (needs a deadline).
    pub maximum_attempts: Option<u32>,
    /// Overall time budget, measured from the start of the first attempt. A running
    /// attempt is cancelled when it passes, and no retry is scheduled that could not
    /// start before it.
    pub deadline: Option<Duration>,
    /// How each delay is randomised.
    pub jitter: Jitter,
    /// Seed for the jitter RNG; `None` seeds from the OS.
    pub seed: Option<u64>,
}

impl Default for RetryConfig {
    fn default() -> Self {
        Self {
            initial_interval: Duration::from_secs(1),
            backoff_coefficient: 2.0,
            maximum_interval: None,
            maximum_attempts: Some(3),
            deadline: None,
            jitter: Jitter::Full,
            seed: None,
        }
    }
}

impl RetryConfig {
    /// The maximum interval after applying the default.
    ///
    /// # Examples
    ///
    /// ```
    /// # use std::time::Duration;
    /// let config = hale_resilience::RetryConfig::default();
    /// assert_eq!(config.effective_maximum_interval(), Duration::from_secs(100));
    /// ```
    pub fn effective_maximum_interval(&self) -> Duration {
        self.maximum_interval
            .unwrap_or_else(|| self.initial_interval.saturating_mul(100))
    }

    /// Checks the settings; `name` only labels the error.
    ///
    /// # Errors
    ///
    /// [`ConfigError::Zero`] for a zero initial interval, attempt count or deadline,
    /// [`ConfigError::BackoffCoefficient`] for a coefficient below 1 or not finite,
    /// [`ConfigError::MaxIntervalBelowInitial`], and [`ConfigError::UnboundedRetry`] for
    /// unlimited attempts without a deadline.
    ///
    /// # Examples
    ///
    /// ```
    /// use hale_resilience::RetryConfig;
    ///
    /// assert!(RetryConfig::default().validate("db").is_ok());
    /// let forever = RetryConfig { maximum_attempts: None, ..Default::default() };
    /// assert!(forever.validate("db").is_err());
    /// ```
    pub fn validate(&self, name: &str) -> Result<(), ConfigError> {
        let zero = |field| ConfigError::Zero {
            policy: "retry",
            name: name.to_owned(),
            field,
        };
        if self.initial_interval.is_zero() {
            return Err(zero("initial interval"));
        }
        // Written so that NaN (for which every comparison is false) is rejected too.
        let coefficient_ok = self.backoff_coefficient.is_finite() && self.backoff_coefficient >= 1.0;
        if !coefficient_ok {
            return Err(ConfigError::BackoffCoefficient {
                name: name.to_owned(),
                value: self.backoff_coefficient,
            });
        }
        let maximum = self.effective_maximum_interval();
        if maximum < self.initial_interval {
            return Err(ConfigError::MaxIntervalBelowInitial {
                name: name.to_owned(),
                initial: self.initial_interval,
                maximum,
            });
        }
        match (self.maximum_attempts, self.deadline) {
            (Some(0), _) => return Err(zero("maximum attempts")),
            (None, None) => {
                return Err(ConfigError::UnboundedRetry {
                    name: name.to_owned(),
                });
            }
            (_, Some(deadline)) if deadline.is_zero() => return Err(zero("deadline")),
            _ => {}
        }
        Ok(())
    }

    fn backoff(&self) -> Backoff {
        Backoff {
            initial: self.initial_interval,
            coefficient: self.backoff_coefficient,
            maximum: self.effective_maximum_interval(),
            jitter: self.jitter,
        }
    }
}

impl crate::builder::sealed::Build for RetryConfig {
    type Policy = RetryPolicy;

    fn validate_named(&self, name: &str) -> Result<(), ConfigError> {
        self.validate(name)
    }

    fn build_valid(self, name: Arc<str>, events: ResilienceBus) -> RetryPolicy {
        let rng = match self.seed {
            Some(seed) => SmallRng::seed_from_u64(seed),
            None => rand::make_rng(),
        };
        RetryPolicy {
            shared: Arc::new(RetryShared {
                name,
                backoff: self.backoff(),
                config: self,
                rng: Mutex::new(rng),
                events,
                counters: RetryCounters::default(),
            }),
        }
    }
}

counters! {
    RetryCounters =>
    /// Counters of a retry policy since it was built.
    pub struct RetryStats {
        /// Calls made through the policy.
        calls,
        /// Attempts started (first attempts included).
        attempts,
        /// Retries scheduled.
        retries,
        /// Calls that ended in success.
        successes,
        /// Calls that stopped on a non-retryable error.
        gave_up_non_retryable,
        /// Calls that used all their attempts.
        gave_up_exhausted,
        /// Calls stopped by the overall deadline.
        gave_up_deadline,
    }
}

/// A retry policy: runs an operation again after retryable failures, waiting a jittered
/// exponential backoff between attempts. Cheap to clone; clones share the RNG and counters.
///
/// ```
/// use std::time::Duration;
/// use hale_resilience::{ResilienceError, RetryPolicy};
///
/// # #[tokio::main(flavor = "current_thread", start_paused = true)]
/// # async fn main() {
/// let retry = RetryPolicy::builder("geocoder")
///     .initial_interval(Duration::from_millis(100))
///     .maximum_attempts(4)
///     .seed(7)
///     .build()
///     .unwrap();
///
/// let mut calls = 0;
/// let answer = retry
///     .call(|| {
///         calls += 1;
///         let n = calls;
///         async move { if n < 3 { Err("flaky".to_string()) } else { Ok(n) } }
///     })
///     .await;
/// assert_eq!(answer.unwrap(), 3);
/// assert_eq!(retry.stats().retries, 2);
/// # }
/// ```
#[derive(Clone)]
pub struct RetryPolicy {
    pub(super) shared: Arc<RetryShared>,
}

pub(super) struct RetryShared {
    pub(super) name: Arc<str>,
    pub(super) config: RetryConfig,
    pub(super) backoff: Backoff,
    pub(super) rng: Mutex<SmallRng>,
    pub(super) events: ResilienceBus,
    pub(super) counters: RetryCounters,
}

impl RetryPolicy {
    /// Starts building a policy named `name` (usually the dependency it retries), from
    /// the defaults of [`RetryConfig`].
    ///
    /// # Examples
    ///
    /// ```
    /// let retry = hale_resilience::RetryPolicy::builder("geocoder").maximum_attempts(4).build().unwrap();
    /// assert_eq!(retry.config().maximum_attempts, Some(4));
    /// ```
    pub fn builder(name: impl Into<Arc<str>>) -> PolicyBuilder<RetryConfig> {
        PolicyBuilder::new(name)
    }

    /// The policy's name.
    ///
    /// # Examples
    ///
    /// ```
    /// let retry = hale_resilience::RetryPolicy::builder("geocoder").build().unwrap();
    /// assert_eq!(retry.name(), "geocoder");
    /// ```
    pub fn name(&self) -> &str {
        &self.shared.name
    }

    /// The validated settings.
    ///
    /// # Examples
    ///
    /// ```
    /// # use std::time::Duration;
    /// let retry = hale_resilience::RetryPolicy::builder("geocoder").build().unwrap();
    /// assert_eq!(retry.config().initial_interval, Duration::from_secs(1));
    /// ```
    pub fn config(&self) -> &RetryConfig {
        &self.shared.config
    }

    /// Counters since the policy was built.
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread", start_paused = true)]
    /// # async fn main() {
    /// let retry = hale_resilience::RetryPolicy::builder("geocoder").maximum_attempts(2).build().unwrap();
    /// let _ = retry.call(|| async { Err::<(), _>("down".to_string()) }).await;
    /// let stats = retry.stats();
    /// assert_eq!((stats.attempts, stats.retries, stats.gave_up_exhausted), (2, 1, 1));
    /// # }
    /// ```
    pub fn stats(&self) -> RetryStats {
        self.shared.counters.snapshot()
    }
}

impl std::fmt::Debug for RetryPolicy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RetryPolicy")
            .field("name", &self.shared.name)
            .field("config", &self.shared.config)
            .finish()
    }
}

impl PolicyBuilder<RetryConfig> {
    /// Delay before the first retry.
    ///
    /// # Examples
    ///
    /// ```
    /// # use std::time::Duration;
    /// use hale_resilience::{Jitter, RetryPolicy};
    ///
    /// let retry = RetryPolicy::builder("api").initial_interval(Duration::from_millis(200)).build().unwrap();
    /// assert_eq!(retry.config().initial_interval, Duration::from_millis(200));
    /// ```
    pub fn initial_interval(mut self, interval: Duration) -> Self {
        self.config.initial_interval = interval;
        self
    }

    /// Growth factor of the delay (≥ 1).
    ///
    /// # Examples
    ///
    /// ```
    /// # use std::time::Duration;
    /// use hale_resilience::{Jitter, RetryPolicy};
    ///
    /// let retry = RetryPolicy::builder("api").backoff_coefficient(1.5).build().unwrap();
    /// assert_eq!(retry.config().backoff_coefficient, 1.5);
    /// ```
    pub fn backoff_coefficient(mut self, coefficient: f64) -> Self {
        self.config.backoff_coefficient = coefficient;
        self
    }

    /// Cap on the delay.
    ///
    /// # Examples
    ///
    /// ```
    /// # use std::time::Duration;
    /// use hale_resilience::{Jitter, RetryPolicy};
    ///
    /// let retry = RetryPolicy::builder("api").maximum_interval(Duration::from_secs(10)).build().unwrap();
    /// assert_eq!(retry.config().maximum_interval, Some(Duration::from_secs(10)));
    /// ```
    pub fn maximum_interval(mut self, interval: Duration) -> Self {
        self.config.maximum_interval = Some(interval);
        self
    }

    /// Attempts in total, the first included (≥ 1).
    ///
    /// # Examples
    ///
    /// ```
    /// # use std::time::Duration;
    /// use hale_resilience::{Jitter, RetryPolicy};
    ///
    /// let retry = RetryPolicy::builder("api").maximum_attempts(5).build().unwrap();
    /// assert_eq!(retry.config().maximum_attempts, Some(5));
    /// ```
    pub fn maximum_attempts(mut self, attempts: u32) -> Self {
        self.config.maximum_attempts = Some(attempts);
        self
    }

    /// No attempt limit; only valid together with [`deadline`](Self::deadline).
    ///
    /// # Examples
    ///
    /// ```
    /// # use std::time::Duration;
    /// use hale_resilience::{Jitter, RetryPolicy};
    ///
    /// let retry = RetryPolicy::builder("api").unlimited_attempts().deadline(Duration::from_secs(30)).build().unwrap();
    /// assert_eq!(retry.config().maximum_attempts, None);
    /// ```
    pub fn unlimited_attempts(mut self) -> Self {
        self.config.maximum_attempts = None;
        self
    }

    /// Overall time budget from the start of the first attempt.
    ///
    /// # Examples
    ///
    /// ```
    /// # use std::time::Duration;
    /// use hale_resilience::{Jitter, RetryPolicy};
    ///
    /// let retry = RetryPolicy::builder("api").deadline(Duration::from_secs(30)).build().unwrap();
    /// assert_eq!(retry.config().deadline, Some(Duration::from_secs(30)));
    /// ```
    pub fn deadline(mut self, deadline: Duration) -> Self {
        self.config.deadline = Some(deadline);
        self
    }

    /// How delays are randomised.
    ///
    /// # Examples
    ///
    /// ```
    /// # use std::time::Duration;
    /// use hale_resilience::{Jitter, RetryPolicy};
    ///
    /// let retry = RetryPolicy::builder("api").jitter(Jitter::Equal).build().unwrap();
    /// assert_eq!(retry.config().jitter, Jitter::Equal);
    /// ```
    pub fn jitter(mut self, jitter: Jitter) -> Self {
        self.config.jitter = jitter;
        self
    }

    /// Seeds the jitter RNG so delays are reproducible.
    ///
    /// # Examples
    ///
    /// ```
    /// # use std::time::Duration;
    /// use hale_resilience::{Jitter, RetryPolicy};
    ///
    /// let retry = RetryPolicy::builder("api").seed(42).build().unwrap();
    /// assert_eq!(retry.config().seed, Some(42));
    /// ```
    pub fn seed(mut self, seed: u64) -> Self {
        self.config.seed = Some(seed);
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn build(
        f: impl FnOnce(PolicyBuilder<RetryConfig>) -> PolicyBuilder<RetryConfig>,
    ) -> Result<RetryPolicy, ConfigError> {
        f(RetryPolicy::builder("r")).build()
    }

    #[test]
    fn impossible_settings_are_rejected_when_built() {
        assert!(matches!(
            build(|b| b.backoff_coefficient(0.5)),
            Err(ConfigError::BackoffCoefficient { .. })
        ));
        assert!(matches!(
            build(|b| b.backoff_coefficient(f64::NAN)),
            Err(ConfigError::BackoffCoefficient { .. })
        ));
        assert!(matches!(
            build(|b| b.maximum_attempts(0)),
            Err(ConfigError::Zero {
                field: "maximum attempts",
                ..
            })
        ));
        assert!(matches!(
            build(|b| b
                .initial_interval(Duration::from_secs(2))
                .maximum_interval(Duration::from_secs(1))),
            Err(ConfigError::MaxIntervalBelowInitial { .. })
        ));
        assert!(matches!(
            build(|b| b.unlimited_attempts()),
            Err(ConfigError::UnboundedRetry { .. })
        ));
        assert!(matches!(
            build(|b| b.initial_interval(Duration::ZERO)),
            Err(ConfigError::Zero {
                field: "initial interval",
                ..
            })
        ));
        assert!(build(|b| b.unlimited_attempts().deadline(Duration::from_secs(30))).is_ok());
        assert!(build(|b| b).is_ok());
    }

    #[test]
    fn maximum_interval_defaults_to_a_hundred_times_initial() {
        let policy = build(|b| b.initial_interval(Duration::from_millis(50))).unwrap();
        assert_eq!(
            policy.config().effective_maximum_interval(),
            Duration::from_secs(5)
        );
    }
}
