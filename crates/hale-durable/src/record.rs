//! The rows a store keeps, and the writes the engine asks of it.
//!
//! Values (inputs, outputs, requests) are kept as JSON text: a step stores
//! its own output, never a copy of the whole workflow state.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::budget::Budget;

macro_rules! text_enum {
    ($(#[$meta:meta])* $name:ident { $($(#[$vmeta:meta])* $variant:ident => $text:literal),+ $(,)? }) => {
        $(#[$meta])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
        #[serde(rename_all = "snake_case")]
        pub enum $name {
            $($(#[$vmeta])* $variant),+
        }

        impl $name {
            /// The name stored in the database.
            pub fn as_str(self) -> &'static str {
                match self {
                    $(Self::$variant => $text),+
                }
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl FromStr for $name {
            type Err = String;

            fn from_str(text: &str) -> Result<Self, String> {
                match text {
                    $($text => Ok(Self::$variant),)+
                    other => Err(format!("unknown {} `{other}`", stringify!($name))),
                }
            }
        }
    };
}

text_enum! {
    /// Where a workflow is in its life.
    WorkflowStatus {
        /// Running (or to be resumed: a process died while it ran).
        Running => "running",
        /// Persisted at an approval gate, waiting for a decision.
        Waiting => "waiting",
        /// A step failed for good; the done steps are being compensated.
        Compensating => "compensating",
        /// Finished with an output.
        Completed => "completed",
        /// Failed for good with nothing to compensate; dead-lettered.
        Failed => "failed",
        /// Failed, and every done step was compensated in reverse order.
        Compensated => "compensated",
        /// Failed, and a compensation failed too: escalated and dead-lettered.
        CompensationFailed => "compensation_failed",
    }
}

impl WorkflowStatus {
    /// Whether the workflow has ended (nothing more will run unless it is
    /// replayed or its id reused).
    ///
    /// ```
    /// use hale_durable::WorkflowStatus;
    /// assert!(WorkflowStatus::Compensated.is_finished());
    /// assert!(!WorkflowStatus::Waiting.is_finished());
    /// ```
    pub fn is_finished(self) -> bool {
        matches!(
            self,
            Self::Completed | Self::Failed | Self::Compensated | Self::CompensationFailed
        )
    }

    /// Whether the run ended in a failure of some kind.
    pub fn is_failure(self) -> bool {
        matches!(self, Self::Failed | Self::Compensated | Self::CompensationFailed)
    }
}

text_enum! {
    /// What a checkpointed step is.
    StepKind {
        /// A plain step: its result is checkpointed; on resume a step without
        /// a result runs again.
        Step => "step",
        /// A side effect: its intent is recorded before it runs, under an
        /// idempotency key, and its result after.
        Effect => "effect",
    }
}

text_enum! {
    /// How far a step (or a compensation) got.
    StepStatus {
        /// Started (recorded before a side effect); no result yet.
        Intent => "intent",
        /// Done; its output is stored.
        Done => "done",
        /// Failed for good; its error is stored.
        Failed => "failed",
    }
}

text_enum! {
    /// Where an approval gate stands.
    ApprovalStatus {
        /// No decision yet.
        Waiting => "waiting",
        /// Approved.
        Approved => "approved",
        /// Rejected.
        Rejected => "rejected",
    }
}

/// A workflow's row.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct WorkflowRecord {
    /// The id the caller chose.
    pub id: String,
    /// The registered workflow's name.
    pub name: String,
    /// Where it is.
    pub status: WorkflowStatus,
    /// Its input, as JSON.
    pub input: String,
    /// Its output, as JSON, once completed.
    pub output: Option<String>,
    /// Why it failed, once failed.
    pub error: Option<String>,
    /// The step names of the definition its checkpoints were written under.
    pub definition: Vec<String>,
    /// Its spend and call limits.
    pub budget: Budget,
    /// Which run of this id (1 for the first; a reused id counts up).
    pub run: i64,
    /// When it was created, in ms since the Unix epoch.
    pub created_ms: i64,
    /// When it last changed status.
    pub updated_ms: i64,
    /// When it finished.
    pub finished_ms: Option<i64>,
}

/// A checkpointed step.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct StepRecord {
    /// The workflow.
    pub workflow_id: String,
    /// Its position in the workflow's sequence of steps and gates (0, 1, ...).
    pub seq: i64,
    /// The step's name.
    pub name: String,
    /// Plain step or side effect.
    pub kind: StepKind,
    /// How far it got.
    pub status: StepStatus,
    /// Its input, as JSON (kept for side effects and failed steps).
    pub input: Option<String>,
    /// Its output, as JSON, when done.
    pub output: Option<String>,
    /// Its last error, when failed.
    pub error: Option<String>,
    /// Its idempotency key (side effects).
    pub key: Option<String>,
    /// What it costs against the workflow's budget.
    pub cost: i64,
    /// Attempts made.
    pub attempts: i64,
    /// When it was written, in ms since the Unix epoch.
    pub at_ms: i64,
}

/// A checkpointed compensation of a done step.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CompensationRecord {
    /// The workflow.
    pub workflow_id: String,
    /// The seq of the step it compensates.
    pub step_seq: i64,
    /// The compensation's name.
    pub name: String,
    /// How far it got.
    pub status: StepStatus,
    /// Its last error, when failed.
    pub error: Option<String>,
    /// Its idempotency key.
    pub key: String,
    /// Attempts made.
    pub attempts: i64,
    /// When it was written.
    pub at_ms: i64,
}

/// An approval gate's row.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ApprovalRecord {
    /// The workflow.
    pub workflow_id: String,
    /// The gate's position in the workflow's sequence.
    pub seq: i64,
    /// The gate's name.
    pub gate: String,
    /// What is asked, as the workflow described it.
    pub request: String,
    /// Where it stands.
    pub status: ApprovalStatus,
    /// Whether it waited past its deadline and was escalated.
    pub escalated: bool,
    /// Who decided.
    pub decided_by: Option<String>,
    /// Their note.
    pub note: Option<String>,
    /// When it was requested.
    pub requested_ms: i64,
    /// When it escalates if still waiting.
    pub deadline_ms: Option<i64>,
    /// When it was decided.
    pub decided_ms: Option<i64>,
}

/// A dead letter: a workflow that failed for good, with what is needed to
/// look at it and replay it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct DeadLetter {
    /// The dead letter's own id.
    pub id: i64,
    /// The workflow.
    pub workflow_id: String,
    /// The workflow's name.
    pub workflow_name: String,
    /// The workflow's input, as JSON.
    pub input: String,
    /// The error that ended it.
    pub error: String,
    /// Its steps, compensations and gates at that moment, as JSON (kept here
    /// so pruning step rows never loses it).
    pub history: String,
    /// When it was dead-lettered.
    pub at_ms: i64,
    /// When it was replayed, if it was.
    pub replayed_ms: Option<i64>,
    /// Who replayed it.
    pub replayed_by: Option<String>,
}

