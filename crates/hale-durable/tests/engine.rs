//! The engine end to end on a SQLite file: checkpoints, resume, keys,
//! compensation, gates, budget, dead letters, id reuse, definition changes,
//! audit.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use hale_durable::{
    Budget, Decision, DefinitionChange, Durable, DurableError, DurableEventKind, IdReuse, RunError,
    SqliteStore, StartOptions, StepError, Workflow, WorkflowContext, WorkflowError, WorkflowStatus,
};
use hale_resilience::RetryPolicy;
use tokio::sync::Notify;
use tokio::time::timeout;

const WAIT: Duration = Duration::from_secs(20);

/// Counts how often each step body ran, and in which order.
#[derive(Clone, Default)]
struct Log(Arc<Mutex<Vec<String>>>);

impl Log {
    fn push(&self, entry: impl Into<String>) {
        self.0.lock().unwrap().push(entry.into());
    }
    fn entries(&self) -> Vec<String> {
        self.0.lock().unwrap().clone()
    }
    fn count(&self, entry: &str) -> usize {
        self.entries().iter().filter(|e| *e == entry).count()
    }
}

/// reserve → charge (effect) → ship; ship fails for good when told to;
/// `hold` parks ship until notified (to kill a run mid-step).
#[derive(Clone)]
struct Saga {
    log: Log,
    fail_ship: bool,
    hold: Option<Arc<Notify>>,
    /// Notified each time `ship` starts.
    entered: Arc<Notify>,
    keys: Arc<Mutex<BTreeMap<String, u32>>>,
}

impl Saga {
    fn new(log: &Log) -> Self {
        Self {
            log: log.clone(),
            fail_ship: false,
            hold: None,
            entered: Arc::default(),
            keys: Arc::default(),
        }
    }
}

impl Workflow for Saga {
    type Input = u32;
    type Output = String;
    const NAME: &'static str = "saga";
    const STEPS: &'static [&'static str] = &["reserve", "charge", "ship"];

    async fn run(&self, ctx: &mut WorkflowContext, amount: u32) -> Result<String, WorkflowError> {
        let log = self.log.clone();
        let undo = self.log.clone();
        let reservation: String = ctx
            .step("reserve")
            .compensate_with("release", move |reservation: String, _| {
                let undo = undo.clone();
                async move {
                    undo.push(format!("release {reservation}"));
                    Ok(())
                }
            })
            .run(amount, move |amount, _| {
                let log = log.clone();
                async move {
                    log.push("reserve");
                    Ok::<_, StepError>(format!("r{amount}"))
                }
            })
            .await?;
        let log = self.log.clone();
        let undo = self.log.clone();
        let keys = Arc::clone(&self.keys);
        let charge: String = ctx
            .step("charge")
            .effect()
            .cost(i64::from(amount))
            .compensate_with("refund", move |charge: String, info| {
                let undo = undo.clone();
                async move {
                    undo.push(format!("refund {charge} {}", info.key));
                    Ok(())
                }
            })
            .run(amount, move |amount, info| {
                let log = log.clone();
                let keys = Arc::clone(&keys);
                async move {
                    *keys.lock().unwrap().entry(info.key.clone()).or_default() += 1;
                    log.push("charge");
                    Ok::<_, StepError>(format!("c{amount}"))
                }
            })
            .await?;
        let log = self.log.clone();
        let fail = self.fail_ship;
        let hold = self.hold.clone();
        let entered = Arc::clone(&self.entered);
        ctx.step("ship")
            .run((), move |(), _| {
                let log = log.clone();
                let hold = hold.clone();
                let entered = Arc::clone(&entered);
                async move {
                    log.push("ship");
                    entered.notify_one();
                    if let Some(hold) = hold {
                        hold.notified().await;
                    }
                    if fail {
                        Err(StepError::permanent("no courier"))
                    } else {
                        Ok(())
                    }
                }
            })
            .await?;
        Ok(format!("{reservation}+{charge}"))
    }
}

