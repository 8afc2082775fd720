//! hale-durable's engine, on a real SQLite file, behind the surface: its
//! dead letters and approval gates on every route, replays and decisions
//! that resume the runs, the admin actions in its audit log, and the
//! durable metrics from its event stream.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::time::Duration;

use axum::http::StatusCode;
use hale_durable::{DurableEventKind, RunError, WorkflowStatus};
use hale_ops::{DeadLetter, DeadLetterSummary, Ops, PendingApproval};
use support::durable::{DurableLab, wait_for};
use support::{SECRET, TestTree, get, post, send};

fn error_message(body: &str) -> String {
    let value: serde_json::Value = serde_json::from_str(body).unwrap_or_else(|_| panic!("not JSON: {body}"));
    value["error"].as_str().unwrap().to_owned()
}

/// The value of the sample named exactly `series` (name and labels).
fn sample(text: &str, series: &str) -> Option<f64> {
    text.lines()
        .filter(|line| !line.starts_with('#'))
        .find_map(|line| line.strip_prefix(series)?.strip_prefix(' ')?.parse().ok())
}

/// Waits (bounded) until `/metrics` shows `series` at `value`: the durable
/// feed counts the engine's events in a task of its own.
async fn metric_reaches(ops: &Ops, series: &str, value: f64) -> String {
    tokio::time::timeout(Duration::from_secs(20), async {
        loop {
            let text = ops.metrics_text().await;
            if sample(&text, series) == Some(value) {
                return text;
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    })
    .await
    .unwrap_or_else(|_| panic!("{series} never reached {value}"))
}

/// Every mutating route the durable store answers, with a body it accepts.
const ROUTES: [(&str, &str); 3] = [
    ("/admin/dead-letters/1/replay", ""),
    (
        "/admin/approvals/invoice-9:1",
        r#"{"decision": "approve", "note": "within budget"}"#,
    ),
    ("/admin/approvals/invoice-10:1", r#"{"decision": "reject"}"#),
];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dead_letters_and_approvals_of_a_sqlite_store_on_every_route() {
    let tree = TestTree::start().await;
    let lab = DurableLab::start().await;
    let ops = tree.ops().durable(&lab.durable).build().unwrap();
    let router = ops.router();
    lab.dead_letter("doc-7", 7).await;
    lab.waiting_invoice("invoice-9", 1_200_000).await;
    lab.waiting_invoice("invoice-10", 50_000).await;

    let (status, body) = send(&router, get("/dead-letters")).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let letters: Vec<DeadLetterSummary> = serde_json::from_str(&body).unwrap();
    assert_eq!(letters.len(), 1, "{body}");
    let letter = &letters[0];
    assert_eq!(
        (
            letter.id.as_str(),
            letter.workflow.as_str(),
            letter.step.as_deref()
        ),
        ("1", "doc-7", Some("extract"))
    );
    assert!(letter.error.contains("extractor down: 503"), "{body}");
    assert!(letter.attempts >= 1, "{body}");

    let (status, body) = send(&router, get("/dead-letters/1")).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let full: DeadLetter = serde_json::from_str(&body).unwrap();
    assert_eq!(full.input, serde_json::json!(7));
    assert_eq!(full.summary, *letter);
    assert!(
        full.history[0].starts_with("step 0 `fetch` (step): done"),
        "{body}"
    );
    assert!(
        full.history[1].starts_with("step 1 `extract` (step): failed"),
        "{body}"
    );
    assert!(
        full.history.last().unwrap().starts_with("dead-lettered at "),
        "{body}"
    );
    for (missing, words) in [
        ("/dead-letters/2", "no dead letter 2"),
        ("/dead-letters/doc-7", "dead letters are numbered"),
    ] {
        let (status, body) = send(&router, get(missing)).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{missing}: {body}");
        assert!(error_message(&body).contains(words), "{body}");
    }

    let (status, body) = send(&router, get("/approvals")).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let gates: Vec<PendingApproval> = serde_json::from_str(&body).unwrap();
    let mut named: Vec<(&str, &str, &str, &str)> = gates
        .iter()
        .map(|gate| {
            (
                gate.id.as_str(),
                gate.workflow.as_str(),
                gate.step.as_str(),
                gate.summary.as_str(),
            )
        })
        .collect();
    named.sort_unstable();
    assert_eq!(
        named,
        [
            ("invoice-10:1", "invoice-10", "approve", "pay 500 EUR"),
            ("invoice-9:1", "invoice-9", "approve", "pay 12000 EUR"),
        ]
    );
    for (missing, words) in [
        ("/admin/approvals/invoice-9:2", "`invoice-9` has no gate 2"),
        ("/admin/approvals/invoice-11:1", "no workflow `invoice-11`"),
        ("/admin/approvals/invoice-9", "approvals are named WORKFLOW:SEQ"),
        ("/admin/dead-letters/2/replay", "no dead letter 2"),
    ] {
        let body = if missing.contains("approvals") {
            r#"{"decision": "approve"}"#
        } else {
            ""
        };
        let (status, answer) = send(&router, post(missing, Some(SECRET), body)).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{missing}: {answer}");
        assert!(error_message(&answer).contains(words), "{answer}");
    }
    tree.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replays_and_decisions_need_the_token_resume_the_runs_and_are_audited_as_who_asked() {
    let tree = TestTree::start().await;
    let lab = DurableLab::start().await;
    let ops = tree.ops().durable(&lab.durable).build().unwrap();
    let router = ops.router();
    lab.dead_letter("doc-7", 7).await;
    lab.waiting_invoice("invoice-9", 1_200_000).await;
    lab.waiting_invoice("invoice-10", 50_000).await;

    for (route, body) in ROUTES {
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
    }
    // Refused requests changed nothing.
    assert_eq!(lab.durable.dead_letters(10).await.unwrap().len(), 1);
    assert_eq!(lab.durable.pending_approvals(10).await.unwrap().len(), 2);

    let mut events = lab.durable.subscribe();
    for (route, body) in ROUTES {
        let (status, answer) = send(&router, post(route, Some(SECRET), body)).await;
        assert_eq!(status, StatusCode::OK, "{route} with the right token: {answer}");
        let value: serde_json::Value = serde_json::from_str(&answer).unwrap();
        assert_eq!(
            (value["by"].as_str(), value["audit"].as_str()),
            (Some("alice"), Some("written"))
        );
    }
    // The replay ran the failed step again, now that the extractor is up;
    // the approved invoice was paid; the rejected one ended failed.
    assert_eq!(lab.result::<String>("doc-7").await.unwrap(), "TEXT OF DOC 7");
    assert_eq!(lab.result::<u64>("invoice-9").await.unwrap(), 1_200_000);
    assert!(matches!(
        lab.result::<u64>("invoice-10").await,
        Err(RunError::Ended {
            status: WorkflowStatus::Failed,
            ..
        })
    ));
    wait_for(&mut events, "invoice-9", |kind| {
        matches!(kind, DurableEventKind::Completed)
    })
    .await;

    // Twice is a conflict, and says why.
    for (route, body, words) in [
        (ROUTES[0].0, ROUTES[0].1, "replayed already, by alice"),
        (ROUTES[1].0, ROUTES[1].1, "decided already: approved by alice"),
    ] {
        let (status, answer) = send(&router, post(route, Some(SECRET), body)).await;
        assert_eq!(status, StatusCode::CONFLICT, "{route}: {answer}");
        assert!(error_message(&answer).contains(words), "{answer}");
    }
    let (status, _) = send(
        &router,
        post("/admin/restart", Some(SECRET), r#"{"path": "root/steady"}"#),
    )
    .await;
    assert_eq!(status, StatusCode::OK);

    // The audit log holds each action asked with a token, with its actor
    // and outcome, under the workflow it concerns; the chain holds.
    let admin: Vec<(String, String, serde_json::Value)> = lab
        .audit()
        .await
        .into_iter()
        .filter(|entry| entry.action.starts_with("admin_"))
        .map(|entry| {
            (
                entry.action,
                entry.workflow_id,
                serde_json::from_str(&entry.detail).unwrap(),
            )
        })
        .collect();
    let summary: Vec<(&str, &str, &str, &str)> = admin
        .iter()
        .map(|(action, workflow, detail)| {
            (
                action.as_str(),
                workflow.as_str(),
                detail["actor"].as_str().unwrap(),
                detail["outcome"].as_str().unwrap(),
            )
        })
        .map(|(action, workflow, actor, outcome)| {
            (action, workflow, actor, outcome.split(':').next().unwrap())
        })
        .collect();
    assert_eq!(
        summary,
        [
            ("admin_replay", "doc-7", "alice", "ok"),
            ("admin_approve", "invoice-9", "alice", "ok"),
            ("admin_reject", "invoice-10", "alice", "ok"),
            ("admin_replay", "doc-7", "alice", "refused"),
            ("admin_approve", "invoice-9", "alice", "refused"),
            ("admin_restart", "", "alice", "ok"),
        ]
    );
    assert_eq!(admin[5].2["target"], "root/steady");
    // The engine's own entries name alice too.
    let engine: Vec<String> = lab
        .audit()
        .await
        .into_iter()
        .filter(|entry| ["replayed", "approval_decided"].contains(&entry.action.as_str()))
        .map(|entry| entry.detail)
        .collect();
    assert_eq!(engine.len(), 3, "{engine:?}");
    assert!(
        engine.iter().all(|detail| detail.contains(r#""by":"alice""#)),
        "{engine:?}"
    );
    assert!(lab.durable.verify_audit().await.unwrap().is_intact());
    tree.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn durable_metrics_follow_the_engines_events_and_its_store() {
    let tree = TestTree::start().await;
    let lab = DurableLab::start().await;
    let ops = tree.ops().durable(&lab.durable).build().unwrap();
    let text = ops.metrics_text().await;
    for metric in hale_ops::catalog::DURABLE {
        assert!(
            text.contains(&format!("# TYPE {} ", metric.name)),
            "{} missing: {text}",
            metric.name
        );
    }
    assert_eq!(sample(&text, "hale_dead_letters"), Some(0.0));
    assert_eq!(sample(&text, "hale_durable_checkpoints_total"), Some(0.0));

    let mut checkpoints = lab.durable.subscribe();
    lab.dead_letter("doc-7", 7).await;
    lab.waiting_invoice("invoice-9", 1_200_000).await;
    let text = metric_reaches(&ops, "hale_durable_approvals_requested_total", 1.0).await;
    // The stream is in order: by the approval request, every checkpoint
    // before it is counted too.
    let mut committed = 0.0;
    while let Some(event) = checkpoints.try_recv().unwrap() {
        if matches!(event.kind, DurableEventKind::CheckpointCommitted { .. }) {
            committed += 1.0;
        }
    }
    assert!(committed >= 2.0, "{committed}");
    assert_eq!(
        sample(&text, "hale_durable_checkpoints_total"),
        Some(committed),
        "{text}"
    );
    assert_eq!(
        sample(&text, "hale_durable_commit_duration_seconds_count"),
        Some(committed),
        "{text}"
    );
    assert!(
        text.contains("hale_durable_commit_duration_seconds_bucket{le=\"0.00005\"}"),
        "{text}"
    );
    assert_eq!(sample(&text, "hale_durable_workflows_started_total"), Some(2.0));
    assert_eq!(sample(&text, "hale_durable_dead_lettered_total"), Some(1.0));
    assert_eq!(sample(&text, "hale_dead_letters"), Some(1.0));
    assert_eq!(sample(&text, "hale_pending_approvals"), Some(1.0));

    send(&ops.router(), post(ROUTES[0].0, Some(SECRET), ROUTES[0].1)).await;
    send(&ops.router(), post(ROUTES[1].0, Some(SECRET), ROUTES[1].1)).await;
    let text = metric_reaches(&ops, "hale_durable_workflows_completed_total", 2.0).await;
    assert_eq!(sample(&text, "hale_durable_replays_total"), Some(1.0));
    assert_eq!(
        sample(
            &text,
            "hale_durable_approval_decisions_total{decision=\"approved\"}"
        ),
        Some(1.0)
    );
    assert_eq!(
        sample(
            &text,
            "hale_durable_approval_decisions_total{decision=\"rejected\"}"
        ),
        Some(0.0)
    );
    assert_eq!(sample(&text, "hale_dead_letters"), Some(0.0));
    assert_eq!(sample(&text, "hale_pending_approvals"), Some(0.0));
    assert_eq!(
        sample(
            &text,
            "hale_ops_admin_actions_total{action=\"replay\",outcome=\"ok\"}"
        ),
        Some(1.0)
    );
    tree.stop().await;
}
