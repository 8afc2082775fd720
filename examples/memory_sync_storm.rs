//! Chaos example 2: a memory-sync storm, calmed by unique children.
//!
//! ```text
//! cargo run --release --example memory_sync_storm -- [--seed N] [--items N] [--plan FILE] [--json FILE]
//! ```
//!
//! A story from the field: a staleness monitor fires every 2 s and, for
//! each workspace whose agent memory looks stale, starts a memory-sync
//! agent. A sync pages through the memory store for several seconds, so the
//! next tick finds the same workspace still stale and starts another copy,
//! and another: copies pile up, all writing the same memory. Here every
//! sync is started with `start_unique(workspace, ..)`: while a workspace's
//! sync runs, the dynamic supervisor refuses the duplicate, and the request
//! joins the running sync instead and is settled with that sync's outcome.
//! (A write that lands after the running sync has read its page is caught
//! by the next tick, which finds the workspace stale again.)
//!
//! A seeded fault plan hits the memory store: panics, store errors
//! (retryable, and a rare fatal one: access revoked), slow pages, hangs
//! (the watchdog finds them) and random kills. A failed sync is restarted
//! with backoff and syncs again from the first page; after 5 attempts, or
//! on a fatal error, it gives up and its requests are dead-lettered.
//!
//! Work items are the monitor's sync requests: one per stale workspace per
//! tick. The report counts the duplicates refused (the supervisor's
//! `DuplicateRefused` events, checked against the monitor's own count) and
//! compares the peak number of syncs with the peak a monitor without
//! uniqueness would have reached.
//!
//! ```text
//! root (one_for_one)
//! └── memory-sync (dynamic, one child per workspace key, at most 8,
//!     │            30 restarts in 10 s)
//!     ├── sync#0   key ws-0   transient, heartbeat watch 3 s, restart backoff
//!     ├── sync#1   key ws-3
//!     └── ...
//! ```

use std::collections::HashMap;
use std::convert::Infallible;
use std::process::ExitCode;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use hale::chaos::{
    ChaosRun, FaultKind, FaultPlan, FaultRule, Injected, Injector, Ledger, Notes, Outcome, spawn_killer,
};
use hale::core::{Heartbeat, RestartBackoff, TaskError, Watch};
use hale::prelude::*;
use tokio::time::Instant;

#[path = "support/cli.rs"]
mod cli;
use cli::{Progress, RunArgs};

/// Workspaces the monitor looks after: one sync each at most.
const WORKSPACES: u64 = 8;
/// Time between two monitor ticks.
const TICK: Duration = Duration::from_secs(2);
/// A sync gives up after this many attempts.
const MAX_ATTEMPTS: u32 = 5;

/// A cheap stable mix: the same seed gives the same storm.
fn mix(words: &[u64]) -> u64 {
    words.iter().fold(0x2545_F491_4F6C_DD1D, |hash, &word| {
        (hash ^ word).wrapping_mul(0x9E37_79B9_7F4A_7C15).rotate_left(29)
    })
}

/// Whether the monitor finds `workspace` stale at `tick` (about 2 in 3).
fn stale(seed: u64, tick: u64, workspace: u64) -> bool {
    !mix(&[seed, tick, workspace]).is_multiple_of(3)
}

/// The pages of a sync that starts at `tick`, and how long each takes
/// (ms): 6 to 16 pages of 400 to 900 ms, so a sync spans one to seven
/// ticks.
fn pages(seed: u64, tick: u64, workspace: u64) -> (u32, u64) {
    let draw = mix(&[seed, tick, workspace, 0x5A6E]);
    (6 + (draw % 11) as u32, 400 + (draw >> 8) % 501)
}

/// Where a sync's requests wait for it.
enum SyncState {
    /// Running (or restarting): these requests are settled when it ends.
    Open(Vec<u64>),
    /// Ended: its requests are settled.
    Closed,
}

