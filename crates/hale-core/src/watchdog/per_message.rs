//! The wrapper behind [`Watch::per_message`](crate::Watch::per_message).

use ractor::{Actor, ActorProcessingErr, ActorRef, SupervisionEvent};

use crate::watchdog::Heartbeat;

/// Any actor, with its heartbeat stamped as every message it handles
/// begins and ends (on the tree's coarse clock: no clock read per message). The message type is the actor's own, so references to
/// it are unchanged.
pub(crate) struct PerMessage<A> {
    pub(crate) inner: A,
    pub(crate) heartbeat: Heartbeat,
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
