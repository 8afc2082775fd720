//! The health snapshot: the whole tree, node by node, as data.
//!
//! [`SupervisorRef::health`](crate::SupervisorRef::health) walks the tree
//! (each supervisor answers for its own children and asks its child
//! supervisors for theirs) and returns a [`NodeHealth`] per node:
//!
//! - **liveness**: the node's [`ChildState`], and for watched children the age
//!   of the last heartbeat;
//! - **readiness**: whether the child declares itself ready
//!   ([`Heartbeat::set_ready`](crate::Heartbeat::set_ready)), e.g. `false`
//!   while a dependency it needs is down;
//! - **function**: a child whose functional probe last answered wrongly is
//!   [`ChildState::Degraded`];
//! - **history**: each child's latest restarts, and each supervisor's
//!   [`IntensityWindow`] ("2 of 3 restarts in 5 s").
//!
//! The snapshot serializes to JSON for dashboards and the HTTP surface.

use serde::{Deserialize, Serialize};

use crate::child::ChildState;
use crate::exit::ExitReason;
pub use crate::intensity::IntensityWindow;
use crate::path::ChildPath;
use crate::spec::ChildKind;

/// How many restart times a [`NodeHealth`] keeps.
pub const RESTART_HISTORY: usize = 16;

/// One node of the health snapshot.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct NodeHealth {
    /// Where it is.
    pub path: ChildPath,
    /// Worker or supervisor.
    pub kind: ChildKind,
    /// Its state.
    pub state: ChildState,
    /// Whether it declares itself ready (always true for nodes that never
    /// said otherwise).
    pub ready: bool,
    /// How many times its supervisor restarted it.
    pub restarts: u32,
    /// Why its last incarnation exited, if one did.
    pub last_exit: Option<ExitReason>,
    /// Milliseconds since its last heartbeat (watched children only).
    pub heartbeat_age_ms: Option<u64>,
    /// When its supervisor last restarted it, in milliseconds since the Unix
    /// epoch, oldest first: at most [`RESTART_HISTORY`] entries.
    pub recent_restarts_ms: Vec<u64>,
    /// For a supervisor: how much of its restart intensity is used now.
    pub intensity: Option<IntensityWindow>,
    /// Its children, for a supervisor (in start order).
    pub children: Vec<NodeHealth>,
}

impl NodeHealth {
    /// Every node of the subtree, depth first, this one first.
    pub fn nodes(&self) -> Vec<&NodeHealth> {
        let mut out = vec![self];
        for child in &self.children {
            out.extend(child.nodes());
        }
        out
    }

    /// The node at `path` in this subtree.
    pub fn find(&self, path: &str) -> Option<&NodeHealth> {
        self.nodes()
            .into_iter()
            .find(|node| node.path.to_string() == path)
    }
}

/// How long a supervisor waits for a child supervisor's subtree before it
/// reports that child without its children.
const NESTED_ANSWER_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(1);

/// Asks the child supervisor `actor` for its subtree; `None` if it is not a
/// Hale supervisor or does not answer in time.
pub(crate) async fn nested_health(actor: &ractor::ActorCell) -> Option<NodeHealth> {
    use ractor::ActorRef;
    use ractor::rpc::CallResult;

    use crate::supervisor::SupervisorMsg;

    if actor.is_message_type_of::<SupervisorMsg>() != Some(true) {
        return None;
    }
    let supervisor: ActorRef<SupervisorMsg> = actor.clone().into();
    match supervisor
        .call(SupervisorMsg::Health, Some(NESTED_ANSWER_TIMEOUT))
        .await
    {
        Ok(CallResult::Success(health)) => Some(health),
        _ => None,
    }
}
