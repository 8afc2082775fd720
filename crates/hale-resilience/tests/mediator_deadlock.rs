//! Two agents that need the same two resources in opposite orders.
//!
//! With naive per-resource locks taken one after the other, each takes its first lock
//! and then waits forever for the other's. With the mediator, both finish.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use hale_resilience::ResourceMediator;
use tokio::sync::{Barrier, Mutex};
use tokio::time::{sleep, timeout};

const BOUND: Duration = Duration::from_secs(60);

#[tokio::test(start_paused = true)]
async fn naive_locks_in_opposite_orders_deadlock() {
    let printer = Arc::new(Mutex::new(()));
    let scanner = Arc::new(Mutex::new(()));
    // Both agents hold their first lock before either asks for its second.
    let both_hold_one = Arc::new(Barrier::new(2));

    let agent = |first: Arc<Mutex<()>>, second: Arc<Mutex<()>>, barrier: Arc<Barrier>| async move {
        let _first = first.lock().await;
        barrier.wait().await;
        let _second = second.lock().await;
    };
    let a = tokio::spawn(agent(printer.clone(), scanner.clone(), both_hold_one.clone()));
    let b = tokio::spawn(agent(scanner, printer, both_hold_one));
    let (abort_a, abort_b) = (a.abort_handle(), b.abort_handle());
    let pair = timeout(BOUND, async { (a.await, b.await) }).await;
    assert!(
        pair.is_err(),
        "neither agent can finish: each waits on the other's lock"
    );
    abort_a.abort();
    abort_b.abort();
}

#[tokio::test(start_paused = true)]
async fn the_same_agents_through_the_mediator_both_finish() {
    let mediator = ResourceMediator::builder("office")
        .resource("printer")
        .resource("scanner")
        .build()
        .unwrap();
    // Someone else holds both resources while the agents line up, so that their
    // acquisitions interleave exactly as the naive agents' locks did.
    let printer = mediator.acquire(&["printer"], BOUND).await.unwrap();
    let scanner = mediator.acquire(&["scanner"], BOUND).await.unwrap();
    let agent = |mediator: ResourceMediator, needs: [&'static str; 2]| async move {
        mediator
            .run(&needs, BOUND, || sleep(Duration::from_millis(100)))
            .await
    };
    let a = tokio::spawn(agent(mediator.clone(), ["printer", "scanner"]));
    let b = tokio::spawn(agent(mediator.clone(), ["scanner", "printer"]));
    sleep(Duration::from_millis(1)).await; // both agents are now waiting
    drop((printer, scanner));
    assert!(a.await.unwrap().is_ok());
    assert!(b.await.unwrap().is_ok());
    assert_eq!(mediator.stats().acquired, 4);
}

#[tokio::test(start_paused = true)]
async fn many_agents_contending_for_overlapping_sets_all_finish_and_never_share() {
    let names = ["db", "cache", "index", "queue", "blob"];
    let mut builder = ResourceMediator::builder("cluster");
    for name in names {
        builder = builder.resource(name);
    }
    let mediator = builder.build().unwrap();
    let holders: Arc<Vec<AtomicU32>> = Arc::new(names.iter().map(|_| AtomicU32::new(0)).collect());
    let overlaps = Arc::new(AtomicU32::new(0));

    let tasks: Vec<_> = (0..40usize)
        .map(|agent| {
            // Each agent wants three resources, listed in a rotating, reversed order.
            let wanted: Vec<usize> = (0..3).map(|k| (agent * 7 + k * 2) % names.len()).rev().collect();
            let (mediator, holders, overlaps) = (mediator.clone(), holders.clone(), overlaps.clone());
            tokio::spawn(async move {
                let wanted_names: Vec<&str> = wanted.iter().map(|&i| names[i]).collect();
                mediator
                    .run(&wanted_names, BOUND, || async {
                        for &i in &wanted {
                            if holders[i].fetch_add(1, Ordering::SeqCst) > 0 {
                                overlaps.fetch_add(1, Ordering::SeqCst);
                            }
                        }
                        sleep(Duration::from_millis(10 + (agent as u64 % 5))).await;
                        for &i in &wanted {
                            holders[i].fetch_sub(1, Ordering::SeqCst);
                        }
                    })
                    .await
            })
        })
        .collect();
    for task in tasks {
        assert!(task.await.unwrap().is_ok(), "no agent timed out");
    }
    assert_eq!(
        overlaps.load(Ordering::SeqCst),
        0,
        "an exclusive resource was shared"
    );
    assert_eq!(mediator.stats().acquired, 40);
}
