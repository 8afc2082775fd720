//! Chaos example 1, the README's main job: a document pipeline under fire.
//!
//! ```text
//! cargo run --release --example document_pipeline -- [--seed N] [--items N] [--plan FILE] [--json FILE] [--store FILE] [--serve 127.0.0.1:PORT] [--trace FILE]
//! ```
//!
//! Documents go through four agents: classify, extract (an LLM-like call,
//! with a fallback to a local model and, past that, a human), validate and
//! store. The agents run under a supervisor, each watched for hangs; every
//! call to them goes through resilience policies (timeout inside retry
//! inside a circuit breaker for the LLM). A seeded fault plan hits them
//! with panics, errors, hangs, slow and corrupt answers, a storage outage and
//! random kills. At the end every document is accounted for, or the run
//! fails.
//!
//! The run uses tokio's paused clock: about ten simulated minutes take a
//! moment, and the same seed gives the same run, down to the event-log hash.
//!
//! Each document is one trace: a span per step, carried in the message to
//! the stage agent, whose handler works inside it; `--trace FILE` writes the
//! spans as JSON lines (`support/tracing.rs`).
//!
//! A stage agent whose handler fails is restarted in place: the job it
//! failed on is dead-lettered (the report counts them) and the jobs queued
//! behind it are handled by its next incarnation, not lost with its mailbox.
//!
//! ```text
//! root (one_for_one)
//! └── stages (one_for_one, 100 restarts in 10 s)
//!     ├── classify     watched per message, restart backoff, in place
//!     ├── extract      (the LLM caller)
//!     ├── validate
//!     └── store
//! ```

use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use hale::chaos::{
    ChaosRun, FaultError, FaultKind, FaultPlan, FaultRule, Injected, Injector, Outcome, spawn_killer,
};
use hale::core::{ChildRef, DeadLetterSink, RestartBackoff, Watch};
use hale::prelude::*;
use hale::resilience::{AnsweredBy, ErrorClass, Escalation, FallbackChain, Pipeline, RetryConfig};
use ractor::{Actor, ActorProcessingErr, ActorRef, RpcReplyPort};
use tracing::Instrument;

#[path = "support/cli.rs"]
mod cli;
use cli::{ExtraOption, Progress, RunArgs, TRACE};
#[path = "support/durable_pipeline.rs"]
mod durable_pipeline;
#[path = "support/serve.rs"]
mod serve;
#[path = "support/tracing.rs"]
mod traces;

/// `--store FILE`: the durable mode.
const STORE: ExtraOption = ExtraOption {
    name: "--store",
    value: "FILE",
    help: "keep the run's state in this SQLite file; run again after a crash to resume",
};

/// `--serve ADDR`: the operator surface, live while the run goes on.
const SERVE: ExtraOption = ExtraOption {
    name: "--serve",
    value: "ADDR",
    help: "serve the live tree page, /metrics, /livez, /readyz and /events on ADDR (127.0.0.1:9090); the run then takes real time",
};

/// A document: its size decides how long extraction takes.
#[derive(Clone, Debug)]
struct Doc {
    id: u64,
    pages: u64,
    /// Some documents do not match the schema: validation rejects them.
    schema_ok: bool,
}

impl Doc {
    fn new(id: u64, seed: u64) -> Self {
        // A cheap stable mix: the same seed gives the same documents.
        let mix = (id ^ seed).wrapping_mul(0x9E37_79B9_7F4A_7C15).rotate_left(17);
        Self {
            id,
            pages: 1 + mix % 100,
            schema_ok: !mix.is_multiple_of(31),
        }
    }
}

/// Why a stage call failed.
#[derive(Clone, Debug, thiserror::Error)]
enum StageError {
    #[error("{0}")]
    Fault(FaultError),
    #[error("the agent went down while handling the call")]
    AgentDown,
    #[error("schema mismatch")]
    Schema,
    #[error("too large for the local model")]
    TooLarge,
}

impl ErrorClass for StageError {
    fn is_retryable(&self) -> bool {
        match self {
            Self::Fault(fault) => fault.retryable,
            Self::AgentDown => true,
            Self::Schema | Self::TooLarge => false,
        }
    }
}

impl From<Injected<StageError>> for StageError {
    fn from(injected: Injected<StageError>) -> Self {
        match injected {
            Injected::Fault(fault) => Self::Fault(fault),
            Injected::Call(error) => error,
        }
    }
}

