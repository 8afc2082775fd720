//! The supervisor's state machine: what it does when a child exits, and how
//! it answers the administration API.
//!
//! Everything here runs inside the supervisor actor's handlers, one at a
//! time, so no two decisions interleave. Stopping a child waits for its real
//! exit; the exit event that ractor delivers afterwards no longer matches a
//! running child and is ignored (OTP: an exit from an actor that is not a
//! current child is ignored).

use std::cmp::Ordering;
use std::collections::HashMap;
use std::ops::Range;
use std::sync::Arc;

use ractor::{ActorCell, ActorId, ActorRef};
use tokio::time::Instant;

use crate::child::ChildState;
use crate::error::{ChildError, SupervisorStartError};
use crate::events::{EventBus, HealingEventKind, StopCause};
use crate::exit::ExitReason;
use crate::handle::ExitSlot;
use crate::health::{NodeHealth, nested_health};
use crate::intensity::RestartWindow;
use crate::path::ChildPath;
use crate::spec::{AutoShutdown, ChildKind, ChildSpec, Restart, StartError, Strategy, SupervisorFlags};
use crate::supervisor::children::{Child, Host, Slot, StartKind};
use crate::supervisor::messages::{ChildCounts, ChildInfo, StartedChild, SupervisorMsg};
use crate::watchdog::Watchdog;

/// What the supervisor does after handling one event.
#[must_use]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Flow {
    /// Go on.
    Continue,
    /// All children are stopped; exit with reason `shutdown`.
    Shutdown,
}

pub(crate) struct SupervisorState {
    pub(crate) myself: ActorRef<SupervisorMsg>,
    pub(crate) path: ChildPath,
    pub(crate) flags: SupervisorFlags,
    pub(crate) host: Host,
    pub(crate) exit: Arc<ExitSlot>,
    children: Vec<Child>,
    /// The actors of the running children, with their index in `children`.
    /// After a group restart the supervisor receives an exit for every
    /// sibling it stopped itself; this map turns each of those stale exits
    /// away in O(1), and finds the child of a current exit without a scan.
    running: HashMap<ActorId, usize>,
    window: RestartWindow,
}

impl SupervisorState {
    pub(crate) fn new(
        myself: ActorRef<SupervisorMsg>,
        path: ChildPath,
        flags: SupervisorFlags,
        children: Vec<ChildSpec>,
        events: EventBus,
        watchdog: Watchdog,
        exit: Arc<ExitSlot>,
    ) -> Self {
        let host = Host::new(&myself, events, watchdog, SupervisorMsg::ChildGone);
        let children = children
            .into_iter()
            .map(|spec| {
                let child_path = path.child(&spec.id);
                Child::new(spec, child_path)
            })
            .collect();
        Self {
            myself,
            path,
            flags,
            host,
            exit,
            children,
            running: HashMap::new(),
            window: RestartWindow::new(flags.intensity, flags.period),
        }
    }

    // ----- boot and shutdown ---------------------------------------------

    /// Starts every child in spec order. If one fails, the ones already
    /// started are stopped in reverse order and the error names the child.
    pub(crate) async fn start_all(&mut self) -> Result<(), SupervisorStartError> {
        let mut index = 0;
        while index < self.children.len() {
            match self.start_at(index, StartKind::Fresh).await {
                Ok(None) if self.children[index].spec.restart == Restart::Temporary => {
                    self.remove(index);
                }
                Ok(_) => index += 1,
                Err(cause) => {
                    self.stop_range(0..index, StopCause::SupervisorShutdown).await;
                    return Err(SupervisorStartError::ChildFailedToStart {
                        supervisor: self.path.clone(),
                        child: self.children[index].spec.id.clone(),
                        cause,
                    });
                }
            }
        }
        self.emit_own(HealingEventKind::SupervisorStarted {
            children: self.children.len(),
        });
        Ok(())
    }

    /// Stops every running child in reverse start order.
    pub(crate) async fn stop_all(&mut self) {
        self.stop_range(0..self.children.len(), StopCause::SupervisorShutdown)
            .await;
    }

