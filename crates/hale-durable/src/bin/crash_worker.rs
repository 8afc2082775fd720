//! The crash-resume tests' worker: runs a batch of order workflows against
//! a file (or Postgres) store and a fake external service, until every
//! order has ended. The tests SIGKILL it at random points and start it
//! again; each start resumes what the last one left.
//!
//! ```text
//! hale-durable-crash-worker --store sqlite:PATH|postgres:URL --service PATH --orders N
//! ```
//!
//! Order `n`: validate → reserve (effect) → charge (effect) → [approve gate
//! when n % 3 == 0] → ship (effect) → notify. Validation fails for good
//! when n % 7 == 0 (nothing to compensate: dead-lettered); shipping fails
//! for good when n % 5 == 0 (charge refunded, then reservation released).
//! A decider in the worker approves every waiting gate.
//!
//! The fake service is a SQLite file: `calls` logs every call with its
//! idempotency key, `applied` applies each key once, and `journal` logs
//! every step and compensation body run, in order.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use hale_durable::{
    Decision, Durable, DurableError, PostgresStore, SqliteStore, StepError, StepInfo, Store, Workflow,
    WorkflowContext, WorkflowError,
};
use hale_resilience::RetryPolicy;
use rusqlite::Connection;

/// The fake external service: applies each idempotency key once.
#[derive(Clone)]
struct Service {
    path: Arc<PathBuf>,
}

impl Service {
    fn open(&self) -> Result<Connection, StepError> {
        let connection = Connection::open(&*self.path).map_err(StepError::retryable)?;
        connection
            .busy_timeout(Duration::from_secs(10))
            .map_err(StepError::retryable)?;
        Ok(connection)
    }

    fn init(&self) -> rusqlite::Result<()> {
        let connection = Connection::open(&*self.path)?;
        connection.query_row("PRAGMA journal_mode=WAL", [], |_| Ok(()))?;
        connection.execute_batch(
            "CREATE TABLE IF NOT EXISTS calls (id INTEGER PRIMARY KEY AUTOINCREMENT, workflow TEXT NOT NULL, step TEXT NOT NULL, key TEXT NOT NULL);
             CREATE TABLE IF NOT EXISTS applied (key TEXT PRIMARY KEY, workflow TEXT NOT NULL, step TEXT NOT NULL);
             CREATE TABLE IF NOT EXISTS journal (id INTEGER PRIMARY KEY AUTOINCREMENT, workflow TEXT NOT NULL, entry TEXT NOT NULL);",
        )
    }

    /// Calls the service with `info.key`: logged every time, applied once.
    fn call(&self, step: &str, info: &StepInfo) -> Result<(), StepError> {
        let connection = self.open()?;
        connection
            .execute(
                "INSERT INTO calls (workflow, step, key) VALUES (?1, ?2, ?3)",
                [&info.workflow_id, step, &info.key],
            )
            .map_err(StepError::retryable)?;
        connection
            .execute(
                "INSERT INTO applied (key, workflow, step) VALUES (?1, ?2, ?3) ON CONFLICT (key) DO NOTHING",
                [&info.key, &info.workflow_id, step],
            )
            .map_err(StepError::retryable)?;
        Ok(())
    }

    fn journal(&self, workflow: &str, entry: &str) -> Result<(), StepError> {
        self.open()?
            .execute(
                "INSERT INTO journal (workflow, entry) VALUES (?1, ?2)",
                [workflow, entry],
            )
            .map_err(StepError::retryable)?;
        // One line per journal entry: the test kills the worker after a
        // seeded number of them, so every kill lands mid-run on a machine
        // of any speed.
        println!("{workflow} {entry}");
        Ok(())
    }
}

struct Order {
    service: Service,
}

/// A step's body: journaled, then the effect, then a millisecond of other
/// work, so that a kill often lands after the effect and before its result
/// is checkpointed (the case idempotency keys are for).
async fn body(service: &Service, info: &StepInfo, step: &str, effect: bool) -> Result<(), StepError> {
    service.journal(&info.workflow_id, &format!("step:{step}"))?;
    if effect {
        service.call(step, info)?;
    }
    tokio::time::sleep(Duration::from_millis(1)).await;
    Ok(())
}

