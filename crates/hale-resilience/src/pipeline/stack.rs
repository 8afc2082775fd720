//! The pipeline and its builder.

use std::fmt::{self, Display};
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use crate::breaker::{BreakerConfig, CircuitBreaker};
use crate::builder::{PolicyBuilder, PolicyConfig};
use crate::bulkhead::{Bulkhead, BulkheadConfig};
use crate::classify::{Classify, ErrorClass};
use crate::error::{ConfigError, ResilienceError};
use crate::events::ResilienceBus;
use crate::fallback::FallbackChainBuilder;
use crate::rate_limit::{RateLimitConfig, RateLimiter};
use crate::retry::{RetryConfig, RetryPolicy};
use crate::timeout::Timeout;

/// Policies stacked around a call in the order described in the
/// [module docs](crate::pipeline). Cheap to clone; clones share every policy.
#[derive(Debug, Clone)]
pub struct Pipeline {
    name: Arc<str>,
    layers: Layers,
}

#[derive(Debug, Clone, Default)]
struct Layers {
    breaker: Option<CircuitBreaker>,
    retry: Option<RetryPolicy>,
    rate_limit: Option<RateLimiter>,
    bulkhead: Option<Bulkhead>,
    timeout: Option<Timeout>,
}

/// A layer as given to the builder: a policy built elsewhere, or settings for one that
/// the builder names after the pipeline and connects to its bus when it builds.
#[derive(Debug)]
enum Slot<C: PolicyConfig> {
    Given(C::Policy),
    Configured(PolicyBuilder<C>),
}

impl<C: PolicyConfig> Slot<C> {
    fn build(self, bus: &ResilienceBus) -> Result<C::Policy, ConfigError> {
        match self {
            Self::Given(policy) => Ok(policy),
            Self::Configured(builder) => builder.events_or(bus).build(),
        }
    }
}

#[derive(Debug)]
enum TimeoutSlot {
    Given(Timeout),
    After(Duration),
}

/// Builds a [`Pipeline`]. The order in which layers are added does not matter: they are
/// always stacked in the documented order. Adding a layer twice keeps the last one.
///
/// A layer is either configured inline, with a closure over the policy's builder
/// ([`circuit_breaker`](Self::circuit_breaker), [`retry`](Self::retry),
/// [`rate_limit`](Self::rate_limit), [`bulkhead`](Self::bulkhead)) or a duration
/// ([`timeout`](Self::timeout)), or built elsewhere and added with
/// [`policy`](Self::policy) (a breaker shared through a [`Registry`](crate::Registry),
/// say). A policy configured inline is named after the pipeline and reports to the
/// pipeline's bus ([`events`](Self::events)) unless its closure sets a bus of its own; a
/// policy built elsewhere keeps its own name and bus.
///
/// ```
/// use std::time::Duration;
/// use hale_resilience::{CircuitBreaker, Pipeline, ResilienceBus};
///
/// # fn main() -> Result<(), hale_resilience::ConfigError> {
/// let bus = ResilienceBus::new();
/// let shared = CircuitBreaker::builder("maps").events(&bus).build()?;
/// let maps = Pipeline::builder("maps")
///     .events(&bus)
///     .policy(shared)
///     .retry(|retry| retry.maximum_attempts(3).seed(7))
///     .timeout(Duration::from_secs(2))
///     .build()?;
/// assert_eq!(maps.layers(), vec!["circuit_breaker", "retry", "timeout"]);
/// assert_eq!(maps.retry().map(|retry| retry.name()), Some("maps"));
/// # Ok(())
/// # }
/// ```
#[must_use = "a builder does nothing until `build()` is called"]
pub struct PipelineBuilder {
    name: Arc<str>,
    events: ResilienceBus,
    breaker: Option<Slot<BreakerConfig>>,
    retry: Option<Slot<RetryConfig>>,
    rate_limit: Option<Slot<RateLimitConfig>>,
    bulkhead: Option<Slot<BulkheadConfig>>,
    timeout: Option<TimeoutSlot>,
}

/// A policy built on its own that can be one layer of a [`Pipeline`]:
/// [`CircuitBreaker`], [`RetryPolicy`], [`RateLimiter`], [`Bulkhead`] or [`Timeout`].
/// See [`PipelineBuilder::policy`]. Sealed.
pub trait PipelinePolicy: sealed::Place {}

