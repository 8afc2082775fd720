//! [`SupervisorActor`]: the ractor actor that hosts a [`SupervisorState`],
//! static or dynamic.

use std::sync::Arc;

use ractor::{Actor, ActorProcessingErr, ActorRef, SupervisionEvent};

use crate::events::EventBus;
use crate::exit::ExitReason;
use crate::intensity::RestartWindow;
use crate::path::ChildPath;
use crate::spec::{DynamicSupervisorSpec, SupervisorSpec};
use crate::supervisor::state::{Flavor, Flow, SupervisorState};
use crate::supervisor::{ExitSlot, SupervisorMsg, announce_stopped, exit_with_shutdown};
use crate::watchdog::Watchdog;

pub(crate) struct SupervisorActor;

/// The spec a supervisor is started from.
#[derive(Clone)]
pub(crate) enum Blueprint {
    Static(Arc<SupervisorSpec>),
    Dynamic(Arc<DynamicSupervisorSpec>),
}

pub(crate) struct SupervisorArgs {
    pub(crate) blueprint: Blueprint,
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
            None => Watchdog::spawn(myself.get_cell(), args.path.clone(), args.events.clone()).await?,
        };
        let (flavor, window, specs) = match args.blueprint {
            Blueprint::Static(spec) => (
                Flavor::Static {
                    strategy: spec.flags.strategy,
                    auto_shutdown: spec.flags.auto_shutdown,
                },
                RestartWindow::new(spec.flags.intensity, spec.flags.period),
                spec.children.clone(),
            ),
            Blueprint::Dynamic(spec) => (
                Flavor::Dynamic {
                    max_children: spec.max_children,
                    identity: crate::dynamic::DynamicChildId::next_supervisor(),
                },
                RestartWindow::new(spec.intensity, spec.period),
                Vec::new(),
            ),
        };
        let mut state = SupervisorState::new(
            myself,
            args.path,
            flavor,
            window,
            specs,
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
            SupervisorMsg::StartDynamic { spec, key, reply } => {
                let _ = reply.send(state.start_dynamic(*spec, key).await);
                Flow::Continue
            }
            SupervisorMsg::TerminateChild(address, reply) => {
                let _ = reply.send(state.terminate_child(address).await);
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
            SupervisorMsg::FollowChild(address, reply) => {
                let _ = reply.send(state.follow_child(address));
                Flow::Continue
            }
            SupervisorMsg::Control(reply) => {
                let _ = reply.send(state.control());
                Flow::Continue
            }
            SupervisorMsg::Health(reply) => {
                let _ = reply.send(state.health().await);
                Flow::Continue
            }
            SupervisorMsg::WatchdogCounts(reply) => {
                let _ = reply.send(state.host.watchdog.counts());
                Flow::Continue
            }
            SupervisorMsg::RetryRestart(serial) => state.retry(serial).await,
            SupervisorMsg::DelayedRestart(serial, generation) => {
                state.delayed_restart(serial, generation).await
            }
            SupervisorMsg::ChildGone(actor, reason) => state.on_exit(actor, reason, None).await,
            SupervisorMsg::ChildParked(actor, reason, parked) => {
                state.on_exit(actor, reason, Some(parked)).await
            }
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
            let flow = state.on_exit(actor, reason, None).await;
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

fn finish(flow: Flow, state: &SupervisorState) {
    if flow == Flow::Shutdown {
        exit_with_shutdown(&state.myself, &state.exit);
    }
}
