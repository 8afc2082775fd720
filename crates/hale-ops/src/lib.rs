//! The operator's surface of a Hale tree.
//!
//! A service that embeds a supervision tree runs where nobody can attach a
//! debugger. [`Ops`] gives the people on call what they need, as an axum
//! [`Router`](axum::Router) the service mounts into its own app or serves on
//! its own (loopback by default):
//!
//! - `/livez` and `/readyz` in Kubernetes' format ([`health`] maps hale-core's
//!   health levels onto them);
//! - `/metrics` in Prometheus' text format, from a recorder of the router's
//!   own ([`catalog`] lists every metric);
//! - `/tree`, the health snapshot with each child's restart history and each
//!   supervisor's intensity window, and `/events`, the healing events as
//!   server-sent events;
//! - `/`, a live page of the tree, coloured by state, updated from
//!   `/events`;
//! - admin actions behind a bearer token ([`AdminToken`]): restart,
//!   terminate or delete a child, replay a dead letter, decide an approval
//!   gate ([`Workflows`]), each audited with who did it.
//!
//! It observes the tree only through its healing events and its health
//! snapshot, and acts on it only through the root's
//! [`SupervisorRef`](hale_core::SupervisorRef). The `hale` binary (feature
//! `cli`) is its command-line client. `docs/operations.md` is the guide.
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! use std::time::Duration;
//! use hale_core::{ChildSpec, Supervisor, SupervisorSpec};
//! use hale_ops::Ops;
//!
//! let root = Supervisor::start(SupervisorSpec::new("root").child(ChildSpec::task("agent", |_| async {
//!     std::future::pending::<()>().await;
//!     Ok(())
//! })))
//! .await?;
//! let ops = Ops::builder(root.clone()).build()?;
//! let tree = ops.snapshot().await?;
//! assert_eq!(tree.find("root/agent").map(|node| node.restarts), Some(0));
//! let app = axum::Router::new().nest("/ops", ops.router());
//! # drop(app);
//! root.stop(Duration::from_secs(1)).await;
//! # Ok(())
//! # }
//! ```

mod auth;
mod breakers;
#[cfg(feature = "browser")]
pub mod browser;
mod error;
mod feed;
pub mod health;
mod metrics;
mod ops;
mod routes;
mod server;
mod snapshot;
mod source;
mod token;
mod workflows;

pub use breakers::BreakerView;
pub use error::{ApiError, OpsError};
pub use feed::OpsEvent;
pub use metrics::catalog;
pub use metrics::{WorkMetrics, WorkOutcome};
pub use ops::{Ops, OpsBuilder};
pub use server::OpsServer;
pub use snapshot::{IntensityView, State, TreeNode, TreeSnapshot};
pub use source::ChildAction;
pub use token::{AdminToken, MIN_SECRET_LEN};
pub use workflows::{
    AuditEntry, DeadLetter, DeadLetterSummary, Decision, PendingApproval, WorkflowCounts, WorkflowError,
    Workflows,
};
