//! What each policy does when the caller drops its future half-way, as its
//! `# Cancel safety` docs say: each test starts a call, polls it until it is parked at
//! the point in question, drops it, and looks at the policy's state.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::task::Poll;
use std::time::Duration;

use hale_resilience::{
    BreakerState, Bulkhead, CircuitBreaker, DegradableRun, FallbackChain, OnDuplicate, Pipeline, RateLimiter,
    Rejection, ResourceMediator, RetryPolicy, SingleFlight, Timeout,
};
use tokio::time::advance;

/// Polls `future` once; true if it is still pending (parked where the test wants it).
async fn parked<F: Future + ?Sized>(future: &mut Pin<Box<F>>) -> bool {
    std::future::poll_fn(|cx| Poll::Ready(future.as_mut().poll(cx).is_pending())).await
}

/// Sets its flag when dropped: tells whether an operation's future was dropped.
struct DropFlag(Arc<AtomicBool>);

impl Drop for DropFlag {
    fn drop(&mut self) {
        self.0.store(true, Ordering::SeqCst);
    }
}

/// An operation that never ends and reports when its future is dropped.
fn endless(dropped: &Arc<AtomicBool>) -> impl Future<Output = Result<(), String>> + use<> {
    let flag = DropFlag(Arc::clone(dropped));
    async move {
        let _flag = flag;
        std::future::pending::<()>().await;
        Ok(())
    }
}

#[tokio::test(start_paused = true)]
async fn a_dropped_timeout_call_drops_its_operation_and_is_no_timeout() {
    let timeout = Timeout::new("db", Duration::from_secs(1));
    let dropped = Arc::new(AtomicBool::new(false));
    let mut call = Box::pin(timeout.call(|| endless(&dropped)));
    assert!(parked(&mut call).await);
    drop(call);
    assert!(dropped.load(Ordering::SeqCst));
    advance(Duration::from_secs(5)).await;
    let stats = timeout.stats();
    assert_eq!((stats.calls, stats.timed_out), (1, 0));
}

#[tokio::test(start_paused = true)]
async fn a_dropped_retry_makes_no_further_attempt() {
    let retry = RetryPolicy::builder("api")
        .maximum_attempts(5)
        .initial_interval(Duration::from_secs(1))
        .build()
        .unwrap();
    let attempts = AtomicU32::new(0);
    let mut call = Box::pin(retry.call(|| {
        attempts.fetch_add(1, Ordering::SeqCst);
        async { Err::<(), _>("down".to_string()) }
    }));
    assert!(parked(&mut call).await, "backing off after the first attempt");
    drop(call);
    advance(Duration::from_secs(600)).await;
    assert_eq!(attempts.load(Ordering::SeqCst), 1);
    let stats = retry.stats();
    assert_eq!((stats.attempts, stats.retries), (1, 1));
    assert_eq!(
        stats.gave_up_exhausted + stats.gave_up_deadline + stats.gave_up_non_retryable,
        0
    );
}

#[tokio::test(start_paused = true)]
async fn a_dropped_half_open_trial_gives_its_slot_back() {
    let breaker = CircuitBreaker::builder("api")
        .count_window(1)
        .minimum_calls(1)
        .half_open_calls(1)
        .wait_in_open(Duration::from_secs(1))
        .build()
        .unwrap();
    breaker.try_acquire().unwrap().failure();
    advance(Duration::from_secs(2)).await;
    let dropped = Arc::new(AtomicBool::new(false));
    let mut trial = Box::pin(breaker.call(|| endless(&dropped)));
    assert!(parked(&mut trial).await);
    assert_eq!(breaker.state(), BreakerState::HalfOpen);
    assert!(breaker.try_acquire().is_err(), "the only trial slot is taken");
    drop(trial);
    assert!(dropped.load(Ordering::SeqCst));
    let stats = breaker.stats();
    assert_eq!((stats.ignored, stats.successes, stats.failures), (1, 0, 1));
    breaker.try_acquire().expect("the slot came back").success();
    assert_eq!(breaker.state(), BreakerState::Closed);
}

#[tokio::test(start_paused = true)]
async fn a_dropped_bulkhead_waiter_leaves_the_queue_and_a_dropped_call_frees_its_slot() {
    let bulkhead = Bulkhead::builder("db")
        .max_concurrent(1)
        .max_wait(Duration::from_secs(60))
        .build()
        .unwrap();
    let dropped = Arc::new(AtomicBool::new(false));
    let mut running = Box::pin(bulkhead.call(|| endless(&dropped)));
    assert!(parked(&mut running).await);
    assert_eq!(bulkhead.available(), 0);

    let mut waiting = Box::pin(bulkhead.acquire());
    assert!(parked(&mut waiting).await);
    assert_eq!(bulkhead.waiting(), 1);
    drop(waiting);
    assert_eq!(bulkhead.waiting(), 0);

    drop(running);
    assert!(dropped.load(Ordering::SeqCst));
    assert_eq!(bulkhead.available(), 1);
    assert!(bulkhead.try_acquire().is_ok());
}

#[tokio::test(start_paused = true)]
async fn a_dropped_rate_limit_waiter_keeps_its_turn_reserved() {
    let limiter = RateLimiter::builder("api")
        .limit(1, Duration::from_secs(1))
        .burst(1)
        .max_wait(Duration::from_secs(5))
        .build()
        .unwrap();
    limiter.check().unwrap();
    let mut waiting = Box::pin(limiter.acquire());
    assert!(parked(&mut waiting).await, "waits for the turn at 1 s");
    drop(waiting);
    // The next turn is at 2 s, not 1 s: the dropped waiter's turn is spent.
    let refused = limiter.check().unwrap_err();
    assert_eq!(refused.retry_after(), Some(Duration::from_secs(2)));
}

