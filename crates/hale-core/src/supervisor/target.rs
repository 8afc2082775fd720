//! [`Target`]: which supervisor a handle talks to, across its restarts.
//!
//! A root supervisor has one incarnation for as long as a handle to it can
//! be used. A nested supervisor is a child: its parent restarts it by its
//! rules, and each restart is a new actor with a new mailbox. A handle to a
//! nested supervisor follows it as a [`ChildRef`] follows any child: every
//! call goes to the incarnation that runs now, and a call made while it
//! restarts waits for it (up to [`FOLLOW_WAIT`]).

use std::sync::{Arc, Mutex};
use std::time::Duration;

use ractor::rpc::CallResult;
use ractor::{ActorCell, RpcReplyPort};

use crate::child_ref::ChildRef;
use crate::error::CallError;
use crate::events::EventBus;
use crate::exit::ExitReason;
use crate::path::ChildPath;
use crate::supervisor::{Control, SupervisorMsg};

/// How long a call through the handle of a nested supervisor waits for it
/// to run again while its parent restarts it, before it fails with a
/// [`CallError`].
pub const FOLLOW_WAIT: Duration = Duration::from_secs(5);

#[derive(Clone)]
pub(crate) struct Target {
    path: ChildPath,
    events: EventBus,
    kind: Kind,
}

#[derive(Clone)]
enum Kind {
    Root(Control),
    Nested {
        incarnation: ChildRef<SupervisorMsg>,
        /// The control of the incarnation last reached: reused while it
        /// runs, and what `stop` and `wait` fall back on.
        last: Arc<Mutex<Control>>,
    },
}

impl Target {
    /// A handle's target for a root supervisor.
    pub(crate) fn root(control: Control) -> Self {
        Self {
            path: control.path.clone(),
            events: control.events.clone(),
            kind: Kind::Root(control),
        }
    }

    /// A handle's target for a nested supervisor, followed through
    /// `incarnation` (its parent's reference to it), first reached as
    /// `first`.
    pub(crate) fn nested(incarnation: ChildRef<SupervisorMsg>, first: Control) -> Self {
        Self {
            path: first.path.clone(),
            events: first.events.clone(),
            kind: Kind::Nested {
                incarnation,
                last: Arc::new(Mutex::new(first)),
            },
        }
    }

    pub(crate) fn path(&self) -> &ChildPath {
        &self.path
    }

    pub(crate) fn events(&self) -> &EventBus {
        &self.events
    }

    /// Whether this handle can follow what it names (`false` for a root).
    pub(crate) fn is_following(&self) -> bool {
        matches!(self.kind, Kind::Nested { .. })
    }

    /// The running incarnation's actor, or the last one reached while the
    /// supervisor restarts.
    pub(crate) fn actor(&self) -> ActorCell {
        match &self.kind {
            Kind::Root(control) => control.actor.get_cell(),
            Kind::Nested { incarnation, last } => incarnation
                .current_cell()
                .unwrap_or_else(|| hale_util::lock(last).actor.get_cell()),
        }
    }

    /// Whether the supervisor is gone for good: a root that exited, or a
    /// nested one its parent removed.
    pub(crate) fn is_gone(&self) -> bool {
        match &self.kind {
            Kind::Root(control) => control.actor.get_status() == ractor::ActorStatus::Stopped,
            Kind::Nested { incarnation, .. } => incarnation.state().is_none(),
        }
    }

    /// The control of the incarnation that runs now, waiting for one while
    /// the supervisor restarts (up to [`FOLLOW_WAIT`]).
    async fn control(&self) -> Result<Control, CallError> {
        let (incarnation, last) = match &self.kind {
            Kind::Root(control) => return Ok(control.clone()),
            Kind::Nested { incarnation, last } => (incarnation, last),
        };
        let actor = incarnation
            .running_within(FOLLOW_WAIT)
            .await
            .ok_or_else(|| self.call_error())?;
        {
            let cached = hale_util::lock(last);
            if cached.actor.get_id() == actor.get_id() {
                return Ok(cached.clone());
            }
        }
        match actor.call(SupervisorMsg::Control, None).await {
            Ok(CallResult::Success(control)) => {
                *hale_util::lock(last) = control.clone();
                Ok(control)
            }
            _ => Err(self.call_error()),
        }
    }

    /// The running incarnation's control, or else the last one reached.
    async fn control_or_last(&self) -> Control {
        match (&self.kind, self.control().await) {
            (_, Ok(control)) => control,
            (Kind::Root(control), Err(_)) => control.clone(),
            (Kind::Nested { last, .. }, Err(_)) => hale_util::lock(last).clone(),
        }
    }

    /// Sends a request to the running incarnation and waits for the answer.
    pub(crate) async fn call<T: Send + 'static>(
        &self,
        message: impl FnOnce(RpcReplyPort<T>) -> SupervisorMsg,
    ) -> Result<T, CallError> {
        self.control().await?.call(message).await
    }

    /// Stops the running incarnation (see [`Control::stop`]).
    pub(crate) async fn stop(&self, limit: Duration) -> ExitReason {
        self.control_or_last().await.stop(limit).await
    }

    /// Waits for the incarnation this handle last reached to exit (see
    /// [`Control::wait`]). Not the one that runs now: a caller that saw its
    /// supervisor give up must learn how that one ended, even when the
    /// parent has already started the next.
    pub(crate) async fn wait(&self) -> ExitReason {
        let last = match &self.kind {
            Kind::Root(control) => control.clone(),
            Kind::Nested { last, .. } => hale_util::lock(last).clone(),
        };
        last.wait().await
    }

    fn call_error(&self) -> CallError {
        CallError {
            supervisor: self.path.clone(),
        }
    }
}
