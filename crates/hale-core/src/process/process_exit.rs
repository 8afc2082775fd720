//! How a process ended: [`ProcessExit`], and how that maps to an
//! [`ExitReason`].

use std::fmt;
use std::os::unix::process::ExitStatusExt;
use std::process::ExitStatus;

use rustix::process::Signal;
use serde::{Deserialize, Serialize};

use crate::exit::ExitReason;

/// How one run of a supervised program ended.
///
/// | how it ended          | [`ExitReason`]                  | normal? |
/// |-----------------------|---------------------------------|---------|
/// | exit code 0           | [`ExitReason::Normal`]          | yes     |
/// | exit code N ≠ 0       | [`ExitReason::ExitCode`]`(N)`   | no      |
/// | killed by a signal    | [`ExitReason::Signal`]`("SIGKILL")` | no  |
/// | status lost           | [`ExitReason::Other`]           | no      |
///
/// # Examples
///
/// ```
/// use hale_core::ExitReason;
/// use hale_core::process::ProcessExit;
///
/// assert_eq!(ProcessExit::Code(0).reason(), ExitReason::Normal);
/// assert_eq!(ProcessExit::Code(3).reason(), ExitReason::ExitCode(3));
/// assert_eq!(ProcessExit::Signal(9).reason(), ExitReason::Signal("SIGKILL".into()));
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(tag = "kind", content = "value", rename_all = "snake_case")]
pub enum ProcessExit {
    /// The program exited with this code.
    Code(i32),
    /// The program was ended by this signal number.
    Signal(i32),
    /// The exit status could not be read (something else in this process
    /// reaped the program, e.g. a `waitpid(-1)` elsewhere).
    Unknown,
}

impl ProcessExit {
    /// Reads an exit status.
    pub(crate) fn from_status(status: ExitStatus) -> Self {
        match (status.code(), status.signal()) {
            (Some(code), _) => Self::Code(code),
            (None, Some(signal)) => Self::Signal(signal),
            (None, None) => Self::Unknown,
        }
    }

    /// The exit reason a supervisor acts on.
    ///
    /// # Examples
    ///
    /// ```
    /// use hale_core::process::ProcessExit;
    ///
    /// assert!(ProcessExit::Code(0).reason().is_normal());
    /// assert!(!ProcessExit::Signal(15).reason().is_normal());
    /// ```
    pub fn reason(&self) -> ExitReason {
        match *self {
            Self::Code(0) => ExitReason::Normal,
            Self::Code(code) => ExitReason::ExitCode(code),
            Self::Signal(signal) => ExitReason::Signal(signal_name(signal)),
            Self::Unknown => ExitReason::Other("exit status unavailable".to_owned()),
        }
    }

    /// Whether the program was ended by SIGXCPU: it used up the CPU time
    /// limit set with [`ResourceLimits::cpu_time`](crate::process::ResourceLimits::cpu_time).
    ///
    /// # Examples
    ///
    /// ```
    /// use hale_core::process::ProcessExit;
    ///
    /// assert!(ProcessExit::Signal(24).is_cpu_limit());
    /// assert!(!ProcessExit::Code(1).is_cpu_limit());
    /// ```
    pub fn is_cpu_limit(&self) -> bool {
        matches!(*self, Self::Signal(signal) if signal == Signal::XCPU.as_raw())
    }
}

impl fmt::Display for ProcessExit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Self::Code(code) => write!(f, "exit code {code}"),
            Self::Signal(signal) => write!(f, "killed by {}", signal_name(signal)),
            Self::Unknown => f.write_str("exit status unavailable"),
        }
    }
}

/// The conventional name of a signal number (`"SIGTERM"`), or
/// `"signal N"` for one without a name here (real-time signals).
pub(crate) fn signal_name(number: i32) -> String {
    const NAMES: [(Signal, &str); 30] = [
        (Signal::HUP, "SIGHUP"),
        (Signal::INT, "SIGINT"),
        (Signal::QUIT, "SIGQUIT"),
        (Signal::ILL, "SIGILL"),
        (Signal::TRAP, "SIGTRAP"),
        (Signal::ABORT, "SIGABRT"),
        (Signal::BUS, "SIGBUS"),
        (Signal::FPE, "SIGFPE"),
        (Signal::KILL, "SIGKILL"),
        (Signal::USR1, "SIGUSR1"),
        (Signal::SEGV, "SIGSEGV"),
        (Signal::USR2, "SIGUSR2"),
        (Signal::PIPE, "SIGPIPE"),
        (Signal::ALARM, "SIGALRM"),
        (Signal::TERM, "SIGTERM"),
        (Signal::STKFLT, "SIGSTKFLT"),
        (Signal::CHILD, "SIGCHLD"),
        (Signal::CONT, "SIGCONT"),
        (Signal::STOP, "SIGSTOP"),
        (Signal::TSTP, "SIGTSTP"),
        (Signal::TTIN, "SIGTTIN"),
        (Signal::TTOU, "SIGTTOU"),
        (Signal::URG, "SIGURG"),
        (Signal::XCPU, "SIGXCPU"),
        (Signal::XFSZ, "SIGXFSZ"),
        (Signal::VTALARM, "SIGVTALRM"),
        (Signal::PROF, "SIGPROF"),
        (Signal::WINCH, "SIGWINCH"),
        (Signal::IO, "SIGIO"),
        (Signal::SYS, "SIGSYS"),
    ];
    NAMES
        .iter()
        .find(|(signal, _)| signal.as_raw() == number)
        .map_or_else(|| format!("signal {number}"), |(_, name)| (*name).to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_are_read_as_codes_and_signals() {
        assert_eq!(
            ProcessExit::from_status(ExitStatus::from_raw(0)),
            ProcessExit::Code(0)
        );
        assert_eq!(
            ProcessExit::from_status(ExitStatus::from_raw(3 << 8)),
            ProcessExit::Code(3)
        );
        assert_eq!(
            ProcessExit::from_status(ExitStatus::from_raw(9)),
            ProcessExit::Signal(9)
        );
    }

    #[test]
    fn reasons_follow_otp() {
        assert_eq!(ProcessExit::Code(0).reason(), ExitReason::Normal);
        assert_eq!(ProcessExit::Code(1).reason(), ExitReason::ExitCode(1));
        assert_eq!(
            ProcessExit::Signal(15).reason(),
            ExitReason::Signal("SIGTERM".into())
        );
        assert_eq!(
            ProcessExit::Signal(63).reason(),
            ExitReason::Signal("signal 63".into())
        );
        assert!(!ProcessExit::Unknown.reason().is_normal());
    }

    #[test]
    fn reasons_survive_the_stop_reason_round_trip() {
        for exit in [
            ProcessExit::Code(0),
            ProcessExit::Code(7),
            ProcessExit::Signal(11),
        ] {
            let reason = exit.reason();
            assert_eq!(
                ExitReason::from_stop_reason(Some(&reason.to_stop_reason())),
                reason
            );
        }
    }
}
