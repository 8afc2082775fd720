//! The watchdog, health snapshot and restart backoff.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use hale_core::{
    ChildSpec, ChildState, EventStream, ExitReason, HealingEvent, HealingEventKind, NodeHealth, Probe,
    Restart, RestartBackoff, Strategy, Supervisor, SupervisorRef, SupervisorSpec, Watch,
};
use support::{Cmd, Lab, WAIT, expect_event, expect_restart, tell};
use tokio::time::Instant;

/// Collects events until one matches `last` (inclusive).
async fn events_until(events: &mut EventStream, last: impl Fn(&HealingEvent) -> bool) -> Vec<HealingEvent> {
    let mut seen = Vec::new();
    loop {
        let event = tokio::time::timeout(WAIT, events.recv())
            .await
            .unwrap_or_else(|_| panic!("no matching event; saw {seen:#?}"))
            .expect("event stream open, and no event missed");
        let done = last(&event);
        seen.push(event);
        if done {
            return seen;
        }
    }
}

fn kinds(events: &[HealingEvent]) -> Vec<&HealingEventKind> {
    events.iter().map(|event| &event.kind).collect()
}

/// A task that beats for `beats` rounds of `every`, then stops beating and
/// waits forever (an agent stuck on a call that never returns).
fn goes_quiet(id: &str, beats: u32, every: Duration) -> ChildSpec {
    ChildSpec::task(id, move |ctx| async move {
        let heartbeat = ctx.heartbeat();
        for _ in 0..beats {
            tokio::time::sleep(every).await;
            heartbeat.beat();
        }
        std::future::pending::<()>().await;
        Ok(())
    })
}

fn watched_worker(lab: &Lab, id: &str, watch: Watch) -> ChildSpec {
    ChildSpec::actor(id, lab.actor(id), ()).watch(watch)
}

/// A root supervisor with one watched worker.
async fn start_watched(lab: &Lab, id: &str, watch: Watch) -> SupervisorRef {
    Supervisor::start(SupervisorSpec::new("root").child(watched_worker(lab, id, watch)))
        .await
        .unwrap()
}

#[tokio::test(start_paused = true)]
async fn a_task_that_stops_beating_is_stopped_within_grace_and_restarted() {
    let sup = Supervisor::start(
        SupervisorSpec::new("root").intensity(5).child(
            goes_quiet("crawler", 3, Duration::from_millis(50))
                .watch(Watch::heartbeat(Duration::from_millis(200))),
        ),
    )
    .await
    .unwrap();
    let mut events = sup.subscribe();
    let seen = events_until(&mut events, |e| {
        matches!(e.kind, HealingEventKind::ChildRestarted { .. })
    })
    .await;
    let kinds = kinds(&seen);
    assert!(matches!(
        kinds[0],
        HealingEventKind::HeartbeatMissed { timeout_ms: 200, .. }
    ));
    assert!(matches!(kinds[1], HealingEventKind::HungStopRequested { .. }));
    assert!(
        matches!(
            kinds[2],
            HealingEventKind::ChildExited {
                reason: ExitReason::Hung,
                will_restart: true
            }
        ),
        "{kinds:#?}"
    );
    assert!(
        !kinds.contains(&&HealingEventKind::HungKilled),
        "stopped within grace: no kill"
    );
    let counts = sup.watchdog_counts().await.unwrap();
    assert_eq!((counts.hung, counts.killed, counts.stuck), (1, 0, 0));
}

#[tokio::test(start_paused = true)]
async fn a_handler_that_runs_past_its_timeout_is_killed_after_grace_and_restarted() {
    let lab = Lab::new();
    let watch = Watch::per_message(Duration::from_millis(100)).grace(Duration::from_millis(50));
    let sup = start_watched(&lab, "llm", watch).await;
    let mut events = sup.subscribe();
    tell(&sup, "llm", Cmd::Hang).await;
    let seen = events_until(&mut events, |e| {
        matches!(e.kind, HealingEventKind::ChildRestarted { .. })
    })
    .await;
    let kinds = kinds(&seen);
    assert!(kinds.contains(&&HealingEventKind::HungKilled), "{kinds:#?}");
    assert!(kinds.iter().any(|k| matches!(
        k,
        HealingEventKind::ChildExited {
            reason: ExitReason::Hung,
            ..
        }
    )));
    assert_eq!(lab.journal.entries(), ["start llm", "start llm"]);
}

