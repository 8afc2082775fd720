//! Resilience policies for the calls agents make.
//!
//! An agent's own code fails most often at its edges: the LLM endpoint, the payment
//! gateway, the map API, the database pool. This crate wraps any async call in policies
//! that keep such failures from turning into hangs, storms of retries or cascades. It
//! works on its own, without actors, and from inside supervised agents.
//!
//! Every policy reports what it does as [`ResilienceEvent`]s (to subscribers of an
//! [`EventBus`] and to `tracing`) and keeps cheap counters readable as a snapshot.
//! All timing uses `tokio::time`, so tests can run on tokio's paused clock.

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

pub mod breaker;

pub use breaker::{
    BreakerConfig, BreakerPermit, BreakerState, BreakerStats, CircuitBreaker, SlidingWindow, WindowMetrics,
};
pub use builder::{PolicyBuilder, PolicyConfig};
pub use bulkhead::{Bulkhead, BulkheadConfig, BulkheadPermit, BulkheadStats};
pub use classify::{ByErrorClass, CallOutcome, Classifier, Classify, ErrorClass, RetryDecision};
pub use degrade::{CriticalStepFailed, DegradableRun, Degraded, DegradedStep};
pub use error::{ConfigError, Rejection, ResilienceError};
pub use events::{EventBus, EventKind, EventReceiver, GiveUpReason, RejectionKind, ResilienceEvent};
pub use fallback::{
    AlternativeFailure, Answer, AnsweredBy, Escalation, EscalationFailed, FallbackChain,
    FallbackChainBuilder, FallbackStats,
};
pub use mediator::{MediatorBuilder, MediatorError, MediatorStats, ResourceMediator, ResourceSet};
pub use pipeline::{Pipeline, PipelineBuilder};
pub use rate_limit::{RateLimitConfig, RateLimitStats, RateLimiter};
pub use registry::Registry;
pub use retry::{Jitter, RetryConfig, RetryPolicy, RetryStats};
pub use single_flight::{OnDuplicate, SingleFlight, SingleFlightStats};
pub use timeout::{Timeout, TimeoutStats};
