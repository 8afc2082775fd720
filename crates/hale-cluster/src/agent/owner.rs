//! The owner's side: children of local supervisors that run on other nodes.
//!
//! A remote child is, locally, a stand-in actor ([`Proxy`]) linked to its
//! supervisor; here the agent keeps which node and generation each stands
//! for. A report about any other generation is stale and ignored; a host
//! that says it runs one is told to kill it.

use std::collections::HashMap;
use std::time::Duration;

use hale_core::ExitReason;
use ractor::{Actor, ActorCell, ActorRef, RpcReplyPort};
use tokio::time::Instant;

use super::AgentState;
use crate::agent_msg::Placement;
use crate::error::RemoteError;
use crate::events::ClusterEvent;
use crate::node_id::NodeId;
use crate::proxy::{Proxy, ProxyArgs, ProxyMsg};
use crate::wire::{Incarnation, Wire};

/// The exit reason of a child whose host was declared down (Erlang's).
pub(crate) const NOCONNECTION: &str = "noconnection";

type StartReply = RpcReplyPort<Result<Option<(ActorCell, String)>, RemoteError>>;

/// A start function's request.
pub(crate) struct StartRequest {
    pub(crate) key: String,
    pub(crate) spec: String,
    pub(crate) nodes: Vec<String>,
    pub(crate) supervisor: ActorCell,
    pub(crate) deadline: Instant,
    pub(crate) timeout: Duration,
    pub(crate) stop_wait: Duration,
    pub(crate) reply: StartReply,
}

/// A running remote child.
struct OwnedChild {
    node: String,
    generation: u64,
    proxy: ActorRef<ProxyMsg>,
    stop_wait: Duration,
}

/// A start sent to a host, not answered yet.
struct Starting {
    request: StartRequest,
    node: String,
}

/// A stop sent to a host, not answered yet.
struct Stopping {
    node: String,
    key: String,
    reply: Option<RpcReplyPort<()>>,
    deadline: Instant,
}

#[derive(Default)]
pub(crate) struct Owner {
    children: HashMap<String, OwnedChild>,
    starting: HashMap<u64, Starting>,
    /// Starts waiting for an allowed node to come up, oldest first.
    waiting: Vec<StartRequest>,
    stopping: HashMap<u64, Stopping>,
    next_generation: u64,
}

impl Owner {
    pub(crate) fn placements(&self) -> Vec<Placement> {
        let mut placements: Vec<Placement> = self
            .children
            .iter()
            .map(|(path, child)| Placement {
                path: path.clone(),
                node: child.node.clone(),
                generation: child.generation,
            })
            .collect();
        placements.sort_by(|a, b| a.path.cmp(&b.path));
        placements
    }

    pub(crate) fn stopped(&mut self, generation: u64) {
        if let Some(stopping) = self.stopping.remove(&generation)
            && let Some(reply) = stopping.reply
        {
            let _ = reply.send(());
        }
    }
}

impl AgentState {
    fn choose_node(&self, nodes: &[String]) -> Option<String> {
        nodes
            .iter()
            .find(|node| **node == self.me.name || self.peers.is_up(node))
            .cloned()
    }

    pub(super) fn owner_start(&mut self, request: StartRequest) {
        match self.choose_node(&request.nodes) {
            Some(node) => self.send_start(node, request),
            None => self.owner.waiting.push(request),
        }
    }

    fn send_start(&mut self, node: String, request: StartRequest) {
        self.owner.next_generation += 1;
        let generation = self.owner.next_generation;
        // A child is started again only after its stand-in exited; one still
        // listed here is a leftover: its incarnation must not live on.
        if let Some(old) = self.owner.children.remove(&request.key) {
            self.send(
                &old.node,
                Wire::Kill {
                    key: request.key.clone(),
                    generation: old.generation,
                },
            );
        }
        self.send(
            &node,
            Wire::Start {
                key: request.key.clone(),
                generation,
                spec: request.spec.clone(),
            },
        );
        self.owner.starting.insert(generation, Starting { request, node });
    }

    /// Starts that waited for a node: place those that now can be.
    pub(super) fn owner_place_waiting(&mut self) {
        let waiting = std::mem::take(&mut self.owner.waiting);
        for request in waiting {
            self.owner_start(request);
        }
    }

