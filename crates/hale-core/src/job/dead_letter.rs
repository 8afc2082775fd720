//! [`DeadLetter`]: a job that was given up, with its input.

use crate::path::ChildPath;

/// A job that used up its restart limit, handed to its template's dead
/// letters with everything needed to look at it or run it again.
///
/// # Examples
///
/// ```
/// use hale_core::DeadLetter;
///
/// fn log(letter: &DeadLetter<String>) -> String {
///     format!("{} failed {} times on {:?}: {}", letter.key, letter.restarts + 1, letter.input, letter.error)
/// }
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DeadLetter<I> {
    /// The job's key.
    pub key: String,
    /// The path of the child that ran it.
    pub path: ChildPath,
    /// The input it was started with.
    pub input: I,
    /// Why its last run ended.
    pub error: String,
    /// How many times it was restarted before it was given up.
    pub restarts: u32,
}
