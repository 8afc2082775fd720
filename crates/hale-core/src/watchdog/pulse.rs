//! [`WatchdogPulse`]: the watchdog's own heartbeat, which the backstop
//! thread reads to learn that the watchdog could not run.
//!
//! The watchdog runs on the runtime's workers like any actor. When children
//! stuck in blocking code hold every worker, it cannot run, and nothing in
//! the runtime can say so. The backstop thread (`alarm.rs`) stands outside
//! the runtime: when it had to tick for an overdue deadline and the watchdog
//! has still not run [`STALL_BOUND`] later, it marks the pulse stalled and
//! reports it; the watchdog's next run clears the mark and reports that it
//! runs again.
//!
//! One word holds both: a count of the watchdog's runs (shifted left by
//! one) and, in the lowest bit, the stall mark. Keeping them in one word is
//! what makes the hand-over exact: the backstop marks the pulse only by a
//! compare-and-swap from the value it saw before its tick, so a run of the
//! watchdog in between makes the mark fail instead of leaving a stale one
//! behind, and the watchdog clears the mark in the same read-modify-write
//! that counts its run, so each mark is cleared, and reported resumed, by
//! exactly one run. `tests/loom_watchdog.rs` checks this under every
//! interleaving.

use std::time::Duration;

use crate::sync::{AtomicU64, Ordering};

/// How long the watchdog may go without running, after a deadline of its
/// came due, before the backstop reports it stalled (a
/// [`WatchdogStalled`](crate::HealingEventKind::WatchdogStalled) event, and
/// the tree's root turns unready). A runtime that cannot run a woken task
/// for this long is starved, not busy.
pub const STALL_BOUND: Duration = Duration::from_secs(1);

/// The stall mark: the lowest bit of the word.
const STALLED: u64 = 1;
/// One run of the watchdog: the count sits above the mark.
const ONE_RUN: u64 = 2;

/// The watchdog's pulse: how many times it ran, and whether the backstop
/// found it stalled since its last run.
#[derive(Debug)]
pub struct WatchdogPulse {
    word: AtomicU64,
}

/// What the backstop saw of a [`WatchdogPulse`] when it ticked, to tell
/// later whether the watchdog ran since.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PulseSeen(u64);

impl Default for WatchdogPulse {
    fn default() -> Self {
        Self::new()
    }
}

impl WatchdogPulse {
    /// A pulse that has not run yet and is not stalled.
    pub fn new() -> Self {
        Self {
            word: AtomicU64::new(0),
        }
    }

    /// The watchdog runs: counts the run and clears a stall mark. Returns
    /// whether there was one, so that the watchdog reports it runs again
    /// (once per mark).
    pub fn ran(&self) -> bool {
        // The run count wraps after 2^63 runs; only equality of counts is
        // ever compared, and no backstop waits that long.
        let previous = self
            .word
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |word| {
                Some((word & !STALLED).wrapping_add(ONE_RUN))
            })
            .unwrap_or_else(|word| word);
        previous & STALLED != 0
    }

    /// The pulse now, for [`has_run_since`](Self::has_run_since) and
    /// [`mark_stalled`](Self::mark_stalled) later.
    pub fn seen(&self) -> PulseSeen {
        PulseSeen(self.word.load(Ordering::Acquire))
    }

    /// Whether the watchdog ran after `seen` was taken.
    pub fn has_run_since(&self, seen: PulseSeen) -> bool {
        self.word.load(Ordering::Acquire) & !STALLED != seen.0 & !STALLED
    }

    /// Marks the pulse stalled if the watchdog has not run since `seen` and
    /// it is not marked already. Returns whether this call marked it: the
    /// caller then reports the stall, once.
    pub fn mark_stalled(&self, seen: PulseSeen) -> bool {
        if seen.0 & STALLED != 0 {
            return false;
        }
        self.word
            .compare_exchange(seen.0, seen.0 | STALLED, Ordering::AcqRel, Ordering::Acquire)
            .is_ok()
    }

    /// Whether a stall was reported and the watchdog has not run since.
    pub fn is_stalled(&self) -> bool {
        self.word.load(Ordering::Acquire) & STALLED != 0
    }
}

#[cfg(all(test, not(hale_loom)))]
mod tests {
    use super::*;

    #[test]
    fn a_stall_is_marked_only_without_a_run_and_cleared_by_the_next_one() {
        let pulse = WatchdogPulse::new();
        let seen = pulse.seen();
        assert!(!pulse.has_run_since(seen));
        assert!(!pulse.ran(), "no mark to clear");
        assert!(pulse.has_run_since(seen));
        // The watchdog ran since: no stall.
        assert!(!pulse.mark_stalled(seen));
        assert!(!pulse.is_stalled());
        let seen = pulse.seen();
        assert!(pulse.mark_stalled(seen));
        assert!(pulse.is_stalled());
        // Reported once: a second look at the same pulse does not mark again.
        assert!(!pulse.mark_stalled(seen));
        assert!(!pulse.mark_stalled(pulse.seen()));
        assert!(pulse.ran(), "the run reports the mark it cleared");
        assert!(!pulse.is_stalled());
        assert!(!pulse.ran());
    }
}
