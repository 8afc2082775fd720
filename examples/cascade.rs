//! Chaos example 4: a cascade, in a flat tree and in a hierarchical one.
//!
//! ```text
//! cargo run --release --example cascade -- [--seed N] [--items N] [--plan FILE] [--json FILE]
//! ```
//!
//! A story from the field: twelve agents in four small teams; one of them,
//! `browse`, drives a headless browser that keeps crashing. Many setups put
//! all agents under one supervisor with one_for_all ("if anything breaks,
//! restart everything"): every browser crash then restarts all twelve
//! agents and throws away the work in their hands, and since all their
//! crashes share one restart budget, that supervisor gives up often.
//! The same agents in a hierarchy (teams as supervisors, rest_for_one
//! within a team) keep the damage inside the research team.
//!
//! Both trees run side by side on the same clock, under the same seeded
//! faults, with the same work: an item every 100 ms, each through its
//! team's three agents in order (with retries). Each tree has its own
//! chaos run, so each has its own ledger, report and event-log hash.
//!
//! ```text
//! flat (one_for_one)                        tiered (one_for_one)
//! └── agents (one_for_all, 5 in 10 s)       ├── intake (rest_for_one, 5 in 10 s)
//!     ├── fetch                             │   ├── fetch
//!     ├── parse                             │   ├── parse
//!     ├── ...                               │   └── tag
//!     ├── browse    crashes often           ├── research (rest_for_one, 5 in 10 s)
//!     ├── ...                               │   ├── search
//!     └── archive                           │   ├── browse    crashes often
//!                                           │   └── summarize
//!                                           ├── writing (rest_for_one, 5 in 10 s): draft, edit, cite
//!                                           └── delivery (rest_for_one, 5 in 10 s): format, send, archive
//! ```
//!
//! Blast radius, per tree, from its healing events: agent failures (the
//! crashes themselves), agent restarts they caused (by the strategy, or by
//! a supervisor that gave up being restarted with its children), and the
//! items disturbed: a step lost because its agent was stopped or died under
//! it, not because the step itself failed.

use std::collections::{BTreeSet, HashMap, HashSet};
use std::panic::AssertUnwindSafe;
use std::process::ExitCode;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures::FutureExt;
use hale::chaos::{
    ChaosReport, ChaosRun, FaultError, FaultKind, FaultPlan, FaultRule, Injected, Injector, Ledger, Outcome,
};
use hale::core::{ChildPath, ChildRef, ChildRefError, EventStream};
use hale::prelude::*;
use hale::resilience::{ErrorClass, Pipeline};
use ractor::{Actor, ActorProcessingErr, ActorRef, RpcReplyPort};
use tokio::time::Instant;

#[path = "support/cli.rs"]
mod cli;
use cli::{Progress, RunArgs};

/// The teams and their agents, in pipeline order.
const TEAMS: [(&str, [&str; 3]); 4] = [
    ("intake", ["fetch", "parse", "tag"]),
    ("research", ["search", "browse", "summarize"]),
    ("writing", ["draft", "edit", "cite"]),
    ("delivery", ["format", "send", "archive"]),
];
/// Time between two items.
const ARRIVAL_MS: u64 = 100;

/// Why a step failed.
#[derive(Clone, Debug, thiserror::Error)]
enum StepError {
    #[error("{0}")]
    Fault(FaultError),
    #[error("the step crashed its agent")]
    Crashed,
    #[error("the agent went down under the step")]
    Down,
    #[error("the agent could not be reached")]
    Unreachable,
}

impl ErrorClass for StepError {
    fn is_retryable(&self) -> bool {
        match self {
            Self::Fault(fault) => fault.retryable,
            // A crash, a lost step or a restarting agent: try again.
            Self::Crashed | Self::Down | Self::Unreachable => true,
        }
    }
}

