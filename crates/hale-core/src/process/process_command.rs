//! What program a process child runs, and how: [`ProcessCommand`].

use std::ffi::{OsStr, OsString};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use crate::path::ChildPath;
use crate::process::program_path::{Unresolved, exec_safe, resolve_program};
use crate::process::{
    Liveness, MAX_KEPT_LINES, ProcessSpecError, ProcessStartError, ProcessView, ResourceLimits,
};
use crate::watchdog::Watch;

/// The longest duration a process child accepts anywhere (ready timeout,
/// watch timeout and grace, probe period and timeout): a year. Longer values
/// are rejected, since they mean "never" and a deadline that far overflows
/// clocks.
pub const MAX_TIMEOUT: Duration = Duration::from_secs(365 * 24 * 3600);

/// The variables Hale sets for the notify protocol, and removes from what a
/// program inherits otherwise (so that a Hale running under systemd does not
/// hand its own `NOTIFY_SOCKET` down to its children).
const NOTIFY_VARIABLES: [&str; 3] = ["NOTIFY_SOCKET", "WATCHDOG_USEC", "WATCHDOG_PID"];

/// One change to the environment a program inherits, in the order given.
#[derive(Clone, Debug)]
enum EnvChange {
    Set(OsString, OsString),
    Remove(OsString),
    Clear,
}

/// A program to run as a supervised child, given explicitly: the program,
/// its arguments one by one, its environment and its working directory. No
/// shell is involved and nothing is interpolated, unless you ask for a
/// shell with [`ProcessCommand::shell`].
///
/// The environment starts as this process's own, like
/// [`std::process::Command`]'s; [`env_clear`](Self::env_clear) starts from
/// nothing instead. `NOTIFY_SOCKET`, `WATCHDOG_USEC` and `WATCHDOG_PID` are
/// never inherited: Hale sets them when the program speaks the notify
/// protocol.
///
/// The rest says how Hale treats the program: whether it waits for
/// `READY=1` ([`ready_timeout`](Self::ready_timeout)), what shows it is alive
/// ([`watch`](Self::watch)), its kernel limits ([`limits`](Self::limits)),
/// and how many output lines its [`ProcessView`] keeps
/// ([`keep_output`](Self::keep_output)). Every run starts in a process group
/// of its own, with stdin on `/dev/null` and stdout and stderr read line by
/// line into `tracing` events (target `hale::process`).
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use hale_core::{ChildSpec, Watch};
/// use hale_core::process::{Liveness, ProcessCommand};
///
/// let agent = ProcessCommand::new("python3")
///     .args(["-u", "agent.py", "--queue", "jobs"])
///     .env("PYTHONUNBUFFERED", "1")
///     .current_dir("/srv/agents")
///     .ready_timeout(Duration::from_secs(30))
///     .watch(Watch::heartbeat(Duration::from_secs(10)), Liveness::Notify)
///     .keep_output(200);
/// let spec = ChildSpec::process("summarizer", agent)?;
/// assert_eq!(spec.id(), "summarizer");
/// # Ok::<(), hale_core::process::ProcessSpecError>(())
/// ```
#[derive(Clone, Debug)]
pub struct ProcessCommand {
    pub(crate) program: OsString,
    args: Vec<OsString>,
    env: Vec<EnvChange>,
    dir: Option<PathBuf>,
    notify: bool,
    pub(crate) ready_timeout: Option<Duration>,
    pub(crate) watch: Option<(Watch, Liveness)>,
    pub(crate) limits: ResourceLimits,
    kept_lines: usize,
    pub(crate) view: ProcessView,
}

impl ProcessCommand {
    /// Runs `program`: a path, or a name looked up in the `PATH` (the
    /// program's own `PATH` if you set one, else this process's).
    pub fn new(program: impl Into<OsString>) -> Self {
        Self {
            program: program.into(),
            args: Vec::new(),
            env: Vec::new(),
            dir: None,
            notify: false,
            ready_timeout: None,
            watch: None,
            limits: ResourceLimits::default(),
            kept_lines: 0,
            view: ProcessView::default(),
        }
    }

    /// Runs `script` with `/bin/sh -c`: only when you want a shell. The
    /// script is passed as one argument, as written.
    ///
    /// # Examples
    ///
    /// ```
    /// use hale_core::process::ProcessCommand;
    ///
    /// let tail = ProcessCommand::shell("tail -F /var/log/app.log | grep --line-buffered ERROR");
    /// # let _ = tail;
    /// ```
    pub fn shell(script: impl Into<OsString>) -> Self {
        Self::new("/bin/sh").arg("-c").arg(script)
    }

