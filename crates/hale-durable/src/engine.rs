//! [`Durable`]: the engine. Registers workflows, starts and joins runs,
//! resumes what a dead process left running, and serves the operator's
//! surface (gates, dead letters, audit, events).

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError, Weak};
use std::time::Duration;

use hale_resilience::RetryPolicy;
use serde::de::DeserializeOwned;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::audit::{AuditCheck, action};
use crate::budget::Budget;
use crate::context::{Decision, Shared, audit};
use crate::error::{DurableError, StoreError};
use crate::events::{DurableEventKind, DurableEvents, EventSender, now_ms};
use crate::handle::{Outcome, ResumeReport, WorkflowHandle};
use crate::record::{ApprovalRecord, ApprovalStatus, DeadLetter, WorkflowRecord, WorkflowStatus, WriteOp};
use crate::runner::{self, Reason};
use crate::store::Store;
use crate::supervision::Agents;
use crate::workflow::{ErasedWorkflow, Registered, Workflow};

/// What to do when a start names an id whose earlier run has finished (a
/// running or waiting id is always joined, never started twice). Temporal's
/// policies.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum IdReuse {
    /// Refuse: an id runs once (the default, so a finished payment is never
    /// charged again by mistake).
    #[default]
    Reject,
    /// Start a new run only if the last one ended in a failure (failed,
    /// compensated, compensation failed).
    AllowAfterFailure,
    /// Always start a new run.
    Allow,
}

/// Options of one start.
///
/// ```
/// use hale_durable::{Budget, IdReuse, StartOptions};
/// let options = StartOptions::default().reuse(IdReuse::AllowAfterFailure).budget(Budget::unlimited().max_spend(500));
/// assert_eq!(options.id_reuse(), IdReuse::AllowAfterFailure);
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct StartOptions {
    reuse: IdReuse,
    budget: Option<Budget>,
}

impl StartOptions {
    /// Sets the id reuse policy.
    pub fn reuse(mut self, reuse: IdReuse) -> Self {
        self.reuse = reuse;
        self
    }

    /// Sets the run's budget (default: the engine's).
    pub fn budget(mut self, budget: Budget) -> Self {
        self.budget = Some(budget);
        self
    }

    /// The id reuse policy.
    pub fn id_reuse(&self) -> IdReuse {
        self.reuse
    }
}

/// One run known to this process: its outcome channel, whether a task is
/// driving it, and whether it must be driven again when that task ends.
struct Slot {
    outcome: watch::Sender<Option<Outcome>>,
    active: bool,
    rerun: bool,
    activation: u64,
}

pub(crate) struct Engine {
    pub(crate) shared: Arc<Shared>,
    pub(crate) registry: HashMap<&'static str, Arc<dyn ErasedWorkflow>>,
    slots: Mutex<HashMap<String, Slot>>,
    activations: AtomicU64,
    agents: Agents,
    budget: Budget,
    max_crashes: u32,
    tickers: Mutex<Vec<JoinHandle<()>>>,
}

impl Drop for Engine {
    fn drop(&mut self) {
        for ticker in self
            .tickers
            .get_mut()
            .unwrap_or_else(PoisonError::into_inner)
            .drain(..)
        {
            ticker.abort();
        }
    }
}

impl Engine {
    fn slots(&self) -> MutexGuard<'_, HashMap<String, Slot>> {
        self.slots.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Tells every handle of `id` how its run ended.
    pub(crate) fn deliver(&self, id: &str, outcome: Outcome) {
        if let Some(slot) = self.slots().get(id) {
            slot.outcome.send_replace(Some(outcome));
        }
    }

    fn subscribe(&self, id: &str) -> watch::Receiver<Option<Outcome>> {
        self.slots()
            .entry(id.to_owned())
            .or_insert_with(|| Slot {
                outcome: watch::channel(None).0,
                active: false,
                rerun: false,
                activation: 0,
            })
            .outcome
            .subscribe()
    }

