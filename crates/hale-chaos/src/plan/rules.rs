//! The parts of a fault plan.

use serde::{Deserialize, Serialize};

/// A fault that can be injected into a call.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", from = "StrictFaultKind")]
pub enum FaultKind {
    /// The call panics (inside an agent: a crash its supervisor heals).
    Panic,
    /// The call fails with an error, retryable or not.
    Error {
        /// Whether a retry policy may try again.
        retryable: bool,
    },
    /// The call is delayed by a fixed time, then runs.
    Delay {
        /// The delay, in ms.
        ms: u64,
    },
    /// The call never returns (and so its agent stops heartbeating).
    Hang,
    /// The response is slow: a delay drawn from a range, then the call runs.
    Slow {
        /// The shortest extra latency, in ms.
        min_ms: u64,
        /// The longest extra latency, in ms.
        max_ms: u64,
    },
    /// The call runs, but its result is altered by the caller's corruption
    /// hook (a wrong answer, not an error).
    Corrupt,
    /// The dependency is down: the call fails with a retryable error without
    /// running. Usually given a window.
    Outage,
}

/// How a [`FaultKind`] is read: the same variants, each a struct, so that a field the
/// kind does not have (`{ kind = "hang", ms = 5 }`) is an error. (serde ignores extra
/// fields after the tag of a unit variant, even with `deny_unknown_fields`.)
#[derive(Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
enum StrictFaultKind {
    Panic {},
    Error { retryable: bool },
    Delay { ms: u64 },
    Hang {},
    Slow { min_ms: u64, max_ms: u64 },
    Corrupt {},
    Outage {},
}

impl From<StrictFaultKind> for FaultKind {
    fn from(kind: StrictFaultKind) -> Self {
        match kind {
            StrictFaultKind::Panic {} => Self::Panic,
            StrictFaultKind::Error { retryable } => Self::Error { retryable },
            StrictFaultKind::Delay { ms } => Self::Delay { ms },
            StrictFaultKind::Hang {} => Self::Hang,
            StrictFaultKind::Slow { min_ms, max_ms } => Self::Slow { min_ms, max_ms },
            StrictFaultKind::Corrupt {} => Self::Corrupt,
            StrictFaultKind::Outage {} => Self::Outage,
        }
    }
}

impl FaultKind {
    /// A short stable name, used in reports.
    pub fn name(&self) -> &'static str {
        match self {
            Self::Panic => "panic",
            Self::Error { retryable: true } => "error (retryable)",
            Self::Error { retryable: false } => "error (fatal)",
            Self::Delay { .. } => "delay",
            Self::Hang => "hang",
            Self::Slow { .. } => "slow",
            Self::Corrupt => "corrupt",
            Self::Outage => "outage",
        }
    }
}

/// A span of run time, in ms since the run started: `from_ms` included,
/// `until_ms` excluded.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Window {
    /// Start, in ms since the run started.
    pub from_ms: u64,
    /// End (excluded), in ms since the run started.
    pub until_ms: u64,
}

impl Window {
    /// Whether `at_ms` lies in the window.
    pub fn contains(&self, at_ms: u64) -> bool {
        (self.from_ms..self.until_ms).contains(&at_ms)
    }
}

/// One rule: a fault, where, how likely, how many at most, and when.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FaultRule {
    /// The call site it applies to (a name the agent's code passes).
    pub site: String,
    /// The fault.
    pub fault: FaultKind,
    /// The chance that a call is hit, in `0.0..=1.0`.
    pub probability: f64,
    /// At most this many injections over the run.
    #[serde(default)]
    pub max_count: Option<u64>,
    /// Only inside this window of run time.
    #[serde(default)]
    pub window: Option<Window>,
}

impl FaultRule {
    /// A rule that hits `site` with `fault` with `probability`, at any time,
    /// without a limit.
    pub fn new(site: impl Into<String>, fault: FaultKind, probability: f64) -> Self {
        Self {
            site: site.into(),
            fault,
            probability,
            max_count: None,
            window: None,
        }
    }

    /// Limits the number of injections.
    pub fn max_count(mut self, max: u64) -> Self {
        self.max_count = Some(max);
        self
    }

    /// Restricts the rule to a window of run time, in ms.
    pub fn during(mut self, from_ms: u64, until_ms: u64) -> Self {
        self.window = Some(Window { from_ms, until_ms });
        self
    }
}

/// Killing a random worker of the tree at intervals.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KillSchedule {
    /// Time between kills, in ms.
    pub every_ms: u64,
    /// At most this many kills.
    #[serde(default)]
    pub max_count: Option<u64>,
    /// Only inside this window of run time.
    #[serde(default)]
    pub window: Option<Window>,
}

/// A seeded fault plan: the same plan and seed give the same faults in the
/// same order.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FaultPlan {
    /// The seed every random choice derives from.
    #[serde(default)]
    pub seed: u64,
    /// The rules, tried in order for each call; the first that fires wins.
    #[serde(default)]
    pub rules: Vec<FaultRule>,
    /// Random kills, if any.
    #[serde(default)]
    pub kills: Option<KillSchedule>,
}

impl FaultPlan {
    /// An empty plan with this seed.
    pub fn new(seed: u64) -> Self {
        Self {
            seed,
            rules: Vec::new(),
            kills: None,
        }
    }

    /// Adds a rule.
    pub fn rule(mut self, rule: FaultRule) -> Self {
        self.rules.push(rule);
        self
    }

    /// Kills a random worker every `every_ms`, at most `max_count` times.
    pub fn kill_every(mut self, every_ms: u64, max_count: Option<u64>) -> Self {
        self.kills = Some(KillSchedule {
            every_ms,
            max_count,
            window: None,
        });
        self
    }

    /// Replaces the seed.
    pub fn with_seed(mut self, seed: u64) -> Self {
        self.seed = seed;
        self
    }
}
