//! The chaos report: what went in, what came out, what hit the tree, and a
//! hash that proves two runs saw the same thing.

mod collector;

use std::collections::BTreeMap;
use std::fmt;
use std::time::Duration;

use serde::{Deserialize, Serialize};

pub(crate) use collector::{Collector, Seen};

use crate::ledger::LedgerCounts;

/// Percentiles of a set of durations, in ms.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Percentiles {
    /// How many samples.
    pub count: usize,
    /// The median, in ms.
    pub p50_ms: f64,
    /// The 99th percentile, in ms.
    pub p99_ms: f64,
    /// The largest, in ms.
    pub max_ms: f64,
}

impl Percentiles {
    /// Nearest-rank percentiles of `samples`.
    pub fn of(samples: &[Duration]) -> Self {
        if samples.is_empty() {
            return Self::default();
        }
        let mut sorted: Vec<f64> = samples.iter().map(|d| d.as_secs_f64() * 1e3).collect();
        sorted.sort_by(f64::total_cmp);
        let rank = |p: f64| sorted[((p * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len()) - 1];
        Self {
            count: sorted.len(),
            p50_ms: rank(0.50),
            p99_ms: rank(0.99),
            max_ms: sorted[sorted.len() - 1],
        }
    }
}

/// What a finished run hands to its report.
pub(crate) struct RunRecord {
    pub(crate) scenario: String,
    pub(crate) seed: u64,
    pub(crate) items: LedgerCounts,
    pub(crate) faults: BTreeMap<String, u64>,
    pub(crate) fault_hash: u64,
    pub(crate) seen: Seen,
    pub(crate) duration: Duration,
    pub(crate) wall: Duration,
    pub(crate) notes: BTreeMap<String, u64>,
}

/// Everything a chaos run reports.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ChaosReport {
    /// The scenario.
    pub scenario: String,
    /// The seed.
    pub seed: u64,
    /// Work items in and where they ended.
    pub items: LedgerCounts,
    /// Faults injected, by kind.
    pub faults: BTreeMap<String, u64>,
    /// Restarts by supervisors.
    pub restarts: u64,
    /// Supervisors that gave up (intensity exceeded) and escalated.
    pub escalations: u64,
    /// Hung children found by the watchdog.
    pub hung: u64,
    /// Hung children stuck in blocking code (replaced anyway).
    pub stuck: u64,
    /// Circuit breakers that opened.
    pub circuit_openings: u64,
    /// Retries scheduled by retry policies.
    pub retries: u64,
    /// Fallback alternatives taken.
    pub fallbacks: u64,
    /// Duplicate unique children refused.
    pub duplicates_refused: u64,
    /// Time from a child's exit to its restart (or to its fresh start under
    /// a restarted supervisor, when its own supervisor gave up).
    pub time_to_recover: Percentiles,
    /// Run time on the run's clock (tokio's: simulated when the run is on a
    /// paused clock), in ms.
    pub duration_ms: u64,
    /// Run time on the wall clock, in ms.
    pub wall_ms: u64,
    /// Settled items per second of run time.
    pub throughput_per_s: f64,
    /// Scenario-specific counts (e.g. which alternative served how many).
    pub notes: BTreeMap<String, u64>,
    /// Healing and resilience events seen.
    pub events: u64,
    /// Events the report's collector missed because it fell more than the
    /// event bus's capacity behind. Nonzero means the counts and the hash
    /// are incomplete, and the run fails.
    pub events_missed: u64,
    /// FNV-1a hash of the event log and the fault log, timestamps excluded:
    /// equal for two runs with the same seed and plan.
    pub event_hash: String,
}

