//! Chaos example: Python agents supervised like actors.
//!
//! ```text
//! cargo run --release --example process_agents -- [--seed N] [--items N] [--plan FILE] [--json FILE]
//! ```
//!
//! Three agents are Python programs (`examples/agents/agent.py`), each an OS
//! process in its own process group, speaking systemd's notify protocol
//! (`READY=1`, `WATCHDOG=1`, `STATUS=`); the fourth is a Rust actor. They
//! live in one tree, under the same strategy, intensity and watchdog. Work
//! items go to the Python agents as job files and come back as result files,
//! then the Rust actor collates them. A seeded fault plan makes the
//! summarizer crash (exit code 3), the crawler hang (it stops pinging the
//! watchdog), the indexer hang while ignoring SIGTERM (so the watchdog's
//! grace runs out and SIGKILL ends it), the collator panic, and kills random
//! agents, Python or Rust. Every item must end completed or dead-lettered,
//! and no Python process may be left running.
//!
//! Unlike the other chaos examples this one runs on real time (processes
//! cannot run on tokio's paused clock): the seed fixes which job gets which
//! fault, but the event-log hash varies from run to run with the timing of
//! kills and restarts.
//!
//! ```text
//! root (one_for_one)
//! └── agents (one_for_one, 50 restarts in 10 s)
//!     ├── summarizer   python, crashes (exit code 3)
//!     ├── crawler      python, hangs: WATCHDOG=1 stops, killed and restarted
//!     ├── indexer      python, hangs and ignores SIGTERM: SIGKILL after the grace
//!     └── collator     Rust actor
//! ```

use std::path::{Path, PathBuf};
use std::time::Duration;

use std::process::ExitCode;

use hale::chaos::{ChaosRun, FaultKind, FaultPlan, FaultRule, Injector, Outcome, spawn_killer};
use hale::core::process::{Liveness, ProcessCommand, ProcessView};
use hale::core::{ChildRef, Watch};
use hale::prelude::*;
use ractor::{Actor, ActorProcessingErr, ActorRef, RpcReplyPort};

#[path = "support/cli.rs"]
mod cli;
use cli::{Progress, RunArgs};

const AGENT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/examples/agents/agent.py");

/// The Python agents, by name.
const AGENTS: [&str; 3] = ["summarizer", "crawler", "indexer"];

/// How many times an item is tried before it is dead-lettered.
const MAX_ATTEMPTS: u32 = 5;

/// The longest an attempt waits for its result when no restart of its
/// agent says the job was lost.
const ATTEMPT_DEADLINE: Duration = Duration::from_secs(15);

/// The collator's request: collate the result of item `id`.
struct Collate {
    id: u64,
    attempt: u32,
    text: String,
    reply: RpcReplyPort<String>,
}

/// The Rust agent: collates what the Python agents produced.
#[derive(Clone)]
struct Collator {
    injector: Injector,
}

impl Actor for Collator {
    type Msg = Collate;
    type State = ();
    type Arguments = ();

    async fn pre_start(&self, _: ActorRef<Collate>, _: ()) -> Result<(), ActorProcessingErr> {
        Ok(())
    }

    async fn handle(&self, _: ActorRef<Collate>, job: Collate, _: &mut ()) -> Result<(), ActorProcessingErr> {
        let text = job.text.trim().to_owned();
        let collated = self
            .injector
            .inject(
                "collate",
                job.id,
                job.attempt,
                || async move { Ok::<_, String>(format!("#{}: {text}", job.id)) },
                |value| value,
            )
            .await
            .map_err(|_| "collation failed")?;
        let _ = job.reply.send(collated);
        Ok(())
    }
}

/// One Python agent as the dispatcher sees it: where its jobs go, and its
/// view (to notice its restarts).
#[derive(Clone)]
struct Lane {
    name: &'static str,
    inbox: PathBuf,
    outbox: PathBuf,
    view: ProcessView,
}

