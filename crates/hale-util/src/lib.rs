//! Plumbing shared by Hale's crates, written once.
//!
//! - [`Broadcast`] and [`EventStream`]: a bounded event bus. Emitting never
//!   blocks and never allocates per subscriber; a subscriber that falls more
//!   than the capacity behind learns how many events it missed
//!   ([`RecvError::Lagged`]). The healing events of `hale-core` and the policy
//!   events of `hale-resilience` both travel on it.
//! - [`Backoff`] and [`Jitter`]: capped exponential delays with jitter, for
//!   restarts and for retries alike.
//! - [`millis`], [`unix_millis`], [`deadline_after`]: time arithmetic that
//!   saturates instead of overflowing, whatever duration a user writes.
//! - [`lock`]: a mutex lock that survives poisoning.
//! - [`Progress`] and [`report_progress`]: progress beats that reach a
//!   supervised child's heartbeat through library code (retry loops,
//!   fallback chains) without threading the heartbeat through it.
//!
//! ```
//! use hale_util::Broadcast;
//!
//! let bus = Broadcast::with_capacity(8);
//! let mut stream = bus.subscribe();
//! bus.send("started");
//! assert_eq!(stream.try_recv(), Ok("started"));
//! ```

mod backoff;
mod broadcast;
mod lock;
mod progress;
mod time;

pub use backoff::{Backoff, Jitter};
pub use broadcast::{Broadcast, DEFAULT_CAPACITY, EventStream, MAX_CAPACITY, RecvError, TryRecvError};
pub use lock::lock;
pub use progress::{Progress, report_progress};
pub use time::{deadline_after, millis, unix_millis};
