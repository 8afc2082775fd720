//! The administration API and its OTP answers (OTP's `child_adm`,
//! `extra_return`, `child_specs`, `sup_flags`, `sup_start_map`,
//! `sup_start_ignore_*` and `count_children` cases).

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::time::Duration;

use hale_core::{
    AutoShutdown, ChildError, ChildKind, ChildSpec, ChildState, ExitReason, HealingEventKind, Restart,
    Shutdown, SpecError, StartedChild, StopCause, StopOutcome, Supervisor, SupervisorSpec,
    SupervisorStartError,
};
use support::{
    How, Lab, WAIT, current, exit_child, expect_at, expect_restart, otp_counts, rows, start, statuses,
};

use ChildState::{Running, Stopped};

fn root() -> SupervisorSpec {
    SupervisorSpec::new("root")
}

fn started(answer: Result<StartedChild, ChildError>) -> ractor::ActorId {
    match answer {
        Ok(StartedChild::Started(actor)) => actor.get_id(),
        other => panic!("expected a started child, got {other:?}"),
    }
}

#[tokio::test(start_paused = true)]
async fn start_child_answers_started_already_started_and_already_present() {
    let lab = Lab::new();
    let sup = start(root()).await;
    let first = started(sup.start_child(lab.worker("a")).await);
    assert_eq!(current(&sup, "a").await.get_id(), first);
    assert_eq!(otp_counts(&sup).await, [1, 1, 0, 1]);
    match sup.start_child(lab.worker("a")).await {
        Err(ChildError::AlreadyStarted { child, actor, .. }) => {
            assert_eq!((child.as_str(), actor.get_id()), ("a", first));
        }
        other => panic!("expected already started, got {other:?}"),
    }
    sup.terminate_child("a").await.unwrap();
    assert!(matches!(
        sup.start_child(lab.worker("a")).await,
        Err(ChildError::AlreadyPresent { .. })
    ));
    assert_eq!(lab.journal.entries(), ["start a", "stop a"], "no second start");
}

#[tokio::test(start_paused = true)]
async fn start_child_adds_children_at_the_end_of_the_start_order() {
    let lab = Lab::new();
    let sup = start(root().child(lab.worker("a"))).await;
    sup.start_child(lab.worker("c")).await.unwrap();
    sup.start_child(lab.worker("b")).await.unwrap();
    assert_eq!(
        statuses(&sup).await,
        rows(&[("a", Running), ("c", Running), ("b", Running)])
    );
}

#[tokio::test(start_paused = true)]
async fn start_child_rejects_an_invalid_spec_before_starting_anything() {
    let lab = Lab::new();
    let sup = start(root()).await;
    let invalid = [
        lab.worker("a").restart(Restart::Transient).significant(true),
        lab.worker("").restart(Restart::Temporary),
        ChildSpec::supervisor(
            SupervisorSpec::new("inner")
                .period(Duration::ZERO)
                .child(lab.worker("b")),
        ),
    ];
    for spec in invalid {
        let answer = sup.start_child(spec).await;
        assert!(matches!(answer, Err(ChildError::InvalidSpec(_))), "{answer:?}");
    }
    assert_eq!(otp_counts(&sup).await, [0, 0, 0, 0]);
    assert!(lab.journal.entries().is_empty());
    assert_eq!((lab.starts("a"), lab.starts("b")), (0, 0));
}

#[tokio::test(start_paused = true)]
async fn start_child_error_discards_the_spec() {
    let lab = Lab::new();
    let sup = start(root()).await;
    let mut events = sup.subscribe();
    lab.fail_starts("a", 1);
    match sup.start_child(lab.worker("a")).await {
        Err(ChildError::StartFailed { child, cause, .. }) => {
            assert_eq!((child.as_str(), cause.message()), ("a", "a refused to start"));
        }
        other => panic!("expected a start error, got {other:?}"),
    }
    expect_at(&mut events, "root/a", |k| {
        matches!(k, HealingEventKind::StartFailed { .. })
    })
    .await;
    assert_eq!(otp_counts(&sup).await, [0, 0, 0, 0]);
    // Not `already_present`: nothing of it was kept.
    started(sup.start_child(lab.worker("a")).await);
}