    /// Makes sure a task drives `id`: starts one under the supervisor, or, if
    /// one is driving it already, asks it to drive once more when done.
    async fn activate(
        self: &Arc<Self>,
        id: &str,
        reason: Reason,
    ) -> Result<watch::Receiver<Option<Outcome>>, DurableError> {
        let (receiver, activation) = {
            let mut slots = self.slots();
            let slot = slots.entry(id.to_owned()).or_insert_with(|| Slot {
                outcome: watch::channel(None).0,
                active: false,
                rerun: false,
                activation: 0,
            });
            let receiver = slot.outcome.subscribe();
            if slot.active {
                slot.rerun = true;
                return Ok(receiver);
            }
            slot.active = true;
            slot.outcome.send_replace(None);
            slot.activation = self.activations.fetch_add(1, Ordering::Relaxed);
            (receiver, slot.activation)
        };
        let engine = Arc::downgrade(self);
        let workflow = id.to_owned();
        let spawned = self
            .agents
            .spawn(format!("{id}@{activation}"), move |incarnation| {
                let engine = engine.clone();
                let workflow = workflow.clone();
                async move {
                    let Some(engine) = engine.upgrade() else {
                        return Ok(());
                    };
                    engine.run_task(&workflow, reason, incarnation).await
                }
            })
            .await;
        if let Err(cause) = spawned {
            let error = DurableError::Supervision {
                id: id.to_owned(),
                cause,
            };
            if let Some(slot) = self.slots().get_mut(id) {
                slot.active = false;
                slot.outcome
                    .send_replace(Some(Outcome::NotResumed(error.clone())));
            }
            return Err(error);
        }
        Ok(receiver)
    }

    /// The supervised task's work.
    async fn run_task(self: &Arc<Self>, id: &str, first: Reason, incarnation: u32) -> Result<(), String> {
        let mut reason = if incarnation == 0 { first } else { Reason::Restart };
        if incarnation > self.max_crashes {
            let error = format!("its agent crashed {incarnation} times in a row");
            runner::dead_letter(self, id, WorkflowStatus::Failed, &error, Vec::new())
                .await
                .map_err(|e| e.to_string())?;
            self.finish_task(id);
            return Ok(());
        }
        loop {
            runner::drive(self, id, reason)
                .await
                .map_err(|error| error.to_string())?;
            {
                let mut slots = self.slots();
                if let Some(slot) = slots.get_mut(id)
                    && slot.rerun
                {
                    slot.rerun = false;
                    reason = Reason::Continue;
                    continue;
                }
            }
            self.finish_task(id);
            return Ok(());
        }
    }

    fn finish_task(&self, id: &str) {
        let mut slots = self.slots();
        let ended = match slots.get_mut(id) {
            Some(slot) => {
                slot.active = false;
                slot.outcome.borrow().is_some()
            }
            None => false,
        };
        // An ended run's handles keep their outcome; the slot goes, so memory
        // holds only runs that are active or waiting.
        if ended {
            slots.remove(id);
        }
    }
}

/// Builds a [`Durable`] engine.
///
/// # Examples
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// use std::time::Duration;
/// use hale_durable::{Budget, Durable, SqliteOptions, SqliteStore, Synchronous};
/// use hale_resilience::RetryPolicy;
///
/// let dir = tempfile::tempdir()?;
/// let store = SqliteStore::open_with(dir.path().join("wf.db"), SqliteOptions::default().synchronous(Synchronous::Full)).await?;
/// let durable = Durable::builder(store)
///     .step_retry(RetryPolicy::builder("steps").maximum_attempts(5).build()?)
///     .budget(Budget::unlimited().max_spend(10_000))        // per run, in cents
///     .retention(Duration::from_secs(7 * 24 * 3600))         // prune finished runs' steps after a week
///     .max_crashes(3)
///     .build()
///     .await?;
/// assert_eq!(durable.resume_all().await?.resumed, 0);
/// # Ok(())
/// # }
/// ```
pub struct DurableBuilder {
    store: Arc<dyn Store>,
    registry: HashMap<&'static str, Arc<dyn ErasedWorkflow>>,
    step_retry: Option<RetryPolicy>,
    compensation_retry: Option<RetryPolicy>,
    budget: Budget,
    event_capacity: usize,
    max_crashes: u32,
    retention: Option<Duration>,
    sweep_every: Option<Duration>,
    supervisor_intensity: u32,
}

