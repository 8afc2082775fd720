//! Restart in place: a failed actor child goes on with its own mailbox.
//!
//! A child started by [`ChildSpec::actor`](crate::ChildSpec::actor) with
//! [`in_place`](crate::ChildSpec::in_place) on runs inside a wrapper actor
//! that Hale owns. When the user's handler returns an error or panics, the
//! wrapper does not let the actor end:
//!
//! 1. the user's `post_stop` runs (the incarnation is over);
//! 2. the message it failed on goes to the child's [`DeadLetterSink`], if it
//!    has one, with the error and the child's path ([`FailedMessage`]);
//! 3. the wrapper tells its supervisor, which decides exactly as for any
//!    exit (restart type, intensity window, strategy, backoff, the child's
//!    own limit: the one state machine);
//! 4. on a restart, `pre_start` runs again on the same actor, so the
//!    messages queued behind the failed one are handled next, in order. A
//!    failing `pre_start` is a failed restart with OTP's handling (the child
//!    is `restarting`, and the retry spawns it fresh).
//!
//! The supervisor, its events, [`ChildRef`](crate::ChildRef)s and the health
//! snapshot see a restart like any other: a `ChildRestarted` event, a new
//! incarnation, a restart counted by the intensity. A `RestartedInPlace`
//! event before it says the mailbox was kept; a `FreshRestart` event says
//! when a fresh spawn had to be used instead, and why ([`FreshCause`]):
//! a kill from outside or by the watchdog (the handler was cancelled, or is
//! stuck in blocking code, so the actor cannot be resumed), a stop with a
//! reason, a sibling's group restart, or a failed in-place `pre_start`.
//! `docs/supervision.md` explains each case.

mod dead_letter;
mod park;
mod wrapper;

use serde::{Deserialize, Serialize};

pub(crate) use dead_letter::ErasedSink;
pub use dead_letter::{DeadLetterSink, FailedMessage};
pub(crate) use park::{Gone, ParkNotice, Parked};
pub(crate) use wrapper::{InPlace, InPlaceArgs, InPlaceLink};

/// Whether actor children restart in place unless their spec says
/// otherwise. Off: under the wrapper a child handles 0.91–0.94× of bare
/// ractor's message throughput in `hale-bench` (target ≥ 0.95×), so a
/// child pays for it only when it asks (`docs/benchmarks.md`).
pub const IN_PLACE_DEFAULT: bool = false;

/// Why a child that restarts in place was spawned fresh instead.
///
/// # Examples
///
/// ```
/// use hale_core::in_place::FreshCause;
///
/// assert_eq!(serde_json::to_string(&FreshCause::GroupRestart).unwrap(), r#""group_restart""#);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum FreshCause {
    /// It was killed (from outside, or by its supervisor): the kill
    /// cancelled its handler, and its state with it.
    Killed,
    /// The watchdog found it hung and stopped or killed it; a handler stuck
    /// in blocking code cannot be resumed.
    Hung,
    /// It stopped itself, or was stopped, with a reason: it ended, as asked.
    Exited,
    /// A sibling's failure restarted its group, which stops it first (OTP's
    /// stop in reverse order, then start in order).
    GroupRestart,
    /// Its in-place `pre_start` failed; the retry spawns it fresh.
    StartFailed,
}

impl FreshCause {
    /// The cause of a fresh restart after an exit with `reason`.
    pub(crate) fn of_exit(reason: &crate::ExitReason) -> Self {
        match reason {
            crate::ExitReason::Killed => Self::Killed,
            crate::ExitReason::Hung => Self::Hung,
            _ => Self::Exited,
        }
    }
}

/// What a start function needs to start a child in place.
#[derive(Clone)]
pub(crate) struct InPlaceStart {
    pub(crate) notice: ParkNotice,
    pub(crate) sink: Option<ErasedSink>,
}
