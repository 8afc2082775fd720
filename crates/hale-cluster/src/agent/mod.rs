//! The node agent: one actor per node, in the process group
//! [`AGENTS_GROUP`], through which supervisors on one node start, stop and
//! kill children on another.
//!
//! Everything a node knows about the cluster lives in its agent's state and
//! changes only inside the agent's handlers, one message at a time:
//!
//! - `peers`: every other node, its run, whether it is up; the heartbeat
//!   failure detector and the fencing lease run on it;
//! - `owner`: the children this node owns on other nodes (one stand-in
//!   actor each, linked to the local supervisor), and requests in flight;
//! - `host`: the children this node runs for other nodes, under a local
//!   hale-core supervisor;
//! - `links`: the sessions ractor_cluster opened, and the connector that
//!   keeps the configured peers connected.
//!
//! Work that waits (starting or stopping a hosted child, opening a
//! connection) runs in tasks that report back through the mailbox, so the
//! agent keeps sending heartbeats whatever a child's start function does.

mod host;
mod links;
mod owner;
mod peers;

use std::sync::Arc;

use hale_core::{HealingEventKind, RecvError, SupervisorRef, SupervisorSpec};
use ractor::pg::GroupChangeMessage;
use ractor::{Actor, ActorProcessingErr, ActorRef, SupervisionEvent};
use ractor_cluster::NodeServerMessage;
use tokio::task::JoinHandle;
use tokio::time::Instant;

use crate::agent_msg::{AgentMsg, Local};
use crate::config::NodeConfig;
use crate::events::{ClusterBus, ClusterEvent};
use crate::node_id::NodeId;
use crate::registry::SpecRegistry;
use crate::wire::{Frame, Wire};
use host::Host;
pub(crate) use links::AgentSubscription;
use links::Links;
use owner::Owner;
use peers::Peers;

/// The process group every node agent joins.
pub(crate) const AGENTS_GROUP: &str = "hale.cluster.agents";
/// The prefix of an agent's registered actor name; the node name follows.
const AGENT_NAME_PREFIX: &str = "hale.agent.";

/// The registered name of `node`'s agent.
pub(crate) fn agent_name(node: &str) -> String {
    format!("{AGENT_NAME_PREFIX}{node}")
}

/// The actor.
pub(crate) struct NodeAgent;

pub(crate) struct AgentArgs {
    pub(crate) me: NodeId,
    pub(crate) config: Arc<NodeConfig>,
    pub(crate) registry: SpecRegistry,
    pub(crate) bus: ClusterBus,
    pub(crate) server: ActorRef<NodeServerMessage>,
}

pub(crate) struct AgentState {
    me: NodeId,
    myself: ActorRef<AgentMsg>,
    config: Arc<NodeConfig>,
    registry: SpecRegistry,
    bus: ClusterBus,
    server: ActorRef<NodeServerMessage>,
    /// A partition made on purpose: no frame in or out.
    isolated: bool,
    peers: Peers,
    owner: Owner,
    host: Host,
    hosting: SupervisorRef,
    links: Links,
    tasks: Vec<JoinHandle<()>>,
}

impl Drop for AgentState {
    fn drop(&mut self) {
        for task in &self.tasks {
            task.abort();
        }
    }
}

impl Actor for NodeAgent {
    type Msg = AgentMsg;
    type State = AgentState;
    type Arguments = AgentArgs;

    async fn pre_start(
        &self,
        myself: ActorRef<AgentMsg>,
        args: AgentArgs,
    ) -> Result<AgentState, ActorProcessingErr> {
        let hosting =
            hale_core::Supervisor::start(SupervisorSpec::new(format!("{}.hosted", args.me.name))).await?;
        let mut tasks = vec![spawn_ticker(&myself, args.config.heartbeat)];
        tasks.push(spawn_hosted_watch(&myself, &hosting));
        ractor::pg::monitor(AGENTS_GROUP.to_owned(), myself.get_cell());
        ractor::pg::join(AGENTS_GROUP.to_owned(), vec![myself.get_cell()]);
        let mut state = AgentState {
            links: Links::new(&args.config.peers),
            me: args.me,
            myself: myself.clone(),
            config: args.config,
            registry: args.registry,
            bus: args.bus,
            server: args.server,
            isolated: false,
            peers: Peers::default(),
            owner: Owner::default(),
            host: Host::default(),
            hosting,
            tasks,
        };
        for member in ractor::pg::get_members(&AGENTS_GROUP.to_owned()) {
            state.agent_joined(member);
        }
        Ok(state)
    }

    async fn post_stop(
        &self,
        _myself: ActorRef<AgentMsg>,
        state: &mut AgentState,
    ) -> Result<(), ActorProcessingErr> {
        state.hosting.stop(std::time::Duration::from_secs(10)).await;
        Ok(())
    }

