//! What the application reports about its own work items: the numbers the
//! error-rate and latency alerts are computed from.

use std::time::Duration;

use metrics::{Counter, Histogram, Label};
use metrics_exporter_prometheus::PrometheusRecorder;

use super::{catalog, counter, histogram};

/// How a work item ended, as the application sees it.
///
/// # Examples
///
/// ```
/// use hale_ops::WorkOutcome;
/// assert_eq!(WorkOutcome::DeadLettered.as_str(), "dead_lettered");
/// assert!(WorkOutcome::Escalated.is_error() && !WorkOutcome::Degraded.is_error());
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum WorkOutcome {
    /// Done, as asked.
    Completed,
    /// Done, with an optional step replaced by its neutral default.
    Degraded,
    /// Given up on and kept for a replay.
    DeadLettered,
    /// Handed to a human or another system.
    Escalated,
    /// Failed and not kept.
    Failed,
}

impl WorkOutcome {
    /// Every outcome, in a fixed order.
    pub const ALL: [Self; 5] = [
        Self::Completed,
        Self::Degraded,
        Self::DeadLettered,
        Self::Escalated,
        Self::Failed,
    ];

    /// The label value.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Completed => "completed",
            Self::Degraded => "degraded",
            Self::DeadLettered => "dead_lettered",
            Self::Escalated => "escalated",
            Self::Failed => "failed",
        }
    }

    /// Whether the alert rules count this outcome as an error.
    pub fn is_error(self) -> bool {
        matches!(self, Self::DeadLettered | Self::Escalated | Self::Failed)
    }
}

/// Records finished work items into `hale_work_items_total` and
/// `hale_work_item_duration_seconds`. Cheap to clone; every clone records
/// into the same router's metrics.
///
/// # Examples
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// use std::time::Duration;
/// use hale_core::{ChildSpec, Supervisor, SupervisorSpec};
/// use hale_ops::{Ops, WorkOutcome};
///
/// let root = Supervisor::start(SupervisorSpec::new("root")).await?;
/// let ops = Ops::builder(root.clone()).build()?;
/// let work = ops.work();
/// work.finished(WorkOutcome::Completed, Duration::from_millis(120));
/// work.finished(WorkOutcome::DeadLettered, Duration::from_secs(3));
/// # root.stop(Duration::from_secs(1)).await;
/// # Ok(())
/// # }
/// ```
#[derive(Clone)]
pub struct WorkMetrics {
    by_outcome: Vec<Counter>,
    duration: Histogram,
}

impl std::fmt::Debug for WorkMetrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WorkMetrics").finish_non_exhaustive()
    }
}

impl WorkMetrics {
    pub(super) fn register(recorder: &PrometheusRecorder) -> Self {
        Self {
            by_outcome: WorkOutcome::ALL
                .iter()
                .map(|outcome| {
                    counter(
                        recorder,
                        &catalog::WORK_ITEMS,
                        vec![Label::new("outcome", outcome.as_str())],
                    )
                })
                .collect(),
            duration: histogram(recorder, &catalog::WORK_ITEM_DURATION),
        }
    }

    /// One work item ended with `outcome` after `took`.
    pub fn finished(&self, outcome: WorkOutcome, took: Duration) {
        self.count(outcome, 1);
        self.duration.record(took.as_secs_f64());
    }

    /// `count` more work items ended with `outcome`, durations unknown (for
    /// an application that counts in batches).
    pub fn count(&self, outcome: WorkOutcome, count: u64) {
        if let Some(counter) = self.by_outcome.get(index(outcome)) {
            counter.increment(count);
        }
    }

    /// Sets the total for `outcome` to `total` (for an application that
    /// keeps its own running totals); a total below the current one is
    /// ignored, as counters only go up.
    pub fn set_total(&self, outcome: WorkOutcome, total: u64) {
        if let Some(counter) = self.by_outcome.get(index(outcome)) {
            counter.absolute(total);
        }
    }
}

fn index(outcome: WorkOutcome) -> usize {
    WorkOutcome::ALL.iter().position(|o| *o == outcome).unwrap_or(0)
}
