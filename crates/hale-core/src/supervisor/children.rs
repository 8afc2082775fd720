//! One child as its supervisor holds it: the spec and what runs of it.

use ractor::{ActorCell, ActorId};
use tokio::sync::watch;

use crate::child_ref::Incarnation;
use crate::events::{EventBus, HealingEventKind, StopCause};
use crate::path::ChildPath;
use crate::shutdown::stop_child;
use crate::spec::{ChildSpec, StartContext, StartError, StartOutcome};
use crate::supervisor::messages::{ChildInfo, ChildStatus};

/// Why a child is being started, which decides the event it gets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum StartKind {
    /// At boot or through the API.
    Fresh,
    /// By the supervisor, after an exit.
    Restart,
}

/// What runs of a child now.
#[derive(Clone, Debug)]
pub(crate) enum Slot {
    Running(ActorCell),
    Restarting,
    Stopped,
}

/// A child spec with its current incarnation and restart count. Every change
/// of slot is published to the child's [`ChildRef`](crate::ChildRef)s.
pub(crate) struct Child {
    pub(crate) spec: ChildSpec,
    pub(crate) path: ChildPath,
    slot: Slot,
    pub(crate) restarts: u32,
    incarnation: watch::Sender<Incarnation>,
}

impl Child {
    pub(crate) fn new(spec: ChildSpec, path: ChildPath) -> Self {
        Self {
            spec,
            path,
            slot: Slot::Stopped,
            restarts: 0,
            incarnation: watch::Sender::new(Incarnation::Stopped),
        }
    }

    pub(crate) fn slot(&self) -> &Slot {
        &self.slot
    }

    pub(crate) fn set(&mut self, slot: Slot) {
        let published = match &slot {
            Slot::Running(cell) => Incarnation::Running(cell.clone()),
            Slot::Restarting => Incarnation::Restarting,
            Slot::Stopped => Incarnation::Stopped,
        };
        self.incarnation.send_replace(published);
        self.slot = slot;
    }

    /// Calls the start function with `supervisor` as the parent. Returns the
    /// running actor, or `None` if the start answered ignore; emits the
    /// matching event.
    pub(crate) async fn start(
        &mut self,
        supervisor: ActorCell,
        events: &EventBus,
        kind: StartKind,
    ) -> Result<Option<ActorCell>, StartError> {
        let ctx = StartContext {
            supervisor: supervisor.clone(),
            path: self.path.clone(),
            events: events.clone(),
        };
        let (result, event) = match self.spec.start(ctx).await {
            Ok(StartOutcome::Started(actor)) => {
                // A no-op for actors spawned linked, as the contract asks; it
                // rescues start functions that forgot to link.
                actor.link(supervisor);
                self.set(Slot::Running(actor.clone()));
                let event = match kind {
                    StartKind::Fresh => HealingEventKind::ChildStarted,
                    StartKind::Restart => {
                        self.restarts += 1;
                        HealingEventKind::ChildRestarted {
                            restarts: self.restarts,
                        }
                    }
                };
                (Ok(Some(actor)), event)
            }
            Ok(StartOutcome::Ignore) => {
                self.set(Slot::Stopped);
                (Ok(None), HealingEventKind::ChildIgnored)
            }
            Err(cause) => {
                let text = cause.to_string();
                let event = match kind {
                    StartKind::Fresh => HealingEventKind::StartFailed { cause: text },
                    StartKind::Restart => HealingEventKind::RestartFailed { cause: text },
                };
                (Err(cause), event)
            }
        };
        events.emit(&self.path, event);
        result
    }

    /// Stops the child if it runs, by its shutdown rule, and waits until it
    /// has exited (or is declared stuck); emits the outcome.
    pub(crate) async fn stop(&mut self, events: &EventBus, cause: StopCause) {
        let Some(actor) = self.running().cloned() else {
            return;
        };
        let outcome = stop_child(&actor, self.spec.shutdown_rule()).await;
        self.set(Slot::Stopped);
        events.emit(&self.path, HealingEventKind::ChildStopped { cause, outcome });
    }

    /// Tells the child's references that it is gone for good.
    pub(crate) fn retire(self) {
        self.incarnation.send_replace(Incarnation::Removed);
    }

    pub(crate) fn follow(&self) -> watch::Receiver<Incarnation> {
        self.incarnation.subscribe()
    }

    pub(crate) fn running(&self) -> Option<&ActorCell> {
        match &self.slot {
            Slot::Running(cell) => Some(cell),
            _ => None,
        }
    }

    pub(crate) fn is(&self, actor: ActorId) -> bool {
        self.running().is_some_and(|cell| cell.get_id() == actor)
    }

    pub(crate) fn status(&self) -> ChildStatus {
        match self.slot {
            Slot::Running(_) => ChildStatus::Running,
            Slot::Restarting => ChildStatus::Restarting,
            Slot::Stopped => ChildStatus::Stopped,
        }
    }

    pub(crate) fn info(&self) -> ChildInfo {
        ChildInfo {
            id: self.spec.id.clone(),
            status: self.status(),
            actor: self.running().cloned(),
            kind: self.spec.kind,
            restart: self.spec.restart,
            restarts: self.restarts,
        }
    }
}
