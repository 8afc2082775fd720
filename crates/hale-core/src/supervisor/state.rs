//! [`SupervisorState`]: the one supervisor state machine, for static and
//! dynamic supervisors alike.
//!
//! It decides what happens when a child exits (restart by the strategy,
//! counted against the intensity, or give up), and answers the
//! administration API. A dynamic supervisor is a guard in it, as
//! `simple_one_for_one` is in OTP's `supervisor.erl`: its children are
//! addressed by handle instead of id, its strategy is one_for_one, a child it
//! does not restart is removed instead of kept, and it stops its children in
//! parallel ([`Flavor`]).
//!
//! Everything here runs inside the supervisor actor's handlers, one at a
//! time, so no two decisions interleave. Stopping a child waits for its real
//! exit; the exit event that ractor delivers afterwards no longer matches a
//! running child and is ignored (OTP: an exit from an actor that is not a
//! current child is ignored).

use std::sync::Arc;
use std::time::Duration;

use futures::future::join_all;
use ractor::{ActorCell, ActorId, ActorRef};
use tokio::task::JoinSet;
use tokio::time::Instant;

use crate::child::{
    Child, ChildCounts, ChildInfo, ChildState, ChildTable, Host, Incarnation, Serial, StartKind,
    StartedChild, Subscription, report_stuck,
};
use crate::dynamic::{DynamicChild, DynamicChildId, DynamicStart};
use crate::error::{ChildError, SupervisorStartError};
use crate::events::{EventBus, HealingEventKind, StopCause};
use crate::exit::ExitReason;
use crate::health::{NodeHealth, nested_health};
use crate::in_place::Parked;
use crate::intensity::RestartWindow;
use crate::path::ChildPath;
use crate::spec::{AutoShutdown, ChildKind, ChildSpec, Restart, StartError, Strategy};
use crate::supervisor::{ChildAddress, Control, ExitSlot, SupervisorMsg};
use crate::watchdog::{StuckWork, Watchdog};

/// What the supervisor does after handling one event.
#[must_use]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Flow {
    /// Go on.
    Continue,
    /// All children are stopped; exit with reason `shutdown`.
    Shutdown,
}

/// Where static and dynamic supervisors differ: the one guard in the state
/// machine.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Flavor {
    /// Children in spec order, addressed by id, restarted by a strategy.
    Static {
        strategy: Strategy,
        auto_shutdown: AutoShutdown,
    },
    /// Children started at run time, addressed by handle: one_for_one, a
    /// child that is not restarted is removed, shutdown is parallel.
    Dynamic {
        max_children: Option<usize>,
        /// This incarnation's identity, part of every handle it gives out.
        identity: u64,
    },
}

impl Flavor {
    fn is_dynamic(self) -> bool {
        matches!(self, Self::Dynamic { .. })
    }
}

pub(crate) struct SupervisorState {
    pub(crate) myself: ActorRef<SupervisorMsg>,
    pub(crate) path: ChildPath,
    flavor: Flavor,
    pub(crate) host: Host,
    pub(crate) exit: Arc<ExitSlot>,
    children: ChildTable,
    window: RestartWindow,
    /// Delayed restarts waiting out their backoff, and waits for work that
    /// outlived its child: aborted with the state.
    tasks: JoinSet<()>,
}

impl SupervisorState {
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn new(
        myself: ActorRef<SupervisorMsg>,
        path: ChildPath,
        flavor: Flavor,
        window: RestartWindow,
        specs: Vec<ChildSpec>,
        events: EventBus,
        watchdog: Watchdog,
        exit: Arc<ExitSlot>,
    ) -> Self {
        let host = Host::new(&myself, events, watchdog);
        let mut children = ChildTable::default();
        for spec in specs {
            let child_path = path.child(&spec.id);
            children.push(Child::new(spec, child_path), true);
        }
        Self {
            myself,
            path,
            flavor,
            host,
            exit,
            children,
            window,
            tasks: JoinSet::new(),
        }
    }

