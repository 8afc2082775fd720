//! Breaker behaviour on tokio's paused clock.

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use tokio::time::{advance, sleep};

use super::*;
use crate::classify::{CallOutcome, Classifier};
use crate::error::{Rejection, ResilienceError};
use crate::events::{EventKind, ResilienceBus};

fn breaker(window: u32, minimum: u32, half_open: u32) -> CircuitBreaker {
    CircuitBreaker::builder("dep")
        .count_window(window)
        .minimum_calls(minimum)
        .half_open_calls(half_open)
        .failure_rate_threshold(50.0)
        .wait_in_open(Duration::from_secs(10))
        .build()
        .unwrap()
}

fn outcomes(breaker: &CircuitBreaker, outcomes: &[CallOutcome]) {
    for outcome in outcomes {
        breaker.try_acquire().unwrap().record(*outcome);
    }
}

use CallOutcome::{Failure as F, Success as S};

#[tokio::test(start_paused = true)]
async fn does_not_open_before_the_minimum_number_of_calls() {
    let b = breaker(10, 4, 1);
    outcomes(&b, &[F, F, F]);
    assert_eq!(b.state(), BreakerState::Closed);
    outcomes(&b, &[S]); // 3 of 4 failed: 75 % >= 50 %
    assert_eq!(b.state(), BreakerState::Open);
    assert_eq!(b.stats().opened, 1);
}

#[tokio::test(start_paused = true)]
async fn opens_exactly_at_the_failure_threshold() {
    let b = breaker(4, 4, 1);
    outcomes(&b, &[S, S, F]);
    assert_eq!(b.state(), BreakerState::Closed);
    outcomes(&b, &[F]); // 2 of 4: exactly 50 %
    assert_eq!(b.state(), BreakerState::Open);
}

#[tokio::test(start_paused = true)]
async fn an_open_breaker_rejects_without_calling() {
    let b = breaker(2, 2, 1);
    outcomes(&b, &[F, F]);
    let calls = AtomicU32::new(0);
    let result = b
        .call(|| async {
            calls.fetch_add(1, Ordering::SeqCst);
            Ok::<_, String>(())
        })
        .await;
    match result {
        Err(ResilienceError::Rejected(Rejection::CircuitOpen { breaker, retry_after })) => {
            assert_eq!(&*breaker, "dep");
            assert_eq!(retry_after, Some(Duration::from_secs(10)));
        }
        other => panic!("expected a rejection, got {other:?}"),
    }
    assert_eq!(calls.load(Ordering::SeqCst), 0);
    assert_eq!(b.stats().rejected, 1);
}

#[tokio::test(start_paused = true)]
async fn half_open_admits_exactly_the_configured_trials() {
    let b = breaker(2, 2, 3);
    outcomes(&b, &[F, F]);
    advance(Duration::from_secs(10)).await;
    let trials: Vec<_> = (0..3).map(|_| b.try_acquire().unwrap()).collect();
    assert_eq!(b.state(), BreakerState::HalfOpen);
    assert!(b.try_acquire().is_err(), "a fourth trial must be refused");
    let mut trials = trials.into_iter();
    trials.next().unwrap().success();
    trials.next().unwrap().success();
    assert_eq!(
        b.state(),
        BreakerState::HalfOpen,
        "undecided until all trials end"
    );
    assert!(b.try_acquire().is_err(), "finished trials do not free slots");
    trials.next().unwrap().success();
    assert_eq!(b.state(), BreakerState::Closed);
    assert_eq!(b.metrics().calls, 0, "closing starts a fresh window");
}

#[tokio::test(start_paused = true)]
async fn failing_trials_reopen_the_breaker() {
    let b = breaker(2, 2, 2);
    outcomes(&b, &[F, F]);
    advance(Duration::from_secs(10)).await;
    outcomes(&b, &[S, F]); // 50 % of the trials failed
    assert_eq!(b.state(), BreakerState::Open);
    assert!(b.try_acquire().is_err());
}

#[tokio::test(start_paused = true)]
async fn a_cancelled_trial_frees_its_slot() {
    let b = breaker(2, 2, 1);
    outcomes(&b, &[F, F]);
    advance(Duration::from_secs(10)).await;
    let trial = b.try_acquire().unwrap();
    assert!(b.try_acquire().is_err());
    drop(trial);
    b.try_acquire().unwrap().success();
    assert_eq!(b.state(), BreakerState::Closed);
}

#[tokio::test(start_paused = true)]
async fn a_result_from_before_a_transition_is_not_recorded_after_it() {
    let b = breaker(2, 2, 1);
    let straggler = b.try_acquire().unwrap();
    outcomes(&b, &[F, F]);
    advance(Duration::from_secs(10)).await;
    let trial = b.try_acquire().unwrap();
    straggler.failure(); // admitted while closed: must not decide the half-open trial
    assert_eq!(b.state(), BreakerState::HalfOpen);
    trial.success();
    assert_eq!(b.state(), BreakerState::Closed);
}

#[tokio::test(start_paused = true)]
async fn slow_calls_open_the_breaker() {
    let b = CircuitBreaker::builder("slow")
        .count_window(2)
        .minimum_calls(2)
        .slow_call_duration(Duration::from_secs(1))
        .slow_call_rate_threshold(100.0)
        .build()
        .unwrap();
    for _ in 0..2 {
        let result = b
            .call(|| async {
                sleep(Duration::from_secs(2)).await;
                Ok::<_, String>(())
            })
            .await;
        assert!(result.is_ok());
    }
    assert_eq!(b.state(), BreakerState::Open);
    assert_eq!(b.stats().slow_calls, 2);
}

