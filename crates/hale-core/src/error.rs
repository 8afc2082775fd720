//! The errors of the supervision API.

use ractor::ActorCell;

use crate::path::ChildPath;
use crate::spec::{SpecError, StartError};

/// A supervisor could not be reached: it has exited (or is exiting).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("supervisor `{supervisor}` is not running")]
pub struct CallError {
    /// The supervisor that was called.
    pub supervisor: ChildPath,
}

/// Starting a supervisor failed; nothing of it is left running.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SupervisorStartError {
    /// The spec (or a nested one) is invalid; nothing was started.
    #[error(transparent)]
    InvalidSpec(#[from] SpecError),
    /// A child failed to start; the children started before it were stopped
    /// again, in reverse order.
    #[error("supervisor `{supervisor}`: child `{child}` failed to start: {cause}")]
    ChildFailedToStart {
        /// The supervisor.
        supervisor: ChildPath,
        /// The child that failed.
        child: String,
        /// Its start function's error (also this error's `source()`).
        #[source]
        cause: StartError,
    },
    /// ractor refused to spawn the supervisor actor.
    #[error("supervisor `{supervisor}` could not be spawned: {cause}")]
    Spawn {
        /// The supervisor.
        supervisor: ChildPath,
        /// ractor's error, kept as this error's `source()`.
        #[source]
        cause: StartError,
    },
}

/// The answers of the administration API that are not success, as OTP gives
/// them. Each method of [`SupervisorRef`](crate::SupervisorRef) documents
/// which of these it can return.
#[derive(Clone, Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ChildError {
    /// No child with this id (OTP: `not_found`).
    #[error("supervisor `{supervisor}`: no child `{child}`")]
    NotFound {
        /// The supervisor.
        supervisor: ChildPath,
        /// The id asked for.
        child: String,
    },
    /// The child runs, so it cannot be restarted or deleted (OTP: `running`).
    #[error("supervisor `{supervisor}`: child `{child}` is running")]
    Running {
        /// The supervisor.
        supervisor: ChildPath,
        /// The child.
        child: String,
    },
    /// The supervisor is retrying the child's failed restart (OTP:
    /// `restarting`).
    #[error("supervisor `{supervisor}`: child `{child}` is restarting")]
    Restarting {
        /// The supervisor.
        supervisor: ChildPath,
        /// The child.
        child: String,
    },
    /// `start_child` with an id whose child runs (OTP: `already_started`).
    #[error("supervisor `{supervisor}`: child `{child}` is already started")]
    AlreadyStarted {
        /// The supervisor.
        supervisor: ChildPath,
        /// The child.
        child: String,
        /// The running child.
        actor: ActorCell,
    },
    /// `start_child` with an id whose spec is kept but not running (OTP:
    /// `already_present`): use `restart_child` or `delete_child`.
    #[error("supervisor `{supervisor}`: child `{child}` is already present")]
    AlreadyPresent {
        /// The supervisor.
        supervisor: ChildPath,
        /// The child.
        child: String,
    },
    /// A dynamic supervisor already has `max_children` children.
    #[error("dynamic supervisor `{supervisor}` already has its maximum of {max} children")]
    MaxChildren {
        /// The dynamic supervisor.
        supervisor: ChildPath,
        /// Its `max_children`.
        max: usize,
    },
    /// The spec given to `start_child` is invalid.
    #[error(transparent)]
    InvalidSpec(#[from] SpecError),
    /// The child's start function failed.
    #[error("supervisor `{supervisor}`: child `{child}` failed to start: {cause}")]
    StartFailed {
        /// The supervisor.
        supervisor: ChildPath,
        /// The child.
        child: String,
        /// The start function's error (also this error's `source()`).
        #[source]
        cause: StartError,
    },
    /// The child is stopped: its spec is kept but nothing runs, and its
    /// supervisor will not restart it by itself.
    #[error("supervisor `{supervisor}`: child `{child}` is not running")]
    NotRunning {
        /// The supervisor.
        supervisor: ChildPath,
        /// The child.
        child: String,
    },
    /// The child's actor does not take the message type asked for.
    #[error("supervisor `{supervisor}`: child `{child}` does not take that message type")]
    WrongMessageType {
        /// The supervisor.
        supervisor: ChildPath,
        /// The child.
        child: String,
    },
    /// The supervisor itself could not be reached.
    #[error(transparent)]
    Supervisor(#[from] CallError),
}
