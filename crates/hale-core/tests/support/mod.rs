//! A controllable worker and helpers for the supervision tests.
//!
//! Every worker writes what happens to it into a shared [`Journal`]
//! ("start a", "stop a", ...), so tests can assert the order of starts and
//! stops, and waits are on journal entries or healing events, each bounded.

#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use hale_core::{
    ChildCounts, ChildSpec, ChildState, EventStream, ExitReason, HealingEvent, HealingEventKind, StartError,
    StartOutcome, Supervisor, SupervisorRef, SupervisorSpec, SupervisorStartError,
};
use ractor::{Actor, ActorProcessingErr, ActorRef, RpcReplyPort};
use tokio::sync::Notify;

/// The bound on every wait in these tests (tokio time: on a paused clock it
/// passes instantly once everything is idle, so a missing event fails fast).
pub const WAIT: Duration = Duration::from_secs(30);

/// An ordered record of starts and stops, shared by all workers of a test.
#[derive(Clone, Default)]
pub struct Journal {
    entries: Arc<Mutex<Vec<String>>>,
    changed: Arc<Notify>,
}

impl Journal {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn write(&self, entry: impl Into<String>) {
        self.entries.lock().unwrap().push(entry.into());
        self.changed.notify_waiters();
    }

    pub fn entries(&self) -> Vec<String> {
        self.entries.lock().unwrap().clone()
    }

    pub fn clear(&self) {
        self.entries.lock().unwrap().clear();
    }

    /// Waits (bounded) until the journal holds at least `n` entries.
    pub async fn wait_len(&self, n: usize) -> Vec<String> {
        let wait = async {
            loop {
                let notified = self.changed.notified();
                if self.entries.lock().unwrap().len() >= n {
                    return;
                }
                notified.await;
            }
        };
        tokio::time::timeout(WAIT, wait)
            .await
            .unwrap_or_else(|_| panic!("journal never reached {n} entries: {:?}", self.entries()));
        self.entries()
    }
}

/// What a worker is told to do.
pub enum Cmd {
    /// Return an error from the handler.
    Fail,
    /// Panic in the handler.
    Panic,
    /// Stop with the given ractor stop reason (None = normal).
    Stop(Option<String>),
    /// Answer with the worker's name.
    Ping(RpcReplyPort<String>),
    /// Block in the handler forever (cancellable by kill).
    Hang,
    /// Stay in the handler this long (tokio time), then return.
    Work(std::time::Duration),
}

/// Knobs shared by every start of one worker id.
#[derive(Default)]
pub struct Knobs {
    /// The next this-many starts fail.
    pub failing_starts: AtomicU32,
    /// The next this-many starts answer ignore.
    pub ignoring_starts: AtomicU32,
    /// How long `post_stop` takes, in ms (to exceed a shutdown timeout).
    pub stop_delay_ms: AtomicU32,
    /// How long every start waits (tokio time) before it succeeds, fails or
    /// ignores, in ms: keeps the supervisor busy in a start meanwhile.
    pub start_delay_ms: AtomicU32,
    /// How many times the worker was started.
    pub starts: AtomicU32,
    /// Journal "try <id>" when a start begins (before any start delay).
    pub announce_starts: AtomicBool,
}

#[derive(Clone)]
pub struct Worker {
    pub name: String,
    pub journal: Journal,
    pub knobs: Arc<Knobs>,
}

impl Actor for Worker {
    type Msg = Cmd;
    type State = ();
    type Arguments = ();

    async fn pre_start(&self, _myself: ActorRef<Cmd>, _: ()) -> Result<(), ActorProcessingErr> {
        self.journal.write(format!("start {}", self.name));
        Ok(())
    }

    async fn handle(&self, myself: ActorRef<Cmd>, cmd: Cmd, _: &mut ()) -> Result<(), ActorProcessingErr> {
        match cmd {
            Cmd::Fail => return Err(format!("{} failed", self.name).into()),
            Cmd::Panic => panic!("{} panicked", self.name),
            Cmd::Stop(reason) => myself.stop(reason),
            Cmd::Ping(reply) => {
                let _ = reply.send(self.name.clone());
            }
            Cmd::Hang => std::future::pending::<()>().await,
            Cmd::Work(duration) => tokio::time::sleep(duration).await,
        }
        Ok(())
    }