    // ----- exits and restarts --------------------------------------------

    /// A linked actor exited. Ignored unless it is a current child.
    pub(crate) async fn on_exit(&mut self, actor: ActorId, reason: ExitReason) -> Flow {
        let found = self.running.remove(&actor).and_then(|index| {
            // The index is kept exact (see `remove`); the check costs nothing
            // and a scan keeps a wrong hint from ever picking a wrong child.
            match self.children.get(index) {
                Some(child) if child.is(actor) => Some(index),
                _ => {
                    debug_assert!(false, "running index {index} is out of date");
                    self.children.iter().position(|child| child.is(actor))
                }
            }
        });
        let Some(index) = found else {
            if self.host.watchdog.is(actor) {
                // The watchdog is linked to the root and never exits before
                // it; if it does, hung children go unnoticed: say so loudly.
                tracing::error!(target: "hale::healing", path = %self.path, %reason, "the tree's watchdog exited");
            }
            return Flow::Continue;
        };
        let child = &mut self.children[index];
        let reason = child.exited(reason);
        let will_restart = child.spec.restart.restarts_after(&reason);
        let temporary = child.spec.restart == Restart::Temporary;
        // Only a significant child's exit needs its id afterwards.
        let significant = child.spec.significant.then(|| child.spec.id.clone());
        self.host.events.emit(
            &child.path,
            HealingEventKind::ChildExited { reason, will_restart },
        );
        if will_restart {
            return self.restart(index).await;
        }
        if temporary {
            self.remove(index);
        }
        if let Some(id) = significant {
            return self.auto_shutdown_after(&id).await;
        }
        Flow::Continue
    }

    /// A restart that failed earlier is due again.
    pub(crate) async fn retry(&mut self, id: &str) -> Flow {
        match self.position(id) {
            Some(index) if matches!(self.children[index].slot(), Slot::Restarting) => {
                self.restart(index).await
            }
            // Terminated, deleted or restarted through the API meanwhile.
            _ => Flow::Continue,
        }
    }

    /// Restarts the child at `index` by the strategy, after counting the
    /// restart against the intensity.
    async fn restart(&mut self, index: usize) -> Flow {
        if !self.window.record(Instant::now()) {
            self.emit_own(HealingEventKind::IntensityExceeded {
                intensity: self.flags.intensity,
                period_ms: hale_util::millis(self.flags.period),
            });
            self.stop_all().await;
            return Flow::Shutdown;
        }
        let id = self.children[index].spec.id.clone();
        let group = self.stop_group(index).await;
        let Some(index) = self.position(&id) else {
            return Flow::Continue;
        };
        if let Some((delay, attempt)) = self.children[index].backoff_delay() {
            // The group stays stopped; the start phase runs when the delay is
            // up, unless something changed the child meanwhile.
            self.children[index].set(Slot::Restarting);
            let generation = self.children[index].generation();
            self.host.events.emit(
                &self.children[index].path,
                HealingEventKind::BackoffScheduled {
                    delay_ms: hale_util::millis(delay),
                    attempt,
                },
            );
            self.myself
                .send_after(delay, move || SupervisorMsg::DelayedRestart(id, generation));
            return Flow::Continue;
        }
        self.start_group(group).await;
        Flow::Continue
    }

    /// A backoff delay is up: start the group of the child `id`, unless the
    /// child left the `restarting` state meanwhile (generation changed).
    pub(crate) async fn delayed_restart(&mut self, id: &str, generation: u64) -> Flow {
        let Some(index) = self.position(id) else {
            return Flow::Continue;
        };
        let child = &self.children[index];
        if !matches!(child.slot(), Slot::Restarting) || child.generation() != generation {
            return Flow::Continue;
        }
        let group = self.group_of(index);
        self.start_group(group).await;
        Flow::Continue
    }

    /// The children the strategy restarts together with the one at `index`.
    fn group_of(&self, index: usize) -> Range<usize> {
        match self.flags.strategy {
            Strategy::OneForOne => index..index + 1,
            Strategy::OneForAll => 0..self.children.len(),
            Strategy::RestForOne => index..self.children.len(),
        }
    }

