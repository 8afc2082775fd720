//! Healing events: one stream that says what the supervisors did.
//!
//! Every start, exit, restart, stop, give-up and shutdown in a tree becomes a
//! [`HealingEvent`]: serde-serializable, stamped with the wall-clock time and
//! the path of the node it is about. Each event goes two ways at once:
//!
//! - to every subscriber of the tree's [`EventBus`], which is bounded: a
//!   subscriber that keeps within the bus's capacity receives every event in
//!   order; one that falls further behind is told how many it missed
//!   ([`RecvError::Lagged`](hale_util::RecvError::Lagged)) and never slows
//!   the supervisors (metrics, reports and audit trails are built on this);
//! - to `tracing`, under the target `hale::healing`, at the level of what it
//!   asks of a human ([`HealingEventKind::log_level`]): `ERROR` when one is
//!   needed now, `WARN` when something was given up, `INFO` for healing at
//!   work, `DEBUG` for the routine.
//!
//! A whole tree shares one bus: nested supervisors inherit their parent's.
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() {
//! use hale_core::{EventBus, HealingEventKind};
//!
//! let bus = EventBus::new();
//! let mut events = bus.subscribe();
//! bus.emit(&hale_core::ChildPath::root("root"), HealingEventKind::SupervisorStarted { children: 0 });
//! let event = events.recv().await.unwrap();
//! assert_eq!(event.path.to_string(), "root");
//! # }
//! ```

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, PoisonError, RwLock};

use serde::{Deserialize, Serialize};

use crate::exit::ExitReason;
use crate::path::ChildPath;

/// One thing a supervisor did or saw, with when and where.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct HealingEvent {
    /// Wall-clock time of the event, in milliseconds since the Unix epoch.
    pub timestamp_ms: u64,
    /// The node the event is about: a child's path, or a supervisor's own path
    /// for events about the supervisor itself.
    pub path: ChildPath,
    /// What happened.
    pub kind: HealingEventKind,
    /// The machine the child ran on, when that is another node than this
    /// one (a `hale-cluster` remote child); `None` for local children.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub node: Option<String>,
}

/// Why a supervisor stopped a child that was running.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StopCause {
    /// `terminate_child` through the administration API.
    Terminated,
    /// A sibling failed and the strategy restarts this child with it.
    GroupRestart,
    /// The supervisor itself is shutting down.
    SupervisorShutdown,
}

/// How a stop requested by a supervisor ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StopOutcome {
    /// The child stopped within its shutdown time.
    Exited,
    /// The child did not stop in time (or its shutdown is brutal kill) and was
    /// killed.
    Killed,
    /// The child was killed but did not exit within the kill bound: it is
    /// stuck in code that never reaches an `.await` (blocking work). The
    /// supervisor stops waiting for it and goes on; the task is counted here,
    /// never silently forgotten.
    Stuck,
}

