//! Resilience events into counters and breaker-state gauges.

use std::collections::HashMap;

use hale_resilience::{BreakerState, EventKind, GiveUpReason, RejectionKind, ResilienceEvent};
use metrics::{Gauge, Label};

use super::{OpsMetrics, catalog};

/// The breaker states, as label values, in the order of [`state_index`].
const BREAKER_STATES: [&str; 5] = ["closed", "open", "half_open", "forced_open", "disabled"];

/// Per-policy handles, kept so a breaker's five state gauges are registered
/// once.
#[derive(Default)]
pub(crate) struct ResilienceMetrics {
    breakers: HashMap<String, Vec<Gauge>>,
}

impl ResilienceMetrics {
    /// Counts one resilience event.
    pub(crate) fn record(&mut self, metrics: &OpsMetrics, event: &ResilienceEvent) {
        let policy = metrics.policy_label(&event.policy);
        let by_policy = || vec![Label::new("policy", policy.clone())];
        let with = |key: &'static str, value: &'static str| {
            vec![Label::new("policy", policy.clone()), Label::new(key, value)]
        };
        match &event.kind {
            EventKind::RetryScheduled { .. } => metrics.counter(&catalog::RETRIES, by_policy()).increment(1),
            EventKind::RetryGaveUp { reason, .. } => metrics
                .counter(&catalog::RETRY_GIVE_UPS, with("reason", give_up_name(*reason)))
                .increment(1),
            EventKind::BreakerTransition { to, .. } => {
                metrics
                    .counter(&catalog::BREAKER_TRANSITIONS, with("to", breaker_state_name(*to)))
                    .increment(1);
                let gauges = self.breakers.entry(policy.clone()).or_insert_with(|| {
                    BREAKER_STATES
                        .iter()
                        .map(|state| {
                            let labels =
                                vec![Label::new("policy", policy.clone()), Label::new("state", *state)];
                            metrics.gauge(&catalog::BREAKER_STATE, labels)
                        })
                        .collect()
                });
                let current = state_index(*to);
                for (index, gauge) in gauges.iter().enumerate() {
                    gauge.set(if index == current { 1.0 } else { 0.0 });
                }
            }
            EventKind::CallRejected { reason, .. } => metrics
                .counter(&catalog::REJECTIONS, with("reason", rejection_name(*reason)))
                .increment(1),
            EventKind::TimedOut { .. } => metrics.counter(&catalog::TIMEOUTS, by_policy()).increment(1),
            EventKind::FallbackTaken { .. } => metrics.counter(&catalog::FALLBACKS, by_policy()).increment(1),
            EventKind::Escalated { .. } => metrics
                .counter(&catalog::FALLBACK_ESCALATIONS, by_policy())
                .increment(1),
            EventKind::Degraded { .. } => metrics
                .counter(&catalog::DEGRADED_STEPS, by_policy())
                .increment(1),
            _ => {}
        }
    }
}

/// A breaker state's label value.
pub(crate) fn breaker_state_name(state: BreakerState) -> &'static str {
    BREAKER_STATES[state_index(state)]
}

fn state_index(state: BreakerState) -> usize {
    match state {
        BreakerState::Closed => 0,
        BreakerState::Open => 1,
        BreakerState::HalfOpen => 2,
        BreakerState::ForcedOpen => 3,
        BreakerState::Disabled => 4,
    }
}

fn give_up_name(reason: GiveUpReason) -> &'static str {
    match reason {
        GiveUpReason::NonRetryable => "non_retryable",
        GiveUpReason::AttemptsExhausted => "attempts_exhausted",
        GiveUpReason::Deadline => "deadline",
    }
}

fn rejection_name(reason: RejectionKind) -> &'static str {
    match reason {
        RejectionKind::CircuitOpen => "circuit_open",
        RejectionKind::BulkheadFull => "bulkhead_full",
        RejectionKind::RateLimited => "rate_limited",
        RejectionKind::AlreadyRunning => "already_running",
    }
}
