//! The heartbeat handle a watched child beats through.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use tokio::time::Instant;

/// "Not inside a handler" for [`Heartbeat::enter`]/[`Heartbeat::leave`].
const IDLE: u64 = u64::MAX;

/// A child's heartbeat: cheap to beat from inside any loop.
///
/// [`beat`](Self::beat) is two atomic operations and a clock read; no message
/// is sent. The watchdog reads the last beat when the child's deadline comes
/// round. A fresh handle is made for every incarnation, so a beat from a
/// stale incarnation can never keep its replacement alive.
///
/// A child that is not watched gets a handle too; beating it costs the same
/// and is simply never read.
#[derive(Clone, Debug)]
pub struct Heartbeat {
    cell: Arc<HeartbeatCell>,
}

#[derive(Debug)]
struct HeartbeatCell {
    epoch: Instant,
    last_beat_ms: AtomicU64,
    busy_since_ms: AtomicU64,
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
        Self {
            cell: Arc::new(HeartbeatCell {
                epoch: Instant::now(),
                last_beat_ms: AtomicU64::new(0),
                busy_since_ms: AtomicU64::new(IDLE),
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

    /// How long ago the child last beat.
    pub fn age(&self) -> Duration {
        let last = self.cell.last_beat_ms.load(Ordering::Relaxed);
        Duration::from_millis(self.now_ms().saturating_sub(last))
    }

    /// Marks the start of a unit of work (per-message mode does this around
    /// every handler): from now on the deadline runs.
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

    /// The deadline, in ms since this handle's epoch, by which the next beat
    /// is due; `None` while an idle child is watched per message.
    pub(crate) fn deadline_ms(&self, timeout: Duration, per_message: bool) -> Option<u64> {
        if per_message && self.cell.busy_since_ms.load(Ordering::Relaxed) == IDLE {
            return None;
        }
        let last = self.cell.last_beat_ms.load(Ordering::Relaxed);
        Some(last.saturating_add(duration_ms(timeout)))
    }

    pub(crate) fn now_ms(&self) -> u64 {
        duration_ms(Instant::now().saturating_duration_since(self.cell.epoch))
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

pub(crate) fn duration_ms(duration: Duration) -> u64 {
    u64::try_from(duration.as_millis()).unwrap_or(u64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn manual_deadline_moves_with_each_beat() {
        let heartbeat = Heartbeat::new();
        let timeout = Duration::from_millis(100);
        assert_eq!(heartbeat.deadline_ms(timeout, false), Some(100));
        tokio::time::advance(Duration::from_millis(70)).await;
        heartbeat.beat();
        assert_eq!(heartbeat.deadline_ms(timeout, false), Some(170));
        assert_eq!(heartbeat.age(), Duration::ZERO);
    }

    #[tokio::test(start_paused = true)]
    async fn per_message_deadline_runs_only_inside_a_handler() {
        let heartbeat = Heartbeat::new();
        let timeout = Duration::from_millis(100);
        assert_eq!(heartbeat.deadline_ms(timeout, true), None);
        tokio::time::advance(Duration::from_millis(500)).await;
        heartbeat.enter();
        assert_eq!(heartbeat.deadline_ms(timeout, true), Some(600));
        heartbeat.leave();
        assert_eq!(heartbeat.deadline_ms(timeout, true), None);
    }
}
