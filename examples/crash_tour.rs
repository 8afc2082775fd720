//! A small agent tree takes four faults (a panic, an error, a kill, a hang)
//! and heals itself; every line printed is a healing event, and the tour
//! ends with the tree's health snapshot.
//!
//! ```text
//! cargo run --release --example crash_tour
//! ```
//!
//! The tree:
//!
//! ```text
//! root (one_for_one, 5 restarts in 5 s)
//! ├── ingest                         worker
//! ├── pipeline (rest_for_one)        supervisor
//! │   ├── classify                   worker
//! │   └── extract                    worker, watched: a handler may take 200 ms
//! └── jobs (dynamic)                 supervisor
//! ```

use std::process::ExitCode;
use std::time::{Duration, Instant};

use hale::core::{EventStream, Watch};
use hale::prelude::*;
use ractor::{Actor, ActorProcessingErr, ActorRef, RpcReplyPort};

/// The bound on every wait in this program.
const WAIT: Duration = Duration::from_secs(10);

/// What an agent can be asked to do (and, here, how it can be hurt).
enum AgentMsg {
    Work(String, RpcReplyPort<String>),
    Panic,
    Fail,
    Hang,
}

/// An agent that labels the documents it is given.
#[derive(Clone)]
struct Agent {
    role: &'static str,
}

impl Actor for Agent {
    type Msg = AgentMsg;
    type State = u32;
    type Arguments = ();

    async fn pre_start(&self, _: ActorRef<AgentMsg>, _: ()) -> Result<u32, ActorProcessingErr> {
        Ok(0)
    }

    async fn handle(
        &self,
        _: ActorRef<AgentMsg>,
        msg: AgentMsg,
        done: &mut u32,
    ) -> Result<(), ActorProcessingErr> {
        match msg {
            AgentMsg::Work(doc, reply) => {
                *done += 1;
                let _ = reply.send(format!("{doc} ({} #{done})", self.role));
            }
            AgentMsg::Panic => hale::chaos::inject_panic(format!("{} hit a malformed document", self.role)),
            AgentMsg::Fail => return Err(format!("{}: upstream answered 503", self.role).into()),
            // A call that never returns: no crash, just no progress.
            AgentMsg::Hang => std::future::pending::<()>().await,
        }
        Ok(())
    }
}

fn agent(role: &'static str) -> ChildSpec {
    ChildSpec::actor(role, Agent { role }, ())
}

fn describe(event: &HealingEvent) -> String {
    match &event.kind {
        HealingEventKind::SupervisorStarted { children } => format!("supervisor up with {children} children"),
        HealingEventKind::ChildStarted => "started".into(),
        HealingEventKind::ChildExited { reason, will_restart } => {
            format!(
                "exited ({reason}){}",
                if *will_restart { ", restarting" } else { "" }
            )
        }
        HealingEventKind::ChildRestarted { restarts } => format!("restarted (restart #{restarts})"),
        HealingEventKind::ChildStopped { cause, outcome } => format!("stopped ({cause:?}, {outcome:?})"),
        HealingEventKind::SupervisorStopped { reason } => format!("supervisor exited ({reason})"),
        HealingEventKind::HeartbeatMissed { timeout_ms, late_ms } => {
            format!("hung: no progress for {timeout_ms} ms (found {late_ms} ms late)")
        }
        HealingEventKind::HungStopRequested { grace_ms } => format!("asked to stop, {grace_ms} ms grace"),
        HealingEventKind::HungKilled => "did not stop in time: killed".into(),
        other => format!("{other:?}"),
    }
}

/// Sends one document through a stable child reference and prints the answer.
async fn process(
    root: &SupervisorRef,
    pipeline: &SupervisorRef,
    doc: &str,
) -> Result<(), Box<dyn std::error::Error>> {
    for (sup, id) in [(root, "ingest"), (pipeline, "classify"), (pipeline, "extract")] {
        let agent: ChildRef<AgentMsg> = sup.child_ref(id).await?;
        let actor = agent.current().ok_or("agent not running")?;
        let answer = ractor::call_t!(actor, AgentMsg::Work, 1_000, doc.to_owned())?;
        println!(
            "             work      {:<22} {answer}",
            format!("{}/{id}", sup.path())
        );
    }
    Ok(())
}

