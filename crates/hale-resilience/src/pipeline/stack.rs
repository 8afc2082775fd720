//! The pipeline and its builder.

use std::fmt::Display;
use std::future::Future;
use std::sync::Arc;

use crate::breaker::CircuitBreaker;
use crate::bulkhead::Bulkhead;
use crate::classify::{Classify, ErrorClass};
use crate::error::ResilienceError;
use crate::fallback::FallbackChainBuilder;
use crate::rate_limit::RateLimiter;
use crate::retry::RetryPolicy;
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

/// Builds a [`Pipeline`]. The order in which layers are added does not matter: they are
/// always stacked in the documented order.
#[derive(Debug)]
#[must_use = "a builder does nothing until `build()` is called"]
pub struct PipelineBuilder {
    name: Arc<str>,
    layers: Layers,
}

impl PipelineBuilder {
    /// The outermost layer: a circuit breaker (often shared through a registry).
    pub fn circuit_breaker(mut self, breaker: CircuitBreaker) -> Self {
        self.layers.breaker = Some(breaker);
        self
    }

    /// Retries, inside the breaker.
    pub fn retry(mut self, retry: RetryPolicy) -> Self {
        self.layers.retry = Some(retry);
        self
    }

    /// A rate limiter, per attempt.
    pub fn rate_limit(mut self, limiter: RateLimiter) -> Self {
        self.layers.rate_limit = Some(limiter);
        self
    }

    /// A bulkhead, per attempt.
    pub fn bulkhead(mut self, bulkhead: Bulkhead) -> Self {
        self.layers.bulkhead = Some(bulkhead);
        self
    }

    /// A timeout, per attempt (the innermost layer).
    pub fn timeout(mut self, timeout: Timeout) -> Self {
        self.layers.timeout = Some(timeout);
        self
    }

    /// Builds the pipeline. Every layer was validated when it was built, so this cannot
    /// fail.
    pub fn build(self) -> Pipeline {
        Pipeline {
            name: self.name,
            layers: self.layers,
        }
    }
}

impl Pipeline {
    /// Starts a pipeline named `name` (usually the dependency).
    pub fn builder(name: impl Into<Arc<str>>) -> PipelineBuilder {
        PipelineBuilder {
            name: name.into(),
            layers: Layers::default(),
        }
    }

    /// The pipeline's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The layers present, outermost first.
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

    /// The circuit breaker layer, if any.
    pub fn circuit_breaker(&self) -> Option<&CircuitBreaker> {
        self.layers.breaker.as_ref()
    }

    /// The retry layer, if any.
    pub fn retry(&self) -> Option<&RetryPolicy> {
        self.layers.retry.as_ref()
    }

    crate::util::classified_calls!(FnMut, Display);

    /// The building block for nesting: `operation` already reports [`ResilienceError`]s.
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
