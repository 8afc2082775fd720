//! Stable child references across restarts, failed restarts and removal.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use hale_core::{ChildError, ChildRef, ChildRefError, ExitReason, Restart, SupervisorRef, SupervisorSpec};
use support::{Cmd, How, Lab, WAIT, exit_child, expect_at, expect_restart, fail_into_restarting, start};

/// A ping through the reference, answered by whichever incarnation got it.
async fn ping_through(child: &ChildRef<Cmd>) -> String {
    let (reply, answer) = ractor::concurrency::oneshot();
    child
        .send_within(Cmd::Ping(reply.into()), WAIT)
        .await
        .unwrap_or_else(|e| panic!("ping not sent: {e}"));
    tokio::time::timeout(WAIT, answer)
        .await
        .expect("answered in time")
        .expect("answered")
}

#[tokio::test(start_paused = true)]
async fn child_ref_keeps_reaching_the_child_across_restarts() {
    let lab = Lab::new();
    let sup = start(SupervisorSpec::new("root").intensity(5).child(lab.worker("a"))).await;
    let mut events = sup.subscribe();
    let child = sup.child_ref::<Cmd>("a").await.unwrap();
    assert_eq!(child.path().to_string(), "root/a");
    let mut seen = vec![child.current().unwrap().get_id()];
    for _ in 0..3 {
        // Sent through the reference, so it reaches the current incarnation.
        child.send(Cmd::Fail).unwrap();
        expect_restart(&mut events, "root/a").await;
        let now = child.current().expect("runs again").get_id();
        assert!(!seen.contains(&now));
        seen.push(now);
    }
    assert_eq!(ping_through(&child).await, "a");
    assert_eq!(lab.starts("a"), 4);
}

/// A supervisor whose child `a` has just failed and whose restart has failed
/// once; `failing` starts fail in all, each taking 100 ms.
async fn restarting(lab: &Lab, failing: u32) -> (SupervisorRef, ChildRef<Cmd>) {
    let sup = start(SupervisorSpec::new("root").intensity(10).child(lab.worker("a"))).await;
    let mut events = sup.subscribe();
    let child = sup.child_ref::<Cmd>("a").await.unwrap();
    fail_into_restarting(lab, &sup, &mut events, "a", failing).await;
    (sup, child)
}

#[tokio::test(start_paused = true)]
async fn send_while_restarting_returns_restarting_and_hands_the_message_back() {
    let lab = Lab::new();
    let (_sup, child) = restarting(&lab, 2).await;
    assert!(child.current().is_none());
    match child.send(Cmd::Stop(Some("marker".into()))) {
        Err(error @ ChildRefError::Restarting { .. }) => {
            assert!(matches!(
                error.into_message(),
                Some(Cmd::Stop(Some(text))) if text == "marker"
            ));
        }
        other => panic!("expected restarting, got {other:?}"),
    }
}

#[tokio::test(start_paused = true)]
async fn send_within_waits_for_the_new_incarnation() {
    let lab = Lab::new();
    let (_sup, child) = restarting(&lab, 3).await;
    assert_eq!(ping_through(&child).await, "a");
    assert_eq!(
        lab.starts("a"),
        5,
        "answered by the incarnation after three failed starts"
    );
}

#[tokio::test(start_paused = true)]
async fn send_within_waits_past_an_incarnation_that_died_before_its_supervisor_noticed() {
    let lab = Lab::new();
    let sup = start(SupervisorSpec::new("root").child(lab.worker("a"))).await;
    let mut events = sup.subscribe();
    let child = sup.child_ref::<Cmd>("a").await.unwrap();
    let old = child.current().unwrap();
    // Keep the supervisor busy with a slow start...
    lab.announce_starts("slow");
    lab.slow_starts("slow", 1_000);
    let busy = {
        let (sup, spec) = (sup.clone(), lab.worker("slow"));
        tokio::spawn(async move { sup.start_child(spec).await.map(drop) })
    };
    assert_eq!(lab.journal.wait_len(2).await, ["start a", "try slow"]);
    // ...while `a` dies: its exit waits in the supervisor's queue, so the
    // reference still names the dead incarnation.
    old.send_message(Cmd::Fail).unwrap();
    old.get_cell().wait(Some(WAIT)).await.unwrap();
    assert_eq!(ping_through(&child).await, "a");
    assert_ne!(child.current().unwrap().get_id(), old.get_id());
    busy.await.unwrap().unwrap();
    expect_restart(&mut events, "root/a").await;
}

#[tokio::test(start_paused = true)]
async fn child_that_is_stopped_is_not_running_and_send_within_times_out() {
    let lab = Lab::new();
    let sup = start(SupervisorSpec::new("root").child(lab.worker("a"))).await;
    let child = sup.child_ref::<Cmd>("a").await.unwrap();
    sup.terminate_child("a").await.unwrap();
    assert!(matches!(
        child.send(Cmd::Fail),
        Err(ChildRefError::NotRunning { .. })
    ));
    let waited = std::time::Duration::from_secs(1);
    match child.send_within(Cmd::Fail, waited).await {
        Err(ChildRefError::TimedOut {
            waited: w, message, ..
        }) => {
            assert_eq!(w, waited);
            assert!(matches!(message, Cmd::Fail));
        }
        other => panic!("expected a time-out, got {other:?}"),
    }
    // Started again by hand: the same reference reaches it.
    sup.restart_child("a").await.unwrap();
    assert_eq!(ping_through(&child).await, "a");
}

