//! Supervision trees (OTP's `tree` case): start order, stop order, nested
//! handles and full paths in events.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use hale_core::{
    ChildError, ChildSpec, ChildState, ExitReason, HealingEventKind, Strategy, Supervisor, SupervisorSpec,
};
use support::{
    How, Lab, WAIT, events_through, exit_child, expect_restart, failed_child, otp_counts, rows, start,
    statuses,
};

/// root ─┬─ a
///       ├─ mid ─┬─ b
///       │       └─ leaf ─┬─ c
///       │                └─ d
///       └─ e
fn three_levels(lab: &Lab) -> SupervisorSpec {
    let leaf = SupervisorSpec::new("leaf")
        .child(lab.worker("c"))
        .child(lab.worker("d"));
    let mid = SupervisorSpec::new("mid")
        .child(lab.worker("b"))
        .child(ChildSpec::supervisor(leaf));
    SupervisorSpec::new("root")
        .child(lab.worker("a"))
        .child(ChildSpec::supervisor(mid))
        .child(lab.worker("e"))
}

#[tokio::test(start_paused = true)]
async fn three_level_tree_starts_depth_first_in_order_and_stops_in_reverse() {
    let lab = Lab::new();
    let root = start(three_levels(&lab)).await;
    assert_eq!(
        lab.journal.entries(),
        ["start a", "start b", "start c", "start d", "start e"]
    );
    lab.journal.clear();
    assert_eq!(root.stop(WAIT).await, ExitReason::Normal);
    assert_eq!(
        lab.journal.entries(),
        ["stop e", "stop d", "stop c", "stop b", "stop a"]
    );
}

#[tokio::test(start_paused = true)]
async fn child_supervisor_gives_the_nested_handle() {
    let lab = Lab::new();
    let root = start(three_levels(&lab)).await;
    let mid = root.child_supervisor("mid").await.unwrap();
    let leaf = mid.child_supervisor("leaf").await.unwrap();
    assert_eq!(mid.path().to_string(), "root/mid");
    assert_eq!(leaf.path().to_string(), "root/mid/leaf");
    assert_eq!(otp_counts(&root).await, [3, 3, 1, 2]);
    assert_eq!(otp_counts(&mid).await, [2, 2, 1, 1]);
    assert_eq!(
        statuses(&leaf).await,
        rows(&[("c", ChildState::Running), ("d", ChildState::Running)])
    );
    // A worker is not a supervisor.
    assert!(matches!(
        root.child_supervisor("a").await,
        Err(ChildError::WrongMessageType { .. })
    ));
    // The nested handle administers its own children.
    leaf.terminate_child("d").await.unwrap();
    assert_eq!(lab.journal.entries().last().map(String::as_str), Some("stop d"));
}

#[tokio::test(start_paused = true)]
async fn events_carry_full_paths() {
    let lab = Lab::new();
    let root = start(three_levels(&lab)).await;
    let mut events = root.subscribe();
    let leaf = root
        .child_supervisor("mid")
        .await
        .unwrap()
        .child_supervisor("leaf")
        .await
        .unwrap();
    exit_child(&leaf, &mut events, "c", How::Error).await;
    expect_restart(&mut events, "root/mid/leaf/c").await;
    let mut events = root.subscribe();
    root.stop(WAIT).await;
    let seen = events_through(&mut events, |e| {
        e.path.to_string() == "root" && matches!(e.kind, HealingEventKind::SupervisorStopped { .. })
    })
    .await;
    let stopped: Vec<_> = seen
        .iter()
        .filter_map(|(path, kind)| match kind {
            HealingEventKind::SupervisorStopped { reason } => Some((path.as_str(), reason.clone())),
            _ => None,
        })
        .collect();
    // Stopped by their parents: `shutdown`; the root by its handle: `normal`.
    assert_eq!(
        stopped,
        [
            ("root/mid/leaf", ExitReason::Shutdown(None)),
            ("root/mid", ExitReason::Shutdown(None)),
            ("root", ExitReason::Normal)
        ]
    );
    let children: Vec<_> = seen
        .iter()
        .filter(|(_, kind)| matches!(kind, HealingEventKind::ChildStopped { .. }))
        .map(|(path, _)| path.as_str())
        .collect();
    assert_eq!(
        children,
        [
            "root/e",
            "root/mid/leaf/d",
            "root/mid/leaf/c",
            "root/mid/leaf",
            "root/mid/b",
            "root/mid",
            "root/a"
        ]
    );
}

