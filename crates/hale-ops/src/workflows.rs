//! The durable side an application plugs in: dead letters, approval gates
//! and the audit trail.
//!
//! hale-ops does not store workflows itself. A service that keeps them (in
//! hale-durable's store, or its own) implements [`Workflows`] and hands it
//! to [`OpsBuilder::workflows`](crate::OpsBuilder::workflows); the routes
//! `/dead-letters`, `/approvals` and their admin actions then work, and
//! every admin action (on the tree too) is written to its audit trail.
//! Without it those routes answer 501 and audit entries go to `tracing`
//! only (target `hale::ops::audit`), which hale-ops always does.

use futures::future::BoxFuture;
use serde::{Deserialize, Serialize};

/// A store's refusal or failure.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum WorkflowError {
    /// No dead letter or approval with that id.
    #[error("{0}")]
    NotFound(String),
    /// The action does not apply now (an approval already decided, a dead
    /// letter being replayed).
    #[error("{0}")]
    Conflict(String),
    /// The store failed.
    #[error("workflow store: {0}")]
    Store(String),
}

/// One dead letter, as listed.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct DeadLetterSummary {
    /// Its id, as the store names it.
    pub id: String,
    /// The workflow (or work item) it belongs to.
    pub workflow: String,
    /// The step that gave up, if the store knows it.
    pub step: Option<String>,
    /// The last error.
    pub error: String,
    /// Attempts made before it was dead-lettered.
    pub attempts: u32,
    /// When it was dead-lettered, in ms since the Unix epoch.
    pub at_ms: u64,
}

/// One dead letter in full: its summary, input and history.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct DeadLetter {
    /// What the list shows.
    #[serde(flatten)]
    pub summary: DeadLetterSummary,
    /// The input it failed on.
    pub input: serde_json::Value,
    /// What happened to it, oldest first, one line each.
    pub history: Vec<String>,
}

/// An approval gate waiting for a decision.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PendingApproval {
    /// Its id.
    pub id: String,
    /// The workflow waiting on it.
    pub workflow: String,
    /// The step it guards.
    pub step: String,
    /// What is to be approved, in words.
    pub summary: String,
    /// When it started waiting, in ms since the Unix epoch.
    pub requested_at_ms: u64,
    /// When it escalates if nobody decides, in ms since the Unix epoch.
    pub deadline_ms: Option<u64>,
}

/// A decision on an approval gate.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Decision {
    /// Approved (true) or rejected (false).
    pub approve: bool,
    /// Who decided: the admin token's name.
    pub by: String,
    /// Why, if they said.
    pub note: Option<String>,
}

/// How many dead letters and pending approvals the store holds.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct WorkflowCounts {
    /// Dead letters held.
    pub dead_letters: u64,
    /// Approval gates waiting.
    pub pending_approvals: u64,
}

/// One admin action, for the audit trail: who did what to what, and how it
/// ended.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditEntry {
    /// When, in ms since the Unix epoch.
    pub at_ms: u64,
    /// Who: the name of the admin token used.
    pub actor: String,
    /// What: `restart`, `terminate`, `delete`, `replay`, `approve`, `reject`.
    pub action: String,
    /// On what: a child's path, a dead letter's or an approval's id.
    pub target: String,
    /// How it ended: `ok`, or `refused: ...` / `failed: ...` with the reason.
    pub outcome: String,
}

