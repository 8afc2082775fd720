//! The circuit breaker compared with a deliberately naive reference model.
//!
//! The model keeps every recorded outcome in a plain list with its completion second and
//! recomputes the rates from scratch each time, the rules written as directly as
//! resilience4j documents them. Random sequences of calls starting, finishing (failed,
//! successful, slow) or being cancelled, interleaved with clock advances, must leave the
//! real breaker and the model in the same state and get the same admissions.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use hale_resilience::{
    BreakerConfig, BreakerPermit, BreakerState, CallOutcome, CircuitBreaker, SlidingWindow,
};
use proptest::prelude::*;
use tokio::time::Instant;

#[derive(Debug, Clone)]
enum Op {
    Begin,
    End { index: usize, failure: bool },
    Cancel { index: usize },
    Advance { millis: u64 },
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        4 => Just(Op::Begin),
        4 => (any::<usize>(), any::<bool>()).prop_map(|(index, failure)| Op::End { index, failure }),
        1 => any::<usize>().prop_map(|index| Op::Cancel { index }),
        2 => (0u64..4_000).prop_map(|millis| Op::Advance { millis }),
    ]
}

fn config() -> impl Strategy<Value = BreakerConfig> {
    let window = prop_oneof![
        (1u32..8).prop_map(|calls| SlidingWindow::CountBased { calls }),
        (1u32..5).prop_map(|seconds| SlidingWindow::TimeBased { seconds }),
    ];
    (
        window,
        1u32..8,
        prop::sample::select(vec![25.0, 50.0, 75.0, 100.0]),
        prop::sample::select(vec![50.0, 100.0]),
        1u64..3,
        1u32..4,
        1u64..5,
    )
        .prop_map(|(window, minimum, failure, slow, slow_secs, half_open, wait)| {
            let minimum = match window {
                SlidingWindow::CountBased { calls } => minimum.min(calls),
                SlidingWindow::TimeBased { .. } => minimum,
            };
            BreakerConfig {
                failure_rate_threshold: failure,
                slow_call_rate_threshold: slow,
                slow_call_duration: Duration::from_secs(slow_secs),
                sliding_window: window,
                minimum_calls: minimum,
                half_open_calls: half_open,
                wait_in_open: Duration::from_secs(wait),
            }
        })
}

/// One recorded call: (second it completed in, failed, slow).
type Outcome = (u64, bool, bool);

struct Model {
    config: BreakerConfig,
    origin: Instant,
    state: BreakerState,
    epoch: u64,
    closed: Vec<Outcome>,
    opened_at: Instant,
    trials_admitted: u32,
    trials: Vec<Outcome>,
}

impl Model {
    fn new(config: BreakerConfig, origin: Instant) -> Self {
        Self {
            config,
            origin,
            state: BreakerState::Closed,
            epoch: 0,
            closed: Vec::new(),
            opened_at: origin,
            trials_admitted: 0,
            trials: Vec::new(),
        }
    }

    fn go(&mut self, to: BreakerState, now: Instant) {
        self.state = to;
        self.epoch += 1;
        match to {
            BreakerState::Closed => self.closed.clear(),
            BreakerState::Open => self.opened_at = now,
            _ => {
                self.trials_admitted = 0;
                self.trials.clear();
            }
        }
    }

    /// Some(epoch) when the call is admitted.
    fn acquire(&mut self, now: Instant) -> Option<u64> {
        if self.state == BreakerState::Open && now >= self.opened_at + self.config.wait_in_open {
            self.go(BreakerState::HalfOpen, now);
        }
        match self.state {
            BreakerState::Closed => Some(self.epoch),
            BreakerState::HalfOpen if self.trials_admitted < self.config.half_open_calls => {
                self.trials_admitted += 1;
                Some(self.epoch)
            }
            _ => None,
        }
    }

