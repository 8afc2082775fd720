//! What wakes the watchdog when its next entry comes due.
//!
//! The natural choice is a tokio timer, and on a current-thread runtime (and
//! under tokio's paused clock) it is the only one. On a multi-thread runtime
//! it is not enough, because of the very children the watchdog is there for:
//! tokio's timers fire only while an idle worker parks *on the driver*. When
//! the worker that held the driver wakes to run a child that then blocks its
//! thread in synchronous code, the other workers may all be parked on a plain
//! condition variable, and nothing polls the driver again: every timer in the
//! runtime, the watchdog's included, stops until the blocked child returns.
//! A thread of its own keeps the watchdog's time. When it sends the watchdog
//! its tick from outside the runtime, tokio wakes a parked worker to run it,
//! and once that worker is idle again it takes the driver, so the other
//! timers (the grace period, the kill wait) run again too.
//!
//! The thread is spawned on the first deadline, so a tree that watches
//! nothing has none. It sleeps on a condition variable, costs nothing while
//! idle, and ends with the watchdog.

use std::sync::{Arc, Condvar, Mutex, PoisonError};
use std::time::Instant as StdInstant;

use ractor::ActorRef;
use tokio::runtime::{Handle, RuntimeFlavor};
use tokio::task::JoinHandle;
use tokio::time::Instant;

use crate::watchdog::actor::WatchdogMsg;

/// Sends the watchdog a `Tick` no later than the earliest time it was set
/// for. A tick may come early (a stale one, say); the watchdog checks what
/// is due and sets the alarm again.
pub(crate) struct Alarm {
    watchdog: ActorRef<WatchdogMsg>,
    kind: AlarmKind,
}

enum AlarmKind {
    /// A timer task, re-spawned for every earlier deadline.
    Task(Option<(Instant, JoinHandle<()>)>),
    /// Not spawned yet: a thread will be, on the first deadline.
    ThreadPending,
    /// A thread of the watchdog's own.
    Thread(Arc<AlarmClock>),
}

impl Alarm {
    /// An alarm for `watchdog`, of the kind its runtime needs.
    pub(crate) fn new(watchdog: ActorRef<WatchdogMsg>) -> Self {
        let multi_thread = Handle::try_current()
            .map(|runtime| runtime.runtime_flavor() == RuntimeFlavor::MultiThread)
            .unwrap_or(false);
        let kind = if multi_thread {
            AlarmKind::ThreadPending
        } else {
            AlarmKind::Task(None)
        };
        Self { watchdog, kind }
    }

    /// Makes sure a tick comes no later than `at`.
    pub(crate) fn set(&mut self, at: Instant) {
        if matches!(self.kind, AlarmKind::ThreadPending) {
            self.kind = match AlarmClock::spawn(self.watchdog.clone()) {
                Ok(clock) => AlarmKind::Thread(clock),
                Err(error) => {
                    tracing::warn!(target: "hale::watchdog", %error, "no alarm thread; the watchdog's ticks use a tokio timer");
                    AlarmKind::Task(None)
                }
            };
        }
        match &mut self.kind {
            AlarmKind::Thread(clock) => clock.set(at.into_std()),
            AlarmKind::Task(armed) => {
                if let Some((armed_for, _)) = armed
                    && *armed_for <= at
                {
                    return;
                }
                if let Some((_, timer)) = armed.take() {
                    timer.abort();
                }
                let watchdog = self.watchdog.clone();
                let timer = tokio::spawn(async move {
                    tokio::time::sleep_until(at).await;
                    // Fails only while the watchdog is stopping.
                    let _ = watchdog.send_message(WatchdogMsg::Tick);
                });
                *armed = Some((at, timer));
            }
            AlarmKind::ThreadPending => {}
        }
    }

    /// A tick arrived: whatever was armed has fired (or will harmlessly).
    pub(crate) fn fired(&mut self) {
        if let AlarmKind::Task(armed) = &mut self.kind {
            *armed = None;
        }
    }
}

impl Drop for Alarm {
    fn drop(&mut self) {
        match &mut self.kind {
            AlarmKind::Task(armed) => {
                if let Some((_, timer)) = armed.take() {
                    timer.abort();
                }
            }
            AlarmKind::Thread(clock) => clock.close(),
            AlarmKind::ThreadPending => {}
        }
    }
}

