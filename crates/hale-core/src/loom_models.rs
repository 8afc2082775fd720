//! The lock-free parts of hale-core, opened to the loom models
//! (`tests/loom_watchdog.rs`, `tests/loom_child_ref.rs`). Built only under `--cfg hale_loom`, where
//! `src/sync.rs` gives these types loom's atomics; never part of the API.
//!
//! Each item here is the shipped code itself or a thin call into it, so a
//! model checks what runs in production.

use std::time::Duration;

pub use crate::child_ref::refollow::LookupSlot;
pub use crate::watchdog::Heartbeat;
pub use crate::watchdog::pulse::{PulseSeen, WatchdogPulse};
use crate::watchdog::{CoarseClock, CoarseTicks};

/// The watchdog's side of a tree's coarse clock: publishes the time, and
/// bounds when a handler stamped with it began.
pub struct Ticks {
    ticks: CoarseTicks,
}

impl Default for Ticks {
    fn default() -> Self {
        Self::new()
    }
}

impl Ticks {
    /// A clock at its epoch (0 ms published).
    pub fn new() -> Self {
        Self {
            ticks: CoarseTicks::new(CoarseClock::new()),
        }
    }

    /// A child's heartbeat on this clock.
    pub fn heartbeat(&self) -> Heartbeat {
        Heartbeat::on_clock(self.ticks.clock())
    }

    /// Publishes `ms` since the epoch, as the watchdog does when it runs.
    pub fn advance_to(&mut self, ms: u64) {
        let at = self.ticks.clock().epoch() + Duration::from_millis(ms);
        self.ticks.advance(at);
    }

    /// The latest (ms since the epoch) a handler stamped `stamp` can have
    /// begun, judged at `now_ms`.
    pub fn begun_by(&self, stamp: u64, now_ms: u64) -> u64 {
        self.ticks.begun_by(stamp, now_ms)
    }
}

/// What per-message watching calls as a handler begins.
pub fn handler_started(heartbeat: &Heartbeat) {
    heartbeat.handler_started();
}

/// What per-message watching calls as a handler ends.
pub fn handler_finished(heartbeat: &Heartbeat) {
    heartbeat.handler_finished();
}

/// The stamp of the running handler, as the watchdog reads it (`None`
/// while idle).
pub fn busy_since_ms(heartbeat: &Heartbeat) -> Option<u64> {
    heartbeat.busy_since_ms()
}

/// What the watchdog sets before it stops a hung child.
pub fn mark_hung(heartbeat: &Heartbeat) {
    heartbeat.mark_hung();
}

/// What the supervisor reads to classify the child's exit as `hung`.
pub fn is_hung(heartbeat: &Heartbeat) -> bool {
    heartbeat.is_hung()
}