    fn take_starting(&mut self, from: &NodeId, key: &str, generation: u64) -> Option<StartRequest> {
        match self.owner.starting.get(&generation) {
            Some(starting) if starting.node == from.name && starting.request.key == key => self
                .owner
                .starting
                .remove(&generation)
                .map(|starting| starting.request),
            _ => None,
        }
    }

    pub(super) async fn owner_started(&mut self, from: &NodeId, key: String, generation: u64) {
        let Some(request) = self.take_starting(from, &key, generation) else {
            let current = self
                .owner
                .children
                .get(&key)
                .is_some_and(|child| child.node == from.name && child.generation == generation);
            if !current {
                // A start this node gave up on (timed out, node declared
                // down meanwhile): it must not run.
                self.stale(from, &key, generation);
                self.send(&from.name, Wire::Kill { key, generation });
            }
            return;
        };
        let args = ProxyArgs {
            agent: self.myself.clone(),
            key: key.clone(),
            generation,
            stop_wait: request.stop_wait,
        };
        let proxy = match Actor::spawn_linked(None, Proxy, args, request.supervisor.clone()).await {
            Ok((proxy, _)) => proxy,
            Err(error) => {
                let _ = request.reply.send(Err(RemoteError::StartFailed {
                    node: from.name.clone(),
                    child: key.clone(),
                    cause: format!("the local stand-in did not start: {error}"),
                }));
                self.send(&from.name, Wire::Kill { key, generation });
                return;
            }
        };
        if request
            .reply
            .send(Ok(Some((proxy.get_cell(), from.name.clone()))))
            .is_err()
        {
            // The start function is gone (its supervisor stopped meanwhile).
            let _ = proxy.send_message(ProxyMsg::Exit(ExitReason::Shutdown(None)));
            self.send(&from.name, Wire::Kill { key, generation });
            return;
        }
        self.bus.emit(ClusterEvent::ChildPlaced {
            path: key.clone(),
            node: from.name.clone(),
            generation,
        });
        self.owner.children.insert(
            key,
            OwnedChild {
                node: from.name.clone(),
                generation,
                proxy,
                stop_wait: request.stop_wait,
            },
        );
    }

    pub(super) fn owner_start_answered(
        &mut self,
        from: &NodeId,
        key: &str,
        generation: u64,
        answer: Result<Option<(ActorCell, String)>, RemoteError>,
    ) {
        match self.take_starting(from, key, generation) {
            Some(request) => {
                let _ = request.reply.send(answer);
            }
            None => self.stale(from, key, generation),
        }
    }

    pub(super) fn owner_exited(&mut self, from: &NodeId, key: &str, generation: u64, reason: ExitReason) {
        let current = self
            .owner
            .children
            .get(key)
            .is_some_and(|child| child.node == from.name && child.generation == generation);
        if !current {
            self.stale(from, key, generation);
            return;
        }
        if let Some(child) = self.owner.children.remove(key) {
            self.bus.emit(ClusterEvent::RemoteExit {
                path: key.to_owned(),
                node: child.node,
                generation,
                reason: reason.clone(),
            });
            let _ = child.proxy.send_message(ProxyMsg::Exit(reason));
        }
    }

    fn stale(&self, from: &NodeId, key: &str, generation: u64) {
        self.bus.emit(ClusterEvent::StaleReport {
            path: key.to_owned(),
            node: from.name.clone(),
            generation,
        });
    }

    pub(super) fn owner_stop(&mut self, key: &str, generation: u64, reply: RpcReplyPort<()>) {
        let current = self
            .owner
            .children
            .get(key)
            .is_some_and(|child| child.generation == generation);
        let Some(child) = current.then(|| self.owner.children.remove(key)).flatten() else {
            let _ = reply.send(());
            return;
        };
        if child.node != self.me.name && !self.peers.is_up(&child.node) {
            // Nothing to stop there: its lease kills the child.
            let _ = reply.send(());
            return;
        }
        self.send(
            &child.node,
            Wire::Stop {
                key: key.to_owned(),
                generation,
            },
        );
        self.owner.stopping.insert(
            generation,
            Stopping {
                node: child.node,
                key: key.to_owned(),
                reply: Some(reply),
                deadline: Instant::now() + child.stop_wait,
            },
        );
    }