#[tokio::test(start_paused = true)]
async fn a_dropped_single_flight_runner_frees_its_key() {
    let guard: SingleFlight<u32, (), String> = SingleFlight::new("jobs", OnDuplicate::Refuse);
    let dropped = Arc::new(AtomicBool::new(false));
    let mut runner = Box::pin(guard.run(7, || endless(&dropped)));
    assert!(parked(&mut runner).await);
    assert!(guard.is_running(&7));
    assert!(matches!(
        guard
            .run(7, || async { Ok(()) })
            .await
            .unwrap_err()
            .as_rejection(),
        Some(Rejection::AlreadyRunning { .. })
    ));
    drop(runner);
    assert!(dropped.load(Ordering::SeqCst));
    assert!(!guard.is_running(&7));
    assert!(guard.run(7, || async { Ok(()) }).await.is_ok());
}

#[tokio::test(start_paused = true)]
async fn a_dropped_joined_request_leaves_the_run_going() {
    let guard: SingleFlight<u32, &'static str, String> = SingleFlight::new("jobs", OnDuplicate::Join);
    let (release, released) = tokio::sync::oneshot::channel::<()>();
    let mut runner = Box::pin(guard.run(1, || async {
        let _ = released.await;
        Ok("done")
    }));
    assert!(parked(&mut runner).await);
    let mut joined = Box::pin(guard.run(1, || async { Ok("not run") }));
    assert!(parked(&mut joined).await);
    drop(joined);
    assert!(guard.is_running(&1));
    release.send(()).unwrap();
    assert_eq!(runner.await.unwrap(), "done");
    assert_eq!(guard.stats().started, 1);
}

#[tokio::test(start_paused = true)]
async fn a_dropped_mediator_acquisition_releases_what_it_took() {
    let mediator = ResourceMediator::builder("m")
        .resource("a")
        .resource("b")
        .build()
        .unwrap();
    let held_b = mediator.acquire(&["b"], Duration::from_secs(1)).await.unwrap();
    let mut both = Box::pin(mediator.acquire(&["a", "b"], Duration::from_secs(60)));
    assert!(parked(&mut both).await, "holds `a`, waits for `b`");
    assert_eq!(mediator.available("a"), Some(0));
    drop(both);
    assert_eq!(mediator.available("a"), Some(1));
    drop(held_b);
    assert_eq!(mediator.available("b"), Some(1));
    assert_eq!(mediator.stats().timed_out, 0);
}

#[tokio::test(start_paused = true)]
async fn a_dropped_pipeline_call_lets_go_of_every_layer() {
    let pipeline = Pipeline::builder("llm")
        .circuit_breaker(|breaker| breaker.count_window(1).minimum_calls(1))
        .retry(|retry| retry.maximum_attempts(3))
        .bulkhead(|bulkhead| bulkhead.max_concurrent(1))
        .timeout(Duration::from_secs(60))
        .build()
        .unwrap();
    let dropped = Arc::new(AtomicBool::new(false));
    let mut call = Box::pin(pipeline.call(|| endless(&dropped)));
    assert!(parked(&mut call).await);
    drop(call);
    assert!(dropped.load(Ordering::SeqCst));
    let breaker = pipeline.circuit_breaker().unwrap();
    assert_eq!(breaker.state(), BreakerState::Closed);
    assert_eq!(breaker.stats().ignored, 1, "nothing recorded");
    // The bulkhead slot is free again: a new call gets through at once.
    let answer = pipeline.call(|| async { Ok::<_, String>("ok") }).await;
    assert_eq!(answer.unwrap(), "ok");
    assert_eq!(pipeline.retry().unwrap().stats().attempts, 2);
}

#[tokio::test(start_paused = true)]
async fn a_dropped_fallback_call_runs_no_later_alternative_or_escalation() {
    let later = Arc::new(AtomicU32::new(0));
    let (count_alternative, count_escalation) = (Arc::clone(&later), Arc::clone(&later));
    let chain = FallbackChain::builder("answer")
        .alternative("primary", |_: ()| async {
            std::future::pending::<()>().await;
            Err::<String, _>("unreachable".to_string())
        })
        .alternative("cache", move |_: ()| {
            count_alternative.fetch_add(1, Ordering::SeqCst);
            async { Ok("cached".to_string()) }
        })
        .escalate(move |_| {
            count_escalation.fetch_add(1, Ordering::SeqCst);
            async { Ok("human".to_string()) }
        })
        .unwrap();
    let mut call = Box::pin(chain.call(()));
    assert!(parked(&mut call).await);
    drop(call);
    advance(Duration::from_secs(60)).await;
    assert_eq!(later.load(Ordering::SeqCst), 0);
    assert_eq!(chain.stats().escalated, 0);
}

#[tokio::test(start_paused = true)]
async fn a_dropped_optional_step_records_nothing() {
    let mut run = DegradableRun::new("trip");
    {
        let mut step = Box::pin(run.optional(
            "weather",
            "unknown",
            std::future::pending::<Result<&str, String>>(),
        ));
        assert!(parked(&mut step).await);
    }
    assert!(run.degraded().is_empty());
    assert!(!run.finish(()).is_degraded());
}
