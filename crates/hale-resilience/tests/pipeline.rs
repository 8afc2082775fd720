//! The composition order, observed from outside.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use hale_resilience::{
    BreakerState, Bulkhead, CircuitBreaker, EventKind, FallbackChain, Jitter, Pipeline, RateLimiter,
    Rejection, ResilienceBus, ResilienceError, RetryPolicy, Timeout,
};
use tokio::time::{Instant, sleep};

fn retry(attempts: u32) -> RetryPolicy {
    RetryPolicy::builder("dep")
        .initial_interval(Duration::from_millis(100))
        .maximum_attempts(attempts)
        .jitter(Jitter::None)
        .build()
        .unwrap()
}

fn breaker(window: u32) -> CircuitBreaker {
    CircuitBreaker::builder("dep")
        .count_window(window)
        .minimum_calls(window)
        .wait_in_open(Duration::from_secs(60))
        .build()
        .unwrap()
}

fn counter() -> Arc<AtomicU32> {
    Arc::new(AtomicU32::new(0))
}

#[tokio::test(start_paused = true)]
async fn the_timeout_is_per_attempt_and_inside_the_retry() {
    let timeout = Timeout::new("dep", Duration::from_secs(1));
    let pipeline = Pipeline::builder("dep")
        .policy(breaker(2))
        .policy(retry(3))
        .policy(timeout.clone())
        .build()
        .unwrap();
    let attempts = counter();
    let result = pipeline
        .call(|| {
            let n = attempts.fetch_add(1, Ordering::SeqCst);
            async move {
                if n < 2 {
                    sleep(Duration::from_secs(3600)).await;
                }
                Ok::<_, String>(n)
            }
        })
        .await;
    assert_eq!(result.unwrap(), 2);
    assert_eq!(timeout.stats().timed_out, 2);
    let breaker = pipeline.circuit_breaker().unwrap().stats();
    assert_eq!(
        (breaker.successes, breaker.failures),
        (1, 0),
        "the breaker saw one logical call"
    );
}

#[tokio::test(start_paused = true)]
async fn an_exhausted_retry_is_one_failure_for_the_breaker() {
    let pipeline = Pipeline::builder("dep")
        .policy(breaker(2))
        .policy(retry(3))
        .build()
        .unwrap();
    let attempts = counter();
    for _ in 0..2 {
        let result: Result<(), _> = pipeline
            .call(|| {
                attempts.fetch_add(1, Ordering::SeqCst);
                async { Err("down".to_string()) }
            })
            .await;
        assert!(matches!(result, Err(ResilienceError::Inner(_))));
    }
    assert_eq!(attempts.load(Ordering::SeqCst), 6);
    let breaker = pipeline.circuit_breaker().unwrap();
    assert_eq!(breaker.stats().failures, 2);
    assert_eq!(breaker.state(), BreakerState::Open);
}

#[tokio::test(start_paused = true)]
async fn an_open_breaker_stops_the_call_before_any_attempt() {
    let pipeline = Pipeline::builder("dep")
        .policy(breaker(2))
        .policy(retry(5))
        .build()
        .unwrap();
    pipeline.circuit_breaker().unwrap().force_open();
    let attempts = counter();
    let began = Instant::now();
    let result = pipeline
        .call(|| {
            attempts.fetch_add(1, Ordering::SeqCst);
            async { Ok::<_, String>(()) }
        })
        .await;
    assert!(matches!(
        result,
        Err(ResilienceError::Rejected(Rejection::CircuitOpen { .. }))
    ));
    assert_eq!(attempts.load(Ordering::SeqCst), 0);
    assert_eq!(pipeline.retry().unwrap().stats().attempts, 0);
    assert_eq!(began.elapsed(), Duration::ZERO);
}

#[tokio::test(start_paused = true)]
async fn a_rate_limited_attempt_is_retried_after_the_limiters_hint_and_not_held_against_the_dependency() {
    let limiter = RateLimiter::builder("dep")
        .limit(1, Duration::from_secs(2))
        .burst(1)
        .build()
        .unwrap();
    let pipeline = Pipeline::builder("dep")
        .policy(breaker(2))
        .policy(retry(3))
        .policy(limiter.clone())
        .build()
        .unwrap();
    let ok = || async { Ok::<_, String>(()) };
    pipeline.call(ok).await.unwrap();
    let began = Instant::now();
    pipeline.call(ok).await.unwrap();
    assert!(
        began.elapsed() >= Duration::from_secs(2),
        "the retry waited for the hint"
    );
    assert_eq!(limiter.stats().rejected, 1);
    let breaker = pipeline.circuit_breaker().unwrap().stats();
    assert_eq!((breaker.successes, breaker.failures), (2, 0));
}

#[tokio::test(start_paused = true)]
async fn a_full_bulkhead_is_retried_and_slots_are_not_held_while_backing_off() {
    let bulkhead = Bulkhead::builder("dep").max_concurrent(1).build().unwrap();
    let pipeline = Pipeline::builder("dep")
        .policy(retry(5))
        .policy(bulkhead.clone())
        .build()
        .unwrap();
    let busy = bulkhead.try_acquire().unwrap();
    let release_later = tokio::spawn(async move {
        sleep(Duration::from_millis(150)).await;
        drop(busy);
    });
    let result = pipeline.call(|| async { Ok::<_, String>("in") }).await;
    assert_eq!(result.unwrap(), "in");
    release_later.await.unwrap();
    assert!(bulkhead.stats().rejected >= 1);
    assert_eq!(bulkhead.available(), 1);
}

