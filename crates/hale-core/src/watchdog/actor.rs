//! The watchdog actor: deadlines in millisecond buckets, checked lazily.
//!
//! Beats never reach the watchdog; it keeps one entry per watched child at
//! the child's last known deadline. When an entry comes due, it reads the
//! child's heartbeat: a child that beat since is put back at its new
//! deadline; one that did not is hung. So the cost is one entry per child
//! per timeout period, whatever the beat rate, and a hung child is found at
//! its deadline (rounded up to the next millisecond), not at the next scan.
//!
//! Entries live in buckets of one millisecond (`due.rs`). Under per-message
//! watching a handler is stamped with the tree's coarse clock, which this
//! actor advances (`coarse.rs`); a handler is judged from the latest moment
//! it can have begun, so it is never declared hung early.
//!
//! Every run moves the watchdog's pulse (`pulse.rs`), which its backstop
//! thread reads to tell a starved watchdog from an idle one, and the
//! watchdog holds the tasks counted stuck until they end, weighing them
//! against the runtime's workers (`stuck.rs`).

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use hale_util::deadline_after;
use ractor::{Actor, ActorCell, ActorId, ActorProcessingErr, ActorRef};
use tokio::task::JoinSet;
use tokio::time::Instant;

use crate::events::{EventBus, HealingEventKind};
use crate::exit::{ExitReason, HUNG};
use crate::path::ChildPath;
use crate::watchdog::alarm::{Alarm, StallReport};
use crate::watchdog::coarse::{CoarseClock, CoarseTicks};
use crate::watchdog::due::{Due, DueBuckets};
use crate::watchdog::heartbeat::Heartbeat;
use crate::watchdog::spec::{BeatMode, Watch};
use crate::watchdog::stuck::{StuckWork, WorkerShare};
use crate::watchdog::{WatchdogStats, run_probe};

/// Tells a supervisor that a child it supervises exited in a way ractor will
/// not report to it: a hung child that even a kill could not end (reason
/// `hung`), or one that died before its supervisor could link it.
pub(crate) type ExitNotice = Arc<dyn Fn(ActorId, ExitReason) + Send + Sync>;

/// One watched incarnation of a child.
pub(crate) struct Registration {
    pub(crate) path: ChildPath,
    pub(crate) actor: ActorCell,
    pub(crate) heartbeat: Heartbeat,
    pub(crate) watch: Watch,
    /// How long a killed child may take to exit before it counts as stuck.
    pub(crate) kill_wait: Duration,
    pub(crate) exit_notice: ExitNotice,
}

pub(crate) enum WatchdogMsg {
    Watch(u64, Box<Registration>),
    Unwatch(u64),
    Tick,
    /// A task was counted stuck: hold it until it ends.
    Stuck(Box<StuckWork>),
    /// A stuck task's blocking code returned.
    StuckEnded,
}

/// What a watchdog starts from.
pub(crate) struct WatchdogArgs {
    pub(crate) events: EventBus,
    pub(crate) stats: Arc<WatchdogStats>,
    pub(crate) clock: CoarseClock,
    /// The tree's root, which reports about the whole runtime are about.
    pub(crate) root: ChildPath,
}

pub(crate) struct WatchdogActor;

/// One entry of the agenda: what a heartbeat check needs, so that checking
/// a child touches the entry and its heartbeat only (at 100,000 children a
/// lookup of the registration costs cache misses that dominate a check).
struct Entry {
    id: u64,
    due: Due,
    heartbeat: Heartbeat,
    timeout: Duration,
    mode: BeatMode,
}

pub(crate) struct WatchdogState {
    myself: ActorRef<WatchdogMsg>,
    events: EventBus,
    stats: Arc<WatchdogStats>,
    root: ChildPath,
    /// When the watchdog last ran, for how long a stall kept it silent.
    last_ran: Instant,
    /// Tasks counted stuck whose blocking code still runs.
    stuck_now: u64,
    /// The runtime's workers (`None` on a current-thread runtime).
    share: Option<WorkerShare>,
    watched: HashMap<u64, Registration>,
    due: DueBuckets<Entry>,
    alarm: Alarm,
    ticks: CoarseTicks,
    /// The timeouts of the children watched per message, with how many
    /// have each: the shortest sets how often the coarse clock moves.
    per_message: BTreeMap<Duration, usize>,
    /// Replacing hung children and running probes: aborted with the
    /// watchdog. A finished task answers which registration's probe (if
    /// any) it ran.
    tasks: JoinSet<Option<u64>>,
    /// Registrations whose probe is running: a probe slower than its
    /// interval is skipped, not piled up.
    probing: HashSet<u64>,
}

/// The coarse clock moves at least this often, in parts of the shortest
/// per-message timeout: a hang is found at most a twentieth late.
const COARSE_STEPS_PER_TIMEOUT: u32 = 20;

impl Actor for WatchdogActor {
    type Msg = WatchdogMsg;
    type State = WatchdogState;
    type Arguments = WatchdogArgs;

