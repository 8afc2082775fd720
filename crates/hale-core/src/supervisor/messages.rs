//! What a supervisor handle asks, and how the supervisor answers.

use ractor::{ActorCell, ActorId, RpcReplyPort};
use serde::{Deserialize, Serialize};

use crate::child::ChildState;
use crate::path::ChildPath;

use crate::child_ref::Subscription;
use crate::error::ChildError;
use crate::exit::ExitReason;
use crate::health::NodeHealth;
use crate::spec::{ChildKind, ChildSpec, Restart};
use crate::supervisor::SupervisorRef;
use crate::watchdog::WatchdogCounts;

/// The supervisor actor's mailbox.
pub(crate) enum SupervisorMsg {
    StartChild(Box<ChildSpec>, RpcReplyPort<Result<StartedChild, ChildError>>),
    TerminateChild(String, RpcReplyPort<Result<(), ChildError>>),
    RestartChild(String, RpcReplyPort<Result<StartedChild, ChildError>>),
    DeleteChild(String, RpcReplyPort<Result<(), ChildError>>),
    WhichChildren(RpcReplyPort<Vec<ChildInfo>>),
    CountChildren(RpcReplyPort<ChildCounts>),
    GetChildSpec(String, RpcReplyPort<Result<ChildSpec, ChildError>>),
    FollowChild(String, RpcReplyPort<Result<Subscription, ChildError>>),
    Handle(RpcReplyPort<SupervisorRef>),
    Health(RpcReplyPort<NodeHealth>),
    WatchdogCounts(RpcReplyPort<WatchdogCounts>),
    /// A restart failed earlier; try it again. Sent to itself, so calls that
    /// were already queued are served first.
    RetryRestart(String),
    /// A backoff delay is up for the child with this id, scheduled when the
    /// child's generation was this.
    DelayedRestart(String, u64),
    /// A child exited in a way ractor will not report: treat it as exited
    /// with this reason (`hung` when the watchdog gave up on a child that
    /// would not die; see [`ExitNotice`](crate::watchdog::ExitNotice)).
    ChildGone(ActorId, ExitReason),
}

/// A successful `start_child` or `restart_child`.
#[derive(Clone, Debug)]
pub enum StartedChild {
    /// The child runs.
    Started(ActorCell),
    /// The start function answered ignore: no child runs (the spec is kept,
    /// except for a temporary child).
    Ignored,
}

impl StartedChild {
    /// The running child, if one was started.
    pub fn actor(&self) -> Option<&ActorCell> {
        match self {
            Self::Started(actor) => Some(actor),
            Self::Ignored => None,
        }
    }
}

/// One row of `which_children`.
#[derive(Clone, Debug)]
pub struct ChildInfo {
    /// The child's id.
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
}

/// The answer to `count_children`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChildCounts {
    /// Child specs held, running or not.
    pub specs: usize,
    /// Children running now.
    pub active: usize,
    /// Specs whose kind is supervisor.
    pub supervisors: usize,
    /// Specs whose kind is worker.
    pub workers: usize,
}