    /// The stop phase of a restart: stops the running children of the
    /// group of the child at `index` in reverse order and forgets the
    /// temporary ones. Returns the group as it stands after that.
    async fn stop_group(&mut self, index: usize) -> Range<usize> {
        let group = self.group_of(index);
        self.stop_range(group.clone(), StopCause::GroupRestart).await;
        let mut end = group.end;
        let mut index = group.start;
        while index < end {
            if self.children[index].spec.restart == Restart::Temporary {
                self.remove(index);
                end -= 1;
            } else {
                index += 1;
            }
        }
        group.start..end
    }

    /// The start phase of a restart: starts the children of `group` that do
    /// not run, in order. If a start fails, that child is marked restarting
    /// and retried through the mailbox; the children after it stay stopped
    /// until then.
    async fn start_group(&mut self, group: Range<usize>) {
        for index in group {
            if self.children[index].running().is_some() {
                continue;
            }
            if self.start_at(index, StartKind::Restart).await.is_err() {
                self.children[index].set(Slot::Restarting);
                let retry = SupervisorMsg::RetryRestart(self.children[index].spec.id.clone());
                // Fails only if this supervisor is already stopping.
                let _ = self.myself.send_message(retry);
                return;
            }
        }
    }

    async fn auto_shutdown_after(&mut self, significant_child: &str) -> Flow {
        let shut_down = match self.flags.auto_shutdown {
            AutoShutdown::Never => false,
            AutoShutdown::AnySignificant => true,
            AutoShutdown::AllSignificant => !self
                .children
                .iter()
                .any(|child| child.spec.significant && !matches!(child.slot(), Slot::Stopped)),
        };
        if !shut_down {
            return Flow::Continue;
        }
        self.emit_own(HealingEventKind::AutoShutdown {
            child: significant_child.to_owned(),
        });
        self.stop_all().await;
        Flow::Shutdown
    }

    // ----- the administration API ----------------------------------------

    pub(crate) async fn start_child(&mut self, spec: ChildSpec) -> Result<StartedChild, ChildError> {
        spec.validate_under(&self.path, self.flags.auto_shutdown)?;
        if let Some(index) = self.position(&spec.id) {
            let child = spec.id.clone();
            return Err(match self.children[index].running() {
                Some(actor) => ChildError::AlreadyStarted {
                    supervisor: self.path.clone(),
                    child,
                    actor: actor.clone(),
                },
                None => ChildError::AlreadyPresent {
                    supervisor: self.path.clone(),
                    child,
                },
            });
        }
        let temporary = spec.restart == Restart::Temporary;
        let child_path = self.path.child(&spec.id);
        self.children.push(Child::new(spec, child_path));
        let index = self.children.len() - 1;
        match self.start_at(index, StartKind::Fresh).await {
            Ok(Some(actor)) => Ok(StartedChild::Started(actor)),
            Ok(None) => {
                if temporary {
                    self.remove(index);
                }
                Ok(StartedChild::Ignored)
            }
            Err(cause) => {
                let child = self.children.remove(index);
                let id = child.spec.id.clone();
                child.retire();
                Err(self.start_failed(id, cause))
            }
        }
    }

    pub(crate) async fn terminate_child(&mut self, id: &str) -> Result<(), ChildError> {
        let index = self.find(id)?;
        self.stop_range(index..index + 1, StopCause::Terminated).await;
        // A child whose restart was pending is stopped too; its retry is then
        // ignored.
        self.children[index].set(Slot::Stopped);
        if self.children[index].spec.restart == Restart::Temporary {
            self.remove(index);
        }
        Ok(())
    }

    pub(crate) async fn restart_child(&mut self, id: &str) -> Result<StartedChild, ChildError> {
        let index = self.find(id)?;
        self.check_not_active(index)?;
        match self.start_at(index, StartKind::Fresh).await {
            Ok(Some(actor)) => Ok(StartedChild::Started(actor)),
            Ok(None) => Ok(StartedChild::Ignored),
            Err(cause) => Err(self.start_failed(id.to_owned(), cause)),
        }
    }

