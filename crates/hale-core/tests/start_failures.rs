//! Starts that fail or answer ignore, at boot and on restart (OTP's
//! `sup_start_*`, `*_other_child_fails_restart` and `hanging_restart_loop`
//! cases).

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::time::Duration;

use hale_core::{
    ChildError, ChildSpec, ChildState, ExitReason, HealingEventKind, Restart, StartError, StartOutcome,
    Strategy, Supervisor, SupervisorSpec,
};
use ractor::{Actor, ActorProcessingErr, ActorRef};
use support::{
    How, Lab, WAIT, exit_child, expect_at, expect_restart, fail_into_restarting, failed_child, otp_counts,
    rows, start, statuses,
};

use ChildState::{Restarting, Running, Stopped};

#[tokio::test(start_paused = true)]
async fn boot_failure_stops_earlier_children_in_reverse_and_names_the_child() {
    let lab = Lab::new();
    lab.fail_starts("c", 1);
    let started = Supervisor::start(
        SupervisorSpec::new("root")
            .child(lab.worker("a"))
            .child(lab.worker("b"))
            .child(lab.worker("c"))
            .child(lab.worker("d")),
    )
    .await;
    assert_eq!(
        failed_child(started),
        ("root".to_owned(), "c".to_owned(), "c refused to start".to_owned())
    );
    assert_eq!(
        lab.journal.entries(),
        ["start a", "start b", "failed c", "stop b", "stop a"],
        "d is never started"
    );
}

/// An actor whose `pre_start` fails.
#[derive(Clone)]
struct Refuses;

impl Actor for Refuses {
    type Msg = ();
    type State = ();
    type Arguments = ();

    async fn pre_start(&self, _: ActorRef<()>, _: ()) -> Result<(), ActorProcessingErr> {
        Err("pre_start refused".into())
    }
}

#[tokio::test(start_paused = true)]
async fn errors_and_panics_in_starts_are_start_errors_never_crashes() {
    let panics_at_once = ChildSpec::new("sync_panic", |_ctx| -> std::future::Ready<_> {
        panic!("no future for you")
    });
    let panics_later = ChildSpec::new("async_panic", |_ctx| async {
        panic!("not today");
        #[allow(unreachable_code)]
        Ok::<_, StartError>(StartOutcome::Ignore)
    });
    let expected = [
        (panics_at_once, "panicked: no future for you"),
        (panics_later, "panicked: not today"),
        (ChildSpec::actor("pre_start", Refuses, ()), "pre_start refused"),
    ];
    let lab = Lab::new();
    let sup = start(SupervisorSpec::new("root").child(lab.worker("a"))).await;
    for (spec, text) in expected {
        let id = spec.id().to_owned();
        // At boot: the supervisor's start fails, naming the child.
        let (_, child, cause) =
            failed_child(Supervisor::start(SupervisorSpec::new("boot").child(spec.clone())).await);
        assert_eq!(child, id);
        assert!(cause.contains(text), "{id}: {cause}");
        // Through the API: an error answer; the supervisor runs on.
        match sup.start_child(spec).await {
            Err(ChildError::StartFailed { child, cause, .. }) => {
                assert_eq!(child, id);
                assert!(cause.message().contains(text), "{id}: {cause}");
            }
            other => panic!("{id}: expected a start error, got {other:?}"),
        }
    }
    assert_eq!(statuses(&sup).await, rows(&[("a", Running)]));
}

#[tokio::test(start_paused = true)]
async fn ignore_at_boot_keeps_the_spec_unless_the_child_is_temporary() {
    let lab = Lab::new();
    lab.ignore_starts("a", 1);
    lab.ignore_starts("t", 1);
    let sup = Supervisor::start(
        SupervisorSpec::new("root")
            .child(lab.worker("a"))
            .child(lab.worker("t").restart(Restart::Temporary))
            .child(lab.worker("c")),
    )
    .await
    .unwrap();
    assert_eq!(statuses(&sup).await, rows(&[("a", Stopped), ("c", Running)]));
    assert_eq!(otp_counts(&sup).await, [2, 1, 0, 2]);
    assert_eq!(lab.journal.entries(), ["start c"]);
    // The kept spec can be started later.
    assert!(sup.restart_child("a").await.unwrap().actor().is_some());
    assert_eq!(statuses(&sup).await, rows(&[("a", Running), ("c", Running)]));
}

#[tokio::test(start_paused = true)]
async fn failed_restart_leaves_the_child_restarting_and_the_api_answers_meanwhile() {
    let lab = Lab::new();
    let sup = start(SupervisorSpec::new("root").intensity(20).child(lab.worker("a"))).await;
    let mut events = sup.subscribe();
    // Each start takes a while, so calls queue up while one is tried; the
    // retries go through the mailbox behind them.
    fail_into_restarting(&lab, &sup, &mut events, "a", 8).await;

    assert_eq!(statuses(&sup).await, rows(&[("a", Restarting)]));
    assert_eq!(otp_counts(&sup).await, [1, 0, 0, 1], "restarting is not active");
    assert!(matches!(
        sup.restart_child("a").await,
        Err(ChildError::Restarting { .. })
    ));
    assert!(matches!(
        sup.delete_child("a").await,
        Err(ChildError::Restarting { .. })
    ));
    assert!(matches!(
        sup.start_child(lab.worker("a")).await,
        Err(ChildError::AlreadyPresent { .. })
    ));
    assert!(lab.starts("a") < 9, "the API was answered between retries");

    // The retries go on and the ninth start succeeds.
    expect_restart(&mut events, "root/a").await;
    assert_eq!(statuses(&sup).await, rows(&[("a", Running)]));
    assert_eq!(lab.starts("a"), 10);
}

