//! Every metric hale-ops exports: its name, type, labels and meaning.
//!
//! Names follow Prometheus' conventions: one `hale_` prefix, base units
//! (seconds), `_total` on counters. Labels take only bounded values: enum
//! names (a state, a reason class) or a resilience policy's name, which
//! comes from code, and of which at most [`MAX_POLICIES`] are kept apart
//! (the rest share the label value `other`). No label carries a child's path
//! or any other id that grows with the work.
//!
//! ```
//! use hale_ops::catalog::{self, MetricType};
//!
//! assert_eq!(catalog::RESTARTS.name, "hale_child_restarts_total");
//! assert!(catalog::ALL.iter().all(|m| (m.kind == MetricType::Counter) == m.name.ends_with("_total")));
//! ```

/// How many distinct resilience policy names get their own label value.
pub const MAX_POLICIES: usize = 256;

/// A metric's type.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MetricType {
    /// Only goes up.
    Counter,
    /// Goes up and down; set at each render from the health snapshot.
    Gauge,
    /// Observations in buckets.
    Histogram,
}

/// One exported metric.
#[derive(Clone, Copy, Debug)]
pub struct MetricInfo {
    /// The full name.
    pub name: &'static str,
    /// Counter, gauge or histogram.
    pub kind: MetricType,
    /// Its labels.
    pub labels: &'static [&'static str],
    /// What it counts.
    pub help: &'static str,
}

macro_rules! metric {
    ($const:ident, $name:literal, $kind:ident, [$($label:literal),*], $help:literal) => {
        #[doc = $help]
        pub const $const: MetricInfo = MetricInfo {
            name: $name,
            kind: MetricType::$kind,
            labels: &[$($label),*],
            help: $help,
        };
    };
}

metric!(
    TREE_UP,
    "hale_tree_up",
    Gauge,
    [],
    "1 while the root supervisor answers, 0 when it does not."
);
metric!(
    CHILDREN,
    "hale_children",
    Gauge,
    ["state"],
    "Nodes of the tree by state, from the health snapshot taken at each scrape."
);
metric!(
    CHILDREN_UNREADY,
    "hale_children_unready",
    Gauge,
    [],
    "Nodes that declare themselves not ready."
);
metric!(
    RESTARTS,
    "hale_child_restarts_total",
    Counter,
    [],
    "Children restarted by their supervisor (after their own exit or, under one_for_all and rest_for_one, a sibling's)."
);
metric!(
    RESTART_DURATION,
    "hale_restart_duration_seconds",
    Histogram,
    [],
    "From a child's exit (or its stop by a group restart) to its restart, from the events' timestamps (millisecond resolution; includes any backoff delay)."
);
metric!(
    EXITS,
    "hale_child_exits_total",
    Counter,
    ["reason"],
    "Children that exited by themselves, by reason class: normal, shutdown, killed, hung, failed, other."
);
metric!(
    START_FAILURES,
    "hale_child_start_failures_total",
    Counter,
    [],
    "Start functions that failed at boot or through the API."
);
metric!(
    RESTART_FAILURES,
    "hale_restart_failures_total",
    Counter,
    [],
    "Restarts whose start failed; the supervisor retries them."
);
metric!(
    ESCALATIONS,
    "hale_escalations_total",
    Counter,
    [],
    "Supervisors that gave up (more restarts than their intensity within their period) and exited, handing the failure to their parent."
);
metric!(
    AUTO_SHUTDOWNS,
    "hale_auto_shutdowns_total",
    Counter,
    [],
    "Supervisors that shut down because a significant child ended."
);
metric!(
    HUNG,
    "hale_hung_detected_total",
    Counter,
    [],
    "Watched children that missed their heartbeat deadline."
);
metric!(
    HUNG_KILLS,
    "hale_hung_kills_total",
    Counter,
    [],
    "Hung children that did not stop within their grace period and were killed."
);
metric!(
    STUCK_TASKS,
    "hale_stuck_tasks_total",
    Counter,
    [],
    "Killed children that did not exit either (blocked in code that never yields): replaced and left behind."
);
metric!(
    BACKOFFS,
    "hale_restart_backoffs_total",
    Counter,
    [],
    "Restarts delayed by the child's backoff policy."
);
metric!(
    PROBE_FAILURES,
    "hale_probe_failures_total",
    Counter,
    [],
    "Functional probes that answered wrongly or not at all."
);
metric!(
    DUPLICATES_REFUSED,
    "hale_duplicate_starts_refused_total",
    Counter,
    [],
    "Unique dynamic children not started because one with the same key runs."
);
metric!(
    BREAKER_STATE,
    "hale_breaker_state",
    Gauge,
    ["policy", "state"],
    "1 for the state each circuit breaker is in (closed, open, half_open, forced_open, disabled), 0 for the others."
);
metric!(
    BREAKER_TRANSITIONS,
    "hale_breaker_transitions_total",
    Counter,
    ["policy", "to"],
    "Circuit-breaker state changes, by the state entered."
);
metric!(
    RETRIES,
    "hale_retries_total",
    Counter,
    ["policy"],
    "Failed attempts followed by another attempt."
);
metric!(
    RETRY_GIVE_UPS,
    "hale_retry_give_ups_total",
    Counter,
    ["policy", "reason"],
    "Retry policies that stopped trying: non_retryable, attempts_exhausted or deadline."
);
metric!(
    FALLBACKS,
    "hale_fallbacks_total",
    Counter,
    ["policy"],
    "Fallback chains that moved on to their next alternative."
);
metric!(
    FALLBACK_ESCALATIONS,
    "hale_fallback_escalations_total",
    Counter,
    ["policy"],
    "Fallback chains whose alternatives all failed, handing the call to their escalation."
);
metric!(
    REJECTIONS,
    "hale_rejections_total",
    Counter,
    ["policy", "reason"],
    "Calls refused without calling the dependency: circuit_open, bulkhead_full, rate_limited, already_running."
);
metric!(
    TIMEOUTS,
    "hale_timeouts_total",
    Counter,
    ["policy"],
    "Attempts cancelled by a timeout."
);
metric!(
    DEGRADED_STEPS,
    "hale_degraded_steps_total",
    Counter,
    ["policy"],
    "Optional steps that failed and used their neutral default."
);
metric!(
    DEAD_LETTERS,
    "hale_dead_letters",
    Gauge,
    [],
    "Dead letters held by the plugged workflow store (absent when none is plugged)."
);
metric!(
    PENDING_APPROVALS,
    "hale_pending_approvals",
    Gauge,
    [],
    "Approval gates waiting for a decision (absent when no workflow store is plugged)."
);
metric!(
    WORK_ITEMS,
    "hale_work_items_total",
    Counter,
    ["outcome"],
    "Work items the application finished, by outcome: completed, degraded, dead_lettered, escalated, failed."
);
metric!(
    WORK_ITEM_DURATION,
    "hale_work_item_duration_seconds",
    Histogram,
    [],
    "How long a work item took from submission to its outcome, as the application reports it."
);
metric!(
    EVENTS_MISSED,
    "hale_ops_events_missed_total",
    Counter,
    [],
    "Events hale-ops itself missed because its reader fell behind a bounded bus (its counters undercount by this much)."
);
metric!(
    ADMIN_ACTIONS,
    "hale_ops_admin_actions_total",
    Counter,
    ["action", "outcome"],
    "Admin actions asked through the HTTP surface, by action and outcome (ok, refused, failed)."
);

