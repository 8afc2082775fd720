//! [`WorkflowContext`]: what a workflow's code calls its steps and gates
//! through. It replays checkpoints, runs what has no checkpoint yet, and
//! writes each result before the next step starts.

use std::collections::BTreeMap;
use std::future::Future;
use std::marker::PhantomData;
use std::panic::AssertUnwindSafe;
use std::pin::Pin;
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::FutureExt;
use hale_resilience::{ResilienceError, RetryPolicy};
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize as SerializeDerive};

use crate::audit::action;
use crate::budget::Budget;
use crate::error::{DefinitionChange, StepError, StoreError, WorkflowError};
use crate::events::{DurableEventKind, EventSender, now_ms};
use crate::record::{
    ApprovalRecord, ApprovalStatus, AuditDraft, History, StepKind, StepRecord, StepStatus, WorkflowStatus,
    WriteOp,
};
use crate::store::Store;

/// What the engine's parts share.
pub(crate) struct Shared {
    pub(crate) store: Arc<dyn Store>,
    pub(crate) events: EventSender,
    pub(crate) step_retry: RetryPolicy,
    pub(crate) compensation_retry: RetryPolicy,
}

impl Shared {
    /// Commits `ops`; for a step's result, reports the checkpoint with its
    /// commit latency.
    pub(crate) async fn commit(
        &self,
        workflow_id: &str,
        ops: Vec<WriteOp>,
        step: Option<(&str, i64)>,
    ) -> Result<(), StoreError> {
        let started = Instant::now();
        self.store.apply(ops).await?;
        if let Some((name, seq)) = step.filter(|_| self.events.is_watched()) {
            let latency = u64::try_from(started.elapsed().as_micros()).unwrap_or(u64::MAX);
            self.events.emit(
                workflow_id,
                DurableEventKind::CheckpointCommitted {
                    step: name.to_owned(),
                    seq,
                    commit_latency_us: latency,
                },
            );
        }
        Ok(())
    }
}

pub(crate) fn audit(workflow_id: &str, action: &str, detail: serde_json::Value) -> WriteOp {
    WriteOp::Audit(AuditDraft {
        at_ms: now_ms(),
        workflow_id: workflow_id.to_owned(),
        action: action.to_owned(),
        detail: detail.to_string(),
    })
}

/// What a step function is told about the attempt it runs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StepInfo {
    /// The workflow.
    pub workflow_id: String,
    /// The step's idempotency key: the same for every attempt and every
    /// resume of this step in this run. Give it to the service the step
    /// calls, so that a repeat is recognised.
    pub key: String,
    /// The attempt, from 1.
    pub attempt: u32,
    /// Whether an intent of this side effect was recorded before (by an
    /// earlier process or attempt) with no result: the effect may already
    /// have happened, under this same key.
    pub resumed: bool,
}

type CompensateFn<O> = Arc<dyn Fn(O, StepInfo) -> BoxFuture<Result<(), StepError>> + Send + Sync>;
type BoxFuture<T> = Pin<Box<dyn Future<Output = T> + Send + 'static>>;

/// A done step's compensation, registered as the step completes (or is
/// replayed), run in reverse order if the workflow fails for good.
pub(crate) struct Compensation {
    pub(crate) step_seq: i64,
    pub(crate) step: String,
    pub(crate) name: String,
    pub(crate) key: String,
    pub(crate) run: Box<dyn Fn(StepInfo) -> BoxFuture<Result<(), StepError>> + Send + Sync>,
    pub(crate) retry: Option<RetryPolicy>,
}

/// A decision at an approval gate.
///
/// ```
/// use hale_durable::Decision;
/// let yes = Decision::approve("alice", "checked the invoice");
/// assert!(yes.approved);
/// assert!(Decision::reject("bob", "duplicate").require_approved("pay").is_err());
/// ```
#[derive(Clone, Debug, PartialEq, Eq, SerializeDerive, Deserialize)]
pub struct Decision {
    /// Approved or rejected.
    pub approved: bool,
    /// Who decided.
    pub by: String,
    /// Their note.
    pub note: String,
}

