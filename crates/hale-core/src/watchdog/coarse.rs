//! A tree's coarse clock: what a per-message child stamps its handlers with
//! instead of reading the system clock.
//!
//! Under [`Watch::per_message`](crate::Watch::per_message) a child marks the
//! start of every handler. Reading the clock there (about 20–40 ns on a VM)
//! would be a good part of the cost of a message, so the child reads this
//! counter instead: milliseconds since the tree's epoch, kept by the
//! watchdog, one relaxed load. The watchdog advances it every time it runs,
//! and at least every twentieth of the shortest per-message timeout while
//! such children exist.
//!
//! A stamp is a lower bound of when the handler began. The upper bound is
//! when the counter next moved on (a handler that began later would have
//! read the newer value), which the watchdog remembers in [`CoarseTicks`].
//! Judging a handler by that upper bound never declares it hung early; at
//! most it finds it one step late.

use crate::sync::{AtomicU64, Ordering};
use std::collections::VecDeque;
use std::sync::Arc;

use tokio::time::Instant;

/// Milliseconds since a tree's epoch, as the watchdog last saw them.
#[derive(Clone, Debug)]
pub(crate) struct CoarseClock {
    inner: Arc<CoarseInner>,
}

#[derive(Debug)]
struct CoarseInner {
    epoch: Instant,
    now_ms: AtomicU64,
}

impl CoarseClock {
    /// A clock whose epoch is now.
    pub(crate) fn new() -> Self {
        Self {
            inner: Arc::new(CoarseInner {
                epoch: Instant::now(),
                now_ms: AtomicU64::new(0),
            }),
        }
    }

    pub(crate) fn epoch(&self) -> Instant {
        self.inner.epoch
    }

    /// The last value the watchdog published: never later than the true time.
    pub(crate) fn read(&self) -> u64 {
        self.inner.now_ms.load(Ordering::Relaxed)
    }

    /// Milliseconds from the epoch to `at`, rounded down.
    pub(crate) fn ms(&self, at: Instant) -> u64 {
        hale_util::millis(at.saturating_duration_since(self.inner.epoch))
    }
}

/// The watchdog's side of a [`CoarseClock`]: advances it, and remembers
/// the values it published so it can tell how late a stamp may be.
#[derive(Debug)]
pub(crate) struct CoarseTicks {
    clock: CoarseClock,
    /// Every value published and not yet forgotten, oldest first.
    published: VecDeque<u64>,
    last_advance: Instant,
}

impl CoarseTicks {
    pub(crate) fn new(clock: CoarseClock) -> Self {
        Self {
            last_advance: clock.epoch(),
            published: VecDeque::from([0]),
            clock,
        }
    }

    pub(crate) fn clock(&self) -> &CoarseClock {
        &self.clock
    }

    pub(crate) fn last_advance(&self) -> Instant {
        self.last_advance
    }

    /// Publishes `now` (rounded down to the millisecond).
    pub(crate) fn advance(&mut self, now: Instant) {
        self.last_advance = now;
        let ms = self.clock.ms(now);
        if self.published.back().is_some_and(|&last| last >= ms) {
            return;
        }
        // Remembered before it is published, so a stamp is always known.
        self.published.push_back(ms);
        self.clock.inner.now_ms.store(ms, Ordering::Relaxed);
    }

    /// The latest (ms since the epoch) at which a handler stamped `stamp`
    /// can have begun: just before the next value was published, or `now_ms`
    /// if none has been since. A stamp older than everything remembered gets
    /// the oldest remembered value, which is later than its true bound:
    /// late, never early.
    pub(crate) fn begun_by(&self, stamp: u64, now_ms: u64) -> u64 {
        let next = self.published.partition_point(|&value| value <= stamp);
        match self.published.get(next) {
            // Published at or after `value` ms, which rounds down: a handler
            // that read the older value began before `value + 1`.
            Some(&value) => value + 1,
            None => now_ms + 1,
        }
    }

    /// Forgets values older than `ms`, keeping at least the newest.
    pub(crate) fn forget_before(&mut self, ms: u64) {
        while self.published.len() > 1 && self.published.front().is_some_and(|&value| value < ms) {
            self.published.pop_front();
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[tokio::test(start_paused = true)]
    async fn a_stamp_is_bounded_by_the_next_published_value() {
        let clock = CoarseClock::new();
        let mut ticks = CoarseTicks::new(clock.clone());
        let epoch = clock.epoch();
        ticks.advance(epoch + Duration::from_micros(10_400));
        assert_eq!(clock.read(), 10);
        ticks.advance(epoch + Duration::from_millis(25));
        ticks.advance(epoch + Duration::from_micros(25_900)); // same millisecond: not republished
        assert_eq!(clock.read(), 25);
        // Stamped 0: began before 10 was published (at 10.4 ms), so by 11.
        assert_eq!(ticks.begun_by(0, 40), 11);
        assert_eq!(ticks.begun_by(10, 40), 26);
        // The current value: began by now.
        assert_eq!(ticks.begun_by(25, 40), 41);
        ticks.forget_before(20);
        // Older than anything remembered: the oldest remembered bounds it, late.
        assert_eq!(ticks.begun_by(0, 40), 26);
        ticks.forget_before(1_000);
        assert_eq!(ticks.begun_by(25, 40), 41);
    }
}
