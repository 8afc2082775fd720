//! What the policies report, and how to listen.
//!
//! Every retry, circuit-breaker state change, rejection, timeout, fallback taken,
//! escalation and degradation becomes a [`ResilienceEvent`]: a serde-serializable record
//! with a Unix-millisecond timestamp and the name of the policy (usually named after the
//! dependency it guards). Each event goes two ways:
//!
//! - to `tracing`, under the target `hale_resilience`, at `warn` for a breaker opening or
//!   an escalation, `info` for other state changes, fallbacks and degradations, and
//!   `debug` for the frequent ones (retries, rejections, timeouts, joins);
//! - to every subscriber of the [`ResilienceBus`] the policy was built with. The bus is
//!   bounded: a slow reader never makes a policy wait; one that falls more than the
//!   capacity behind is told how many events it missed.
//!
//! ```
//! use hale_resilience::{ResilienceBus, EventKind};
//!
//! let bus = ResilienceBus::new();
//! let mut events = bus.subscribe();
//! bus.emit("payments", EventKind::TimedOut { after_ms: 250 });
//!
//! let event = events.try_recv().unwrap();
//! assert_eq!(event.policy, "payments");
//! assert_eq!(event.kind, EventKind::TimedOut { after_ms: 250 });
//! ```

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::breaker::BreakerState;
use crate::error::Rejection;
use crate::util::{millis, unix_millis};

/// One thing a policy did.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ResilienceEvent {
    /// When it happened, in milliseconds since the Unix epoch (wall clock).
    pub at_unix_ms: u64,
    /// Name of the policy that reported it.
    pub policy: String,
    /// What happened.
    #[serde(flatten)]
    pub kind: EventKind,
}

/// Why a retry policy stopped trying.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum GiveUpReason {
    /// The error was classified as not retryable.
    NonRetryable,
    /// The maximum number of attempts was used.
    AttemptsExhausted,
    /// The next attempt could not start before the overall deadline.
    Deadline,
}

/// Which policy refused a call.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RejectionKind {
    /// An open circuit breaker.
    CircuitOpen,
    /// A full bulkhead.
    BulkheadFull,
    /// A rate limiter out of tokens.
    RateLimited,
    /// A single-flight guard already running the key.
    AlreadyRunning,
}

/// The kinds of events, each with its details.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "event", rename_all = "snake_case")]
#[non_exhaustive]
pub enum EventKind {
    /// An attempt failed and another one is scheduled.
    RetryScheduled {
        /// The attempt that failed (1 for the first).
        attempt: u32,
        /// Wait before the next attempt.
        delay_ms: u64,
        /// The error of the failed attempt.
        error: String,
    },
    /// A retry policy stopped and returned the last error.
    RetryGaveUp {
        /// Attempts made.
        attempts: u32,
        /// Why it stopped.
        reason: GiveUpReason,
        /// The last error.
        error: String,
    },
    /// A circuit breaker changed state.
    BreakerTransition {
        /// State before.
        from: BreakerState,
        /// State after.
        to: BreakerState,
    },
    /// A policy refused a call without calling the dependency.
    CallRejected {
        /// Which kind of policy refused.
        reason: RejectionKind,
        /// When the policy expects to accept calls again, if it knows.
        retry_after_ms: Option<u64>,
    },
    /// An attempt was cancelled by a timeout.
    TimedOut {
        /// The limit that was reached.
        after_ms: u64,
    },
    /// An alternative of a fallback chain failed and the next one is tried.
    FallbackTaken {
        /// The alternative that failed.
        failed: String,
        /// The alternative tried next.
        next: String,
        /// Why it failed.
        error: String,
    },
    /// Every alternative of a fallback chain failed; the escalation handler runs.
    Escalated {
        /// How many alternatives failed.
        failed_alternatives: u32,
    },
    /// An optional step failed and its neutral default was used.
    Degraded {
        /// The step.
        step: String,
        /// Why it failed.
        error: String,
    },
    /// A caller joined work already running for the same key instead of starting it.
    SingleFlightJoined {
        /// The key, formatted with `Debug`.
        key: String,
    },
    /// A resource mediator gave up acquiring a set of resources.
    ResourcesTimedOut {
        /// Every resource requested.
        resources: Vec<String>,
        /// The one still unavailable when time ran out.
        waiting_for: String,
        /// How long the caller waited.
        waited_ms: u64,
    },
}

