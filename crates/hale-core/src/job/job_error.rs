//! [`JobError`]: why a job gave no answer.

/// Why a [`JobHandle`](crate::JobHandle) got no answer. Every caller that
/// started or joined the job gets the same one.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum JobError {
    /// The job failed more often than its restart limit allows. It was
    /// given up (its siblings and supervisor go on) and its input went to
    /// the template's dead letters, if it has them.
    #[error("job `{key}` failed {restarts} restart(s) in a row and was given up: {error}")]
    GaveUp {
        /// The job's key.
        key: String,
        /// How many times it was restarted before it was given up.
        restarts: u32,
        /// Why its last run ended.
        error: String,
    },
    /// The supervisor did not start the job (its spec was invalid, it has
    /// its maximum of children, or the start failed).
    #[error("job `{key}` was not started: {cause}")]
    NotStarted {
        /// The job's key.
        key: String,
        /// The supervisor's answer.
        cause: String,
    },
    /// A child with the job's key runs but was not started from this
    /// template, so there is no answer of this type to join.
    #[error("key `{key}` is taken by a child that is not this template's job")]
    KeyTaken {
        /// The key.
        key: String,
    },
    /// The job ended without an answer: its supervisor was stopped, gave
    /// up (intensity) or terminated the job.
    #[error("job `{key}` ended without an answer (its supervisor stopped or terminated it)")]
    Gone {
        /// The job's key.
        key: String,
    },
}