    /// A control handle to this supervisor.
    pub(crate) fn control(&self) -> Control {
        Control {
            actor: self.myself.clone(),
            path: self.path.clone(),
            events: self.host.events.clone(),
            exit: Arc::clone(&self.exit),
            dynamic: self.flavor.is_dynamic(),
        }
    }

    // ----- boot and shutdown ---------------------------------------------

    /// Starts every child in spec order. If one fails, the ones already
    /// started are stopped in reverse order and the error names the child.
    pub(crate) async fn start_all(&mut self) -> Result<(), SupervisorStartError> {
        let serials = self.children.serials();
        for (position, &serial) in serials.iter().enumerate() {
            match self.start(serial, StartKind::Fresh).await {
                Ok(None) if self.is_temporary(serial) => self.remove(serial),
                Ok(_) => {}
                Err(cause) => {
                    self.stop_serials(&serials[..position], StopCause::SupervisorShutdown)
                        .await;
                    return Err(SupervisorStartError::ChildFailedToStart {
                        supervisor: self.path.clone(),
                        child: self.id_of(serial),
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

    /// Stops every running child: in reverse start order, one at a time, or
    /// for a dynamic supervisor all at once.
    pub(crate) async fn stop_all(&mut self) {
        self.release_parked(None).await;
        if self.flavor.is_dynamic() {
            self.children.forget_all_actors();
            let host = &self.host;
            join_all(
                self.children
                    .iter_mut()
                    .map(|child| child.stop(host, StopCause::SupervisorShutdown)),
            )
            .await;
        } else {
            let serials = self.children.serials();
            self.stop_serials(&serials, StopCause::SupervisorShutdown).await;
        }
    }

    // ----- exits and restarts --------------------------------------------

    /// A linked actor exited (or an in-place child failed and is `parked`).
    /// Ignored unless it is a current child.
    pub(crate) async fn on_exit(
        &mut self,
        actor: ActorId,
        reason: ExitReason,
        parked: Option<Parked>,
    ) -> Flow {
        let Some(serial) = self.children.take_actor(actor) else {
            if self.host.watchdog.is(actor) {
                // The watchdog is linked to the root and never exits before
                // it; if it does, hung children would go unnoticed from now
                // on. That is an escalation, not a log line.
                self.emit_own(HealingEventKind::WatchdogExited { reason });
                self.stop_all().await;
                return Flow::Shutdown;
            }
            return Flow::Continue;
        };
        let Some(child) = self.children.get_mut(serial) else {
            return Flow::Continue;
        };
        let (reason, lingering) = child.exited(reason, parked);
        if let Some(work) = lingering {
            // Its actor is gone but work it started runs on (the watchdog
            // killed a task blocked in synchronous code): count it stuck if
            // it outlives the kill wait, without holding the restart up.
            let (host, path, bound) = (
                self.host.clone(),
                child.path.clone(),
                child.spec.kill_wait_bound(),
            );
            self.tasks.spawn(async move {
                if !work.wait(bound).await {
                    report_stuck(&host, &path, StuckWork::Lingering(work));
                }
            });
        }
        let will_restart = child.spec.restart.restarts_after(&reason);
        let temporary = child.spec.restart == Restart::Temporary;
        // Only a significant child's exit needs its id afterwards.
        let significant = child.spec.significant.then(|| child.spec.id.clone());
        self.host.events.emit(
            &child.path,
            HealingEventKind::ChildExited { reason, will_restart },
        );
        if will_restart {
            return self.restart(serial).await;
        }
        self.release_parked(Some(serial)).await;
        // A dynamic child that is not restarted has no spec to keep.
        if temporary || self.flavor.is_dynamic() {
            self.remove(serial);
        }
        if let Some(id) = significant {
            return self.auto_shutdown_after(&id).await;
        }
        Flow::Continue
    }

    /// A restart that failed earlier is due again.
    pub(crate) async fn retry(&mut self, serial: Serial) -> Flow {
        match self.children.get(serial) {
            Some(child) if matches!(child.incarnation(), Incarnation::Restarting) => {
                self.restart(serial).await
            }
            // Terminated, deleted or restarted through the API meanwhile.
            _ => Flow::Continue,
        }
    }

    /// Restarts the child `serial` by the strategy, after counting the
    /// restart against the intensity.
    async fn restart(&mut self, serial: Serial) -> Flow {
        let now = Instant::now();
        // A child with a limit of its own is judged by it alone, and never
        // uses up its siblings' shared window.
        let own = self
            .children
            .get_mut(serial)
            .and_then(|child| child.record_own_restart(now));
        if own == Some(false) {
            self.release_parked(Some(serial)).await;
            self.give_up_on(serial);
            return Flow::Continue;
        }
        if own.is_none() && !self.window.record(now) {
            self.emit_own(HealingEventKind::IntensityExceeded {
                intensity: self.window.intensity(),
                period_ms: hale_util::millis(self.window.period()),
            });
            self.stop_all().await;
            return Flow::Shutdown;
        }
        let group = self.stop_group(serial).await;
        let Some(child) = self.children.get_mut(serial) else {
            return Flow::Continue;
        };
        if let Some((delay, attempt)) = child.backoff_delay() {
            // The group stays stopped; the start phase runs when the delay is
            // up, unless something changed the child meanwhile.
            child.set(Incarnation::Restarting);
            let generation = child.generation();
            self.host.events.emit(
                &child.path,
                HealingEventKind::BackoffScheduled {
                    delay_ms: hale_util::millis(delay),
                    attempt,
                },
            );
            self.schedule(delay, SupervisorMsg::DelayedRestart(serial, generation));
            return Flow::Continue;
        }
        self.start_group(&group).await;
        Flow::Continue
    }

    /// The child `serial` used up its own restart limit: it is not restarted
    /// (a dynamic child is removed, a static one keeps its spec, stopped),
    /// and whoever it answers to is told.
    fn give_up_on(&mut self, serial: Serial) {
        let Some(child) = self.children.get_mut(serial) else {
            return;
        };
        child.set(Incarnation::Stopped);
        let Some((max_restarts, within)) = child.spec.restart_limit else {
            return;
        };
        self.host.events.emit(
            &child.path,
            HealingEventKind::RestartLimitReached {
                max_restarts,
                within_ms: hale_util::millis(within),
            },
        );
        let given_up = child.spec.on_given_up.clone();
        let reason = child.last_exit().cloned().unwrap_or(ExitReason::Killed);
        let path = child.path.clone();
        if self.flavor.is_dynamic() {
            self.remove(serial);
        }
        if let Some(given_up) = given_up {
            given_up(&path, &reason);
        }
    }

    /// Sends `message` to this supervisor after `delay`, from a task the
    /// state owns (aborted if the supervisor stops first).
    fn schedule(&mut self, delay: Duration, message: SupervisorMsg) {
        // Reap the tasks that finished, so their count stays at the number
        // of children waiting.
        while self.tasks.try_join_next().is_some() {}
        let myself = self.myself.clone();
        self.tasks.spawn(async move {
            tokio::time::sleep(delay).await;
            // Fails only if the supervisor is stopping.
            let _ = myself.send_message(message);
        });
    }

    /// A backoff delay is up: start the group of the child `serial`, unless
    /// the child left the `restarting` state meanwhile (generation changed).
    pub(crate) async fn delayed_restart(&mut self, serial: Serial, generation: u64) -> Flow {
        let due = self.children.get(serial).is_some_and(|child| {
            matches!(child.incarnation(), Incarnation::Restarting) && child.generation() == generation
        });
        if due {
            let group = self.group_of(serial);
            self.start_group(&group).await;
        }
        Flow::Continue
    }

    /// The children the strategy restarts together with the child `serial`,
    /// in start order.
    fn group_of(&self, serial: Serial) -> Vec<Serial> {
        match self.flavor {
            Flavor::Static {
                strategy: Strategy::OneForAll,
                ..
            } => self.children.serials(),
            Flavor::Static {
                strategy: Strategy::RestForOne,
                ..
            } => self.children.serials_from(serial..),
            Flavor::Static {
                strategy: Strategy::OneForOne,
                ..
            }
            | Flavor::Dynamic { .. } => vec![serial],
        }
    }

    /// The stop phase of a restart: stops the running children of the
    /// group of the child `serial` in reverse order and forgets the
    /// temporary ones. Returns the group as it stands after that.
    async fn stop_group(&mut self, serial: Serial) -> Vec<Serial> {
        let mut group = self.group_of(serial);
        self.stop_serials(&group, StopCause::GroupRestart).await;
        let temporaries: Vec<Serial> = group
            .iter()
            .copied()
            .filter(|&member| self.is_temporary(member))
            .collect();
        for member in temporaries {
            self.remove(member);
        }
        group.retain(|&member| self.children.get(member).is_some());
        group
    }

    /// The start phase of a restart: starts the children of `group` that do
    /// not run, in order. If a start fails, that child is marked restarting
    /// and retried through the mailbox; the children after it stay stopped
    /// until then.
    async fn start_group(&mut self, group: &[Serial]) {
        for &serial in group {
            if self
                .children
                .get(serial)
                .is_none_or(|child| child.actor().is_some())
            {
                continue;
            }
            match self.start(serial, StartKind::Restart).await {
                Ok(Some(_)) => {}
                // A dynamic child whose restart answers ignore is dropped; a
                // static one keeps its spec, stopped.
                Ok(None) => {
                    if self.flavor.is_dynamic() {
                        self.remove(serial);
                    }
                }
                Err(_) => {
                    if let Some(child) = self.children.get_mut(serial) {
                        child.set(Incarnation::Restarting);
                    }
                    // Fails only if this supervisor is already stopping.
                    let _ = self.myself.send_message(SupervisorMsg::RetryRestart(serial));
                    return;
                }
            }
        }
    }

    async fn auto_shutdown_after(&mut self, significant_child: &str) -> Flow {
        let Flavor::Static { auto_shutdown, .. } = self.flavor else {
            return Flow::Continue;
        };
        let shut_down = match auto_shutdown {
            AutoShutdown::Never => false,
            AutoShutdown::AnySignificant => true,
            AutoShutdown::AllSignificant => !self
                .children
                .iter()
                .any(|child| child.spec.significant && !matches!(child.incarnation(), Incarnation::Stopped)),
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

    /// `start_child` on a static supervisor (on a dynamic one: a child with
    /// no key).
    pub(crate) async fn start_child(&mut self, spec: ChildSpec) -> Result<StartedChild, ChildError> {
        let Flavor::Static { auto_shutdown, .. } = self.flavor else {
            return match self.start_dynamic(spec, None).await? {
                DynamicStart::Started(DynamicChild {
                    actor: Some(actor), ..
                }) => Ok(StartedChild::Started(actor)),
                _ => Ok(StartedChild::Ignored),
            };
        };
        spec.validate_under(&self.path, auto_shutdown)?;
        if let Some(serial) = self.children.by_id(&spec.id) {
            let child = spec.id.clone();
            return Err(match self.children.get(serial).and_then(Child::actor) {
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
        let serial = self.children.push(Child::new(spec, child_path), true);
        match self.start(serial, StartKind::Fresh).await {
            Ok(Some(actor)) => Ok(StartedChild::Started(actor)),
            Ok(None) => {
                if temporary {
                    self.remove(serial);
                }
                Ok(StartedChild::Ignored)
            }
            Err(cause) => {
                // Discarded, as OTP does: it never ran, so no removal event.
                let id = self.id_of(serial);
                self.children.remove(serial);
                Err(self.start_failed(id, cause))
            }
        }
    }

    /// `start_child` / `start_unique` on a dynamic supervisor.
    pub(crate) async fn start_dynamic(
        &mut self,
        spec: ChildSpec,
        key: Option<String>,
    ) -> Result<DynamicStart, ChildError> {
        let Flavor::Dynamic {
            max_children,
            identity,
        } = self.flavor
        else {
            return Err(self.wrong_kind(&spec.id));
        };
        spec.validate_under(&self.path, AutoShutdown::Never)?;
        if let Some(existing) = key.as_deref().and_then(|key| self.children.by_key(key))
            && let Some(child) = self.children.get(existing)
            && let Some((id, _)) = &child.dynamic
        {
            let running = DynamicChild {
                id: *id,
                actor: child.actor().cloned(),
            };
            if let Some(key) = key {
                self.host
                    .events
                    .emit(&child.path, HealingEventKind::DuplicateRefused { key });
            }
            return Ok(DynamicStart::AlreadyRunning(running));
        }
        if let Some(max) = max_children
            && self.children.len() >= max
        {
            return Err(ChildError::MaxChildren {
                supervisor: self.path.clone(),
                max,
            });
        }
        let id = DynamicChildId::new(identity, self.children.next_serial());
        let path = self.path.child(&format!("{}{id}", spec.id));
        let mut child = Child::new(spec, path);
        child.dynamic = Some((id, key));
        let serial = self.children.push(child, false);
        match self.start(serial, StartKind::Fresh).await {
            Ok(Some(actor)) => Ok(DynamicStart::Started(DynamicChild {
                id,
                actor: Some(actor),
            })),
            Ok(None) => {
                self.children.remove(serial);
                Ok(DynamicStart::Ignored)
            }
            Err(cause) => {
                let spec_id = self.id_of(serial);
                self.children.remove(serial);
                Err(self.start_failed(spec_id, cause))
            }
        }
    }

    pub(crate) async fn terminate_child(&mut self, address: ChildAddress) -> Result<(), ChildError> {
        let serial = match address {
            ChildAddress::Id(id) => self.find(&id)?,
            ChildAddress::Dynamic(id) => match self.own_dynamic(id)? {
                Some(serial) => serial,
                // A child of this supervisor that already exited: OTP answers
                // ok for a pid that is no longer alive.
                None => return Ok(()),
            },
        };
        self.stop_serials(&[serial], StopCause::Terminated).await;
        let Some(child) = self.children.get_mut(serial) else {
            return Ok(());
        };
        // A child whose restart was pending is stopped too; its retry is then
        // ignored.
        child.set(Incarnation::Stopped);
        if let Some(parked) = child.take_parked() {
            parked.release(child.spec.kill_wait_bound()).await;
        }
        if child.spec.restart == Restart::Temporary || self.flavor.is_dynamic() {
            self.remove(serial);
        }
        Ok(())
    }

    pub(crate) async fn restart_child(&mut self, id: &str) -> Result<StartedChild, ChildError> {
        let serial = self.find(id)?;
        self.check_not_active(serial)?;
        match self.start(serial, StartKind::Fresh).await {
            Ok(Some(actor)) => Ok(StartedChild::Started(actor)),
            Ok(None) => Ok(StartedChild::Ignored),
            Err(cause) => Err(self.start_failed(id.to_owned(), cause)),
        }
    }

    pub(crate) fn delete_child(&mut self, id: &str) -> Result<(), ChildError> {
        let serial = self.find(id)?;
        self.check_not_active(serial)?;
        self.remove(serial);
        Ok(())
    }

    pub(crate) fn which_children(&self) -> Vec<ChildInfo> {
        self.children.iter().map(Child::info).collect()
    }

    pub(crate) fn count_children(&self) -> ChildCounts {
        let mut counts = ChildCounts {
            specs: self.children.len(),
            active: self.children.running_count(),
            ..ChildCounts::default()
        };
        for child in self.children.iter() {
            match child.spec.kind {
                ChildKind::Worker => counts.workers += 1,
                ChildKind::Supervisor => counts.supervisors += 1,
            }
        }
        counts
    }

    pub(crate) fn get_childspec(&self, id: &str) -> Result<ChildSpec, ChildError> {
        let serial = self.find(id)?;
        self.children
            .get(serial)
            .map(|child| child.spec.clone())
            .ok_or_else(|| self.not_found(id))
    }

    pub(crate) fn follow_child(
        &mut self,
        address: ChildAddress,
    ) -> Result<(ChildPath, Subscription), ChildError> {
        let serial = match address {
            ChildAddress::Id(id) => self.find(&id)?,
            ChildAddress::Dynamic(id) => self
                .own_dynamic(id)?
                .ok_or_else(|| self.not_found(&id.to_string()))?,
        };
        match self.children.get_mut(serial) {
            Some(child) => Ok((child.path.clone(), child.follow())),
            None => Err(self.not_found(&serial.to_string())),
        }
    }

    /// This supervisor's node of the health snapshot: its children, with
    /// each running child supervisor asked for its own subtree.
    pub(crate) async fn health(&self) -> NodeHealth {
        let mut children = Vec::with_capacity(self.children.len());
        for child in self.children.iter() {
            let mut node = child.health();
            if let Some(actor) = child.actor()
                && child.spec.kind == ChildKind::Supervisor
                && let Some(subtree) = nested_health(actor).await
            {
                node.children = subtree.children;
                node.state = subtree.state;
                node.intensity = subtree.intensity;
                node.restarts_of_removed = subtree.restarts_of_removed;
            }
            children.push(node);
        }
        NodeHealth {
            path: self.path.clone(),
            kind: ChildKind::Supervisor,
            state: ChildState::Running,
            // The root is unready while the runtime is starved.
            ready: self.host.watchdog.ready_at(&self.path),
            restarts: 0,
            last_exit: None,
            node: None,
            heartbeat_age_ms: None,
            recent_restarts_ms: Vec::new(),
            intensity: Some(self.window.snapshot(Instant::now())),
            #[cfg(target_os = "linux")]
            process: None,
            restarts_of_removed: self.children.restarts_of_removed(),
            children,
        }
    }

    // ----- helpers ---------------------------------------------------------

    async fn start(&mut self, serial: Serial, kind: StartKind) -> Result<Option<ActorCell>, StartError> {
        let Some(child) = self.children.get_mut(serial) else {
            return Ok(None);
        };
        let started = child.start(&self.host, kind).await;
        if let Ok(Some(actor)) = &started {
            self.children.running(serial, actor);
        }
        started
    }

    /// Stops the running children among `serials`, last first, each by its
    /// shutdown rule, waiting for each to exit before the next (OTP's
    /// order). Brutal-kill children next to each other in that order are
    /// the exception: they are killed together and then all waited for,
    /// since none runs cleanup that could see the order in which its
    /// brutal-kill siblings die. A child with a shutdown timeout still finds
    /// every later sibling gone and every earlier one running.
    async fn stop_serials(&mut self, serials: &[Serial], cause: StopCause) {
        let mut brutal = Vec::new();
        for &serial in serials.iter().rev() {
            let Some(child) = self.children.get(serial) else {
                continue;
            };
            if child.actor().is_none() {
                continue;
            }
            if child.is_brutal_kill() {
                brutal.push(serial);
                continue;
            }
            self.kill_together(&mut brutal, cause).await;
            self.children.forget_actor(serial);
            if let Some(child) = self.children.get_mut(serial) {
                child.stop(&self.host, cause).await;
            }
        }
        self.kill_together(&mut brutal, cause).await;
    }

    /// Kills the brutal-kill children `serials` (in reverse start order) all
    /// at once, waits for all of them, and records their stops in that
    /// order.
    async fn kill_together(&mut self, serials: &mut Vec<Serial>, cause: StopCause) {
        if serials.is_empty() {
            return;
        }
        let mut stopping = Vec::with_capacity(serials.len());
        for &serial in serials.iter() {
            self.children.forget_actor(serial);
            if let Some(stop) = self
                .children
                .get_mut(serial)
                .and_then(|c| c.begin_stop(&self.host))
            {
                stopping.push((serial, stop));
            }
        }
        let outcomes = join_all(
            stopping
                .into_iter()
                .map(|(serial, stop)| async move { (serial, stop.run().await) }),
        )
        .await;
        for (serial, stopped) in outcomes {
            if let Some(child) = self.children.get_mut(serial) {
                child.end_stop(&self.host, cause, stopped);
            }
        }
        serials.clear();
    }

    /// Lets go of the parked in-place actors of the child `only` (or of
    /// every child), which will not be resumed, and waits until each has
    /// ended. They exited already as far as the tree is concerned.
    async fn release_parked(&mut self, only: Option<Serial>) {
        let serials = match only {
            Some(serial) => vec![serial],
            None => self.children.serials(),
        };
        for serial in serials {
            if let Some(child) = self.children.get_mut(serial)
                && let Some(parked) = child.take_parked()
            {
                parked.release(child.spec.kill_wait_bound()).await;
            }
        }
    }

    /// Removes a child's spec for good and says so; its references learn
    /// that it is gone.
    fn remove(&mut self, serial: Serial) {
        if let Some(child) = self.children.remove(serial) {
            self.host.events.emit(&child.path, HealingEventKind::ChildRemoved);
            if child.node().is_some() {
                self.host.events.place(&child.path, None);
            }
        }
    }

    fn is_temporary(&self, serial: Serial) -> bool {
        self.children
            .get(serial)
            .is_some_and(|child| child.spec.restart == Restart::Temporary)
    }

    fn id_of(&self, serial: Serial) -> String {
        self.children
            .get(serial)
            .map(|child| child.spec.id.clone())
            .unwrap_or_default()
    }

    /// The child `id` of a static supervisor.
    fn find(&self, id: &str) -> Result<Serial, ChildError> {
        match self.flavor {
            Flavor::Static { .. } => self.children.by_id(id).ok_or_else(|| self.not_found(id)),
            // A dynamic supervisor's children are addressed by handle.
            Flavor::Dynamic { .. } => Err(self.not_found(id)),
        }
    }

    /// The serial of one of this incarnation's dynamic children (`None` if
    /// it is gone), or not-found for a handle from any other supervisor.
    fn own_dynamic(&self, id: DynamicChildId) -> Result<Option<Serial>, ChildError> {
        match self.flavor {
            Flavor::Dynamic { identity, .. } if id.supervisor() == identity => {
                Ok(self.children.get(id.serial()).map(|_| id.serial()))
            }
            _ => Err(self.not_found(&id.to_string())),
        }
    }

    /// Restart and delete are for children that neither run nor restart.
    fn check_not_active(&self, serial: Serial) -> Result<(), ChildError> {
        let supervisor = self.path.clone();
        let child = self.id_of(serial);
        match self.children.get(serial).map(Child::incarnation) {
            Some(Incarnation::Running(_)) => Err(ChildError::Running { supervisor, child }),
            Some(Incarnation::Restarting) => Err(ChildError::Restarting { supervisor, child }),
            _ => Ok(()),
        }
    }

    fn not_found(&self, child: &str) -> ChildError {
        ChildError::NotFound {
            supervisor: self.path.clone(),
            child: child.to_owned(),
        }
    }

    fn wrong_kind(&self, child: &str) -> ChildError {
        ChildError::WrongMessageType {
            supervisor: self.path.clone(),
            child: child.to_owned(),
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
