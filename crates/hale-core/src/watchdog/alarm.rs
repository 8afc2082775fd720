//! What wakes the watchdog when its next entry comes due.
//!
//! A tokio timer does, and on a current-thread runtime (and under tokio's
//! paused clock) that is all. On a multi-thread runtime it is not enough,
//! because of the very children the watchdog is there for: tokio's timers
//! fire only while an idle worker parks *on the driver*. When the worker
//! that held the driver wakes to run a child that then blocks its thread in
//! synchronous code, the other workers may all be parked on a plain
//! condition variable, and nothing polls the driver again: every timer in
//! the runtime, the watchdog's included, stops until the blocked child
//! returns.
//!
//! So on a multi-thread runtime a thread of the watchdog's own stands
//! behind the timer as a backstop. It does not tick in the timer's place
//! (that would cost a thread wake-up and a cross-thread wake per tick). It
//! wakes about once per [`BACKSTOP_SLACK`] while a deadline is armed, and
//! sends a tick only when the armed deadline is that much overdue. Sent from
//! outside the runtime, that tick makes tokio wake a parked worker to run
//! the watchdog. Once that worker is idle again it takes the driver, so the
//! timers that follow (the grace and kill waits) fire again too.
//!
//! The thread is spawned on the first deadline, so a tree that watches
//! nothing has none. It ends with the watchdog.
//!
//! The same thread notices when the watchdog itself cannot run: every
//! worker held by children blocked in synchronous code. After it ticks, it
//! looks at the watchdog's pulse ([`WatchdogPulse`]) once more
//! [`STALL_BOUND`] later; if the watchdog has not run since, it reports the
//! stall from outside the runtime (a `WatchdogStalled` event, and the tree's
//! root turns unready), where a blocked runtime cannot silence it.

use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant as StdInstant};

use ractor::ActorRef;
use tokio::runtime::{Handle, RuntimeFlavor};
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tokio::time::Instant;

use crate::events::{EventBus, HealingEventKind};
use crate::path::ChildPath;
use crate::watchdog::WatchdogStats;
use crate::watchdog::actor::WatchdogMsg;
use crate::watchdog::pulse::{PulseSeen, STALL_BOUND, WatchdogPulse};

/// How late a tick may be before the backstop sends one: the most a stalled
/// timer adds to finding a hang, and the backstop's wake-up period.
pub(crate) const BACKSTOP_SLACK: Duration = Duration::from_millis(10);

/// Sends the watchdog a `Tick` at the earliest time it was set for (or, if
/// the runtime's timers have stalled, [`BACKSTOP_SLACK`] after it). A tick
/// may come early or twice; the watchdog checks what is due and sets the
/// alarm again.
pub(crate) struct Alarm {
    watchdog: ActorRef<WatchdogMsg>,
    /// The deadline the timer task sleeps towards (`None`: idle).
    deadline: watch::Sender<Option<Instant>>,
    /// What the timer covers now, until a tick says it fired.
    armed_for: Option<Instant>,
    /// One task for the alarm's life: re-arming sends it a new deadline
    /// instead of spawning and aborting a task each time.
    timer: JoinHandle<()>,
    backstop: Backstop,
    /// Handed to the backstop thread when it is spawned.
    stall: Option<StallReport>,
}

/// How the backstop reports a watchdog that could not run: the pulse it
/// reads, and where the report goes.
pub(crate) struct StallReport {
    stats: Arc<WatchdogStats>,
    events: EventBus,
    /// The tree's root, which the report is about.
    root: ChildPath,
}

impl StallReport {
    pub(crate) fn new(stats: Arc<WatchdogStats>, events: EventBus, root: ChildPath) -> Self {
        Self { stats, events, root }
    }

    fn pulse(&self) -> &WatchdogPulse {
        &self.stats.pulse
    }

    fn report(&self, stalled: Duration) {
        self.events.emit(
            &self.root,
            HealingEventKind::WatchdogStalled {
                stalled_ms: hale_util::millis(stalled),
            },
        );
    }
}