/// Dead letters, approval gates and the audit trail of a service, as
/// hale-ops reads and acts on them. Every method is called from an HTTP
/// handler, under the router's call timeout.
///
/// # Cancel safety
///
/// When the call timeout passes, hale-ops drops the method's future and
/// answers 503. An implementation must leave its store consistent when that
/// happens: a replay or a decision either commits whole or not at all (a
/// transaction), and an audit entry is appended whole or not at all.
///
/// # Examples
///
/// A store that holds nothing (a real one reads hale-durable's tables):
///
/// ```
/// use futures::future::BoxFuture;
/// use hale_ops::{AuditEntry, DeadLetter, DeadLetterSummary, Decision, PendingApproval, WorkflowCounts,
///     WorkflowError, Workflows};
///
/// struct Empty;
///
/// impl Workflows for Empty {
///     fn dead_letters(&self) -> BoxFuture<'_, Result<Vec<DeadLetterSummary>, WorkflowError>> {
///         Box::pin(async { Ok(Vec::new()) })
///     }
///     fn dead_letter(&self, id: String) -> BoxFuture<'_, Result<DeadLetter, WorkflowError>> {
///         Box::pin(async move { Err(WorkflowError::NotFound(format!("no dead letter `{id}`"))) })
///     }
///     fn replay(&self, id: String, _by: String) -> BoxFuture<'_, Result<String, WorkflowError>> {
///         Box::pin(async move { Err(WorkflowError::NotFound(format!("no dead letter `{id}`"))) })
///     }
///     fn pending_approvals(&self) -> BoxFuture<'_, Result<Vec<PendingApproval>, WorkflowError>> {
///         Box::pin(async { Ok(Vec::new()) })
///     }
///     fn decide(&self, id: String, _decision: Decision) -> BoxFuture<'_, Result<(), WorkflowError>> {
///         Box::pin(async move { Err(WorkflowError::NotFound(format!("no approval `{id}`"))) })
///     }
///     fn counts(&self) -> BoxFuture<'_, Result<WorkflowCounts, WorkflowError>> {
///         Box::pin(async { Ok(WorkflowCounts::default()) })
///     }
///     fn audit(&self, _entry: AuditEntry) -> BoxFuture<'_, Result<(), WorkflowError>> {
///         Box::pin(async { Ok(()) })
///     }
/// }
/// ```
pub trait Workflows: Send + Sync + 'static {
    /// Every dead letter, oldest first.
    ///
    /// # Errors
    /// [`WorkflowError::Store`] when the store fails.
    fn dead_letters(&self) -> BoxFuture<'_, Result<Vec<DeadLetterSummary>, WorkflowError>>;

    /// One dead letter in full.
    ///
    /// # Errors
    /// [`WorkflowError::NotFound`], [`WorkflowError::Store`].
    fn dead_letter(&self, id: String) -> BoxFuture<'_, Result<DeadLetter, WorkflowError>>;

    /// Replays one dead letter on behalf of `by`; answers what became of it
    /// (a new workflow's id, say) in words.
    ///
    /// # Errors
    /// [`WorkflowError::NotFound`], [`WorkflowError::Conflict`],
    /// [`WorkflowError::Store`].
    fn replay(&self, id: String, by: String) -> BoxFuture<'_, Result<String, WorkflowError>>;

    /// Every approval gate waiting for a decision, oldest first.
    ///
    /// # Errors
    /// [`WorkflowError::Store`].
    fn pending_approvals(&self) -> BoxFuture<'_, Result<Vec<PendingApproval>, WorkflowError>>;

    /// Decides one approval gate.
    ///
    /// # Errors
    /// [`WorkflowError::NotFound`], [`WorkflowError::Conflict`] (already
    /// decided), [`WorkflowError::Store`].
    fn decide(&self, id: String, decision: Decision) -> BoxFuture<'_, Result<(), WorkflowError>>;

    /// How many dead letters and pending approvals there are (read at each
    /// scrape of `/metrics`).
    ///
    /// # Errors
    /// [`WorkflowError::Store`].
    fn counts(&self) -> BoxFuture<'_, Result<WorkflowCounts, WorkflowError>>;

    /// Appends one entry to the audit trail.
    ///
    /// # Errors
    /// [`WorkflowError::Store`].
    fn audit(&self, entry: AuditEntry) -> BoxFuture<'_, Result<(), WorkflowError>>;
}
