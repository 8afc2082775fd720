//! The one place hale-ops touches hale-core's and hale-resilience's APIs:
//! the tree's handle, its health snapshot, and the two event streams.
//!
//! Everything else in the crate sees the tree through [`TreeSource`] and the
//! [`Received`] enum, so a change to the core's event or handle types stays
//! in this file (and in `snapshot.rs`, which reads the health snapshot).

use std::time::Duration;

use hale_core::{ChildError, ChildInfo, ChildPath, NodeHealth, RecvError, Restart, SupervisorRef};

use crate::error::ApiError;

/// What one read from an event stream gave.
#[derive(Debug)]
pub(crate) enum Received<T> {
    /// The next event.
    Event(T),
    /// The reader fell behind and this many events were dropped for it.
    Lagged(u64),
    /// Every sender is gone: the stream is over.
    Closed,
}

/// The tree's healing events, as hale-ops reads them.
pub(crate) struct HealingFeed(hale_core::EventStream);

impl HealingFeed {
    /// The next healing event.
    ///
    /// # Cancel safety
    /// Cancel safe: an event not returned stays queued.
    pub(crate) async fn recv(&mut self) -> Received<hale_core::HealingEvent> {
        received(self.0.recv().await)
    }
}

/// The resilience policies' events, as hale-ops reads them.
pub(crate) struct ResilienceFeed(hale_resilience::ResilienceStream);

impl ResilienceFeed {
    /// Subscribes to a resilience bus.
    pub(crate) fn subscribe(bus: &hale_resilience::ResilienceBus) -> Self {
        Self(bus.subscribe())
    }

    /// The next resilience event.
    ///
    /// # Cancel safety
    /// Cancel safe: an event not returned stays queued.
    pub(crate) async fn recv(&mut self) -> Received<hale_resilience::ResilienceEvent> {
        received(self.0.recv().await)
    }
}

fn received<T>(result: Result<T, RecvError>) -> Received<T> {
    match result {
        Ok(event) => Received::Event(event),
        Err(RecvError::Lagged(missed)) => Received::Lagged(missed),
        Err(RecvError::Closed) => Received::Closed,
    }
}

/// The observed tree: its root supervisor's handle, used for snapshots and
/// for the admin actions.
#[derive(Clone, Debug)]
pub(crate) struct TreeSource {
    root: SupervisorRef,
    /// How long one call into the tree may take before the answer is "not
    /// responding".
    call_timeout: Duration,
}

/// What an operator can do to one child (`POST /admin/{action}`).
///
/// # Examples
///
/// ```
/// assert_eq!(hale_ops::ChildAction::Restart.as_str(), "restart");
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ChildAction {
    /// Stop the child gracefully if it runs, then start it again. Does not
    /// count against its supervisor's restart intensity (OTP's
    /// `terminate_child` + `restart_child`).
    Restart,
    /// Stop the child by its shutdown rule and keep its spec.
    Terminate,
    /// Forget the spec of a child that is not running.
    Delete,
}

impl ChildAction {
    /// The action's name, as in routes and audit entries.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Restart => "restart",
            Self::Terminate => "terminate",
            Self::Delete => "delete",
        }
    }
}

impl TreeSource {
    pub(crate) fn new(root: SupervisorRef, call_timeout: Duration) -> Self {
        Self { root, call_timeout }
    }

    /// The root supervisor's path.
    pub(crate) fn root_path(&self) -> &ChildPath {
        self.root.path()
    }

    /// Subscribes to the tree's healing events.
    pub(crate) fn subscribe(&self) -> HealingFeed {
        HealingFeed(self.root.subscribe())
    }

    /// Whether the root supervisor's actor is running (no call: cheap).
    pub(crate) fn root_running(&self) -> bool {
        matches!(self.root.actor().get_status(), ractor::ActorStatus::Running)
    }

    /// Whether the root supervisor answers a cheap call in time.
    ///
    /// # Cancel safety
    /// Cancel safe: the call only reads.
    pub(crate) async fn answers(&self) -> Result<(), String> {
        match tokio::time::timeout(self.call_timeout, self.root.count_children()).await {
            Ok(Ok(_)) => Ok(()),
            Ok(Err(error)) => Err(error.to_string()),
            Err(_) => Err(format!(
                "the root supervisor did not answer within {} ms",
                self.call_timeout.as_millis()
            )),
        }
    }

    /// The whole tree's health, or why it could not be had.
    ///
    /// # Cancel safety
    /// Cancel safe: the call only reads.
    pub(crate) async fn health(&self) -> Result<NodeHealth, String> {
        match tokio::time::timeout(self.call_timeout, self.root.health()).await {
            Ok(Ok(health)) => Ok(health),
            Ok(Err(error)) => Err(error.to_string()),
            Err(_) => Err(format!(
                "the root supervisor did not answer within {} ms",
                self.call_timeout.as_millis()
            )),
        }
    }