    pub(crate) fn delete_child(&mut self, id: &str) -> Result<(), ChildError> {
        let index = self.find(id)?;
        self.check_not_active(index)?;
        self.remove(index);
        Ok(())
    }

    pub(crate) fn which_children(&self) -> Vec<ChildInfo> {
        self.children.iter().map(Child::info).collect()
    }

    pub(crate) fn count_children(&self) -> ChildCounts {
        let mut counts = ChildCounts {
            specs: self.children.len(),
            ..ChildCounts::default()
        };
        for child in &self.children {
            match child.spec.kind {
                ChildKind::Worker => counts.workers += 1,
                ChildKind::Supervisor => counts.supervisors += 1,
            }
            if child.running().is_some() {
                counts.active += 1;
            }
        }
        counts
    }

    pub(crate) fn get_childspec(&self, id: &str) -> Result<ChildSpec, ChildError> {
        self.find(id).map(|index| self.children[index].spec.clone())
    }

    pub(crate) fn follow_child(&mut self, id: &str) -> Result<crate::child_ref::Subscription, ChildError> {
        let index = self.find(id)?;
        Ok(self.children[index].follow())
    }

    /// This supervisor's node of the health snapshot: its children, with
    /// each running child supervisor asked for its own subtree.
    pub(crate) async fn health(&self) -> NodeHealth {
        let mut children = Vec::with_capacity(self.children.len());
        for child in &self.children {
            let mut node = child.health();
            if let Some(actor) = child.running()
                && child.spec.kind == ChildKind::Supervisor
                && let Some(subtree) = nested_health(actor).await
            {
                node.children = subtree.children;
                node.state = subtree.state;
                node.intensity = subtree.intensity;
            }
            children.push(node);
        }
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
            children,
        }
    }

    // ----- helpers ---------------------------------------------------------

    async fn start_at(&mut self, index: usize, kind: StartKind) -> Result<Option<ActorCell>, StartError> {
        let started = self.children[index].start(&self.host, kind).await;
        if let Ok(Some(actor)) = &started {
            self.running.insert(actor.get_id(), index);
        }
        started
    }

    /// Stops the running children in `range`, last first, each by its
    /// shutdown rule, waiting for each to exit before the next.
    async fn stop_range(&mut self, range: Range<usize>, cause: StopCause) {
        for index in range.rev() {
            if let Some(actor) = self.children[index].running() {
                self.running.remove(&actor.get_id());
            }
            self.children[index].stop(&self.host.events, cause).await;
        }
    }

    fn remove(&mut self, index: usize) {
        let child = self.children.remove(index);
        // Forget the removed child's actor; the children after it moved
        // down by one.
        self.running.retain(|_, at| match (*at).cmp(&index) {
            Ordering::Less => true,
            Ordering::Equal => false,
            Ordering::Greater => {
                *at -= 1;
                true
            }
        });
        self.host.events.emit(&child.path, HealingEventKind::ChildRemoved);
        child.retire();
    }

    fn position(&self, id: &str) -> Option<usize> {
        self.children.iter().position(|child| child.spec.id == id)
    }

    fn find(&self, id: &str) -> Result<usize, ChildError> {
        self.position(id).ok_or_else(|| ChildError::NotFound {
            supervisor: self.path.clone(),
            child: id.to_owned(),
        })
    }

    /// Restart and delete are for children that neither run nor restart.
    fn check_not_active(&self, index: usize) -> Result<(), ChildError> {
        let supervisor = self.path.clone();
        let child = self.children[index].spec.id.clone();
        match self.children[index].slot() {
            Slot::Running(_) => Err(ChildError::Running { supervisor, child }),
            Slot::Restarting => Err(ChildError::Restarting { supervisor, child }),
            Slot::Stopped => Ok(()),
        }
    }

    fn start_failed(&self, child: String, cause: StartError) -> ChildError {
        ChildError::StartFailed {
            supervisor: self.path.clone(),
            child,
            cause,
        }
    }

    pub(crate) fn emit_own(&self, kind: HealingEventKind) {
        self.host.events.emit(&self.path, kind);
    }
}
