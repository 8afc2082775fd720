//! Healing events into counters and the restart-duration histogram.

use std::collections::HashMap;

use hale_core::{ChildPath, ExitReason, HealingEvent, HealingEventKind, StopCause};
use metrics::{Counter, Histogram, Label};
use metrics_exporter_prometheus::PrometheusRecorder;

use super::{catalog, counter, histogram};

/// How many children may be between an exit and their restart at once
/// before the duration of further ones goes unmeasured (their restarts are
/// still counted).
const PENDING_LIMIT: usize = 65_536;

/// The reason classes of `hale_child_exits_total`.
const REASONS: [&str; 6] = ["normal", "shutdown", "killed", "hung", "failed", "other"];

pub(crate) struct HealingMetrics {
    restarts: Counter,
    restart_duration: Histogram,
    exits: Vec<Counter>,
    start_failures: Counter,
    restart_failures: Counter,
    escalations: Counter,
    auto_shutdowns: Counter,
    hung: Counter,
    hung_kills: Counter,
    stuck: Counter,
    backoffs: Counter,
    probe_failures: Counter,
    duplicates: Counter,
    /// When each child now waiting for its restart went down (unix ms).
    down_since: HashMap<ChildPath, u64>,
}

impl HealingMetrics {
    pub(crate) fn register(recorder: &PrometheusRecorder) -> Self {
        let plain = |metric: &catalog::MetricInfo| counter(recorder, metric, Vec::new());
        Self {
            restarts: plain(&catalog::RESTARTS),
            restart_duration: histogram(recorder, &catalog::RESTART_DURATION),
            exits: REASONS
                .iter()
                .map(|reason| counter(recorder, &catalog::EXITS, vec![Label::new("reason", *reason)]))
                .collect(),
            start_failures: plain(&catalog::START_FAILURES),
            restart_failures: plain(&catalog::RESTART_FAILURES),
            escalations: plain(&catalog::ESCALATIONS),
            auto_shutdowns: plain(&catalog::AUTO_SHUTDOWNS),
            hung: plain(&catalog::HUNG),
            hung_kills: plain(&catalog::HUNG_KILLS),
            stuck: plain(&catalog::STUCK_TASKS),
            backoffs: plain(&catalog::BACKOFFS),
            probe_failures: plain(&catalog::PROBE_FAILURES),
            duplicates: plain(&catalog::DUPLICATES_REFUSED),
            down_since: HashMap::new(),
        }
    }

    /// Counts one healing event.
    pub(crate) fn record(&mut self, event: &HealingEvent) {
        match &event.kind {
            HealingEventKind::ChildExited { reason, will_restart } => {
                self.exits[reason_index(reason)].increment(1);
                if *will_restart {
                    self.went_down(event);
                }
            }
            HealingEventKind::ChildStopped {
                cause: StopCause::GroupRestart,
                ..
            } => self.went_down(event),
            HealingEventKind::ChildRestarted { .. } => {
                self.restarts.increment(1);
                if let Some(since) = self.down_since.remove(&event.path) {
                    let millis = event.timestamp_ms.saturating_sub(since);
                    self.restart_duration.record(millis as f64 / 1_000.0);
                }
            }
            HealingEventKind::ChildRemoved | HealingEventKind::ChildStopped { .. } => {
                self.down_since.remove(&event.path);
            }
            HealingEventKind::StartFailed { .. } => self.start_failures.increment(1),
            HealingEventKind::RestartFailed { .. } => self.restart_failures.increment(1),
            HealingEventKind::IntensityExceeded { .. } => self.escalations.increment(1),
            HealingEventKind::AutoShutdown { .. } => self.auto_shutdowns.increment(1),
            HealingEventKind::HeartbeatMissed { .. } => self.hung.increment(1),
            HealingEventKind::HungKilled => self.hung_kills.increment(1),
            HealingEventKind::StuckTask { .. } => self.stuck.increment(1),
            HealingEventKind::BackoffScheduled { .. } => self.backoffs.increment(1),
            HealingEventKind::ProbeResult { passed: false, .. } => self.probe_failures.increment(1),
            HealingEventKind::DuplicateRefused { .. } => self.duplicates.increment(1),
            HealingEventKind::SupervisorStopped { .. } => {
                // A supervisor that is gone will restart none of its
                // children: forget them.
                let gone = event.path.clone();
                self.down_since.retain(|path, _| !path.starts_with(&gone));
            }
            _ => {}
        }
    }

    fn went_down(&mut self, event: &HealingEvent) {
        if self.down_since.len() < PENDING_LIMIT || self.down_since.contains_key(&event.path) {
            self.down_since.insert(event.path.clone(), event.timestamp_ms);
        }
    }
}

fn reason_index(reason: &ExitReason) -> usize {
    match reason {
        ExitReason::Normal => 0,
        ExitReason::Shutdown(_) => 1,
        ExitReason::Killed => 2,
        ExitReason::Hung => 3,
        ExitReason::Failed(_) => 4,
        _ => 5,
    }
}
