//! The ractor actor that hosts a [`SupervisorState`].

use std::sync::Arc;

use ractor::{Actor, ActorProcessingErr, ActorRef, SupervisionEvent};

use crate::events::EventBus;
use crate::exit::ExitReason;
use crate::handle::{ExitSlot, announce_stopped, exit_with_shutdown};
use crate::path::ChildPath;
use crate::spec::SupervisorSpec;
use crate::supervisor::SupervisorRef;
use crate::supervisor::messages::SupervisorMsg;
use crate::supervisor::state::{Flow, SupervisorState};
use crate::watchdog::Watchdog;

pub(crate) struct SupervisorActor;

pub(crate) struct SupervisorArgs {
    pub(crate) spec: Arc<SupervisorSpec>,
    pub(crate) path: ChildPath,
    pub(crate) events: EventBus,
    /// The tree's watchdog; `None` for a root, which spawns it.
    pub(crate) watchdog: Option<Watchdog>,
    pub(crate) exit: Arc<ExitSlot>,
}

impl Actor for SupervisorActor {
    type Msg = SupervisorMsg;
    type State = SupervisorState;
    type Arguments = SupervisorArgs;

    /// Starts every child before the supervisor counts as started, as OTP's
    /// `init` does: a failure comes back to whoever started the supervisor.
    async fn pre_start(
        &self,
        myself: ActorRef<Self::Msg>,
        args: SupervisorArgs,
    ) -> Result<Self::State, ActorProcessingErr> {
        let watchdog = match args.watchdog {
            Some(watchdog) => watchdog,
            None => Watchdog::spawn(myself.get_cell(), args.events.clone()).await?,
        };
        let mut state = SupervisorState::new(
            myself,
            args.path,
            args.spec.flags,
            args.spec.children.clone(),
            args.events,
            watchdog,
            args.exit,
        );
        state.start_all().await?;
        Ok(state)
    }

    async fn handle(
        &self,
        _myself: ActorRef<Self::Msg>,
        message: Self::Msg,
        state: &mut Self::State,
    ) -> Result<(), ActorProcessingErr> {
        // A caller that gave up waiting dropped its reply port: nothing to do.
        let flow = match message {
            SupervisorMsg::StartChild(spec, reply) => {
                let _ = reply.send(state.start_child(*spec).await);
                Flow::Continue
            }
            SupervisorMsg::TerminateChild(id, reply) => {
                let _ = reply.send(state.terminate_child(&id).await);
                Flow::Continue
            }
            SupervisorMsg::RestartChild(id, reply) => {
                let _ = reply.send(state.restart_child(&id).await);
                Flow::Continue
            }
            SupervisorMsg::DeleteChild(id, reply) => {
                let _ = reply.send(state.delete_child(&id));
                Flow::Continue
            }
            SupervisorMsg::WhichChildren(reply) => {
                let _ = reply.send(state.which_children());
                Flow::Continue
            }
            SupervisorMsg::CountChildren(reply) => {
                let _ = reply.send(state.count_children());
                Flow::Continue
            }
            SupervisorMsg::GetChildSpec(id, reply) => {
                let _ = reply.send(state.get_childspec(&id));
                Flow::Continue
            }
            SupervisorMsg::FollowChild(id, reply) => {
                let _ = reply.send(state.follow_child(&id));
                Flow::Continue
            }
            SupervisorMsg::Handle(reply) => {
                let _ = reply.send(SupervisorRef::from_state(state));
                Flow::Continue
            }
            SupervisorMsg::Health(reply) => {
                let _ = reply.send(state.health().await);
                Flow::Continue
            }
            SupervisorMsg::WatchdogCounts(reply) => {
                let _ = reply.send(state.host.watchdog.stats().counts());
                Flow::Continue
            }
            SupervisorMsg::RetryRestart(id) => state.retry(&id).await,
            SupervisorMsg::DelayedRestart(id, generation) => state.delayed_restart(&id, generation).await,
            SupervisorMsg::ChildGone(actor, reason) => state.on_exit(actor, reason).await,
        };
        finish(flow, state);
        Ok(())
    }

    async fn handle_supervisor_evt(
        &self,
        _myself: ActorRef<Self::Msg>,
        event: SupervisionEvent,
        state: &mut Self::State,
    ) -> Result<(), ActorProcessingErr> {
        // Overrides ractor's default, which would stop the supervisor when
        // any child exits.
        if let Some((actor, reason)) = ExitReason::from_event(&event) {
            let flow = state.on_exit(actor, reason).await;
            finish(flow, state);
        }
        Ok(())
    }

    async fn post_stop(
        &self,
        _myself: ActorRef<Self::Msg>,
        state: &mut Self::State,
    ) -> Result<(), ActorProcessingErr> {
        state.stop_all().await;
        announce_stopped(&state.exit, &state.host.events, &state.path);
        Ok(())
    }
}

fn finish(flow: Flow, state: &mut SupervisorState) {
    if flow == Flow::Shutdown {
        exit_with_shutdown(&state.myself, &state.exit);
    }
}
