//! The watchdog actor: deadlines in millisecond buckets, checked lazily.
//!
//! Beats never reach the watchdog; it keeps one entry per watched child at
//! the child's last known deadline. When an entry comes due, it reads the
//! child's heartbeat: a child that beat since is put back at its new
//! deadline; one that did not is hung. So the cost is one entry per child
//! per timeout period, whatever the beat rate, and a hung child is found at
//! its deadline (rounded up to the next millisecond), not at the next scan.
//!
//! Entries live in buckets of one millisecond, in a map ordered by time:
//! children that beat together fall due together, so a tick takes a whole
//! bucket at once and walks a contiguous vector. A binary heap of 100,000
//! entries cost a dozen cache misses per child per period; a bucket costs
//! one push.

use std::collections::{BTreeMap, HashMap};
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
    due: DueBuckets,
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
            due: DueBuckets::new(Instant::now()),
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
        self.due.push(now + registration.watch.timeout, id, Due::Beat);
        if let Some(probe) = &registration.watch.probe {
            self.due.push(now + probe.every, id, Due::Probe);
        }
        self.watched.insert(id, registration);
        self.stats.watched.fetch_add(1, Ordering::Relaxed);
    }

    /// Handles every entry that is due now.
    fn check_due(&mut self) {
        let now = Instant::now();
        while let Some(bucket) = self.due.pop_due(now) {
            for &(id, due) in &bucket {
                self.check(now, id, due);
            }
            self.due.recycle(bucket);
        }
    }

    /// Handles one due entry.
    fn check(&mut self, now: Instant, id: u64, due: Due) {
        let Some(registration) = self.watched.get(&id) else {
            return; // unwatched since: the entry is stale
        };
        let watch = &registration.watch;
        match due {
            Due::Probe => {
                if let Some(probe) = &watch.probe {
                    run_probe(registration, probe.clone(), self.events.clone());
                    self.due.push(now + probe.every, id, Due::Probe);
                }
            }
            Due::Beat => {
                let per_message = watch.mode == BeatMode::PerMessage;
                let heartbeat = &registration.heartbeat;
                match heartbeat.deadline_ms(watch.timeout, per_message) {
                    // Idle in per-message mode: look again a timeout later.
                    None => self.due.push(now + watch.timeout, id, Due::Beat),
                    Some(deadline_ms) => {
                        let deadline = heartbeat.epoch() + Duration::from_millis(deadline_ms);
                        if deadline > now {
                            self.due.push(deadline, id, Due::Beat);
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
        let Some(next) = self.due.next_at() else {
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

/// Due entries in buckets of one millisecond, keyed by the millisecond
/// (since `epoch`) at or after which they are due.
struct DueBuckets {
    epoch: Instant,
    buckets: BTreeMap<u64, Vec<(u64, Due)>>,
    /// Emptied buckets kept for reuse, so a steady state allocates nothing.
    spare: Vec<Vec<(u64, Due)>>,
}

impl DueBuckets {
    fn new(epoch: Instant) -> Self {
        Self {
            epoch,
            buckets: BTreeMap::new(),
            spare: Vec::new(),
        }
    }

    /// Files an entry due at `at`, rounded up to the next millisecond so it
    /// never fires early.
    fn push(&mut self, at: Instant, id: u64, due: Due) {
        let since = at.saturating_duration_since(self.epoch);
        let slot = duration_ms(since) + u64::from(!since.subsec_nanos().is_multiple_of(1_000_000));
        let spare = &mut self.spare;
        self.buckets
            .entry(slot)
            .or_insert_with(|| spare.pop().unwrap_or_default())
            .push((id, due));
    }

    /// Takes the earliest bucket if it is due at `now`.
    fn pop_due(&mut self, now: Instant) -> Option<Vec<(u64, Due)>> {
        let now_ms = duration_ms(now.saturating_duration_since(self.epoch));
        let entry = self.buckets.first_entry()?;
        (*entry.key() <= now_ms).then(|| entry.remove())
    }

    fn recycle(&mut self, mut bucket: Vec<(u64, Due)>) {
        bucket.clear();
        self.spare.push(bucket);
    }

    /// When the earliest bucket falls due.
    fn next_at(&self) -> Option<Instant> {
        let (&slot, _) = self.buckets.first_key_value()?;
        Some(self.epoch + Duration::from_millis(slot))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn buckets_round_up_and_come_due_in_order() {
        let epoch = Instant::now();
        let mut due = DueBuckets::new(epoch);
        due.push(epoch + Duration::from_micros(2_500), 1, Due::Beat);
        due.push(epoch + Duration::from_millis(2), 2, Due::Probe);
        due.push(epoch + Duration::from_micros(2_001), 3, Due::Beat);
        // 2.001 ms and 2.5 ms share the 3 ms bucket; 2 ms has its own.
        assert_eq!(due.next_at(), Some(epoch + Duration::from_millis(2)));
        assert_eq!(due.pop_due(epoch + Duration::from_micros(1_999)), None);
        assert_eq!(
            due.pop_due(epoch + Duration::from_millis(2)),
            Some(vec![(2, Due::Probe)])
        );
        // Never early: at 2.9 ms the 3 ms bucket is not due yet.
        assert_eq!(due.pop_due(epoch + Duration::from_micros(2_900)), None);
        assert_eq!(due.next_at(), Some(epoch + Duration::from_millis(3)));
        let bucket = due.pop_due(epoch + Duration::from_millis(3));
        assert_eq!(bucket, Some(vec![(1, Due::Beat), (3, Due::Beat)]));
        assert_eq!(due.next_at(), None);
    }
}
