//! [`ChildState`]: what a child is doing, as every view of the tree reports it.

use serde::{Deserialize, Serialize};

/// The state of one child (or supervisor) of a tree: the one answer that
/// [`which_children`](crate::SupervisorRef::which_children), the health
/// snapshot ([`NodeHealth`](crate::NodeHealth)) and the operator's views all
/// give.
///
/// # Examples
///
/// ```
/// use hale_core::ChildState;
///
/// assert!(ChildState::Degraded.is_running());
/// assert!(!ChildState::Restarting.is_running());
/// assert_eq!(serde_json::to_string(&ChildState::Hung).unwrap(), r#""hung""#);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ChildState {
    /// Running, and its functional probe (if any) last passed.
    Running,
    /// Running, but its functional probe last answered wrongly.
    Degraded,
    /// Waiting to run again: a failed restart being retried, or a restart
    /// delayed by its backoff.
    Restarting,
    /// Found hung by the watchdog and being replaced.
    Hung,
    /// Its spec is kept but nothing runs (it exited and was not restarted,
    /// was terminated through the API, or its start answered ignore).
    Stopped,
}

impl ChildState {
    /// Whether an incarnation of the child is alive (running, degraded or
    /// hung but not yet replaced).
    pub fn is_running(self) -> bool {
        matches!(self, Self::Running | Self::Degraded | Self::Hung)
    }
}
