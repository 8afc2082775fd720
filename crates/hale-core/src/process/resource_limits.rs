//! Kernel resource limits for a supervised program: [`ResourceLimits`].

use std::time::Duration;

use rustix::process::{Resource, getrlimit};

use crate::path::ChildPath;
use crate::process::{ProcessSpecError, ProcessStartError};

/// The largest address-space limit accepted, in bytes (1 EiB).
const MAX_ADDRESS_SPACE: u64 = 1 << 60;
/// The largest CPU-time limit accepted, in seconds (a year).
const MAX_CPU_SECONDS: u64 = 365 * 24 * 3600;

/// Limits the kernel enforces on each run of a program (`setrlimit`).
///
/// `unsafe` code is forbidden in Hale, so the limits cannot be set between
/// `fork` and `exec` from Rust (`pre_exec`). When any limit is set, the
/// program is started through `/bin/sh` instead, as
/// `/bin/sh -c 'ulimit -v KiB && ulimit -S -t S && ulimit -H -t S+1 && exec "$0" "$@"' program args...`:
/// the shell sets the limits on itself and `exec`s the program in its place
/// (same pid, same process group). Only the numbers are written into the
/// script; the program and its arguments are passed as separate arguments,
/// never interpolated. The limits are then in force before the program runs
/// its first instruction. Without limits, no shell is involved.
///
/// What each limit does when hit, and how Hale reports it:
///
/// - [`cpu_time`](Self::cpu_time) (`RLIMIT_CPU`, whole seconds, rounded up):
///   the kernel sends `SIGXCPU` at the limit and `SIGKILL` a second later.
///   The run ends as [`ExitReason::Signal`](crate::ExitReason::Signal)`("SIGXCPU")`
///   (or `"SIGKILL"` if the program caught `SIGXCPU`), and Hale logs a
///   warning naming the limit.
/// - [`address_space`](Self::address_space) (`RLIMIT_AS`, KiB, rounded up):
///   allocations beyond it fail inside the program (`malloc` returns null,
///   Python raises `MemoryError`). What happens next is the program's
///   choice, so Hale reports only how the run ended, with the limit in the
///   log line; it cannot tell an allocation failure from any other crash.
///   Runtimes that reserve large virtual ranges up front (the JVM, Go) need
///   a generous value.
///
/// A limit above this process's own hard limit is a start error
/// ([`ProcessStartError::LimitAboveHard`]) rather than a shell that fails.
///
/// A program that moves itself out of its process group (`setsid`) escapes
/// these limits for the children it starts afterwards, as it escapes the
/// group kill; cgroups would be needed to hold it.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use hale_core::process::{ProcessCommand, ResourceLimits};
///
/// let limits = ResourceLimits::new()
///     .address_space(512 * 1024 * 1024)
///     .cpu_time(Duration::from_secs(60));
/// let command = ProcessCommand::new("python3").arg("agent.py").limits(limits);
/// # let _ = command;
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ResourceLimits {
    address_space: Option<u64>,
    cpu_time: Option<Duration>,
}

impl ResourceLimits {
    /// No limits.
    pub fn new() -> Self {
        Self::default()
    }

    /// Limits the program's virtual address space to `bytes` (rounded up to
    /// a KiB). Between 1 byte and 1 EiB.
    pub fn address_space(mut self, bytes: u64) -> Self {
        self.address_space = Some(bytes);
        self
    }

    /// Limits the CPU time the program may use to `time` (rounded up to a
    /// whole second). Between 1 ns and a year.
    pub fn cpu_time(mut self, time: Duration) -> Self {
        self.cpu_time = Some(time);
        self
    }

    /// Whether no limit is set.
    pub fn is_empty(&self) -> bool {
        self.address_space.is_none() && self.cpu_time.is_none()
    }

    /// The CPU-time limit in whole seconds, if set.
    pub(crate) fn cpu_seconds(&self) -> Option<u64> {
        self.cpu_time.and_then(whole_seconds_up)
    }

    fn address_space_kib(&self) -> Option<u64> {
        Some(self.address_space?.div_ceil(1024))
    }