impl std::fmt::Debug for DurableBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DurableBuilder")
            .field("workflows", &self.registry.keys().collect::<Vec<_>>())
            .finish_non_exhaustive()
    }
}

impl DurableBuilder {
    /// Registers a workflow (by its `NAME`; registering a name again
    /// replaces it).
    pub fn register<W: Workflow>(mut self, workflow: W) -> Self {
        self.registry
            .insert(W::NAME, Arc::new(Registered(Arc::new(workflow))));
        self
    }

    /// The retry policy of steps that set none (default: 3 attempts, 100 ms
    /// first delay, full jitter).
    pub fn step_retry(mut self, policy: RetryPolicy) -> Self {
        self.step_retry = Some(policy);
        self
    }

    /// The retry policy of compensations that set none (default: 5
    /// attempts, 100 ms first delay).
    pub fn compensation_retry(mut self, policy: RetryPolicy) -> Self {
        self.compensation_retry = Some(policy);
        self
    }

    /// The budget of runs started without one (default: unlimited).
    pub fn budget(mut self, budget: Budget) -> Self {
        self.budget = budget;
        self
    }

    /// The event stream's capacity per subscriber (default 4096).
    pub fn event_capacity(mut self, capacity: usize) -> Self {
        self.event_capacity = capacity;
        self
    }

    /// How many crashes in a row of one run's agent are restarted (each
    /// restart resumes it) before the run is dead-lettered (default 5).
    pub fn max_crashes(mut self, crashes: u32) -> Self {
        self.max_crashes = crashes;
        self
    }

    /// Prunes the step, compensation and gate rows of runs finished longer
    /// than `retention` ago (default: never). Dead letters and the audit log
    /// are kept.
    pub fn retention(mut self, retention: Duration) -> Self {
        self.retention = Some(retention);
        self
    }

    /// How often overdue gates are escalated and (with a retention) old rows
    /// pruned (default 1 s).
    pub fn sweep_every(mut self, every: Duration) -> Self {
        self.sweep_every = Some(every);
        self
    }

    /// Runs no sweeper: overdue gates are escalated and old rows pruned
    /// only when [`Durable::escalate_overdue`] and
    /// [`Durable::prune_finished_before`] are called (at
    /// [`Durable::resume_all`] too). For programs on tokio's paused clock,
    /// where a sweeper's timer would pull simulated time forward while the
    /// store works.
    pub fn without_sweeper(mut self) -> Self {
        self.sweep_every = None;
        self
    }

    /// How many agent restarts per second the workflows' supervisor allows
    /// in all before it gives up (default 1000).
    pub fn supervisor_intensity(mut self, restarts: u32) -> Self {
        self.supervisor_intensity = restarts;
        self
    }

    /// Starts the engine (its supervisor and sweeper). Nothing is resumed
    /// until [`Durable::resume_all`].
    ///
    /// # Errors
    /// [`DurableError::InvalidSetting`] for a zero sweep interval or an
    /// unusable retry policy.
    ///
    /// # Cancel safety
    /// Dropped before it returns, nothing is left running.
    pub async fn build(self) -> Result<Durable, DurableError> {
        if self.sweep_every.is_some_and(|every| every.is_zero()) {
            return Err(DurableError::InvalidSetting(
                "sweep_every must be more than zero".into(),
            ));
        }
        let policy = |name: &str, attempts: u32| {
            RetryPolicy::builder(name.to_owned())
                .maximum_attempts(attempts)
                .initial_interval(Duration::from_millis(100))
                .maximum_interval(Duration::from_secs(5))
                .build()
                .map_err(|error| DurableError::InvalidSetting(error.to_string()))
        };
        let step_retry = match self.step_retry {
            Some(policy) => policy,
            None => policy("durable-step", 3)?,
        };
        let compensation_retry = match self.compensation_retry {
            Some(policy) => policy,
            None => policy("durable-compensation", 5)?,
        };
        let agents = Agents::start(
            "durable-workflows",
            self.supervisor_intensity,
            Duration::from_secs(1),
        )
        .await?;
        let engine = Arc::new(Engine {
            shared: Arc::new(Shared {
                store: self.store,
                events: EventSender::new(self.event_capacity),
                step_retry,
                compensation_retry,
            }),
            registry: self.registry,
            slots: Mutex::default(),
            activations: AtomicU64::new(0),
            agents,
            budget: self.budget,
            max_crashes: self.max_crashes,
            tickers: Mutex::default(),
        });
        let watcher = {
            let weak = Arc::downgrade(&engine);
            engine
                .agents
                .watch_crashes(move |workflow, reason, will_restart| {
                    let engine = weak.upgrade();
                    async move {
                        let Some(engine) = engine else {
                            return;
                        };
                        let detail = serde_json::json!({"reason": reason, "will_restart": will_restart});
                        let entry = audit(&workflow, action::CRASHED, detail);
                        if let Err(error) = engine.shared.store.apply(vec![entry]).await {
                            tracing::warn!(target: "hale::durable", %error, "auditing a crash failed");
                        }
                    }
                })
        };
        engine
            .tickers
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(watcher);
        if let Some(every) = self.sweep_every {
            let sweeper = tokio::spawn(sweep(Arc::downgrade(&engine), every, self.retention));
            engine
                .tickers
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .push(sweeper);
        }
        Ok(Durable { engine })
    }
}

