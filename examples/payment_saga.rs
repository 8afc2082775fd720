//! Chaos example: a payment saga that must undo itself exactly.
//!
//! ```text
//! cargo run --release --example payment_saga -- [--seed N] [--items N]
//! ```
//!
//! Each order reserves inventory, charges the card, then ships. The
//! warehouse, the payment gateway and the courier fail now and then
//! (retryable errors, slow answers, from a seeded fault plan); for some
//! orders the courier refuses for good. Then the saga must refund the
//! charge and release the reservation, in that order, each exactly once.
//! Halfway through, the process "dies": the engine is shut down with orders
//! in flight, and a new engine on the same store resumes them.
//!
//! The fake gateway and warehouse honour idempotency keys and keep a log.
//! The report checks, order by order: nothing lost, no card charged twice,
//! every refused shipment refunded then released, in that order, once.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use hale::chaos::{FaultKind, FaultPlan, FaultRule, Injected, Injector};
use hale::resilience::RetryPolicy;
use hale_durable::{
    Durable, IdReuse, RunError, SqliteStore, StartOptions, StepError, StepInfo, Workflow, WorkflowContext,
    WorkflowError, WorkflowStatus,
};

/// A service outside the process: applies each idempotency key once and
/// logs what it did.
#[derive(Clone, Default)]
struct Outside(Arc<Mutex<OutsideState>>);

#[derive(Default)]
struct OutsideState {
    applied: BTreeMap<String, u32>,
    calls: u64,
    log: BTreeMap<u64, Vec<&'static str>>,
}

impl Outside {
    fn apply(&self, order: u64, action: &'static str, key: &str) {
        let mut state = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        state.calls += 1;
        let seen = state.applied.entry(key.to_owned()).or_insert(0);
        *seen += 1;
        if *seen == 1 {
            state.log.entry(order).or_default().push(action);
        }
    }

    fn log(&self, order: u64) -> Vec<&'static str> {
        let state = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        state.log.get(&order).cloned().unwrap_or_default()
    }

    fn calls_and_keys(&self) -> (u64, usize) {
        let state = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        (state.calls, state.applied.len())
    }
}

struct Saga {
    injector: Injector,
    outside: Outside,
}

/// One call to a service, under the fault plan; attempts are the step's.
async fn call(
    saga: (&Injector, &Outside),
    site: &'static str,
    order: u64,
    info: &StepInfo,
    action: &'static str,
) -> Result<(), StepError> {
    let (injector, outside) = saga;
    let attempt = info.attempt.saturating_sub(1);
    let answer = injector
        .inject(site, order, attempt, || async { Ok::<_, StepError>(()) }, |ok| ok)
        .await;
    match answer {
        Ok(()) => {
            outside.apply(order, action, &info.key);
            Ok(())
        }
        Err(Injected::Fault(fault)) if fault.retryable => Err(StepError::retryable(fault)),
        Err(Injected::Fault(fault)) => Err(StepError::permanent(fault)),
        Err(Injected::Call(error)) => Err(error),
    }
}

impl Workflow for Saga {
    type Input = u64;
    type Output = String;
    const NAME: &'static str = "payment-saga";
    const STEPS: &'static [&'static str] = &["reserve", "charge", "ship"];

    async fn run(&self, ctx: &mut WorkflowContext, order: u64) -> Result<String, WorkflowError> {
        let (injector, outside) = (self.injector.clone(), self.outside.clone());
        let services = move || (injector.clone(), outside.clone());
        let undo = services.clone();
        let run = services.clone();
        ctx.step("reserve")
            .effect()
            .compensate_with("release", move |(): (), info| {
                let (injector, outside) = undo();
                async move { call((&injector, &outside), "warehouse", order, &info, "release").await }
            })
            .run(order, move |order, info| {
                let (injector, outside) = run();
                async move { call((&injector, &outside), "warehouse", order, &info, "reserve").await }
            })
            .await?;
        let undo = services.clone();
        let run = services.clone();
        ctx.step("charge")
            .effect()
            .compensate_with("refund", move |(): (), info| {
                let (injector, outside) = undo();
                async move { call((&injector, &outside), "gateway", order, &info, "refund").await }
            })
            .run(order, move |order, info| {
                let (injector, outside) = run();
                async move { call((&injector, &outside), "gateway", order, &info, "charge").await }
            })
            .await?;
        let run = services.clone();
        ctx.step("ship")
            .effect()
            .run(order, move |order, info| {
                let (injector, outside) = run();
                async move { call((&injector, &outside), "courier", order, &info, "ship").await }
            })
            .await?;
        Ok(format!("order {order} shipped"))
    }
}

fn plan(seed: u64) -> FaultPlan {
    FaultPlan::new(seed)
        .rule(FaultRule::new(
            "warehouse",
            FaultKind::Error { retryable: true },
            0.10,
        ))
        .rule(FaultRule::new(
            "gateway",
            FaultKind::Error { retryable: true },
            0.15,
        ))
        .rule(FaultRule::new(
            "gateway",
            FaultKind::Slow { min_ms: 1, max_ms: 5 },
            0.20,
        ))
        // The courier refuses some addresses for good: those orders must be
        // refunded, then released.
        .rule(FaultRule::new(
            "courier",
            FaultKind::Error { retryable: false },
            0.25,
        ))
        .rule(FaultRule::new(
            "courier",
            FaultKind::Error { retryable: true },
            0.10,
        ))
}

