//! Restart strategies: who is stopped and started again, and in which order
//! (OTP's `one_for_one`, `one_for_all`, `rest_for_one` and
//! `temporary_bystander` cases).

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use hale_core::{ChildState, HealingEventKind, Restart, Strategy, SupervisorRef, SupervisorSpec};
use ractor::ActorId;
use support::{How, Lab, counts, current, exit_child, expect_at, expect_restart, rows, start, statuses};

use ChildState::{Running, Stopped};

fn spec(strategy: Strategy) -> SupervisorSpec {
    SupervisorSpec::new("root").strategy(strategy).intensity(5)
}

async fn ids(sup: &SupervisorRef, children: &[&str]) -> Vec<ActorId> {
    let mut ids = Vec::new();
    for child in children {
        ids.push(current(sup, child).await.get_id());
    }
    ids
}

#[tokio::test(start_paused = true)]
async fn one_for_one_restarts_only_the_failed_child_in_place() {
    let lab = Lab::new();
    let sup = start(lab.abc(spec(Strategy::OneForOne))).await;
    let mut events = sup.subscribe();
    let before = ids(&sup, &["a", "b", "c"]).await;
    exit_child(&sup, &mut events, "b", How::Error).await;
    expect_restart(&mut events, "root/b").await;
    let after = ids(&sup, &["a", "b", "c"]).await;
    assert_eq!((after[0], after[2]), (before[0], before[2]), "siblings untouched");
    assert_ne!(after[1], before[1]);
    assert_eq!(
        statuses(&sup).await,
        rows(&[("a", Running), ("b", Running), ("c", Running)]),
        "b keeps its place in the start order"
    );
    assert_eq!(
        lab.journal.entries(),
        ["start a", "start b", "start c", "start b"]
    );
}

#[tokio::test(start_paused = true)]
async fn one_for_all_restarts_every_child_in_start_order() {
    let lab = Lab::new();
    let sup = start(lab.abc(spec(Strategy::OneForAll))).await;
    let mut events = sup.subscribe();
    let before = ids(&sup, &["a", "b", "c"]).await;
    exit_child(&sup, &mut events, "b", How::Error).await;
    expect_restart(&mut events, "root/c").await;
    counts(&sup).await;
    assert_eq!(
        lab.journal.entries(),
        [
            "start a", "start b", "start c", // boot
            "stop c", "stop a", // the others, in reverse start order
            "start a", "start b", "start c", // all again, in start order
        ]
    );
    let after = ids(&sup, &["a", "b", "c"]).await;
    for (old, new) in before.iter().zip(&after) {
        assert_ne!(old, new, "no old incarnation survives");
    }
    let restarts: Vec<_> = sup
        .which_children()
        .await
        .unwrap()
        .iter()
        .map(|c| c.restarts)
        .collect();
    assert_eq!(restarts, [1, 1, 1]);
}

#[tokio::test(start_paused = true)]
async fn rest_for_one_restarts_the_failed_child_and_those_after_it() {
    let lab = Lab::new();
    let sup = start(
        spec(Strategy::RestForOne)
            .child(lab.worker("a"))
            .child(lab.worker("b"))
            .child(lab.worker("c"))
            .child(lab.worker("d")),
    )
    .await;
    let mut events = sup.subscribe();
    let before = current(&sup, "a").await.get_id();
    exit_child(&sup, &mut events, "b", How::Panic).await;
    expect_restart(&mut events, "root/d").await;
    counts(&sup).await;
    assert_eq!(
        lab.journal.entries(),
        [
            "start a", "start b", "start c", "start d", // boot
            "stop d", "stop c", // the later ones, last first
            "start b", "start c", "start d", // restarted in start order
        ]
    );
    assert_eq!(current(&sup, "a").await.get_id(), before, "a is untouched");
}

#[tokio::test(start_paused = true)]
async fn one_for_all_waits_for_each_sibling_to_exit_before_starting_again() {
    let lab = Lab::new();
    lab.slow_stop("b", 2_000);
    let sup = start(lab.abc(spec(Strategy::OneForAll))).await;
    let mut events = sup.subscribe();
    exit_child(&sup, &mut events, "c", How::Error).await;
    expect_restart(&mut events, "root/c").await;
    assert_eq!(
        lab.journal.entries(),
        [
            "start a", "start b", "start c", "stop b", "stop a", "start a", "start b", "start c"
        ],
        "b's slow stop is waited for: nothing starts before every sibling is gone"
    );
}