#[tokio::test(start_paused = true)]
async fn errors_that_are_not_failures_keep_the_breaker_closed() {
    let b = breaker(2, 2, 1);
    let not_found = Classifier::<u16>::new().failure_if(|status| *status >= 500);
    for _ in 0..4 {
        let _ = b.call_with(&not_found, || async { Err::<(), _>(404u16) }).await;
    }
    assert_eq!(b.state(), BreakerState::Closed);
    assert_eq!(b.stats().successes, 4);
    for _ in 0..2 {
        let _ = b.call_with(&not_found, || async { Err::<(), _>(503u16) }).await;
    }
    assert_eq!(b.state(), BreakerState::Open);
}

#[tokio::test(start_paused = true)]
async fn time_window_forgets_old_failures() {
    let b = CircuitBreaker::builder("t")
        .time_window(5)
        .minimum_calls(3)
        .build()
        .unwrap();
    outcomes(&b, &[F, F]);
    advance(Duration::from_secs(6)).await;
    outcomes(&b, &[F, S, S]); // the two old failures have left the window: 33 %
    assert_eq!(b.state(), BreakerState::Closed);
    outcomes(&b, &[F]); // 2 of 4
    assert_eq!(b.state(), BreakerState::Open);
}

#[tokio::test(start_paused = true)]
async fn manual_states_hold_until_reset() {
    let b = breaker(2, 2, 1);
    b.force_open();
    assert!(b.try_acquire().is_err());
    advance(Duration::from_secs(3600)).await;
    assert!(b.try_acquire().is_err(), "forced open does not time out");

    b.disable();
    outcomes(&b, &[F, F, F, F]);
    assert_eq!(
        b.state(),
        BreakerState::Disabled,
        "a disabled breaker records nothing"
    );

    b.reset();
    assert_eq!(b.state(), BreakerState::Closed);
    outcomes(&b, &[F, F]);
    assert_eq!(b.state(), BreakerState::Open);
}

#[tokio::test(start_paused = true)]
async fn every_transition_is_an_event() {
    let bus = ResilienceBus::new();
    let mut events = bus.subscribe();
    let b = CircuitBreaker::builder("llm")
        .count_window(2)
        .minimum_calls(2)
        .half_open_calls(1)
        .wait_in_open(Duration::from_secs(1))
        .events(&bus)
        .build()
        .unwrap();
    outcomes(&b, &[F, F]);
    assert!(b.try_acquire().is_err());
    advance(Duration::from_secs(1)).await;
    outcomes(&b, &[S]);
    let kinds: Vec<EventKind> = events.drain().into_iter().map(|e| e.kind).collect();
    use BreakerState::{Closed, HalfOpen, Open};
    assert_eq!(
        kinds,
        vec![
            EventKind::BreakerTransition {
                from: Closed,
                to: Open
            },
            EventKind::CallRejected {
                reason: crate::events::RejectionKind::CircuitOpen,
                retry_after_ms: Some(1000)
            },
            EventKind::BreakerTransition {
                from: Open,
                to: HalfOpen
            },
            EventKind::BreakerTransition {
                from: HalfOpen,
                to: Closed
            },
        ]
    );
}

#[tokio::test(start_paused = true)]
async fn a_registry_shares_one_breaker_per_name() {
    let registry = CircuitBreaker::registry(
        BreakerConfig {
            sliding_window: SlidingWindow::CountBased { calls: 2 },
            minimum_calls: 2,
            ..BreakerConfig::default()
        },
        &ResilienceBus::new(),
    )
    .unwrap();
    let agents: Vec<CircuitBreaker> = (0..2).map(|_| registry.get("maps")).collect();
    outcomes(&agents[0], &[F]);
    outcomes(&agents[1], &[F]);
    assert_eq!(registry.get("maps").state(), BreakerState::Open);
    assert_eq!(registry.get("search").state(), BreakerState::Closed);
    assert!(
        CircuitBreaker::registry(
            BreakerConfig {
                half_open_calls: 0,
                ..BreakerConfig::default()
            },
            &ResilienceBus::new()
        )
        .is_err()
    );
}

#[tokio::test(start_paused = true)]
async fn concurrent_callers_see_one_trial_in_half_open() {
    let b = breaker(2, 2, 1);
    outcomes(&b, &[F, F]);
    advance(Duration::from_secs(10)).await;
    let started = Arc::new(AtomicU32::new(0));
    let mut tasks = Vec::new();
    for _ in 0..10 {
        let b = b.clone();
        let started = Arc::clone(&started);
        tasks.push(tokio::spawn(async move {
            b.call(|| async {
                started.fetch_add(1, Ordering::SeqCst);
                sleep(Duration::from_millis(100)).await;
                Ok::<_, String>(())
            })
            .await
        }));
    }
    let mut rejected = 0;
    for task in tasks {
        if task.await.unwrap().is_err() {
            rejected += 1;
        }
    }
    assert_eq!(started.load(Ordering::SeqCst), 1);
    assert_eq!(rejected, 9);
    assert_eq!(b.state(), BreakerState::Closed);
}

#[tokio::test(start_paused = true)]
async fn an_unrepresentably_long_wait_keeps_the_breaker_open() {
    let b = CircuitBreaker::builder("dep")
        .count_window(1)
        .minimum_calls(1)
        .wait_in_open(Duration::MAX)
        .build()
        .unwrap();
    outcomes(&b, &[F]);
    advance(Duration::from_secs(3600)).await;
    assert!(matches!(
        b.try_acquire(),
        Err(Rejection::CircuitOpen {
            retry_after: None,
            ..
        })
    ));
}