/// What happened, in a [`HealingEvent`].
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "event", rename_all = "snake_case")]
#[non_exhaustive]
pub enum HealingEventKind {
    /// A supervisor started all its initial children.
    SupervisorStarted {
        /// How many children it started with.
        children: usize,
    },
    /// A child was started: at boot, by `start_child` or by `restart_child`.
    ChildStarted,
    /// A child's start function answered "ignore": its spec is kept (or
    /// dropped, for a temporary child) with no running child.
    ChildIgnored,
    /// A child's start function failed at boot or through the API.
    StartFailed {
        /// The start function's error.
        cause: String,
    },
    /// A running child exited by itself.
    ChildExited {
        /// The classified reason.
        reason: ExitReason,
        /// Whether the supervisor will restart it.
        will_restart: bool,
    },
    /// A child was restarted by its supervisor after an exit (its own or,
    /// under one_for_all and rest_for_one, a sibling's).
    ChildRestarted {
        /// How many times this child has been restarted in all.
        restarts: u32,
    },
    /// A child that restarts in place ([`in_place`](crate::in_place)) is
    /// being restarted on its own mailbox: the messages queued behind the
    /// one it failed on are kept. Its `ChildRestarted` follows.
    RestartedInPlace {
        /// The new incarnation (1 was the first start).
        incarnation: u64,
    },
    /// A child that restarts in place could not be: it is spawned fresh
    /// (its mailbox is lost, as for any child). Its `ChildRestarted`
    /// follows.
    FreshRestart {
        /// Why.
        cause: crate::in_place::FreshCause,
        /// The new incarnation.
        incarnation: u64,
    },
    /// A child restarted in place failed on a message, which was handed to
    /// its dead-letter sink ([`DeadLetterSink`](crate::DeadLetterSink)).
    MessageDeadLettered {
        /// What its handler returned, or the panic's text.
        error: String,
        /// Whether the letter carries the message (the sink keeps messages).
        kept: bool,
        /// Whether the sink was full (or its receiver gone) and the letter
        /// was dropped.
        dropped: bool,
    },
    /// Restarting a child failed; the supervisor marks it `restarting` and
    /// tries again through its own mailbox.
    RestartFailed {
        /// The start function's error.
        cause: String,
    },
    /// The supervisor stopped a running child.
    ChildStopped {
        /// Why it was stopped.
        cause: StopCause,
        /// How the stop ended.
        outcome: StopOutcome,
    },
    /// A dynamic supervisor was asked to start a unique child whose key is
    /// already running, and answered with the running one instead of
    /// starting a duplicate.
    DuplicateRefused {
        /// The logical task's key.
        key: String,
    },
    /// A child used up its own restart limit
    /// ([`ChildSpec::restart_limit`](crate::ChildSpec::restart_limit)): it is
    /// given up, not restarted, and its siblings and supervisor go on.
    RestartLimitReached {
        /// The most restarts it was allowed.
        max_restarts: u32,
        /// Within this long, in ms.
        within_ms: u64,
    },
    /// A restart was delayed by the child's backoff policy.
    BackoffScheduled {
        /// The delay, in ms.
        delay_ms: u64,
        /// Restarts since the child last ran stably (the exponent).
        attempt: u32,
    },
    /// A watched child missed its heartbeat deadline: it is hung.
    HeartbeatMissed {
        /// Its heartbeat timeout, in ms.
        timeout_ms: u64,
        /// How long after its deadline it was found, in ms.
        late_ms: u64,
    },
    /// The watchdog asked a hung child to stop and gives it its grace period.
    HungStopRequested {
        /// The grace period, in ms.
        grace_ms: u64,
    },
    /// A hung child did not stop within its grace period and was killed.
    HungKilled,
    /// A killed hung child did not exit either: it is stuck in code that
    /// never yields. Its supervisor replaces it; the task is counted.
    StuckTask {
        /// Stuck tasks in this tree so far.
        stuck_total: u64,
    },
    /// Tasks stuck in blocking code now hold every worker of the tokio
    /// runtime but one (a multi-thread runtime; the path is the tree's
    /// root). The next task that blocks stops everything in the runtime,
    /// the watchdog and the supervisors included. Critical: the tree's root
    /// is unready until enough of them end
    /// ([`WorkersFreed`](Self::WorkersFreed)). Hale counts every stuck
    /// task as holding one worker; it cannot see which thread each holds.
    WorkersBlocked {
        /// Stuck tasks whose blocking code still runs.
        stuck: u64,
        /// The runtime's worker threads.
        workers: u64,
    },
    /// After [`WorkersBlocked`](Self::WorkersBlocked): enough stuck tasks
    /// have ended that two workers or more are free again; the tree's root
    /// is ready again (unless the watchdog is stalled).
    WorkersFreed {
        /// Stuck tasks whose blocking code still runs.
        stuck: u64,
        /// The runtime's worker threads.
        workers: u64,
    },
    /// The watchdog could not run for longer than
    /// [`STALL_BOUND`](crate::watchdog::STALL_BOUND) after one of its
    /// deadlines came due: every worker of the runtime is held (by code
    /// that blocks its thread, as a rule). Reported from the watchdog's
    /// backstop thread, outside the runtime, about the tree's root, which
    /// is unready until the watchdog runs again
    /// ([`WatchdogResumed`](Self::WatchdogResumed)). Meanwhile no hung child
    /// is found and no supervisor acts. Critical.
    WatchdogStalled {
        /// How long after its deadline the watchdog still had not run, in
        /// ms.
        stalled_ms: u64,
    },
    /// After [`WatchdogStalled`](Self::WatchdogStalled): the watchdog runs
    /// again, and the tree's root is ready again (unless the workers are
    /// still blocked).
    WatchdogResumed {
        /// How long the watchdog had not run, from its last run before the
        /// stall, in ms.
        silent_ms: u64,
    },
    /// A functional probe ran against a child.
    ProbeResult {
        /// Whether it answered correctly.
        passed: bool,
        /// What was wrong, when it did not.
        detail: Option<String>,
    },
    /// A child's spec was removed: a temporary child exited, or
    /// `delete_child` was called.
    ChildRemoved,
    /// More restarts than the intensity allows happened within the period:
    /// the supervisor stops all its children and exits with `shutdown`, and
    /// its parent decides what that means (escalation).
    IntensityExceeded {
        /// The supervisor's intensity (MaxRestarts).
        intensity: u32,
        /// The supervisor's period (MaxTime), in milliseconds.
        period_ms: u64,
    },
    /// A significant child exited and the supervisor's auto_shutdown rule
    /// says the supervisor's job is done.
    AutoShutdown {
        /// The significant child whose exit triggered it.
        child: String,
    },
    /// The tree's watchdog exited while the tree ran: from then on no hung
    /// child would be found. The root supervisor escalates: it stops its
    /// children and exits with `shutdown`, so the failure cannot go unseen.
    WatchdogExited {
        /// Why the watchdog exited.
        reason: ExitReason,
    },
    /// The supervisor exited.
    SupervisorStopped {
        /// Its exit reason.
        reason: ExitReason,
    },
}