    fn in_window(&self, now: Instant) -> Vec<Outcome> {
        match self.config.sliding_window {
            SlidingWindow::CountBased { calls } => {
                let skip = self.closed.len().saturating_sub(calls as usize);
                self.closed[skip..].to_vec()
            }
            SlidingWindow::TimeBased { seconds } => {
                let current = (now - self.origin).as_secs();
                self.closed
                    .iter()
                    .copied()
                    .filter(|(second, _, _)| second + u64::from(seconds) > current)
                    .collect()
            }
        }
    }

    fn unhealthy(&self, outcomes: &[Outcome]) -> bool {
        let calls = outcomes.len() as f64;
        let failures = outcomes.iter().filter(|o| o.1).count() as f64;
        let slow = outcomes.iter().filter(|o| o.2).count() as f64;
        failures * 100.0 / calls >= self.config.failure_rate_threshold
            || slow * 100.0 / calls >= self.config.slow_call_rate_threshold
    }

    fn record(&mut self, epoch: u64, failure: bool, started: Instant, now: Instant) {
        if epoch != self.epoch {
            return;
        }
        let outcome = (
            (now - self.origin).as_secs(),
            failure,
            now - started >= self.config.slow_call_duration,
        );
        match self.state {
            BreakerState::Closed => {
                self.closed.push(outcome);
                let window = self.in_window(now);
                if window.len() >= self.config.minimum_calls as usize && self.unhealthy(&window) {
                    self.go(BreakerState::Open, now);
                }
            }
            BreakerState::HalfOpen => {
                self.trials.push(outcome);
                if self.trials.len() >= self.config.half_open_calls as usize {
                    let verdict = if self.unhealthy(&self.trials.clone()) {
                        BreakerState::Open
                    } else {
                        BreakerState::Closed
                    };
                    self.go(verdict, now);
                }
            }
            _ => {}
        }
    }

    fn cancel(&mut self, epoch: u64) {
        if epoch == self.epoch && self.state == BreakerState::HalfOpen {
            self.trials_admitted -= 1;
        }
    }
}

struct InFlight {
    permit: BreakerPermit,
    model_epoch: u64,
    started: Instant,
}

fn run(config: BreakerConfig, ops: Vec<Op>) -> Result<(), TestCaseError> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .start_paused(true)
        .build()
        .unwrap();
    runtime.block_on(async move {
        let breaker = CircuitBreaker::builder("model")
            .config(config.clone())
            .build()
            .unwrap();
        let mut model = Model::new(config, Instant::now());
        let mut in_flight: Vec<InFlight> = Vec::new();
        for (step, op) in ops.into_iter().enumerate() {
            let now = Instant::now();
            match op {
                Op::Begin => {
                    let real = breaker.try_acquire();
                    let expected = model.acquire(now);
                    prop_assert_eq!(real.is_ok(), expected.is_some(), "admission at step {}", step);
                    if let (Ok(permit), Some(model_epoch)) = (real, expected) {
                        in_flight.push(InFlight {
                            permit,
                            model_epoch,
                            started: now,
                        });
                    }
                }
                Op::End { index, failure } if !in_flight.is_empty() => {
                    let call = in_flight.remove(index % in_flight.len());
                    model.record(call.model_epoch, failure, call.started, now);
                    let outcome = if failure {
                        CallOutcome::Failure
                    } else {
                        CallOutcome::Success
                    };
                    call.permit.record(outcome);
                }
                Op::Cancel { index } if !in_flight.is_empty() => {
                    let call = in_flight.remove(index % in_flight.len());
                    model.cancel(call.model_epoch);
                    drop(call.permit);
                }
                Op::Advance { millis } => tokio::time::advance(Duration::from_millis(millis)).await,
                Op::End { .. } | Op::Cancel { .. } => {}
            }
            prop_assert_eq!(breaker.state(), model.state, "state after step {}", step);
        }
        Ok(())
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn breaker_matches_the_reference_model(config in config(), ops in prop::collection::vec(op(), 1..200)) {
        run(config, ops)?;
    }
}