    async fn handle(
        &self,
        _myself: ActorRef<AgentMsg>,
        message: AgentMsg,
        state: &mut AgentState,
    ) -> Result<(), ActorProcessingErr> {
        match message {
            AgentMsg::Remote(frame) => {
                if !state.isolated {
                    state.on_frame(frame).await;
                }
            }
            AgentMsg::Malformed { from, error } => state.on_malformed(from, error),
            AgentMsg::Local(local) => state.on_local(local).await,
        }
        Ok(())
    }

    async fn handle_supervisor_evt(
        &self,
        _myself: ActorRef<AgentMsg>,
        event: SupervisionEvent,
        state: &mut AgentState,
    ) -> Result<(), ActorProcessingErr> {
        if let SupervisionEvent::ProcessGroupChanged(change) = event {
            match change {
                GroupChangeMessage::Join(_, group, members) if group == AGENTS_GROUP => {
                    for member in members {
                        state.agent_joined(member);
                    }
                }
                GroupChangeMessage::Leave(_, group, members) if group == AGENTS_GROUP => {
                    for member in members {
                        state.peers.agent_left(&member);
                    }
                }
                _ => {}
            }
        }
        Ok(())
    }
}

/// Sends `Tick` every `every`, until aborted.
fn spawn_ticker(agent: &ActorRef<AgentMsg>, every: std::time::Duration) -> JoinHandle<()> {
    let agent = agent.clone();
    tokio::spawn(async move {
        let mut interval = tokio::time::interval(every);
        interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            interval.tick().await;
            if agent.send_message(AgentMsg::Local(Local::Tick)).is_err() {
                return;
            }
        }
    })
}

/// Forwards the exits of hosted children (from the hosting supervisor's
/// events) to the agent. If the events lag, the agent compares its table
/// with the supervisor's children instead.
fn spawn_hosted_watch(agent: &ActorRef<AgentMsg>, hosting: &SupervisorRef) -> JoinHandle<()> {
    let agent = agent.clone();
    let hosting = hosting.clone();
    let mut events = hosting.subscribe();
    tokio::spawn(async move {
        loop {
            let message = match events.recv().await {
                Ok(event) => match event.kind {
                    HealingEventKind::ChildExited { reason, .. } if event.path.segments().len() == 2 => {
                        Local::HostedExited {
                            child_id: event.path.leaf().to_owned(),
                            reason,
                        }
                    }
                    _ => continue,
                },
                Err(RecvError::Lagged(_)) => match hosting.which_children().await {
                    Ok(children) => Local::HostedResync(children.into_iter().map(|child| child.id).collect()),
                    Err(_) => return,
                },
                Err(RecvError::Closed) => return,
            };
            if agent.send_message(AgentMsg::Local(message)).is_err() {
                return;
            }
        }
    })
}

impl AgentState {
    /// A member of the agents' group: a peer's agent if it is a remote
    /// stand-in with an agent's name.
    fn agent_joined(&mut self, member: ractor::ActorCell) {
        if member.get_id().is_local() {
            return;
        }
        let Some(node) = member
            .get_name()
            .and_then(|name| name.strip_prefix(AGENT_NAME_PREFIX).map(str::to_owned))
        else {
            return;
        };
        if node != self.me.name {
            self.peers.agent_joined(&node, member);
        }
    }

    /// Sends `body` to `node`'s agent (to this agent itself for this node).
    /// Dropped while isolated or when no session reaches the node: the
    /// protocol never relies on one frame arriving.
    fn send(&self, node: &str, body: Wire) {
        if self.isolated {
            return;
        }
        let frame = Frame {
            from: self.me.clone(),
            ack: self.peers.ack_for(node),
            body,
        };
        if node == self.me.name {
            let _ = self.myself.send_message(AgentMsg::Remote(frame));
        } else if let Some(agent) = self.peers.get(node).and_then(|peer| peer.agent.as_ref())
            && let Err(error) = agent.send_message(AgentMsg::Remote(frame))
        {
            tracing::debug!(target: "hale::cluster", node, %error, "frame not sent");
        }
    }

