//! [`SupervisorRef`]: the administration API of a running supervisor.

use std::time::Duration;

use ractor::rpc::CallResult;
use ractor::{ActorCell, Message};

use crate::child::{ChildCounts, ChildInfo, StartedChild};
use crate::child_ref::{ChildRef, Refollow};
use crate::dynamic::DynamicSupervisorRef;
use crate::error::{CallError, ChildError};
use crate::events::{EventBus, EventStream};
use crate::exit::ExitReason;
use crate::health::NodeHealth;
use crate::path::ChildPath;
use crate::spec::ChildSpec;
use crate::supervisor::{ChildAddress, SupervisorMsg, Target};
use crate::watchdog::WatchdogCounts;

/// A handle to a running supervisor. Cheap to clone; every method is a call
/// into the supervisor's mailbox, answered in order with everything else it
/// does.
///
/// Every method fails with a [`CallError`] (inside
/// [`ChildError::Supervisor`] where the method returns a `ChildError`) once
/// the supervisor has exited.
///
/// **Cancel safety of the calls.** A call is a message: once the future has
/// been polled, the request is in the supervisor's mailbox, and dropping the
/// future does not take it back. The supervisor carries it out (the child
/// starts, stops or is deleted) and only the answer is lost.
///
/// # Examples
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// use std::time::Duration;
/// use hale_core::{ChildSpec, ChildState, Supervisor, SupervisorSpec};
///
/// let idle = |id: &str| ChildSpec::task(id, |_| async {
///     std::future::pending::<()>().await;
///     Ok(())
/// });
/// let root = Supervisor::start(SupervisorSpec::new("root").child(idle("a"))).await?;
/// root.start_child(idle("b")).await?;
/// root.terminate_child("a").await?;
/// let states: Vec<_> = root.which_children().await?.into_iter().map(|row| (row.id, row.state)).collect();
/// assert_eq!(states, [("a".into(), ChildState::Stopped), ("b".into(), ChildState::Running)]);
/// root.stop(Duration::from_secs(5)).await;
/// # Ok(())
/// # }
/// ```
#[derive(Clone)]
pub struct SupervisorRef {
    target: Target,
}

impl std::fmt::Debug for SupervisorRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SupervisorRef")
            .field("path", self.target.path())
            .field("actor", &self.target.actor().get_id())
            .finish_non_exhaustive()
    }
}

impl SupervisorRef {
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
    /// let root = hale_core::Supervisor::start(hale_core::SupervisorSpec::new("root")).await?;
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
    /// let root = hale_core::Supervisor::start(hale_core::SupervisorSpec::new("root")).await?;
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
    /// let root = hale_core::Supervisor::start(hale_core::SupervisorSpec::new("root")).await?;
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
    /// # #[tokio::main(flavor = "current_thread", start_paused = true)]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// use std::time::Duration;
    /// use hale_core::{ChildSpec, HealingEventKind, Supervisor, SupervisorSpec};
    ///
    /// let root = Supervisor::start(SupervisorSpec::new("root")).await?;
    /// let mut events = root.subscribe();
    /// root.start_child(ChildSpec::task("job", |_| async { Ok(()) })).await?;
    /// let started = events.wait_for(Duration::from_secs(1), |e| e.kind == HealingEventKind::ChildStarted).await;
    /// assert_eq!(started.map(|e| e.path.to_string()), Some("root/job".into()));
    /// root.stop(Duration::from_secs(5)).await;
    /// # Ok(())
    /// # }
    /// ```
    pub fn subscribe(&self) -> EventStream {
        self.target.events().subscribe()
    }