async fn sweep(engine: Weak<Engine>, every: Duration, retention: Option<Duration>) {
    let mut ticks = tokio::time::interval(every);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        ticks.tick().await;
        let Some(engine) = engine.upgrade() else {
            return;
        };
        let durable = Durable { engine };
        if let Err(error) = durable.escalate_overdue(now_ms()).await {
            tracing::warn!(target: "hale::durable", %error, "escalating overdue gates failed");
        }
        if let Some(retention) = retention {
            let cutoff = now_ms().saturating_sub(i64::try_from(retention.as_millis()).unwrap_or(i64::MAX));
            if let Err(error) = durable.prune_finished_before(cutoff).await {
                tracing::warn!(target: "hale::durable", %error, "pruning finished workflows failed");
            }
        }
    }
}

/// The durable workflow engine. Cheap to clone.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// use hale_durable::{Durable, SqliteStore, StepError, Workflow, WorkflowContext, WorkflowError};
///
/// struct Double;
/// impl Workflow for Double {
///     type Input = u32;
///     type Output = u32;
///     const NAME: &'static str = "double";
///     const STEPS: &'static [&'static str] = &["double"];
///     async fn run(&self, ctx: &mut WorkflowContext, n: u32) -> Result<u32, WorkflowError> {
///         ctx.step("double").run(n, |n, _| async move { Ok::<_, StepError>(n * 2) }).await
///     }
/// }
///
/// let dir = tempfile::tempdir()?;
/// let store = SqliteStore::open(dir.path().join("wf.db")).await?;
/// let durable = Durable::builder(store).register(Double).build().await?;
/// durable.resume_all().await?;                       // what a dead process left running
/// let mut run = durable.start::<Double>("order-1", 21).await?;
/// assert_eq!(run.result().await?, 42);
/// durable.shutdown(std::time::Duration::from_secs(5)).await;
/// # Ok(())
/// # }
/// ```
#[derive(Clone)]
pub struct Durable {
    engine: Arc<Engine>,
}

impl std::fmt::Debug for Durable {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Durable").finish_non_exhaustive()
    }
}

fn serde_error(what: &str, error: impl std::fmt::Display) -> DurableError {
    DurableError::Serde {
        what: what.to_owned(),
        detail: error.to_string(),
    }
}

impl Durable {
    /// A builder for an engine over `store`.
    pub fn builder(store: impl Store) -> DurableBuilder {
        Self::builder_shared(Arc::new(store))
    }

    /// A builder for an engine over a shared store.
    pub fn builder_shared(store: Arc<dyn Store>) -> DurableBuilder {
        DurableBuilder {
            store,
            registry: HashMap::new(),
            step_retry: None,
            compensation_retry: None,
            budget: Budget::unlimited(),
            event_capacity: 4_096,
            max_crashes: 5,
            retention: None,
            sweep_every: Some(Duration::from_secs(1)),
            supervisor_intensity: 1_000,
        }
    }

