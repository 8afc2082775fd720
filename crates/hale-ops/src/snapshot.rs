//! The tree as `/tree` and the page show it: the health snapshot, with each
//! child's restart history and each supervisor's intensity window.
//!
//! This module and `source.rs` are the only ones that read hale-core's
//! health types; the rest of the crate uses [`TreeSnapshot`].

use std::collections::BTreeMap;

use hale_core::{ChildKind, ChildState, IntensityWindow, NodeHealth};
use serde::{Deserialize, Serialize};

use crate::breakers::BreakerView;

/// A node's state, as hale-core reports it.
pub type State = ChildState;

/// Every state, in the order `/metrics` lists them.
pub(crate) const STATES: [State; 5] = [
    ChildState::Running,
    ChildState::Degraded,
    ChildState::Restarting,
    ChildState::Hung,
    ChildState::Stopped,
];

/// A state's name, as in JSON and metric labels.
pub(crate) fn state_name(state: State) -> &'static str {
    match state {
        ChildState::Running => "running",
        ChildState::Degraded => "degraded",
        ChildState::Restarting => "restarting",
        ChildState::Hung => "hung",
        ChildState::Stopped => "stopped",
    }
}

/// The whole tree at one moment, with the circuit breakers hale-ops has
/// seen: what `/tree` answers and [`Ops::snapshot`](crate::Ops::snapshot)
/// returns.
///
/// # Examples
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// use hale_core::{ChildSpec, Supervisor, SupervisorSpec};
///
/// let root = Supervisor::start(SupervisorSpec::new("root").intensity(3).child(ChildSpec::task("a", |_| async {
///     std::future::pending::<()>().await;
///     Ok(())
/// })))
/// .await?;
/// let tree = hale_ops::Ops::builder(root.clone()).build()?.snapshot().await?;
/// assert_eq!(tree.counts["running"], 2);
/// assert_eq!(tree.root.intensity.as_ref().map(|w| w.text.as_str()), Some("0 of 3 in 5 s"));
/// assert_eq!(tree.find("root/a").map(|node| node.restarts), Some(0));
/// # root.stop(std::time::Duration::from_secs(1)).await;
/// # Ok(())
/// # }
/// ```
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TreeSnapshot {
    /// When it was taken, in ms since the Unix epoch.
    pub taken_at_ms: u64,
    /// The root supervisor and everything below it.
    pub root: TreeNode,
    /// Nodes by state name (`running`: 12, ...), every state listed.
    pub counts: BTreeMap<String, u64>,
    /// Running nodes that declare themselves not ready (a node that does
    /// not run is not ready either, but that shows in its state).
    pub unready: u64,
    /// Every circuit breaker that has changed state since hale-ops started
    /// watching, by policy name.
    pub breakers: Vec<BreakerView>,
}

/// One node of the tree (see [`TreeSnapshot`] for an example).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TreeNode {
    /// Its path from the root, segments joined by `/`.
    pub path: String,
    /// Its own id (the last segment).
    pub id: String,
    /// Worker or supervisor.
    pub kind: ChildKind,
    /// Its state.
    pub state: State,
    /// Whether it declares itself ready.
    pub ready: bool,
    /// How many times its supervisor restarted it.
    pub restarts: u32,
    /// When its latest restarts happened (ms since the Unix epoch, oldest
    /// first; at most [`hale_core::RESTART_HISTORY`]).
    pub recent_restarts_ms: Vec<u64>,
    /// Why its last incarnation exited, in words.
    pub last_exit: Option<String>,
    /// Whether that exit was abnormal (a crash, a kill, a hang).
    pub last_exit_abnormal: bool,
    /// The machine it runs on, for a child on another node.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub node: Option<String>,
    /// Milliseconds since its last heartbeat (watched children).
    pub heartbeat_age_ms: Option<u64>,
    /// For a supervisor: its restart-intensity window, when known.
    pub intensity: Option<IntensityView>,
    /// For a supervisor: the restarts of the children it no longer holds.
    #[serde(default)]
    pub restarts_of_removed: u64,
    /// For a process child: its pid, status and kept output lines.
    #[cfg(target_os = "linux")]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub process: Option<hale_core::health::ProcessHealth>,
    /// Its children, in start order.
    pub children: Vec<TreeNode>,
}

/// A supervisor's restart-intensity window: `used` restarts counted within
/// the last `period_ms`, out of the `intensity` it allows before it gives up.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct IntensityView {
    /// Restarts counted in the window now.
    pub used: u32,
    /// Restarts allowed in the window (MaxRestarts).
    pub intensity: u32,
    /// The window's length (MaxTime), in ms.
    pub period_ms: u64,
    /// The same in words: `2 of 3 in 5 s`.
    pub text: String,
}

