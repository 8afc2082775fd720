//! The heartbeat handle a watched child beats through.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use hale_util::Progress;
use tokio::time::Instant;

use crate::sync::{AtomicBool, AtomicU64, Ordering};
use crate::watchdog::coarse::CoarseClock;

/// "Not inside a handler": the value of `busy_since_ms` between handlers.
const IDLE: u64 = u64::MAX;

/// A child's heartbeat: cheap to beat from inside any loop.
///
/// [`beat`](Self::beat) is a clock read and one relaxed atomic store; no
/// message is sent. The watchdog reads the last beat when the child's deadline comes
/// round. A fresh handle is made for every incarnation, so a beat from a
/// stale incarnation can never keep its replacement alive.
///
/// A child that is not watched gets a handle too; beating it costs the same
/// and is simply never read.
///
/// A supervisor's children get handles on their tree's coarse clock (see
/// `watchdog/coarse.rs`), which per-message watching stamps handlers with
/// instead of reading the clock.
#[derive(Clone, Debug)]
pub struct Heartbeat {
    cell: Arc<HeartbeatCell>,
}

#[derive(Debug)]
struct HeartbeatCell {
    epoch: Instant,
    last_beat_ms: AtomicU64,
    busy_since_ms: AtomicU64,
    /// When per-message watching last saw a handler end (coarse).
    last_left_ms: AtomicU64,
    /// The tree's coarse clock, whose epoch is `epoch`.
    coarse: Option<CoarseClock>,
    /// Whether the watchdog watches this handle now (so its agenda entries
    /// are live without looking the child up).
    watched: AtomicBool,
    ready: AtomicBool,
    hung: AtomicBool,
    degraded: AtomicBool,
}

impl Default for Heartbeat {
    fn default() -> Self {
        Self::new()
    }
}

impl Heartbeat {
    /// A handle whose first beat is "now".
    pub fn new() -> Self {
        Self::with(Instant::now(), None)
    }

    /// A handle on a tree's coarse clock (and its epoch), first beat now.
    pub(crate) fn on_clock(clock: &CoarseClock) -> Self {
        Self::with(clock.epoch(), Some(clock.clone()))
    }

    fn with(epoch: Instant, coarse: Option<CoarseClock>) -> Self {
        let now_ms = hale_util::millis(Instant::now().saturating_duration_since(epoch));
        Self {
            cell: Arc::new(HeartbeatCell {
                epoch,
                last_beat_ms: AtomicU64::new(now_ms),
                busy_since_ms: AtomicU64::new(IDLE),
                last_left_ms: AtomicU64::new(0),
                coarse,
                watched: AtomicBool::new(false),
                ready: AtomicBool::new(true),
                hung: AtomicBool::new(false),
                degraded: AtomicBool::new(false),
            }),
        }
    }

    /// Records progress: the child is alive as of now.
    pub fn beat(&self) {
        self.cell.last_beat_ms.store(self.now_ms(), Ordering::Relaxed);
    }

    /// Runs `work` so that every progress report made inside it (by
    /// [`hale_util::report_progress`]: the resilience crate's retry loops,
    /// fallback chains and degradable runs report at each attempt, backoff
    /// and alternative) beats this heartbeat. The way to stay alive through
    /// a long resilience pipeline without threading the heartbeat through
    /// its input type. A [`ChildSpec::task`](crate::ChildSpec::task) body
    /// runs inside its incarnation's scope already.
    ///
    /// One attempt must still end within the watch's timeout (put a
    /// `Timeout` below it): a report comes between attempts, not during one.
    ///
    /// # Cancel safety
    ///
    /// Cancel safe exactly when `work` is.
    ///
    /// # Examples
    ///
    /// ```
    /// use hale_core::Heartbeat;
    /// use hale_resilience::RetryPolicy;
    ///
    /// # #[tokio::main(flavor = "current_thread", start_paused = true)]
    /// # async fn main() {
    /// let heartbeat = Heartbeat::new();
    /// let retry = RetryPolicy::builder("model").maximum_attempts(3).build().unwrap();
    /// let mut calls = 0;
    /// let answer = heartbeat
    ///     .beating(retry.call(|| {
    ///         calls += 1;
    ///         let flaky = calls < 3;
    ///         async move { if flaky { Err("503".to_string()) } else { Ok("done") } }
    ///     }))
    ///     .await;
    /// assert_eq!(answer.unwrap(), "done");
    /// assert!(heartbeat.age() < std::time::Duration::from_secs(1)); // beat at each attempt
    /// # }
    /// ```
    pub async fn beating<F: Future>(&self, work: F) -> F::Output {
        self.progress().scope(work).await
    }

    /// A [`Progress`] hook that beats this heartbeat, for scopes built by
    /// hand (see [`beating`](Self::beating)).
    ///
    /// # Examples
    ///
    /// ```
    /// use hale_core::Heartbeat;
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// let heartbeat = Heartbeat::new();
    /// heartbeat.progress().scope(async { hale_util::report_progress() }).await;
    /// # }
    /// ```
    pub fn progress(&self) -> Progress {
        let heartbeat = self.clone();
        Progress::new(move || heartbeat.beat())
    }

    /// Declares the child ready or not ready (e.g. while a dependency it
    /// needs is down). Shown in the health snapshot; never a reason to kill.
    pub fn set_ready(&self, ready: bool) {
        self.cell.ready.store(ready, Ordering::Relaxed);
    }

