//! What every supervisor handle needs: calls into the mailbox, a graceful
//! stop with a bound, and waiting for the exit reason.

use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use ractor::rpc::CallResult;
use ractor::{ActorRef, Message, RpcReplyPort};

use crate::error::CallError;
use crate::events::EventBus;
use crate::exit::{ExitReason, NORMAL};
use crate::path::ChildPath;
use crate::shutdown::KILL_CONFIRM_TIMEOUT;

/// Where a supervisor's exit reason is kept for `wait`: the first reason
/// recorded wins.
#[derive(Debug, Default)]
pub(crate) struct ExitSlot(Mutex<Option<ExitReason>>);

impl ExitSlot {
    /// Records `reason` unless one is recorded already; returns the one that
    /// stands.
    pub(crate) fn settle(&self, reason: ExitReason) -> ExitReason {
        self.0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get_or_insert(reason)
            .clone()
    }

    /// Records `reason` whatever was recorded before.
    pub(crate) fn overwrite(&self, reason: ExitReason) -> ExitReason {
        *self.0.lock().unwrap_or_else(PoisonError::into_inner) = Some(reason.clone());
        reason
    }

    pub(crate) fn get(&self) -> Option<ExitReason> {
        self.0.lock().unwrap_or_else(PoisonError::into_inner).clone()
    }
}

/// The parts of a handle shared by [`SupervisorRef`](crate::SupervisorRef)
/// and [`DynamicSupervisorRef`](crate::DynamicSupervisorRef).
pub(crate) struct Control<M> {
    pub(crate) actor: ActorRef<M>,
    pub(crate) path: ChildPath,
    pub(crate) events: EventBus,
    pub(crate) exit: Arc<ExitSlot>,
}

impl<M> Clone for Control<M> {
    fn clone(&self) -> Self {
        Self {
            actor: self.actor.clone(),
            path: self.path.clone(),
            events: self.events.clone(),
            exit: Arc::clone(&self.exit),
        }
    }
}

impl<M: Message> Control<M> {
    /// Sends a request and waits for the answer; fails if the supervisor
    /// exits first.
    pub(crate) async fn call<T>(&self, message: impl FnOnce(RpcReplyPort<T>) -> M) -> Result<T, CallError>
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
