//! One child as its supervisor holds it: the spec and what runs of it.

use ractor::{ActorCell, ActorId};
use tokio::sync::watch;

use crate::child_ref::Incarnation;
use crate::spec::ChildSpec;
use crate::supervisor::messages::{ChildInfo, ChildStatus};

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
    slot: Slot,
    pub(crate) restarts: u32,
    incarnation: watch::Sender<Incarnation>,
}

impl Child {
    pub(crate) fn new(spec: ChildSpec) -> Self {
        Self {
            spec,
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