impl IntensityView {
    /// A window with `used` of `intensity` restarts in `period_ms`.
    ///
    /// # Examples
    ///
    /// ```
    /// let window = hale_ops::IntensityView::new(2, 3, 5_000);
    /// assert_eq!(window.text, "2 of 3 in 5 s");
    /// assert_eq!(hale_ops::IntensityView::new(0, 100, 1_500).text, "0 of 100 in 1.5 s");
    /// ```
    pub fn new(used: u32, intensity: u32, period_ms: u64) -> Self {
        let seconds = period_ms as f64 / 1_000.0;
        let text = format!("{used} of {intensity} in {seconds} s");
        Self {
            used,
            intensity,
            period_ms,
            text,
        }
    }
}

impl From<IntensityWindow> for IntensityView {
    fn from(window: IntensityWindow) -> Self {
        Self::new(window.used, window.intensity, window.period_ms)
    }
}

impl TreeSnapshot {
    /// Builds the snapshot from hale-core's health tree and what the feed
    /// has recorded.
    pub(crate) fn build(health: &NodeHealth, breakers: Vec<BreakerView>, taken_at_ms: u64) -> Self {
        let mut counts: BTreeMap<String, u64> =
            STATES.iter().map(|s| (state_name(*s).to_owned(), 0)).collect();
        let mut unready = 0;
        let root = node(health, &mut counts, &mut unready);
        Self {
            taken_at_ms,
            root,
            counts,
            unready,
            breakers,
        }
    }

    /// Every node, depth first, the root first.
    pub fn nodes(&self) -> Vec<&TreeNode> {
        let mut out = Vec::new();
        let mut stack = vec![&self.root];
        while let Some(node) = stack.pop() {
            out.push(node);
            stack.extend(node.children.iter().rev());
        }
        out
    }

    /// The node at `path` (segments joined by `/`).
    pub fn find(&self, path: &str) -> Option<&TreeNode> {
        self.nodes().into_iter().find(|node| node.path == path)
    }
}

fn node(health: &NodeHealth, counts: &mut BTreeMap<String, u64>, unready: &mut u64) -> TreeNode {
    if let Some(count) = counts.get_mut(state_name(health.state)) {
        *count += 1;
    }
    if declares_unready(health.ready, health.state) {
        *unready += 1;
    }
    let children = health
        .children
        .iter()
        .map(|child| node(child, counts, unready))
        .collect();
    TreeNode {
        path: health.path.to_string(),
        id: health.path.leaf().to_owned(),
        kind: health.kind,
        state: health.state,
        ready: health.ready,
        restarts: health.restarts,
        recent_restarts_ms: health.recent_restarts_ms.clone(),
        last_exit: health.last_exit.as_ref().map(ToString::to_string),
        last_exit_abnormal: health
            .last_exit
            .as_ref()
            .is_some_and(|reason| !reason.is_normal()),
        node: health.node.clone(),
        heartbeat_age_ms: health.heartbeat_age_ms,
        intensity: health.intensity.map(IntensityView::from),
        restarts_of_removed: health.restarts_of_removed,
        #[cfg(target_os = "linux")]
        process: health.process.clone(),
        children,
    }
}

/// Nodes by state, and running nodes that declare themselves not ready:
/// what the `/metrics` gauges need, counted without building the tree.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct Tally {
    /// Nodes in each state, in the order of [`STATES`].
    pub(crate) by_state: [u64; STATES.len()],
    pub(crate) unready: u64,
}

impl Tally {
    /// Counts every node of `health`.
    pub(crate) fn of(health: &NodeHealth) -> Self {
        let mut tally = Self::default();
        let mut stack = vec![health];
        while let Some(node) = stack.pop() {
            if let Some(index) = STATES.iter().position(|state| *state == node.state) {
                tally.by_state[index] += 1;
            }
            if declares_unready(node.ready, node.state) {
                tally.unready += 1;
            }
            stack.extend(node.children.iter());
        }
        tally
    }
}

/// Whether a node runs yet says it is not ready: what readiness checks. A
/// node that does not run reports `ready: false` too, but a stopped child
/// (a finished transient one, say) must not hold a service unready forever;
/// a restarting or hung one fails the `healing` check instead.
pub(crate) fn declares_unready(ready: bool, state: State) -> bool {
    !ready && matches!(state, ChildState::Running | ChildState::Degraded)
}