    async fn on_frame(&mut self, frame: Frame) {
        let Frame { from, ack, body } = frame;
        if from.name != self.me.name {
            let seen = self.peers.observe(self.me.epoch, &from, ack, Instant::now());
            if let Some(old_epoch) = seen.restarted_from {
                self.peer_lost(&from.name, owner::NOCONNECTION);
                self.fence_owner_run(&from.name, old_epoch);
            }
            if seen.came_up {
                self.peer_came_up(&from);
            }
        }
        match body {
            Wire::Heartbeat { seq } => self.peers.heard_seq(&from.name, seq),
            Wire::Start {
                key,
                generation,
                spec,
            } => self.host_start(from, key, generation, spec),
            Wire::Stop { key, generation } => self.host_stop(&from, &key, generation),
            Wire::Kill { key, generation } => {
                self.host_kill(&from, &key, generation, crate::events::FenceCause::OwnerKill);
            }
            Wire::Fence { children } => self.host_fence(&from, children),
            Wire::Started { key, generation } => self.owner_started(&from, key, generation).await,
            Wire::Ignored { key, generation } => self.owner_start_answered(&from, &key, generation, Ok(None)),
            Wire::StartFailed {
                key,
                generation,
                cause,
            } => {
                let error = crate::error::RemoteError::StartFailed {
                    node: from.name.clone(),
                    child: key.clone(),
                    cause,
                };
                self.owner_start_answered(&from, &key, generation, Err(error));
            }
            Wire::Exited {
                key,
                generation,
                reason,
            } => self.owner_exited(&from, &key, generation, reason),
            Wire::Stopped { generation, .. } => self.owner.stopped(generation),
            Wire::Hosting { children } => self.owner_reconcile(&from, children),
        }
    }

    fn peer_came_up(&mut self, peer: &NodeId) {
        self.bus.emit(ClusterEvent::NodeUp {
            node: peer.name.clone(),
            epoch: peer.epoch,
        });
        self.host_report_to(peer);
        self.owner_place_waiting();
    }

    fn on_malformed(&mut self, from: Option<String>, error: crate::wire::DecodeError) {
        self.bus.emit(ClusterEvent::DecodeError {
            peer: from.clone(),
            error: error.to_string(),
        });
        if let Some(peer) = from {
            self.links.close_sessions_of(&self.server, &peer);
        }
    }

    async fn on_local(&mut self, local: Local) {
        match local {
            Local::Tick => self.tick(),
            Local::StartRemote {
                key,
                spec,
                nodes,
                supervisor,
                timeout,
                stop_wait,
                reply,
            } => self.owner_start(owner::StartRequest {
                key,
                spec,
                nodes,
                supervisor,
                deadline: Instant::now() + timeout,
                timeout,
                stop_wait,
                reply,
            }),
            Local::StopRemote {
                key,
                generation,
                reply,
            } => self.owner_stop(&key, generation, reply),
            Local::KillRemote { key, generation } => self.owner_kill(&key, generation),
            Local::HostStartDone { child_id, result } => self.host_start_done(&child_id, result),
            Local::HostStopDone { child_id } => self.host_stop_done(&child_id),
            Local::HostedExited { child_id, reason } => self.host_exited(&child_id, reason),
            Local::HostedResync(running) => self.host_resync(&running),
            Local::Session(event) => self.links.on_session(event, &self.bus),
            Local::Connected { addr, result } => {
                self.links.on_connected(&addr, result, &self.config, &self.bus)
            }
            Local::Isolate(isolated) => self.isolated = isolated,
            Local::Peers(reply) => {
                let _ = reply.send(self.peers.info());
            }
            Local::Hosted(reply) => {
                let _ = reply.send(self.host.info());
            }
            Local::Placements(reply) => {
                let _ = reply.send(self.owner.placements());
            }
            Local::SendRaw { node, payload } => self.send_raw(&node, payload),
        }
    }

    /// Once per heartbeat interval: heartbeats out, silent peers down,
    /// expired leases fenced, deadlines answered, connections kept.
    fn tick(&mut self) {
        let now = Instant::now();
        if !self.isolated {
            let seq = self.peers.next_heartbeat(now);
            let peers: Vec<String> = self.peers.agents().map(|(name, _)| name.clone()).collect();
            for peer in peers {
                self.send(&peer, Wire::Heartbeat { seq });
            }
        }
        for (node, silent) in self.peers.overdue(now, self.config.down_after) {
            self.bus.emit(ClusterEvent::NodeDown {
                node: node.clone(),
                silent_ms: hale_util::millis(silent),
            });
            self.peer_lost(&node, owner::NOCONNECTION);
        }
        self.host_check_leases(now);
        self.owner_check_deadlines(now);
        self.links.tick(now, &self.server, &self.myself, &self.config);
    }

    fn send_raw(&self, node: &str, payload: Vec<u8>) {
        if let Some(agent) = self.peers.get(node).and_then(|peer| peer.agent.as_ref()) {
            let _ = agent.send_serialized(ractor::message::SerializedMessage::Cast {
                variant: crate::wire::PROTOCOL.to_owned(),
                args: payload,
                metadata: Some(self.me.name.clone().into_bytes()),
            });
        }
    }
}