impl Decision {
    /// An approval.
    pub fn approve(by: impl Into<String>, note: impl Into<String>) -> Self {
        Self {
            approved: true,
            by: by.into(),
            note: note.into(),
        }
    }

    /// A rejection.
    pub fn reject(by: impl Into<String>, note: impl Into<String>) -> Self {
        Self {
            approved: false,
            by: by.into(),
            note: note.into(),
        }
    }

    /// `Ok` if approved; a [`WorkflowError::Rejected`] naming `gate` if not.
    ///
    /// # Errors
    /// The rejection.
    pub fn require_approved(self, gate: &str) -> Result<Self, WorkflowError> {
        if self.approved {
            Ok(self)
        } else {
            Err(WorkflowError::Rejected {
                gate: gate.to_owned(),
                by: self.by,
                note: self.note,
            })
        }
    }
}

/// The context a workflow's code runs in: its steps and gates go through
/// it. Steps run one at a time (each call takes `&mut self`), in the order
/// the code asks for them; each gets the next position (seq) of the run.
pub struct WorkflowContext {
    shared: Arc<Shared>,
    id: String,
    declared: &'static [&'static str],
    budget: Budget,
    steps: BTreeMap<i64, StepRecord>,
    approvals: BTreeMap<i64, ApprovalRecord>,
    next_seq: i64,
    spent: i64,
    calls: i64,
    pub(crate) compensations: Vec<Compensation>,
}

impl std::fmt::Debug for WorkflowContext {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WorkflowContext")
            .field("id", &self.id)
            .field("next_seq", &self.next_seq)
            .field("spent", &self.spent)
            .field("calls", &self.calls)
            .finish_non_exhaustive()
    }
}

impl WorkflowContext {
    pub(crate) fn new(shared: Arc<Shared>, history: &History, declared: &'static [&'static str]) -> Self {
        Self {
            shared,
            id: history.workflow.id.clone(),
            declared,
            budget: history.workflow.budget,
            steps: history
                .steps
                .iter()
                .map(|step| (step.seq, step.clone()))
                .collect(),
            approvals: history
                .approvals
                .iter()
                .map(|approval| (approval.seq, approval.clone()))
                .collect(),
            next_seq: 0,
            spent: 0,
            calls: 0,
            compensations: Vec::new(),
        }
    }

    /// The workflow's id.
    pub fn workflow_id(&self) -> &str {
        &self.id
    }

    /// What the run's steps have cost so far.
    pub fn spent(&self) -> i64 {
        self.spent
    }

    /// A step named `name` (one of the workflow's `STEPS`): configure it,
    /// then [`run`](StepBuilder::run) it.
    pub fn step<O>(&mut self, name: &str) -> StepBuilder<'_, O> {
        StepBuilder {
            ctx: self,
            name: name.to_owned(),
            effect: false,
            cost: 0,
            retry: None,
            compensation: None,
            output: PhantomData,
        }
    }

    /// An approval gate named `name` (one of the workflow's `STEPS`).
    pub fn gate(&mut self, name: &str) -> Gate<'_> {
        Gate {
            ctx: self,
            name: name.to_owned(),
            deadline: None,
        }
    }

    /// Checkpoints recorded past the point the code reached (a run that
    /// completed without reaching them does not match its checkpoints).
    pub(crate) fn unreached(&self) -> Vec<String> {
        let steps = self
            .steps
            .range(self.next_seq..)
            .map(|(_, step)| step.name.clone());
        let gates = self
            .approvals
            .range(self.next_seq..)
            .map(|(_, gate)| gate.gate.clone());
        steps.chain(gates).collect()
    }

    fn take_seq(&mut self, name: &str) -> Result<i64, WorkflowError> {
        if !self.declared.contains(&name) {
            return Err(WorkflowError::Failed(format!(
                "step `{name}` is not in the workflow's STEPS"
            )));
        }
        let seq = self.next_seq;
        self.next_seq += 1;
        let recorded = self
            .steps
            .get(&seq)
            .map(|step| &step.name)
            .or_else(|| self.approvals.get(&seq).map(|gate| &gate.gate));
        if let Some(recorded) = recorded
            && recorded != name
        {
            return Err(WorkflowError::DefinitionChanged(vec![
                DefinitionChange::Diverged {
                    seq: u64::try_from(seq).unwrap_or(0),
                    recorded: recorded.clone(),
                    asked: name.to_owned(),
                },
            ]));
        }
        Ok(seq)
    }
}

