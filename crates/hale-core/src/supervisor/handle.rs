//! [`SupervisorRef`]: the administration API of a running supervisor.

use std::sync::Arc;
use std::time::Duration;

use ractor::rpc::CallResult;
use ractor::{ActorCell, Message, RpcReplyPort};

use crate::child_ref::ChildRef;
use crate::dynamic::DynamicSupervisorRef;
use crate::dynamic::state::DynamicMsg;
use crate::error::{CallError, ChildError};
use crate::events::{EventBus, EventStream};
use crate::exit::ExitReason;
use crate::handle::Control;
use crate::health::NodeHealth;
use crate::path::ChildPath;
use crate::spec::ChildSpec;
use crate::supervisor::messages::{ChildCounts, ChildInfo, StartedChild, SupervisorMsg};
use crate::supervisor::state::SupervisorState;
use crate::watchdog::WatchdogCounts;

/// A handle to a running supervisor. Cheap to clone; every method is a call
/// into the supervisor's mailbox, answered in order with everything else it
/// does.
///
/// Every method fails with a [`CallError`] (inside
/// [`ChildError::Supervisor`] where the method returns a `ChildError`) once
/// the supervisor has exited.
#[derive(Clone)]
pub struct SupervisorRef {
    control: Control<SupervisorMsg>,
}

impl std::fmt::Debug for SupervisorRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SupervisorRef")
            .field("path", &self.control.path)
            .field("actor", &self.control.actor.get_id())
            .finish_non_exhaustive()
    }
}

impl SupervisorRef {
    pub(crate) fn new(control: Control<SupervisorMsg>) -> Self {
        Self { control }
    }

    pub(crate) fn from_state(state: &SupervisorState) -> Self {
        Self::new(Control {
            actor: state.myself.clone(),
            path: state.path.clone(),
            events: state.host.events.clone(),
            exit: Arc::clone(&state.exit),
        })
    }

    /// The supervisor's path in its tree.
    pub fn path(&self) -> &ChildPath {
        &self.control.path
    }

    /// The supervisor's actor.
    pub fn actor(&self) -> ActorCell {
        self.control.actor.get_cell()
    }

    /// The tree's event bus.
    pub fn events(&self) -> &EventBus {
        &self.control.events
    }

    /// Subscribes to the tree's healing events from now on.
    pub fn subscribe(&self) -> EventStream {
        self.control.events.subscribe()
    }

    /// Adds a child at the end of the start order and starts it.
    ///
    /// Errors: [`ChildError::InvalidSpec`], [`ChildError::AlreadyStarted`]
    /// (the id runs), [`ChildError::AlreadyPresent`] (the id is kept, not
    /// running), [`ChildError::StartFailed`] (the spec is discarded).
    pub async fn start_child(&self, spec: ChildSpec) -> Result<StartedChild, ChildError> {
        self.call(|reply| SupervisorMsg::StartChild(Box::new(spec), reply))
            .await?
    }

    /// Stops a child by its shutdown rule and keeps its spec (a temporary
    /// child's spec is deleted). Succeeds even if the child was not running;
    /// a pending restart is cancelled.
    ///
    /// Errors: [`ChildError::NotFound`].
    pub async fn terminate_child(&self, id: &str) -> Result<(), ChildError> {
        let id = id.to_owned();
        self.call(|reply| SupervisorMsg::TerminateChild(id, reply))
            .await?
    }

    /// Starts a child whose spec is kept but which is not running. Does not
    /// count against the restart intensity.
    ///
    /// Errors: [`ChildError::Running`], [`ChildError::Restarting`],
    /// [`ChildError::NotFound`], [`ChildError::StartFailed`] (the spec is
    /// kept).
    pub async fn restart_child(&self, id: &str) -> Result<StartedChild, ChildError> {
        let id = id.to_owned();
        self.call(|reply| SupervisorMsg::RestartChild(id, reply)).await?
    }

    /// Deletes the spec of a child that is not running.
    ///
    /// Errors: [`ChildError::Running`], [`ChildError::Restarting`],
    /// [`ChildError::NotFound`].
    pub async fn delete_child(&self, id: &str) -> Result<(), ChildError> {
        let id = id.to_owned();
        self.call(|reply| SupervisorMsg::DeleteChild(id, reply)).await?
    }