    /// Adds a child at the end of the start order and starts it.
    ///
    /// # Errors
    ///
    /// [`ChildError::InvalidSpec`], [`ChildError::AlreadyStarted`] (the id
    /// runs), [`ChildError::AlreadyPresent`] (the id is kept, not running),
    /// [`ChildError::StartFailed`] (the spec is discarded).
    ///
    /// # Cancel safety
    ///
    /// Dropping the future after its first poll does not cancel the start:
    /// the child is added and started all the same.
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// use hale_core::{ChildError, ChildSpec, StartError, StartedChild, Supervisor, SupervisorSpec};
    ///
    /// let root = Supervisor::start(SupervisorSpec::new("root")).await?;
    /// let broken = ChildSpec::new("db", |_| async { Err(StartError::new("no connection")) });
    /// let failed = root.start_child(broken).await;
    /// assert!(matches!(failed, Err(ChildError::StartFailed { .. })));
    /// # root.stop(std::time::Duration::from_secs(5)).await;
    /// # Ok(())
    /// # }
    /// ```
    pub async fn start_child(&self, spec: ChildSpec) -> Result<StartedChild, ChildError> {
        self.call(|reply| SupervisorMsg::StartChild(Box::new(spec), reply))
            .await?
    }

    /// Stops a child by its shutdown rule and keeps its spec (a temporary
    /// child's spec is deleted). Succeeds even if the child was not running;
    /// a pending restart is cancelled.
    ///
    /// # Errors
    ///
    /// [`ChildError::NotFound`].
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
    /// use hale_core::{ChildSpec, Supervisor, SupervisorSpec};
    ///
    /// let root = Supervisor::start(SupervisorSpec::new("root").child(ChildSpec::task("job", |_| async {
    ///     std::future::pending::<()>().await;
    ///     Ok(())
    /// })))
    /// .await?;
    /// root.terminate_child("job").await?;
    /// assert_eq!(root.count_children().await?.active, 0);
    /// assert!(root.terminate_child("nobody").await.is_err());
    /// # root.stop(std::time::Duration::from_secs(5)).await;
    /// # Ok(())
    /// # }
    /// ```
    pub async fn terminate_child(&self, id: &str) -> Result<(), ChildError> {
        let address = ChildAddress::Id(id.to_owned());
        self.call(|reply| SupervisorMsg::TerminateChild(address, reply))
            .await?
    }

    /// Starts a child whose spec is kept but which is not running. Does not
    /// count against the restart intensity.
    ///
    /// # Errors
    ///
    /// [`ChildError::Running`], [`ChildError::Restarting`],
    /// [`ChildError::NotFound`], [`ChildError::StartFailed`] (the spec is
    /// kept).
    ///
    /// # Cancel safety
    ///
    /// Dropping the future after its first poll does not cancel the start.
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// use hale_core::{ChildSpec, Supervisor, SupervisorSpec};
    ///
    /// let root = Supervisor::start(SupervisorSpec::new("root").child(ChildSpec::task("job", |_| async {
    ///     std::future::pending::<()>().await;
    ///     Ok(())
    /// })))
    /// .await?;
    /// root.terminate_child("job").await?;
    /// assert!(root.restart_child("job").await?.actor().is_some());
    /// # root.stop(std::time::Duration::from_secs(5)).await;
    /// # Ok(())
    /// # }
    /// ```
    pub async fn restart_child(&self, id: &str) -> Result<StartedChild, ChildError> {
        let id = id.to_owned();
        self.call(|reply| SupervisorMsg::RestartChild(id, reply)).await?
    }

    /// Deletes the spec of a child that is not running.
    ///
    /// # Errors
    ///
    /// [`ChildError::Running`], [`ChildError::Restarting`],
    /// [`ChildError::NotFound`].
    ///
    /// # Cancel safety
    ///
    /// Dropping the future after its first poll does not cancel the delete.
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// use hale_core::{ChildError, ChildSpec, Supervisor, SupervisorSpec};
    ///
    /// let root = Supervisor::start(SupervisorSpec::new("root").child(ChildSpec::task("job", |_| async {
    ///     std::future::pending::<()>().await;
    ///     Ok(())
    /// })))
    /// .await?;
    /// assert!(matches!(root.delete_child("job").await, Err(ChildError::Running { .. })));
    /// root.terminate_child("job").await?;
    /// root.delete_child("job").await?;
    /// assert_eq!(root.count_children().await?.specs, 0);
    /// # root.stop(std::time::Duration::from_secs(5)).await;
    /// # Ok(())
    /// # }
    /// ```
    pub async fn delete_child(&self, id: &str) -> Result<(), ChildError> {
        let id = id.to_owned();
        self.call(|reply| SupervisorMsg::DeleteChild(id, reply)).await?
    }

