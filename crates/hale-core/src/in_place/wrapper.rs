//! [`InPlace`]: the ractor actor Hale runs around a user's actor so that a
//! failed handler is restarted on the same mailbox.

use std::panic::AssertUnwindSafe;

use futures::FutureExt;
use ractor::{Actor, ActorProcessingErr, ActorRef, SupervisionEvent};

use crate::events::{EventBus, HealingEventKind};
use crate::exit::ExitReason;
use crate::in_place::{DeadLetterSink, FailedMessage, ParkNotice, Parked};
use crate::path::ChildPath;
use crate::spec::StartError;
use crate::watchdog::Heartbeat;

/// What an in-place child needs from its supervisor: where to report a
/// failure, where to put the failed message, and whom to tell.
pub(crate) struct InPlaceLink<M> {
    pub(crate) path: ChildPath,
    pub(crate) events: EventBus,
    pub(crate) notice: ParkNotice,
    pub(crate) sink: Option<DeadLetterSink<M>>,
}

/// The user's actor `A`, run so that a failure of its handler (an error or
/// a panic) does not end the actor: the user's `post_stop` runs, the message
/// goes to the dead-letter sink, the supervisor decides by its usual rules,
/// and on a restart `pre_start` runs again on the same mailbox, so the
/// messages queued behind the failed one are handled next, in order.
/// The message type is `A`'s own, so references to the child are unchanged.
pub(crate) struct InPlace<A: Actor> {
    inner: A,
    link: InPlaceLink<A::Msg>,
}

/// What the wrapper is started with.
pub(crate) struct InPlaceArgs<Args> {
    /// The user's arguments, cloned for every `pre_start`.
    pub(crate) args: Args,
    /// Set when the child is watched per message: stamped around every
    /// handler, as [`Watch::per_message`](crate::Watch::per_message) does.
    pub(crate) heartbeat: Option<Heartbeat>,
    pub(crate) incarnation: u64,
}

/// The wrapper's state: the user's state while an incarnation runs.
pub(crate) struct InPlaceState<A: Actor> {
    inner: Option<A::State>,
    /// The actor itself, for a recovery: the handler's own reference goes
    /// to the user's handler, uncloned.
    myself: ActorRef<A::Msg>,
    args: A::Arguments,
    heartbeat: Option<Heartbeat>,
    incarnation: u64,
    /// Whether the first handler of this incarnation has let the tasks it
    /// woke run (see `PerMessage::before_first_handler`).
    settled: bool,
}

impl<A> InPlace<A>
where
    A: Actor,
    A::Arguments: Clone,
{
    pub(crate) fn new(inner: A, link: InPlaceLink<A::Msg>) -> Self {
        Self { inner, link }
    }

    /// Runs the user's handler future, turning a panic into its text, as
    /// ractor does for the handlers it runs itself.
    async fn guarded<T>(
        future: impl std::future::Future<Output = Result<T, ActorProcessingErr>>,
    ) -> Result<T, String> {
        match AssertUnwindSafe(future).catch_unwind().await {
            Ok(Ok(value)) => Ok(value),
            Ok(Err(error)) => Err(error.to_string()),
            Err(panic) => Err(panic_text(panic)),
        }
    }

    /// Before a handler: stamps the heartbeat, when watched per message.
    async fn before_handler(state: &mut InPlaceState<A>) {
        if let Some(heartbeat) = &state.heartbeat {
            if !state.settled {
                // As in `PerMessage`: let the supervisor, woken by the start,
                // run before a first handler that might block this thread.
                state.settled = true;
                tokio::task::yield_now().await;
            }
            heartbeat.handler_started();
        }
    }

    /// After a handler: stamps the heartbeat, when watched per message.
    fn after_handler(state: &InPlaceState<A>) {
        if let Some(heartbeat) = &state.heartbeat {
            heartbeat.handler_finished();
        }
    }

    /// Runs the user's `post_start` on the current incarnation.
    async fn post_start_inner(
        &self,
        myself: &ActorRef<A::Msg>,
        state: &mut InPlaceState<A>,
    ) -> Result<(), String> {
        Self::before_handler(state).await;
        let started = match state.inner.as_mut() {
            Some(inner) => Self::guarded(self.inner.post_start(myself.clone(), inner)).await,
            None => Ok(()),
        };
        Self::after_handler(state);
        started
    }

    /// A handler failed with `error` (on `kept`, when the sink keeps
    /// messages). Cleans up, dead-letters, parks until the supervisor
    /// decides, and restarts on the same mailbox if it says so. `Err` ends
    /// the actor: the supervisor let it go, or its `pre_start` failed.
    async fn recover(
        &self,
        myself: &ActorRef<A::Msg>,
        state: &mut InPlaceState<A>,
        mut error: String,
        mut kept: Option<A::Msg>,
    ) -> Result<(), ActorProcessingErr> {
        loop {
            if let Some(mut inner) = state.inner.take() {
                // Its cleanup failing changes nothing: the incarnation is over.
                let _ = Self::guarded(self.inner.post_stop(myself.clone(), &mut inner)).await;
            }
            self.dead_letter(&error, state.incarnation, kept.take());
            let (parked, waiting) = Parked::new(myself.get_cell());
            (self.link.notice)(myself.get_id(), ExitReason::Failed(error.clone()), parked);
            let Ok(resume) = waiting.await else {
                // Not restarted (or the supervisor is gone): end, failed.
                return Err(error.into());
            };
            match Self::guarded(self.inner.pre_start(myself.clone(), state.args.clone())).await {
                Ok(inner) => {
                    state.inner = Some(inner);
                    state.heartbeat = state.heartbeat.as_ref().map(|_| resume.heartbeat);
                    state.incarnation = resume.incarnation;
                    state.settled = false;
                    let _ = resume.started.send(Ok(()));
                }
                Err(cause) => {
                    // A start failure: the supervisor handles it as OTP does
                    // (restarting, retried by a fresh spawn); this actor ends.
                    let _ = resume.started.send(Err(StartError::new(&cause)));
                    return Err(cause.into());
                }
            }
            // ractor runs `post_start` after `pre_start`; so does a restart.
            match self.post_start_inner(myself, state).await {
                Err(failure) => error = failure,
                Ok(()) => return Ok(()),
            }
        }
    }

    /// After a handler: recovers if it failed. The recovery's future is
    /// boxed, so that the handler's own future (built for every message)
    /// stays the size of the user's handler, not of a whole restart.
    async fn settle(
        &self,
        myself: &ActorRef<A::Msg>,
        state: &mut InPlaceState<A>,
        handled: Result<(), String>,
        kept: Option<A::Msg>,
    ) -> Result<(), ActorProcessingErr> {
        match handled {
            Err(error) => Box::pin(self.recover(myself, state, error, kept)).await,
            Ok(()) => Ok(()),
        }
    }

    fn dead_letter(&self, error: &str, incarnation: u64, message: Option<A::Msg>) {
        let Some(sink) = &self.link.sink else {
            return;
        };
        let kept = message.is_some();
        let delivered = sink.deliver(FailedMessage {
            path: self.link.path.clone(),
            incarnation,
            error: error.to_owned(),
            message,
        });
        self.link.events.emit(
            &self.link.path,
            HealingEventKind::MessageDeadLettered {
                error: error.to_owned(),
                kept,
                dropped: !delivered,
            },
        );
    }
}

