//! [`JobTemplate`]: how to run one kind of job, keyed on its logical task.

use std::collections::HashMap;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;

use crate::Restart;
use crate::job::job_handle::AnswerSlot;
use crate::job::{DeadLetter, JobError};
use crate::path::ChildPath;
use crate::spec::{ChildSpec, GivenUp, TaskContext, TaskError};

type JobFuture<T> = Pin<Box<dyn Future<Output = Result<T, TaskError>> + Send>>;
type JobFn<I, T> = Arc<dyn Fn(I, TaskContext) -> JobFuture<T> + Send + Sync>;
type DeadLetterFn<I> = Arc<dyn Fn(DeadLetter<I>) + Send + Sync>;
type Configure = Arc<dyn Fn(ChildSpec) -> ChildSpec + Send + Sync>;

/// The default restart limit of a job: 3 restarts within a minute.
pub const DEFAULT_JOB_RESTARTS: (u32, Duration) = (3, Duration::from_secs(60));

/// How to run one kind of job: an async function from an input `I` to an
/// answer `T`, run as a dynamic supervisor's child keyed on its logical task
/// (see [`DynamicSupervisorRef::start_job`](crate::DynamicSupervisorRef::start_job)).
///
/// A job is a transient task with a [restart limit of its
/// own](ChildSpec::restart_limit) (default [`DEFAULT_JOB_RESTARTS`]): a crash
/// restarts it with the same input; past the limit it is given up, its
/// callers get [`JobError::GaveUp`], and its input goes to the template's
/// [dead letters](Self::dead_letters). Its restarts never count against the
/// supervisor's intensity, so poison inputs cannot bring their siblings
/// down. Cloning a template is cheap; clones share their running jobs.
///
/// # Examples
///
/// See [`DynamicSupervisorRef::start_job`](crate::DynamicSupervisorRef::start_job).
pub struct JobTemplate<I, T> {
    id: String,
    run: JobFn<I, T>,
    restart_limit: (u32, Duration),
    dead_letters: Option<DeadLetterFn<I>>,
    configure: Option<Configure>,
    /// The answer slots of the jobs that run, by key: a caller asking for a
    /// running key joins its slot. Weak, so a finished job's slot goes with
    /// its child.
    running: Arc<Mutex<HashMap<String, Weak<AnswerSlot<T>>>>>,
}

impl<I, T> Clone for JobTemplate<I, T> {
    fn clone(&self) -> Self {
        Self {
            id: self.id.clone(),
            run: Arc::clone(&self.run),
            restart_limit: self.restart_limit,
            dead_letters: self.dead_letters.clone(),
            configure: self.configure.clone(),
            running: Arc::clone(&self.running),
        }
    }
}

impl<I, T> fmt::Debug for JobTemplate<I, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("JobTemplate")
            .field("id", &self.id)
            .field("restart_limit", &self.restart_limit)
            .finish_non_exhaustive()
    }
}

