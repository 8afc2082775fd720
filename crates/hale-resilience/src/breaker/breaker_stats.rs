//! [`BreakerStats`]: a circuit breaker's counters.

use crate::stats::counters;

counters! {
    BreakerCounters =>
    /// Counters of a circuit breaker since it was built.
    pub struct BreakerStats {
        /// Calls let through.
        permitted,
        /// Calls refused without calling the dependency.
        rejected,
        /// Calls reported as successful (a call that ends after the breaker changed
        /// state is counted here but not recorded in the new state's window).
        successes,
        /// Calls reported as failed (same note).
        failures,
        /// Reported calls that were slow (successful or not).
        slow_calls,
        /// Calls that ended without being recorded (cancelled, or ignored errors).
        ignored,
        /// State changes.
        transitions,
        /// Times the breaker opened on its own.
        opened,
    }
}