async fn store(dir: &tempfile::TempDir) -> SqliteStore {
    SqliteStore::open(dir.path().join("wf.db")).await.unwrap()
}

fn fast_retry(name: &str, attempts: u32) -> RetryPolicy {
    RetryPolicy::builder(name.to_owned())
        .maximum_attempts(attempts)
        .initial_interval(Duration::from_millis(1))
        .maximum_interval(Duration::from_millis(2))
        .build()
        .unwrap()
}

async fn engine<W: Workflow>(store: SqliteStore, workflow: W) -> Durable {
    Durable::builder(store)
        .register(workflow)
        .step_retry(fast_retry("step", 3))
        .compensation_retry(fast_retry("compensation", 3))
        .build()
        .await
        .unwrap()
}

#[tokio::test]
async fn a_run_completes_and_its_checkpoints_replay_without_running_again() {
    let dir = tempfile::tempdir().unwrap();
    let log = Log::default();
    let durable = engine(store(&dir).await, Saga::new(&log)).await;
    let mut run = durable.start::<Saga>("order-1", 5).await.unwrap();
    assert_eq!(timeout(WAIT, run.result()).await.unwrap().unwrap(), "r5+c5");
    assert_eq!(log.entries(), ["reserve", "charge", "ship"]);
    let record = durable.status("order-1").await.unwrap().unwrap();
    assert_eq!(record.status, WorkflowStatus::Completed);
    // A finished id is refused by default, joined never re-run.
    assert!(matches!(
        durable.start::<Saga>("order-1", 5).await,
        Err(DurableError::IdReuseRefused { .. })
    ));
    let mut again = durable.handle::<String>("order-1").await.unwrap();
    assert_eq!(again.result().await.unwrap(), "r5+c5");
    assert_eq!(log.entries().len(), 3);
    durable.shutdown(WAIT).await;
}

#[tokio::test]
async fn a_killed_run_resumes_from_its_last_checkpoint_in_a_new_engine() {
    let dir = tempfile::tempdir().unwrap();
    let log = Log::default();
    let hold = Arc::new(Notify::new());
    let mut saga = Saga::new(&log);
    saga.hold = Some(Arc::clone(&hold));
    let first = engine(store(&dir).await, saga.clone()).await;
    let _run = first.start::<Saga>("order-2", 7).await.unwrap();
    // Wait until ship runs (charge committed), then kill the engine.
    timeout(WAIT, saga.entered.notified()).await.unwrap();
    first.shutdown(WAIT).await;
    drop(first);

    saga.hold = None;
    let second = engine(store(&dir).await, saga.clone()).await;
    let report = second.resume_all().await.unwrap();
    assert_eq!(report.resumed, 1);
    let mut run = second.handle::<String>("order-2").await.unwrap();
    assert_eq!(timeout(WAIT, run.result()).await.unwrap().unwrap(), "r7+c7");
    // reserve and charge ran once; ship ran again (no result was recorded).
    assert_eq!(log.count("reserve"), 1);
    assert_eq!(log.count("charge"), 1);
    assert_eq!(log.count("ship"), 2);
    assert_eq!(
        saga.keys.lock().unwrap().values().copied().collect::<Vec<_>>(),
        [1]
    );
    let audit = second.store().audit(0, 100).await.unwrap();
    assert!(audit.iter().any(|entry| entry.action == "resumed"));
    second.shutdown(WAIT).await;
}