    async fn post_stop(&self, _myself: ActorRef<Cmd>, _: &mut ()) -> Result<(), ActorProcessingErr> {
        let delay = self.knobs.stop_delay_ms.load(Ordering::SeqCst);
        if delay > 0 {
            tokio::time::sleep(Duration::from_millis(u64::from(delay))).await;
        }
        self.journal.write(format!("stop {}", self.name));
        Ok(())
    }
}

/// Builds worker specs that share one journal, and keeps each id's knobs.
#[derive(Clone, Default)]
pub struct Lab {
    pub journal: Journal,
    knobs: Arc<Mutex<HashMap<String, Arc<Knobs>>>>,
}

impl Lab {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn knobs(&self, id: &str) -> Arc<Knobs> {
        self.knobs
            .lock()
            .unwrap()
            .entry(id.to_owned())
            .or_default()
            .clone()
    }

    /// The bare worker actor named `id`, writing to this lab's journal, for
    /// tests that build their own start functions around it.
    pub fn actor(&self, id: &str) -> Worker {
        Worker {
            name: id.to_owned(),
            journal: self.journal.clone(),
            knobs: self.knobs(id),
        }
    }

    /// A permanent worker spec with id `id`, honouring its knobs.
    pub fn worker(&self, id: &str) -> ChildSpec {
        let worker = self.actor(id);
        ChildSpec::new(id, move |ctx| {
            let worker = worker.clone();
            async move {
                let knobs = Arc::clone(&worker.knobs);
                knobs.starts.fetch_add(1, Ordering::SeqCst);
                if knobs.announce_starts.load(Ordering::SeqCst) {
                    worker.journal.write(format!("try {}", worker.name));
                }
                let delay = knobs.start_delay_ms.load(Ordering::SeqCst);
                if delay > 0 {
                    tokio::time::sleep(Duration::from_millis(u64::from(delay))).await;
                }
                if take_one(&knobs.failing_starts) {
                    worker.journal.write(format!("failed {}", worker.name));
                    return Err(StartError::new(format!("{} refused to start", worker.name)));
                }
                if take_one(&knobs.ignoring_starts) {
                    return Ok(StartOutcome::Ignore);
                }
                let (actor, _) = Actor::spawn_linked(None, worker, (), ctx.supervisor().clone()).await?;
                Ok(StartOutcome::Started(actor.get_cell()))
            }
        })
    }
}

/// Setting the knobs of one worker id.
impl Lab {
    /// `spec` with permanent workers `a`, `b` and `c` appended.
    pub fn abc(&self, spec: SupervisorSpec) -> SupervisorSpec {
        spec.child(self.worker("a"))
            .child(self.worker("b"))
            .child(self.worker("c"))
    }

    /// The next `n` starts of `id` fail.
    pub fn fail_starts(&self, id: &str, n: u32) {
        self.knobs(id).failing_starts.store(n, Ordering::SeqCst);
    }

    /// The next `n` starts of `id` answer ignore.
    pub fn ignore_starts(&self, id: &str, n: u32) {
        self.knobs(id).ignoring_starts.store(n, Ordering::SeqCst);
    }

    /// Every start of `id` takes `ms` (tokio time) before it decides.
    pub fn slow_starts(&self, id: &str, ms: u32) {
        self.knobs(id).start_delay_ms.store(ms, Ordering::SeqCst);
    }

    /// Every start of `id` journals "try <id>" as it begins.
    pub fn announce_starts(&self, id: &str) {
        self.knobs(id).announce_starts.store(true, Ordering::SeqCst);
    }

    /// The `post_stop` of `id` takes `ms` (tokio time).
    pub fn slow_stop(&self, id: &str, ms: u32) {
        self.knobs(id).stop_delay_ms.store(ms, Ordering::SeqCst);
    }

    /// How many times a start of `id` was attempted.
    pub fn starts(&self, id: &str) -> u32 {
        self.knobs(id).starts.load(Ordering::SeqCst)
    }
}

fn take_one(counter: &AtomicU32) -> bool {
    counter
        .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
        .is_ok()
}

