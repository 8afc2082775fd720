//! Delay arithmetic: capped exponential growth, then jitter.
//!
//! Kept free of clocks and policy state so it can be checked exhaustively with proptest.

use std::time::Duration;

use rand::{Rng, RngExt};
use serde::{Deserialize, Serialize};

/// How a retry delay is randomised around the capped exponential delay `d`.
///
/// Jitter spreads the retries of many callers that failed together (a dependency blip)
/// so they do not all come back at the same instant and knock it over again.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Jitter {
    /// Exactly `d`. Predictable, but synchronised callers stay synchronised.
    None,
    /// Uniform in `[0, d]` ("full jitter"). The default: the best spread for the least
    /// total wait.
    #[default]
    Full,
    /// Uniform in `[d/2, d]`: never much shorter than the exponential delay.
    Equal,
    /// "Decorrelated jitter": uniform in `[initial, 3 × previous delay]`, capped at the
    /// maximum interval. Grows on its own, ignoring the backoff coefficient.
    Decorrelated,
}

/// The settings the delay arithmetic needs.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Backoff {
    pub(crate) initial: Duration,
    pub(crate) coefficient: f64,
    pub(crate) maximum: Duration,
    pub(crate) jitter: Jitter,
}

impl Backoff {
    /// `min(maximum, initial × coefficient^(failed_attempts − 1))`: the delay before the
    /// retry that follows the `failed_attempts`-th failure, before jitter.
    pub(crate) fn capped_exponential(&self, failed_attempts: u32) -> Duration {
        let exponent = f64::from(failed_attempts.saturating_sub(1));
        let raw = self.initial.as_secs_f64() * self.coefficient.powf(exponent);
        // Compare in f64 first: the raw value may be huge or infinite, and converting
        // that back into a Duration would panic.
        if !raw.is_finite() || raw >= self.maximum.as_secs_f64() {
            self.maximum
        } else {
            Duration::from_secs_f64(raw)
        }
    }

    /// The jittered delay. `previous` is the delay used before the last attempt (for
    /// decorrelated jitter).
    pub(crate) fn delay<R: Rng + ?Sized>(
        &self,
        failed_attempts: u32,
        previous: Option<Duration>,
        rng: &mut R,
    ) -> Duration {
        match self.jitter {
            Jitter::None => self.capped_exponential(failed_attempts),
            Jitter::Full => uniform(Duration::ZERO, self.capped_exponential(failed_attempts), rng),
            Jitter::Equal => {
                let capped = self.capped_exponential(failed_attempts);
                let half = capped / 2;
                uniform(half, capped, rng)
            }
            Jitter::Decorrelated => {
                let previous = previous.unwrap_or(self.initial);
                let upper = previous.saturating_mul(3).min(self.maximum);
                uniform(self.initial, upper.max(self.initial), rng)
            }
        }
    }
}

/// Uniform in `[low, high]` with nanosecond resolution; `low` when the range is empty.
fn uniform<R: Rng + ?Sized>(low: Duration, high: Duration, rng: &mut R) -> Duration {
    if high <= low {
        return low;
    }
    let span = u64::try_from((high - low).as_nanos()).unwrap_or(u64::MAX);
    low + Duration::from_nanos(rng.random_range(0..=span))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use rand::SeedableRng;
    use rand::rngs::SmallRng;

    fn backoff(jitter: Jitter) -> Backoff {
        Backoff {
            initial: Duration::from_millis(100),
            coefficient: 2.0,
            maximum: Duration::from_secs(5),
            jitter,
        }
    }

    #[test]
    fn exponential_growth_is_capped() {
        let b = backoff(Jitter::None);
        let delays: Vec<u128> = (1..=8).map(|n| b.capped_exponential(n).as_millis()).collect();
        assert_eq!(delays, vec![100, 200, 400, 800, 1600, 3200, 5000, 5000]);
        assert_eq!(b.capped_exponential(u32::MAX), Duration::from_secs(5));
    }

    proptest! {
        #[test]
        fn jittered_delays_stay_in_their_bounds(seed in any::<u64>(), attempt in 1u32..80, prev_ms in 0u64..20_000) {
            let mut rng = SmallRng::seed_from_u64(seed);
            let previous = Some(Duration::from_millis(prev_ms));
            let capped = backoff(Jitter::None).capped_exponential(attempt);

            let full = backoff(Jitter::Full).delay(attempt, previous, &mut rng);
            prop_assert!(full <= capped);

            let equal = backoff(Jitter::Equal).delay(attempt, previous, &mut rng);
            prop_assert!(equal >= capped / 2 && equal <= capped);

            let decorrelated = backoff(Jitter::Decorrelated).delay(attempt, previous, &mut rng);
            prop_assert!(decorrelated >= Duration::from_millis(100));
            prop_assert!(decorrelated <= Duration::from_secs(5));
        }

        #[test]
        fn same_seed_same_delays(seed in any::<u64>()) {
            let b = backoff(Jitter::Full);
            let run = |seed| {
                let mut rng = SmallRng::seed_from_u64(seed);
                (1..10).map(|n| b.delay(n, None, &mut rng)).collect::<Vec<_>>()
            };
            prop_assert_eq!(run(seed), run(seed));
        }
    }
}
