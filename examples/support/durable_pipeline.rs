//! The document pipeline's durable mode (`-- --store run.db`): every
//! document is a durable workflow whose four stages are checkpointed
//! steps in a SQLite file. Kill the run and start the same command again:
//! documents finished before the kill are read back from the store, not
//! processed again; the one in flight resumes after its last finished
//! stage; the rest start. The report's ledger then accounts for every
//! document, and a summary says how many were resumed.

use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use hale::chaos::{Ledger, Notes, Outcome};

use crate::cli::RunArgs;
use hale::resilience::{AnsweredBy, FallbackChain, Pipeline, RetryPolicy};
use hale_durable::{
    ApprovalRecord, AuditEntry, DeadLetter, Durable, History, SqliteStore, StepError, Store, StoreCounts,
    StoreFuture, WaitingCounts, Workflow, WorkflowContext, WorkflowError, WorkflowRecord, WorkflowStatus,
    WriteOp,
};
use serde::{Deserialize, Serialize};

use super::{Doc, Stage, StageError};

/// The stages and their policies, as `main` built them.
pub(crate) struct Stages {
    pub(crate) classify: (Stage, Pipeline),
    pub(crate) extraction: FallbackChain<Doc, String, StageError>,
    pub(crate) validate: (Stage, Pipeline),
    pub(crate) store: (Stage, Pipeline),
    pub(crate) notes: Notes,
}

/// Where a document ended, as the workflow's output.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
enum Ended {
    Completed,
    Degraded,
    DeadLettered,
    Escalated,
}

impl From<Ended> for Outcome {
    fn from(ended: Ended) -> Self {
        match ended {
            Ended::Completed => Outcome::Completed,
            Ended::Degraded => Outcome::Degraded,
            Ended::DeadLettered => Outcome::DeadLettered,
            Ended::Escalated => Outcome::Escalated,
        }
    }
}

/// What extraction gave: fields (maybe from a lesser alternative), or an end.
#[derive(Clone, Debug, Serialize, Deserialize)]
enum Extracted {
    Fields { fields: String, degraded: bool },
    Ended(Ended),
}

struct ProcessDocument {
    stages: Stages,
}

impl Workflow for ProcessDocument {
    /// The document's id and the run's seed.
    type Input = (u64, u64);
    type Output = Ended;
    const NAME: &'static str = "process-document";
    const STEPS: &'static [&'static str] = &["classify", "extract", "validate", "store"];

    async fn run(&self, ctx: &mut WorkflowContext, (id, seed): (u64, u64)) -> Result<Ended, WorkflowError> {
        // A document is rebuilt from its id and the seed in each step: the
        // steps' inputs are what is stored, not the document.
        let doc = (id, seed);
        let (classify, policy) = self.stages.classify.clone();
        let notes = self.stages.notes.clone();
        let (label, mut degraded): (String, bool) = ctx
            .step("classify")
            .run(doc, move |(id, seed), _| {
                let (classify, policy, notes) = (classify.clone(), policy.clone(), notes.clone());
                let doc = Doc::new(id, seed);
                async move {
                    Ok::<_, StepError>(match policy.call(|| classify.ask(&doc, "")).await {
                        Ok(label) => (label, false),
                        Err(_) => {
                            notes.bump("classification defaulted");
                            ("unsorted".to_owned(), true)
                        }
                    })
                }
            })
            .await?;
        let extraction = self.stages.extraction.clone();
        let notes = self.stages.notes.clone();
        let extracted: Extracted = ctx
            .step("extract")
            .run(doc, move |(id, seed), _| {
                let (extraction, notes) = (extraction.clone(), notes.clone());
                let doc = Doc::new(id, seed);
                async move {
                    Ok::<_, StepError>(match extraction.call(doc).await {
                        Ok(answer) => match answer.answered_by {
                            AnsweredBy::Alternative { index: 0, .. } => Extracted::Fields {
                                fields: answer.value,
                                degraded: false,
                            },
                            AnsweredBy::Alternative { .. } => {
                                notes.bump("extracted by local model");
                                Extracted::Fields {
                                    fields: answer.value,
                                    degraded: true,
                                }
                            }
                            _ => Extracted::Ended(Ended::Escalated),
                        },
                        Err(_) => Extracted::Ended(Ended::DeadLettered),
                    })
                }
            })
            .await?;
        let fields = match extracted {
            Extracted::Fields {
                fields,
                degraded: lesser,
            } => {
                degraded |= lesser;
                fields
            }
            Extracted::Ended(ended) => return Ok(ended),
        };
        let record = format!("{label}: {fields}");
        let (validate, policy) = self.stages.validate.clone();
        let valid: Option<String> = ctx
            .step("validate")
            .run(doc, move |(id, seed), _| {
                let (validate, policy, record) = (validate.clone(), policy.clone(), record.clone());
                let doc = Doc::new(id, seed);
                async move { Ok::<_, StepError>(policy.call(|| validate.ask(&doc, &record)).await.ok()) }
            })
            .await?;
        let Some(valid) = valid else {
            return Ok(Ended::DeadLettered);
        };
        let (store, policy) = self.stages.store.clone();
        let stored: bool = ctx
            .step("store")
            .effect()
            .run(doc, move |(id, seed), _| {
                let (store, policy, valid) = (store.clone(), policy.clone(), valid.clone());
                let doc = Doc::new(id, seed);
                async move { Ok::<_, StepError>(policy.call(|| store.ask(&doc, &valid)).await.is_ok()) }
            })
            .await?;
        Ok(match (stored, degraded) {
            (false, _) => Ended::DeadLettered,
            (true, true) => Ended::Degraded,
            (true, false) => Ended::Completed,
        })
    }
}