/// The text of a panic, as ractor reports a panicking handler.
fn panic_text(panic: Box<dyn std::any::Any + Send>) -> String {
    match panic.downcast::<String>() {
        Ok(text) => *text,
        Err(panic) => match panic.downcast::<&str>() {
            Ok(text) => (*text).to_owned(),
            Err(_) => "Unknown panic occurred which couldn't be coerced to a string".to_owned(),
        },
    }
}

impl<A> Actor for InPlace<A>
where
    A: Actor,
    A::Arguments: Clone + Sync,
{
    type Msg = A::Msg;
    type State = InPlaceState<A>;
    type Arguments = InPlaceArgs<A::Arguments>;

    async fn pre_start(
        &self,
        myself: ActorRef<Self::Msg>,
        args: Self::Arguments,
    ) -> Result<Self::State, ActorProcessingErr> {
        // The first start fails as any spawn does: a start error.
        let inner = self.inner.pre_start(myself.clone(), args.args.clone()).await?;
        Ok(InPlaceState {
            inner: Some(inner),
            myself,
            args: args.args,
            heartbeat: args.heartbeat,
            incarnation: args.incarnation,
            settled: false,
        })
    }

    async fn post_start(
        &self,
        myself: ActorRef<Self::Msg>,
        state: &mut Self::State,
    ) -> Result<(), ActorProcessingErr> {
        let started = self.post_start_inner(&myself, state).await;
        self.settle(&myself, state, started, None).await
    }

    async fn handle(
        &self,
        myself: ActorRef<Self::Msg>,
        message: Self::Msg,
        state: &mut Self::State,
    ) -> Result<(), ActorProcessingErr> {
        let kept = self.link.sink.as_ref().and_then(|sink| sink.keep(&message));
        if state.heartbeat.is_none()
            && let Some(inner) = state.inner.as_mut()
        {
            // The common case, kept small: no stamping, the user's handler
            // guarded, the recovery boxed.
            return match Self::guarded(self.inner.handle(myself, message, inner)).await {
                Ok(()) => Ok(()),
                Err(error) => {
                    let myself = state.myself.clone();
                    Box::pin(self.recover(&myself, state, error, kept)).await
                }
            };
        }
        Self::before_handler(state).await;
        let handled = match state.inner.as_mut() {
            Some(inner) => Self::guarded(self.inner.handle(myself.clone(), message, inner)).await,
            None => Ok(()),
        };
        Self::after_handler(state);
        self.settle(&myself, state, handled, kept).await
    }

    async fn handle_supervisor_evt(
        &self,
        myself: ActorRef<Self::Msg>,
        event: SupervisionEvent,
        state: &mut Self::State,
    ) -> Result<(), ActorProcessingErr> {
        Self::before_handler(state).await;
        let handled = match state.inner.as_mut() {
            Some(inner) => {
                Self::guarded(self.inner.handle_supervisor_evt(myself.clone(), event, inner)).await
            }
            None => Ok(()),
        };
        Self::after_handler(state);
        self.settle(&myself, state, handled, None).await
    }

    async fn post_stop(
        &self,
        myself: ActorRef<Self::Msg>,
        state: &mut Self::State,
    ) -> Result<(), ActorProcessingErr> {
        match state.inner.as_mut() {
            Some(inner) => self.inner.post_stop(myself, inner).await,
            None => Ok(()),
        }
    }
}