#[tokio::test(start_paused = true)]
async fn group_restarts_drop_temporary_siblings_for_good() {
    for strategy in [Strategy::OneForAll, Strategy::RestForOne] {
        let lab = Lab::new();
        let sup = start(
            spec(strategy)
                .intensity(1)
                .child(lab.worker("a"))
                .child(lab.worker("t").restart(Restart::Temporary))
                .child(lab.worker("c")),
        )
        .await;
        let mut events = sup.subscribe();
        exit_child(&sup, &mut events, "a", How::Error).await;
        expect_at(&mut events, "root/t", |k| *k == HealingEventKind::ChildRemoved).await;
        expect_restart(&mut events, "root/c").await;
        assert_eq!(
            statuses(&sup).await,
            rows(&[("a", Running), ("c", Running)]),
            "{strategy:?}: the temporary sibling is gone"
        );
        assert_eq!(
            lab.journal.entries(),
            [
                "start a", "start t", "start c", "stop c", "stop t", "start a", "start c"
            ],
            "{strategy:?}"
        );
        assert_eq!(lab.starts("t"), 1, "{strategy:?}: t is never started again");
    }
}

#[tokio::test(start_paused = true)]
async fn child_that_is_not_restarted_never_disturbs_its_siblings() {
    for strategy in [Strategy::OneForOne, Strategy::OneForAll, Strategy::RestForOne] {
        let lab = Lab::new();
        let sup = start(
            spec(strategy)
                .child(lab.worker("a"))
                .child(lab.worker("transient").restart(Restart::Transient))
                .child(lab.worker("temporary").restart(Restart::Temporary))
                .child(lab.worker("d")),
        )
        .await;
        let mut events = sup.subscribe();
        let before = ids(&sup, &["a", "d"]).await;
        let (_, will_restart) = exit_child(&sup, &mut events, "transient", How::Shutdown).await;
        assert!(!will_restart);
        let (_, will_restart) = exit_child(&sup, &mut events, "temporary", How::Error).await;
        assert!(!will_restart);
        assert_eq!(
            statuses(&sup).await,
            rows(&[("a", Running), ("transient", Stopped), ("d", Running)]),
            "{strategy:?}"
        );
        assert_eq!(
            ids(&sup, &["a", "d"]).await,
            before,
            "{strategy:?}: siblings untouched"
        );
        assert_eq!(
            lab.journal.entries(),
            [
                "start a",
                "start transient",
                "start temporary",
                "start d",
                "stop transient"
            ],
            "{strategy:?}"
        );
    }
}

#[tokio::test(start_paused = true)]
async fn one_for_all_starts_again_children_stopped_through_the_api() {
    let lab = Lab::new();
    let sup = start(lab.abc(spec(Strategy::OneForAll))).await;
    let mut events = sup.subscribe();
    sup.terminate_child("b").await.unwrap();
    exit_child(&sup, &mut events, "a", How::Error).await;
    expect_restart(&mut events, "root/c").await;
    assert_eq!(
        statuses(&sup).await,
        rows(&[("a", Running), ("b", Running), ("c", Running)])
    );
    assert_eq!(
        lab.journal.entries(),
        [
            "start a", "start b", "start c", "stop b", "stop c", "start a", "start b", "start c"
        ]
    );
}

#[tokio::test(start_paused = true)]
async fn rest_for_one_starts_again_later_children_stopped_through_the_api_but_not_earlier_ones() {
    let lab = Lab::new();
    let sup = start(lab.abc(spec(Strategy::RestForOne))).await;
    let mut events = sup.subscribe();
    sup.terminate_child("a").await.unwrap();
    sup.terminate_child("c").await.unwrap();
    exit_child(&sup, &mut events, "b", How::Error).await;
    expect_restart(&mut events, "root/c").await;
    assert_eq!(
        statuses(&sup).await,
        rows(&[("a", Stopped), ("b", Running), ("c", Running)])
    );
    assert_eq!(
        lab.journal.entries(),
        [
            "start a", "start b", "start c", "stop a", "stop c", "start b", "start c"
        ]
    );
}

#[tokio::test(start_paused = true)]
async fn exits_of_siblings_already_stopped_by_a_group_restart_are_ignored() {
    let lab = Lab::new();
    // Intensity 1: a second restart for the same failure would give up.
    let sup = start(lab.abc(spec(Strategy::OneForAll).intensity(1))).await;
    let mut events = sup.subscribe();
    let (a, c) = (current(&sup, "a").await, current(&sup, "c").await);
    // Both fail at about the same time; whichever exit is handled first
    // restarts the group, and the other one then belongs to a dead
    // incarnation.
    a.send_message(support::Cmd::Fail).unwrap();
    c.send_message(support::Cmd::Fail).unwrap();
    expect_restart(&mut events, "root/c").await;
    let restarts: Vec<_> = sup
        .which_children()
        .await
        .unwrap()
        .iter()
        .map(|child| (child.id.clone(), child.state, child.restarts))
        .collect();
    assert_eq!(
        restarts,
        [
            ("a".to_owned(), Running, 1),
            ("b".to_owned(), Running, 1),
            ("c".to_owned(), Running, 1)
        ]
    );
    assert_eq!((lab.starts("a"), lab.starts("b"), lab.starts("c")), (2, 2, 2));
}
