//! The watchdog: finds children that stopped making progress, and replaces
//! them.
//!
//! OTP sees crashes; an agent looping for 35 minutes or stuck on a call that
//! never returns does not crash. A child opts in through its spec
//! ([`ChildSpec::watch`](crate::ChildSpec::watch)) with a heartbeat timeout
//! and a grace period, and beats through the [`Heartbeat`] its start
//! function receives ([`StartContext::heartbeat`](crate::StartContext::heartbeat),
//! [`TaskContext::heartbeat`](crate::TaskContext::heartbeat)), or lets Hale
//! beat around every message it handles ([`Watch::per_message`]).
//!
//! When a deadline passes without a beat:
//!
//! 1. a `HeartbeatMissed` event, and the child is marked hung;
//! 2. the child is asked to stop with reason `hung` (`HungStopRequested`);
//! 3. after the grace period it is killed (`HungKilled`);
//! 4. a kill cancels a handler at its next `.await`; a handler blocked in
//!    synchronous code never reaches one. If the child has still not exited
//!    after `kill_wait`, it is counted as stuck (`StuckTask`, and
//!    [`WatchdogCounts::stuck`](crate::WatchdogCounts::stuck)) and its
//!    supervisor replaces it anyway: the stuck task is left behind, counted,
//!    never silently forgotten.
//!
//! Whichever way it ends, the supervisor sees an abnormal exit with reason
//! [`ExitReason::Hung`](crate::ExitReason::Hung) and applies its strategy and
//! intensity as for any crash.
//!
//! **A starved runtime.** A stuck task holds a tokio worker until its
//! blocking code returns. The watchdog counts the stuck tasks that still run
//! ([`WatchdogCounts::stuck_now`]); on a multi-thread runtime, when they
//! hold every worker but one, it reports
//! [`WorkersBlocked`](crate::HealingEventKind::WorkersBlocked) and the
//! tree's root turns unready until they end
//! ([`WorkersFreed`](crate::HealingEventKind::WorkersFreed)). Once the last
//! worker is held too, nothing in the runtime runs, the watchdog included:
//! its backstop thread, outside the runtime, then reports
//! [`WatchdogStalled`](crate::HealingEventKind::WatchdogStalled) after
//! [`STALL_BOUND`], and the watchdog's next run reports
//! [`WatchdogResumed`](crate::HealingEventKind::WatchdogResumed).
//! `docs/supervision.md` ("Blocking in agents") says what to do instead.
//!
//! A runtime waits for its workers when it is dropped, so a process with a
//! thread blocked for good would never exit. Stop the tree with a bound and
//! shut the runtime down with one too:
//!
//! ```
//! use std::time::Duration;
//! use hale_core::{Supervisor, SupervisorSpec};
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
//! runtime.block_on(async {
//!     let root = Supervisor::start(SupervisorSpec::new("root")).await?;
//!     // ... serve until asked to stop ...
//!     root.stop(Duration::from_secs(10)).await;
//!     Ok::<_, Box<dyn std::error::Error>>(())
//! })?;
//! // Blocked workers are not waited for past this bound.
//! runtime.shutdown_timeout(Duration::from_secs(5));
//! # Ok(())
//! # }
//! ```
//!
//! **Blocking work.** Run it under `tokio::task::spawn_blocking` and await
//! the handle: the agent's handler then waits at an `.await`, where a kill
//! can end it, while the blocking thread finishes on its own.
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! use std::time::Duration;
//! use hale_core::{ChildSpec, Supervisor, SupervisorSpec, Watch};
//!
//! let crawler = ChildSpec::task("crawler", |ctx| async move {
//!     let heartbeat = ctx.heartbeat();
//!     for _page in 0..3 {
//!         heartbeat.beat(); // one atomic store: beat as often as you like
//!         let parsed = tokio::task::spawn_blocking(|| "parse a page").await?;
//!         let _ = parsed;
//!     }
//!     Ok(())
//! })
//! .watch(Watch::heartbeat(Duration::from_secs(30)).grace(Duration::from_secs(2)));
//! let root = Supervisor::start(SupervisorSpec::new("root").child(crawler)).await?;
//! root.stop(Duration::from_secs(5)).await;
//! # Ok(())
//! # }
//! ```

mod actor;
mod alarm;
mod coarse;
mod due;
mod heartbeat;
mod per_message;
mod probe;
pub(crate) mod pulse;
mod spec;
mod stuck;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use ractor::{Actor, ActorCell, ActorRef};
use serde::{Deserialize, Serialize};

use crate::events::EventBus;
use crate::path::ChildPath;
use actor::WatchdogActor;
pub(crate) use actor::{ExitNotice, Registration, WatchdogMsg};
pub(crate) use coarse::CoarseClock;
#[cfg(hale_loom)]
pub(crate) use coarse::CoarseTicks;
pub use heartbeat::Heartbeat;
pub(crate) use per_message::PerMessage;
pub(crate) use probe::run_probe;
pub use pulse::STALL_BOUND;
pub(crate) use pulse::WatchdogPulse;
pub use spec::{BeatMode, Probe, Watch};
pub(crate) use stuck::StuckWork;

/// What the watchdog has seen so far, for reports and benchmarks.
#[derive(Debug, Default)]
pub struct WatchdogStats {
    watched: AtomicU64,
    hung: AtomicU64,
    killed: AtomicU64,
    stuck: AtomicU64,
    stuck_now: AtomicU64,
    workers_blocked: AtomicBool,
    lateness_max_ms: AtomicU64,
    /// The watchdog's own heartbeat, which its backstop thread reads.
    pub(crate) pulse: WatchdogPulse,
}

