//! The watchdog actor: deadlines in a heap, checked lazily.
//!
//! Beats never reach the watchdog; it keeps one heap entry per watched child
//! at the child's last known deadline. When an entry comes due, it reads the
//! child's heartbeat: a child that beat since is pushed back at its new
//! deadline; one that did not is hung. So the cost is one heap operation per
//! child per timeout period, whatever the beat rate, and a hung child is
//! found at its deadline, not at the next scan.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use ractor::{Actor, ActorCell, ActorId, ActorProcessingErr, ActorRef};
use tokio::task::JoinHandle;
use tokio::time::Instant;

use crate::events::{EventBus, HealingEventKind};
use crate::exit::HUNG;
use crate::path::ChildPath;
use crate::watchdog::heartbeat::{Heartbeat, duration_ms};
use crate::watchdog::spec::{BeatMode, Watch};
use crate::watchdog::{WatchdogStats, run_probe};

/// Tells a supervisor that a child it supervises is stuck: treat it as
/// exited with reason `hung`.
pub(crate) type StuckNotice = Arc<dyn Fn(ActorId) + Send + Sync>;

/// One watched incarnation of a child.
pub(crate) struct Registration {
    pub(crate) path: ChildPath,
    pub(crate) actor: ActorCell,
    pub(crate) heartbeat: Heartbeat,
    pub(crate) watch: Watch,
    pub(crate) on_stuck: StuckNotice,
}

pub(crate) enum WatchdogMsg {
    Watch(u64, Box<Registration>),
    Unwatch(u64),
    Tick,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Due {
    Beat,
    Probe,
}

pub(crate) struct WatchdogActor;

pub(crate) struct WatchdogState {
    myself: ActorRef<WatchdogMsg>,
    events: EventBus,
    stats: Arc<WatchdogStats>,
    watched: HashMap<u64, Registration>,
    due: BinaryHeap<Reverse<(Instant, u64, Due)>>,
    tick: Option<(Instant, JoinHandle<()>)>,
}

impl Actor for WatchdogActor {
    type Msg = WatchdogMsg;
    type State = WatchdogState;
    type Arguments = (EventBus, Arc<WatchdogStats>);

    async fn pre_start(
        &self,
        myself: ActorRef<WatchdogMsg>,
        (events, stats): Self::Arguments,
    ) -> Result<Self::State, ActorProcessingErr> {
        Ok(WatchdogState {
            myself,
            events,
            stats,
            watched: HashMap::new(),
            due: BinaryHeap::new(),
            tick: None,
        })
    }

    async fn handle(
        &self,
        _myself: ActorRef<WatchdogMsg>,
        message: WatchdogMsg,
        state: &mut Self::State,
    ) -> Result<(), ActorProcessingErr> {
        match message {
            WatchdogMsg::Watch(id, registration) => state.watch(id, *registration),
            WatchdogMsg::Unwatch(id) => {
                if state.watched.remove(&id).is_some() {
                    state.stats.watched.fetch_sub(1, Ordering::Relaxed);
                }
            }
            WatchdogMsg::Tick => {
                state.tick = None;
                state.check_due();
            }
        }
        state.schedule_tick();
        Ok(())
    }

    async fn post_stop(
        &self,
        _myself: ActorRef<WatchdogMsg>,
        state: &mut Self::State,
    ) -> Result<(), ActorProcessingErr> {
        if let Some((_, timer)) = state.tick.take() {
            timer.abort();
        }
        Ok(())
    }
}

impl WatchdogState {
    fn watch(&mut self, id: u64, registration: Registration) {
        let now = Instant::now();
        self.due
            .push(Reverse((now + registration.watch.timeout, id, Due::Beat)));
        if let Some(probe) = &registration.watch.probe {
            self.due.push(Reverse((now + probe.every, id, Due::Probe)));
        }
        self.watched.insert(id, registration);
        self.stats.watched.fetch_add(1, Ordering::Relaxed);
    }

    /// Handles every entry that is due now.
    fn check_due(&mut self) {
        let now = Instant::now();
        while let Some(Reverse((at, id, due))) = self.due.peek().copied() {
            if at > now {
                break;
            }
            self.due.pop();
            let Some(registration) = self.watched.get(&id) else {
                continue; // unwatched since: the entry is stale
            };
            match due {
                Due::Probe => {
                    if let Some(probe) = &registration.watch.probe {
                        run_probe(registration, probe.clone(), self.events.clone());
                        self.due.push(Reverse((now + probe.every, id, Due::Probe)));
                    }
                }
                Due::Beat => {
                    let watch = &registration.watch;
                    let per_message = watch.mode == BeatMode::PerMessage;
                    let heartbeat = &registration.heartbeat;
                    match heartbeat.deadline_ms(watch.timeout, per_message) {
                        // Idle in per-message mode: look again a timeout later.
                        None => self.due.push(Reverse((now + watch.timeout, id, Due::Beat))),
                        Some(deadline_ms) => {
                            let deadline = heartbeat.epoch() + Duration::from_millis(deadline_ms);
                            if deadline > now {
                                self.due.push(Reverse((deadline, id, Due::Beat)));
                            } else if let Some(registration) = self.watched.remove(&id) {
                                self.stats.watched.fetch_sub(1, Ordering::Relaxed);
                                let late = now.saturating_duration_since(deadline);
                                self.hung(registration, late);
                            }
                        }
                    }
                }
            }
        }
    }

    /// Reports a hung child and replaces it: stop, grace, kill, and if even
    /// the kill does not end it, count it stuck and tell its supervisor.
    /// Runs in its own task so one stubborn child never delays the others.
    fn hung(&self, registration: Registration, late: Duration) {
        let Registration {
            path,
            actor,
            heartbeat,
            watch,
            on_stuck,
        } = registration;
        heartbeat.mark_hung();
        self.stats.hung.fetch_add(1, Ordering::Relaxed);
        self.stats.record_lateness(late);
        self.events.emit(
            &path,
            HealingEventKind::HeartbeatMissed {
                timeout_ms: duration_ms(watch.timeout),
                late_ms: duration_ms(late),
            },
        );
        let events = self.events.clone();
        let stats = Arc::clone(&self.stats);
        tokio::spawn(async move {
            events.emit(
                &path,
                HealingEventKind::HungStopRequested {
                    grace_ms: duration_ms(watch.grace),
                },
            );
            actor.stop(Some(HUNG.to_owned()));
            if actor.wait(Some(watch.grace)).await.is_ok() {
                return;
            }
            actor.kill();
            stats.killed.fetch_add(1, Ordering::Relaxed);
            events.emit(&path, HealingEventKind::HungKilled);
            if actor.wait(Some(watch.kill_wait)).await.is_ok() {
                return;
            }
            let stuck_total = stats.record_stuck();
            events.emit(&path, HealingEventKind::StuckTask { stuck_total });
            on_stuck(actor.get_id());
        });
    }

    /// Keeps one timer armed for the earliest due entry.
    fn schedule_tick(&mut self) {
        let Some(Reverse((next, _, _))) = self.due.peek().copied() else {
            return;
        };
        if let Some((armed_for, _)) = &self.tick
            && *armed_for <= next
        {
            return;
        }
        if let Some((_, timer)) = self.tick.take() {
            timer.abort();
        }
        let myself = self.myself.clone();
        let timer = tokio::spawn(async move {
            tokio::time::sleep_until(next).await;
            // Fails only while the watchdog is stopping.
            let _ = myself.send_message(WatchdogMsg::Tick);
        });
        self.tick = Some((next, timer));
    }
}
