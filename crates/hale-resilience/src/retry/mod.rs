//! Retry with exponential backoff and jitter, on the model of Temporal's retry policy.
//!
//! After a failed attempt the policy asks the error whether it is worth retrying (see
//! [`crate::classify`]). If it is, and attempts and time remain, it waits
//!
//! ```text
//! d = min(maximum_interval, initial_interval × backoff_coefficient^(failures − 1))
//! delay = jitter(d)        // full jitter by default: uniform in [0, d]
//! delay = max(delay, retry_after_hint)  // if the error carried a server's hint
//! ```
//!
//! and tries again. It stops, returning the last error unchanged, when:
//!
//! - the error is not retryable (a bad request fails the same way every time);
//! - `maximum_attempts` attempts have been made;
//! - the next attempt could not start before the overall `deadline`. A running attempt
//!   is also cancelled when the deadline passes, with
//!   [`ResilienceError::DeadlineExceeded`](crate::ResilienceError::DeadlineExceeded).
//!
//! Every scheduled retry and every give-up is an event; [`RetryPolicy::stats`] counts
//! them. Seed the RNG ([`PolicyBuilder::seed`](crate::PolicyBuilder::seed)) to make the
//! delays reproducible in tests and chaos runs.
//!
//! Settings are checked once, by `build()`: a coefficient below 1, zero attempts, a
//! maximum interval below the initial one, or unlimited attempts without a deadline are
//! [`ConfigError`](crate::ConfigError)s.

mod policy;
mod run;

pub use hale_util::Jitter;
pub use policy::{RetryConfig, RetryPolicy, RetryStats};

#[cfg(test)]
mod tests;
