//! Crash-resume with real process kills: the worker binary runs a batch of
//! orders against a file store (and a Postgres store when
//! `HALE_TEST_POSTGRES_URL` is set) and a fake external service; the test
//! SIGKILLs it at seeded random points, starts it again, and once it ends
//! by itself checks that every order finished or was dead-lettered, no
//! step result was lost, every side effect was applied exactly once by
//! key, compensations ran in exact reverse order, and no approval gate
//! re-ran the code before it.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::{BTreeMap, BTreeSet};
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::Duration;

use hale_durable::{PostgresStore, SqliteStore, StepStatus, Store, WorkflowStatus};

const WORKER: &str = env!("CARGO_BIN_EXE_hale-durable-crash-worker");

/// splitmix64: the kill points come from the seed alone.
struct Seeded(u64);

impl Seeded {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn between(&mut self, low: u64, high: u64) -> u64 {
        low + self.next() % (high - low + 1)
    }
}

/// Runs the worker until it ends by itself, killing it `kills` times first,
/// each after a seeded number of the lines it prints as it makes progress
/// (so a kill lands mid-run however fast the machine is). Returns how many
/// kills landed mid-run.
fn run_with_kills(store: &str, service: &Path, orders: u64, seed: u64, kills: u32) -> u32 {
    let mut rng = Seeded(seed);
    let mut landed = 0;
    loop {
        let mut child = Command::new(WORKER)
            .args(["--store", store, "--service"])
            .arg(service)
            .args(["--orders", &orders.to_string()])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        if landed < kills {
            let wanted = rng.between(1, 6) as usize;
            let mut lines = BufReader::new(stdout).lines();
            let seen = lines.by_ref().take(wanted).map_while(Result::ok).count();
            if seen == wanted {
                // A little more, so some kills land between an effect and
                // its checkpoint (the case idempotency keys are for).
                std::thread::sleep(Duration::from_micros(rng.between(0, 1_500)));
                child.kill().unwrap(); // SIGKILL
                child.wait().unwrap();
                landed += 1;
                continue;
            }
            // The run ended by itself before its kill: the batch is done.
            drain(lines);
        } else {
            drain(BufReader::new(stdout).lines());
        }
        let output = child.wait_with_output().unwrap();
        assert!(
            output.status.success(),
            "worker failed: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        return landed;
    }
}

/// Reads the worker's progress lines to their end, so it never blocks on a
/// full pipe.
fn drain(lines: impl Iterator<Item = std::io::Result<String>>) {
    lines.map_while(Result::ok).for_each(drop);
}

fn expected_status(n: u64) -> WorkflowStatus {
    if n.is_multiple_of(7) {
        WorkflowStatus::Failed
    } else if n.is_multiple_of(5) {
        WorkflowStatus::Compensated
    } else {
        WorkflowStatus::Completed
    }
}

/// Checks the store and the fake service after the last run.
async fn check(store: &dyn Store, service: &Path, orders: u64) {
    let db = rusqlite::Connection::open(service).unwrap();
    let rows = |sql: &str| -> Vec<(String, String, String)> {
        let mut statement = db.prepare(sql).unwrap();
        statement
            .query_map([], |row| Ok((row.get(0)?, row.get(1)?, row.get(2)?)))
            .unwrap()
            .map(Result::unwrap)
            .collect()
    };
    // (workflow, step) → the keys the service was called with.
    let mut keys: BTreeMap<(String, String), BTreeSet<String>> = BTreeMap::new();
    for (workflow, step, key) in rows("SELECT workflow, step, key FROM calls ORDER BY id") {
        keys.entry((workflow, step)).or_default().insert(key);
    }
    let mut applied: BTreeMap<(String, String), u32> = BTreeMap::new();
    for (workflow, step, _) in rows("SELECT workflow, step, key FROM applied") {
        *applied.entry((workflow, step)).or_default() += 1;
    }
    let mut journal: BTreeMap<String, Vec<(i64, String)>> = BTreeMap::new();
    for (id, workflow, entry) in rows("SELECT CAST(id AS TEXT), workflow, entry FROM journal ORDER BY id") {
        journal
            .entry(workflow)
            .or_default()
            .push((id.parse().unwrap(), entry));
    }

    for n in 0..orders {
        let id = format!("order-{n}");
        let history = store
            .history(&id)
            .await
            .unwrap()
            .expect("every order is in the store");
        let expected = expected_status(n);
        assert_eq!(history.workflow.status, expected, "{id}");
        let effects: &[&str] = match expected {
            WorkflowStatus::Completed => &["reserve", "charge", "ship"],
            WorkflowStatus::Compensated => &["reserve", "charge", "refund", "release"],
            _ => &[],
        };
        // Every side effect applied exactly once, always under one key.
        for effect in effects {
            let pair = (id.clone(), (*effect).to_owned());
            assert_eq!(applied.get(&pair), Some(&1), "{id}: {effect} applied once");
            assert_eq!(
                keys.get(&pair).map(BTreeSet::len),
                Some(1),
                "{id}: {effect} called under one key"
            );
        }
        let called: BTreeSet<&str> = keys
            .keys()
            .filter(|(w, _)| *w == id)
            .map(|(_, s)| s.as_str())
            .collect();
        assert_eq!(called, effects.iter().copied().collect(), "{id}: no other effect");
        match expected {
            WorkflowStatus::Completed => {
                // No step result lost: every step checkpointed with its output.
                let output = history.workflow.output.as_deref().unwrap();
                assert_eq!(output, format!("\"{n}:{}:rcpt-{n}:trk-{n}\"", n * 10), "{id}");
                let done: Vec<&str> = history
                    .steps
                    .iter()
                    .filter(|s| s.status == StepStatus::Done)
                    .map(|s| s.name.as_str())
                    .collect();
                assert_eq!(done, ["validate", "reserve", "charge", "ship", "notify"], "{id}");
            }
            WorkflowStatus::Compensated => {
                // Exact reverse order: refund (of charge), then release.
                let mut undo: Vec<&str> = journal[&id]
                    .iter()
                    .filter(|(_, e)| e.starts_with("undo:"))
                    .map(|(_, e)| e.as_str())
                    .collect();
                undo.dedup();
                assert_eq!(undo, ["undo:charge", "undo:reserve"], "{id}");
                assert_eq!(history.compensations.len(), 2);
            }
            _ => {
                let letters = store.dead_letters(false, 10_000).await.unwrap();
                assert!(
                    letters.iter().any(|l| l.workflow_id == id),
                    "{id} is dead-lettered"
                );
            }
        }
        // A decided gate never re-ran the code before it.
        if let Some(entries) = journal.get(&id)
            && let Some((decided, _)) = entries.iter().find(|(_, e)| e == "decided")
        {
            let rerun = entries
                .iter()
                .filter(|(at, e)| {
                    at > decided && ["step:validate", "step:reserve", "step:charge"].contains(&e.as_str())
                })
                .count();
            assert_eq!(
                rerun, 0,
                "{id}: code before the gate ran again after the decision"
            );
        }
    }
    let check = store.verify_audit().await.unwrap();
    assert!(check.is_intact(), "{check:?}");
    let calls: i64 = db
        .query_row("SELECT COUNT(*) FROM calls", [], |row| row.get(0))
        .unwrap();
    let once: i64 = db
        .query_row("SELECT COUNT(*) FROM applied", [], |row| row.get(0))
        .unwrap();
    println!(
        "  {calls} service calls, {once} applied: {} repeated under the same key",
        calls - once
    );
}

fn scenario(
    orders: u64,
    seed: u64,
    kills: u32,
    store_arg: impl Fn(&Path) -> String,
) -> (tempfile::TempDir, u32) {
    let dir = tempfile::tempdir().unwrap();
    let service = dir.path().join("service.db");
    let landed = run_with_kills(&store_arg(dir.path()), &service, orders, seed, kills);
    (dir, landed)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_survives_hundreds_of_kills() {
    let mut total = 0;
    for (seed, orders) in [(1_u64, 100_u64), (2, 100), (3, 120)] {
        let (dir, landed) = tokio::task::spawn_blocking(move || {
            scenario(orders, seed, 60, |dir| {
                format!("sqlite:{}", dir.join("wf.db").display())
            })
        })
        .await
        .unwrap();
        let store = SqliteStore::open(dir.path().join("wf.db")).await.unwrap();
        check(&store, &dir.path().join("service.db"), orders).await;
        println!("seed {seed}: {landed} kills mid-run, {orders} orders checked");
        total += landed;
    }
    assert_eq!(total, 180, "every kill lands mid-run");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_survives_kills() {
    let Ok(base) = std::env::var("HALE_TEST_POSTGRES_URL") else {
        println!("skipped: HALE_TEST_POSTGRES_URL is not set (run `.ci/postgres start` for a server)");
        return;
    };
    let name = format!("hale_crash_{}", std::process::id());
    let (admin, connection) = tokio_postgres::connect(&base, tokio_postgres::NoTls)
        .await
        .unwrap();
    tokio::spawn(connection);
    admin
        .batch_execute(&format!("DROP DATABASE IF EXISTS {name}"))
        .await
        .unwrap();
    admin
        .batch_execute(&format!("CREATE DATABASE {name}"))
        .await
        .unwrap();
    let url = if base.contains("://") {
        panic!("use the key=value form of HALE_TEST_POSTGRES_URL for this test")
    } else {
        format!("{base} dbname={name}")
    };
    let orders = 60;
    let store_arg = format!("postgres:{url}");
    let (dir, landed) =
        tokio::task::spawn_blocking(move || scenario(orders, 9, 60, move |_| store_arg.clone()))
            .await
            .unwrap();
    let store = Arc::new(PostgresStore::connect(&url).await.unwrap());
    check(&*store, &dir.path().join("service.db"), orders).await;
    println!("postgres: {landed} kills mid-run, {orders} orders checked");
    assert_eq!(landed, 60, "every kill lands mid-run");
}
