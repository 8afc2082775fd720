//! How many notify datagrams one run may have acted on per second.

use std::time::Duration;

use tokio::time::Instant;

/// A fixed one-second window with room for `per_second` datagrams. Past
/// that, datagrams are dropped until the window turns, and the window
/// remembers how many it dropped so the listener can say so once.
#[derive(Debug)]
pub(crate) struct DatagramBudget {
    per_second: u32,
    window: Instant,
    handled: u32,
    dropped: u64,
}

/// What to do with one datagram.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Admission {
    /// Act on it. `dropped_before` is how many the window that just ended
    /// dropped (0 most of the time), to be reported.
    Handle { dropped_before: u64 },
    /// Drop it unread.
    Drop,
}

impl DatagramBudget {
    pub(crate) fn new(per_second: u32) -> Self {
        Self {
            per_second,
            window: Instant::now(),
            handled: 0,
            dropped: 0,
        }
    }

    /// Decides on a datagram that arrived at `now`.
    pub(crate) fn admit(&mut self, now: Instant) -> Admission {
        let mut dropped_before = 0;
        if now.saturating_duration_since(self.window) >= Duration::from_secs(1) {
            dropped_before = std::mem::take(&mut self.dropped);
            self.window = now;
            self.handled = 0;
        }
        if self.handled >= self.per_second {
            self.dropped += 1;
            return Admission::Drop;
        }
        self.handled += 1;
        Admission::Handle { dropped_before }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn a_flood_is_cut_at_the_budget_and_the_drops_are_reported_once() {
        let mut budget = DatagramBudget::new(3);
        let now = Instant::now();
        let admitted = (0..10)
            .filter(|_| matches!(budget.admit(now), Admission::Handle { .. }))
            .count();
        assert_eq!(admitted, 3);
        tokio::time::advance(Duration::from_secs(1)).await;
        assert_eq!(
            budget.admit(Instant::now()),
            Admission::Handle { dropped_before: 7 }
        );
        assert_eq!(
            budget.admit(Instant::now()),
            Admission::Handle { dropped_before: 0 }
        );
    }
}
