//! The budget guard: a spend or call limit per workflow.

use serde::{Deserialize, Serialize};

/// Limits on what one run of a workflow may spend. A step declares its cost
/// ([`StepBuilder::cost`](crate::StepBuilder::cost)); before it runs, the
/// guard adds it to what the run's checkpointed steps cost so far, and
/// counts the step as one call. A step that would pass either limit is
/// refused: it never runs, the refusal is written to the audit log, and the
/// workflow fails (and is compensated) like any step failing for good.
///
/// ```
/// use hale_durable::Budget;
///
/// let budget = Budget::unlimited().max_spend(10_000).max_calls(20);
/// assert_eq!(budget.check(9_000, 3, 2_000), Err("spend 11000 would pass the limit of 10000".to_owned()));
/// assert_eq!(budget.check(9_000, 3, 1_000), Ok(()));
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Budget {
    /// The most the run may spend, in the unit its steps' costs use (cents,
    /// tokens, ...).
    pub max_spend: Option<i64>,
    /// The most steps the run may run.
    pub max_calls: Option<i64>,
}

impl Budget {
    /// No limit.
    pub fn unlimited() -> Self {
        Self::default()
    }

    /// Limits the spend.
    pub fn max_spend(mut self, limit: i64) -> Self {
        self.max_spend = Some(limit);
        self
    }

    /// Limits the number of steps.
    pub fn max_calls(mut self, limit: i64) -> Self {
        self.max_calls = Some(limit);
        self
    }

    /// Whether a step costing `cost` may run after `spent` and `calls`.
    ///
    /// # Errors
    /// Says which limit it would pass.
    pub fn check(&self, spent: i64, calls: i64, cost: i64) -> Result<(), String> {
        let spend = spent.saturating_add(cost);
        if let Some(limit) = self.max_spend
            && spend > limit
        {
            return Err(format!("spend {spend} would pass the limit of {limit}"));
        }
        let calls = calls.saturating_add(1);
        if let Some(limit) = self.max_calls
            && calls > limit
        {
            return Err(format!("call {calls} would pass the limit of {limit}"));
        }
        Ok(())
    }
}