#[tokio::test]
async fn a_step_failing_for_good_compensates_in_exact_reverse_order() {
    let dir = tempfile::tempdir().unwrap();
    let log = Log::default();
    let mut saga = Saga::new(&log);
    saga.fail_ship = true;
    let durable = engine(store(&dir).await, saga).await;
    let mut events = durable.subscribe();
    let mut run = durable.start::<Saga>("order-3", 9).await.unwrap();
    let ended = timeout(WAIT, run.result()).await.unwrap();
    assert!(
        matches!(
            ended,
            Err(RunError::Ended {
                status: WorkflowStatus::Compensated,
                ..
            })
        ),
        "{ended:?}"
    );
    assert_eq!(
        log.entries(),
        [
            "reserve",
            "charge",
            "ship",
            "refund c9 order-3/1/charge/undo",
            "release r9"
        ]
    );
    let mut kinds = Vec::new();
    while let Ok(Some(event)) = events.try_recv() {
        kinds.push(event.kind);
    }
    assert!(
        kinds
            .iter()
            .any(|k| matches!(k, DurableEventKind::CompensationStarted { .. }))
    );
    assert!(kinds.contains(&DurableEventKind::CompensationFinished { ok: true }));
    let history = durable.store().history("order-3").await.unwrap().unwrap();
    assert_eq!(history.compensations.len(), 2);
    // A compensated run is not a dead letter.
    assert!(durable.dead_letters(10).await.unwrap().is_empty());
    assert!(durable.verify_audit().await.unwrap().is_intact());
    durable.shutdown(WAIT).await;
}

/// A compensation that fails for good escalates: compensation_failed, dead
/// letter, audit; a replay retries only what is not done.
#[derive(Clone)]
struct BadRefund {
    log: Log,
    refund_works: Arc<AtomicBool>,
}

impl Workflow for BadRefund {
    type Input = ();
    type Output = ();
    const NAME: &'static str = "bad-refund";
    const STEPS: &'static [&'static str] = &["reserve", "charge", "ship"];

    async fn run(&self, ctx: &mut WorkflowContext, (): ()) -> Result<(), WorkflowError> {
        let undo = self.log.clone();
        ctx.step("reserve")
            .compensate_with("release", move |(): (), _| {
                let undo = undo.clone();
                async move {
                    undo.push("release");
                    Ok(())
                }
            })
            .run((), |(), _| async { Ok::<_, StepError>(()) })
            .await?;
        let undo = self.log.clone();
        let works = Arc::clone(&self.refund_works);
        ctx.step("charge")
            .effect()
            .compensate_with("refund", move |(): (), _| {
                let undo = undo.clone();
                let works = works.load(Ordering::SeqCst);
                async move {
                    undo.push("refund");
                    if works {
                        Ok(())
                    } else {
                        Err(StepError::retryable("gateway down"))
                    }
                }
            })
            .run((), |(), _| async { Ok::<_, StepError>(()) })
            .await?;
        ctx.step("ship")
            .run((), |(), _| async {
                Err::<(), _>(StepError::permanent("no courier"))
            })
            .await
    }
}

#[tokio::test]
async fn a_failed_compensation_is_escalated_dead_lettered_and_replayable() {
    let dir = tempfile::tempdir().unwrap();
    let log = Log::default();
    let works = Arc::new(AtomicBool::new(false));
    let workflow = BadRefund {
        log: log.clone(),
        refund_works: Arc::clone(&works),
    };
    let durable = engine(store(&dir).await, workflow).await;
    let mut run = durable.start::<BadRefund>("order-4", ()).await.unwrap();
    let ended = timeout(WAIT, run.result()).await.unwrap();
    assert!(
        matches!(
            ended,
            Err(RunError::Ended {
                status: WorkflowStatus::CompensationFailed,
                ..
            })
        ),
        "{ended:?}"
    );
    // Three attempts at the refund, and the release never ran: order kept.
    assert_eq!(log.entries(), ["refund", "refund", "refund"]);
    let letters = durable.dead_letters(10).await.unwrap();
    assert_eq!(letters.len(), 1);
    assert!(letters[0].error.contains("refund"), "{}", letters[0].error);
    assert!(letters[0].history.contains("charge"));

    works.store(true, Ordering::SeqCst);
    let mut replayed = durable.replay::<()>(letters[0].id, "ops@example").await.unwrap();
    let ended = timeout(WAIT, replayed.result()).await.unwrap();
    assert!(
        matches!(
            ended,
            Err(RunError::Ended {
                status: WorkflowStatus::Compensated,
                ..
            })
        ),
        "{ended:?}"
    );
    assert_eq!(log.entries(), ["refund", "refund", "refund", "refund", "release"]);
    assert!(durable.dead_letters(10).await.unwrap().is_empty());
    let audit = durable.store().audit(0, 100).await.unwrap();
    let actions: Vec<&str> = audit.iter().map(|e| e.action.as_str()).collect();
    assert!(
        actions.contains(&"compensation_failed") && actions.contains(&"replayed"),
        "{actions:?}"
    );
    assert!(matches!(
        durable.replay::<()>(letters[0].id, "again").await,
        Err(DurableError::NoDeadLetter(_))
    ));
    durable.shutdown(WAIT).await;
}

