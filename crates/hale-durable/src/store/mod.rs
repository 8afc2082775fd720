//! Stores: where checkpoints live. One [`Store`] trait, two stores behind
//! it: [`SqliteStore`](crate::SqliteStore) (embedded, the default) and
//! [`PostgresStore`](crate::PostgresStore) (shared between processes).
//!
//! Both keep the same schema (see `docs/durable.md`), versioned and
//! migrated when opened, and both decode every row they read: a corrupt or
//! foreign row is a [`StoreError::Corrupt`], never a panic.

pub(crate) mod postgres;
pub(crate) mod sql;
pub(crate) mod sqlite;

use std::future::Future;
use std::pin::Pin;

use serde::{Deserialize, Serialize};

use crate::audit::{AuditCheck, GENESIS_HASH, verify_run};
use crate::error::StoreError;
use crate::record::{
    ApprovalRecord, AuditEntry, DeadLetter, History, WorkflowRecord, WorkflowStatus, WriteOp,
};

/// The future a store method returns.
pub type StoreFuture<'a, T> = Pin<Box<dyn Future<Output = Result<T, StoreError>> + Send + 'a>>;

/// How many rows a store holds, by table.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoreCounts {
    /// Workflow rows.
    pub workflows: i64,
    /// Step rows.
    pub steps: i64,
    /// Dead letters.
    pub dead_letters: i64,
    /// Audit entries.
    pub audit: i64,
}

/// What waits for a person: dead letters not replayed yet and approval
/// gates not decided yet ([`Store::waiting_counts`]).
///
/// # Examples
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// use hale_durable::{SqliteStore, Store, WaitingCounts};
///
/// let dir = tempfile::tempdir()?;
/// let store = SqliteStore::open(dir.path().join("store.db")).await?;
/// assert_eq!(store.waiting_counts().await?, WaitingCounts::default());
/// # Ok(())
/// # }
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct WaitingCounts {
    /// Dead letters not replayed yet.
    pub dead_letters: i64,
    /// Approval gates waiting for a decision.
    pub approvals: i64,
}

/// A place to keep workflows, their checkpoints, dead letters and the audit
/// log.
///
/// # Examples
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// use hale_durable::{AuditDraft, Budget, SqliteStore, Store, StoreError, WorkflowRecord, WorkflowStatus, WriteOp};
///
/// let dir = tempfile::tempdir()?;
/// let store = SqliteStore::open(dir.path().join("store.db")).await?;
/// let record = WorkflowRecord {
///     id: "w1".into(), name: "demo".into(), status: WorkflowStatus::Running, input: "1".into(),
///     output: None, error: None, definition: vec!["a".into()], budget: Budget::unlimited(),
///     run: 1, created_ms: 0, updated_ms: 0, finished_ms: None,
/// };
/// let audit = WriteOp::Audit(AuditDraft { at_ms: 0, workflow_id: "w1".into(), action: "made".into(), detail: "{}".into() });
/// store.apply(vec![WriteOp::InsertWorkflow(record.clone()), audit]).await?;
/// // All or nothing: the id exists, so this list applies nothing.
/// let again = store.apply(vec![WriteOp::InsertWorkflow(record)]).await;
/// assert!(matches!(again, Err(StoreError::Conflict(_))));
/// assert_eq!(store.history("w1").await?.map(|h| h.workflow.status), Some(WorkflowStatus::Running));
/// assert!(store.verify_audit().await?.is_intact());
/// # Ok(())
/// # }
/// ```
///
/// Every method's future is cancel safe in this sense: dropping it never
/// leaves half a write behind. A dropped [`apply`](Store::apply) may or may
/// not have committed (like a lost reply from any database); the engine
/// reads the state back before it relies on it.
pub trait Store: Send + Sync + 'static {
    /// Applies `ops` atomically (all or none) and returns how many rows they
    /// changed. Concurrent calls may be committed together in one
    /// transaction (group commit); each call stays all-or-none.
    ///
    /// # Errors
    /// [`StoreError::Conflict`] when a conditional write finds another state
    /// (nothing of `ops` applied); [`StoreError::Backend`] when the database
    /// fails.
    fn apply(&self, ops: Vec<WriteOp>) -> StoreFuture<'_, u64>;

    /// One workflow's row.
    ///
    /// # Errors
    /// As every read: backend failures, corrupt rows.
    fn workflow<'a>(&'a self, id: &'a str) -> StoreFuture<'a, Option<WorkflowRecord>>;

    /// One workflow with its steps, compensations and gates.
    ///
    /// # Errors
    /// As every read.
    fn history<'a>(&'a self, id: &'a str) -> StoreFuture<'a, Option<History>>;

    /// Up to `limit` workflows in `status`, oldest first.
    ///
    /// # Errors
    /// As every read.
    fn workflows(&self, status: WorkflowStatus, limit: usize) -> StoreFuture<'_, Vec<WorkflowRecord>>;

    /// Up to `limit` approval gates waiting for a decision, oldest first.
    ///
    /// # Errors
    /// As every read.
    fn waiting_approvals(&self, limit: usize) -> StoreFuture<'_, Vec<ApprovalRecord>>;

    /// Up to `limit` dead letters (the replayed ones too when asked), oldest
    /// first.
    ///
    /// # Errors
    /// As every read.
    fn dead_letters(&self, include_replayed: bool, limit: usize) -> StoreFuture<'_, Vec<DeadLetter>>;

    /// One dead letter.
    ///
    /// # Errors
    /// As every read.
    fn dead_letter(&self, id: i64) -> StoreFuture<'_, Option<DeadLetter>>;

    /// Up to `limit` audit entries after `after_seq`, in order.
    ///
    /// # Errors
    /// As every read.
    fn audit(&self, after_seq: i64, limit: usize) -> StoreFuture<'_, Vec<AuditEntry>>;

    /// How many rows each table holds.
    ///
    /// # Errors
    /// As every read.
    fn counts(&self) -> StoreFuture<'_, StoreCounts>;

    /// How many dead letters wait for a replay and how many approval gates
    /// for a decision, counted in the database (nothing is listed): what
    /// an operator's metrics read at each scrape.
    ///
    /// # Errors
    /// As every read.
    fn waiting_counts(&self) -> StoreFuture<'_, WaitingCounts>;

    /// Checks the whole audit chain, a page at a time.
    ///
    /// # Errors
    /// As every read (a broken chain is not an error: see
    /// [`AuditCheck::broken`]).
    fn verify_audit(&self) -> StoreFuture<'_, AuditCheck> {
        Box::pin(async move {
            let mut prev = (0, GENESIS_HASH.to_owned());
            let mut entries = 0u64;
            loop {
                let page = self.audit(prev.0, 1_000).await?;
                if page.is_empty() {
                    return Ok(AuditCheck {
                        entries,
                        broken: None,
                    });
                }
                match verify_run(&page, prev.0, prev.1.clone()) {
                    Ok(next) => {
                        entries += page.len() as u64;
                        prev = next;
                    }
                    Err(broken) => {
                        return Ok(AuditCheck {
                            entries,
                            broken: Some(broken),
                        });
                    }
                }
            }
        })
    }
}
