//! Chaos example 3: route fallback, with the primary's API key expiring
//! mid-run.
//!
//! ```text
//! cargo run --release --example route_fallback -- [--seed N] [--items N] [--plan FILE] [--json FILE] [--trace FILE]
//! ```
//!
//! A story from the field: a dispatch service asks a routing API for every
//! trip. Halfway through the shift the primary API's key expires and nobody
//! rotates it; later the secondary API has an outage of its own. Every
//! request goes down a fallback chain:
//!
//! ```text
//! primary API ──fail──▶ secondary API ──fail──▶ distance heuristic ──fail──▶ human queue
//! (breaker, retry,      (its own breaker,       (local: straight line        (a dispatcher
//!  timeout)              retry, timeout)         × 1.3, trips ≤ 500 km)        plans it)
//! ```
//!
//! An expired key is not retryable: each call fails at once, the primary's
//! breaker opens after a few of them and from then on the primary costs a
//! request nothing; every half-open trial finds the key still expired and
//! opens it again. Around that, a seeded fault plan adds slow answers,
//! retryable errors, client crashes (a malformed answer crashes the parser)
//! and random kills of the API clients.
//!
//! Requests arrive every 500 ms (simulated). An answer from either API
//! completes a request, the heuristic's estimate degrades it, the human
//! queue escalates it. The report says which alternative served how many,
//! and those counts must add up with the ledger, or the run fails.
//!
//! ```text
//! root (one_for_one)
//! └── routing (one_for_one, 20 restarts in 10 s)
//!     ├── primary     client of the primary routing API, restart backoff
//!     └── secondary   client of the secondary routing API
//! ```

use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use hale::chaos::{
    ChaosRun, FaultError, FaultKind, FaultPlan, FaultRule, Injected, Injector, Outcome, spawn_killer,
};
use hale::core::{ChildRef, RestartBackoff};
use hale::prelude::*;
use hale::resilience::{AnsweredBy, ConfigError, ErrorClass, Escalation, FallbackChain, Pipeline};
use ractor::{Actor, ActorProcessingErr, ActorRef, RpcReplyPort};
use tokio::time::Instant;
use tracing::Instrument;

#[path = "support/cli.rs"]
mod cli;
use cli::{Progress, RunArgs, TRACE};
#[path = "support/tracing.rs"]
mod traces;

/// Time between two requests.
const ARRIVAL_MS: u64 = 500;
/// Beyond this the straight-line estimate is too rough to quote.
const HEURISTIC_MAX_KM: u64 = 500;

/// A trip to route.
#[derive(Clone, Debug)]
struct Trip {
    id: u64,
    /// Straight-line distance, 5 to 800 km.
    km: u64,
}

impl Trip {
    fn new(id: u64, seed: u64) -> Self {
        // A cheap stable mix: the same seed gives the same trips.
        let mix = (id ^ seed).wrapping_mul(0x9E37_79B9_7F4A_7C15).rotate_left(23);
        Self {
            id,
            km: 5 + mix % 796,
        }
    }
}

/// Why a routing call failed.
#[derive(Clone, Debug, thiserror::Error)]
enum RouteError {
    #[error("{0}")]
    Fault(FaultError),
    #[error("the API client went down during the call")]
    ClientDown,
    #[error("too far for a straight-line estimate")]
    TooFar,
}

impl ErrorClass for RouteError {
    fn is_retryable(&self) -> bool {
        match self {
            // An expired key is a fatal fault: retrying cannot help.
            Self::Fault(fault) => fault.retryable,
            Self::ClientDown => true,
            Self::TooFar => false,
        }
    }
    // Every failure counts against the breaker, the expired key included:
    // a dependency that fails every call should not be called.
}

impl From<Injected<RouteError>> for RouteError {
    fn from(injected: Injected<RouteError>) -> Self {
        match injected {
            Injected::Fault(fault) => Self::Fault(fault),
            Injected::Call(error) => error,
        }
    }
}

/// A request to an API client: attempt `attempt` at routing `trip`.
struct Query {
    trip: Trip,
    attempt: u32,
    reply: RpcReplyPort<Result<String, RouteError>>,
    /// The step that sent it: the client works inside it.
    span: tracing::Span,
}

/// A supervised client of one routing API. The API call is simulated: a
/// latency that grows with the distance, under the fault plan's injector.
#[derive(Clone)]
struct ApiClient {
    api: &'static str,
    base_ms: u64,
    injector: Injector,
}

impl Actor for ApiClient {
    type Msg = Query;
    type State = ();
    type Arguments = ();

    async fn pre_start(&self, _: ActorRef<Query>, _: ()) -> Result<(), ActorProcessingErr> {
        Ok(())
    }