/// A gate between a paid step and an irreversible one.
#[derive(Clone)]
struct Payout {
    log: Log,
}

impl Workflow for Payout {
    type Input = i64;
    type Output = String;
    const NAME: &'static str = "payout";
    const STEPS: &'static [&'static str] = &["quote", "approve", "pay"];

    async fn run(&self, ctx: &mut WorkflowContext, amount: i64) -> Result<String, WorkflowError> {
        let log = self.log.clone();
        let quote: i64 = ctx
            .step("quote")
            .run(amount, move |amount, _| {
                let log = log.clone();
                async move {
                    log.push("quote");
                    Ok::<_, StepError>(amount + 1)
                }
            })
            .await?;
        let decision = ctx
            .gate("approve")
            .deadline(Duration::from_millis(1))
            .ask(&serde_json::json!({"pay": quote}))
            .await?
            .require_approved("approve")?;
        let log = self.log.clone();
        ctx.step("pay")
            .effect()
            .cost(quote)
            .run(quote, move |quote, _| {
                let log = log.clone();
                async move {
                    log.push("pay");
                    Ok::<_, StepError>(format!("paid {quote}"))
                }
            })
            .await
            .map(|paid| format!("{paid} ({})", decision.by))
    }
}

/// Waits (bounded) for the next approval request on `events`.
async fn gate_requested(events: &mut hale_durable::DurableEvents) {
    timeout(WAIT, async {
        loop {
            if let Ok(event) = events.recv().await
                && matches!(event.kind, DurableEventKind::ApprovalRequested { .. })
            {
                return;
            }
        }
    })
    .await
    .unwrap();
}

#[tokio::test]
async fn a_gate_waits_persisted_and_a_decision_in_another_engine_resumes_it() {
    let dir = tempfile::tempdir().unwrap();
    let log = Log::default();
    let first = engine(store(&dir).await, Payout { log: log.clone() }).await;
    let mut events = first.subscribe();
    let run = first.start::<Payout>("inv-1", 100).await.unwrap();
    gate_requested(&mut events).await;
    let waiting = first.pending_approvals(10).await.unwrap();
    assert_eq!(waiting[0].gate, "approve");
    assert!(waiting[0].request.contains("101"));
    assert!(run.outcome().is_none());
    assert_eq!(
        first.status("inv-1").await.unwrap().unwrap().status,
        WorkflowStatus::Waiting
    );
    // Past its deadline: escalated once, audited.
    assert_eq!(first.escalate_overdue(i64::MAX).await.unwrap(), 1);
    assert_eq!(first.escalate_overdue(i64::MAX).await.unwrap(), 0);
    first.shutdown(WAIT).await;
    drop(first);

    let second = engine(store(&dir).await, Payout { log: log.clone() }).await;
    assert_eq!(second.resume_all().await.unwrap().waiting, 1);
    second
        .decide("inv-1", "approve", Decision::approve("cfo", "within contract"))
        .await
        .unwrap();
    let mut run = second.handle::<String>("inv-1").await.unwrap();
    assert_eq!(
        timeout(WAIT, run.result()).await.unwrap().unwrap(),
        "paid 101 (cfo)"
    );
    assert_eq!(log.entries(), ["quote", "pay"]);
    assert!(matches!(
        second
            .decide("inv-1", "approve", Decision::reject("cfo", "late"))
            .await,
        Err(DurableError::NoPendingApproval { .. })
    ));
    let actions: Vec<String> = second
        .store()
        .audit(0, 100)
        .await
        .unwrap()
        .into_iter()
        .map(|e| e.action)
        .collect();
    assert_eq!(
        actions,
        ["approval_requested", "approval_escalated", "approval_decided"]
    );
    second.shutdown(WAIT).await;
}

