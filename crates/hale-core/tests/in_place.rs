//! Restart in place: a failed actor child goes on with its own mailbox, the
//! message it failed on is dead-lettered, and the supervisor decides exactly
//! as it does for a fresh restart.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use hale_core::in_place::FreshCause;
use hale_core::{
    ChildSpec, ChildState, DeadLetterSink, ExitReason, HealingEvent, HealingEventKind, Restart, SpecError,
    Strategy, Supervisor, SupervisorRef, SupervisorSpec, SupervisorStartError, Watch,
};
use ractor::{Actor, ActorProcessingErr, ActorRef, ActorStatus};
use support::{Cmd, Journal, Lab, WAIT, current, events_through, tell};
use tokio::sync::Notify;

/// What the agent is sent.
#[derive(Clone, Debug)]
enum Msg {
    /// Wait until the gate opens (so that messages queue behind it).
    Gate(Arc<Notify>),
    /// Journal "item N".
    Item(u32),
    /// Fail with an error.
    Poison(u32),
    /// Panic.
    Explode,
}

impl PartialEq for Msg {
    fn eq(&self, other: &Self) -> bool {
        match (self, other) {
            (Self::Item(a), Self::Item(b)) | (Self::Poison(a), Self::Poison(b)) => a == b,
            (Self::Explode, Self::Explode) => true,
            _ => false,
        }
    }
}

/// An agent that journals its life and the items it handles; its
/// `pre_start` panics on the starts listed in `panic_on_start`.
#[derive(Clone)]
struct Agent {
    journal: Journal,
    starts: Arc<AtomicU32>,
    panic_on_start: Option<u32>,
}

impl Agent {
    fn new(journal: &Journal) -> Self {
        Self {
            journal: journal.clone(),
            starts: Arc::default(),
            panic_on_start: None,
        }
    }
}

impl Actor for Agent {
    type Msg = Msg;
    type State = u32;
    type Arguments = ();

    async fn pre_start(&self, _: ActorRef<Msg>, _: ()) -> Result<u32, ActorProcessingErr> {
        let start = self.starts.fetch_add(1, Ordering::SeqCst) + 1;
        if self.panic_on_start == Some(start) {
            panic!("pre_start {start} panicked");
        }
        self.journal.write(format!("start {start}"));
        Ok(start)
    }

    async fn handle(&self, _: ActorRef<Msg>, msg: Msg, start: &mut u32) -> Result<(), ActorProcessingErr> {
        match msg {
            Msg::Gate(gate) => gate.notified().await,
            Msg::Item(n) => self.journal.write(format!("item {n} by {start}")),
            Msg::Poison(n) => return Err(format!("poison {n}").into()),
            Msg::Explode => panic!("exploded"),
        }
        Ok(())
    }

    async fn post_stop(&self, _: ActorRef<Msg>, start: &mut u32) -> Result<(), ActorProcessingErr> {
        self.journal.write(format!("stop {start}"));
        Ok(())
    }
}

fn root() -> SupervisorSpec {
    SupervisorSpec::new("root").intensity(10)
}

async fn agent_ref(sup: &SupervisorRef, id: &str) -> ActorRef<Msg> {
    sup.child_ref::<Msg>(id).await.unwrap().current().unwrap()
}

fn restarted_at(path: &'static str) -> impl Fn(&HealingEvent) -> bool {
    move |e| e.path.to_string() == path && matches!(e.kind, HealingEventKind::ChildRestarted { .. })
}

/// The events at `path` among `seen`.
fn at<'a>(seen: &'a [(String, HealingEventKind)], path: &str) -> Vec<&'a HealingEventKind> {
    seen.iter()
        .filter(|(p, _)| p == path)
        .map(|(_, kind)| kind)
        .collect()
}

