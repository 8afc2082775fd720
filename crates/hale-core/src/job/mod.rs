//! Jobs: agents that answer whoever started them.
//!
//! A job is a dynamic supervisor's child that runs an async function from
//! an input to an answer, keyed on its logical task (a request id, a
//! document id). [`DynamicSupervisorRef::start_job`] starts it, or, while a
//! job with that key runs, joins it: every caller gets the same answer, and
//! the job runs once.
//!
//! What callers see, whatever happens to the job:
//!
//! | the job | its callers get |
//! |---|---|
//! | returns `Ok(answer)` | `Ok(answer)`; the key is free again |
//! | crashes (error or panic) | nothing yet: it is restarted with the same input, and they keep waiting |
//! | crashes past its restart limit | [`JobError::GaveUp`]; its input goes to the template's dead letters |
//! | is terminated, or its supervisor stops or gives up | [`JobError::Gone`] |
//! | never starts (max children, bad spec) | [`JobError::NotStarted`] (the first caller: the [`ChildError`]) |
//!
//! A job's restarts count against its own limit only, never against the
//! supervisor's intensity, so a poison input is dead-lettered without
//! bringing its siblings down. That is what a per-request agent should use.

mod dead_letter;
mod job_error;
mod job_handle;
mod job_template;

pub use dead_letter::DeadLetter;
pub use job_error::JobError;
pub use job_handle::JobHandle;
pub use job_template::{DEFAULT_JOB_RESTARTS, JobTemplate};

use crate::dynamic::{DynamicStart, DynamicSupervisorRef};
use crate::error::ChildError;

impl DynamicSupervisorRef {
    /// Starts a job of `template` for `key` with `input`, or, while a job of
    /// that template with that key runs, joins it (`input` is then unused):
    /// either way the handle answers with the job's result (see
    /// [`job`](crate::job) for what callers see when the job crashes).
    ///
    /// # Errors
    ///
    /// The supervisor's [`ChildError`] when it did not start the job
    /// (`MaxChildren`, `InvalidSpec`, `StartFailed`, or the supervisor is
    /// gone); callers that joined meanwhile get [`JobError::NotStarted`].
    ///
    /// # Cancel safety
    ///
    /// Once polled, the job is claimed for `key`: dropping the future may
    /// still start it, and callers that join it get its answer.
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// use hale_core::{DynamicSupervisor, DynamicSupervisorSpec, JobTemplate};
    ///
    /// let agents = DynamicSupervisor::start(DynamicSupervisorSpec::new("agents")).await?;
    /// let summarize = JobTemplate::new("summarize", |text: String, _ctx| async move {
    ///     tokio::task::yield_now().await;
    ///     Ok(text.split_whitespace().count())
    /// });
    /// let first = agents.start_job(&summarize, "doc-7", "one two three".to_owned()).await?;
    /// let again = agents.start_job(&summarize, "doc-7", "ignored".to_owned()).await?;
    /// assert!(again.joined());
    /// assert_eq!(first.answer().await?, 3);
    /// assert_eq!(again.answer().await?, 3, "one run, one answer for both");
    /// # agents.stop(std::time::Duration::from_secs(5)).await;
    /// # Ok(())
    /// # }
    /// ```
    pub async fn start_job<I, T>(
        &self,
        template: &JobTemplate<I, T>,
        key: impl Into<String>,
        input: I,
    ) -> Result<JobHandle<T>, ChildError>
    where
        I: Clone + Send + Sync + 'static,
        T: Clone + Send + Sync + 'static,
    {
        let key = key.into();
        if let Some(slot) = template.running(&key) {
            return Ok(JobHandle::new(key, &slot, true));
        }
        let (slot, joined) = template.claim(&key);
        if joined {
            return Ok(JobHandle::new(key, &slot, true));
        }
        let handle = JobHandle::new(key.clone(), &slot, false);
        let spec = template.spec(&key, input, std::sync::Arc::clone(&slot));
        match self.start_unique(key.clone(), spec).await {
            Ok(DynamicStart::Started(_)) => Ok(handle),
            Ok(DynamicStart::AlreadyRunning(_) | DynamicStart::Ignored) => {
                slot.send_replace(Some(Err(JobError::KeyTaken { key: key.clone() })));
                template.release(&key);
                Ok(handle)
            }
            Err(error) => {
                slot.send_replace(Some(Err(JobError::NotStarted {
                    key: key.clone(),
                    cause: error.to_string(),
                })));
                template.release(&key);
                Err(error)
            }
        }
    }
}