impl HealingEventKind {
    /// The level of the event's log line, by what it asks of the person on
    /// call (docs/operations.md, "Log levels"):
    ///
    /// - `ERROR`: a human is needed now. A supervisor gave up (its
    ///   intensity was exceeded), the watchdog is down or starved, a task
    ///   is stuck in blocking code that no kill can end, or such tasks hold
    ///   the runtime's workers.
    /// - `WARN`: the tree healed around it but lost something a human may
    ///   want to look at: a child given up on (its own restart limit, or a
    ///   failure it is not restarted after), a failed start or restart, a
    ///   functional probe that failed.
    /// - `INFO`: healing at work: a crash that is being restarted, a hung
    ///   child found and replaced, a starved runtime running again.
    /// - `DEBUG`: the routine of a tree: starts, restarts, backoffs,
    ///   removals, passing probes.
    ///
    /// # Examples
    ///
    /// ```
    /// use hale_core::{ExitReason, HealingEventKind};
    ///
    /// let healed = HealingEventKind::ChildExited { reason: ExitReason::Failed("503".into()), will_restart: true };
    /// assert_eq!(healed.log_level(), tracing::Level::INFO);
    /// let gave_up = HealingEventKind::IntensityExceeded { intensity: 3, period_ms: 5_000 };
    /// assert_eq!(gave_up.log_level(), tracing::Level::ERROR);
    /// ```
    pub fn log_level(&self) -> tracing::Level {
        match self {
            Self::IntensityExceeded { .. }
            | Self::WatchdogExited { .. }
            | Self::WorkersBlocked { .. }
            | Self::WatchdogStalled { .. }
            | Self::StuckTask { .. }
            | Self::ChildStopped {
                outcome: StopOutcome::Stuck,
                ..
            } => tracing::Level::ERROR,
            Self::ChildExited {
                reason,
                will_restart: false,
            } if !reason.is_normal() => tracing::Level::WARN,
            Self::StartFailed { .. }
            | Self::RestartFailed { .. }
            | Self::RestartLimitReached { .. }
            | Self::MessageDeadLettered { dropped: true, .. }
            | Self::ProbeResult { passed: false, .. } => tracing::Level::WARN,
            Self::MessageDeadLettered { .. } => tracing::Level::INFO,
            Self::ChildExited { reason, .. } if !reason.is_normal() => tracing::Level::INFO,
            Self::HeartbeatMissed { .. }
            | Self::HungStopRequested { .. }
            | Self::HungKilled
            | Self::WorkersFreed { .. }
            | Self::WatchdogResumed { .. } => tracing::Level::INFO,
            _ => tracing::Level::DEBUG,
        }
    }
}

/// A subscription to an [`EventBus`]: the healing events emitted since it
/// was made, in order, within the bus's capacity (see [`EventBus`]).
pub type EventStream = hale_util::EventStream<HealingEvent>;

/// Fans healing events out to subscribers and to `tracing`.
///
/// Cloning a bus gives another handle to the same subscribers. The bus is
/// bounded: each subscriber may fall [`capacity`](Self::capacity) events
/// behind (default [`hale_util::DEFAULT_CAPACITY`]); beyond that its oldest
/// unread events are overwritten and its next read answers
/// [`RecvError::Lagged`](hale_util::RecvError::Lagged) with how many it
/// missed. Emitting never waits for a subscriber, so a reader that never
/// reads costs a fixed amount of memory, not a growing one, and never slows
/// a supervisor down.
#[derive(Clone, Debug, Default)]
pub struct EventBus {
    subscribers: hale_util::Broadcast<HealingEvent>,
    /// The node of each child that runs on another machine, by path: every
    /// event about it says where it ran. One entry per remote child, gone
    /// when the child is removed.
    placements: Arc<RwLock<HashMap<ChildPath, String>>>,
    /// Whether any child was ever placed on another node: until then an
    /// event reads no lock to learn that it has no node.
    any_placed: Arc<AtomicBool>,
}