#[tokio::test(start_paused = true)]
async fn messages_queued_behind_a_crash_are_handled_after_the_restart_in_order() {
    let journal = Journal::new();
    let (sink, mut letters) = DeadLetterSink::<Msg>::channel(8);
    let spec =
        root().child(ChildSpec::actor("agent", Agent::new(&journal), ()).dead_letters(sink.keep_messages()));
    let sup = Supervisor::start(spec).await.unwrap();
    let mut events = sup.subscribe();
    let agent = agent_ref(&sup, "agent").await;
    let gate = Arc::new(Notify::new());
    agent.send_message(Msg::Gate(Arc::clone(&gate))).unwrap();
    agent.send_message(Msg::Poison(7)).unwrap();
    for n in 1..=5 {
        agent.send_message(Msg::Item(n)).unwrap();
    }
    gate.notify_one();
    let seen = events_through(&mut events, restarted_at("root/agent")).await;
    assert_eq!(
        journal.wait_len(8).await,
        [
            "start 1",
            "stop 1",
            "start 2",
            "item 1 by 2",
            "item 2 by 2",
            "item 3 by 2",
            "item 4 by 2",
            "item 5 by 2"
        ],
        "post_stop, pre_start again, then every queued message in order"
    );
    assert_eq!(
        at(&seen, "root/agent"),
        [
            &HealingEventKind::MessageDeadLettered {
                error: "poison 7".into(),
                kept: true,
                dropped: false
            },
            &HealingEventKind::ChildExited {
                reason: ExitReason::Failed("poison 7".into()),
                will_restart: true
            },
            &HealingEventKind::RestartedInPlace { incarnation: 2 },
            &HealingEventKind::ChildRestarted { restarts: 1 },
        ]
    );
    assert_eq!(
        agent_ref(&sup, "agent").await.get_id(),
        agent.get_id(),
        "the same actor"
    );
    let letter = letters.try_recv().unwrap();
    assert_eq!(
        (
            letter.path.to_string(),
            letter.incarnation,
            letter.error,
            letter.message
        ),
        (
            "root/agent".to_owned(),
            1,
            "poison 7".to_owned(),
            Some(Msg::Poison(7))
        )
    );
    assert!(letters.try_recv().is_err(), "dead-lettered exactly once");
    let children = sup.which_children().await.unwrap();
    assert_eq!(
        (children[0].restarts, children[0].state),
        (1, ChildState::Running)
    );
    let health = sup.health().await.unwrap();
    assert_eq!(health.children[0].restarts, 1);
    sup.stop(WAIT).await;
}

#[tokio::test(start_paused = true)]
async fn a_panic_is_restarted_in_place_like_an_error() {
    let journal = Journal::new();
    let (sink, mut letters) = DeadLetterSink::<Msg>::channel(8);
    let spec = root().child(ChildSpec::actor("agent", Agent::new(&journal), ()).dead_letters(sink));
    let sup = Supervisor::start(spec).await.unwrap();
    let mut events = sup.subscribe();
    let agent = agent_ref(&sup, "agent").await;
    agent.send_message(Msg::Explode).unwrap();
    agent.send_message(Msg::Item(1)).unwrap();
    events_through(&mut events, restarted_at("root/agent")).await;
    assert_eq!(
        journal.wait_len(4).await,
        ["start 1", "stop 1", "start 2", "item 1 by 2"]
    );
    let letter = letters.try_recv().unwrap();
    assert_eq!(
        (letter.error.as_str(), letter.message),
        ("exploded", None),
        "not kept"
    );
    sup.stop(WAIT).await;
}

/// Runs three crashes against intensity 2 and returns the supervision
/// events, without the in-place ones.
async fn three_crashes(in_place: bool) -> (Vec<HealingEventKind>, Option<ActorRef<Msg>>) {
    let journal = Journal::new();
    let spec = SupervisorSpec::new("root")
        .intensity(2)
        .period(Duration::from_secs(5))
        .child(ChildSpec::actor("agent", Agent::new(&journal), ()).in_place(in_place));
    let sup = Supervisor::start(spec).await.unwrap();
    let mut events = sup.subscribe();
    let mut seen = Vec::new();
    let mut last_agent = None;
    for round in 0..3 {
        let agent = agent_ref(&sup, "agent").await;
        agent.send_message(Msg::Poison(round)).unwrap();
        last_agent = Some(agent);
        let step = events_through(&mut events, |e| {
            matches!(
                e.kind,
                HealingEventKind::ChildRestarted { .. } | HealingEventKind::SupervisorStopped { .. }
            )
        })
        .await;
        seen.extend(step);
    }
    assert_eq!(sup.wait().await, ExitReason::Shutdown(None));
    let kinds = seen
        .into_iter()
        .map(|(_, kind)| kind)
        .filter(|kind| {
            !matches!(
                kind,
                HealingEventKind::RestartedInPlace { .. }
                    | HealingEventKind::FreshRestart { .. }
                    | HealingEventKind::MessageDeadLettered { .. }
            )
        })
        .collect();
    (kinds, last_agent)
}

