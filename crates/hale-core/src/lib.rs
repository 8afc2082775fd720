//! Hale's supervision runtime: Erlang/OTP supervisors for `ractor` actors.
//!
//! # The map
//!
//! What a user writes:
//! - [`spec`]: [`ChildSpec`], [`SupervisorSpec`], [`DynamicSupervisorSpec`],
//!   validated before anything starts ([`SpecError`]).
//! - [`Watch`], [`Probe`] and [`RestartBackoff`] on a child spec: the
//!   watchdog's deadline, a functional probe, a delay before restarts.
//!
//! What runs:
//! - [`Supervisor::start`] and [`DynamicSupervisor::start`] spawn one
//!   supervisor actor each. Both are the same state machine (`supervisor/`:
//!   `SupervisorState`, with a dynamic supervisor a guard in it, as
//!   `simple_one_for_one` is in OTP's `supervisor.erl`), over a table of
//!   children (`child/`: one `Child` record per child, with its incarnation,
//!   restart history, heartbeat and backoff).
//! - The [`watchdog`] (one per tree) reads heartbeats, kills hung children
//!   and reports children stuck in blocking code.
//!
//! How a program talks to it:
//! - [`SupervisorRef`] and [`DynamicSupervisorRef`]: the administration API
//!   (start, terminate, restart, delete, which, count, spec, health, stop).
//! - [`ChildRef`]: a reference that follows one child across restarts.
//! - [`job`]: agents that answer: a dynamic child run on an input, keyed on
//!   its task, whose callers (and callers that join it) get its result.
//! - [`events`]: every start, exit, restart, stop, give-up and shutdown as a
//!   [`HealingEvent`] on the tree's bounded [`EventBus`].
//! - [`health`]: the tree as data ([`NodeHealth`], [`ChildState`],
//!   [`IntensityWindow`]).
//!
//! Kinds of child: any ractor actor ([`ChildSpec::actor`]), a plain async
//! function ([`ChildSpec::task`]), a nested supervisor
//! ([`ChildSpec::supervisor`], [`ChildSpec::dynamic_supervisor`]), and on
//! Linux an OS process ([`process`], [`ChildSpec::process`]) with the
//! systemd notify protocol.
//!
//! The semantics are OTP's `supervisor`, documented in `docs/supervision.md`;
//! where Hale differs (monotonic sub-second restart window, a bound on
//! waiting for a killed child) it says so.
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! use std::time::Duration;
//! use hale_core::{ChildSpec, Strategy, Supervisor, SupervisorSpec};
//!
//! let root = Supervisor::start(
//!     SupervisorSpec::new("root")
//!         .strategy(Strategy::OneForOne)
//!         .child(ChildSpec::task("poller", |_ctx| async {
//!             std::future::pending::<()>().await;
//!             Ok(())
//!         })),
//! )
//! .await?;
//! assert_eq!(root.count_children().await?.active, 1);
//! root.stop(Duration::from_secs(5)).await;
//! # Ok(())
//! # }
//! ```

mod backoff;
mod child;
mod child_ref;
#[cfg(feature = "cluster")]
mod cluster;
pub mod dynamic;
mod error;
pub mod events;
mod exit;
pub mod health;
pub mod in_place;
mod intensity;
pub mod job;
#[cfg(hale_loom)]
#[doc(hidden)]
pub mod loom_models;
mod path;
#[cfg(target_os = "linux")]
pub mod process;
mod serde_ms;
mod shutdown;
pub mod spec;
mod supervisor;
mod sync;
mod task;
pub mod watchdog;

pub use backoff::RestartBackoff;
pub use child::{ChildCounts, ChildInfo, ChildState, Linger, StartedChild};
pub use child_ref::{ChildRef, ChildRefError};
pub use dynamic::{
    ChildTemplate, DynamicChild, DynamicChildId, DynamicStart, DynamicSupervisor, DynamicSupervisorRef,
    TemplateSupervisor,
};
pub use error::{CallError, ChildError, SupervisorStartError};
pub use events::{EventBus, EventStream, HealingEvent, HealingEventKind, StopCause, StopOutcome};
pub use exit::ExitReason;
pub use hale_util::{RecvError, TryRecvError};
pub use health::{Concern, IntensityWindow, NodeHealth, RESTART_HISTORY};
pub use in_place::{DeadLetterSink, FailedMessage};
pub use job::{DeadLetter, JobError, JobHandle, JobTemplate};
pub use path::ChildPath;
pub use shutdown::{KILL_CONFIRM_TIMEOUT, Shutdown};
pub use spec::{
    AutoShutdown, ChildKind, ChildSpec, DynamicSupervisorSpec, Restart, SpecError, StartContext, StartError,
    StartFuture, StartOutcome, Strategy, SupervisorFlags, SupervisorSpec, TaskContext, TaskError,
};
pub use supervisor::{FOLLOW_WAIT, Supervisor, SupervisorRef};
pub use watchdog::{BeatMode, Heartbeat, Probe, STALL_BOUND, Watch, WatchdogCounts, WatchdogStats};
