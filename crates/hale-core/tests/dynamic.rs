//! Dynamic supervisors: run-time children, max_children, unique children,
//! one_for_one restarts, intensity, parallel shutdown.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::sync::Arc;

use hale_core::{
    ChildError, ChildSpec, ChildTemplate, DynamicChildId, DynamicStart, DynamicSupervisor,
    DynamicSupervisorSpec, ExitReason, HealingEventKind, Restart, StopOutcome, Supervisor, SupervisorSpec,
    TemplateSupervisor,
};
use ractor::{Actor, ActorProcessingErr, ActorRef};
use support::{Cmd, Lab, WAIT, expect_event};
use tokio::sync::Barrier;

fn started(start: DynamicStart) -> DynamicChildId {
    match start {
        DynamicStart::Started(child) => child.id,
        other => panic!("expected a started child, got {other:?}"),
    }
}

async fn send(sup: &hale_core::DynamicSupervisorRef, child: DynamicChildId, cmd: Cmd) {
    let child = sup.child_ref::<Cmd>(child).await.expect("child exists");
    child.send(cmd).unwrap_or_else(|e| panic!("send: {e}"));
}

#[tokio::test(start_paused = true)]
async fn children_start_from_a_template_in_handle_order() {
    let lab = Lab::new();
    let sup = DynamicSupervisor::start(DynamicSupervisorSpec::new("pool"))
        .await
        .unwrap();
    let template = {
        let lab = lab.clone();
        ChildTemplate::new(move |name: &'static str| lab.worker(name))
    };
    let pool = TemplateSupervisor::new(sup.clone(), template);
    let first = started(pool.start("a").await.unwrap());
    let second = started(pool.start("b").await.unwrap());
    assert!(first < second);
    let rows = sup.which_children().await.unwrap();
    let ids: Vec<_> = rows
        .iter()
        .map(|row| (row.dynamic_id.expect("a dynamic child"), row.id.as_str()))
        .collect();
    assert_eq!(ids, [(first, "a"), (second, "b")]);
    let counts = sup.count_children().await.unwrap();
    assert_eq!((counts.specs, counts.active, counts.workers), (2, 2, 2));
    assert_eq!(lab.journal.entries(), ["start a", "start b"]);
}

#[tokio::test(start_paused = true)]
async fn starting_beyond_max_children_is_refused() {
    let lab = Lab::new();
    let sup = DynamicSupervisor::start(DynamicSupervisorSpec::new("pool").max_children(2))
        .await
        .unwrap();
    sup.start_child(lab.worker("a")).await.unwrap();
    sup.start_child(lab.worker("b")).await.unwrap();
    let refused = sup.start_child(lab.worker("c")).await;
    assert!(
        matches!(refused, Err(ChildError::MaxChildren { max: 2, .. })),
        "{refused:?}"
    );
    assert_eq!(lab.journal.entries(), ["start a", "start b"]);
}

#[tokio::test(start_paused = true)]
async fn a_unique_key_that_runs_returns_the_running_child_instead_of_a_duplicate() {
    let lab = Lab::new();
    let sup = DynamicSupervisor::start(DynamicSupervisorSpec::new("syncs"))
        .await
        .unwrap();
    let mut events = sup.subscribe();
    let first = started(sup.start_unique("user-1", lab.worker("sync")).await.unwrap());
    for _ in 0..3 {
        match sup.start_unique("user-1", lab.worker("sync")).await.unwrap() {
            DynamicStart::AlreadyRunning(child) => assert_eq!(child.id, first),
            other => panic!("duplicate started: {other:?}"),
        }
    }
    let refused = expect_event(
        &mut events,
        "duplicate refused",
        |e| matches!(&e.kind, HealingEventKind::DuplicateRefused { key } if key == "user-1"),
    )
    .await;
    assert_eq!(refused.path.to_string(), "syncs/sync#0");
    assert_eq!(lab.journal.entries(), ["start sync"]);

    // Once the child is gone, the key is free again.
    sup.terminate_child(first).await.unwrap();
    let again = started(sup.start_unique("user-1", lab.worker("sync")).await.unwrap());
    assert_ne!(again, first);
}

#[tokio::test(start_paused = true)]
async fn crashed_permanent_child_is_restarted_in_place_and_its_ref_follows() {
    let lab = Lab::new();
    let sup = DynamicSupervisor::start(DynamicSupervisorSpec::new("pool"))
        .await
        .unwrap();
    let mut events = sup.subscribe();
    let child = started(sup.start_child(lab.worker("a")).await.unwrap());
    let reference = sup.child_ref::<Cmd>(child).await.unwrap();
    let before = reference.current().unwrap().get_id();
    send(&sup, child, Cmd::Fail).await;
    expect_event(&mut events, "restart", |e| {
        matches!(e.kind, HealingEventKind::ChildRestarted { restarts: 1 })
    })
    .await;
    let after = reference.current().expect("a new incarnation runs").get_id();
    assert_ne!(before, after);
    let rows = sup.which_children().await.unwrap();
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].dynamic_id, Some(child));
}

