//! [`Node`]: one node of a cluster: its ractor_cluster server, its agent,
//! and the handle a program uses.

use std::net::TcpListener;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use hale_core::{ChildSpec, Shutdown, StartError, StartOutcome};
use ractor::rpc::CallResult;
use ractor::{Actor, ActorRef};
use ractor_cluster::node::NodeConnectionMode;
use ractor_cluster::{IncomingEncryptionMode, NodeServer, NodeServerMessage};

use crate::agent::{AgentArgs, AgentSubscription, NodeAgent, agent_name};
use crate::agent_msg::{AgentMsg, HostedInfo, Local, PeerInfo, Placement};
use crate::config::NodeConfig;
use crate::error::{NodeStartError, RemoteError};
use crate::events::{ClusterBus, ClusterEvent, ClusterEvents};
use crate::node_id::NodeId;
use crate::registry::SpecRegistry;
use crate::remote_child::RemoteChild;
use crate::wire::MAX_FRAME_BYTES;

/// One node per process: ractor's pid registry and process groups are
/// global to the process.
static RUNNING: AtomicBool = AtomicBool::new(false);

/// How long queries to the local agent may wait.
const AGENT_CALL_TIMEOUT: Duration = Duration::from_secs(5);
/// Extra time a supervisor gives a remote stop beyond the child's stop
/// timeout before it kills the stand-in (which then kills the child).
const STOP_MARGIN: Duration = Duration::from_secs(1);

/// A running node.
///
/// # Examples
///
/// ```no_run
/// # #[tokio::main]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// use hale_cluster::{Node, NodeConfig, RemoteChild, SpecRegistry};
/// use hale_core::{ChildSpec, Supervisor, SupervisorSpec};
///
/// let registry = SpecRegistry::new().register("sleeper", || {
///     ChildSpec::task("sleeper", |_| async {
///         std::future::pending::<()>().await;
///         Ok(())
///     })
/// });
/// let node = Node::start(
///     NodeConfig::new("a", "the-cluster-cookie-0123").port(4370).peer("127.0.0.1:4371"),
///     registry,
/// )
/// .await?;
/// let tree = Supervisor::start(
///     SupervisorSpec::new("root").child(node.child_spec(RemoteChild::new("worker", "sleeper").on(["b", "c"]))),
/// )
/// .await?;
/// # Ok(())
/// # }
/// ```
pub struct Node {
    me: NodeId,
    port: u16,
    agent: ActorRef<AgentMsg>,
    server: ActorRef<NodeServerMessage>,
    bus: ClusterBus,
    config: Arc<NodeConfig>,
}

impl Node {
    /// Starts the node: its ractor_cluster server (listening where the
    /// config says, with TLS if configured), its agent, and connections to
    /// the configured peers, kept up with backoff.
    ///
    /// With port 0 the node asks the system for a free port first and
    /// listens on that one ([`port`](Self::port) says which).
    ///
    /// # Errors
    ///
    /// [`NodeStartError`]: a bad configuration, a node already running in
    /// this process, or an actor that failed to start (the port is taken).
    pub async fn start(config: NodeConfig, registry: SpecRegistry) -> Result<Self, NodeStartError> {
        config.validate()?;
        if RUNNING.swap(true, Ordering::SeqCst) {
            return Err(NodeStartError::AlreadyRunning);
        }
        match Self::spawn(config, registry).await {
            Ok(node) => Ok(node),
            Err(error) => {
                RUNNING.store(false, Ordering::SeqCst);
                Err(error)
            }
        }
    }

    async fn spawn(config: NodeConfig, registry: SpecRegistry) -> Result<Self, NodeStartError> {
        let port = match config.port {
            0 => TcpListener::bind((config.listen, 0))
                .and_then(|listener| listener.local_addr())
                .map_err(|error| NodeStartError::Spawn(format!("finding a free port: {error}")))?
                .port(),
            port => port,
        };
        let me = NodeId {
            name: config.name.clone(),
            epoch: rand::random(),
        };
        let encryption = config
            .tls
            .as_ref()
            .map(|tls| IncomingEncryptionMode::Tls(tls.acceptor.clone()));
        let server = NodeServer::new(
            port,
            config.cookie.clone(),
            config.name.clone(),
            config.listen.to_string(),
            encryption,
            Some(NodeConnectionMode::Isolated),
        )
        .with_listen_addr(config.listen)
        .with_max_inbound_frame_size(MAX_FRAME_BYTES);
        let (server, _) = Actor::spawn(None, server, ())
            .await
            .map_err(|error| NodeStartError::Spawn(format!("node server: {error}")))?;
        let bus = ClusterBus::new(&me.name);
        let config = Arc::new(config);
        let args = AgentArgs {
            me: me.clone(),
            config: Arc::clone(&config),
            registry,
            bus: bus.clone(),
            server: server.clone(),
        };
        let agent = match Actor::spawn(Some(agent_name(&me.name)), NodeAgent, args).await {
            Ok((agent, _)) => agent,
            Err(error) => {
                server.stop(None);
                return Err(NodeStartError::Spawn(format!("node agent: {error}")));
            }
        };
        let subscribed = server.cast(NodeServerMessage::SubscribeToEvents {
            id: "hale-cluster".into(),
            subscription: Box::new(AgentSubscription { agent: agent.clone() }),
        });
        if let Err(error) = subscribed {
            agent.stop(None);
            server.stop(None);
            return Err(NodeStartError::Spawn(format!("subscribing to sessions: {error}")));
        }
        bus.emit(ClusterEvent::Listening { port });
        Ok(Self {
            me,
            port,
            agent,
            server,
            bus,
            config,
        })
    }

