//! [`Proxy`]: the local stand-in of a remote child, linked to its owner's
//! supervisor.
//!
//! ractor_cluster has no link or monitor across nodes, so the owner's
//! supervisor supervises this actor instead: it exits with the remote
//! child's own exit reason when the host reports one (or `noconnection` when
//! the host is declared down), which the supervisor classifies and acts on
//! by its usual rules. Stopping it stops the remote child (its `post_stop`
//! waits for the host's answer); killing it kills the remote child (its
//! state's `Drop` sends the kill).

use std::time::Duration;

use hale_core::ExitReason;
use ractor::{Actor, ActorProcessingErr, ActorRef};

use crate::agent_msg::{AgentMsg, Local};

/// The stand-in actor.
pub(crate) struct Proxy;

/// What a stand-in is told.
pub(crate) enum ProxyMsg {
    /// The remote incarnation ended (or is lost): exit with this reason.
    Exit(ExitReason),
}

impl ractor::Message for ProxyMsg {}

/// Which remote incarnation a stand-in stands for.
pub(crate) struct ProxyArgs {
    pub(crate) agent: ActorRef<AgentMsg>,
    pub(crate) key: String,
    pub(crate) generation: u64,
    pub(crate) stop_wait: Duration,
}

pub(crate) struct ProxyState {
    args: ProxyArgs,
    /// The remote incarnation is known to be over: nothing to stop or kill.
    settled: bool,
}

impl Drop for ProxyState {
    fn drop(&mut self) {
        if !self.settled {
            // Killed (no post_stop ran) or stopped without an answer: make
            // sure the remote child dies too. Fails only if the agent is gone.
            let _ = self.args.agent.send_message(AgentMsg::Local(Local::KillRemote {
                key: self.args.key.clone(),
                generation: self.args.generation,
            }));
        }
    }
}

impl Actor for Proxy {
    type Msg = ProxyMsg;
    type State = ProxyState;
    type Arguments = ProxyArgs;

    async fn pre_start(
        &self,
        _myself: ActorRef<ProxyMsg>,
        args: ProxyArgs,
    ) -> Result<ProxyState, ActorProcessingErr> {
        Ok(ProxyState { args, settled: false })
    }

    async fn handle(
        &self,
        myself: ActorRef<ProxyMsg>,
        message: ProxyMsg,
        state: &mut ProxyState,
    ) -> Result<(), ActorProcessingErr> {
        let ProxyMsg::Exit(reason) = message;
        state.settled = true;
        myself.stop(Some(reason.to_stop_reason()));
        Ok(())
    }

    async fn post_stop(
        &self,
        _myself: ActorRef<ProxyMsg>,
        state: &mut ProxyState,
    ) -> Result<(), ActorProcessingErr> {
        if state.settled {
            return Ok(());
        }
        let (key, generation) = (state.args.key.clone(), state.args.generation);
        let answer = state
            .args
            .agent
            .call(
                |reply| {
                    AgentMsg::Local(Local::StopRemote {
                        key,
                        generation,
                        reply,
                    })
                },
                Some(state.args.stop_wait),
            )
            .await;
        // Stopped, or the host is down (its lease kills the child): settled.
        // No answer in time: Drop sends a kill.
        state.settled = matches!(answer, Ok(ractor::rpc::CallResult::Success(())));
        Ok(())
    }
}