/// The sync requests (work items) and the sync, by serial number, each
/// waits for. One lock over both sides, so a request can never join a sync
/// that has just settled its requests.
#[derive(Default)]
struct Board {
    syncs: HashMap<u64, SyncState>,
}

/// The shared state of the syncs and the monitor. Cheap to clone.
#[derive(Clone)]
struct Syncs {
    seed: u64,
    injector: Injector,
    ledger: Ledger,
    notes: Notes,
    board: Arc<Mutex<Board>>,
}

impl Syncs {
    fn board(&self) -> std::sync::MutexGuard<'_, Board> {
        hale::util::lock(&self.board)
    }

    /// A new sync `serial`, with its first request.
    fn open(&self, serial: u64, item: u64) {
        self.board().syncs.insert(serial, SyncState::Open(vec![item]));
    }

    /// Adds a request to a running sync; false if it has already ended.
    fn join(&self, serial: u64, item: u64) -> bool {
        match self.board().syncs.get_mut(&serial) {
            Some(SyncState::Open(items)) => {
                items.push(item);
                true
            }
            _ => false,
        }
    }

    /// Takes back the requests of a sync that never started.
    fn withdraw(&self, serial: u64) -> Vec<u64> {
        match self.board().syncs.remove(&serial) {
            Some(SyncState::Open(items)) => items,
            _ => Vec::new(),
        }
    }

    /// Ends sync `serial`: settles every request that waited for it.
    fn close(&self, serial: u64, outcome: Outcome) {
        let items = match self.board().syncs.insert(serial, SyncState::Closed) {
            Some(SyncState::Open(items)) => items,
            _ => return,
        };
        self.notes.bump(match outcome {
            Outcome::Completed => "syncs completed",
            Outcome::Escalated => "syncs escalated when the tree gave up",
            _ => "syncs given up",
        });
        for item in items {
            self.ledger.settle(item, outcome);
        }
    }

    /// Settles the requests of every sync still open as escalated: the
    /// tree gave up (its root's intensity was exceeded), so they are the
    /// operator's now, not lost.
    fn escalate_open(&self) {
        let open: Vec<u64> = self
            .board()
            .syncs
            .iter()
            .filter(|(_, state)| matches!(state, SyncState::Open(_)))
            .map(|(&serial, _)| serial)
            .collect();
        for serial in open {
            self.close(serial, Outcome::Escalated);
        }
    }

    fn is_closed(&self, serial: u64) -> bool {
        matches!(self.board().syncs.get(&serial), Some(SyncState::Closed))
    }

    /// The child spec of sync `serial` for `workspace`, started at `tick`.
    /// Transient: a sync that ends normally is done and frees its key; one
    /// that crashes, errs or hangs is restarted and syncs again.
    fn spec(&self, serial: u64, workspace: u64, tick: u64) -> ChildSpec {
        let attempts = Arc::new(AtomicU32::new(0));
        let syncs = self.clone();
        ChildSpec::task("sync", move |ctx| {
            let attempt = attempts.fetch_add(1, Ordering::Relaxed);
            let syncs = syncs.clone();
            async move { syncs.run(serial, workspace, tick, attempt, ctx.heartbeat()).await }
        })
        .restart(Restart::Transient)
        // A page takes at most 0.9 s, 2.4 s when slow: 3 s without a beat
        // is a hang.
        .watch(Watch::heartbeat(Duration::from_secs(3)).grace(Duration::from_millis(200)))
        .backoff(
            RestartBackoff::new(Duration::from_millis(100), Duration::from_secs(2)).seed(self.seed ^ serial),
        )
    }

    /// One attempt at a sync: page through the memory store, beating the
    /// heartbeat before each page.
    async fn run(
        &self,
        serial: u64,
        workspace: u64,
        tick: u64,
        attempt: u32,
        heartbeat: Heartbeat,
    ) -> Result<(), TaskError> {
        // Killed just after it settled its requests: nothing left to do.
        if self.is_closed(serial) {
            return Ok(());
        }
        if attempt >= MAX_ATTEMPTS {
            self.close(serial, Outcome::DeadLettered);
            return Ok(());
        }
        let (pages, page_ms) = pages(self.seed, tick, workspace);
        for page in 0..pages {
            heartbeat.beat();
            let fetch = || async move {
                tokio::time::sleep(Duration::from_millis(page_ms)).await;
                Ok::<_, Infallible>(())
            };
            // The fault plan sees each page of each attempt once.
            match self
                .injector
                .inject("memory-store", serial, attempt * 100 + page, fetch, |page| page)
                .await
            {
                Ok(()) => {}
                // Access revoked: restarting will not help.
                Err(Injected::Fault(fault)) if !fault.retryable => {
                    self.close(serial, Outcome::DeadLettered);
                    return Ok(());
                }
                // An abnormal exit: the supervisor restarts the sync.
                Err(error) => return Err(error.into()),
            }
        }
        self.close(serial, Outcome::Completed);
        Ok(())
    }
}