    /// Every child spec in start order, with what it is doing.
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
    /// use hale_core::{ChildSpec, Supervisor, SupervisorSpec};
    ///
    /// let idle = |id: &str| ChildSpec::task(id, |_| async {
    ///     std::future::pending::<()>().await;
    ///     Ok(())
    /// });
    /// let root = Supervisor::start(SupervisorSpec::new("root").child(idle("a")).child(idle("b"))).await?;
    /// let ids: Vec<_> = root.which_children().await?.into_iter().map(|row| row.id).collect();
    /// assert_eq!(ids, ["a", "b"]);
    /// # root.stop(std::time::Duration::from_secs(5)).await;
    /// # Ok(())
    /// # }
    /// ```
    pub async fn which_children(&self) -> Result<Vec<ChildInfo>, CallError> {
        self.call(SupervisorMsg::WhichChildren).await
    }

    /// Counts of specs, running children, supervisors and workers.
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
    /// use hale_core::{Supervisor, SupervisorSpec};
    ///
    /// let root = Supervisor::start(SupervisorSpec::new("root")).await?;
    /// assert_eq!(root.count_children().await?, hale_core::ChildCounts::default());
    /// # root.stop(std::time::Duration::from_secs(5)).await;
    /// # Ok(())
    /// # }
    /// ```
    pub async fn count_children(&self) -> Result<ChildCounts, CallError> {
        self.call(SupervisorMsg::CountChildren).await
    }

    /// A child's spec, with the defaults filled in.
    ///
    /// # Errors
    ///
    /// [`ChildError::NotFound`].
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
    /// use hale_core::{ChildSpec, Shutdown, Supervisor, SupervisorSpec};
    ///
    /// let root = Supervisor::start(SupervisorSpec::new("root").child(ChildSpec::task("job", |_| async {
    ///     std::future::pending::<()>().await;
    ///     Ok(())
    /// })))
    /// .await?;
    /// assert_eq!(root.get_childspec("job").await?.shutdown_rule(), Shutdown::WORKER_DEFAULT);
    /// # root.stop(std::time::Duration::from_secs(5)).await;
    /// # Ok(())
    /// # }
    /// ```
    pub async fn get_childspec(&self, id: &str) -> Result<ChildSpec, ChildError> {
        let id = id.to_owned();
        self.call(|reply| SupervisorMsg::GetChildSpec(id, reply)).await?
    }

