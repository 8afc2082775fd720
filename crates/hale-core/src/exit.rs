//! Why a child exited, and whether that counts as normal.
//!
//! OTP sorts exits into two kinds. `normal` and `shutdown` (with or without a
//! detail) are normal: the child meant to stop. Everything else is abnormal:
//! an error returned from a handler, a panic, a kill, a watchdog kill. The
//! restart type of a child decides what each kind means for it (see
//! [`Restart`](crate::Restart)).
//!
//! ractor reports an exit in one of two shapes, and [`ExitReason::from_event`]
//! maps both: `ActorFailed` (a handler returned an error or panicked) becomes
//! [`ExitReason::Failed`]; `ActorTerminated` carries an optional stop reason
//! string, read as follows.
//!
//! | stop reason            | exit reason                    | normal? |
//! |------------------------|--------------------------------|---------|
//! | none, `"normal"`       | [`ExitReason::Normal`]         | yes     |
//! | `"shutdown"`           | [`ExitReason::Shutdown`]`(None)` | yes   |
//! | `"shutdown: detail"`   | [`ExitReason::Shutdown`]`(Some(detail))` | yes |
//! | `"Drained"` (ractor's drain) | [`ExitReason::Shutdown`]`(Some("drained"))` | yes |
//! | `"killed"`             | [`ExitReason::Killed`]         | no      |
//! | `"hung"`               | [`ExitReason::Hung`]           | no      |
//! | `"exit code: N"`       | [`ExitReason::ExitCode`]`(N)`  | no      |
//! | `"signal: NAME"`       | [`ExitReason::Signal`]`(NAME)` | no      |
//! | anything else          | [`ExitReason::Other`]          | no      |

use std::fmt;

use ractor::{ActorId, SupervisionEvent};
use serde::{Deserialize, Serialize};

/// The stop reason ractor reports for an actor that was killed.
pub(crate) const KILLED: &str = "killed";
/// The stop reason a supervisor uses when it asks a child to stop.
pub(crate) const SHUTDOWN: &str = "shutdown";
/// The stop reason used for a normal, requested stop.
pub(crate) const NORMAL: &str = "normal";
/// The stop reason ractor reports after `drain()`: the actor handled what
/// was queued and stopped, as asked. A graceful stop, so a normal exit.
const DRAINED: &str = "Drained";
/// The stop reason used for a child the watchdog found hung.
pub(crate) const HUNG: &str = "hung";
/// The prefix of the stop reason of an OS process that exited with a code.
const EXIT_CODE: &str = "exit code:";
/// The prefix of the stop reason of an OS process killed by a signal.
const SIGNAL: &str = "signal:";

/// The classified reason a child (or a supervisor) exited.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(tag = "kind", content = "detail", rename_all = "snake_case")]
#[non_exhaustive]
pub enum ExitReason {
    /// The child finished its work and stopped (ractor: stopped with no reason,
    /// or with `"normal"`).
    Normal,
    /// The child was asked to shut down, optionally with a detail
    /// (`"shutdown"` or `"shutdown: detail"`). A supervisor that gives up
    /// exits with `Shutdown(None)`.
    Shutdown(Option<String>),
    /// The child was killed: its handler was cancelled at an `.await`.
    Killed,
    /// The child stopped making progress and was killed by the watchdog.
    Hung,
    /// A handler returned an error or panicked; the text is ractor's report.
    Failed(String),
    /// The child stopped itself with a reason that is neither normal nor
    /// shutdown. OTP treats `exit(Reason)` with any such reason as abnormal.
    Other(String),
    /// An OS process child exited with this nonzero code (code 0 is
    /// [`Normal`](Self::Normal)).
    ExitCode(i32),
    /// An OS process child was ended by this signal (`"SIGKILL"`, ...).
    Signal(String),
}

impl ExitReason {
    /// True for the exits OTP calls normal: [`Normal`](Self::Normal) and
    /// [`Shutdown`](Self::Shutdown). A transient child is restarted only after
    /// an exit for which this is false.
    pub fn is_normal(&self) -> bool {
        matches!(self, Self::Normal | Self::Shutdown(_))
    }

    /// Reads the stop reason string ractor reports with `ActorTerminated`.
    pub fn from_stop_reason(reason: Option<&str>) -> Self {
        let Some(reason) = reason else {
            return Self::Normal;
        };
        match reason {
            NORMAL => Self::Normal,
            SHUTDOWN => Self::Shutdown(None),
            KILLED => Self::Killed,
            HUNG => Self::Hung,
            DRAINED => Self::Shutdown(Some("drained".to_owned())),
            other => {
                if let Some(detail) = other.strip_prefix("shutdown:") {
                    Self::Shutdown(Some(detail.trim().to_owned()))
                } else if let Some(code) = other
                    .strip_prefix(EXIT_CODE)
                    .and_then(|code| code.trim().parse().ok())
                {
                    Self::ExitCode(code)
                } else if let Some(name) = other.strip_prefix(SIGNAL) {
                    Self::Signal(name.trim().to_owned())
                } else {
                    Self::Other(other.to_owned())
                }
            }
        }
    }