    pub(crate) fn validate(&self, child: &str) -> Result<(), ProcessSpecError> {
        let out_of_range = |what, max| ProcessSpecError::LimitOutOfRange {
            child: child.to_owned(),
            what,
            max,
        };
        if let Some(bytes) = self.address_space
            && !(1..=MAX_ADDRESS_SPACE).contains(&bytes)
        {
            return Err(out_of_range("address space (bytes)", MAX_ADDRESS_SPACE));
        }
        if let Some(time) = self.cpu_time
            && (time.is_zero() || whole_seconds_up(time).is_none_or(|secs| secs > MAX_CPU_SECONDS))
        {
            return Err(out_of_range("CPU time (seconds)", MAX_CPU_SECONDS));
        }
        Ok(())
    }

    /// The shell script that sets the limits and `exec`s `"$0" "$@"`, or
    /// `None` when no limit is set. Only numbers go into it.
    ///
    /// # Errors
    ///
    /// A limit above this process's own hard limit, which the shell could
    /// not set (it would exit with code 2 before the program ran).
    pub(crate) fn script(&self, child: &ChildPath) -> Result<Option<String>, ProcessStartError> {
        if self.is_empty() {
            return Ok(None);
        }
        let above = |what, asked, hard| ProcessStartError::LimitAboveHard {
            child: child.clone(),
            what,
            asked,
            hard,
        };
        let mut steps = Vec::new();
        if let Some(kib) = self.address_space_kib() {
            let hard = getrlimit(Resource::As).maximum;
            if let Some(hard) = hard
                && kib.saturating_mul(1024) > hard
            {
                return Err(above("address space (bytes)", kib.saturating_mul(1024), hard));
            }
            steps.push(format!("ulimit -v {kib}"));
        }
        if let Some(secs) = self.cpu_seconds() {
            let hard = getrlimit(Resource::Cpu).maximum;
            if let Some(hard) = hard
                && secs > hard
            {
                return Err(above("CPU time (seconds)", secs, hard));
            }
            // A hard limit a second later gives SIGXCPU (at the soft limit)
            // its chance to be the signal the run ends with. Soft first: a
            // hard limit below the current soft one is refused.
            let hard_secs = hard.map_or(secs + 1, |hard| hard.min(secs + 1));
            steps.push(format!("ulimit -S -t {secs}"));
            steps.push(format!("ulimit -H -t {hard_secs}"));
        }
        steps.push(r#"exec "$0" "$@""#.to_owned());
        Ok(Some(steps.join(" && ")))
    }

    /// A short description for log lines, e.g. `"address space 512 MiB, CPU 60 s"`.
    pub(crate) fn describe(&self) -> String {
        let mut parts = Vec::new();
        if let Some(kib) = self.address_space_kib() {
            parts.push(format!("address space {kib} KiB"));
        }
        if let Some(secs) = self.cpu_seconds() {
            parts.push(format!("CPU {secs} s"));
        }
        parts.join(", ")
    }
}

/// `time` in whole seconds, rounded up; `None` if that overflows.
fn whole_seconds_up(time: Duration) -> Option<u64> {
    time.as_secs().checked_add(u64::from(time.subsec_nanos() > 0))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_script_holds_only_numbers_and_execs_the_program() {
        let child = ChildPath::root("c");
        assert_eq!(ResourceLimits::new().script(&child).ok(), Some(None));
        let limits = ResourceLimits::new()
            .address_space(1025)
            .cpu_time(Duration::from_millis(1500));
        let script = limits.script(&child).expect("within this process's hard limits");
        assert_eq!(
            script.as_deref(),
            Some(r#"ulimit -v 2 && ulimit -S -t 2 && ulimit -H -t 3 && exec "$0" "$@""#)
        );
    }

    #[test]
    fn zero_and_huge_limits_are_rejected() {
        for limits in [
            ResourceLimits::new().address_space(0),
            ResourceLimits::new().address_space(u64::MAX),
            ResourceLimits::new().cpu_time(Duration::ZERO),
            ResourceLimits::new().cpu_time(Duration::MAX),
        ] {
            assert!(
                matches!(
                    limits.validate("c"),
                    Err(ProcessSpecError::LimitOutOfRange { .. })
                ),
                "{limits:?}"
            );
        }
        assert!(
            ResourceLimits::new()
                .cpu_time(Duration::from_nanos(1))
                .validate("c")
                .is_ok()
        );
    }
}
