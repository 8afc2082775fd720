//! The `hale` binary against a test server.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::process::Stdio;
use std::sync::Arc;
use std::time::Duration;

use hale_ops::OpsServer;
use support::store::FakeStore;
use support::{SECRET, TestTree};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::Command;

struct Run {
    code: i32,
    stdout: String,
    stderr: String,
}

async fn hale(server: Option<&OpsServer>, token: Option<&str>, args: &[&str]) -> Run {
    let mut command = Command::new(env!("CARGO_BIN_EXE_hale"));
    command.env_remove("HALE_TOKEN").env_remove("HALE_URL");
    if let Some(server) = server {
        command.env("HALE_URL", format!("http://{}", server.local_addr()));
    }
    if let Some(token) = token {
        command.env("HALE_TOKEN", token);
    }
    let output = tokio::time::timeout(Duration::from_secs(60), command.args(args).output())
        .await
        .expect("hale finishes within a minute")
        .unwrap();
    Run {
        code: output.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    }
}

/// A failure is one line on stderr, starting `hale: error:`, and status 1.
fn assert_one_line_error(run: &Run, words: &str) {
    assert_eq!(run.code, 1, "stdout: {} stderr: {}", run.stdout, run.stderr);
    assert_eq!(run.stderr.lines().count(), 1, "{}", run.stderr);
    assert!(run.stderr.starts_with("hale: error: "), "{}", run.stderr);
    assert!(run.stderr.contains(words), "`{words}` not in: {}", run.stderr);
}

