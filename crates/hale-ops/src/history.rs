//! Each child's latest restarts, recorded from the healing events.
//!
//! Bounded twice: at most [`RestartHistory::PER_CHILD`] timestamps per
//! child, and at most [`RestartHistory::CHILDREN`] children tracked (a child
//! beyond that shows an empty history; its restart count, which comes from
//! the snapshot, stays right). A removed child, and every child of a stopped
//! supervisor, is forgotten.

use std::collections::{HashMap, VecDeque};

use hale_core::{ChildPath, HealingEvent, HealingEventKind};

/// Restart timestamps by child.
#[derive(Debug, Default)]
pub(crate) struct RestartHistory {
    by_child: HashMap<ChildPath, VecDeque<u64>>,
}

impl RestartHistory {
    /// Timestamps kept per child.
    pub(crate) const PER_CHILD: usize = 16;
    /// Children tracked at most.
    pub(crate) const CHILDREN: usize = 100_000;

    /// Records what `event` says about restarts.
    pub(crate) fn record(&mut self, event: &HealingEvent) {
        match &event.kind {
            HealingEventKind::ChildRestarted { .. } => {
                if self.by_child.len() >= Self::CHILDREN && !self.by_child.contains_key(&event.path) {
                    return;
                }
                let times = self.by_child.entry(event.path.clone()).or_default();
                if times.len() == Self::PER_CHILD {
                    times.pop_front();
                }
                times.push_back(event.timestamp_ms);
            }
            HealingEventKind::ChildRemoved => {
                self.by_child.remove(&event.path);
            }
            HealingEventKind::SupervisorStopped { .. } => {
                let gone = &event.path;
                self.by_child.retain(|path, _| !path.starts_with(gone));
            }
            _ => {}
        }
    }

    /// The child's latest restarts, oldest first.
    pub(crate) fn of(&self, path: &ChildPath) -> Vec<u64> {
        self.by_child
            .get(path)
            .map(|times| times.iter().copied().collect())
            .unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn restarted(path: &ChildPath, at: u64) -> HealingEvent {
        HealingEvent {
            timestamp_ms: at,
            path: path.clone(),
            kind: HealingEventKind::ChildRestarted { restarts: 1 },
        }
    }

    #[test]
    fn keeps_the_latest_restarts_per_child_and_forgets_removed_ones() {
        let mut history = RestartHistory::default();
        let root = ChildPath::root("root");
        let worker = root.child("sup").child("worker");
        for at in 0..40 {
            history.record(&restarted(&worker, at));
        }
        let times = history.of(&worker);
        assert_eq!(times.len(), RestartHistory::PER_CHILD);
        assert_eq!(times.first(), Some(&24));
        assert_eq!(times.last(), Some(&39));
        history.record(&HealingEvent {
            timestamp_ms: 50,
            path: root.child("sup"),
            kind: HealingEventKind::SupervisorStopped {
                reason: hale_core::ExitReason::Shutdown(None),
            },
        });
        assert!(history.of(&worker).is_empty());
    }
}
