//! Retry behaviour on tokio's paused clock: delays are exact, so the bounds are too.

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use tokio::time::Instant;

use super::*;
use crate::classify::{Classifier, ErrorClass};
use crate::error::ResilienceError;
use crate::events::{EventKind, GiveUpReason, ResilienceBus};

#[derive(Debug, Clone, PartialEq)]
enum TestError {
    Transient,
    Permanent,
    Busy(Duration),
}

impl std::fmt::Display for TestError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{self:?}")
    }
}

impl ErrorClass for TestError {
    fn is_retryable(&self) -> bool {
        !matches!(self, TestError::Permanent)
    }
    fn retry_after(&self) -> Option<Duration> {
        match self {
            TestError::Busy(hint) => Some(*hint),
            _ => None,
        }
    }
}

/// Runs an always-failing operation and returns the instants at which attempts started.
async fn attempt_starts(
    policy: &RetryPolicy,
    error: TestError,
) -> (Vec<Instant>, ResilienceError<TestError>) {
    let mut starts = Vec::new();
    let result: Result<(), _> = policy
        .call(|| {
            starts.push(Instant::now());
            let error = error.clone();
            async move { Err(error) }
        })
        .await;
    (starts, result.unwrap_err())
}

fn gaps(starts: &[Instant]) -> Vec<Duration> {
    starts.windows(2).map(|w| w[1] - w[0]).collect()
}

#[tokio::test(start_paused = true)]
async fn full_jitter_delays_stay_between_zero_and_the_capped_exponential() {
    for seed in 0..20 {
        let policy = RetryPolicy::builder("svc")
            .initial_interval(Duration::from_millis(100))
            .maximum_interval(Duration::from_millis(1_000))
            .maximum_attempts(8)
            .seed(seed)
            .build()
            .unwrap();
        let (starts, error) = attempt_starts(&policy, TestError::Transient).await;
        assert_eq!(starts.len(), 8);
        assert!(matches!(error, ResilienceError::Inner(TestError::Transient)));
        let caps = [100u64, 200, 400, 800, 1000, 1000, 1000];
        for (gap, cap) in gaps(&starts).iter().zip(caps) {
            assert!(
                *gap <= Duration::from_millis(cap),
                "seed {seed}: {gap:?} > {cap} ms"
            );
        }
    }
}

#[tokio::test(start_paused = true)]
async fn equal_and_no_jitter_have_their_own_bounds() {
    let none = RetryPolicy::builder("svc")
        .initial_interval(Duration::from_millis(100))
        .maximum_attempts(4)
        .jitter(Jitter::None)
        .build()
        .unwrap();
    let (starts, _) = attempt_starts(&none, TestError::Transient).await;
    assert_eq!(
        gaps(&starts),
        vec![
            Duration::from_millis(100),
            Duration::from_millis(200),
            Duration::from_millis(400)
        ]
    );

    let equal = RetryPolicy::builder("svc")
        .initial_interval(Duration::from_millis(100))
        .maximum_attempts(4)
        .jitter(Jitter::Equal)
        .seed(3)
        .build()
        .unwrap();
    let (starts, _) = attempt_starts(&equal, TestError::Transient).await;
    for (gap, cap) in gaps(&starts).iter().zip([100u64, 200, 400]) {
        assert!(*gap >= Duration::from_millis(cap / 2) && *gap <= Duration::from_millis(cap));
    }
}

#[tokio::test(start_paused = true)]
async fn the_same_seed_gives_the_same_delays() {
    let make = || {
        RetryPolicy::builder("svc")
            .initial_interval(Duration::from_millis(100))
            .maximum_attempts(6)
            .seed(42)
            .build()
            .unwrap()
    };
    let (a, _) = attempt_starts(&make(), TestError::Transient).await;
    let (b, _) = attempt_starts(&make(), TestError::Transient).await;
    assert_eq!(gaps(&a), gaps(&b));
}

#[tokio::test(start_paused = true)]
async fn the_overall_deadline_is_never_passed() {
    let policy = RetryPolicy::builder("svc")
        .initial_interval(Duration::from_millis(500))
        .backoff_coefficient(1.5)
        .unlimited_attempts()
        .deadline(Duration::from_secs(10))
        .jitter(Jitter::None)
        .build()
        .unwrap();
    let began = Instant::now();
    let (starts, error) = attempt_starts(&policy, TestError::Transient).await;
    assert!(began.elapsed() <= Duration::from_secs(10));
    assert!(starts.iter().all(|s| *s - began < Duration::from_secs(10)));
    assert!(starts.len() > 3);
    assert!(matches!(error, ResilienceError::Inner(TestError::Transient)));
    assert_eq!(policy.stats().gave_up_deadline, 1);
}

