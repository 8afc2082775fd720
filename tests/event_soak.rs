//! The event soak: a restart storm with subscribers that never read, to show
//! that memory stays bounded (issue 11: an unread subscriber used to keep
//! every event, about 1.1 GB a minute).
//!
//! Ignored by default; `.ci/run` runs it:
//!
//! ```text
//! cargo test --test event_soak -- --ignored
//! ```
//!
//! On tokio's paused clock the storm runs as fast as the machine allows;
//! [`RESTARTS`] bounds it (about half a minute in a debug build on two
//! cores), and so does the wait on every event.

#![cfg(target_os = "linux")]
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use hale::core::{
    ChildSpec, EventStream, HealingEventKind, RecvError, Supervisor, SupervisorSpec, TryRecvError,
};
use hale::resilience::{ResilienceBus, ResilienceStream, Timeout};

/// Restarts in the storm: each emits three healing events (exit, restart,
/// and a timeout on the resilience bus), so the unread subscribers would
/// hold about 300,000 events without a bound.
const RESTARTS: u64 = 100_000;

/// How much the process may grow (resident memory) between the end of the
/// warm-up and the end of the storm. The buses' rings are allocated and
/// filled during the warm-up; what they hold after is overwritten, not
/// added to. Without the bound, 200,000 more events of 100 bytes and up
/// would take well over this.
const GROWTH_BOUND_KB: u64 = 16 * 1024;

/// Restarts before memory is first measured: enough to fill both rings.
const WARM_UP: u64 = 10_000;

/// The bound on each wait for the storm to move on (paused clock).
const WAIT: Duration = Duration::from_secs(60);

/// Resident memory of this process, in kB.
fn rss_kb() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let line = status.lines().find(|line| line.starts_with("VmRSS:")).unwrap();
    line.split_whitespace().nth(1).unwrap().parse().unwrap()
}

/// Reads everything waiting in `stream` now; returns (received, missed).
fn drain<E: Clone>(stream: &mut hale::util::EventStream<E>) -> (u64, u64) {
    let (mut received, mut missed) = (0, 0);
    loop {
        match stream.try_recv() {
            Ok(_) => received += 1,
            Err(TryRecvError::Lagged(n)) => missed += n,
            Err(TryRecvError::Empty | TryRecvError::Closed) => return (received, missed),
        }
    }
}

/// A worker that calls a dependency which never answers, under a 1 ms
/// timeout that reports to `bus`, and crashes on the error: a restart a
/// millisecond, with one resilience event each.
fn crasher(bus: &ResilienceBus) -> ChildSpec {
    let timeout = Timeout::new("never-answers", Duration::from_millis(1)).events(bus);
    ChildSpec::task("crasher", move |_ctx| {
        let timeout = timeout.clone();
        async move {
            timeout
                .call(std::future::pending::<Result<(), String>>)
                .await
                .map_err(|error| error.to_string())?;
            Ok(())
        }
    })
}

/// A subscriber of each bus that never reads while the storm runs: each
/// holds at most its bus's capacity, resident memory stays within
/// [`GROWTH_BOUND_KB`] of where it was after the warm-up, and when the
/// subscriber finally reads, it learns exactly how many events it missed.
#[tokio::test(start_paused = true)]
#[ignore = "a soak: about half a minute; .ci/run runs it with --ignored"]
async fn a_restart_storm_with_subscribers_that_never_read_stays_within_bounded_memory() {
    let resilience = ResilienceBus::new();
    // A restart comes every millisecond (the timeout's), so at most six in
    // any 5 ms: the supervisor never gives up.
    let root = Supervisor::start(
        SupervisorSpec::new("root")
            .intensity(10)
            .period(Duration::from_millis(5))
            .child(crasher(&resilience)),
    )
    .await
    .unwrap();
    let mut never_read: EventStream = root.subscribe();
    let mut never_read_resilience: ResilienceStream = resilience.subscribe();
    // Subscribed at the same moments, read all along: they count what the
    // never-reading subscribers were sent.
    let mut counted = root.subscribe();
    let mut counted_resilience = resilience.subscribe();
    let capacity = root.events().capacity();
    assert_eq!(resilience.capacity(), capacity);

    let (mut healing_sent, mut resilience_sent, mut restarts) = (0_u64, 0_u64, 0_u64);
    let mut rss_after_warm_up = None;
    let mut peak_rss = 0;
    let mut next_sample = 0;
    while restarts < RESTARTS {
        // The storm runs while this task sleeps (on the paused clock).
        let first = tokio::time::timeout(WAIT, counted.recv())
            .await
            .expect("the storm goes on")
            .expect("the counting subscriber keeps up");
        restarts += u64::from(matches!(first.kind, HealingEventKind::ChildRestarted { .. }));
        healing_sent += 1;
        // Counted one by one: the restarts among them.
        loop {
            match counted.try_recv() {
                Ok(event) => {
                    healing_sent += 1;
                    restarts += u64::from(matches!(event.kind, HealingEventKind::ChildRestarted { .. }));
                }
                Err(TryRecvError::Lagged(_)) => panic!("the counting subscriber fell behind"),
                Err(TryRecvError::Empty | TryRecvError::Closed) => break,
            }
        }
        let (received, missed) = drain(&mut counted_resilience);
        assert_eq!(missed, 0, "the counting subscriber keeps up");
        resilience_sent += received;

        // The subscribers that never read hold a bounded number of events.
        assert!(never_read.len() <= capacity);
        assert!(never_read_resilience.len() <= capacity);
        if restarts >= next_sample {
            next_sample = restarts + 1_000;
            let rss = rss_kb();
            peak_rss = peak_rss.max(rss);
            if restarts >= WARM_UP && rss_after_warm_up.is_none() {
                rss_after_warm_up = Some(rss);
            }
        }
    }
    root.stop(WAIT).await;
    // The stop's own events.
    let (received, _) = drain(&mut counted);
    healing_sent += received;
    let (received, _) = drain(&mut counted_resilience);
    resilience_sent += received;

    let after_warm_up = rss_after_warm_up.unwrap();
    let growth = peak_rss.saturating_sub(after_warm_up);
    eprintln!(
        "{restarts} restarts, {healing_sent} healing and {resilience_sent} resilience events; \
         resident memory {after_warm_up} kB after the warm-up, at most {peak_rss} kB (growth {growth} kB)"
    );
    assert!(
        growth < GROWTH_BOUND_KB,
        "resident memory grew by {growth} kB over the storm (bound {GROWTH_BOUND_KB} kB)"
    );

    // The subscribers that never read learn how many events they missed,
    // then get the newest `capacity` ones: nothing lost silently.
    for (stream_missed, stream_rest, sent) in [
        {
            let missed = match never_read.recv().await {
                Err(RecvError::Lagged(missed)) => missed,
                other => panic!("expected a lag, got {other:?}"),
            };
            let (rest, more_missed) = drain(&mut never_read);
            (missed + more_missed, rest, healing_sent)
        },
        {
            let missed = match never_read_resilience.recv().await {
                Err(RecvError::Lagged(missed)) => missed,
                other => panic!("expected a lag, got {other:?}"),
            };
            let (rest, more_missed) = drain(&mut never_read_resilience);
            (missed + more_missed, rest, resilience_sent)
        },
    ] {
        assert_eq!(stream_rest, capacity as u64, "the newest events are kept");
        assert_eq!(
            stream_missed + stream_rest,
            sent,
            "every event is received or counted missed"
        );
    }
}