    async fn pre_start(
        &self,
        myself: ActorRef<WatchdogMsg>,
        WatchdogArgs {
            events,
            stats,
            clock,
            root,
        }: Self::Arguments,
    ) -> Result<Self::State, ActorProcessingErr> {
        let stall = StallReport::new(Arc::clone(&stats), events.clone(), root.clone());
        Ok(WatchdogState {
            alarm: Alarm::new(myself.clone(), stall),
            myself,
            events,
            stats,
            root,
            last_ran: Instant::now(),
            stuck_now: 0,
            share: WorkerShare::of_current_runtime(),
            watched: HashMap::new(),
            due: DueBuckets::new(Instant::now()),
            ticks: CoarseTicks::new(clock),
            per_message: BTreeMap::new(),
            tasks: JoinSet::new(),
            probing: HashSet::new(),
        })
    }

    async fn handle(
        &self,
        _myself: ActorRef<WatchdogMsg>,
        message: WatchdogMsg,
        state: &mut Self::State,
    ) -> Result<(), ActorProcessingErr> {
        state.pulse();
        state.reap();
        match message {
            WatchdogMsg::Watch(id, registration) => state.watch(id, *registration),
            WatchdogMsg::Unwatch(id) => {
                state.forget(id);
            }
            WatchdogMsg::Tick => {
                state.alarm.fired();
                state.check_due();
            }
            WatchdogMsg::Stuck(work) => state.hold_stuck(*work),
            WatchdogMsg::StuckEnded => {
                state.stuck_now = state.stuck_now.saturating_sub(1);
                state.weigh_workers();
            }
        }
        state.schedule_tick();
        Ok(())
    }
}

impl WatchdogState {
    /// Counts this run on the pulse; if the backstop found the watchdog
    /// stalled meanwhile, says it runs again.
    fn pulse(&mut self) {
        let now = Instant::now();
        if self.stats.pulse.ran() {
            let silent = now.saturating_duration_since(self.last_ran);
            self.events.emit(
                &self.root,
                HealingEventKind::WatchdogResumed {
                    silent_ms: hale_util::millis(silent),
                },
            );
        }
        self.last_ran = now;
    }

    /// Holds a task counted stuck until its blocking code returns.
    fn hold_stuck(&mut self, work: StuckWork) {
        self.stuck_now += 1;
        let myself = self.myself.clone();
        self.tasks.spawn(async move {
            work.ended().await;
            // Fails only while the watchdog is stopping.
            let _ = myself.send_message(WatchdogMsg::StuckEnded);
            None
        });
        self.weigh_workers();
    }

    /// Reports the runtime starved when the stuck tasks that still run hold
    /// all its workers but one, and freed when they no longer do.
    fn weigh_workers(&mut self) {
        self.stats.stuck_now.store(self.stuck_now, Ordering::Relaxed);
        let Some(share) = self.share else {
            return;
        };
        let starved = share.starved_by(self.stuck_now);
        if self.stats.workers_blocked.swap(starved, Ordering::Relaxed) == starved {
            return;
        }
        let (stuck, workers) = (self.stuck_now, share.workers);
        let kind = if starved {
            HealingEventKind::WorkersBlocked { stuck, workers }
        } else {
            HealingEventKind::WorkersFreed { stuck, workers }
        };
        self.events.emit(&self.root, kind);
    }

    /// Forgets the tasks that finished (their probes may run again).
    fn reap(&mut self) {
        while let Some(finished) = self.tasks.try_join_next() {
            if let Ok(Some(probed)) = finished {
                self.probing.remove(&probed);
            }
        }
    }

    fn watch(&mut self, id: u64, registration: Registration) {
        let now = Instant::now();
        let watch = &registration.watch;
        let entry = |due| Entry {
            id,
            due,
            heartbeat: registration.heartbeat.clone(),
            timeout: watch.timeout,
            mode: watch.mode,
        };
        registration.heartbeat.set_watched(true);
        self.due
            .push(deadline_after(now, watch.timeout), entry(Due::Beat));
        if let Some(probe) = &watch.probe {
            self.due.push(deadline_after(now, probe.every), entry(Due::Probe));
        }
        if registration.watch.mode == BeatMode::PerMessage {
            *self.per_message.entry(registration.watch.timeout).or_default() += 1;
        }
        self.watched.insert(id, registration);
        self.stats.watched.fetch_add(1, Ordering::Relaxed);
    }

    /// Stops watching `id`; returns its registration if it was watched.
    fn forget(&mut self, id: u64) -> Option<Registration> {
        let registration = self.watched.remove(&id)?;
        registration.heartbeat.set_watched(false);
        self.stats.watched.fetch_sub(1, Ordering::Relaxed);
        let watch = &registration.watch;
        if watch.mode == BeatMode::PerMessage
            && let Some(count) = self.per_message.get_mut(&watch.timeout)
        {
            *count -= 1;
            if *count == 0 {
                self.per_message.remove(&watch.timeout);
            }
        }
        Some(registration)
    }

    /// How often the coarse clock must move: `None` while no child is
    /// watched per message.
    fn coarse_step(&self) -> Option<Duration> {
        let (&shortest, _) = self.per_message.first_key_value()?;
        Some((shortest / COARSE_STEPS_PER_TIMEOUT).max(Duration::from_millis(1)))
    }

