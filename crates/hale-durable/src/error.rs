//! The errors of durable workflows: the store's, a step's, a workflow's and
//! the engine's.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::record::WorkflowStatus;

/// A store could not do what it was asked.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// The database itself failed (I/O, locking, a lost connection, ...).
    #[error("store: {0}")]
    Backend(String),
    /// A row could not be read back as what it should be: a corrupt row, or
    /// one written by something else.
    #[error("store: corrupt row in `{table}` ({key}): {detail}")]
    Corrupt {
        /// The table.
        table: &'static str,
        /// Which row.
        key: String,
        /// What is wrong with it.
        detail: String,
    },
    /// A conditional write found the row in another state than expected (a
    /// concurrent writer won); nothing of the write was applied.
    #[error("store: conflict: {0}")]
    Conflict(String),
    /// The database's schema is newer than this build knows.
    #[error("store: schema version {found} is newer than the {supported} this build knows")]
    SchemaTooNew {
        /// The version in the database.
        found: i64,
        /// The newest version this build can use.
        supported: i64,
    },
    /// The database holds tables that are not a Hale store's.
    #[error("store: `{0}` is not a hale-durable store")]
    Foreign(String),
    /// The store's writer has stopped (its thread or connection is gone).
    #[error("store: the writer has stopped")]
    WriterGone,
    /// A setting is not usable.
    #[error("store: invalid setting: {0}")]
    InvalidSetting(String),
}

impl StoreError {
    pub(crate) fn backend(error: impl fmt::Display) -> Self {
        Self::Backend(error.to_string())
    }
}

/// Why one attempt at a step failed. Returned by step functions.
///
/// ```
/// use hale_durable::StepError;
///
/// let flaky = StepError::retryable("connection reset");
/// let refused = StepError::permanent("card declined");
/// assert!(flaky.retryable && !refused.retryable);
/// assert_eq!(refused.to_string(), "card declined");
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
#[error("{message}")]
pub struct StepError {
    /// What went wrong.
    pub message: String,
    /// Whether another attempt may succeed.
    pub retryable: bool,
}

impl StepError {
    /// An error that another attempt may not have (a timeout, a 503).
    pub fn retryable(message: impl fmt::Display) -> Self {
        Self {
            message: message.to_string(),
            retryable: true,
        }
    }

    /// An error that no retry will fix (a declined card, a bad request).
    pub fn permanent(message: impl fmt::Display) -> Self {
        Self {
            message: message.to_string(),
            retryable: false,
        }
    }
}

impl hale_resilience::ErrorClass for StepError {
    fn is_retryable(&self) -> bool {
        self.retryable
    }
}

/// One difference between the definition a workflow's checkpoints were
/// written under and the definition registered now.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "change", rename_all = "snake_case")]
pub enum DefinitionChange {
    /// The step at `position` has another name now.
    Renamed {
        /// Position in the step list.
        position: usize,
        /// The name in the checkpoints.
        was: String,
        /// The name now.
        now: String,
    },
    /// A step of the checkpoints is gone.
    Removed {
        /// The step.
        step: String,
    },
    /// Steps present in both come in another order now.
    Reordered {
        /// The order in the checkpoints.
        was: Vec<String>,
        /// The order now.
        now: Vec<String>,
    },
    /// Replaying the checkpoints, the workflow asked for a step other than the
    /// one recorded at that point.
    Diverged {
        /// The checkpoint's sequence number.
        seq: u64,
        /// The step recorded there.
        recorded: String,
        /// The step the code asked for.
        asked: String,
    },
    /// The workflow finished without reaching steps its checkpoints hold.
    Unreached {
        /// The steps recorded but not reached.
        steps: Vec<String>,
    },
}

impl fmt::Display for DefinitionChange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Renamed { position, was, now } => write!(f, "step {position} renamed `{was}` → `{now}`"),
            Self::Removed { step } => write!(f, "step `{step}` removed"),
            Self::Reordered { was, now } => {
                write!(f, "steps reordered [{}] → [{}]", was.join(", "), now.join(", "))
            }
            Self::Diverged { seq, recorded, asked } => {
                write!(
                    f,
                    "checkpoint {seq} is step `{recorded}`, the code asked for `{asked}`"
                )
            }
            Self::Unreached { steps } => write!(f, "checkpointed steps never reached: {}", steps.join(", ")),
        }
    }
}

