//! The actor that stands for one run of a program in the tree.

use ractor::{Actor, ActorProcessingErr, ActorRef};

use crate::process::ProcessExit;
use crate::process::abort_on_drop::AbortOnDrop;
use crate::process::incarnation::Incarnation;

/// Owns one [`Incarnation`] and lives exactly as long as it should:
///
/// - the program exits by itself: the actor stops with the classified
///   reason ([`ProcessExit::reason`]), which its supervisor acts on;
/// - the actor is asked to stop (a supervisor's shutdown, a group restart,
///   the watchdog's `hung` stop): `post_stop` sends SIGTERM to the process
///   group and waits for the program to exit and be reaped; the shutdown
///   timeout (or the watchdog's grace) is enforced by whoever asked, with a
///   kill;
/// - the actor is killed: ractor skips `post_stop` but drops the state,
///   and dropping the incarnation SIGKILLs the whole group at once.
#[derive(Clone, Copy, Debug)]
pub(crate) struct ProcessActor;

/// The run ended (sent by the actor's own exit forwarder).
#[derive(Debug)]
pub(crate) struct ProcessExited(ProcessExit);

pub(crate) struct ProcessState {
    incarnation: Incarnation,
    _forwarder: AbortOnDrop,
}

impl Actor for ProcessActor {
    type Msg = ProcessExited;
    type State = ProcessState;
    type Arguments = Incarnation;

    async fn pre_start(
        &self,
        myself: ActorRef<ProcessExited>,
        incarnation: Incarnation,
    ) -> Result<ProcessState, ActorProcessingErr> {
        let mut exit = incarnation.exit();
        let forwarder = tokio::spawn(async move {
            let Ok(exit) = exit.wait_for(Option::is_some).await.map(|exit| *exit) else {
                return;
            };
            if let Some(exit) = exit {
                // Fails only if the actor is already stopping.
                let _ = myself.send_message(ProcessExited(exit));
            }
        });
        Ok(ProcessState {
            incarnation,
            _forwarder: AbortOnDrop(forwarder),
        })
    }

    async fn handle(
        &self,
        myself: ActorRef<ProcessExited>,
        ProcessExited(exit): ProcessExited,
        _state: &mut ProcessState,
    ) -> Result<(), ActorProcessingErr> {
        myself.stop(Some(exit.reason().to_stop_reason()));
        Ok(())
    }

    async fn post_stop(
        &self,
        _myself: ActorRef<ProcessExited>,
        state: &mut ProcessState,
    ) -> Result<(), ActorProcessingErr> {
        let mut exit = state.incarnation.exit();
        if exit.borrow().is_none() {
            state.incarnation.terminate();
            // Unbounded here on purpose: the stopper's shutdown timeout (or
            // the watchdog's grace) ends the wait with a kill, which drops
            // the incarnation and SIGKILLs the group.
            let _ = exit.wait_for(Option::is_some).await;
        }
        Ok(())
    }
}
