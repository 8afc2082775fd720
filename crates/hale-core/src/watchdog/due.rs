//! The watchdog's agenda: due entries in buckets of one millisecond.
//!
//! Children that beat together fall due together, so a tick takes a whole
//! bucket at once and walks a contiguous vector. A binary heap of 100,000
//! entries cost a dozen cache misses per child per period; a bucket costs
//! one push.

use std::collections::BTreeMap;
use std::time::Duration;

use tokio::time::Instant;

/// What comes due for a watched child.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Due {
    /// Its heartbeat deadline.
    Beat,
    /// Its functional probe.
    Probe,
}

/// Entries in buckets of one millisecond, keyed by the millisecond (since
/// `epoch`) at or after which they are due.
pub(crate) struct DueBuckets<T> {
    epoch: Instant,
    buckets: BTreeMap<u64, Vec<T>>,
    /// Emptied buckets kept for reuse, so a steady state allocates nothing.
    spare: Vec<Vec<T>>,
}

impl<T> DueBuckets<T> {
    pub(crate) fn new(epoch: Instant) -> Self {
        Self {
            epoch,
            buckets: BTreeMap::new(),
            spare: Vec::new(),
        }
    }

    /// Files an entry due at `at`, rounded up to the next millisecond so it
    /// never fires early.
    pub(crate) fn push(&mut self, at: Instant, entry: T) {
        let since = at.saturating_duration_since(self.epoch);
        let slot = hale_util::millis(since) + u64::from(!since.subsec_nanos().is_multiple_of(1_000_000));
        let spare = &mut self.spare;
        self.buckets
            .entry(slot)
            .or_insert_with(|| spare.pop().unwrap_or_default())
            .push(entry);
    }

    /// Takes the earliest bucket if it is due at `now`.
    pub(crate) fn pop_due(&mut self, now: Instant) -> Option<Vec<T>> {
        let now_ms = hale_util::millis(now.saturating_duration_since(self.epoch));
        let entry = self.buckets.first_entry()?;
        (*entry.key() <= now_ms).then(|| entry.remove())
    }

    pub(crate) fn recycle(&mut self, mut bucket: Vec<T>) {
        bucket.clear();
        self.spare.push(bucket);
    }

    /// When the earliest bucket falls due.
    pub(crate) fn next_at(&self) -> Option<Instant> {
        let (&slot, _) = self.buckets.first_key_value()?;
        Some(self.epoch + Duration::from_millis(slot))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn buckets_round_up_and_come_due_in_order() {
        let epoch = Instant::now();
        let mut due = DueBuckets::new(epoch);
        due.push(epoch + Duration::from_micros(2_500), (1, Due::Beat));
        due.push(epoch + Duration::from_millis(2), (2, Due::Probe));
        due.push(epoch + Duration::from_micros(2_001), (3, Due::Beat));
        // 2.001 ms and 2.5 ms share the 3 ms bucket; 2 ms has its own.
        assert_eq!(due.next_at(), Some(epoch + Duration::from_millis(2)));
        assert_eq!(due.pop_due(epoch + Duration::from_micros(1_999)), None);
        assert_eq!(
            due.pop_due(epoch + Duration::from_millis(2)),
            Some(vec![(2, Due::Probe)])
        );
        // Never early: at 2.9 ms the 3 ms bucket is not due yet.
        assert_eq!(due.pop_due(epoch + Duration::from_micros(2_900)), None);
        assert_eq!(due.next_at(), Some(epoch + Duration::from_millis(3)));
        let bucket = due.pop_due(epoch + Duration::from_millis(3));
        assert_eq!(bucket, Some(vec![(1, Due::Beat), (3, Due::Beat)]));
        assert_eq!(due.next_at(), None);
    }
}
