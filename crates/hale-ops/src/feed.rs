//! The feed: one task per [`Ops`](crate::Ops) that reads the tree's healing
//! events and the resilience events, counts them into the metrics, keeps
//! the breaker board, and passes each event on to the `/events` clients.
//!
//! The tree's and the policies' buses are bounded too: if the feed falls
//! more than a bus's capacity behind, the events it missed are counted in
//! `hale_ops_events_missed_total` (the counters undercount by that much; the
//! snapshot-based gauges and `/tree` are unaffected).
//!
//! The hand-off to clients is a `tokio::sync::broadcast` channel of bounded
//! capacity ([`OpsBuilder::event_buffer`](crate::OpsBuilder::event_buffer)):
//! a client that falls further behind than that loses the oldest events and
//! is sent a fresh full snapshot instead. The feed itself never waits for a
//! client.

use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use hale_core::HealingEvent;
use hale_resilience::ResilienceEvent;
use serde::{Deserialize, Serialize};
use tokio::sync::broadcast;
use tokio::task::JoinHandle;

use crate::breakers::BreakerBoard;
use crate::metrics::{OpsMetrics, ResilienceMetrics};
use crate::source::{HealingFeed, Received, ResilienceFeed};
use crate::workflows::AuditEntry;

/// How often buffered histogram samples are folded into buckets when
/// nobody scrapes.
const UPKEEP_EVERY: Duration = Duration::from_secs(5);

/// One item of the `/events` stream.
///
/// # Examples
///
/// ```
/// use hale_ops::{AuditEntry, OpsEvent};
///
/// let entry = AuditEntry {
///     at_ms: 1,
///     actor: "alice".into(),
///     action: "restart".into(),
///     target: "root/a".into(),
///     outcome: "ok".into(),
/// };
/// assert_eq!(OpsEvent::Audit(entry).name(), "audit");
/// ```
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", content = "event", rename_all = "snake_case")]
#[non_exhaustive]
pub enum OpsEvent {
    /// Something a supervisor did or saw.
    Healing(HealingEvent),
    /// Something a resilience policy did.
    Resilience(ResilienceEvent),
    /// An admin action, with who did it.
    Audit(AuditEntry),
}

impl OpsEvent {
    /// The server-sent event's name: `healing`, `resilience` or `audit`.
    pub fn name(&self) -> &'static str {
        match self {
            Self::Healing(_) => "healing",
            Self::Resilience(_) => "resilience",
            Self::Audit(_) => "audit",
        }
    }
}

/// What the feed keeps, shared with the handlers.
pub(crate) struct FeedState {
    breakers: Mutex<BreakerBoard>,
    events: broadcast::Sender<Arc<OpsEvent>>,
}

impl FeedState {
    pub(crate) fn new(capacity: usize) -> Self {
        let (events, _) = broadcast::channel(capacity);
        Self {
            breakers: Mutex::default(),
            events,
        }
    }

    pub(crate) fn breakers(&self) -> MutexGuard<'_, BreakerBoard> {
        self.breakers.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// A new reader of the events from now on.
    pub(crate) fn subscribe(&self) -> broadcast::Receiver<Arc<OpsEvent>> {
        self.events.subscribe()
    }

    /// Passes an event on to the clients (none listening is fine).
    pub(crate) fn publish(&self, event: OpsEvent) {
        let _ = self.events.send(Arc::new(event));
    }
}

/// Aborts the feed task when the last [`Ops`](crate::Ops) handle is dropped.
#[derive(Debug)]
pub(crate) struct FeedTask(JoinHandle<()>);

impl FeedTask {
    /// Whether the task still runs.
    pub(crate) fn is_running(&self) -> bool {
        !self.0.is_finished()
    }
}

impl Drop for FeedTask {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// Starts the feed on the current tokio runtime.
pub(crate) fn spawn(
    mut healing: HealingFeed,
    mut resilience: Option<ResilienceFeed>,
    state: Arc<FeedState>,
    metrics: Arc<OpsMetrics>,
) -> FeedTask {
    FeedTask(tokio::spawn(async move {
        let mut counters = metrics.healing();
        let mut resilience_counters = ResilienceMetrics::default();
        let mut upkeep = tokio::time::interval(UPKEEP_EVERY);
        upkeep.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                received = healing.recv() => match received {
                    Received::Event(event) => {
                        counters.record(&event);
                        state.publish(OpsEvent::Healing(event));
                    }
                    Received::Lagged(missed) => metrics.missed(missed),
                    Received::Closed => break,
                },
                received = next_resilience(&mut resilience) => match received {
                    Received::Event(event) => {
                        resilience_counters.record(&metrics, &event);
                        state.breakers().record(&event);
                        state.publish(OpsEvent::Resilience(event));
                    }
                    Received::Lagged(missed) => metrics.missed(missed),
                    // The policies are gone; the tree may live on.
                    Received::Closed => resilience = None,
                },
                _ = upkeep.tick() => metrics.upkeep(),
            }
        }
        tracing::debug!(target: "hale::ops", "the tree's event bus closed; the feed stops");
    }))
}

/// The next resilience event, or never when there is no resilience bus.
async fn next_resilience(feed: &mut Option<ResilienceFeed>) -> Received<ResilienceEvent> {
    match feed {
        Some(feed) => feed.recv().await,
        None => std::future::pending().await,
    }
}