/// Prints every event up to and including the first one that matches
/// `until`; fails if none arrives within the bound.
async fn show_until(
    stream: &mut EventStream,
    started: Instant,
    until: impl Fn(&HealingEvent) -> bool,
) -> Result<u32, Box<dyn std::error::Error>> {
    let mut restarts = 0;
    loop {
        let event = tokio::time::timeout(WAIT, stream.recv()).await??;
        if matches!(event.kind, HealingEventKind::ChildRestarted { .. }) {
            restarts += 1;
        }
        println!(
            "{:>9.3}ms  event     {:<22} {}",
            started.elapsed().as_secs_f64() * 1e3,
            event.path.to_string(),
            describe(&event)
        );
        if until(&event) {
            return Ok(restarts);
        }
    }
}

fn restarted(path: &'static str) -> impl Fn(&HealingEvent) -> bool {
    move |event| {
        event.path.to_string() == path && matches!(event.kind, HealingEventKind::ChildRestarted { .. })
    }
}

#[tokio::main]
async fn main() -> ExitCode {
    match tour().await {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {error}");
            ExitCode::FAILURE
        }
    }
}

async fn tour() -> Result<(), Box<dyn std::error::Error>> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "error".into()),
        )
        .init();
    // The supervisors catch the tour's panic and report it as an event: keep
    // it off the screen, and show any other panic.
    hale::chaos::silence_injected_panics();

    let events = EventBus::new();
    let mut stream = events.subscribe();
    let started = Instant::now();

    println!("== the tree starts, children in order");
    let root = Supervisor::start(
        SupervisorSpec::new("root")
            .strategy(Strategy::OneForOne)
            .intensity(5)
            .period(Duration::from_secs(5))
            .events(&events)
            .child(agent("ingest"))
            .child(ChildSpec::supervisor(
                SupervisorSpec::new("pipeline")
                    .strategy(Strategy::RestForOne)
                    .intensity(5)
                    .child(agent("classify"))
                    .child(agent("extract").watch(
                        Watch::per_message(Duration::from_millis(200)).grace(Duration::from_millis(100)),
                    )),
            ))
            .child(ChildSpec::dynamic_supervisor(DynamicSupervisorSpec::new("jobs"))),
    )
    .await?;
    let is_root_up = |event: &HealingEvent| {
        event.path.to_string() == "root" && matches!(event.kind, HealingEventKind::SupervisorStarted { .. })
    };
    show_until(&mut stream, started, is_root_up).await?;
    let pipeline = root.child_supervisor("pipeline").await?;

    println!("\n== a document flows through the tree");
    process(&root, &pipeline, "invoice-1").await?;

    let mut restarts = 0;
    println!("\n== fault 1: classify panics (rest_for_one restarts classify and extract)");
    pipeline
        .child_ref::<AgentMsg>("classify")
        .await?
        .send(AgentMsg::Panic)
        .map_err(|e| e.to_string())?;
    restarts += show_until(&mut stream, started, restarted("root/pipeline/extract")).await?;

    println!("\n== fault 2: ingest returns an error (one_for_one restarts ingest alone)");
    root.child_ref::<AgentMsg>("ingest")
        .await?
        .send(AgentMsg::Fail)
        .map_err(|e| e.to_string())?;
    restarts += show_until(&mut stream, started, restarted("root/ingest")).await?;

    println!("\n== fault 3: extract is killed (restarted alone: nothing was started after it)");
    let extract = pipeline.child_ref::<AgentMsg>("extract").await?;
    extract.current().ok_or("extract not running")?.kill();
    restarts += show_until(&mut stream, started, restarted("root/pipeline/extract")).await?;

    println!("\n== fault 4: extract hangs on a call that never returns (the watchdog replaces it)");
    extract.send(AgentMsg::Hang).map_err(|e| e.to_string())?;
    restarts += show_until(&mut stream, started, restarted("root/pipeline/extract")).await?;

    println!("\n== the same stable references reach the new incarnations");
    process(&root, &pipeline, "invoice-2").await?;

    println!("\n== health snapshot");
    for node in root.health().await?.nodes() {
        println!(
            "             {:<26} {:<9} ready={:<5} restarts={} last_exit={}",
            node.path.to_string(),
            format!("{:?}", node.state).to_lowercase(),
            node.ready,
            node.restarts,
            node.last_exit
                .as_ref()
                .map_or("-".to_owned(), ToString::to_string),
        );
    }

    println!("\n== orderly shutdown (reverse start order)");
    let reason = root.stop(WAIT).await;
    let is_root_down = |event: &HealingEvent| {
        event.path.to_string() == "root" && matches!(event.kind, HealingEventKind::SupervisorStopped { .. })
    };
    show_until(&mut stream, started, is_root_down).await?;
    println!(
        "\nroot exited with reason `{reason}`; {restarts} restarts healed 4 injected faults; nothing left running."
    );
    Ok(())
}
