//! Hale supervision trees that span machines, on `ractor_cluster`.
//!
//! `ractor_cluster` gives node servers, a cookie handshake, TLS, remote
//! actor stand-ins and process groups synced across nodes. It does not give
//! what a supervisor needs; this crate adds it:
//!
//! - [`Node`]: a node's server and its **agent** (one actor per node, in a
//!   process group). A supervisor on one node starts, stops and kills
//!   children on another through the agents, from specs registered on both
//!   by name ([`SpecRegistry`], [`RemoteChild`], [`Node::child_spec`]). The
//!   host runs the child under a local hale-core supervisor and reports each
//!   exit with its reason and generation.
//! - Failure detection: heartbeats between agents; a silent peer is
//!   declared down within [`NodeConfig::detection_bound`] (default 1.75 s),
//!   and its children exit with reason `noconnection`, restarted by their
//!   supervisors' usual rules. Connections to configured peers are kept up
//!   with backoff.
//! - Fencing: every incarnation has a generation; reports from stale ones
//!   are ignored, and a host kills what its owner can no longer vouch for
//!   (a lease shorter than the detection bound), so after a partition no
//!   child runs twice.
//! - Events: every node publishes [`ClusterEvent`]s (up, down, refused
//!   handshakes, undecodable frames, placements, fencing).
//!
//! The wire protocol, the failure model and its limits are in
//! `docs/cluster.md`. This crate turns ractor's `cluster` feature on, which
//! changes every build it is part of (every message type needs a
//! `ractor::Message` impl); that is why it is a workspace of its own.

mod agent;
mod agent_msg;
mod config;
mod error;
mod events;
mod node;
mod node_id;
mod proxy;
mod registry;
mod remote_child;
mod tls;
mod wire;

pub use agent_msg::{HostedInfo, PeerInfo, Placement};
pub use config::{DEFAULT_DOWN_AFTER, DEFAULT_HEARTBEAT, DEFAULT_LEASE, MAX_TIMING, MIN_COOKIE, NodeConfig};
pub use error::{ConfigError, NodeStartError, RemoteError};
pub use events::{ClusterEvent, ClusterEventRecord, ClusterEvents, FenceCause};
pub use node::Node;
pub use node_id::{MAX_NODE_NAME, NodeId, validate_node_name};
pub use registry::SpecRegistry;
pub use remote_child::{DEFAULT_START_TIMEOUT, DEFAULT_STOP_TIMEOUT, RemoteChild};
pub use tls::TlsConfig;
pub use wire::{DecodeError, MAX_FRAME_BYTES, PROTOCOL};