    /// The store.
    pub fn store(&self) -> &Arc<dyn Store> {
        &self.engine.shared.store
    }

    /// Subscribes to the durable events from now on.
    pub fn subscribe(&self) -> DurableEvents {
        self.engine.shared.events.subscribe()
    }

    /// Starts a run of `W` with id `id`, or joins the run of `id` that is
    /// running or waiting. A finished id is refused (see
    /// [`start_with`](Self::start_with) for the other policies).
    ///
    /// # Errors
    /// As [`start_with`](Self::start_with).
    ///
    /// # Cancel safety
    /// As [`start_with`](Self::start_with).
    pub async fn start<W: Workflow>(
        &self,
        id: &str,
        input: W::Input,
    ) -> Result<WorkflowHandle<W::Output>, DurableError> {
        self.start_with::<W>(id, input, StartOptions::default()).await
    }

    /// Starts a run of `W` with id `id` under `options`.
    ///
    /// - `id` unknown: a new run starts.
    /// - `id` running, compensating or waiting: the handle joins that run;
    ///   nothing starts twice. (A run left running by a dead process is
    ///   resumed here.)
    /// - `id` finished: by the [`IdReuse`] policy, a new run (its old steps
    ///   forgotten; its dead letters and audit entries kept) or
    ///   [`DurableError::IdReuseRefused`].
    ///
    /// # Errors
    /// [`DurableError::UnknownWorkflow`] if `W` is not registered,
    /// [`DurableError::WrongWorkflow`] if the id belongs to another
    /// workflow, [`DurableError::IdReuseRefused`], store errors.
    ///
    /// # Cancel safety
    /// The new run's row is written in one commit; dropped after it, the
    /// run is in the store and is resumed by the next
    /// [`resume_all`](Self::resume_all) or start of the same id.
    pub async fn start_with<W: Workflow>(
        &self,
        id: &str,
        input: W::Input,
        options: StartOptions,
    ) -> Result<WorkflowHandle<W::Output>, DurableError> {
        if !self.engine.registry.contains_key(W::NAME) {
            return Err(DurableError::UnknownWorkflow(W::NAME.to_owned()));
        }
        let input = serde_json::to_string(&input).map_err(|e| serde_error("workflow input", e))?;
        let store = &self.engine.shared.store;
        // A conflict means another start won the race: look again.
        for _ in 0..8 {
            let existing = store.workflow(id).await?;
            let now = now_ms();
            let mut record = WorkflowRecord {
                id: id.to_owned(),
                name: W::NAME.to_owned(),
                status: WorkflowStatus::Running,
                input: input.clone(),
                output: None,
                error: None,
                definition: W::STEPS.iter().map(|step| (*step).to_owned()).collect(),
                budget: options.budget.unwrap_or(self.engine.budget),
                run: 1,
                created_ms: now,
                updated_ms: now,
                finished_ms: None,
            };
            let op = match existing {
                None => WriteOp::InsertWorkflow(record),
                Some(existing) => {
                    if existing.name != W::NAME {
                        return Err(DurableError::WrongWorkflow {
                            id: id.to_owned(),
                            existing: existing.name,
                            asked: W::NAME.to_owned(),
                        });
                    }
                    if !existing.status.is_finished() {
                        return self.join(&existing).await;
                    }
                    let allowed = match options.reuse {
                        IdReuse::Reject => false,
                        IdReuse::AllowAfterFailure => existing.status.is_failure(),
                        IdReuse::Allow => true,
                    };
                    if !allowed {
                        return Err(DurableError::IdReuseRefused {
                            id: id.to_owned(),
                            status: existing.status,
                        });
                    }
                    record.run = existing.run.saturating_add(1);
                    WriteOp::RestartWorkflow {
                        record,
                        expected_run: existing.run,
                    }
                }
            };
            match store.apply(vec![op]).await {
                Ok(_) => {
                    self.engine.shared.events.emit(
                        id,
                        DurableEventKind::Started {
                            name: W::NAME.to_owned(),
                        },
                    );
                    let receiver = self.engine.activate(id, Reason::Continue).await?;
                    return Ok(WorkflowHandle::new(id.to_owned(), receiver));
                }
                Err(StoreError::Conflict(_)) => continue,
                Err(error) => return Err(error.into()),
            }
        }
        Err(StoreError::Conflict(format!("starting `{id}` kept racing other starts")).into())
    }