    /// Moves the coarse clock to `now`, and forgets values no per-message
    /// deadline can still need.
    fn advance_clock(&mut self, now: Instant) {
        self.ticks.advance(now);
        let now_ms = self.ticks.clock().ms(now);
        let needed = match self.per_message.last_key_value() {
            Some((&longest, _)) => hale_util::millis(longest.saturating_mul(2)),
            None => 0,
        };
        self.ticks.forget_before(now_ms.saturating_sub(needed));
    }

    /// Handles every entry that is due now.
    fn check_due(&mut self) {
        let now = Instant::now();
        self.advance_clock(now);
        while let Some(mut bucket) = self.due.pop_due(now) {
            for entry in bucket.drain(..) {
                self.check(now, entry);
            }
            self.due.recycle(bucket);
        }
    }

    /// Handles one due entry; an entry of a child no longer watched is
    /// dropped.
    fn check(&mut self, now: Instant, entry: Entry) {
        if !entry.heartbeat.is_watched() {
            return;
        }
        match entry.due {
            Due::Probe => {
                let Some(registration) = self.watched.get(&entry.id) else {
                    return;
                };
                if let Some(probe) = &registration.watch.probe {
                    // One probe in flight per child: a check slower than
                    // its interval skips a turn.
                    if self.probing.insert(entry.id) {
                        let check = run_probe(registration, probe.clone(), self.events.clone());
                        let id = entry.id;
                        self.tasks.spawn(async move {
                            check.await;
                            Some(id)
                        });
                    }
                    self.due.push(deadline_after(now, probe.every), entry);
                }
            }
            Due::Beat => match self.began(&entry.heartbeat, entry.mode, now) {
                // Idle in per-message mode: look again a timeout later.
                None => self.due.push(deadline_after(now, entry.timeout), entry),
                Some(began) => {
                    let deadline = deadline_after(began, entry.timeout);
                    if deadline > now {
                        self.due.push(deadline, entry);
                    } else if let Some(registration) = self.forget(entry.id) {
                        let late = now.saturating_duration_since(deadline);
                        self.hung(registration, late);
                    }
                }
            },
        }
    }

    /// From when a child's deadline runs: its last beat, or under
    /// per-message watching the latest moment its running handler can have
    /// begun (`None` while it is idle).
    fn began(&self, heartbeat: &Heartbeat, mode: BeatMode, now: Instant) -> Option<Instant> {
        let last_beat = heartbeat.epoch() + Duration::from_millis(heartbeat.last_beat_ms());
        match mode {
            BeatMode::Manual => Some(last_beat),
            BeatMode::PerMessage => {
                let stamp = heartbeat.busy_since_ms()?;
                let clock = self.ticks.clock();
                let began_ms = self.ticks.begun_by(stamp, clock.ms(now));
                Some((clock.epoch() + Duration::from_millis(began_ms)).max(last_beat))
            }
        }
    }

    /// Reports a hung child and replaces it: stop, grace, kill, and if even
    /// the kill does not end it, count it stuck and tell its supervisor.
    /// Runs in its own task so one stubborn child never delays the others.
    fn hung(&mut self, registration: Registration, late: Duration) {
        let Registration {
            path,
            actor,
            heartbeat,
            watch,
            kill_wait,
            exit_notice,
        } = registration;
        heartbeat.mark_hung();
        self.stats.hung.fetch_add(1, Ordering::Relaxed);
        self.stats.record_lateness(late);
        self.events.emit(
            &path,
            HealingEventKind::HeartbeatMissed {
                timeout_ms: hale_util::millis(watch.timeout),
                late_ms: hale_util::millis(late),
            },
        );
        let events = self.events.clone();
        let stats = Arc::clone(&self.stats);
        let myself = self.myself.clone();
        self.tasks.spawn(async move {
            events.emit(
                &path,
                HealingEventKind::HungStopRequested {
                    grace_ms: hale_util::millis(watch.grace),
                },
            );
            actor.stop(Some(HUNG.to_owned()));
            if actor.wait(Some(watch.grace)).await.is_ok() {
                return None;
            }
            actor.kill();
            stats.killed.fetch_add(1, Ordering::Relaxed);
            events.emit(&path, HealingEventKind::HungKilled);
            if actor.wait(Some(kill_wait)).await.is_ok() {
                return None;
            }
            let stuck_total = stats.record_stuck();
            events.emit(&path, HealingEventKind::StuckTask { stuck_total });
            exit_notice(actor.get_id(), ExitReason::Hung);
            // Fails only while the watchdog is stopping.
            let _ = myself.send_message(WatchdogMsg::Stuck(Box::new(StuckWork::Actor(actor))));
            None
        });
    }

    /// Keeps the alarm set for the earliest due entry.
    fn schedule_tick(&mut self) {
        let coarse = self.coarse_step().map(|step| self.ticks.last_advance() + step);
        if let Some(next) = [self.due.next_at(), coarse].into_iter().flatten().min() {
            self.alarm.set(next);
        }
    }
}