#[tokio::test(start_paused = true)]
async fn the_intensity_window_escalates_exactly_as_for_a_fresh_restart() {
    let (fresh, _) = three_crashes(false).await;
    let (in_place, parked) = three_crashes(true).await;
    assert_eq!(in_place, fresh);
    assert!(
        fresh
            .iter()
            .any(|k| matches!(k, HealingEventKind::IntensityExceeded { intensity: 2, .. })),
        "{fresh:#?}"
    );
    let parked = parked.unwrap();
    tokio::time::timeout(WAIT, parked.wait(None))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        parked.get_status(),
        ActorStatus::Stopped,
        "the parked actor is let go"
    );
}

#[tokio::test(start_paused = true)]
async fn a_panic_in_pre_start_during_an_in_place_restart_is_a_failed_restart() {
    let journal = Journal::new();
    let agent = Agent {
        panic_on_start: Some(2),
        ..Agent::new(&journal)
    };
    let sup = Supervisor::start(root().child(ChildSpec::actor("agent", agent, ()).in_place(true)))
        .await
        .unwrap();
    let mut events = sup.subscribe();
    let first = agent_ref(&sup, "agent").await;
    first.send_message(Msg::Poison(1)).unwrap();
    first.send_message(Msg::Item(1)).unwrap();
    let seen = events_through(&mut events, restarted_at("root/agent")).await;
    assert_eq!(
        at(&seen, "root/agent"),
        [
            &HealingEventKind::ChildExited {
                reason: ExitReason::Failed("poison 1".into()),
                will_restart: true
            },
            &HealingEventKind::RestartFailed {
                cause: "pre_start 2 panicked".into()
            },
            &HealingEventKind::FreshRestart {
                cause: FreshCause::StartFailed,
                incarnation: 3
            },
            &HealingEventKind::ChildRestarted { restarts: 1 },
        ]
    );
    assert_ne!(
        agent_ref(&sup, "agent").await.get_id(),
        first.get_id(),
        "spawned fresh"
    );
    tokio::time::timeout(WAIT, first.wait(None))
        .await
        .unwrap()
        .unwrap();
    let window = sup.health().await.unwrap().intensity.unwrap();
    assert_eq!(window.used, 2, "the failed attempt counts again, as in OTP");
    // Its mailbox went with the failed start: item 1 was never handled.
    assert_eq!(journal.entries(), ["start 1", "stop 1", "start 3"]);
    sup.stop(WAIT).await;
}

#[tokio::test(start_paused = true)]
async fn a_kill_from_outside_falls_back_to_a_fresh_spawn() {
    let journal = Journal::new();
    let sup =
        Supervisor::start(root().child(ChildSpec::actor("agent", Agent::new(&journal), ()).in_place(true)))
            .await
            .unwrap();
    let mut events = sup.subscribe();
    let first = agent_ref(&sup, "agent").await;
    first.kill();
    let seen = events_through(&mut events, restarted_at("root/agent")).await;
    assert!(
        at(&seen, "root/agent").contains(&&HealingEventKind::FreshRestart {
            cause: FreshCause::Killed,
            incarnation: 2
        })
    );
    assert_ne!(agent_ref(&sup, "agent").await.get_id(), first.get_id());
    sup.stop(WAIT).await;
}

#[tokio::test(start_paused = true)]
async fn a_watchdog_kill_of_a_hung_handler_falls_back_to_a_fresh_spawn() {
    let lab = Lab::new();
    let watch = Watch::per_message(Duration::from_millis(100)).grace(Duration::from_millis(50));
    let spec = ChildSpec::actor("llm", lab.actor("llm"), ())
        .watch(watch)
        .in_place(true);
    let sup = Supervisor::start(root().child(spec)).await.unwrap();
    let mut events = sup.subscribe();
    let first = current(&sup, "llm").await;
    tell(&sup, "llm", Cmd::Hang).await;
    let seen = events_through(&mut events, restarted_at("root/llm")).await;
    let kinds = at(&seen, "root/llm");
    assert!(kinds.contains(&&HealingEventKind::HungKilled), "{kinds:#?}");
    assert!(
        kinds.contains(&&HealingEventKind::FreshRestart {
            cause: FreshCause::Hung,
            incarnation: 2
        }),
        "{kinds:#?}"
    );
    assert_ne!(current(&sup, "llm").await.get_id(), first.get_id());
    // An error in a watched handler is still restarted in place.
    tell(&sup, "llm", Cmd::Fail).await;
    let seen = events_through(&mut events, restarted_at("root/llm")).await;
    assert!(at(&seen, "root/llm").contains(&&HealingEventKind::RestartedInPlace { incarnation: 3 }));
    sup.stop(WAIT).await;
}

