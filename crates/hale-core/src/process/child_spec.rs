//! `ChildSpec::process`: the adapter between process children and the
//! supervision core. Everything the process module uses of the core's start
//! contract is here.

use std::sync::Arc;

use ractor::Actor;

use crate::process::incarnation::Incarnation;
use crate::process::process_actor::ProcessActor;
use crate::process::{ProcessCommand, ProcessSpecError};
use crate::spec::{ChildSpec, StartContext, StartError, StartOutcome};

impl ChildSpec {
    /// A child that is an OS process: every start runs `command` in a
    /// process group of its own, under the same restart types, strategies,
    /// intensity, shutdown rule, watchdog, health and events as any other
    /// child. See the [`process`](crate::process) module for the whole
    /// story (exit classification, shutdown, the notify protocol, limits).
    ///
    /// The shutdown rule works on the program: a stop sends SIGTERM to its
    /// process group, waits the child's shutdown timeout (default 5 s), then
    /// sends SIGKILL to the group; [`Shutdown::BrutalKill`](crate::Shutdown::BrutalKill)
    /// sends SIGKILL at once.
    ///
    /// # Errors
    ///
    /// A value in `command` that cannot work (an empty program, a zero or
    /// over-long timeout, a NUL byte, ...): see [`ProcessSpecError`].
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// use std::time::Duration;
    /// use hale_core::{ChildSpec, HealingEventKind, ExitReason, Restart, Supervisor, SupervisorSpec};
    /// use hale_core::process::ProcessCommand;
    ///
    /// let job = ChildSpec::process("job", ProcessCommand::new("/bin/sh").args(["-c", "exit 3"]))?
    ///     .restart(Restart::Temporary);
    /// let root = Supervisor::start(SupervisorSpec::new("root")).await?;
    /// let mut events = root.subscribe();
    /// root.start_child(job).await?;
    /// let exited = events
    ///     .wait_for(Duration::from_secs(10), |event| {
    ///         matches!(event.kind, HealingEventKind::ChildExited { .. })
    ///     })
    ///     .await
    ///     .expect("the job exits");
    /// assert!(matches!(
    ///     exited.kind,
    ///     HealingEventKind::ChildExited { reason: ExitReason::ExitCode(3), .. }
    /// ));
    /// root.stop(Duration::from_secs(5)).await;
    /// # Ok(())
    /// # }
    /// ```
    pub fn process(id: impl Into<String>, command: ProcessCommand) -> Result<Self, ProcessSpecError> {
        let id = id.into();
        command.validate(&id)?;
        let watch = command.watch.as_ref().map(|(watch, _)| watch.clone());
        let view = command.view();
        let command = Arc::new(command);
        let mut spec = Self::new(id, move |ctx| start(Arc::clone(&command), ctx));
        spec.process = Some(view);
        Ok(match watch {
            Some(watch) => spec.watch(watch),
            None => spec,
        })
    }
}

/// One start: spawn, wait for readiness if asked, then hand the run to a
/// linked actor.
async fn start(command: Arc<ProcessCommand>, ctx: StartContext) -> Result<StartOutcome, StartError> {
    let incarnation = Incarnation::spawn(&command, ctx.path(), ctx.heartbeat())
        .await
        .map_err(StartError::new)?;
    if let Some(timeout) = command.ready_timeout {
        // On an error the incarnation is dropped here: its group is killed
        // and the program reaped.
        incarnation.until_ready(timeout).await.map_err(StartError::new)?;
    }
    let (actor, _join) =
        Actor::spawn_linked(None, ProcessActor, incarnation, ctx.supervisor().clone()).await?;
    Ok(StartOutcome::Started(actor.get_cell()))
}
