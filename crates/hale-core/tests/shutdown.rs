//! Stopping children and supervisors (OTP's `sup_stop_infinity`,
//! `sup_stop_timeout`, `sup_stop_brutal_kill` and `child_unlink` cases).

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::time::Duration;

use hale_core::{
    ChildSpec, ExitReason, HealingEventKind, Shutdown, StopCause, StopOutcome, SupervisorRef, SupervisorSpec,
};
use support::{Cmd, Lab, WAIT, current, events_through, expect_at, start};

const SECOND: Duration = Duration::from_secs(1);

/// Terminates child `id` through the API and returns how its stop ended.
async fn terminate(sup: &SupervisorRef, id: &str) -> StopOutcome {
    let mut events = sup.subscribe();
    sup.terminate_child(id).await.unwrap();
    let path = sup.path().child(id).to_string();
    match expect_at(&mut events, &path, |k| {
        matches!(k, HealingEventKind::ChildStopped { .. })
    })
    .await
    {
        HealingEventKind::ChildStopped { cause, outcome } => {
            assert_eq!(cause, StopCause::Terminated);
            outcome
        }
        _ => unreachable!("matched above"),
    }
}

#[tokio::test(start_paused = true)]
async fn child_that_stops_within_its_shutdown_timeout_exits() {
    let lab = Lab::new();
    lab.slow_stop("a", 500);
    let sup =
        start(SupervisorSpec::new("root").child(lab.worker("a").shutdown(Shutdown::Timeout(SECOND)))).await;
    assert_eq!(terminate(&sup, "a").await, StopOutcome::Exited);
    assert_eq!(lab.journal.entries(), ["start a", "stop a"]);
}

#[tokio::test(start_paused = true)]
async fn child_that_overruns_its_shutdown_timeout_is_killed() {
    let lab = Lab::new();
    // One is slow to clean up, the other is stuck in a handler and never
    // even sees the request to stop.
    lab.slow_stop("slow", 10_000);
    let sup = start(
        SupervisorSpec::new("root")
            .child(lab.worker("slow").shutdown(Shutdown::Timeout(SECOND)))
            .child(lab.worker("stuck").shutdown(Shutdown::Timeout(SECOND))),
    )
    .await;
    current(&sup, "stuck").await.send_message(Cmd::Hang).unwrap();
    assert_eq!(terminate(&sup, "slow").await, StopOutcome::Killed);
    assert_eq!(terminate(&sup, "stuck").await, StopOutcome::Killed);
    assert_eq!(
        lab.journal.entries(),
        ["start slow", "start stuck"],
        "a kill cuts post_stop short"
    );
}

#[tokio::test(start_paused = true)]
async fn brutal_kill_kills_at_once_without_asking() {
    let lab = Lab::new();
    let sup = start(SupervisorSpec::new("root").child(lab.worker("a").shutdown(Shutdown::BrutalKill))).await;
    assert_eq!(terminate(&sup, "a").await, StopOutcome::Killed);
    assert_eq!(lab.journal.entries(), ["start a"], "no post_stop");
}

#[tokio::test(start_paused = true)]
async fn supervisor_child_gets_infinity_to_stop_its_own_subtree() {
    let lab = Lab::new();
    // The leaf takes a minute to stop, well within its own 2 minutes; the
    // default for the supervisor above it is to wait as long as it takes.
    lab.slow_stop("leaf", 60_000);
    let inner =
        SupervisorSpec::new("inner").child(lab.worker("leaf").shutdown(Shutdown::Timeout(120 * SECOND)));
    let sup = start(SupervisorSpec::new("root").child(ChildSpec::supervisor(inner))).await;
    assert_eq!(terminate(&sup, "inner").await, StopOutcome::Exited);
    assert_eq!(lab.journal.entries(), ["start leaf", "stop leaf"]);
}

#[tokio::test(start_paused = true)]
async fn stopping_a_supervisor_stops_its_children_in_reverse_start_order() {
    let lab = Lab::new();
    lab.slow_stop("b", 2_000);
    let sup = start(
        SupervisorSpec::new("root")
            .child(lab.worker("a"))
            .child(lab.worker("b"))
            .child(lab.worker("c").shutdown(Shutdown::BrutalKill)),
    )
    .await;
    sup.start_child(lab.worker("d")).await.unwrap();
    let mut events = sup.subscribe();
    assert_eq!(sup.stop(WAIT).await, ExitReason::Normal);
    assert_eq!(
        lab.journal.entries(),
        [
            "start a", "start b", "start c", "start d", "stop d", "stop b", "stop a"
        ],
        "c was killed (no post_stop); b's slow stop was waited for"
    );
    let seen = events_through(&mut events, |e| {
        matches!(e.kind, HealingEventKind::SupervisorStopped { .. })
    })
    .await;
    let stopped: Vec<_> = seen
        .iter()
        .filter_map(|(path, kind)| match kind {
            HealingEventKind::ChildStopped { cause, outcome } => Some((path.as_str(), *cause, *outcome)),
            _ => None,
        })
        .collect();
    let shutdown = StopCause::SupervisorShutdown;
    assert_eq!(
        stopped,
        [
            ("root/d", shutdown, StopOutcome::Exited),
            ("root/c", shutdown, StopOutcome::Killed),
            ("root/b", shutdown, StopOutcome::Exited),
            ("root/a", shutdown, StopOutcome::Exited),
        ]
    );
    assert_eq!(
        seen.last().map(|(path, kind)| (path.as_str(), kind)),
        Some((
            "root",
            &HealingEventKind::SupervisorStopped {
                reason: ExitReason::Normal
            }
        ))
    );
}