    /// Carries out `action` on the child at `segments` (from the root down).
    /// Finding the child is bounded by the call timeout; the action itself
    /// is not: stopping a child takes up to its shutdown time (infinity for
    /// a supervisor), and cutting a restart short between its stop and its
    /// start would leave the child stopped. The caller runs this in a task
    /// of its own and waits for it as long as it likes.
    ///
    /// # Cancel safety
    /// Not cancel safe: a dropped future may leave the action half done
    /// (a restart whose terminate ran but whose start did not).
    pub(crate) async fn act(&self, segments: &[String], action: ChildAction) -> Result<String, ApiError> {
        let (supervisor, child) = self.resolve(segments).await?;
        match supervisor {
            Parent::Static(supervisor) => match action {
                ChildAction::Terminate => supervisor
                    .terminate_child(&child)
                    .await
                    .map(|()| "terminated".to_owned())
                    .map_err(child_error),
                ChildAction::Delete => supervisor
                    .delete_child(&child)
                    .await
                    .map(|()| "deleted".to_owned())
                    .map_err(child_error),
                ChildAction::Restart => restart(&supervisor, &child).await,
            },
            Parent::Dynamic(supervisor) => match action {
                ChildAction::Terminate => terminate_dynamic(&supervisor, &child).await,
                ChildAction::Restart | ChildAction::Delete => Err(ApiError::Conflict(format!(
                    "`{}` is a child of a dynamic supervisor, which keeps no spec once a \
                     child stops: only terminate applies to it",
                    segments.join("/"),
                ))),
            },
        }
    }

    /// Walks down the tree to the supervisor of the child at `segments`.
    async fn resolve(&self, segments: &[String]) -> Result<(Parent, String), ApiError> {
        let root = self.root.path().leaf();
        let Some((child, between)) = segments.split_last() else {
            return Err(ApiError::BadRequest("the path is empty".to_owned()));
        };
        if let Some(empty) = segments.iter().position(String::is_empty) {
            return Err(ApiError::BadRequest(format!(
                "segment {empty} of path `{}` is empty",
                segments.join("/")
            )));
        }
        let Some((first, middle)) = between.split_first() else {
            return Err(ApiError::BadRequest(format!(
                "`{child}` is the root supervisor; name one of its children, as `{root}/CHILD`"
            )));
        };
        if first != root {
            return Err(ApiError::NotFound(format!(
                "the tree's root is `{root}`, not `{first}`"
            )));
        }
        let mut supervisor = self.root.clone();
        for (depth, id) in middle.iter().enumerate() {
            let at = segments[..depth + 2].join("/");
            let nested = tokio::time::timeout(self.call_timeout, supervisor.child_supervisor(id)).await;
            supervisor = match nested {
                Ok(Ok(nested)) => nested,
                Ok(Err(ChildError::WrongMessageType { .. })) if depth + 1 == middle.len() => {
                    // The last hop may be a dynamic supervisor.
                    let dynamic = supervisor.child_dynamic_supervisor(id).await.map_err(|error| {
                        ApiError::NotFound(format!("`{at}` is not a supervisor: {error}"))
                    })?;
                    return Ok((Parent::Dynamic(dynamic), child.clone()));
                }
                Ok(Err(ChildError::WrongMessageType { .. })) => {
                    return Err(ApiError::NotFound(format!("`{at}` is not a supervisor")));
                }
                Ok(Err(error)) => return Err(child_error(error)),
                Err(_) => {
                    return Err(ApiError::Unavailable(format!(
                        "`{at}` did not answer within {} ms",
                        self.call_timeout.as_millis()
                    )));
                }
            };
        }
        Ok((Parent::Static(supervisor), child.clone()))
    }
}

enum Parent {
    Static(SupervisorRef),
    Dynamic(hale_core::DynamicSupervisorRef),
}

/// A dynamic child is named in its path by its handle's display
/// (`sync#3`); the handle itself comes from `which_children`.
async fn terminate_dynamic(
    supervisor: &hale_core::DynamicSupervisorRef,
    child: &str,
) -> Result<String, ApiError> {
    let children = supervisor
        .which_children()
        .await
        .map_err(|error| child_error(error.into()))?;
    let handle = children
        .iter()
        .find(|info| info.path.leaf() == child)
        .and_then(|info| info.dynamic_id)
        .ok_or_else(|| {
            ApiError::NotFound(format!(
                "dynamic supervisor `{}` has no child `{child}`",
                supervisor.path()
            ))
        })?;
    supervisor.terminate_child(handle).await.map_err(child_error)?;
    Ok("terminated".to_owned())
}

/// Restart as an operator means it: a running child is stopped gracefully
/// and started again; a stopped one is started. A temporary child is
/// refused: terminating it would forget its spec.
async fn restart(supervisor: &SupervisorRef, child: &str) -> Result<String, ApiError> {
    let children = supervisor
        .which_children()
        .await
        .map_err(|error| child_error(error.into()))?;
    let Some(info) = children.iter().find(|info: &&ChildInfo| info.id == child) else {
        return Err(child_error(ChildError::NotFound {
            supervisor: supervisor.path().clone(),
            child: child.to_owned(),
        }));
    };
    if info.restart == Restart::Temporary {
        return Err(ApiError::Conflict(format!(
            "`{}/{child}` is temporary: stopping it would forget its spec, so it cannot be restarted",
            supervisor.path()
        )));
    }
    if info.state.is_running() {
        supervisor.terminate_child(child).await.map_err(child_error)?;
    }
    supervisor.restart_child(child).await.map_err(child_error)?;
    Ok("restarted".to_owned())
}

/// The HTTP answer for each of the administration API's refusals.
fn child_error(error: ChildError) -> ApiError {
    match error {
        ChildError::NotFound { .. } | ChildError::WrongMessageType { .. } => {
            ApiError::NotFound(error.to_string())
        }
        ChildError::Running { .. }
        | ChildError::Restarting { .. }
        | ChildError::AlreadyStarted { .. }
        | ChildError::AlreadyPresent { .. }
        | ChildError::MaxChildren { .. } => ApiError::Conflict(error.to_string()),
        ChildError::Supervisor(_) => ApiError::Unavailable(error.to_string()),
        other => ApiError::Failed(other.to_string()),
    }
}
