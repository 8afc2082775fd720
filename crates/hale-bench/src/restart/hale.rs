//! Hale's `Supervisor`, configured like the OTP anchor: brutal-kill
//! shutdown for workers, an intensity no run reaches in a 1 s period.

use std::time::Duration;

use hale_core::{ChildSpec, Shutdown, Supervisor, SupervisorRef, SupervisorSpec};
use ractor::ActorRef;
use tokio::sync::mpsc::UnboundedSender;

use crate::BenchResult;
use crate::child::{BenchChild, ChildMsg, Started};
use crate::restart::{Case, CrashKind, Strategy, System, crash_ractor};

/// Hale.
pub(crate) struct Hale;

pub(crate) fn hale_strategy(strategy: Strategy) -> hale_core::Strategy {
    match strategy {
        Strategy::OneForOne => hale_core::Strategy::OneForOne,
        Strategy::OneForAll => hale_core::Strategy::OneForAll,
        Strategy::RestForOne => hale_core::Strategy::RestForOne,
    }
}

impl System for Hale {
    const NAME: &'static str = "Hale";
    type Handle = ActorRef<ChildMsg>;
    type Running = SupervisorRef;

    async fn start(
        case: &Case,
        reports: UnboundedSender<Started<Self::Handle>>,
    ) -> BenchResult<SupervisorRef> {
        let children = (0..case.children).map(|index| {
            let child = BenchChild {
                index,
                reports: Some(reports.clone()),
            };
            ChildSpec::actor(format!("c{index}"), child, ()).shutdown(Shutdown::BrutalKill)
        });
        let spec = SupervisorSpec::new("bench")
            .strategy(hale_strategy(case.strategy))
            .intensity(u32::MAX)
            .period(Duration::from_secs(1))
            .children(children);
        Ok(Supervisor::start(spec).await?)
    }

    fn crash(handle: &Self::Handle, crash: CrashKind) -> BenchResult<()> {
        crash_ractor(handle, crash)
    }

    async fn stop(running: SupervisorRef) {
        running.stop(Duration::from_secs(10)).await;
    }
}