#[tokio::test(start_paused = true)]
async fn handlers_just_inside_their_timeout_are_left_alone_after_a_long_idle() {
    let lab = Lab::new();
    let watch = Watch::per_message(Duration::from_millis(100));
    let sup = start_watched(&lab, "llm", watch).await;
    let mut events = sup.subscribe();
    // A short handler, then a long one queued behind it: the long one
    // starts between two steps of the coarse clock (5 ms here), so its stamp
    // is up to a step stale. Every phase is tried, after idle spells too.
    for (idle_ms, short_ms) in [(0, 1), (0, 2), (0, 3), (0, 4), (997, 2), (10_003, 4)] {
        tokio::time::advance(Duration::from_millis(idle_ms)).await;
        tell(&sup, "llm", Cmd::Work(Duration::from_millis(short_ms))).await;
        // However stale its stamp, 99 ms is not 100.
        tell(&sup, "llm", Cmd::Work(Duration::from_millis(99))).await;
        assert_eq!(support::ping(&sup, "llm").await, "llm");
    }
    assert_eq!(sup.watchdog_counts().await.unwrap().hung, 0);
    assert!(events.try_recv().is_err());
}

#[tokio::test(start_paused = true)]
async fn a_hung_handler_is_found_within_a_twentieth_of_its_timeout() {
    let lab = Lab::new();
    let watch = Watch::per_message(Duration::from_millis(200));
    let sup = start_watched(&lab, "llm", watch).await;
    let mut events = sup.subscribe();
    tokio::time::advance(Duration::from_millis(1_234)).await;
    let hung_at = Instant::now();
    tell(&sup, "llm", Cmd::Hang).await;
    events_until(&mut events, |e| {
        matches!(e.kind, HealingEventKind::HeartbeatMissed { .. })
    })
    .await;
    let found_after = hung_at.elapsed();
    // Never early; late by at most one step of the coarse clock (10 ms) and
    // the millisecond both ends round to.
    assert!(found_after >= Duration::from_millis(200), "{found_after:?}");
    assert!(found_after <= Duration::from_millis(212), "{found_after:?}");
}

#[tokio::test(start_paused = true)]
async fn an_idle_actor_watched_per_message_is_never_hung() {
    let lab = Lab::new();
    let watch = Watch::per_message(Duration::from_millis(100));
    let sup = start_watched(&lab, "idle", watch).await;
    let mut events = sup.subscribe();
    tokio::time::advance(Duration::from_secs(10)).await;
    // Handled messages count as progress too.
    for _ in 0..5 {
        assert_eq!(support::ping(&sup, "idle").await, "idle");
    }
    tokio::time::advance(Duration::from_secs(10)).await;
    assert_eq!(sup.watchdog_counts().await.unwrap().hung, 0);
    assert!(events.try_recv().is_err());
}

#[tokio::test(start_paused = true)]
async fn a_child_that_beats_slowly_but_within_its_timeout_is_left_alone() {
    let done = Arc::new(AtomicBool::new(false));
    let finished = Arc::clone(&done);
    let slow = ChildSpec::task("slow", move |ctx| {
        let finished = Arc::clone(&finished);
        async move {
            let heartbeat = ctx.heartbeat();
            for _ in 0..50 {
                tokio::time::sleep(Duration::from_millis(90)).await;
                heartbeat.beat();
            }
            finished.store(true, Ordering::SeqCst);
            Ok(())
        }
    })
    .restart(Restart::Transient)
    .watch(Watch::heartbeat(Duration::from_millis(100)));
    expect_finished_never_hung(slow, &done).await;
}