#[tokio::test]
async fn the_budget_guard_refuses_the_step_that_would_pass_it() {
    let dir = tempfile::tempdir().unwrap();
    let log = Log::default();
    let durable = engine(store(&dir).await, Payout { log: log.clone() }).await;
    let options = StartOptions::default().budget(Budget::unlimited().max_spend(50));
    let mut events = durable.subscribe();
    let _run = durable.start_with::<Payout>("inv-2", 100, options).await.unwrap();
    gate_requested(&mut events).await;
    durable
        .decide("inv-2", "approve", Decision::approve("cfo", ""))
        .await
        .unwrap();
    let mut run = durable.handle::<String>("inv-2").await.unwrap();
    let ended = timeout(WAIT, run.result()).await.unwrap();
    assert!(
        matches!(ended, Err(RunError::Ended { status: WorkflowStatus::Failed, ref error }) if error.contains("budget")),
        "{ended:?}"
    );
    assert_eq!(log.count("pay"), 0);
    let mut refused = false;
    while let Ok(Some(event)) = events.try_recv() {
        refused |= matches!(event.kind, DurableEventKind::BudgetRefused { .. });
    }
    assert!(refused);
    let actions: Vec<String> = durable
        .store()
        .audit(0, 100)
        .await
        .unwrap()
        .into_iter()
        .map(|e| e.action)
        .collect();
    assert!(actions.contains(&"budget_refused".to_owned()), "{actions:?}");
    assert_eq!(durable.dead_letters(10).await.unwrap().len(), 1);
    durable.shutdown(WAIT).await;
}

#[tokio::test]
async fn a_rejection_fails_the_run_without_running_the_action() {
    let dir = tempfile::tempdir().unwrap();
    let log = Log::default();
    let durable = engine(store(&dir).await, Payout { log: log.clone() }).await;
    let mut events = durable.subscribe();
    let _run = durable.start::<Payout>("inv-3", 10).await.unwrap();
    gate_requested(&mut events).await;
    durable
        .decide("inv-3", "approve", Decision::reject("cfo", "duplicate"))
        .await
        .unwrap();
    let mut run = durable.handle::<String>("inv-3").await.unwrap();
    let ended = timeout(WAIT, run.result()).await.unwrap();
    assert!(
        matches!(ended, Err(RunError::Ended { ref error, .. }) if error.contains("duplicate")),
        "{ended:?}"
    );
    assert_eq!(log.entries(), ["quote"]);
    durable.shutdown(WAIT).await;
}

#[tokio::test]
async fn starting_a_running_id_joins_it_and_reuse_follows_the_policy() {
    let dir = tempfile::tempdir().unwrap();
    let log = Log::default();
    let hold = Arc::new(Notify::new());
    let mut saga = Saga::new(&log);
    saga.hold = Some(Arc::clone(&hold));
    saga.fail_ship = true;
    let entered = Arc::clone(&saga.entered);
    let durable = engine(store(&dir).await, saga).await;
    let mut first = durable.start::<Saga>("order-5", 1).await.unwrap();
    let mut second = durable.start::<Saga>("order-5", 1).await.unwrap();
    timeout(WAIT, entered.notified()).await.unwrap();
    hold.notify_one();
    let (a, b) = (
        timeout(WAIT, first.result()).await.unwrap(),
        timeout(WAIT, second.result()).await.unwrap(),
    );
    assert_eq!(a, b);
    assert_eq!(log.count("reserve"), 1, "one run, joined");
    assert!(matches!(
        durable.start::<Saga>("order-5", 1).await,
        Err(DurableError::IdReuseRefused {
            status: WorkflowStatus::Compensated,
            ..
        })
    ));
    let options = StartOptions::default().reuse(IdReuse::AllowAfterFailure);
    let third = durable.start_with::<Saga>("order-5", 1, options).await.unwrap();
    timeout(WAIT, entered.notified()).await.unwrap();
    hold.notify_one();
    let mut third = third;
    assert!(timeout(WAIT, third.result()).await.unwrap().is_err());
    assert_eq!(log.count("reserve"), 2);
    assert_eq!(durable.status("order-5").await.unwrap().unwrap().run, 2);
    durable.shutdown(WAIT).await;
}

