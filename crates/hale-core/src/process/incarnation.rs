//! One run of a supervised program, from spawn to reap.

use std::sync::Arc;
use std::time::Duration;

use rustix::process::Signal;
use tokio::process::Child;
use tokio::signal::unix::{Signal as SignalStream, SignalKind, signal};
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::path::ChildPath;
use crate::process::abort_on_drop::AbortOnDrop;
use crate::process::group::{KillOnDrop, ProcessGroup};
use crate::process::notify_listener::{NotifyTarget, listen};
use crate::process::notify_socket::NotifySocket;
use crate::process::output_reader::{OutputTarget, forward};
use crate::process::probe_runner::run_probes;
use crate::process::recent_lines::RecentLines;
use crate::process::{
    Liveness, OutputStream, ProcessCommand, ProcessExit, ProcessStartError, ProcessView, ResourceLimits,
};
use crate::watchdog::Heartbeat;

/// How long the exit of a run waits for the last of its output once its
/// process group is dead. Only a descendant that left the group (and holds
/// the pipe) can make it wait that long.
const OUTPUT_DRAIN: Duration = Duration::from_secs(1);

/// One running program, in its own process group.
///
/// A detached task waits for the program to exit, kills what is left of
/// its group, reaps it, and publishes how it ended. Dropping the
/// incarnation kills the whole group with SIGKILL at once (if its leader is
/// not reaped yet), stops the notify listener and probes, and removes the
/// notify socket; the detached task still reaps the program. So no run
/// outlives its owner, however the owner ends.
pub(crate) struct Incarnation {
    group: Arc<ProcessGroup>,
    _kill: KillOnDrop,
    exit: watch::Receiver<Option<ProcessExit>>,
    ready: watch::Receiver<bool>,
    recent: RecentLines,
    path: ChildPath,
    _helpers: Vec<AbortOnDrop>,
}

impl Incarnation {
    /// Starts one run of `command` for the child at `path`, which beats
    /// `heartbeat` when its liveness says so.
    ///
    /// # Errors
    ///
    /// The program cannot be started; see [`ProcessStartError`].
    ///
    /// # Cancel safety
    ///
    /// Once the program is spawned nothing awaits any more; dropping the
    /// future before that starts nothing.
    pub(crate) async fn spawn(
        command: &ProcessCommand,
        path: &ChildPath,
        heartbeat: Heartbeat,
    ) -> Result<Self, ProcessStartError> {
        // Registered before the spawn, so the exit cannot come first.
        let sigchld = signal(SignalKind::child()).map_err(|source| ProcessStartError::Runtime {
            child: path.clone(),
            source,
        })?;
        let notify = if command.uses_notify() {
            let socket = NotifySocket::bind().map_err(|source| ProcessStartError::NotifySocket {
                child: path.clone(),
                source,
            })?;
            Some(socket)
        } else {
            None
        };
        let watchdog_usec = match &command.watch {
            Some((watch, Liveness::Notify)) => {
                Some(u64::try_from(watch.timeout().as_micros()).unwrap_or(u64::MAX))
            }
            _ => None,
        };
        let notify_env = notify.as_ref().map(|socket| (socket.path(), watchdog_usec));
        let mut child = command
            .build(path, notify_env, true)?
            .spawn()
            .map_err(|error| command.spawn_error(path, error))?;
        let Some(group) = ProcessGroup::of(&child) else {
            // Cannot happen for a child just spawned; `kill_on_drop` ends it.
            return Err(command.spawn_error(path, std::io::Error::other("the new process has no pid")));
        };
        let group = Arc::new(group);
        let kill = KillOnDrop(Arc::clone(&group));
        let pid = group.pid();
        command.view.record_start(pid);
        tracing::info!(target: "hale::process", path = %path, pid, program = %command.program_text(), "process started");

        let recent = RecentLines::default();
        let beats_on_output = matches!(command.watch, Some((_, Liveness::Output)));
        let output_target = |stream| OutputTarget {
            path: path.clone(),
            pid,
            stream,
            view: command.view.clone(),
            recent: recent.clone(),
            heartbeat: beats_on_output.then(|| heartbeat.clone()),
        };
        let mut readers = Vec::with_capacity(2);
        if let Some(stdout) = child.stdout.take() {
            readers.push(tokio::spawn(forward(stdout, output_target(OutputStream::Stdout))));
        }
        if let Some(stderr) = child.stderr.take() {
            readers.push(tokio::spawn(forward(stderr, output_target(OutputStream::Stderr))));
        }

        let (exit_sender, exit) = watch::channel(None);
        let report = ExitReport {
            path: path.clone(),
            pid,
            view: command.view.clone(),
            limits: command.limits,
        };
        tokio::spawn(wait_for_exit(
            child,
            Arc::clone(&group),
            sigchld,
            readers,
            exit_sender,
            report,
        ));

        let (ready_sender, ready) = watch::channel(false);
        let mut helpers = Vec::new();
        if let Some(socket) = notify {
            heartbeat.set_ready(false);
            let target = NotifyTarget {
                path: path.clone(),
                pid,
                heartbeat: heartbeat.clone(),
                beats: watchdog_usec.is_some(),
                view: command.view.clone(),
                ready: ready_sender,
            };
            helpers.push(AbortOnDrop(tokio::spawn(listen(socket, target))));
        }
        if let Some((_, Liveness::Probe(probe))) = &command.watch {
            let probes = run_probes(probe.clone(), path.clone(), heartbeat);
            helpers.push(AbortOnDrop(tokio::spawn(probes)));
        }
        Ok(Self {
            group,
            _kill: kill,
            exit,
            ready,
            recent,
            path: path.clone(),
            _helpers: helpers,
        })
    }

