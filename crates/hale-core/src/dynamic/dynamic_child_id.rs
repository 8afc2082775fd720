//! [`DynamicChildId`]: the handle a dynamic supervisor gives each child.

use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};

use serde::Serialize;

/// Every dynamic supervisor incarnation gets an identity from this counter,
/// so two of them never hand out equal handles.
static NEXT_SUPERVISOR: AtomicU64 = AtomicU64::new(0);

/// The handle a dynamic supervisor gives each child it starts. It names that
/// child and no other: it carries the identity of the supervisor incarnation
/// that gave it out, so a handle from another dynamic supervisor (or from
/// before this one restarted) is answered "not found" and touches nothing,
/// as a pid names one process in OTP. Handles of one supervisor increase in
/// start order; the child's path ends in the handle's display (`sync#3`).
///
/// # Examples
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// use hale_core::{ChildError, ChildSpec, DynamicSupervisor, DynamicSupervisorSpec};
///
/// let idle = || ChildSpec::task("job", |_| async {
///     std::future::pending::<()>().await;
///     Ok(())
/// });
/// let here = DynamicSupervisor::start(DynamicSupervisorSpec::new("here")).await?;
/// let there = DynamicSupervisor::start(DynamicSupervisorSpec::new("there")).await?;
/// let mine = here.start_child(idle()).await?.child().map(|child| child.id).unwrap();
/// there.start_child(idle()).await?;
/// // Equal numbers, different supervisors: the handle only works where it came from.
/// assert!(matches!(there.terminate_child(mine).await, Err(ChildError::NotFound { .. })));
/// assert_eq!(there.count_children().await?.active, 1);
/// here.terminate_child(mine).await?;
/// # here.stop(std::time::Duration::from_secs(5)).await;
/// # there.stop(std::time::Duration::from_secs(5)).await;
/// # Ok(())
/// # }
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
pub struct DynamicChildId {
    supervisor: u64,
    serial: u64,
}

impl DynamicChildId {
    pub(crate) fn new(supervisor: u64, serial: u64) -> Self {
        Self { supervisor, serial }
    }

    /// A fresh identity for a dynamic supervisor incarnation.
    pub(crate) fn next_supervisor() -> u64 {
        NEXT_SUPERVISOR.fetch_add(1, Ordering::Relaxed)
    }

    pub(crate) fn supervisor(self) -> u64 {
        self.supervisor
    }

    pub(crate) fn serial(self) -> u64 {
        self.serial
    }
}

impl fmt::Display for DynamicChildId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "#{}", self.serial)
    }
}
