//! kameo (0.22) supervision, through its public API: a supervisor actor
//! whose `on_start` spawns supervised children; a child reports from its
//! `on_start` (kameo has no separate post-start hook) and crashes when a
//! handler returns an error (kameo then stops it as if it panicked) or when
//! it is killed.

use std::time::Duration;

use kameo::actor::{Actor, ActorRef, Spawn};
use kameo::error::Infallible;
use kameo::message::{Context, Message};
use kameo::supervision::{RestartPolicy, SupervisionStrategy};
use tokio::sync::mpsc::UnboundedSender;

use crate::BenchResult;
use crate::child::{Crash, Started};
use crate::restart::{Case, CrashKind, Strategy, System};

/// kameo.
pub(crate) struct Kameo;

/// The kameo child.
#[derive(Clone)]
pub(crate) struct KChild {
    index: usize,
    reports: UnboundedSender<Started<ActorRef<KChild>>>,
}

impl Actor for KChild {
    type Args = Self;
    type Error = Infallible;

    async fn on_start(args: Self, actor_ref: ActorRef<Self>) -> Result<Self, Infallible> {
        let _ = args.reports.send(Started {
            index: args.index,
            handle: actor_ref,
        });
        Ok(args)
    }
}

/// Makes the child's handler return an error.
pub(crate) struct Fail;

impl Message<Fail> for KChild {
    type Reply = Result<(), Crash>;

    async fn handle(&mut self, _msg: Fail, _ctx: &mut Context<Self, Self::Reply>) -> Self::Reply {
        Err(Crash)
    }
}

/// The supervisor; `S` picks the strategy (kameo reads it from the type).
pub(crate) struct KSup<const S: u8>;

const ONE_FOR_ONE: u8 = 0;
const ONE_FOR_ALL: u8 = 1;
const REST_FOR_ONE: u8 = 2;

impl<const S: u8> Actor for KSup<S> {
    type Args = (usize, UnboundedSender<Started<ActorRef<KChild>>>);
    type Error = Infallible;

    fn supervision_strategy() -> SupervisionStrategy {
        match S {
            ONE_FOR_ALL => SupervisionStrategy::OneForAll,
            REST_FOR_ONE => SupervisionStrategy::RestForOne,
            _ => SupervisionStrategy::OneForOne,
        }
    }

    async fn on_start(
        (children, reports): Self::Args,
        actor_ref: ActorRef<Self>,
    ) -> Result<Self, Infallible> {
        for index in 0..children {
            let child = KChild {
                index,
                reports: reports.clone(),
            };
            KChild::supervise(&actor_ref, child)
                .restart_policy(RestartPolicy::Permanent)
                .restart_limit(u32::MAX, Duration::from_secs(1))
                .spawn()
                .await;
        }
        Ok(Self)
    }
}

/// A running kameo supervisor of any strategy.
pub(crate) enum Running {
    OneForOne(ActorRef<KSup<ONE_FOR_ONE>>),
    OneForAll(ActorRef<KSup<ONE_FOR_ALL>>),
    RestForOne(ActorRef<KSup<REST_FOR_ONE>>),
}

impl System for Kameo {
    const NAME: &'static str = "kameo";
    type Handle = ActorRef<KChild>;
    type Running = Running;

    async fn start(case: &Case, reports: UnboundedSender<Started<Self::Handle>>) -> BenchResult<Running> {
        let args = (case.children, reports);
        Ok(match case.strategy {
            Strategy::OneForOne => Running::OneForOne(KSup::<ONE_FOR_ONE>::spawn(args)),
            Strategy::OneForAll => Running::OneForAll(KSup::<ONE_FOR_ALL>::spawn(args)),
            Strategy::RestForOne => Running::RestForOne(KSup::<REST_FOR_ONE>::spawn(args)),
        })
    }

    fn crash(handle: &Self::Handle, crash: CrashKind) -> BenchResult<()> {
        match crash {
            CrashKind::Error => handle
                .tell(Fail)
                .try_send()
                .map_err(|error| format!("kameo crash message not delivered: {error}"))?,
            CrashKind::Kill => handle.kill(),
        }
        Ok(())
    }

    async fn stop(running: Running) {
        match running {
            Running::OneForOne(sup) => stop_kameo(&sup).await,
            Running::OneForAll(sup) => stop_kameo(&sup).await,
            Running::RestForOne(sup) => stop_kameo(&sup).await,
        }
    }
}

async fn stop_kameo<A: Actor>(sup: &ActorRef<A>) {
    let _ = sup.stop_gracefully().await;
    let _ = tokio::time::timeout(Duration::from_secs(30), sup.wait_for_shutdown()).await;
}