impl Lane {
    /// Runs item `id` through this agent, attempt by attempt. Returns the
    /// result text, or `None` once every attempt was lost.
    async fn process(&self, id: u64, injector: &Injector) -> Option<String> {
        for attempt in 0..MAX_ATTEMPTS {
            let fault = match injector.decide(self.name, id, attempt) {
                Some(FaultKind::Panic) => "crash",
                Some(FaultKind::Hang) => "hang",
                _ => "ok",
            };
            let job = format!("{id:06}-{attempt}");
            let started = self.view.started();
            let inbox = self.inbox.join(&job);
            if std::fs::write(&inbox, fault).is_err() {
                continue;
            }
            if let Some(text) = self.wait(&job, &inbox, started).await {
                return Some(text);
            }
            // Lost (its agent restarted after claiming it) or too late:
            // withdraw it if unclaimed, and try again.
            let _ = std::fs::remove_file(&inbox);
        }
        None
    }

    /// Waits for the result of `job`: `None` once the job is known lost
    /// (claimed, and the agent restarted since) or the deadline passed.
    async fn wait(&self, job: &str, inbox: &Path, started: u64) -> Option<String> {
        let result = self.outbox.join(job);
        let deadline = tokio::time::Instant::now() + ATTEMPT_DEADLINE;
        loop {
            if let Ok(text) = std::fs::read_to_string(&result) {
                return Some(text);
            }
            let restarted = self.view.started() != started;
            if (restarted && !inbox.exists()) || tokio::time::Instant::now() > deadline {
                return None;
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }
}

/// The fault plan used when no `--plan` file is given.
fn default_plan(seed: u64) -> FaultPlan {
    FaultPlan::new(seed)
        .rule(FaultRule::new("summarizer", FaultKind::Panic, 0.12))
        .rule(FaultRule::new("crawler", FaultKind::Hang, 0.08).max_count(3))
        .rule(FaultRule::new("indexer", FaultKind::Hang, 0.08).max_count(3))
        .rule(FaultRule::new("collate", FaultKind::Panic, 0.05))
        .kill_every(1_500, Some(4))
}

/// A Python agent's spec: ready by notify, watched by notify.
fn agent(name: &'static str, work: &Path) -> Result<(ChildSpec, Lane), Box<dyn std::error::Error>> {
    let (inbox, outbox) = (work.join(name), work.join("out"));
    std::fs::create_dir_all(&inbox)?;
    std::fs::create_dir_all(&outbox)?;
    let mut command = ProcessCommand::new("python3")
        .arg("-u")
        .arg(AGENT)
        .arg(name)
        .arg(&inbox)
        .arg(&outbox)
        .ready_timeout(Duration::from_secs(30))
        .watch(
            Watch::heartbeat(Duration::from_secs(1)).grace(Duration::from_millis(500)),
            Liveness::Notify,
        )
        .keep_output(100);
    if name == "indexer" {
        command = command.arg("--ignore-sigterm");
    }
    let view = command.view();
    let spec = ChildSpec::process(name, command)?.shutdown(Shutdown::Timeout(Duration::from_millis(500)));
    Ok((
        spec,
        Lane {
            name,
            inbox,
            outbox,
            view,
        },
    ))
}

/// Asks the collator, retrying while it restarts.
async fn collate(collator: &ChildRef<Collate>, id: u64, text: &str) -> Option<String> {
    for attempt in 0..MAX_ATTEMPTS {
        let (reply, answer) = tokio::sync::oneshot::channel();
        let job = Collate {
            id,
            attempt,
            text: text.to_owned(),
            reply: reply.into(),
        };
        if collator.send_within(job, Duration::from_secs(5)).await.is_err() {
            continue;
        }
        if let Ok(collated) = answer.await {
            return Some(collated);
        }
    }
    None
}

/// Whether `pid` still runs (a zombie does not).
fn running(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|stat| {
        let state = stat.rsplit_once(") ").and_then(|(_, rest)| rest.chars().next());
        !matches!(state, Some('Z' | 'X') | None)
    })
}

#[tokio::main]
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
    let python = std::process::Command::new("python3").arg("--version").output();
    if !python.is_ok_and(|output| output.status.success()) {
        println!("process_agents: skipped, python3 is not installed");
        return Ok(());
    }