enum Backstop {
    /// A current-thread runtime: if its one thread blocks, nothing runs.
    Unneeded,
    /// Not spawned yet: it will be on the first deadline.
    Pending,
    Running(Arc<BackstopClock>),
}

impl Alarm {
    /// An alarm for `watchdog`, with a backstop if its runtime needs one.
    pub(crate) fn new(watchdog: ActorRef<WatchdogMsg>, stall: StallReport) -> Self {
        let multi_thread = Handle::try_current()
            .map(|runtime| runtime.runtime_flavor() == RuntimeFlavor::MultiThread)
            .unwrap_or(false);
        let (deadline, armed) = watch::channel(None);
        let timer = tokio::spawn(run_timer(armed, watchdog.clone()));
        Self {
            watchdog,
            deadline,
            armed_for: None,
            timer,
            backstop: if multi_thread {
                Backstop::Pending
            } else {
                Backstop::Unneeded
            },
            stall: Some(stall),
        }
    }

    /// Makes sure a tick comes at `at` (or earlier).
    pub(crate) fn set(&mut self, at: Instant) {
        // Most calls end here, with no lock taken: the timer (and with it
        // the backstop, armed alongside) already covers `at`. If the
        // backstop has ticked for that deadline meanwhile, its tick is on
        // the way, and `fired` disarms the timer so the next `set` arms both.
        if self.armed_for.is_some_and(|armed_for| armed_for <= at) {
            return;
        }
        self.guard(at);
        self.armed_for = Some(at);
        self.deadline.send_replace(Some(at));
    }

    /// A tick arrived: whatever was armed has fired (or will, harmlessly).
    pub(crate) fn fired(&mut self) {
        self.armed_for = None;
        if let Backstop::Running(clock) = &self.backstop {
            clock.disarm();
        }
    }

    /// Has the backstop watch for `at` too.
    fn guard(&mut self, at: Instant) {
        if matches!(self.backstop, Backstop::Pending)
            && let Some(stall) = self.stall.take()
        {
            self.backstop = match BackstopClock::spawn(self.watchdog.clone(), stall) {
                Ok(clock) => Backstop::Running(clock),
                Err(error) => {
                    tracing::warn!(target: "hale::watchdog", %error, "no backstop thread: a worker blocked in a child can stall the watchdog's timer");
                    Backstop::Unneeded
                }
            };
        }
        if let Backstop::Running(clock) = &self.backstop {
            clock.arm(at.into_std());
        }
    }
}

/// The timer task: sleeps until the deadline it was last given, ticks once,
/// and waits for the next deadline. A new deadline while it sleeps replaces
/// the old one.
async fn run_timer(mut deadline: watch::Receiver<Option<Instant>>, watchdog: ActorRef<WatchdogMsg>) {
    loop {
        let armed = *deadline.borrow_and_update();
        if let Some(at) = armed {
            tokio::select! {
                biased;
                changed = deadline.changed() => {
                    if changed.is_err() {
                        return;
                    }
                    continue;
                }
                () = tokio::time::sleep_until(at) => {
                    // Fails only while the watchdog is stopping.
                    let _ = watchdog.send_message(WatchdogMsg::Tick);
                }
            }
        }
        // Idle, or ticked for the deadline it had: wait for the next one.
        if deadline.changed().await.is_err() {
            return;
        }
    }
}

impl Drop for Alarm {
    fn drop(&mut self) {
        self.timer.abort();
        if let Backstop::Running(clock) = &self.backstop {
            clock.close();
        }
    }
}

/// What the backstop thread shares with its watchdog.
struct BackstopClock {
    state: Mutex<BackstopState>,
    changed: Condvar,
    stall: StallReport,
}

