//! [`ChildInfo`]: one row of `which_children`.

use ractor::ActorCell;

use crate::child::ChildState;
use crate::dynamic::DynamicChildId;
use crate::path::ChildPath;
use crate::spec::{ChildKind, Restart};

/// One row of [`which_children`](crate::SupervisorRef::which_children), for
/// a static or a dynamic supervisor alike.
#[derive(Clone, Debug)]
pub struct ChildInfo {
    /// The child spec's id (for a dynamic child, shared by every child
    /// started from the same spec).
    pub id: String,
    /// The child's path in the tree (for a dynamic child, the spec's id
    /// with its handle: `workers/sync#3`).
    pub path: ChildPath,
    /// What it is doing.
    pub state: ChildState,
    /// The running actor, when there is one.
    pub actor: Option<ActorCell>,
    /// Worker or supervisor.
    pub kind: ChildKind,
    /// Its restart type.
    pub restart: Restart,
    /// How many times its supervisor has restarted it.
    pub restarts: u32,
    /// For a child of a dynamic supervisor: the handle it was given.
    pub dynamic_id: Option<DynamicChildId>,
    /// For a unique dynamic child: the key it was started with.
    pub key: Option<String>,
}