    /// Adds one argument.
    pub fn arg(mut self, arg: impl Into<OsString>) -> Self {
        self.args.push(arg.into());
        self
    }

    /// Adds arguments.
    pub fn args<I, S>(mut self, args: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<OsString>,
    {
        self.args.extend(args.into_iter().map(Into::into));
        self
    }

    /// Sets an environment variable.
    pub fn env(mut self, name: impl Into<OsString>, value: impl Into<OsString>) -> Self {
        self.env.push(EnvChange::Set(name.into(), value.into()));
        self
    }

    /// Sets environment variables.
    pub fn envs<I, K, V>(mut self, vars: I) -> Self
    where
        I: IntoIterator<Item = (K, V)>,
        K: Into<OsString>,
        V: Into<OsString>,
    {
        for (name, value) in vars {
            self = self.env(name, value);
        }
        self
    }

    /// Removes an inherited (or earlier set) environment variable.
    pub fn env_remove(mut self, name: impl Into<OsString>) -> Self {
        self.env.push(EnvChange::Remove(name.into()));
        self
    }

    /// Starts the environment from nothing: only variables set after this
    /// call (and Hale's notify variables) reach the program.
    pub fn env_clear(mut self) -> Self {
        self.env.push(EnvChange::Clear);
        self
    }

    /// Runs the program in `dir` (relative to this process's directory).
    pub fn current_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.dir = Some(dir.into());
        self
    }

    /// Gives the program a `NOTIFY_SOCKET` even if Hale neither waits for
    /// its readiness nor watches it through the socket, so its `READY=1`,
    /// `STOPPING=1` and `STATUS=` reach the health snapshot's `ready` flag
    /// and the [`ProcessView`]. Until it sends `READY=1`, it counts as not
    /// ready.
    pub fn notify(mut self) -> Self {
        self.notify = true;
        self
    }

    /// Waits up to `timeout` for the program's `READY=1` before its start
    /// counts as done (implies [`notify`](Self::notify)). A program that
    /// exits first, or is not ready in time (it is then killed), fails to
    /// start with a [`ProcessStartError`].
    pub fn ready_timeout(mut self, timeout: Duration) -> Self {
        self.ready_timeout = Some(timeout);
        self
    }

    /// Has the tree's watchdog watch the program, with `liveness` as its
    /// heartbeat. Use this rather than [`ChildSpec::watch`](crate::ChildSpec::watch):
    /// it also tells a [`Liveness::Notify`] program its timeout
    /// (`WATCHDOG_USEC`).
    pub fn watch(mut self, watch: Watch, liveness: Liveness) -> Self {
        self.watch = Some((watch, liveness));
        self
    }

    /// Sets kernel limits on each run (see [`ResourceLimits`] for how, and
    /// what is reported when one is hit).
    pub fn limits(mut self, limits: ResourceLimits) -> Self {
        self.limits = limits;
        self
    }

    /// Keeps the last `lines` output lines (stdout and stderr, across
    /// restarts) in the [`ProcessView`]; at most [`MAX_KEPT_LINES`]. Default
    /// 0: lines go to `tracing` only.
    pub fn keep_output(mut self, lines: usize) -> Self {
        self.kept_lines = lines;
        self
    }

    /// The live view of this command's runs: pid, last status, last exit,
    /// kept output. Take it before the command goes into a spec; clones of
    /// the command share it.
    pub fn view(&self) -> ProcessView {
        self.view.clone()
    }

    /// Whether a run gets a notify socket.
    pub(crate) fn uses_notify(&self) -> bool {
        self.notify || self.ready_timeout.is_some() || matches!(self.watch, Some((_, Liveness::Notify)))
    }

    /// The program, for messages.
    pub(crate) fn program_text(&self) -> String {
        self.program.to_string_lossy().into_owned()
    }

    /// Checks every value before anything starts; on success, sizes the view.
    pub(crate) fn validate(&self, child: &str) -> Result<(), ProcessSpecError> {
        self.validate_command(child)?;
        if let Some(timeout) = self.ready_timeout {
            check_duration(child, "ready timeout", timeout)?;
        }
        if let Some((watch, liveness)) = &self.watch {
            check_duration(child, "watch timeout", watch.timeout())?;
            check_duration_or_zero(child, "watch grace", watch.grace)?;
            if let Liveness::Probe(probe) = liveness {
                check_duration(child, "probe period", probe.every)?;
                check_duration(child, "probe timeout", probe.timeout)?;
                if probe.every >= watch.timeout() {
                    return Err(ProcessSpecError::ProbeTooRare {
                        child: child.to_owned(),
                        every: probe.every,
                        timeout: watch.timeout(),
                    });
                }
                let command = &probe.command;
                if command.uses_notify()
                    || command.watch.is_some()
                    || !command.limits.is_empty()
                    || command.kept_lines > 0
                {
                    return Err(ProcessSpecError::ProbeOptions {
                        child: child.to_owned(),
                    });
                }
                command.validate_command(child)?;
            }
        }
        self.limits.validate(child)?;
        if self.kept_lines > MAX_KEPT_LINES {
            return Err(ProcessSpecError::TooManyKeptLines {
                child: child.to_owned(),
                lines: self.kept_lines,
                max: MAX_KEPT_LINES,
            });
        }
        self.view.set_capacity(self.kept_lines);
        Ok(())
    }