impl<P: sealed::Place> PipelinePolicy for P {}

mod sealed {
    /// Puts a built policy in its slot of a pipeline builder.
    pub trait Place {
        fn place(self, builder: &mut super::PipelineBuilder);
    }
}

impl sealed::Place for CircuitBreaker {
    fn place(self, builder: &mut PipelineBuilder) {
        builder.breaker = Some(Slot::Given(self));
    }
}

impl sealed::Place for RetryPolicy {
    fn place(self, builder: &mut PipelineBuilder) {
        builder.retry = Some(Slot::Given(self));
    }
}

impl sealed::Place for RateLimiter {
    fn place(self, builder: &mut PipelineBuilder) {
        builder.rate_limit = Some(Slot::Given(self));
    }
}

impl sealed::Place for Bulkhead {
    fn place(self, builder: &mut PipelineBuilder) {
        builder.bulkhead = Some(Slot::Given(self));
    }
}

impl sealed::Place for Timeout {
    fn place(self, builder: &mut PipelineBuilder) {
        builder.timeout = Some(TimeoutSlot::Given(self));
    }
}

impl PipelineBuilder {
    /// Reports the events of every policy configured inline to `bus` (policies built
    /// elsewhere keep their own bus). Without it they are only traced. It may come
    /// before or after the layers.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use hale_resilience::{Pipeline, ResilienceBus};
    ///
    /// # #[tokio::main(flavor = "current_thread", start_paused = true)]
    /// # async fn main() {
    /// let bus = ResilienceBus::new();
    /// let mut events = bus.subscribe();
    /// let search = Pipeline::builder("search")
    ///     .timeout(Duration::from_millis(10))
    ///     .events(&bus)
    ///     .build()
    ///     .unwrap();
    /// let _ = search.call(std::future::pending::<Result<(), String>>).await;
    /// assert_eq!(events.try_recv().unwrap().policy, "search");
    /// # }
    /// ```
    pub fn events(mut self, bus: &ResilienceBus) -> Self {
        self.events = bus.clone();
        self
    }

    /// The outermost layer: a circuit breaker named after the pipeline, configured by
    /// `configure` from the defaults ([`BreakerConfig`]).
    ///
    /// # Examples
    ///
    /// ```
    /// let llm = hale_resilience::Pipeline::builder("llm")
    ///     .circuit_breaker(|breaker| breaker.count_window(20).minimum_calls(10))
    ///     .build()
    ///     .unwrap();
    /// assert_eq!(llm.circuit_breaker().unwrap().name(), "llm");
    /// ```
    pub fn circuit_breaker(
        mut self,
        configure: impl FnOnce(PolicyBuilder<BreakerConfig>) -> PolicyBuilder<BreakerConfig>,
    ) -> Self {
        self.breaker = Some(Slot::Configured(configure(CircuitBreaker::builder(Arc::clone(
            &self.name,
        )))));
        self
    }

    /// Retries, inside the breaker: a retry policy named after the pipeline, configured
    /// by `configure` from the defaults ([`RetryConfig`]).
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use hale_resilience::{Pipeline, RetryConfig};
    ///
    /// // Settings several pipelines share, refined per pipeline.
    /// let backoff = RetryConfig { initial_interval: Duration::from_millis(50), ..Default::default() };
    /// let llm = Pipeline::builder("llm")
    ///     .retry(|retry| retry.config(backoff.clone()).maximum_attempts(4))
    ///     .build()
    ///     .unwrap();
    /// assert_eq!(llm.retry().unwrap().config().maximum_attempts, Some(4));
    /// ```
    pub fn retry(
        mut self,
        configure: impl FnOnce(PolicyBuilder<RetryConfig>) -> PolicyBuilder<RetryConfig>,
    ) -> Self {
        self.retry = Some(Slot::Configured(configure(RetryPolicy::builder(Arc::clone(
            &self.name,
        )))));
        self
    }

