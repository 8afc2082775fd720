//! [`BreakerPermit`]: permission to make one call through a breaker.

use std::fmt;

use tokio::time::Instant;

use super::state::BreakerState;
use crate::classify::CallOutcome;
use crate::stats::bump;

use super::CircuitBreaker;

/// Permission to make one call through a breaker. Report how it went with
/// [`record`](Self::record) (or the shortcuts); dropping the permit unreported records
/// nothing.
#[must_use = "a permit records nothing unless its outcome is reported"]
pub struct BreakerPermit {
    pub(super) breaker: CircuitBreaker,
    pub(super) epoch: u64,
    pub(super) started: Instant,
    pub(super) settled: bool,
}

impl BreakerPermit {
    /// Reports the call's outcome; its duration is measured from the permit's creation.
    /// An outcome reported after the breaker changed state counts in the stats but not
    /// in the new state's window.
    ///
    /// # Examples
    ///
    /// ```
    /// use hale_resilience::{CallOutcome, CircuitBreaker};
    ///
    /// let breaker = CircuitBreaker::builder("payments").build().unwrap();
    /// breaker.try_acquire().unwrap().record(CallOutcome::Ignored); // a cancelled request
    /// assert_eq!(breaker.stats().ignored, 1);
    /// ```
    pub fn record(mut self, outcome: CallOutcome) {
        self.settled = true;
        let now = Instant::now();
        let elapsed = now.saturating_duration_since(self.started);
        let shared = &self.breaker.shared;
        let slow = elapsed >= shared.config.slow_call_duration;
        let counters = &shared.counters;
        match outcome {
            CallOutcome::Success => bump(&counters.successes),
            CallOutcome::Failure => bump(&counters.failures),
            CallOutcome::Ignored => bump(&counters.ignored),
        }
        if slow && outcome != CallOutcome::Ignored {
            bump(&counters.slow_calls);
        }
        let epoch = self.epoch;
        self.breaker.with_machine_at(now, |machine, now| {
            ((), machine.record(epoch, outcome, elapsed, now))
        });
    }

    /// Reports a successful call.
    ///
    /// # Examples
    ///
    /// ```
    /// let breaker = hale_resilience::CircuitBreaker::builder("payments").build().unwrap();
    /// breaker.try_acquire().unwrap().success();
    /// assert_eq!(breaker.stats().successes, 1);
    /// ```
    pub fn success(self) {
        self.record(CallOutcome::Success);
    }

    /// Reports a failed call.
    ///
    /// # Examples
    ///
    /// ```
    /// let breaker = hale_resilience::CircuitBreaker::builder("payments").build().unwrap();
    /// breaker.try_acquire().unwrap().failure();
    /// assert_eq!(breaker.stats().failures, 1);
    /// ```
    pub fn failure(self) {
        self.record(CallOutcome::Failure);
    }
}

impl Drop for BreakerPermit {
    fn drop(&mut self) {
        if self.settled {
            return;
        }
        bump(&self.breaker.shared.counters.ignored);
        // Only a half-open trial holds anything worth giving back.
        if self.breaker.state() == BreakerState::HalfOpen {
            let epoch = self.epoch;
            self.breaker.with_machine(|machine, _| {
                machine.release(epoch);
                ((), None)
            });
        }
    }
}

impl fmt::Debug for BreakerPermit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BreakerPermit")
            .field("breaker", &self.breaker.shared.name)
            .field("epoch", &self.epoch)
            .finish()
    }
}