/// A copy of [`WatchdogStats`] at one moment.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct WatchdogCounts {
    /// Children watched now.
    pub watched: u64,
    /// Children found hung so far.
    pub hung: u64,
    /// Hung children that did not stop within their grace period and were
    /// killed.
    pub killed: u64,
    /// Killed children that did not exit either (stuck in blocking code):
    /// replaced, and counted here.
    pub stuck: u64,
    /// Of those, the ones whose blocking code still runs now: each holds a
    /// thread (a tokio worker, for a task or an actor) until it returns.
    pub stuck_now: u64,
    /// Whether the stuck tasks that still run hold every worker of the
    /// runtime but one (see
    /// [`WorkersBlocked`](crate::HealingEventKind::WorkersBlocked)): the
    /// tree is unready meanwhile.
    pub workers_blocked: bool,
    /// Whether the watchdog's backstop found it unable to run for longer
    /// than [`STALL_BOUND`] and it has not run since (see
    /// [`WatchdogStalled`](crate::HealingEventKind::WatchdogStalled)).
    pub stalled: bool,
    /// The latest a hung child was found after its deadline, in ms.
    pub lateness_max_ms: u64,
    /// Whether the watchdog actor runs (a liveness check: a tree whose
    /// watchdog is gone finds no hung child).
    pub running: bool,
}

impl WatchdogStats {
    /// The counts now.
    pub fn counts(&self) -> WatchdogCounts {
        WatchdogCounts {
            watched: self.watched.load(Ordering::Relaxed),
            hung: self.hung.load(Ordering::Relaxed),
            killed: self.killed.load(Ordering::Relaxed),
            stuck: self.stuck.load(Ordering::Relaxed),
            stuck_now: self.stuck_now.load(Ordering::Relaxed),
            workers_blocked: self.workers_blocked.load(Ordering::Relaxed),
            stalled: self.pulse.is_stalled(),
            lateness_max_ms: self.lateness_max_ms.load(Ordering::Relaxed),
            running: false,
        }
    }

    /// Counts one more stuck task; returns the total.
    pub(crate) fn record_stuck(&self) -> u64 {
        self.stuck.fetch_add(1, Ordering::Relaxed) + 1
    }

    /// Whether the runtime looks starved: the stuck tasks hold its workers,
    /// or the watchdog could not run. The tree's root is unready meanwhile.
    pub(crate) fn starved(&self) -> bool {
        self.workers_blocked.load(Ordering::Relaxed) || self.pulse.is_stalled()
    }

    fn record_lateness(&self, late: Duration) {
        self.lateness_max_ms
            .fetch_max(hale_util::millis(late), Ordering::Relaxed);
    }
}

/// The tree's watchdog, as the supervisors hold it.
#[derive(Clone)]
pub(crate) struct Watchdog {
    actor: ActorRef<WatchdogMsg>,
    next_id: Arc<AtomicU64>,
    stats: Arc<WatchdogStats>,
    clock: CoarseClock,
    /// The tree's root supervisor, whose readiness says whether the runtime
    /// is starved.
    root: ChildPath,
}

impl Watchdog {
    /// Spawns a tree's watchdog, linked to the tree's root supervisor (at
    /// `path`) so it ends with the tree.
    pub(crate) async fn spawn(
        root: ActorCell,
        path: ChildPath,
        events: EventBus,
    ) -> Result<Self, ractor::SpawnErr> {
        let stats = Arc::new(WatchdogStats::default());
        let clock = CoarseClock::new();
        let arguments = actor::WatchdogArgs {
            events,
            stats: Arc::clone(&stats),
            clock: clock.clone(),
            root: path.clone(),
        };
        let (actor, _join) = Actor::spawn_linked(None, WatchdogActor, arguments, root).await?;
        Ok(Self {
            actor,
            next_id: Arc::new(AtomicU64::new(0)),
            stats,
            clock,
            root: path,
        })
    }

    /// Hands the watchdog a task counted stuck, to hold until its blocking
    /// code returns: while it runs it holds a thread, which the watchdog
    /// weighs against the runtime's workers.
    pub(crate) fn track_stuck(&self, work: StuckWork) {
        // Fails only once the tree is shutting down: nothing left to weigh.
        let _ = self.actor.send_message(WatchdogMsg::Stuck(Box::new(work)));
    }

    /// The readiness the node at `path` adds to its own: the tree's root is
    /// unready while the runtime is starved (see
    /// [`WatchdogCounts::workers_blocked`] and [`WatchdogCounts::stalled`]).
    pub(crate) fn ready_at(&self, path: &ChildPath) -> bool {
        *path != self.root || !self.stats.starved()
    }

    /// Starts watching one incarnation; returns the id to unwatch it with.
    pub(crate) fn watch(&self, registration: Registration) -> u64 {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        // Fails only once the tree is shutting down: nothing left to watch.
        let _ = self
            .actor
            .send_message(WatchdogMsg::Watch(id, Box::new(registration)));
        id
    }

    pub(crate) fn unwatch(&self, id: u64) {
        let _ = self.actor.send_message(WatchdogMsg::Unwatch(id));
    }

    /// Whether `actor` is this watchdog.
    pub(crate) fn is(&self, actor: ractor::ActorId) -> bool {
        self.actor.get_id() == actor
    }

    /// The tree's coarse clock, which its children's heartbeats stamp
    /// handlers with.
    pub(crate) fn clock(&self) -> &CoarseClock {
        &self.clock
    }

    /// What the watchdog has seen, and whether it runs now.
    pub(crate) fn counts(&self) -> WatchdogCounts {
        WatchdogCounts {
            running: self.actor.get_status() == ractor::ActorStatus::Running,
            ..self.stats.counts()
        }
    }

    pub(crate) fn stats(&self) -> Arc<WatchdogStats> {
        Arc::clone(&self.stats)
    }
}