/// A tick the backstop sent for an overdue deadline, until the watchdog's
/// pulse shows it ran.
#[derive(Clone, Copy)]
struct Unanswered {
    /// The deadline it was sent for: the watchdog should have run then.
    due: StdInstant,
    sent: StdInstant,
    seen: PulseSeen,
}

#[derive(Default)]
struct BackstopState {
    /// The earliest deadline armed and not yet ticked for.
    due: Option<StdInstant>,
    /// Until when the thread sleeps (`None`: until told), so that arming
    /// wakes it only when it would otherwise look too late.
    sleeping_until: Option<StdInstant>,
    /// The earliest tick the watchdog has not run since.
    unanswered: Option<Unanswered>,
    closed: bool,
}

impl BackstopClock {
    fn spawn(watchdog: ActorRef<WatchdogMsg>, stall: StallReport) -> std::io::Result<Arc<Self>> {
        let clock = Arc::new(Self {
            state: Mutex::new(BackstopState::default()),
            changed: Condvar::new(),
            stall,
        });
        let shared = Arc::clone(&clock);
        std::thread::Builder::new()
            .name("hale-watchdog-backstop".to_owned())
            // It only waits and sends: a small stack is plenty.
            .stack_size(64 * 1024)
            .spawn(move || shared.run(&watchdog))?;
        Ok(clock)
    }

    fn arm(&self, at: StdInstant) {
        let mut state = self.lock();
        if state.due.is_some_and(|due| due <= at) {
            return;
        }
        state.due = Some(at);
        if state
            .sleeping_until
            .is_none_or(|until| at + BACKSTOP_SLACK < until)
        {
            self.changed.notify_one();
        }
    }

    fn disarm(&self) {
        self.lock().due = None;
    }

    fn close(&self) {
        self.lock().closed = true;
        self.changed.notify_one();
    }