    /// Whether the child last declared itself ready (true until it says
    /// otherwise).
    pub fn is_ready(&self) -> bool {
        self.cell.ready.load(Ordering::Relaxed)
    }

    /// How long ago the child last beat (under per-message watching: began
    /// or ended a handler).
    pub fn age(&self) -> Duration {
        let busy = self.busy_since_ms().unwrap_or(0);
        let left = self.cell.last_left_ms.load(Ordering::Relaxed);
        let last = self.last_beat_ms().max(busy).max(left);
        Duration::from_millis(self.now_ms().saturating_sub(last))
    }

    /// Marks the start of a unit of work, and beats: under per-message
    /// watching the deadline runs from now until [`leave`](Self::leave).
    /// (Hale's own per-message wrapper stamps handlers with the tree's coarse
    /// clock instead, which costs no clock read.)
    pub fn enter(&self) {
        let now = self.now_ms();
        self.cell.last_beat_ms.store(now, Ordering::Relaxed);
        self.cell.busy_since_ms.store(now, Ordering::Relaxed);
    }

    /// Marks the end of a unit of work: under per-message watching an idle
    /// child is never late.
    ///
    /// Not a beat (the last beat stays at [`enter`](Self::enter) or a later
    /// [`beat`](Self::beat)): reading the clock here would double the
    /// per-message cost for nothing, since an idle child has no deadline.
    pub fn leave(&self) {
        self.cell.busy_since_ms.store(IDLE, Ordering::Relaxed);
    }

    /// What [`Watch::per_message`](crate::Watch::per_message) calls as a
    /// handler begins: the coarse clock's stamp if the handle has one (one
    /// load, one store), else [`enter`](Self::enter).
    pub(crate) fn handler_started(&self) {
        match &self.cell.coarse {
            Some(clock) => self.cell.busy_since_ms.store(clock.read(), Ordering::Relaxed),
            None => self.enter(),
        }
    }

    /// What per-message watching calls as a handler ends.
    pub(crate) fn handler_finished(&self) {
        if let Some(clock) = &self.cell.coarse {
            self.cell.last_left_ms.store(clock.read(), Ordering::Relaxed);
        }
        self.leave();
    }

    /// Set by the watchdog as it starts and stops watching this handle.
    pub(crate) fn set_watched(&self, watched: bool) {
        self.cell.watched.store(watched, Ordering::Relaxed);
    }

    pub(crate) fn is_watched(&self) -> bool {
        self.cell.watched.load(Ordering::Relaxed)
    }

    /// The last beat, in ms since this handle's epoch.
    pub(crate) fn last_beat_ms(&self) -> u64 {
        self.cell.last_beat_ms.load(Ordering::Relaxed)
    }

    /// When the running handler began (a lower bound, in ms since the
    /// epoch), or `None` while idle.
    pub(crate) fn busy_since_ms(&self) -> Option<u64> {
        let since = self.cell.busy_since_ms.load(Ordering::Relaxed);
        (since != IDLE).then_some(since)
    }

    pub(crate) fn now_ms(&self) -> u64 {
        hale_util::millis(Instant::now().saturating_duration_since(self.cell.epoch))
    }

    pub(crate) fn epoch(&self) -> Instant {
        self.cell.epoch
    }

    /// Set by the watchdog before it stops a child, so the exit is
    /// classified as `hung` whatever ractor reports.
    pub(crate) fn mark_hung(&self) {
        self.cell.hung.store(true, Ordering::SeqCst);
    }

    pub(crate) fn is_hung(&self) -> bool {
        self.cell.hung.load(Ordering::SeqCst)
    }

    pub(crate) fn set_degraded(&self, degraded: bool) {
        self.cell.degraded.store(degraded, Ordering::Relaxed);
    }

    pub(crate) fn is_degraded(&self) -> bool {
        self.cell.degraded.load(Ordering::Relaxed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn a_beat_moves_the_last_beat_and_resets_the_age() {
        let heartbeat = Heartbeat::new();
        assert_eq!(heartbeat.last_beat_ms(), 0);
        tokio::time::advance(Duration::from_millis(70)).await;
        assert_eq!(heartbeat.age(), Duration::from_millis(70));
        heartbeat.beat();
        assert_eq!(heartbeat.last_beat_ms(), 70);
        assert_eq!(heartbeat.age(), Duration::ZERO);
    }

    #[tokio::test(start_paused = true)]
    async fn a_handler_is_stamped_with_the_coarse_clock() {
        let clock = CoarseClock::new();
        tokio::time::advance(Duration::from_millis(500)).await;
        let heartbeat = Heartbeat::on_clock(&clock);
        // First beat "now", in the clock's epoch.
        assert_eq!(heartbeat.last_beat_ms(), 500);
        assert_eq!(heartbeat.busy_since_ms(), None);
        // The watchdog has not advanced the clock: the stamp is its last value.
        heartbeat.handler_started();
        assert_eq!(heartbeat.busy_since_ms(), Some(0));
        heartbeat.handler_finished();
        assert_eq!(heartbeat.busy_since_ms(), None);
    }

    #[tokio::test(start_paused = true)]
    async fn without_a_clock_a_handler_reads_the_time() {
        let heartbeat = Heartbeat::new();
        tokio::time::advance(Duration::from_millis(500)).await;
        heartbeat.handler_started();
        assert_eq!(heartbeat.busy_since_ms(), Some(500));
        assert_eq!(heartbeat.last_beat_ms(), 500);
        heartbeat.handler_finished();
        assert_eq!(heartbeat.busy_since_ms(), None);
    }
}