    /// The program's pid.
    pub(crate) fn pid(&self) -> u32 {
        self.group.pid()
    }

    /// Waits up to `timeout` for the program's `READY=1`.
    ///
    /// # Errors
    ///
    /// The program exited first, or was not ready in time (the caller then
    /// drops the incarnation, which kills it).
    ///
    /// # Cancel safety
    ///
    /// Cancel safe: nothing is consumed.
    pub(crate) async fn until_ready(&self, timeout: Duration) -> Result<(), ProcessStartError> {
        let (mut ready, mut exit) = (self.ready.clone(), self.exit.clone());
        let outcome = tokio::time::timeout(timeout, async {
            tokio::select! {
                biased;
                Ok(_) = ready.wait_for(|ready| *ready) => None,
                Ok(exit) = exit.wait_for(Option::is_some) => *exit,
                else => Some(ProcessExit::Unknown),
            }
        })
        .await;
        match outcome {
            Ok(None) => Ok(()),
            Ok(Some(exit)) => Err(ProcessStartError::ExitedBeforeReady {
                child: self.path.clone(),
                exit,
                output: self.recent.lines(),
            }),
            Err(_) => Err(ProcessStartError::NotReady {
                child: self.path.clone(),
                waited: timeout,
                output: self.recent.lines(),
            }),
        }
    }

    /// How the run ended, once it has (and has been reaped).
    pub(crate) fn exit(&self) -> watch::Receiver<Option<ProcessExit>> {
        self.exit.clone()
    }

    /// Asks the whole process group to stop (SIGTERM). Does nothing once the
    /// program has exited.
    pub(crate) fn terminate(&self) {
        if self.group.signal(Signal::TERM) {
            tracing::debug!(target: "hale::process", path = %self.path, pid = self.pid(), "SIGTERM sent to the process group");
        }
    }
}

/// What the exit of a run is reported with.
struct ExitReport {
    path: ChildPath,
    pid: u32,
    view: ProcessView,
    limits: ResourceLimits,
}

/// Waits for the program to exit, kills and reaps, drains its output
/// (bounded), then publishes the exit.
async fn wait_for_exit(
    mut child: Child,
    group: Arc<ProcessGroup>,
    mut sigchld: SignalStream,
    readers: Vec<JoinHandle<()>>,
    exit_sender: watch::Sender<Option<ProcessExit>>,
    report: ExitReport,
) {
    let exit = match group.reap(&mut child, &mut sigchld).await {
        Ok(status) => ProcessExit::from_status(status),
        Err(_) => ProcessExit::Unknown,
    };
    let aborts: Vec<_> = readers.iter().map(JoinHandle::abort_handle).collect();
    if tokio::time::timeout(OUTPUT_DRAIN, futures::future::join_all(readers))
        .await
        .is_err()
    {
        for abort in aborts {
            abort.abort();
        }
    }
    report.log(exit);
    report.view.record_exit(report.pid, exit);
    exit_sender.send_replace(Some(exit));
}

impl ExitReport {
    fn log(&self, exit: ProcessExit) {
        let (path, pid) = (&self.path, self.pid);
        if exit.is_cpu_limit() {
            tracing::warn!(target: "hale::process", path = %path, pid, limits = %self.limits.describe(), "process hit its CPU time limit");
        } else if exit.reason().is_normal() {
            tracing::info!(target: "hale::process", path = %path, pid, %exit, "process exited");
        } else if self.limits.is_empty() {
            tracing::warn!(target: "hale::process", path = %path, pid, %exit, "process exited");
        } else {
            tracing::warn!(target: "hale::process", path = %path, pid, %exit, limits = %self.limits.describe(), "process exited under limits");
        }
    }
}
