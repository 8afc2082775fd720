//! [`Links`]: the sessions ractor_cluster opened, and the connector that
//! keeps every configured peer connected, reconnecting with backoff.

use std::collections::HashMap;
use std::time::Duration;

use ractor::{ActorId, ActorRef};
use ractor_cluster::NodeServerMessage;
use ractor_cluster::node::{NodeEventSubscription, NodeServerSessionInformation};
use tokio::time::Instant;

use crate::agent_msg::{AgentMsg, Local, SessionEvent};
use crate::config::NodeConfig;
use crate::events::{ClusterBus, ClusterEvent};

/// How long a connection may take to show up as a session before the
/// connector tries again.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// How long closing a misbehaving peer's sessions may wait for the session
/// list.
const SESSION_LIST_TIMEOUT_MS: u64 = 500;

enum Phase {
    Idle {
        next_attempt: Instant,
    },
    Connecting {
        since: Instant,
        resolved: Option<String>,
    },
    Open {
        session: ActorId,
        authenticated: bool,
    },
}

/// A configured peer address.
struct Target {
    addr: String,
    phase: Phase,
    /// Failed attempts since the last authenticated session.
    failures: u32,
}

struct Session {
    peer_addr: String,
    is_server: bool,
    authenticated: bool,
}

pub(crate) struct Links {
    targets: Vec<Target>,
    sessions: HashMap<ActorId, Session>,
}

impl Links {
    pub(crate) fn new(peers: &[String]) -> Self {
        let now = Instant::now();
        Self {
            targets: peers
                .iter()
                .map(|addr| Target {
                    addr: addr.clone(),
                    phase: Phase::Idle { next_attempt: now },
                    failures: 0,
                })
                .collect(),
            sessions: HashMap::new(),
        }
    }

    pub(crate) fn on_session(&mut self, event: SessionEvent, bus: &ClusterBus) {
        match event {
            SessionEvent::Opened(info) => {
                self.sessions.insert(
                    info.actor.get_id(),
                    Session {
                        peer_addr: info.peer_addr,
                        is_server: info.is_server,
                        authenticated: false,
                    },
                );
            }
            SessionEvent::Authenticated(info) => {
                if let Some(session) = self.sessions.get_mut(&info.actor.get_id()) {
                    session.authenticated = true;
                }
            }
            SessionEvent::Closed(info) => {
                let Some(session) = self.sessions.remove(&info.actor.get_id()) else {
                    return;
                };
                if session.authenticated {
                    bus.emit(ClusterEvent::SessionClosed {
                        peer_addr: session.peer_addr,
                        peer: info.peer_name.map(|name| name.name),
                    });
                } else {
                    bus.emit(ClusterEvent::HandshakeRefused {
                        peer_addr: session.peer_addr,
                    });
                }
            }
        }
    }

    pub(crate) fn on_connected(
        &mut self,
        addr: &str,
        result: Result<String, String>,
        config: &NodeConfig,
        bus: &ClusterBus,
    ) {
        let Some(target) = self.targets.iter_mut().find(|target| target.addr == addr) else {
            return;
        };
        match result {
            Ok(resolved) => {
                if let Phase::Connecting { resolved: slot, .. } = &mut target.phase {
                    *slot = Some(resolved);
                }
            }
            Err(error) => {
                let delay = retry_after(target, config);
                bus.emit(ClusterEvent::ConnectFailed {
                    addr: addr.to_owned(),
                    error,
                    retry_in_ms: hale_util::millis(delay),
                });
            }
        }
    }

