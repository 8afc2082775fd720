//! Folding the event streams of a run into counts, recovery times and a hash.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use hale_core::{ChildPath, EventStream, HealingEvent, HealingEventKind, RecvError};
use hale_resilience::{BreakerState, EventKind, ResilienceEvent, ResilienceStream};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;
use tokio::time::Instant;

use crate::injector::fnv;

/// What the collector has seen.
#[derive(Debug, Default, Clone)]
pub(crate) struct Seen {
    pub(crate) restarts: u64,
    pub(crate) escalations: u64,
    pub(crate) hung: u64,
    pub(crate) stuck: u64,
    pub(crate) duplicates_refused: u64,
    pub(crate) circuit_openings: u64,
    pub(crate) retries: u64,
    pub(crate) fallbacks: u64,
    pub(crate) recoveries: Vec<Duration>,
    pub(crate) healing_hash: u64,
    pub(crate) resilience_hash: u64,
    pub(crate) events: u64,
    pub(crate) events_missed: u64,
    down_since: HashMap<ChildPath, Instant>,
}

impl Seen {
    fn healing(&mut self, event: &HealingEvent) {
        self.events += 1;
        // The hash covers where and what, never when.
        self.healing_hash = mix(self.healing_hash, &(&event.path, &event.kind));
        match &event.kind {
            HealingEventKind::ChildExited {
                will_restart: true, ..
            } => {
                self.down_since
                    .entry(event.path.clone())
                    .or_insert_with(Instant::now);
            }
            HealingEventKind::ChildRestarted { .. } => {
                self.restarts += 1;
                self.recovered(&event.path);
            }
            // A child whose supervisor gave up before restarting it comes
            // back as a fresh start under the supervisor's replacement: that
            // is its recovery. (Left open, the exit would be charged to the
            // child's next restart, however much later.)
            HealingEventKind::ChildStarted => self.recovered(&event.path),
            HealingEventKind::IntensityExceeded { .. } | HealingEventKind::WatchdogExited { .. } => {
                self.escalations += 1
            }
            HealingEventKind::HeartbeatMissed { .. } => self.hung += 1,
            HealingEventKind::StuckTask { .. } => self.stuck += 1,
            HealingEventKind::DuplicateRefused { .. } => self.duplicates_refused += 1,
            _ => {}
        }
    }

    fn recovered(&mut self, path: &ChildPath) {
        if let Some(since) = self.down_since.remove(path) {
            self.recoveries.push(since.elapsed());
        }
    }

    fn resilience(&mut self, event: &ResilienceEvent) {
        self.events += 1;
        self.resilience_hash = mix(self.resilience_hash, &(&event.policy, &event.kind));
        match &event.kind {
            EventKind::BreakerTransition {
                to: BreakerState::Open,
                ..
            } => self.circuit_openings += 1,
            EventKind::RetryScheduled { .. } => self.retries += 1,
            EventKind::FallbackTaken { .. } => self.fallbacks += 1,
            _ => {}
        }
    }
}

fn mix(hash: u64, value: &impl serde::Serialize) -> u64 {
    let bytes = serde_json::to_vec(value).unwrap_or_default();
    fnv(&[hash.to_le_bytes().as_slice(), &bytes].concat())
}

/// The next event; `None` once the bus is closed. A lag is counted by the
/// stream itself ([`hale_util::EventStream::missed`]) and reported at the end.
async fn next<E: Clone>(stream: &mut hale_util::EventStream<E>) -> Option<E> {
    loop {
        match stream.recv().await {
            Ok(event) => return Some(event),
            Err(RecvError::Lagged(_)) => {}
            Err(RecvError::Closed) => return None,
        }
    }
}

/// A task that reads both event streams as they come, so recovery times are
/// taken when the events happen.
pub(crate) struct Collector {
    seen: Arc<Mutex<Seen>>,
    stop: Option<oneshot::Sender<()>>,
    task: JoinHandle<()>,
}

impl Collector {
    pub(crate) fn spawn(mut healing: EventStream, mut resilience: ResilienceStream) -> Self {
        let seen = Arc::new(Mutex::new(Seen::default()));
        let (stop, mut stopped) = oneshot::channel();
        let shared = Arc::clone(&seen);
        let task = tokio::spawn(async move {
            let lock = || hale_util::lock(&shared);
            loop {
                // Biased: events before the stop signal, and one stream's
                // order never depends on the other's.
                tokio::select! {
                    biased;
                    Some(event) = next(&mut healing) => lock().healing(&event),
                    Some(event) = next(&mut resilience) => lock().resilience(&event),
                    _ = &mut stopped => break,
                }
            }
            for event in healing.drain() {
                lock().healing(&event);
            }
            for event in resilience.drain() {
                lock().resilience(&event);
            }
            lock().events_missed += healing.missed() + resilience.missed();
        });
        Self {
            seen,
            stop: Some(stop),
            task,
        }
    }

    /// Reads what is still queued, stops, and returns everything seen.
    pub(crate) async fn finish(mut self) -> Seen {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        let _ = (&mut self.task).await;
        hale_util::lock(&self.seen).clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use hale_core::ExitReason;

    fn event(path: &ChildPath, kind: HealingEventKind) -> HealingEvent {
        HealingEvent {
            timestamp_ms: 0,
            path: path.clone(),
            kind,
            node: None,
        }
    }

    #[tokio::test(start_paused = true)]
    async fn a_fresh_start_after_the_supervisor_gave_up_ends_the_downtime() {
        let team = ChildPath::root("root").child("team");
        let agent = team.child("agent");
        let exited = HealingEventKind::ChildExited {
            reason: ExitReason::Failed("boom".into()),
            will_restart: true,
        };
        let mut seen = Seen::default();
        // The agent fails, its supervisor gives up, and the supervisor's
        // replacement starts the agent 300 ms later.
        seen.healing(&event(&agent, exited.clone()));
        seen.healing(&event(
            &team,
            HealingEventKind::IntensityExceeded {
                intensity: 1,
                period_ms: 1_000,
            },
        ));
        tokio::time::advance(Duration::from_millis(300)).await;
        seen.healing(&event(&agent, HealingEventKind::ChildStarted));
        // Much later it fails again and is restarted within 10 ms: that
        // recovery took 10 ms, not since the first exit.
        tokio::time::advance(Duration::from_secs(60)).await;
        seen.healing(&event(&agent, exited));
        tokio::time::advance(Duration::from_millis(10)).await;
        seen.healing(&event(&agent, HealingEventKind::ChildRestarted { restarts: 1 }));
        assert_eq!(
            seen.recoveries,
            [Duration::from_millis(300), Duration::from_millis(10)]
        );
        assert_eq!(seen.restarts, 1);
    }
}