#[tokio::test(start_paused = true)]
async fn only_the_supervisor_of_a_failed_child_acts_on_it() {
    let lab = Lab::new();
    let root = start(three_levels(&lab).strategy(Strategy::OneForAll)).await;
    let mut events = root.subscribe();
    let mid = root.child_supervisor("mid").await.unwrap();
    exit_child(&mid, &mut events, "b", How::Error).await;
    expect_restart(&mut events, "root/mid/b").await;
    assert_eq!(
        lab.journal.entries(),
        ["start a", "start b", "start c", "start d", "start e", "start b"],
        "root's one_for_all is not involved"
    );
}

#[tokio::test(start_paused = true)]
async fn nested_boot_failure_fails_the_whole_start_naming_the_path() {
    let lab = Lab::new();
    lab.fail_starts("d", 1);
    let (supervisor, child, cause) = failed_child(Supervisor::start(three_levels(&lab)).await);
    // The root names its own child; the cause says where below it failed.
    assert_eq!((supervisor.as_str(), child.as_str()), ("root", "mid"));
    assert!(
        cause.contains("root/mid/leaf") && cause.contains("`d`"),
        "{cause}"
    );
    assert_eq!(
        lab.journal.entries(),
        [
            "start a", "start b", "start c", "failed d", "stop c", "stop b", "stop a"
        ]
    );
}

#[tokio::test(start_paused = true)]
async fn killed_inner_supervisor_takes_its_subtree_along_and_is_restarted_afresh() {
    let lab = Lab::new();
    let root = start(three_levels(&lab)).await;
    let mut events = root.subscribe();
    let mid = root.child_supervisor("mid").await.unwrap();
    mid.actor().kill();
    assert_eq!(mid.wait().await, ExitReason::Killed);
    let (reason, will_restart) = match support::expect_at(&mut events, "root/mid", |k| {
        matches!(k, HealingEventKind::ChildExited { .. })
    })
    .await
    {
        HealingEventKind::ChildExited { reason, will_restart } => (reason, will_restart),
        _ => unreachable!("matched above"),
    };
    assert_eq!((reason, will_restart), (ExitReason::Killed, true));
    expect_restart(&mut events, "root/mid").await;
    // Killed: no post_stop anywhere below; then a fresh subtree.
    assert_eq!(
        lab.journal.entries(),
        [
            "start a", "start b", "start c", "start d", "start e", "start b", "start c", "start d"
        ]
    );
    let leaf = root
        .child_supervisor("mid")
        .await
        .unwrap()
        .child_supervisor("leaf")
        .await
        .unwrap();
    assert_eq!(otp_counts(&leaf).await, [2, 2, 0, 2]);
}

