//! Running one functional probe.

use crate::events::{EventBus, HealingEventKind};
use crate::watchdog::Probe;
use crate::watchdog::actor::Registration;

/// Runs `probe` once against the registered incarnation (the watchdog
/// spawns the future as a task it tracks) and records the answer: a failure
/// marks the child degraded, a pass clears it. Emits a `ProbeResult` event
/// either way.
pub(crate) fn run_probe(
    registration: &Registration,
    probe: Probe,
    events: EventBus,
) -> impl std::future::Future<Output = ()> + Send + 'static {
    let actor = registration.actor.clone();
    let heartbeat = registration.heartbeat.clone();
    let path = registration.path.clone();
    async move {
        let outcome = match tokio::time::timeout(probe.timeout, (probe.check)(actor)).await {
            Ok(answer) => answer,
            Err(_) => Err(format!("no answer within {:?}", probe.timeout)),
        };
        heartbeat.set_degraded(outcome.is_err());
        events.emit(
            &path,
            HealingEventKind::ProbeResult {
                passed: outcome.is_ok(),
                detail: outcome.err(),
            },
        );
    }
}