fn to_json<T: Serialize>(what: &str, value: &T) -> Result<String, WorkflowError> {
    serde_json::to_string(value).map_err(|error| WorkflowError::Serde {
        what: what.to_owned(),
        detail: error.to_string(),
    })
}

fn from_json<T: DeserializeOwned>(what: &str, text: Option<&str>) -> Result<T, WorkflowError> {
    serde_json::from_str(text.unwrap_or("null")).map_err(|error| WorkflowError::Serde {
        what: what.to_owned(),
        detail: error.to_string(),
    })
}

/// Runs `operation` under `policy`, catching panics as retryable errors.
pub(crate) async fn attempt_with_retry<O, F, Fut>(
    policy: &RetryPolicy,
    attempts: &mut u32,
    mut operation: F,
) -> Result<O, StepError>
where
    F: FnMut(u32) -> Fut,
    Fut: Future<Output = Result<O, StepError>>,
{
    let result = policy
        .call(|| {
            *attempts += 1;
            let attempt = operation(*attempts);
            async move {
                AssertUnwindSafe(attempt)
                    .catch_unwind()
                    .await
                    .unwrap_or_else(|panic| {
                        Err(StepError::retryable(format!("panicked: {}", panic_text(&*panic))))
                    })
            }
        })
        .await;
    result.map_err(|error| match error {
        ResilienceError::Inner(error) => error,
        other => StepError::permanent(other.to_string()),
    })
}

fn panic_text(panic: &(dyn std::any::Any + Send)) -> String {
    panic
        .downcast_ref::<&str>()
        .map(|text| (*text).to_owned())
        .or_else(|| panic.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "a panic".to_owned())
}

/// One step, being configured. Made by [`WorkflowContext::step`].
#[must_use = "a step does nothing until it is run"]
pub struct StepBuilder<'c, O> {
    ctx: &'c mut WorkflowContext,
    name: String,
    effect: bool,
    cost: i64,
    retry: Option<RetryPolicy>,
    compensation: Option<(String, CompensateFn<O>, Option<RetryPolicy>)>,
    output: PhantomData<fn() -> O>,
}