#[tokio::test(start_paused = true)]
async fn restart_loop_that_keeps_failing_exhausts_intensity_and_shuts_down() {
    let lab = Lab::new();
    let sup = start(lab.abc(SupervisorSpec::new("root").intensity(3))).await;
    let mut events = sup.subscribe();
    lab.fail_starts("b", u32::MAX);
    exit_child(&sup, &mut events, "b", How::Error).await;
    expect_at(&mut events, "root", |k| {
        matches!(k, HealingEventKind::IntensityExceeded { .. })
    })
    .await;
    assert_eq!(sup.wait().await, ExitReason::Shutdown(None));
    assert_eq!(
        lab.journal.entries(),
        [
            "start a", "start b", "start c", // boot
            "failed b", "failed b", "failed b", // three restarts tried
            "stop c", "stop a", // the fourth: give up
        ]
    );
}

#[tokio::test(start_paused = true)]
async fn one_for_all_failed_start_leaves_earlier_children_running_and_later_ones_stopped_until_the_retry() {
    let lab = Lab::new();
    let sup = start(
        lab.abc(
            SupervisorSpec::new("root")
                .strategy(Strategy::OneForAll)
                .intensity(5),
        ),
    )
    .await;
    let mut events = sup.subscribe();
    lab.slow_starts("b", 100);
    lab.fail_starts("b", 1);
    exit_child(&sup, &mut events, "a", How::Error).await;
    expect_restart(&mut events, "root/a").await;
    // Asked while b's start is under way, answered before the retry.
    assert_eq!(
        statuses(&sup).await,
        rows(&[("a", Running), ("b", Restarting), ("c", Stopped)])
    );
    expect_restart(&mut events, "root/c").await;
    assert_eq!(
        statuses(&sup).await,
        rows(&[("a", Running), ("b", Running), ("c", Running)])
    );
    assert_eq!(
        lab.journal.entries(),
        [
            "start a", "start b", "start c", // boot
            "stop c", "stop b", "start a", "failed b", // first try: aborted at b
            "stop a", "start a", "start b", "start c", // the retry: everyone again
        ]
    );
}

#[tokio::test(start_paused = true)]
async fn rest_for_one_retry_restarts_from_the_failed_child_on() {
    let lab = Lab::new();
    let sup = start(
        lab.abc(
            SupervisorSpec::new("root")
                .strategy(Strategy::RestForOne)
                .intensity(5),
        ),
    )
    .await;
    let mut events = sup.subscribe();
    lab.fail_starts("c", 1);
    exit_child(&sup, &mut events, "b", How::Error).await;
    expect_restart(&mut events, "root/c").await;
    assert_eq!(
        lab.journal.entries(),
        [
            "start a", "start b", "start c", // boot
            "stop c", "start b", "failed c", // first try
            "start c",  // the retry: b, which runs, is left alone
        ]
    );
    assert_eq!(lab.starts("b"), 2);
}

#[tokio::test(start_paused = true)]
async fn terminate_child_on_a_restarting_child_cancels_the_retry() {
    let lab = Lab::new();
    let sup = start(SupervisorSpec::new("root").intensity(20).child(lab.worker("a"))).await;
    let mut events = sup.subscribe();
    fail_into_restarting(&lab, &sup, &mut events, "a", u32::MAX).await;
    sup.terminate_child("a").await.unwrap();
    assert_eq!(statuses(&sup).await, rows(&[("a", Stopped)]));
    let tried = lab.starts("a");
    // Whatever retry was queued is dropped: time passes, nothing is tried.
    tokio::time::advance(Duration::from_secs(10)).await;
    assert_eq!(statuses(&sup).await, rows(&[("a", Stopped)]));
    assert_eq!(lab.starts("a"), tried);
    // The spec is kept: it can be started again by hand.
    lab.fail_starts("a", 0);
    assert!(sup.restart_child("a").await.unwrap().actor().is_some());
}

#[tokio::test(start_paused = true)]
async fn supervisor_stops_at_once_while_a_restart_keeps_failing() {
    let lab = Lab::new();
    let sup = start(
        SupervisorSpec::new("root")
            .intensity(1_000)
            .child(lab.worker("a")),
    )
    .await;
    let mut events = sup.subscribe();
    fail_into_restarting(&lab, &sup, &mut events, "a", u32::MAX).await;
    assert_eq!(sup.stop(WAIT).await, ExitReason::Normal);
    assert!(lab.starts("a") < 5, "the retry loop did not hold the stop back");
}

#[tokio::test(start_paused = true)]
async fn rest_for_one_restart_loop_can_be_terminated_and_restarted_by_hand() {
    // OTP's `hanging_restart_loop_rest_for_one`.
    let lab = Lab::new();
    let sup = start(
        lab.abc(
            SupervisorSpec::new("root")
                .strategy(Strategy::RestForOne)
                .intensity(50),
        ),
    )
    .await;
    let mut events = sup.subscribe();
    fail_into_restarting(&lab, &sup, &mut events, "b", u32::MAX).await;
    assert_eq!(
        statuses(&sup).await,
        rows(&[("a", Running), ("b", Restarting), ("c", Stopped)])
    );
    assert_eq!(otp_counts(&sup).await, [3, 1, 0, 3]);
    sup.terminate_child("b").await.unwrap();
    assert_eq!(
        statuses(&sup).await,
        rows(&[("a", Running), ("b", Stopped), ("c", Stopped)])
    );
    lab.fail_starts("b", 0);
    sup.restart_child("b").await.unwrap();
    assert_eq!(
        statuses(&sup).await,
        rows(&[("a", Running), ("b", Running), ("c", Stopped)]),
        "restart_child starts that child only"
    );
    assert_eq!(sup.stop(WAIT).await, ExitReason::Normal);
}