#[tokio::test(start_paused = true)]
async fn the_deadline_cancels_a_running_attempt() {
    let policy = RetryPolicy::builder("svc")
        .maximum_attempts(5)
        .deadline(Duration::from_secs(2))
        .build()
        .unwrap();
    let began = Instant::now();
    let result: Result<(), ResilienceError<TestError>> = policy
        .call(|| async {
            tokio::time::sleep(Duration::from_secs(3600)).await;
            Ok(())
        })
        .await;
    assert!(matches!(result, Err(ResilienceError::DeadlineExceeded { .. })));
    assert_eq!(began.elapsed(), Duration::from_secs(2));
    assert_eq!(policy.stats().attempts, 1);
}

#[tokio::test(start_paused = true)]
async fn non_retryable_errors_are_not_retried() {
    let bus = ResilienceBus::new();
    let mut events = bus.subscribe();
    let policy = RetryPolicy::builder("svc")
        .maximum_attempts(5)
        .events(&bus)
        .build()
        .unwrap();
    let (starts, error) = attempt_starts(&policy, TestError::Permanent).await;
    assert_eq!(starts.len(), 1);
    assert!(matches!(error, ResilienceError::Inner(TestError::Permanent)));
    let stats = policy.stats();
    assert_eq!(
        (stats.attempts, stats.retries, stats.gave_up_non_retryable),
        (1, 0, 1)
    );
    let kinds: Vec<_> = events.drain().into_iter().map(|e| e.kind).collect();
    assert!(matches!(
        kinds.as_slice(),
        [EventKind::RetryGaveUp {
            attempts: 1,
            reason: GiveUpReason::NonRetryable,
            ..
        }]
    ));
}

#[tokio::test(start_paused = true)]
async fn a_closure_classifier_overrides_nothing_but_its_own_calls() {
    let policy = RetryPolicy::builder("svc").maximum_attempts(3).build().unwrap();
    let only_even = Classifier::new().retry_if(|n: &u32| n.is_multiple_of(2));
    let calls = AtomicU32::new(0);
    let result: Result<(), _> = policy
        .call_with(&only_even, || {
            let n = calls.fetch_add(1, Ordering::SeqCst);
            async move { Err(n) }
        })
        .await;
    // attempt 0 fails with 0 (even: retry), attempt 1 fails with 1 (odd: stop).
    assert!(matches!(result, Err(ResilienceError::Inner(1))));
    assert_eq!(calls.load(Ordering::SeqCst), 2);
}

#[tokio::test(start_paused = true)]
async fn a_retry_after_hint_is_a_floor_on_the_delay() {
    let policy = RetryPolicy::builder("svc")
        .initial_interval(Duration::from_millis(10))
        .maximum_attempts(3)
        .build()
        .unwrap();
    let (starts, _) = attempt_starts(&policy, TestError::Busy(Duration::from_secs(7))).await;
    assert!(gaps(&starts).iter().all(|gap| *gap >= Duration::from_secs(7)));
}

#[tokio::test(start_paused = true)]
async fn every_retry_is_reported_and_counted() {
    let bus = ResilienceBus::new();
    let mut events = bus.subscribe();
    let policy = RetryPolicy::builder("svc")
        .initial_interval(Duration::from_millis(10))
        .maximum_attempts(4)
        .events(&bus)
        .seed(1)
        .build()
        .unwrap();
    let attempts = Arc::new(AtomicU32::new(0));
    let result = policy
        .call(|| {
            let n = attempts.fetch_add(1, Ordering::SeqCst);
            async move { if n < 2 { Err(TestError::Transient) } else { Ok(n) } }
        })
        .await;
    assert_eq!(result.unwrap(), 2);
    let events = events.drain();
    assert_eq!(events.len(), 2);
    assert!(events.iter().all(|e| e.policy == "svc"));
    assert!(matches!(
        events[1].kind,
        EventKind::RetryScheduled { attempt: 2, .. }
    ));
    let stats = policy.stats();
    assert_eq!(
        (stats.calls, stats.attempts, stats.retries, stats.successes),
        (1, 3, 2, 1)
    );
}

#[tokio::test(start_paused = true)]
async fn an_absurd_retry_after_hint_ends_the_retries_instead_of_panicking() {
    let policy = RetryPolicy::builder("svc")
        .maximum_attempts(5)
        .deadline(Duration::from_secs(60))
        .build()
        .unwrap();
    let (starts, error) = attempt_starts(&policy, TestError::Busy(Duration::MAX)).await;
    assert_eq!(starts.len(), 1);
    assert!(matches!(error, ResilienceError::Inner(TestError::Busy(_))));
    assert_eq!(policy.stats().gave_up_deadline, 1);
}