    async fn handle(&self, _: ActorRef<Query>, query: Query, _: &mut ()) -> Result<(), ActorProcessingErr> {
        let (api, trip) = (self.api, &query.trip);
        let latency = Duration::from_millis(self.base_ms + trip.km / 5);
        let call = || async move {
            tokio::time::sleep(latency).await;
            Ok(format!("{} km by road, from {api}", trip.km * 13 / 10))
        };
        let span = traces::handler_span(&query.span, trip.id, api, query.attempt);
        let answer = self
            .injector
            .inject(api, trip.id, query.attempt, call, |route| route)
            .instrument(span.clone())
            .await
            .map_err(RouteError::from);
        traces::record_result(&span, &answer);
        let _ = query.reply.send(answer);
        Ok(())
    }
}

/// Calls an API client through its stable reference, counting attempts so
/// the fault plan sees attempt 0, 1, 2... of the run's calls to that API.
#[derive(Clone)]
struct Api {
    client: ChildRef<Query>,
    attempts: Arc<AtomicU32>,
}

impl Api {
    async fn route(&self, trip: Trip) -> Result<String, RouteError> {
        let attempt = self.attempts.fetch_add(1, Ordering::Relaxed);
        let (reply, answer) = tokio::sync::oneshot::channel();
        let query = Query {
            trip,
            attempt,
            reply: reply.into(),
            span: tracing::Span::current(),
        };
        // While the client restarts, wait for its next incarnation (bounded).
        self.client
            .send_within(query, Duration::from_secs(5))
            .await
            .map_err(|_| RouteError::ClientDown)?;
        // A dropped reply means the client died with the call: retryable.
        answer.await.map_err(|_| RouteError::ClientDown)?
    }
}

/// The fault plan used when no `--plan` file is given, for a run of
/// `run_ms` (simulated).
fn default_plan(seed: u64, run_ms: u64) -> FaultPlan {
    let retryable = FaultKind::Error { retryable: true };
    let slow = FaultKind::Slow {
        min_ms: 300,
        max_ms: 1_500,
    };
    FaultPlan::new(seed)
        // Halfway through, the primary's key expires, to the end of the run.
        // First rule: from then on it decides every call to the primary.
        .rule(
            FaultRule::new("primary", FaultKind::Error { retryable: false }, 1.0)
                .during(run_ms / 2, u64::MAX),
        )
        .rule(FaultRule::new("primary", slow.clone(), 0.05))
        .rule(FaultRule::new("primary", retryable.clone(), 0.05))
        .rule(FaultRule::new("primary", FaultKind::Panic, 0.005))
        // Later the secondary is down too, for 15 % of the run: both APIs
        // fail, and the heuristic and the humans carry the load.
        .rule(
            FaultRule::new("secondary", FaultKind::Outage, 1.0).during(run_ms * 65 / 100, run_ms * 80 / 100),
        )
        .rule(FaultRule::new("secondary", slow, 0.05))
        .rule(FaultRule::new("secondary", retryable, 0.05))
        .rule(FaultRule::new("secondary", FaultKind::Panic, 0.005))
        .kill_every(45_000, Some(4))
}

/// An API's policies: a breaker around a retry around a per-attempt
/// timeout, with its events in the run's report.
fn api_pipeline(
    api: &str,
    attempts: u32,
    timeout_ms: u64,
    seed: u64,
    run: &ChaosRun,
) -> Result<Pipeline, ConfigError> {
    Pipeline::builder(api.to_owned())
        .events(run.resilience_events())
        .circuit_breaker(|breaker| {
            breaker
                .count_window(20)
                .minimum_calls(10)
                .failure_rate_threshold(50.0)
                .half_open_calls(3)
                .wait_in_open(Duration::from_secs(10))
        })
        .retry(|retry| {
            retry
                .maximum_attempts(attempts)
                .initial_interval(Duration::from_millis(50))
                .maximum_interval(Duration::from_secs(1))
                .seed(seed)
        })
        .timeout(Duration::from_millis(timeout_ms))
        .build()
}

#[tokio::main(flavor = "current_thread", start_paused = true)]
async fn main() -> ExitCode {
    cli::exit_code(run().await)
}

