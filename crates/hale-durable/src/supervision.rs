//! The touch points with hale-core, in one place: every workflow run is a
//! task child of one dynamic supervisor, restarted (transient) when it
//! crashes; a restart resumes from the last checkpoint because the task's
//! work is "drive this workflow from its store", never "start it over".
//!
//! Joining duplicate starts and delivering a run's result happen in the
//! engine ([`crate::Durable`]), which keys children by workflow id and
//! activation; `start_unique` is the second guard.

use std::future::Future;
use std::time::Duration;

use hale_core::{
    ChildSpec, DynamicStart, DynamicSupervisor, DynamicSupervisorRef, DynamicSupervisorSpec, EventBus,
    HealingEventKind, RecvError, Restart, TaskError,
};
use tokio::task::JoinHandle;

use crate::error::DurableError;

/// How far the crash watcher may fall behind the runs' healing events
/// before it misses some (and says so).
const CRASH_EVENTS: usize = 1 << 14;

/// The supervisor that workflow runs live under.
#[derive(Clone, Debug)]
pub(crate) struct Agents {
    supervisor: DynamicSupervisorRef,
}

impl Agents {
    pub(crate) async fn start(name: &str, intensity: u32, period: Duration) -> Result<Self, DurableError> {
        let spec = DynamicSupervisorSpec::new(name)
            .intensity(intensity)
            .period(period)
            .events(&EventBus::with_capacity(CRASH_EVENTS));
        let supervisor = DynamicSupervisor::start(spec)
            .await
            .map_err(|error| DurableError::InvalidSetting(error.to_string()))?;
        Ok(Self { supervisor })
    }

    /// Runs `work` as a supervised task keyed `key`. `work` gets the
    /// incarnation: 0 for the start, 1, 2, ... for restarts after crashes.
    pub(crate) async fn spawn<F, Fut>(&self, key: String, work: F) -> Result<(), String>
    where
        F: Fn(u32) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<(), String>> + Send + 'static,
    {
        let spec = ChildSpec::task(key.clone(), move |ctx| {
            let run = work(ctx.restarts());
            async move { run.await.map_err(TaskError::from) }
        })
        .restart(Restart::Transient);
        match self.supervisor.start_unique(key, spec).await {
            Ok(DynamicStart::Started(_) | DynamicStart::AlreadyRunning(_)) => Ok(()),
            Ok(DynamicStart::Ignored) => Err("the task's start was ignored".into()),
            Err(error) => Err(error.to_string()),
        }
    }

    /// Watches the supervisor's healing events and awaits `on_crash` with
    /// the workflow id, the exit reason and whether it will be restarted for
    /// every abnormal exit of a run's agent, one at a time: a storm of
    /// crashes waits in the supervisor's event stream, not in tasks here.
    pub(crate) fn watch_crashes<F, Fut>(&self, on_crash: F) -> JoinHandle<()>
    where
        F: Fn(String, String, bool) -> Fut + Send + 'static,
        Fut: Future<Output = ()> + Send,
    {
        let mut events = self.supervisor.subscribe();
        tokio::spawn(async move {
            loop {
                let event = match events.recv().await {
                    Ok(event) => event,
                    Err(RecvError::Lagged(missed)) => {
                        // Never silent: the audit log lacks these crashes.
                        tracing::error!(
                            target: "hale::durable",
                            missed,
                            "the crash watcher fell behind; crashes among the missed healing events are not audited"
                        );
                        continue;
                    }
                    Err(RecvError::Closed) => return,
                };
                let HealingEventKind::ChildExited { reason, will_restart } = &event.kind else {
                    continue;
                };
                if reason.is_normal() {
                    continue;
                }
                // A child's leaf is `<workflow id>@<activation>#<handle>`.
                if let Some((workflow, _)) = event.path.leaf().rsplit_once('@') {
                    on_crash(workflow.to_owned(), format!("{reason:?}"), *will_restart).await;
                }
            }
        })
    }

    pub(crate) async fn stop(&self, limit: Duration) {
        self.supervisor.stop(limit).await;
    }
}
