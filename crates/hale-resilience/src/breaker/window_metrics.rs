//! [`WindowMetrics`]: the rates a breaker judges its dependency by.

use serde::{Deserialize, Serialize};

use super::state::BreakerState;

/// The rates the breaker currently judges the dependency by: its sliding window when
/// closed, its trial calls when half-open.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct WindowMetrics {
    /// State when measured.
    pub state: BreakerState,
    /// Calls recorded.
    pub calls: u32,
    /// Of which failed.
    pub failures: u32,
    /// Of which slow.
    pub slow_calls: u32,
    /// Failures in percent of calls.
    pub failure_rate: f64,
    /// Slow calls in percent of calls.
    pub slow_call_rate: f64,
}