async fn run() -> Result<(), Box<dyn std::error::Error>> {
    let args = RunArgs::from_env_with(600, &[TRACE])?;
    let trace = traces::install(args.extra(TRACE.name))?;
    // Injected panics are healed and counted: keep them off the screen, and
    // show any other panic.
    hale::chaos::silence_injected_panics();

    let plan = match &args.plan {
        Some(path) => FaultPlan::from_path(path)?.with_seed(args.seed),
        None => default_plan(args.seed, args.items * ARRIVAL_MS),
    };
    let run = ChaosRun::new("route_fallback", plan.clone());
    let seed = args.seed;

    let client = |api: &'static str, base_ms: u64| {
        let client = ApiClient {
            api,
            base_ms,
            injector: run.injector().clone(),
        };
        ChildSpec::actor(api, client, ())
            .backoff(RestartBackoff::new(Duration::from_millis(10), Duration::from_millis(500)).seed(seed))
    };
    let root = Supervisor::start(
        SupervisorSpec::new("root")
            .events(run.healing_events())
            .child(ChildSpec::supervisor(
                SupervisorSpec::new("routing")
                    .intensity(20)
                    .period(Duration::from_secs(10))
                    .child(client("primary", 80))
                    .child(client("secondary", 150)),
            )),
    )
    .await?;
    let routing = root.child_supervisor("routing").await?;
    let (primary, secondary) = (
        Api {
            client: routing.child_ref("primary").await?,
            attempts: Arc::default(),
        },
        Api {
            client: routing.child_ref("secondary").await?,
            attempts: Arc::default(),
        },
    );
    let killer = plan
        .kills
        .clone()
        .map(|kills| spawn_killer(root.clone(), kills, run.injector().clone()));

    // The chain. The primary is fast: a short timeout, three attempts; the
    // secondary is slower: a longer timeout, two attempts.
    let primary_policy = api_pipeline("primary", 3, 600, seed, &run)?;
    let secondary_policy = api_pipeline("secondary", 2, 1_000, seed ^ 1, &run)?;
    let routes = FallbackChain::builder("routes")
        .alternative_via("primary", &primary_policy, move |trip: Trip| {
            let primary = primary.clone();
            async move { primary.route(trip).await }
        })
        .alternative_via("secondary", &secondary_policy, move |trip: Trip| {
            let secondary = secondary.clone();
            async move { secondary.route(trip).await }
        })
        .alternative("heuristic", |trip: Trip| async move {
            if trip.km > HEURISTIC_MAX_KM {
                return Err(RouteError::TooFar);
            }
            Ok(format!("about {} km (estimate)", trip.km * 13 / 10))
        })
        .events(run.resilience_events())
        .escalate(|escalation: Escalation<'_, Trip, RouteError>| {
            let id = escalation.input.id;
            async move { Ok(format!("trip #{id} queued for a dispatcher")) }
        })?;

    // The requests, on a fixed schedule: request i arrives at i × 500 ms,
    // or at once if the previous one ran late.
    let notes = run.notes();
    let mut served = [0u64; 4];
    let start = Instant::now();
    let mut progress = Progress::new(args.items);
    for id in 0..args.items {
        progress.advance(id);
        tokio::time::sleep_until(start + Duration::from_millis(id * ARRIVAL_MS)).await;
        run.ledger().submit(id);
        let item = traces::item_span("trip", id);
        let (by, outcome) = match traces::step(&item, id, "route", routes.call(Trip::new(id, seed))).await {
            Ok(answer) => match answer.answered_by {
                AnsweredBy::Alternative { index, .. } if index < 2 => (index, Outcome::Completed),
                AnsweredBy::Alternative { .. } => (2, Outcome::Degraded),
                AnsweredBy::Escalation => (3, Outcome::Escalated),
            },
            // The human queue never refuses; if it did, the trip would wait
            // in the dead-letter queue.
            Err(_) => {
                traces::settle(&item, Outcome::DeadLettered);
                run.ledger().settle(id, Outcome::DeadLettered);
                continue;
            }
        };
        served[by] += 1;
        traces::settle(&item, outcome);
        run.ledger().settle(id, outcome);
    }
    progress.advance(args.items);

    if let Some(killer) = killer {
        killer.abort();
    }
    root.stop(Duration::from_secs(30)).await;
    let names = [
        "served by primary",
        "served by secondary",
        "served by heuristic",
        "served by human queue",
    ];
    for (name, count) in names.iter().zip(served) {
        notes.add(name, count);
    }
    // What the breaker saved: calls to the primary never made.
    let skipped = primary_policy.circuit_breaker().map_or(0, |b| b.stats().rejected);
    notes.add("primary calls skipped", skipped);
    let report = run.finish().await;
    println!("{report}");
    if let Some(json) = args.json {
        json.write(&serde_json::to_string_pretty(&report)?)?;
    }
    if let Some(trace) = trace {
        eprintln!("trace: {} spans written", trace.finish()?);
    }
    if !report.nothing_lost() {
        return Err(format!("{} work items lost", report.items.lost + report.items.miscounted).into());
    }
    let items = &report.items;
    if [served[0] + served[1], served[2], served[3]] != [items.completed, items.degraded, items.escalated] {
        return Err(format!("served {served:?} does not add up with the ledger {items:?}").into());
    }
    Ok(())
}
