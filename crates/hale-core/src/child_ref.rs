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
use std::sync::Arc;
use std::time::Duration;

use ractor::{ActorCell, ActorRef, ActorStatus, Message, MessagingErr};
use tokio::sync::{Notify, watch};

use crate::path::ChildPath;

/// The incarnation a supervisor publishes for one child.
#[derive(Clone, Debug)]
pub(crate) enum Incarnation {
    Running(ActorCell),
    Restarting,
    Stopped,
    Removed,
}

/// The supervisor's end: publishes each new incarnation of one child.
///
/// The value lives in a watch channel; waiters are woken through a `Notify`
/// instead of the channel's own wake-up, which picks waiters in a random
/// order. With `Notify` the order is fixed, so a single-threaded run on a
/// paused clock (a chaos run) replays exactly even when several callers wait
/// for the same child.
pub(crate) struct Publisher {
    value: watch::Sender<Incarnation>,
    changed: Arc<Notify>,
}

impl Publisher {
    pub(crate) fn new(first: Incarnation) -> Self {
        Self {
            value: watch::Sender::new(first),
            changed: Arc::new(Notify::new()),
        }
    }

    pub(crate) fn publish(&self, incarnation: Incarnation) {
        self.value.send_replace(incarnation);
        self.changed.notify_waiters();
    }

    pub(crate) fn subscribe(&self) -> Subscription {
        Subscription {
            value: self.value.subscribe(),
            changed: Arc::clone(&self.changed),
        }
    }
}

impl Drop for Publisher {
    /// A child whose publisher is gone (its spec removed, or its supervisor
    /// exited) is removed for good: say so to everyone waiting.
    fn drop(&mut self) {
        self.publish(Incarnation::Removed);
    }
}

/// A reference's end of a [`Publisher`].
#[derive(Clone, Debug)]
pub(crate) struct Subscription {
    value: watch::Receiver<Incarnation>,
    changed: Arc<Notify>,
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
    incarnation: Subscription,
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
    pub(crate) fn new(path: ChildPath, incarnation: Subscription) -> Self {
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
        match &*self.incarnation.value.borrow() {
            Incarnation::Running(cell) => Some(ActorRef::from(cell.clone())),
            _ => None,
        }
    }

    /// Sends to the current incarnation, or says at once why it cannot.
    pub fn send(&self, message: M) -> Result<(), ChildRefError<M>> {
        // The hot path: send under the read guard, so a message costs no
        // clone of the cell or the path (the path is cloned only for an
        // error). Sending never blocks, so the guard is held only briefly.
        let current = self.incarnation.value.borrow();
        self.send_to(&current, message)
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
        let mut message = message;
        loop {
            // Registered before the check, so a change between the check
            // and the wait is not missed.
            let changed = self.incarnation.changed.notified();
            tokio::pin!(changed);
            changed.as_mut().enable();
            let current = self.incarnation.value.borrow().clone();
            let settled = match &current {
                Incarnation::Running(cell) => accepts_messages(cell),
                Incarnation::Removed => true,
                Incarnation::Restarting | Incarnation::Stopped => false,
            };
            if settled {
                match self.send_to(&current, message) {
                    // It died between the check and the send: wait for the
                    // next incarnation.
                    Err(ChildRefError::NotRunning { message: unsent, .. }) => message = unsent,
                    sent_or_final => return sent_or_final,
                }
            }
            if tokio::time::timeout_at(deadline, changed).await.is_err() {
                return Err(ChildRefError::TimedOut {
                    path: self.path.clone(),
                    waited: limit,
                    message,
                });
            }
        }
    }

    fn send_to(&self, incarnation: &Incarnation, message: M) -> Result<(), ChildRefError<M>> {
        let path = || self.path.clone();
        if self.incarnation.value.has_changed().is_err() {
            return Err(ChildRefError::Removed {
                path: path(),
                message,
            });
        }
        match incarnation {
            // ractor drops a message of the wrong type: check first so it
            // can be handed back.
            Incarnation::Running(cell) if cell.is_message_type_of::<M>() == Some(false) => {
                Err(ChildRefError::WrongMessageType {
                    path: path(),
                    message,
                })
            }
            Incarnation::Running(cell) => match cell.send_message(message) {
                Ok(()) => Ok(()),
                Err(MessagingErr::SendErr(message)) => Err(ChildRefError::NotRunning {
                    path: path(),
                    message,
                }),
                Err(other) => Err(ChildRefError::Undeliverable {
                    path: path(),
                    reason: other.to_string(),
                }),
            },
            Incarnation::Restarting => Err(ChildRefError::Restarting {
                path: path(),
                message,
            }),
            Incarnation::Stopped => Err(ChildRefError::NotRunning {
                path: path(),
                message,
            }),
            Incarnation::Removed => Err(ChildRefError::Removed {
                path: path(),
                message,
            }),
        }
    }
}