/// The staleness monitor: asks for a sync per stale workspace per tick.
struct Monitor {
    syncs: Syncs,
    supervisor: DynamicSupervisorRef,
    next_serial: u64,
    /// The serial of the last sync started per workspace: the one running
    /// when a start is refused.
    current: Vec<u64>,
    /// Starts the supervisor refused as duplicates.
    refused: u64,
}

impl Monitor {
    /// Sync request `item` for `workspace` at `tick`: start a sync, or join
    /// the one running.
    async fn request(&mut self, item: u64, workspace: u64, tick: u64) {
        let syncs = self.syncs.clone();
        syncs.ledger.submit(item);
        // Bounded: a sync that has ended frees its key within moments.
        for _ in 0..100 {
            let serial = self.next_serial;
            // Registered before the start: a sync may end before the start
            // call returns.
            syncs.open(serial, item);
            let spec = syncs.spec(serial, workspace, tick);
            match self
                .supervisor
                .start_unique(format!("ws-{workspace}"), spec)
                .await
            {
                Ok(DynamicStart::Started(_)) => {
                    self.next_serial += 1;
                    self.current[workspace as usize] = serial;
                    syncs.notes.bump("syncs started");
                    return;
                }
                Ok(DynamicStart::AlreadyRunning(_)) => {
                    syncs.withdraw(serial);
                    self.refused += 1;
                    syncs.notes.bump("duplicate starts refused");
                    if syncs.join(self.current[workspace as usize], item) {
                        syncs.notes.bump("requests joined a sync");
                        return;
                    }
                    // That sync has just finished and is on its way out:
                    // ask again once its key is free.
                    tokio::time::sleep(Duration::from_millis(10)).await;
                }
                Ok(DynamicStart::Ignored) | Err(_) => {
                    syncs.withdraw(serial);
                    break;
                }
            }
        }
        syncs.ledger.settle(item, Outcome::DeadLettered);
        syncs.notes.bump("requests that found no sync");
    }
}

/// The fault plan used when no `--plan` file is given; each page of each
/// sync attempt is one call at `memory-store`.
fn default_plan(seed: u64) -> FaultPlan {
    FaultPlan::new(seed)
        .rule(FaultRule::new("memory-store", FaultKind::Panic, 0.005))
        .rule(FaultRule::new("memory-store", FaultKind::Hang, 0.005).max_count(6))
        .rule(FaultRule::new(
            "memory-store",
            FaultKind::Error { retryable: true },
            0.01,
        ))
        .rule(FaultRule::new(
            "memory-store",
            FaultKind::Error { retryable: false },
            0.002,
        ))
        .rule(FaultRule::new(
            "memory-store",
            FaultKind::Slow {
                min_ms: 300,
                max_ms: 1_500,
            },
            0.05,
        ))
        .kill_every(25_000, Some(6))
}

#[tokio::main(flavor = "current_thread", start_paused = true)]
async fn main() -> ExitCode {
    cli::exit_code(run().await)
}