    /// A rate limiter per attempt, named after the pipeline, configured by `configure`
    /// from the defaults ([`RateLimitConfig`]).
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    ///
    /// let openai = hale_resilience::Pipeline::builder("openai")
    ///     .rate_limit(|limit| limit.limit(60, Duration::from_secs(60)).max_wait(Duration::from_secs(2)))
    ///     .build()
    ///     .unwrap();
    /// assert_eq!(openai.layers(), vec!["rate_limit"]);
    /// ```
    pub fn rate_limit(
        mut self,
        configure: impl FnOnce(PolicyBuilder<RateLimitConfig>) -> PolicyBuilder<RateLimitConfig>,
    ) -> Self {
        self.rate_limit = Some(Slot::Configured(configure(RateLimiter::builder(Arc::clone(
            &self.name,
        )))));
        self
    }

    /// A bulkhead per attempt, named after the pipeline, configured by `configure` from
    /// the defaults ([`BulkheadConfig`]).
    ///
    /// # Examples
    ///
    /// ```
    /// let db = hale_resilience::Pipeline::builder("db")
    ///     .bulkhead(|bulkhead| bulkhead.max_concurrent(8))
    ///     .build()
    ///     .unwrap();
    /// assert_eq!(db.layers(), vec!["bulkhead"]);
    /// ```
    pub fn bulkhead(
        mut self,
        configure: impl FnOnce(PolicyBuilder<BulkheadConfig>) -> PolicyBuilder<BulkheadConfig>,
    ) -> Self {
        self.bulkhead = Some(Slot::Configured(configure(Bulkhead::builder(Arc::clone(
            &self.name,
        )))));
        self
    }

    /// A timeout per attempt (the innermost layer), named after the pipeline. Any
    /// duration is accepted, as by [`Timeout::new`].
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    ///
    /// let search = hale_resilience::Pipeline::builder("search")
    ///     .timeout(Duration::from_secs(2))
    ///     .build()
    ///     .unwrap();
    /// assert_eq!(search.layers(), vec!["timeout"]);
    /// ```
    pub fn timeout(mut self, after: Duration) -> Self {
        self.timeout = Some(TimeoutSlot::After(after));
        self
    }

    /// Adds a policy built elsewhere (often shared through a
    /// [`Registry`](crate::Registry)) as the layer its type says. It keeps its own name
    /// and bus.
    ///
    /// # Examples
    ///
    /// ```
    /// use hale_resilience::{BreakerConfig, CircuitBreaker, Pipeline, ResilienceBus};
    ///
    /// let breakers = CircuitBreaker::registry(BreakerConfig::default(), &ResilienceBus::new()).unwrap();
    /// let payments = Pipeline::builder("payments")
    ///     .policy(breakers.get("payments-gateway"))
    ///     .build()
    ///     .unwrap();
    /// assert_eq!(payments.circuit_breaker().unwrap().name(), "payments-gateway");
    /// ```
    pub fn policy(mut self, policy: impl PipelinePolicy) -> Self {
        policy.place(&mut self);
        self
    }

    /// Builds every layer configured inline and stacks them with the given ones.
    ///
    /// # Errors
    ///
    /// The [`ConfigError`] of the first layer configured inline whose settings cannot
    /// work, naming the pipeline.
    ///
    /// # Examples
    ///
    /// ```
    /// use hale_resilience::{ConfigError, Pipeline};
    ///
    /// let error = Pipeline::builder("llm").retry(|retry| retry.maximum_attempts(0)).build().unwrap_err();
    /// assert!(matches!(error, ConfigError::Zero { name, .. } if name == "llm"));
    /// ```
    pub fn build(self) -> Result<Pipeline, ConfigError> {
        let bus = &self.events;
        let timeout = self.timeout.map(|slot| match slot {
            TimeoutSlot::Given(timeout) => timeout,
            TimeoutSlot::After(after) => Timeout::new(Arc::clone(&self.name), after).events(bus),
        });
        let layers = Layers {
            breaker: self.breaker.map(|slot| slot.build(bus)).transpose()?,
            retry: self.retry.map(|slot| slot.build(bus)).transpose()?,
            rate_limit: self.rate_limit.map(|slot| slot.build(bus)).transpose()?,
            bulkhead: self.bulkhead.map(|slot| slot.build(bus)).transpose()?,
            timeout,
        };
        Ok(Pipeline {
            name: self.name,
            layers,
        })
    }
}

