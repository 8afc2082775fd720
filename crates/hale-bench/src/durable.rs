//! Durable workflows (hale-durable) on SQLite: checkpointed steps per
//! second for one workflow and for 64 at once, at `synchronous` NORMAL and
//! FULL, each beside the raw commit rate of the same disk at the same
//! setting measured in the same run (a bare loop of one-row transactions);
//! the store's size after 100,000 finished workflows; the time to resume
//! 1,000 interrupted workflows. LangGraph's SQLite checkpointer runs beside
//! it when `LANGGRAPH_PYTHON` names a Python with LangGraph installed
//! (`shared/anchors/langgraph/README.md` says how).
//!
//! The family prints its own table (its columns are not the supervision
//! table's): `cargo run --release -p hale-bench -- --only durable`.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use hale_durable::{
    Durable, SqliteOptions, SqliteStore, StepError, Synchronous, Workflow, WorkflowContext, WorkflowError,
};
use hale_resilience::RetryPolicy;
use tokio::sync::Notify;

use crate::BenchResult;

/// A workflow of `n` checkpointed steps, each returning a small value.
struct Steps;

impl Workflow for Steps {
    type Input = u32;
    type Output = u32;
    const NAME: &'static str = "steps";
    const STEPS: &'static [&'static str] = &["step"];

    async fn run(&self, ctx: &mut WorkflowContext, n: u32) -> Result<u32, WorkflowError> {
        let mut value = 0;
        for _ in 0..n {
            value = ctx
                .step("step")
                .run(value, |value, _| async move { Ok::<_, StepError>(value + 1) })
                .await?;
        }
        Ok(value)
    }
}

/// LangGraph's 5-node pipeline; `hold` parks the third node (to leave runs
/// interrupted) until notified.
struct Pipeline {
    hold: Option<Arc<(Notify, AtomicUsize)>>,
}

impl Workflow for Pipeline {
    type Input = u32;
    type Output = u32;
    const NAME: &'static str = "pipeline";
    const STEPS: &'static [&'static str] = &["ingest", "classify", "extract", "validate", "store"];

    async fn run(&self, ctx: &mut WorkflowContext, doc: u32) -> Result<u32, WorkflowError> {
        let mut value = doc;
        for (index, name) in Self::STEPS.iter().enumerate() {
            let hold = self.hold.clone().filter(|_| index == 2);
            value = ctx
                .step(name)
                .run(value, move |value, _| {
                    let hold = hold.clone();
                    async move {
                        if let Some(hold) = hold {
                            hold.1.fetch_add(1, Ordering::SeqCst);
                            hold.0.notified().await;
                        }
                        Ok::<_, StepError>(value + 1)
                    }
                })
                .await?;
        }
        Ok(value)
    }
}

fn label(sync: Synchronous) -> &'static str {
    match sync {
        Synchronous::Normal => "NORMAL",
        Synchronous::Full => "FULL",
    }
}

/// The bare floor: one-row transactions in a loop, WAL, `sync`.
fn raw_commits(path: &Path, sync: Synchronous, commits: u32) -> BenchResult<f64> {
    let connection = rusqlite::Connection::open(path)?;
    connection.query_row("PRAGMA journal_mode=WAL", [], |_| Ok(()))?;
    connection.pragma_update(None, "synchronous", label(sync))?;
    connection
        .execute_batch("CREATE TABLE IF NOT EXISTS raw (id INTEGER PRIMARY KEY, value TEXT NOT NULL)")?;
    let row = "x".repeat(100);
    let began = Instant::now();
    for _ in 0..commits {
        connection.execute_batch("BEGIN")?;
        connection.execute("INSERT INTO raw (value) VALUES (?1)", [&row])?;
        connection.execute_batch("COMMIT")?;
    }
    Ok(f64::from(commits) / began.elapsed().as_secs_f64())
}

async fn engine<W: Workflow>(path: &Path, sync: Synchronous, workflow: W) -> BenchResult<Durable> {
    let store = SqliteStore::open_with(path, SqliteOptions::default().synchronous(sync)).await?;
    let once = RetryPolicy::builder("bench").maximum_attempts(1).build()?;
    Ok(Durable::builder(store)
        .register(workflow)
        .step_retry(once)
        .build()
        .await?)
}

