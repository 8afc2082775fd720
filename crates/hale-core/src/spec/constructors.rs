//! Convenience constructors for the common kinds of child.

use std::any::TypeId;
use std::error::Error;
use std::future::Future;
use std::sync::Arc;

use ractor::Actor;

use crate::in_place::{InPlace, InPlaceArgs, InPlaceLink};
use crate::path::ChildPath;
use crate::spec::{ChildKind, ChildSpec, DynamicSupervisorSpec, StartOutcome, SupervisorSpec};
use crate::supervisor::{Blueprint, start_nested};
use crate::task::TaskActor;
use crate::watchdog::{Heartbeat, PerMessage};

/// The error type a plain task worker may return: any error.
pub type TaskError = Box<dyn Error + Send + Sync + 'static>;

/// What a plain task worker gets when it is started.
#[derive(Clone, Debug)]
pub struct TaskContext {
    pub(crate) path: ChildPath,
    pub(crate) heartbeat: Heartbeat,
    pub(crate) restarts: u32,
    pub(crate) incarnation: u64,
}

impl TaskContext {
    /// The task's path in the tree.
    pub fn path(&self) -> &ChildPath {
        &self.path
    }

    /// This incarnation's heartbeat: beat it from the task's loop when the
    /// child is watched.
    pub fn heartbeat(&self) -> Heartbeat {
        self.heartbeat.clone()
    }

    /// How many times the supervisor has restarted this task, this run
    /// included if it is a restart (0 on the first run): a task resuming
    /// work can tell a fresh start from a restart after a crash.
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// use hale_core::{ChildSpec, Supervisor, SupervisorSpec};
    ///
    /// let (seen, mut runs) = tokio::sync::mpsc::unbounded_channel();
    /// let task = ChildSpec::task("flaky", move |ctx| {
    ///     let seen = seen.clone();
    ///     async move {
    ///         let _ = seen.send((ctx.incarnation(), ctx.restarts()));
    ///         if ctx.restarts() == 0 {
    ///             return Err("first run fails".into());
    ///         }
    ///         std::future::pending::<()>().await;
    ///         Ok(())
    ///     }
    /// });
    /// let root = Supervisor::start(SupervisorSpec::new("root").child(task)).await?;
    /// assert_eq!(runs.recv().await, Some((1, 0)));
    /// assert_eq!(runs.recv().await, Some((2, 1)));
    /// # root.stop(std::time::Duration::from_secs(5)).await;
    /// # Ok(())
    /// # }
    /// ```
    pub fn restarts(&self) -> u32 {
        self.restarts
    }

    /// Which run of this task this is: 1 for the first.
    pub fn incarnation(&self) -> u64 {
        self.incarnation
    }
}

impl ChildSpec {
    /// Supervises any ractor actor, unchanged: every start spawns a fresh
    /// `actor.clone()` with `args.clone()`, linked to the supervisor. Under
    /// [`Watch::per_message`](crate::Watch::per_message) the actor is wrapped
    /// so that every message it handles is timed by the watchdog; its
    /// message type stays the same.
    ///
    /// An error or panic in the actor's `pre_start` is a start error; once
    /// `pre_start` returns the child counts as started, and a failure in
    /// `post_start` or any later handler is an exit like any other.
    ///
    /// With [`in_place`](Self::in_place) (or
    /// [`dead_letters`](Self::dead_letters)) the actor runs inside Hale's
    /// in-place wrapper instead: a failed handler is restarted on the same
    /// mailbox (see [`in_place`](crate::in_place)).
    pub fn actor<A>(id: impl Into<String>, actor: A, args: A::Arguments) -> Self
    where
        A: Actor + Clone,
        A::Arguments: Clone + Sync,
    {
        let mut spec = Self::new(id, move |ctx| {
            let actor = actor.clone();
            let args = args.clone();
            async move {
                let child = if let Some(in_place) = ctx.in_place {
                    let link = InPlaceLink {
                        sink: in_place.sink.and_then(|sink| sink.typed::<A::Msg>()),
                        path: ctx.path,
                        events: ctx.events,
                        notice: in_place.notice,
                    };
                    let args = InPlaceArgs {
                        args,
                        heartbeat: ctx.per_message.then_some(ctx.heartbeat),
                        incarnation: ctx.incarnation,
                    };
                    Actor::spawn_linked(None, InPlace::new(actor, link), args, ctx.supervisor)
                        .await?
                        .0
                        .get_cell()
                } else if ctx.per_message {
                    let watched = PerMessage::new(actor, ctx.heartbeat);
                    Actor::spawn_linked(None, watched, args, ctx.supervisor)
                        .await?
                        .0
                        .get_cell()
                } else {
                    A::spawn_linked(None, actor, args, ctx.supervisor)
                        .await?
                        .0
                        .get_cell()
                };
                Ok(StartOutcome::Started(child))
            }
        });
        spec.in_place.message_type = Some((TypeId::of::<A::Msg>(), std::any::type_name::<A::Msg>()));
        spec
    }

    /// A nested supervisor, started from `spec` every time. Its id is the
    /// spec's name; its kind is [`ChildKind::Supervisor`] (default shutdown:
    /// infinity). It shares its parent's event bus.
    pub fn supervisor(spec: SupervisorSpec) -> Self {
        let spec = Arc::new(spec);
        let nested = Arc::clone(&spec);
        let mut child = Self::new(spec.name.clone(), move |ctx| {
            let blueprint = Blueprint::Static(Arc::clone(&spec));
            async move { start_nested(blueprint, ctx).await }
        })
        .kind(ChildKind::Supervisor);
        child.validate_nested = Some(Arc::new(move |parent| nested.validate_at(parent)));
        child
    }

    /// A nested dynamic supervisor, started empty from `spec` every time
    /// (children it had are not carried over a restart). Its id is the
    /// spec's name; its kind is [`ChildKind::Supervisor`]. Reach it with
    /// [`SupervisorRef::child_dynamic_supervisor`](crate::SupervisorRef::child_dynamic_supervisor).
    pub fn dynamic_supervisor(spec: DynamicSupervisorSpec) -> Self {
        let spec = Arc::new(spec);
        let nested = Arc::clone(&spec);
        let mut child = Self::new(spec.name.clone(), move |ctx| {
            let blueprint = Blueprint::Dynamic(Arc::clone(&spec));
            async move { start_nested(blueprint, ctx).await }
        })
        .kind(ChildKind::Supervisor);
        child.validate_nested = Some(Arc::new(move |parent| nested.validate_at(parent)));
        child
    }

    /// A worker that runs a plain async function. Returning `Ok(())` is a
    /// normal exit; returning an error or panicking is a failure. Stopping the
    /// worker (or killing it) cancels the function at its next `.await`.
    ///
    /// The default restart is permanent, as for every child: use
    /// [`Restart::Transient`](crate::Restart::Transient) for a job that is
    /// done once it returns `Ok`.
    pub fn task<F, Fut>(id: impl Into<String>, run: F) -> Self
    where
        F: Fn(TaskContext) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<(), TaskError>> + Send + 'static,
    {
        let actor = TaskActor::new(run);
        Self::new(id, move |ctx| {
            let actor = actor.clone();
            async move {
                let linger = ctx.linger();
                let task = TaskContext {
                    path: ctx.path,
                    heartbeat: ctx.heartbeat,
                    restarts: ctx.restarts,
                    incarnation: ctx.incarnation,
                };
                let (child, _join) = Actor::spawn_linked(None, actor, (task, linger), ctx.supervisor).await?;
                Ok(StartOutcome::Started(child.get_cell()))
            }
        })
    }
}