fn retry(name: &str, attempts: u32, seed: u64) -> Result<RetryPolicy, Box<dyn std::error::Error>> {
    Ok(RetryPolicy::builder(name.to_owned())
        .maximum_attempts(attempts)
        .initial_interval(Duration::from_millis(1))
        .maximum_interval(Duration::from_millis(10))
        .seed(seed)
        .build()?)
}

async fn engine(
    path: &std::path::Path,
    saga: Saga,
    seed: u64,
) -> Result<Durable, Box<dyn std::error::Error>> {
    Ok(Durable::builder(SqliteStore::open(path).await?)
        .register(saga)
        .step_retry(retry("step", 6, seed)?)
        .compensation_retry(retry("compensation", 20, seed)?)
        .build()
        .await?)
}

#[path = "support/cli.rs"]
mod cli;
use cli::RunArgs;

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> std::process::ExitCode {
    cli::exit_code(run().await)
}

async fn run() -> Result<(), Box<dyn std::error::Error>> {
    hale::chaos::silence_injected_panics();
    let args = RunArgs::from_env(200)?;
    let dir = tempfile::tempdir()?;
    let path = dir.path().join("saga.db");
    let plan = match &args.plan {
        Some(path) => FaultPlan::from_path(path)?.with_seed(args.seed),
        None => plan(args.seed),
    };
    let injector = Injector::new(plan);
    let outside = Outside::default();
    let saga = || Saga {
        injector: injector.clone(),
        outside: outside.clone(),
    };
    let options = StartOptions::default().reuse(IdReuse::Reject);

    // The first process: starts every order, dies halfway.
    let first = engine(&path, saga(), args.seed).await?;
    let half = args.items / 2;
    for order in 0..args.items {
        first
            .start_with::<Saga>(&format!("order-{order}"), order, options)
            .await?;
        if order == half {
            break;
        }
    }
    first.shutdown(Duration::from_secs(5)).await;
    drop(first);

    // The second process: resumes what the first left, starts the rest.
    let second = engine(&path, saga(), args.seed).await?;
    let resumed = second.resume_all().await?.resumed;
    for order in (half + 1)..args.items {
        second
            .start_with::<Saga>(&format!("order-{order}"), order, options)
            .await?;
    }
    let mut outcomes: BTreeMap<&'static str, u64> = BTreeMap::new();
    let mut problems = Vec::new();
    for order in 0..args.items {
        let mut handle = second.handle::<String>(&format!("order-{order}")).await?;
        let result = tokio::time::timeout(Duration::from_secs(60), handle.result()).await;
        let log = outside.log(order);
        let (name, expected): (&str, &[&str]) = match result {
            Ok(Ok(_)) => ("shipped", &["reserve", "charge", "ship"]),
            Ok(Err(RunError::Ended {
                status: WorkflowStatus::Compensated,
                ..
            })) => (
                "refunded, then released",
                &["reserve", "charge", "refund", "release"],
            ),
            Ok(Err(RunError::Ended { status, .. })) if status == WorkflowStatus::Failed && log.is_empty() => {
                ("failed before any effect (dead-lettered)", &[])
            }
            Ok(Err(error)) => {
                problems.push(format!("order {order}: {error}"));
                ("FAILED", &[])
            }
            Err(_) => {
                problems.push(format!("order {order}: lost (no outcome within 60 s)"));
                ("lost", &[])
            }
        };
        if log != expected && name != "FAILED" && name != "lost" {
            problems.push(format!("order {order}: effects {log:?}, expected {expected:?}"));
        }
        *outcomes.entry(name).or_default() += 1;
    }
    let (calls, keys) = outside.calls_and_keys();
    let audit = second.verify_audit().await?;
    second.shutdown(Duration::from_secs(5)).await;

    let line = "─".repeat(62);
    println!(
        "{line}\n payment saga   seed {}   {} orders\n{line}",
        args.seed, args.items
    );
    for (name, count) in &outcomes {
        println!("   {name:<42} {count:>6}");
    }
    println!("   {:<42} {resumed:>6}", "resumed after the process died");
    let faults: u64 = injector.counts().values().sum();
    println!("   {:<42} {faults:>6}", "faults injected");
    println!(
        "   {:<42} {:>6}",
        "service calls (retries and resumes too)", calls
    );
    println!("   {:<42} {:>6}", "effects applied (one per key)", keys);
    println!("   {:<42} {:>6}", "audit entries (chain intact)", audit.entries);
    let lost = problems.len() + usize::from(!audit.is_intact());
    println!(
        "   {:<42} {lost:>6}   {}",
        "lost or wrong",
        if lost == 0 { "ok" } else { "FAILED" }
    );
    println!("{line}");
    if let Some(json) = args.json {
        let report = serde_json::json!({ "scenario": "payment_saga", "seed": args.seed, "outcomes": outcomes, "resumed": resumed, "lost_or_wrong": lost });
        json.write(&serde_json::to_string_pretty(&report)?)?;
    }
    if lost > 0 {
        for problem in &problems {
            eprintln!("{problem}");
        }
        return Err(format!("{lost} orders lost or wrong").into());
    }
    Ok(())
}
