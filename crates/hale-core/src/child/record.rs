//! [`Child`]: one child as its supervisor holds it: the spec and what runs
//! of it, and the steps of its life (start, stop, exit) with their events.

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::Duration;

use ractor::{ActorCell, ActorId, ActorStatus};
use tokio::time::Instant;

use crate::backoff::BackoffState;
use crate::child::{
    ChildInfo, ChildState, Host, Incarnation, LingerSlot, Lingering, Publisher, Subscription,
};
use crate::dynamic::DynamicChildId;
use crate::events::{HealingEventKind, StopCause, StopOutcome};
use crate::exit::ExitReason;
use crate::health::{NodeHealth, RESTART_HISTORY};
use crate::in_place::{FreshCause, Gone, InPlaceStart, Parked};
use crate::intensity::RestartWindow;
use crate::path::ChildPath;
use crate::shutdown::{Shutdown, stop_child};
use crate::spec::{ChildSpec, StartContext, StartError, StartOutcome};
use crate::watchdog::{BeatMode, Heartbeat, Registration, StuckWork, Watch, Watchdog};

/// The reason given to a child that died before its supervisor could link
/// it (a start function that spawned it unlinked): its true reason is lost,
/// so it counts as abnormal.
pub(crate) const EXITED_BEFORE_LINK: &str = "exited before its supervisor could link it";

/// Counts a child whose work would not end, says so, and hands the work to
/// the watchdog, which holds it until it ends (weighing the threads the
/// stuck tasks hold against the runtime's workers).
pub(crate) fn report_stuck(host: &Host, path: &ChildPath, work: StuckWork) {
    let stuck_total = host.watchdog.stats().record_stuck();
    host.events
        .emit(path, HealingEventKind::StuckTask { stuck_total });
    host.watchdog.track_stuck(work);
}

/// Why a child is being started, which decides the event it gets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum StartKind {
    /// At boot or through the API.
    Fresh,
    /// By the supervisor, after an exit.
    Restart,
}

/// A child spec with its current incarnation and restart count. Every change
/// of incarnation is published to the child's [`ChildRef`](crate::ChildRef)s.
pub(crate) struct Child {
    pub(crate) spec: ChildSpec,
    pub(crate) path: ChildPath,
    /// For a child of a dynamic supervisor: its handle and unique key.
    pub(crate) dynamic: Option<(DynamicChildId, Option<String>)>,
    incarnation: Incarnation,
    pub(crate) restarts: u32,
    /// Starts so far, by the supervisor or through the API.
    starts: u64,
    /// Work the current incarnation runs outside its actor.
    lingering: Option<Lingering>,
    /// Made on the first [`follow`](Self::follow): a child no reference
    /// follows (most dynamic children) does not pay for a watch channel.
    publisher: Option<Publisher>,
    /// Bumped on every change of incarnation, so a delayed restart scheduled
    /// for an earlier state can tell it is stale.
    generation: u64,
    heartbeat: Option<Heartbeat>,
    watching: Option<(Watchdog, u64)>,
    started_at: Instant,
    last_exit: Option<ExitReason>,
    /// The node its latest incarnation ran on, when that was another
    /// machine's (kept after an exit: the exit happened there).
    node: Option<String>,
    /// When the supervisor last restarted it (Unix ms), newest last, at most
    /// [`RESTART_HISTORY`].
    recent_restarts_ms: VecDeque<u64>,
    /// Boxed: its seeded RNG is most of a `Child`'s size, and few children
    /// have a backoff policy.
    backoff: Option<Box<BackoffState>>,
    /// The child's own restart window, for a child with its own limit.
    own_window: Option<Box<RestartWindow>>,
    /// An in-place child that failed and waits for its restart.
    parked: Option<Parked>,
    /// Why an in-place child's next restart must spawn it fresh.
    fresh_because: Option<FreshCause>,
}

impl Child {
    pub(crate) fn new(spec: ChildSpec, path: ChildPath) -> Self {
        Self {
            spec,
            path,
            dynamic: None,
            incarnation: Incarnation::Stopped,
            restarts: 0,
            starts: 0,
            lingering: None,
            publisher: None,
            generation: 0,
            heartbeat: None,
            watching: None,
            started_at: Instant::now(),
            last_exit: None,
            node: None,
            recent_restarts_ms: VecDeque::new(),
            backoff: None,
            own_window: None,
            parked: None,
            fresh_because: None,
        }
    }

    pub(crate) fn generation(&self) -> u64 {
        self.generation
    }

    pub(crate) fn incarnation(&self) -> &Incarnation {
        &self.incarnation
    }