/// Step `attempt` of an item at an agent.
struct Step {
    item: u64,
    attempt: u32,
    reply: RpcReplyPort<Result<(), StepError>>,
}

/// An agent: each step is a simulated call of 50 to 200 ms, under the
/// fault plan's injector.
#[derive(Clone)]
struct Agent {
    role: &'static str,
    injector: Injector,
}

impl Actor for Agent {
    type Msg = Step;
    type State = ();
    type Arguments = ();

    async fn pre_start(&self, _: ActorRef<Step>, _: ()) -> Result<(), ActorProcessingErr> {
        Ok(())
    }

    async fn handle(&self, _: ActorRef<Step>, step: Step, _: &mut ()) -> Result<(), ActorProcessingErr> {
        let work = Duration::from_millis(50 + (step.item * 37 + self.role.len() as u64 * 11) % 151);
        let call = || async move {
            tokio::time::sleep(work).await;
            Ok::<_, StepError>(())
        };
        let done = self
            .injector
            .inject(self.role, step.item, step.attempt, call, |v| v);
        match AssertUnwindSafe(done).catch_unwind().await {
            Ok(result) => {
                let _ = step.reply.send(result.map_err(|error| match error {
                    Injected::Fault(fault) => StepError::Fault(fault),
                    Injected::Call(error) => error,
                }));
                Ok(())
            }
            // Tell the caller that its own step crashed the agent, so a lost
            // step is never mistaken for collateral damage; then crash.
            Err(panic) => {
                let _ = step.reply.send(Err(StepError::Crashed));
                std::panic::resume_unwind(panic)
            }
        }
    }
}

/// The calling side of one tree: where each agent is, and what was lost.
struct Lane {
    root: SupervisorRef,
    /// The supervisor of each agent, by role.
    parent: HashMap<&'static str, &'static str>,
    agents: Mutex<HashMap<&'static str, ChildRef<Step>>>,
    /// One sender at a time per agent, first come first served. Callers
    /// waiting on one `ChildRef` for a restart would be woken in a random
    /// order (tokio's watch channel spreads its waiters over shards at
    /// random), and the run would no longer replay exactly.
    turns: HashMap<&'static str, tokio::sync::Mutex<()>>,
    disturbed: Mutex<BTreeSet<u64>>,
    policy: Pipeline,
    ledger: Ledger,
}

impl Lane {
    /// The agent's reference. One taken from a supervisor dies with it, so
    /// after that supervisor was restarted, look the agent up again.
    async fn agent(&self, role: &'static str) -> Result<ChildRef<Step>, StepError> {
        if let Some(agent) = hale::util::lock(&self.agents).get(role) {
            return Ok(agent.clone());
        }
        let parent = self.parent.get(role).ok_or(StepError::Unreachable)?;
        let supervisor = self.root.child_supervisor(parent).await;
        let agent = supervisor
            .map_err(|_| StepError::Unreachable)?
            .child_ref(role)
            .await;
        let agent = agent.map_err(|_| StepError::Unreachable)?;
        let mut agents = hale::util::lock(&self.agents);
        agents.insert(role, agent.clone());
        Ok(agent)
    }

    async fn step(&self, role: &'static str, item: u64, attempt: u32) -> Result<(), StepError> {
        let agent = self.agent(role).await?;
        let (reply, answer) = tokio::sync::oneshot::channel();
        let step = Step {
            item,
            attempt,
            reply: reply.into(),
        };
        let turn = self.turns.get(role).ok_or(StepError::Unreachable)?.lock().await;
        let sent = agent.send_within(step, Duration::from_secs(5)).await;
        drop(turn);
        match sent {
            Ok(()) => {}
            Err(ChildRefError::Removed { .. }) => {
                let mut agents = hale::util::lock(&self.agents);
                agents.remove(role);
                return Err(StepError::Unreachable);
            }
            Err(_) => return Err(StepError::Unreachable),
        }
        answer.await.unwrap_or_else(|_| {
            // The reply was dropped unanswered: the agent was stopped, or
            // died of another step, with this one in hand or in its mailbox.
            hale::util::lock(&self.disturbed).insert(item);
            Err(StepError::Down)
        })
    }