#[tokio::test(start_paused = true)]
async fn a_group_restart_resumes_the_failed_child_and_spawns_stopped_siblings_fresh() {
    let journal = Journal::new();
    let spec = root()
        .strategy(Strategy::OneForAll)
        .child(ChildSpec::actor("a", Agent::new(&journal), ()).in_place(true))
        .child(ChildSpec::actor("b", Agent::new(&journal), ()).in_place(true));
    let sup = Supervisor::start(spec).await.unwrap();
    let mut events = sup.subscribe();
    let (a, b) = (agent_ref(&sup, "a").await, agent_ref(&sup, "b").await);
    b.send_message(Msg::Poison(1)).unwrap();
    b.send_message(Msg::Item(1)).unwrap();
    let seen = events_through(&mut events, restarted_at("root/b")).await;
    assert!(at(&seen, "root/a").contains(&&HealingEventKind::FreshRestart {
        cause: FreshCause::GroupRestart,
        incarnation: 2
    }));
    assert!(at(&seen, "root/b").contains(&&HealingEventKind::RestartedInPlace { incarnation: 2 }));
    assert_ne!(
        agent_ref(&sup, "a").await.get_id(),
        a.get_id(),
        "a was stopped and spawned fresh"
    );
    assert_eq!(
        agent_ref(&sup, "b").await.get_id(),
        b.get_id(),
        "b kept its mailbox"
    );
    // a stopped (its post_stop, by the group) after b's own cleanup; both
    // start again in start order; b then handles what was queued.
    assert_eq!(
        journal.wait_len(7).await,
        [
            "start 1",
            "start 1",
            "stop 1",
            "stop 1",
            "start 2",
            "start 2",
            "item 1 by 2"
        ]
    );
    sup.stop(WAIT).await;
}

#[tokio::test(start_paused = true)]
async fn a_child_that_is_not_restarted_lets_its_parked_actor_go() {
    let journal = Journal::new();
    let spec = root().child(
        ChildSpec::actor("agent", Agent::new(&journal), ())
            .in_place(true)
            .restart(Restart::Temporary),
    );
    let sup = Supervisor::start(spec).await.unwrap();
    let mut events = sup.subscribe();
    let agent = agent_ref(&sup, "agent").await;
    agent.send_message(Msg::Poison(1)).unwrap();
    events_through(&mut events, |e| matches!(e.kind, HealingEventKind::ChildRemoved)).await;
    tokio::time::timeout(WAIT, agent.wait(None))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(sup.count_children().await.unwrap().specs, 0);
    sup.stop(WAIT).await;
}

#[tokio::test]
async fn in_place_is_only_for_actor_children_and_the_sink_must_take_their_messages() {
    let task = ChildSpec::task("task", |_| async { Ok(()) }).in_place(true);
    assert!(matches!(
        Supervisor::start(SupervisorSpec::new("root").child(task)).await,
        Err(SupervisorStartError::InvalidSpec(
            SpecError::InPlaceNeedsActor { .. }
        ))
    ));
    let (sink, _letters) = DeadLetterSink::<String>::channel(1);
    let wrong = ChildSpec::actor("agent", Agent::new(&Journal::new()), ()).dead_letters(sink);
    assert!(matches!(
        Supervisor::start(SupervisorSpec::new("root").child(wrong)).await,
        Err(SupervisorStartError::InvalidSpec(
            SpecError::DeadLetterType { .. }
        ))
    ));
    let plain = ChildSpec::actor("agent", Agent::new(&Journal::new()), ());
    assert_eq!(plain.restarts_in_place(), hale_core::in_place::IN_PLACE_DEFAULT);
}