/// Every metric, in the order the docs list them.
pub const ALL: &[MetricInfo] = &[
    TREE_UP,
    CHILDREN,
    CHILDREN_UNREADY,
    RESTARTS,
    RESTART_DURATION,
    EXITS,
    START_FAILURES,
    RESTART_FAILURES,
    ESCALATIONS,
    AUTO_SHUTDOWNS,
    HUNG,
    HUNG_KILLS,
    STUCK_TASKS,
    BACKOFFS,
    PROBE_FAILURES,
    DUPLICATES_REFUSED,
    BREAKER_STATE,
    BREAKER_TRANSITIONS,
    RETRIES,
    RETRY_GIVE_UPS,
    FALLBACKS,
    FALLBACK_ESCALATIONS,
    REJECTIONS,
    TIMEOUTS,
    DEGRADED_STEPS,
    DEAD_LETTERS,
    PENDING_APPROVALS,
    WORK_ITEMS,
    WORK_ITEM_DURATION,
    EVENTS_MISSED,
    ADMIN_ACTIONS,
];

/// The buckets of both duration histograms, in seconds: restarts take
/// microseconds to seconds (with backoff); work items milliseconds to
/// minutes.
pub const DURATION_BUCKETS: &[f64] = &[
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0,
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_follow_prometheus_conventions() {
        let mut seen = std::collections::HashSet::new();
        for metric in ALL {
            assert!(seen.insert(metric.name), "{} listed twice", metric.name);
            assert!(metric.name.starts_with("hale_"), "{}", metric.name);
            assert!(!metric.name["hale_".len()..].contains("hale_"), "{}", metric.name);
            let counter = metric.kind == MetricType::Counter;
            assert_eq!(counter, metric.name.ends_with("_total"), "{}", metric.name);
            assert!(
                metric.name.chars().all(|c| c.is_ascii_lowercase() || c == '_'),
                "{}",
                metric.name
            );
            for unit in ["_ms", "_millis", "_milliseconds", "_minutes"] {
                assert!(
                    !metric.name.contains(unit),
                    "{} is not in base units",
                    metric.name
                );
            }
            for label in metric.labels {
                assert!(
                    !["path", "id", "child", "item"].contains(label),
                    "{} {label}",
                    metric.name
                );
            }
        }
        assert!(DURATION_BUCKETS.windows(2).all(|pair| pair[0] < pair[1]));
    }
}
