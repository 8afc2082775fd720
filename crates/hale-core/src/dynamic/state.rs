//! The dynamic supervisor's state machine.
//!
//! Children live in a map keyed by their handle (start order = handle
//! order), with two indexes kept beside it: running actor → handle, for
//! exits, and unique key → handle, for [`start_unique`]. Every lookup is a
//! map lookup, so the cost of an exit or a start does not grow with the
//! number of children.
//!
//! [`start_unique`]: crate::DynamicSupervisorRef::start_unique

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use futures::future::join_all;
use ractor::{ActorId, ActorRef};
use tokio::time::Instant;

use crate::child::ChildState;
use crate::child_ref::Subscription;
use crate::dynamic::{
    DynamicChild, DynamicChildId, DynamicStart, DynamicSupervisorRef, DynamicSupervisorSpec,
};
use crate::error::ChildError;
use crate::events::{EventBus, HealingEventKind, StopCause};
use crate::exit::ExitReason;
use crate::handle::ExitSlot;
use crate::health::NodeHealth;
use crate::intensity::RestartWindow;
use crate::path::ChildPath;
use crate::spec::{AutoShutdown, ChildKind, ChildSpec};
use crate::supervisor::messages::{ChildCounts, ChildInfo};
use crate::supervisor::state::Flow;
use crate::supervisor::{Child, Host, Slot, StartKind};
use crate::watchdog::Watchdog;

/// The dynamic supervisor's mailbox.
pub(crate) enum DynamicMsg {
    Start {
        spec: Box<ChildSpec>,
        key: Option<String>,
        reply: ractor::RpcReplyPort<Result<DynamicStart, ChildError>>,
    },
    Terminate(DynamicChildId, ractor::RpcReplyPort<Result<(), ChildError>>),
    WhichChildren(ractor::RpcReplyPort<Vec<DynamicChildInfo>>),
    CountChildren(ractor::RpcReplyPort<ChildCounts>),
    Follow(
        DynamicChildId,
        ractor::RpcReplyPort<Result<Subscription, ChildError>>,
    ),
    Handle(ractor::RpcReplyPort<DynamicSupervisorRef>),
    Health(ractor::RpcReplyPort<NodeHealth>),
    /// A restart failed earlier; try again.
    RetryRestart(DynamicChildId),
    /// A backoff delay is up for this child, scheduled at this generation.
    DelayedRestart(DynamicChildId, u64),
    /// A child exited in a way ractor will not report (see
    /// [`ExitNotice`](crate::watchdog::ExitNotice)).
    ChildGone(ActorId, ExitReason),
}

/// One row of a dynamic supervisor's `which_children`.
#[derive(Clone, Debug)]
pub struct DynamicChildInfo {
    /// The child's handle.
    pub handle: DynamicChildId,
    /// The unique key it was started with, if any.
    pub key: Option<String>,
    /// The rest of what a static supervisor reports (its `id` is the spec's).
    pub info: ChildInfo,
}

struct Entry {
    child: Child,
    key: Option<String>,
}

pub(crate) struct DynamicState {
    pub(crate) myself: ActorRef<DynamicMsg>,
    pub(crate) path: ChildPath,
    pub(crate) host: Host,
    pub(crate) exit: Arc<ExitSlot>,
    max_children: Option<usize>,
    intensity: u32,
    period_ms: u64,
    window: RestartWindow,
    next_handle: u64,
    children: BTreeMap<DynamicChildId, Entry>,
    by_actor: HashMap<ActorId, DynamicChildId>,
    by_key: HashMap<String, DynamicChildId>,
}

impl DynamicState {
    pub(crate) fn new(
        myself: ActorRef<DynamicMsg>,
        spec: &DynamicSupervisorSpec,
        path: ChildPath,
        events: EventBus,
        watchdog: Watchdog,
        exit: Arc<ExitSlot>,
    ) -> Self {
        let host = Host::new(&myself, events, watchdog, DynamicMsg::ChildGone);
        Self {
            myself,
            path,
            host,
            exit,
            max_children: spec.max_children,
            intensity: spec.intensity,
            period_ms: hale_util::millis(spec.period),
            window: RestartWindow::new(spec.intensity, spec.period),
            next_handle: 0,
            children: BTreeMap::new(),
            by_actor: HashMap::new(),
            by_key: HashMap::new(),
        }
    }

