//! The health snapshot: the whole tree, node by node, as data.
//!
//! [`SupervisorRef::health`](crate::SupervisorRef::health) walks the tree
//! (each supervisor answers for its own children and asks its child
//! supervisors for theirs) and returns a [`NodeHealth`] per node:
//!
//! - **liveness**: the node's [`ChildState`], and for watched children the age
//!   of the last heartbeat;
//! - **readiness**: whether the child declares itself ready
//!   ([`Heartbeat::set_ready`](crate::Heartbeat::set_ready)), e.g. `false`
//!   while a dependency it needs is down;
//! - **function**: a child whose functional probe last answered wrongly is
//!   [`ChildState::Degraded`];
//! - **history**: each child's latest restarts, and each supervisor's
//!   [`IntensityWindow`] ("2 of 3 restarts in 5 s").
//!
//! The snapshot serializes to JSON for dashboards and the HTTP surface.
//!
//! "Is this tree healthy?" is one call: [`NodeHealth::is_healthy`], with
//! [`NodeHealth::concerns`] saying which nodes are not and why.

use serde::{Deserialize, Serialize};

use crate::child::ChildState;
use crate::exit::ExitReason;
pub use crate::intensity::IntensityWindow;
use crate::path::ChildPath;
#[cfg(target_os = "linux")]
use crate::process::{OutputLine, ProcessView};
use crate::spec::ChildKind;

/// How many restart times a [`NodeHealth`] keeps.
pub const RESTART_HISTORY: usize = 16;

/// One node of the health snapshot.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct NodeHealth {
    /// Where it is.
    pub path: ChildPath,
    /// Worker or supervisor.
    pub kind: ChildKind,
    /// Its state.
    pub state: ChildState,
    /// Whether it declares itself ready (always true for nodes that never
    /// said otherwise).
    pub ready: bool,
    /// How many times its supervisor restarted it.
    pub restarts: u32,
    /// Why its last incarnation exited, if one did.
    pub last_exit: Option<ExitReason>,
    /// The machine its latest incarnation ran on, for a child on another
    /// node (`hale-cluster`); `None` for local children.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub node: Option<String>,
    /// Milliseconds since its last heartbeat (watched children only).
    pub heartbeat_age_ms: Option<u64>,
    /// When its supervisor last restarted it, in milliseconds since the Unix
    /// epoch, oldest first: at most [`RESTART_HISTORY`] entries.
    pub recent_restarts_ms: Vec<u64>,
    /// For a supervisor: how much of its restart intensity is used now.
    pub intensity: Option<IntensityWindow>,
    /// For a process child: its pid, the status it last sent and the lines
    /// of output it keeps ([`ProcessCommand::keep_output`]).
    ///
    /// [`ProcessCommand::keep_output`]: crate::process::ProcessCommand::keep_output
    #[cfg(target_os = "linux")]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub process: Option<ProcessHealth>,
    /// For a supervisor: how many restarts the children it no longer holds
    /// had (a dynamic supervisor's per-request children that finished, gave
    /// up or were terminated), so its statistics keep them.
    #[serde(default)]
    pub restarts_of_removed: u64,
    /// Its children, for a supervisor (in start order).
    pub children: Vec<NodeHealth>,
}

impl NodeHealth {
    /// Every node of the subtree, depth first, this one first.
    pub fn nodes(&self) -> Vec<&NodeHealth> {
        let mut out = vec![self];
        for child in &self.children {
            out.extend(child.nodes());
        }
        out
    }

    /// The node at `path` in this subtree.
    pub fn find(&self, path: &str) -> Option<&NodeHealth> {
        self.nodes()
            .into_iter()
            .find(|node| node.path.to_string() == path)
    }

    /// What is wrong with this node alone, if anything. A stopped node is
    /// not a concern: a transient or temporary child that finished stays
    /// stopped by design (a supervisor that gave up is gone, and its
    /// parent's own node shows the restart or the exit).
    ///
    /// # Examples
    ///
    /// See [`is_healthy`](Self::is_healthy).
    pub fn concern(&self) -> Option<Concern> {
        match self.state {
            ChildState::Hung => Some(Concern::Hung),
            ChildState::Restarting => Some(Concern::Restarting),
            ChildState::Degraded => Some(Concern::Degraded),
            ChildState::Running if !self.ready => Some(Concern::NotReady),
            ChildState::Running | ChildState::Stopped => None,
        }
    }

