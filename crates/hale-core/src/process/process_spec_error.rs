//! A process child that cannot be specified as written: [`ProcessSpecError`].

use std::time::Duration;

/// A value in a [`ProcessCommand`](crate::process::ProcessCommand) that
/// cannot work, found by [`ChildSpec::process`](crate::ChildSpec::process)
/// before anything starts. Each variant names the child.
///
/// # Examples
///
/// ```
/// use hale_core::ChildSpec;
/// use hale_core::process::{ProcessCommand, ProcessSpecError};
///
/// let error = ChildSpec::process("agent", ProcessCommand::new("")).unwrap_err();
/// assert!(matches!(error, ProcessSpecError::EmptyProgram { .. }));
/// assert_eq!(error.to_string(), "process child `agent`: the program is empty");
/// ```
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ProcessSpecError {
    /// The program name is empty.
    #[error("process child `{child}`: the program is empty")]
    EmptyProgram {
        /// The child's id.
        child: String,
    },
    /// A program, argument, variable or directory holds a NUL byte, which
    /// no program can receive.
    #[error("process child `{child}`: the {what} contains a NUL byte")]
    ContainsNul {
        /// The child's id.
        child: String,
        /// Which value: "program", "argument 2", ...
        what: String,
    },
    /// An environment variable name is empty or contains `=`.
    #[error("process child `{child}`: `{name}` is not a valid environment variable name")]
    InvalidEnvName {
        /// The child's id.
        child: String,
        /// The name, lossily decoded.
        name: String,
    },
    /// The command sets a variable Hale owns for the notify protocol
    /// (`NOTIFY_SOCKET`, `WATCHDOG_USEC`, `WATCHDOG_PID`).
    #[error("process child `{child}`: `{name}` is set by Hale for the notify protocol")]
    ReservedEnv {
        /// The child's id.
        child: String,
        /// The variable.
        name: String,
    },
    /// A duration that must be positive is zero.
    #[error("process child `{child}`: the {what} is zero")]
    ZeroDuration {
        /// The child's id.
        child: String,
        /// Which duration.
        what: &'static str,
    },
    /// A duration is longer than Hale accepts.
    #[error("process child `{child}`: the {what} is longer than {max:?}")]
    DurationTooLong {
        /// The child's id.
        child: String,
        /// Which duration.
        what: &'static str,
        /// The most accepted.
        max: Duration,
    },
    /// A resource limit is zero, or beyond what the platform represents.
    #[error("process child `{child}`: the {what} limit must be between 1 and {max}")]
    LimitOutOfRange {
        /// The child's id.
        child: String,
        /// Which limit.
        what: &'static str,
        /// The largest accepted value, in the limit's unit.
        max: u64,
    },
    /// More kept output lines than [`MAX_KEPT_LINES`](crate::process::MAX_KEPT_LINES).
    #[error("process child `{child}`: keeping {lines} output lines is more than the {max} allowed")]
    TooManyKeptLines {
        /// The child's id.
        child: String,
        /// The lines asked for.
        lines: usize,
        /// The most allowed.
        max: usize,
    },
    /// A probe runs no more often than the watchdog's timeout, so every
    /// deadline could pass between two probes.
    #[error(
        "process child `{child}`: the probe runs every {every:?}, \
         which is not more often than the watchdog timeout of {timeout:?}"
    )]
    ProbeTooRare {
        /// The child's id.
        child: String,
        /// How often the probe runs.
        every: Duration,
        /// The watchdog timeout.
        timeout: Duration,
    },
    /// A probe command carries options only a supervised program can have
    /// (notify, readiness, a watch, limits or kept output).
    #[error(
        "process child `{child}`: the probe command may only set program, arguments, environment and directory"
    )]
    ProbeOptions {
        /// The child's id.
        child: String,
    },
}