/// Sends `cmd` to the running child `id` of `sup`.
pub async fn tell(sup: &SupervisorRef, id: &str, cmd: Cmd) {
    let child = sup.child_ref::<Cmd>(id).await.expect("child exists");
    child.send(cmd).unwrap_or_else(|e| panic!("send to {id}: {e}"));
}

/// Asks the running child `id` of `sup` for its name.
pub async fn ping(sup: &SupervisorRef, id: &str) -> String {
    let child = sup.child_ref::<Cmd>(id).await.expect("child exists");
    let actor = child.current().expect("child runs");
    ractor::call_t!(actor, Cmd::Ping, 5_000).expect("ping answered")
}

/// Waits (bounded) for the first event matching `wanted`.
pub async fn expect_event(
    events: &mut EventStream,
    what: &str,
    wanted: impl FnMut(&HealingEvent) -> bool,
) -> HealingEvent {
    events
        .wait_for(WAIT, wanted)
        .await
        .unwrap_or_else(|| panic!("no event: {what}"))
}

/// Waits for the child at `path` (e.g. "root/a") to be restarted.
pub async fn expect_restart(events: &mut EventStream, path: &str) -> HealingEvent {
    expect_event(events, &format!("restart of {path}"), |e| {
        e.path.to_string() == path && matches!(e.kind, HealingEventKind::ChildRestarted { .. })
    })
    .await
}

/// Waits for the supervisor at `path` to stop, returning its exit event.
pub async fn expect_supervisor_stopped(events: &mut EventStream, path: &str) -> HealingEvent {
    expect_event(events, &format!("{path} stopped"), |e| {
        e.path.to_string() == path && matches!(e.kind, HealingEventKind::SupervisorStopped { .. })
    })
    .await
}

/// Starts a tree that must start.
pub async fn start(spec: SupervisorSpec) -> SupervisorRef {
    Supervisor::start(spec).await.expect("supervisor starts")
}

/// The supervisor and child a failed start names, and the cause, as
/// `("root", "c", "c refused to start")`.
pub fn failed_child(started: Result<SupervisorRef, SupervisorStartError>) -> (String, String, String) {
    match started {
        Err(SupervisorStartError::ChildFailedToStart {
            supervisor,
            child,
            cause,
        }) => (supervisor.to_string(), child, cause.message().to_owned()),
        other => panic!("expected a child that failed to start, got {other:?}"),
    }
}

/// A round trip through the supervisor's mailbox: once it returns, every
/// message queued before it (and every exit it was told of) is handled.
pub async fn counts(sup: &SupervisorRef) -> ChildCounts {
    sup.count_children().await.expect("supervisor answers")
}

/// OTP's `get_child_counts`: specs, active, supervisors, workers.
pub async fn otp_counts(sup: &SupervisorRef) -> [usize; 4] {
    let c = counts(sup).await;
    [c.specs, c.active, c.supervisors, c.workers]
}

/// Each child's id and status, in start order.
pub async fn statuses(sup: &SupervisorRef) -> Vec<(String, ChildState)> {
    sup.which_children()
        .await
        .expect("supervisor answers")
        .into_iter()
        .map(|info| (info.id, info.state))
        .collect()
}

/// `statuses` in a form that is short to write out in an assertion.
pub fn rows(expected: &[(&str, ChildState)]) -> Vec<(String, ChildState)> {
    expected
        .iter()
        .map(|(id, status)| ((*id).to_owned(), *status))
        .collect()
}

/// The incarnation of child `id` that runs now.
pub async fn current(sup: &SupervisorRef, id: &str) -> ActorRef<Cmd> {
    sup.child_ref::<Cmd>(id)
        .await
        .expect("child exists")
        .current()
        .unwrap_or_else(|| panic!("{id} does not run"))
}

/// Ways to make a worker exit, each with the reason its supervisor must see.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum How {
    /// Stops with no reason.
    Normal,
    /// Stops with reason `shutdown`.
    Shutdown,
    /// Stops with reason `shutdown: detail`.
    ShutdownDetail,
    /// Returns an error from a handler.
    Error,
    /// Panics in a handler.
    Panic,
    /// Is killed from outside.
    Kill,
    /// Stops with a reason that is neither normal nor shutdown.
    Other,
}

