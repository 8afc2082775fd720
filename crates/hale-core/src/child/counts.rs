//! [`ChildCounts`]: the answer to `count_children`.

use serde::{Deserialize, Serialize};

/// The answer to [`count_children`](crate::SupervisorRef::count_children)
/// (OTP's `count_children`).
///
/// # Examples
///
/// ```
/// let counts = hale_core::ChildCounts::default();
/// assert_eq!(counts.specs, 0);
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChildCounts {
    /// Child specs held, running or not (for a dynamic supervisor: its
    /// children).
    pub specs: usize,
    /// Children running now.
    pub active: usize,
    /// Specs whose kind is supervisor.
    pub supervisors: usize,
    /// Specs whose kind is worker.
    pub workers: usize,
}