#[tokio::test(start_paused = true)]
async fn start_child_that_answers_ignore_keeps_the_spec_unless_temporary() {
    let lab = Lab::new();
    let sup = start(root()).await;
    lab.ignore_starts("a", 1);
    lab.ignore_starts("t", 1);
    assert!(matches!(
        sup.start_child(lab.worker("a")).await,
        Ok(StartedChild::Ignored)
    ));
    assert!(matches!(
        sup.start_child(lab.worker("t").restart(Restart::Temporary)).await,
        Ok(StartedChild::Ignored)
    ));
    started(sup.start_child(lab.worker("b")).await);
    assert_eq!(statuses(&sup).await, rows(&[("a", Stopped), ("b", Running)]));
    assert_eq!(otp_counts(&sup).await, [2, 1, 0, 2]);
}

#[tokio::test(start_paused = true)]
async fn terminate_child_is_ok_even_when_not_running_and_keeps_the_spec() {
    let lab = Lab::new();
    let sup = start(root().child(lab.worker("a"))).await;
    let mut events = sup.subscribe();
    sup.terminate_child("a").await.unwrap();
    let stopped = expect_at(&mut events, "root/a", |k| {
        matches!(k, HealingEventKind::ChildStopped { .. })
    })
    .await;
    assert_eq!(
        stopped,
        HealingEventKind::ChildStopped {
            cause: StopCause::Terminated,
            outcome: StopOutcome::Exited
        }
    );
    sup.terminate_child("a").await.unwrap();
    assert_eq!(statuses(&sup).await, rows(&[("a", Stopped)]));
    assert_eq!(otp_counts(&sup).await, [1, 0, 0, 1]);
    assert_eq!(lab.journal.entries(), ["start a", "stop a"]);
    assert_eq!(
        lab.starts("a"),
        1,
        "a child terminated through the API is not restarted"
    );
}

#[tokio::test(start_paused = true)]
async fn terminate_child_deletes_a_temporary_spec() {
    let lab = Lab::new();
    let sup = start(root().child(lab.worker("t").restart(Restart::Temporary))).await;
    let mut events = sup.subscribe();
    sup.terminate_child("t").await.unwrap();
    expect_at(&mut events, "root/t", |k| *k == HealingEventKind::ChildRemoved).await;
    assert_eq!(otp_counts(&sup).await, [0, 0, 0, 0]);
    assert!(matches!(
        sup.terminate_child("t").await,
        Err(ChildError::NotFound { .. })
    ));
}

#[tokio::test(start_paused = true)]
async fn unknown_ids_are_not_found() {
    let sup = start(root()).await;
    let not_found = |answer: Result<(), ChildError>| {
        assert!(
            matches!(&answer, Err(ChildError::NotFound { child, .. }) if child == "ghost"),
            "{answer:?}"
        );
    };
    not_found(sup.terminate_child("ghost").await);
    not_found(sup.delete_child("ghost").await);
    not_found(sup.restart_child("ghost").await.map(drop));
    not_found(sup.get_childspec("ghost").await.map(drop));
    not_found(sup.child_ref::<support::Cmd>("ghost").await.map(drop));
}

#[tokio::test(start_paused = true)]
async fn restart_child_answers_running_and_starts_a_stopped_child() {
    let lab = Lab::new();
    let sup = start(root().child(lab.worker("a"))).await;
    let mut events = sup.subscribe();
    assert!(matches!(
        sup.restart_child("a").await,
        Err(ChildError::Running { .. })
    ));
    let before = current(&sup, "a").await.get_id();
    sup.terminate_child("a").await.unwrap();
    let after = started(sup.restart_child("a").await);
    assert_ne!(before, after);
    assert_eq!(current(&sup, "a").await.get_id(), after);
    // Started by hand: a start, not a restart.
    expect_at(&mut events, "root/a", |k| *k == HealingEventKind::ChildStarted).await;
    assert_eq!(sup.which_children().await.unwrap()[0].restarts, 0);
    assert_eq!(lab.journal.entries(), ["start a", "stop a", "start a"]);
}