    /// A [`ChildRef`] that follows the child `id` across restarts.
    ///
    /// # Errors
    ///
    /// [`ChildError::NotFound`]; [`ChildError::WrongMessageType`] if the
    /// child runs and does not take `M`.
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
    /// # use ractor::{Actor, ActorProcessingErr, ActorRef};
    /// # #[derive(Clone)]
    /// # struct Echo;
    /// # impl Actor for Echo {
    /// #     type Msg = String;
    /// #     type State = ();
    /// #     type Arguments = ();
    /// #     async fn pre_start(&self, _: ActorRef<String>, _: ()) -> Result<(), ActorProcessingErr> { Ok(()) }
    /// # }
    /// use hale_core::{ChildError, ChildSpec, Supervisor, SupervisorSpec};
    ///
    /// let root = Supervisor::start(SupervisorSpec::new("root").child(ChildSpec::actor("echo", Echo, ()))).await?;
    /// let echo = root.child_ref::<String>("echo").await?;
    /// assert_eq!(echo.path().to_string(), "root/echo");
    /// assert!(matches!(root.child_ref::<u64>("echo").await, Err(ChildError::WrongMessageType { .. })));
    /// root.terminate_child("echo").await?;
    /// assert!(echo.current().is_none());
    /// # root.stop(std::time::Duration::from_secs(5)).await;
    /// # Ok(())
    /// # }
    /// ```
    pub async fn child_ref<M: Message>(&self, id: &str) -> Result<ChildRef<M>, ChildError> {
        let address = ChildAddress::Id(id.to_owned());
        let (path, incarnation) = self
            .call(|reply| SupervisorMsg::FollowChild(address, reply))
            .await??;
        // Through a handle that follows this supervisor, the reference also
        // finds the child again after the supervisor itself restarts.
        let child = if self.target.is_following() {
            ChildRef::following(
                path,
                incarnation,
                Refollow::new(self.target.clone(), id.to_owned()),
            )
        } else {
            ChildRef::new(path, incarnation)
        };
        if let Some(actor) = child.current_cell()
            && actor.is_message_type_of::<M>() == Some(false)
        {
            return Err(ChildError::WrongMessageType {
                supervisor: self.target.path().clone(),
                child: id.to_owned(),
            });
        }
        Ok(child)
    }

    /// The handle of a running child that is itself a (static) supervisor.
    ///
    /// # Errors
    ///
    /// [`ChildError::NotFound`]; [`ChildError::WrongMessageType`] if the
    /// child is not a Hale supervisor of that kind; [`ChildError::Restarting`]
    /// if it is being restarted, [`ChildError::NotRunning`] if it is stopped.
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
    /// use hale_core::{ChildSpec, Supervisor, SupervisorSpec};
    ///
    /// let root = Supervisor::start(SupervisorSpec::new("root").child(ChildSpec::supervisor(SupervisorSpec::new("team")))).await?;
    /// let team = root.child_supervisor("team").await?;
    /// assert_eq!(team.path().to_string(), "root/team");
    /// # root.stop(std::time::Duration::from_secs(5)).await;
    /// # Ok(())
    /// # }
    /// ```
    pub async fn child_supervisor(&self, id: &str) -> Result<SupervisorRef, ChildError> {
        self.nested(id, false).await.map(SupervisorRef::new)
    }

    /// The handle of a running child that is a dynamic supervisor.
    ///
    /// # Errors
    ///
    /// As [`child_supervisor`](Self::child_supervisor).
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
    /// use hale_core::{ChildSpec, DynamicSupervisorSpec, Supervisor, SupervisorSpec};
    ///
    /// let root = Supervisor::start(
    ///     SupervisorSpec::new("root").child(ChildSpec::dynamic_supervisor(DynamicSupervisorSpec::new("jobs"))),
    /// )
    /// .await?;
    /// let jobs = root.child_dynamic_supervisor("jobs").await?;
    /// assert_eq!(jobs.count_children().await?.specs, 0);
    /// # root.stop(std::time::Duration::from_secs(5)).await;
    /// # Ok(())
    /// # }
    /// ```
    pub async fn child_dynamic_supervisor(&self, id: &str) -> Result<DynamicSupervisorRef, ChildError> {
        self.nested(id, true).await.map(DynamicSupervisorRef::new)
    }

    /// A target that follows the child `id`, a Hale supervisor (dynamic or
    /// not, as asked), across its restarts.
    async fn nested(&self, id: &str, dynamic: bool) -> Result<Target, ChildError> {
        let child: ChildRef<SupervisorMsg> = self.child_ref(id).await.map_err(|error| match error {
            ChildError::WrongMessageType { .. } => self.not_a_supervisor(id),
            other => other,
        })?;
        let not_running = || match child.state() {
            Some(crate::ChildState::Restarting) => ChildError::Restarting {
                supervisor: self.target.path().clone(),
                child: id.to_owned(),
            },
            _ => ChildError::NotRunning {
                supervisor: self.target.path().clone(),
                child: id.to_owned(),
            },
        };
        let actor = child.current().ok_or_else(not_running)?;
        match actor.call(SupervisorMsg::Control, None).await {
            Ok(CallResult::Success(control)) if control.dynamic == dynamic => {
                Ok(Target::nested(child, control))
            }
            Ok(CallResult::Success(_)) => Err(self.not_a_supervisor(id)),
            _ => Err(not_running()),
        }
    }