    async fn join<O: DeserializeOwned>(
        &self,
        record: &WorkflowRecord,
    ) -> Result<WorkflowHandle<O>, DurableError> {
        let receiver = match record.status {
            WorkflowStatus::Waiting => self.engine.subscribe(&record.id),
            _ => self.engine.activate(&record.id, Reason::Continue).await?,
        };
        Ok(WorkflowHandle::new(record.id.clone(), receiver))
    }

    /// A handle on the run of `id`, whatever its state: joined if it runs or
    /// waits, resolved if it has ended.
    ///
    /// # Errors
    /// [`DurableError::NotFound`], store errors.
    ///
    /// # Cancel safety
    /// Cancel safe.
    pub async fn handle<O: DeserializeOwned>(&self, id: &str) -> Result<WorkflowHandle<O>, DurableError> {
        let record = self
            .engine
            .shared
            .store
            .workflow(id)
            .await?
            .ok_or_else(|| DurableError::NotFound(id.to_owned()))?;
        match Outcome::of(&record) {
            Some(outcome) => Ok(WorkflowHandle::resolved(id.to_owned(), outcome)),
            None => self.join(&record).await,
        }
    }

    /// The run of `id` as the store has it now.
    ///
    /// # Errors
    /// Store errors.
    ///
    /// # Cancel safety
    /// Cancel safe.
    pub async fn status(&self, id: &str) -> Result<Option<WorkflowRecord>, DurableError> {
        Ok(self.engine.shared.store.workflow(id).await?)
    }

    /// Resumes every run that was running or compensating when its process
    /// died, each from its last checkpoint, under supervision; escalates
    /// overdue gates. Call it once at start-up, after registering the
    /// workflows.
    ///
    /// # Errors
    /// Store errors; a supervisor that cannot start a run.
    ///
    /// # Cancel safety
    /// Runs already resumed go on; call it again to resume the rest.
    pub async fn resume_all(&self) -> Result<ResumeReport, DurableError> {
        let store = &self.engine.shared.store;
        let mut report = ResumeReport::default();
        for status in [WorkflowStatus::Running, WorkflowStatus::Compensating] {
            for record in store.workflows(status, usize::MAX).await? {
                self.engine.activate(&record.id, Reason::Resume).await?;
                report.resumed += 1;
            }
        }
        report.waiting = store.waiting_approvals(usize::MAX).await?.len();
        self.escalate_overdue(now_ms()).await?;
        Ok(report)
    }

    /// Approval gates waiting for a decision, oldest first (at most
    /// `limit`).
    ///
    /// # Errors
    /// Store errors.
    ///
    /// # Cancel safety
    /// Cancel safe.
    pub async fn pending_approvals(&self, limit: usize) -> Result<Vec<ApprovalRecord>, DurableError> {
        Ok(self.engine.shared.store.waiting_approvals(limit).await?)
    }

