//! [`ChildRefError`]: why a message could not be sent through a
//! [`ChildRef`](crate::ChildRef).

use std::fmt;
use std::time::Duration;

use crate::path::ChildPath;

/// Why a message could not be sent through a [`ChildRef`](crate::ChildRef). Every variant
/// hands the message back.
#[derive(thiserror::Error)]
pub enum ChildRefError<M> {
    /// The child is being restarted; try again shortly, or use
    /// [`ChildRef::send_within`](crate::ChildRef::send_within).
    #[error("child `{path}` is restarting")]
    Restarting {
        /// The child.
        path: ChildPath,
        /// The message, unsent.
        message: M,
    },
    /// The child is not running and its supervisor will not restart it by
    /// itself (it exited normally, was terminated, or just died and its
    /// supervisor has not handled the exit yet).
    #[error("child `{path}` is not running")]
    NotRunning {
        /// The child.
        path: ChildPath,
        /// The message, unsent.
        message: M,
    },
    /// The child's spec was removed from its supervisor, or the supervisor
    /// is gone: this reference will never reach a child again.
    #[error("child `{path}` was removed")]
    Removed {
        /// The child.
        path: ChildPath,
        /// The message, unsent.
        message: M,
    },
    /// The current incarnation does not take this message type (its start
    /// function spawned a different kind of actor).
    #[error("child `{path}` does not take this message type")]
    WrongMessageType {
        /// The child.
        path: ChildPath,
        /// The message, unsent.
        message: M,
    },
    /// ractor refused the message for a reason that does not give it back.
    #[error("child `{path}` refused the message: {reason}")]
    Undeliverable {
        /// The child.
        path: ChildPath,
        /// ractor's error.
        reason: String,
    },
    /// [`ChildRef::send_within`](crate::ChildRef::send_within) waited its whole bound and the child was
    /// still not running.
    #[error("child `{path}` was not running within {waited:?}")]
    TimedOut {
        /// The child.
        path: ChildPath,
        /// How long it waited.
        waited: Duration,
        /// The message, unsent.
        message: M,
    },
}

impl<M> ChildRefError<M> {
    /// The message that was not sent (`None` only for
    /// [`Undeliverable`](Self::Undeliverable)), to send again or elsewhere.
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// use std::time::Duration;
    /// use hale_core::{ChildSpec, HealingEventKind, Restart, Supervisor, SupervisorSpec};
    ///
    /// let root = Supervisor::start(SupervisorSpec::new("root")).await?;
    /// let mut events = root.subscribe();
    /// root.start_child(ChildSpec::task("done", |_ctx| async { Ok(()) }).restart(Restart::Transient)).await?;
    /// events
    ///     .wait_for(Duration::from_secs(5), |e| matches!(e.kind, HealingEventKind::ChildExited { .. }))
    ///     .await;
    /// let reference = root.child_ref::<String>("done").await?; // kept, but nothing runs
    /// let error = reference.send("hello".to_owned()).unwrap_err();
    /// assert_eq!(error.into_message().as_deref(), Some("hello"));
    /// # root.stop(std::time::Duration::from_secs(5)).await;
    /// # Ok(())
    /// # }
    /// ```
    pub fn into_message(self) -> Option<M> {
        match self {
            Self::Restarting { message, .. }
            | Self::NotRunning { message, .. }
            | Self::Removed { message, .. }
            | Self::WrongMessageType { message, .. }
            | Self::TimedOut { message, .. } => Some(message),
            Self::Undeliverable { .. } => None,
        }
    }
}

impl<M> fmt::Debug for ChildRefError<M> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The message type need not be Debug: show the reason only.
        write!(f, "ChildRefError({self})")
    }
}
