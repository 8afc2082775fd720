//! Chaos example: an accounts-payable agent stopped before it does
//! something it cannot undo.
//!
//! ```text
//! cargo run --release --example invoice_approval -- [--seed N] [--items N]
//! ```
//!
//! An agent reads invoices (an LLM-like extraction, with seeded faults),
//! matches them to purchase orders and pays them. Two kinds of action are
//! irreversible: paying an invoice over $10,000, and deleting a vendor's
//! records (some invoices come with the agent's plan to "clean up" the
//! vendor). Both stop at an approval gate; the workflow is persisted as
//! waiting until a person decides. Some approvers never answer: past its
//! deadline the gate escalates to a manager. On top of the gates, a budget
//! guard limits what one workflow may spend ($20,000) and how many steps it
//! may take: an approved payment over the budget is still refused, and the
//! refusal is audited.
//!
//! The report fails the run if an invoice is lost, if money moved past the
//! limit without an approval on the audit log, if records were deleted
//! without one, or if the audit chain does not verify.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use hale::chaos::{FaultKind, FaultPlan, FaultRule, Injected, Injector};
use hale::resilience::RetryPolicy;
use hale_durable::{
    Budget, Decision, Durable, RunError, SqliteStore, StepError, Workflow, WorkflowContext, WorkflowError,
    WorkflowStatus,
};
use serde::{Deserialize, Serialize};

/// Payments over this need an approval (cents).
const APPROVAL_LIMIT: i64 = 1_000_000;
/// What one workflow may spend at most (cents).
const BUDGET: i64 = 2_000_000;

#[derive(Clone, Debug, Serialize, Deserialize)]
struct Invoice {
    number: u64,
    cents: i64,
    /// The agent's plan includes deleting the vendor's records.
    purge_vendor: bool,
}

impl Invoice {
    fn new(number: u64, seed: u64) -> Self {
        let mix = (number ^ seed)
            .wrapping_mul(0x9E37_79B9_7F4A_7C15)
            .rotate_left(23);
        let cents = if mix.is_multiple_of(4) {
            1_000_000 + (mix >> 8) % 1_500_000
        } else {
            10_000 + (mix >> 8) % 900_000
        };
        Self {
            number,
            cents: i64::try_from(cents).unwrap_or(i64::MAX),
            purge_vendor: number % 11 == 5,
        }
    }
}

/// The bank and the records system: what really happened.
#[derive(Clone, Default)]
struct Ledger(Arc<Mutex<BTreeMap<u64, Vec<String>>>>);

impl Ledger {
    fn record(&self, invoice: u64, what: String) {
        self.0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .entry(invoice)
            .or_default()
            .push(what);
    }

    fn of(&self, invoice: u64) -> Vec<String> {
        self.0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(&invoice)
            .cloned()
            .unwrap_or_default()
    }
}

struct PayInvoice {
    injector: Injector,
    ledger: Ledger,
}

