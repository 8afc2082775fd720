//! Restart types × exit reasons (OTP's `permanent_*`, `transient_*`,
//! `temporary_*` and `do_not_save_child_specs_for_temporary_children`
//! cases): which exits are normal, which children come back, and which specs
//! are kept.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::sync::{Arc, Mutex};

use hale_core::{
    ChildError, ChildSpec, ChildState, EventBus, HealingEventKind, Restart, StartOutcome, SupervisorRef,
    SupervisorSpec,
};
use ractor::{Actor, ActorRef};
use support::{
    Cmd, How, Lab, WAIT, exit_child, expect_at, expect_restart, otp_counts, rows, start, statuses,
};

/// A supervisor with enough intensity for every exit of one test.
async fn roomy_supervisor() -> SupervisorRef {
    start(SupervisorSpec::new("root").intensity(20)).await
}

#[tokio::test(start_paused = true)]
async fn permanent_child_is_restarted_after_every_kind_of_exit() {
    let lab = Lab::new();
    let sup = roomy_supervisor().await;
    sup.start_child(lab.worker("a")).await.unwrap();
    let mut events = sup.subscribe();
    for how in How::ALL {
        let (reason, will_restart) = exit_child(&sup, &mut events, "a", how).await;
        assert!(how.reported_as(&reason), "{how:?} reported as {reason:?}");
        assert_eq!(reason.is_normal(), how.is_normal(), "{how:?}");
        assert!(will_restart, "{how:?}");
        expect_restart(&mut events, "root/a").await;
        assert_eq!(
            statuses(&sup).await,
            rows(&[("a", ChildState::Running)]),
            "{how:?}"
        );
        assert_eq!(otp_counts(&sup).await, [1, 1, 0, 1]);
    }
    assert_eq!(lab.starts("a"), 1 + How::ALL.len() as u32);
}

#[tokio::test(start_paused = true)]
async fn transient_child_is_not_restarted_after_normal_or_shutdown_exits() {
    let lab = Lab::new();
    let sup = roomy_supervisor().await;
    sup.start_child(lab.worker("a").restart(Restart::Transient))
        .await
        .unwrap();
    let mut events = sup.subscribe();
    for how in [How::Normal, How::Shutdown, How::ShutdownDetail] {
        let (reason, will_restart) = exit_child(&sup, &mut events, "a", how).await;
        assert!(how.reported_as(&reason), "{how:?} reported as {reason:?}");
        assert!(!will_restart, "{how:?}");
        // Its spec stays, with no child running.
        assert_eq!(
            statuses(&sup).await,
            rows(&[("a", ChildState::Stopped)]),
            "{how:?}"
        );
        assert_eq!(otp_counts(&sup).await, [1, 0, 0, 1]);
        sup.restart_child("a").await.unwrap();
    }
    assert_eq!(lab.starts("a"), 4, "started only at boot and through the API");
}

#[tokio::test(start_paused = true)]
async fn transient_child_is_restarted_after_abnormal_exits() {
    let lab = Lab::new();
    let sup = roomy_supervisor().await;
    sup.start_child(lab.worker("a").restart(Restart::Transient))
        .await
        .unwrap();
    let mut events = sup.subscribe();
    for how in [How::Error, How::Panic, How::Kill, How::Other] {
        let (reason, will_restart) = exit_child(&sup, &mut events, "a", how).await;
        assert!(how.reported_as(&reason), "{how:?} reported as {reason:?}");
        assert!(!reason.is_normal(), "{how:?}");
        assert!(will_restart, "{how:?}");
        expect_restart(&mut events, "root/a").await;
        assert_eq!(otp_counts(&sup).await, [1, 1, 0, 1]);
    }
}

#[tokio::test(start_paused = true)]
async fn temporary_child_is_never_restarted_and_its_spec_is_removed_on_any_exit() {
    let lab = Lab::new();
    let sup = roomy_supervisor().await;
    let mut events = sup.subscribe();
    let temporary = lab.worker("a").restart(Restart::Temporary);
    for how in How::ALL {
        // Started again with the same spec: no `already_present`, since the
        // spec was not kept.
        sup.start_child(temporary.clone())
            .await
            .unwrap_or_else(|e| panic!("{how:?}: {e}"));
        let (reason, will_restart) = exit_child(&sup, &mut events, "a", how).await;
        assert!(how.reported_as(&reason), "{how:?} reported as {reason:?}");
        assert!(!will_restart, "{how:?}");
        expect_at(&mut events, "root/a", |k| *k == HealingEventKind::ChildRemoved).await;
        assert_eq!(statuses(&sup).await, rows(&[]), "{how:?}");
        assert_eq!(otp_counts(&sup).await, [0, 0, 0, 0]);
        assert!(matches!(
            sup.restart_child("a").await,
            Err(ChildError::NotFound { .. })
        ));
    }
    assert_eq!(lab.starts("a"), How::ALL.len() as u32);
}