impl How {
    pub const ALL: [How; 7] = [
        How::Normal,
        How::Shutdown,
        How::ShutdownDetail,
        How::Error,
        How::Panic,
        How::Kill,
        How::Other,
    ];

    /// Whether OTP calls this exit normal.
    pub fn is_normal(self) -> bool {
        matches!(self, How::Normal | How::Shutdown | How::ShutdownDetail)
    }

    /// Whether the reason the supervisor reported is the one this exit gives.
    pub fn reported_as(self, reason: &ExitReason) -> bool {
        match (self, reason) {
            (How::Normal, ExitReason::Normal) | (How::Shutdown, ExitReason::Shutdown(None)) => true,
            (How::ShutdownDetail, ExitReason::Shutdown(Some(detail))) => detail == "detail",
            (How::Error, ExitReason::Failed(text)) => !text.contains("panicked"),
            (How::Panic, ExitReason::Failed(text)) => text.contains("panicked"),
            (How::Kill, ExitReason::Killed) => true,
            (How::Other, ExitReason::Other(text)) => text == "boom",
            _ => false,
        }
    }
}

/// Makes child `id` of `sup` exit `how`, then waits for its supervisor to
/// report the exit; returns the reason and whether it will be restarted.
pub async fn exit_child(
    sup: &SupervisorRef,
    events: &mut EventStream,
    id: &str,
    how: How,
) -> (ExitReason, bool) {
    let actor = current(sup, id).await;
    let _ = match how {
        How::Normal => actor.send_message(Cmd::Stop(None)),
        How::Shutdown => actor.send_message(Cmd::Stop(Some("shutdown".into()))),
        How::ShutdownDetail => actor.send_message(Cmd::Stop(Some("shutdown: detail".into()))),
        How::Error => actor.send_message(Cmd::Fail),
        How::Panic => actor.send_message(Cmd::Panic),
        How::Other => actor.send_message(Cmd::Stop(Some("boom".into()))),
        How::Kill => {
            actor.kill();
            Ok(())
        }
    };
    let path = sup.path().child(id).to_string();
    let event = expect_event(events, &format!("exit of {path}"), |e| {
        e.path.to_string() == path && matches!(e.kind, HealingEventKind::ChildExited { .. })
    })
    .await;
    match event.kind {
        HealingEventKind::ChildExited { reason, will_restart } => (reason, will_restart),
        _ => unreachable!("matched above"),
    }
}

/// Fails child `id` after arranging that its next `failing` starts fail,
/// each after 100 ms (so calls queue up meanwhile); returns once the first
/// restart attempt has failed and the child is `restarting`.
pub async fn fail_into_restarting(
    lab: &Lab,
    sup: &SupervisorRef,
    events: &mut EventStream,
    id: &str,
    failing: u32,
) {
    lab.slow_starts(id, 100);
    lab.fail_starts(id, failing);
    exit_child(sup, events, id, How::Error).await;
    let path = sup.path().child(id).to_string();
    expect_at(events, &path, |k| {
        matches!(k, HealingEventKind::RestartFailed { .. })
    })
    .await;
}

/// Waits for an event about the node at `path` whose kind satisfies `wanted`.
pub async fn expect_at(
    events: &mut EventStream,
    path: &str,
    wanted: impl Fn(&HealingEventKind) -> bool,
) -> HealingEventKind {
    expect_event(events, &format!("matching event at {path}"), |e| {
        e.path.to_string() == path && wanted(&e.kind)
    })
    .await
    .kind
}

/// Every event up to and including the first that satisfies `last`, as
/// `(path, kind)` pairs.
pub async fn events_through(
    events: &mut EventStream,
    last: impl Fn(&HealingEvent) -> bool,
) -> Vec<(String, HealingEventKind)> {
    let mut seen = Vec::new();
    loop {
        let event = tokio::time::timeout(WAIT, events.recv())
            .await
            .ok()
            .and_then(Result::ok)
            .unwrap_or_else(|| panic!("the awaited event never came; saw {seen:#?}"));
        let done = last(&event);
        seen.push((event.path.to_string(), event.kind));
        if done {
            return seen;
        }
    }
}
