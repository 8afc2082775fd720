//! [`RemoteChild`]: a child of a local supervisor that runs on another node.

use std::time::Duration;

use hale_core::Restart;

/// Default bound on a remote start, waiting for an allowed node included.
pub const DEFAULT_START_TIMEOUT: Duration = Duration::from_secs(5);
/// Default bound on a remote stop (the host applies the spec's own
/// shutdown rule within it).
pub const DEFAULT_STOP_TIMEOUT: Duration = Duration::from_secs(10);

/// A child that runs on another node, from a spec registered there by name
/// (see [`SpecRegistry`](crate::SpecRegistry)). Turn it into a
/// [`ChildSpec`](hale_core::ChildSpec) for any supervisor with
/// [`Node::child_spec`](crate::Node::child_spec).
///
/// Placement: each start (the first and every restart) goes to the first
/// node of [`on`](Self::on) that is up, in order; so a child goes back to its
/// preferred node once that node is up again at its next restart. If none
/// is up, the start waits up to the start timeout for one.
///
/// # Examples
///
/// ```
/// use hale_cluster::RemoteChild;
/// use hale_core::Restart;
///
/// let child = RemoteChild::new("indexer", "indexer-spec")
///     .on(["b", "c"])
///     .restart(Restart::Transient);
/// assert_eq!(child.nodes(), ["b", "c"]);
/// ```
#[derive(Clone, Debug)]
pub struct RemoteChild {
    pub(crate) id: String,
    pub(crate) spec: String,
    pub(crate) nodes: Vec<String>,
    pub(crate) restart: Restart,
    pub(crate) start_timeout: Duration,
    pub(crate) stop_timeout: Duration,
}

impl RemoteChild {
    /// A child with id `id` (in the local supervisor) started from the spec
    /// registered as `spec` on the host. It may run on no node until
    /// [`on`](Self::on) says where.
    pub fn new(id: impl Into<String>, spec: impl Into<String>) -> Self {
        Self {
            id: id.into(),
            spec: spec.into(),
            nodes: Vec::new(),
            restart: Restart::Permanent,
            start_timeout: DEFAULT_START_TIMEOUT,
            stop_timeout: DEFAULT_STOP_TIMEOUT,
        }
    }

    /// The nodes it may run on, most preferred first (this node's own name
    /// is allowed too).
    pub fn on<I, S>(mut self, nodes: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.nodes = nodes.into_iter().map(Into::into).collect();
        self
    }

    /// The restart type its local supervisor applies (default permanent).
    pub fn restart(mut self, restart: Restart) -> Self {
        self.restart = restart;
        self
    }

    /// How long a start may take, waiting for an allowed node included
    /// (default [`DEFAULT_START_TIMEOUT`]).
    pub fn start_timeout(mut self, timeout: Duration) -> Self {
        self.start_timeout = timeout;
        self
    }

    /// How long a stop may take before the child is killed (default
    /// [`DEFAULT_STOP_TIMEOUT`]).
    pub fn stop_timeout(mut self, timeout: Duration) -> Self {
        self.stop_timeout = timeout;
        self
    }

    /// The nodes it may run on.
    pub fn nodes(&self) -> &[String] {
        &self.nodes
    }
}