    /// The stop reason string that [`from_stop_reason`](Self::from_stop_reason)
    /// reads back as `self`; use it with `ActorCell::stop` to exit with this
    /// reason.
    pub fn to_stop_reason(&self) -> String {
        match self {
            Self::Normal => NORMAL.to_owned(),
            Self::Shutdown(None) => SHUTDOWN.to_owned(),
            Self::Shutdown(Some(detail)) => format!("{SHUTDOWN}: {detail}"),
            Self::Killed => KILLED.to_owned(),
            Self::Hung => HUNG.to_owned(),
            Self::Failed(text) | Self::Other(text) => text.clone(),
            Self::ExitCode(code) => format!("{EXIT_CODE} {code}"),
            Self::Signal(name) => format!("{SIGNAL} {name}"),
        }
    }

    /// The actor an exit event is about and its classified reason, or `None`
    /// for events that are not exits (starts, process-group changes).
    pub fn from_event(event: &SupervisionEvent) -> Option<(ActorId, Self)> {
        match event {
            SupervisionEvent::ActorTerminated(cell, _, reason) => {
                Some((cell.get_id(), Self::from_stop_reason(reason.as_deref())))
            }
            SupervisionEvent::ActorFailed(cell, error) => {
                Some((cell.get_id(), Self::Failed(error.to_string())))
            }
            _ => None,
        }
    }
}

impl fmt::Display for ExitReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Normal => f.write_str("normal"),
            Self::Shutdown(None) => f.write_str("shutdown"),
            Self::Shutdown(Some(detail)) => write!(f, "shutdown: {detail}"),
            Self::Killed => f.write_str("killed"),
            Self::Hung => f.write_str("hung"),
            Self::Failed(text) => write!(f, "failed: {text}"),
            Self::Other(text) => write!(f, "exit: {text}"),
            Self::ExitCode(code) => write!(f, "exit code {code}"),
            Self::Signal(name) => write!(f, "killed by {name}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stop_reasons_are_classified_like_otp() {
        assert_eq!(ExitReason::from_stop_reason(None), ExitReason::Normal);
        assert_eq!(ExitReason::from_stop_reason(Some("normal")), ExitReason::Normal);
        assert_eq!(
            ExitReason::from_stop_reason(Some("shutdown")),
            ExitReason::Shutdown(None)
        );
        assert_eq!(
            ExitReason::from_stop_reason(Some("shutdown: done")),
            ExitReason::Shutdown(Some("done".into()))
        );
        assert_eq!(ExitReason::from_stop_reason(Some("killed")), ExitReason::Killed);
        assert_eq!(ExitReason::from_stop_reason(Some("hung")), ExitReason::Hung);
        assert_eq!(
            ExitReason::from_stop_reason(Some("Drained")),
            ExitReason::Shutdown(Some("drained".into()))
        );
        assert_eq!(
            ExitReason::from_stop_reason(Some("boom")),
            ExitReason::Other("boom".into())
        );
        assert_eq!(
            ExitReason::from_stop_reason(Some("exit code: 2")),
            ExitReason::ExitCode(2)
        );
        assert_eq!(
            ExitReason::from_stop_reason(Some("exit code: two")),
            ExitReason::Other("exit code: two".into())
        );
        assert_eq!(
            ExitReason::from_stop_reason(Some("signal: SIGSEGV")),
            ExitReason::Signal("SIGSEGV".into())
        );
    }

    #[test]
    fn only_normal_and_shutdown_are_normal() {
        assert!(ExitReason::Normal.is_normal());
        assert!(ExitReason::Shutdown(Some("x".into())).is_normal());
        for abnormal in [
            ExitReason::Killed,
            ExitReason::Hung,
            ExitReason::Failed("e".into()),
            ExitReason::Other("o".into()),
            ExitReason::ExitCode(1),
            ExitReason::Signal("SIGKILL".into()),
        ] {
            assert!(!abnormal.is_normal(), "{abnormal} must be abnormal");
        }
    }

    #[test]
    fn stop_reason_round_trips() {
        for reason in [
            ExitReason::Normal,
            ExitReason::Shutdown(None),
            ExitReason::Shutdown(Some("done".into())),
            ExitReason::Killed,
            ExitReason::Hung,
            ExitReason::Other("boom".into()),
            ExitReason::ExitCode(3),
            ExitReason::ExitCode(-1),
            ExitReason::Signal("SIGTERM".into()),
        ] {
            assert_eq!(
                ExitReason::from_stop_reason(Some(&reason.to_stop_reason())),
                reason
            );
        }
    }
}
