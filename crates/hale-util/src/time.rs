//! Time arithmetic that saturates: no duration a user can write overflows.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use tokio::time::Instant;

/// How far ahead [`deadline_after`] puts a deadline that would not fit: about
/// thirty years, which no timer in a running process reaches (tokio's own
/// "far future" is the same order).
const FAR_FUTURE: Duration = Duration::from_secs(60 * 60 * 24 * 365 * 30);

/// `duration` in whole milliseconds, saturating at `u64::MAX` (about 585
/// million years) instead of truncating silently.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
///
/// assert_eq!(hale_util::millis(Duration::from_micros(2_999)), 2);
/// assert_eq!(hale_util::millis(Duration::MAX), u64::MAX);
/// ```
pub fn millis(duration: Duration) -> u64 {
    u64::try_from(duration.as_millis()).unwrap_or(u64::MAX)
}

/// Wall-clock milliseconds since the Unix epoch, for timestamps on events.
/// A clock set before 1970 gives 0: a timestamp is information, not logic.
///
/// # Examples
///
/// ```
/// assert!(hale_util::unix_millis() > 1_600_000_000_000);
/// ```
pub fn unix_millis() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(millis)
        .unwrap_or(0)
}

/// `now + after`, or a deadline about thirty years away when that sum does
/// not fit in an [`Instant`] (as with `Duration::MAX`): "never", in practice,
/// without an overflow panic.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use tokio::time::Instant;
///
/// let now = Instant::now();
/// assert_eq!(hale_util::deadline_after(now, Duration::from_secs(1)), now + Duration::from_secs(1));
/// assert!(hale_util::deadline_after(now, Duration::MAX) > now + Duration::from_secs(86_400 * 365));
/// ```
pub fn deadline_after(now: Instant, after: Duration) -> Instant {
    now.checked_add(after.min(FAR_FUTURE))
        .or_else(|| now.checked_add(FAR_FUTURE))
        .unwrap_or(now)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deadlines_saturate() {
        let now = Instant::now();
        assert_eq!(deadline_after(now, Duration::ZERO), now);
        assert_eq!(deadline_after(now, Duration::MAX), now + FAR_FUTURE);
        assert_eq!(deadline_after(now, FAR_FUTURE * 2), now + FAR_FUTURE);
    }
}