#[tokio::test(start_paused = true)]
async fn restarted_subtree_starts_from_its_spec_without_children_added_at_run_time() {
    // OTP's `tree` case.
    let lab = Lab::new();
    let spec = |name: &str| SupervisorSpec::new(name).intensity(4);
    let root = start(
        spec("root")
            .strategy(Strategy::OneForAll)
            .child(ChildSpec::supervisor(
                spec("sup1").child(lab.worker("c1")).child(lab.worker("c2")),
            ))
            .child(ChildSpec::supervisor(spec("sup2")))
            .child(ChildSpec::supervisor(spec("sup3")).restart(hale_core::Restart::Transient)),
    )
    .await;
    let mut events = root.subscribe();
    root.terminate_child("sup3").await.unwrap();
    assert_eq!(otp_counts(&root).await, [3, 2, 3, 0]);
    let sup1 = root.child_supervisor("sup1").await.unwrap();
    let sup2 = root.child_supervisor("sup2").await.unwrap();
    sup2.start_child(lab.worker("c3")).await.unwrap();
    sup2.start_child(lab.worker("c4")).await.unwrap();
    assert_eq!(otp_counts(&sup2).await, [2, 2, 0, 2]);

    // Only the child that dies is restarted.
    let c1 = support::current(&sup1, "c1").await.get_id();
    exit_child(&sup2, &mut events, "c4", How::Error).await;
    expect_restart(&mut events, "root/sup2/c4").await;
    assert_eq!(otp_counts(&sup2).await, [2, 2, 0, 2]);
    assert_eq!(support::current(&sup1, "c1").await.get_id(), c1);

    // c3 cannot be restarted: sup2 gives up, and root's one_for_all
    // restarts all three, sup3 (stopped through the API) included.
    lab.fail_starts("c3", u32::MAX);
    exit_child(&sup2, &mut events, "c3", How::Error).await;
    expect_restart(&mut events, "root/sup3").await;
    assert_eq!(sup2.wait().await, ExitReason::Shutdown(None));
    assert_eq!(otp_counts(&root).await, [3, 3, 3, 0]);
    let sup1 = root.child_supervisor("sup1").await.unwrap();
    assert_eq!(otp_counts(&sup1).await, [2, 2, 0, 2]);
    for fresh in ["sup2", "sup3"] {
        let fresh = root.child_supervisor(fresh).await.unwrap();
        assert_eq!(otp_counts(&fresh).await, [0, 0, 0, 0], "{}", fresh.path());
    }
}

/// Handles that follow restarts: a nested supervisor's handle, and a
/// reference to its child taken through that handle, reach the new
/// incarnations after the nested supervisor is restarted.
mod following {
    use super::*;
    use hale_core::{DynamicStart, DynamicSupervisorSpec};
    use support::{Cmd, ping};

    #[tokio::test(start_paused = true)]
    async fn a_nested_supervisor_handle_and_a_grandchild_reference_follow_its_restart() {
        let lab = Lab::new();
        let root = start(three_levels(&lab)).await;
        let mid = root.child_supervisor("mid").await.unwrap();
        let b = mid.child_ref::<Cmd>("b").await.unwrap();
        let before = mid.actor().get_id();
        let mut events = root.subscribe();
        // The restart of mid itself: its parent kills it and starts it again.
        mid.actor().kill();
        expect_restart(&mut events, "root/mid").await;
        assert_ne!(mid.actor().get_id(), before);
        // Calls go to the new incarnation, without asking the root again.
        assert_eq!(otp_counts(&mid).await, [2, 2, 1, 1]);
        assert_eq!(ping(&mid, "b").await, "b");
        // The grandchild reference found b again in the new mid.
        b.send_within(Cmd::Fail, WAIT).await.unwrap();
        expect_restart(&mut events, "root/mid/b").await;
        root.stop(WAIT).await;
    }

    #[tokio::test(start_paused = true)]
    async fn a_nested_dynamic_supervisor_handle_follows_its_restart() {
        let lab = Lab::new();
        let root = start(
            SupervisorSpec::new("root")
                .child(ChildSpec::dynamic_supervisor(DynamicSupervisorSpec::new("jobs"))),
        )
        .await;
        let jobs = root.child_dynamic_supervisor("jobs").await.unwrap();
        let mut events = root.subscribe();
        jobs.actor().kill();
        expect_restart(&mut events, "root/jobs").await;
        let started = jobs.start_child(lab.worker("job")).await.unwrap();
        assert!(matches!(started, DynamicStart::Started(_)));
        root.stop(WAIT).await;
    }

    #[tokio::test(start_paused = true)]
    async fn a_handle_to_a_removed_supervisor_fails_its_calls() {
        let lab = Lab::new();
        let root = start(three_levels(&lab)).await;
        let mid = root.child_supervisor("mid").await.unwrap();
        root.terminate_child("mid").await.unwrap();
        root.delete_child("mid").await.unwrap();
        assert!(mid.count_children().await.is_err());
        root.stop(WAIT).await;
    }
}