    /// Item `item` through its team's agents, each step retried.
    async fn process(&self, item: u64) {
        let (_, roles) = TEAMS[(item % TEAMS.len() as u64) as usize];
        let mut outcome = Outcome::Completed;
        for role in roles {
            let attempts = AtomicU32::new(0);
            let step = || self.step(role, item, attempts.fetch_add(1, Ordering::Relaxed));
            if self.policy.call(step).await.is_err() {
                outcome = Outcome::DeadLettered;
                break;
            }
        }
        self.ledger.settle(item, outcome);
    }
}

/// How far failures reached in one tree, counted from its healing events.
#[derive(Debug, Default)]
struct Blast {
    /// Agents that crashed or failed by themselves.
    failures: u64,
    /// Agent starts after the first: restarts by the strategy, and fresh
    /// starts under a supervisor that was itself restarted.
    restarts: u64,
    started: HashSet<ChildPath>,
}

impl Blast {
    /// Counts every event the stream holds; fails if the stream fell so far
    /// behind that it missed some (the counts would be wrong).
    fn count(mut self, events: &mut EventStream) -> Result<Self, String> {
        let is_agent = |path: &ChildPath| TEAMS.iter().any(|(_, roles)| roles.contains(&path.leaf()));
        for event in events.drain() {
            if !is_agent(&event.path) {
                continue;
            }
            match event.kind {
                HealingEventKind::ChildExited { reason, .. } if !reason.is_normal() => self.failures += 1,
                // An agent's first start is its boot; every later one counts.
                HealingEventKind::ChildStarted | HealingEventKind::ChildRestarted { .. } => {
                    self.restarts += u64::from(!self.started.insert(event.path));
                }
                _ => {}
            }
        }
        match events.missed() {
            0 => Ok(self),
            missed => Err(format!("the blast count missed {missed} healing events")),
        }
    }
}

fn agent(role: &'static str, run: &ChaosRun) -> ChildSpec {
    let agent = Agent {
        role,
        injector: run.injector().clone(),
    };
    // A stopped agent gets 100 ms to finish the step in hand.
    ChildSpec::actor(role, agent, ()).shutdown(Shutdown::Timeout(Duration::from_millis(100)))
}

/// Both trees' supervisors: at most 5 restarts in 10 s; the root above them
/// restarts one that gives up.
fn supervisor(name: &'static str, strategy: Strategy) -> SupervisorSpec {
    SupervisorSpec::new(name)
        .strategy(strategy)
        .intensity(5)
        .period(Duration::from_secs(10))
}

fn flat(run: &ChaosRun) -> (SupervisorSpec, HashMap<&'static str, &'static str>) {
    let roles = TEAMS.iter().flat_map(|(_, roles)| *roles);
    let agents =
        supervisor("agents", Strategy::OneForAll).children(roles.clone().map(|role| agent(role, run)));
    let root = SupervisorSpec::new("flat")
        .intensity(10)
        .period(Duration::from_secs(10));
    (
        root.child(ChildSpec::supervisor(agents)),
        roles.map(|role| (role, "agents")).collect(),
    )
}

fn tiered(run: &ChaosRun) -> (SupervisorSpec, HashMap<&'static str, &'static str>) {
    let teams = TEAMS.map(|(team, roles)| {
        let team = supervisor(team, Strategy::RestForOne).children(roles.map(|role| agent(role, run)));
        ChildSpec::supervisor(team)
    });
    let root = SupervisorSpec::new("tiered")
        .intensity(10)
        .period(Duration::from_secs(10));
    let parents = TEAMS
        .iter()
        .flat_map(|(team, roles)| roles.map(|role| (role, *team)));
    (root.children(teams), parents.collect())
}

