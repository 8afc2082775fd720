//! `--serve ADDR` for a chaos example: serve the live tree page, `/metrics`,
//! `/tree`, `/events` and the health endpoints (hale-ops) while the run goes
//! on, so a person can watch the tree heal.
//!
//! Serving switches the run to the real clock: a browser lives in real
//! time, so the simulated minutes of a run become real ones (`--items 60`
//! makes a run of about a minute and a half). The address must be a
//! loopback one. Admin actions are on when `HALE_TOKEN` is set (at least
//! 16 bytes), under the name `operator`.
//!
//! Used by `examples/document_pipeline.rs` through
//! `#[path = "support/serve.rs"] mod serve;`.

use std::error::Error;
use std::net::SocketAddr;
use std::time::Duration;

use hale::chaos::{ChaosRun, Ledger};
use hale::core::SupervisorRef;
use hale_ops::{AdminToken, Ops, OpsServer, WorkMetrics, WorkOutcome};

/// How often the work-item totals are copied from the run's ledger.
const LEDGER_EVERY: Duration = Duration::from_millis(250);

/// The live surface of a running example.
pub struct Serving {
    server: OpsServer,
    mirror: tokio::task::JoinHandle<()>,
    _ops: Ops,
}

/// The address `--serve` was given, checked; on a paused clock (the chaos
/// runs') serving switches the run to the real clock, so a person can watch
/// it heal.
pub fn address(value: Option<&str>) -> Result<Option<SocketAddr>, Box<dyn Error>> {
    let Some(value) = value else {
        return Ok(None);
    };
    let parsed: SocketAddr = value
        .parse()
        .map_err(|_| format!("option `--serve`: `{value}` is not an address like 127.0.0.1:9090"))?;
    tokio::time::resume();
    Ok(Some(parsed))
}

/// Starts serving the tree of `root` and the policies and ledger of `run`
/// on `address`; nothing when `address` is `None`.
pub async fn start(
    address: Option<SocketAddr>,
    root: &SupervisorRef,
    run: &ChaosRun,
) -> Result<Option<Serving>, Box<dyn Error>> {
    let Some(address) = address else {
        return Ok(None);
    };
    let mut builder = Ops::builder(root.clone()).resilience(run.resilience_events());
    if let Ok(secret) = std::env::var("HALE_TOKEN") {
        builder = builder.admin_token(AdminToken::new("operator", secret));
    }
    let ops = builder.build()?;
    let server = ops.serve(address).await?;
    let mirror = tokio::spawn(mirror_ledger(run.ledger().clone(), ops.work()));
    eprintln!(
        "serving the live tree at http://{0}/ (metrics at /metrics, readiness at /readyz?verbose)",
        server.local_addr()
    );
    Ok(Some(Serving {
        server,
        mirror,
        _ops: ops,
    }))
}

/// Stops serving, once the run is over.
pub async fn stop(serving: Option<Serving>) {
    if let Some(serving) = serving {
        serving.mirror.abort();
        serving.server.shutdown().await;
    }
}

/// Copies the ledger's outcome totals into `hale_work_items_total`.
async fn mirror_ledger(ledger: Ledger, work: WorkMetrics) {
    let mut every = tokio::time::interval(LEDGER_EVERY);
    loop {
        every.tick().await;
        let counts = ledger.counts();
        work.set_total(WorkOutcome::Completed, counts.completed);
        work.set_total(WorkOutcome::Degraded, counts.degraded);
        work.set_total(WorkOutcome::DeadLettered, counts.dead_lettered);
        work.set_total(WorkOutcome::Escalated, counts.escalated);
    }
}