    fn not_a_supervisor(&self, id: &str) -> ChildError {
        ChildError::WrongMessageType {
            supervisor: self.target.path().clone(),
            child: id.to_owned(),
        }
    }

    /// The health snapshot of this supervisor's whole subtree.
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
    /// use hale_core::{ChildState, Supervisor, SupervisorSpec};
    ///
    /// let root = Supervisor::start(SupervisorSpec::new("root")).await?;
    /// let health = root.health().await?;
    /// assert_eq!(health.state, ChildState::Running);
    /// assert_eq!(health.intensity.map(|window| window.used), Some(0));
    /// # root.stop(std::time::Duration::from_secs(5)).await;
    /// # Ok(())
    /// # }
    /// ```
    pub async fn health(&self) -> Result<NodeHealth, CallError> {
        self.call(SupervisorMsg::Health).await
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
    /// use hale_core::{Supervisor, SupervisorSpec};
    ///
    /// let root = Supervisor::start(SupervisorSpec::new("root")).await?;
    /// assert_eq!(root.watchdog_counts().await?.hung, 0);
    /// # root.stop(std::time::Duration::from_secs(5)).await;
    /// # Ok(())
    /// # }
    /// ```
    pub async fn watchdog_counts(&self) -> Result<WatchdogCounts, CallError> {
        self.call(SupervisorMsg::WatchdogCounts).await
    }

    /// Stops the supervisor gracefully: it stops its children in reverse
    /// start order, each by its shutdown rule, then exits with reason
    /// `normal`. If that takes longer than `limit`, the supervisor and its
    /// whole subtree are killed (exit reason `killed`). Returns the exit
    /// reason.
    ///
    /// # Cancel safety
    ///
    /// Dropping the future does not cancel the stop once it was polled: the
    /// supervisor goes on stopping; only the bound on it (the kill after
    /// `limit`) is lost.
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// use std::time::Duration;
    /// use hale_core::{ExitReason, Supervisor, SupervisorSpec};
    ///
    /// let root = Supervisor::start(SupervisorSpec::new("root")).await?;
    /// assert_eq!(root.stop(Duration::from_secs(5)).await, ExitReason::Normal);
    /// # Ok(())
    /// # }
    /// ```
    pub async fn stop(&self, limit: Duration) -> ExitReason {
        self.target.stop(limit).await
    }

    /// Waits until the supervisor has exited and returns why: `normal` after
    /// [`stop`](Self::stop), `shutdown` after it gave up (intensity) or
    /// shut down automatically or was stopped by its parent, `killed` if it
    /// was killed.
    ///
    /// For a nested supervisor, whose parent may restart it, this waits for
    /// the incarnation the handle last reached (by a call or when it was
    /// made), so it returns at once if that one has already exited; the
    /// handle's later calls reach the next incarnation.
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
    /// use std::time::Duration;
    /// use hale_core::{ExitReason, Supervisor, SupervisorSpec};
    ///
    /// let root = Supervisor::start(SupervisorSpec::new("root")).await?;
    /// let waiter = root.clone();
    /// let waited = tokio::spawn(async move { waiter.wait().await });
    /// root.stop(Duration::from_secs(5)).await;
    /// assert_eq!(waited.await?, ExitReason::Normal);
    /// # Ok(())
    /// # }
    /// ```
    pub async fn wait(&self) -> ExitReason {
        self.target.wait().await
    }

    async fn call<T: Send + 'static>(
        &self,
        message: impl FnOnce(ractor::RpcReplyPort<T>) -> SupervisorMsg,
    ) -> Result<T, CallError> {
        self.target.call(message).await
    }
}
