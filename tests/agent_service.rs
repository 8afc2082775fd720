//! The embedding example (`examples/agent_service.rs`) on loopback: a
//! bounded burst of requests with duplicate ids, poison tasks and hanging
//! model calls; every request answered, no task run twice, poison tasks
//! dead-lettered without the supervisor giving up, a healthy tree at the
//! end, and a clean stop on SIGTERM within the service's stop limit.

#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "support/example.rs"]
mod support;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::Stdio;
use std::sync::Arc;
use std::time::Duration;

use serde_json::Value;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;

const REQUESTS: usize = 400;
const DISTINCT: usize = 120;
const CONCURRENCY: usize = 32;
/// A bound on every wait: one request, the start, the stop.
const WAIT: Duration = Duration::from_secs(30);

fn example() -> PathBuf {
    support::example("agent_service")
}

/// One HTTP/1.1 request on its own connection: the status and the body.
async fn request(addr: &str, method: &str, path: &str, body: &str) -> (u16, String) {
    let exchange = async {
        let mut stream = TcpStream::connect(addr).await.unwrap();
        let head = format!(
            "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nContent-Type: text/plain\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
            body.len()
        );
        stream.write_all(head.as_bytes()).await.unwrap();
        stream.write_all(body.as_bytes()).await.unwrap();
        let mut response = String::new();
        stream.read_to_string(&mut response).await.unwrap();
        response
    };
    let response = tokio::time::timeout(WAIT, exchange)
        .await
        .unwrap_or_else(|_| panic!("no answer to {method} {path} within {WAIT:?}"));
    let status = response.split_whitespace().nth(1).unwrap().parse().unwrap();
    let body = response
        .split_once("\r\n\r\n")
        .map(|(_, body)| body.to_owned())
        .unwrap_or_default();
    (status, body)
}

/// Task `n` of the burst: its id (ids repeat) and its prompt.
fn task(n: usize) -> (String, &'static str) {
    let id = n % DISTINCT;
    let prompt = match id {
        id if id % 20 == 7 => "poison",
        id if id % 15 == 4 => "hang on the first call",
        _ => "summarize the quarterly numbers",
    };
    (format!("task-{id}"), prompt)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_service_answers_every_request_runs_no_task_twice_and_stops_on_sigterm() {
    let mut child = tokio::process::Command::new(example())
        .args(["--addr", "127.0.0.1:0"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let mut stdout = BufReader::new(child.stdout.take().unwrap()).lines();
    let first = tokio::time::timeout(WAIT, stdout.next_line())
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    let addr: Arc<str> = first
        .strip_prefix("listening on ")
        .expect("the address line")
        .into();

    // The burst: CONCURRENCY callers share the REQUESTS.
    let next = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let mut callers = tokio::task::JoinSet::new();
    for _ in 0..CONCURRENCY {
        let (addr, next) = (Arc::clone(&addr), Arc::clone(&next));
        callers.spawn(async move {
            let mut answers = Vec::new();
            loop {
                let n = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                if n >= REQUESTS {
                    return answers;
                }
                let (id, prompt) = task(n);
                let (status, body) = request(&addr, "POST", &format!("/tasks/{id}"), prompt).await;
                answers.push((id, prompt, status, body));
            }
        });
    }
    let mut statuses: BTreeMap<&str, Vec<u16>> = BTreeMap::new();
    let mut answered = 0;
    while let Some(answers) = callers.join_next().await {
        for (_, prompt, status, body) in answers.unwrap() {
            answered += 1;
            let expected = if prompt == "poison" { 422 } else { 200 };
            assert_eq!(status, expected, "{prompt}: {body}");
            statuses.entry(prompt).or_default().push(status);
        }
    }
    assert_eq!(answered, REQUESTS, "every request got an answer");

    let (status, stats) = request(&addr, "GET", "/stats", "").await;
    assert_eq!(status, 200);
    let stats: Value = serde_json::from_str(&stats).unwrap();
    let poison_ids = (0..DISTINCT).filter(|id| id % 20 == 7).count() as u64;
    assert_eq!(stats["ran_twice"], 0, "{stats}");
    assert_eq!(stats["requests"], REQUESTS as u64, "{stats}");
    assert_eq!(
        stats["dead_lettered"], poison_ids,
        "each poison task dead-lettered once: {stats}"
    );
    // Each task that is not poison reached the model (more than once only
    // if all of a run's attempts failed and its agent was restarted).
    assert!(
        stats["model_runs"].as_u64().unwrap() >= DISTINCT as u64 - poison_ids,
        "{stats}"
    );
    // The supervisor did not give up: the tree is whole and healthy.
    let (status, health) = request(&addr, "GET", "/health", "").await;
    assert_eq!((status, health.as_str()), (200, r#"{"healthy":true}"#));

    // SIGTERM: in-flight requests drain, the tree stops, the process exits 0.
    let pid = rustix::process::Pid::from_raw(child.id().unwrap().try_into().unwrap()).unwrap();
    rustix::process::kill_process(pid, rustix::process::Signal::TERM).unwrap();
    let exit = tokio::time::timeout(WAIT, child.wait())
        .await
        .expect("stopped within its limit")
        .unwrap();
    assert!(exit.success(), "{exit}");
    let last = tokio::time::timeout(WAIT, stdout.next_line())
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    assert!(last.starts_with("stopped (normal)"), "{last}");
}
