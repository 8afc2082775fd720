//! [`JobHandle`]: a caller's end of a job's answer.

use tokio::sync::watch;

use crate::job::JobError;

/// The answer slot a job and its callers share: `None` until the job
/// answers or gives up.
pub(crate) type AnswerSlot<T> = watch::Sender<Option<Result<T, JobError>>>;

/// Waits for the answer of a job started with
/// [`DynamicSupervisorRef::start_job`](crate::DynamicSupervisorRef::start_job).
/// A caller that asked for a key whose job runs already holds a handle to
/// the same answer ([`joined`](Self::joined)).
#[derive(Debug)]
pub struct JobHandle<T> {
    key: String,
    answer: watch::Receiver<Option<Result<T, JobError>>>,
    joined: bool,
}

impl<T: Clone> JobHandle<T> {
    pub(crate) fn new(key: String, answer: &AnswerSlot<T>, joined: bool) -> Self {
        Self {
            key,
            answer: answer.subscribe(),
            joined,
        }
    }

    /// The job's key.
    pub fn key(&self) -> &str {
        &self.key
    }

    /// Whether this caller joined a job that was already running, instead
    /// of starting it.
    pub fn joined(&self) -> bool {
        self.joined
    }

    /// Waits for the job's answer. A job that crashes is restarted (with
    /// the same input) within its restart limit and the wait goes on; the
    /// answer is its first successful result.
    ///
    /// # Errors
    ///
    /// [`JobError::GaveUp`] once the job used up its restart limit,
    /// [`JobError::Gone`] if its supervisor stopped or terminated it first,
    /// [`JobError::NotStarted`] / [`JobError::KeyTaken`] when it never ran.
    ///
    /// # Cancel safety
    ///
    /// Cancel safe: dropping the future drops only this caller's wait; the
    /// job runs on for its other callers.
    ///
    /// # Examples
    ///
    /// See [`DynamicSupervisorRef::start_job`](crate::DynamicSupervisorRef::start_job).
    pub async fn answer(mut self) -> Result<T, JobError> {
        loop {
            if let Some(answer) = self.answer.borrow_and_update().clone() {
                return answer;
            }
            if self.answer.changed().await.is_err() {
                // The job is gone; it may have answered just before.
                let last = self.answer.borrow().clone();
                return last.unwrap_or_else(|| {
                    Err(JobError::Gone {
                        key: self.key.clone(),
                    })
                });
            }
        }
    }
}