impl Workflow for PayInvoice {
    type Input = Invoice;
    type Output = String;
    const NAME: &'static str = "pay-invoice";
    const STEPS: &'static [&'static str] = &["extract", "match", "approve", "pay", "purge"];

    async fn run(&self, ctx: &mut WorkflowContext, invoice: Invoice) -> Result<String, WorkflowError> {
        let injector = self.injector.clone();
        let number = invoice.number;
        let fields: Invoice = ctx
            .step("extract")
            .cost(5) // the LLM call
            .run(invoice.clone(), move |invoice, info| {
                let injector = injector.clone();
                async move {
                    let attempt = info.attempt.saturating_sub(1);
                    let read = || async { Ok::<_, StepError>(invoice) };
                    match injector
                        .inject("llm", number, attempt, read, |invoice| invoice)
                        .await
                    {
                        Ok(invoice) => Ok(invoice),
                        Err(Injected::Fault(fault)) => Err(StepError::retryable(fault)),
                        Err(Injected::Call(error)) => Err(error),
                    }
                }
            })
            .await?;
        ctx.step("match")
            .run(fields.number, |number, _| async move {
                Ok::<_, StepError>(format!("PO-{number}"))
            })
            .await?;
        let irreversible = fields.cents > APPROVAL_LIMIT || fields.purge_vendor;
        let mut purge_approved = false;
        if irreversible {
            let request = serde_json::json!({
                "invoice": fields.number,
                "pay_cents": fields.cents,
                "delete_vendor_records": fields.purge_vendor,
            });
            let decision = ctx
                .gate("approve")
                .deadline(Duration::from_millis(40))
                .ask(&request)
                .await?
                .require_approved("approve")?;
            purge_approved = fields.purge_vendor && decision.note.contains("purge ok");
        }
        let ledger = self.ledger.clone();
        ctx.step("pay")
            .effect()
            .cost(fields.cents)
            .run(fields.cents, move |cents, info| {
                let ledger = ledger.clone();
                async move {
                    ledger.record(number, format!("paid {cents} under {}", info.key));
                    Ok::<_, StepError>(())
                }
            })
            .await?;
        if purge_approved {
            let ledger = self.ledger.clone();
            ctx.step("purge")
                .effect()
                .run(number, move |number, _| {
                    let ledger = ledger.clone();
                    async move {
                        ledger.record(number, "vendor records deleted".into());
                        Ok::<_, StepError>(())
                    }
                })
                .await?;
        }
        Ok(format!("invoice {number} paid"))
    }
}

