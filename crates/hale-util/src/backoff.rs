//! Delay arithmetic: capped exponential growth, then jitter.
//!
//! A supervisor waiting before a restart and a retry policy waiting before
//! the next attempt compute the same thing, so both use [`Backoff`]. It is
//! free of clocks and state (the caller keeps the attempt count and the
//! random source), which keeps it checkable exhaustively with proptest.

use std::time::Duration;

use rand::{Rng, RngExt};
use serde::{Deserialize, Serialize};

/// How a delay is randomised around the capped exponential delay `d`.
///
/// Jitter spreads the retries of many callers that failed together (a
/// dependency blip) so they do not all come back at the same instant and
/// knock it over again.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Jitter {
    /// Exactly `d`. Predictable, but synchronised callers stay synchronised.
    None,
    /// Uniform in `[0, d]` ("full jitter"). The default: the best spread for
    /// the least total wait.
    #[default]
    Full,
    /// Uniform in `[d/2, d]`: never much shorter than the exponential delay.
    Equal,
    /// "Decorrelated jitter": uniform in `[initial, 3 × previous delay]`,
    /// capped at the maximum. Grows on its own, ignoring the coefficient.
    Decorrelated,
}

/// Capped exponential delays with jitter:
/// `d(n) = min(maximum, initial × coefficient^(n − 1))` before the attempt
/// that follows the `n`-th failure, then randomised by [`Jitter`].
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use hale_util::{Backoff, Jitter};
/// use rand::SeedableRng;
///
/// let backoff = Backoff {
///     initial: Duration::from_millis(100),
///     coefficient: 2.0,
///     maximum: Duration::from_secs(1),
///     jitter: Jitter::Full,
/// };
/// assert_eq!(backoff.capped_exponential(3), Duration::from_millis(400));
/// assert_eq!(backoff.capped_exponential(u32::MAX), Duration::from_secs(1));
/// let mut rng = rand::rngs::StdRng::seed_from_u64(7);
/// assert!(backoff.delay(3, None, &mut rng) <= Duration::from_millis(400));
/// ```
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Backoff {
    /// The delay after the first failure, before jitter.
    pub initial: Duration,
    /// The growth factor per further failure (a retry policy checks it is
    /// finite and at least 1).
    pub coefficient: f64,
    /// The cap on the delay before jitter.
    pub maximum: Duration,
    /// How the delay is randomised.
    pub jitter: Jitter,
}

impl Backoff {
    /// `min(maximum, initial × coefficient^(failed_attempts − 1))`: the delay
    /// before the attempt that follows the `failed_attempts`-th failure,
    /// before jitter. Never overflows, whatever the inputs.
    pub fn capped_exponential(&self, failed_attempts: u32) -> Duration {
        let exponent = f64::from(failed_attempts.saturating_sub(1));
        let raw = self.initial.as_secs_f64() * self.coefficient.powf(exponent);
        // Compare in f64 first: the raw value may be huge, infinite or NaN,
        // and converting that back into a Duration would panic.
        if raw.is_nan() || raw >= self.maximum.as_secs_f64() {
            self.maximum
        } else if raw <= 0.0 {
            Duration::ZERO
        } else {
            Duration::try_from_secs_f64(raw).unwrap_or(self.maximum)
        }
    }

    /// The jittered delay after `failed_attempts` failures. `previous` is the
    /// delay used before the last attempt (for decorrelated jitter).
    pub fn delay<R: Rng + ?Sized>(
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
                uniform(capped / 2, capped, rng)
            }
            Jitter::Decorrelated => {
                let previous = previous.unwrap_or(self.initial);
                let upper = previous.saturating_mul(3).min(self.maximum);
                uniform(self.initial, upper.max(self.initial), rng)
            }
        }
    }
}

/// Uniform in `[low, high]` with nanosecond resolution; `low` when the range
/// is empty.
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

    #[test]
    fn absurd_inputs_never_panic() {
        let mut rng = SmallRng::seed_from_u64(1);
        for coefficient in [f64::NAN, f64::INFINITY, -3.0, 0.0, f64::MAX] {
            let b = Backoff {
                initial: Duration::MAX,
                coefficient,
                maximum: Duration::MAX,
                jitter: Jitter::Full,
            };
            for attempts in [0, 1, 2, u32::MAX] {
                let _ = b.delay(attempts, Some(Duration::MAX), &mut rng);
            }
        }
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
