//! Restart backoff: wait before restarting a child that keeps failing.
//!
//! OTP restarts at once, which turns a dependency outage into a restart storm
//! that burns the intensity in milliseconds. A child can opt into a delay:
//!
//! ```text
//! delay(n) = random(0 ..= min(max, base * 2^n))      n = restarts since the child last ran stably
//! ```
//!
//! This is "full jitter": spreading restarts over the whole window is what
//! keeps a crowd of children failing on the same outage from retrying in
//! lockstep. `n` goes back to 0 once an incarnation has run for `reset_after`
//! without exiting. The random source is seedable, so a chaos run with the
//! same seed waits the same delays.
//!
//! While a child waits out its delay it is `Restarting` (the API answers
//! "restarting"), the supervisor goes on serving everyone else, and each
//! delayed restart carries a generation number: if the child was restarted,
//! terminated or deleted meanwhile, the late timer does nothing.

use std::time::Duration;

use hale_util::{Backoff, Jitter};
use rand::SeedableRng;
use rand::rngs::StdRng;

/// A child's restart backoff policy: set with
/// [`ChildSpec::backoff`](crate::ChildSpec::backoff).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RestartBackoff {
    pub(crate) base: Duration,
    pub(crate) max: Duration,
    pub(crate) reset_after: Duration,
    pub(crate) seed: Option<u64>,
}

impl RestartBackoff {
    /// Full-jitter exponential backoff from `base`, capped at `max`; resets
    /// after 30 s of stable running; seeded from the OS unless
    /// [`seed`](Self::seed) is given.
    pub fn new(base: Duration, max: Duration) -> Self {
        Self {
            base,
            max: max.max(base),
            reset_after: Duration::from_secs(30),
            seed: None,
        }
    }

    /// Sets how long an incarnation must run before the exponent resets.
    pub fn reset_after(mut self, stable_for: Duration) -> Self {
        self.reset_after = stable_for;
        self
    }

    /// Fixes the random source, for reproducible delays.
    pub fn seed(mut self, seed: u64) -> Self {
        self.seed = Some(seed);
        self
    }

    /// The upper bound of the delay before the restart that follows `attempt`
    /// earlier restarts: `min(max, base * 2^attempt)`.
    pub fn ceiling(&self, attempt: u32) -> Duration {
        self.curve().capped_exponential(attempt.saturating_add(1))
    }

    /// The shared delay arithmetic, with this policy's numbers.
    fn curve(&self) -> Backoff {
        Backoff {
            initial: self.base,
            coefficient: 2.0,
            maximum: self.max,
            jitter: Jitter::Full,
        }
    }
}

/// The backoff state of one child: its random source and exponent.
#[derive(Debug)]
pub(crate) struct BackoffState {
    policy: RestartBackoff,
    rng: StdRng,
    attempt: u32,
}

impl BackoffState {
    pub(crate) fn new(policy: RestartBackoff) -> Self {
        let rng = match policy.seed {
            Some(seed) => StdRng::seed_from_u64(seed),
            None => StdRng::seed_from_u64(rand::random()),
        };
        Self {
            policy,
            rng,
            attempt: 0,
        }
    }

    /// The delay before the next restart, given how long the incarnation
    /// that just exited had run. Returns the delay and the attempt number.
    pub(crate) fn next_delay(&mut self, ran_for: Duration) -> (Duration, u32) {
        if ran_for >= self.policy.reset_after {
            self.attempt = 0;
        }
        let attempt = self.attempt;
        let drawn = self
            .policy
            .curve()
            .delay(attempt.saturating_add(1), None, &mut self.rng);
        // Whole milliseconds: tokio's timers have no finer resolution, and
        // the event then reports exactly the delay that is waited.
        let delay = Duration::from_millis(hale_util::millis(drawn));
        self.attempt = self.attempt.saturating_add(1);
        (delay, attempt)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ceiling_doubles_up_to_the_cap() {
        let policy = RestartBackoff::new(Duration::from_millis(100), Duration::from_secs(1));
        let ceilings: Vec<_> = (0..6).map(|n| policy.ceiling(n).as_millis()).collect();
        assert_eq!(ceilings, [100, 200, 400, 800, 1000, 1000]);
        assert_eq!(policy.ceiling(200), Duration::from_secs(1));
    }

    #[test]
    fn delays_stay_within_the_jitter_bounds_for_every_seed() {
        let policy = RestartBackoff::new(Duration::from_millis(10), Duration::from_millis(500));
        for seed in 0..500 {
            let mut state = BackoffState::new(policy.clone().seed(seed));
            for attempt in 0..10 {
                let (delay, n) = state.next_delay(Duration::ZERO);
                assert_eq!(n, attempt);
                assert!(
                    delay <= policy.ceiling(attempt),
                    "seed {seed}: {delay:?} > ceiling"
                );
            }
        }
    }

    #[test]
    fn jitter_spreads_over_the_whole_window() {
        let policy = RestartBackoff::new(Duration::from_millis(1000), Duration::from_millis(1000));
        let delays: Vec<_> = (0..400)
            .map(|seed| {
                BackoffState::new(policy.clone().seed(seed))
                    .next_delay(Duration::ZERO)
                    .0
            })
            .collect();
        let low = delays.iter().filter(|d| d.as_millis() < 250).count();
        let high = delays.iter().filter(|d| d.as_millis() >= 750).count();
        // Full jitter is uniform: each quarter gets about 100 of 400.
        assert!((50..=150).contains(&low), "{low} delays in the lowest quarter");
        assert!((50..=150).contains(&high), "{high} delays in the highest quarter");
    }

    #[test]
    fn same_seed_same_delays() {
        let policy = RestartBackoff::new(Duration::from_millis(10), Duration::from_secs(5)).seed(7);
        let run = || {
            let mut state = BackoffState::new(policy.clone());
            (0..8)
                .map(|_| state.next_delay(Duration::ZERO).0)
                .collect::<Vec<_>>()
        };
        assert_eq!(run(), run());
    }

    #[test]
    fn a_stable_run_resets_the_exponent() {
        let policy = RestartBackoff::new(Duration::from_millis(10), Duration::from_secs(5))
            .reset_after(Duration::from_secs(30))
            .seed(1);
        let mut state = BackoffState::new(policy);
        for expected in 0..4 {
            assert_eq!(state.next_delay(Duration::from_secs(1)).1, expected);
        }
        assert_eq!(state.next_delay(Duration::from_secs(30)).1, 0);
    }
}
