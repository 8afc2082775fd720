//! [`Parked`]: a failed in-place child waiting for its supervisor's
//! decision, and the protocol between the two.
//!
//! ```text
//! child (its handler failed)             supervisor
//!   post_stop, dead letter
//!   ── ChildParked(id, reason, Parked) ─▶ on_exit: the usual decision
//!   waits on its Resume                   (restart type, intensity, strategy)
//!                                          restart → Child::start finds it parked:
//!   ◀──────────── Resume ───────────────   resume() instead of the start function
//!   pre_start again (same mailbox)
//!   ─────────── started(Ok|Err) ────────▶ running again │ a failed start
//!   post_start, next queued message                     (RestartFailed, retried
//!                                                        by a fresh spawn)
//! anything else → the Parked is released: its actor is killed and waited for
//! ```

use std::sync::Arc;
use std::time::Duration;

use ractor::{ActorCell, ActorId};
use tokio::sync::oneshot;

use crate::exit::ExitReason;
use crate::spec::StartError;
use crate::watchdog::Heartbeat;

/// Tells a supervisor that its in-place child `ActorId` failed with this
/// reason and is parked, waiting for the decision.
pub(crate) type ParkNotice = Arc<dyn Fn(ActorId, ExitReason, Parked) + Send + Sync>;

/// The supervisor's answer to a parked child: start again.
pub(crate) struct Resume {
    /// The new incarnation's heartbeat.
    pub(crate) heartbeat: Heartbeat,
    /// The new incarnation's number.
    pub(crate) incarnation: u64,
    /// Where the child says whether `pre_start` succeeded.
    pub(crate) started: oneshot::Sender<Result<(), StartError>>,
}

/// A failed in-place child, waiting in its handler with its mailbox intact.
/// Dropping it lets the child go: it ends without handling more messages.
pub(crate) struct Parked {
    actor: ActorCell,
    resume: oneshot::Sender<Resume>,
}

/// The parked child is gone (killed while it waited).
#[derive(Debug)]
pub(crate) struct Gone;

impl Parked {
    /// A parked `actor` and the receiving end of its resume.
    pub(crate) fn new(actor: ActorCell) -> (Self, oneshot::Receiver<Resume>) {
        let (resume, waiting) = oneshot::channel();
        (Self { actor, resume }, waiting)
    }

    /// Runs `pre_start` again on the parked actor and waits for it:
    /// `Ok(Ok(actor))` once it runs again, `Ok(Err(_))` if its `pre_start`
    /// failed (the actor then ends), `Err(Gone)` if it was killed meanwhile.
    pub(crate) async fn resume(
        self,
        heartbeat: Heartbeat,
        incarnation: u64,
    ) -> Result<Result<ActorCell, StartError>, Gone> {
        let (started, outcome) = oneshot::channel();
        let resume = Resume {
            heartbeat,
            incarnation,
            started,
        };
        if self.resume.send(resume).is_err() {
            return Err(Gone);
        }
        match outcome.await {
            Ok(Ok(())) => Ok(Ok(self.actor)),
            Ok(Err(cause)) => Ok(Err(cause)),
            Err(_) => Err(Gone),
        }
    }

    /// Lets the child go and waits (up to `bound`) until it has ended.
    pub(crate) async fn release(self, bound: Duration) {
        let actor = self.actor.clone();
        drop(self);
        // It ends by itself once its resume is dropped; the kill covers an
        // actor that is not in its handler any more (killed and replaced).
        actor.kill();
        let _ = actor.wait(Some(bound)).await;
    }
}