impl EventBus {
    /// A bus with no subscribers yet and the default capacity.
    ///
    /// # Examples
    ///
    /// ```
    /// let bus = hale_core::EventBus::new();
    /// assert_eq!(bus.capacity(), hale_util::DEFAULT_CAPACITY);
    /// ```
    pub fn new() -> Self {
        Self::default()
    }

    /// A bus whose subscribers may each fall up to `capacity` events behind
    /// (taken into `1..=`[`hale_util::MAX_CAPACITY`], rounded up to a power
    /// of two). A chaos run that must account for every event sizes it for
    /// its burst and checks [`EventStream::missed`] at the end.
    ///
    /// # Examples
    ///
    /// ```
    /// let bus = hale_core::EventBus::with_capacity(1_000);
    /// assert_eq!(bus.capacity(), 1_024);
    /// ```
    pub fn with_capacity(capacity: usize) -> Self {
        Self {
            subscribers: hale_util::Broadcast::with_capacity(capacity),
            placements: Arc::default(),
            any_placed: Arc::default(),
        }
    }

    /// How many unread events a subscriber may hold before it misses some.
    pub fn capacity(&self) -> usize {
        self.subscribers.capacity()
    }

    /// A new subscription: it receives every event emitted from now on,
    /// within the capacity.
    pub fn subscribe(&self) -> EventStream {
        self.subscribers.subscribe()
    }

    /// Emits an event about the node at `path` to `tracing` and to every live
    /// subscriber. Never waits.
    pub fn emit(&self, path: &ChildPath, kind: HealingEventKind) {
        trace_event(path, &kind);
        if !self.subscribers.has_subscribers() {
            return;
        }
        self.subscribers.send(HealingEvent {
            timestamp_ms: hale_util::unix_millis(),
            path: path.clone(),
            kind,
            node: self.node_of(path),
        });
    }

    /// Records the node the child at `path` runs on (`None`: this one).
    pub(crate) fn place(&self, path: &ChildPath, node: Option<String>) {
        let mut placements = self.placements.write().unwrap_or_else(PoisonError::into_inner);
        match node {
            Some(node) => {
                self.any_placed.store(true, Ordering::Release);
                placements.insert(path.clone(), node)
            }
            None => placements.remove(path),
        };
    }

    fn node_of(&self, path: &ChildPath) -> Option<String> {
        if !self.any_placed.load(Ordering::Acquire) {
            return None; // a tree with no remote child: the usual case
        }
        let placements = self.placements.read().unwrap_or_else(PoisonError::into_inner);
        placements.get(path).cloned()
    }
}

fn trace_event(path: &ChildPath, kind: &HealingEventKind) {
    macro_rules! at_level {
        ($level:expr) => {
            tracing::event!(target: "hale::healing", $level, path = %path, event = ?kind)
        };
    }
    // `tracing::event!` needs its level as a constant.
    match kind.log_level() {
        tracing::Level::ERROR => at_level!(tracing::Level::ERROR),
        tracing::Level::WARN => at_level!(tracing::Level::WARN),
        tracing::Level::INFO => at_level!(tracing::Level::INFO),
        _ => at_level!(tracing::Level::DEBUG),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn every_subscriber_gets_every_event_and_dropped_ones_are_forgotten() {
        let bus = EventBus::new();
        let mut first = bus.subscribe();
        let second = bus.subscribe();
        drop(second);
        let path = ChildPath::root("root").child("a");
        bus.emit(&path, HealingEventKind::ChildStarted);
        bus.emit(&path, HealingEventKind::ChildRemoved);
        assert_eq!(first.recv().await.unwrap().kind, HealingEventKind::ChildStarted);
        assert_eq!(first.recv().await.unwrap().kind, HealingEventKind::ChildRemoved);
        assert_eq!(bus.subscribers.subscriber_count(), 1);
    }

    #[test]
    fn events_round_trip_through_json() {
        let event = HealingEvent {
            timestamp_ms: 42,
            path: ChildPath::root("root").child("worker"),
            kind: HealingEventKind::ChildExited {
                reason: ExitReason::Failed("boom".into()),
                will_restart: true,
            },
            node: None,
        };
        let json = serde_json::to_string(&event).unwrap();
        assert!(json.contains(r#""event":"child_exited""#), "{json}");
        assert_eq!(serde_json::from_str::<HealingEvent>(&json).unwrap(), event);
    }
}