impl Workflow for Order {
    type Input = u64;
    type Output = String;
    const NAME: &'static str = "order";
    const STEPS: &'static [&'static str] = &["validate", "reserve", "charge", "approve", "ship", "notify"];

    async fn run(&self, ctx: &mut WorkflowContext, n: u64) -> Result<String, WorkflowError> {
        let service = self.service.clone();
        ctx.step("validate")
            .run(n, move |n, info| {
                let service = service.clone();
                async move {
                    body(&service, &info, "validate", false).await?;
                    if n.is_multiple_of(7) {
                        return Err(StepError::permanent("order fails validation"));
                    }
                    Ok(())
                }
            })
            .await?;
        let service = self.service.clone();
        let undo = self.service.clone();
        let slot: u64 = ctx
            .step("reserve")
            .effect()
            .compensate_with("release", move |_slot: u64, info| {
                let undo = undo.clone();
                async move {
                    undo.journal(&info.workflow_id, "undo:reserve")?;
                    undo.call("release", &info)
                }
            })
            .run(n, move |n, info| {
                let service = service.clone();
                async move {
                    body(&service, &info, "reserve", true).await?;
                    Ok(n * 10)
                }
            })
            .await?;
        let service = self.service.clone();
        let undo = self.service.clone();
        let receipt: String = ctx
            .step("charge")
            .effect()
            .compensate_with("refund", move |_receipt: String, info| {
                let undo = undo.clone();
                async move {
                    undo.journal(&info.workflow_id, "undo:charge")?;
                    undo.call("refund", &info)
                }
            })
            .run(n, move |n, info| {
                let service = service.clone();
                async move {
                    body(&service, &info, "charge", true).await?;
                    Ok(format!("rcpt-{n}"))
                }
            })
            .await?;
        if n.is_multiple_of(3) {
            ctx.gate("approve")
                .ask(&format!("ship order {n}"))
                .await?
                .require_approved("approve")?;
        }
        let service = self.service.clone();
        let tracking: String = ctx
            .step("ship")
            .effect()
            .run(n, move |n, info| {
                let service = service.clone();
                async move {
                    service.journal(&info.workflow_id, "step:ship")?;
                    if n.is_multiple_of(5) {
                        return Err(StepError::permanent("no courier for this address"));
                    }
                    body(&service, &info, "ship", true).await?;
                    Ok(format!("trk-{n}"))
                }
            })
            .await?;
        let service = self.service.clone();
        ctx.step("notify")
            .run((), move |(), info| {
                let service = service.clone();
                async move { body(&service, &info, "notify", false).await }
            })
            .await?;
        Ok(format!("{n}:{slot}:{receipt}:{tracking}"))
    }
}

struct Args {
    store: String,
    service: PathBuf,
    orders: u64,
}

fn parse() -> Result<Args, String> {
    let mut args = std::env::args().skip(1);
    let (mut store, mut service, mut orders) = (None, None, 40);
    while let Some(option) = args.next() {
        let value = args.next().ok_or(format!("{option} needs a value"))?;
        match option.as_str() {
            "--store" => store = Some(value),
            "--service" => service = Some(PathBuf::from(value)),
            "--orders" => orders = value.parse().map_err(|_| format!("--orders: {value}"))?,
            other => return Err(format!("unknown option {other}")),
        }
    }
    Ok(Args {
        store: store.ok_or("--store is required")?,
        service: service.ok_or("--service is required")?,
        orders,
    })
}

fn retry(name: &str, attempts: u32) -> Result<RetryPolicy, String> {
    RetryPolicy::builder(name.to_owned())
        .maximum_attempts(attempts)
        .initial_interval(Duration::from_millis(1))
        .maximum_interval(Duration::from_millis(5))
        .build()
        .map_err(|e| e.to_string())
}

async fn run(args: Args) -> Result<(), String> {
    let service = Service {
        path: Arc::new(args.service),
    };
    service.init().map_err(|e| e.to_string())?;
    let store: Arc<dyn Store> = match args.store.split_once(':') {
        Some(("sqlite", path)) => Arc::new(SqliteStore::open(path).await.map_err(|e| e.to_string())?),
        Some(("postgres", url)) => Arc::new(PostgresStore::connect(url).await.map_err(|e| e.to_string())?),
        _ => return Err(format!("--store {}: sqlite:PATH or postgres:URL", args.store)),
    };
    let durable = Durable::builder_shared(store)
        .register(Order {
            service: service.clone(),
        })
        .step_retry(retry("step", 5)?)
        .compensation_retry(retry("compensation", 50)?)
        .build()
        .await
        .map_err(|e| e.to_string())?;
    durable.resume_all().await.map_err(|e| e.to_string())?;

    // The decider: approves every waiting gate, then journals it.
    let decider = {
        let durable = durable.clone();
        let service = service.clone();
        tokio::spawn(async move {
            loop {
                if let Ok(pending) = durable.pending_approvals(100).await {
                    for gate in pending {
                        let decision = Decision::approve("crash-test", "approved by the decider");
                        if durable
                            .decide(&gate.workflow_id, &gate.gate, decision)
                            .await
                            .is_ok()
                        {
                            let _ = service.journal(&gate.workflow_id, "decided");
                        }
                    }
                }
                tokio::time::sleep(Duration::from_millis(2)).await;
            }
        })
    };

    let mut handles = Vec::new();
    for n in 0..args.orders {
        let id = format!("order-{n}");
        match durable.start::<Order>(&id, n).await {
            Ok(handle) => handles.push(handle),
            Err(DurableError::IdReuseRefused { .. }) => {}
            Err(error) => return Err(error.to_string()),
        }
    }
    for mut handle in handles {
        // Failures are expected outcomes (compensated, dead-lettered); the
        // test checks them against the store.
        let _ = handle.result().await;
    }
    decider.abort();
    durable.shutdown(Duration::from_secs(5)).await;
    Ok(())
}

fn main() -> ExitCode {
    let args = match parse() {
        Ok(args) => args,
        Err(error) => {
            eprintln!("crash-worker: {error}");
            return ExitCode::from(2);
        }
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("crash-worker: {error}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(args)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("crash-worker: {error}");
            ExitCode::FAILURE
        }
    }
}
