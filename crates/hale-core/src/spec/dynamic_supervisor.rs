//! [`DynamicSupervisorSpec`]: a dynamic supervisor's settings.

use std::time::Duration;

use crate::events::EventBus;
use crate::path::ChildPath;
use crate::spec::{SpecError, validate_supervisor};

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

    /// Sends healing events to `bus` (used when started as a root; a nested
    /// dynamic supervisor uses its parent's bus).
    pub fn events(mut self, bus: &EventBus) -> Self {
        self.events = Some(bus.clone());
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
