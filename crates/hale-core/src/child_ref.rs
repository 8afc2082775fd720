//! Stable child references: a handle that follows a child across restarts.
//!
//! An `ActorRef` names one incarnation of a child; after a restart it points
//! at a dead actor. A [`ChildRef`] names the child by its place in the tree:
//! the supervisor publishes every new incarnation to it, so sending through
//! it always reaches the current one.
//!
//! While the child is not running, [`ChildRef::send`] does not wait: it
//! returns a [`ChildRefError`] at once that says why (restarting, stopped,
//! removed) and hands the message back, so nothing is lost.
//! [`ChildRef::send_within`] instead waits for the child to be running again,
//! up to a bound you give, and then sends.

use std::fmt;
use std::marker::PhantomData;
use std::time::Duration;

use ractor::{ActorCell, ActorRef, ActorStatus, Message, MessagingErr};
use tokio::sync::watch;

use crate::path::ChildPath;

/// The incarnation a supervisor publishes for one child.
#[derive(Clone, Debug)]
pub(crate) enum Incarnation {
    Running(ActorCell),
    Restarting,
    Stopped,
    Removed,
}

/// Why a message could not be sent through a [`ChildRef`]. Every variant
/// hands the message back.
#[derive(thiserror::Error)]
pub enum ChildRefError<M> {
    /// The child is being restarted; try again shortly, or use
    /// [`ChildRef::send_within`].
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
    /// [`ChildRef::send_within`] waited its whole bound and the child was
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
    /// [`Undeliverable`](Self::Undeliverable)).
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

/// A reference to whichever incarnation of a child is current. Cheap to
/// clone; obtain one with
/// [`SupervisorRef::child_ref`](crate::SupervisorRef::child_ref).
pub struct ChildRef<M> {
    path: ChildPath,
    incarnation: watch::Receiver<Incarnation>,
    message: PhantomData<fn(M)>,
}

impl<M> Clone for ChildRef<M> {
    fn clone(&self) -> Self {
        Self {
            path: self.path.clone(),
            incarnation: self.incarnation.clone(),
            message: PhantomData,
        }
    }
}

impl<M> fmt::Debug for ChildRef<M> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ChildRef")
            .field("path", &self.path)
            .finish_non_exhaustive()
    }
}

/// Whether ractor still takes messages for `cell`: it has not begun to
/// drain, stop or die.
fn accepts_messages(cell: &ActorCell) -> bool {
    cell.get_status() < ActorStatus::Draining
}

impl<M: Message> ChildRef<M> {
    pub(crate) fn new(path: ChildPath, incarnation: watch::Receiver<Incarnation>) -> Self {
        Self {
            path,
            incarnation,
            message: PhantomData,
        }
    }

    /// The child's path.
    pub fn path(&self) -> &ChildPath {
        &self.path
    }

    /// The current incarnation, if the child runs: use it for ractor's
    /// `call` and friends.
    pub fn current(&self) -> Option<ActorRef<M>> {
        match &*self.incarnation.borrow() {
            Incarnation::Running(cell) => Some(ActorRef::from(cell.clone())),
            _ => None,
        }
    }

    /// Sends to the current incarnation, or says at once why it cannot.
    pub fn send(&self, message: M) -> Result<(), ChildRefError<M>> {
        let current = self.incarnation.borrow().clone();
        self.send_to(current, message)
    }

    /// Waits up to `limit` for the child to be running, then sends. Returns
    /// [`ChildRefError::TimedOut`] if it is not running by then, or
    /// [`ChildRefError::Removed`] as soon as it is removed.
    ///
    /// An incarnation that has died but whose supervisor has not handled the
    /// exit yet does not count as running: the message waits for the next
    /// one instead of being refused.
    pub async fn send_within(&self, message: M, limit: Duration) -> Result<(), ChildRefError<M>> {
        let deadline = tokio::time::Instant::now() + limit;
        let mut incarnation = self.incarnation.clone();
        let mut message = message;
        loop {
            // In its own block: the watch guard must be gone before the next
            // `.await`, or this future is not `Send`.
            let current = {
                let settled = tokio::time::timeout_at(
                    deadline,
                    incarnation.wait_for(|now| match now {
                        Incarnation::Running(cell) => accepts_messages(cell),
                        Incarnation::Removed => true,
                        Incarnation::Restarting | Incarnation::Stopped => false,
                    }),
                )
                .await;
                match settled {
                    Ok(Ok(current)) => Some(current.clone()),
                    // The supervisor dropped the sender: it is gone for good.
                    Ok(Err(_)) => Some(Incarnation::Removed),
                    Err(_) => None,
                }
            };
            let Some(current) = current else {
                return Err(ChildRefError::TimedOut {
                    path: self.path.clone(),
                    waited: limit,
                    message,
                });
            };
            match self.send_to(current, message) {
                // It died between the check and the send: wait for the next
                // incarnation (`wait_for` sees this one is dead now; the yield
                // lets ractor finish marking it so).
                Err(ChildRefError::NotRunning { message: unsent, .. }) => {
                    message = unsent;
                    tokio::task::yield_now().await;
                }
                sent_or_final => return sent_or_final,
            }
        }
    }

    fn send_to(&self, incarnation: Incarnation, message: M) -> Result<(), ChildRefError<M>> {
        let path = self.path.clone();
        let removed = self.incarnation.has_changed().is_err();
        match incarnation {
            _ if removed => Err(ChildRefError::Removed { path, message }),
            // ractor drops a message of the wrong type: check first so it
            // can be handed back.
            Incarnation::Running(cell) if cell.is_message_type_of::<M>() == Some(false) => {
                Err(ChildRefError::WrongMessageType { path, message })
            }
            Incarnation::Running(cell) => match ActorRef::<M>::from(cell).send_message(message) {
                Ok(()) => Ok(()),
                Err(MessagingErr::SendErr(message)) => Err(ChildRefError::NotRunning { path, message }),
                Err(other) => Err(ChildRefError::Undeliverable {
                    path,
                    reason: other.to_string(),
                }),
            },
            Incarnation::Restarting => Err(ChildRefError::Restarting { path, message }),
            Incarnation::Stopped => Err(ChildRefError::NotRunning { path, message }),
            Incarnation::Removed => Err(ChildRefError::Removed { path, message }),
        }
    }
}
