//! Restart intensity (MaxR within MaxT) and escalation (OTP's
//! `multiple_restarts`, `*_escalation` and the restart-frequency halves of
//! the strategy cases).

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::time::Duration;

use hale_core::{
    ChildSpec, ChildState, EventStream, ExitReason, HealingEventKind, Restart, Strategy, SupervisorRef,
    SupervisorSpec,
};
use support::{How, Lab, exit_child, expect_at, expect_restart, rows, start, statuses};

const PERIOD: Duration = Duration::from_secs(5);

/// Fails child `id` and waits until it has been restarted.
async fn fail_and_heal(sup: &SupervisorRef, events: &mut EventStream, id: &str) {
    let (_, will_restart) = exit_child(sup, events, id, How::Error).await;
    assert!(will_restart);
    expect_restart(events, &sup.path().child(id).to_string()).await;
}

/// Fails child `id` and expects the supervisor to give up and exit
/// `shutdown`.
async fn fail_and_give_up(sup: &SupervisorRef, events: &mut EventStream, id: &str) {
    exit_child(sup, events, id, How::Error).await;
    let path = sup.path().to_string();
    expect_at(events, &path, |k| {
        matches!(k, HealingEventKind::IntensityExceeded { .. })
    })
    .await;
    assert_eq!(sup.wait().await, ExitReason::Shutdown(None));
}

fn limited(intensity: u32) -> SupervisorSpec {
    SupervisorSpec::new("root").intensity(intensity).period(PERIOD)
}

#[tokio::test(start_paused = true)]
async fn intensity_allows_n_restarts_and_the_next_shuts_the_supervisor_down_stopping_children_in_reverse() {
    let lab = Lab::new();
    let sup = start(
        limited(3)
            .child(lab.worker("a"))
            .child(lab.worker("b"))
            .child(lab.worker("c"))
            .child(lab.worker("d")),
    )
    .await;
    let mut events = sup.subscribe();
    for _ in 0..3 {
        fail_and_heal(&sup, &mut events, "c").await;
    }
    exit_child(&sup, &mut events, "c", How::Error).await;
    let exceeded = expect_at(&mut events, "root", |k| {
        matches!(k, HealingEventKind::IntensityExceeded { .. })
    })
    .await;
    assert_eq!(
        exceeded,
        HealingEventKind::IntensityExceeded {
            intensity: 3,
            period_ms: 5_000
        }
    );
    let stopped = expect_at(&mut events, "root", |k| {
        matches!(k, HealingEventKind::SupervisorStopped { .. })
    })
    .await;
    assert_eq!(
        stopped,
        HealingEventKind::SupervisorStopped {
            reason: ExitReason::Shutdown(None)
        }
    );
    assert_eq!(sup.wait().await, ExitReason::Shutdown(None));
    assert_eq!(
        lab.journal.entries(),
        [
            "start a", "start b", "start c", "start d", // boot
            "start c", "start c", "start c", // three restarts allowed
            "stop d", "stop b", "stop a", // the fourth: give up, last first
        ]
    );
    assert!(sup.count_children().await.is_err(), "the supervisor is gone");
}

#[tokio::test(start_paused = true)]
async fn intensity_zero_gives_up_on_the_first_restartable_exit_only() {
    let lab = Lab::new();
    let sup = start(
        limited(0)
            .child(lab.worker("a"))
            .child(lab.worker("t").restart(Restart::Transient)),
    )
    .await;
    let mut events = sup.subscribe();
    // An exit that is not restarted is no restart: nothing is counted.
    let (_, will_restart) = exit_child(&sup, &mut events, "t", How::Normal).await;
    assert!(!will_restart);
    assert_eq!(
        statuses(&sup).await,
        rows(&[("a", ChildState::Running), ("t", ChildState::Stopped)])
    );
    fail_and_give_up(&sup, &mut events, "a").await;
    assert_eq!(lab.starts("a"), 1, "never restarted");
}

#[tokio::test(start_paused = true)]
async fn restarts_spread_over_more_than_the_period_are_fine() {
    let lab = Lab::new();
    let sup = start(limited(1).child(lab.worker("a"))).await;
    let mut events = sup.subscribe();
    for _ in 0..5 {
        fail_and_heal(&sup, &mut events, "a").await;
        tokio::time::advance(PERIOD + Duration::from_millis(1)).await;
    }
    assert_eq!(statuses(&sup).await, rows(&[("a", ChildState::Running)]));
    // Two within one period is one too many.
    fail_and_heal(&sup, &mut events, "a").await;
    fail_and_give_up(&sup, &mut events, "a").await;
}

#[tokio::test(start_paused = true)]
async fn a_restart_exactly_one_period_old_still_counts() {
    let lab = Lab::new();
    let sup = start(limited(1).child(lab.worker("a"))).await;
    let mut events = sup.subscribe();
    fail_and_heal(&sup, &mut events, "a").await;
    tokio::time::advance(PERIOD).await;
    fail_and_give_up(&sup, &mut events, "a").await;
}

#[tokio::test(start_paused = true)]
async fn running_well_between_failures_does_not_reset_the_count() {
    let lab = Lab::new();
    let sup = start(limited(2).child(lab.worker("a"))).await;
    let mut events = sup.subscribe();
    fail_and_heal(&sup, &mut events, "a").await;
    tokio::time::advance(Duration::from_secs(2)).await;
    fail_and_heal(&sup, &mut events, "a").await;
    tokio::time::advance(Duration::from_secs(2)).await;
    // Three restarts within 4 s: the successes in between did not clear the
    // list.
    fail_and_give_up(&sup, &mut events, "a").await;
}

