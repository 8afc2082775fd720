//! What a fallback chain hands back.

use std::fmt;
use std::sync::Arc;

use crate::error::ResilienceError;

/// One alternative that failed, and how.
#[derive(Debug, Clone)]
pub struct AlternativeFailure<E> {
    /// Name of the alternative.
    pub alternative: Arc<str>,
    /// Its error (after its own policies: retries, timeouts, breaker).
    pub error: ResilienceError<E>,
}

/// Who produced the answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AnsweredBy {
    /// An alternative of the chain; index 0 is the primary.
    Alternative {
        /// Position in the chain.
        index: usize,
        /// Its name.
        name: Arc<str>,
    },
    /// The escalation handler, after every alternative failed.
    Escalation,
}

impl AnsweredBy {
    /// The answering alternative's name, or `None` for the escalation.
    ///
    /// # Examples
    ///
    /// ```
    /// use hale_resilience::AnsweredBy;
    ///
    /// assert_eq!(AnsweredBy::Alternative { index: 1, name: "cache".into() }.name(), Some("cache"));
    /// assert_eq!(AnsweredBy::Escalation.name(), None);
    /// ```
    pub fn name(&self) -> Option<&str> {
        match self {
            Self::Alternative { name, .. } => Some(name),
            Self::Escalation => None,
        }
    }
}

/// A successful answer from a fallback chain.
#[derive(Debug, Clone)]
pub struct Answer<T, E> {
    /// The value.
    pub value: T,
    /// Which alternative (or the escalation) produced it.
    pub answered_by: AnsweredBy,
    /// The alternatives that failed before it, in the order they were tried.
    pub failures: Vec<AlternativeFailure<E>>,
}

impl<T, E> Answer<T, E> {
    /// True when the primary (first) alternative answered.
    ///
    /// # Examples
    ///
    /// ```
    /// use hale_resilience::{Answer, AnsweredBy};
    ///
    /// let answer: Answer<&str, String> = Answer {
    ///     value: "fresh",
    ///     answered_by: AnsweredBy::Alternative { index: 0, name: "model".into() },
    ///     failures: Vec::new(),
    /// };
    /// assert!(answer.is_primary() && !answer.is_escalated());
    /// ```
    pub fn is_primary(&self) -> bool {
        matches!(self.answered_by, AnsweredBy::Alternative { index: 0, .. })
    }

    /// True when every alternative failed and the escalation handler answered.
    ///
    /// # Examples
    ///
    /// ```
    /// use hale_resilience::{Answer, AnsweredBy};
    ///
    /// let answer: Answer<&str, String> = Answer {
    ///     value: "a human will answer",
    ///     answered_by: AnsweredBy::Escalation,
    ///     failures: Vec::new(),
    /// };
    /// assert!(answer.is_escalated());
    /// ```
    pub fn is_escalated(&self) -> bool {
        self.answered_by == AnsweredBy::Escalation
    }
}

/// What the escalation handler is told: every alternative failed for this input.
#[derive(Debug)]
pub struct Escalation<'a, I, E> {
    /// Name of the chain.
    pub chain: &'a str,
    /// The input every alternative was given.
    pub input: I,
    /// Every failure, in the order the alternatives were tried.
    pub failures: &'a [AlternativeFailure<E>],
}

/// Every alternative failed and so did the escalation handler.
#[derive(Debug)]
pub struct EscalationFailed<E> {
    /// Name of the chain.
    pub chain: Arc<str>,
    /// Every alternative's failure, in order.
    pub failures: Vec<AlternativeFailure<E>>,
    /// The escalation handler's own error.
    pub error: E,
}

impl<E: fmt::Display> fmt::Display for EscalationFailed<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "fallback chain `{}`: all {} alternative(s) failed and escalation failed: {}",
            self.chain,
            self.failures.len(),
            self.error
        )
    }
}

impl<E: fmt::Debug + fmt::Display> std::error::Error for EscalationFailed<E> {}