    /// The checks on program, arguments, environment and directory.
    fn validate_command(&self, child: &str) -> Result<(), ProcessSpecError> {
        let nul = |what: String| ProcessSpecError::ContainsNul {
            child: child.to_owned(),
            what,
        };
        if self.program.is_empty() {
            return Err(ProcessSpecError::EmptyProgram {
                child: child.to_owned(),
            });
        }
        if has_nul(&self.program) {
            return Err(nul("program".to_owned()));
        }
        if let Some(index) = self.args.iter().position(|arg| has_nul(arg)) {
            return Err(nul(format!("argument {}", index + 1)));
        }
        if self.dir.as_ref().is_some_and(|dir| has_nul(dir.as_os_str())) {
            return Err(nul("working directory".to_owned()));
        }
        for change in &self.env {
            let (EnvChange::Set(name, _) | EnvChange::Remove(name)) = change else {
                continue;
            };
            let text = name.to_string_lossy().into_owned();
            if name.is_empty() || name.as_bytes().contains(&b'=') {
                return Err(ProcessSpecError::InvalidEnvName {
                    child: child.to_owned(),
                    name: text,
                });
            }
            if has_nul(name) {
                return Err(nul(format!("name of variable `{text}`")));
            }
            if NOTIFY_VARIABLES.iter().any(|reserved| name == reserved) {
                return Err(ProcessSpecError::ReservedEnv {
                    child: child.to_owned(),
                    name: text,
                });
            }
            if let EnvChange::Set(_, value) = change
                && has_nul(value)
            {
                return Err(nul(format!("value of variable `{text}`")));
            }
        }
        Ok(())
    }

    /// The `tokio` command for one run. `notify` is the socket's path and
    /// the watchdog timeout in microseconds, for a run that speaks the
    /// notify protocol; `capture` pipes stdout and stderr (else they go to
    /// `/dev/null`).
    pub(crate) fn build(
        &self,
        child: &ChildPath,
        notify: Option<(&Path, Option<u64>)>,
        capture: bool,
    ) -> Result<tokio::process::Command, ProcessStartError> {
        if let Some(dir) = &self.dir
            && !dir.is_dir()
        {
            return Err(ProcessStartError::NoWorkingDir {
                child: child.clone(),
                dir: dir.clone(),
            });
        }
        let mut command = match self.limits.script(child)? {
            None => tokio::process::Command::new(&self.program),
            Some(script) => {
                let program = self.resolved_program(child)?;
                let mut shell = tokio::process::Command::new("/bin/sh");
                shell.arg("-c").arg(script).arg(program);
                shell
            }
        };
        command.args(&self.args);
        for change in &self.env {
            match change {
                EnvChange::Set(name, value) => command.env(name, value),
                EnvChange::Remove(name) => command.env_remove(name),
                EnvChange::Clear => command.env_clear(),
            };
        }
        for name in NOTIFY_VARIABLES {
            command.env_remove(name);
        }
        if let Some((socket, watchdog_usec)) = notify {
            command.env("NOTIFY_SOCKET", socket);
            if let Some(usec) = watchdog_usec {
                command.env("WATCHDOG_USEC", usec.to_string());
            }
        }
        if let Some(dir) = &self.dir {
            command.current_dir(dir);
        }
        let output = || if capture { Stdio::piped() } else { Stdio::null() };
        command
            .stdin(Stdio::null())
            .stdout(output())
            .stderr(output())
            .process_group(0)
            .kill_on_drop(true);
        Ok(command)
    }

    /// Maps a spawn error to the start error that names its cause.
    pub(crate) fn spawn_error(&self, child: &ChildPath, error: std::io::Error) -> ProcessStartError {
        let program = self.program_text();
        let child = child.clone();
        match error.kind() {
            std::io::ErrorKind::NotFound => ProcessStartError::ProgramNotFound { child, program },
            std::io::ErrorKind::PermissionDenied => ProcessStartError::NotExecutable { child, program },
            _ => ProcessStartError::Spawn {
                child,
                program,
                source: error,
            },
        }
    }