#[tokio::test(start_paused = true)]
async fn group_restart_counts_once() {
    for strategy in [Strategy::OneForAll, Strategy::RestForOne] {
        let lab = Lab::new();
        let sup = start(
            limited(1)
                .strategy(strategy)
                .child(lab.worker("a"))
                .child(lab.worker("b"))
                .child(lab.worker("c")),
        )
        .await;
        let mut events = sup.subscribe();
        // Restarts three children, but counts as one restart.
        exit_child(&sup, &mut events, "a", How::Error).await;
        expect_restart(&mut events, "root/c").await;
        assert_eq!(sup.count_children().await.unwrap().active, 3, "{strategy:?}");
        fail_and_give_up(&sup, &mut events, "a").await;
    }
}

#[tokio::test(start_paused = true)]
async fn failed_restart_attempt_counts_again() {
    let lab = Lab::new();
    let sup = start(limited(2).child(lab.worker("a"))).await;
    let mut events = sup.subscribe();
    lab.fail_starts("a", 1);
    // One exit, two restart attempts: the failed one and its retry.
    exit_child(&sup, &mut events, "a", How::Error).await;
    expect_at(&mut events, "root/a", |k| {
        matches!(k, HealingEventKind::RestartFailed { .. })
    })
    .await;
    expect_restart(&mut events, "root/a").await;
    fail_and_give_up(&sup, &mut events, "a").await;
    assert_eq!(lab.starts("a"), 3);
}

/// `root` (one_for_one, intensity 1) over `inner` (intensity 0) over
/// workers `w` and `x`.
fn nested(lab: &Lab, inner_restart: Restart) -> SupervisorSpec {
    let inner = SupervisorSpec::new("inner")
        .intensity(0)
        .child(lab.worker("w"))
        .child(lab.worker("x"));
    limited(1)
        .child(lab.worker("sibling"))
        .child(ChildSpec::supervisor(inner).restart(inner_restart))
}

#[tokio::test(start_paused = true)]
async fn intensity_exceeded_shuts_down_supervisor_and_parent_restarts_it() {
    let lab = Lab::new();
    let root = start(nested(&lab, Restart::Permanent)).await;
    let mut events = root.subscribe();
    let inner = root.child_supervisor("inner").await.unwrap();
    exit_child(&inner, &mut events, "w", How::Error).await;
    expect_at(&mut events, "root/inner", |k| {
        matches!(k, HealingEventKind::IntensityExceeded { intensity: 0, .. })
    })
    .await;
    assert_eq!(inner.wait().await, ExitReason::Shutdown(None));
    let escalated = expect_at(&mut events, "root/inner", |k| {
        matches!(k, HealingEventKind::ChildExited { .. })
    })
    .await;
    assert_eq!(
        escalated,
        HealingEventKind::ChildExited {
            reason: ExitReason::Shutdown(None),
            will_restart: true
        }
    );
    expect_restart(&mut events, "root/inner").await;
    assert_eq!(
        lab.journal.entries(),
        [
            "start sibling",
            "start w",
            "start x",
            "stop x", // inner gives up: stops what is left
            "start w",
            "start x", // root restarts inner, which starts its children
        ]
    );
    let restarted = root.child_supervisor("inner").await.unwrap();
    assert_eq!(
        statuses(&restarted).await,
        rows(&[("w", ChildState::Running), ("x", ChildState::Running)])
    );
}

#[tokio::test(start_paused = true)]
async fn transient_inner_supervisor_that_gives_up_is_not_restarted() {
    let lab = Lab::new();
    let root = start(nested(&lab, Restart::Transient)).await;
    let mut events = root.subscribe();
    let inner = root.child_supervisor("inner").await.unwrap();
    exit_child(&inner, &mut events, "w", How::Panic).await;
    let exited = expect_at(&mut events, "root/inner", |k| {
        matches!(k, HealingEventKind::ChildExited { .. })
    })
    .await;
    assert_eq!(
        exited,
        HealingEventKind::ChildExited {
            reason: ExitReason::Shutdown(None),
            will_restart: false
        },
        "shutdown is a normal exit"
    );
    assert_eq!(
        statuses(&root).await,
        rows(&[("sibling", ChildState::Running), ("inner", ChildState::Stopped)])
    );
    assert_eq!(lab.starts("w"), 1);
}

#[tokio::test(start_paused = true)]
async fn escalation_climbs_until_a_supervisor_can_take_it() {
    let lab = Lab::new();
    let root = start(nested(&lab, Restart::Permanent)).await;
    let mut events = root.subscribe();
    // root (intensity 1) absorbs the first give-up of inner...
    let inner = root.child_supervisor("inner").await.unwrap();
    exit_child(&inner, &mut events, "x", How::Error).await;
    expect_restart(&mut events, "root/inner").await;
    // ...but not the second: it gives up too, stopping the sibling.
    let inner = root.child_supervisor("inner").await.unwrap();
    exit_child(&inner, &mut events, "x", How::Error).await;
    expect_at(&mut events, "root", |k| {
        matches!(k, HealingEventKind::IntensityExceeded { .. })
    })
    .await;
    assert_eq!(root.wait().await, ExitReason::Shutdown(None));
    let journal = lab.journal.entries();
    assert_eq!(
        journal.last().map(String::as_str),
        Some("stop sibling"),
        "{journal:?}"
    );
}
