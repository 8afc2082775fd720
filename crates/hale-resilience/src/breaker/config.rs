//! Circuit-breaker settings and their validation.

use std::sync::Arc;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::CircuitBreaker;
use crate::builder::PolicyBuilder;
use crate::error::ConfigError;
use crate::events::ResilienceBus;

/// Which recent calls the failure and slow-call rates are computed over.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SlidingWindow {
    /// The last `calls` calls, however old.
    CountBased {
        /// Window size in calls.
        calls: u32,
    },
    /// The calls that completed in the last `seconds` whole seconds (aggregated per
    /// second, like resilience4j).
    TimeBased {
        /// Window length in seconds.
        seconds: u32,
    },
}

/// Circuit-breaker settings, on the model of resilience4j (same defaults).
///
/// | field | default | meaning |
/// |---|---|---|
/// | `failure_rate_threshold` | 50 % | open when at least this share of calls failed |
/// | `slow_call_rate_threshold` | 100 % | open when at least this share of calls was slow |
/// | `slow_call_duration` | 60 s | a call taking at least this long is slow |
/// | `sliding_window` | last 100 calls | which calls the rates are computed over |
/// | `minimum_calls` | 100 | calls the window must hold before the breaker may open |
/// | `half_open_calls` | 10 | trial calls admitted in half-open |
/// | `wait_in_open` | 60 s | how long open rejects calls before half-open |
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BreakerConfig {
    /// Failure rate, in percent, at or above which the breaker opens.
    pub failure_rate_threshold: f64,
    /// Slow-call rate, in percent, at or above which the breaker opens.
    pub slow_call_rate_threshold: f64,
    /// Duration at or above which a call counts as slow (failed or not).
    pub slow_call_duration: Duration,
    /// The window the rates are computed over.
    pub sliding_window: SlidingWindow,
    /// Calls recorded in the window before the rates are looked at.
    pub minimum_calls: u32,
    /// Trial calls admitted in half-open; all must complete before it decides.
    pub half_open_calls: u32,
    /// Time spent open before trial calls are let through.
    pub wait_in_open: Duration,
}

impl Default for BreakerConfig {
    fn default() -> Self {
        Self {
            failure_rate_threshold: 50.0,
            slow_call_rate_threshold: 100.0,
            slow_call_duration: Duration::from_secs(60),
            sliding_window: SlidingWindow::CountBased { calls: 100 },
            minimum_calls: 100,
            half_open_calls: 10,
            wait_in_open: Duration::from_secs(60),
        }
    }
}

impl BreakerConfig {
    /// Checks the settings; `name` only labels the error.
    ///
    /// # Errors
    ///
    /// [`ConfigError::Percentage`] for a threshold outside `(0, 100]`,
    /// [`ConfigError::Zero`] for a zero duration, count or window, and
    /// [`ConfigError::MinimumCallsAboveWindow`] when a count window could never hold
    /// `minimum_calls`.
    ///
    /// # Examples
    ///
    /// ```
    /// use hale_resilience::{BreakerConfig, SlidingWindow};
    ///
    /// assert!(BreakerConfig::default().validate("db").is_ok());
    /// let never_opens = BreakerConfig {
    ///     sliding_window: SlidingWindow::CountBased { calls: 10 },
    ///     minimum_calls: 20,
    ///     ..Default::default()
    /// };
    /// assert!(never_opens.validate("db").is_err());
    /// ```
    pub fn validate(&self, name: &str) -> Result<(), ConfigError> {
        let zero = |field| ConfigError::Zero {
            policy: "circuit breaker",
            name: name.to_owned(),
            field,
        };
        let percentage = |field, value: f64| {
            if value > 0.0 && value <= 100.0 {
                Ok(())
            } else {
                Err(ConfigError::Percentage {
                    policy: "circuit breaker",
                    name: name.to_owned(),
                    field,
                    value,
                })
            }
        };
        percentage("failure rate threshold", self.failure_rate_threshold)?;
        percentage("slow call rate threshold", self.slow_call_rate_threshold)?;
        if self.slow_call_duration.is_zero() {
            return Err(zero("slow call duration"));
        }
        if self.minimum_calls == 0 {
            return Err(zero("minimum calls"));
        }
        if self.half_open_calls == 0 {
            return Err(zero("half-open calls"));
        }
        if self.wait_in_open.is_zero() {
            return Err(zero("wait in open"));
        }
        match self.sliding_window {
            SlidingWindow::CountBased { calls: 0 } => Err(zero("window size")),
            SlidingWindow::TimeBased { seconds: 0 } => Err(zero("window length")),
            SlidingWindow::CountBased { calls } if self.minimum_calls > calls => {
                // The window could never hold enough calls: the breaker would never open.
                Err(ConfigError::MinimumCallsAboveWindow {
                    name: name.to_owned(),
                    minimum: self.minimum_calls,
                    window: calls,
                })
            }
            _ => Ok(()),
        }
    }
}

impl PolicyBuilder<BreakerConfig> {
    /// Failure rate, in percent, at or above which the breaker opens.
    ///
    /// # Examples
    ///
    /// ```
    /// # use std::time::Duration;
    /// use hale_resilience::{CircuitBreaker, SlidingWindow};
    ///
    /// let breaker = CircuitBreaker::builder("api").failure_rate_threshold(25.0).build().unwrap();
    /// assert_eq!(breaker.config().failure_rate_threshold, 25.0);
    /// ```
    pub fn failure_rate_threshold(mut self, percent: f64) -> Self {
        self.config.failure_rate_threshold = percent;
        self
    }

