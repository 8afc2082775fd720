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

mod child_ref_error;

use std::fmt;
use std::marker::PhantomData;
use std::time::Duration;

use ractor::{ActorCell, ActorRef, ActorStatus, Message, MessagingErr};

use crate::child::{ChildState, Incarnation, Subscription};
use crate::path::ChildPath;

pub use child_ref_error::ChildRefError;

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
    ///
    /// # Examples
    ///
    /// ```
    /// # use ractor::{Actor, ActorProcessingErr, ActorRef};
    /// # #[derive(Clone)]
    /// # struct Counter;
    /// # impl Actor for Counter {
    /// #     type Msg = u32;
    /// #     type State = u32;
    /// #     type Arguments = ();
    /// #     async fn pre_start(&self, _: ActorRef<u32>, _: ()) -> Result<u32, ActorProcessingErr> { Ok(0) }
    /// #     async fn handle(&self, _: ActorRef<u32>, n: u32, total: &mut u32) -> Result<(), ActorProcessingErr> {
    /// #         *total += n;
    /// #         Ok(())
    /// #     }
    /// # }
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// use hale_core::{ChildSpec, Supervisor, SupervisorSpec};
    ///
    /// let root = Supervisor::start(SupervisorSpec::new("root").child(ChildSpec::actor("counter", Counter, ()))).await?;
    /// let counter = root.child_ref::<u32>("counter").await?;
    /// let first = counter.current().expect("running");
    /// root.terminate_child("counter").await?;
    /// assert!(counter.current().is_none());
    /// root.restart_child("counter").await?;
    /// assert_ne!(counter.current().expect("running again").get_id(), first.get_id());
    /// # root.stop(std::time::Duration::from_secs(5)).await;
    /// # Ok(())
    /// # }
    /// ```
    pub fn current(&self) -> Option<ActorRef<M>> {
        self.current_cell().map(ActorRef::from)
    }

    pub(crate) fn current_cell(&self) -> Option<ActorCell> {
        self.incarnation.value.borrow().actor().cloned()
    }

    /// What the child is doing, as far as its references know; `None` once
    /// it was removed for good.
    pub(crate) fn state(&self) -> Option<ChildState> {
        match &*self.incarnation.value.borrow() {
            Incarnation::Running(_) => Some(ChildState::Running),
            Incarnation::Restarting => Some(ChildState::Restarting),
            Incarnation::Stopped => Some(ChildState::Stopped),
            Incarnation::Removed => None,
        }
    }

    /// Sends to the current incarnation, or says at once why it cannot.
    ///
    /// # Errors
    ///
    /// Every [`ChildRefError`] but [`TimedOut`](ChildRefError::TimedOut):
    /// the child is restarting, not running, removed, of another message
    /// type, or ractor refused the message. All but
    /// [`Undeliverable`](ChildRefError::Undeliverable) hand the message back.
    ///
    /// # Examples
    ///
    /// ```
    /// # use ractor::{Actor, ActorProcessingErr, ActorRef};
    /// # #[derive(Clone)]
    /// # struct Counter;
    /// # impl Actor for Counter {
    /// #     type Msg = u32;
    /// #     type State = u32;
    /// #     type Arguments = ();
    /// #     async fn pre_start(&self, _: ActorRef<u32>, _: ()) -> Result<u32, ActorProcessingErr> { Ok(0) }
    /// #     async fn handle(&self, _: ActorRef<u32>, n: u32, total: &mut u32) -> Result<(), ActorProcessingErr> {
    /// #         *total += n;
    /// #         Ok(())
    /// #     }
    /// # }
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// use hale_core::{ChildSpec, Supervisor, SupervisorSpec};
    ///
    /// let root = Supervisor::start(SupervisorSpec::new("root").child(ChildSpec::actor("counter", Counter, ()))).await?;
    /// let counter = root.child_ref::<u32>("counter").await?;
    /// counter.send(2)?;
    /// root.terminate_child("counter").await?;
    /// let refused = counter.send(3).unwrap_err();
    /// assert_eq!(refused.into_message(), Some(3), "nothing is lost");
    /// # root.stop(std::time::Duration::from_secs(5)).await;
    /// # Ok(())
    /// # }
    /// ```
    pub fn send(&self, message: M) -> Result<(), ChildRefError<M>> {
        // The hot path: send under the read guard, so a message costs no
        // clone of the cell or the path (the path is cloned only for an
        // error). Sending never blocks, so the guard is held only briefly.
        let current = self.incarnation.value.borrow();
        self.send_to(&current, message)
    }

    /// Waits up to `limit` for the child to be running, then sends. Any
    /// `limit` is fine: `Duration::MAX` waits for as long as the child takes.
    ///
    /// An incarnation that has died but whose supervisor has not handled the
    /// exit yet does not count as running: the message waits for the next
    /// one instead of being refused.
    ///
    /// # Errors
    ///
    /// [`ChildRefError::TimedOut`] if it is not running by then,
    /// [`ChildRefError::Removed`] as soon as it is removed, and otherwise as
    /// [`send`](Self::send). The message comes back in every case but
    /// [`Undeliverable`](ChildRefError::Undeliverable).
    ///
    /// # Cancel safety
    ///
    /// Dropping the future before it completes drops the message unsent
    /// (it is inside the future); a message that was sent stays sent.
    ///
    /// # Examples
    ///
    /// ```
    /// # use ractor::{Actor, ActorProcessingErr, ActorRef};
    /// # #[derive(Clone)]
    /// # struct Counter;
    /// # impl Actor for Counter {
    /// #     type Msg = u32;
    /// #     type State = u32;
    /// #     type Arguments = ();
    /// #     async fn pre_start(&self, _: ActorRef<u32>, _: ()) -> Result<u32, ActorProcessingErr> { Ok(0) }
    /// #     async fn handle(&self, _: ActorRef<u32>, n: u32, total: &mut u32) -> Result<(), ActorProcessingErr> {
    /// #         *total += n;
    /// #         Ok(())
    /// #     }
    /// # }
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// use hale_core::{ChildSpec, Supervisor, SupervisorSpec};
    ///
    /// let root = Supervisor::start(SupervisorSpec::new("root").child(ChildSpec::actor("counter", Counter, ()))).await?;
    /// let counter = root.child_ref::<u32>("counter").await?;
    /// root.terminate_child("counter").await?;
    /// let later = counter.clone();
    /// let send = tokio::spawn(async move { later.send_within(5, std::time::Duration::from_secs(5)).await });
    /// root.restart_child("counter").await?;
    /// assert!(send.await?.is_ok(), "sent to the new incarnation");
    /// # root.stop(std::time::Duration::from_secs(5)).await;
    /// # Ok(())
    /// # }
    /// ```
    pub async fn send_within(&self, message: M, limit: Duration) -> Result<(), ChildRefError<M>> {
        let deadline = hale_util::deadline_after(tokio::time::Instant::now(), limit);
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
        if self.incarnation.is_closed() {
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
