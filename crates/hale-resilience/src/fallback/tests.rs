use std::sync::{Arc, Mutex};
use std::time::Duration;

use super::*;
use crate::error::{Rejection, ResilienceError};
use crate::events::{EventKind, ResilienceBus};
use crate::retry::RetryPolicy;

type Log = Arc<Mutex<Vec<String>>>;

/// An alternative that logs its call and answers with `answer`.
fn logged(
    log: &Log,
    name: &'static str,
    answer: Result<&'static str, &'static str>,
) -> impl Fn(u32) -> std::future::Ready<Result<String, String>> + Send + Sync + 'static {
    let log = Arc::clone(log);
    move |input| {
        log.lock().unwrap().push(format!("{name}({input})"));
        std::future::ready(answer.map(str::to_owned).map_err(str::to_owned))
    }
}

#[tokio::test]
async fn alternatives_are_tried_in_order_until_one_answers() {
    let log = Log::default();
    let bus = ResilienceBus::new();
    let mut events = bus.subscribe();
    let chain = FallbackChain::builder("answer")
        .alternative("primary", logged(&log, "primary", Err("503")))
        .alternative("small", logged(&log, "small", Err("overloaded")))
        .alternative("cache", logged(&log, "cache", Ok("cached")))
        .alternative("static", logged(&log, "static", Ok("static")))
        .events(&bus)
        .escalate(|_| async { Err("unreachable".to_string()) })
        .unwrap();

    let answer = chain.call(7).await.unwrap();
    assert_eq!(answer.value, "cached");
    assert_eq!(
        answer.answered_by,
        AnsweredBy::Alternative {
            index: 2,
            name: "cache".into()
        }
    );
    assert_eq!(*log.lock().unwrap(), vec!["primary(7)", "small(7)", "cache(7)"]);
    let failed: Vec<&str> = answer.failures.iter().map(|f| &*f.alternative).collect();
    assert_eq!(failed, vec!["primary", "small"]);
    assert!(matches!(&answer.failures[1].error, ResilienceError::Inner(e) if e == "overloaded"));

    let taken: Vec<(String, String)> = events
        .drain()
        .into_iter()
        .filter_map(|e| match e.kind {
            EventKind::FallbackTaken { failed, next, .. } => Some((failed, next)),
            _ => None,
        })
        .collect();
    assert_eq!(
        taken,
        vec![
            ("primary".into(), "small".into()),
            ("small".into(), "cache".into())
        ]
    );
    assert_eq!(chain.stats().answered_by_fallback, 1);
}

#[tokio::test]
async fn a_healthy_primary_is_the_only_call() {
    let log = Log::default();
    let chain = FallbackChain::builder("answer")
        .alternative("primary", logged(&log, "primary", Ok("fresh")))
        .alternative("cache", logged(&log, "cache", Ok("stale")))
        .escalate(|_| async { Err("unreachable".to_string()) })
        .unwrap();
    let answer = chain.call(1).await.unwrap();
    assert!(answer.is_primary());
    assert!(answer.failures.is_empty());
    assert_eq!(*log.lock().unwrap(), vec!["primary(1)"]);
}

#[tokio::test]
async fn when_everything_fails_the_escalation_gets_the_input_and_every_failure() {
    let log = Log::default();
    let tickets: Arc<Mutex<Vec<String>>> = Arc::default();
    let queue = Arc::clone(&tickets);
    let bus = ResilienceBus::new();
    let mut events = bus.subscribe();
    let chain = FallbackChain::builder("answer")
        .alternative("primary", logged(&log, "primary", Err("503")))
        .alternative("cache", logged(&log, "cache", Err("miss")))
        .events(&bus)
        .escalate(move |escalation: Escalation<'_, u32, String>| {
            let reasons: Vec<String> = escalation
                .failures
                .iter()
                .map(|f| format!("{}: {}", f.alternative, f.error))
                .collect();
            queue.lock().unwrap().push(format!(
                "{} #{} [{}]",
                escalation.chain,
                escalation.input,
                reasons.join(", ")
            ));
            async { Ok("queued for a human".to_string()) }
        })
        .unwrap();

    let answer = chain.call(42).await.unwrap();
    assert!(answer.is_escalated());
    assert_eq!(answer.value, "queued for a human");
    assert_eq!(answer.failures.len(), 2);
    assert_eq!(
        *tickets.lock().unwrap(),
        vec!["answer #42 [primary: 503, cache: miss]"]
    );
    assert!(events.drain().iter().any(|e| e.kind
        == EventKind::Escalated {
            failed_alternatives: 2
        }));
    assert_eq!(chain.stats().escalated, 1);
}

#[tokio::test]
async fn a_failing_escalation_returns_every_failure_and_its_own_error() {
    let chain = FallbackChain::<(), String, String>::builder("answer")
        .alternative("only", |()| async { Err("down".to_string()) })
        .escalate(|_| async { Err("queue full".to_string()) })
        .unwrap();
    let failed = chain.call(()).await.unwrap_err();
    assert_eq!(failed.error, "queue full");
    assert_eq!(failed.failures.len(), 1);
    assert_eq!(
        failed.to_string(),
        "fallback chain `answer`: all 1 alternative(s) failed and escalation failed: queue full"
    );
    assert_eq!(chain.stats().escalation_failed, 1);
}

#[tokio::test(start_paused = true)]
async fn each_alternative_runs_under_its_own_policies() {
    let retry = RetryPolicy::builder("primary")
        .initial_interval(Duration::from_millis(10))
        .maximum_attempts(3)
        .build()
        .unwrap();
    let attempts = Arc::new(Mutex::new(0u32));
    let counted = Arc::clone(&attempts);
    let chain = FallbackChain::builder("answer")
        .resilient_alternative("primary", move |_: ()| {
            let retry = retry.clone();
            let counted = Arc::clone(&counted);
            async move {
                retry
                    .call(|| {
                        *counted.lock().unwrap() += 1;
                        async { Err::<String, _>("flaky".to_string()) }
                    })
                    .await
            }
        })
        .resilient_alternative("guarded", |_: ()| async {
            Err::<String, _>(ResilienceError::<String>::Rejected(Rejection::CircuitOpen {
                breaker: "guarded".into(),
                retry_after: None,
            }))
        })
        .alternative("static", |_: ()| async { Ok::<_, String>("default".to_string()) })
        .escalate(|_| async { Err("unreachable".to_string()) })
        .unwrap();
    let answer = chain.call(()).await.unwrap();
    assert_eq!(
        *attempts.lock().unwrap(),
        3,
        "the primary's retry policy ran in full"
    );
    assert!(answer.failures[1].error.is_rejected());
    assert_eq!(answer.answered_by.name(), Some("static"));
}

#[test]
fn a_chain_needs_an_alternative() {
    let built = FallbackChain::<(), (), String>::builder("empty").escalate(|_| async { Ok(()) });
    assert!(built.is_err());
}