impl<O> StepBuilder<'_, O>
where
    O: Serialize + DeserializeOwned + Clone + Send + Sync + 'static,
{
    /// Marks the step as a side effect: its intent (with its input and
    /// idempotency key) is committed before it runs and its result after; a
    /// resume that finds the intent without a result runs it again with the
    /// same key ([`StepInfo::resumed`] tells it so).
    pub fn effect(mut self) -> Self {
        self.effect = true;
        self
    }

    /// What the step costs against the workflow's [`Budget`] (default 0).
    pub fn cost(mut self, cost: i64) -> Self {
        self.cost = cost;
        self
    }

    /// Retries the step by `policy` instead of the engine's default.
    pub fn retry(mut self, policy: RetryPolicy) -> Self {
        self.retry = Some(policy);
        self
    }

    /// Declares how to undo the step once done: if the workflow later fails
    /// for good, `compensate` runs with the step's output (in reverse order
    /// of the done steps), checkpointed and retried by the engine's
    /// compensation policy, under the key `<step key>/undo`.
    pub fn compensate_with<F, Fut>(mut self, name: &str, compensate: F) -> Self
    where
        F: Fn(O, StepInfo) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<(), StepError>> + Send + 'static,
    {
        let compensate: CompensateFn<O> = Arc::new(move |output, info| Box::pin(compensate(output, info)));
        self.compensation = Some((name.to_owned(), compensate, None));
        self
    }

    /// Retries the compensation by `policy` instead of the engine's default.
    pub fn compensation_retry(mut self, policy: RetryPolicy) -> Self {
        if let Some((_, _, retry)) = &mut self.compensation {
            *retry = Some(policy);
        }
        self
    }

    /// Runs the step with `input` (or returns its checkpointed output).
    ///
    /// # Errors
    /// [`WorkflowError::Step`] when it fails for good,
    /// [`WorkflowError::BudgetExceeded`] when the guard refuses it,
    /// [`WorkflowError::Store`] when its checkpoint cannot be written (the
    /// workflow is then resumed), [`WorkflowError::DefinitionChanged`] when
    /// the checkpoint at this point is another step's.
    ///
    /// # Cancel safety
    /// Not meant to be cancelled: a dropped step may have run without its
    /// result being written; a resume runs it again (side effects with the
    /// same key).
    pub async fn run<I, F, Fut>(self, input: I, mut step: F) -> Result<O, WorkflowError>
    where
        I: Serialize + Clone + Send,
        F: FnMut(I, StepInfo) -> Fut + Send,
        Fut: Future<Output = Result<O, StepError>> + Send,
    {
        let Self {
            ctx,
            name,
            effect,
            cost,
            retry,
            compensation,
            ..
        } = self;
        let seq = ctx.take_seq(&name)?;
        let key = format!("{}/{seq}/{name}", ctx.id);
        let mut resumed = false;
        let mut attempts_before = 0;
        if let Some(recorded) = ctx.steps.get(&seq) {
            match recorded.status {
                StepStatus::Done => {
                    let output: O =
                        from_json(&format!("output of step `{name}`"), recorded.output.as_deref())?;
                    ctx.spent = ctx.spent.saturating_add(recorded.cost);
                    ctx.calls += 1;
                    register(ctx, seq, &name, &key, compensation, &output);
                    return Ok(output);
                }
                // A refusal by the budget guard is recorded with no attempt:
                // the step never ran.
                StepStatus::Failed if recorded.attempts == 0 => {
                    return Err(WorkflowError::BudgetExceeded {
                        step: name,
                        reason: recorded.error.clone().unwrap_or_default(),
                    });
                }
                StepStatus::Failed => {
                    return Err(WorkflowError::Step {
                        step: name,
                        error: StepError::permanent(recorded.error.clone().unwrap_or_default()),
                    });
                }
                StepStatus::Intent => {
                    resumed = true;
                    attempts_before = recorded.attempts;
                }
            }
        }
        let shared = Arc::clone(&ctx.shared);
        if let Err(reason) = ctx.budget.check(ctx.spent, ctx.calls, cost) {
            let refused = StepRecord {
                workflow_id: ctx.id.clone(),
                seq,
                name: name.clone(),
                kind: if effect { StepKind::Effect } else { StepKind::Step },
                status: StepStatus::Failed,
                input: Some(to_json("step input", &input)?),
                output: None,
                error: Some(reason.clone()),
                key: None,
                cost,
                attempts: 0,
                at_ms: now_ms(),
            };
            let detail = serde_json::json!({"step": name, "seq": seq, "cost": cost, "spent": ctx.spent, "calls": ctx.calls, "reason": reason});
            shared
                .commit(
                    &ctx.id,
                    vec![
                        WriteOp::PutStep(refused),
                        audit(&ctx.id, action::BUDGET_REFUSED, detail),
                    ],
                    None,
                )
                .await?;
            shared.events.emit(
                &ctx.id,
                DurableEventKind::BudgetRefused {
                    step: name.clone(),
                    reason: reason.clone(),
                },
            );
            return Err(WorkflowError::BudgetExceeded { step: name, reason });
        }
        let input_json = if effect {
            Some(to_json("step input", &input)?)
        } else {
            None
        };
        let record =
            |status, output: Option<String>, error: Option<String>, input: Option<String>, attempts: i64| {
                StepRecord {
                    workflow_id: ctx.id.clone(),
                    seq,
                    name: name.clone(),
                    kind: if effect { StepKind::Effect } else { StepKind::Step },
                    status,
                    input,
                    output,
                    error,
                    key: effect.then(|| key.clone()),
                    cost,
                    attempts,
                    at_ms: now_ms(),
                }
            };
        if effect && !resumed {
            let intent = record(StepStatus::Intent, None, None, input_json.clone(), 0);
            shared
                .commit(&ctx.id, vec![WriteOp::PutStep(intent)], None)
                .await?;
        }
        let policy = retry.as_ref().unwrap_or(&shared.step_retry);
        let mut attempts = 0u32;
        let workflow_id = ctx.id.clone();
        let result = attempt_with_retry(policy, &mut attempts, |attempt| {
            let info = StepInfo {
                workflow_id: workflow_id.clone(),
                key: key.clone(),
                attempt,
                resumed,
            };
            step(input.clone(), info)
        })
        .await;
        let attempts = attempts_before.saturating_add(i64::from(attempts));
        match result {
            Ok(output) => {
                let json = to_json(&format!("output of step `{name}`"), &output)?;
                let done = record(StepStatus::Done, Some(json), None, input_json, attempts);
                shared
                    .commit(&ctx.id, vec![WriteOp::PutStep(done)], Some((&name, seq)))
                    .await?;
                ctx.spent = ctx.spent.saturating_add(cost);
                ctx.calls += 1;
                register(ctx, seq, &name, &key, compensation, &output);
                Ok(output)
            }
            Err(error) => {
                let input = match input_json {
                    Some(json) => Some(json),
                    None => Some(to_json("step input", &input)?),
                };
                let failed = record(
                    StepStatus::Failed,
                    None,
                    Some(error.message.clone()),
                    input,
                    attempts.max(1),
                );
                shared
                    .commit(&ctx.id, vec![WriteOp::PutStep(failed)], None)
                    .await?;
                Err(WorkflowError::Step { step: name, error })
            }
        }
    }
}