/// A spec whose start also spawns a helper linked to the supervisor but not
/// its child; the helper's handle is put in `helper`.
fn with_linked_helper(lab: &Lab, id: &str, helper: Arc<Mutex<Option<ActorRef<Cmd>>>>) -> ChildSpec {
    let (child, extra) = (lab.actor(id), lab.actor("helper"));
    ChildSpec::new(id, move |ctx| {
        let (child, extra, helper) = (child.clone(), extra.clone(), Arc::clone(&helper));
        async move {
            let (extra, _) = Actor::spawn_linked(None, extra, (), ctx.supervisor().clone()).await?;
            *helper.lock().unwrap() = Some(extra);
            let (actor, _) = Actor::spawn_linked(None, child, (), ctx.supervisor().clone()).await?;
            Ok(StartOutcome::Started(actor.get_cell()))
        }
    })
}

#[tokio::test(start_paused = true)]
async fn exit_of_a_linked_actor_that_is_not_a_child_is_ignored() {
    let lab = Lab::new();
    let helper = Arc::new(Mutex::new(None));
    // Intensity 0: a restart would end the supervisor.
    let sup = start(SupervisorSpec::new("root").intensity(0).child(with_linked_helper(
        &lab,
        "a",
        Arc::clone(&helper),
    )))
    .await;
    let mut events = sup.subscribe();
    let helper = helper.lock().unwrap().take().expect("helper started");
    helper.send_message(Cmd::Fail).unwrap();
    helper.get_cell().wait(Some(WAIT)).await.unwrap();
    // Exits are handled before calls: once this is answered, the helper's
    // exit has been seen (and ignored).
    assert_eq!(otp_counts(&sup).await, [1, 1, 0, 1]);
    assert!(events.try_recv().is_err(), "no event for a non-child");
    assert_eq!(lab.journal.entries(), ["start helper", "start a"]);
}

#[tokio::test(start_paused = true)]
async fn child_started_without_a_link_is_still_supervised() {
    let lab = Lab::new();
    let worker = lab.actor("a");
    // The start function forgets `spawn_linked`.
    let forgetful = ChildSpec::new("a", move |_ctx| {
        let worker = worker.clone();
        async move {
            let (actor, _) = Actor::spawn(None, worker, ()).await?;
            Ok(StartOutcome::Started(actor.get_cell()))
        }
    });
    let sup = start(SupervisorSpec::new("root").child(forgetful)).await;
    let mut events = sup.subscribe();
    let (_, will_restart) = exit_child(&sup, &mut events, "a", How::Error).await;
    assert!(will_restart);
    expect_restart(&mut events, "root/a").await;
    assert_eq!(lab.journal.entries(), ["start a", "start a"]);
}

#[tokio::test(start_paused = true)]
async fn child_that_died_before_its_supervisor_linked_it_is_restarted() {
    let lab = Lab::new();
    let worker = lab.actor("a");
    let first = Arc::new(std::sync::atomic::AtomicBool::new(true));
    // The start function forgets `spawn_linked`, and the first time its
    // actor is already dead when the supervisor gets it.
    let forgetful = ChildSpec::new("a", move |_ctx| {
        let (worker, first) = (worker.clone(), Arc::clone(&first));
        async move {
            let (actor, _) = Actor::spawn(None, worker, ()).await?;
            if first.swap(false, std::sync::atomic::Ordering::SeqCst) {
                actor.stop(None);
                actor.get_cell().wait(Some(WAIT)).await.expect("stopped in time");
            }
            Ok(StartOutcome::Started(actor.get_cell()))
        }
    });
    // Subscribed before the start: the exit is reported while it boots.
    let bus = EventBus::new();
    let mut events = bus.subscribe();
    let sup = start(SupervisorSpec::new("root").events(&bus).child(forgetful)).await;
    let exited = expect_at(&mut events, "root/a", |kind| {
        matches!(kind, HealingEventKind::ChildExited { .. })
    })
    .await;
    let HealingEventKind::ChildExited { reason, will_restart } = exited else {
        unreachable!("matched above");
    };
    assert!(will_restart);
    assert!(!reason.is_normal(), "its true reason is lost: {reason:?}");
    expect_restart(&mut events, "root/a").await;
    assert_eq!(statuses(&sup).await, rows(&[("a", ChildState::Running)]));
    assert_eq!(lab.journal.entries(), ["start a", "stop a", "start a"]);
}
