//! The one builder shape every stateful policy uses.
//!
//! `Policy::builder(name)` returns a [`PolicyBuilder`] holding the policy's name, its
//! configuration struct (with defaults) and the event bus to report to. The setters for a
//! given configuration live next to the policy; [`PolicyBuilder::config`] replaces the
//! whole configuration at once, which is handy when settings come from a file.
//! `build()` validates the settings and returns a typed [`ConfigError`] instead of a
//! policy that cannot work.
//!
//! [`ConfigError`]: crate::ConfigError

use std::fmt;
use std::sync::Arc;

use crate::error::ConfigError;
use crate::events::ResilienceBus;

/// Builder for a policy with configuration `C`. See the module docs.
#[must_use = "a builder does nothing until `build()` is called"]
pub struct PolicyBuilder<C> {
    pub(crate) name: Arc<str>,
    pub(crate) config: C,
    /// `None` until [`events`](Self::events) is called: a pipeline then fills in its own
    /// bus, and a policy built on its own reports to no subscriber.
    pub(crate) events: Option<ResilienceBus>,
}

impl<C: Default> PolicyBuilder<C> {
    pub(crate) fn new(name: impl Into<Arc<str>>) -> Self {
        Self {
            name: name.into(),
            config: C::default(),
            events: None,
        }
    }
}

impl<C> PolicyBuilder<C> {
    /// Replaces the whole configuration (handy when settings come from a file, or are
    /// shared by several policies).
    ///
    /// # Examples
    ///
    /// ```
    /// use hale_resilience::{RetryConfig, RetryPolicy};
    ///
    /// let settings = RetryConfig { maximum_attempts: Some(5), ..Default::default() };
    /// let retry = RetryPolicy::builder("api").config(settings).build().unwrap();
    /// assert_eq!(retry.config().maximum_attempts, Some(5));
    /// ```
    pub fn config(mut self, config: C) -> Self {
        self.config = config;
        self
    }

    /// Reports events to `bus` (they are traced either way).
    ///
    /// # Examples
    ///
    /// ```
    /// use hale_resilience::{CircuitBreaker, ResilienceBus};
    ///
    /// let bus = ResilienceBus::new();
    /// let mut events = bus.subscribe();
    /// let breaker = CircuitBreaker::builder("api").events(&bus).build().unwrap();
    /// breaker.force_open();
    /// assert_eq!(events.try_recv().unwrap().policy, "api");
    /// ```
    pub fn events(mut self, bus: &ResilienceBus) -> Self {
        self.events = Some(bus.clone());
        self
    }

    /// Reports to `bus` unless a bus was set already (how a pipeline hands its bus to
    /// the policies it configures).
    pub(crate) fn events_or(mut self, bus: &ResilienceBus) -> Self {
        self.events.get_or_insert_with(|| bus.clone());
        self
    }

    /// The configuration as set so far.
    ///
    /// # Examples
    ///
    /// ```
    /// let builder = hale_resilience::Bulkhead::builder("db").max_concurrent(4);
    /// assert_eq!(builder.current_config().max_concurrent, 4);
    /// ```
    pub fn current_config(&self) -> &C {
        &self.config
    }
}

impl<C: PolicyConfig> PolicyBuilder<C> {
    /// Validates the settings and builds the policy.
    ///
    /// # Errors
    ///
    /// The [`ConfigError`] of the first setting that cannot work, naming the policy.
    ///
    /// # Examples
    ///
    /// ```
    /// use hale_resilience::RetryPolicy;
    ///
    /// assert!(RetryPolicy::builder("api").maximum_attempts(3).build().is_ok());
    /// assert!(RetryPolicy::builder("api").backoff_coefficient(0.5).build().is_err());
    /// ```
    pub fn build(self) -> Result<C::Policy, ConfigError> {
        self.config.validate_named(&self.name)?;
        Ok(self
            .config
            .build_valid(self.name, self.events.unwrap_or_default()))
    }
}

/// Settings that build a policy: [`RetryConfig`](crate::RetryConfig),
/// [`BreakerConfig`](crate::BreakerConfig), [`BulkheadConfig`](crate::BulkheadConfig),
/// [`RateLimitConfig`](crate::RateLimitConfig). Sealed: the crate relies on
/// `build()` only ever seeing validated settings.
pub trait PolicyConfig: sealed::Build {}

impl<C: sealed::Build> PolicyConfig for C {}

pub(crate) mod sealed {
    use std::sync::Arc;

    use crate::error::ConfigError;
    use crate::events::ResilienceBus;

    /// How a configuration validates itself and becomes a policy.
    pub trait Build: Clone + Send + Sync + 'static {
        /// The policy built.
        type Policy: Clone;

        /// Checks the settings; `name` labels the error.
        fn validate_named(&self, name: &str) -> Result<(), ConfigError>;

        /// Builds the policy; only called after `validate_named` succeeded.
        fn build_valid(self, name: Arc<str>, events: ResilienceBus) -> Self::Policy;
    }
}

impl<C: fmt::Debug> fmt::Debug for PolicyBuilder<C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PolicyBuilder")
            .field("name", &self.name)
            .field("config", &self.config)
            .finish()
    }
}
