//! Resilience policies for the calls agents make.
//!
//! An agent's own code fails most often at its edges: the LLM endpoint, the payment
//! gateway, the map API, the database pool. This crate wraps any async call in policies
//! that keep such failures from turning into hangs, storms of retries or cascades. It
//! works on its own, without actors, and from inside supervised agents.
//!
//! | policy | module | what it does |
//! |---|---|---|
//! | [`RetryPolicy`] | [`retry`] | tries again with capped exponential backoff and jitter (Temporal's model) |
//! | [`CircuitBreaker`] | [`breaker`] | stops calling an unhealthy dependency (resilience4j's model) |
//! | [`Timeout`] | [`timeout`] | cancels a call that runs too long |
//! | [`FallbackChain`] | [`fallback`] | ordered alternatives ending in an explicit escalation |
//! | [`Bulkhead`] | [`bulkhead`] | bounded concurrency with a bounded wait |
//! | [`RateLimiter`] | [`rate_limit`] | GCRA rate limiting |
//! | [`SingleFlight`] | [`single_flight`] | one run per logical task; duplicates join or are refused |
//! | [`ResourceMediator`] | [`mediator`] | all-at-once, globally ordered acquisition of shared resources |
//! | [`DegradableRun`] | [`degrade`] | critical and optional steps, with declared neutral defaults |
//! | [`Pipeline`] | [`pipeline`] | stacks breaker, retry, rate limit, bulkhead and timeout in one order |
//!
//! Errors of a wrapped call are [`ResilienceError`]s: the operation's own error, a
//! [`Rejection`] (the dependency was not called), a timeout or a passed deadline. How a
//! policy treats your errors is up to [`ErrorClass`] or a [`Classifier`] (see
//! [`classify`]). Settings are checked when a policy is built ([`ConfigError`]).
//! Breakers, bulkheads and rate limiters are shared per dependency through a
//! [`Registry`].
//!
//! Every policy reports what it does as [`ResilienceEvent`]s, to subscribers of an
//! [`ResilienceBus`] and to `tracing` (see [`events`]), and keeps cheap counters readable as a
//! snapshot (`stats()`). All timing uses `tokio::time`, so tests can run on tokio's
//! paused clock.
//!
//! ```
//! use std::time::Duration;
//! use hale_resilience::{EventKind, Pipeline, ResilienceBus};
//!
//! # #[tokio::main(flavor = "current_thread", start_paused = true)]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let bus = ResilienceBus::new();
//! let mut events = bus.subscribe();
//! let maps = Pipeline::builder("maps")
//!     .events(&bus)
//!     .circuit_breaker(|breaker| breaker.minimum_calls(20).count_window(20))
//!     .retry(|retry| retry.maximum_attempts(3))
//!     .timeout(Duration::from_secs(5))
//!     .build()?;
//!
//! let mut attempts = 0;
//! let route = maps
//!     .call(|| {
//!         attempts += 1;
//!         let flaky = attempts == 1;
//!         async move { if flaky { Err("connection reset".to_string()) } else { Ok("A → B") } }
//!     })
//!     .await?;
//! assert_eq!(route, "A → B");
//! assert!(matches!(events.try_recv().unwrap().kind, EventKind::RetryScheduled { attempt: 1, .. }));
//! # Ok(())
//! # }
//! ```
//!
//! The guide in `docs/resilience.md` explains each policy and the composition order.

pub mod breaker;
mod builder;
pub mod bulkhead;
pub mod classify;
pub mod degrade;
mod error;
pub mod events;
pub mod fallback;
pub mod mediator;
pub mod pipeline;
pub mod rate_limit;
mod registry;
pub mod retry;
pub mod single_flight;
mod stats;
pub mod timeout;
mod util;

pub use breaker::{
    BreakerConfig, BreakerPermit, BreakerState, BreakerStats, CircuitBreaker, SlidingWindow, WindowMetrics,
};
pub use builder::{PolicyBuilder, PolicyConfig};
pub use bulkhead::{Bulkhead, BulkheadConfig, BulkheadPermit, BulkheadStats};
pub use classify::{ByErrorClass, CallOutcome, Classifier, Classify, ErrorClass, RetryDecision};
pub use degrade::{CriticalStepFailed, DegradableRun, Degraded, DegradedStep};
pub use error::{ConfigError, Rejection, ResilienceError};
pub use events::{EventKind, GiveUpReason, RejectionKind, ResilienceBus, ResilienceEvent, ResilienceStream};
pub use fallback::{
    AlternativeFailure, Answer, AnsweredBy, Escalation, EscalationFailed, FallbackChain,
    FallbackChainBuilder, FallbackStats,
};
pub use mediator::{MediatorBuilder, MediatorError, MediatorStats, ResourceMediator, ResourceSet};
pub use pipeline::{
    Pipeline, PipelineBuilder, PipelineFuture, PipelineLayer, PipelinePolicy, PipelineService,
};
pub use rate_limit::{RateLimitConfig, RateLimitStats, RateLimiter};
pub use registry::Registry;
pub use retry::{Jitter, RetryConfig, RetryPolicy, RetryStats};
pub use single_flight::{OnDuplicate, SingleFlight, SingleFlightStats};
pub use timeout::{Timeout, TimeoutStats};
