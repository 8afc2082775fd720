//! The floor: a minimal hand-written ractor parent. It respawns a child at
//! once in `handle_supervisor_evt`; for a group it stops the others the way
//! OTP's shutdown stops brutal-kill children, unlinked first (so no exit
//! comes back to be handled), but kills them all at once and then waits for
//! all of them (no brutal-kill child runs cleanup that could see the order),
//! then spawns the group in order. No events, no intensity, no specs: the
//! least any correct ractor-based supervisor can cost.

use std::collections::HashMap;
use std::ops::Range;
use std::time::Duration;

use ractor::{Actor, ActorCell, ActorId, ActorProcessingErr, ActorRef, SupervisionEvent};
use tokio::sync::mpsc::UnboundedSender;

use crate::BenchResult;
use crate::child::{BenchChild, ChildMsg, Started};
use crate::restart::{Case, CrashKind, Strategy, System, crash_ractor};

/// The floor.
pub(crate) struct Floor;

pub(crate) struct FloorParent;

pub(crate) struct FloorArgs {
    pub(crate) strategy: Strategy,
    pub(crate) children: usize,
    pub(crate) reports: Option<UnboundedSender<Started<ActorRef<ChildMsg>>>>,
}

pub(crate) struct FloorState {
    strategy: Strategy,
    reports: Option<UnboundedSender<Started<ActorRef<ChildMsg>>>>,
    children: Vec<Option<ActorCell>>,
    by_id: HashMap<ActorId, usize>,
}

/// What the floor parent answers besides supervision events.
pub(crate) enum FloorMsg {
    /// Add one more child (dynamic runs); answers with it.
    Spawn(ractor::RpcReplyPort<ActorCell>),
}

impl FloorState {
    async fn spawn(&mut self, myself: &ActorCell, index: usize) -> Result<ActorCell, ActorProcessingErr> {
        let child = BenchChild {
            index,
            reports: self.reports.clone(),
        };
        let (actor, _join) = Actor::spawn_linked(None, child, (), myself.clone()).await?;
        let cell = actor.get_cell();
        self.by_id.insert(cell.get_id(), index);
        if index == self.children.len() {
            self.children.push(Some(cell.clone()));
        } else {
            self.children[index] = Some(cell.clone());
        }
        Ok(cell)
    }

    fn group(&self, index: usize) -> Range<usize> {
        match self.strategy {
            Strategy::OneForOne => index..index + 1,
            Strategy::OneForAll => 0..self.children.len(),
            Strategy::RestForOne => index..self.children.len(),
        }
    }
}

impl Actor for FloorParent {
    type Msg = FloorMsg;
    type State = FloorState;
    type Arguments = FloorArgs;

    async fn pre_start(
        &self,
        myself: ActorRef<FloorMsg>,
        args: FloorArgs,
    ) -> Result<FloorState, ActorProcessingErr> {
        let mut state = FloorState {
            strategy: args.strategy,
            reports: args.reports,
            children: Vec::with_capacity(args.children),
            by_id: HashMap::with_capacity(args.children),
        };
        for index in 0..args.children {
            state.spawn(&myself.get_cell(), index).await?;
        }
        Ok(state)
    }

    async fn handle(
        &self,
        myself: ActorRef<FloorMsg>,
        message: FloorMsg,
        state: &mut FloorState,
    ) -> Result<(), ActorProcessingErr> {
        match message {
            FloorMsg::Spawn(reply) => {
                let index = state.children.len();
                let cell = state.spawn(&myself.get_cell(), index).await?;
                let _ = reply.send(cell);
            }
        }
        Ok(())
    }

    async fn handle_supervisor_evt(
        &self,
        myself: ActorRef<FloorMsg>,
        event: SupervisionEvent,
        state: &mut FloorState,
    ) -> Result<(), ActorProcessingErr> {
        let (SupervisionEvent::ActorTerminated(cell, ..) | SupervisionEvent::ActorFailed(cell, _)) = event
        else {
            return Ok(());
        };
        // Exits of children we stopped ourselves are not ours any more.
        let Some(index) = state.by_id.remove(&cell.get_id()) else {
            return Ok(());
        };
        state.children[index] = None;
        let group = state.group(index);
        let me = myself.get_cell();
        let mut killed = Vec::with_capacity(group.len());
        for sibling in group.clone().rev() {
            if let Some(running) = state.children[sibling].take() {
                state.by_id.remove(&running.get_id());
                running.unlink(me.clone());
                running.kill();
                killed.push(running);
            }
        }
        for running in killed {
            let _ = running.wait(Some(Duration::from_secs(5))).await;
        }
        for sibling in group {
            state.spawn(&me, sibling).await?;
        }
        Ok(())
    }

    async fn post_stop(
        &self,
        _myself: ActorRef<FloorMsg>,
        state: &mut FloorState,
    ) -> Result<(), ActorProcessingErr> {
        for running in state.children.iter_mut().rev().filter_map(Option::take) {
            running.kill();
            let _ = running.wait(Some(Duration::from_secs(5))).await;
        }
        Ok(())
    }
}

impl System for Floor {
    const NAME: &'static str = "floor";
    type Handle = ActorRef<ChildMsg>;
    type Running = ActorRef<FloorMsg>;

    async fn start(
        case: &Case,
        reports: UnboundedSender<Started<Self::Handle>>,
    ) -> BenchResult<Self::Running> {
        let args = FloorArgs {
            strategy: case.strategy,
            children: case.children,
            reports: Some(reports),
        };
        let (parent, _join) = Actor::spawn(None, FloorParent, args).await?;
        Ok(parent)
    }

    fn crash(handle: &Self::Handle, crash: CrashKind) -> BenchResult<()> {
        crash_ractor(handle, crash)
    }

    async fn stop(running: Self::Running) {
        let _ = running.stop_and_wait(None, Some(Duration::from_secs(30))).await;
    }
}