/// One-row commits per second through the store's writer, from one task:
/// the floor plus the hand-off to the writer thread and back, without the
/// engine.
async fn store_commits(path: &Path, sync: Synchronous, commits: u32) -> BenchResult<f64> {
    use hale_durable::{StepKind, StepRecord, StepStatus, Store, WriteOp};
    let store = SqliteStore::open_with(path, SqliteOptions::default().synchronous(sync)).await?;
    let began = Instant::now();
    for seq in 0..commits {
        let step = StepRecord {
            workflow_id: "floor".into(),
            seq: i64::from(seq),
            name: "step".into(),
            kind: StepKind::Step,
            status: StepStatus::Done,
            input: None,
            output: Some(seq.to_string()),
            error: None,
            key: None,
            cost: 0,
            attempts: 1,
            at_ms: 0,
        };
        store.apply(vec![WriteOp::PutStep(step)]).await?;
    }
    Ok(f64::from(commits) / began.elapsed().as_secs_f64())
}

/// Checkpointed steps per second: `workflows` runs of `steps` steps at once.
async fn durable_steps(path: &Path, sync: Synchronous, workflows: u32, steps: u32) -> BenchResult<f64> {
    let durable = engine(path, sync, Steps).await?;
    let began = Instant::now();
    let mut handles = Vec::new();
    for index in 0..workflows {
        handles.push(durable.start::<Steps>(&format!("w{index}"), steps).await?);
    }
    for mut handle in handles {
        handle.result().await?;
    }
    let rate = f64::from(workflows * steps) / began.elapsed().as_secs_f64();
    durable.shutdown(Duration::from_secs(5)).await;
    Ok(rate)
}

fn unique() -> usize {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    NEXT.fetch_add(1, Ordering::Relaxed)
}

fn file_bytes(path: &Path) -> u64 {
    ["", "-wal"]
        .iter()
        .filter_map(|suffix| std::fs::metadata(format!("{}{suffix}", path.display())).ok())
        .map(|meta| meta.len())
        .sum()
}

fn live_bytes(path: &Path) -> BenchResult<u64> {
    let connection = rusqlite::Connection::open(path)?;
    let pages: i64 = connection.query_row("PRAGMA page_count", [], |row| row.get(0))?;
    let free: i64 = connection.query_row("PRAGMA freelist_count", [], |row| row.get(0))?;
    let size: i64 = connection.query_row("PRAGMA page_size", [], |row| row.get(0))?;
    Ok(u64::try_from((pages - free) * size)?)
}

/// Runs `count` 5-step workflows (64 at a time); returns the file size, and
/// the live bytes after pruning every finished workflow's step rows.
async fn store_size(path: &Path, count: u32) -> BenchResult<(u64, u64, f64)> {
    let durable = engine(path, Synchronous::Normal, Pipeline { hold: None }).await?;
    let began = Instant::now();
    let mut started = 0;
    while started < count {
        let batch = (count - started).min(64);
        let mut handles = Vec::new();
        for index in started..started + batch {
            handles.push(durable.start::<Pipeline>(&format!("doc-{index}"), index).await?);
        }
        for mut handle in handles {
            handle.result().await?;
        }
        started += batch;
    }
    let seconds = began.elapsed().as_secs_f64();
    durable.shutdown(Duration::from_secs(5)).await;
    let before = file_bytes(path);
    let durable = engine(path, Synchronous::Normal, Pipeline { hold: None }).await?;
    durable.prune_finished_before(i64::MAX).await?;
    durable.shutdown(Duration::from_secs(5)).await;
    drop(durable);
    Ok((before, live_bytes(path)?, f64::from(count) * 5.0 / seconds))
}

