//! The child spec and the start function's contract.

use std::fmt;
use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::pin::Pin;
use std::sync::Arc;

use futures::FutureExt;
use ractor::{ActorCell, SpawnErr};
use serde::{Deserialize, Serialize};

use crate::backoff::RestartBackoff;
use crate::child::{Linger, LingerSlot};
use crate::events::EventBus;
use crate::exit::ExitReason;
use crate::path::ChildPath;
use crate::shutdown::Shutdown;
use crate::spec::SpecError;
use crate::watchdog::{Heartbeat, Watch, Watchdog};

/// When a child is restarted after it exits (OTP's `restart` field).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Restart {
    /// Always restarted, whatever the exit reason. The default.
    #[default]
    Permanent,
    /// Restarted only after an abnormal exit; a normal or shutdown exit means
    /// its job is done.
    Transient,
    /// Never restarted; its spec is forgotten when it exits.
    Temporary,
}

impl Restart {
    /// Whether a child with this restart type is restarted after `reason`.
    pub fn restarts_after(self, reason: &ExitReason) -> bool {
        match self {
            Self::Permanent => true,
            Self::Transient => !reason.is_normal(),
            Self::Temporary => false,
        }
    }
}

/// Whether a child is a worker or a supervisor (OTP's `type` field). It sets
/// the default shutdown and is reported by `count_children`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ChildKind {
    /// Does the work. Default shutdown: 5 s, then kill.
    #[default]
    Worker,
    /// Supervises a subtree. Default shutdown: infinity.
    Supervisor,
}

/// What a start function tells the supervisor.
#[derive(Debug)]
pub enum StartOutcome {
    /// The child runs, linked to the supervisor.
    Started(ActorCell),
    /// The child runs on another machine, named `node`, and `actor` (linked
    /// to the supervisor) stands in for it here. The health snapshot and the
    /// child's healing events carry the node (`hale-cluster` answers this).
    StartedOn {
        /// The local actor that stands in for the child.
        actor: ActorCell,
        /// The node the child runs on.
        node: String,
    },
    /// Nothing to run now (OTP's `ignore`): the spec is kept with no running
    /// child, or dropped for a temporary child.
    Ignore,
}

/// A start function failed. Its text is kept for events and errors, and the
/// error that caused it, when there is one, is its `source()`.
///
/// # Examples
///
/// ```
/// use std::error::Error;
/// use hale_core::StartError;
///
/// let refused = std::io::Error::new(std::io::ErrorKind::ConnectionRefused, "db down");
/// let error = StartError::caused_by(refused);
/// assert_eq!(error.to_string(), "db down");
/// assert!(error.source().is_some_and(|cause| cause.is::<std::io::Error>()));
/// assert!(StartError::new("no quota").source().is_none());
/// ```
#[derive(Clone)]
pub struct StartError {
    message: String,
    source: Option<Arc<dyn std::error::Error + Send + Sync + 'static>>,
}

impl StartError {
    /// A start error with this description and no underlying error.
    pub fn new(message: impl fmt::Display) -> Self {
        Self {
            message: message.to_string(),
            source: None,
        }
    }

    /// A start error caused by `error`: its text is the description, and the
    /// error itself is kept as `source()`.
    pub fn caused_by<E: std::error::Error + Send + Sync + 'static>(error: E) -> Self {
        Self {
            message: error.to_string(),
            source: Some(Arc::new(error)),
        }
    }

    /// The description.
    pub fn message(&self) -> &str {
        &self.message
    }
}

impl fmt::Display for StartError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl fmt::Debug for StartError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StartError")
            .field("message", &self.message)
            .field("source", &self.source)
            .finish()
    }
}

impl std::error::Error for StartError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.source
            .as_deref()
            .map(|source| source as &(dyn std::error::Error + 'static))
    }
}

/// Two start errors are equal when they say the same thing.
impl PartialEq for StartError {
    fn eq(&self, other: &Self) -> bool {
        self.message == other.message
    }
}