    pub(crate) fn set(&mut self, incarnation: Incarnation) {
        if !matches!(incarnation, Incarnation::Running(_)) {
            self.unwatch();
        }
        self.generation += 1;
        self.incarnation = incarnation;
        if let Some(publisher) = &self.publisher {
            publisher.publish(self.incarnation.clone());
        }
    }

    /// Calls the start function with the host's supervisor as the parent.
    /// Returns the running actor, or `None` if the start answered ignore;
    /// emits the matching event.
    pub(crate) async fn start(
        &mut self,
        host: &Host,
        kind: StartKind,
    ) -> Result<Option<ActorCell>, StartError> {
        let heartbeat = Heartbeat::on_clock(host.watchdog.clock());
        let linger = Arc::new(LingerSlot::default());
        self.starts += 1;
        let ctx = StartContext {
            supervisor: host.supervisor.clone(),
            path: self.path.clone(),
            events: host.events.clone(),
            watchdog: host.watchdog.clone(),
            heartbeat: heartbeat.clone(),
            per_message: self
                .spec
                .watch
                .as_deref()
                .is_some_and(|watch| watch.mode == BeatMode::PerMessage),
            linger: Arc::clone(&linger),
            restarts: self.restarts + u32::from(kind == StartKind::Restart),
            incarnation: self.starts,
            in_place: self.spec.restarts_in_place().then(|| InPlaceStart {
                notice: host.park_notice.clone(),
                sink: self.spec.in_place.sink.clone(),
            }),
        };
        let mut resumed = false;
        let started = match self.parked.take() {
            Some(parked) => match parked.resume(heartbeat.clone(), self.starts).await {
                Ok(outcome) => {
                    resumed = true;
                    outcome.map(StartOutcome::Started)
                }
                Err(Gone) => {
                    // Killed while it waited: nothing left to resume.
                    self.fresh_because = Some(FreshCause::Killed);
                    self.spec.start(ctx).await
                }
            },
            None => self.spec.start(ctx).await,
        };
        if resumed && started.is_err() {
            self.fresh_because = Some(FreshCause::StartFailed);
        }
        // Whatever the outcome, work the start function handed tokens to is
        // this child's to wait for.
        self.lingering = linger.take();
        let started = started.map(|outcome| match outcome {
            StartOutcome::Started(actor) => (Some(actor), None),
            StartOutcome::StartedOn { actor, node } => (Some(actor), Some(node)),
            StartOutcome::Ignore => (None, None),
        });
        let (result, event) = match started {
            Ok((Some(actor), node)) => {
                // The bus is told only of a change: local children, the
                // usual case, never take its lock.
                if self.node != node {
                    host.events.place(&self.path, node.clone());
                    self.node = node;
                }
                self.running(host, &actor, heartbeat);
                let event = match kind {
                    StartKind::Fresh => HealingEventKind::ChildStarted,
                    StartKind::Restart => {
                        self.announce_restart_mode(host, resumed);
                        self.restarts += 1;
                        if self.recent_restarts_ms.len() == RESTART_HISTORY {
                            self.recent_restarts_ms.pop_front();
                        }
                        self.recent_restarts_ms.push_back(hale_util::unix_millis());
                        HealingEventKind::ChildRestarted {
                            restarts: self.restarts,
                        }
                    }
                };
                (Ok(Some(actor)), event)
            }
            Ok((None, _)) => {
                self.set(Incarnation::Stopped);
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
        host.events.emit(&self.path, event);
        result
    }

    /// Records a freshly started `actor`: links it, watches it if the spec
    /// asks, and publishes it.
    fn running(&mut self, host: &Host, actor: &ActorCell, heartbeat: Heartbeat) {
        // A no-op for actors spawned linked, as the contract asks; it
        // rescues start functions that forgot to link.
        actor.link(host.supervisor.clone());
        if actor.get_status() == ActorStatus::Stopped {
            // It died before the link existed, so no exit will be reported:
            // report one. (A linked child that is Stopped here reported its
            // exit already, on the supervision port, which the supervisor
            // reads first; this notice then finds it gone and is ignored.)
            let reason = ExitReason::Other(EXITED_BEFORE_LINK.to_owned());
            (host.exit_notice)(actor.get_id(), reason);
        }
        self.set(Incarnation::Running(actor.clone()));
        self.started_at = Instant::now();
        if let Some(watch) = &self.spec.watch {
            let id = host.watchdog.watch(Registration {
                path: self.path.clone(),
                actor: actor.clone(),
                heartbeat: heartbeat.clone(),
                watch: Watch::clone(watch),
                kill_wait: self.spec.kill_wait_bound(),
                exit_notice: host.exit_notice.clone(),
            });
            self.watching = Some((host.watchdog.clone(), id));
        }
        self.heartbeat = Some(heartbeat);
    }

    /// Stops the child if it runs, by its shutdown rule, and waits until it
    /// has exited and the work it lingers on has ended (or declares it
    /// stuck); emits the outcome.
    pub(crate) async fn stop(&mut self, host: &Host, cause: StopCause) {
        let Some(stopping) = self.begin_stop(host) else {
            return;
        };
        let stopped = stopping.run().await;
        self.end_stop(host, cause, stopped);
    }

    /// The first step of a stop, which needs the child: takes what must be
    /// waited for. A brutal-kill child is unlinked here, as OTP's shutdown
    /// unlinks before it kills: its exit is the supervisor's own doing, and
    /// no exit report comes back to be handled and turned away.
    pub(crate) fn begin_stop(&mut self, host: &Host) -> Option<Stopping> {
        let actor = self.actor().cloned()?;
        // A slow shutdown is not a hang.
        self.unwatch();
        let shutdown = self.spec.shutdown_rule();
        if shutdown == Shutdown::BrutalKill {
            actor.unlink(host.supervisor.clone());
        }
        Some(Stopping {
            actor,
            shutdown,
            kill_wait: self.spec.kill_wait_bound(),
            lingering: self.lingering.take(),
        })
    }

    /// The last step of a stop: records it and emits its outcome.
    pub(crate) fn end_stop(
        &mut self,
        host: &Host,
        cause: StopCause,
        (outcome, stuck): (StopOutcome, Option<StuckWork>),
    ) {
        self.set(Incarnation::Stopped);
        if cause == StopCause::GroupRestart && self.spec.restarts_in_place() {
            self.fresh_because = Some(FreshCause::GroupRestart);
        }
        if let Some(work) = stuck {
            report_stuck(host, &self.path, work);
        }
        host.events
            .emit(&self.path, HealingEventKind::ChildStopped { cause, outcome });
    }

    /// Whether this child is stopped by a kill, with no cleanup it could
    /// observe its siblings from.
    pub(crate) fn is_brutal_kill(&self) -> bool {
        self.spec.shutdown_rule() == Shutdown::BrutalKill
    }

    /// Records that the running incarnation exited by itself, and returns the
    /// reason to act on: `hung` if the watchdog flagged it, whatever ractor
    /// reported (a kill, or the `hung` stop it asked for). Work the
    /// incarnation lingers on and that has not ended yet is handed back, to
    /// be watched without holding the supervisor up.
    ///
    /// An in-place child that failed hands over its `parked` actor, which
    /// the next restart resumes; without one, that restart spawns it fresh.
    pub(crate) fn exited(
        &mut self,
        reported: ExitReason,
        parked: Option<Parked>,
    ) -> (ExitReason, Option<Lingering>) {
        let hung = self.heartbeat.as_ref().is_some_and(Heartbeat::is_hung);
        let reason = if hung { ExitReason::Hung } else { reported };
        if parked.is_none() && self.spec.restarts_in_place() {
            self.fresh_because = Some(FreshCause::of_exit(&reason));
        }
        self.parked = parked;
        self.last_exit = Some(reason.clone());
        self.set(Incarnation::Stopped);
        let lingering = self.lingering.take().filter(|work| !work.ended());
        (reason, lingering)
    }

    /// Says how an in-place child is being restarted: on its own mailbox,
    /// or fresh and why.
    fn announce_restart_mode(&mut self, host: &Host, resumed: bool) {
        let fresh_because = self.fresh_because.take();
        if !self.spec.restarts_in_place() {
            return;
        }
        let incarnation = self.starts;
        let event = if resumed {
            HealingEventKind::RestartedInPlace { incarnation }
        } else {
            HealingEventKind::FreshRestart {
                cause: fresh_because.unwrap_or(FreshCause::Exited),
                incarnation,
            }
        };
        host.events.emit(&self.path, event);
    }

    /// Takes the parked actor of an in-place child that will not be
    /// resumed: the caller releases it.
    pub(crate) fn take_parked(&mut self) -> Option<Parked> {
        self.parked.take()
    }

    /// The delay before the next restart, if the child has a backoff policy.
    pub(crate) fn backoff_delay(&mut self) -> Option<(Duration, u32)> {
        let policy = self.spec.backoff.as_ref()?;
        let ran_for = Instant::now().saturating_duration_since(self.started_at);
        let state = self
            .backoff
            .get_or_insert_with(|| Box::new(BackoffState::new(policy.clone())));
        Some(state.next_delay(ran_for))
    }

    /// Counts a restart against the child's own limit: `None` if it has
    /// none (the supervisor's intensity decides), `Some(false)` when the
    /// limit is used up.
    pub(crate) fn record_own_restart(&mut self, now: Instant) -> Option<bool> {
        let (max_restarts, within) = self.spec.restart_limit?;
        let window = self
            .own_window
            .get_or_insert_with(|| Box::new(RestartWindow::new(max_restarts, within)));
        Some(window.record(now))
    }

    /// Why its last incarnation exited, if one did.
    pub(crate) fn last_exit(&self) -> Option<&ExitReason> {
        self.last_exit.as_ref()
    }

    fn unwatch(&mut self) {
        if let Some((watchdog, id)) = self.watching.take() {
            watchdog.unwatch(id);
        }
    }

    /// What the child is doing now.
    pub(crate) fn state(&self) -> ChildState {
        let heartbeat = self.heartbeat.as_ref();
        match (&self.incarnation, heartbeat) {
            (Incarnation::Running(_), Some(beat)) if beat.is_hung() => ChildState::Hung,
            (Incarnation::Running(_), Some(beat)) if beat.is_degraded() => ChildState::Degraded,
            (Incarnation::Running(_), _) => ChildState::Running,
            (Incarnation::Restarting, _) => ChildState::Restarting,
            (Incarnation::Stopped | Incarnation::Removed, _) => ChildState::Stopped,
        }
    }

    /// The node its latest incarnation ran on, for a child on another
    /// machine.
    pub(crate) fn node(&self) -> Option<&str> {
        self.node.as_deref()
    }

    /// This child as a node of the health snapshot (without children).
    pub(crate) fn health(&self) -> NodeHealth {
        let heartbeat = self.heartbeat.as_ref().filter(|_| self.actor().is_some());
        NodeHealth {
            path: self.path.clone(),
            kind: self.spec.kind,
            state: self.state(),
            ready: self.actor().is_some() && heartbeat.is_none_or(Heartbeat::is_ready),
            restarts: self.restarts,
            last_exit: self.last_exit.clone(),
            node: self.node.clone(),
            heartbeat_age_ms: self
                .spec
                .watch
                .as_ref()
                .and(heartbeat)
                .map(|beat| hale_util::millis(beat.age())),
            recent_restarts_ms: self.recent_restarts_ms.iter().copied().collect(),
            intensity: None,
            #[cfg(target_os = "linux")]
            process: self.spec.process.as_ref().map(crate::health::ProcessHealth::of),
            restarts_of_removed: 0,
            children: Vec::new(),
        }
    }

    /// A new subscription to this child's incarnations.
    pub(crate) fn follow(&mut self) -> Subscription {
        let current = self.incarnation.clone();
        self.publisher
            .get_or_insert_with(|| Publisher::new(current))
            .subscribe()
    }

    /// The running actor, if one runs.
    pub(crate) fn actor(&self) -> Option<&ActorCell> {
        self.incarnation.actor()
    }

    pub(crate) fn is(&self, actor: ActorId) -> bool {
        self.actor().is_some_and(|cell| cell.get_id() == actor)
    }

    pub(crate) fn info(&self) -> ChildInfo {
        let (dynamic_id, key) = match &self.dynamic {
            Some((id, key)) => (Some(*id), key.clone()),
            None => (None, None),
        };
        ChildInfo {
            id: self.spec.id.clone(),
            path: self.path.clone(),
            state: self.state(),
            actor: self.actor().cloned(),
            kind: self.spec.kind,
            restart: self.spec.restart,
            restarts: self.restarts,
            dynamic_id,
            key,
        }
    }
}

/// A stop in progress: what it waits for, owned, so that the stops of
/// several brutal-kill siblings can run at once.
pub(crate) struct Stopping {
    actor: ActorCell,
    shutdown: Shutdown,
    kill_wait: Duration,
    lingering: Option<Lingering>,
}

impl Stopping {
    /// Stops the actor by its shutdown rule and waits until it has exited
    /// and the work it lingers on has ended, or declares it stuck and hands
    /// back what is stuck (for the watchdog to hold until it returns).
    pub(crate) async fn run(self) -> (StopOutcome, Option<StuckWork>) {
        let outcome = stop_child(&self.actor, self.shutdown, self.kill_wait).await;
        if outcome == StopOutcome::Stuck {
            return (outcome, Some(StuckWork::Actor(self.actor)));
        }
        match self.lingering {
            Some(work) if !work.wait(self.kill_wait).await => {
                (StopOutcome::Stuck, Some(StuckWork::Lingering(work)))
            }
            _ => (outcome, None),
        }
    }
}
