//! [`Control`]: what every supervisor handle needs (calls into the mailbox,
//! a graceful stop with a bound, waiting for the exit reason), and
//! [`ExitSlot`], where a supervisor's exit reason is kept.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use ractor::rpc::CallResult;
use ractor::{Actor, ActorCell, ActorRef, RpcReplyPort, SpawnErr};

use crate::error::{CallError, SupervisorStartError};
use crate::events::{EventBus, HealingEventKind};
use crate::exit::{ExitReason, NORMAL, SHUTDOWN};
use crate::path::ChildPath;
use crate::shutdown::KILL_CONFIRM_TIMEOUT;
use crate::spec::StartError;
use crate::supervisor::SupervisorMsg;

/// Where a supervisor's exit reason is kept for `wait`: the first reason
/// recorded wins.
#[derive(Debug, Default)]
pub(crate) struct ExitSlot(Mutex<Option<ExitReason>>);

impl ExitSlot {
    /// Records `reason` unless one is recorded already; returns the one that
    /// stands.
    pub(crate) fn settle(&self, reason: ExitReason) -> ExitReason {
        hale_util::lock(&self.0).get_or_insert(reason).clone()
    }

    /// Records `reason` whatever was recorded before.
    pub(crate) fn overwrite(&self, reason: ExitReason) -> ExitReason {
        *hale_util::lock(&self.0) = Some(reason.clone());
        reason
    }

    pub(crate) fn get(&self) -> Option<ExitReason> {
        hale_util::lock(&self.0).clone()
    }
}

/// The parts of a handle shared by [`SupervisorRef`](crate::SupervisorRef)
/// and [`DynamicSupervisorRef`](crate::DynamicSupervisorRef).
#[derive(Clone)]
pub(crate) struct Control {
    pub(crate) actor: ActorRef<SupervisorMsg>,
    pub(crate) path: ChildPath,
    pub(crate) events: EventBus,
    pub(crate) exit: Arc<ExitSlot>,
    /// Whether the supervisor is a dynamic one.
    pub(crate) dynamic: bool,
}

impl Control {
    /// Sends a request and waits for the answer; fails if the supervisor
    /// exits first.
    pub(crate) async fn call<T>(
        &self,
        message: impl FnOnce(RpcReplyPort<T>) -> SupervisorMsg,
    ) -> Result<T, CallError>
    where
        T: Send + 'static,
    {
        match self.actor.call(message, None).await {
            Ok(CallResult::Success(answer)) => Ok(answer),
            _ => Err(CallError {
                supervisor: self.path.clone(),
            }),
        }
    }

    /// Asks the supervisor to stop (it stops its children first) with reason
    /// `normal`; kills it and its subtree if that takes longer than `limit`,
    /// and then reports `killed`.
    pub(crate) async fn stop(&self, limit: Duration) -> ExitReason {
        // Recorded before asking: post_stop would record `shutdown` otherwise.
        self.exit.settle(ExitReason::Normal);
        let cell = self.actor.get_cell();
        cell.stop(Some(NORMAL.to_owned()));
        if cell.wait(Some(limit)).await.is_err() {
            cell.kill();
            let _ = cell.wait(Some(KILL_CONFIRM_TIMEOUT)).await;
            return self.exit.overwrite(ExitReason::Killed);
        }
        self.wait().await
    }

    /// Waits for the exit and returns its reason (`killed` when the
    /// supervisor was killed and recorded none).
    pub(crate) async fn wait(&self) -> ExitReason {
        let _ = self.actor.get_cell().wait(None).await;
        self.exit.get().unwrap_or(ExitReason::Killed)
    }
}

/// Spawns a supervisor actor (linked to `parent`, if any) and maps a failed
/// start back to the typed error its `pre_start` returned.
pub(crate) async fn spawn_supervisor<A: Actor<Msg = SupervisorMsg>>(
    handler: A,
    args: A::Arguments,
    parent: Option<ActorCell>,
    path: &ChildPath,
) -> Result<ActorRef<SupervisorMsg>, SupervisorStartError> {
    let spawned = match parent {
        Some(parent) => Actor::spawn_linked(None, handler, args, parent).await,
        None => Actor::spawn(None, handler, args).await,
    };
    let cause = match spawned {
        Ok((actor, _join)) => return Ok(actor),
        Err(SpawnErr::StartupFailed(cause)) => match cause.downcast::<SupervisorStartError>() {
            Ok(error) => return Err(*error),
            Err(other) => StartError::from(SpawnErr::StartupFailed(other)),
        },
        Err(other) => StartError::from(other),
    };
    Err(SupervisorStartError::Spawn {
        supervisor: path.clone(),
        cause,
    })
}

/// Ends a supervisor that gave up or shut down automatically: its children
/// are already stopped; it exits with reason `shutdown`.
pub(crate) fn exit_with_shutdown(myself: &ActorRef<SupervisorMsg>, exit: &ExitSlot) {
    exit.settle(ExitReason::Shutdown(None));
    myself.stop(Some(SHUTDOWN.to_owned()));
}

/// Records and announces a supervisor's exit, from its `post_stop`. Without
/// a reason recorded before, it was stopped from outside: `shutdown`.
pub(crate) fn announce_stopped(exit: &ExitSlot, events: &EventBus, path: &ChildPath) {
    let reason = exit.settle(ExitReason::Shutdown(None));
    events.emit(path, HealingEventKind::SupervisorStopped { reason });
}