/// The fault plan used when no `--plan` file is given: `browse` crashes on
/// 15 % of its steps; every agent, `browse` included, sees rare crashes,
/// errors and slow calls.
fn default_plan(seed: u64) -> FaultPlan {
    let mut plan = FaultPlan::new(seed).rule(FaultRule::new("browse", FaultKind::Panic, 0.15));
    for role in TEAMS.iter().flat_map(|(_, roles)| *roles) {
        let slow = FaultKind::Slow {
            min_ms: 200,
            max_ms: 1_000,
        };
        plan = plan
            .rule(FaultRule::new(role, FaultKind::Panic, 0.01))
            .rule(FaultRule::new(role, FaultKind::Error { retryable: true }, 0.03))
            .rule(FaultRule::new(role, slow, 0.03));
    }
    plan
}

/// Builds and starts one tree under its own chaos run.
async fn start(
    name: &str,
    plan: &FaultPlan,
    seed: u64,
    tree: fn(&ChaosRun) -> (SupervisorSpec, HashMap<&'static str, &'static str>),
) -> Result<(ChaosRun, Arc<Lane>, EventStream), Box<dyn std::error::Error>> {
    let run = ChaosRun::new(name, plan.clone());
    let events = run.healing_events().subscribe();
    let (spec, parent) = tree(&run);
    let root = Supervisor::start(spec.events(run.healing_events())).await?;
    let policy = Pipeline::builder("step")
        .events(run.resilience_events())
        .retry(|retry| {
            retry
                .maximum_attempts(6)
                .initial_interval(Duration::from_millis(100))
                .maximum_interval(Duration::from_secs(2))
                .seed(seed)
        })
        .timeout(Duration::from_secs(2))
        .build()?;
    let lane = Lane {
        root,
        turns: parent
            .keys()
            .map(|role| (*role, tokio::sync::Mutex::default()))
            .collect(),
        parent,
        agents: Mutex::default(),
        disturbed: Mutex::default(),
        policy,
        ledger: run.ledger().clone(),
    };
    Ok((run, Arc::new(lane), events))
}