#[tokio::test(start_paused = true)]
async fn after_delete_the_ref_says_removed_at_once() {
    let lab = Lab::new();
    let sup = start(SupervisorSpec::new("root").child(lab.worker("a"))).await;
    let child = sup.child_ref::<Cmd>("a").await.unwrap();
    sup.terminate_child("a").await.unwrap();
    sup.delete_child("a").await.unwrap();
    assert!(matches!(
        child.send(Cmd::Fail),
        Err(ChildRefError::Removed { .. })
    ));
    // Not a time-out: removal is final.
    assert!(matches!(
        child.send_within(Cmd::Fail, WAIT).await,
        Err(ChildRefError::Removed { .. })
    ));
    // A new child with the same id is another child.
    sup.start_child(lab.worker("a")).await.unwrap();
    assert!(matches!(
        child.send(Cmd::Fail),
        Err(ChildRefError::Removed { .. })
    ));
}

#[tokio::test(start_paused = true)]
async fn ref_to_a_temporary_child_is_removed_when_it_exits() {
    let lab = Lab::new();
    let sup = start(SupervisorSpec::new("root").child(lab.worker("t").restart(Restart::Temporary))).await;
    let mut events = sup.subscribe();
    let child = sup.child_ref::<Cmd>("t").await.unwrap();
    exit_child(&sup, &mut events, "t", How::Normal).await;
    expect_at(&mut events, "root/t", |k| {
        *k == hale_core::HealingEventKind::ChildRemoved
    })
    .await;
    assert!(matches!(
        child.send(Cmd::Fail),
        Err(ChildRefError::Removed { .. })
    ));
}

#[tokio::test(start_paused = true)]
async fn ref_is_removed_once_its_supervisor_is_gone() {
    let lab = Lab::new();
    let sup = start(SupervisorSpec::new("root").intensity(0).child(lab.worker("a"))).await;
    let child = sup.child_ref::<Cmd>("a").await.unwrap();
    child.send(Cmd::Fail).unwrap();
    assert_eq!(sup.wait().await, ExitReason::Shutdown(None));
    assert!(matches!(
        child.send_within(Cmd::Fail, WAIT).await,
        Err(ChildRefError::Removed { .. })
    ));
}

#[tokio::test(start_paused = true)]
async fn ref_of_the_wrong_message_type_is_refused() {
    let lab = Lab::new();
    let sup = start(SupervisorSpec::new("root").child(lab.worker("a"))).await;
    assert!(matches!(
        sup.child_ref::<String>("a").await,
        Err(ChildError::WrongMessageType { .. })
    ));
}

/// Records the order in which messages arrive.
#[derive(Clone)]
struct Recorder(std::sync::Arc<std::sync::Mutex<Vec<u32>>>);

impl ractor::Actor for Recorder {
    type Msg = u32;
    type State = ();
    type Arguments = ();

    async fn pre_start(&self, _: ractor::ActorRef<u32>, _: ()) -> Result<(), ractor::ActorProcessingErr> {
        Ok(())
    }

    async fn handle(
        &self,
        _: ractor::ActorRef<u32>,
        message: u32,
        _: &mut (),
    ) -> Result<(), ractor::ActorProcessingErr> {
        self.0.lock().unwrap().push(message);
        Ok(())
    }
}

/// Twenty callers wait on one restarting child; returns the order their
/// messages reached the new incarnation.
async fn arrival_order() -> Vec<u32> {
    use std::time::Duration;

    let log = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let backoff = hale_core::RestartBackoff::new(Duration::from_secs(1), Duration::from_secs(1)).seed(1);
    let sup = hale_core::Supervisor::start(
        hale_core::SupervisorSpec::new("root")
            .intensity(5)
            .child(hale_core::ChildSpec::actor("recorder", Recorder(log.clone()), ()).backoff(backoff)),
    )
    .await
    .unwrap();
    let mut events = sup.subscribe();
    let child = sup.child_ref::<u32>("recorder").await.unwrap();
    child.current().unwrap().kill();
    support::expect_event(&mut events, "backoff", |e| {
        matches!(e.kind, hale_core::HealingEventKind::BackoffScheduled { .. })
    })
    .await;
    let senders: Vec<_> = (0..20)
        .map(|n| {
            let child = child.clone();
            tokio::spawn(async move { child.send_within(n, Duration::from_secs(10)).await.is_ok() })
        })
        .collect();
    for sender in senders {
        assert!(
            tokio::time::timeout(support::WAIT, sender)
                .await
                .unwrap()
                .unwrap()
        );
    }
    support::expect_event(&mut events, "restart", |e| {
        matches!(e.kind, hale_core::HealingEventKind::ChildRestarted { .. })
    })
    .await;
    // Let the new incarnation handle what it was sent.
    tokio::time::sleep(Duration::from_millis(10)).await;
    let order = log.lock().unwrap().clone();
    sup.stop(support::WAIT).await;
    order
}

/// A chaos run on a paused clock must replay exactly: the callers waiting on
/// a child are woken in a fixed order, not a random one.
#[tokio::test(start_paused = true)]
async fn callers_waiting_on_a_restarting_child_are_served_in_the_same_order_every_run() {
    let first = arrival_order().await;
    assert_eq!(first.len(), 20);
    for _ in 0..5 {
        assert_eq!(arrival_order().await, first);
    }
}
