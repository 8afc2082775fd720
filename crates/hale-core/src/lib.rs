//! Hale's supervision runtime: Erlang/OTP supervisors for `ractor` actors.
//!
//! - [`spec`]: child specs and supervisor specs, written in code and
//!   validated before anything starts.
//! - [`Supervisor`] starts a tree; [`SupervisorRef`] is the administration
//!   API of a running supervisor (start, terminate, restart, delete, which,
//!   count, get spec, stop, wait).
//! - [`DynamicSupervisor`] starts children at run time, with `max_children`
//!   and unique children keyed on a logical task.
//! - [`ChildRef`] follows a child across restarts.
//! - [`events`]: every start, exit, restart, stop, give-up and shutdown as a
//!   serializable [`HealingEvent`].
//! - [`process`]: children that are OS processes
//!   ([`ChildSpec::process`]), with the systemd notify protocol (Linux).
//!
//! The semantics are OTP's `supervisor`, documented in `docs/supervision.md`;
//! where Hale differs (monotonic sub-second restart window, a bound on
//! waiting for a killed child) it says so.

mod backoff;
mod child_ref;
pub mod dynamic;
mod error;
pub mod events;
mod exit;
mod handle;
pub mod health;
mod intensity;
mod path;
#[cfg(target_os = "linux")]
pub mod process;
mod serde_ms;
mod shutdown;
pub mod spec;
mod supervisor;
mod task;
pub mod watchdog;

pub use backoff::RestartBackoff;
pub use child_ref::{ChildRef, ChildRefError};
pub use dynamic::{
    ChildTemplate, DynamicChild, DynamicChildId, DynamicChildInfo, DynamicStart, DynamicSupervisor,
    DynamicSupervisorRef, DynamicSupervisorSpec, TemplateSupervisor,
};
pub use error::{CallError, ChildError, SupervisorStartError};
pub use events::{EventBus, EventStream, HealingEvent, HealingEventKind, StopCause, StopOutcome};
pub use exit::ExitReason;
pub use health::{NodeHealth, NodeState};
pub use path::ChildPath;
pub use shutdown::{KILL_CONFIRM_TIMEOUT, Shutdown};
pub use spec::{
    AutoShutdown, ChildKind, ChildSpec, Restart, SpecError, StartContext, StartError, StartFuture,
    StartOutcome, Strategy, SupervisorFlags, SupervisorSpec, TaskContext, TaskError,
};
pub use supervisor::{ChildCounts, ChildInfo, ChildStatus, StartedChild, Supervisor, SupervisorRef};
pub use watchdog::{BeatMode, Heartbeat, Probe, Watch, WatchdogCounts, WatchdogStats};