/// Why a workflow function stopped without an output. Step calls return
/// it; propagate it with `?`.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum WorkflowError {
    /// A step failed for good (retries exhausted or a permanent error).
    #[error("step `{step}` failed: {error}")]
    Step {
        /// The step.
        step: String,
        /// Its last error.
        error: StepError,
    },
    /// The budget guard refused a step.
    #[error("budget refused step `{step}`: {reason}")]
    BudgetExceeded {
        /// The refused step.
        step: String,
        /// Which limit, and by how much.
        reason: String,
    },
    /// An approval gate was rejected and the workflow gave up on it.
    #[error("gate `{gate}` rejected by {by}: {note}")]
    Rejected {
        /// The gate.
        gate: String,
        /// Who decided.
        by: String,
        /// Their note.
        note: String,
    },
    /// The workflow's own code decided to fail.
    #[error("{0}")]
    Failed(String),
    /// The workflow waits at an approval gate: it is persisted as waiting and
    /// resumes on a decision. Not a failure; propagate it with `?`.
    #[error("waiting at approval gate `{gate}`")]
    Waiting {
        /// The gate.
        gate: String,
    },
    /// The code no longer matches the checkpoints.
    #[error("the workflow's definition changed since its checkpoints: {}", list(.0))]
    DefinitionChanged(Vec<DefinitionChange>),
    /// The store failed; the workflow will be resumed from its last checkpoint.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// A value could not be turned into or read back from JSON.
    #[error("serialization of `{what}`: {detail}")]
    Serde {
        /// What was being (de)serialized.
        what: String,
        /// serde's message.
        detail: String,
    },
}

impl WorkflowError {
    /// A failure decided by the workflow's own code.
    ///
    /// ```
    /// let error = hale_durable::WorkflowError::failed("order cancelled");
    /// assert_eq!(error.to_string(), "order cancelled");
    /// ```
    pub fn failed(message: impl fmt::Display) -> Self {
        Self::Failed(message.to_string())
    }

    /// Whether this ends the run for good (a failure to compensate or
    /// dead-letter) rather than pausing it (waiting, a store error to resume
    /// from, a definition to fix).
    pub(crate) fn is_final(&self) -> bool {
        !matches!(
            self,
            Self::Waiting { .. } | Self::Store(_) | Self::DefinitionChanged(_)
        )
    }
}

fn list(changes: &[DefinitionChange]) -> String {
    changes
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join("; ")
}

/// What the engine answers when asked to do something it cannot.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum DurableError {
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// No workflow with that name is registered in this process.
    #[error("no workflow named `{0}` is registered")]
    UnknownWorkflow(String),
    /// No workflow with that id exists.
    #[error("no workflow with id `{0}`")]
    NotFound(String),
    /// The id exists under another workflow name.
    #[error("workflow id `{id}` belongs to workflow `{existing}`, not `{asked}`")]
    WrongWorkflow {
        /// The id.
        id: String,
        /// The workflow it belongs to.
        existing: String,
        /// The workflow asked for.
        asked: String,
    },
    /// The id was used before and the reuse policy says no.
    #[error("workflow id `{id}` already ran (ended {status}) and its reuse policy refuses a new run")]
    IdReuseRefused {
        /// The id.
        id: String,
        /// How its last run ended.
        status: WorkflowStatus,
    },
    /// The workflow's definition changed since its checkpoints.
    #[error("workflow `{id}` cannot resume: {}", list(changes))]
    DefinitionChanged {
        /// The workflow id.
        id: String,
        /// What changed.
        changes: Vec<DefinitionChange>,
    },
    /// No approval is waiting at that gate.
    #[error("workflow `{id}` has no approval waiting at gate `{gate}`")]
    NoPendingApproval {
        /// The workflow id.
        id: String,
        /// The gate.
        gate: String,
    },
    /// No dead letter with that id, or it was replayed already.
    #[error("no dead letter #{0} waiting for a replay")]
    NoDeadLetter(i64),
    /// A value could not be turned into or read back from JSON.
    #[error("serialization of `{what}`: {detail}")]
    Serde {
        /// What was being (de)serialized.
        what: String,
        /// serde's message.
        detail: String,
    },
    /// The workflow's supervised agent could not be started.
    #[error("workflow `{id}` could not be started under supervision: {cause}")]
    Supervision {
        /// The workflow id.
        id: String,
        /// The supervisor's answer.
        cause: String,
    },
    /// A setting is not usable.
    #[error("invalid setting: {0}")]
    InvalidSetting(String),
    /// The engine is shut down.
    #[error("the durable engine has shut down")]
    ShutDown,
}
