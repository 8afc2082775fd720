//! [`WorkflowHandle`]: waits for a run's outcome.

use std::marker::PhantomData;

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use tokio::sync::watch;

use crate::error::DurableError;
use crate::record::{WorkflowRecord, WorkflowStatus};

/// How a run ended, as delivered to its handles.
#[derive(Clone, Debug, PartialEq)]
pub enum Outcome {
    /// Completed; the output as JSON.
    Completed(String),
    /// Ended in a failure (failed, compensated or compensation failed).
    Ended {
        /// How.
        status: WorkflowStatus,
        /// Why.
        error: String,
    },
    /// The run could not be resumed (its definition changed, it is not
    /// registered here, ...); it stays in the store as it was.
    NotResumed(DurableError),
}

impl Outcome {
    pub(crate) fn of(record: &WorkflowRecord) -> Option<Self> {
        match record.status {
            WorkflowStatus::Completed => Some(Self::Completed(
                record.output.clone().unwrap_or_else(|| "null".into()),
            )),
            status if status.is_finished() => Some(Self::Ended {
                status,
                error: record.error.clone().unwrap_or_default(),
            }),
            _ => None,
        }
    }
}

/// Why [`WorkflowHandle::result`] has no output.
#[derive(Clone, Debug, PartialEq, thiserror::Error, Serialize, Deserialize)]
#[non_exhaustive]
pub enum RunError {
    /// The run ended in a failure.
    #[error("workflow ended {status}: {error}")]
    Ended {
        /// How it ended.
        status: WorkflowStatus,
        /// Why.
        error: String,
    },
    /// The run could not be resumed.
    #[error("workflow not resumed: {0}")]
    NotResumed(String),
    /// The stored output does not decode as the output type.
    #[error("workflow output: {0}")]
    Output(String),
    /// The engine shut down before the run ended (it resumes on the next
    /// start).
    #[error("the durable engine shut down before the workflow ended")]
    EngineGone,
}

/// A handle on a run: every start or join of the same id gets one, all
/// watching the same run.
#[derive(Debug)]
pub struct WorkflowHandle<O> {
    id: String,
    outcome: watch::Receiver<Option<Outcome>>,
    output: PhantomData<fn() -> O>,
}

impl<O> Clone for WorkflowHandle<O> {
    fn clone(&self) -> Self {
        Self {
            id: self.id.clone(),
            outcome: self.outcome.clone(),
            output: PhantomData,
        }
    }
}

impl<O: DeserializeOwned> WorkflowHandle<O> {
    pub(crate) fn new(id: String, outcome: watch::Receiver<Option<Outcome>>) -> Self {
        Self {
            id,
            outcome,
            output: PhantomData,
        }
    }

    pub(crate) fn resolved(id: String, outcome: Outcome) -> Self {
        Self::new(id, watch::channel(Some(outcome)).1)
    }

    /// The workflow's id.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// The outcome, if the run has ended.
    pub fn outcome(&self) -> Option<Outcome> {
        self.outcome.borrow().clone()
    }

    /// Waits for the run to end in this process and returns its output.
    /// A run waiting at a gate ends only after a decision; a decision made
    /// in another process is seen through [`Durable::status`](crate::Durable::status),
    /// not here.
    ///
    /// # Errors
    /// [`RunError`]: the run failed, could not resume, or the engine shut
    /// down first.
    ///
    /// # Cancel safety
    /// Cancel safe: the run goes on; call again (or on a clone) to wait.
    pub async fn result(&mut self) -> Result<O, RunError> {
        loop {
            if let Some(outcome) = self.outcome.borrow_and_update().clone() {
                return match outcome {
                    Outcome::Completed(json) => {
                        serde_json::from_str(&json).map_err(|e| RunError::Output(e.to_string()))
                    }
                    Outcome::Ended { status, error } => Err(RunError::Ended { status, error }),
                    Outcome::NotResumed(error) => Err(RunError::NotResumed(error.to_string())),
                };
            }
            if self.outcome.changed().await.is_err() && self.outcome.borrow().is_none() {
                return Err(RunError::EngineGone);
            }
        }
    }
}

/// What [`Durable::resume_all`](crate::Durable::resume_all) did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ResumeReport {
    /// Runs resumed (running or compensating when the process died).
    pub resumed: usize,
    /// Runs waiting at a gate (left waiting).
    pub waiting: usize,
}
