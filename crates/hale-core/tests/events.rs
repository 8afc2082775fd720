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
