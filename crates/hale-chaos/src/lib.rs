//! Seeded chaos for Hale trees: faults go in, nothing is lost, and the
//! report says so with numbers.
//!
//! - [`FaultPlan`]: which faults hit which call sites (panic, error, delay,
//!   hang, slow, corrupt, outage) with a probability, a count limit and a
//!   time window, plus random kills; in code or in a TOML/JSON file.
//! - [`Injector`]: decides and applies the faults; a decision depends only on
//!   the seed, the rule, the site, the item and the attempt.
//! - [`Ledger`]: every work item in must end somewhere (completed, degraded,
//!   dead-lettered, escalated); what has no outcome is lost.
//! - [`ChaosRun`] + [`ChaosReport`]: the harness and its report: items,
//!   faults by kind, restarts, escalations, circuit openings, hung kills,
//!   retries, time to recover (p50/p99), throughput, and a hash of the event
//!   log (timestamps excluded) that is the same for two runs with the same
//!   seed.
//! - [`silence_injected_panics`]: a panic hook that hides the injected panics
//!   and prints every other one.
//!
//! Chaos runs are meant for tokio's paused clock (`start_paused`): simulated
//! time makes a run of many simulated minutes finish in moments, and makes
//! the schedule of a single-threaded run, and so its event log, reproducible.

mod injector;
mod killer;
mod ledger;
mod panics;
pub mod plan;
mod report;
mod run;

pub use injector::{FaultError, FaultRecord, Injected, Injector};
pub use killer::{running_workers, spawn_killer};
pub use ledger::{Ledger, LedgerCounts, Outcome};
pub use panics::{inject_panic, silence_injected_panics};
pub use plan::{FaultKind, FaultPlan, FaultRule, KillSchedule, PlanError, Window};
pub use report::{ChaosReport, Percentiles};
pub use run::{ChaosRun, Notes};