/// Runs `child` alone under a root and checks that it finished normally,
/// never found hung.
async fn expect_finished_never_hung(child: ChildSpec, done: &AtomicBool) {
    let sup = Supervisor::start(SupervisorSpec::new("root").child(child))
        .await
        .unwrap();
    let mut events = sup.subscribe();
    let seen = events_until(&mut events, |e| {
        matches!(e.kind, HealingEventKind::ChildExited { .. })
    })
    .await;
    assert_eq!(
        kinds(&seen),
        [&HealingEventKind::ChildExited {
            reason: ExitReason::Normal,
            will_restart: false
        }]
    );
    assert!(done.load(Ordering::SeqCst));
    assert_eq!(sup.watchdog_counts().await.unwrap().hung, 0);
}

/// A task that spends `attempts` × 90 ms in a retry loop of a model that
/// fails until the last attempt, never beating by hand.
fn retrying_agent(id: &str, attempts: u32, finished: Arc<AtomicBool>) -> ChildSpec {
    ChildSpec::task(id, move |_ctx| {
        let finished = Arc::clone(&finished);
        async move {
            let retry = hale_resilience::RetryPolicy::builder("model")
                .maximum_attempts(attempts)
                .initial_interval(Duration::from_millis(1))
                .maximum_interval(Duration::from_millis(1))
                .build()
                .unwrap();
            let mut calls = 0;
            retry
                .call(|| {
                    calls += 1;
                    let last = calls == attempts;
                    async move {
                        tokio::time::sleep(Duration::from_millis(90)).await;
                        if last { Ok(()) } else { Err("503".to_string()) }
                    }
                })
                .await
                .map_err(|error| error.to_string())?;
            finished.store(true, Ordering::SeqCst);
            Ok(())
        }
    })
    .restart(Restart::Transient)
    .watch(Watch::heartbeat(Duration::from_millis(100)))
}

#[tokio::test(start_paused = true)]
async fn a_task_in_a_long_retry_loop_beats_at_every_attempt_without_threading_its_heartbeat() {
    let done = Arc::new(AtomicBool::new(false));
    // 30 attempts of 90 ms: 2.7 s under a 100 ms heartbeat, never late.
    expect_finished_never_hung(retrying_agent("agent", 30, Arc::clone(&done)), &done).await;
}

#[tokio::test(start_paused = true)]
async fn an_attempt_longer_than_the_heartbeat_timeout_is_still_found_hung() {
    let sup = Supervisor::start(
        SupervisorSpec::new("root").intensity(100).child(
            ChildSpec::task("agent", |_ctx| async {
                let retry = hale_resilience::RetryPolicy::builder("model")
                    .maximum_attempts(3)
                    .build()
                    .unwrap();
                // One attempt that never ends: the loop cannot beat for it.
                let _ = retry.call(std::future::pending::<Result<(), String>>).await;
                Ok(())
            })
            .watch(Watch::heartbeat(Duration::from_millis(100))),
        ),
    )
    .await
    .unwrap();
    let mut events = sup.subscribe();
    let seen = events_until(&mut events, |e| {
        matches!(e.kind, HealingEventKind::HeartbeatMissed { .. })
    })
    .await;
    assert!(matches!(
        kinds(&seen).last(),
        Some(HealingEventKind::HeartbeatMissed { timeout_ms: 100, .. })
    ));
}

#[tokio::test(start_paused = true)]
async fn a_hung_child_that_stops_within_its_grace_period_is_not_killed() {
    let lab = Lab::new();
    // Its post_stop takes 300 ms; the grace period is 1 s.
    lab.knobs("db").stop_delay_ms.store(300, Ordering::SeqCst);
    let watch = Watch::heartbeat(Duration::from_millis(100)).grace(Duration::from_secs(1));
    let sup = start_watched(&lab, "db", watch).await;
    let mut events = sup.subscribe();
    let seen = events_until(&mut events, |e| {
        matches!(e.kind, HealingEventKind::ChildRestarted { .. })
    })
    .await;
    assert!(
        !kinds(&seen).contains(&&HealingEventKind::HungKilled),
        "{seen:#?}"
    );
    assert_eq!(lab.journal.entries(), ["start db", "stop db", "start db"]);
}