    /// Decides the gate `gate` of the waiting run `id`, audits it, and
    /// resumes the run in this process (its steps before the gate return
    /// their checkpoints; the gate returns `decision`).
    ///
    /// # Errors
    /// [`DurableError::NoPendingApproval`] if no such gate waits (decided
    /// already, by someone else too); store errors.
    ///
    /// # Cancel safety
    /// The decision is one commit; dropped after it, the run is running and
    /// resumes on the next [`resume_all`](Self::resume_all).
    pub async fn decide(&self, id: &str, gate: &str, decision: Decision) -> Result<(), DurableError> {
        let store = &self.engine.shared.store;
        let no_gate = || DurableError::NoPendingApproval {
            id: id.to_owned(),
            gate: gate.to_owned(),
        };
        let history = store
            .history(id)
            .await?
            .ok_or_else(|| DurableError::NotFound(id.to_owned()))?;
        let waiting = history
            .approvals
            .iter()
            .find(|approval| approval.gate == gate && approval.status == ApprovalStatus::Waiting)
            .ok_or_else(no_gate)?;
        let now = now_ms();
        let ops = vec![
            WriteOp::Decide {
                id: id.to_owned(),
                seq: waiting.seq,
                status: if decision.approved {
                    ApprovalStatus::Approved
                } else {
                    ApprovalStatus::Rejected
                },
                by: decision.by.clone(),
                note: decision.note.clone(),
                at_ms: now,
            },
            WriteOp::SetStatus {
                id: id.to_owned(),
                from: vec![WorkflowStatus::Waiting],
                status: WorkflowStatus::Running,
                output: None,
                error: None,
                at_ms: now,
            },
            audit(
                id,
                action::APPROVAL_DECIDED,
                serde_json::json!({"gate": gate, "seq": waiting.seq, "approved": decision.approved, "by": decision.by, "note": decision.note}),
            ),
        ];
        match store.apply(ops).await {
            Ok(_) => {}
            Err(StoreError::Conflict(_)) => return Err(no_gate()),
            Err(error) => return Err(error.into()),
        }
        self.engine.shared.events.emit(
            id,
            DurableEventKind::ApprovalDecided {
                gate: gate.to_owned(),
                approved: decision.approved,
                by: decision.by,
            },
        );
        self.engine.activate(id, Reason::Continue).await?;
        Ok(())
    }

    /// Escalates every waiting gate whose deadline is before `now_ms`
    /// (once each): marked, audited and reported. The engine's sweeper
    /// calls it every [`sweep_every`](DurableBuilder::sweep_every); returns
    /// how many it escalated.
    ///
    /// # Errors
    /// Store errors.
    ///
    /// # Cancel safety
    /// Each escalation is its own commit; a dropped call leaves the rest for
    /// the next.
    pub async fn escalate_overdue(&self, now_ms: i64) -> Result<usize, DurableError> {
        let shared = &self.engine.shared;
        let mut escalated = 0;
        for approval in shared.store.waiting_approvals(usize::MAX).await? {
            let overdue = approval.deadline_ms.is_some_and(|deadline| deadline < now_ms);
            if !overdue || approval.escalated {
                continue;
            }
            let id = approval.workflow_id.as_str();
            let ops = vec![
                WriteOp::Escalate {
                    id: id.to_owned(),
                    seq: approval.seq,
                },
                audit(
                    id,
                    action::APPROVAL_ESCALATED,
                    serde_json::json!({"gate": approval.gate, "seq": approval.seq, "deadline_ms": approval.deadline_ms}),
                ),
            ];
            match shared.store.apply(ops).await {
                Ok(_) => {}
                Err(StoreError::Conflict(_)) => continue,
                Err(error) => return Err(error.into()),
            }
            tracing::warn!(target: "hale::durable", workflow = id, gate = %approval.gate, "approval overdue: escalated");
            shared.events.emit(
                id,
                DurableEventKind::ApprovalEscalated {
                    gate: approval.gate.clone(),
                },
            );
            escalated += 1;
        }
        Ok(escalated)
    }

    /// Dead letters not replayed yet, oldest first (at most `limit`).
    ///
    /// # Errors
    /// Store errors.
    ///
    /// # Cancel safety
    /// Cancel safe.
    pub async fn dead_letters(&self, limit: usize) -> Result<Vec<DeadLetter>, DurableError> {
        Ok(self.engine.shared.store.dead_letters(false, limit).await?)
    }

    /// One dead letter, replayed or not.
    ///
    /// # Errors
    /// Store errors.
    ///
    /// # Cancel safety
    /// Cancel safe.
    pub async fn dead_letter(&self, id: i64) -> Result<Option<DeadLetter>, DurableError> {
        Ok(self.engine.shared.store.dead_letter(id).await?)
    }

