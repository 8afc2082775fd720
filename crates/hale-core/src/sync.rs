//! The atomics of hale-core's lock-free parts: std's in every build, loom's
//! under `--cfg hale_loom`, so that the loom models (`tests/loom_*.rs`) check the
//! code that ships rather than a copy of it.
//!
//! Only the words that threads share without a lock come from here: the
//! watchdog's own pulse ([`WatchdogPulse`](crate::watchdog::WatchdogPulse)),
//! the tree's coarse clock and the heartbeat words. Counters that are only
//! ever read for reports stay on std's atomics.

#[cfg(hale_loom)]
pub(crate) use loom::sync::atomic::{AtomicBool, AtomicU64, Ordering};
#[cfg(not(hale_loom))]
pub(crate) use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