    /// The program's file, checked, for a start through the limits shell.
    fn resolved_program(&self, child: &ChildPath) -> Result<OsString, ProcessStartError> {
        match resolve_program(&self.program, self.path_var().as_deref(), self.dir.as_deref()) {
            Ok(file) => Ok(exec_safe(file)),
            Err(Unresolved::NotFound) => Err(ProcessStartError::ProgramNotFound {
                child: child.clone(),
                program: self.program_text(),
            }),
            Err(Unresolved::NotExecutable) => Err(ProcessStartError::NotExecutable {
                child: child.clone(),
                program: self.program_text(),
            }),
        }
    }

    /// The `PATH` the program's environment will hold.
    fn path_var(&self) -> Option<OsString> {
        let mut path = std::env::var_os("PATH");
        for change in &self.env {
            match change {
                EnvChange::Set(name, value) if name == "PATH" => path = Some(value.clone()),
                EnvChange::Remove(name) if name == "PATH" => path = None,
                EnvChange::Clear => path = None,
                _ => {}
            }
        }
        path
    }
}

fn has_nul(text: &OsStr) -> bool {
    text.as_bytes().contains(&0)
}

fn check_duration(child: &str, what: &'static str, duration: Duration) -> Result<(), ProcessSpecError> {
    if duration.is_zero() {
        return Err(ProcessSpecError::ZeroDuration {
            child: child.to_owned(),
            what,
        });
    }
    check_duration_or_zero(child, what, duration)
}

fn check_duration_or_zero(
    child: &str,
    what: &'static str,
    duration: Duration,
) -> Result<(), ProcessSpecError> {
    if duration > MAX_TIMEOUT {
        return Err(ProcessSpecError::DurationTooLong {
            child: child.to_owned(),
            what,
            max: MAX_TIMEOUT,
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn error(command: ProcessCommand) -> ProcessSpecError {
        command.validate("c").expect_err("invalid command accepted")
    }

    #[test]
    fn bad_values_are_typed_errors() {
        assert!(matches!(
            error(ProcessCommand::new("")),
            ProcessSpecError::EmptyProgram { .. }
        ));
        assert!(matches!(
            error(ProcessCommand::new("a\0b")),
            ProcessSpecError::ContainsNul { .. }
        ));
        assert!(matches!(
            error(ProcessCommand::new("p").arg("x").arg("y\0")),
            ProcessSpecError::ContainsNul { what, .. } if what == "argument 2"
        ));
        assert!(matches!(
            error(ProcessCommand::new("p").env("A=B", "c")),
            ProcessSpecError::InvalidEnvName { .. }
        ));
        assert!(matches!(
            error(ProcessCommand::new("p").env("NOTIFY_SOCKET", "/x")),
            ProcessSpecError::ReservedEnv { .. }
        ));
        assert!(matches!(
            error(ProcessCommand::new("p").ready_timeout(Duration::ZERO)),
            ProcessSpecError::ZeroDuration { .. }
        ));
        assert!(matches!(
            error(ProcessCommand::new("p").ready_timeout(Duration::MAX)),
            ProcessSpecError::DurationTooLong { .. }
        ));
        assert!(matches!(
            error(ProcessCommand::new("p").watch(Watch::heartbeat(Duration::MAX), Liveness::Output)),
            ProcessSpecError::DurationTooLong { .. }
        ));
        assert!(matches!(
            error(ProcessCommand::new("p").keep_output(MAX_KEPT_LINES + 1)),
            ProcessSpecError::TooManyKeptLines { .. }
        ));
    }

    #[test]
    fn a_probe_must_run_more_often_than_the_timeout_and_be_plain() {
        use crate::process::ProbeCommand;
        let watch = Watch::heartbeat(Duration::from_secs(1));
        let rare = ProbeCommand::new(ProcessCommand::new("true"), Duration::from_secs(1));
        assert!(matches!(
            error(ProcessCommand::new("p").watch(watch.clone(), Liveness::Probe(rare))),
            ProcessSpecError::ProbeTooRare { .. }
        ));
        let fancy = ProbeCommand::new(ProcessCommand::new("true").notify(), Duration::from_millis(100));
        assert!(matches!(
            error(ProcessCommand::new("p").watch(watch, Liveness::Probe(fancy))),
            ProcessSpecError::ProbeOptions { .. }
        ));
    }

    #[test]
    fn a_valid_command_sizes_its_view() {
        let command = ProcessCommand::new("p").keep_output(5);
        let view = command.view();
        assert!(!view.keeps_output());
        command.validate("c").expect("valid");
        assert!(view.keeps_output());
    }
}
