//! The breaker's state machine, free of clocks, locks and events: the caller passes
//! `now` in and publishes whatever transition comes out. That keeps the rules in one
//! place and lets tests drive them with synthetic instants.

use std::time::Duration;

use tokio::time::Instant;

use super::config::BreakerConfig;
use super::state::BreakerState;
use super::window::{Record, Tally, Window};
use crate::classify::CallOutcome;

/// A state change, to be reported.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Transition {
    pub(crate) from: BreakerState,
    pub(crate) to: BreakerState,
}

/// The answer to "may I call?".
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Admission {
    /// Yes; report the result against this epoch.
    Permitted { epoch: u64 },
    /// No; the breaker expects to let a trial through after `retry_after`, if ever.
    Rejected { retry_after: Option<Duration> },
}

#[derive(Debug)]
pub(crate) struct Machine {
    config: BreakerConfig,
    state: BreakerState,
    /// Bumped on every transition. A result carries the epoch it was admitted in, so a
    /// call that started while closed and ends after the breaker opened cannot pollute
    /// the half-open trials (or the next closed window).
    epoch: u64,
    window: Window,
    opened_at: Instant,
    /// Trial calls admitted in this half-open epoch (running or finished).
    trials_admitted: u32,
    /// Outcomes of the finished trial calls.
    trials: Tally,
}

impl Machine {
    pub(crate) fn new(config: BreakerConfig, now: Instant) -> Self {
        Self {
            window: Window::new(config.sliding_window, now),
            config,
            state: BreakerState::Closed,
            epoch: 0,
            opened_at: now,
            trials_admitted: 0,
            trials: Tally::default(),
        }
    }

    pub(crate) fn state(&self) -> BreakerState {
        self.state
    }

    pub(crate) fn epoch(&self) -> u64 {
        self.epoch
    }

    /// The tally the breaker currently judges by: the window when closed, the trials
    /// when half-open.
    pub(crate) fn tally(&mut self, now: Instant) -> Tally {
        match self.state {
            BreakerState::HalfOpen => self.trials,
            _ => self.window.tally(now),
        }
    }

    pub(crate) fn acquire(&mut self, now: Instant) -> (Admission, Option<Transition>) {
        let mut transition = None;
        if self.state == BreakerState::Open {
            // A wait too long to represent never ends.
            match self.opened_at.checked_add(self.config.wait_in_open) {
                Some(reopen_at) if now >= reopen_at => {}
                reopen_at => {
                    let retry_after = reopen_at.map(|at| at - now);
                    return (Admission::Rejected { retry_after }, None);
                }
            }
            transition = self.transition(BreakerState::HalfOpen, now);
        }
        let admission = match self.state {
            BreakerState::Closed | BreakerState::Disabled => Admission::Permitted { epoch: self.epoch },
            BreakerState::HalfOpen if self.trials_admitted < self.config.half_open_calls => {
                self.trials_admitted += 1;
                Admission::Permitted { epoch: self.epoch }
            }
            // Every trial slot is taken: the trials will decide soon.
            BreakerState::HalfOpen => Admission::Rejected { retry_after: None },
            BreakerState::Open | BreakerState::ForcedOpen => Admission::Rejected { retry_after: None },
        };
        (admission, transition)
    }

    /// Records the result of a call admitted in `epoch` that took `elapsed`.
    pub(crate) fn record(
        &mut self,
        epoch: u64,
        outcome: CallOutcome,
        elapsed: Duration,
        now: Instant,
    ) -> Option<Transition> {
        let failure = match outcome {
            CallOutcome::Ignored => {
                self.release(epoch);
                return None;
            }
            CallOutcome::Success => false,
            CallOutcome::Failure => true,
        };
        if epoch != self.epoch {
            return None;
        }
        let record = Record {
            failure,
            slow: elapsed >= self.config.slow_call_duration,
        };
        match self.state {
            BreakerState::Closed => {
                self.window.record(record, now);
                let tally = self.window.tally(now);
                if tally.calls >= self.config.minimum_calls && self.unhealthy(&tally) {
                    return self.transition(BreakerState::Open, now);
                }
                None
            }
            BreakerState::HalfOpen => {
                self.trials.add(record);
                if self.trials.calls < self.config.half_open_calls {
                    return None;
                }
                let verdict = if self.unhealthy(&self.trials) {
                    BreakerState::Open
                } else {
                    BreakerState::Closed
                };
                self.transition(verdict, now)
            }
            BreakerState::Open | BreakerState::ForcedOpen | BreakerState::Disabled => None,
        }
    }

    /// A call admitted in `epoch` ended without a result worth recording (cancelled, or
    /// ignored by classification). In half-open its trial slot goes to someone else.
    pub(crate) fn release(&mut self, epoch: u64) {
        if epoch == self.epoch && self.state == BreakerState::HalfOpen {
            self.trials_admitted = self.trials_admitted.saturating_sub(1);
        }
    }

    /// A transition asked for by hand: forced open, disabled, or reset to closed.
    pub(crate) fn force(&mut self, to: BreakerState, now: Instant) -> Option<Transition> {
        if to == BreakerState::Closed && self.state == BreakerState::Closed {
            // Resetting a closed breaker only forgets its window.
            self.epoch += 1;
            self.window.clear();
            return None;
        }
        self.transition(to, now)
    }

    fn unhealthy(&self, tally: &Tally) -> bool {
        tally.failure_rate() >= self.config.failure_rate_threshold
            || tally.slow_rate() >= self.config.slow_call_rate_threshold
    }

    fn transition(&mut self, to: BreakerState, now: Instant) -> Option<Transition> {
        let from = self.state;
        if from == to {
            return None;
        }
        self.state = to;
        self.epoch += 1;
        match to {
            BreakerState::Closed => self.window.clear(),
            BreakerState::Open => self.opened_at = now,
            BreakerState::HalfOpen => {
                self.trials_admitted = 0;
                self.trials = Tally::default();
            }
            BreakerState::ForcedOpen | BreakerState::Disabled => {}
        }
        Some(Transition { from, to })
    }
}
