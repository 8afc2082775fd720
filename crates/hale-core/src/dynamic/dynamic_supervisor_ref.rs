//! [`DynamicSupervisorRef`]: the API of a running dynamic supervisor.

use std::time::Duration;

use ractor::{ActorCell, Message};

use crate::child::{ChildCounts, ChildInfo};
use crate::child_ref::ChildRef;
use crate::dynamic::{DynamicChildId, DynamicStart};
use crate::error::{CallError, ChildError};
use crate::events::{EventBus, EventStream};
use crate::exit::ExitReason;
use crate::health::NodeHealth;
use crate::path::ChildPath;
use crate::spec::ChildSpec;
use crate::supervisor::{ChildAddress, SupervisorMsg, Target};
use crate::watchdog::WatchdogCounts;

/// A handle to a running dynamic supervisor. Cheap to clone.
///
/// Every method fails with a [`CallError`] (inside
/// [`ChildError::Supervisor`] where the method returns a `ChildError`) once
/// the supervisor has exited.
///
/// **Cancel safety of the calls.** As for
/// [`SupervisorRef`](crate::SupervisorRef): once the future was polled, the
/// request is in the mailbox; dropping the future loses only the answer.
///
/// # Examples
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// use hale_core::{ChildSpec, DynamicSupervisor, DynamicSupervisorSpec};
///
/// let jobs = DynamicSupervisor::start(DynamicSupervisorSpec::new("jobs").max_children(2)).await?;
/// let job = || ChildSpec::task("job", |_| async {
///     std::future::pending::<()>().await;
///     Ok(())
/// });
/// jobs.start_child(job()).await?;
/// jobs.start_child(job()).await?;
/// assert!(jobs.start_child(job()).await.is_err(), "max_children is 2");
/// # jobs.stop(std::time::Duration::from_secs(5)).await;
/// # Ok(())
/// # }
/// ```
#[derive(Clone)]
pub struct DynamicSupervisorRef {
    target: Target,
}

impl std::fmt::Debug for DynamicSupervisorRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DynamicSupervisorRef")
            .field("path", self.target.path())
            .finish_non_exhaustive()
    }
}

impl DynamicSupervisorRef {
    pub(crate) fn new(target: Target) -> Self {
        Self { target }
    }

    /// The supervisor's path in its tree.
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let root = hale_core::DynamicSupervisor::start(hale_core::DynamicSupervisorSpec::new("root")).await?;
    /// assert_eq!(root.path().to_string(), "root");
    /// # root.stop(std::time::Duration::from_secs(5)).await;
    /// # Ok(())
    /// # }
    /// ```
    pub fn path(&self) -> &ChildPath {
        self.target.path()
    }

    /// The supervisor's actor (for ractor's own API: links, monitors).
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let root = hale_core::DynamicSupervisor::start(hale_core::DynamicSupervisorSpec::new("root")).await?;
    /// println!("supervisor actor {}", root.actor().get_id());
    /// # root.stop(std::time::Duration::from_secs(5)).await;
    /// # Ok(())
    /// # }
    /// ```
    pub fn actor(&self) -> ActorCell {
        self.target.actor()
    }

    /// The tree's event bus (every supervisor of a tree shares it).
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let root = hale_core::DynamicSupervisor::start(hale_core::DynamicSupervisorSpec::new("root")).await?;
    /// let mut events = root.events().subscribe();
    /// assert!(events.try_recv().is_err(), "nothing happened since");
    /// # root.stop(std::time::Duration::from_secs(5)).await;
    /// # Ok(())
    /// # }
    /// ```
    pub fn events(&self) -> &EventBus {
        self.target.events()
    }

    /// Subscribes to the tree's healing events from now on.
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// use hale_core::{ChildSpec, DynamicSupervisor, DynamicSupervisorSpec, HealingEventKind};
    ///
    /// let jobs = DynamicSupervisor::start(DynamicSupervisorSpec::new("jobs")).await?;
    /// let mut events = jobs.subscribe();
    /// jobs.start_child(ChildSpec::task("job", |_ctx| async { Ok(()) })).await?;
    /// let started = events.recv().await?;
    /// assert_eq!(started.kind, HealingEventKind::ChildStarted);
    /// # jobs.stop(std::time::Duration::from_secs(5)).await;
    /// # Ok(())
    /// # }
    /// ```
    pub fn subscribe(&self) -> EventStream {
        self.target.events().subscribe()
    }

    /// Starts a new child from `spec`.
    ///
    /// # Errors
    ///
    /// [`ChildError::InvalidSpec`], [`ChildError::MaxChildren`],
    /// [`ChildError::StartFailed`].
    ///
    /// # Cancel safety
    ///
    /// Dropping the future after its first poll does not cancel the start:
    /// the child starts and runs, and only its handle is lost (it still
    /// shows in [`which_children`](Self::which_children)).
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// use hale_core::{ChildSpec, DynamicStart, DynamicSupervisor, DynamicSupervisorSpec};
    ///
    /// let jobs = DynamicSupervisor::start(DynamicSupervisorSpec::new("jobs")).await?;
    /// let started = jobs.start_child(ChildSpec::task("job", |_| async {
    ///     std::future::pending::<()>().await;
    ///     Ok(())
    /// })).await?;
    /// assert!(matches!(started, DynamicStart::Started(_)));
    /// # jobs.stop(std::time::Duration::from_secs(5)).await;
    /// # Ok(())
    /// # }
    /// ```
    pub async fn start_child(&self, spec: ChildSpec) -> Result<DynamicStart, ChildError> {
        self.start(spec, None).await
    }