impl EventKind {
    /// The event for a rejection.
    pub fn rejected(rejection: &Rejection) -> Self {
        let reason = match rejection {
            Rejection::CircuitOpen { .. } => RejectionKind::CircuitOpen,
            Rejection::BulkheadFull { .. } => RejectionKind::BulkheadFull,
            Rejection::RateLimited { .. } => RejectionKind::RateLimited,
            Rejection::AlreadyRunning { .. } => RejectionKind::AlreadyRunning,
        };
        Self::CallRejected {
            reason,
            retry_after_ms: rejection.retry_after().map(millis),
        }
    }
}

impl fmt::Display for EventKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::RetryScheduled {
                attempt,
                delay_ms,
                error,
            } => write!(f, "attempt {attempt} failed ({error}); retrying in {delay_ms} ms"),
            Self::RetryGaveUp {
                attempts,
                reason,
                error,
            } => write!(f, "gave up after {attempts} attempt(s), {reason:?}: {error}"),
            Self::BreakerTransition { from, to } => {
                write!(f, "circuit breaker {from:?} -> {to:?}")
            }
            Self::CallRejected {
                reason,
                retry_after_ms,
            } => match retry_after_ms {
                Some(ms) => write!(f, "call rejected ({reason:?}); retry in {ms} ms"),
                None => write!(f, "call rejected ({reason:?})"),
            },
            Self::TimedOut { after_ms } => write!(f, "timed out after {after_ms} ms"),
            Self::FallbackTaken { failed, next, error } => {
                write!(f, "`{failed}` failed ({error}); falling back to `{next}`")
            }
            Self::Escalated { failed_alternatives } => {
                write!(f, "all {failed_alternatives} alternative(s) failed; escalating")
            }
            Self::Degraded { step, error } => {
                write!(f, "optional step `{step}` failed ({error}); using its default")
            }
            Self::SingleFlightJoined { key } => write!(f, "joined running work for {key}"),
            Self::ResourcesTimedOut {
                resources,
                waiting_for,
                waited_ms,
            } => write!(
                f,
                "gave up acquiring {resources:?} after {waited_ms} ms, waiting for `{waiting_for}`"
            ),
        }
    }
}

/// Emits an event to `tracing` at a level that matches how much an operator should care.
fn trace(event: &ResilienceEvent) {
    let policy = event.policy.as_str();
    let kind = &event.kind;
    match kind {
        EventKind::BreakerTransition {
            to: BreakerState::Open | BreakerState::ForcedOpen,
            ..
        }
        | EventKind::Escalated { .. }
        | EventKind::ResourcesTimedOut { .. } => {
            tracing::warn!(target: "hale_resilience", policy, "{kind}");
        }
        EventKind::BreakerTransition { .. }
        | EventKind::FallbackTaken { .. }
        | EventKind::Degraded { .. }
        | EventKind::RetryGaveUp { .. } => {
            tracing::info!(target: "hale_resilience", policy, "{kind}");
        }
        EventKind::RetryScheduled { .. }
        | EventKind::CallRejected { .. }
        | EventKind::TimedOut { .. }
        | EventKind::SingleFlightJoined { .. } => {
            tracing::debug!(target: "hale_resilience", policy, "{kind}");
        }
    }
}

/// Fans policy events out to subscribers (and always to `tracing`).
///
/// Cloning is cheap and every clone feeds the same subscribers, so one bus can be given
/// to all the policies of a service. A policy built without a bus still traces its events.
///
/// The bus is bounded, like the healing events' bus: each subscriber may fall
/// [`capacity`](Self::capacity) events behind; beyond that its oldest unread events are
/// overwritten and its next read answers [`RecvError::Lagged`](hale_util::RecvError::Lagged)
/// with how many it missed. Emitting never waits for a subscriber.
#[derive(Clone, Default)]
pub struct ResilienceBus {
    subscribers: hale_util::Broadcast<ResilienceEvent>,
}

/// One subscriber's view of a [`ResilienceBus`]: the events emitted since it subscribed,
/// in order, within the bus's capacity.
pub type ResilienceStream = hale_util::EventStream<ResilienceEvent>;

impl ResilienceBus {
    /// A bus with no subscribers yet and the default capacity
    /// ([`hale_util::DEFAULT_CAPACITY`]).
    pub fn new() -> Self {
        Self::default()
    }

    /// A bus whose subscribers may each fall up to `capacity` events behind (taken into
    /// `1..=`[`hale_util::MAX_CAPACITY`], rounded up to a power of two).
    pub fn with_capacity(capacity: usize) -> Self {
        Self {
            subscribers: hale_util::Broadcast::with_capacity(capacity),
        }
    }

