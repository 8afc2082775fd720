//! The ractor actor that hosts a [`DynamicState`].

use std::sync::Arc;

use ractor::{Actor, ActorProcessingErr, ActorRef, SupervisionEvent};

use crate::dynamic::state::{DynamicMsg, DynamicState};
use crate::dynamic::{DynamicSupervisorRef, DynamicSupervisorSpec};
use crate::events::{EventBus, HealingEventKind};
use crate::exit::ExitReason;
use crate::handle::{Control, ExitSlot, announce_stopped, exit_with_shutdown};
use crate::path::ChildPath;
use crate::supervisor::state::Flow;
use crate::watchdog::Watchdog;

pub(crate) struct DynamicActor;

pub(crate) struct DynamicArgs {
    pub(crate) spec: Arc<DynamicSupervisorSpec>,
    pub(crate) path: ChildPath,
    pub(crate) events: EventBus,
    /// The tree's watchdog; `None` for a root, which spawns it.
    pub(crate) watchdog: Option<Watchdog>,
    pub(crate) exit: Arc<ExitSlot>,
}

impl Actor for DynamicActor {
    type Msg = DynamicMsg;
    type State = DynamicState;
    type Arguments = DynamicArgs;

    async fn pre_start(
        &self,
        myself: ActorRef<Self::Msg>,
        args: DynamicArgs,
    ) -> Result<Self::State, ActorProcessingErr> {
        let watchdog = match args.watchdog {
            Some(watchdog) => watchdog,
            None => Watchdog::spawn(myself.get_cell(), args.events.clone()).await?,
        };
        let state = DynamicState::new(myself, &args.spec, args.path, args.events, watchdog, args.exit);
        state
            .host
            .events
            .emit(&state.path, HealingEventKind::SupervisorStarted { children: 0 });
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
            DynamicMsg::Start { spec, key, reply } => {
                let _ = reply.send(state.start_child(*spec, key).await);
                Flow::Continue
            }
            DynamicMsg::Terminate(handle, reply) => {
                let _ = reply.send(state.terminate_child(handle).await);
                Flow::Continue
            }
            DynamicMsg::WhichChildren(reply) => {
                let _ = reply.send(state.which_children());
                Flow::Continue
            }
            DynamicMsg::CountChildren(reply) => {
                let _ = reply.send(state.count_children());
                Flow::Continue
            }
            DynamicMsg::Follow(handle, reply) => {
                let _ = reply.send(state.follow_child(handle));
                Flow::Continue
            }
            DynamicMsg::Handle(reply) => {
                let _ = reply.send(DynamicSupervisorRef::new(Control {
                    actor: state.myself.clone(),
                    path: state.path.clone(),
                    events: state.host.events.clone(),
                    exit: Arc::clone(&state.exit),
                }));
                Flow::Continue
            }
            DynamicMsg::Health(reply) => {
                let _ = reply.send(state.health());
                Flow::Continue
            }
            DynamicMsg::RetryRestart(handle) => state.retry(handle).await,
            DynamicMsg::DelayedRestart(handle, generation) => state.delayed_restart(handle, generation).await,
            DynamicMsg::ChildGone(actor, reason) => state.on_exit(actor, reason).await,
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

fn finish(flow: Flow, state: &DynamicState) {
    if flow == Flow::Shutdown {
        exit_with_shutdown(&state.myself, &state.exit);
    }
}