    fn lock(&self) -> MutexGuard<'_, BackstopState> {
        // The guarded state stays valid whatever panicked while holding it.
        hale_util::lock(&self.state)
    }

    /// The thread's loop: sleep until the armed deadline is overdue by the
    /// slack, and tick if it still is then; a tick the watchdog has not run
    /// since within [`STALL_BOUND`] is reported as a stall.
    fn run(&self, watchdog: &ActorRef<WatchdogMsg>) {
        let pulse = self.stall.pulse();
        let mut state = self.lock();
        loop {
            if state.closed {
                return;
            }
            let now = StdInstant::now();
            if let Some(tick) = state.unanswered {
                if pulse.has_run_since(tick.seen) {
                    state.unanswered = None;
                } else if now >= tick.sent + STALL_BOUND {
                    // Reported once per stall: the watchdog's next run
                    // clears the mark (and says it runs again).
                    state.unanswered = None;
                    if pulse.mark_stalled(tick.seen) {
                        drop(state);
                        self.stall.report(now.saturating_duration_since(tick.due));
                        state = self.lock();
                    }
                    continue;
                }
            }
            let tick_at = state.due.map(|due| due + BACKSTOP_SLACK);
            let stall_at = state.unanswered.map(|tick| tick.sent + STALL_BOUND);
            let Some(wake_at) = [tick_at, stall_at].into_iter().flatten().min() else {
                state.sleeping_until = None;
                state = self.changed.wait(state).unwrap_or_else(PoisonError::into_inner);
                continue;
            };
            if now < wake_at {
                state.sleeping_until = Some(wake_at);
                state = self
                    .changed
                    .wait_timeout(state, wake_at - now)
                    .unwrap_or_else(PoisonError::into_inner)
                    .0;
                continue;
            }
            // Not the stall check (handled above), so the deadline is
            // overdue: the runtime's timer did not tick in time. Tick from
            // here, and note the pulse first, so that handling this very
            // tick counts as a run since.
            let Some(due) = state.due.take() else {
                continue;
            };
            let seen = pulse.seen();
            state
                .unanswered
                .get_or_insert(Unanswered { due, sent: now, seen });
            drop(state);
            if watchdog.send_message(WatchdogMsg::Tick).is_err() {
                // The watchdog is gone.
                return;
            }
            state = self.lock();
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, Instant as StdInstant};

    use ractor::{Actor, ActorProcessingErr, ActorRef};
    use tokio::sync::mpsc;
    use tokio::time::Instant;

    use std::sync::Arc;

    use super::{Alarm, BACKSTOP_SLACK, Backstop, BackstopClock, StallReport};
    use crate::events::{EventBus, HealingEventKind};
    use crate::path::ChildPath;
    use crate::watchdog::WatchdogStats;
    use crate::watchdog::actor::WatchdogMsg;
    use crate::watchdog::pulse::STALL_BOUND;

    /// Stands in for the watchdog: reports when each tick arrives.
    struct TickCounter;

    impl Actor for TickCounter {
        type Msg = WatchdogMsg;
        type State = mpsc::UnboundedSender<Instant>;
        type Arguments = mpsc::UnboundedSender<Instant>;

        async fn pre_start(
            &self,
            _: ActorRef<WatchdogMsg>,
            ticks: Self::Arguments,
        ) -> Result<Self::State, ActorProcessingErr> {
            Ok(ticks)
        }

        async fn handle(
            &self,
            _: ActorRef<WatchdogMsg>,
            message: WatchdogMsg,
            ticks: &mut Self::State,
        ) -> Result<(), ActorProcessingErr> {
            if let WatchdogMsg::Tick = message {
                let _ = ticks.send(Instant::now());
            }
            Ok(())
        }
    }

    async fn counter() -> (ActorRef<WatchdogMsg>, mpsc::UnboundedReceiver<Instant>) {
        let (sender, ticks) = mpsc::unbounded_channel();
        let (actor, _) = Actor::spawn(None, TickCounter, sender).await.unwrap();
        (actor, ticks)
    }

    const BOUND: Duration = Duration::from_secs(10);

    /// A stall report on a pulse no watchdog moves, and its events.
    fn stall_report() -> (StallReport, Arc<WatchdogStats>, EventBus) {
        let stats = Arc::new(WatchdogStats::default());
        let events = EventBus::new();
        let report = StallReport::new(Arc::clone(&stats), events.clone(), ChildPath::root("root"));
        (report, stats, events)
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn on_a_multi_thread_runtime_the_timer_ticks_with_a_backstop_behind_it() {
        let (watchdog, mut ticks) = counter().await;
        let mut alarm = Alarm::new(watchdog.clone(), stall_report().0);
        assert!(
            matches!(alarm.backstop, Backstop::Pending),
            "no thread before a deadline"
        );
        let start = Instant::now();
        alarm.set(start + Duration::from_secs(5));
        assert!(matches!(alarm.backstop, Backstop::Running(_)));
        // An earlier deadline moves the tick forward; a later one does not
        // push it back.
        alarm.set(start + Duration::from_millis(30));
        alarm.set(start + Duration::from_secs(6));
        let first = tokio::time::timeout(BOUND, ticks.recv()).await.unwrap().unwrap();
        assert!(first >= start + Duration::from_millis(30));
        assert!(first < start + Duration::from_secs(5), "{:?}", first - start);
        alarm.fired();
        alarm.set(Instant::now() + Duration::from_millis(10));
        tokio::time::timeout(BOUND, ticks.recv()).await.unwrap().unwrap();
        drop(alarm);
        watchdog.stop(None);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn the_backstop_ticks_when_a_deadline_goes_overdue() {
        let (watchdog, mut ticks) = counter().await;
        let clock = BackstopClock::spawn(watchdog.clone(), stall_report().0).unwrap();
        let start = Instant::now();
        // Armed and never disarmed, as when the runtime's timer has stalled.
        clock.arm((start + Duration::from_millis(20)).into_std());
        let tick = tokio::time::timeout(BOUND, ticks.recv()).await.unwrap().unwrap();
        assert!(tick >= start + Duration::from_millis(20) + BACKSTOP_SLACK);
        clock.close();
        watchdog.stop(None);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn the_backstop_stays_quiet_while_ticks_come_in_time() {
        let (watchdog, mut ticks) = counter().await;
        let clock = BackstopClock::spawn(watchdog.clone(), stall_report().0).unwrap();
        clock.arm(StdInstant::now() + Duration::from_millis(20));
        // The timer's tick was handled well before the deadline was overdue.
        clock.disarm();
        // Past the deadline and its slack, with room for a late thread.
        tokio::time::sleep(Duration::from_millis(150)).await;
        assert!(ticks.try_recv().is_err());
        clock.close();
        watchdog.stop(None);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_dropped_alarm_never_ticks() {
        let (watchdog, mut ticks) = counter().await;
        let mut alarm = Alarm::new(watchdog.clone(), stall_report().0);
        alarm.set(Instant::now() + Duration::from_millis(50));
        drop(alarm);
        // Past its time and the backstop's slack, with room for a late thread.
        tokio::time::sleep(Duration::from_millis(200)).await;
        assert!(ticks.try_recv().is_err());
        watchdog.stop(None);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_tick_the_watchdog_never_runs_for_is_reported_as_a_stall_once() {
        let (watchdog, mut ticks) = counter().await;
        let (report, stats, events) = stall_report();
        let mut stream = events.subscribe();
        let clock = BackstopClock::spawn(watchdog.clone(), report).unwrap();
        let start = StdInstant::now();
        clock.arm(start + Duration::from_millis(20));
        // The stand-in gets the tick but, like a starved watchdog, never
        // moves the pulse.
        tokio::time::timeout(BOUND, ticks.recv()).await.unwrap().unwrap();
        let event = tokio::time::timeout(BOUND, stream.recv()).await.unwrap().unwrap();
        assert!(start.elapsed() >= STALL_BOUND);
        let HealingEventKind::WatchdogStalled { stalled_ms } = event.kind else {
            panic!("{event:?}");
        };
        assert!(stalled_ms >= u64::try_from(STALL_BOUND.as_millis()).unwrap());
        assert_eq!(event.path.to_string(), "root");
        assert!(stats.pulse.is_stalled());
        assert!(stats.starved(), "the root is unready meanwhile");
        // The watchdog's next run clears the mark, and says so.
        assert!(stats.pulse.ran());
        assert!(!stats.pulse.is_stalled());
        clock.close();
        watchdog.stop(None);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_tick_the_watchdog_runs_for_is_no_stall() {
        let (watchdog, mut ticks) = counter().await;
        let (report, stats, events) = stall_report();
        let mut stream = events.subscribe();
        let clock = BackstopClock::spawn(watchdog.clone(), report).unwrap();
        clock.arm(StdInstant::now() + Duration::from_millis(20));
        tokio::time::timeout(BOUND, ticks.recv()).await.unwrap().unwrap();
        stats.pulse.ran();
        // Past the stall bound, with room for a late thread.
        tokio::time::sleep(STALL_BOUND + Duration::from_millis(300)).await;
        assert!(stream.try_recv().is_err());
        assert!(!stats.pulse.is_stalled());
        clock.close();
        watchdog.stop(None);
    }

    #[tokio::test(start_paused = true)]
    async fn on_a_current_thread_runtime_the_timer_alone_ticks_on_its_clock() {
        let (watchdog, mut ticks) = counter().await;
        let mut alarm = Alarm::new(watchdog.clone(), stall_report().0);
        let start = Instant::now();
        alarm.set(start + Duration::from_secs(60));
        alarm.set(start + Duration::from_secs(5));
        let first = tokio::time::timeout(BOUND * 100, ticks.recv())
            .await
            .unwrap()
            .unwrap();
        assert_eq!(first, start + Duration::from_secs(5));
        assert!(matches!(alarm.backstop, Backstop::Unneeded));
        watchdog.stop(None);
    }
}