#[tokio::test(start_paused = true)]
async fn watchdog_kills_count_against_the_restart_intensity() {
    let sup =
        Supervisor::start(SupervisorSpec::new("root").intensity(1).child(
            goes_quiet("stuck", 0, Duration::ZERO).watch(Watch::heartbeat(Duration::from_millis(100))),
        ))
        .await
        .unwrap();
    let mut events = sup.subscribe();
    expect_restart(&mut events, "root/stuck").await;
    expect_event(&mut events, "give-up", |e| {
        matches!(e.kind, HealingEventKind::IntensityExceeded { intensity: 1, .. })
    })
    .await;
    assert_eq!(
        tokio::time::timeout(WAIT, sup.wait()).await.unwrap(),
        ExitReason::Shutdown(None)
    );
}

/// A handler blocked in synchronous code: no kill can cancel it. This test
/// needs real threads (a blocked worker thread would stall a paused,
/// single-threaded runtime), so it runs on real time with short bounds and
/// waits only on events.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_handler_stuck_in_blocking_code_is_replaced_and_counted() {
    let (release, blocked) = std::sync::mpsc::channel::<()>();
    let blocked = Arc::new(std::sync::Mutex::new(Some(blocked)));
    let lab = Lab::new();
    let blocking = {
        let blocked = Arc::clone(&blocked);
        ChildSpec::task("parser", move |ctx| {
            let blocked = Arc::clone(&blocked);
            async move {
                // Only the first incarnation blocks; its replacement works.
                // (The lock is released before blocking.)
                let receiver = blocked.lock().unwrap().take();
                if let Some(receiver) = receiver {
                    let _ = receiver.recv();
                }
                loop {
                    ctx.heartbeat().beat();
                    tokio::time::sleep(Duration::from_millis(10)).await;
                }
            }
        })
        .watch(Watch::heartbeat(Duration::from_millis(100)).grace(Duration::from_millis(50)))
        .kill_wait(Duration::from_millis(100))
    };
    // A generous intensity: on a loaded machine the replacement may be
    // found late once too, which must not end the test's tree.
    let sup = Supervisor::start(
        SupervisorSpec::new("root")
            .intensity(100)
            .child(lab.worker("other"))
            .child(blocking),
    )
    .await
    .unwrap();
    let mut events = sup.subscribe();
    let mut seen = Vec::new();
    for wanted in ["a replacement", "the stuck task counted"] {
        seen.extend(
            events_until(&mut events, |e| match wanted {
                "a replacement" => matches!(e.kind, HealingEventKind::ChildRestarted { .. }),
                _ => matches!(e.kind, HealingEventKind::StuckTask { .. }),
            })
            .await,
        );
        if wanted == "a replacement"
            && seen
                .iter()
                .any(|e| matches!(e.kind, HealingEventKind::StuckTask { .. }))
        {
            break;
        }
    }
    let restarted = seen
        .iter()
        .find(|e| matches!(e.kind, HealingEventKind::ChildRestarted { .. }))
        .expect("the parser was replaced");
    assert_eq!(restarted.path.to_string(), "root/parser");
    assert!(
        kinds(&seen).contains(&&HealingEventKind::StuckTask { stuck_total: 1 }),
        "{seen:#?}"
    );
    assert_eq!(sup.watchdog_counts().await.unwrap().stuck, 1);
    release.send(()).unwrap();
    sup.stop(WAIT).await;
}