/// A request to a stage agent: attempt `attempt` at document `doc`.
struct Job {
    doc: Doc,
    input: String,
    attempt: u32,
    reply: RpcReplyPort<Result<String, StageError>>,
    /// The step that sent it: the handler works inside it.
    span: tracing::Span,
}

/// One stage of the pipeline, as a supervised agent. Its external call is
/// simulated: a delay, then a result, under the fault plan's injector.
#[derive(Clone)]
struct StageAgent {
    stage: &'static str,
    injector: Injector,
}

impl StageAgent {
    async fn work(&self, doc: &Doc, input: &str, attempt: u32) -> Result<String, StageError> {
        let (site, latency_ms) = match self.stage {
            "classify" => ("classify", 20),
            "extract" => ("llm", 8 * doc.pages),
            "validate" => ("validate", 10),
            _ => ("storage", 25),
        };
        let stage = self.stage;
        let call = || async move {
            tokio::time::sleep(Duration::from_millis(latency_ms)).await;
            match stage {
                "classify" => Ok(if doc.pages > 50 { "report" } else { "letter" }.to_owned()),
                "extract" => Ok(format!("fields of #{} ({} pages)", doc.id, doc.pages)),
                // Validation catches both schema mismatches and corrupt
                // extractions.
                "validate" if !doc.schema_ok || input.contains("<garbled>") => Err(StageError::Schema),
                _ => Ok(input.to_owned()),
            }
        };
        let garble = |_: String| "<garbled>".to_owned();
        Ok(self.injector.inject(site, doc.id, attempt, call, garble).await?)
    }
}

impl Actor for StageAgent {
    type Msg = Job;
    type State = ();
    type Arguments = ();

    async fn pre_start(&self, _: ActorRef<Job>, _: ()) -> Result<(), ActorProcessingErr> {
        Ok(())
    }

    async fn handle(&self, _: ActorRef<Job>, job: Job, _: &mut ()) -> Result<(), ActorProcessingErr> {
        let span = traces::handler_span(&job.span, job.doc.id, self.stage, job.attempt);
        let result = self
            .work(&job.doc, &job.input, job.attempt)
            .instrument(span.clone())
            .await;
        traces::record_result(&span, &result);
        let _ = job.reply.send(result);
        Ok(())
    }
}

/// Calls a stage agent through its stable reference, counting attempts so
/// the fault plan sees attempt 0, 1, 2... of each document.
#[derive(Clone)]
struct Stage {
    agent: ChildRef<Job>,
    attempts: Arc<AtomicU32>,
}

impl Stage {
    async fn ask(&self, doc: &Doc, input: &str) -> Result<String, StageError> {
        let attempt = self.attempts.fetch_add(1, Ordering::Relaxed);
        let (reply, answer) = tokio::sync::oneshot::channel();
        let job = Job {
            doc: doc.clone(),
            input: input.to_owned(),
            attempt,
            reply: reply.into(),
            span: tracing::Span::current(),
        };
        // While the agent restarts, wait for its next incarnation (bounded).
        self.agent
            .send_within(job, Duration::from_secs(5))
            .await
            .map_err(|_| StageError::AgentDown)?;
        // A dropped reply means the agent died with the job: retryable.
        answer.await.map_err(|_| StageError::AgentDown)?
    }
}

/// The fault plan used when no `--plan` file is given.
fn default_plan(seed: u64) -> FaultPlan {
    FaultPlan::new(seed)
        .rule(FaultRule::new("classify", FaultKind::Panic, 0.03))
        .rule(FaultRule::new("llm", FaultKind::Hang, 0.01).max_count(6))
        // The LLM provider answers 503 for 20 s: the breaker opens and the
        // local model takes over.
        .rule(FaultRule::new("llm", FaultKind::Outage, 1.0).during(200_000, 220_000))
        .rule(FaultRule::new("llm", FaultKind::Error { retryable: true }, 0.10))
        .rule(FaultRule::new(
            "llm",
            FaultKind::Slow {
                min_ms: 100,
                max_ms: 900,
            },
            0.08,
        ))
        .rule(FaultRule::new("llm", FaultKind::Corrupt, 0.02))
        .rule(FaultRule::new(
            "validate",
            FaultKind::Error { retryable: true },
            0.05,
        ))
        // The storage pool runs dry for half a minute.
        .rule(FaultRule::new("storage", FaultKind::Outage, 1.0).during(120_000, 150_000))
        .rule(FaultRule::new(
            "storage",
            FaultKind::Error { retryable: true },
            0.03,
        ))
        .kill_every(30_000, Some(12))
}

