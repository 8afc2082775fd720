//! auto_shutdown and significant children (OTP 24's `significant` children
//! and the `auto_shutdown` supervisor flag).

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use hale_core::{
    AutoShutdown, ChildSpec, ChildState, EventStream, ExitReason, HealingEventKind, Restart, Strategy,
    SupervisorRef, SupervisorSpec,
};
use support::{How, Lab, exit_child, expect_at, expect_restart, rows, start, statuses};

use ChildState::{Running, Stopped};

fn significant(lab: &Lab, id: &str, restart: Restart) -> ChildSpec {
    lab.worker(id).restart(restart).significant(true)
}

/// `rule` over a permanent `a`, the significant children, and a permanent `z`.
async fn supervisor(rule: AutoShutdown, significant: Vec<ChildSpec>, lab: &Lab) -> SupervisorRef {
    start(
        SupervisorSpec::new("root")
            .auto_shutdown(rule)
            .intensity(5)
            .child(lab.worker("a"))
            .children(significant)
            .child(lab.worker("z")),
    )
    .await
}

/// `rule` over `a`, one significant child `id`, and `z`.
async fn with_one(lab: &Lab, rule: AutoShutdown, id: &str, restart: Restart) -> SupervisorRef {
    supervisor(rule, vec![significant(lab, id, restart)], lab).await
}

/// Expects `sup` to shut itself down because of `child`, stopping the
/// others, and to exit `shutdown`.
async fn expect_auto_shutdown(sup: &SupervisorRef, events: &mut EventStream, child: &str) {
    let path = sup.path().to_string();
    let event = expect_at(events, &path, |k| {
        matches!(k, HealingEventKind::AutoShutdown { .. })
    })
    .await;
    assert_eq!(
        event,
        HealingEventKind::AutoShutdown {
            child: child.to_owned()
        }
    );
    assert_eq!(sup.wait().await, ExitReason::Shutdown(None));
}

#[tokio::test(start_paused = true)]
async fn any_significant_transient_child_exiting_normally_shuts_the_supervisor_down() {
    for how in [How::Normal, How::Shutdown, How::ShutdownDetail] {
        let lab = Lab::new();
        let sup = with_one(&lab, AutoShutdown::AnySignificant, "s", Restart::Transient).await;
        let mut events = sup.subscribe();
        let (_, will_restart) = exit_child(&sup, &mut events, "s", how).await;
        assert!(!will_restart, "{how:?}");
        expect_auto_shutdown(&sup, &mut events, "s").await;
        assert_eq!(
            lab.journal.entries(),
            ["start a", "start s", "start z", "stop s", "stop z", "stop a"],
            "{how:?}: the others are stopped, last first"
        );
    }
}

#[tokio::test(start_paused = true)]
async fn abnormal_exit_of_a_significant_transient_child_restarts_it_instead() {
    let lab = Lab::new();
    let sup = with_one(&lab, AutoShutdown::AnySignificant, "s", Restart::Transient).await;
    let mut events = sup.subscribe();
    for how in [How::Error, How::Kill] {
        let (_, will_restart) = exit_child(&sup, &mut events, "s", how).await;
        assert!(will_restart, "{how:?}");
        expect_restart(&mut events, "root/s").await;
    }
    assert_eq!(
        statuses(&sup).await,
        rows(&[("a", Running), ("s", Running), ("z", Running)])
    );
}

#[tokio::test(start_paused = true)]
async fn any_significant_temporary_child_triggers_on_any_exit() {
    for how in [How::Normal, How::Error, How::Kill] {
        let lab = Lab::new();
        let sup = with_one(&lab, AutoShutdown::AnySignificant, "t", Restart::Temporary).await;
        let mut events = sup.subscribe();
        exit_child(&sup, &mut events, "t", how).await;
        expect_auto_shutdown(&sup, &mut events, "t").await;
    }
}