    pub(super) fn owner_kill(&mut self, key: &str, generation: u64) {
        if let Some(stopping) = self.owner.stopping.get(&generation) {
            let node = stopping.node.clone();
            self.send(
                &node,
                Wire::Kill {
                    key: key.to_owned(),
                    generation,
                },
            );
        }
        let current = self
            .owner
            .children
            .get(key)
            .is_some_and(|child| child.generation == generation);
        if current && let Some(child) = self.owner.children.remove(key) {
            self.send(
                &child.node,
                Wire::Kill {
                    key: key.to_owned(),
                    generation,
                },
            );
        }
    }

    /// A host says what it runs for this node: kill what is not current.
    pub(super) fn owner_reconcile(&mut self, from: &NodeId, children: Vec<Incarnation>) {
        let stale: Vec<Incarnation> = children
            .into_iter()
            .filter(|listed| {
                let running =
                    self.owner.children.get(&listed.key).is_some_and(|child| {
                        child.node == from.name && child.generation == listed.generation
                    });
                let starting = self
                    .owner
                    .starting
                    .get(&listed.generation)
                    .is_some_and(|starting| starting.node == from.name);
                !running && !starting
            })
            .collect();
        if !stale.is_empty() {
            self.send(&from.name, Wire::Fence { children: stale });
        }
    }

    /// `node` is down or restarted: every child this node had there exited
    /// with `reason`, and requests to it fail.
    pub(super) fn peer_lost(&mut self, node: &str, reason: &str) {
        let lost: Vec<String> = self
            .owner
            .children
            .iter()
            .filter(|(_, child)| child.node == node)
            .map(|(key, _)| key.clone())
            .collect();
        for key in lost {
            if let Some(child) = self.owner.children.remove(&key) {
                let reason = ExitReason::Other(reason.to_owned());
                self.bus.emit(ClusterEvent::RemoteExit {
                    path: key,
                    node: node.to_owned(),
                    generation: child.generation,
                    reason: reason.clone(),
                });
                let _ = child.proxy.send_message(ProxyMsg::Exit(reason));
            }
        }
        let failed: Vec<u64> = self
            .owner
            .starting
            .iter()
            .filter(|(_, starting)| starting.node == node)
            .map(|(generation, _)| *generation)
            .collect();
        for generation in failed {
            if let Some(starting) = self.owner.starting.remove(&generation) {
                let _ = starting
                    .request
                    .reply
                    .send(Err(RemoteError::NodeDown(node.to_owned())));
            }
        }
        self.owner.stopping.retain(|_, stopping| {
            if stopping.node == node
                && let Some(reply) = stopping.reply.take()
            {
                let _ = reply.send(());
            }
            stopping.node != node
        });
    }

    pub(super) fn owner_check_deadlines(&mut self, now: Instant) {
        let expired: Vec<u64> = self
            .owner
            .starting
            .iter()
            .filter(|(_, starting)| starting.request.deadline <= now)
            .map(|(generation, _)| *generation)
            .collect();
        for generation in expired {
            if let Some(starting) = self.owner.starting.remove(&generation) {
                self.send(
                    &starting.node,
                    Wire::Kill {
                        key: starting.request.key.clone(),
                        generation,
                    },
                );
                let _ = starting.request.reply.send(Err(RemoteError::Timeout {
                    node: starting.node,
                    timeout: starting.request.timeout,
                }));
            }
        }
        let (expired, waiting): (Vec<StartRequest>, Vec<StartRequest>) =
            std::mem::take(&mut self.owner.waiting)
                .into_iter()
                .partition(|request| request.deadline <= now);
        self.owner.waiting = waiting;
        for request in expired {
            let _ = request.reply.send(Err(RemoteError::NoNodeUp {
                child: request.key,
                allowed: request.nodes,
            }));
        }
        self.owner_place_waiting();
        let expired: Vec<u64> = self
            .owner
            .stopping
            .iter()
            .filter(|(_, stopping)| stopping.deadline <= now)
            .map(|(generation, _)| *generation)
            .collect();
        for generation in expired {
            // The host did not confirm the stop in time: kill instead (the
            // stand-in gave up waiting too).
            if let Some(stopping) = self.owner.stopping.remove(&generation) {
                self.send(
                    &stopping.node,
                    Wire::Kill {
                        key: stopping.key,
                        generation,
                    },
                );
            }
        }
    }
}