#[tokio::test(start_paused = true)]
async fn children_that_are_not_restarted_are_removed() {
    let lab = Lab::new();
    let sup = DynamicSupervisor::start(DynamicSupervisorSpec::new("pool"))
        .await
        .unwrap();
    let mut events = sup.subscribe();
    let temporary = started(
        sup.start_child(lab.worker("t").restart(Restart::Temporary))
            .await
            .unwrap(),
    );
    let transient = started(
        sup.start_child(lab.worker("u").restart(Restart::Transient))
            .await
            .unwrap(),
    );
    send(&sup, temporary, Cmd::Fail).await;
    send(&sup, transient, Cmd::Stop(None)).await;
    for path in ["pool/t#0", "pool/u#1"] {
        expect_event(&mut events, path, |e| {
            e.path.to_string() == path && e.kind == HealingEventKind::ChildRemoved
        })
        .await;
    }
    assert!(sup.which_children().await.unwrap().is_empty());
}

#[tokio::test(start_paused = true)]
async fn a_start_that_answers_ignore_keeps_nothing() {
    let lab = Lab::new();
    lab.knobs("a")
        .ignoring_starts
        .store(1, std::sync::atomic::Ordering::SeqCst);
    let sup = DynamicSupervisor::start(DynamicSupervisorSpec::new("pool"))
        .await
        .unwrap();
    assert!(matches!(
        sup.start_child(lab.worker("a")).await.unwrap(),
        DynamicStart::Ignored
    ));
    assert_eq!(sup.count_children().await.unwrap().specs, 0);
}

#[tokio::test(start_paused = true)]
async fn a_failed_restart_is_retried_through_the_mailbox() {
    let lab = Lab::new();
    let sup = DynamicSupervisor::start(DynamicSupervisorSpec::new("pool").intensity(5))
        .await
        .unwrap();
    let mut events = sup.subscribe();
    let child = started(sup.start_child(lab.worker("a")).await.unwrap());
    lab.knobs("a")
        .failing_starts
        .store(2, std::sync::atomic::Ordering::SeqCst);
    send(&sup, child, Cmd::Fail).await;
    let restarted = expect_event(&mut events, "restart after retries", |e| {
        matches!(e.kind, HealingEventKind::ChildRestarted { .. })
    })
    .await;
    assert_eq!(restarted.path.to_string(), "pool/a#0");
    assert_eq!(
        lab.journal.entries(),
        ["start a", "failed a", "failed a", "start a"]
    );
}

#[tokio::test(start_paused = true)]
async fn too_many_restarts_shut_the_dynamic_supervisor_down() {
    let lab = Lab::new();
    let sup = DynamicSupervisor::start(DynamicSupervisorSpec::new("pool").intensity(1))
        .await
        .unwrap();
    let mut events = sup.subscribe();
    let child = started(sup.start_child(lab.worker("a")).await.unwrap());
    sup.start_child(lab.worker("b")).await.unwrap();
    send(&sup, child, Cmd::Fail).await;
    expect_event(&mut events, "first restart", |e| {
        matches!(e.kind, HealingEventKind::ChildRestarted { .. })
    })
    .await;
    send(&sup, child, Cmd::Fail).await;
    expect_event(&mut events, "give-up", |e| {
        matches!(e.kind, HealingEventKind::IntensityExceeded { intensity: 1, .. })
    })
    .await;
    assert_eq!(
        tokio::time::timeout(WAIT, sup.wait()).await.unwrap(),
        ExitReason::Shutdown(None)
    );
    assert!(lab.journal.entries().contains(&"stop b".to_owned()));
}

/// A worker whose `post_stop` returns only once every sibling is stopping
/// too: if the supervisor stopped children one at a time, the first would
/// wait out its shutdown timeout and be killed.
#[derive(Clone)]
struct Rendezvous(Arc<Barrier>);

impl Actor for Rendezvous {
    type Msg = ();
    type State = ();
    type Arguments = ();

    async fn pre_start(&self, _: ActorRef<()>, _: ()) -> Result<(), ActorProcessingErr> {
        Ok(())
    }

    async fn post_stop(&self, _: ActorRef<()>, _: &mut ()) -> Result<(), ActorProcessingErr> {
        self.0.wait().await;
        Ok(())
    }
}