async fn run() -> Result<(), Box<dyn std::error::Error>> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "off".into()),
        )
        .init();
    // Injected panics are healed and counted: keep them off the screen, and
    // show any other panic.
    hale::chaos::silence_injected_panics();

    let args = RunArgs::from_env(400)?;
    let plan = match &args.plan {
        Some(path) => FaultPlan::from_path(path)?.with_seed(args.seed),
        None => default_plan(args.seed),
    };
    let run = ChaosRun::new("memory_sync_storm", plan.clone());
    let seed = args.seed;

    // One key per workspace, so never more syncs than workspaces: a start
    // beyond max_children would be a bug, and fails loudly.
    let root = Supervisor::start(
        SupervisorSpec::new("root")
            .events(run.healing_events())
            .child(ChildSpec::dynamic_supervisor(
                DynamicSupervisorSpec::new("memory-sync")
                    .max_children(WORKSPACES as usize)
                    .intensity(30)
                    .period(Duration::from_secs(10)),
            )),
    )
    .await?;
    let killer = plan
        .kills
        .clone()
        .map(|kills| spawn_killer(root.clone(), kills, run.injector().clone()));

    let syncs = Syncs {
        seed,
        injector: run.injector().clone(),
        ledger: run.ledger().clone(),
        notes: run.notes(),
        board: Arc::default(),
    };
    let mut monitor = Monitor {
        syncs: syncs.clone(),
        supervisor: root.child_dynamic_supervisor("memory-sync").await?,
        next_serial: 0,
        current: vec![0; WORKSPACES as usize],
        refused: 0,
    };

    // The monitor's ticks. Beside the real syncs, count the copies a monitor
    // without uniqueness would have running: one per request, each for as
    // long as an undisturbed sync takes.
    let (mut item, mut tick) = (0, 0);
    let (mut peak, mut naive_peak) = (0, 0);
    let mut naive_copies: Vec<Instant> = Vec::new();
    let mut progress = Progress::new(args.items);
    while item < args.items {
        progress.advance(item);
        let now = Instant::now();
        naive_copies.retain(|&ends| ends > now);
        for workspace in 0..WORKSPACES {
            if item == args.items || !stale(seed, tick, workspace) {
                continue;
            }
            monitor.request(item, workspace, tick).await;
            let (pages, page_ms) = pages(seed, tick, workspace);
            naive_copies.push(now + Duration::from_millis(u64::from(pages) * page_ms));
            item += 1;
        }
        naive_peak = naive_peak.max(naive_copies.len() as u64);
        match monitor.supervisor.count_children().await {
            Ok(counts) => peak = peak.max(counts.specs as u64),
            // Its parent is restarting it (the handle follows), or the whole
            // tree gave up: the report says which.
            Err(_) if root.count_children().await.is_err() => {
                run.notes().add("the tree gave up at work item", item);
                break;
            }
            Err(_) => run.notes().bump("ticks the sync supervisor was restarting"),
        }
        tick += 1;
        tokio::time::sleep(TICK).await;
    }

    progress.advance(args.items);

    // The last syncs finish (a restarting one may take a while).
    run.ledger().wait_settled(Duration::from_secs(300)).await;
    if root.count_children().await.is_err() {
        syncs.escalate_open();
    }
    if let Some(killer) = killer {
        killer.abort();
    }
    root.stop(Duration::from_secs(30)).await;
    let notes = run.notes();
    notes.add("peak syncs at once", peak);
    notes.add("peak syncs, no uniqueness", naive_peak);
    let report = run.finish().await;
    println!("{report}");
    if let Some(json) = args.json {
        json.write(&serde_json::to_string_pretty(&report)?)?;
    }
    if !report.nothing_lost() {
        return Err(format!("{} work items lost", report.items.lost + report.items.miscounted).into());
    }
    if report.duplicates_refused != monitor.refused {
        return Err(format!(
            "the supervisor refused {} duplicates, the monitor counted {}",
            report.duplicates_refused, monitor.refused
        )
        .into());
    }
    Ok(())
}
