//! hale-durable's events into counters and the commit-duration histogram.

use std::time::Duration;

use hale_durable::DurableEventKind;
use metrics::{Counter, Histogram, Label};
use metrics_exporter_prometheus::PrometheusRecorder;

use super::{catalog, counter, histogram};

/// The handles of the durable metrics, registered once.
pub(crate) struct DurableMetrics {
    started: Counter,
    completed: Counter,
    checkpoints: Counter,
    commit_duration: Histogram,
    resumed_after_crash: Counter,
    resumed_at_start: Counter,
    resume_failures: Counter,
    dead_lettered: Counter,
    replays: Counter,
    approvals_requested: Counter,
    approved: Counter,
    rejected: Counter,
    approvals_escalated: Counter,
    compensated: Counter,
    compensation_failed: Counter,
    budget_refusals: Counter,
}

impl DurableMetrics {
    pub(crate) fn register(recorder: &PrometheusRecorder) -> Self {
        let plain = |metric: &catalog::MetricInfo| counter(recorder, metric, Vec::new());
        let labelled = |metric: &catalog::MetricInfo, key: &'static str, value: &'static str| {
            counter(recorder, metric, vec![Label::new(key, value)])
        };
        Self {
            started: plain(&catalog::DURABLE_STARTED),
            completed: plain(&catalog::DURABLE_COMPLETED),
            checkpoints: plain(&catalog::CHECKPOINTS),
            commit_duration: histogram(recorder, &catalog::COMMIT_DURATION),
            resumed_after_crash: labelled(&catalog::RESUMED, "cause", "crash"),
            resumed_at_start: labelled(&catalog::RESUMED, "cause", "start"),
            resume_failures: plain(&catalog::RESUME_FAILURES),
            dead_lettered: plain(&catalog::DEAD_LETTERED),
            replays: plain(&catalog::REPLAYS),
            approvals_requested: plain(&catalog::APPROVALS_REQUESTED),
            approved: labelled(&catalog::APPROVAL_DECISIONS, "decision", "approved"),
            rejected: labelled(&catalog::APPROVAL_DECISIONS, "decision", "rejected"),
            approvals_escalated: plain(&catalog::APPROVALS_ESCALATED),
            compensated: labelled(&catalog::COMPENSATIONS, "outcome", "compensated"),
            compensation_failed: labelled(&catalog::COMPENSATIONS, "outcome", "failed"),
            budget_refusals: plain(&catalog::BUDGET_REFUSALS),
        }
    }

    /// Counts one durable event.
    pub(crate) fn record(&self, kind: &DurableEventKind) {
        match kind {
            DurableEventKind::Started { .. } => self.started.increment(1),
            DurableEventKind::Completed => self.completed.increment(1),
            DurableEventKind::CheckpointCommitted {
                commit_latency_us, ..
            } => {
                self.checkpoints.increment(1);
                self.commit_duration
                    .record(Duration::from_micros(*commit_latency_us).as_secs_f64());
            }
            DurableEventKind::Resumed { after_crash: true } => self.resumed_after_crash.increment(1),
            DurableEventKind::Resumed { after_crash: false } => self.resumed_at_start.increment(1),
            DurableEventKind::ResumeFailed { .. } => self.resume_failures.increment(1),
            DurableEventKind::DeadLettered { .. } => self.dead_lettered.increment(1),
            DurableEventKind::Replayed { .. } => self.replays.increment(1),
            DurableEventKind::ApprovalRequested { .. } => self.approvals_requested.increment(1),
            DurableEventKind::ApprovalDecided { approved: true, .. } => self.approved.increment(1),
            DurableEventKind::ApprovalDecided { approved: false, .. } => self.rejected.increment(1),
            DurableEventKind::ApprovalEscalated { .. } => self.approvals_escalated.increment(1),
            DurableEventKind::CompensationFinished { ok: true } => self.compensated.increment(1),
            DurableEventKind::CompensationFinished { ok: false } => self.compensation_failed.increment(1),
            DurableEventKind::BudgetRefused { .. } => self.budget_refusals.increment(1),
            // The start of a compensation is counted by its end; a kind
            // added to hale-durable later is not counted until it is named
            // here.
            DurableEventKind::CompensationStarted { .. } => {}
            _ => {}
        }
    }
}