#[tokio::test(start_paused = true)]
async fn restart_child_start_error_keeps_the_spec() {
    let lab = Lab::new();
    let sup = start(root().child(lab.worker("a"))).await;
    sup.terminate_child("a").await.unwrap();
    lab.fail_starts("a", 1);
    assert!(matches!(
        sup.restart_child("a").await,
        Err(ChildError::StartFailed { .. })
    ));
    assert_eq!(statuses(&sup).await, rows(&[("a", Stopped)]));
    started(sup.restart_child("a").await);
}

#[tokio::test(start_paused = true)]
async fn restart_child_does_not_count_toward_intensity() {
    let lab = Lab::new();
    let sup = start(root().intensity(1).child(lab.worker("a"))).await;
    let mut events = sup.subscribe();
    for _ in 0..3 {
        sup.terminate_child("a").await.unwrap();
        started(sup.restart_child("a").await);
    }
    // The one restart intensity 1 allows is still there.
    exit_child(&sup, &mut events, "a", How::Error).await;
    expect_restart(&mut events, "root/a").await;
    assert_eq!(statuses(&sup).await, rows(&[("a", Running)]));
}

#[tokio::test(start_paused = true)]
async fn delete_child_answers_running_and_removes_a_stopped_spec() {
    let lab = Lab::new();
    let sup = start(root().child(lab.worker("a")).child(lab.worker("b"))).await;
    let mut events = sup.subscribe();
    assert!(matches!(
        sup.delete_child("a").await,
        Err(ChildError::Running { .. })
    ));
    sup.terminate_child("a").await.unwrap();
    sup.delete_child("a").await.unwrap();
    expect_at(&mut events, "root/a", |k| *k == HealingEventKind::ChildRemoved).await;
    assert_eq!(statuses(&sup).await, rows(&[("b", Running)]));
    assert!(matches!(
        sup.restart_child("a").await,
        Err(ChildError::NotFound { .. })
    ));
    // A fresh start of the id goes to the end of the order.
    started(sup.start_child(lab.worker("a")).await);
    assert_eq!(statuses(&sup).await, rows(&[("b", Running), ("a", Running)]));
}

#[tokio::test(start_paused = true)]
async fn exits_after_a_delete_reach_the_children_that_moved_up() {
    let lab = Lab::new();
    let sup = start(lab.abc(root().intensity(10))).await;
    let mut events = sup.subscribe();
    sup.terminate_child("a").await.unwrap();
    sup.delete_child("a").await.unwrap();
    // b and c moved up one place; their exits still find them.
    exit_child(&sup, &mut events, "c", How::Error).await;
    expect_restart(&mut events, "root/c").await;
    exit_child(&sup, &mut events, "b", How::Kill).await;
    expect_restart(&mut events, "root/b").await;
    assert_eq!(statuses(&sup).await, rows(&[("b", Running), ("c", Running)]));
    assert_eq!((lab.starts("b"), lab.starts("c")), (2, 2));
}

#[tokio::test(start_paused = true)]
async fn which_children_and_count_children_describe_every_spec() {
    let lab = Lab::new();
    lab.ignore_starts("idle", 1);
    let sup = start(
        root()
            .child(lab.worker("a").restart(Restart::Transient))
            .child(ChildSpec::supervisor(
                SupervisorSpec::new("inner").child(lab.worker("x")),
            ))
            .child(lab.worker("idle")),
    )
    .await;
    let rows: Vec<_> = sup
        .which_children()
        .await
        .unwrap()
        .into_iter()
        .map(|c| (c.id, c.state, c.actor.is_some(), c.kind, c.restart))
        .collect();
    assert_eq!(
        rows,
        [
            (
                "a".to_owned(),
                Running,
                true,
                ChildKind::Worker,
                Restart::Transient
            ),
            (
                "inner".to_owned(),
                Running,
                true,
                ChildKind::Supervisor,
                Restart::Permanent
            ),
            (
                "idle".to_owned(),
                Stopped,
                false,
                ChildKind::Worker,
                Restart::Permanent
            ),
        ]
    );
    assert_eq!(otp_counts(&sup).await, [3, 2, 1, 2]);
    let inner = sup.child_supervisor("inner").await.unwrap();
    assert_eq!(otp_counts(&inner).await, [1, 1, 0, 1]);
}