#[tokio::test(start_paused = true)]
async fn restart_delays_follow_the_backoff_policy_and_its_jitter_bounds() {
    let lab = Lab::new();
    let policy = RestartBackoff::new(Duration::from_millis(100), Duration::from_millis(800)).seed(42);
    let sup = Supervisor::start(
        SupervisorSpec::new("root")
            .intensity(100)
            .period(Duration::from_secs(3600))
            .child(lab.worker("flaky").backoff(policy.clone())),
    )
    .await
    .unwrap();
    let mut events = sup.subscribe();
    for attempt in 0..6 {
        tell(&sup, "flaky", Cmd::Fail).await;
        let scheduled = expect_event(&mut events, "backoff", |e| {
            matches!(e.kind, HealingEventKind::BackoffScheduled { .. })
        })
        .await;
        let at = Instant::now();
        let HealingEventKind::BackoffScheduled { delay_ms, attempt: n } = scheduled.kind else {
            unreachable!()
        };
        assert_eq!(n, attempt);
        assert!(Duration::from_millis(delay_ms) <= policy.ceiling(attempt));
        // The API reports the child as restarting while it waits.
        let status = sup.which_children().await.unwrap()[0].state;
        assert_eq!(status, hale_core::ChildState::Restarting);
        expect_restart(&mut events, "root/flaky").await;
        assert_eq!(Instant::now() - at, Duration::from_millis(delay_ms));
    }
}

#[tokio::test(start_paused = true)]
async fn a_stale_delayed_restart_does_nothing() {
    let lab = Lab::new();
    let policy = RestartBackoff::new(Duration::from_secs(10), Duration::from_secs(10)).seed(3);
    let sup = Supervisor::start(
        SupervisorSpec::new("root")
            .intensity(10)
            .child(lab.worker("a").backoff(policy)),
    )
    .await
    .unwrap();
    let mut events = sup.subscribe();
    tell(&sup, "a", Cmd::Fail).await;
    expect_event(&mut events, "backoff", |e| {
        matches!(e.kind, HealingEventKind::BackoffScheduled { .. })
    })
    .await;
    // Meanwhile an operator takes over: terminate, then restart by hand.
    sup.terminate_child("a").await.unwrap();
    let manual = sup.restart_child("a").await.unwrap();
    let running = manual.actor().unwrap().get_id();
    tokio::time::advance(Duration::from_secs(30)).await;
    assert_eq!(
        sup.which_children().await.unwrap()[0]
            .actor
            .as_ref()
            .unwrap()
            .get_id(),
        running
    );
    assert_eq!(lab.journal.entries(), ["start a", "start a"]);
    while let Ok(event) = events.try_recv() {
        assert!(
            !matches!(event.kind, HealingEventKind::ChildRestarted { .. }),
            "{event:?}"
        );
    }
}

#[tokio::test(start_paused = true)]
async fn readiness_and_probes_show_in_the_health_snapshot() {
    let ready = Arc::new(AtomicBool::new(true));
    let answers_right = Arc::new(AtomicBool::new(true));
    let agent = {
        let ready = Arc::clone(&ready);
        ChildSpec::task("agent", move |ctx| {
            let ready = Arc::clone(&ready);
            async move {
                let heartbeat = ctx.heartbeat();
                loop {
                    heartbeat.set_ready(ready.load(Ordering::SeqCst));
                    heartbeat.beat();
                    tokio::time::sleep(Duration::from_millis(10)).await;
                }
            }
        })
    };
    let probe = {
        let answers_right = Arc::clone(&answers_right);
        Probe::new(Duration::from_millis(100), move |_actor| {
            let right = answers_right.load(Ordering::SeqCst);
            async move {
                if right {
                    Ok(())
                } else {
                    Err("2 + 2 = 5".to_owned())
                }
            }
        })
    };
    let sup = Supervisor::start(
        SupervisorSpec::new("root")
            .child(agent.watch(Watch::heartbeat(Duration::from_secs(1)).probe(probe)))
            .child(ChildSpec::supervisor(
                SupervisorSpec::new("inner")
                    .strategy(Strategy::OneForAll)
                    .child(Lab::new().worker("w")),
            )),
    )
    .await
    .unwrap();
    let mut events = sup.subscribe();
    let node = |health: &NodeHealth| health.find("root/agent").cloned().unwrap();

    let health = sup.health().await.unwrap();
    assert_eq!(health.children.len(), 2);
    assert_eq!(health.find("root/inner/w").unwrap().state, ChildState::Running);
    assert_eq!(
        (node(&health).state, node(&health).ready),
        (ChildState::Running, true)
    );
    assert!(node(&health).heartbeat_age_ms.is_some());

    ready.store(false, Ordering::SeqCst);
    answers_right.store(false, Ordering::SeqCst);
    expect_event(&mut events, "failed probe", |e| {
        matches!(e.kind, HealingEventKind::ProbeResult { passed: false, .. })
    })
    .await;
    let health = sup.health().await.unwrap();
    assert_eq!(
        (node(&health).state, node(&health).ready),
        (ChildState::Degraded, false)
    );

    answers_right.store(true, Ordering::SeqCst);
    expect_event(&mut events, "passing probe", |e| {
        matches!(e.kind, HealingEventKind::ProbeResult { passed: true, .. })
    })
    .await;
    assert_eq!(node(&sup.health().await.unwrap()).state, ChildState::Running);
}

