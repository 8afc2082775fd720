//! Fault plans: which faults hit which call sites, how often, and when.
//!
//! A plan is data. Write it in code with the builder, or in a TOML or JSON
//! file ([`FaultPlan::from_path`]); a bad plan is a [`PlanError`] that says
//! what is wrong and where, before anything runs.
//!
//! ```toml
//! seed = 7
//!
//! [[rules]]
//! site = "extract"            # the call site the agent names
//! fault = { kind = "hang" }
//! probability = 0.02
//!
//! [[rules]]
//! site = "storage"
//! fault = { kind = "outage" }
//! probability = 1.0
//! window = { from_ms = 20000, until_ms = 35000 }
//!
//! [kills]
//! every_ms = 15000
//! max_count = 3
//! ```

mod load;
mod rules;

pub use load::{MAX_PLAN_BYTES, PlanError};
pub use rules::{FaultKind, FaultPlan, FaultRule, KillSchedule, Window};
