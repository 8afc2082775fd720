//! Circuit breaker, on the model of resilience4j.
//!
//! A breaker stands between callers and one dependency and stops calling it while it is
//! unhealthy, so a failing service is given room to recover and callers fail in
//! microseconds instead of waiting on timeouts.
//!
//! - **Closed**: calls flow. Each outcome goes into a sliding window, either the last N
//!   calls ([`SlidingWindow::CountBased`]) or the last N seconds
//!   ([`SlidingWindow::TimeBased`]). Once the window holds `minimum_calls`, the breaker
//!   opens if the failure rate or the slow-call rate reaches its threshold.
//! - **Open**: calls are rejected at once with
//!   [`Rejection::CircuitOpen`](crate::Rejection::CircuitOpen), without calling the
//!   dependency. After `wait_in_open`, the next call moves the breaker to half-open.
//! - **Half-open**: exactly `half_open_calls` trial calls are admitted; others are
//!   rejected. When all of them have finished, their rates decide: below both thresholds
//!   the breaker closes with an empty window, otherwise it opens again. A trial that is
//!   cancelled frees its slot for another caller.
//! - **Forced open** and **disabled** are set by hand ([`CircuitBreaker::force_open`],
//!   [`CircuitBreaker::disable`]) and left only by [`CircuitBreaker::reset`].
//!
//! Which errors count as failures is up to [`ErrorClass::is_failure`] or a
//! [`Classifier`]; an error that is not a failure is recorded as a success. Timeouts are
//! failures. Rejections by inner policies (a full bulkhead) are not recorded.
//!
//! A result is only recorded in the state it was admitted in: a slow call that started
//! while closed and ends after the breaker opened does not count as a half-open trial.
//!
//! On the happy path (closed), admitting a call is one atomic load; recording it takes a
//! short lock to update the preallocated window. Neither allocates. The word that load
//! reads (state and epoch, packed) is only written under the machine's lock; a loom
//! model (`tests/loom_breaker.rs`, run with `RUSTFLAGS="--cfg loom"`) checks every
//! interleaving of two callers against it: a forced state is seen by later callers,
//! half-open trial slots are exclusive and come back when a trial is dropped, and a
//! result from an earlier state never decides a trial.
//!
//! [`ErrorClass::is_failure`]: crate::ErrorClass::is_failure
//! [`Classifier`]: crate::Classifier

mod config;
mod handle;
mod machine;
mod state;
mod sync;
mod window;

pub use config::{BreakerConfig, SlidingWindow};
pub use handle::{BreakerPermit, BreakerStats, CircuitBreaker, WindowMetrics};
pub use state::BreakerState;

#[cfg(test)]
mod tests;