/// Both reports side by side, blast radius first.
fn compare(reports: [&ChaosReport; 2], blasts: [&Blast; 2], disturbed: [u64; 2]) -> String {
    let line = "─".repeat(66);
    let mut out = vec![
        line.clone(),
        format!(
            " cascade: a flat tree and a tiered one, same faults   seed {}",
            reports[0].seed
        ),
        line.clone(),
        format!("   {:<32} {:>14} {:>14}", "", "flat", "tiered"),
    ];
    let mut row = |name: &str, values: Option<[String; 2]>| match values {
        Some([flat, tiered]) => out.push(format!("   {name:<32} {flat:>14} {tiered:>14}")),
        None => out.push(format!(" {name}")),
    };
    let each = |get: &dyn Fn(usize) -> String| Some([get(0), get(1)]);
    let count = |get: fn(&ChaosReport) -> u64| each(&|i| get(reports[i]).to_string());
    row("blast radius", None);
    row("agent failures", each(&|i| blasts[i].failures.to_string()));
    row("agents restarted", each(&|i| blasts[i].restarts.to_string()));
    let ratio = |i: usize| {
        format!(
            "{:.1}",
            blasts[i].restarts as f64 / blasts[i].failures.max(1) as f64
        )
    };
    row("  per failure", each(&ratio));
    row("supervisors that gave up", count(|r| r.escalations));
    row("items disturbed", each(&|i| disturbed[i].to_string()));
    row("work items", None);
    row("in", count(|r| r.items.submitted));
    row("completed", count(|r| r.items.completed));
    row("dead-lettered", count(|r| r.items.dead_lettered));
    let lost = |i: usize| {
        let r = reports[i];
        let verdict = if r.nothing_lost() { "ok" } else { "FAILED" };
        format!("{} {verdict}", r.items.lost + r.items.miscounted)
    };
    row("lost", each(&lost));
    row("faults injected", None);
    let kinds: BTreeSet<&String> = reports.iter().flat_map(|r| r.faults.keys()).collect();
    for kind in kinds {
        row(
            kind,
            each(&|i| reports[i].faults.get(kind).copied().unwrap_or(0).to_string()),
        );
    }
    row("healing", None);
    row("restarts (supervisors too)", count(|r| r.restarts));
    row("retries", count(|r| r.retries));
    let recover = |i: usize| {
        let p = &reports[i].time_to_recover;
        format!("{:.0} / {:.0} ms", p.p50_ms, p.p99_ms)
    };
    row("time to recover p50 / p99", each(&recover));
    row("run", None);
    row(
        "simulated time",
        each(&|i| format!("{:.1} s", reports[i].duration_ms as f64 / 1e3)),
    );
    row(
        "items per second",
        each(&|i| format!("{:.1}", reports[i].throughput_per_s)),
    );
    row("event log hash", each(&|i| reports[i].event_hash.clone()));
    out.push(line);
    out.join("\n")
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

    let args = RunArgs::from_env(600)?;
    let plan = match &args.plan {
        Some(path) => FaultPlan::from_path(path)?.with_seed(args.seed),
        None => default_plan(args.seed),
    };
    let (flat_run, flat_lane, mut flat_events) = start("cascade (flat)", &plan, args.seed, flat).await?;
    let (tiered_run, tiered_lane, mut tiered_events) =
        start("cascade (tiered)", &plan, args.seed, tiered).await?;

    // The same items, at the same moments, into both trees.
    let begin = Instant::now();
    let mut progress = Progress::new(args.items);
    for item in 0..args.items {
        progress.advance(item);
        tokio::time::sleep_until(begin + Duration::from_millis(item * ARRIVAL_MS)).await;
        for lane in [&flat_lane, &tiered_lane] {
            lane.ledger.submit(item);
            let lane = Arc::clone(lane);
            tokio::spawn(async move { lane.process(item).await });
        }
    }
    progress.advance(args.items);
    let limit = Duration::from_secs(600);
    flat_run.ledger().wait_settled(limit).await;
    tiered_run.ledger().wait_settled(limit).await;

    let mut results = Vec::new();
    for (run, lane, events) in [
        (flat_run, flat_lane, &mut flat_events),
        (tiered_run, tiered_lane, &mut tiered_events),
    ] {
        lane.root.stop(Duration::from_secs(30)).await;
        let blast = Blast::default().count(events)?;
        let disturbed = hale::util::lock(&lane.disturbed).len() as u64;
        results.push((run.finish().await, blast, disturbed));
    }
    let [(flat, flat_blast, flat_hit), (tiered, tiered_blast, tiered_hit)] =
        <[_; 2]>::try_from(results).map_err(|_| "two trees, two results")?;
    println!(
        "{}",
        compare(
            [&flat, &tiered],
            [&flat_blast, &tiered_blast],
            [flat_hit, tiered_hit]
        )
    );
    if let Some(report_file) = args.json {
        let side = |report: &ChaosReport, blast: &Blast, disturbed: u64| {
            serde_json::json!({
                "report": report,
                "blast": {
                    "agent_failures": blast.failures,
                    "agent_restarts": blast.restarts,
                    "items_disturbed": disturbed,
                },
            })
        };
        let json = serde_json::json!({
            "flat": side(&flat, &flat_blast, flat_hit),
            "tiered": side(&tiered, &tiered_blast, tiered_hit),
        });
        report_file.write(&serde_json::to_string_pretty(&json)?)?;
    }
    for report in [&flat, &tiered] {
        if !report.nothing_lost() {
            let lost = report.items.lost + report.items.miscounted;
            return Err(format!("{}: {lost} work items lost", report.scenario).into());
        }
    }
    Ok(())
}
