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

mod actor;
mod handle;
pub(crate) mod state;
mod template;

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use ractor::ActorCell;
use serde::{Deserialize, Serialize};

use crate::error::SupervisorStartError;
use crate::events::EventBus;
use crate::handle::{Control, ExitSlot, spawn_supervisor};
use crate::path::ChildPath;
use crate::spec::{SpecError, StartContext, StartError, StartOutcome, validate_supervisor};
use crate::watchdog::Watchdog;
use actor::{DynamicActor, DynamicArgs};

pub use handle::DynamicSupervisorRef;
pub use state::DynamicChildInfo;
pub use template::{ChildTemplate, TemplateSupervisor};

/// The handle a dynamic supervisor gives each child it starts; unique for
/// the supervisor's lifetime and increasing in start order.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct DynamicChildId(pub u64);

impl fmt::Display for DynamicChildId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "#{}", self.0)
    }
}

/// A child of a dynamic supervisor.
#[derive(Clone, Debug)]
pub struct DynamicChild {
    /// Its handle.
    pub id: DynamicChildId,
    /// The running actor (`None` while a failed restart is being retried).
    pub actor: Option<ActorCell>,
}

/// A successful start on a dynamic supervisor.
#[derive(Clone, Debug)]
pub enum DynamicStart {
    /// A new child runs.
    Started(DynamicChild),
    /// The start function answered ignore; nothing is kept.
    Ignored,
    /// `start_unique` found a child with that key and returned it instead
    /// of starting a duplicate.
    AlreadyRunning(DynamicChild),
}

impl DynamicStart {
    /// The child started or found, if any.
    pub fn child(&self) -> Option<&DynamicChild> {
        match self {
            Self::Started(child) | Self::AlreadyRunning(child) => Some(child),
            Self::Ignored => None,
        }
    }
}

/// A dynamic supervisor's settings, with Elixir's defaults.
#[derive(Clone, Debug)]
pub struct DynamicSupervisorSpec {
    pub(crate) name: String,
    pub(crate) intensity: u32,
    pub(crate) period: Duration,
    pub(crate) max_children: Option<usize>,
    pub(crate) events: Option<EventBus>,
}

impl DynamicSupervisorSpec {
    /// A dynamic supervisor named `name`: intensity 3, period 5 s, no limit
    /// on children.
    pub fn new(name: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            intensity: 3,
            period: Duration::from_secs(5),
            max_children: None,
            events: None,
        }
    }

    /// Sets MaxRestarts.
    pub fn intensity(mut self, intensity: u32) -> Self {
        self.intensity = intensity;
        self
    }

    /// Sets MaxTime (must be > 0).
    pub fn period(mut self, period: Duration) -> Self {
        self.period = period;
        self
    }

    /// Bounds how many children may exist at once.
    pub fn max_children(mut self, max: usize) -> Self {
        self.max_children = Some(max);
        self
    }

    /// Sends healing events to `bus` (used when started as a root).
    pub fn events(mut self, bus: EventBus) -> Self {
        self.events = Some(bus);
        self
    }

    /// Checks the spec as a root.
    pub fn validate(&self) -> Result<(), SpecError> {
        self.validate_at(&ChildPath::default())
    }

    pub(crate) fn validate_at(&self, parent: &ChildPath) -> Result<(), SpecError> {
        validate_supervisor(parent, &self.name, self.period).map(drop)
    }
}

/// Starts dynamic supervisors.
#[derive(Debug, Clone, Copy)]
pub struct DynamicSupervisor;

impl DynamicSupervisor {
    /// Validates the spec and starts an empty dynamic supervisor.
    pub async fn start(spec: DynamicSupervisorSpec) -> Result<DynamicSupervisorRef, SupervisorStartError> {
        spec.validate()?;
        let path = ChildPath::root(spec.name.clone());
        let events = spec.events.clone().unwrap_or_default();
        spawn(Arc::new(spec), path, events, None).await
    }
}

/// The start function of a nested dynamic supervisor child.
pub(crate) async fn start_nested(
    spec: &Arc<DynamicSupervisorSpec>,
    ctx: StartContext,
) -> Result<StartOutcome, StartError> {
    let parent = Some((ctx.supervisor, ctx.watchdog));
    match spawn(Arc::clone(spec), ctx.path, ctx.events, parent).await {
        Ok(handle) => Ok(StartOutcome::Started(handle.actor())),
        Err(error) => Err(StartError::new(error)),
    }
}

async fn spawn(
    spec: Arc<DynamicSupervisorSpec>,
    path: ChildPath,
    events: EventBus,
    parent: Option<(ActorCell, Watchdog)>,
) -> Result<DynamicSupervisorRef, SupervisorStartError> {
    let exit = Arc::new(ExitSlot::default());
    let (parent, watchdog) = parent.unzip();
    let args = DynamicArgs {
        spec,
        path: path.clone(),
        events: events.clone(),
        watchdog,
        exit: Arc::clone(&exit),
    };
    let actor = spawn_supervisor(DynamicActor, args, parent, &path).await?;
    Ok(DynamicSupervisorRef::new(Control {
        actor,
        path,
        events,
        exit,
    }))
}
