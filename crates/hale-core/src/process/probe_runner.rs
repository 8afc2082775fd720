//! Running a liveness probe command on its schedule.

use std::sync::Arc;

use rustix::process::Signal;
use tokio::signal::unix::{Signal as SignalStream, SignalKind, signal};
use tokio::time::MissedTickBehavior;

use crate::path::ChildPath;
use crate::process::group::{KillOnDrop, ProcessGroup};
use crate::process::{ProbeCommand, ProcessExit};
use crate::watchdog::Heartbeat;

/// Runs `probe` every period until the task is dropped; each run that
/// exits with code 0 within its timeout beats `heartbeat`.
///
/// # Cancel safety
///
/// Dropping the future kills a run in progress with its process group; the
/// run's `Child` is dropped with `kill_on_drop`, and tokio reaps it.
pub(crate) async fn run_probes(probe: ProbeCommand, path: ChildPath, heartbeat: Heartbeat) {
    let mut sigchld = match signal(SignalKind::child()) {
        Ok(sigchld) => sigchld,
        Err(error) => {
            tracing::warn!(target: "hale::process", path = %path, %error, "probes cannot run");
            return;
        }
    };
    let mut ticks = tokio::time::interval(probe.every);
    ticks.set_missed_tick_behavior(MissedTickBehavior::Delay);
    // The first tick is immediate: the program has just started, and its
    // first deadline is a full timeout away.
    ticks.tick().await;
    loop {
        ticks.tick().await;
        match probe_once(&probe, &path, &mut sigchld).await {
            Ok(ProcessExit::Code(0)) => heartbeat.beat(),
            Ok(exit) => {
                tracing::debug!(target: "hale::process", path = %path, %exit, "probe failed");
            }
            Err(error) => {
                tracing::debug!(target: "hale::process", path = %path, %error, "probe failed");
            }
        }
    }
}

/// One run of the probe: its exit, or why it has none.
async fn probe_once(
    probe: &ProbeCommand,
    path: &ChildPath,
    sigchld: &mut SignalStream,
) -> Result<ProcessExit, String> {
    let mut command = probe
        .command
        .build(path, None, false)
        .map_err(|error| error.to_string())?;
    let mut child = command
        .spawn()
        .map_err(|error| probe.command.spawn_error(path, error).to_string())?;
    let Some(group) = ProcessGroup::of(&child) else {
        // Cannot happen for a child just spawned; `kill_on_drop` ends it.
        return Err("the probe run has no pid".to_owned());
    };
    let group = Arc::new(group);
    let _kill = KillOnDrop(Arc::clone(&group));
    match tokio::time::timeout(probe.timeout, group.reap(&mut child, sigchld)).await {
        Ok(status) => status
            .map(ProcessExit::from_status)
            .map_err(|error| error.to_string()),
        Err(_) => {
            group.signal(Signal::KILL);
            let _ = group.reap(&mut child, sigchld).await;
            Err(format!("no answer within {:?}", probe.timeout))
        }
    }
}
