//! A chaos run: the injector, the ledger, the event collector and the
//! report, in one harness.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use tokio::time::Instant;

use crate::injector::{Injector, fnv};
use crate::ledger::Ledger;
use crate::plan::FaultPlan;
use crate::report::{ChaosReport, Collector, RunRecord};

/// How far the report's collector may fall behind the tree's events before
/// it misses some (which fails the run): a burst larger than any example's.
const EVENT_CAPACITY: usize = 1 << 16;

/// One run of a scenario under a fault plan.
///
/// ```
/// # #[tokio::main(flavor = "current_thread", start_paused = true)]
/// # async fn main() {
/// use hale_chaos::{ChaosRun, FaultKind, FaultPlan, FaultRule, Outcome};
///
/// let plan = FaultPlan::new(7).rule(FaultRule::new("llm", FaultKind::Error { retryable: true }, 0.3));
/// let run = ChaosRun::new("doc-example", plan);
/// for item in 0..10u64 {
///     run.ledger().submit(item);
///     let answer = run
///         .injector()
///         .inject("llm", item, 0, || async { Ok::<_, String>("summary") }, |s| s)
///         .await;
///     let outcome = if answer.is_ok() { Outcome::Completed } else { Outcome::DeadLettered };
///     run.ledger().settle(item, outcome);
/// }
/// let report = run.finish().await;
/// assert!(report.nothing_lost());
/// assert_eq!(report.items.submitted, 10);
/// # }
/// ```
pub struct ChaosRun {
    name: String,
    injector: Injector,
    ledger: Ledger,
    healing: hale_core::EventBus,
    resilience: hale_resilience::ResilienceBus,
    collector: Collector,
    notes: Arc<Mutex<BTreeMap<String, u64>>>,
    started: Instant,
    started_wall: std::time::Instant,
}

impl ChaosRun {
    /// Starts a run of `scenario` under `plan`: run time starts now.
    pub fn new(scenario: impl Into<String>, plan: FaultPlan) -> Self {
        let healing = hale_core::EventBus::with_capacity(EVENT_CAPACITY);
        let resilience = hale_resilience::ResilienceBus::with_capacity(EVENT_CAPACITY);
        let collector = Collector::spawn(healing.subscribe(), resilience.subscribe());
        Self {
            name: scenario.into(),
            injector: Injector::new(plan),
            ledger: Ledger::new(),
            healing,
            resilience,
            collector,
            notes: Arc::default(),
            started: Instant::now(),
            started_wall: std::time::Instant::now(),
        }
    }

    /// The bus to give the tree under test (`SupervisorSpec::events`).
    pub fn healing_events(&self) -> &hale_core::EventBus {
        &self.healing
    }

    /// The bus to give the resilience policies under test.
    pub fn resilience_events(&self) -> &hale_resilience::ResilienceBus {
        &self.resilience
    }

    /// The fault injector.
    pub fn injector(&self) -> &Injector {
        &self.injector
    }

    /// The ledger of work items.
    pub fn ledger(&self) -> &Ledger {
        &self.ledger
    }

    /// A handle to bump scenario-specific counts with.
    pub fn notes(&self) -> Notes {
        Notes(Arc::clone(&self.notes))
    }

    /// Ends the run (stop the tree first) and builds the report.
    pub async fn finish(self) -> ChaosReport {
        let duration = self.started.elapsed();
        let seen = self.collector.finish().await;
        let log = self.injector.log();
        let fault_hash = fnv(&serde_json::to_vec(&log).unwrap_or_default());
        let notes = hale_util::lock(&self.notes).clone();
        ChaosReport::new(RunRecord {
            scenario: self.name,
            seed: self.injector.plan().seed,
            items: self.ledger.counts(),
            faults: self.injector.counts(),
            fault_hash,
            seen,
            duration,
            wall: self.started_wall.elapsed(),
            notes,
        })
    }
}

/// Scenario-specific counters for the report ("answered by secondary: 120").
#[derive(Clone, Debug, Default)]
pub struct Notes(Arc<Mutex<BTreeMap<String, u64>>>);

impl Notes {
    /// Adds one to the count `name`.
    pub fn bump(&self, name: &str) {
        self.add(name, 1);
    }

    /// Adds `count` to the count `name` (a total measured elsewhere, such as
    /// a peak, goes in with one call). The count shows in the report even
    /// when `count` is 0.
    pub fn add(&self, name: &str, count: u64) {
        let mut notes = hale_util::lock(&self.0);
        let total = notes.entry(name.to_owned()).or_insert(0);
        *total = total.saturating_add(count);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn notes_bump_and_add_show_in_the_report() {
        let run = ChaosRun::new("notes", FaultPlan::new(1));
        let notes = run.notes();
        notes.bump("served by secondary");
        notes.add("served by secondary", 4);
        notes.add("peak copies", 0);
        let report = run.finish().await;
        assert_eq!(report.notes.get("served by secondary"), Some(&5));
        assert_eq!(report.notes.get("peak copies"), Some(&0));
    }
}