    /// Slow-call rate, in percent, at or above which the breaker opens.
    ///
    /// # Examples
    ///
    /// ```
    /// # use std::time::Duration;
    /// use hale_resilience::{CircuitBreaker, SlidingWindow};
    ///
    /// let breaker = CircuitBreaker::builder("api").slow_call_rate_threshold(80.0).build().unwrap();
    /// assert_eq!(breaker.config().slow_call_rate_threshold, 80.0);
    /// ```
    pub fn slow_call_rate_threshold(mut self, percent: f64) -> Self {
        self.config.slow_call_rate_threshold = percent;
        self
    }

    /// Duration at or above which a call is slow.
    ///
    /// # Examples
    ///
    /// ```
    /// # use std::time::Duration;
    /// use hale_resilience::{CircuitBreaker, SlidingWindow};
    ///
    /// let breaker = CircuitBreaker::builder("api").slow_call_duration(Duration::from_secs(5)).build().unwrap();
    /// assert_eq!(breaker.config().slow_call_duration, Duration::from_secs(5));
    /// ```
    pub fn slow_call_duration(mut self, duration: Duration) -> Self {
        self.config.slow_call_duration = duration;
        self
    }

    /// Compute rates over the last `calls` calls.
    ///
    /// # Examples
    ///
    /// ```
    /// # use std::time::Duration;
    /// use hale_resilience::{CircuitBreaker, SlidingWindow};
    ///
    /// let breaker = CircuitBreaker::builder("api").count_window(20).minimum_calls(10).build().unwrap();
    /// assert_eq!(breaker.config().sliding_window, SlidingWindow::CountBased { calls: 20 });
    /// ```
    pub fn count_window(mut self, calls: u32) -> Self {
        self.config.sliding_window = SlidingWindow::CountBased { calls };
        self
    }

    /// Compute rates over the calls of the last `seconds` seconds.
    ///
    /// # Examples
    ///
    /// ```
    /// # use std::time::Duration;
    /// use hale_resilience::{CircuitBreaker, SlidingWindow};
    ///
    /// let breaker = CircuitBreaker::builder("api").time_window(60).build().unwrap();
    /// assert_eq!(breaker.config().sliding_window, SlidingWindow::TimeBased { seconds: 60 });
    /// ```
    pub fn time_window(mut self, seconds: u32) -> Self {
        self.config.sliding_window = SlidingWindow::TimeBased { seconds };
        self
    }

    /// Calls the window must hold before the breaker may open.
    ///
    /// # Examples
    ///
    /// ```
    /// # use std::time::Duration;
    /// use hale_resilience::{CircuitBreaker, SlidingWindow};
    ///
    /// let breaker = CircuitBreaker::builder("api").minimum_calls(10).build().unwrap();
    /// assert_eq!(breaker.config().minimum_calls, 10);
    /// ```
    pub fn minimum_calls(mut self, calls: u32) -> Self {
        self.config.minimum_calls = calls;
        self
    }

    /// Trial calls admitted in half-open.
    ///
    /// # Examples
    ///
    /// ```
    /// # use std::time::Duration;
    /// use hale_resilience::{CircuitBreaker, SlidingWindow};
    ///
    /// let breaker = CircuitBreaker::builder("api").half_open_calls(3).build().unwrap();
    /// assert_eq!(breaker.config().half_open_calls, 3);
    /// ```
    pub fn half_open_calls(mut self, calls: u32) -> Self {
        self.config.half_open_calls = calls;
        self
    }

    /// Time spent open before trial calls.
    ///
    /// # Examples
    ///
    /// ```
    /// # use std::time::Duration;
    /// use hale_resilience::{CircuitBreaker, SlidingWindow};
    ///
    /// let breaker = CircuitBreaker::builder("api").wait_in_open(Duration::from_secs(30)).build().unwrap();
    /// assert_eq!(breaker.config().wait_in_open, Duration::from_secs(30));
    /// ```
    pub fn wait_in_open(mut self, wait: Duration) -> Self {
        self.config.wait_in_open = wait;
        self
    }
}

impl crate::builder::sealed::Build for BreakerConfig {
    type Policy = CircuitBreaker;

    fn validate_named(&self, name: &str) -> Result<(), ConfigError> {
        self.validate(name)
    }

    fn build_valid(self, name: Arc<str>, events: ResilienceBus) -> CircuitBreaker {
        CircuitBreaker::from_valid(name, self, events)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn impossible_settings_are_rejected() {
        let check = |config: BreakerConfig| config.validate("b");
        let base = BreakerConfig::default();
        assert!(check(base.clone()).is_ok());
        assert!(matches!(
            check(BreakerConfig {
                failure_rate_threshold: 0.0,
                ..base.clone()
            }),
            Err(ConfigError::Percentage { .. })
        ));
        assert!(matches!(
            check(BreakerConfig {
                slow_call_rate_threshold: f64::NAN,
                ..base.clone()
            }),
            Err(ConfigError::Percentage { .. })
        ));
        assert!(matches!(
            check(BreakerConfig {
                half_open_calls: 0,
                ..base.clone()
            }),
            Err(ConfigError::Zero {
                field: "half-open calls",
                ..
            })
        ));
        assert!(matches!(
            check(BreakerConfig {
                sliding_window: SlidingWindow::CountBased { calls: 10 },
                minimum_calls: 11,
                ..base.clone()
            }),
            Err(ConfigError::MinimumCallsAboveWindow { .. })
        ));
        assert!(
            check(BreakerConfig {
                sliding_window: SlidingWindow::TimeBased { seconds: 10 },
                minimum_calls: 500,
                ..base
            })
            .is_ok()
        );
    }
}
