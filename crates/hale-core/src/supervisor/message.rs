//! [`SupervisorMsg`]: what a supervisor's mailbox takes, static or dynamic.

use ractor::{ActorId, RpcReplyPort};

use crate::child::{ChildCounts, ChildInfo, Serial, StartedChild, Subscription};
use crate::dynamic::{DynamicChildId, DynamicStart};
use crate::error::ChildError;
use crate::exit::ExitReason;
use crate::health::NodeHealth;
use crate::in_place::Parked;
use crate::path::ChildPath;
use crate::spec::ChildSpec;
use crate::supervisor::Control;
use crate::watchdog::WatchdogCounts;

/// How an API call names a child: by spec id (static supervisors) or by the
/// handle a dynamic supervisor gave it.
#[derive(Clone, Debug)]
pub(crate) enum ChildAddress {
    Id(String),
    Dynamic(DynamicChildId),
}

/// The supervisor actor's mailbox.
pub(crate) enum SupervisorMsg {
    /// `start_child` on a static supervisor.
    StartChild(Box<ChildSpec>, RpcReplyPort<Result<StartedChild, ChildError>>),
    /// `start_child` / `start_unique` on a dynamic supervisor.
    StartDynamic {
        spec: Box<ChildSpec>,
        key: Option<String>,
        reply: RpcReplyPort<Result<DynamicStart, ChildError>>,
    },
    TerminateChild(ChildAddress, RpcReplyPort<Result<(), ChildError>>),
    RestartChild(String, RpcReplyPort<Result<StartedChild, ChildError>>),
    DeleteChild(String, RpcReplyPort<Result<(), ChildError>>),
    WhichChildren(RpcReplyPort<Vec<ChildInfo>>),
    CountChildren(RpcReplyPort<ChildCounts>),
    GetChildSpec(String, RpcReplyPort<Result<ChildSpec, ChildError>>),
    /// A subscription to a child's incarnations, with the child's path.
    FollowChild(
        ChildAddress,
        RpcReplyPort<Result<(ChildPath, Subscription), ChildError>>,
    ),
    /// The supervisor's own control handle, for a handle to a nested one.
    Control(RpcReplyPort<Control>),
    Health(RpcReplyPort<NodeHealth>),
    WatchdogCounts(RpcReplyPort<WatchdogCounts>),
    /// A restart failed earlier; try it again. Sent to itself, so calls that
    /// were already queued are served first.
    RetryRestart(Serial),
    /// A backoff delay is up for the child with this serial, scheduled when
    /// the child's generation was this.
    DelayedRestart(Serial, u64),
    /// A child exited in a way ractor will not report: treat it as exited
    /// with this reason (`hung` when the watchdog gave up on a child that
    /// would not die; see [`ExitNotice`](crate::watchdog::ExitNotice)).
    ChildGone(ActorId, ExitReason),
    /// An in-place child failed with this reason and waits, parked, for the
    /// decision (see [`in_place`](crate::in_place)).
    ChildParked(ActorId, ExitReason, Parked),
}
