//! Hale's `Supervisor`, configured like the OTP anchor: brutal-kill
//! shutdown for workers, an intensity no run reaches in a 1 s period.

use std::time::Duration;

use hale_core::{ChildSpec, Shutdown, Supervisor, SupervisorRef, SupervisorSpec};
use ractor::ActorRef;
use tokio::sync::mpsc::UnboundedSender;

use crate::BenchResult;
use crate::child::{BenchChild, ChildMsg, Started};
use crate::restart::{Case, CrashKind, Strategy, System, crash_ractor};

/// Hale, its children restarted in place or by a fresh spawn.
pub(crate) struct HaleOf<const IN_PLACE: bool>;

/// Hale, children spawned fresh on a restart (OTP's way).
pub(crate) type Hale = HaleOf<false>;

/// Hale, children restarted in place.
pub(crate) type HaleInPlace = HaleOf<true>;

pub(crate) fn hale_strategy(strategy: Strategy) -> hale_core::Strategy {
    match strategy {
        Strategy::OneForOne => hale_core::Strategy::OneForOne,
        Strategy::OneForAll => hale_core::Strategy::OneForAll,
        Strategy::RestForOne => hale_core::Strategy::RestForOne,
    }
}

/// A Hale root like the OTP anchor's, its children in place or not.
async fn start_hale(
    case: &Case,
    reports: UnboundedSender<Started<ActorRef<ChildMsg>>>,
    in_place: bool,
) -> BenchResult<SupervisorRef> {
    let children = (0..case.children).map(|index| {
        let child = BenchChild {
            index,
            reports: Some(reports.clone()),
        };
        ChildSpec::actor(format!("c{index}"), child, ())
            .shutdown(Shutdown::BrutalKill)
            .in_place(in_place)
    });
    let spec = SupervisorSpec::new("bench")
        .strategy(hale_strategy(case.strategy))
        .intensity(u32::MAX)
        .period(Duration::from_secs(1))
        .children(children);
    Ok(Supervisor::start(spec).await?)
}

impl<const IN_PLACE: bool> System for HaleOf<IN_PLACE> {
    const NAME: &'static str = if IN_PLACE { "Hale in place" } else { "Hale" };
    type Handle = ActorRef<ChildMsg>;
    type Running = SupervisorRef;

    async fn start(
        case: &Case,
        reports: UnboundedSender<Started<Self::Handle>>,
    ) -> BenchResult<SupervisorRef> {
        start_hale(case, reports, IN_PLACE).await
    }

    fn crash(handle: &Self::Handle, crash: CrashKind) -> BenchResult<()> {
        crash_ractor(handle, crash)
    }

    async fn stop(running: SupervisorRef) {
        running.stop(Duration::from_secs(10)).await;
    }
}
