//! The wrapper behind [`Watch::per_message`](crate::Watch::per_message).

use std::sync::atomic::{AtomicBool, Ordering};

use ractor::{Actor, ActorProcessingErr, ActorRef, SupervisionEvent};

use crate::watchdog::Heartbeat;

/// Any actor, with its heartbeat stamped as every message it handles
/// begins and ends (on the tree's coarse clock: no clock read per message).
/// The message type is the actor's own, so references to it are unchanged.
///
/// One wrapper lives for one incarnation.
pub(crate) struct PerMessage<A> {
    pub(crate) inner: A,
    pub(crate) heartbeat: Heartbeat,
    /// Whether the first handler has let the tasks it woke run (see
    /// [`PerMessage::before_first_handler`]).
    settled: AtomicBool,
}

impl<A> PerMessage<A> {
    pub(crate) fn new(inner: A, heartbeat: Heartbeat) -> Self {
        Self {
            inner,
            heartbeat,
            settled: AtomicBool::new(false),
        }
    }

    /// ractor reports a start to the supervisor, which wakes it, and then
    /// takes the first message in the same poll of the actor's task. tokio
    /// puts the woken supervisor in this worker's LIFO slot, which no other
    /// worker may take (tokio#4941): if the first handler then blocks its
    /// thread, which is what the watchdog is there for, the supervisor
    /// would wait for the blocked thread and never replace the child. One
    /// yield before the first handler lets it run first; later handlers pay
    /// one relaxed load.
    async fn before_first_handler(&self) {
        if !self.settled.load(Ordering::Relaxed) {
            self.settled.store(true, Ordering::Relaxed);
            tokio::task::yield_now().await;
        }
    }
}

impl<A: Actor> Actor for PerMessage<A> {
    type Msg = A::Msg;
    type State = A::State;
    type Arguments = A::Arguments;

    async fn pre_start(
        &self,
        myself: ActorRef<Self::Msg>,
        args: Self::Arguments,
    ) -> Result<Self::State, ActorProcessingErr> {
        self.inner.pre_start(myself, args).await
    }

    async fn post_start(
        &self,
        myself: ActorRef<Self::Msg>,
        state: &mut Self::State,
    ) -> Result<(), ActorProcessingErr> {
        self.inner.post_start(myself, state).await
    }

    async fn handle(
        &self,
        myself: ActorRef<Self::Msg>,
        message: Self::Msg,
        state: &mut Self::State,
    ) -> Result<(), ActorProcessingErr> {
        self.before_first_handler().await;
        self.heartbeat.handler_started();
        let handled = self.inner.handle(myself, message, state).await;
        self.heartbeat.handler_finished();
        handled
    }

    async fn handle_supervisor_evt(
        &self,
        myself: ActorRef<Self::Msg>,
        event: SupervisionEvent,
        state: &mut Self::State,
    ) -> Result<(), ActorProcessingErr> {
        self.before_first_handler().await;
        self.heartbeat.handler_started();
        let handled = self.inner.handle_supervisor_evt(myself, event, state).await;
        self.heartbeat.handler_finished();
        handled
    }

    async fn post_stop(
        &self,
        myself: ActorRef<Self::Msg>,
        state: &mut Self::State,
    ) -> Result<(), ActorProcessingErr> {
        self.inner.post_stop(myself, state).await
    }
}
