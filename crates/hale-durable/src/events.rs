//! Durable events: a bounded stream of what the engine did, for metrics,
//! an operator's page or a test to wait on.
//!
//! The stream is a broadcast channel of a fixed capacity
//! ([`DurableBuilder::event_capacity`](crate::DurableBuilder::event_capacity)).
//! A subscriber that falls more than that far behind loses the oldest
//! events and is told how many ([`EventsError::Lagged`]); the engine never
//! waits for a subscriber and memory never grows with the event rate.

use std::time::{SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};
use tokio::sync::broadcast;

/// One thing the engine did, with when and to which workflow.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct DurableEvent {
    /// Wall-clock time, in ms since the Unix epoch.
    pub at_ms: i64,
    /// The workflow.
    pub workflow_id: String,
    /// What happened.
    pub kind: DurableEventKind,
}

/// What happened, in a [`DurableEvent`].
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "event", rename_all = "snake_case")]
#[non_exhaustive]
pub enum DurableEventKind {
    /// A new run of a workflow started.
    Started {
        /// The workflow's name.
        name: String,
    },
    /// A step's result was committed.
    CheckpointCommitted {
        /// The step.
        step: String,
        /// Its seq.
        seq: i64,
        /// From handing the write to the store to its commit, in µs.
        commit_latency_us: u64,
    },
    /// The workflow completed.
    Completed,
    /// A workflow that was running when its process died (or whose agent
    /// crashed) was resumed from its last checkpoint.
    Resumed {
        /// Whether its supervisor restarted it after a crash (otherwise a
        /// process start resumed it).
        after_crash: bool,
    },
    /// A workflow could not be resumed (its definition changed, or it is not
    /// registered here).
    ResumeFailed {
        /// Why.
        error: String,
    },
    /// The workflow was dead-lettered.
    DeadLettered {
        /// Why.
        error: String,
    },
    /// A dead letter was replayed.
    Replayed {
        /// The dead letter's id.
        dead_letter: i64,
        /// Who replayed it.
        by: String,
    },
    /// The workflow stopped at an approval gate.
    ApprovalRequested {
        /// The gate.
        gate: String,
    },
    /// A gate was decided.
    ApprovalDecided {
        /// The gate.
        gate: String,
        /// Approved or rejected.
        approved: bool,
        /// Who.
        by: String,
    },
    /// A gate waited past its deadline and was escalated.
    ApprovalEscalated {
        /// The gate.
        gate: String,
    },
    /// Compensation of the done steps started.
    CompensationStarted {
        /// The error that made it necessary.
        error: String,
    },
    /// Compensation ended.
    CompensationFinished {
        /// Whether every step was compensated.
        ok: bool,
    },
    /// The budget guard refused a step.
    BudgetRefused {
        /// The step.
        step: String,
        /// Which limit.
        reason: String,
    },
}

/// Why [`DurableEvents::recv`] returned no event.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum EventsError {
    /// The subscriber fell behind; this many events were dropped for it.
    /// The next `recv` continues with the oldest event still kept.
    #[error("fell behind: {0} events dropped")]
    Lagged(u64),
    /// The engine is gone.
    #[error("the durable engine is gone")]
    Closed,
}

/// A subscription to the durable events from the moment it was made
/// ([`Durable::subscribe`](crate::Durable::subscribe)).
///
/// # Examples
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// use hale_durable::{Durable, DurableEventKind, SqliteStore, StepError, Workflow, WorkflowContext, WorkflowError};
///
/// struct One;
/// impl Workflow for One {
///     type Input = ();
///     type Output = u8;
///     const NAME: &'static str = "one";
///     const STEPS: &'static [&'static str] = &["only"];
///     async fn run(&self, ctx: &mut WorkflowContext, (): ()) -> Result<u8, WorkflowError> {
///         ctx.step("only").run((), |(), _| async { Ok::<_, StepError>(1) }).await
///     }
/// }
///
/// let dir = tempfile::tempdir()?;
/// let durable = Durable::builder(SqliteStore::open(dir.path().join("ev.db")).await?).register(One).build().await?;
/// let mut events = durable.subscribe();
/// durable.start::<One>("one-1", ()).await?.result().await?;
/// let mut latencies = Vec::new();
/// while let Some(event) = events.try_recv()? {
///     if let DurableEventKind::CheckpointCommitted { commit_latency_us, .. } = event.kind {
///         latencies.push(commit_latency_us);
///     }
/// }
/// assert_eq!(latencies.len(), 1);
/// # Ok(())
/// # }
/// ```
#[derive(Debug)]
pub struct DurableEvents {
    receiver: broadcast::Receiver<DurableEvent>,
}

impl DurableEvents {
    /// The next event.
    ///
    /// # Errors
    /// [`EventsError::Lagged`] after falling behind, [`EventsError::Closed`]
    /// once the engine is gone.
    ///
    /// # Cancel safety
    /// Cancel safe: a dropped call takes no event.
    pub async fn recv(&mut self) -> Result<DurableEvent, EventsError> {
        self.receiver.recv().await.map_err(|error| match error {
            broadcast::error::RecvError::Lagged(count) => EventsError::Lagged(count),
            broadcast::error::RecvError::Closed => EventsError::Closed,
        })
    }

    /// The next event if one is waiting.
    ///
    /// # Errors
    /// As [`recv`](Self::recv); `Ok(None)` when none is waiting.
    pub fn try_recv(&mut self) -> Result<Option<DurableEvent>, EventsError> {
        match self.receiver.try_recv() {
            Ok(event) => Ok(Some(event)),
            Err(broadcast::error::TryRecvError::Empty) => Ok(None),
            Err(broadcast::error::TryRecvError::Lagged(count)) => Err(EventsError::Lagged(count)),
            Err(broadcast::error::TryRecvError::Closed) => Err(EventsError::Closed),
        }
    }
}

/// The sending side, shared by the engine's parts.
#[derive(Clone, Debug)]
pub(crate) struct EventSender {
    sender: broadcast::Sender<DurableEvent>,
}

impl EventSender {
    pub(crate) fn new(capacity: usize) -> Self {
        Self {
            sender: broadcast::channel(capacity.max(1)).0,
        }
    }

    pub(crate) fn subscribe(&self) -> DurableEvents {
        DurableEvents {
            receiver: self.sender.subscribe(),
        }
    }

    /// Whether anyone subscribes (or `tracing` wants the events): lets a
    /// hot path skip building an event nobody reads.
    pub(crate) fn is_watched(&self) -> bool {
        self.sender.receiver_count() > 0 || tracing::enabled!(target: "hale::durable", tracing::Level::DEBUG)
    }

    pub(crate) fn emit(&self, workflow_id: &str, kind: DurableEventKind) {
        tracing::debug!(target: "hale::durable", workflow = workflow_id, ?kind, "durable event");
        if self.sender.receiver_count() == 0 {
            return;
        }
        // No subscriber left is not an error: nobody is listening.
        let _ = self.sender.send(DurableEvent {
            at_ms: now_ms(),
            workflow_id: workflow_id.to_owned(),
            kind,
        });
    }
}

/// Wall-clock milliseconds since the Unix epoch (0 for a clock before 1970).
pub(crate) fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|elapsed| i64::try_from(elapsed.as_millis()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}