    /// How many unread events a subscriber may hold before it misses some.
    pub fn capacity(&self) -> usize {
        self.subscribers.capacity()
    }

    /// A new subscriber that receives every event emitted from now on, within the
    /// capacity.
    pub fn subscribe(&self) -> ResilienceStream {
        self.subscribers.subscribe()
    }

    /// Number of live subscribers.
    pub fn subscriber_count(&self) -> usize {
        self.subscribers.subscriber_count()
    }

    /// Records an event for the policy named `policy`: traces it and sends it to every
    /// subscriber. Never waits.
    pub fn emit(&self, policy: &str, kind: EventKind) {
        let event = ResilienceEvent {
            at_unix_ms: unix_millis(),
            policy: policy.to_owned(),
            kind,
        };
        trace(&event);
        self.subscribers.send(event);
    }

    /// Records a rejection under the name of the policy that refused.
    pub(crate) fn emit_rejection(&self, rejection: &Rejection) {
        self.emit(rejection.policy(), EventKind::rejected(rejection));
    }
}

impl fmt::Debug for ResilienceBus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ResilienceBus")
            .field("capacity", &self.capacity())
            .field("subscribers", &self.subscriber_count())
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_subscriber_gets_every_event_and_dropped_ones_are_pruned() {
        let bus = ResilienceBus::new();
        let mut first = bus.subscribe();
        let second = bus.subscribe();
        drop(second);
        bus.emit("db", EventKind::TimedOut { after_ms: 5 });
        bus.emit("db", EventKind::TimedOut { after_ms: 6 });
        assert_eq!(bus.subscriber_count(), 1);
        let kinds: Vec<_> = first.drain().into_iter().map(|e| e.kind).collect();
        assert_eq!(
            kinds,
            vec![
                EventKind::TimedOut { after_ms: 5 },
                EventKind::TimedOut { after_ms: 6 }
            ]
        );
    }

    #[test]
    fn events_serialize_flat_with_a_tag() {
        let event = ResilienceEvent {
            at_unix_ms: 1,
            policy: "llm".into(),
            kind: EventKind::BreakerTransition {
                from: BreakerState::Closed,
                to: BreakerState::Open,
            },
        };
        let json = serde_json::to_value(&event).unwrap();
        assert_eq!(
            json,
            serde_json::json!({
                "at_unix_ms": 1,
                "policy": "llm",
                "event": "breaker_transition",
                "from": "closed",
                "to": "open"
            })
        );
        let back: ResilienceEvent = serde_json::from_value(json).unwrap();
        assert_eq!(back, event);
    }

    #[test]
    fn every_kind_round_trips_through_json() {
        let kinds = vec![
            EventKind::RetryScheduled {
                attempt: 1,
                delay_ms: 10,
                error: "e".into(),
            },
            EventKind::RetryGaveUp {
                attempts: 3,
                reason: GiveUpReason::Deadline,
                error: "e".into(),
            },
            EventKind::BreakerTransition {
                from: BreakerState::HalfOpen,
                to: BreakerState::Closed,
            },
            EventKind::rejected(&Rejection::RateLimited {
                limiter: "l".into(),
                retry_after: std::time::Duration::from_millis(1500),
            }),
            EventKind::TimedOut { after_ms: 5 },
            EventKind::FallbackTaken {
                failed: "a".into(),
                next: "b".into(),
                error: "e".into(),
            },
            EventKind::Escalated {
                failed_alternatives: 2,
            },
            EventKind::Degraded {
                step: "s".into(),
                error: "e".into(),
            },
            EventKind::SingleFlightJoined { key: "k".into() },
            EventKind::ResourcesTimedOut {
                resources: vec!["a".into()],
                waiting_for: "a".into(),
                waited_ms: 1,
            },
        ];
        for kind in kinds {
            let event = ResilienceEvent {
                at_unix_ms: 7,
                policy: "p".into(),
                kind,
            };
            let json = serde_json::to_string(&event).unwrap();
            let back: ResilienceEvent = serde_json::from_str(&json).unwrap();
            assert_eq!(back, event, "{json}");
            assert!(!event.kind.to_string().is_empty());
        }
        let limited = EventKind::rejected(&Rejection::RateLimited {
            limiter: "l".into(),
            retry_after: std::time::Duration::from_millis(1500),
        });
        assert_eq!(
            limited,
            EventKind::CallRejected {
                reason: RejectionKind::RateLimited,
                retry_after_ms: Some(1500)
            }
        );
    }
}
