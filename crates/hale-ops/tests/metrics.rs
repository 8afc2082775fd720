//! `/metrics`: names, values, and one recorder per router.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use axum::http::StatusCode;
use hale_core::HealingEventKind;
use hale_ops::{WorkOutcome, catalog};
use hale_resilience::{BreakerState, EventKind, Rejection, ResilienceBus};
use support::{TestTree, get, send, wait_for_healing};

/// The value of the sample named exactly `series` (name and labels).
fn sample(text: &str, series: &str) -> Option<f64> {
    text.lines()
        .filter(|line| !line.starts_with('#'))
        .find_map(|line| line.strip_prefix(series)?.strip_prefix(' ')?.parse().ok())
}

#[tokio::test]
async fn two_routers_in_one_process_keep_their_own_counts() {
    let first = TestTree::start().await;
    let second = TestTree::start().await;
    let first_ops = first.ops().build().unwrap();
    let second_ops = second.ops().build().unwrap();
    let mut events = first_ops.subscribe();

    first.crash.notify_one();
    wait_for_healing(&mut events, |event| {
        matches!(event.kind, HealingEventKind::ChildRestarted { .. })
    })
    .await;

    let (status, text) = send(&first_ops.router(), get("/metrics")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(sample(&text, "hale_child_restarts_total"), Some(1.0), "{text}");
    assert_eq!(
        sample(&text, "hale_child_exits_total{reason=\"failed\"}"),
        Some(1.0)
    );
    assert_eq!(
        sample(&text, "hale_child_exits_total{reason=\"normal\"}"),
        Some(0.0)
    );
    assert_eq!(
        sample(&text, "hale_restart_duration_seconds_count"),
        Some(1.0),
        "{text}"
    );
    assert!(
        text.contains("hale_restart_duration_seconds_bucket{le=\"0.001\"}"),
        "{text}"
    );
    assert_eq!(sample(&text, "hale_children{state=\"running\"}"), Some(7.0));
    assert_eq!(sample(&text, "hale_children{state=\"stopped\"}"), Some(0.0));
    assert_eq!(sample(&text, "hale_children_unready"), Some(1.0));
    assert_eq!(sample(&text, "hale_tree_up"), Some(1.0));
    assert!(
        text.contains("# HELP hale_child_restarts_total Children restarted"),
        "{text}"
    );
    assert!(
        text.contains("# TYPE hale_child_restarts_total counter"),
        "{text}"
    );

    let (_, other) = send(&second_ops.router(), get("/metrics")).await;
    assert_eq!(sample(&other, "hale_child_restarts_total"), Some(0.0), "{other}");
    assert_eq!(
        sample(&other, "hale_child_exits_total{reason=\"failed\"}"),
        Some(0.0)
    );
    first.stop().await;
    second.stop().await;
}

#[tokio::test]
async fn every_catalogued_family_without_free_labels_is_rendered_and_named_by_convention() {
    let tree = TestTree::start().await;
    let ops = tree.ops().build().unwrap();
    let (_, text) = send(&ops.router(), get("/metrics")).await;
    let families: Vec<&str> = text
        .lines()
        .filter_map(|line| line.strip_prefix("# TYPE "))
        .filter_map(|line| line.split(' ').next())
        .collect();
    for family in &families {
        assert!(family.starts_with("hale_"), "{family}");
        assert!(
            catalog::ALL.iter().any(|metric| metric.name == *family),
            "{family} is not catalogued"
        );
    }
    for metric in catalog::ALL {
        let policy_labelled = metric.labels.contains(&"policy");
        let workflow = [catalog::DEAD_LETTERS.name, catalog::PENDING_APPROVALS.name].contains(&metric.name);
        let admin = metric.name == catalog::ADMIN_ACTIONS.name;
        if !policy_labelled && !workflow && !admin {
            assert!(families.contains(&metric.name), "{} is missing", metric.name);
        }
    }
    // No workflow store: no false zero.
    assert!(!text.contains("hale_dead_letters"), "{text}");
    tree.stop().await;
}

#[tokio::test]
async fn resilience_events_become_counters_and_breaker_gauges() {
    let tree = TestTree::start().await;
    let policies = ResilienceBus::new();
    let ops = tree.ops().resilience(&policies).build().unwrap();
    let mut events = ops.subscribe();
    policies.emit(
        "llm",
        EventKind::RetryScheduled {
            attempt: 1,
            delay_ms: 10,
            error: "503".into(),
        },
    );
    policies.emit(
        "llm",
        EventKind::BreakerTransition {
            from: BreakerState::Closed,
            to: BreakerState::Open,
        },
    );
    policies.emit(
        "pool",
        EventKind::rejected(&Rejection::BulkheadFull {
            bulkhead: "pool".into(),
            max_concurrent: 4,
        }),
    );
    policies.emit("api", EventKind::TimedOut { after_ms: 5 });
    for _ in 0..4 {
        events.recv().await.unwrap();
    }
    let (_, text) = send(&ops.router(), get("/metrics")).await;
    assert_eq!(
        sample(&text, "hale_retries_total{policy=\"llm\"}"),
        Some(1.0),
        "{text}"
    );
    assert_eq!(
        sample(&text, "hale_breaker_state{policy=\"llm\",state=\"open\"}"),
        Some(1.0)
    );
    assert_eq!(
        sample(&text, "hale_breaker_state{policy=\"llm\",state=\"closed\"}"),
        Some(0.0)
    );
    assert_eq!(
        sample(
            &text,
            "hale_breaker_transitions_total{policy=\"llm\",to=\"open\"}"
        ),
        Some(1.0)
    );
    assert_eq!(
        sample(
            &text,
            "hale_rejections_total{policy=\"pool\",reason=\"bulkhead_full\"}"
        ),
        Some(1.0)
    );
    assert_eq!(sample(&text, "hale_timeouts_total{policy=\"api\"}"), Some(1.0));
    tree.stop().await;
}

#[tokio::test]
async fn policy_labels_are_bounded() {
    let tree = TestTree::start().await;
    let policies = ResilienceBus::new();
    let ops = tree.ops().resilience(&policies).build().unwrap();
    let mut events = ops.subscribe();
    let total = catalog::MAX_POLICIES + 44;
    for index in 0..total {
        policies.emit(&format!("policy-{index}"), EventKind::TimedOut { after_ms: 1 });
    }
    for _ in 0..total {
        events.recv().await.unwrap();
    }
    let (_, text) = send(&ops.router(), get("/metrics")).await;
    let series = text
        .lines()
        .filter(|line| line.starts_with("hale_timeouts_total{"))
        .count();
    assert_eq!(series, catalog::MAX_POLICIES + 1);
    assert_eq!(sample(&text, "hale_timeouts_total{policy=\"other\"}"), Some(44.0));
    tree.stop().await;
}

#[tokio::test]
async fn work_items_reported_by_the_application_are_counted() {
    let tree = TestTree::start().await;
    let ops = tree.ops().build().unwrap();
    let work = ops.work();
    work.finished(WorkOutcome::Completed, std::time::Duration::from_millis(30));
    work.finished(WorkOutcome::DeadLettered, std::time::Duration::from_secs(2));
    work.set_total(WorkOutcome::Completed, 10);
    work.set_total(WorkOutcome::Completed, 4);
    let (_, text) = send(&ops.router(), get("/metrics")).await;
    assert_eq!(
        sample(&text, "hale_work_items_total{outcome=\"completed\"}"),
        Some(10.0)
    );
    assert_eq!(
        sample(&text, "hale_work_items_total{outcome=\"dead_lettered\"}"),
        Some(1.0)
    );
    assert_eq!(sample(&text, "hale_work_item_duration_seconds_count"), Some(2.0));
    assert_eq!(
        sample(&text, "hale_work_item_duration_seconds_bucket{le=\"0.05\"}"),
        Some(1.0)
    );
    tree.stop().await;
}

#[test]
fn the_operations_guide_lists_every_metric() {
    let guide = include_str!("../../../docs/operations.md");
    for metric in catalog::ALL {
        assert!(
            guide.contains(&format!("| `{}` |", metric.name)),
            "{} is not in docs/operations.md",
            metric.name
        );
    }
}