#[tokio::test(start_paused = true)]
async fn the_health_snapshot_round_trips_through_json() {
    let lab = Lab::new();
    let sup = Supervisor::start(SupervisorSpec::new("root").child(lab.worker("a")).child(
        ChildSpec::supervisor(SupervisorSpec::new("inner").child(lab.worker("b"))),
    ))
    .await
    .unwrap();
    let mut events = sup.subscribe();
    tell(&sup, "a", Cmd::Fail).await;
    expect_restart(&mut events, "root/a").await;
    let health = sup.health().await.unwrap();
    let a = health.find("root/a").unwrap();
    assert_eq!(
        (a.restarts, a.last_exit.clone()),
        (1, Some(ExitReason::Failed("a failed".into())))
    );
    assert_eq!(a.recent_restarts_ms.len(), 1);
    let window = health
        .intensity
        .expect("a supervisor reports its intensity window");
    assert_eq!((window.used, window.intensity, window.period_ms), (1, 1, 5_000));
    let inner = health.find("root/inner").unwrap();
    assert_eq!(inner.intensity.map(|window| window.used), Some(0));
    let json = serde_json::to_string_pretty(&health).unwrap();
    assert!(json.contains("\"state\": \"running\""), "{json}");
    assert_eq!(serde_json::from_str::<NodeHealth>(&json).unwrap(), health);
}

/// An actor whose handler blocks its thread until the test releases it.
/// With a gate, its first incarnation holds in `post_start` until the test
/// opens it: ractor then reports the start to the supervisor and takes the
/// first message in the same poll of the actor's task.
#[derive(Clone, Default)]
struct Blocker {
    gate: Arc<std::sync::Mutex<Option<tokio::sync::oneshot::Receiver<()>>>>,
}

impl ractor::Actor for Blocker {
    type Msg = std::sync::mpsc::Receiver<()>;
    type State = ();
    type Arguments = ();

    async fn pre_start(
        &self,
        _: ractor::ActorRef<Self::Msg>,
        _: (),
    ) -> Result<(), ractor::ActorProcessingErr> {
        Ok(())
    }

    async fn post_start(
        &self,
        _: ractor::ActorRef<Self::Msg>,
        _: &mut (),
    ) -> Result<(), ractor::ActorProcessingErr> {
        let gate = self.gate.lock().unwrap().take();
        if let Some(gate) = gate {
            let _ = gate.await;
        }
        Ok(())
    }

    async fn handle(
        &self,
        _: ractor::ActorRef<Self::Msg>,
        release: Self::Msg,
        _: &mut (),
    ) -> Result<(), ractor::ActorProcessingErr> {
        let _ = release.recv();
        Ok(())
    }
}

/// A supervisor with one `Blocker`, watched per message, that the
/// watchdog gives up on quickly.
async fn start_blocker(blocker: Blocker) -> SupervisorRef {
    let watch = Watch::per_message(Duration::from_millis(100)).grace(Duration::from_millis(50));
    Supervisor::start(
        SupervisorSpec::new("root").intensity(100).child(
            ChildSpec::actor("blocker", blocker, ())
                .watch(watch)
                .kill_wait(Duration::from_millis(100)),
        ),
    )
    .await
    .unwrap()
}

