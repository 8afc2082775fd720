//! `/livez`, `/readyz` and `/tree` against a running tree.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use axum::http::StatusCode;
use hale_core::HealingEventKind;
use hale_ops::TreeSnapshot;
use support::{TestTree, get, send, wait_for_healing};

#[tokio::test]
async fn livez_passes_while_the_tree_runs_and_lists_its_checks_when_verbose() {
    let tree = TestTree::start().await;
    let router = tree.ops().build().unwrap().router();

    assert_eq!(
        send(&router, get("/livez")).await,
        (StatusCode::OK, "ok".to_owned())
    );
    let (status, body) = send(&router, get("/livez?verbose")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body, "[+]supervisor ok\n[+]event-feed ok\nlivez check passed\n");
    assert_eq!(send(&router, get("/livez/supervisor")).await.0, StatusCode::OK);

    let (status, body) = send(&router, get("/livez/etcd")).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert!(body.contains("no livez check named `etcd`"), "{body}");
    let (status, body) = send(&router, get("/livez?verbos")).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(body.contains("unknown query parameter `verbos`"), "{body}");

    // Liveness never looks at children: a child that is not ready does not
    // fail it (the shy child is not ready from the start).
    let root = tree.root.clone();
    tree.stop().await;
    let (status, body) = send(&router, get("/livez?verbose")).await;
    assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR);
    assert!(body.starts_with("[-]supervisor failed:"), "{body}");
    assert!(body.ends_with("livez check failed\n"), "{body}");
    drop(root);
}

#[tokio::test]
async fn readyz_fails_on_a_node_that_is_not_ready_and_names_it() {
    let tree = TestTree::start().await;
    let router = tree.ops().build().unwrap().router();

    let (status, body) = send(&router, get("/readyz")).await;
    assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR);
    assert!(
        body.contains("[-]ready failed: running but not ready: root/shy\n"),
        "{body}"
    );
    assert!(body.contains("[+]healing ok\n"), "{body}");
    assert!(body.ends_with("readyz check failed\n"), "{body}");

    let (status, body) = send(&router, get("/readyz/ready")).await;
    assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR);
    assert_eq!(body, "[-]ready failed: running but not ready: root/shy\n");
    assert_eq!(
        send(&router, get("/readyz/probes")).await,
        (StatusCode::OK, "ok".to_owned())
    );
    assert_eq!(
        send(&router, get("/readyz?exclude=ready")).await,
        (StatusCode::OK, "ok".to_owned())
    );
    let (status, body) = send(&router, get("/readyz?exclude=etcd")).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(body.contains("cannot exclude `etcd`"), "{body}");

    tree.shy.set_ready(true);
    assert_eq!(
        send(&router, get("/readyz")).await,
        (StatusCode::OK, "ok".to_owned())
    );
    let (_, verbose) = send(&router, get("/readyz?verbose")).await;
    assert_eq!(
        verbose,
        "[+]supervisor ok\n[+]healing ok\n[+]ready ok\n[+]probes ok\n[+]breakers ok\nreadyz check passed\n"
    );
    tree.stop().await;
}

#[tokio::test]
async fn readyz_fails_while_a_circuit_breaker_is_open() {
    use hale_resilience::{BreakerState, EventKind, ResilienceBus};

    let tree = TestTree::start().await;
    tree.shy.set_ready(true);
    let policies = ResilienceBus::new();
    let ops = tree.ops().resilience(&policies).build().unwrap();
    let router = ops.router();
    let mut events = ops.subscribe();
    let transition = |from, to| EventKind::BreakerTransition { from, to };

    policies.emit("llm", transition(BreakerState::Closed, BreakerState::Open));
    wait_for_resilience(&mut events).await;
    let (status, body) = send(&router, get("/readyz/breakers")).await;
    assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR);
    assert_eq!(body, "[-]breakers failed: circuit open: llm\n");

    policies.emit("llm", transition(BreakerState::Open, BreakerState::HalfOpen));
    wait_for_resilience(&mut events).await;
    assert_eq!(send(&router, get("/readyz")).await.0, StatusCode::OK);
    tree.stop().await;
}

