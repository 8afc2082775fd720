//! Supervision specs: what a supervisor starts and how it treats each child.
//!
//! A tree is data you write in code. A [`SupervisorSpec`] holds the flags
//! (strategy, intensity, period, auto_shutdown) and the children, in start
//! order. A [`ChildSpec`] holds a child's id, a start function that can be
//! called again and again, and its restart, shutdown, kind and significant
//! fields, with OTP's defaults.
//!
//! ```
//! use std::time::Duration;
//! use hale_core::{ChildSpec, Restart, Strategy, SupervisorSpec};
//!
//! let tree = SupervisorSpec::new("root")
//!     .strategy(Strategy::OneForOne)
//!     .intensity(3)
//!     .period(Duration::from_secs(5))
//!     .child(ChildSpec::task("heartbeat", |_ctx| async { Ok(()) }).restart(Restart::Transient))
//!     .child(ChildSpec::supervisor(
//!         SupervisorSpec::new("pipeline")
//!             .strategy(Strategy::RestForOne)
//!             .child(ChildSpec::task("ingest", |_ctx| async { Ok(()) }))
//!             .child(ChildSpec::task("store", |_ctx| async { Ok(()) })),
//!     ));
//! assert!(tree.validate().is_ok());
//! ```
//!
//! Specs are checked before anything starts ([`SupervisorSpec::validate`]),
//! the whole tree at once: a bad spec is a [`SpecError`] that names the
//! offending child, never a half-started tree.

mod child;
mod constructors;
mod dynamic_supervisor;
mod supervisor;
mod validate;

pub(crate) use child::GivenUp;
pub(crate) use child::panic_text;
pub use child::{ChildKind, ChildSpec, Restart, StartContext, StartError, StartFuture, StartOutcome};
pub use constructors::{TaskContext, TaskError};
pub use dynamic_supervisor::DynamicSupervisorSpec;
pub use supervisor::{AutoShutdown, Strategy, SupervisorFlags, SupervisorSpec};
pub use validate::SpecError;
pub(crate) use validate::validate_supervisor;