/// Leaves `count` workflows interrupted after two of five steps, then
/// times a new engine's `resume_all` until all have finished.
async fn resume_time(path: &Path, count: u32) -> BenchResult<Duration> {
    let hold = Arc::new((Notify::new(), AtomicUsize::new(0)));
    let first = engine(
        path,
        Synchronous::Normal,
        Pipeline {
            hold: Some(Arc::clone(&hold)),
        },
    )
    .await?;
    for index in 0..count {
        first.start::<Pipeline>(&format!("doc-{index}"), index).await?;
    }
    let deadline = Instant::now() + Duration::from_secs(60);
    while hold.1.load(Ordering::SeqCst) < count as usize {
        if Instant::now() > deadline {
            return Err("the workflows never reached their third step".into());
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    first.shutdown(Duration::from_secs(5)).await;
    drop(first);

    let second = engine(path, Synchronous::Normal, Pipeline { hold: None }).await?;
    let began = Instant::now();
    let report = second.resume_all().await?;
    if report.resumed != count as usize {
        return Err(format!("resumed {} of {count}", report.resumed).into());
    }
    for index in 0..count {
        second
            .handle::<u32>(&format!("doc-{index}"))
            .await?
            .result()
            .await?;
    }
    let took = began.elapsed();
    let left = second.store().counts().await?;
    second.shutdown(Duration::from_secs(5)).await;
    if left.workflows != i64::from(count) {
        return Err("workflows went missing".into());
    }
    Ok(took)
}

/// LangGraph's figures from its anchor, if it can run here.
struct LangGraph {
    sync_steps_per_s: Option<f64>,
    raw_full: Option<f64>,
    raw_normal: Option<f64>,
}

fn langgraph(quick: bool) -> Result<LangGraph, String> {
    let python = std::env::var_os("LANGGRAPH_PYTHON")
        .ok_or("LANGGRAPH_PYTHON is not set: no LangGraph figures in this run (see shared/anchors/langgraph/README.md)")?;
    let script = std::env::var_os("LANGGRAPH_BENCH")
        .map(PathBuf::from)
        .or_else(|| {
            let mut roots = vec![PathBuf::from(env!("CARGO_MANIFEST_DIR"))];
            if let Ok(dir) = std::env::current_dir() {
                roots.push(dir);
            }
            roots.into_iter().find_map(|root| {
                root.ancestors()
                    .map(|dir| dir.join("shared/anchors/langgraph/bench.py"))
                    .find(|candidate| candidate.is_file())
            })
        });
    let script = script.ok_or("shared/anchors/langgraph/bench.py not found (set LANGGRAPH_BENCH)")?;
    let output = Command::new(python)
        .arg(script)
        .arg(if quick { "200" } else { "1000" })
        .output()
        .map_err(|error| format!("LangGraph anchor: {error}"))?;
    if !output.status.success() {
        return Err(format!(
            "LangGraph anchor failed: {}",
            String::from_utf8_lossy(&output.stderr)
        ));
    }
    let text = String::from_utf8_lossy(&output.stdout);
    let number_before = |line: &str, unit: &str| -> Option<f64> {
        let words: Vec<&str> = line.split_whitespace().collect();
        let at = words.iter().position(|word| *word == unit)?;
        words.get(at.checked_sub(1)?)?.parse().ok()
    };
    let find = |start: &str, unit: &str| {
        text.lines()
            .find(|line| line.trim_start().starts_with(start))
            .and_then(|line| number_before(line, unit))
    };
    Ok(LangGraph {
        sync_steps_per_s: find("sqlite-sync", "steps/s"),
        raw_full: find("synchronous=FULL", "commits/s"),
        raw_normal: find("synchronous=NORMAL", "commits/s"),
    })
}

fn rate(value: f64) -> String {
    if value >= 100.0 {
        let whole = value.round() as u64;
        let text = whole.to_string();
        let mut out = String::new();
        for (index, digit) in text.chars().enumerate() {
            if index > 0 && (text.len() - index).is_multiple_of(3) {
                out.push(',');
            }
            out.push(digit);
        }
        out
    } else {
        format!("{value:.1}")
    }
}

fn verdict(met: bool) -> &'static str {
    if met { "yes" } else { "**NO**" }
}

/// Runs the family; returns its markdown section.
pub(crate) async fn section(quick: bool) -> BenchResult<String> {
    let dir = tempfile::tempdir_in(std::env::temp_dir())?;
    let lang = tokio::task::spawn_blocking(move || langgraph(quick)).await?;
    let (one_steps, many_steps, repeats) = if quick { (1_000, 100, 2) } else { (5_000, 400, 5) };
    let mut out = String::new();
    let _ = writeln!(
        out,
        "| case | Hale | raw SQLite commits/s (same disk, same setting) | Hale/raw | LangGraph (SqliteSaver, sync) | target | met? |"
    );
    let _ = writeln!(out, "|---|---|---|---|---|---|---|");
    let mut missed = Vec::new();
    for sync in [Synchronous::Normal, Synchronous::Full] {
        let commits = match (sync, quick) {
            (Synchronous::Normal, false) => 20_000,
            (Synchronous::Normal, true) => 5_000,
            (Synchronous::Full, false) => 1_000,
            (Synchronous::Full, true) => 300,
        };
        let steps = match sync {
            Synchronous::Normal => one_steps,
            Synchronous::Full => one_steps / 10,
        };
        let many_each = match sync {
            Synchronous::Normal => many_steps,
            Synchronous::Full => many_steps / 4,
        };
        // Interleaved rounds, the best of each kind: the shared machine's
        // noise falls on the floor and on Hale alike.
        let (mut raw, mut handed, mut one, mut many) = (0.0_f64, 0.0_f64, 0.0_f64, 0.0_f64);
        for _ in 0..repeats {
            let path = dir.path().join(format!("raw-{}.db", unique()));
            raw = raw.max(tokio::task::spawn_blocking(move || raw_commits(&path, sync, commits)).await??);
            let path = dir.path().join(format!("apply-{}.db", unique()));
            handed = handed.max(store_commits(&path, sync, commits).await?);
            let path = dir.path().join(format!("one-{}.db", unique()));
            one = one.max(durable_steps(&path, sync, 1, steps).await?);
            let path = dir.path().join(format!("many-{}.db", unique()));
            many = many.max(durable_steps(&path, sync, 64, many_each).await?);
        }
        eprintln!(
            "  {}: raw {raw:.0} commits/s, through the writer {handed:.0}/s, one workflow {one:.0} steps/s, 64 workflows {many:.0} steps/s",
            label(sync)
        );
        let lang_figure = match (sync, &lang) {
            (Synchronous::Full, Ok(figures)) => figures.sync_steps_per_s.map_or("–".to_owned(), |v| {
                let raw = figures
                    .raw_full
                    .map_or(String::new(), |raw| format!(" (its raw: {})", rate(raw)));
                format!("{}{raw}", rate(v))
            }),
            (Synchronous::Normal, Ok(figures)) => figures.raw_normal.map_or("–".to_owned(), |raw| {
                format!("not offered (its raw: {})", rate(raw))
            }),
            (_, Err(_)) => "n/a".to_owned(),
        };
        let _ = writeln!(
            out,
            "| one-row commits through `SqliteStore::apply` from one task (floor + writer hand-off), synchronous={} | {} | {} | {:.2}× | – | – | – |",
            label(sync),
            rate(handed),
            rate(raw),
            handed / raw
        );
        let one_met = one >= 0.8 * raw;
        if !one_met {
            missed.push(format!(
                "one workflow at {} ran {:.2}× the raw commit rate (target 0.8×)",
                label(sync),
                one / raw
            ));
        }
        let _ = writeln!(
            out,
            "| steps/s, one workflow, synchronous={} | {} | {} | {:.2}× | {} | ≥ 0.8× raw | {} |",
            label(sync),
            rate(one),
            rate(raw),
            one / raw,
            lang_figure,
            verdict(one_met)
        );
        let (target, met) = match sync {
            Synchronous::Normal => ("≥ 20,000 steps/s", many >= 20_000.0),
            Synchronous::Full => ("–", true),
        };
        if !met {
            missed.push(format!(
                "64 workflows at NORMAL ran {many:.0} steps/s (target 20,000)"
            ));
        }
        let _ = writeln!(
            out,
            "| steps/s, 64 workflows at once, synchronous={} | {} | {} | {:.2}× | – | {target} | {} |",
            label(sync),
            rate(many),
            rate(raw),
            many / raw,
            if target == "–" { "–" } else { verdict(met) }
        );
    }
    let finished = if quick { 10_000 } else { 100_000 };
    let path = dir.path().join("size.db");
    let (bytes, pruned, rate_5) = store_size(&path, finished).await?;
    eprintln!(
        "  {finished} finished workflows: {bytes} bytes, {pruned} live after pruning ({rate_5:.0} steps/s)"
    );
    let _ = writeln!(
        out,
        "| store size after {} finished 5-step workflows (NORMAL) | {:.1} MB; {:.1} MB live after pruning their step rows | – | – | – | bounded by retention | – |",
        rate(f64::from(finished)),
        bytes as f64 / 1e6,
        pruned as f64 / 1e6
    );
    let resumed = 1_000;
    let took = resume_time(&dir.path().join("resume.db"), resumed).await?;
    eprintln!("  resume {resumed}: {took:?}");
    let resume_met = took < Duration::from_secs(1);
    if !resume_met {
        missed.push(format!("resuming {resumed} workflows took {took:?} (target 1 s)"));
    }
    let _ = writeln!(
        out,
        "| resume 1,000 interrupted workflows (2 of 5 steps done) to all finished | {:.0} ms | – | – | – | < 1 s | {} |",
        took.as_secs_f64() * 1e3,
        verdict(resume_met)
    );
    out.push('\n');
    if let Err(why) = &lang {
        let _ = writeln!(out, "{why}\n");
    }
    if missed.is_empty() {
        out.push_str("Every durable target is met.\n");
    } else {
        let _ = writeln!(out, "Missed: {}.", missed.join("; "));
    }
    Ok(out)
}
