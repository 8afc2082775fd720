//! The states of a circuit breaker.

use serde::{Deserialize, Serialize};

/// Where a circuit breaker stands.
///
/// ```text
///            failure or slow-call rate ≥ threshold
///   Closed ─────────────────────────────────────────▶ Open
///     ▲                                               │
///     │ trial calls healthy        wait_in_open passed │
///     │                                               ▼
///     └─────────────────────── HalfOpen ◀─────────────┘
///                                  │ trial calls unhealthy
///                                  └──────────────▶ Open
///
///   ForcedOpen, Disabled: set by hand, left only by `reset()`.
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BreakerState {
    /// Calls flow; outcomes are recorded in the sliding window.
    Closed,
    /// Calls are rejected until the wait in open has passed.
    Open,
    /// A fixed number of trial calls decide between closing and reopening.
    HalfOpen,
    /// Held open by hand: every call is rejected.
    ForcedOpen,
    /// Switched off by hand: every call flows and nothing is recorded.
    Disabled,
}