    /// This node: its name and the epoch of this run.
    pub fn id(&self) -> &NodeId {
        &self.me
    }

    /// The TCP port the node listens on.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The bound within which a silent peer is declared down.
    pub fn detection_bound(&self) -> Duration {
        self.config.detection_bound()
    }

    /// A subscription to this node's [`ClusterEvent`]s from now on.
    pub fn subscribe(&self) -> ClusterEvents {
        self.bus.subscribe()
    }

    /// The spec of a child that runs on another node, for any local
    /// supervisor (static or dynamic). The supervisor supervises a local
    /// stand-in: the child's exits come back with their reasons and
    /// generations, a host declared down makes it exit with `noconnection`,
    /// and the supervisor restarts it by its usual rules, placed again by
    /// [`RemoteChild::on`].
    pub fn child_spec(&self, child: RemoteChild) -> ChildSpec {
        let agent = self.agent.clone();
        let shutdown = Shutdown::Timeout(child.stop_timeout.saturating_add(STOP_MARGIN));
        let restart = child.restart;
        let id = child.id.clone();
        ChildSpec::new(id, move |ctx| {
            let agent = agent.clone();
            let child = child.clone();
            async move {
                let timeout = child.start_timeout;
                let answer = agent
                    .call(
                        |reply| {
                            AgentMsg::Local(Local::StartRemote {
                                key: ctx.path().to_string(),
                                spec: child.spec.clone(),
                                nodes: child.nodes.clone(),
                                supervisor: ctx.supervisor().clone(),
                                timeout,
                                stop_wait: child.stop_timeout,
                                reply,
                            })
                        },
                        // The agent answers by the deadline itself; this
                        // bound only covers an agent that is gone.
                        Some(timeout.saturating_add(AGENT_CALL_TIMEOUT)),
                    )
                    .await;
                match answer {
                    Ok(CallResult::Success(Ok(Some((actor, node))))) => {
                        Ok(StartOutcome::StartedOn { actor, node })
                    }
                    Ok(CallResult::Success(Ok(None))) => Ok(StartOutcome::Ignore),
                    Ok(CallResult::Success(Err(error))) => Err(StartError::caused_by(error)),
                    _ => Err(StartError::caused_by(RemoteError::AgentGone)),
                }
            }
        })
        .restart(restart)
        .shutdown(shutdown)
    }

    async fn ask<T: Send + 'static>(
        &self,
        message: impl FnOnce(ractor::RpcReplyPort<T>) -> Local,
    ) -> Result<T, RemoteError> {
        match self
            .agent
            .call(|reply| AgentMsg::Local(message(reply)), Some(AGENT_CALL_TIMEOUT))
            .await
        {
            Ok(CallResult::Success(answer)) => Ok(answer),
            _ => Err(RemoteError::AgentGone),
        }
    }

    /// The peers this node knows, by name.
    ///
    /// # Errors
    ///
    /// [`RemoteError::AgentGone`] if the node is stopping.
    ///
    /// # Cancel safety
    ///
    /// Cancel safe: dropping the future drops the answer only.
    pub async fn peers(&self) -> Result<Vec<PeerInfo>, RemoteError> {
        self.ask(Local::Peers).await
    }

    /// The children this node runs for remote owners.
    ///
    /// # Errors
    ///
    /// [`RemoteError::AgentGone`] if the node is stopping.
    ///
    /// # Cancel safety
    ///
    /// Cancel safe: dropping the future drops the answer only.
    pub async fn hosted(&self) -> Result<Vec<HostedInfo>, RemoteError> {
        self.ask(Local::Hosted).await
    }

    /// Where the remote children this node owns run now, by path.
    ///
    /// # Errors
    ///
    /// [`RemoteError::AgentGone`] if the node is stopping.
    ///
    /// # Cancel safety
    ///
    /// Cancel safe: dropping the future drops the answer only.
    pub async fn placements(&self) -> Result<Vec<Placement>, RemoteError> {
        self.ask(Local::Placements).await
    }

    /// Cuts (true) or restores (false) all of this node's agent traffic: no
    /// heartbeat or frame goes out, every frame that comes in is dropped,
    /// while the TCP sessions stay up. A partition of this node, as far as
    /// Hale can tell, for tests and chaos runs.
    pub fn isolate(&self, isolated: bool) {
        let _ = self.agent.send_message(AgentMsg::Local(Local::Isolate(isolated)));
    }

    /// Sends `payload` to `node`'s agent as if it were a frame: for testing
    /// that peers refuse what does not decode (they report it and close the
    /// session).
    pub fn send_raw_frame(&self, node: &str, payload: Vec<u8>) {
        let _ = self.agent.send_message(AgentMsg::Local(Local::SendRaw {
            node: node.to_owned(),
            payload,
        }));
    }

    /// Stops the node: its agent (which stops the children hosted here) and
    /// its server (which closes every session). Children this node owns
    /// elsewhere are stopped by stopping their supervisors first.
    ///
    /// # Cancel safety
    ///
    /// Not cancel safe: dropping the future may leave the server running;
    /// a later `Node::start` in this process then fails with
    /// [`NodeStartError::AlreadyRunning`].
    pub async fn stop(self) {
        let _ = self
            .agent
            .stop_and_wait(None, Some(Duration::from_secs(15)))
            .await;
        let _ = self
            .server
            .stop_and_wait(None, Some(Duration::from_secs(5)))
            .await;
        RUNNING.store(false, Ordering::SeqCst);
    }
}

impl std::fmt::Debug for Node {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Node")
            .field("id", &self.me)
            .field("port", &self.port)
            .finish_non_exhaustive()
    }
}