    /// Moves every configured peer one step: match connections to their
    /// sessions, notice closed ones, start due attempts.
    pub(crate) fn tick(
        &mut self,
        now: Instant,
        server: &ActorRef<NodeServerMessage>,
        agent: &ActorRef<AgentMsg>,
        config: &NodeConfig,
    ) {
        for target in &mut self.targets {
            match &target.phase {
                Phase::Connecting { since, resolved } => {
                    let session = resolved.as_ref().and_then(|resolved| {
                        self.sessions
                            .iter()
                            .find(|(_, session)| !session.is_server && session.peer_addr == *resolved)
                            .map(|(id, _)| *id)
                    });
                    if let Some(session) = session {
                        target.phase = Phase::Open {
                            session,
                            authenticated: false,
                        };
                    } else if now.saturating_duration_since(*since) > CONNECT_TIMEOUT {
                        retry_after(target, config);
                    }
                }
                Phase::Open {
                    session,
                    authenticated,
                } => match self.sessions.get(session) {
                    Some(open) => {
                        if open.authenticated && !authenticated {
                            target.failures = 0;
                            target.phase = Phase::Open {
                                session: *session,
                                authenticated: true,
                            };
                        }
                    }
                    None => {
                        if *authenticated {
                            target.failures = 0;
                        }
                        retry_after(target, config);
                    }
                },
                Phase::Idle { next_attempt } if *next_attempt <= now => {
                    target.phase = Phase::Connecting {
                        since: now,
                        resolved: None,
                    };
                    spawn_connect(target.addr.clone(), server.clone(), agent.clone(), config);
                }
                Phase::Idle { .. } => {}
            }
        }
    }

    /// Closes every session with `peer` (after a frame that did not decode).
    pub(crate) fn close_sessions_of(&self, server: &ActorRef<NodeServerMessage>, peer: &str) {
        let server = server.clone();
        let prefix = format!("{peer}@");
        tokio::spawn(async move {
            let Ok(sessions) =
                ractor::call_t!(server, NodeServerMessage::GetSessions, SESSION_LIST_TIMEOUT_MS)
            else {
                return;
            };
            for session in sessions.into_values() {
                if session
                    .peer_name
                    .as_ref()
                    .is_some_and(|name| name.name.starts_with(&prefix))
                {
                    session.actor.stop(Some("hale-cluster: undecodable frame".into()));
                }
            }
        });
    }
}

/// Counts a failure and schedules the next attempt; returns its delay.
fn retry_after(target: &mut Target, config: &NodeConfig) -> Duration {
    target.failures = target.failures.saturating_add(1);
    let delay = config.reconnect.delay(target.failures, None, &mut rand::rng());
    target.phase = Phase::Idle {
        next_attempt: Instant::now() + delay,
    };
    delay
}

fn spawn_connect(
    addr: String,
    server: ActorRef<NodeServerMessage>,
    agent: ActorRef<AgentMsg>,
    config: &NodeConfig,
) {
    let tls = config.tls.clone();
    tokio::spawn(async move {
        let result = async {
            let resolved = tokio::net::lookup_host(&addr)
                .await
                .map_err(|error| format!("resolving {addr}: {error}"))?
                .next()
                .ok_or_else(|| format!("{addr} resolves to no address"))?;
            let connecting = async {
                match &tls {
                    Some(tls) => {
                        ractor_cluster::client_connect_enc(
                            &server,
                            resolved,
                            tls.connector.clone(),
                            tls.server_name.clone(),
                        )
                        .await
                    }
                    None => ractor_cluster::client_connect(&server, resolved).await,
                }
            };
            match tokio::time::timeout(CONNECT_TIMEOUT, connecting).await {
                Ok(Ok(())) => Ok(resolved.to_string()),
                Ok(Err(error)) => Err(error.to_string()),
                Err(_) => Err(format!("no connection within {CONNECT_TIMEOUT:?}")),
            }
        }
        .await;
        let _ = agent.send_message(AgentMsg::Local(Local::Connected { addr, result }));
    });
}

/// Forwards the node server's session events to the agent.
pub(crate) struct AgentSubscription {
    pub(crate) agent: ActorRef<AgentMsg>,
}

impl AgentSubscription {
    fn forward(&self, event: SessionEvent) {
        let _ = self.agent.send_message(AgentMsg::Local(Local::Session(event)));
    }
}

impl NodeEventSubscription for AgentSubscription {
    fn node_session_opened(&self, session: NodeServerSessionInformation) {
        self.forward(SessionEvent::Opened(session));
    }

    fn node_session_disconnected(&self, session: NodeServerSessionInformation) {
        self.forward(SessionEvent::Closed(session));
    }

    fn node_session_authenticated(&self, session: NodeServerSessionInformation) {
        self.forward(SessionEvent::Authenticated(session));
    }
}
