//! The actor behind [`ChildSpec::task`](crate::ChildSpec::task): runs one
//! async function and exits with its result.

use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use futures::FutureExt;
use ractor::{Actor, ActorProcessingErr, ActorRef};
use tokio::task::JoinHandle;

use crate::events::{EventBus, HealingEventKind};
use crate::path::ChildPath;
use crate::spec::panic_text;
use crate::spec::{TaskContext, TaskError};
use crate::watchdog::WatchdogStats;

type TaskFuture = Pin<Box<dyn Future<Output = Result<(), TaskError>> + Send>>;
type TaskFn = Arc<dyn Fn(TaskContext) -> TaskFuture + Send + Sync>;

#[derive(Clone)]
pub(crate) struct TaskActor {
    run: TaskFn,
}

impl TaskActor {
    pub(crate) fn new<F, Fut>(run: F) -> Self
    where
        F: Fn(TaskContext) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<(), TaskError>> + Send + 'static,
    {
        Self {
            run: Arc::new(move |ctx| Box::pin(run(ctx))),
        }
    }
}

/// The task's result, sent from the tokio task back to the actor.
pub(crate) struct TaskFinished(Result<(), String>);

/// Owns the task's work while the actor lives. Dropping it (on any stop, a
/// kill included: a kill skips `post_stop` but still drops the state) aborts
/// the work. An abort takes effect at the work's next `.await`; work blocked
/// in synchronous code never reaches one, so if it has not ended within the
/// kill bound it is counted and reported as stuck, never silently left
/// behind.
pub(crate) struct WorkGuard {
    work: Option<JoinHandle<()>>,
    stuck: StuckReport,
}

/// Where a task that would not end is reported.
#[derive(Clone, Debug)]
pub(crate) struct StuckReport {
    pub(crate) path: ChildPath,
    pub(crate) events: EventBus,
    pub(crate) stats: Arc<WatchdogStats>,
    pub(crate) kill_wait: Duration,
}

impl Drop for WorkGuard {
    fn drop(&mut self) {
        let Some(work) = self.work.take() else {
            return;
        };
        work.abort();
        if work.is_finished() {
            return;
        }
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            return;
        };
        let report = self.stuck.clone();
        runtime.spawn(async move {
            if tokio::time::timeout(report.kill_wait, work).await.is_err() {
                let stuck_total = report.stats.record_stuck();
                report
                    .events
                    .emit(&report.path, HealingEventKind::StuckTask { stuck_total });
            }
        });
    }
}

impl Actor for TaskActor {
    type Msg = TaskFinished;
    type State = WorkGuard;
    type Arguments = TaskContext;

    async fn pre_start(
        &self,
        myself: ActorRef<Self::Msg>,
        ctx: TaskContext,
    ) -> Result<Self::State, ActorProcessingErr> {
        let stuck = ctx.stuck.clone();
        let work = (self.run)(ctx);
        let work = tokio::spawn(async move {
            let result = match AssertUnwindSafe(work).catch_unwind().await {
                Ok(Ok(())) => Ok(()),
                Ok(Err(error)) => Err(error.to_string()),
                Err(panic) => Err(panic_text(panic.as_ref())),
            };
            // The actor may already be gone (stopped meanwhile): nothing to tell.
            let _ = myself.send_message(TaskFinished(result));
        });
        Ok(WorkGuard {
            work: Some(work),
            stuck,
        })
    }

    async fn handle(
        &self,
        myself: ActorRef<Self::Msg>,
        TaskFinished(result): TaskFinished,
        _state: &mut Self::State,
    ) -> Result<(), ActorProcessingErr> {
        match result {
            Ok(()) => {
                myself.stop(None);
                Ok(())
            }
            Err(error) => Err(error.into()),
        }
    }
}
