//! Durable agent workflows for Hale: a pipeline killed at step 7 of 9
//! resumes at step 7, never repeats a paid call, and never charges a card
//! twice.
//!
//! A [`Workflow`] is plain Rust code calling named steps through a
//! [`WorkflowContext`]. Each step's result is checkpointed in a [`Store`]
//! before the next step starts; a run is identified by an id its caller
//! chooses. The module map:
//!
//! | piece | where | what |
//! |---|---|---|
//! | [`Workflow`] | `workflow` | what a user writes: `NAME`, `STEPS`, `run` |
//! | [`WorkflowContext`], [`StepBuilder`], [`Gate`] | `context` | steps, side effects with idempotency keys ([`StepInfo::key`]), compensations, approval gates, the [`Budget`] guard |
//! | [`Durable`], [`DurableBuilder`] | `engine` | start/join by id ([`IdReuse`]), [`Durable::resume_all`], decisions, dead letters and replays, pruning |
//! | [`WorkflowHandle`], [`Outcome`] | `handle` | waiting for a run's end |
//! | [`Store`], [`SqliteStore`], [`PostgresStore`] | `store` | the schema, migrations, group commit |
//! | [`AuditEntry`], [`AuditCheck`] | `audit` | the append-only, hash-chained audit log and its tamper check |
//! | [`DurableEvents`], [`DurableEvent`] | `events` | a bounded stream of what the engine did |
//! | records | `record` | [`WorkflowRecord`], [`StepRecord`], [`DeadLetter`], [`ApprovalRecord`], [`WriteOp`] |
//!
//! Every run is a task child of a hale-core dynamic supervisor; a crash of
//! its agent is restarted, and the restart resumes from the last
//! checkpoint. `docs/durable.md` states the guarantees and their limits.
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! use hale_durable::{Durable, SqliteStore, StepError, Workflow, WorkflowContext, WorkflowError};
//!
//! struct Order;
//! impl Workflow for Order {
//!     type Input = u64;
//!     type Output = String;
//!     const NAME: &'static str = "order";
//!     const STEPS: &'static [&'static str] = &["reserve", "charge"];
//!     async fn run(&self, ctx: &mut WorkflowContext, cents: u64) -> Result<String, WorkflowError> {
//!         let slot: u32 = ctx.step("reserve").run((), |_, _| async { Ok::<_, StepError>(7) }).await?;
//!         ctx.step("charge")
//!             .effect() // intent before, result after, under an idempotency key
//!             .compensate_with("refund", |_receipt: String, _info| async { Ok(()) })
//!             .run(cents, |cents, info| async move { Ok(format!("charged {cents} under {}", info.key)) })
//!             .await
//!             .map(|receipt| format!("{receipt}, slot {slot}"))
//!     }
//! }
//!
//! let dir = tempfile::tempdir()?;
//! let durable = Durable::builder(SqliteStore::open(dir.path().join("orders.db")).await?)
//!     .register(Order)
//!     .build()
//!     .await?;
//! let receipt = durable.start::<Order>("order-42", 1_999).await?.result().await?;
//! assert_eq!(receipt, "charged 1999 under order-42/1/charge, slot 7");
//! assert!(durable.verify_audit().await?.is_intact());
//! # Ok(())
//! # }
//! ```

pub mod audit;
mod budget;
mod context;
mod engine;
mod error;
mod events;
mod handle;
mod record;
mod runner;
mod store;
mod supervision;
mod workflow;

pub use audit::AuditCheck;
pub use budget::Budget;
pub use context::{Decision, Gate, StepBuilder, StepInfo, WorkflowContext};
pub use engine::{Durable, DurableBuilder, IdReuse, StartOptions};
pub use error::{DefinitionChange, DurableError, StepError, StoreError, WorkflowError};
pub use events::{DurableEvent, DurableEventKind, DurableEvents, EventsError};
pub use handle::{Outcome, ResumeReport, RunError, WorkflowHandle};
pub use record::{
    ApprovalRecord, ApprovalStatus, AuditDraft, AuditEntry, CompensationRecord, DeadLetter, History,
    StepKind, StepRecord, StepStatus, WorkflowRecord, WorkflowStatus, WriteOp,
};
pub use store::postgres::PostgresStore;
pub use store::sqlite::{SqliteOptions, SqliteStore, Synchronous};
pub use store::{Store, StoreCounts, StoreFuture, WaitingCounts};
pub use workflow::Workflow;