#[tokio::test(start_paused = true)]
async fn get_childspec_fills_in_the_defaults() {
    let lab = Lab::new();
    let sup = start(
        root()
            .child(lab.worker("plain"))
            .child(lab.worker("brutal").shutdown(Shutdown::BrutalKill))
            .child(ChildSpec::supervisor(SupervisorSpec::new("inner"))),
    )
    .await;
    let plain = sup.get_childspec("plain").await.unwrap();
    assert_eq!(plain.id(), "plain");
    assert_eq!(plain.restart_type(), Restart::Permanent);
    assert_eq!(plain.shutdown_rule(), Shutdown::Timeout(Duration::from_secs(5)));
    assert_eq!(plain.child_kind(), ChildKind::Worker);
    assert!(!plain.is_significant());
    let brutal = sup.get_childspec("brutal").await.unwrap();
    assert_eq!(brutal.shutdown_rule(), Shutdown::BrutalKill);
    let inner = sup.get_childspec("inner").await.unwrap();
    assert_eq!(inner.child_kind(), ChildKind::Supervisor);
    assert_eq!(inner.shutdown_rule(), Shutdown::Infinity);
}

/// What a test expects of a spec error.
type Expected = fn(&SpecError) -> bool;

#[tokio::test(start_paused = true)]
async fn invalid_specs_are_rejected_before_anything_starts() {
    let lab = Lab::new();
    let significant = || lab.worker("s").restart(Restart::Transient).significant(true);
    let cases: Vec<(SupervisorSpec, Expected)> = vec![
        (
            root()
                .child(lab.worker("a"))
                .child(lab.worker("b"))
                .child(lab.worker("a")),
            |e| matches!(e, SpecError::DuplicateChildId { child, .. } if child == "a"),
        ),
        (root().period(Duration::ZERO).child(lab.worker("a")), |e| {
            matches!(e, SpecError::ZeroPeriod { .. })
        }),
        (
            root()
                .auto_shutdown(AutoShutdown::AnySignificant)
                .child(lab.worker("a"))
                .child(lab.worker("s").significant(true)),
            |e| matches!(e, SpecError::SignificantPermanent { child, .. } if child == "s"),
        ),
        (
            root().child(lab.worker("a")).child(significant()),
            |e| matches!(e, SpecError::SignificantWithoutAutoShutdown { child, .. } if child == "s"),
        ),
        (
            // Deep in the tree, after children that would start first.
            root().child(lab.worker("a")).child(ChildSpec::supervisor(
                SupervisorSpec::new("inner")
                    .child(lab.worker("b"))
                    .child(lab.worker("b")),
            )),
            |e| matches!(e, SpecError::DuplicateChildId { supervisor, .. } if supervisor.to_string() == "root/inner"),
        ),
    ];
    for (spec, expected) in cases {
        match Supervisor::start(spec).await {
            Err(SupervisorStartError::InvalidSpec(error)) => assert!(expected(&error), "{error:?}"),
            other => panic!("expected an invalid spec, got {other:?}"),
        }
    }
    assert!(lab.journal.entries().is_empty(), "{:?}", lab.journal.entries());
    assert_eq!((lab.starts("a"), lab.starts("b"), lab.starts("s")), (0, 0, 0));
}

#[tokio::test(start_paused = true)]
async fn calls_to_a_supervisor_that_has_exited_fail() {
    let lab = Lab::new();
    let sup = start(root().child(lab.worker("a"))).await;
    assert_eq!(sup.stop(WAIT).await, ExitReason::Normal);
    assert!(sup.which_children().await.is_err());
    assert!(sup.count_children().await.is_err());
    assert!(matches!(
        sup.start_child(lab.worker("b")).await,
        Err(ChildError::Supervisor(_))
    ));
    assert!(matches!(
        sup.terminate_child("a").await,
        Err(ChildError::Supervisor(_))
    ));
}
