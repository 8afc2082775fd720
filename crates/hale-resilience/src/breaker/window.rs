//! Sliding windows of call outcomes, with running totals so reading the rates is O(1).

use tokio::time::Instant;

use super::config::SlidingWindow;

/// Counts of recorded calls.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Tally {
    pub(crate) calls: u32,
    pub(crate) failures: u32,
    pub(crate) slow: u32,
}

/// The outcome of one recorded call.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Record {
    pub(crate) failure: bool,
    pub(crate) slow: bool,
}

impl Tally {
    pub(crate) fn add(&mut self, record: Record) {
        self.calls += 1;
        self.failures += u32::from(record.failure);
        self.slow += u32::from(record.slow);
    }

    fn remove(&mut self, other: &Tally) {
        self.calls -= other.calls;
        self.failures -= other.failures;
        self.slow -= other.slow;
    }

    /// Failures as a percentage of calls (0 when empty).
    pub(crate) fn failure_rate(&self) -> f64 {
        percent(self.failures, self.calls)
    }

    /// Slow calls as a percentage of calls (0 when empty).
    pub(crate) fn slow_rate(&self) -> f64 {
        percent(self.slow, self.calls)
    }
}

fn percent(part: u32, whole: u32) -> f64 {
    if whole == 0 {
        0.0
    } else {
        f64::from(part) * 100.0 / f64::from(whole)
    }
}

/// The outcomes a closed breaker judges the dependency by.
#[derive(Debug)]
pub(crate) enum Window {
    Count(CountWindow),
    Time(TimeWindow),
}

impl Window {
    pub(crate) fn new(kind: SlidingWindow, origin: Instant) -> Self {
        match kind {
            SlidingWindow::CountBased { calls } => Self::Count(CountWindow {
                ring: vec![Record::default(); slots(calls)].into_boxed_slice(),
                next: 0,
                filled: 0,
                total: Tally::default(),
            }),
            SlidingWindow::TimeBased { seconds } => Self::Time(TimeWindow {
                buckets: vec![Tally::default(); slots(seconds)].into_boxed_slice(),
                origin,
                newest_second: 0,
                total: Tally::default(),
            }),
        }
    }

    pub(crate) fn record(&mut self, record: Record, now: Instant) {
        match self {
            Self::Count(window) => window.record(record),
            Self::Time(window) => window.record(record, now),
        }
    }

    pub(crate) fn tally(&mut self, now: Instant) -> Tally {
        match self {
            Self::Count(window) => window.total,
            Self::Time(window) => {
                window.advance(now);
                window.total
            }
        }
    }

    pub(crate) fn clear(&mut self) {
        match self {
            Self::Count(window) => {
                window.next = 0;
                window.filled = 0;
                window.total = Tally::default();
            }
            Self::Time(window) => {
                window.buckets.fill(Tally::default());
                window.total = Tally::default();
            }
        }
    }
}

/// Validation guarantees a non-zero size; `max(1)` keeps the modulo below safe anyway.
fn slots(size: u32) -> usize {
    usize::try_from(size).unwrap_or(usize::MAX).max(1)
}

/// A ring of the last N outcomes, preallocated: recording never allocates.
#[derive(Debug)]
pub(crate) struct CountWindow {
    ring: Box<[Record]>,
    next: usize,
    filled: usize,
    total: Tally,
}

impl CountWindow {
    fn record(&mut self, record: Record) {
        if self.filled == self.ring.len() {
            let evicted = self.ring[self.next];
            let mut single = Tally::default();
            single.add(evicted);
            self.total.remove(&single);
        } else {
            self.filled += 1;
        }
        self.ring[self.next] = record;
        self.next = (self.next + 1) % self.ring.len();
        self.total.add(record);
    }
}

/// One tally per second for the last N seconds. Bucket `s % N` holds second `s`;
/// moving to a new second clears the buckets of the seconds that fell out.
#[derive(Debug)]
pub(crate) struct TimeWindow {
    buckets: Box<[Tally]>,
    origin: Instant,
    newest_second: u64,
    total: Tally,
}

impl TimeWindow {
    fn second(&self, now: Instant) -> u64 {
        now.saturating_duration_since(self.origin).as_secs()
    }

    fn advance(&mut self, now: Instant) {
        let second = self.second(now);
        if second <= self.newest_second {
            return;
        }
        let len = self.buckets.len() as u64;
        // Seconds newest+1 ..= second reuse their buckets; more than N of them means
        // every bucket is stale, so stop after N.
        let stale = (second - self.newest_second).min(len);
        for offset in 1..=stale {
            let index = ((self.newest_second + offset) % len) as usize;
            let old = std::mem::take(&mut self.buckets[index]);
            self.total.remove(&old);
        }
        self.newest_second = second;
    }

    fn record(&mut self, record: Record, now: Instant) {
        self.advance(now);
        let index = (self.newest_second % self.buckets.len() as u64) as usize;
        self.buckets[index].add(record);
        self.total.add(record);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    const FAIL: Record = Record {
        failure: true,
        slow: false,
    };
    const OK: Record = Record {
        failure: false,
        slow: false,
    };

    #[test]
    fn count_window_forgets_the_oldest_call() {
        let now = Instant::now();
        let mut window = Window::new(SlidingWindow::CountBased { calls: 3 }, now);
        for record in [FAIL, FAIL, OK, OK] {
            window.record(record, now);
        }
        assert_eq!(
            window.tally(now),
            Tally {
                calls: 3,
                failures: 1,
                slow: 0
            }
        );
    }

    #[test]
    fn time_window_forgets_calls_older_than_its_length() {
        let origin = Instant::now();
        let at = |secs: u64| origin + Duration::from_millis(secs * 1000 + 500);
        let mut window = Window::new(SlidingWindow::TimeBased { seconds: 3 }, origin);
        window.record(FAIL, at(0));
        window.record(FAIL, at(1));
        window.record(OK, at(2));
        assert_eq!(window.tally(at(2)).calls, 3);
        assert_eq!(
            window.tally(at(3)),
            Tally {
                calls: 2,
                failures: 1,
                slow: 0
            }
        );
        assert_eq!(window.tally(at(100)), Tally::default());
        window.record(OK, at(100));
        assert_eq!(window.tally(at(101)).calls, 1);
    }
}
