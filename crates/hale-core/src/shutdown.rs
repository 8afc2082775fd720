//! Stopping one child the way OTP does: ask, wait, then kill.

use std::time::Duration;

use ractor::ActorCell;
use serde::{Deserialize, Serialize};

use crate::events::StopOutcome;
use crate::exit::SHUTDOWN;

/// How long a supervisor waits for a killed child to exit before it declares
/// the child stuck and goes on without it.
///
/// A kill cancels a handler at its next `.await`. A handler blocked in
/// synchronous code never reaches one, and waiting for it would block the
/// supervisor, and with it every sibling, for as long as the blocking lasts.
pub const KILL_CONFIRM_TIMEOUT: Duration = Duration::from_secs(5);

/// How a supervisor stops a child (OTP's `shutdown` field).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(tag = "kind", content = "ms", rename_all = "snake_case")]
pub enum Shutdown {
    /// Kill at once, without asking (`brutal_kill`).
    BrutalKill,
    /// Ask the child to stop, wait up to this long, then kill it.
    Timeout(#[serde(with = "crate::serde_ms")] Duration),
    /// Ask the child to stop and wait as long as it takes. The default for
    /// supervisors, so a subtree has all the time it needs to stop in order.
    Infinity,
}

impl Shutdown {
    /// The default for workers: ask, then kill after 5 seconds.
    pub const WORKER_DEFAULT: Shutdown = Shutdown::Timeout(Duration::from_secs(5));
}

/// Stops `child` by its shutdown rule and waits until it has really exited;
/// a killed child gets `kill_wait` to exit before it counts as stuck.
pub(crate) async fn stop_child(child: &ActorCell, shutdown: Shutdown, kill_wait: Duration) -> StopOutcome {
    match shutdown {
        Shutdown::BrutalKill => kill_and_confirm(child, kill_wait).await,
        Shutdown::Timeout(limit) => {
            child.stop(Some(SHUTDOWN.to_owned()));
            match child.wait(Some(limit)).await {
                Ok(()) => StopOutcome::Exited,
                Err(_) => kill_and_confirm(child, kill_wait).await,
            }
        }
        Shutdown::Infinity => {
            child.stop(Some(SHUTDOWN.to_owned()));
            // Infinity means what it says: a supervisor child gets all the
            // time its own subtree needs.
            let _ = child.wait(None).await;
            StopOutcome::Exited
        }
    }
}

async fn kill_and_confirm(child: &ActorCell, kill_wait: Duration) -> StopOutcome {
    child.kill();
    match child.wait(Some(kill_wait)).await {
        Ok(()) => StopOutcome::Killed,
        Err(_) => StopOutcome::Stuck,
    }
}