/// Waits until the blocker has been replaced after a kill that could not
/// land, and checks that it was counted stuck.
async fn expect_blocker_replaced(sup: &SupervisorRef, events: &mut EventStream, first: ractor::ActorId) {
    let seen = events_until(events, |e| {
        matches!(e.kind, HealingEventKind::ChildRestarted { .. })
    })
    .await;
    let kinds = kinds(&seen);
    assert!(kinds.contains(&&HealingEventKind::HungKilled), "{kinds:#?}");
    assert!(
        kinds.contains(&&HealingEventKind::StuckTask { stuck_total: 1 }),
        "{kinds:#?}"
    );
    let blocker = sup
        .child_ref::<std::sync::mpsc::Receiver<()>>("blocker")
        .await
        .unwrap();
    assert_ne!(blocker.current().unwrap().get_id(), first);
}

/// The kill cannot land in a handler that never yields: the watchdog counts
/// the actor stuck and its supervisor replaces it anyway. Real time, as above.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_actor_blocked_in_its_handler_is_replaced_although_the_kill_cannot_land() {
    let sup = start_blocker(Blocker::default()).await;
    let mut events = sup.subscribe();
    let blocker = sup.child_ref("blocker").await.unwrap();
    let first = blocker.current().unwrap().get_id();
    let (release, blocked) = std::sync::mpsc::channel();
    blocker.send(blocked).unwrap();
    expect_blocker_replaced(&sup, &mut events, first).await;
    release.send(()).unwrap();
    sup.stop(WAIT).await;
}

/// ractor reports a start to the supervisor (waking it) and then takes the
/// first message in the same poll; if that message blocks the thread, tokio
/// cannot hand the woken supervisor to another worker (tokio#4941). A
/// watched actor's first message therefore first lets the woken task run.
/// Real time, as above.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_actor_that_blocks_on_its_first_message_does_not_starve_its_supervisor() {
    let (open, gate) = tokio::sync::oneshot::channel();
    let blocker = Blocker {
        gate: Arc::new(std::sync::Mutex::new(Some(gate))),
    };
    let sup = start_blocker(blocker).await;
    let mut events = sup.subscribe();
    let blocker = sup.child_ref("blocker").await.unwrap();
    let first = blocker.current().unwrap().get_id();
    let (release, blocked) = std::sync::mpsc::channel();
    // Queued before the start is reported: the same poll reports the start
    // and blocks in the handler.
    blocker.send(blocked).unwrap();
    open.send(()).unwrap();
    expect_blocker_replaced(&sup, &mut events, first).await;
    release.send(()).unwrap();
    sup.stop(WAIT).await;
}

/// Hardening: values a user can write never stop the watchdog.
mod hardening {
    use super::*;
    use hale_core::{ChildError, SpecError};

    #[tokio::test(start_paused = true)]
    async fn a_child_watched_with_duration_max_leaves_the_watchdog_finding_others_hung() {
        for patient in [Watch::heartbeat(Duration::MAX), Watch::per_message(Duration::MAX)] {
            let lab = Lab::new();
            let sup = Supervisor::start(
                SupervisorSpec::new("root")
                    .intensity(5)
                    .child(watched_worker(&lab, "patient", patient))
                    .child(
                        goes_quiet("quiet", 0, Duration::ZERO)
                            .watch(Watch::heartbeat(Duration::from_millis(200))),
                    ),
            )
            .await
            .unwrap();
            let mut events = sup.subscribe();
            // The watchdog survived the first child's deadline and finds the second.
            let missed = events_until(&mut events, |e| {
                matches!(e.kind, HealingEventKind::HeartbeatMissed { .. })
            })
            .await;
            assert_eq!(missed.last().unwrap().path.to_string(), "root/quiet");
            sup.stop(WAIT).await;
        }
    }