impl Eq for StartError {}

impl From<SpawnErr> for StartError {
    fn from(error: SpawnErr) -> Self {
        match error {
            // The actor's own `pre_start` error is the cause worth keeping.
            SpawnErr::StartupFailed(cause) => Self {
                message: cause.to_string(),
                source: Some(Arc::from(cause)),
            },
            other => Self::caused_by(other),
        }
    }
}

/// The future a start function returns.
pub type StartFuture = Pin<Box<dyn Future<Output = Result<StartOutcome, StartError>> + Send>>;

type StartFn = Arc<dyn Fn(StartContext) -> StartFuture + Send + Sync>;

/// What a child's own restart limit calls when it gives the child up, with
/// the child's path and last exit reason.
pub(crate) type GivenUp = Arc<dyn Fn(&ChildPath, &ExitReason) + Send + Sync>;

pub(crate) type NestedValidation = Arc<dyn Fn(&ChildPath) -> Result<(), SpecError> + Send + Sync>;

/// What a start function gets from the supervisor that calls it.
#[derive(Clone)]
pub struct StartContext {
    pub(crate) supervisor: ActorCell,
    pub(crate) path: ChildPath,
    pub(crate) events: EventBus,
    pub(crate) watchdog: Watchdog,
    pub(crate) heartbeat: Heartbeat,
    pub(crate) per_message: bool,
    /// Hands out the incarnation's [`Linger`] tokens.
    pub(crate) linger: Arc<LingerSlot>,
    /// How many times the supervisor has restarted this child, this start
    /// included if it is a restart.
    pub(crate) restarts: u32,
    /// Which start of the child this is: 1 for the first.
    pub(crate) incarnation: u64,
}

impl fmt::Debug for StartContext {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StartContext")
            .field("supervisor", &self.supervisor.get_id())
            .field("path", &self.path)
            .finish_non_exhaustive()
    }
}

impl StartContext {
    /// The supervisor: link the new actor to it (`spawn_linked`). The
    /// supervisor links what it gets back anyway, and reports a child that
    /// died before that link as exited abnormally (its own reason is lost),
    /// so an unlinked spawn is rescued; but only a linked spawn reports an
    /// early exit with its true reason and no race.
    pub fn supervisor(&self) -> &ActorCell {
        &self.supervisor
    }

    /// The child's path in the tree.
    pub fn path(&self) -> &ChildPath {
        &self.path
    }

    /// The tree's event bus.
    pub fn events(&self) -> &EventBus {
        &self.events
    }

    /// The heartbeat of the incarnation being started: hand it to the actor
    /// (or task) and beat it from its work loop. A fresh one per start; for
    /// a child that is not watched, beating it does nothing harmful.
    pub fn heartbeat(&self) -> Heartbeat {
        self.heartbeat.clone()
    }

    /// A token for work this incarnation runs outside its actor: its
    /// supervisor waits for every token to drop before it counts the child
    /// as stopped, and reports the child stuck if one outlives the child's
    /// [`kill_wait`](ChildSpec::kill_wait) (see [`Linger`]).
    pub fn linger(&self) -> Linger {
        self.linger.token()
    }

    /// How many times the supervisor has restarted this child, counting this
    /// start if it is a restart (0 at the first start and at starts through
    /// the API).
    pub fn restarts(&self) -> u32 {
        self.restarts
    }

    /// Which start of this child this is: 1 for the first, then one more
    /// for every start, by the supervisor or through the API.
    pub fn incarnation(&self) -> u64 {
        self.incarnation
    }
}