fn register<O>(
    ctx: &mut WorkflowContext,
    seq: i64,
    step: &str,
    key: &str,
    compensation: Option<(String, CompensateFn<O>, Option<RetryPolicy>)>,
    output: &O,
) where
    O: Clone + Send + Sync + 'static,
{
    let Some((name, compensate, retry)) = compensation else {
        return;
    };
    let output = output.clone();
    ctx.compensations.push(Compensation {
        step_seq: seq,
        step: step.to_owned(),
        key: format!("{key}/undo"),
        name,
        run: Box::new(move |info| compensate(output.clone(), info)),
        retry,
    });
}

/// An approval gate, being configured. Made by [`WorkflowContext::gate`].
///
/// # Examples
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// use hale_durable::{Decision, Durable, DurableEventKind, SqliteStore, StepError, Workflow, WorkflowContext, WorkflowError};
///
/// struct Refund;
/// impl Workflow for Refund {
///     type Input = u64;
///     type Output = String;
///     const NAME: &'static str = "refund";
///     const STEPS: &'static [&'static str] = &["approve", "pay"];
///     async fn run(&self, ctx: &mut WorkflowContext, cents: u64) -> Result<String, WorkflowError> {
///         let decision = ctx.gate("approve").ask(&cents).await?.require_approved("approve")?;
///         ctx.step("pay")
///             .effect()
///             .run(cents, |cents, _| async move { Ok::<_, StepError>(cents) })
///             .await
///             .map(|cents| format!("{cents} refunded, approved by {}", decision.by))
///     }
/// }
///
/// let dir = tempfile::tempdir()?;
/// let durable = Durable::builder(SqliteStore::open(dir.path().join("gate.db")).await?).register(Refund).build().await?;
/// let mut events = durable.subscribe();
/// let mut run = durable.start::<Refund>("refund-7", 50_000).await?;
/// while !matches!(events.recv().await?.kind, DurableEventKind::ApprovalRequested { .. }) {}
/// assert_eq!(durable.pending_approvals(10).await?[0].gate, "approve");
/// durable.decide("refund-7", "approve", Decision::approve("dana", "customer called")).await?;
/// assert_eq!(run.result().await?, "50000 refunded, approved by dana");
/// # Ok(())
/// # }
/// ```
#[must_use = "a gate does nothing until it is asked"]
pub struct Gate<'c> {
    ctx: &'c mut WorkflowContext,
    name: String,
    deadline: Option<Duration>,
}