    /// Every node of the subtree that is not healthy, depth first, with why.
    ///
    /// # Examples
    ///
    /// See [`is_healthy`](Self::is_healthy).
    pub fn concerns(&self) -> Vec<(&NodeHealth, Concern)> {
        self.nodes()
            .into_iter()
            .filter_map(|node| node.concern().map(|concern| (node, concern)))
            .collect()
    }

    /// Whether every node of the subtree is healthy: none hung, restarting,
    /// degraded or running but not ready.
    ///
    /// # Examples
    ///
    /// ```
    /// use hale_core::{ChildSpec, Concern, Heartbeat, Supervisor, SupervisorSpec};
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let (tell, told) = tokio::sync::oneshot::channel::<Heartbeat>();
    /// let tell = std::sync::Mutex::new(Some(tell));
    /// let root = Supervisor::start(SupervisorSpec::new("root").child(ChildSpec::task("agent", move |ctx| {
    ///     if let Some(tell) = tell.lock().unwrap().take() {
    ///         let _ = tell.send(ctx.heartbeat());
    ///     }
    ///     async { std::future::pending::<()>().await; Ok(()) }
    /// })))
    /// .await?;
    /// assert!(root.health().await?.is_healthy());
    ///
    /// told.await?.set_ready(false); // e.g. its model endpoint is down
    /// let health = root.health().await?;
    /// assert!(!health.is_healthy());
    /// let concerns = health.concerns();
    /// assert_eq!(concerns[0].0.path.to_string(), "root/agent");
    /// assert_eq!(concerns[0].1, Concern::NotReady);
    /// # root.stop(std::time::Duration::from_secs(5)).await;
    /// # Ok(())
    /// # }
    /// ```
    pub fn is_healthy(&self) -> bool {
        self.nodes().into_iter().all(|node| node.concern().is_none())
    }
}

#[cfg(target_os = "linux")]
/// What the health snapshot shows of a process child.
///
/// # Examples
///
/// ```
/// use hale_core::health::ProcessHealth;
///
/// let idle = ProcessHealth::default();
/// assert_eq!(idle.pid, None);
/// assert!(idle.output.is_empty());
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProcessHealth {
    /// The running program's pid, if one runs.
    pub pid: Option<u32>,
    /// The last `STATUS=` it sent over the notify socket in this run.
    pub status: Option<String>,
    /// How many times the program has been started.
    pub started: u64,
    /// Its last lines of output, oldest first (only with `keep_output`).
    pub output: Vec<OutputLine>,
}

#[cfg(target_os = "linux")]
impl ProcessHealth {
    pub(crate) fn of(view: &ProcessView) -> Self {
        Self {
            pid: view.pid(),
            status: view.status(),
            started: view.started(),
            output: view.output(),
        }
    }
}

/// Why a node of the health snapshot is not healthy.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Concern {
    /// Found hung by the watchdog and being replaced.
    Hung,
    /// Waiting to run again (a delayed or retried restart).
    Restarting,
    /// Running, but its functional probe last answered wrongly.
    Degraded,
    /// Running, but it declares itself not ready.
    NotReady,
}

/// How long a supervisor waits for a child supervisor's subtree before it
/// reports that child without its children.
const NESTED_ANSWER_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(1);

/// Asks the child supervisor `actor` for its subtree; `None` if it is not a
/// Hale supervisor or does not answer in time.
pub(crate) async fn nested_health(actor: &ractor::ActorCell) -> Option<NodeHealth> {
    use ractor::ActorRef;
    use ractor::rpc::CallResult;

    use crate::supervisor::SupervisorMsg;

    if actor.is_message_type_of::<SupervisorMsg>() != Some(true) {
        return None;
    }
    let supervisor: ActorRef<SupervisorMsg> = actor.clone().into();
    match supervisor
        .call(SupervisorMsg::Health, Some(NESTED_ANSWER_TIMEOUT))
        .await
    {
        Ok(CallResult::Success(health)) => Some(health),
        _ => None,
    }
}
