//! The ledger: every work item that goes in must come out somewhere.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use serde::{Deserialize, Serialize};
use tokio::sync::Notify;

/// Where a work item ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// Done, fully.
    Completed,
    /// Done, with an optional step replaced by its neutral default or a
    /// lesser alternative.
    Degraded,
    /// Given up on, and kept in the dead-letter queue for a later look.
    DeadLettered,
    /// Handed to a human (a fallback chain's escalation).
    Escalated,
}

/// The counts of a ledger.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct LedgerCounts {
    /// Items submitted.
    pub submitted: u64,
    /// Items completed.
    pub completed: u64,
    /// Items completed in a degraded way.
    pub degraded: u64,
    /// Items dead-lettered.
    pub dead_lettered: u64,
    /// Items escalated.
    pub escalated: u64,
    /// Items submitted that have no outcome: lost. A run fails unless 0.
    pub lost: u64,
    /// Outcomes reported twice for one item, or for an item never submitted
    /// (a bug in the scenario; a run fails unless 0).
    pub miscounted: u64,
}

/// Records items in and outcomes out. Cheap to clone.
#[derive(Clone, Debug, Default)]
pub struct Ledger {
    inner: Arc<(Mutex<State>, Notify)>,
}

#[derive(Debug, Default)]
struct State {
    items: BTreeMap<u64, Option<Outcome>>,
    miscounted: u64,
}

impl Ledger {
    /// An empty ledger.
    pub fn new() -> Self {
        Self::default()
    }

    /// Records that item `key` went in.
    pub fn submit(&self, key: u64) {
        let mut state = self.lock();
        if state.items.insert(key, None).is_some() {
            state.miscounted += 1;
        }
    }

    /// Records where item `key` ended.
    pub fn settle(&self, key: u64, outcome: Outcome) {
        {
            let mut state = self.lock();
            match state.items.get_mut(&key) {
                Some(slot @ None) => *slot = Some(outcome),
                _ => state.miscounted += 1,
            }
        }
        self.inner.1.notify_waiters();
    }

    /// The counts now.
    pub fn counts(&self) -> LedgerCounts {
        let state = self.lock();
        let mut counts = LedgerCounts {
            submitted: state.items.len() as u64,
            miscounted: state.miscounted,
            ..LedgerCounts::default()
        };
        for outcome in state.items.values() {
            match outcome {
                Some(Outcome::Completed) => counts.completed += 1,
                Some(Outcome::Degraded) => counts.degraded += 1,
                Some(Outcome::DeadLettered) => counts.dead_lettered += 1,
                Some(Outcome::Escalated) => counts.escalated += 1,
                None => counts.lost += 1,
            }
        }
        counts
    }

    /// The keys still without an outcome.
    pub fn unsettled(&self) -> Vec<u64> {
        self.lock()
            .items
            .iter()
            .filter(|(_, outcome)| outcome.is_none())
            .map(|(key, _)| *key)
            .collect()
    }

    /// Waits until every submitted item has an outcome, or `limit` passes
    /// (tokio time). Returns whether all settled.
    pub async fn wait_settled(&self, limit: std::time::Duration) -> bool {
        let settled = async {
            loop {
                let changed = self.inner.1.notified();
                if self.counts().lost == 0 {
                    return;
                }
                changed.await;
            }
        };
        tokio::time::timeout(limit, settled).await.is_ok()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        hale_util::lock(&self.inner.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unsettled_items_are_lost_and_double_outcomes_miscounted() {
        let ledger = Ledger::new();
        for key in 0..4 {
            ledger.submit(key);
        }
        ledger.settle(0, Outcome::Completed);
        ledger.settle(1, Outcome::DeadLettered);
        ledger.settle(1, Outcome::Completed);
        ledger.settle(9, Outcome::Completed);
        let counts = ledger.counts();
        assert_eq!(
            (
                counts.completed,
                counts.dead_lettered,
                counts.lost,
                counts.miscounted
            ),
            (1, 1, 2, 2)
        );
        assert_eq!(ledger.unsettled(), [2, 3]);
    }
}
