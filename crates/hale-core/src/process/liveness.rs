//! What shows that a supervised program is alive: [`Liveness`] and
//! [`ProbeCommand`].

use std::time::Duration;

use crate::process::ProcessCommand;

/// What counts as a heartbeat from a watched program (see
/// [`ProcessCommand::watch`]). When no heartbeat comes within the watch's
/// timeout, the program is hung: the watchdog's usual stop (SIGTERM to its
/// process group), grace, kill (SIGKILL) applies, and its supervisor
/// restarts it by its rules.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use hale_core::Watch;
/// use hale_core::process::{Liveness, ProbeCommand, ProcessCommand};
///
/// // A program that speaks systemd's watchdog protocol.
/// let notifying = ProcessCommand::new("python3")
///     .arg("agent.py")
///     .watch(Watch::heartbeat(Duration::from_secs(10)), Liveness::Notify);
///
/// // A program that knows nothing of Hale, checked over HTTP by curl.
/// let probe = ProbeCommand::new(
///     ProcessCommand::new("curl").args(["-fsS", "http://127.0.0.1:8080/health"]),
///     Duration::from_secs(5),
/// );
/// let probed = ProcessCommand::new("./server")
///     .watch(Watch::heartbeat(Duration::from_secs(20)), Liveness::Probe(probe));
/// # let _ = (notifying, probed);
/// ```
#[derive(Clone, Debug)]
#[non_exhaustive]
pub enum Liveness {
    /// `WATCHDOG=1` datagrams on the notify socket, as under systemd's
    /// `WatchdogSec=`. The program finds the timeout in `WATCHDOG_USEC`
    /// (microseconds) and, like a systemd service, should ping at about half
    /// of it.
    Notify,
    /// Any line the program writes to stdout or stderr.
    Output,
    /// A separate command, run on a schedule: each run that exits with code
    /// 0 within its timeout is a heartbeat.
    Probe(ProbeCommand),
}

/// A liveness probe: a command run every `every`, whose success (exit code
/// 0 within `timeout`) counts as a heartbeat of the program it checks.
///
/// Each run starts in a process group of its own, with stdin, stdout and
/// stderr on `/dev/null`; a run that overstays its timeout is killed with
/// its group, and every run is reaped. Only the probe command's program,
/// arguments, environment and working directory are used.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use hale_core::process::{ProbeCommand, ProcessCommand};
///
/// let probe = ProbeCommand::new(ProcessCommand::new("test").args(["-e", "/tmp/alive"]), Duration::from_secs(2))
///     .timeout(Duration::from_secs(1));
/// # let _ = probe;
/// ```
#[derive(Clone, Debug)]
pub struct ProbeCommand {
    pub(crate) command: Box<ProcessCommand>,
    pub(crate) every: Duration,
    pub(crate) timeout: Duration,
}

impl ProbeCommand {
    /// Runs `command` every `every`; a run may take up to `every` unless
    /// [`timeout`](Self::timeout) says otherwise.
    pub fn new(command: ProcessCommand, every: Duration) -> Self {
        Self {
            command: Box::new(command),
            every,
            timeout: every,
        }
    }

    /// Sets how long one run may take before it is killed and counts as
    /// failed.
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }
}
