//! Supervisors with Erlang/OTP semantics.
//!
//! A supervisor is a ractor actor that starts its children in order, watches
//! them through ractor's links, and restarts them by the rules OTP's
//! `supervisor` follows:
//!
//! - **Exits.** `normal` and `shutdown` exits are normal; everything else is
//!   abnormal. A permanent child is always restarted, a transient one after
//!   an abnormal exit only, a temporary one never (and its spec is dropped).
//!   A child that is not restarted never disturbs its siblings.
//! - **Strategies.** one_for_one restarts the child alone; one_for_all stops
//!   all the others in reverse start order, waits until each has exited,
//!   then starts them all in start order; rest_for_one does the same for the
//!   children started after the failed one.
//! - **Intensity.** Each restart decision is recorded in a sliding window;
//!   more than `intensity` restarts within `period` and the supervisor gives
//!   up: it stops all children and exits `shutdown`, and its parent decides
//!   by its own rules (escalation).
//! - **Failed restarts.** A child whose restart fails is marked
//!   `restarting` and retried through the supervisor's own mailbox, so API
//!   calls queued meanwhile are answered first. Each retry counts against the
//!   intensity again.
//! - **Shutdown.** A child is asked to stop, given its shutdown time, then
//!   killed. A supervisor stops its children in reverse start order.
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! use std::time::Duration;
//! use hale_core::{ChildSpec, Restart, Strategy, Supervisor, SupervisorSpec};
//!
//! let root = Supervisor::start(
//!     SupervisorSpec::new("root")
//!         .strategy(Strategy::OneForOne)
//!         .child(ChildSpec::task("poller", |_ctx| async {
//!             std::future::pending::<()>().await;
//!             Ok(())
//!         })),
//! )
//! .await?;
//! assert_eq!(root.count_children().await?.active, 1);
//! root.stop(Duration::from_secs(5)).await;
//! # Ok(())
//! # }
//! ```

mod actor;
mod control;
mod message;
mod state;
mod supervisor_ref;
mod target;

use std::sync::Arc;

use ractor::ActorCell;

use crate::error::SupervisorStartError;
use crate::events::EventBus;
use crate::path::ChildPath;
use crate::spec::{StartContext, StartError, StartOutcome, SupervisorSpec};
use crate::watchdog::Watchdog;
use actor::{SupervisorActor, SupervisorArgs};

pub(crate) use actor::Blueprint;
pub(crate) use control::{Control, ExitSlot, announce_stopped, exit_with_shutdown, spawn_supervisor};
pub(crate) use message::{ChildAddress, SupervisorMsg};
pub use supervisor_ref::SupervisorRef;
pub use target::FOLLOW_WAIT;
pub(crate) use target::Target;

/// Starts supervision trees.
#[derive(Debug, Clone, Copy)]
pub struct Supervisor;

impl Supervisor {
    /// Validates the whole tree, then starts the root supervisor, which
    /// starts its children (and theirs) in order. Returns once every child
    /// runs, or with an error naming the child that failed; nothing is left
    /// running after an error.
    ///
    /// # Errors
    ///
    /// [`SupervisorStartError::InvalidSpec`] before anything starts;
    /// [`SupervisorStartError::ChildFailedToStart`] when a child's start
    /// fails (the children started before it are stopped again, in reverse
    /// order); [`SupervisorStartError::Spawn`] if ractor refuses the actor.
    ///
    /// # Cancel safety
    ///
    /// Not cancel safe: dropping the future while the children start leaves
    /// the supervisor actor to finish starting on its own, unreachable
    /// except through its children's events. Await it to the end.
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// use hale_core::{ChildSpec, Supervisor, SupervisorSpec};
    ///
    /// let root = Supervisor::start(SupervisorSpec::new("root").child(ChildSpec::task("idle", |_| async {
    ///     std::future::pending::<()>().await;
    ///     Ok(())
    /// })))
    /// .await?;
    /// assert_eq!(root.path().to_string(), "root");
    /// root.stop(std::time::Duration::from_secs(5)).await;
    /// # Ok(())
    /// # }
    /// ```
    pub async fn start(spec: SupervisorSpec) -> Result<SupervisorRef, SupervisorStartError> {
        spec.validate()?;
        let path = ChildPath::root(spec.name.clone());
        let events = spec.events.clone().unwrap_or_default();
        spawn(Blueprint::Static(Arc::new(spec)), path, events, None)
            .await
            .map(|control| SupervisorRef::new(Target::root(control)))
    }
}

/// The start function of a nested supervisor child, static or dynamic.
pub(crate) async fn start_nested(
    blueprint: Blueprint,
    ctx: StartContext,
) -> Result<StartOutcome, StartError> {
    let parent = Some((ctx.supervisor, ctx.watchdog));
    match spawn(blueprint, ctx.path, ctx.events, parent).await {
        Ok(control) => Ok(StartOutcome::Started(control.actor.get_cell())),
        Err(error) => Err(StartError::caused_by(error)),
    }
}

/// Spawns a supervisor actor from `blueprint`, linked to `parent` (with the
/// tree's watchdog) or as a root.
pub(crate) async fn spawn(
    blueprint: Blueprint,
    path: ChildPath,
    events: EventBus,
    parent: Option<(ActorCell, Watchdog)>,
) -> Result<Control, SupervisorStartError> {
    let exit = Arc::new(ExitSlot::default());
    let (parent, watchdog) = parent.unzip();
    let dynamic = matches!(blueprint, Blueprint::Dynamic(_));
    let args = SupervisorArgs {
        blueprint,
        path: path.clone(),
        events: events.clone(),
        watchdog,
        exit: Arc::clone(&exit),
    };
    let actor = spawn_supervisor(SupervisorActor, args, parent, &path).await?;
    Ok(Control {
        actor,
        path,
        events,
        exit,
        dynamic,
    })
}
