//! [`StuckWork`]: a task counted stuck, which the watchdog holds until its
//! blocking code returns, and [`WorkerShare`]: when the stuck tasks that
//! still run leave the runtime starved.

use ractor::ActorCell;
use tokio::runtime::{Handle, RuntimeFlavor};

use crate::child::Lingering;

/// What a stuck task is, to wait for its end by.
pub(crate) enum StuckWork {
    /// An actor that did not exit after its kill: its handler blocks.
    Actor(ActorCell),
    /// Work a child ran outside its actor (a task's body, a thread) that
    /// outlived the actor and its kill wait.
    Lingering(Lingering),
}

impl StuckWork {
    /// Waits until the blocking code has returned (the actor has exited,
    /// or the work dropped its last token).
    ///
    /// # Cancel safety
    ///
    /// Cancel safe: it only waits.
    pub(crate) async fn ended(&self) {
        match self {
            Self::Actor(actor) => {
                let _ = actor.wait(None).await;
            }
            Self::Lingering(work) => work.ended_wait().await,
        }
    }
}

/// The runtime's workers against the stuck tasks that hold them.
///
/// Hale cannot see which thread a stuck task holds: it counts each one as
/// holding a worker (a task's body or an actor's handler does; a lingering
/// OS thread does not, so that count errs towards an early alarm).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct WorkerShare {
    /// The runtime's worker threads.
    pub(crate) workers: u64,
}

impl WorkerShare {
    /// The share of the runtime the watchdog runs on, on a multi-thread
    /// runtime. `None` on a current-thread runtime: a task that blocks its
    /// one thread stops the watchdog too, and no count could report it.
    pub(crate) fn of_current_runtime() -> Option<Self> {
        let runtime = Handle::try_current().ok()?;
        if runtime.runtime_flavor() != RuntimeFlavor::MultiThread {
            return None;
        }
        let workers = u64::try_from(runtime.metrics().num_workers()).unwrap_or(u64::MAX);
        Some(Self { workers })
    }

    /// Whether `stuck` tasks leave the runtime starved: they hold every
    /// worker but one, so the next task that blocks stops everything, the
    /// watchdog and the supervisors included, and nothing could report it
    /// from inside the runtime any more.
    pub(crate) fn starved_by(self, stuck: u64) -> bool {
        stuck >= self.workers.saturating_sub(1).max(1)
    }
}

#[cfg(all(test, not(hale_loom)))]
mod tests {
    use super::*;

    #[test]
    fn the_alarm_goes_when_one_worker_is_left() {
        let two = WorkerShare { workers: 2 };
        assert!(!two.starved_by(0));
        assert!(two.starved_by(1));
        let eight = WorkerShare { workers: 8 };
        assert!(!eight.starved_by(6));
        assert!(eight.starved_by(7));
        assert!(eight.starved_by(8));
        // One worker: the first stuck task holds it (and only the backstop
        // could tell).
        assert!(WorkerShare { workers: 1 }.starved_by(1));
    }
}
