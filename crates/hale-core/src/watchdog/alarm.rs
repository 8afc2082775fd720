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

use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant as StdInstant};

use ractor::ActorRef;
use tokio::runtime::{Handle, RuntimeFlavor};
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tokio::time::Instant;

use crate::watchdog::actor::WatchdogMsg;

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
    pub(crate) fn new(watchdog: ActorRef<WatchdogMsg>) -> Self {
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
        if matches!(self.backstop, Backstop::Pending) {
            self.backstop = match BackstopClock::spawn(self.watchdog.clone()) {
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
}

#[derive(Default)]
struct BackstopState {
    /// The earliest deadline armed and not yet ticked for.
    due: Option<StdInstant>,
    /// Until when the thread sleeps (`None`: until told), so that arming
    /// wakes it only when it would otherwise look too late.
    sleeping_until: Option<StdInstant>,
    closed: bool,
}

impl BackstopClock {
    fn spawn(watchdog: ActorRef<WatchdogMsg>) -> std::io::Result<Arc<Self>> {
        let clock = Arc::new(Self {
            state: Mutex::new(BackstopState::default()),
            changed: Condvar::new(),
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
    /// slack; if it still is then, tick.
    fn run(&self, watchdog: &ActorRef<WatchdogMsg>) {
        let mut state = self.lock();
        loop {
            if state.closed {
                return;
            }
            let Some(due) = state.due else {
                state.sleeping_until = None;
                state = self.changed.wait(state).unwrap_or_else(PoisonError::into_inner);
                continue;
            };
            let overdue_at = due + BACKSTOP_SLACK;
            let now = StdInstant::now();
            if now < overdue_at {
                state.sleeping_until = Some(overdue_at);
                state = self
                    .changed
                    .wait_timeout(state, overdue_at - now)
                    .unwrap_or_else(PoisonError::into_inner)
                    .0;
                continue;
            }
            // The runtime's timer did not tick in time: tick from here.
            state.due = None;
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

    use super::{Alarm, BACKSTOP_SLACK, Backstop, BackstopClock};
    use crate::watchdog::actor::WatchdogMsg;

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

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn on_a_multi_thread_runtime_the_timer_ticks_with_a_backstop_behind_it() {
        let (watchdog, mut ticks) = counter().await;
        let mut alarm = Alarm::new(watchdog.clone());
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
        let clock = BackstopClock::spawn(watchdog.clone()).unwrap();
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
        let clock = BackstopClock::spawn(watchdog.clone()).unwrap();
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
        let mut alarm = Alarm::new(watchdog.clone());
        alarm.set(Instant::now() + Duration::from_millis(50));
        drop(alarm);
        // Past its time and the backstop's slack, with room for a late thread.
        tokio::time::sleep(Duration::from_millis(200)).await;
        assert!(ticks.try_recv().is_err());
        watchdog.stop(None);
    }

    #[tokio::test(start_paused = true)]
    async fn on_a_current_thread_runtime_the_timer_alone_ticks_on_its_clock() {
        let (watchdog, mut ticks) = counter().await;
        let mut alarm = Alarm::new(watchdog.clone());
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
