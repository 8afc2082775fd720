//! The supervisor spec: flags and children.

use std::fmt;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::events::EventBus;
use crate::spec::ChildSpec;

/// Which children a supervisor restarts when one of them exits and must be
/// restarted (OTP's `strategy`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Strategy {
    /// Restart only the child that exited. The default.
    #[default]
    OneForOne,
    /// Stop every other child (in reverse start order), then start all of
    /// them again in start order.
    OneForAll,
    /// Stop the children started after the one that exited (in reverse
    /// order), then restart it and them in start order; earlier children are
    /// untouched.
    RestForOne,
}

/// When a supervisor stops by itself because significant children exited
/// (OTP's `auto_shutdown`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AutoShutdown {
    /// Never. No child may be significant. The default.
    #[default]
    Never,
    /// As soon as any significant child exits by itself and is not restarted.
    AnySignificant,
    /// Once no significant child is left running.
    AllSignificant,
}

/// A supervisor's flags, with OTP's defaults.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SupervisorFlags {
    /// The restart strategy.
    pub strategy: Strategy,
    /// MaxRestarts: how many restarts are allowed within `period` (default 1).
    pub intensity: u32,
    /// MaxTime: the length of the restart window (default 5 s; must be > 0).
    #[serde(with = "crate::serde_ms")]
    pub period: Duration,
    /// The auto_shutdown rule.
    pub auto_shutdown: AutoShutdown,
}

impl Default for SupervisorFlags {
    fn default() -> Self {
        Self {
            strategy: Strategy::OneForOne,
            intensity: 1,
            period: Duration::from_secs(5),
            auto_shutdown: AutoShutdown::Never,
        }
    }
}

/// A supervisor: its name, flags and children in start order.
#[derive(Clone)]
pub struct SupervisorSpec {
    pub(crate) name: String,
    pub(crate) flags: SupervisorFlags,
    pub(crate) children: Vec<ChildSpec>,
    pub(crate) events: Option<EventBus>,
}

impl SupervisorSpec {
    /// A supervisor named `name` (its segment in paths), with OTP's default
    /// flags and no children yet.
    pub fn new(name: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            flags: SupervisorFlags::default(),
            children: Vec::new(),
            events: None,
        }
    }

    /// Sets the restart strategy.
    pub fn strategy(mut self, strategy: Strategy) -> Self {
        self.flags.strategy = strategy;
        self
    }

    /// Sets MaxRestarts.
    pub fn intensity(mut self, intensity: u32) -> Self {
        self.flags.intensity = intensity;
        self
    }

    /// Sets MaxTime.
    pub fn period(mut self, period: Duration) -> Self {
        self.flags.period = period;
        self
    }

    /// Sets the auto_shutdown rule.
    pub fn auto_shutdown(mut self, auto_shutdown: AutoShutdown) -> Self {
        self.flags.auto_shutdown = auto_shutdown;
        self
    }

    /// Replaces all flags at once.
    pub fn flags(mut self, flags: SupervisorFlags) -> Self {
        self.flags = flags;
        self
    }

    /// Appends a child; children start in the order they are added.
    pub fn child(mut self, child: ChildSpec) -> Self {
        self.children.push(child);
        self
    }

    /// Appends several children, in order.
    pub fn children(mut self, children: impl IntoIterator<Item = ChildSpec>) -> Self {
        self.children.extend(children);
        self
    }

    /// Sends this tree's healing events to `bus` (by default a root
    /// supervisor makes its own). A nested supervisor always uses its
    /// parent's bus.
    pub fn events(mut self, bus: &EventBus) -> Self {
        self.events = Some(bus.clone());
        self
    }

    /// The supervisor's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The flags.
    pub fn supervisor_flags(&self) -> SupervisorFlags {
        self.flags
    }

    /// The child specs, in start order.
    pub fn child_specs(&self) -> &[ChildSpec] {
        &self.children
    }
}

impl fmt::Debug for SupervisorSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SupervisorSpec")
            .field("name", &self.name)
            .field("flags", &self.flags)
            .field("children", &self.children)
            .finish_non_exhaustive()
    }
}
