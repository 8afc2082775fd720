//! Circuit breaker (in progress).
mod state;
pub use state::BreakerState;
