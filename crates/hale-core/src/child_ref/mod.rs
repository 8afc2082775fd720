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
pub(crate) mod refollow;

use std::borrow::Cow;
use std::fmt;
use std::marker::PhantomData;
use std::sync::Arc;
use std::time::Duration;

use ractor::{ActorCell, ActorRef, ActorStatus, Message, MessagingErr};

use crate::child::{ChildState, Incarnation, Subscription};
use crate::path::ChildPath;

pub use child_ref_error::ChildRefError;
pub(crate) use refollow::{Lookup, Refollow};

/// How long a reference waits before looking its child up again while the
/// child's supervisor is being restarted.
const LOOKUP_RETRY: Duration = Duration::from_millis(10);

/// A reference to whichever incarnation of a child is current. Cheap to
/// clone; obtain one with
/// [`SupervisorRef::child_ref`](crate::SupervisorRef::child_ref).
pub struct ChildRef<M> {
    path: ChildPath,
    incarnation: Subscription,
    /// How to find the child again once its supervisor was restarted (for
    /// references taken through a handle that follows that supervisor).
    refollow: Option<Arc<Refollow>>,
    message: PhantomData<fn(M)>,
}

impl<M> Clone for ChildRef<M> {
    fn clone(&self) -> Self {
        Self {
            path: self.path.clone(),
            incarnation: self.incarnation.clone(),
            refollow: self.refollow.clone(),
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
            refollow: None,
            message: PhantomData,
        }
    }

    /// A reference that finds its child again after the child's supervisor
    /// was restarted, through `refollow`.
    pub(crate) fn following(path: ChildPath, incarnation: Subscription, refollow: Refollow) -> Self {
        Self {
            refollow: Some(Arc::new(refollow)),
            ..Self::new(path, incarnation)
        }
    }

    /// The record to read: the first one while it lives; after its
    /// supervisor restarted, the newest one found for the same child
    /// (a lookup starts in the background when there is none yet).
    fn subscription(&self) -> Cow<'_, Subscription> {
        if !self.incarnation.is_closed() {
            return Cow::Borrowed(&self.incarnation);
        }
        match &self.refollow {
            Some(refollow) => match refollow.latest() {
                Some(latest) => Cow::Owned(latest),
                None => {
                    if !refollow.is_gone() {
                        refollow.lookup_soon();
                    }
                    Cow::Borrowed(&self.incarnation)
                }
            },
            None => Cow::Borrowed(&self.incarnation),
        }
    }

    /// Whether a closed record means "its supervisor is being restarted"
    /// rather than "removed for good".
    fn between_supervisors(&self) -> bool {
        self.refollow.as_ref().is_some_and(|refollow| !refollow.is_gone())
    }

    /// The child's path.
    ///
    /// # Examples
    ///
    /// ```
    /// # use ractor::{Actor, ActorProcessingErr, ActorRef};
    /// # #[derive(Clone)]
    /// # struct Counter;
    /// # impl Actor for Counter {
    /// #     type Msg = u32;
    /// #     type State = ();
    /// #     type Arguments = ();
    /// #     async fn pre_start(&self, _: ActorRef<u32>, _: ()) -> Result<(), ActorProcessingErr> { Ok(()) }
    /// # }
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// use hale_core::{ChildSpec, Supervisor, SupervisorSpec};
    ///
    /// let root = Supervisor::start(SupervisorSpec::new("root").child(ChildSpec::actor("counter", Counter, ()))).await?;
    /// let counter = root.child_ref::<u32>("counter").await?;
    /// assert_eq!(counter.path().to_string(), "root/counter");
    /// # root.stop(std::time::Duration::from_secs(5)).await;
    /// # Ok(())
    /// # }
    /// ```
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
        self.subscription().value.borrow().actor().cloned()
    }

    /// What the child is doing, as far as its references know; `None` once
    /// it was removed for good.
    pub(crate) fn state(&self) -> Option<ChildState> {
        let subscription = self.subscription();
        let current = subscription.value.borrow();
        match &*current {
            Incarnation::Removed if self.between_supervisors() => Some(ChildState::Restarting),
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
        let subscription = self.subscription();
        let current = subscription.value.borrow();
        self.send_to(&subscription, &current, message)
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
            let Some((subscription, current)) = self.settled(deadline).await else {
                return Err(ChildRefError::TimedOut {
                    path: self.path.clone(),
                    waited: limit,
                    message,
                });
            };
            match self.send_to(&subscription, &current, message) {
                // It died between the check and the send: wait for the next
                // incarnation.
                Err(ChildRefError::NotRunning { message: unsent, .. }) => message = unsent,
                sent_or_final => return sent_or_final,
            }
        }
    }

    /// The current incarnation once it runs, waiting up to `limit`; `None`
    /// if it is removed for good or does not run by then.
    pub(crate) async fn running_within(&self, limit: Duration) -> Option<ActorRef<M>> {
        let deadline = hale_util::deadline_after(tokio::time::Instant::now(), limit);
        match self.settled(deadline).await? {
            (_, Incarnation::Running(cell)) => Some(ActorRef::from(cell)),
            _ => None,
        }
    }

    /// Waits until `deadline` for an incarnation that takes messages, or for
    /// the child to be removed for good; returns the record and what it
    /// said, or `None` at the deadline. An incarnation that has died but
    /// whose supervisor has not handled the exit yet does not count as
    /// running. Through a restart of the child's supervisor it looks the
    /// child up again.
    async fn settled(&self, deadline: tokio::time::Instant) -> Option<(Subscription, Incarnation)> {
        loop {
            let subscription = self.subscription().into_owned();
            // Registered before the check, so a change between the check
            // and the wait is not missed.
            let notify = Arc::clone(&subscription.changed);
            let changed = notify.notified();
            tokio::pin!(changed);
            changed.as_mut().enable();
            let current = subscription.value.borrow().clone();
            if subscription.is_closed()
                && let Some(refollow) = self.refollow.as_ref().filter(|refollow| !refollow.is_gone())
            {
                match tokio::time::timeout_at(deadline, refollow.lookup()).await {
                    Err(_) => return None,
                    Ok(Lookup::Found | Lookup::Gone) => continue,
                    Ok(Lookup::NotYet) => {
                        tokio::time::timeout_at(deadline, tokio::time::sleep(LOOKUP_RETRY))
                            .await
                            .ok()?;
                        continue;
                    }
                }
            }
            let settled = match &current {
                Incarnation::Running(cell) => accepts_messages(cell),
                Incarnation::Removed => true,
                Incarnation::Restarting | Incarnation::Stopped => false,
            };
            if settled {
                return Some((subscription, current));
            }
            tokio::time::timeout_at(deadline, changed).await.ok()?;
        }
    }

    fn send_to(
        &self,
        subscription: &Subscription,
        incarnation: &Incarnation,
        message: M,
    ) -> Result<(), ChildRefError<M>> {
        let path = || self.path.clone();
        if subscription.is_closed() {
            // Gone with its supervisor, which is being restarted: it will be
            // back; otherwise it was removed for good.
            return Err(if self.between_supervisors() {
                ChildRefError::Restarting {
                    path: path(),
                    message,
                }
            } else {
                ChildRefError::Removed {
                    path: path(),
                    message,
                }
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