#[tokio::main(flavor = "current_thread", start_paused = true)]
async fn main() -> ExitCode {
    cli::exit_code(run().await)
}

async fn run() -> Result<(), Box<dyn std::error::Error>> {
    let args = RunArgs::from_env_with(400, &[STORE, SERVE, TRACE])?;
    let trace = traces::install(args.extra(TRACE.name))?;
    // Injected panics are healed by the supervisors and counted in the
    // report: keep them off the screen, and show any other panic.
    hale::chaos::silence_injected_panics();

    let durable_store = args.extra(STORE.name).map(std::path::PathBuf::from);
    let serve_at = serve::address(args.extra(SERVE.name))?;
    let plan = match &args.plan {
        Some(path) => FaultPlan::from_path(path)?.with_seed(args.seed),
        None => default_plan(args.seed),
    };
    let run = ChaosRun::new("document_pipeline", plan.clone());
    let seed = args.seed;

    // The tree: four stage agents, each watched and restarted with backoff,
    // in place: a job that crashes an agent is dead-lettered (counted in the
    // report; its caller, whose reply was dropped, retries it), and the jobs
    // queued behind it are handled by the restarted agent instead of lost.
    let dead_letters = run.notes();
    let stage_spec = |stage: &'static str| {
        let agent = StageAgent {
            stage,
            injector: run.injector().clone(),
        };
        let dead_letters = dead_letters.clone();
        ChildSpec::actor(stage, agent, ())
            .watch(Watch::per_message(Duration::from_secs(3)).grace(Duration::from_millis(200)))
            .backoff(RestartBackoff::new(Duration::from_millis(10), Duration::from_millis(500)).seed(seed))
            .dead_letters(DeadLetterSink::<Job>::callback(move |_| {
                dead_letters.bump("poison messages dead-lettered");
            }))
    };
    let root = Supervisor::start(
        SupervisorSpec::new("root")
            .events(run.healing_events())
            .child(ChildSpec::supervisor(
                SupervisorSpec::new("stages")
                    .intensity(100)
                    .period(Duration::from_secs(10))
                    .children(["classify", "extract", "validate", "store"].map(stage_spec)),
            )),
    )
    .await?;
    let serving = serve::start(serve_at, &root, &run).await?;
    let stages = root.child_supervisor("stages").await?;
    let stage = |id: &'static str| {
        let stages = stages.clone();
        async move {
            Ok::<_, Box<dyn std::error::Error>>(Stage {
                agent: stages.child_ref(id).await?,
                attempts: Arc::default(),
            })
        }
    };
    let (classify, extract, validate, store) = (
        stage("classify").await?,
        stage("extract").await?,
        stage("validate").await?,
        stage("store").await?,
    );
    let killer = plan
        .kills
        .clone()
        .map(|kills| spawn_killer(root.clone(), kills, run.injector().clone()));

    // The policies around each call, reporting to the run. The stages'
    // retries share their backoff.
    let events = run.resilience_events();
    let backoff = RetryConfig {
        initial_interval: Duration::from_millis(50),
        maximum_interval: Some(Duration::from_secs(2)),
        seed: Some(seed),
        ..RetryConfig::default()
    };
    let classify_policy = Pipeline::builder("classify")
        .events(events)
        .retry(|retry| retry.config(backoff.clone()).maximum_attempts(3))
        .timeout(Duration::from_millis(1_000))
        .build()?;
    let llm = Pipeline::builder("llm")
        .events(events)
        .circuit_breaker(|breaker| {
            breaker
                .count_window(20)
                .minimum_calls(10)
                .failure_rate_threshold(50.0)
                .wait_in_open(Duration::from_secs(5))
        })
        .retry(|retry| retry.config(backoff.clone()).maximum_attempts(3))
        .timeout(Duration::from_millis(900))
        .build()?;
    let human_queue = run.notes();
    let extraction = {
        let extract = extract.clone();
        FallbackChain::builder("extraction")
            .alternative_via("llm", &llm, move |doc: Doc| {
                let extract = extract.clone();
                async move { extract.ask(&doc, "").await }
            })
            .alternative("local-model", |doc: Doc| async move {
                // Smaller and on this machine: slower per page, and it gives
                // up on very large documents.
                tokio::time::sleep(Duration::from_millis(3 * doc.pages)).await;
                if doc.pages > 90 {
                    return Err(StageError::TooLarge);
                }
                Ok(format!("rough fields of #{}", doc.id))
            })
            .events(run.resilience_events())
            .escalate(move |escalation: Escalation<'_, Doc, StageError>| {
                human_queue.bump("queued for a human");
                let id = escalation.input.id;
                async move { Ok(format!("human will extract #{id}")) }
            })?
    };
    let validate_policy = Pipeline::builder("validate")
        .events(events)
        .retry(|retry| retry.config(backoff.clone()).maximum_attempts(4))
        .timeout(Duration::from_millis(1_000))
        .build()?;
    let store_policy = Pipeline::builder("storage")
        .events(events)
        .retry(|retry| {
            retry
                .unlimited_attempts()
                .initial_interval(Duration::from_millis(200))
                .maximum_interval(Duration::from_secs(3))
                .deadline(Duration::from_secs(60))
                .seed(seed)
        })
        .timeout(Duration::from_millis(1_000))
        .build()?;

    // The documents, one after another (in durable mode, as workflows).
    let notes = run.notes();
    let mut progress = Progress::new(args.items);
    let durable = match &durable_store {
        Some(path) => Some(
            durable_pipeline::process(
                path,
                &args,
                run.ledger(),
                durable_pipeline::Stages {
                    classify: (classify.clone(), classify_policy.clone()),
                    extraction: extraction.clone(),
                    validate: (validate.clone(), validate_policy.clone()),
                    store: (store.clone(), store_policy.clone()),
                    notes: notes.clone(),
                },
            )
            .await?,
        ),
        None => None,
    };
    for id in 0..if durable.is_some() { 0 } else { args.items } {
        progress.advance(id);
        let doc = Doc::new(id, seed);
        run.ledger().submit(id);
        let item = traces::item_span("document", id);
        let settle = |outcome: Outcome| {
            traces::settle(&item, outcome);
            run.ledger().settle(id, outcome);
        };
        let mut degraded = false;
        let classified = traces::step(
            &item,
            id,
            "classify",
            classify_policy.call(|| classify.ask(&doc, "")),
        );
        let label = match classified.await {
            Ok(label) => label,
            Err(_) => {
                // Classification is optional: its neutral default is "unsorted".
                degraded = true;
                notes.bump("classification defaulted");
                "unsorted".to_owned()
            }
        };
        let fields = match traces::step(&item, id, "extract", extraction.call(doc.clone())).await {
            Ok(answer) => match answer.answered_by {
                AnsweredBy::Alternative { index: 0, .. } => answer.value,
                AnsweredBy::Alternative { .. } => {
                    degraded = true;
                    notes.bump("extracted by local model");
                    answer.value
                }
                _ => {
                    settle(Outcome::Escalated);
                    continue;
                }
            },
            Err(_) => {
                settle(Outcome::DeadLettered);
                continue;
            }
        };
        let record = format!("{label}: {fields}");
        let stored = match traces::step(
            &item,
            id,
            "validate",
            validate_policy.call(|| validate.ask(&doc, &record)),
        )
        .await
        {
            Ok(valid) => traces::step(&item, id, "store", store_policy.call(|| store.ask(&doc, &valid)))
                .await
                .is_ok(),
            Err(_) => false,
        };
        let outcome = match (stored, degraded) {
            (false, _) => Outcome::DeadLettered,
            (true, true) => Outcome::Degraded,
            (true, false) => Outcome::Completed,
        };
        settle(outcome);
    }

    progress.advance(args.items);

    if let Some(killer) = killer {
        killer.abort();
    }
    serve::stop(serving).await;
    root.stop(Duration::from_secs(30)).await;
    let report = run.finish().await;
    println!("{report}");
    if let Some(summary) = &durable {
        println!("{summary}");
    }
    if let Some(json) = args.json {
        json.write(&serde_json::to_string_pretty(&report)?)?;
    }
    if let Some(trace) = trace {
        eprintln!("trace: {} spans written", trace.finish()?);
    }
    if !report.nothing_lost() {
        return Err(format!("{} work items lost", report.items.lost + report.items.miscounted).into());
    }
    Ok(())
}