impl fmt::Debug for PipelineBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PipelineBuilder")
            .field("name", &self.name)
            .field("breaker", &self.breaker)
            .field("retry", &self.retry)
            .field("rate_limit", &self.rate_limit)
            .field("bulkhead", &self.bulkhead)
            .field("timeout", &self.timeout)
            .finish()
    }
}

impl Pipeline {
    /// Starts a pipeline named `name` (usually the dependency), with no layer yet.
    ///
    /// # Examples
    ///
    /// ```
    /// let bare = hale_resilience::Pipeline::builder("maps").build().unwrap();
    /// assert!(bare.layers().is_empty());
    /// ```
    pub fn builder(name: impl Into<Arc<str>>) -> PipelineBuilder {
        PipelineBuilder {
            name: name.into(),
            events: ResilienceBus::default(),
            breaker: None,
            retry: None,
            rate_limit: None,
            bulkhead: None,
            timeout: None,
        }
    }

    /// The pipeline's name.
    ///
    /// # Examples
    ///
    /// ```
    /// let maps = hale_resilience::Pipeline::builder("maps").build().unwrap();
    /// assert_eq!(maps.name(), "maps");
    /// ```
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The layers present, outermost first.
    ///
    /// # Examples
    ///
    /// ```
    /// # use std::time::Duration;
    /// let maps = hale_resilience::Pipeline::builder("maps")
    ///     .timeout(Duration::from_secs(1))
    ///     .retry(|retry| retry)
    ///     .build()
    ///     .unwrap();
    /// assert_eq!(maps.layers(), vec!["retry", "timeout"]);
    /// ```
    pub fn layers(&self) -> Vec<&'static str> {
        let layers = &self.layers;
        [
            layers.breaker.as_ref().map(|_| "circuit_breaker"),
            layers.retry.as_ref().map(|_| "retry"),
            layers.rate_limit.as_ref().map(|_| "rate_limit"),
            layers.bulkhead.as_ref().map(|_| "bulkhead"),
            layers.timeout.as_ref().map(|_| "timeout"),
        ]
        .into_iter()
        .flatten()
        .collect()
    }

    /// The circuit breaker layer, if any (to read its state or stats, or force it open).
    ///
    /// # Examples
    ///
    /// ```
    /// let maps = hale_resilience::Pipeline::builder("maps")
    ///     .circuit_breaker(|breaker| breaker)
    ///     .build()
    ///     .unwrap();
    /// assert_eq!(maps.circuit_breaker().unwrap().stats().rejected, 0);
    /// ```
    pub fn circuit_breaker(&self) -> Option<&CircuitBreaker> {
        self.layers.breaker.as_ref()
    }

    /// The retry layer, if any.
    ///
    /// # Examples
    ///
    /// ```
    /// let maps = hale_resilience::Pipeline::builder("maps").build().unwrap();
    /// assert!(maps.retry().is_none());
    /// ```
    pub fn retry(&self) -> Option<&RetryPolicy> {
        self.layers.retry.as_ref()
    }

    crate::util::classified_calls! {
        FnMut, Display;
        /// Runs `operation` through every layer, in the order of the
        /// [module docs](crate::pipeline), judging errors by their
        /// [`ErrorClass`](crate::ErrorClass). `operation` is called once per attempt.
        ///
        /// # Errors
        ///
        /// The operation's own error as [`ResilienceError::Inner`] once the retry gave
        /// up; [`ResilienceError::Rejected`] when the breaker refused (nothing ran) or
        /// when the last attempt found the rate limit or bulkhead full;
        /// [`ResilienceError::Timeout`] or [`ResilienceError::DeadlineExceeded`] when
        /// time ran out.
        ///
        /// # Cancel safety
        ///
        /// Dropping the future drops whatever runs at that moment, and each layer lets
        /// go as its own docs say: a breaker records nothing and gives back a half-open
        /// trial slot, the retry makes no further attempt, a bulkhead slot is released,
        /// and a rate-limit turn already reserved is not given back.
        ///
        /// # Examples
        ///
        /// ```
        /// use std::time::Duration;
        ///
        /// # #[tokio::main(flavor = "current_thread", start_paused = true)]
        /// # async fn main() {
        /// let maps = hale_resilience::Pipeline::builder("maps")
        ///     .retry(|retry| retry.maximum_attempts(2))
        ///     .timeout(Duration::from_secs(1))
        ///     .build()
        ///     .unwrap();
        /// let route = maps.call(|| async { Ok::<_, String>("A → B") }).await;
        /// assert_eq!(route.unwrap(), "A → B");
        /// # }
        /// ```
        call;
        /// Like [`call`](Self::call), judging errors with `classifier`.
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
        /// use hale_resilience::{Classifier, Pipeline};
        ///
        /// # #[tokio::main(flavor = "current_thread", start_paused = true)]
        /// # async fn main() {
        /// let by_status = Classifier::<u16>::new().retry_if(|status| *status == 503);
        /// let api = Pipeline::builder("api").retry(|retry| retry.maximum_attempts(3)).build().unwrap();
        /// let _ = api.call_with(&by_status, || async { Err::<(), u16>(404) }).await;
        /// assert_eq!(api.retry().unwrap().stats().attempts, 1);
        /// # }
        /// ```
        call_with;
    }

    /// The building block for nesting: `operation` already reports [`ResilienceError`]s.
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
    /// use hale_resilience::{ByErrorClass, Pipeline, ResilienceError};
    ///
    /// # #[tokio::main(flavor = "current_thread", start_paused = true)]
    /// # async fn main() {
    /// let inner = Pipeline::builder("cache").build().unwrap();
    /// let outer = Pipeline::builder("llm").retry(|retry| retry.maximum_attempts(2)).build().unwrap();
    /// let answer = outer
    ///     .run_with(&ByErrorClass, || inner.call(|| async { Ok::<_, String>(42) }))
    ///     .await;
    /// assert_eq!(answer.unwrap(), 42);
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
        let mut attempt = || self.attempt(operation());
        let retried = async {
            match &self.layers.retry {
                Some(retry) => retry.run_with(classifier, attempt).await,
                None => attempt().await,
            }
        };
        match &self.layers.breaker {
            Some(breaker) => breaker.run_with(classifier, || retried).await,
            None => retried.await,
        }
    }

    /// One attempt: a token, a slot, then the operation under its timeout.
    async fn attempt<T, E, Fut>(&self, operation: Fut) -> Result<T, ResilienceError<E>>
    where
        Fut: Future<Output = Result<T, ResilienceError<E>>>,
    {
        let layers = &self.layers;
        if let Some(limiter) = &layers.rate_limit {
            limiter.acquire().await?;
        }
        let _slot = match &layers.bulkhead {
            Some(bulkhead) => Some(bulkhead.acquire().await?),
            None => None,
        };
        match &layers.timeout {
            Some(timeout) => timeout.run(|| operation).await,
            None => operation.await,
        }
    }
}

