//! Loom models of the watchdog's lock-free words: its own pulse, which the
//! backstop thread marks stalled and the watchdog clears; the tree's coarse
//! clock, which per-message handlers stamp themselves with; and the hung
//! mark a supervisor classifies an exit by. Every interleaving of the
//! threads, and every value a relaxed load may return, is explored.
//!
//! ```text
//! RUSTFLAGS="--cfg hale_loom" cargo test -p hale-core --release --test loom_watchdog
//! ```
//!
//! Not modelled, because nothing there is lock-free in Hale's own code: the
//! backstop's deadline (a mutex and a condition variable) and the child-ref
//! publisher (a tokio watch channel and a `Notify`, which tokio's own loom
//! models cover).
#![cfg(hale_loom)]
#![allow(clippy::unwrap_used, clippy::expect_used)]

use hale_core::loom_models::{
    Ticks, WatchdogPulse, busy_since_ms, handler_finished, handler_started, is_hung, mark_hung,
};
use loom::sync::Arc;
use loom::sync::atomic::{AtomicBool, Ordering};
use loom::thread;

/// The backstop marks the pulse stalled only if the watchdog did not run
/// between its look and its mark; each mark is cleared, and reported as
/// resumed, by exactly the next run; and no mark outlives a later run (a
/// stale mark would leave the tree unready while the watchdog runs).
#[test]
fn a_stall_mark_needs_a_silent_watchdog_and_its_next_run_clears_it_once() {
    loom::model(|| {
        let pulse = Arc::new(WatchdogPulse::new());

        let watchdog = {
            let pulse = Arc::clone(&pulse);
            thread::spawn(move || {
                // Two runs; each says whether it cleared a mark.
                let first = pulse.ran();
                let second = pulse.ran();
                u32::from(first) + u32::from(second)
            })
        };
        // The backstop: looks, then (after its bound) marks; twice, as it
        // does for two overdue deadlines.
        let mut marks = Vec::new();
        for _ in 0..2 {
            let seen = pulse.seen();
            marks.push((seen, pulse.mark_stalled(seen)));
        }
        let resumed = watchdog.join().unwrap();

        let marked = marks.iter().filter(|(_, marked)| *marked).count();
        let stalled = pulse.is_stalled();
        assert_eq!(
            marked as u32,
            resumed + u32::from(stalled),
            "every mark is either reported resumed once or still stands"
        );
        for (seen, marked) in marks {
            if !marked {
                // A mark fails only because the watchdog ran since the look,
                // or because the pulse was marked already (a mark that still
                // stands, or that a later run cleared).
                assert!(
                    pulse.has_run_since(seen) || stalled,
                    "a mark failed for no reason"
                );
            }
        }
        if stalled {
            // The mark that stands came after both runs: no run since.
            let last = pulse.seen();
            assert!(!pulse.has_run_since(last));
            assert!(!pulse.mark_stalled(last), "never marked twice");
        }
    });
}

/// A mark and a run race from the same starting point: exactly one of them
/// wins. Either the mark lands first and the run clears it (and reports
/// it), or the run lands first and the mark fails.
#[test]
fn a_run_and_a_mark_from_the_same_look_never_both_lose() {
    loom::model(|| {
        let pulse = Arc::new(WatchdogPulse::new());
        let seen = pulse.seen();
        let watchdog = {
            let pulse = Arc::clone(&pulse);
            thread::spawn(move || pulse.ran())
        };
        let marked = pulse.mark_stalled(seen);
        let cleared = watchdog.join().unwrap();
        assert_eq!(
            marked, cleared,
            "a mark is cleared by the run after it, and only then"
        );
        assert!(!pulse.is_stalled(), "the run came last or the mark failed");
        assert!(pulse.has_run_since(seen));
    });
}

/// Per-message watching stamps a handler with the coarse clock. Whatever
/// value a relaxed load returns:
/// - a stamp is a value the watchdog published, and the bound it gives is
///   later than the stamp (late, never early);
/// - the watchdog never sees a handler's stamp go back (a later check never
///   judges from an earlier start than a former one did);
/// - a handler that began after the child learned (through a release and
///   acquire, as a message carries it) that a value was published is
///   stamped with that value or a later one.
#[test]
fn a_handler_stamp_is_a_published_value_that_never_goes_back() {
    loom::model(|| {
        let mut ticks = Ticks::new();
        let heartbeat = ticks.heartbeat();
        let published = Arc::new(AtomicBool::new(false));

        let child = {
            let heartbeat = heartbeat.clone();
            let published = Arc::clone(&published);
            thread::spawn(move || {
                handler_started(&heartbeat);
                let first = busy_since_ms(&heartbeat).unwrap();
                handler_finished(&heartbeat);
                let told = published.load(Ordering::Acquire);
                handler_started(&heartbeat);
                let second = busy_since_ms(&heartbeat).unwrap();
                assert!(
                    second >= first,
                    "the clock never goes back: {first} then {second}"
                );
                if told {
                    assert!(second >= 10, "began after 10 was published, stamped {second}");
                }
                handler_finished(&heartbeat);
            })
        };

        ticks.advance_to(10);
        published.store(true, Ordering::Release);
        let mut last_seen = 0;
        for now_ms in [15, 20] {
            if let Some(stamp) = busy_since_ms(&heartbeat) {
                assert!(stamp == 0 || stamp == 10, "not a published value: {stamp}");
                assert!(stamp >= last_seen, "a stamp went back: {last_seen} then {stamp}");
                assert!(ticks.begun_by(stamp, now_ms) > stamp);
                last_seen = stamp;
            }
        }
        child.join().unwrap();
        assert_eq!(busy_since_ms(&heartbeat), None, "idle after its last handler");
    });
}

/// The watchdog marks a child hung before it asks the child to stop; the
/// supervisor, which hears of the exit through the child's mailbox and
/// supervision port (a release and an acquire), always classifies it as
/// `hung`, whatever reason ractor reported.
#[test]
fn an_exit_after_the_stop_request_is_always_seen_as_hung() {
    loom::model(|| {
        let ticks = Ticks::new();
        let heartbeat = ticks.heartbeat();
        let stop_requested = Arc::new(AtomicBool::new(false));

        let supervisor = {
            let heartbeat = heartbeat.clone();
            let stop_requested = Arc::clone(&stop_requested);
            thread::spawn(move || {
                if stop_requested.load(Ordering::Acquire) {
                    assert!(
                        is_hung(&heartbeat),
                        "an exit after the hung stop is classified hung"
                    );
                }
            })
        };
        mark_hung(&heartbeat);
        stop_requested.store(true, Ordering::Release);
        supervisor.join().unwrap();
        assert!(is_hung(&heartbeat));
    });
}