/// The people: an approver who answers most gates (and never lets the
/// agent delete records), and a manager who takes escalated ones.
fn approvals(durable: Durable, invoices: Vec<Invoice>) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        loop {
            let Ok(pending) = durable.pending_approvals(1_000).await else {
                return;
            };
            for gate in pending {
                let Some(invoice) = gate
                    .workflow_id
                    .strip_prefix("invoice-")
                    .and_then(|n| n.parse::<usize>().ok())
                    .and_then(|n| invoices.get(n))
                else {
                    continue;
                };
                let absent = invoice.number.is_multiple_of(9);
                let decision = if gate.escalated {
                    Decision::approve("manager", "escalated: approved after review")
                } else if absent {
                    continue; // on holiday: the gate will escalate
                } else if invoice.purge_vendor {
                    Decision::reject("approver", "records must be kept seven years")
                } else if invoice.cents > 1_800_000 {
                    Decision::reject("approver", "needs a second quote")
                } else {
                    Decision::approve("approver", "matches the contract")
                };
                let _ = durable.decide(&gate.workflow_id, &gate.gate, decision).await;
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    })
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
    let args = RunArgs::from_env(120)?;
    let dir = tempfile::tempdir()?;
    let plan = match &args.plan {
        Some(path) => FaultPlan::from_path(path)?.with_seed(args.seed),
        None => FaultPlan::new(args.seed)
            .rule(FaultRule::new("llm", FaultKind::Error { retryable: true }, 0.2))
            .rule(FaultRule::new(
                "llm",
                FaultKind::Slow { min_ms: 1, max_ms: 8 },
                0.2,
            )),
    };
    let injector = Injector::new(plan);
    let ledger = Ledger::default();
    let durable = Durable::builder(SqliteStore::open(dir.path().join("invoices.db")).await?)
        .register(PayInvoice {
            injector: injector.clone(),
            ledger: ledger.clone(),
        })
        .budget(Budget::unlimited().max_spend(BUDGET).max_calls(6))
        .step_retry(
            RetryPolicy::builder("step")
                .maximum_attempts(6)
                .initial_interval(Duration::from_millis(1))
                .seed(args.seed)
                .build()?,
        )
        .sweep_every(Duration::from_millis(10))
        .build()
        .await?;
    let invoices: Vec<Invoice> = (0..args.items).map(|n| Invoice::new(n, args.seed)).collect();
    let people = approvals(durable.clone(), invoices.clone());
    let mut handles = Vec::new();
    for invoice in &invoices {
        handles.push(
            durable
                .start::<PayInvoice>(&format!("invoice-{}", invoice.number), invoice.clone())
                .await?,
        );
    }

    let mut counts: BTreeMap<&'static str, u64> = BTreeMap::new();
    let mut problems = Vec::new();
    for (invoice, mut handle) in invoices.iter().zip(handles) {
        let result = tokio::time::timeout(Duration::from_secs(60), handle.result()).await;
        let outcome = match &result {
            Ok(Ok(_)) if invoice.cents > APPROVAL_LIMIT => "paid after an approval",
            Ok(Ok(_)) => "paid (under the limit)",
            Ok(Err(RunError::Ended { error, .. })) if error.contains("rejected") => {
                "stopped: rejected at the gate"
            }
            Ok(Err(RunError::Ended {
                error,
                status: WorkflowStatus::Failed,
            })) if error.contains("budget") => "stopped: refused by the budget guard",
            Ok(Err(error)) => {
                problems.push(format!("invoice {}: {error}", invoice.number));
                "failed"
            }
            Err(_) => {
                problems.push(format!("invoice {}: lost (no outcome in 60 s)", invoice.number));
                "lost"
            }
        };
        *counts.entry(outcome).or_default() += 1;
    }
    people.abort();

    // What really happened, against the audit log.
    let audit = durable.store().audit(0, usize::MAX).await?;
    let approved = |id: &str| {
        audit.iter().any(|entry| {
            entry.workflow_id == id
                && entry.action == "approval_decided"
                && entry.detail.contains("\"approved\":true")
        })
    };
    let escalated = audit.iter().filter(|e| e.action == "approval_escalated").count();
    let refused = audit.iter().filter(|e| e.action == "budget_refused").count();
    for invoice in &invoices {
        let id = format!("invoice-{}", invoice.number);
        let done = ledger.of(invoice.number);
        let paid = done.iter().filter(|what| what.starts_with("paid")).count();
        if paid > 1 {
            problems.push(format!("{id}: paid {paid} times"));
        }
        if paid > 0 && invoice.cents > APPROVAL_LIMIT && !approved(&id) {
            problems.push(format!("{id}: {} cents paid without an approval", invoice.cents));
        }
        if paid > 0 && invoice.cents > BUDGET {
            problems.push(format!("{id}: paid past the budget"));
        }
        if done.iter().any(|what| what.contains("deleted")) && !approved(&id) {
            problems.push(format!("{id}: records deleted without an approval"));
        }
    }
    let check = durable.verify_audit().await?;
    durable.shutdown(Duration::from_secs(5)).await;

    let line = "─".repeat(62);
    println!(
        "{line}\n invoice approval   seed {}   {} invoices\n{line}",
        args.seed, args.items
    );
    for (name, count) in &counts {
        println!("   {name:<42} {count:>6}");
    }
    println!("   {:<42} {escalated:>6}", "gates escalated (approver absent)");
    println!("   {:<42} {refused:>6}", "steps refused by the budget guard");
    let faults: u64 = injector.counts().values().sum();
    println!("   {:<42} {faults:>6}", "faults injected (LLM)");
    println!("   {:<42} {:>6}", "audit entries (chain intact)", check.entries);
    let lost = problems.len() + usize::from(!check.is_intact());
    println!(
        "   {:<42} {lost:>6}   {}",
        "lost or unapproved",
        if lost == 0 { "ok" } else { "FAILED" }
    );
    println!("{line}");
    if let Some(json) = args.json {
        let report = serde_json::json!({ "scenario": "invoice_approval", "seed": args.seed, "outcomes": counts, "escalated": escalated, "budget_refused": refused, "lost_or_unapproved": lost });
        json.write(&serde_json::to_string_pretty(&report)?)?;
    }
    if lost > 0 {
        for problem in &problems {
            eprintln!("{problem}");
        }
        return Err(format!("{lost} invoices lost or acted on without approval").into());
    }
    Ok(())
}