    pub(crate) async fn start_child(
        &mut self,
        spec: ChildSpec,
        key: Option<String>,
    ) -> Result<DynamicStart, ChildError> {
        spec.validate_under(&self.path, AutoShutdown::Never)?;
        if let Some(existing) = key.as_ref().and_then(|key| self.by_key.get(key)).copied() {
            if let (Some(key), Some(entry)) = (key, self.children.get(&existing)) {
                self.host
                    .events
                    .emit(&entry.child.path, HealingEventKind::DuplicateRefused { key });
            }
            return Ok(DynamicStart::AlreadyRunning(self.describe(existing)));
        }
        if let Some(max) = self.max_children
            && self.children.len() >= max
        {
            return Err(ChildError::MaxChildren {
                supervisor: self.path.clone(),
                max,
            });
        }
        let handle = DynamicChildId(self.next_handle);
        self.next_handle += 1;
        let path = self.path.child(&format!("{}{handle}", spec.id));
        let mut child = Child::new(spec, path);
        match child.start(&self.host, StartKind::Fresh).await {
            Ok(Some(actor)) => {
                self.by_actor.insert(actor.get_id(), handle);
                if let Some(key) = &key {
                    self.by_key.insert(key.clone(), handle);
                }
                self.children.insert(handle, Entry { child, key });
                Ok(DynamicStart::Started(DynamicChild {
                    id: handle,
                    actor: Some(actor),
                }))
            }
            Ok(None) => {
                child.retire();
                Ok(DynamicStart::Ignored)
            }
            Err(cause) => {
                let id = child.spec.id.clone();
                child.retire();
                Err(ChildError::StartFailed {
                    supervisor: self.path.clone(),
                    child: id,
                    cause,
                })
            }
        }
    }

    pub(crate) async fn terminate_child(&mut self, handle: DynamicChildId) -> Result<(), ChildError> {
        let Some(entry) = self.children.get_mut(&handle) else {
            return Err(self.not_found(handle));
        };
        if let Some(actor) = entry.child.running() {
            self.by_actor.remove(&actor.get_id());
        }
        entry.child.stop(&self.host.events, StopCause::Terminated).await;
        self.remove(handle);
        Ok(())
    }

    /// A linked actor exited. Ignored unless it is a current child.
    pub(crate) async fn on_exit(&mut self, actor: ActorId, reason: ExitReason) -> Flow {
        let Some(handle) = self.by_actor.remove(&actor) else {
            if self.host.watchdog.is(actor) {
                tracing::error!(target: "hale::healing", path = %self.path, %reason, "the tree's watchdog exited");
            }
            return Flow::Continue;
        };
        let Some(entry) = self.children.get_mut(&handle) else {
            return Flow::Continue;
        };
        let reason = entry.child.exited(reason);
        let will_restart = entry.child.spec.restart.restarts_after(&reason);
        let path = entry.child.path.clone();
        self.host
            .events
            .emit(&path, HealingEventKind::ChildExited { reason, will_restart });
        if will_restart {
            self.restart(handle).await
        } else {
            self.remove(handle);
            Flow::Continue
        }
    }

    pub(crate) async fn retry(&mut self, handle: DynamicChildId) -> Flow {
        match self.children.get(&handle) {
            Some(entry) if matches!(entry.child.slot(), Slot::Restarting) => self.restart(handle).await,
            _ => Flow::Continue,
        }
    }

    async fn restart(&mut self, handle: DynamicChildId) -> Flow {
        if !self.window.record(Instant::now()) {
            self.host.events.emit(
                &self.path,
                HealingEventKind::IntensityExceeded {
                    intensity: self.intensity,
                    period_ms: self.period_ms,
                },
            );
            self.stop_all().await;
            return Flow::Shutdown;
        }
        let Some(entry) = self.children.get_mut(&handle) else {
            return Flow::Continue;
        };
        if let Some((delay, attempt)) = entry.child.backoff_delay() {
            entry.child.set(Slot::Restarting);
            let generation = entry.child.generation();
            self.host.events.emit(
                &entry.child.path,
                HealingEventKind::BackoffScheduled {
                    delay_ms: hale_util::millis(delay),
                    attempt,
                },
            );
            self.myself
                .send_after(delay, move || DynamicMsg::DelayedRestart(handle, generation));
            return Flow::Continue;
        }
        self.start_again(handle).await;
        Flow::Continue
    }