    /// Every child spec in start order, with whether it runs.
    pub async fn which_children(&self) -> Result<Vec<ChildInfo>, CallError> {
        self.call(SupervisorMsg::WhichChildren).await
    }

    /// Counts of specs, running children, supervisors and workers.
    pub async fn count_children(&self) -> Result<ChildCounts, CallError> {
        self.call(SupervisorMsg::CountChildren).await
    }

    /// A child's spec, with the defaults filled in.
    ///
    /// Errors: [`ChildError::NotFound`].
    pub async fn get_childspec(&self, id: &str) -> Result<ChildSpec, ChildError> {
        let id = id.to_owned();
        self.call(|reply| SupervisorMsg::GetChildSpec(id, reply)).await?
    }

    /// A [`ChildRef`] that follows the child `id` across restarts.
    ///
    /// Errors: [`ChildError::NotFound`]; [`ChildError::WrongMessageType`] if
    /// the child runs and does not take `M`.
    pub async fn child_ref<M: Message>(&self, id: &str) -> Result<ChildRef<M>, ChildError> {
        let owned = id.to_owned();
        let incarnation = self
            .call(|reply| SupervisorMsg::FollowChild(owned, reply))
            .await??;
        let child = ChildRef::new(self.control.path.child(id), incarnation);
        if let Some(actor) = child.current()
            && actor.get_cell().is_message_type_of::<M>() == Some(false)
        {
            return Err(ChildError::WrongMessageType {
                supervisor: self.control.path.clone(),
                child: id.to_owned(),
            });
        }
        Ok(child)
    }

    /// The handle of a running child that is itself a supervisor.
    ///
    /// Errors: [`ChildError::NotFound`]; [`ChildError::WrongMessageType`] if
    /// the child is not a Hale supervisor; [`ChildError::Restarting`] if it
    /// does not run now.
    pub async fn child_supervisor(&self, id: &str) -> Result<SupervisorRef, ChildError> {
        self.nested_handle(id, SupervisorMsg::Handle).await
    }

    /// The handle of a running child that is a dynamic supervisor.
    ///
    /// Errors: as [`child_supervisor`](Self::child_supervisor).
    pub async fn child_dynamic_supervisor(&self, id: &str) -> Result<DynamicSupervisorRef, ChildError> {
        self.nested_handle(id, DynamicMsg::Handle).await
    }

    /// Asks the running child `id`, a supervisor of message type `M`, for its
    /// own handle.
    async fn nested_handle<M: Message, H: Send + 'static>(
        &self,
        id: &str,
        ask: fn(RpcReplyPort<H>) -> M,
    ) -> Result<H, ChildError> {
        let child: ChildRef<M> = self.child_ref(id).await?;
        let not_running = || ChildError::Restarting {
            supervisor: self.control.path.clone(),
            child: id.to_owned(),
        };
        let actor = child.current().ok_or_else(not_running)?;
        match actor.call(ask, None).await {
            Ok(CallResult::Success(handle)) => Ok(handle),
            _ => Err(not_running()),
        }
    }

    /// The health snapshot of this supervisor's whole subtree.
    pub async fn health(&self) -> Result<NodeHealth, CallError> {
        self.call(SupervisorMsg::Health).await
    }

    /// What the tree's watchdog has seen so far.
    pub async fn watchdog_counts(&self) -> Result<WatchdogCounts, CallError> {
        self.call(SupervisorMsg::WatchdogCounts).await
    }

    /// Stops the supervisor gracefully: it stops its children in reverse
    /// start order, each by its shutdown rule, then exits with reason
    /// `normal`. If that takes longer than `limit`, the supervisor and its
    /// whole subtree are killed (exit reason `killed`). Returns the exit
    /// reason.
    pub async fn stop(&self, limit: Duration) -> ExitReason {
        self.control.stop(limit).await
    }

    /// Waits until the supervisor has exited and returns why: `normal` after
    /// [`stop`](Self::stop), `shutdown` after it gave up (intensity) or
    /// shut down automatically or was stopped by its parent, `killed` if it
    /// was killed.
    pub async fn wait(&self) -> ExitReason {
        self.control.wait().await
    }

    async fn call<T: Send + 'static>(
        &self,
        message: impl FnOnce(RpcReplyPort<T>) -> SupervisorMsg,
    ) -> Result<T, CallError> {
        self.control.call(message).await
    }
}