impl<I, T> JobTemplate<I, T>
where
    I: Clone + Send + Sync + 'static,
    T: Clone + Send + Sync + 'static,
{
    /// Jobs whose child spec id is `id`, each running `run` on its input.
    /// `run` returns the answer, or an error (or panics): a crash, after
    /// which the job is restarted with the same input.
    ///
    /// # Examples
    ///
    /// ```
    /// use hale_core::JobTemplate;
    ///
    /// let summarize = JobTemplate::new("summarize", |text: String, _ctx| async move {
    ///     Ok(text.split_whitespace().count())
    /// });
    /// assert_eq!(summarize.id(), "summarize");
    /// ```
    pub fn new<F, Fut>(id: impl Into<String>, run: F) -> Self
    where
        F: Fn(I, TaskContext) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<T, TaskError>> + Send + 'static,
    {
        Self {
            id: id.into(),
            run: Arc::new(move |input, ctx| Box::pin(run(input, ctx))),
            restart_limit: DEFAULT_JOB_RESTARTS,
            dead_letters: None,
            configure: None,
            running: Arc::default(),
        }
    }

    /// The spec id of its jobs (their paths end in `<id>#<handle>`).
    pub fn id(&self) -> &str {
        &self.id
    }

    /// Sets each job's own restart limit: past `max_restarts` restarts
    /// within `within` it is given up.
    pub fn restart_limit(mut self, max_restarts: u32, within: Duration) -> Self {
        self.restart_limit = (max_restarts, within);
        self
    }

    /// Hands every job that was given up to `sink`, with its input. `sink`
    /// runs inside the supervisor: keep it short and never block in it (send
    /// to a channel, a durable dead-letter queue, a log).
    ///
    /// # Examples
    ///
    /// ```
    /// use hale_core::JobTemplate;
    ///
    /// let (letters, _receiver) = std::sync::mpsc::channel();
    /// let template = JobTemplate::new("charge", |cents: u64, _ctx| async move { Ok(cents) })
    ///     .dead_letters(move |letter| {
    ///         let _ = letters.send(letter);
    ///     });
    /// # let _ = template;
    /// ```
    pub fn dead_letters(mut self, sink: impl Fn(DeadLetter<I>) + Send + Sync + 'static) -> Self {
        self.dead_letters = Some(Arc::new(sink));
        self
    }

    /// Adjusts each job's child spec (a watch, a shutdown rule, a backoff)
    /// before it starts.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use hale_core::{JobTemplate, Watch};
    ///
    /// let template = JobTemplate::new("crawl", |url: String, _ctx| async move { Ok(url.len()) })
    ///     .configure(|spec| spec.watch(Watch::heartbeat(Duration::from_secs(30))));
    /// # let _ = template;
    /// ```
    pub fn configure(mut self, adjust: impl Fn(ChildSpec) -> ChildSpec + Send + Sync + 'static) -> Self {
        self.configure = Some(Arc::new(adjust));
        self
    }

    /// The answer slot of the running job `key`, if there is one.
    pub(crate) fn running(&self, key: &str) -> Option<Arc<AnswerSlot<T>>> {
        hale_util::lock(&self.running).get(key).and_then(Weak::upgrade)
    }

    /// A new answer slot for `key`, or the running job's if another caller
    /// made one meanwhile (`true`: joined).
    pub(crate) fn claim(&self, key: &str) -> (Arc<AnswerSlot<T>>, bool) {
        let mut running = hale_util::lock(&self.running);
        if let Some(slot) = running.get(key).and_then(Weak::upgrade) {
            return (slot, true);
        }
        // Forget finished jobs now and then, so the map stays the size of
        // what runs (amortised: only when it doubled).
        if running.len() >= 64 && running.len().is_power_of_two() {
            running.retain(|_, slot| slot.strong_count() > 0);
        }
        let slot = Arc::new(AnswerSlot::new(None));
        running.insert(key.to_owned(), Arc::downgrade(&slot));
        (slot, false)
    }

    /// Forgets the slot of `key` (its job never started).
    pub(crate) fn release(&self, key: &str) {
        hale_util::lock(&self.running).remove(key);
    }

    /// The child spec that runs `input` for `key` and answers into `slot`.
    pub(crate) fn spec(&self, key: &str, input: I, slot: Arc<AnswerSlot<T>>) -> ChildSpec {
        let run = Arc::clone(&self.run);
        let answer = Arc::clone(&slot);
        let job_input = input.clone();
        let spec = ChildSpec::task(self.id.clone(), move |ctx| {
            let run = Arc::clone(&run);
            let answer = Arc::clone(&answer);
            let input = job_input.clone();
            async move {
                let value = run(input, ctx).await?;
                answer.send_replace(Some(Ok(value)));
                Ok(())
            }
        })
        .restart(Restart::Transient)
        .restart_limit(self.restart_limit.0, self.restart_limit.1);
        let mut spec = match &self.configure {
            Some(adjust) => adjust(spec),
            None => spec,
        };
        let key = key.to_owned();
        let dead_letters = self.dead_letters.clone();
        let restarts = self.restart_limit.0;
        let given_up: GivenUp = Arc::new(move |path: &ChildPath, reason| {
            let error = reason.to_string();
            slot.send_replace(Some(Err(JobError::GaveUp {
                key: key.clone(),
                restarts,
                error: error.clone(),
            })));
            if let Some(sink) = &dead_letters {
                sink(DeadLetter {
                    key: key.clone(),
                    path: path.clone(),
                    input: input.clone(),
                    error,
                    restarts,
                });
            }
        });
        spec.on_given_up = Some(given_up);
        spec
    }
}
