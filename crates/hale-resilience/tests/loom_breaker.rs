//! Loom models of the circuit breaker's shared state: the published word a closed
//! breaker admits calls from without a lock, and the machine behind its mutex. Every
//! interleaving of two callers is explored.
//!
//! ```text
//! RUSTFLAGS="--cfg loom" cargo test -p hale-resilience --release --test loom_breaker
//! ```
#![cfg(loom)]
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use hale_resilience::{BreakerState, CircuitBreaker};
use loom::sync::Arc;
use loom::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use loom::thread;

/// Opens on the first failure, lets one trial through after the shortest wait (real
/// time always passes it before the next call), and decides on that trial.
///
/// The models run outside a tokio runtime, so the breaker reads the real clock: a wait
/// of one nanosecond has always passed by the next call.
fn breaker() -> CircuitBreaker {
    CircuitBreaker::builder("dep")
        .count_window(1)
        .minimum_calls(1)
        .half_open_calls(1)
        .wait_in_open(Duration::from_nanos(1))
        .build()
        .unwrap()
}

/// A call admitted while closed that ends after the breaker opened and went half-open
/// is not taken for the half-open trial: the trial alone decides.
#[test]
fn a_result_from_an_earlier_state_never_decides_a_trial() {
    loom::model(|| {
        // Opens when both calls of its window failed; one trial decides.
        let breaker = CircuitBreaker::builder("dep")
            .count_window(2)
            .minimum_calls(2)
            .failure_rate_threshold(100.0)
            .half_open_calls(1)
            .wait_in_open(Duration::from_nanos(1))
            .build()
            .unwrap();
        let straggler = breaker.try_acquire().unwrap();

        let prober = breaker.clone();
        let probe = thread::spawn(move || {
            // Fail until the breaker opens (the straggler's success may sit in the
            // window once), then probe it: the wait has passed, so this is the trial.
            for _ in 0..3 {
                prober.try_acquire().unwrap().failure();
                if prober.state() == BreakerState::Open {
                    break;
                }
            }
            assert_eq!(prober.state(), BreakerState::Open);
            prober.try_acquire().unwrap().failure();
        });
        // The call admitted before all that reports success, at any point.
        straggler.success();
        probe.join().unwrap();

        assert_eq!(
            breaker.state(),
            BreakerState::Open,
            "the failed trial reopened the breaker, whatever the straggler reported"
        );
    });
}

/// In half-open at most `half_open_calls` trials run at once; a trial whose caller goes
/// away gives its slot to the next caller.
#[test]
fn half_open_trials_are_exclusive_and_a_dropped_one_is_given_back() {
    loom::model(|| {
        let breaker = breaker();
        breaker.try_acquire().unwrap().failure();
        assert_eq!(breaker.state(), BreakerState::Open);

        let running = Arc::new(AtomicUsize::new(0));
        let admitted = Arc::new(AtomicUsize::new(0));
        let caller = |succeed: bool| {
            let (breaker, running, admitted) = (breaker.clone(), running.clone(), admitted.clone());
            thread::spawn(move || {
                if let Ok(trial) = breaker.try_acquire() {
                    admitted.fetch_add(1, Ordering::SeqCst);
                    let others = running.fetch_add(1, Ordering::SeqCst);
                    assert_eq!(others, 0, "two trials at once with one slot");
                    running.fetch_sub(1, Ordering::SeqCst);
                    if succeed {
                        trial.success();
                    } // else: dropped unreported, as by a cancelled call
                }
            })
        };
        let cancelled = caller(false);
        let completed = caller(true);
        cancelled.join().unwrap();
        completed.join().unwrap();

        assert!(
            admitted.load(Ordering::SeqCst) >= 1,
            "the first caller gets the trial"
        );
        // Whatever happened, the trial slot is not leaked: a caller now is admitted,
        // either as the trial of a still half-open breaker or by a closed one.
        let state = breaker.state();
        assert!(
            matches!(state, BreakerState::HalfOpen | BreakerState::Closed),
            "{state:?}"
        );
        assert!(
            breaker.try_acquire().is_ok(),
            "the slot was given back ({state:?})"
        );
    });
}

/// A caller that knows `force_open` has returned is refused, even on the lock-free path
/// a closed breaker admits from; after `reset` it is admitted again.
#[test]
fn a_forced_state_is_seen_by_every_later_caller() {
    loom::model(|| {
        let breaker = breaker();
        let forced = Arc::new(AtomicBool::new(false));

        let operator = {
            let (breaker, forced) = (breaker.clone(), forced.clone());
            thread::spawn(move || {
                breaker.force_open();
                forced.store(true, Ordering::Release);
            })
        };
        let call = breaker.try_acquire();
        if forced.load(Ordering::Acquire) {
            assert!(breaker.try_acquire().is_err(), "forced open, seen as such");
        }
        drop(call);
        operator.join().unwrap();
        assert_eq!(breaker.state(), BreakerState::ForcedOpen);
        breaker.reset();
        assert!(breaker.try_acquire().is_ok());
    });
}