    #[tokio::test(start_paused = true)]
    async fn zero_watch_durations_are_refused_before_anything_starts() {
        let lab = Lab::new();
        let refused = Supervisor::start(SupervisorSpec::new("root").child(watched_worker(
            &lab,
            "idle",
            Watch::per_message(Duration::ZERO),
        )))
        .await;
        assert!(matches!(
            refused,
            Err(hale_core::SupervisorStartError::InvalidSpec(
                SpecError::ZeroDuration { .. }
            ))
        ));
        let sup = Supervisor::start(SupervisorSpec::new("root")).await.unwrap();
        let probe = Probe::new(Duration::ZERO, |_| async { Ok(()) });
        let added = sup
            .start_child(watched_worker(
                &lab,
                "probed",
                Watch::heartbeat(Duration::from_secs(1)).probe(probe),
            ))
            .await;
        assert!(matches!(
            added,
            Err(ChildError::InvalidSpec(SpecError::ZeroDuration {
                setting: "probe interval",
                ..
            }))
        ));
        assert_eq!(lab.journal.entries(), Vec::<String>::new(), "nothing started");
        sup.stop(WAIT).await;
    }

    #[tokio::test(start_paused = true)]
    async fn send_within_duration_max_waits_for_the_child_instead_of_panicking() {
        let lab = Lab::new();
        let sup = Supervisor::start(SupervisorSpec::new("root").child(lab.worker("a")))
            .await
            .unwrap();
        let a = sup.child_ref::<Cmd>("a").await.unwrap();
        a.send_within(Cmd::Stop(Some("shutdown".into())), Duration::MAX)
            .await
            .unwrap();
        sup.stop(WAIT).await;
    }

    #[tokio::test(start_paused = true)]
    async fn a_probe_slower_than_its_interval_has_one_run_in_flight() {
        let lab = Lab::new();
        let running = Arc::new(std::sync::atomic::AtomicU32::new(0));
        let most = Arc::new(std::sync::atomic::AtomicU32::new(0));
        let (in_flight, peak) = (Arc::clone(&running), Arc::clone(&most));
        // Every check takes 10 intervals.
        let probe = Probe::new(Duration::from_millis(10), move |_| {
            let (in_flight, peak) = (Arc::clone(&in_flight), Arc::clone(&peak));
            async move {
                let now = in_flight.fetch_add(1, Ordering::SeqCst) + 1;
                peak.fetch_max(now, Ordering::SeqCst);
                tokio::time::sleep(Duration::from_millis(100)).await;
                in_flight.fetch_sub(1, Ordering::SeqCst);
                Ok(())
            }
        })
        .timeout(Duration::from_secs(1));
        let sup = start_watched(
            &lab,
            "slow",
            Watch::heartbeat(Duration::from_secs(3600)).probe(probe),
        )
        .await;
        let mut events = sup.subscribe();
        for _ in 0..3 {
            expect_event(&mut events, "probe result", |e| {
                matches!(e.kind, HealingEventKind::ProbeResult { .. })
            })
            .await;
        }
        assert_eq!(most.load(Ordering::SeqCst), 1, "probes piled up");
        sup.stop(WAIT).await;
    }
}

#[tokio::test(start_paused = true)]
async fn a_watchdog_that_exits_is_an_escalation_not_a_log_line() {
    let lab = Lab::new();
    let sup = Supervisor::start(SupervisorSpec::new("root").child(lab.worker("a")))
        .await
        .unwrap();
    let mut events = sup.subscribe();
    assert!(sup.watchdog_counts().await.unwrap().running);
    // The root's linked actors are its children and the tree's watchdog.
    let children: Vec<_> = sup
        .which_children()
        .await
        .unwrap()
        .into_iter()
        .filter_map(|row| row.actor.map(|actor| actor.get_id()))
        .collect();
    let watchdog = sup
        .actor()
        .get_children()
        .into_iter()
        .find(|actor| !children.contains(&actor.get_id()))
        .expect("the watchdog is linked to the root");
    watchdog.kill();
    let seen = events_until(&mut events, |e| {
        matches!(e.kind, HealingEventKind::SupervisorStopped { .. })
    })
    .await;
    assert!(
        kinds(&seen).contains(&&HealingEventKind::WatchdogExited {
            reason: ExitReason::Killed
        }),
        "{seen:#?}"
    );
    assert_eq!(sup.wait().await, ExitReason::Shutdown(None));
    assert_eq!(lab.journal.entries(), ["start a", "stop a"]);
}