impl Gate<'_> {
    /// Escalates the gate if no decision comes within `deadline` of the
    /// request (it keeps waiting, marked escalated, and the escalation is
    /// audited and reported).
    pub fn deadline(mut self, deadline: Duration) -> Self {
        self.deadline = Some(deadline);
        self
    }

    /// Asks for a decision on `request` (what is to be approved, shown to
    /// whoever decides). The first time, the request is recorded, the
    /// workflow is persisted as waiting, and this returns
    /// [`WorkflowError::Waiting`]: propagate it with `?`. A decision resumes
    /// the workflow; its steps before the gate return their checkpoints, and
    /// this returns the decision.
    ///
    /// # Errors
    /// [`WorkflowError::Waiting`] until decided; store and definition errors
    /// as for steps.
    ///
    /// # Cancel safety
    /// The request is written in one atomic commit: dropped before it, no
    /// gate is recorded; after it, the workflow waits.
    pub async fn ask<R: Serialize>(self, request: &R) -> Result<Decision, WorkflowError> {
        let Self { ctx, name, deadline } = self;
        let seq = ctx.take_seq(&name)?;
        if let Some(recorded) = ctx.approvals.get(&seq) {
            return match recorded.status {
                ApprovalStatus::Waiting => Err(WorkflowError::Waiting { gate: name }),
                status => Ok(Decision {
                    approved: status == ApprovalStatus::Approved,
                    by: recorded.decided_by.clone().unwrap_or_default(),
                    note: recorded.note.clone().unwrap_or_default(),
                }),
            };
        }
        let now = now_ms();
        let deadline_ms =
            deadline.map(|limit| now.saturating_add(i64::try_from(limit.as_millis()).unwrap_or(i64::MAX)));
        let request = to_json(&format!("request of gate `{name}`"), request)?;
        let approval = ApprovalRecord {
            workflow_id: ctx.id.clone(),
            seq,
            gate: name.clone(),
            request: request.clone(),
            status: ApprovalStatus::Waiting,
            escalated: false,
            decided_by: None,
            note: None,
            requested_ms: now,
            deadline_ms,
            decided_ms: None,
        };
        let ops = vec![
            WriteOp::PutApproval(approval),
            WriteOp::SetStatus {
                id: ctx.id.clone(),
                from: vec![WorkflowStatus::Running],
                status: WorkflowStatus::Waiting,
                output: None,
                error: None,
                at_ms: now,
            },
            audit(
                &ctx.id,
                action::APPROVAL_REQUESTED,
                serde_json::json!({"gate": name, "seq": seq, "request": request, "deadline_ms": deadline_ms}),
            ),
        ];
        ctx.shared.commit(&ctx.id, ops, None).await?;
        ctx.shared.events.emit(
            &ctx.id,
            DurableEventKind::ApprovalRequested { gate: name.clone() },
        );
        Err(WorkflowError::Waiting { gate: name })
    }
}
