//! [`ClusterEvent`]: what a node saw of its peers and of the children it
//! owns or hosts, on a bounded bus like the healing events.

use hale_core::ExitReason;
use serde::{Deserialize, Serialize};

/// Why a host killed an incarnation nobody asked it to stop.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FenceCause {
    /// The owner's lease ran out: the host has had no proof for too long
    /// that the owner hears it, so the owner may have restarted the child
    /// elsewhere.
    LeaseExpired,
    /// The owner started a newer generation of the same child here.
    Superseded,
    /// The owner restarted (a new epoch): its old children are orphans.
    OwnerRestarted,
    /// The owner said this incarnation is not its current one.
    OwnerFenced,
    /// The owner asked for a kill (its stand-in was killed, or a start
    /// timed out).
    OwnerKill,
}

/// One thing a node saw.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "event", rename_all = "snake_case")]
#[non_exhaustive]
pub enum ClusterEvent {
    /// The node listens (the port is the one it really got).
    Listening {
        /// The TCP port.
        port: u16,
    },
    /// A peer's heartbeats arrive: it is up (first contact, back after being
    /// down, or a new run of it).
    NodeUp {
        /// The peer.
        node: String,
        /// Its run.
        epoch: u64,
    },
    /// A peer missed its heartbeats for longer than `down_after`.
    NodeDown {
        /// The peer.
        node: String,
        /// How long it had been silent, in ms.
        silent_ms: u64,
    },
    /// A connection was refused before it authenticated: a wrong cookie on
    /// one side, a protocol mismatch, or a duplicate connection that lost
    /// ractor_cluster's election.
    HandshakeRefused {
        /// The peer's address.
        peer_addr: String,
    },
    /// Connecting to a configured peer failed (refused, TLS, ...); the
    /// connector tries again after `retry_in_ms`.
    ConnectFailed {
        /// The address.
        addr: String,
        /// What failed.
        error: String,
        /// The backoff before the next attempt, in ms.
        retry_in_ms: u64,
    },
    /// An authenticated session closed.
    SessionClosed {
        /// The peer's address.
        peer_addr: String,
        /// The peer's ractor_cluster name, if it got that far.
        peer: Option<String>,
    },
    /// A frame from a peer did not decode: the session is closed.
    DecodeError {
        /// The peer it claims to come from, if that much was readable.
        peer: Option<String>,
        /// What was wrong.
        error: String,
    },
    /// A child this node owns was started on `node`.
    ChildPlaced {
        /// The child's path in the owner's tree.
        path: String,
        /// Where it runs.
        node: String,
        /// The incarnation.
        generation: u64,
    },
    /// A child this node owns exited on its host (or its host went down:
    /// reason `noconnection`).
    RemoteExit {
        /// The child's path.
        path: String,
        /// Where it ran.
        node: String,
        /// The incarnation.
        generation: u64,
        /// Why.
        reason: ExitReason,
    },
    /// A report about an incarnation that is not the current one was
    /// ignored (it came late, after a partition or a restart elsewhere).
    StaleReport {
        /// The child's path.
        path: String,
        /// The node that reported.
        node: String,
        /// The stale incarnation.
        generation: u64,
    },
    /// This node started a child for a remote owner.
    Hosted {
        /// The owner.
        owner: String,
        /// The owner's key for the child.
        key: String,
        /// The incarnation.
        generation: u64,
    },
    /// This node killed a hosted incarnation to keep a child from running
    /// twice.
    Fenced {
        /// The owner.
        owner: String,
        /// The owner's key.
        key: String,
        /// The incarnation.
        generation: u64,
        /// Why.
        cause: FenceCause,
    },
}

/// A [`ClusterEvent`] with when and where.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ClusterEventRecord {
    /// Wall-clock time, in ms since the Unix epoch.
    pub timestamp_ms: u64,
    /// The node that saw it.
    pub node: String,
    /// What it saw.
    #[serde(flatten)]
    pub event: ClusterEvent,
}

/// A subscription to a node's cluster events. Bounded like the healing
/// events: a subscriber that falls more than the bus capacity behind is told
/// how many it missed.
pub type ClusterEvents = hale_util::EventStream<ClusterEventRecord>;

/// Where a node's cluster events go: subscribers and `tracing` (target
/// `hale::cluster`).
#[derive(Clone, Debug)]
pub(crate) struct ClusterBus {
    node: String,
    subscribers: hale_util::Broadcast<ClusterEventRecord>,
}

impl ClusterBus {
    pub(crate) fn new(node: &str) -> Self {
        Self {
            node: node.to_owned(),
            subscribers: hale_util::Broadcast::new(),
        }
    }

    pub(crate) fn subscribe(&self) -> ClusterEvents {
        self.subscribers.subscribe()
    }

    pub(crate) fn emit(&self, event: ClusterEvent) {
        match &event {
            ClusterEvent::NodeDown { .. }
            | ClusterEvent::HandshakeRefused { .. }
            | ClusterEvent::DecodeError { .. }
            | ClusterEvent::Fenced { .. } => {
                tracing::warn!(target: "hale::cluster", node = %self.node, ?event)
            }
            _ => tracing::info!(target: "hale::cluster", node = %self.node, ?event),
        }
        if self.subscribers.has_subscribers() {
            self.subscribers.send(ClusterEventRecord {
                timestamp_ms: hale_util::unix_millis(),
                node: self.node.clone(),
                event,
            });
        }
    }
}