    /// Starts a child for the logical task `key` unless one exists: then
    /// answers [`DynamicStart::AlreadyRunning`] with it and starts nothing.
    /// The key is free again once its child is removed.
    ///
    /// # Errors
    ///
    /// As [`start_child`](Self::start_child).
    ///
    /// # Cancel safety
    ///
    /// As [`start_child`](Self::start_child): the key is taken once the call
    /// was polled, whether or not the caller waits for the answer.
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// use hale_core::{ChildSpec, DynamicStart, DynamicSupervisor, DynamicSupervisorSpec};
    ///
    /// let syncs = DynamicSupervisor::start(DynamicSupervisorSpec::new("syncs")).await?;
    /// let sync = || ChildSpec::task("sync", |_| async {
    ///     std::future::pending::<()>().await;
    ///     Ok(())
    /// });
    /// syncs.start_unique("user-42", sync()).await?;
    /// let again = syncs.start_unique("user-42", sync()).await?;
    /// assert!(matches!(again, DynamicStart::AlreadyRunning(_)));
    /// # syncs.stop(std::time::Duration::from_secs(5)).await;
    /// # Ok(())
    /// # }
    /// ```
    pub async fn start_unique(
        &self,
        key: impl Into<String>,
        spec: ChildSpec,
    ) -> Result<DynamicStart, ChildError> {
        self.start(spec, Some(key.into())).await
    }

    async fn start(&self, spec: ChildSpec, key: Option<String>) -> Result<DynamicStart, ChildError> {
        self.target
            .call(|reply| SupervisorMsg::StartDynamic {
                spec: Box::new(spec),
                key,
                reply,
            })
            .await?
    }

    /// Stops a child by its shutdown rule and forgets it. A child of this
    /// supervisor that has already exited answers `Ok`, as OTP does for a
    /// pid that is no longer alive.
    ///
    /// # Errors
    ///
    /// [`ChildError::NotFound`] for a handle this supervisor incarnation did
    /// not give out; nothing is touched then.
    ///
    /// # Cancel safety
    ///
    /// Dropping the future after its first poll does not cancel the stop.
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// use hale_core::{ChildSpec, DynamicSupervisor, DynamicSupervisorSpec};
    ///
    /// let jobs = DynamicSupervisor::start(DynamicSupervisorSpec::new("jobs")).await?;
    /// let started = jobs.start_child(ChildSpec::task("job", |_| async {
    ///     std::future::pending::<()>().await;
    ///     Ok(())
    /// })).await?;
    /// let id = started.child().map(|child| child.id).expect("started");
    /// jobs.terminate_child(id).await?;
    /// jobs.terminate_child(id).await?; // gone already: still ok
    /// assert_eq!(jobs.count_children().await?.specs, 0);
    /// # jobs.stop(std::time::Duration::from_secs(5)).await;
    /// # Ok(())
    /// # }
    /// ```
    pub async fn terminate_child(&self, child: DynamicChildId) -> Result<(), ChildError> {
        let address = ChildAddress::Dynamic(child);
        self.target
            .call(|reply| SupervisorMsg::TerminateChild(address, reply))
            .await?
    }

    /// Every child, in start order.
    ///
    /// # Errors
    ///
    /// [`CallError`] once the supervisor has exited.
    ///
    /// # Cancel safety
    ///
    /// Cancel safe: the call changes nothing.
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// use hale_core::{ChildSpec, DynamicSupervisor, DynamicSupervisorSpec};
    ///
    /// let jobs = DynamicSupervisor::start(DynamicSupervisorSpec::new("jobs")).await?;
    /// jobs.start_unique("k", ChildSpec::task("job", |_| async {
    ///     std::future::pending::<()>().await;
    ///     Ok(())
    /// })).await?;
    /// let rows = jobs.which_children().await?;
    /// assert_eq!((rows[0].path.to_string(), rows[0].key.as_deref()), ("jobs/job#0".into(), Some("k")));
    /// # jobs.stop(std::time::Duration::from_secs(5)).await;
    /// # Ok(())
    /// # }
    /// ```
    pub async fn which_children(&self) -> Result<Vec<ChildInfo>, CallError> {
        self.target.call(SupervisorMsg::WhichChildren).await
    }