#[tokio::test(start_paused = true)]
async fn children_are_shut_down_in_parallel() {
    const CHILDREN: usize = 8;
    let barrier = Arc::new(Barrier::new(CHILDREN));
    let sup = DynamicSupervisor::start(DynamicSupervisorSpec::new("pool"))
        .await
        .unwrap();
    let mut events = sup.subscribe();
    for _ in 0..CHILDREN {
        sup.start_child(ChildSpec::actor("r", Rendezvous(Arc::clone(&barrier)), ()))
            .await
            .unwrap();
    }
    assert_eq!(sup.stop(WAIT).await, ExitReason::Normal);
    let mut outcomes = Vec::new();
    while let Ok(event) = events.try_recv() {
        if let HealingEventKind::ChildStopped { outcome, .. } = event.kind {
            outcomes.push(outcome);
        }
    }
    assert_eq!(outcomes, vec![StopOutcome::Exited; CHILDREN]);
}

#[tokio::test(start_paused = true)]
async fn a_nested_dynamic_supervisor_is_reachable_from_its_parent() {
    let lab = Lab::new();
    let root = Supervisor::start(
        SupervisorSpec::new("root")
            .child(lab.worker("monitor"))
            .child(ChildSpec::dynamic_supervisor(DynamicSupervisorSpec::new("syncs"))),
    )
    .await
    .unwrap();
    let syncs = root.child_dynamic_supervisor("syncs").await.unwrap();
    assert_eq!(syncs.path().to_string(), "root/syncs");
    started(syncs.start_child(lab.worker("sync")).await.unwrap());
    assert_eq!(root.stop(WAIT).await, ExitReason::Normal);
    assert_eq!(
        lab.journal.entries(),
        ["start monitor", "start sync", "stop sync", "stop monitor"]
    );
}

/// Compile-time check: the futures of a child reference can cross threads
/// (resilience policies and spawned tasks require it).
#[allow(dead_code)]
fn child_ref_futures_are_send(child: &hale_core::ChildRef<Cmd>) {
    fn is_send<T: Send>(_: &T) {}
    is_send(&child.send_within(Cmd::Fail, WAIT));
}

/// A task that fails every time it runs.
fn poison(id: &str) -> ChildSpec {
    ChildSpec::task(id, |_| async { Err("poison".into()) }).restart(Restart::Transient)
}

#[tokio::test(start_paused = true)]
async fn poison_children_use_up_their_own_limits_and_never_their_siblings_window() {
    let lab = Lab::new();
    // The shared window allows 3 restarts in 5 s (Elixir's default).
    let sup = DynamicSupervisor::start(DynamicSupervisorSpec::new("requests"))
        .await
        .unwrap();
    let mut events = sup.subscribe();
    let healthy = started(sup.start_child(lab.worker("healthy")).await.unwrap());
    for n in 0..10 {
        let spec = poison(&format!("poison-{n}")).restart_limit(2, std::time::Duration::from_secs(60));
        sup.start_child(spec).await.unwrap();
    }
    for _ in 0..10 {
        expect_event(&mut events, "a poison child given up", |e| {
            matches!(
                e.kind,
                HealingEventKind::RestartLimitReached {
                    max_restarts: 2,
                    within_ms: 60_000
                }
            )
        })
        .await;
    }
    // 30 crashes, and the supervisor is still up with its healthy child.
    let rows = sup.which_children().await.unwrap();
    assert_eq!(rows.len(), 1, "given-up dynamic children are removed");
    assert_eq!(rows[0].dynamic_id, Some(healthy));
    let health = sup.health().await.unwrap();
    assert_eq!(health.intensity.map(|w| w.used), Some(0));
    // Their restarts stay in the supervisor's statistics: 10 × 2.
    assert_eq!(health.restarts_of_removed, 20);
    assert!(health.is_healthy(), "{:?}", health.concerns());
    sup.stop(WAIT).await;
}

#[tokio::test(start_paused = true)]
async fn a_static_child_past_its_own_limit_keeps_its_spec_stopped() {
    let sup = Supervisor::start(
        SupervisorSpec::new("root")
            .strategy(hale_core::Strategy::OneForAll)
            .child(
                poison("flaky")
                    .restart(Restart::Permanent)
                    .restart_limit(1, std::time::Duration::from_secs(5)),
            ),
    )
    .await;
    // It fails at once, restarts once, fails again, and is given up.
    let sup = sup.unwrap();
    let mut events = sup.subscribe();
    expect_event(&mut events, "given up", |e| {
        matches!(e.kind, HealingEventKind::RestartLimitReached { .. })
    })
    .await;
    let row = &sup.which_children().await.unwrap()[0];
    assert_eq!((row.state, row.restarts), (hale_core::ChildState::Stopped, 1));
    assert!(sup.restart_child("flaky").await.is_ok(), "the spec is kept");
    sup.stop(WAIT).await;
}
