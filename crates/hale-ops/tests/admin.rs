//! Admin actions: the token rules on every mutating route, the actions
//! themselves, their audit entries, and clear 4xx answers to bad input.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::sync::Arc;

use axum::http::StatusCode;
use hale_core::{HealingEventKind, StopCause};
use hale_ops::{DeadLetter, Ops, OpsEvent};
use support::store::FakeStore;
use support::{SECRET, TestTree, post, send, wait_for_healing};

/// Every mutating route, with a body it accepts.
const MUTATING: [(&str, &str); 5] = [
    ("/admin/restart", r#"{"path": "root/steady"}"#),
    ("/admin/terminate", r#"{"path": "root/steady"}"#),
    ("/admin/delete", r#"{"path": "root/steady"}"#),
    ("/admin/dead-letters/dl-1/replay", ""),
    ("/admin/approvals/gate-1", r#"{"decision": "approve"}"#),
];

fn error_message(body: &str) -> String {
    let value: serde_json::Value = serde_json::from_str(body).unwrap_or_else(|_| panic!("not JSON: {body}"));
    value["error"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn every_mutating_route_needs_the_token() {
    let tree = TestTree::start().await;
    let store = Arc::new(FakeStore::default());
    let ops = tree.ops().workflows(store.clone()).build().unwrap();
    let router = ops.router();
    for (route, body) in MUTATING {
        let (status, answer) = send(&router, post(route, None, body)).await;
        assert_eq!(
            status,
            StatusCode::UNAUTHORIZED,
            "{route} without a token: {answer}"
        );
        assert!(error_message(&answer).contains("Bearer"), "{answer}");
        let (status, answer) = send(&router, post(route, Some("wrong-secret-0123456789"), body)).await;
        assert_eq!(
            status,
            StatusCode::UNAUTHORIZED,
            "{route} with a wrong token: {answer}"
        );
        assert_eq!(error_message(&answer), "the token is not valid");
        let (status, answer) = send(&router, post(route, Some(SECRET), body)).await;
        assert!(
            status.is_success(),
            "{route} with the right token: {status} {answer}"
        );
    }
    // The right token acted: restart, terminate and delete on root/steady
    // (in that order), one replay, one decision, each audited as alice's.
    assert_eq!(
        store.replayed.lock().unwrap().clone(),
        [("dl-1".to_owned(), "alice".to_owned())]
    );
    let decided = store.decided.lock().unwrap().clone();
    assert_eq!(decided.len(), 1);
    assert!(decided[0].1.approve);
    assert_eq!(decided[0].1.by, "alice");
    let audit = store.audit.lock().unwrap().clone();
    let actions: Vec<(&str, &str, &str, &str)> = audit
        .iter()
        .map(|entry| {
            (
                entry.actor.as_str(),
                entry.action.as_str(),
                entry.target.as_str(),
                entry.outcome.as_str(),
            )
        })
        .collect();
    assert_eq!(
        actions,
        [
            ("alice", "restart", "root/steady", "ok"),
            ("alice", "terminate", "root/steady", "ok"),
            ("alice", "delete", "root/steady", "ok"),
            ("alice", "replay", "dl-1", "ok"),
            ("alice", "approve", "gate-1", "ok"),
        ]
    );
    tree.stop().await;
}

#[tokio::test]
async fn without_a_configured_token_mutation_is_off() {
    let tree = TestTree::start().await;
    let ops = Ops::builder(tree.root.clone())
        .workflows(Arc::new(FakeStore::default()))
        .build()
        .unwrap();
    let router = ops.router();
    for (route, body) in MUTATING {
        for token in [None, Some(SECRET)] {
            let (status, answer) = send(&router, post(route, token, body)).await;
            assert_eq!(status, StatusCode::FORBIDDEN, "{route}: {answer}");
            assert!(
                error_message(&answer).contains("no admin token is configured"),
                "{answer}"
            );
        }
    }
    // Nothing was touched.
    assert_eq!(tree.root.which_children().await.unwrap().len(), 5);
    tree.stop().await;
}

#[tokio::test]
async fn restart_stops_a_running_child_and_starts_it_again_as_a_healing_event_and_an_audit_entry() {
    let tree = TestTree::start().await;
    let ops = tree.ops().build().unwrap();
    let router = ops.router();
    let mut events = ops.subscribe();
    let (status, body) = send(
        &router,
        post(
            "/admin/restart",
            Some(SECRET),
            r#"{"path": ["root", "pipeline", "extract"]}"#,
        ),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let answer: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(answer["result"], "restarted");
    assert_eq!(answer["by"], "alice");
    let stopped = wait_for_healing(&mut events, |event| {
        matches!(
            event.kind,
            HealingEventKind::ChildStopped {
                cause: StopCause::Terminated,
                ..
            }
        )
    })
    .await;
    assert_eq!(stopped.path.to_string(), "root/pipeline/extract");
    let started = wait_for_healing(&mut events, |event| event.kind == HealingEventKind::ChildStarted).await;
    assert_eq!(started.path.to_string(), "root/pipeline/extract");
    let audit = tokio::time::timeout(std::time::Duration::from_secs(5), async {
        loop {
            if let Ok(event) = events.recv().await
                && let OpsEvent::Audit(entry) = &*event
            {
                return entry.clone();
            }
        }
    })
    .await
    .unwrap();
    assert_eq!(
        (audit.actor.as_str(), audit.action.as_str()),
        ("alice", "restart")
    );
    assert_eq!(audit.target, "root/pipeline/extract");
    tree.stop().await;
}

#[tokio::test]
async fn actions_that_do_not_apply_are_refused_with_409_and_audited_as_refused() {
    let tree = TestTree::start().await;
    let store = Arc::new(FakeStore::default());
    let ops = tree.ops().workflows(store.clone()).build().unwrap();
    let router = ops.router();
    let refused = [
        ("/admin/delete", r#"{"path": "root/flaky"}"#, "is running"),
        ("/admin/restart", r#"{"path": "root/once"}"#, "temporary"),
    ];
    for (route, body, words) in refused {
        let (status, answer) = send(&router, post(route, Some(SECRET), body)).await;
        assert_eq!(status, StatusCode::CONFLICT, "{route} {body}: {answer}");
        assert!(error_message(&answer).contains(words), "{answer}");
    }
    let decision = r#"{"decision": "reject", "note": "over budget"}"#;
    assert_eq!(
        send(&router, post("/admin/approvals/gate-1", Some(SECRET), decision))
            .await
            .0,
        StatusCode::OK
    );
    let (status, answer) = send(&router, post("/admin/approvals/gate-1", Some(SECRET), decision)).await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert_eq!(error_message(&answer), "gate-1 is already decided");
    let outcomes: Vec<String> = store
        .audit
        .lock()
        .unwrap()
        .iter()
        .map(|entry| entry.outcome.clone())
        .collect();
    assert!(outcomes[0].starts_with("refused: "), "{outcomes:?}");
    assert_eq!(outcomes[2], "ok");
    assert_eq!(outcomes[3], "refused: gate-1 is already decided");
    let decided = store.decided.lock().unwrap().clone();
    assert_eq!(decided[0].1.note.as_deref(), Some("over budget"));
    assert!(!decided[0].1.approve);
    tree.stop().await;
}

#[tokio::test]
async fn bad_paths_get_4xx_with_a_clear_message() {
    let tree = TestTree::start().await;
    let router = tree.ops().build().unwrap().router();
    let cases = [
        (r#"{"path": ""}"#, StatusCode::BAD_REQUEST, "the path is empty"),
        (r#"{"path": []}"#, StatusCode::BAD_REQUEST, "the path is empty"),
        (
            r#"{"path": "root"}"#,
            StatusCode::BAD_REQUEST,
            "is the root supervisor",
        ),
        (
            r#"{"path": "root//steady"}"#,
            StatusCode::BAD_REQUEST,
            "segment 1",
        ),
        (
            r#"{"path": "elsewhere/steady"}"#,
            StatusCode::NOT_FOUND,
            "the tree's root is `root`",
        ),
        (
            r#"{"path": "root/nobody"}"#,
            StatusCode::NOT_FOUND,
            "no child `nobody`",
        ),
        (
            r#"{"path": "root/steady/deeper"}"#,
            StatusCode::NOT_FOUND,
            "not a supervisor",
        ),
        (
            r#"{"path": "root/ghost/deeper"}"#,
            StatusCode::NOT_FOUND,
            "no child `ghost`",
        ),
    ];
    for (body, expected, words) in cases {
        let (status, answer) = send(&router, post("/admin/terminate", Some(SECRET), body)).await;
        assert_eq!(status, expected, "{body}: {answer}");
        assert!(error_message(&answer).contains(words), "{body}: {answer}");
    }
    tree.stop().await;
}

#[tokio::test]
async fn bad_json_wrong_shapes_and_huge_bodies_get_4xx_never_a_panic() {
    let tree = TestTree::start().await;
    let store = Arc::new(FakeStore::default());
    let router = tree
        .ops()
        .workflows(store)
        .body_limit(1024)
        .build()
        .unwrap()
        .router();
    let huge = format!(r#"{{"path": "{}"}}"#, "x".repeat(4096));
    let cases: [(&str, String, StatusCode); 7] = [
        ("/admin/restart", "{".to_owned(), StatusCode::BAD_REQUEST),
        (
            "/admin/restart",
            r#"{"paht": "root/steady"}"#.to_owned(),
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        (
            "/admin/restart",
            r#"{"path": 7}"#.to_owned(),
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        ("/admin/restart", huge.clone(), StatusCode::PAYLOAD_TOO_LARGE),
        (
            "/admin/approvals/gate-1",
            r#"{"decision": "maybe"}"#.to_owned(),
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        ("/admin/approvals/gate-1", huge, StatusCode::PAYLOAD_TOO_LARGE),
        (
            "/admin/approvals/nope",
            r#"{"decision": "approve"}"#.to_owned(),
            StatusCode::NOT_FOUND,
        ),
    ];
    for (route, body, expected) in cases {
        let (status, answer) = send(&router, post(route, Some(SECRET), &body)).await;
        assert_eq!(status, expected, "{route}: {answer}");
        assert!(!error_message(&answer).is_empty());
    }
    let without_type = axum::http::Request::post("/admin/restart")
        .header("authorization", format!("Bearer {SECRET}"))
        .body(axum::body::Body::from(r#"{"path": "root/steady"}"#))
        .unwrap();
    let (status, answer) = send(&router, without_type).await;
    assert_eq!(status, StatusCode::UNSUPPORTED_MEDIA_TYPE, "{answer}");
    assert!(error_message(&answer).contains("Content-Type"), "{answer}");
    let wrong_method = axum::http::Request::get("/admin/restart")
        .header("authorization", format!("Bearer {SECRET}"))
        .body(axum::body::Body::empty())
        .unwrap();
    assert_eq!(
        send(&router, wrong_method).await.0,
        StatusCode::METHOD_NOT_ALLOWED
    );
    tree.stop().await;
}

#[tokio::test]
async fn the_workflow_reads_answer_from_the_store_or_501_without_one() {
    let tree = TestTree::start().await;
    let with = tree
        .ops()
        .workflows(Arc::new(FakeStore::default()))
        .build()
        .unwrap()
        .router();
    let (status, body) = send(&with, support::get("/dead-letters")).await;
    assert_eq!(status, StatusCode::OK);
    assert!(body.contains(r#""id":"dl-1""#), "{body}");
    let (status, body) = send(&with, support::get("/dead-letters/dl-1")).await;
    assert_eq!(status, StatusCode::OK);
    let letter: DeadLetter = serde_json::from_str(&body).unwrap();
    assert_eq!(letter.input["doc"], 7);
    assert_eq!(
        send(&with, support::get("/dead-letters/dl-2")).await.0,
        StatusCode::NOT_FOUND
    );
    assert!(
        send(&with, support::get("/approvals"))
            .await
            .1
            .contains("pay 12,000 EUR")
    );
    let (_, metrics) = send(&with, support::get("/metrics")).await;
    assert!(metrics.contains("\nhale_dead_letters 1\n"), "{metrics}");
    assert!(metrics.contains("\nhale_pending_approvals 1\n"), "{metrics}");

    let without = tree.ops().build().unwrap().router();
    let (status, body) = send(&without, support::get("/dead-letters")).await;
    assert_eq!(status, StatusCode::NOT_IMPLEMENTED);
    assert!(error_message(&body).contains("no workflow store"), "{body}");
    let (status, _) = send(
        &without,
        post("/admin/dead-letters/dl-1/replay", Some(SECRET), ""),
    )
    .await;
    assert_eq!(status, StatusCode::NOT_IMPLEMENTED);
    tree.stop().await;
}

#[tokio::test]
async fn protected_reads_need_the_token_but_probes_stay_open() {
    let tree = TestTree::start().await;
    let router = tree.ops().protect_reads(true).build().unwrap().router();
    assert_eq!(
        send(&router, support::get("/tree")).await.0,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        send(&router, support::get("/metrics")).await.0,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(send(&router, support::get("/livez")).await.0, StatusCode::OK);
    let authorized = axum::http::Request::get("/tree")
        .header("authorization", format!("Bearer {SECRET}"))
        .body(axum::body::Body::empty())
        .unwrap();
    assert_eq!(send(&router, authorized).await.0, StatusCode::OK);
    tree.stop().await;
}

#[tokio::test]
async fn a_dynamic_child_is_terminated_by_its_path_and_cannot_be_restarted() {
    use hale_core::{ChildSpec, DynamicSupervisorSpec, Supervisor, SupervisorSpec};

    let idle = || {
        ChildSpec::actor(
            "job",
            support::Idle {
                linger: std::time::Duration::ZERO,
            },
            (),
        )
    };
    let root = Supervisor::start(SupervisorSpec::new("root").child(ChildSpec::dynamic_supervisor(
        DynamicSupervisorSpec::new("workers"),
    )))
    .await
    .unwrap();
    let workers = root.child_dynamic_supervisor("workers").await.unwrap();
    workers.start_child(idle()).await.unwrap();
    workers.start_child(idle()).await.unwrap();
    let first = workers.which_children().await.unwrap()[0].path.to_string();
    let router = Ops::builder(root.clone())
        .admin_token(hale_ops::AdminToken::new("alice", SECRET))
        .build()
        .unwrap()
        .router();
    let body = format!(r#"{{"path": "{first}"}}"#);
    let (status, answer) = send(&router, post("/admin/restart", Some(SECRET), &body)).await;
    assert_eq!(status, StatusCode::CONFLICT, "{answer}");
    assert!(
        error_message(&answer).contains("only terminate applies"),
        "{answer}"
    );
    let (status, answer) = send(&router, post("/admin/terminate", Some(SECRET), &body)).await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    let left = workers.which_children().await.unwrap();
    assert_eq!(left.len(), 1);
    assert_ne!(left[0].path.to_string(), first);
    let (status, answer) = send(&router, post("/admin/terminate", Some(SECRET), &body)).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{answer}");
    assert!(error_message(&answer).contains("has no child"), "{answer}");
    root.stop(std::time::Duration::from_secs(5)).await;
}

#[tokio::test]
async fn an_action_longer_than_the_call_timeout_is_accepted_and_finishes_on_its_own() {
    use hale_core::{ChildSpec, Supervisor, SupervisorSpec};

    // A child that takes a second to stop.
    let slow = ChildSpec::actor(
        "slow",
        support::Idle {
            linger: std::time::Duration::from_secs(1),
        },
        (),
    );
    let root = Supervisor::start(SupervisorSpec::new("root").child(slow))
        .await
        .unwrap();
    let ops = Ops::builder(root.clone())
        .admin_token(hale_ops::AdminToken::new("alice", SECRET))
        .call_timeout(std::time::Duration::from_millis(100))
        .build()
        .unwrap();
    let mut events = ops.subscribe();
    let (status, answer) = send(
        &ops.router(),
        post("/admin/restart", Some(SECRET), r#"{"path": "root/slow"}"#),
    )
    .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{answer}");
    assert!(answer.contains("in progress"), "{answer}");
    // The restart goes on: the child stops, starts again, and the audit
    // entry says how it ended.
    let started = wait_for_healing(&mut events, |event| event.kind == HealingEventKind::ChildStarted).await;
    assert_eq!(started.path.to_string(), "root/slow");
    let audit = tokio::time::timeout(std::time::Duration::from_secs(10), async {
        loop {
            if let Ok(event) = events.recv().await
                && let OpsEvent::Audit(entry) = &*event
            {
                return entry.clone();
            }
        }
    })
    .await
    .unwrap();
    assert_eq!((audit.action.as_str(), audit.outcome.as_str()), ("restart", "ok"));
    assert_eq!(
        root.which_children().await.unwrap()[0].state,
        hale_core::ChildState::Running
    );
    root.stop(std::time::Duration::from_secs(5)).await;
}