/// How to start, restart and stop one child.
///
/// Build one with [`ChildSpec::new`] (any start function),
/// [`ChildSpec::actor`] (a ractor actor whose arguments are `Clone`),
/// [`ChildSpec::supervisor`] (a nested supervisor) or [`ChildSpec::task`] (a
/// plain async function), then adjust the OTP fields with the builder
/// methods. Cloning a spec is cheap: the start function is shared.
#[derive(Clone)]
pub struct ChildSpec {
    pub(crate) id: String,
    start: StartFn,
    pub(crate) restart: Restart,
    shutdown: Option<Shutdown>,
    pub(crate) kind: ChildKind,
    pub(crate) significant: bool,
    pub(crate) watch: Option<Box<Watch>>,
    pub(crate) backoff: Option<RestartBackoff>,
    kill_wait: Option<std::time::Duration>,
    /// The child's own restart limit: (restarts, within).
    pub(crate) restart_limit: Option<(u32, std::time::Duration)>,
    /// Told when the child's own restart limit gives it up, with its last
    /// exit reason (a job answers its callers and dead-letters its input).
    pub(crate) on_given_up: Option<GivenUp>,
    /// Checks the subtree of a nested supervisor, given the parent's path.
    pub(crate) validate_nested: Option<NestedValidation>,
    /// What a process child shows of itself (its pid, status and kept
    /// output), for the health snapshot.
    #[cfg(target_os = "linux")]
    pub(crate) process: Option<crate::process::ProcessView>,
}

impl ChildSpec {
    /// A child started by `start`, which the supervisor calls at boot and at
    /// every restart. It must spawn a fresh actor linked to
    /// [`StartContext::supervisor`] and return once that actor is running
    /// ([`StartOutcome::Started`]), or answer [`StartOutcome::Ignore`], or
    /// fail with a [`StartError`]. A panic inside `start` is caught and
    /// treated as a start error.
    pub fn new<F, Fut>(id: impl Into<String>, start: F) -> Self
    where
        F: Fn(StartContext) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<StartOutcome, StartError>> + Send + 'static,
    {
        Self {
            id: id.into(),
            start: Arc::new(move |ctx| Box::pin(start(ctx))),
            restart: Restart::default(),
            shutdown: None,
            kind: ChildKind::Worker,
            significant: false,
            watch: None,
            backoff: None,
            kill_wait: None,
            restart_limit: None,
            on_given_up: None,
            validate_nested: None,
            #[cfg(target_os = "linux")]
            process: None,
        }
    }

    /// Sets the restart type (default [`Restart::Permanent`]).
    pub fn restart(mut self, restart: Restart) -> Self {
        self.restart = restart;
        self
    }

    /// Sets how the child is stopped (default: 5 s then kill for a worker,
    /// infinity for a supervisor).
    pub fn shutdown(mut self, shutdown: Shutdown) -> Self {
        self.shutdown = Some(shutdown);
        self
    }

    /// Sets the kind (default [`ChildKind::Worker`]).
    pub fn kind(mut self, kind: ChildKind) -> Self {
        self.kind = kind;
        self
    }

    /// Marks the child significant for its supervisor's auto_shutdown: when it
    /// exits by itself and is not restarted, the supervisor may stop too. Only
    /// transient and temporary children may be significant.
    pub fn significant(mut self, significant: bool) -> Self {
        self.significant = significant;
        self
    }

    /// Has the tree's watchdog watch this child's heartbeat (see
    /// [`watchdog`](crate::watchdog)).
    pub fn watch(mut self, watch: Watch) -> Self {
        self.watch = Some(Box::new(watch));
        self
    }

    /// Delays this child's restarts by a full-jitter exponential backoff
    /// (see [`RestartBackoff`]). Without it, restarts happen at once, as in
    /// OTP.
    pub fn backoff(mut self, backoff: RestartBackoff) -> Self {
        self.backoff = Some(backoff);
        self
    }

    /// Sets how long a killed child may take to exit, and work it started
    /// outside its actor (a task's body, a process) may take to end, before
    /// the child counts as stuck: reported, counted, and replaced anyway
    /// (default [`KILL_CONFIRM_TIMEOUT`](crate::KILL_CONFIRM_TIMEOUT)). A
    /// kill ends a handler at its next `.await`; code blocked in a
    /// synchronous call never reaches one.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use hale_core::ChildSpec;
    ///
    /// let spec = ChildSpec::task("parser", |_| async { Ok(()) }).kill_wait(Duration::from_millis(200));
    /// assert_eq!(spec.kill_wait_bound(), Duration::from_millis(200));
    /// ```
    pub fn kill_wait(mut self, kill_wait: std::time::Duration) -> Self {
        self.kill_wait = Some(kill_wait);
        self
    }

