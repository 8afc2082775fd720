//! The restart-intensity window (OTP's MaxRestarts within MaxTime).
//!
//! Before every restart decision the supervisor records "now"; entries older
//! than the period age out; if more than `intensity` entries remain, the
//! supervisor gives up. So intensity N allows N restarts in any window of
//! length `period`, and the N+1-th shuts the supervisor down. Successful runs
//! never clear the list: entries only age out.
//!
//! OTP counts whole seconds; Hale uses tokio's monotonic clock with
//! sub-second precision (so a paused test clock drives it). As in OTP, an
//! entry exactly `period` old still counts.
//!
//! Memory is bounded by what the decision needs, whatever the intensity: the
//! window keeps at most [`KEPT`] entries, each an instant with a count
//! (restarts at the same instant share one). Past that, the two oldest are
//! merged into the newer one's instant, so they are counted until it ages
//! out: with more than `KEPT` distinct restart instants inside one period a
//! supervisor may give up a little earlier than the exact count says, never
//! later. Up to `KEPT` the count is exact.

use std::collections::VecDeque;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use tokio::time::Instant;

/// How much of a supervisor's restart intensity is used: `used` restarts
/// within the last `period_ms`, of the `intensity` it allows (one more and
/// it gives up).
///
/// # Examples
///
/// ```
/// use hale_core::IntensityWindow;
///
/// let window = IntensityWindow { used: 2, intensity: 3, period_ms: 5_000 };
/// assert_eq!(window.to_string(), "2 of 3 restarts in 5000 ms");
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct IntensityWindow {
    /// Restarts recorded within the period, as of the snapshot.
    pub used: u32,
    /// MaxRestarts: how many the supervisor allows within the period.
    pub intensity: u32,
    /// MaxTime, in milliseconds.
    pub period_ms: u64,
}

impl std::fmt::Display for IntensityWindow {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} of {} restarts in {} ms",
            self.used, self.intensity, self.period_ms
        )
    }
}

/// The most entries a [`RestartWindow`] keeps (about 24 KiB).
pub(crate) const KEPT: usize = 1024;

/// Recent restarts of one supervisor, newest last: each entry an instant
/// and how many restarts it stands for.
#[derive(Debug, Clone)]
pub(crate) struct RestartWindow {
    intensity: u32,
    period: Duration,
    recent: VecDeque<(Instant, u64)>,
    /// The sum of the counts in `recent`.
    total: u64,
}

impl RestartWindow {
    pub(crate) fn new(intensity: u32, period: Duration) -> Self {
        Self {
            intensity,
            period,
            recent: VecDeque::new(),
            total: 0,
        }
    }

    /// Records a restart at `now`. Returns `true` if the restart is allowed,
    /// `false` if the window now holds more than `intensity` restarts.
    pub(crate) fn record(&mut self, now: Instant) -> bool {
        while let Some(&(oldest, count)) = self.recent.front() {
            if now.saturating_duration_since(oldest) > self.period {
                self.recent.pop_front();
                self.total -= count;
            } else {
                break;
            }
        }
        match self.recent.back_mut() {
            Some((last, count)) if *last == now => *count += 1,
            _ => self.recent.push_back((now, 1)),
        }
        self.total += 1;
        if self.recent.len() > KEPT
            && let Some((_, oldest)) = self.recent.pop_front()
            && let Some((_, next)) = self.recent.front_mut()
        {
            // Counted until the newer of the two ages out: never late.
            *next += oldest;
        }
        self.total <= u64::from(self.intensity)
    }

    /// MaxRestarts.
    pub(crate) fn intensity(&self) -> u32 {
        self.intensity
    }

    /// MaxTime.
    pub(crate) fn period(&self) -> Duration {
        self.period
    }

    /// The window as of `now`, without recording anything.
    pub(crate) fn snapshot(&self, now: Instant) -> IntensityWindow {
        let used: u64 = self
            .recent
            .iter()
            .filter(|&&(at, _)| now.saturating_duration_since(at) <= self.period)
            .map(|&(_, count)| count)
            .sum();
        IntensityWindow {
            used: u32::try_from(used).unwrap_or(u32::MAX),
            intensity: self.intensity,
            period_ms: hale_util::millis(self.period),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn intensity_zero_gives_up_on_the_first_restart() {
        let mut window = RestartWindow::new(0, Duration::from_secs(5));
        assert!(!window.record(Instant::now()));
    }

    #[test]
    fn entries_age_out_after_the_period() {
        let start = Instant::now();
        let mut window = RestartWindow::new(1, Duration::from_secs(5));
        assert!(window.record(start));
        assert!(!window.record(start + Duration::from_secs(5)));
        let mut window = RestartWindow::new(1, Duration::from_secs(5));
        assert!(window.record(start));
        assert!(window.record(start + Duration::from_millis(5_001)));
    }

    #[test]
    fn an_absurd_intensity_keeps_a_bounded_window() {
        let start = Instant::now();
        let mut window = RestartWindow::new(u32::MAX, Duration::from_secs(3600));
        for n in 0..200_000u64 {
            assert!(window.record(start + Duration::from_micros(n)));
        }
        assert!(window.recent.len() <= KEPT);
        assert_eq!(window.snapshot(start + Duration::from_secs(1)).used, 200_000);
    }

    #[test]
    fn merged_entries_give_up_early_never_late() {
        let start = Instant::now();
        let intensity = (KEPT as u32) * 2;
        let mut window = RestartWindow::new(intensity, Duration::from_secs(10));
        for n in 0..u64::from(intensity) {
            assert!(
                window.record(start + Duration::from_millis(n)),
                "restart {n} is within the intensity"
            );
        }
        assert!(!window.record(start + Duration::from_millis(u64::from(intensity))));
    }

    /// The reference model: count the restarts (including this one) whose age
    /// is at most `period`, over the whole history.
    fn reference_allows(history: &[Duration], intensity: u32, period: Duration) -> bool {
        let now = *history.last().unwrap_or(&Duration::ZERO);
        let in_window = history.iter().filter(|&&at| now - at <= period).count();
        in_window <= intensity as usize
    }

    proptest! {
        #[test]
        fn window_matches_the_reference_model(
            intensity in 0u32..6,
            period_ms in 1u64..2_000,
            gaps_ms in proptest::collection::vec(0u64..1_500, 1..60),
        ) {
            let period = Duration::from_millis(period_ms);
            let start = Instant::now();
            let mut window = RestartWindow::new(intensity, period);
            let mut history = Vec::new();
            let mut elapsed = Duration::ZERO;
            for gap in gaps_ms {
                elapsed += Duration::from_millis(gap);
                history.push(elapsed);
                let allowed = window.record(start + elapsed);
                prop_assert_eq!(allowed, reference_allows(&history, intensity, period));
                if !allowed {
                    // A supervisor that gives up stops; nothing is recorded after.
                    break;
                }
            }
        }
    }
}