impl ChaosReport {
    pub(crate) fn new(record: RunRecord) -> Self {
        let RunRecord {
            scenario,
            seed,
            items,
            faults,
            fault_hash,
            seen,
            duration,
            wall,
            notes,
        } = record;
        let settled = items.submitted - items.lost;
        let seconds = duration.as_secs_f64();
        let combined = crate::injector::fnv(
            &[seen.healing_hash, seen.resilience_hash, fault_hash]
                .iter()
                .flat_map(|word| word.to_le_bytes())
                .collect::<Vec<_>>(),
        );
        Self {
            scenario,
            seed,
            items,
            faults,
            restarts: seen.restarts,
            escalations: seen.escalations,
            hung: seen.hung,
            stuck: seen.stuck,
            circuit_openings: seen.circuit_openings,
            retries: seen.retries,
            fallbacks: seen.fallbacks,
            duplicates_refused: seen.duplicates_refused,
            time_to_recover: Percentiles::of(&seen.recoveries),
            duration_ms: hale_util::millis(duration),
            wall_ms: hale_util::millis(wall),
            throughput_per_s: if seconds > 0.0 {
                settled as f64 / seconds
            } else {
                0.0
            },
            notes,
            events: seen.events,
            events_missed: seen.events_missed,
            event_hash: format!("{combined:016x}"),
        }
    }

    /// Whether every item is accounted for, once.
    pub fn nothing_lost(&self) -> bool {
        self.items.lost == 0 && self.items.miscounted == 0 && self.events_missed == 0
    }

    /// Writes the report as JSON.
    pub fn write_json(&self, path: &std::path::Path) -> std::io::Result<()> {
        let json = serde_json::to_string_pretty(self).map_err(std::io::Error::other)?;
        std::fs::write(path, json)
    }
}

impl fmt::Display for ChaosReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let items = &self.items;
        let line = "─".repeat(58);
        writeln!(f, "{line}")?;
        writeln!(f, " chaos report: {}   seed {}", self.scenario, self.seed)?;
        writeln!(f, "{line}")?;
        writeln!(f, " work items")?;
        let rows = [
            ("in", items.submitted),
            ("completed", items.completed),
            ("degraded", items.degraded),
            ("dead-lettered", items.dead_lettered),
            ("escalated to a human", items.escalated),
        ];
        for (name, count) in rows {
            writeln!(f, "   {name:<26} {count:>8}")?;
        }
        let verdict = if self.nothing_lost() { "ok" } else { "FAILED" };
        writeln!(
            f,
            "   {:<26} {:>8}   {verdict}",
            "lost",
            items.lost + items.miscounted
        )?;
        let total: u64 = self.faults.values().sum();
        writeln!(f, " faults injected {total:>27}")?;
        for (kind, count) in &self.faults {
            writeln!(f, "   {kind:<26} {count:>8}")?;
        }
        writeln!(f, " healing")?;
        let healing = [
            ("restarts", self.restarts),
            ("escalations (gave up)", self.escalations),
            ("hung agents killed", self.hung),
            ("stuck tasks", self.stuck),
            ("circuit openings", self.circuit_openings),
            ("retries", self.retries),
            ("fallbacks taken", self.fallbacks),
            ("duplicates refused", self.duplicates_refused),
        ];
        for (name, count) in healing {
            writeln!(f, "   {name:<26} {count:>8}")?;
        }
        let recover = &self.time_to_recover;
        writeln!(
            f,
            "   {:<26} {:>8.2} / {:.2} ms   (p50 / p99, {} recoveries)",
            "time to recover", recover.p50_ms, recover.p99_ms, recover.count
        )?;
        if !self.notes.is_empty() {
            writeln!(f, " {}", self.scenario)?;
            for (name, count) in &self.notes {
                writeln!(f, "   {name:<26} {count:>8}")?;
            }
        }
        writeln!(
            f,
            " run time {:.1} s on the run's clock ({:.1} s wall), {:.1} items/s",
            self.duration_ms as f64 / 1e3,
            self.wall_ms as f64 / 1e3,
            self.throughput_per_s
        )?;
        writeln!(f, " event log hash {} ({} events)", self.event_hash, self.events)?;
        if self.events_missed > 0 {
            writeln!(
                f,
                " EVENTS MISSED  {} (the collector fell behind the event bus: counts and hash are incomplete)",
                self.events_missed
            )?;
        }
        write!(f, "{line}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_use_nearest_rank() {
        let samples: Vec<Duration> = (1..=100).map(Duration::from_millis).collect();
        let p = Percentiles::of(&samples);
        assert_eq!((p.count, p.p50_ms, p.p99_ms, p.max_ms), (100, 50.0, 99.0, 100.0));
        assert_eq!(Percentiles::of(&[]), Percentiles::default());
    }
}
