//! Composition: one builder that stacks the policies around a call in a fixed,
//! documented order.
//!
//! ```text
//!  caller
//!    │
//!    ▼
//!  circuit breaker   one outcome per logical call; open → rejected, nothing below runs
//!    │
//!    ▼
//!  retry             attempts, backoff and the overall deadline
//!    │  ┌─────────── each attempt: ───────────┐
//!    ▼  ▼                                     │
//!  rate limiter      one token per real request to the dependency
//!    │                                        │
//!    ▼                                        │
//!  bulkhead          a slot per attempt, not held while backing off
//!    │                                        │
//!    ▼                                        │
//!  timeout           limits the attempt itself, not the waits above it
//!    │                                        │
//!    ▼                                        │
//!  operation  ────────────────────────────────┘
//! ```
//!
//! Why this order:
//!
//! - **The breaker is outermost** (as in "timeout inside retry inside breaker"): when the
//!   dependency is known to be down, a call fails at once, without burning attempts,
//!   tokens or slots. A logically failed call (all attempts failed) counts once, and the
//!   breaker's slow-call clock covers the whole retried call.
//! - **Retry wraps everything per attempt**, so each attempt waits for its own token and
//!   slot and gets its own timeout. A full bulkhead is retried; a rate-limit rejection is
//!   retried no earlier than its `retry_after`; an attempt timeout is retried.
//! - **Rate limit before bulkhead**: waiting for a token never holds a concurrency slot.
//! - **Timeout innermost**: it measures the dependency, not the queueing in front of it.
//!
//! A pipeline also wraps any `tower` service: see [`PipelineLayer`].
//!
//! Every layer is optional; absent ones are skipped. A fallback chain sits *outside*
//! pipelines: each alternative gets its own pipeline (see
//! [`FallbackChainBuilder::alternative_via`](crate::FallbackChainBuilder::alternative_via)),
//! and single-flight, when wanted, goes around the whole thing.
//!
//! Note that `operation()` is called (creating its future) before the limiter and
//! bulkhead are passed, but the future is only polled once they are; keep side effects
//! inside the future (`|| async { ... }` or an `async fn`).
//!
//! ```
//! use std::time::Duration;
//! use hale_resilience::Pipeline;
//!
//! # #[tokio::main(flavor = "current_thread", start_paused = true)]
//! # async fn main() {
//! let llm = Pipeline::builder("llm")
//!     .circuit_breaker(|breaker| breaker.count_window(20).minimum_calls(10))
//!     .retry(|retry| retry.maximum_attempts(3).seed(1))
//!     .timeout(Duration::from_secs(30))
//!     .build()
//!     .unwrap();
//! assert_eq!(llm.layers(), vec!["circuit_breaker", "retry", "timeout"]);
//!
//! let mut attempts = 0;
//! let answer = llm
//!     .call(|| {
//!         attempts += 1;
//!         let first = attempts == 1;
//!         async move {
//!             if first {
//!                 // The first attempt hangs and is cut by the timeout, then retried.
//!                 tokio::time::sleep(Duration::from_secs(3600)).await;
//!             }
//!             Ok::<_, String>("42")
//!         }
//!     })
//!     .await;
//! assert_eq!(answer.unwrap(), "42");
//! assert_eq!(attempts, 2);
//! # }
//! ```

mod layer;
mod stack;

pub use layer::{PipelineFuture, PipelineLayer, PipelineService};
pub use stack::{Pipeline, PipelineBuilder, PipelinePolicy};