    /// Counts: `specs` is the number of children, `active` the running ones.
    ///
    /// # Errors
    ///
    /// [`CallError`] once the supervisor has exited.
    ///
    /// # Cancel safety
    ///
    /// Cancel safe: the call changes nothing.
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// use hale_core::{DynamicSupervisor, DynamicSupervisorSpec};
    ///
    /// let jobs = DynamicSupervisor::start(DynamicSupervisorSpec::new("jobs")).await?;
    /// assert_eq!(jobs.count_children().await?.specs, 0);
    /// # jobs.stop(std::time::Duration::from_secs(5)).await;
    /// # Ok(())
    /// # }
    /// ```
    pub async fn count_children(&self) -> Result<ChildCounts, CallError> {
        self.target.call(SupervisorMsg::CountChildren).await
    }

    /// A [`ChildRef`] that follows one child across restarts.
    ///
    /// # Errors
    ///
    /// [`ChildError::NotFound`] if the child is gone or the handle is not
    /// this supervisor's.
    ///
    /// # Cancel safety
    ///
    /// Cancel safe: the call changes nothing.
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// use hale_core::{ChildSpec, DynamicSupervisor, DynamicSupervisorSpec};
    ///
    /// let jobs = DynamicSupervisor::start(DynamicSupervisorSpec::new("jobs")).await?;
    /// let started = jobs.start_child(ChildSpec::task("job", |_| async {
    ///     std::future::pending::<()>().await;
    ///     Ok(())
    /// })).await?;
    /// let id = started.child().map(|child| child.id).expect("started");
    /// let job = jobs.child_ref::<()>(id).await?;
    /// assert_eq!(job.path().to_string(), "jobs/job#0");
    /// # jobs.stop(std::time::Duration::from_secs(5)).await;
    /// # Ok(())
    /// # }
    /// ```
    pub async fn child_ref<M: Message>(&self, child: DynamicChildId) -> Result<ChildRef<M>, ChildError> {
        let address = ChildAddress::Dynamic(child);
        let (path, incarnation) = self
            .target
            .call(|reply| SupervisorMsg::FollowChild(address, reply))
            .await??;
        Ok(ChildRef::new(path, incarnation))
    }

    /// The health snapshot of this supervisor and its children.
    ///
    /// # Errors
    ///
    /// [`CallError`] once the supervisor has exited.
    ///
    /// # Cancel safety
    ///
    /// Cancel safe: the call changes nothing.
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// use hale_core::{DynamicSupervisor, DynamicSupervisorSpec};
    ///
    /// let jobs = DynamicSupervisor::start(DynamicSupervisorSpec::new("jobs")).await?;
    /// assert!(jobs.health().await?.children.is_empty());
    /// # jobs.stop(std::time::Duration::from_secs(5)).await;
    /// # Ok(())
    /// # }
    /// ```
    pub async fn health(&self) -> Result<NodeHealth, CallError> {
        self.target.call(SupervisorMsg::Health).await
    }

    /// What the tree's watchdog has seen so far.
    ///
    /// # Errors
    ///
    /// [`CallError`] once the supervisor has exited.
    ///
    /// # Cancel safety
    ///
    /// Cancel safe: the call changes nothing.
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// use hale_core::{DynamicSupervisor, DynamicSupervisorSpec};
    ///
    /// let jobs = DynamicSupervisor::start(DynamicSupervisorSpec::new("jobs")).await?;
    /// assert_eq!(jobs.watchdog_counts().await?.stuck, 0);
    /// # jobs.stop(std::time::Duration::from_secs(5)).await;
    /// # Ok(())
    /// # }
    /// ```
    pub async fn watchdog_counts(&self) -> Result<WatchdogCounts, CallError> {
        self.target.call(SupervisorMsg::WatchdogCounts).await
    }

    /// Stops the supervisor: all children at once, then itself, with reason
    /// `normal`; kills the subtree if that takes longer than `limit`.
    ///
    /// # Cancel safety
    ///
    /// Dropping the future does not cancel the stop once it was polled; only
    /// the bound on it (the kill after `limit`) is lost.
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// use hale_core::{DynamicSupervisor, DynamicSupervisorSpec, ExitReason};
    ///
    /// let jobs = DynamicSupervisor::start(DynamicSupervisorSpec::new("jobs")).await?;
    /// assert_eq!(jobs.stop(std::time::Duration::from_secs(5)).await, ExitReason::Normal);
    /// # Ok(())
    /// # }
    /// ```
    pub async fn stop(&self, limit: Duration) -> ExitReason {
        self.target.stop(limit).await
    }

    /// Waits until the supervisor has exited and returns why. For a nested
    /// one, the incarnation the handle last reached, as
    /// [`SupervisorRef::wait`](crate::SupervisorRef::wait) says.
    ///
    /// # Cancel safety
    ///
    /// Cancel safe: waiting changes nothing.
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// use hale_core::{DynamicSupervisor, DynamicSupervisorSpec, ExitReason};
    ///
    /// let jobs = DynamicSupervisor::start(DynamicSupervisorSpec::new("jobs")).await?;
    /// jobs.stop(std::time::Duration::from_secs(5)).await;
    /// assert_eq!(jobs.wait().await, ExitReason::Normal);
    /// # Ok(())
    /// # }
    /// ```
    pub async fn wait(&self) -> ExitReason {
        self.target.wait().await
    }
}
