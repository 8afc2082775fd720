//! The actor behind [`ChildSpec::task`](crate::ChildSpec::task): runs one
//! async function and exits with its result.

use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::pin::Pin;
use std::sync::Arc;

use futures::FutureExt;
use ractor::{Actor, ActorProcessingErr, ActorRef};
use tokio::task::JoinHandle;

use crate::child::Linger;
use crate::spec::panic_text;
use crate::spec::{TaskContext, TaskError};

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
/// in synchronous code never reaches one, and the supervisor, which waits
/// for the work's [`Linger`] token, then reports the child stuck.
pub(crate) struct WorkGuard(JoinHandle<()>);

impl Drop for WorkGuard {
    fn drop(&mut self) {
        self.0.abort();
    }
}

impl Actor for TaskActor {
    type Msg = TaskFinished;
    type State = WorkGuard;
    type Arguments = (TaskContext, Linger);

    async fn pre_start(
        &self,
        myself: ActorRef<Self::Msg>,
        (ctx, linger): (TaskContext, Linger),
    ) -> Result<Self::State, ActorProcessingErr> {
        // Progress reports from library code inside the body (retry loops,
        // fallback chains) beat this incarnation's heartbeat.
        let progress = ctx.heartbeat.progress();
        let work = progress.scope((self.run)(ctx));
        let work = tokio::spawn(async move {
            let result = match AssertUnwindSafe(work).catch_unwind().await {
                Ok(Ok(())) => Ok(()),
                Ok(Err(error)) => Err(error.to_string()),
                Err(panic) => Err(panic_text(panic.as_ref())),
            };
            // The work has ended before the actor hears of it, so the
            // supervisor never waits for work that is done.
            drop(linger);
            // The actor may already be gone (stopped meanwhile): nothing to tell.
            let _ = myself.send_message(TaskFinished(result));
        });
        Ok(WorkGuard(work))
    }

    /// Aborts the work as soon as the actor stops. Dropping the state would
    /// too, but ractor hands a stopped actor's state to its supervisor inside
    /// the exit event, so a supervisor that waits for the work (as a stop
    /// does) would hold the very guard that ends it.
    async fn post_stop(
        &self,
        _myself: ActorRef<Self::Msg>,
        work: &mut Self::State,
    ) -> Result<(), ActorProcessingErr> {
        work.0.abort();
        Ok(())
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