/// The saga's steps renamed: `charge` became `bill`.
struct RenamedSaga;

impl Workflow for RenamedSaga {
    type Input = u32;
    type Output = String;
    const NAME: &'static str = "saga";
    const STEPS: &'static [&'static str] = &["reserve", "bill", "ship"];

    async fn run(&self, _ctx: &mut WorkflowContext, _amount: u32) -> Result<String, WorkflowError> {
        unreachable!("never resumed under a changed definition")
    }
}

#[tokio::test]
async fn a_changed_definition_fails_to_resume_with_what_changed() {
    let dir = tempfile::tempdir().unwrap();
    let log = Log::default();
    let hold = Arc::new(Notify::new());
    let mut saga = Saga::new(&log);
    saga.hold = Some(hold);
    let entered = Arc::clone(&saga.entered);
    let first = engine(store(&dir).await, saga).await;
    let _run = first.start::<Saga>("order-6", 3).await.unwrap();
    timeout(WAIT, entered.notified()).await.unwrap();
    first.shutdown(WAIT).await;
    drop(first);

    let second = engine(store(&dir).await, RenamedSaga).await;
    second.resume_all().await.unwrap();
    let mut run = second.handle::<String>("order-6").await.unwrap();
    let ended = timeout(WAIT, run.result()).await.unwrap();
    let Err(RunError::NotResumed(text)) = ended else {
        panic!("expected not resumed, got {ended:?}");
    };
    assert!(text.contains("renamed `charge` → `bill`"), "{text}");
    // Left as it was, for the right code to resume.
    assert_eq!(
        second.status("order-6").await.unwrap().unwrap().status,
        WorkflowStatus::Running
    );
    let _ = DefinitionChange::Removed { step: String::new() };
    second.shutdown(WAIT).await;
}

/// A step that panics is retried, then dead-lettered; a replay runs it again.
#[derive(Clone)]
struct Flaky {
    healthy: Arc<AtomicBool>,
}

impl Workflow for Flaky {
    type Input = ();
    type Output = u8;
    const NAME: &'static str = "flaky";
    const STEPS: &'static [&'static str] = &["call"];

    async fn run(&self, ctx: &mut WorkflowContext, (): ()) -> Result<u8, WorkflowError> {
        let healthy = self.healthy.load(Ordering::SeqCst);
        ctx.step("call")
            .run((), move |(), _| async move {
                if !healthy {
                    panic!("provider exploded");
                }
                Ok::<_, StepError>(1)
            })
            .await
    }
}

#[tokio::test]
async fn an_exhausted_step_is_dead_lettered_inspected_and_replayed() {
    let dir = tempfile::tempdir().unwrap();
    let healthy = Arc::new(AtomicBool::new(false));
    let durable = engine(
        store(&dir).await,
        Flaky {
            healthy: Arc::clone(&healthy),
        },
    )
    .await;
    let mut run = durable.start::<Flaky>("job-1", ()).await.unwrap();
    assert!(matches!(
        timeout(WAIT, run.result()).await.unwrap(),
        Err(RunError::Ended {
            status: WorkflowStatus::Failed,
            ..
        })
    ));
    let letters = durable.dead_letters(10).await.unwrap();
    assert_eq!(letters.len(), 1);
    let letter = durable.dead_letter(letters[0].id).await.unwrap().unwrap();
    assert!(letter.error.contains("provider exploded"), "{}", letter.error);
    assert_eq!(letter.input, "null");
    assert!(letter.history.contains("\"attempts\":3"), "{}", letter.history);
    healthy.store(true, Ordering::SeqCst);
    let replayed = durable.replay_all("ops").await.unwrap();
    assert_eq!(replayed, ["job-1"]);
    let mut run = durable.handle::<u8>("job-1").await.unwrap();
    assert_eq!(timeout(WAIT, run.result()).await.unwrap().unwrap(), 1);
    assert!(durable.verify_audit().await.unwrap().is_intact());
    durable.shutdown(WAIT).await;
}

