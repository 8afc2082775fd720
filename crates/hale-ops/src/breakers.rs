//! The circuit breakers hale-ops has seen change state, and since when.
//!
//! A breaker is known from its first state change on: one that has stayed
//! closed since hale-ops started watching does not appear. At most
//! [`BreakerBoard::LIMIT`] breakers are tracked.

use std::collections::BTreeMap;

use hale_resilience::{BreakerState, EventKind, ResilienceEvent};
use serde::{Deserialize, Serialize};

/// One circuit breaker's state.
///
/// # Examples
///
/// ```
/// use hale_ops::BreakerView;
/// use hale_resilience::BreakerState;
///
/// let llm = BreakerView { policy: "llm".into(), state: BreakerState::HalfOpen, since_ms: 0 };
/// assert!(!llm.is_open());
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct BreakerView {
    /// The breaker's policy name.
    pub policy: String,
    /// Its state now.
    pub state: BreakerState,
    /// When it entered that state, in ms since the Unix epoch.
    pub since_ms: u64,
}

impl BreakerView {
    /// Whether the breaker refuses calls (open, or held open by hand).
    pub fn is_open(&self) -> bool {
        matches!(self.state, BreakerState::Open | BreakerState::ForcedOpen)
    }
}

/// Breaker states by policy.
#[derive(Debug, Default)]
pub(crate) struct BreakerBoard {
    by_policy: BTreeMap<String, (BreakerState, u64)>,
}

impl BreakerBoard {
    /// Breakers tracked at most.
    pub(crate) const LIMIT: usize = 1_024;

    /// Records a state change, if `event` is one.
    pub(crate) fn record(&mut self, event: &ResilienceEvent) {
        if let EventKind::BreakerTransition { to, .. } = &event.kind {
            if self.by_policy.len() >= Self::LIMIT && !self.by_policy.contains_key(&event.policy) {
                return;
            }
            self.by_policy
                .insert(event.policy.clone(), (*to, event.at_unix_ms));
        }
    }

    /// Every known breaker, by policy name.
    pub(crate) fn views(&self) -> Vec<BreakerView> {
        self.by_policy
            .iter()
            .map(|(policy, (state, since_ms))| BreakerView {
                policy: policy.clone(),
                state: *state,
                since_ms: *since_ms,
            })
            .collect()
    }
}
