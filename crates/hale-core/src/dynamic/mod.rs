//! Dynamic supervisors: children started at run time.
//!
//! OTP's `simple_one_for_one` and Elixir's `DynamicSupervisor`: the
//! supervisor starts with no children and is asked for them while it runs,
//! each with its own [`ChildSpec`](crate::ChildSpec) (or from a typed
//! [`ChildTemplate`]). Children are addressed by the [`DynamicChildId`] the
//! supervisor hands out, not by spec id, so many children may share one
//! spec. The rules:
//!
//! - one_for_one only: an exit restarts that child alone, by its restart
//!   type, counted against the intensity (Elixir's default: 3 in 5 s);
//! - a child that is not restarted, or whose restart answers ignore, is
//!   removed: there is no spec to keep without it;
//! - `max_children` bounds how many children exist at once (running or
//!   restarting); beyond it, starting fails with
//!   [`ChildError::MaxChildren`](crate::ChildError::MaxChildren);
//! - on shutdown all children are stopped at once, in parallel;
//! - **unique children** ("never spawn without checking"):
//!   [`DynamicSupervisorRef::start_unique`] keys a child on its logical task;
//!   while a child with that key exists, asking again returns it instead of
//!   starting a duplicate, and a [`DuplicateRefused`] event says so.
//!
//! [`DuplicateRefused`]: crate::HealingEventKind::DuplicateRefused
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! use std::time::Duration;
//! use hale_core::{ChildSpec, DynamicStart, DynamicSupervisor, DynamicSupervisorSpec};
//!
//! let syncs = DynamicSupervisor::start(DynamicSupervisorSpec::new("memory-sync").max_children(10)).await?;
//! let sync = || ChildSpec::task("sync", |_ctx| async {
//!     std::future::pending::<()>().await;
//!     Ok(())
//! });
//! let first = syncs.start_unique("user-42", sync()).await?;
//! let second = syncs.start_unique("user-42", sync()).await?;
//! assert!(matches!(first, DynamicStart::Started(_)));
//! assert!(matches!(second, DynamicStart::AlreadyRunning(_)));
//! assert_eq!(syncs.count_children().await?.active, 1);
//! syncs.stop(Duration::from_secs(5)).await;
//! # Ok(())
//! # }
//! ```

mod child_template;
mod dynamic_child_id;
mod dynamic_start;
mod dynamic_supervisor_ref;
mod template_supervisor;

use std::sync::Arc;

use crate::error::SupervisorStartError;
use crate::path::ChildPath;
use crate::spec::DynamicSupervisorSpec;
use crate::supervisor::{Blueprint, Target, spawn};

pub use child_template::ChildTemplate;
pub use dynamic_child_id::DynamicChildId;
pub use dynamic_start::{DynamicChild, DynamicStart};
pub use dynamic_supervisor_ref::DynamicSupervisorRef;
pub use template_supervisor::TemplateSupervisor;

/// Starts dynamic supervisors.
#[derive(Debug, Clone, Copy)]
pub struct DynamicSupervisor;

impl DynamicSupervisor {
    /// Validates the spec and starts an empty dynamic supervisor, as the
    /// root of its own tree (with its own watchdog).
    ///
    /// # Errors
    ///
    /// [`SupervisorStartError::InvalidSpec`] for a bad spec;
    /// [`SupervisorStartError::Spawn`] if ractor refuses the actor.
    ///
    /// # Cancel safety
    ///
    /// Not cancel safe: dropping the future while it spawns may leave a
    /// running supervisor nobody holds a handle to.
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// use hale_core::{DynamicSupervisor, DynamicSupervisorSpec};
    ///
    /// let jobs = DynamicSupervisor::start(DynamicSupervisorSpec::new("jobs")).await?;
    /// assert_eq!(jobs.count_children().await?.active, 0);
    /// jobs.stop(std::time::Duration::from_secs(5)).await;
    /// # Ok(())
    /// # }
    /// ```
    pub async fn start(spec: DynamicSupervisorSpec) -> Result<DynamicSupervisorRef, SupervisorStartError> {
        spec.validate()?;
        let path = ChildPath::root(spec.name.clone());
        let events = spec.events.clone().unwrap_or_default();
        spawn(Blueprint::Dynamic(Arc::new(spec)), path, events, None)
            .await
            .map(|control| DynamicSupervisorRef::new(Target::root(control)))
    }
}
