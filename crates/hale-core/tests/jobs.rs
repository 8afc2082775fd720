//! Jobs: agents that answer whoever started them, and whoever joined them.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use hale_core::{
    ChildError, DynamicSupervisor, DynamicSupervisorRef, DynamicSupervisorSpec, HealingEventKind, JobError,
    JobTemplate,
};
use support::{WAIT, expect_event};
use tokio::sync::Notify;

async fn agents(spec: DynamicSupervisorSpec) -> DynamicSupervisorRef {
    DynamicSupervisor::start(spec).await.unwrap()
}

/// A job that counts its runs, waits for `go`, then answers its input
/// doubled, failing its first `failures` runs.
fn doubler(runs: Arc<AtomicU32>, go: Arc<Notify>, failures: u32) -> JobTemplate<u32, u32> {
    JobTemplate::new("double", move |n: u32, _ctx| {
        let (runs, go) = (Arc::clone(&runs), Arc::clone(&go));
        async move {
            let run = runs.fetch_add(1, Ordering::SeqCst);
            if run < failures {
                return Err(format!("run {run} crashed").into());
            }
            go.notified().await;
            Ok(n * 2)
        }
    })
}

#[tokio::test(start_paused = true)]
async fn callers_of_a_running_key_join_it_and_the_job_runs_once() {
    let sup = agents(DynamicSupervisorSpec::new("agents")).await;
    let (runs, go) = (Arc::new(AtomicU32::new(0)), Arc::new(Notify::new()));
    let template = doubler(Arc::clone(&runs), Arc::clone(&go), 0);
    let first = sup.start_job(&template, "task-1", 21).await.unwrap();
    let mut joined = Vec::new();
    for _ in 0..5 {
        let handle = sup.start_job(&template, "task-1", 999).await.unwrap();
        assert!(handle.joined());
        joined.push(handle);
    }
    assert!(!first.joined());
    tokio::task::yield_now().await;
    go.notify_waiters();
    assert_eq!(first.answer().await, Ok(42));
    for handle in joined {
        assert_eq!(handle.answer().await, Ok(42), "the joined input is not used");
    }
    assert_eq!(runs.load(Ordering::SeqCst), 1);
    // The key is free again: a new start runs anew.
    let again = sup.start_job(&template, "task-1", 5).await.unwrap();
    assert!(!again.joined());
    tokio::task::yield_now().await;
    go.notify_waiters();
    assert_eq!(again.answer().await, Ok(10));
    sup.stop(WAIT).await;
}

#[tokio::test(start_paused = true)]
async fn callers_keep_waiting_through_crashes_and_restarts() {
    let sup = agents(DynamicSupervisorSpec::new("agents")).await;
    let mut events = sup.subscribe();
    let (runs, go) = (Arc::new(AtomicU32::new(0)), Arc::new(Notify::new()));
    let template = doubler(Arc::clone(&runs), Arc::clone(&go), 2);
    let first = sup.start_job(&template, "flaky", 4).await.unwrap();
    let second = sup.start_job(&template, "flaky", 4).await.unwrap();
    for _ in 0..2 {
        expect_event(&mut events, "a restart", |e| {
            matches!(e.kind, HealingEventKind::ChildRestarted { .. })
        })
        .await;
    }
    tokio::task::yield_now().await;
    go.notify_waiters();
    assert_eq!(first.answer().await, Ok(8));
    assert_eq!(second.answer().await, Ok(8));
    assert_eq!(runs.load(Ordering::SeqCst), 3);
    sup.stop(WAIT).await;
}

#[tokio::test(start_paused = true)]
async fn a_poison_job_is_given_up_dead_lettered_with_its_input_and_spares_its_siblings() {
    let sup = agents(DynamicSupervisorSpec::new("agents")).await;
    let (letters, mut dead) = tokio::sync::mpsc::unbounded_channel();
    let poison = JobTemplate::new("parse", |input: String, _ctx| async move {
        Err::<u32, _>(format!("cannot parse {input:?}").into())
    })
    .restart_limit(2, Duration::from_secs(60))
    .dead_letters(move |letter| {
        let _ = letters.send(letter);
    });
    let (runs, go) = (Arc::new(AtomicU32::new(0)), Arc::new(Notify::new()));
    let healthy = doubler(runs, Arc::clone(&go), 0);
    let waiting = sup.start_job(&healthy, "healthy", 1).await.unwrap();
    let mut handles = Vec::new();
    for n in 0..5 {
        handles.push(
            sup.start_job(&poison, format!("bad-{n}"), format!("input {n}"))
                .await
                .unwrap(),
        );
    }
    for (n, handle) in handles.into_iter().enumerate() {
        match handle.answer().await {
            Err(JobError::GaveUp { key, restarts, .. }) => {
                assert_eq!((key, restarts), (format!("bad-{n}"), 2));
            }
            other => panic!("expected the job to be given up, got {other:?}"),
        }
    }
    let mut inputs = Vec::new();
    for _ in 0..5 {
        let letter = tokio::time::timeout(WAIT, dead.recv()).await.unwrap().unwrap();
        assert!(
            letter.path.to_string().starts_with("agents/parse#"),
            "{}",
            letter.path
        );
        inputs.push(letter.input);
    }
    inputs.sort();
    assert_eq!(inputs, (0..5).map(|n| format!("input {n}")).collect::<Vec<_>>());
    // 15 crashes, and the supervisor's shared window is untouched.
    assert_eq!(sup.health().await.unwrap().intensity.map(|w| w.used), Some(0));
    tokio::task::yield_now().await;
    go.notify_waiters();
    assert_eq!(waiting.answer().await, Ok(2));
    sup.stop(WAIT).await;
}

#[tokio::test(start_paused = true)]
async fn a_job_whose_supervisor_stops_answers_gone() {
    let sup = agents(DynamicSupervisorSpec::new("agents")).await;
    let (runs, go) = (Arc::new(AtomicU32::new(0)), Arc::new(Notify::new()));
    let template = doubler(runs, go, 0);
    let handle = sup.start_job(&template, "long", 1).await.unwrap();
    sup.stop(WAIT).await;
    assert_eq!(handle.answer().await, Err(JobError::Gone { key: "long".into() }));
}

#[tokio::test(start_paused = true)]
async fn a_refused_start_errs_for_the_starter() {
    let sup = agents(DynamicSupervisorSpec::new("agents").max_children(1)).await;
    let (runs, go) = (Arc::new(AtomicU32::new(0)), Arc::new(Notify::new()));
    let template = doubler(runs, go, 0);
    let _running = sup.start_job(&template, "one", 1).await.unwrap();
    let refused = sup.start_job(&template, "two", 2).await;
    assert!(matches!(refused, Err(ChildError::MaxChildren { max: 1, .. })));
    sup.stop(WAIT).await;
}