async fn wait_for_resilience(
    events: &mut tokio::sync::broadcast::Receiver<std::sync::Arc<hale_ops::OpsEvent>>,
) {
    tokio::time::timeout(std::time::Duration::from_secs(10), async {
        while let Ok(event) = events.recv().await {
            if matches!(&*event, hale_ops::OpsEvent::Resilience(_)) {
                return;
            }
        }
    })
    .await
    .expect("the resilience event arrives");
}

#[tokio::test]
async fn tree_shows_each_child_with_its_restarts_history_and_last_error() {
    let tree = TestTree::start().await;
    let ops = tree.ops().build().unwrap();
    let router = ops.router();
    let mut events = ops.subscribe();

    let (status, body) = send(&router, get("/tree")).await;
    assert_eq!(status, StatusCode::OK);
    let before: TreeSnapshot = serde_json::from_str(&body).unwrap();
    let ids: Vec<&str> = before.nodes().iter().map(|node| node.path.as_str()).collect();
    assert_eq!(
        ids,
        [
            "root",
            "root/steady",
            "root/flaky",
            "root/shy",
            "root/once",
            "root/pipeline",
            "root/pipeline/extract"
        ]
    );
    assert_eq!(before.counts["running"], 7);
    assert_eq!(before.unready, 1);
    let flaky = before.find("root/flaky").unwrap();
    assert_eq!((flaky.restarts, flaky.recent_restarts_ms.len()), (0, 0));
    assert_eq!(flaky.last_exit, None);

    tree.crash.notify_one();
    let restarted = wait_for_healing(&mut events, |event| {
        matches!(event.kind, HealingEventKind::ChildRestarted { .. })
            && event.path.to_string() == "root/flaky"
    })
    .await;

    let (_, body) = send(&router, get("/tree")).await;
    let after: TreeSnapshot = serde_json::from_str(&body).unwrap();
    let flaky = after.find("root/flaky").unwrap();
    assert_eq!(flaky.restarts, 1);
    assert_eq!(flaky.recent_restarts_ms, vec![restarted.timestamp_ms]);
    assert!(flaky.last_exit_abnormal);
    let last_exit = flaky.last_exit.as_deref().unwrap();
    assert!(last_exit.contains("boom: the flaky agent crashed"), "{last_exit}");
    assert_eq!(after.find("root/steady").unwrap().restarts, 0);
    // The root's intensity window counts that restart.
    let window = after.root.intensity.as_ref().unwrap();
    assert_eq!((window.used, window.intensity, window.period_ms), (1, 3, 5_000));
    assert_eq!(window.text, "1 of 3 in 5 s");
    assert_eq!(after.find("root/flaky").unwrap().intensity, None);
    tree.stop().await;
}

#[tokio::test]
async fn tree_answers_503_with_a_message_once_the_tree_is_gone() {
    let tree = TestTree::start().await;
    let router = tree.ops().build().unwrap().router();
    tree.stop().await;
    let (status, body) = send(&router, get("/tree")).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    let error: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert!(
        error["error"].as_str().unwrap().contains("is not running"),
        "{body}"
    );
    let (status, body) = send(&router, get("/no/such/route")).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert!(body.contains("no route `/no/such/route`"), "{body}");
}

#[tokio::test]
async fn the_page_and_its_assets_are_served_under_a_prefix_too() {
    let tree = TestTree::start().await;
    let ops = tree.ops().build().unwrap();
    let app = axum::Router::new().nest("/ops", ops.router());
    let (status, page) = send(&app, get("/ops")).await;
    assert_eq!(status, StatusCode::OK);
    // Its relative links resolve under /ops/.
    assert!(page.contains(r#"<base href="ops/">"#), "{page}");
    for asset in ["/ops/ui/app.js", "/ops/ui/style.css", "/ops/tree", "/ops/livez"] {
        assert_eq!(send(&app, get(asset)).await.0, StatusCode::OK, "{asset}");
    }
    let (status, page) = send(&ops.router(), get("/")).await;
    assert_eq!(status, StatusCode::OK);
    assert!(!page.contains("<base"), "{page}");
    assert!(page.contains(r#"<script src="ui/app.js">"#), "{page}");
    tree.stop().await;
}
