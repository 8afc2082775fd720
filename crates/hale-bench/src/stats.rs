//! Percentiles and small number formatting helpers.

use std::time::Duration;

/// The distribution of one measured case.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Summary {
    /// Median.
    pub(crate) p50: Duration,
    /// 99th percentile.
    pub(crate) p99: Duration,
    /// How many samples.
    pub(crate) samples: usize,
}

impl Summary {
    /// Summarises `samples` (sorted in place). `None` when empty.
    pub(crate) fn of(samples: &mut [Duration]) -> Option<Self> {
        if samples.is_empty() {
            return None;
        }
        samples.sort_unstable();
        Some(Self {
            p50: percentile(samples, 0.50),
            p99: percentile(samples, 0.99),
            samples: samples.len(),
        })
    }
}

/// Nearest-rank percentile of sorted samples (the rule otp_bench.erl uses:
/// `max(1, round(p * n))`-th sample, 1-based).
fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let n = sorted.len();
    #[allow(
        clippy::cast_precision_loss,
        clippy::cast_possible_truncation,
        clippy::cast_sign_loss
    )]
    let rank = ((p * n as f64).round() as usize).clamp(1, n);
    sorted[rank - 1]
}

/// A duration in µs with a precision that suits its size.
pub(crate) fn micros(duration: Duration) -> String {
    let us = duration.as_secs_f64() * 1e6;
    if us >= 10_000.0 {
        format!("{:.1} ms", us / 1000.0)
    } else if us >= 1000.0 {
        format!("{:.2} ms", us / 1000.0)
    } else if us >= 100.0 {
        format!("{us:.0} µs")
    } else {
        format!("{us:.1} µs")
    }
}

/// Bytes as KiB with one decimal.
pub(crate) fn kib(bytes: f64) -> String {
    format!("{:.1} KiB", bytes / 1024.0)
}

/// A rate with an SI suffix.
pub(crate) fn rate(per_second: f64) -> String {
    if per_second >= 1e6 {
        format!("{:.2} M/s", per_second / 1e6)
    } else if per_second >= 1e3 {
        format!("{:.1} k/s", per_second / 1e3)
    } else {
        format!("{per_second:.0} /s")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nearest_rank_percentiles() {
        let mut samples: Vec<Duration> = (1..=100).rev().map(Duration::from_micros).collect();
        let summary = Summary::of(&mut samples).unwrap();
        assert_eq!(summary.p50, Duration::from_micros(50));
        assert_eq!(summary.p99, Duration::from_micros(99));
        assert!(Summary::of(&mut []).is_none());
    }
}