async fn serve(tree: &TestTree) -> (hale_ops::Ops, OpsServer) {
    let ops = tree
        .ops()
        .workflows(Arc::new(FakeStore::default()))
        .build()
        .unwrap();
    let server = ops.serve("127.0.0.1:0".parse().unwrap()).await.unwrap();
    (ops, server)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tree_prints_every_node_with_its_state_and_restarts() {
    let tree = TestTree::start().await;
    let (_ops, server) = serve(&tree).await;
    let run = hale(Some(&server), None, &["tree"]).await;
    assert_eq!(run.code, 0, "{}", run.stderr);
    let lines: Vec<&str> = run.stdout.lines().collect();
    assert!(lines[0].starts_with("root "), "{}", run.stdout);
    assert!(lines[2].starts_with("├── flaky "), "{}", run.stdout);
    assert!(
        lines[2].contains("running") && lines[2].contains("restarts 0"),
        "{}",
        run.stdout
    );
    assert!(
        lines[3].contains("shy") && lines[3].ends_with("not ready"),
        "{}",
        run.stdout
    );
    assert!(lines[6].starts_with("    └── extract "), "{}", run.stdout);
    let json = hale(Some(&server), None, &["tree", "--json"]).await;
    let value: serde_json::Value = serde_json::from_str(&json.stdout).unwrap();
    assert_eq!(value["root"]["id"], "root");
    server.shutdown().await;
    tree.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn restart_needs_the_token_from_the_environment() {
    let tree = TestTree::start().await;
    let (_ops, server) = serve(&tree).await;
    let refused = hale(Some(&server), None, &["restart", "root/flaky"]).await;
    assert_one_line_error(&refused, "401 Unauthorized");
    assert!(refused.stderr.contains("set HALE_TOKEN"), "{}", refused.stderr);
    let wrong = hale(
        Some(&server),
        Some("not-the-secret-0123456"),
        &["restart", "root/flaky"],
    )
    .await;
    assert_one_line_error(&wrong, "the token is not valid");

    let done = hale(Some(&server), Some(SECRET), &["restart", "root/steady"]).await;
    assert_eq!(done.code, 0, "{}", done.stderr);
    assert_eq!(done.stdout, "restart root/steady: restarted (by alice)\n");
    let missing = hale(Some(&server), Some(SECRET), &["delete", "root/nobody"]).await;
    assert_one_line_error(&missing, "404 Not Found: supervisor `root`: no child `nobody`");
    server.shutdown().await;
    tree.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dead_letters_and_approvals_round_trip() {
    let tree = TestTree::start().await;
    let (_ops, server) = serve(&tree).await;
    let list = hale(Some(&server), None, &["dlq", "list"]).await;
    assert_eq!(
        list.stdout, "dl-1  doc-7  extract  3 attempts  503\n",
        "{}",
        list.stderr
    );
    let show = hale(Some(&server), None, &["dlq", "show", "dl-1"]).await;
    let letter: serde_json::Value = serde_json::from_str(&show.stdout).unwrap();
    assert_eq!(letter["input"]["doc"], 7);
    assert_one_line_error(
        &hale(Some(&server), None, &["dlq", "show", "dl 2"]).await,
        "no dead letter `dl 2`",
    );
    let replay = hale(Some(&server), Some(SECRET), &["dlq", "replay", "dl-1"]).await;
    assert_eq!(
        replay.stdout, "replay dl-1: replayed as workflow doc-7/2 (by alice)\n",
        "{}",
        replay.stderr
    );

    let pending = hale(Some(&server), None, &["approvals"]).await;
    assert_eq!(pending.stdout, "gate-1  invoice-9  pay  pay 12,000 EUR\n");
    let approve = hale(
        Some(&server),
        Some(SECRET),
        &["approve", "gate-1", "--note", "within budget"],
    )
    .await;
    assert_eq!(approve.code, 0, "{}", approve.stderr);
    assert_eq!(approve.stdout, "approve gate-1: ok (by alice)\n");
    let again = hale(Some(&server), Some(SECRET), &["reject", "gate-1"]).await;
    assert_one_line_error(&again, "409 Conflict: gate-1 is already decided");
    server.shutdown().await;
    tree.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn events_follows_the_healing_events() {
    let tree = TestTree::start().await;
    let (_ops, server) = serve(&tree).await;
    let mut child = Command::new(env!("CARGO_BIN_EXE_hale"))
        .env("HALE_URL", format!("http://{}", server.local_addr()))
        .arg("events")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let mut next = async || {
        tokio::time::timeout(Duration::from_secs(20), lines.next_line())
            .await
            .expect("a line within 20 s")
            .unwrap()
            .expect("hale events goes on")
    };
    assert_eq!(next().await, "-- following; the tree has 7 nodes");
    tree.crash.notify_one();
    let exited = next().await;
    assert!(
        exited.ends_with("root/flaky child_exited (failed: boom: the flaky agent crashed, will restart)"),
        "{exited}"
    );
    let restarted = next().await;
    assert!(
        restarted.ends_with("root/flaky child_restarted (restart 1)"),
        "{restarted}"
    );
    child.kill().await.unwrap();
    server.shutdown().await;
    tree.stop().await;
}

#[tokio::test]
async fn unreachable_services_and_bad_urls_are_one_line_errors() {
    // A port that was just free: nothing listens there.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let url = format!("http://127.0.0.1:{port}");
    let run = hale(None, None, &["--url", &url, "tree"]).await;
    assert_one_line_error(&run, &format!("cannot reach {url}"));
    assert_one_line_error(
        &hale(None, None, &["--url", "ftp://x", "tree"]).await,
        "not an http://host:port URL",
    );
    assert_one_line_error(
        &hale(None, None, &["--url", "https://x", "tree"]).await,
        "plain HTTP",
    );
}

#[tokio::test]
async fn chaos_run_checks_the_plan_before_it_runs_the_example() {
    let folder = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("hale-cli-chaos");
    std::fs::create_dir_all(&folder).unwrap();
    let bad = folder.join("bad.toml");
    std::fs::write(
        &bad,
        "seed = 7\n[[rules]]\nsite = \"llm\"\nfault = { kind = \"panic\" }\nprobability = 1.5\n",
    )
    .unwrap();
    let run = hale(None, None, &["chaos", "run", bad.to_str().unwrap()]).await;
    assert_one_line_error(&run, "probability 1.5 is not within 0.0..=1.0");
    let broken = folder.join("broken.toml");
    std::fs::write(&broken, "seed = \n").unwrap();
    assert_one_line_error(
        &hale(None, None, &["chaos", "run", broken.to_str().unwrap()]).await,
        "not valid TOML",
    );

    let good = folder.join("good.toml");
    std::fs::write(
        &good,
        "seed = 7\n[[rules]]\nsite = \"llm\"\nfault = { kind = \"panic\" }\nprobability = 0.1\n",
    )
    .unwrap();
    let good = good.to_str().unwrap();
    let unknown = hale(None, None, &["chaos", "run", good, "--example", "nope"]).await;
    assert_one_line_error(&unknown, "no chaos example `nope`");
    let serving = hale(
        None,
        None,
        &[
            "chaos",
            "run",
            good,
            "--example",
            "cascade",
            "--serve",
            "127.0.0.1:0",
        ],
    )
    .await;
    assert_one_line_error(&serving, "`cascade` cannot serve the live page");
    // The example program gets the plan and the options: `echo` shows them.
    let echoed = hale(
        None,
        None,
        &[
            "chaos",
            "run",
            good,
            "--binary",
            "echo",
            "--seed",
            "9",
            "--items",
            "20",
            "--serve",
            "127.0.0.1:9191",
        ],
    )
    .await;
    assert_eq!(echoed.code, 0, "{}", echoed.stderr);
    assert_eq!(
        echoed.stdout,
        format!("--plan {good} --seed 9 --items 20 --serve 127.0.0.1:9191\n")
    );
    assert!(echoed.stderr.contains("is valid: 1 rules"), "{}", echoed.stderr);
}