impl<I, T, E> FallbackChainBuilder<I, T, E>
where
    I: Clone + Send + Sync + 'static,
    T: Send + 'static,
    E: ErrorClass + Display + Send + 'static,
{
    /// Adds an alternative that calls `operation` through `pipeline` (its own retry,
    /// breaker, timeout...).
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use hale_resilience::{FallbackChain, Pipeline};
    ///
    /// # #[tokio::main(flavor = "current_thread", start_paused = true)]
    /// # async fn main() {
    /// let primary = Pipeline::builder("primary").timeout(Duration::from_millis(100)).build().unwrap();
    /// let chain = FallbackChain::builder("route")
    ///     .alternative_via("primary", &primary, |_: u32| std::future::pending::<Result<String, String>>())
    ///     .alternative("estimate", |km: u32| async move { Ok(format!("about {km} km")) })
    ///     .escalate(|_| async { Err("nobody to ask".to_string()) })
    ///     .unwrap();
    /// let answer = chain.call(12).await.unwrap();
    /// assert_eq!(answer.answered_by.name(), Some("estimate"));
    /// assert!(answer.failures[0].error.is_timeout());
    /// # }
    /// ```
    pub fn alternative_via<F, Fut>(self, name: impl Into<Arc<str>>, pipeline: &Pipeline, operation: F) -> Self
    where
        F: Fn(I) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<T, E>> + Send + 'static,
    {
        let pipeline = pipeline.clone();
        let operation = Arc::new(operation);
        self.resilient_alternative(name, move |input: I| {
            let pipeline = pipeline.clone();
            let operation = Arc::clone(&operation);
            async move { pipeline.call(|| operation(input.clone())).await }
        })
    }
}