    let args = RunArgs::from_env(60)?;
    let plan = match &args.plan {
        Some(path) => FaultPlan::from_path(path)?.with_seed(args.seed),
        None => default_plan(args.seed),
    };
    let run = ChaosRun::new("process_agents", plan.clone());
    let mut exits = run.healing_events().subscribe();
    let work = std::env::temp_dir().join(format!("hale-process-agents-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&work);

    let mut agents = SupervisorSpec::new("agents")
        .intensity(50)
        .period(Duration::from_secs(10));
    let mut lanes = Vec::new();
    for name in AGENTS {
        let (spec, lane) = agent(name, &work)?;
        agents = agents.child(spec);
        lanes.push(lane);
    }
    let collator = Collator {
        injector: run.injector().clone(),
    };
    let agents = agents.child(ChildSpec::actor("collator", collator, ()));
    let root = Supervisor::start(
        SupervisorSpec::new("root")
            .events(run.healing_events())
            .child(ChildSpec::supervisor(agents)),
    )
    .await?;
    let collator: ChildRef<Collate> = root
        .child_supervisor("agents")
        .await?
        .child_ref("collator")
        .await?;
    let killer = plan
        .kills
        .clone()
        .map(|kills| spawn_killer(root.clone(), kills, run.injector().clone()));

    // One lane per Python agent, all at once; items in order within a lane.
    let settled = std::sync::Mutex::new((Progress::new(args.items), 0u64));
    let lane_runs = lanes.iter().enumerate().map(|(index, lane)| {
        let (run, collator, settled) = (&run, &collator, &settled);
        async move {
            let ids = (0..args.items).filter(|id| *id % AGENTS.len() as u64 == index as u64);
            for id in ids {
                run.ledger().submit(id);
                let outcome = match lane.process(id, run.injector()).await {
                    Some(text) => match collate(collator, id, &text).await {
                        Some(_) => Outcome::Completed,
                        None => Outcome::DeadLettered,
                    },
                    None => Outcome::DeadLettered,
                };
                run.ledger().settle(id, outcome);
                let mut settled = hale::util::lock(settled);
                settled.1 += 1;
                let done = settled.1;
                settled.0.advance(done);
            }
        }
    });
    futures::future::join_all(lane_runs).await;

    if let Some(killer) = killer {
        killer.abort();
    }
    root.stop(Duration::from_secs(30)).await;

    // How the agents' runs ended, from the healing events.
    let notes = run.notes();
    for event in exits.drain() {
        if matches!(event.kind, HealingEventKind::HungKilled) {
            notes.bump("SIGKILL after the grace");
        }
        if let HealingEventKind::ChildExited { reason, .. } = event.kind {
            let note = match reason {
                ExitReason::ExitCode(code) => format!("exits with code {code}"),
                ExitReason::Signal(signal) => format!("exits by {signal}"),
                ExitReason::Hung => "hung, killed, replaced".to_owned(),
                ExitReason::Killed => "killed by the plan".to_owned(),
                ExitReason::Failed(_) => "collator failures".to_owned(),
                other => format!("exits: {other}"),
            };
            notes.bump(&note);
        }
    }
    let pids: Vec<u32> = lanes
        .iter()
        .flat_map(|lane| lane.view.output())
        .map(|line| line.pid)
        .collect();
    notes.add(
        "python runs started",
        lanes.iter().map(|lane| lane.view.started()).sum(),
    );
    let left = pids.iter().filter(|pid| running(**pid)).count();
    notes.add("python processes left", left as u64);
    let _ = std::fs::remove_dir_all(&work);

    let report = run.finish().await;
    println!("{report}");
    if let Some(json) = args.json {
        json.write(&serde_json::to_string_pretty(&report)?)?;
    }
    if !report.nothing_lost() {
        return Err(format!("{} work items lost", report.items.lost + report.items.miscounted).into());
    }
    if left > 0 {
        return Err(format!("{left} python processes left running").into());
    }
    Ok(())
}
