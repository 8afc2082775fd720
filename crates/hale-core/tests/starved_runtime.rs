//! Agents that block their threads in synchronous code, until the tokio
//! runtime has no worker left: the tree says so (an event and an unready
//! root), and recovers once the blocking code returns.
//!
//! Real threads and real time: a blocked worker would stall a paused,
//! single-threaded runtime. Every wait is on an event, with a bound.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use hale_core::{ChildSpec, HealingEventKind, STALL_BOUND, Supervisor, SupervisorRef, SupervisorSpec, Watch};
use support::{WAIT, expect_event as expect};
use tokio::sync::oneshot;

/// How long the first incarnation of an agent blocks when told to.
type Gate = Arc<Mutex<Option<oneshot::Receiver<Duration>>>>;

/// A watched agent that beats every 10 ms; its first incarnation, when the
/// test sends it a duration through its gate, blocks its thread that long
/// (a synchronous call inside an async task: no kill can land in it).
fn blocks_once(id: &str, gate: &Gate) -> ChildSpec {
    let gate = Arc::clone(gate);
    ChildSpec::task(id, move |ctx| {
        // Only the first incarnation finds the gate; replacements just beat.
        let mut gate = gate.lock().unwrap().take();
        async move {
            let heartbeat = ctx.heartbeat();
            loop {
                heartbeat.beat();
                let tick = tokio::time::sleep(Duration::from_millis(10));
                match gate.as_mut() {
                    Some(told) => tokio::select! {
                        block = told => {
                            gate = None;
                            if let Ok(block) = block {
                                std::thread::sleep(block);
                            }
                        }
                        () = tick => {}
                    },
                    None => tick.await,
                }
            }
        }
    })
    .watch(Watch::heartbeat(Duration::from_millis(200)).grace(Duration::from_millis(50)))
    .kill_wait(Duration::from_millis(100))
}

async fn root_ready(root: &SupervisorRef) -> bool {
    root.health().await.unwrap().ready
}

/// Two workers, two agents that block one each. The first stuck task
/// leaves one worker: `WorkersBlocked`, and the root is unready. The second
/// takes the last one, so nothing in the runtime runs, the watchdog
/// included: its backstop thread reports `WatchdogStalled` from outside.
/// When the blocking code returns, the watchdog says it runs again, the
/// stuck tasks end (`WorkersFreed`) and the root is ready again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn blocking_agents_that_take_every_worker_are_reported_and_the_tree_recovers() {
    let (a_gate, b_gate): (Gate, Gate) = Default::default();
    let (block_a, a_told) = oneshot::channel();
    let (block_b, b_told) = oneshot::channel();
    *a_gate.lock().unwrap() = Some(a_told);
    *b_gate.lock().unwrap() = Some(b_told);
    // A generous intensity: replacements found late on a loaded machine
    // must not end the tree.
    let root = Supervisor::start(
        SupervisorSpec::new("root")
            .intensity(100)
            .child(blocks_once("a", &a_gate))
            .child(blocks_once("b", &b_gate)),
    )
    .await
    .unwrap();
    let mut events = root.subscribe();
    assert!(root_ready(&root).await);

    // One worker held for good (as far as Hale can tell): one left.
    block_a.send(Duration::from_secs(4)).unwrap();
    let blocked = expect(&mut events, "workers blocked", |e| {
        matches!(e.kind, HealingEventKind::WorkersBlocked { .. })
    })
    .await;
    assert_eq!(
        blocked.kind,
        HealingEventKind::WorkersBlocked { stuck: 1, workers: 2 }
    );
    assert_eq!(blocked.path.to_string(), "root");
    assert!(
        !root_ready(&root).await,
        "the root is unready while the workers are blocked"
    );
    let counts = root.watchdog_counts().await.unwrap();
    assert!(counts.workers_blocked && counts.stuck_now == 1, "{counts:?}");

    // The last worker: from here on only threads outside the runtime run.
    block_b.send(Duration::from_secs(3)).unwrap();
    let stalled = expect(&mut events, "watchdog stalled", |e| {
        matches!(e.kind, HealingEventKind::WatchdogStalled { .. })
    })
    .await;
    let HealingEventKind::WatchdogStalled { stalled_ms } = stalled.kind else {
        unreachable!()
    };
    assert!(stalled_ms >= hale_util::millis(STALL_BOUND), "{stalled_ms}");
    assert_eq!(stalled.path.to_string(), "root");

    // The blocking code returns; the tree recovers by itself.
    let mut resumed = false;
    let mut freed = false;
    while !(resumed && freed) {
        let event = expect(&mut events, "resumed and freed", |e| {
            matches!(
                e.kind,
                HealingEventKind::WatchdogResumed { .. } | HealingEventKind::WorkersFreed { .. }
            )
        })
        .await;
        match event.kind {
            HealingEventKind::WatchdogResumed { silent_ms } => {
                assert!(silent_ms >= stalled_ms, "{silent_ms} < {stalled_ms}");
                resumed = true;
            }
            HealingEventKind::WorkersFreed { stuck, workers } => {
                assert_eq!((stuck, workers), (0, 2));
                freed = true;
            }
            _ => unreachable!(),
        }
    }
    assert!(
        root_ready(&root).await,
        "ready again once the blocking code returned"
    );
    let counts = root.watchdog_counts().await.unwrap();
    assert!(
        !counts.workers_blocked && !counts.stalled && counts.stuck_now == 0,
        "{counts:?}"
    );
    root.stop(WAIT).await;
}
