//! Why a run of a program could not start: [`ProcessStartError`].

use std::io;
use std::path::PathBuf;
use std::time::Duration;

use crate::path::ChildPath;
use crate::process::ProcessExit;

/// A process child failed to start. The supervisor treats it as any start
/// failure (OTP's rules: at boot the tree's start fails naming the child; on
/// a restart the child is marked restarting and retried). Its text, which
/// names the child and the cause, is the [`StartError`](crate::StartError)'s.
///
/// # Examples
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// use hale_core::{ChildSpec, Supervisor, SupervisorSpec, SupervisorStartError};
/// use hale_core::process::ProcessCommand;
///
/// let missing = ChildSpec::process("agent", ProcessCommand::new("/no/such/program"))?;
/// match Supervisor::start(SupervisorSpec::new("root").child(missing)).await {
///     Err(SupervisorStartError::ChildFailedToStart { child, cause, .. }) => {
///         assert_eq!(child, "agent");
///         assert!(cause.message().contains("not found"), "{cause}");
///     }
///     other => panic!("expected a start failure, got {other:?}"),
/// }
/// # Ok(())
/// # }
/// ```
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ProcessStartError {
    /// The program does not exist (or, with limits, is not on the `PATH`).
    #[error("process child `{child}`: program `{program}` not found")]
    ProgramNotFound {
        /// The child's path.
        child: ChildPath,
        /// The program as given.
        program: String,
    },
    /// The program exists but may not be executed.
    #[error("process child `{child}`: program `{program}` is not executable")]
    NotExecutable {
        /// The child's path.
        child: ChildPath,
        /// The program as given.
        program: String,
    },
    /// The working directory does not exist or is not a directory.
    #[error("process child `{child}`: working directory `{}` does not exist", dir.display())]
    NoWorkingDir {
        /// The child's path.
        child: ChildPath,
        /// The directory.
        dir: PathBuf,
    },
    /// Spawning failed for another reason.
    #[error("process child `{child}`: spawning `{program}` failed: {source}")]
    Spawn {
        /// The child's path.
        child: ChildPath,
        /// The program as given.
        program: String,
        /// The operating system's error.
        source: io::Error,
    },
    /// The notify socket could not be made (temp dir not writable, path too
    /// long for a unix socket, ...).
    #[error("process child `{child}`: the notify socket could not be made: {source}")]
    NotifySocket {
        /// The child's path.
        child: ChildPath,
        /// The cause.
        source: io::Error,
    },
    /// The runtime cannot supervise processes: no tokio runtime with its IO
    /// and signal drivers (`enable_all`) runs this start.
    #[error("process child `{child}`: the tokio runtime cannot watch processes: {source}")]
    Runtime {
        /// The child's path.
        child: ChildPath,
        /// tokio's error.
        source: io::Error,
    },
    /// A resource limit is above this process's own hard limit, so it
    /// cannot be set for the program.
    #[error("process child `{child}`: the {what} limit {asked} is above this process's hard limit {hard}")]
    LimitAboveHard {
        /// The child's path.
        child: ChildPath,
        /// Which limit.
        what: &'static str,
        /// The limit asked for.
        asked: u64,
        /// This process's hard limit.
        hard: u64,
    },
    /// The program exited before it sent `READY=1`.
    #[error("process child `{child}`: {exit} before it was ready{}", quote(output))]
    ExitedBeforeReady {
        /// The child's path.
        child: ChildPath,
        /// How it ended.
        exit: ProcessExit,
        /// Its last output lines (at most 8).
        output: Vec<String>,
    },
    /// The program did not send `READY=1` in time; it was killed.
    #[error("process child `{child}`: not ready within {waited:?}{}", quote(output))]
    NotReady {
        /// The child's path.
        child: ChildPath,
        /// How long it was given.
        waited: Duration,
        /// Its last output lines (at most 8).
        output: Vec<String>,
    },
}

fn quote(output: &[String]) -> String {
    if output.is_empty() {
        String::new()
    } else {
        format!("; last output: {}", output.join(" | "))
    }
}
