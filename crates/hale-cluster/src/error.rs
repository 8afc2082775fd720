//! The crate's errors.

use std::time::Duration;

/// A [`NodeConfig`](crate::NodeConfig) that cannot work.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// Node names are 1 to 64 ASCII letters, digits, `-` or `_`.
    #[error("invalid node name {0:?}: use 1 to 64 ASCII letters, digits, '-' or '_'")]
    NodeName(String),
    /// The cookie is required and must be long enough to be a secret.
    #[error("the cookie must be at least {min} bytes long (got {got})")]
    CookieTooShort {
        /// The minimum length.
        min: usize,
        /// The length given.
        got: usize,
    },
    /// A duration that must be positive is zero.
    #[error("{0} must be greater than zero")]
    ZeroDuration(&'static str),
    /// A duration beyond what the failure detector can work with.
    #[error("{name} is {given:?}, more than the maximum {max:?}")]
    DurationTooLong {
        /// Which setting.
        name: &'static str,
        /// The value given.
        given: Duration,
        /// The largest accepted.
        max: Duration,
    },
    /// The fencing lease must run out before peers declare this node down:
    /// `lease + heartbeat < down_after`.
    #[error(
        "lease ({lease:?}) + heartbeat ({heartbeat:?}) must be less than down_after ({down_after:?}), \
         or a child could run twice after a partition"
    )]
    LeaseTooLong {
        /// The lease.
        lease: Duration,
        /// The heartbeat interval.
        heartbeat: Duration,
        /// The down-after bound.
        down_after: Duration,
    },
    /// A certificate or key file that does not parse.
    #[error("TLS: {0}")]
    Tls(String),
}

/// Starting a [`Node`](crate::Node) failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum NodeStartError {
    /// The configuration was rejected before anything started.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// One node per process: ractor's process groups and pid registry are
    /// global to the process.
    #[error("a Hale cluster node already runs in this process")]
    AlreadyRunning,
    /// An actor of the node failed to start (the listener could not bind, ...).
    #[error("starting the node failed: {0}")]
    Spawn(String),
}

/// Why a remote child could not be started, stopped or reached.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RemoteError {
    /// None of the nodes the child may run on was up before the start
    /// timeout.
    #[error("no node allowed for {child} is up (allowed: {allowed:?})")]
    NoNodeUp {
        /// The child's path.
        child: String,
        /// The nodes it may run on.
        allowed: Vec<String>,
    },
    /// The node was declared down while the request was in flight.
    #[error("node {0} went down")]
    NodeDown(String),
    /// The node did not answer in time.
    #[error("node {node} did not answer within {timeout:?}")]
    Timeout {
        /// The node.
        node: String,
        /// How long the request waited.
        timeout: Duration,
    },
    /// The host node refused or failed the start.
    #[error("node {node} could not start {child}: {cause}")]
    StartFailed {
        /// The node.
        node: String,
        /// The child's path.
        child: String,
        /// The host's reason.
        cause: String,
    },
    /// The local node agent is gone (the node is stopping).
    #[error("the local node agent is not running")]
    AgentGone,
}
