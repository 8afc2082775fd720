//! Healing events as data: every kind survives a trip through JSON.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use hale_core::{ChildPath, ExitReason, HealingEvent, HealingEventKind, StopCause, StopOutcome};

#[test]
fn healing_events_serialize_to_json_and_back() {
    let kinds = [
        HealingEventKind::SupervisorStarted { children: 3 },
        HealingEventKind::ChildStarted,
        HealingEventKind::ChildIgnored,
        HealingEventKind::StartFailed {
            cause: "refused".into(),
        },
        HealingEventKind::ChildExited {
            reason: ExitReason::Normal,
            will_restart: true,
        },
        HealingEventKind::ChildExited {
            reason: ExitReason::Shutdown(None),
            will_restart: false,
        },
        HealingEventKind::ChildExited {
            reason: ExitReason::Shutdown(Some("done".into())),
            will_restart: false,
        },
        HealingEventKind::ChildExited {
            reason: ExitReason::Killed,
            will_restart: true,
        },
        HealingEventKind::ChildExited {
            reason: ExitReason::Hung,
            will_restart: true,
        },
        HealingEventKind::ChildExited {
            reason: ExitReason::Failed("boom".into()),
            will_restart: true,
        },
        HealingEventKind::ChildExited {
            reason: ExitReason::Other("gone fishing".into()),
            will_restart: true,
        },
        HealingEventKind::ChildRestarted { restarts: 2 },
        HealingEventKind::RestartFailed {
            cause: "still refused".into(),
        },
        HealingEventKind::ChildStopped {
            cause: StopCause::Terminated,
            outcome: StopOutcome::Exited,
        },
        HealingEventKind::ChildStopped {
            cause: StopCause::GroupRestart,
            outcome: StopOutcome::Killed,
        },
        HealingEventKind::ChildStopped {
            cause: StopCause::SupervisorShutdown,
            outcome: StopOutcome::Stuck,
        },
        HealingEventKind::DuplicateRefused { key: "user-1".into() },
        HealingEventKind::BackoffScheduled {
            delay_ms: 250,
            attempt: 3,
        },
        HealingEventKind::HeartbeatMissed {
            timeout_ms: 1_000,
            late_ms: 20,
        },
        HealingEventKind::HungStopRequested { grace_ms: 500 },
        HealingEventKind::HungKilled,
        HealingEventKind::StuckTask { stuck_total: 1 },
        HealingEventKind::WorkersBlocked { stuck: 1, workers: 2 },
        HealingEventKind::WorkersFreed { stuck: 0, workers: 2 },
        HealingEventKind::WatchdogStalled { stalled_ms: 1_010 },
        HealingEventKind::WatchdogResumed { silent_ms: 3_000 },
        HealingEventKind::ProbeResult {
            passed: false,
            detail: Some("wrong answer".into()),
        },
        HealingEventKind::ChildRemoved,
        HealingEventKind::IntensityExceeded {
            intensity: 1,
            period_ms: 5_000,
        },
        HealingEventKind::AutoShutdown { child: "job".into() },
        HealingEventKind::SupervisorStopped {
            reason: ExitReason::Shutdown(None),
        },
    ];
    let path = ChildPath::root("root").child("mid").child("leaf");
    for (at, kind) in kinds.into_iter().enumerate() {
        let event = HealingEvent {
            timestamp_ms: 1_700_000_000_000 + at as u64,
            path: path.clone(),
            kind,
            node: None,
        };
        let json = serde_json::to_string(&event).unwrap();
        let value: serde_json::Value = serde_json::from_str(&json).unwrap();
        assert_eq!(
            value["path"],
            serde_json::json!(["root", "mid", "leaf"]),
            "{json}"
        );
        assert!(value["kind"]["event"].is_string(), "tagged by its name: {json}");
        assert_eq!(
            serde_json::from_str::<HealingEvent>(&json).unwrap(),
            event,
            "{json}"
        );
    }
}

/// A child "on another machine": its start answers `StartedOn` with a
/// local stand-in, as hale-cluster's remote children do.
mod placed_elsewhere {
    use std::time::Duration;

    use hale_core::{ChildSpec, DynamicStart, DynamicSupervisor, DynamicSupervisorSpec, StartOutcome};
    use ractor::{Actor, ActorProcessingErr, ActorRef};

    use super::*;

    struct StandIn;

    impl Actor for StandIn {
        type Msg = ();
        type State = ();
        type Arguments = ();

        async fn pre_start(&self, _: ActorRef<()>, _: ()) -> Result<(), ActorProcessingErr> {
            Ok(())
        }
    }

    fn remote(id: &str, node: &'static str) -> ChildSpec {
        ChildSpec::new(id, move |ctx| async move {
            let (actor, _) = Actor::spawn_linked(None, StandIn, (), ctx.supervisor().clone())
                .await
                .map_err(hale_core::StartError::from)?;
            Ok(StartOutcome::StartedOn {
                actor: actor.get_cell(),
                node: node.to_owned(),
            })
        })
    }

    #[tokio::test(start_paused = true)]
    async fn a_child_on_another_node_carries_it_in_its_events_and_its_health() {
        let jobs = DynamicSupervisor::start(DynamicSupervisorSpec::new("jobs"))
            .await
            .unwrap();
        let mut events = jobs.subscribe();
        let DynamicStart::Started(child) = jobs.start_child(remote("indexer", "node-b")).await.unwrap()
        else {
            panic!("started");
        };
        let started = events.recv().await.unwrap();
        assert_eq!(
            (started.kind, started.node.as_deref()),
            (HealingEventKind::ChildStarted, Some("node-b"))
        );
        let health = jobs.health().await.unwrap();
        assert_eq!(health.children[0].node.as_deref(), Some("node-b"));
        assert_eq!(health.node, None, "the supervisor itself runs here");

        // Killed there: the exit and the restart say where.
        jobs.child_ref::<()>(child.id)
            .await
            .unwrap()
            .current()
            .unwrap()
            .kill();
        let exited = events.recv().await.unwrap();
        assert!(matches!(exited.kind, HealingEventKind::ChildExited { .. }));
        assert_eq!(exited.node.as_deref(), Some("node-b"));

        // A local child's events carry no node.
        let local = ChildSpec::task("local", |_ctx| async { Ok(()) });
        jobs.start_child(local).await.unwrap();
        let local_event = events
            .wait_for(Duration::from_secs(5), |event| {
                event.path.leaf().starts_with("local")
            })
            .await
            .unwrap();
        assert_eq!(local_event.node, None);
        jobs.stop(Duration::from_secs(5)).await;
    }
}
