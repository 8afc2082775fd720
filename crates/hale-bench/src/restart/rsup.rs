//! The `ractor-supervisor` crate (0.2), through its public API. Its
//! children must be named (it finds them by name), so names carry a
//! per-run prefix to stay unique in ractor's global registry.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use ractor::ActorRef;
use ractor_supervisor::{
    ChildSpec, Restart, SpawnFn, Supervisor, SupervisorArguments, SupervisorMsg, SupervisorOptions,
    SupervisorStrategy,
};
use tokio::sync::mpsc::UnboundedSender;

use crate::BenchResult;
use crate::child::{BenchChild, ChildMsg, Started};
use crate::restart::{Case, CrashKind, Strategy, System, crash_ractor};

/// ractor-supervisor.
pub(crate) struct RactorSupervisor;

static RUN: AtomicU64 = AtomicU64::new(0);

/// A fresh prefix for the names of one run's actors.
pub(crate) fn run_prefix() -> String {
    format!("rs{}", RUN.fetch_add(1, Ordering::Relaxed))
}

/// A spec whose spawn function starts a [`BenchChild`] linked to the supervisor.
pub(crate) fn bench_spec(id: String, child: BenchChild) -> ChildSpec {
    ChildSpec {
        id,
        restart: Restart::Permanent,
        spawn_fn: SpawnFn::new(move |supervisor, id| {
            let child = child.clone();
            async move {
                let (actor, _join) = Supervisor::spawn_linked(id, child, (), supervisor).await?;
                Ok(actor.get_cell())
            }
        }),
        backoff_fn: None,
        reset_after: None,
    }
}

impl System for RactorSupervisor {
    const NAME: &'static str = "ractor-supervisor";
    type Handle = ActorRef<ChildMsg>;
    type Running = ActorRef<SupervisorMsg>;

    async fn start(
        case: &Case,
        reports: UnboundedSender<Started<Self::Handle>>,
    ) -> BenchResult<Self::Running> {
        let prefix = run_prefix();
        let child_specs = (0..case.children)
            .map(|index| {
                let child = BenchChild {
                    index,
                    reports: Some(reports.clone()),
                };
                bench_spec(format!("{prefix}-c{index}"), child)
            })
            .collect();
        let options = SupervisorOptions {
            strategy: match case.strategy {
                Strategy::OneForOne => SupervisorStrategy::OneForOne,
                Strategy::OneForAll => SupervisorStrategy::OneForAll,
                Strategy::RestForOne => SupervisorStrategy::RestForOne,
            },
            max_restarts: usize::MAX,
            max_window: Duration::from_secs(1),
            reset_after: None,
        };
        let args = SupervisorArguments { child_specs, options };
        let (supervisor, _join) = Supervisor::spawn(format!("{prefix}-sup"), args).await?;
        Ok(supervisor)
    }

    fn crash(handle: &Self::Handle, crash: CrashKind) -> BenchResult<()> {
        crash_ractor(handle, crash)
    }

    async fn stop(running: Self::Running) {
        // Its post_stop does not stop the children: kill them too.
        let children = running.get_children();
        let _ = running.stop_and_wait(None, Some(Duration::from_secs(30))).await;
        for child in children {
            child.kill();
            let _ = child.wait(Some(Duration::from_secs(5))).await;
        }
    }
}