    /// A backoff delay is up: restart the child unless it changed meanwhile.
    pub(crate) async fn delayed_restart(&mut self, handle: DynamicChildId, generation: u64) -> Flow {
        let due = self.children.get(&handle).is_some_and(|entry| {
            matches!(entry.child.slot(), Slot::Restarting) && entry.child.generation() == generation
        });
        if due {
            self.start_again(handle).await;
        }
        Flow::Continue
    }

    /// Starts a child that exited again; a failed start is retried through
    /// the mailbox.
    async fn start_again(&mut self, handle: DynamicChildId) {
        let Some(entry) = self.children.get_mut(&handle) else {
            return;
        };
        match entry.child.start(&self.host, StartKind::Restart).await {
            Ok(Some(actor)) => {
                self.by_actor.insert(actor.get_id(), handle);
            }
            // A dynamic child whose restart answers ignore is dropped.
            Ok(None) => self.remove(handle),
            Err(_) => {
                entry.child.set(Slot::Restarting);
                // Fails only if this supervisor is already stopping.
                let _ = self.myself.send_message(DynamicMsg::RetryRestart(handle));
            }
        }
    }

    /// Stops every running child at once and waits for all of them.
    pub(crate) async fn stop_all(&mut self) {
        self.by_actor.clear();
        let events = &self.host.events;
        join_all(
            self.children
                .values_mut()
                .map(|entry| entry.child.stop(events, StopCause::SupervisorShutdown)),
        )
        .await;
    }

    /// This supervisor's node of the health snapshot.
    pub(crate) fn health(&self) -> NodeHealth {
        NodeHealth {
            path: self.path.clone(),
            kind: ChildKind::Supervisor,
            state: ChildState::Running,
            ready: true,
            restarts: 0,
            last_exit: None,
            heartbeat_age_ms: None,
            recent_restarts_ms: Vec::new(),
            intensity: Some(self.window.snapshot(Instant::now())),
            children: self.children.values().map(|entry| entry.child.health()).collect(),
        }
    }

    pub(crate) fn which_children(&self) -> Vec<DynamicChildInfo> {
        self.children
            .iter()
            .map(|(handle, entry)| DynamicChildInfo {
                handle: *handle,
                key: entry.key.clone(),
                info: entry.child.info(),
            })
            .collect()
    }

    pub(crate) fn count_children(&self) -> ChildCounts {
        let mut counts = ChildCounts {
            specs: self.children.len(),
            active: self.by_actor.len(),
            ..ChildCounts::default()
        };
        for entry in self.children.values() {
            match entry.child.spec.kind {
                ChildKind::Worker => counts.workers += 1,
                ChildKind::Supervisor => counts.supervisors += 1,
            }
        }
        counts
    }

    pub(crate) fn follow_child(&mut self, handle: DynamicChildId) -> Result<Subscription, ChildError> {
        match self.children.get_mut(&handle) {
            Some(entry) => Ok(entry.child.follow()),
            None => Err(self.not_found(handle)),
        }
    }

    fn describe(&self, handle: DynamicChildId) -> DynamicChild {
        DynamicChild {
            id: handle,
            actor: self
                .children
                .get(&handle)
                .and_then(|entry| entry.child.running().cloned()),
        }
    }

    fn remove(&mut self, handle: DynamicChildId) {
        let Some(entry) = self.children.remove(&handle) else {
            return;
        };
        if let Some(key) = &entry.key {
            self.by_key.remove(key);
        }
        let path = entry.child.path.clone();
        entry.child.retire();
        self.host.events.emit(&path, HealingEventKind::ChildRemoved);
    }

    fn not_found(&self, handle: DynamicChildId) -> ChildError {
        ChildError::NotFound {
            supervisor: self.path.clone(),
            child: handle.to_string(),
        }
    }
}
