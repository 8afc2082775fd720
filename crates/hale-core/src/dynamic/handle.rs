//! [`DynamicSupervisorRef`]: the API of a running dynamic supervisor.

use std::time::Duration;

use ractor::{ActorCell, Message};

use crate::child_ref::ChildRef;
use crate::dynamic::state::{DynamicChildInfo, DynamicMsg};
use crate::dynamic::{DynamicChildId, DynamicStart};
use crate::error::{CallError, ChildError};
use crate::events::{EventBus, EventStream};
use crate::exit::ExitReason;
use crate::handle::Control;
use crate::path::ChildPath;
use crate::spec::ChildSpec;
use crate::supervisor::ChildCounts;

/// A handle to a running dynamic supervisor. Cheap to clone.
///
/// Every method fails with a [`CallError`] (inside
/// [`ChildError::Supervisor`] where the method returns a `ChildError`) once
/// the supervisor has exited.
#[derive(Clone)]
pub struct DynamicSupervisorRef {
    control: Control<DynamicMsg>,
}

impl std::fmt::Debug for DynamicSupervisorRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DynamicSupervisorRef")
            .field("path", &self.control.path)
            .finish_non_exhaustive()
    }
}

impl DynamicSupervisorRef {
    pub(crate) fn new(control: Control<DynamicMsg>) -> Self {
        Self { control }
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

    /// Starts a new child from `spec`.
    ///
    /// Errors: [`ChildError::InvalidSpec`], [`ChildError::MaxChildren`],
    /// [`ChildError::StartFailed`].
    pub async fn start_child(&self, spec: ChildSpec) -> Result<DynamicStart, ChildError> {
        self.start(spec, None).await
    }

    /// Starts a child for the logical task `key` unless one exists: then
    /// answers [`DynamicStart::AlreadyRunning`] with it and starts nothing.
    /// The key is free again once its child is removed.
    ///
    /// Errors: as [`start_child`](Self::start_child).
    pub async fn start_unique(
        &self,
        key: impl Into<String>,
        spec: ChildSpec,
    ) -> Result<DynamicStart, ChildError> {
        self.start(spec, Some(key.into())).await
    }

    async fn start(&self, spec: ChildSpec, key: Option<String>) -> Result<DynamicStart, ChildError> {
        self.control
            .call(|reply| DynamicMsg::Start {
                spec: Box::new(spec),
                key,
                reply,
            })
            .await?
    }

    /// Stops a child by its shutdown rule and forgets it.
    ///
    /// Errors: [`ChildError::NotFound`].
    pub async fn terminate_child(&self, child: DynamicChildId) -> Result<(), ChildError> {
        self.control
            .call(|reply| DynamicMsg::Terminate(child, reply))
            .await?
    }

    /// Every child, in start order.
    pub async fn which_children(&self) -> Result<Vec<DynamicChildInfo>, CallError> {
        self.control.call(DynamicMsg::WhichChildren).await
    }

    /// Counts: `specs` is the number of children, `active` the running ones.
    pub async fn count_children(&self) -> Result<ChildCounts, CallError> {
        self.control.call(DynamicMsg::CountChildren).await
    }

    /// A [`ChildRef`] that follows one child across restarts.
    ///
    /// Errors: [`ChildError::NotFound`].
    pub async fn child_ref<M: Message>(&self, child: DynamicChildId) -> Result<ChildRef<M>, ChildError> {
        let incarnation = self
            .control
            .call(|reply| DynamicMsg::Follow(child, reply))
            .await??;
        Ok(ChildRef::new(
            self.control.path.child(&child.to_string()),
            incarnation,
        ))
    }

    /// Stops the supervisor: all children at once, then itself, with reason
    /// `normal`; kills the subtree if that takes longer than `limit`.
    pub async fn stop(&self, limit: Duration) -> ExitReason {
        self.control.stop(limit).await
    }

    /// Waits until the supervisor has exited and returns why.
    pub async fn wait(&self) -> ExitReason {
        self.control.wait().await
    }
}