#[tokio::test(start_paused = true)]
async fn layers_are_reported_in_stacking_order_whatever_the_builder_order() {
    let pipeline = Pipeline::builder("dep")
        .timeout(Duration::from_secs(1))
        .bulkhead(|bulkhead| bulkhead)
        .rate_limit(|limiter| limiter)
        .policy(retry(2))
        .policy(breaker(2))
        .build()
        .unwrap();
    assert_eq!(
        pipeline.layers(),
        vec!["circuit_breaker", "retry", "rate_limit", "bulkhead", "timeout"]
    );
    assert!(Pipeline::builder("bare").build().unwrap().layers().is_empty());
}

#[tokio::test(start_paused = true)]
async fn a_fallback_chain_of_pipelines_falls_back_when_the_primary_breaker_is_open() {
    let bus = ResilienceBus::new();
    let mut events = bus.subscribe();
    let primary = Pipeline::builder("large-model")
        .policy(breaker(2))
        .policy(retry(2))
        .build()
        .unwrap();
    primary.circuit_breaker().unwrap().force_open();
    let cache = Pipeline::builder("cache")
        .timeout(Duration::from_millis(50))
        .build()
        .unwrap();
    let primary_calls = counter();
    let seen = Arc::clone(&primary_calls);
    let chain = FallbackChain::builder("answer")
        .alternative_via("large-model", &primary, move |q: String| {
            seen.fetch_add(1, Ordering::SeqCst);
            async move { Ok::<_, String>(format!("fresh {q}")) }
        })
        .alternative_via(
            "cache",
            &cache,
            |q: String| async move { Ok(format!("cached {q}")) },
        )
        .events(&bus)
        .escalate(|_| async { Err("unreachable".to_string()) })
        .unwrap();

    // Spawned: a chain of pipelines is Send and can run on any worker.
    let answer = tokio::spawn(async move { chain.call("q".to_string()).await })
        .await
        .unwrap()
        .unwrap();
    assert_eq!(answer.value, "cached q");
    assert_eq!(answer.answered_by.name(), Some("cache"));
    assert!(answer.failures[0].error.is_rejected());
    assert_eq!(primary_calls.load(Ordering::SeqCst), 0);
    let kinds: Vec<EventKind> = events.drain().into_iter().map(|e| e.kind).collect();
    assert!(
        kinds
            .iter()
            .any(|k| matches!(k, EventKind::FallbackTaken { failed, .. } if failed == "large-model"))
    );
}

#[tokio::test(start_paused = true)]
async fn layers_configured_inline_take_the_pipelines_name_and_bus_whatever_the_order() {
    let bus = ResilienceBus::new();
    let mut events = bus.subscribe();
    let pipeline = Pipeline::builder("geocoder")
        .retry(|retry| retry.maximum_attempts(2).jitter(Jitter::None))
        .timeout(Duration::from_millis(10))
        .circuit_breaker(|breaker| breaker.count_window(2).minimum_calls(2))
        .events(&bus) // after the layers: still theirs
        .build()
        .unwrap();
    let result = pipeline.call(std::future::pending::<Result<(), String>>).await;
    assert!(result.unwrap_err().is_timeout());
    let seen: Vec<(String, String)> = events
        .drain()
        .into_iter()
        .map(|event| {
            let kind = serde_json::to_value(&event.kind).unwrap()["event"].to_string();
            (event.policy, kind)
        })
        .collect();
    assert_eq!(
        seen,
        [
            "\"timed_out\"",
            "\"retry_scheduled\"",
            "\"timed_out\"",
            "\"retry_gave_up\""
        ]
        .map(|kind| ("geocoder".to_owned(), kind.to_owned()))
    );
    assert_eq!(pipeline.circuit_breaker().unwrap().name(), "geocoder");
}

#[tokio::test(start_paused = true)]
async fn a_bus_set_inside_a_layer_or_on_a_given_policy_wins() {
    let (pipeline_bus, own_bus) = (ResilienceBus::new(), ResilienceBus::new());
    let (mut on_pipeline, mut on_own) = (pipeline_bus.subscribe(), own_bus.subscribe());
    let pipeline = Pipeline::builder("db")
        .events(&pipeline_bus)
        .retry(|retry| retry.maximum_attempts(1).events(&own_bus))
        .policy(Timeout::new("db-timeout", Duration::from_millis(5)).events(&own_bus))
        .build()
        .unwrap();
    let _ = pipeline.call(std::future::pending::<Result<(), String>>).await;
    assert!(on_pipeline.drain().is_empty());
    let policies: Vec<String> = on_own.drain().into_iter().map(|e| e.policy).collect();
    assert_eq!(policies, vec!["db-timeout", "db"]);
}

#[test]
fn impossible_inline_settings_fail_the_build_naming_the_pipeline() {
    let error = Pipeline::builder("llm")
        .retry(|retry| retry.maximum_attempts(0))
        .build()
        .unwrap_err();
    assert_eq!(
        error,
        hale_resilience::ConfigError::Zero {
            policy: "retry",
            name: "llm".into(),
            field: "maximum attempts"
        }
    );
    let breaker = Pipeline::builder("llm")
        .circuit_breaker(|breaker| breaker.count_window(5).minimum_calls(6))
        .build();
    assert!(breaker.is_err());
}