/// The SQLite store, its commits awaited from a blocking thread. The
/// pipeline runs on tokio's paused clock, which jumps to the next timer
/// whenever the runtime waits on something outside it, such as the store's
/// writer thread; a blocking task holds the clock still meanwhile, so the
/// simulated time stays that of the pipeline's own work.
struct PausedClockStore(std::sync::Arc<SqliteStore>);

impl Store for PausedClockStore {
    fn apply(&self, ops: Vec<WriteOp>) -> StoreFuture<'_, u64> {
        let store = std::sync::Arc::clone(&self.0);
        Box::pin(async move {
            tokio::task::spawn_blocking(move || futures::executor::block_on(store.apply(ops)))
                .await
                .map_err(|error| hale_durable::StoreError::Backend(error.to_string()))?
        })
    }
    fn workflow<'a>(&'a self, id: &'a str) -> StoreFuture<'a, Option<WorkflowRecord>> {
        self.0.workflow(id)
    }
    fn history<'a>(&'a self, id: &'a str) -> StoreFuture<'a, Option<History>> {
        self.0.history(id)
    }
    fn workflows(&self, status: WorkflowStatus, limit: usize) -> StoreFuture<'_, Vec<WorkflowRecord>> {
        self.0.workflows(status, limit)
    }
    fn waiting_approvals(&self, limit: usize) -> StoreFuture<'_, Vec<ApprovalRecord>> {
        self.0.waiting_approvals(limit)
    }
    fn dead_letters(&self, include_replayed: bool, limit: usize) -> StoreFuture<'_, Vec<DeadLetter>> {
        self.0.dead_letters(include_replayed, limit)
    }
    fn dead_letter(&self, id: i64) -> StoreFuture<'_, Option<DeadLetter>> {
        self.0.dead_letter(id)
    }
    fn audit(&self, after_seq: i64, limit: usize) -> StoreFuture<'_, Vec<AuditEntry>> {
        self.0.audit(after_seq, limit)
    }
    fn counts(&self) -> StoreFuture<'_, StoreCounts> {
        self.0.counts()
    }
    fn waiting_counts(&self) -> StoreFuture<'_, WaitingCounts> {
        self.0.waiting_counts()
    }
}

/// What the durable mode did, printed under the chaos report.
pub(crate) struct Summary {
    path: PathBuf,
    already_done: u64,
    resumed: u64,
    started: u64,
}

impl fmt::Display for Summary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, " durable store {}", self.path.display())?;
        writeln!(f, "   {:<26} {:>8}", "done in an earlier run", self.already_done)?;
        writeln!(f, "   {:<26} {:>8}", "resumed from a checkpoint", self.resumed)?;
        write!(f, "   {:<26} {:>8}", "started in this run", self.started)
    }
}

/// Runs the documents `0..args.items` as durable workflows in the store at
/// `path`, settling each in `ledger`.
pub(crate) async fn process(
    path: &Path,
    args: &RunArgs,
    ledger: &Ledger,
    stages: Stages,
) -> Result<Summary, Box<dyn std::error::Error>> {
    // The pipeline's own policies retry each stage; a step runs once.
    let once = RetryPolicy::builder("durable-step").maximum_attempts(1).build()?;
    let store = PausedClockStore(std::sync::Arc::new(SqliteStore::open(path).await?));
    let durable = Durable::builder(store)
        .register(ProcessDocument { stages })
        .step_retry(once)
        // No gates, no retention: no sweeper timer to pull the paused clock.
        .without_sweeper()
        .build()
        .await?;
    // What an earlier run finished, read before resuming: a resumed
    // document may finish while this loop is still on its way to it, and
    // must then count as resumed, not as done earlier.
    let done_earlier: std::collections::HashSet<String> = durable
        .store()
        .workflows(WorkflowStatus::Completed, usize::MAX)
        .await?
        .into_iter()
        .map(|record| record.id)
        .collect();
    let resumed = u64::try_from(durable.resume_all().await?.resumed)?;
    let mut summary = Summary {
        path: path.to_path_buf(),
        already_done: 0,
        resumed,
        started: 0,
    };
    for id in 0..args.items {
        ledger.submit(id);
        // The seed is part of the id: a run with another seed is other work.
        let key = format!("doc/{}/{id}", args.seed);
        let mut handle = match durable.status(&key).await? {
            Some(_) if done_earlier.contains(&key) => {
                summary.already_done += 1;
                durable.handle::<Ended>(&key).await?
            }
            Some(_) => durable.handle::<Ended>(&key).await?,
            None => {
                summary.started += 1;
                durable.start::<ProcessDocument>(&key, (id, args.seed)).await?
            }
        };
        ledger.settle(id, handle.result().await?.into());
    }
    durable.shutdown(Duration::from_secs(5)).await;
    Ok(summary)
}