/// The state an alarm thread shares with its watchdog.
struct AlarmClock {
    next: Mutex<Next>,
    changed: Condvar,
}

#[derive(Default)]
struct Next {
    at: Option<StdInstant>,
    closed: bool,
}

impl AlarmClock {
    fn spawn(watchdog: ActorRef<WatchdogMsg>) -> std::io::Result<Arc<Self>> {
        let clock = Arc::new(Self {
            next: Mutex::new(Next::default()),
            changed: Condvar::new(),
        });
        let shared = Arc::clone(&clock);
        std::thread::Builder::new()
            .name("hale-watchdog-alarm".to_owned())
            // It only waits and sends: a small stack is plenty.
            .stack_size(64 * 1024)
            .spawn(move || shared.run(&watchdog))?;
        Ok(clock)
    }

    fn set(&self, at: StdInstant) {
        let mut next = self.lock();
        if next.at.is_none_or(|armed| at < armed) {
            next.at = Some(at);
            self.changed.notify_one();
        }
    }

    fn close(&self) {
        self.lock().closed = true;
        self.changed.notify_one();
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Next> {
        // The guarded state stays valid whatever panicked while holding it.
        self.next.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The thread's loop: wait for the armed time, tick, repeat.
    fn run(&self, watchdog: &ActorRef<WatchdogMsg>) {
        let mut next = self.lock();
        loop {
            if next.closed {
                return;
            }
            let Some(at) = next.at else {
                next = self.changed.wait(next).unwrap_or_else(PoisonError::into_inner);
                continue;
            };
            let now = StdInstant::now();
            if now < at {
                next = self
                    .changed
                    .wait_timeout(next, at - now)
                    .unwrap_or_else(PoisonError::into_inner)
                    .0;
                continue;
            }
            next.at = None;
            drop(next);
            if watchdog.send_message(WatchdogMsg::Tick).is_err() {
                // The watchdog is gone.
                return;
            }
            next = self.lock();
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use ractor::{Actor, ActorProcessingErr, ActorRef};
    use tokio::sync::mpsc;
    use tokio::time::Instant;

    use super::{Alarm, AlarmKind};
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
    async fn on_a_multi_thread_runtime_a_thread_ticks_at_the_earliest_time_set() {
        let (watchdog, mut ticks) = counter().await;
        let mut alarm = Alarm::new(watchdog.clone());
        assert!(
            matches!(alarm.kind, AlarmKind::ThreadPending),
            "no thread before a deadline"
        );
        let start = Instant::now();
        alarm.set(start + Duration::from_secs(5));
        assert!(matches!(alarm.kind, AlarmKind::Thread(_)));
        // An earlier deadline moves the tick forward; a later one does not
        // push it back.
        alarm.set(start + Duration::from_millis(30));
        alarm.set(start + Duration::from_secs(6));
        let first = tokio::time::timeout(BOUND, ticks.recv()).await.unwrap().unwrap();
        assert!(first >= start + Duration::from_millis(30));
        assert!(first < start + Duration::from_secs(5), "{:?}", first - start);
        // Once fired it is disarmed: the next set arms it again.
        alarm.set(Instant::now() + Duration::from_millis(10));
        tokio::time::timeout(BOUND, ticks.recv()).await.unwrap().unwrap();
        drop(alarm);
        watchdog.stop(None);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_dropped_alarm_never_ticks() {
        let (watchdog, mut ticks) = counter().await;
        let mut alarm = Alarm::new(watchdog.clone());
        alarm.set(Instant::now() + Duration::from_millis(50));
        drop(alarm);
        // Past its time, with room for a late thread.
        tokio::time::sleep(Duration::from_millis(200)).await;
        assert!(ticks.try_recv().is_err());
        watchdog.stop(None);
    }

    #[tokio::test(start_paused = true)]
    async fn on_a_current_thread_runtime_a_tokio_timer_ticks_on_its_clock() {
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
        assert!(matches!(alarm.kind, AlarmKind::Task(_)));
        watchdog.stop(None);
    }
}
