//! The main job's durable mode: `document_pipeline -- --store run.db`,
//! SIGKILLed mid-run and started again with the same command, finishes
//! with nothing lost, redoes no finished document, and says how many it
//! resumed.

#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "support/example.rs"]
mod support;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use hale_durable::{SqliteStore, Store, WorkflowStatus};

const ITEMS: u64 = 400;

fn example() -> PathBuf {
    support::example("document_pipeline")
}

fn count(line_start: &str, report: &str) -> u64 {
    let line = report
        .lines()
        .find(|line| line.trim_start().starts_with(line_start))
        .unwrap_or_else(|| panic!("no `{line_start}` line in:\n{report}"));
    line.split_whitespace()
        .find_map(|word| word.parse().ok())
        .unwrap_or_else(|| panic!("no number in `{line}`"))
}

async fn statuses(db: &Path) -> (u64, u64) {
    let store = SqliteStore::open(db).await.unwrap();
    let completed = store
        .workflows(WorkflowStatus::Completed, usize::MAX)
        .await
        .unwrap()
        .len();
    let running = store
        .workflows(WorkflowStatus::Running, usize::MAX)
        .await
        .unwrap()
        .len();
    (completed as u64, running as u64)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killed_mid_run_it_resumes_and_loses_nothing() {
    let example = example();
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("run.db");
    let args = ["--store", db.to_str().unwrap(), "--items", &ITEMS.to_string()];

    // First run: killed once a good part of the documents is done.
    let mut child = Command::new(&example)
        .args(args)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let started = Instant::now();
    loop {
        assert!(
            started.elapsed() < Duration::from_secs(120),
            "the first run never got going"
        );
        assert!(
            child.try_wait().unwrap().is_none(),
            "the first run ended before it could be killed"
        );
        if db.exists() {
            let store = SqliteStore::open(&db).await.unwrap();
            if store.counts().await.unwrap().workflows >= 60 {
                break;
            }
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();
    let (done_before, in_flight) = statuses(&db).await;
    assert!(
        done_before > 0 && done_before < ITEMS,
        "{done_before} done before the kill"
    );
    assert!(in_flight <= 1, "one document at a time, {in_flight} in flight");

    // Second run: the same command.
    let output = Command::new(&example).args(args).output().unwrap();
    let report = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{report}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert_eq!(count("lost", &report), 0, "{report}");
    assert_eq!(count("in ", &report), ITEMS, "{report}");
    assert_eq!(count("done in an earlier run", &report), done_before, "{report}");
    assert_eq!(count("resumed from a checkpoint", &report), in_flight, "{report}");
    assert_eq!(
        count("started in this run", &report),
        ITEMS - done_before - in_flight,
        "{report}"
    );
    let (done_after, running) = statuses(&db).await;
    assert_eq!((done_after, running), (ITEMS, 0));
}
