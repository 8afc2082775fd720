//! `/events`: a snapshot first, then the events; a fresh snapshot after a lag.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::time::Duration;

use axum::body::Body;
use hale_core::HealingEventKind;
use http_body_util::BodyExt;
use support::{TestTree, get, wait_for_healing};
use tower::ServiceExt;

/// Reads server-sent events from a response body, one at a time.
struct SseReader {
    body: Body,
    buffer: String,
}

impl SseReader {
    /// The next event's name and data (comments and keep-alives skipped).
    async fn next(&mut self) -> (String, String) {
        tokio::time::timeout(Duration::from_secs(10), async {
            loop {
                if let Some(end) = self.buffer.find("\n\n") {
                    let block: String = self.buffer.drain(..end + 2).collect();
                    let mut name = String::new();
                    let mut data = String::new();
                    for line in block.lines() {
                        if let Some(value) = line.strip_prefix("event:") {
                            name = value.trim().to_owned();
                        } else if let Some(value) = line.strip_prefix("data:") {
                            data.push_str(value.trim_start());
                        }
                    }
                    if !name.is_empty() {
                        return (name, data);
                    }
                    continue;
                }
                let frame = self.body.frame().await.expect("the stream goes on").unwrap();
                if let Ok(bytes) = frame.into_data() {
                    self.buffer.push_str(&String::from_utf8_lossy(&bytes));
                }
            }
        })
        .await
        .expect("an event within 10 s")
    }
}

async fn open(router: &axum::Router) -> SseReader {
    let response = router.clone().oneshot(get("/events")).await.unwrap();
    assert_eq!(
        response.headers()["content-type"].to_str().unwrap(),
        "text/event-stream"
    );
    SseReader {
        body: response.into_body(),
        buffer: String::new(),
    }
}

#[tokio::test]
async fn a_client_gets_the_snapshot_then_each_healing_event() {
    let tree = TestTree::start().await;
    let ops = tree.ops().build().unwrap();
    let mut stream = open(&ops.router()).await;

    let (name, data) = stream.next().await;
    assert_eq!(name, "snapshot");
    let snapshot: serde_json::Value = serde_json::from_str(&data).unwrap();
    assert_eq!(snapshot["missed"], 0);
    assert_eq!(snapshot["tree"]["root"]["path"], "root");

    tree.crash.notify_one();
    let mut seen = Vec::new();
    loop {
        let (name, data) = stream.next().await;
        assert_eq!(name, "healing");
        let event: hale_core::HealingEvent = serde_json::from_str(&data).unwrap();
        assert_eq!(event.path.to_string(), "root/flaky");
        let restarted = matches!(event.kind, HealingEventKind::ChildRestarted { restarts: 1 });
        seen.push(event.kind);
        if restarted {
            break;
        }
    }
    assert!(
        matches!(
            seen[0],
            HealingEventKind::ChildExited {
                will_restart: true,
                ..
            }
        ),
        "{seen:?}"
    );
    tree.stop().await;
}

#[tokio::test]
async fn a_client_that_lagged_is_sent_a_fresh_snapshot_with_the_count_it_missed() {
    let tree = TestTree::start().await;
    let ops = tree.ops().event_buffer(2).build().unwrap();
    let mut stream = open(&ops.router()).await;
    let mut watcher = ops.subscribe();

    // Three crashes, two events each, while the client reads nothing.
    for restarts in 1..=3 {
        tree.crash.notify_one();
        wait_for_healing(&mut watcher, |event| {
            event.kind == HealingEventKind::ChildRestarted { restarts }
        })
        .await;
    }

    let (name, first) = stream.next().await;
    assert_eq!(name, "snapshot");
    let first: serde_json::Value = serde_json::from_str(&first).unwrap();
    assert_eq!(first["missed"], 0);
    let (name, again) = stream.next().await;
    assert_eq!(name, "snapshot");
    let again: serde_json::Value = serde_json::from_str(&again).unwrap();
    assert_eq!(again["missed"], 4, "6 events into a buffer of 2: {again}");
    let flaky = again["tree"]["root"]["children"]
        .as_array()
        .unwrap()
        .iter()
        .find(|node| node["id"] == "flaky")
        .unwrap()
        .clone();
    assert_eq!(flaky["restarts"], 3);
    // Then the two events still buffered follow.
    assert_eq!(stream.next().await.0, "healing");
    assert_eq!(stream.next().await.0, "healing");
    tree.stop().await;
}

#[tokio::test]
async fn open_streams_are_limited_and_a_closed_one_frees_its_place() {
    let tree = TestTree::start().await;
    let ops = tree.ops().max_event_clients(1).build().unwrap();
    let router = ops.router();
    let first = open(&router).await;
    let (status, body) = support::send(&router, get("/events")).await;
    assert_eq!(status, axum::http::StatusCode::SERVICE_UNAVAILABLE);
    assert!(body.contains("1 event streams are open"), "{body}");
    drop(first);
    let mut again = open(&router).await;
    assert_eq!(again.next().await.0, "snapshot");
    tree.stop().await;
}