/// Panics between its steps while `crashes` is above zero: the agent
/// crashes (not a step), its supervisor restarts it, and the restart
/// resumes from the checkpoint.
#[derive(Clone)]
struct Crashy {
    log: Log,
    crashes: Arc<std::sync::atomic::AtomicU32>,
}

impl Workflow for Crashy {
    type Input = ();
    type Output = u32;
    const NAME: &'static str = "crashy";
    const STEPS: &'static [&'static str] = &["first", "second"];

    async fn run(&self, ctx: &mut WorkflowContext, (): ()) -> Result<u32, WorkflowError> {
        let log = self.log.clone();
        let first: u32 = ctx
            .step("first")
            .run((), move |(), _| {
                let log = log.clone();
                async move {
                    log.push("first");
                    Ok::<_, StepError>(1)
                }
            })
            .await?;
        let left = self.crashes.load(Ordering::SeqCst);
        if left > 0 {
            self.crashes.store(left - 1, Ordering::SeqCst);
            panic!("the agent's own code crashed");
        }
        ctx.step("second")
            .run(first, |first, _| async move { Ok::<_, StepError>(first + 1) })
            .await
    }
}

#[tokio::test]
async fn a_crashed_agent_is_restarted_by_its_supervisor_and_resumes() {
    let dir = tempfile::tempdir().unwrap();
    let log = Log::default();
    let crashy = Crashy {
        log: log.clone(),
        crashes: Arc::new(std::sync::atomic::AtomicU32::new(2)),
    };
    let durable = engine(store(&dir).await, crashy).await;
    let mut run = durable.start::<Crashy>("crashy-1", ()).await.unwrap();
    assert_eq!(timeout(WAIT, run.result()).await.unwrap().unwrap(), 2);
    assert_eq!(log.entries(), ["first"], "the checkpointed step never ran again");
    let audit = timeout(WAIT, async {
        loop {
            let audit: Vec<String> = durable
                .store()
                .audit(0, 100)
                .await
                .unwrap()
                .into_iter()
                .map(|e| e.action)
                .collect();
            if audit.iter().filter(|a| *a == "crashed").count() == 2 {
                return audit;
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    })
    .await
    .unwrap();
    assert_eq!(audit.iter().filter(|a| *a == "restarted").count(), 2, "{audit:?}");
    durable.shutdown(WAIT).await;
}

#[tokio::test]
async fn an_agent_that_keeps_crashing_is_dead_lettered() {
    let dir = tempfile::tempdir().unwrap();
    let crashy = Crashy {
        log: Log::default(),
        crashes: Arc::new(std::sync::atomic::AtomicU32::new(u32::MAX)),
    };
    let durable = Durable::builder(store(&dir).await)
        .register(crashy)
        .max_crashes(3)
        .build()
        .await
        .unwrap();
    let mut run = durable.start::<Crashy>("crashy-2", ()).await.unwrap();
    let ended = timeout(WAIT, run.result()).await.unwrap();
    assert!(
        matches!(ended, Err(RunError::Ended { status: WorkflowStatus::Failed, ref error }) if error.contains("crashed 4 times")),
        "{ended:?}"
    );
    assert_eq!(durable.dead_letters(10).await.unwrap().len(), 1);
    durable.shutdown(WAIT).await;
}