#[tokio::test(start_paused = true)]
async fn all_significant_waits_until_no_significant_child_runs() {
    let lab = Lab::new();
    let sup = supervisor(
        AutoShutdown::AllSignificant,
        vec![
            significant(&lab, "t", Restart::Temporary),
            significant(&lab, "s1", Restart::Transient),
            significant(&lab, "s2", Restart::Transient),
        ],
        &lab,
    )
    .await;
    let mut events = sup.subscribe();
    exit_child(&sup, &mut events, "t", How::Error).await;
    exit_child(&sup, &mut events, "s1", How::Normal).await;
    // s2 runs: not yet.
    assert_eq!(
        statuses(&sup).await,
        rows(&[("a", Running), ("s1", Stopped), ("s2", Running), ("z", Running)])
    );
    exit_child(&sup, &mut events, "s2", How::Shutdown).await;
    expect_auto_shutdown(&sup, &mut events, "s2").await;
}

#[tokio::test(start_paused = true)]
async fn terminate_child_never_triggers_auto_shutdown() {
    for rule in [AutoShutdown::AnySignificant, AutoShutdown::AllSignificant] {
        let lab = Lab::new();
        let sup = supervisor(
            rule,
            vec![
                significant(&lab, "s", Restart::Transient),
                significant(&lab, "t", Restart::Temporary),
            ],
            &lab,
        )
        .await;
        sup.terminate_child("s").await.unwrap();
        sup.terminate_child("t").await.unwrap();
        assert_eq!(
            statuses(&sup).await,
            rows(&[("a", Running), ("s", Stopped), ("z", Running)]),
            "{rule:?}: the supervisor runs on"
        );
        sup.restart_child("s").await.unwrap();
    }
}

#[tokio::test(start_paused = true)]
async fn a_siblings_group_restart_never_triggers_auto_shutdown() {
    for strategy in [Strategy::OneForAll, Strategy::RestForOne] {
        let lab = Lab::new();
        let sup = start(
            SupervisorSpec::new("root")
                .strategy(strategy)
                .auto_shutdown(AutoShutdown::AnySignificant)
                .child(lab.worker("a"))
                .child(significant(&lab, "t", Restart::Temporary))
                .child(significant(&lab, "s", Restart::Transient)),
        )
        .await;
        let mut events = sup.subscribe();
        // Stops t (dropped: temporary) and s (restarted with the group).
        exit_child(&sup, &mut events, "a", How::Error).await;
        expect_restart(&mut events, "root/s").await;
        assert_eq!(
            statuses(&sup).await,
            rows(&[("a", Running), ("s", Running)]),
            "{strategy:?}"
        );
    }
}

#[tokio::test(start_paused = true)]
async fn auto_shutdown_ends_a_subtree_whose_job_is_done() {
    let lab = Lab::new();
    let job = SupervisorSpec::new("job")
        .auto_shutdown(AutoShutdown::AnySignificant)
        .child(lab.worker("helper"))
        .child(significant(&lab, "main", Restart::Transient));
    let root = start(
        SupervisorSpec::new("root")
            .child(lab.worker("service"))
            .child(ChildSpec::supervisor(job).restart(Restart::Transient)),
    )
    .await;
    let mut events = root.subscribe();
    let job = root.child_supervisor("job").await.unwrap();
    exit_child(&job, &mut events, "main", How::Normal).await;
    expect_auto_shutdown(&job, &mut events, "main").await;
    let ended = expect_at(&mut events, "root/job", |k| {
        matches!(k, HealingEventKind::ChildExited { .. })
    })
    .await;
    assert_eq!(
        ended,
        HealingEventKind::ChildExited {
            reason: ExitReason::Shutdown(None),
            will_restart: false
        }
    );
    assert_eq!(
        statuses(&root).await,
        rows(&[("service", Running), ("job", Stopped)])
    );
    assert_eq!(
        lab.journal.entries(),
        [
            "start service",
            "start helper",
            "start main",
            "stop main",
            "stop helper"
        ]
    );
}