#[tokio::test(start_paused = true)]
async fn stop_returns_normal_and_wait_resolves_with_the_same_reason() {
    let lab = Lab::new();
    let sup = start(SupervisorSpec::new("root").child(lab.worker("a"))).await;
    let waiter = {
        let sup = sup.clone();
        tokio::spawn(async move { sup.wait().await })
    };
    assert_eq!(sup.stop(WAIT).await, ExitReason::Normal);
    assert_eq!(waiter.await.unwrap(), ExitReason::Normal);
    assert_eq!(sup.wait().await, ExitReason::Normal, "and again, once it is gone");
    assert_eq!(
        sup.stop(WAIT).await,
        ExitReason::Normal,
        "stopping twice is harmless"
    );
}

#[tokio::test(start_paused = true)]
async fn stop_that_overruns_its_bound_kills_the_supervisor_and_its_subtree() {
    let lab = Lab::new();
    let sup = start(
        SupervisorSpec::new("root")
            .child(lab.worker("a"))
            .child(lab.worker("stuck").shutdown(Shutdown::Infinity)),
    )
    .await;
    let stuck = current(&sup, "stuck").await;
    let a = current(&sup, "a").await;
    stuck.send_message(Cmd::Hang).unwrap();
    assert_eq!(sup.stop(10 * SECOND).await, ExitReason::Killed);
    assert_eq!(sup.wait().await, ExitReason::Killed);
    for child in [stuck.get_cell(), a.get_cell()] {
        child.wait(Some(WAIT)).await.expect("the child is gone too");
    }
}

#[tokio::test(start_paused = true)]
async fn terminate_child_does_not_hang_on_a_child_that_unlinked_itself() {
    let lab = Lab::new();
    let sup =
        start(SupervisorSpec::new("root").child(lab.worker("a").shutdown(Shutdown::Timeout(SECOND)))).await;
    current(&sup, "a").await.get_cell().unlink(sup.actor());
    assert_eq!(terminate(&sup, "a").await, StopOutcome::Exited);
    assert_eq!(lab.journal.entries(), ["start a", "stop a"]);
    assert_eq!(
        sup.count_children().await.unwrap().active,
        0,
        "the supervisor still answers"
    );
}

/// A task whose body blocks its thread in synchronous code until released,
/// and says when it has begun.
fn blocked_task(entered: tokio::sync::mpsc::UnboundedSender<()>) -> (ChildSpec, std::sync::mpsc::Sender<()>) {
    let (release, released) = std::sync::mpsc::channel::<()>();
    let released = std::sync::Arc::new(std::sync::Mutex::new(released));
    let spec = ChildSpec::task("blocked", move |_| {
        let (entered, released) = (entered.clone(), std::sync::Arc::clone(&released));
        async move {
            let _ = entered.send(());
            // Blocks a worker thread: an abort cannot land here.
            let _ = released.lock().unwrap().recv();
            Ok(())
        }
    })
    .kill_wait(Duration::from_millis(100));
    (spec, release)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn terminating_a_task_blocked_in_synchronous_code_reports_it_stuck() {
    let (entered, mut began) = tokio::sync::mpsc::unbounded_channel();
    let (spec, release) = blocked_task(entered);
    let sup = start(SupervisorSpec::new("root").child(spec)).await;
    tokio::time::timeout(WAIT, began.recv()).await.unwrap();
    let mut events = sup.subscribe();
    // The actor stops at once; its body does not: the stop says so.
    assert_eq!(terminate(&sup, "blocked").await, StopOutcome::Stuck);
    events_through(&mut events, |e| {
        e.path.to_string() == "root/blocked"
            && matches!(e.kind, HealingEventKind::StuckTask { stuck_total: 1 })
    })
    .await;
    assert_eq!(sup.watchdog_counts().await.unwrap().stuck, 1);
    release.send(()).unwrap();
    sup.stop(WAIT).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stopping_a_tree_with_a_task_blocked_in_synchronous_code_reports_it_stuck() {
    let (entered, mut began) = tokio::sync::mpsc::unbounded_channel();
    let (spec, release) = blocked_task(entered);
    let sup = start(SupervisorSpec::new("root").child(spec)).await;
    tokio::time::timeout(WAIT, began.recv()).await.unwrap();
    let mut events = sup.subscribe();
    assert_eq!(sup.stop(WAIT).await, ExitReason::Normal);
    let seen = events_through(&mut events, |e| {
        matches!(e.kind, HealingEventKind::SupervisorStopped { .. })
    })
    .await;
    assert!(
        seen.iter().any(|(path, kind)| path == "root/blocked"
            && *kind
                == HealingEventKind::ChildStopped {
                    cause: StopCause::SupervisorShutdown,
                    outcome: StopOutcome::Stuck
                }),
        "{seen:#?}"
    );
    release.send(()).unwrap();
}

#[tokio::test(start_paused = true)]
async fn terminating_an_idle_task_exits_at_once() {
    let idle = ChildSpec::task("idle", |_| async {
        std::future::pending::<()>().await;
        Ok(())
    });
    let sup = start(SupervisorSpec::new("root").child(idle)).await;
    // Its body is aborted when the actor stops, so the stop waits for
    // nothing and says exited (ractor hands the stopped actor's state, and
    // with it the work's guard, to the supervisor that is waiting).
    assert_eq!(terminate(&sup, "idle").await, StopOutcome::Exited);
    sup.stop(WAIT).await;
}