/// One entry of the audit log, chained to the one before by its hash.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditEntry {
    /// Its position in the log (1, 2, ...).
    pub seq: i64,
    /// When it was written.
    pub at_ms: i64,
    /// The workflow it is about.
    pub workflow_id: String,
    /// What happened (`approval_decided`, `budget_refused`, ...).
    pub action: String,
    /// The details, as JSON.
    pub detail: String,
    /// The hash of the entry before (hex; zeros for the first).
    pub prev_hash: String,
    /// This entry's hash (hex SHA-256 over the previous hash and its fields).
    pub hash: String,
}

/// An audit entry before the store numbers and chains it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditDraft {
    /// When.
    pub at_ms: i64,
    /// The workflow.
    pub workflow_id: String,
    /// What happened.
    pub action: String,
    /// The details, as JSON.
    pub detail: String,
}

/// Everything a store holds about one workflow.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct History {
    /// The workflow's row.
    pub workflow: WorkflowRecord,
    /// Its steps, by seq.
    pub steps: Vec<StepRecord>,
    /// Its compensations, in the order they were written.
    pub compensations: Vec<CompensationRecord>,
    /// Its approval gates, by seq.
    pub approvals: Vec<ApprovalRecord>,
}

/// One write. A list of writes given to [`Store::apply`](crate::Store::apply)
/// is applied atomically: all or none.
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub enum WriteOp {
    /// Creates a workflow; a conflict if the id exists.
    InsertWorkflow(WorkflowRecord),
    /// Starts a new run of an existing id: replaces its row and forgets the
    /// old run's steps, compensations and gates; a conflict unless the row
    /// is still at run `expected_run`.
    RestartWorkflow {
        /// The new row.
        record: WorkflowRecord,
        /// The run it replaces.
        expected_run: i64,
    },
    /// Moves a workflow to `status`; a conflict unless it is in one of
    /// `from`.
    SetStatus {
        /// The workflow.
        id: String,
        /// The statuses it may be in.
        from: Vec<WorkflowStatus>,
        /// The new status.
        status: WorkflowStatus,
        /// Its output (completed).
        output: Option<String>,
        /// Its error (failures).
        error: Option<String>,
        /// When.
        at_ms: i64,
    },
    /// Writes a step (inserted, or its intent replaced by its result).
    PutStep(StepRecord),
    /// Forgets a workflow's failed steps (a replay runs them again).
    DeleteFailedSteps {
        /// The workflow.
        id: String,
    },
    /// Writes a compensation.
    PutCompensation(CompensationRecord),
    /// Forgets a workflow's failed compensations (a replay retries them).
    DeleteFailedCompensations {
        /// The workflow.
        id: String,
    },
    /// Records an approval gate.
    PutApproval(ApprovalRecord),
    /// Decides a gate; a conflict unless it is still waiting.
    Decide {
        /// The workflow.
        id: String,
        /// The gate's seq.
        seq: i64,
        /// Approved or rejected.
        status: ApprovalStatus,
        /// Who.
        by: String,
        /// Their note.
        note: String,
        /// When.
        at_ms: i64,
    },
    /// Marks a waiting gate escalated; a conflict unless it is waiting and not
    /// escalated yet.
    Escalate {
        /// The workflow.
        id: String,
        /// The gate's seq.
        seq: i64,
    },
    /// Stores a dead letter.
    AddDeadLetter(DeadLetter),
    /// Marks a dead letter replayed; a conflict if it was already.
    MarkReplayed {
        /// The dead letter.
        dead_letter: i64,
        /// Who.
        by: String,
        /// When.
        at_ms: i64,
    },
    /// Appends to the audit log (the store numbers and chains it).
    Audit(AuditDraft),
    /// Deletes the step, compensation and gate rows of workflows that
    /// finished before `finished_before_ms` (their workflow rows, dead letters
    /// and audit entries stay).
    Prune {
        /// The cut-off, in ms since the Unix epoch.
        finished_before_ms: i64,
    },
}
