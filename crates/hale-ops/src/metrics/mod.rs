//! Prometheus metrics, kept in a recorder of the router's own.
//!
//! Each [`Ops`](crate::Ops) owns one `PrometheusRecorder` and renders
//! `/metrics` from its handle. The recorder is never installed as the
//! process's global one, so two routers in one process (two trees, or two
//! tests) never mix their counts, and the application's own use of the
//! `metrics` facade is left alone.
//!
//! Counters move with the events ([`healing`], [`resilience`]); gauges are
//! set from the health snapshot at each scrape. [`catalog`] lists every name.

pub mod catalog;
mod healing;
mod resilience;
mod work;

use std::collections::HashMap;
use std::sync::{Mutex, PoisonError};

use metrics::{Counter, Gauge, Histogram, Key, Label, Metadata, Recorder, Unit};
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle, PrometheusRecorder};

use crate::error::OpsError;
use crate::snapshot::{STATES, Tally, state_name};
pub(crate) use healing::HealingMetrics;
pub(crate) use resilience::ResilienceMetrics;
pub use work::{WorkMetrics, WorkOutcome};

use catalog::MetricInfo;

const METADATA: Metadata<'static> = Metadata::new("hale_ops", metrics::Level::INFO, Some(module_path!()));

/// The recorder, its render handle, and the handles of the metrics that
/// take no free labels (registered once).
pub(crate) struct OpsMetrics {
    recorder: PrometheusRecorder,
    handle: PrometheusHandle,
    tree: TreeMetrics,
    events_missed: Counter,
    work: WorkMetrics,
    /// Resilience policy names seen so far, each kept as its own label value
    /// up to [`catalog::MAX_POLICIES`].
    policies: Mutex<HashMap<String, ()>>,
}

/// Gauges set from each snapshot.
pub(crate) struct TreeMetrics {
    up: Gauge,
    by_state: Vec<(&'static str, Gauge)>,
    unready: Gauge,
    /// Dead letters and pending approvals: registered only when a workflow
    /// store is plugged in, so a service without one shows no false zero.
    workflows: Option<(Gauge, Gauge)>,
}

impl OpsMetrics {
    pub(crate) fn new(with_workflows: bool) -> Result<Self, OpsError> {
        let builder = [catalog::RESTART_DURATION, catalog::WORK_ITEM_DURATION]
            .into_iter()
            .try_fold(PrometheusBuilder::new(), |builder, metric| {
                builder
                    .set_buckets_for_metric(Matcher::Full(metric.name.to_owned()), catalog::DURATION_BUCKETS)
            })
            .map_err(|error| OpsError::Metrics(error.to_string()))?;
        let recorder = builder.build_recorder();
        let handle = recorder.handle();
        for metric in catalog::ALL {
            describe(&recorder, metric);
        }
        let gauge =
            |metric: &MetricInfo| recorder.register_gauge(&Key::from_static_name(metric.name), &METADATA);
        let tree = TreeMetrics {
            up: gauge(&catalog::TREE_UP),
            by_state: STATES
                .iter()
                .map(|state| {
                    let name = state_name(*state);
                    let key = Key::from_parts(catalog::CHILDREN.name, vec![Label::new("state", name)]);
                    (name, recorder.register_gauge(&key, &METADATA))
                })
                .collect(),
            unready: gauge(&catalog::CHILDREN_UNREADY),
            workflows: with_workflows
                .then(|| (gauge(&catalog::DEAD_LETTERS), gauge(&catalog::PENDING_APPROVALS))),
        };
        let events_missed = counter(&recorder, &catalog::EVENTS_MISSED, Vec::new());
        let work = WorkMetrics::register(&recorder);
        Ok(Self {
            tree,
            events_missed,
            work,
            recorder,
            handle,
            policies: Mutex::new(HashMap::new()),
        })
    }

    /// The handles the feed counts healing events with.
    pub(crate) fn healing(&self) -> HealingMetrics {
        HealingMetrics::register(&self.recorder)
    }

    /// What the application reports about its work items.
    pub(crate) fn work(&self) -> &WorkMetrics {
        &self.work
    }

    /// A counter with labels, registered (or found) now.
    pub(crate) fn counter(&self, metric: &MetricInfo, labels: Vec<Label>) -> Counter {
        self.recorder
            .register_counter(&Key::from_parts(metric.name, labels), &METADATA)
    }

    /// A gauge with labels, registered (or found) now.
    pub(crate) fn gauge(&self, metric: &MetricInfo, labels: Vec<Label>) -> Gauge {
        self.recorder
            .register_gauge(&Key::from_parts(metric.name, labels), &METADATA)
    }

    /// The label value for a policy name: the name itself for the first
    /// [`catalog::MAX_POLICIES`] names seen, `other` after that.
    pub(crate) fn policy_label(&self, policy: &str) -> String {
        let mut policies = self.policies.lock().unwrap_or_else(PoisonError::into_inner);
        if policies.contains_key(policy) {
            return policy.to_owned();
        }
        if policies.len() < catalog::MAX_POLICIES {
            policies.insert(policy.to_owned(), ());
            return policy.to_owned();
        }
        "other".to_owned()
    }

    /// Counts events hale-ops missed because it fell behind.
    pub(crate) fn missed(&self, count: u64) {
        self.events_missed.increment(count);
    }

    /// Counts one admin action.
    pub(crate) fn admin_action(&self, action: &'static str, outcome: &'static str) {
        self.counter(
            &catalog::ADMIN_ACTIONS,
            vec![Label::new("action", action), Label::new("outcome", outcome)],
        )
        .increment(1);
    }

    /// Sets the gauges from a tally of the tree (`None`: it did not answer) and
    /// the plugged workflow store's counts, then renders the text format.
    pub(crate) fn render(&self, tally: Option<&Tally>, workflows: Option<(u64, u64)>) -> String {
        match tally {
            Some(tally) => {
                self.tree.up.set(1.0);
                for ((_, gauge), count) in self.tree.by_state.iter().zip(tally.by_state) {
                    gauge.set(count as f64);
                }
                self.tree.unready.set(tally.unready as f64);
            }
            None => self.tree.up.set(0.0),
        }
        if let (Some((dead_letters, pending)), Some((gauge_dead, gauge_pending))) =
            (workflows, &self.tree.workflows)
        {
            gauge_dead.set(dead_letters as f64);
            gauge_pending.set(pending as f64);
        }
        self.handle.render()
    }

    /// Folds buffered histogram samples into their buckets, so memory stays
    /// bounded between scrapes.
    pub(crate) fn upkeep(&self) {
        self.handle.run_upkeep();
    }
}

fn describe(recorder: &PrometheusRecorder, metric: &MetricInfo) {
    let unit: Option<Unit> = None;
    let name = metrics::KeyName::from_const_str(metric.name);
    let help = metrics::SharedString::const_str(metric.help);
    match metric.kind {
        catalog::MetricType::Counter => recorder.describe_counter(name, unit, help),
        catalog::MetricType::Gauge => recorder.describe_gauge(name, unit, help),
        catalog::MetricType::Histogram => recorder.describe_histogram(name, unit, help),
    }
}

/// A counter handle shared by an event kind (no free labels).
pub(crate) fn counter(recorder: &PrometheusRecorder, metric: &MetricInfo, labels: Vec<Label>) -> Counter {
    recorder.register_counter(&Key::from_parts(metric.name, labels), &METADATA)
}

/// A histogram handle (no labels).
pub(crate) fn histogram(recorder: &PrometheusRecorder, metric: &MetricInfo) -> Histogram {
    recorder.register_histogram(&Key::from_static_name(metric.name), &METADATA)
}