    /// Replays a dead letter: its run continues from its checkpoints (a
    /// failed step runs again under its same key; a failed compensation is
    /// retried, the done ones are not). The replay is audited with `by`.
    ///
    /// # Errors
    /// [`DurableError::NoDeadLetter`] if there is none with that id waiting,
    /// store errors.
    ///
    /// # Cancel safety
    /// The replay is one commit; dropped after it, the run resumes on the
    /// next [`resume_all`](Self::resume_all).
    pub async fn replay<O: DeserializeOwned>(
        &self,
        dead_letter: i64,
        by: &str,
    ) -> Result<WorkflowHandle<O>, DurableError> {
        let shared = &self.engine.shared;
        let letter = shared
            .store
            .dead_letter(dead_letter)
            .await?
            .filter(|letter| letter.replayed_ms.is_none())
            .ok_or(DurableError::NoDeadLetter(dead_letter))?;
        let id = letter.workflow_id.as_str();
        let record = shared
            .store
            .workflow(id)
            .await?
            .ok_or_else(|| DurableError::NotFound(id.to_owned()))?;
        let (reset, status) = match record.status {
            WorkflowStatus::Failed => (
                WriteOp::DeleteFailedSteps { id: id.to_owned() },
                WorkflowStatus::Running,
            ),
            WorkflowStatus::CompensationFailed => (
                WriteOp::DeleteFailedCompensations { id: id.to_owned() },
                WorkflowStatus::Compensating,
            ),
            _ => return Err(DurableError::NoDeadLetter(dead_letter)),
        };
        let now = now_ms();
        let ops = vec![
            WriteOp::MarkReplayed {
                dead_letter,
                by: by.to_owned(),
                at_ms: now,
            },
            reset,
            WriteOp::SetStatus {
                id: id.to_owned(),
                from: vec![record.status],
                status,
                output: None,
                error: None,
                at_ms: now,
            },
            audit(
                id,
                action::REPLAYED,
                serde_json::json!({"dead_letter": dead_letter, "by": by, "error": letter.error}),
            ),
        ];
        match shared.store.apply(ops).await {
            Ok(_) => {}
            Err(StoreError::Conflict(_)) => return Err(DurableError::NoDeadLetter(dead_letter)),
            Err(error) => return Err(error.into()),
        }
        shared.events.emit(
            id,
            DurableEventKind::Replayed {
                dead_letter,
                by: by.to_owned(),
            },
        );
        let receiver = self.engine.activate(id, Reason::Continue).await?;
        Ok(WorkflowHandle::new(id.to_owned(), receiver))
    }

    /// Replays every dead letter not replayed yet; returns the ids of the
    /// runs replayed.
    ///
    /// # Errors
    /// Store errors (the replays done before one stay done).
    ///
    /// # Cancel safety
    /// As [`replay`](Self::replay), one letter at a time.
    pub async fn replay_all(&self, by: &str) -> Result<Vec<String>, DurableError> {
        let mut replayed = Vec::new();
        for letter in self.dead_letters(usize::MAX).await? {
            match self.replay::<serde_json::Value>(letter.id, by).await {
                Ok(handle) => replayed.push(handle.id().to_owned()),
                Err(DurableError::NoDeadLetter(_)) => {}
                Err(error) => return Err(error),
            }
        }
        Ok(replayed)
    }

    /// Checks the audit log's hash chain.
    ///
    /// # Errors
    /// Store errors.
    ///
    /// # Cancel safety
    /// Cancel safe.
    pub async fn verify_audit(&self) -> Result<AuditCheck, DurableError> {
        Ok(self.engine.shared.store.verify_audit().await?)
    }

    /// Deletes the step, compensation and gate rows of runs finished before
    /// `cutoff_ms` (dead letters, audit entries and workflow rows stay).
    /// Returns the rows deleted.
    ///
    /// # Errors
    /// Store errors.
    ///
    /// # Cancel safety
    /// One commit: all or nothing.
    pub async fn prune_finished_before(&self, cutoff_ms: i64) -> Result<u64, DurableError> {
        Ok(self
            .engine
            .shared
            .store
            .apply(vec![WriteOp::Prune {
                finished_before_ms: cutoff_ms,
            }])
            .await?)
    }

    /// Stops the engine: its sweeper, and the supervisor with every run's
    /// agent (runs stop at their next `.await` and resume on the next
    /// start, from their last checkpoint).
    ///
    /// # Cancel safety
    /// Dropped midway, the supervisor may be left stopping on its own.
    pub async fn shutdown(&self, limit: Duration) {
        for ticker in self
            .engine
            .tickers
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .drain(..)
        {
            ticker.abort();
        }
        self.engine.agents.stop(limit).await;
    }
}
