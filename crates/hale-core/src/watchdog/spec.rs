//! How a child asks to be watched.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use ractor::ActorCell;

/// Whether the deadline runs all the time or only while a message is being
/// handled.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BeatMode {
    /// The child beats by itself ([`Heartbeat::beat`](crate::Heartbeat::beat));
    /// it must beat at least once per timeout, always.
    Manual,
    /// Hale beats around every message the child handles (for actors started
    /// with [`ChildSpec::actor`](crate::ChildSpec::actor)); a handler that
    /// runs longer than the timeout counts as hung; an idle child never does.
    /// The child may still beat inside a long handler to show progress.
    PerMessage,
}

type ProbeFuture = Pin<Box<dyn Future<Output = Result<(), String>> + Send>>;
type ProbeFn = Arc<dyn Fn(ActorCell) -> ProbeFuture + Send + Sync>;

/// A functional probe: a known-answer check run on a schedule against the
/// running child. A wrong answer (an `Err`) marks the child degraded in the
/// health snapshot until a later run passes; it never kills the child.
#[derive(Clone)]
pub struct Probe {
    pub(crate) every: Duration,
    pub(crate) timeout: Duration,
    pub(crate) check: ProbeFn,
}

impl Probe {
    /// Runs `check` against the current incarnation every `every`; a check
    /// that takes longer than `every` fails.
    pub fn new<F, Fut>(every: Duration, check: F) -> Self
    where
        F: Fn(ActorCell) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<(), String>> + Send + 'static,
    {
        Self {
            every,
            timeout: every,
            check: Arc::new(move |actor| Box::pin(check(actor))),
        }
    }

    /// Sets how long one check may take before it counts as failed.
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }
}

impl fmt::Debug for Probe {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Probe")
            .field("every", &self.every)
            .field("timeout", &self.timeout)
            .finish_non_exhaustive()
    }
}

/// How a child is watched: set with [`ChildSpec::watch`](crate::ChildSpec::watch).
///
/// When the child misses its deadline, the watchdog reports it `hung`, asks
/// it to stop (reason `hung`), waits `grace`, then kills it; if even the kill
/// does not end it within the child's
/// [`kill_wait`](crate::ChildSpec::kill_wait) (it is stuck in blocking code),
/// the task is counted as stuck and its supervisor replaces it anyway. In every
/// case the supervisor sees an abnormal exit with reason
/// [`ExitReason::Hung`](crate::ExitReason::Hung) and applies its strategy
/// and intensity as for any crash.
#[derive(Clone, Debug)]
pub struct Watch {
    pub(crate) timeout: Duration,
    pub(crate) grace: Duration,
    pub(crate) mode: BeatMode,
    pub(crate) probe: Option<Probe>,
}

impl Watch {
    /// Expects a beat at least every `timeout` (manual mode), with a grace
    /// period of one second between the stop request and the kill.
    pub fn heartbeat(timeout: Duration) -> Self {
        Self {
            timeout,
            grace: Duration::from_secs(1),
            mode: BeatMode::Manual,
            probe: None,
        }
    }

    /// Beats around every handled message instead (see [`BeatMode::PerMessage`]).
    pub fn per_message(timeout: Duration) -> Self {
        Self {
            mode: BeatMode::PerMessage,
            ..Self::heartbeat(timeout)
        }
    }

    /// Sets the time between the stop request and the kill.
    pub fn grace(mut self, grace: Duration) -> Self {
        self.grace = grace;
        self
    }

    /// Adds a functional probe.
    pub fn probe(mut self, probe: Probe) -> Self {
        self.probe = Some(probe);
        self
    }

    /// The heartbeat timeout.
    pub fn timeout(&self) -> Duration {
        self.timeout
    }

    /// The mode.
    pub fn mode(&self) -> BeatMode {
        self.mode
    }
}