    /// The kill-confirm wait, with the default filled in.
    pub fn kill_wait_bound(&self) -> std::time::Duration {
        self.kill_wait.unwrap_or(crate::shutdown::KILL_CONFIRM_TIMEOUT)
    }

    /// Gives this child a restart limit of its own: more than
    /// `max_restarts` restarts within `within` and its supervisor gives the
    /// child up (and only the child) instead of restarting it again, with a
    /// `RestartLimitReached` event. A child of a dynamic supervisor is then
    /// removed; a static child keeps its spec, stopped.
    ///
    /// A child with its own limit is judged by it alone: its restarts do not
    /// count against the supervisor's intensity, so one poison request can
    /// use up its own limit but never its siblings' (Akka's per-child
    /// retries). Children without one share the supervisor's intensity, as
    /// in OTP. Use it for per-request agents under a dynamic supervisor.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use hale_core::{ChildSpec, Restart};
    ///
    /// let per_request = ChildSpec::task("answer", |_| async { Ok(()) })
    ///     .restart(Restart::Transient)
    ///     .restart_limit(2, Duration::from_secs(60));
    /// assert_eq!(per_request.restart_limit_of(), Some((2, Duration::from_secs(60))));
    /// ```
    pub fn restart_limit(mut self, max_restarts: u32, within: std::time::Duration) -> Self {
        self.restart_limit = Some((max_restarts, within));
        self
    }

    /// The child's own restart limit, if it has one.
    pub fn restart_limit_of(&self) -> Option<(u32, std::time::Duration)> {
        self.restart_limit
    }

    /// The child's id, unique within its supervisor.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// The restart type.
    pub fn restart_type(&self) -> Restart {
        self.restart
    }

    /// The shutdown rule, with the default for the kind filled in.
    pub fn shutdown_rule(&self) -> Shutdown {
        self.shutdown.unwrap_or(match self.kind {
            ChildKind::Worker => Shutdown::WORKER_DEFAULT,
            ChildKind::Supervisor => Shutdown::Infinity,
        })
    }

    /// The kind.
    pub fn child_kind(&self) -> ChildKind {
        self.kind
    }

    /// Whether the child is significant.
    pub fn is_significant(&self) -> bool {
        self.significant
    }

    /// Calls the start function, turning a panic into a [`StartError`].
    pub(crate) async fn start(&self, ctx: StartContext) -> Result<StartOutcome, StartError> {
        let start = Arc::clone(&self.start);
        let future = match std::panic::catch_unwind(AssertUnwindSafe(|| start(ctx))) {
            Ok(future) => future,
            Err(panic) => return Err(StartError::new(panic_text(panic.as_ref()))),
        };
        match AssertUnwindSafe(future).catch_unwind().await {
            Ok(outcome) => outcome,
            Err(panic) => Err(StartError::new(panic_text(panic.as_ref()))),
        }
    }
}

pub(crate) fn panic_text(panic: &(dyn std::any::Any + Send)) -> String {
    let detail = panic
        .downcast_ref::<&str>()
        .map(|text| (*text).to_owned())
        .or_else(|| panic.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "non-string panic payload".to_owned());
    format!("panicked: {detail}")
}

impl fmt::Debug for ChildSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ChildSpec")
            .field("id", &self.id)
            .field("restart", &self.restart)
            .field("shutdown", &self.shutdown_rule())
            .field("kind", &self.kind)
            .field("significant", &self.significant)
            .field("watch", &self.watch)
            .field("backoff", &self.backoff)
            .finish_non_exhaustive()
    }
}
