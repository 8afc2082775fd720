//! The chain, its builder, and the walk down the alternatives.

use std::fmt::{self, Display};
use std::future::Future;
use std::sync::Arc;

use super::outcome::{AlternativeFailure, Answer, AnsweredBy, Escalation, EscalationFailed};
use crate::error::{ConfigError, ResilienceError};
use crate::events::{EventKind, ResilienceBus};
use crate::stats::{bump, counters};
use crate::util::{BoxFuture, lift};

type AlternativeFn<I, T, E> = Box<dyn Fn(I) -> BoxFuture<Result<T, ResilienceError<E>>> + Send + Sync>;
type EscalationFn<I, T, E> =
    Box<dyn for<'a> Fn(Escalation<'a, I, E>) -> BoxFuture<Result<T, E>> + Send + Sync>;

struct Alternative<I, T, E> {
    name: Arc<str>,
    call: AlternativeFn<I, T, E>,
}

counters! {
    FallbackCounters =>
    /// Counters of a fallback chain since it was built.
    pub struct FallbackStats {
        /// Calls of the chain.
        calls,
        /// Calls the primary answered.
        answered_by_primary,
        /// Calls a later alternative answered.
        answered_by_fallback,
        /// Calls that reached the escalation handler.
        escalated,
        /// Calls whose escalation handler failed too.
        escalation_failed,
    }
}

/// Ordered alternatives for one question, ending in an explicit escalation.
///
/// `I` is the input each alternative gets (cloned for each), `T` the answer, `E` the
/// alternatives' error type. Cheap to clone.
///
/// ```
/// use hale_resilience::{AnsweredBy, FallbackChain};
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// let chain = FallbackChain::builder("answer")
///     .alternative("large-model", |q: String| async move { Err::<String, _>(format!("{q}: 503")) })
///     .alternative("cache", |q: String| async move { Ok(format!("cached answer to {q}")) })
///     .escalate(|_| async { Ok("a human will follow up".to_string()) })
///     .unwrap();
///
/// let answer = chain.call("why?".to_string()).await.unwrap();
/// assert_eq!(answer.value, "cached answer to why?");
/// assert_eq!(answer.answered_by.name(), Some("cache"));
/// assert_eq!(answer.failures.len(), 1);
/// # }
/// ```
pub struct FallbackChain<I, T, E> {
    shared: Arc<Shared<I, T, E>>,
}

struct Shared<I, T, E> {
    name: Arc<str>,
    alternatives: Vec<Alternative<I, T, E>>,
    escalation: EscalationFn<I, T, E>,
    events: ResilienceBus,
    counters: FallbackCounters,
}

/// Builds a [`FallbackChain`]: add alternatives in the order they should be tried, then
/// finish with [`escalate`](Self::escalate), which is the only way to build one.
#[must_use = "a chain is only built by `escalate`"]
pub struct FallbackChainBuilder<I, T, E> {
    name: Arc<str>,
    alternatives: Vec<Alternative<I, T, E>>,
    events: ResilienceBus,
}

impl<I, T, E> FallbackChain<I, T, E>
where
    I: Clone + Send + 'static,
    T: Send + 'static,
    E: Display + Send + 'static,
{
    /// Starts a chain named `name`.
    ///
    /// # Examples
    ///
    /// ```
    /// use hale_resilience::FallbackChain;
    ///
    /// let chain = FallbackChain::builder("answer")
    ///     .alternative("model", |q: String| async move { Err::<String, _>(format!("{q}: 503")) })
    ///     .alternative("cache", |q: String| async move { Ok(format!("cached {q}")) })
    ///     .escalate(|_| async { Ok("a human will answer".to_string()) })
    ///     .unwrap();
    /// assert_eq!(chain.name(), "answer");
    /// ```
    pub fn builder(name: impl Into<Arc<str>>) -> FallbackChainBuilder<I, T, E> {
        FallbackChainBuilder {
            name: name.into(),
            alternatives: Vec::new(),
            events: ResilienceBus::default(),
        }
    }

    /// The chain's name.
    ///
    /// # Examples
    ///
    /// ```
    /// use hale_resilience::FallbackChain;
    ///
    /// let chain = FallbackChain::builder("answer")
    ///     .alternative("model", |q: String| async move { Err::<String, _>(format!("{q}: 503")) })
    ///     .alternative("cache", |q: String| async move { Ok(format!("cached {q}")) })
    ///     .escalate(|_| async { Ok("a human will answer".to_string()) })
    ///     .unwrap();
    /// assert_eq!(chain.name(), "answer");
    /// ```
    pub fn name(&self) -> &str {
        &self.shared.name
    }

    /// Names of the alternatives, in the order they are tried.
    ///
    /// # Examples
    ///
    /// ```
    /// use hale_resilience::FallbackChain;
    ///
    /// let chain = FallbackChain::builder("answer")
    ///     .alternative("model", |q: String| async move { Err::<String, _>(format!("{q}: 503")) })
    ///     .alternative("cache", |q: String| async move { Ok(format!("cached {q}")) })
    ///     .escalate(|_| async { Ok("a human will answer".to_string()) })
    ///     .unwrap();
    /// assert_eq!(chain.alternatives(), vec!["model", "cache"]);
    /// ```
    pub fn alternatives(&self) -> Vec<&str> {
        self.shared.alternatives.iter().map(|a| &*a.name).collect()
    }

    /// Counters since the chain was built.
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// use hale_resilience::FallbackChain;
    ///
    /// let chain = FallbackChain::builder("answer")
    ///     .alternative("model", |q: String| async move { Err::<String, _>(format!("{q}: 503")) })
    ///     .alternative("cache", |q: String| async move { Ok(format!("cached {q}")) })
    ///     .escalate(|_| async { Ok("a human will answer".to_string()) })
    ///     .unwrap();
    /// chain.call("why?".to_string()).await.unwrap();
    /// let stats = chain.stats();
    /// assert_eq!((stats.calls, stats.answered_by_fallback), (1, 1));
    /// # }
    /// ```
    pub fn stats(&self) -> FallbackStats {
        self.shared.counters.snapshot()
    }

    /// Tries each alternative in order with `input` until one answers; if none does,
    /// hands the input and every failure to the escalation handler.
    ///
    /// # Errors
    ///
    /// [`EscalationFailed`] when every alternative failed and the escalation handler
    /// failed too; it holds every failure and the handler's error.
    ///
    /// # Cancel safety
    ///
    /// Dropping the future drops the alternative (or the escalation handler) running at
    /// that moment; no later alternative runs, the escalation handler is not called if it
    /// had not started, and the failures gathered so far are dropped with it.
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// use hale_resilience::FallbackChain;
    ///
    /// let chain = FallbackChain::builder("answer")
    ///     .alternative("model", |q: String| async move { Err::<String, _>(format!("{q}: 503")) })
    ///     .alternative("cache", |q: String| async move { Ok(format!("cached {q}")) })
    ///     .escalate(|_| async { Ok("a human will answer".to_string()) })
    ///     .unwrap();
    /// let answer = chain.call("why?".to_string()).await.unwrap();
    /// assert_eq!(answer.value, "cached why?");
    /// assert_eq!(answer.failures.len(), 1);
    /// # }
    /// ```
    pub async fn call(&self, input: I) -> Result<Answer<T, E>, EscalationFailed<E>> {
        let shared = &*self.shared;
        bump(&shared.counters.calls);
        let mut failures: Vec<AlternativeFailure<E>> = Vec::new();
        for (index, alternative) in shared.alternatives.iter().enumerate() {
            // A supervised caller's heartbeat beats as each alternative begins.
            hale_util::report_progress();
            match (alternative.call)(input.clone()).await {
                Ok(value) => {
                    bump(if index == 0 {
                        &shared.counters.answered_by_primary
                    } else {
                        &shared.counters.answered_by_fallback
                    });
                    return Ok(Answer {
                        value,
                        answered_by: AnsweredBy::Alternative {
                            index,
                            name: Arc::clone(&alternative.name),
                        },
                        failures,
                    });
                }
                Err(error) => {
                    if let Some(next) = shared.alternatives.get(index + 1) {
                        shared.events.emit(
                            &shared.name,
                            EventKind::FallbackTaken {
                                failed: alternative.name.to_string(),
                                next: next.name.to_string(),
                                error: error.to_string(),
                            },
                        );
                    }
                    failures.push(AlternativeFailure {
                        alternative: Arc::clone(&alternative.name),
                        error,
                    });
                }
            }
        }

        bump(&shared.counters.escalated);
        shared.events.emit(
            &shared.name,
            EventKind::Escalated {
                failed_alternatives: u32::try_from(failures.len()).unwrap_or(u32::MAX),
            },
        );
        let escalation = Escalation {
            chain: &shared.name,
            input,
            failures: &failures,
        };
        match (shared.escalation)(escalation).await {
            Ok(value) => Ok(Answer {
                value,
                answered_by: AnsweredBy::Escalation,
                failures,
            }),
            Err(error) => {
                bump(&shared.counters.escalation_failed);
                Err(EscalationFailed {
                    chain: Arc::clone(&shared.name),
                    failures,
                    error,
                })
            }
        }
    }
}

impl<I, T, E> FallbackChainBuilder<I, T, E>
where
    I: Clone + Send + 'static,
    T: Send + 'static,
    E: Display + Send + 'static,
{
    /// Adds an alternative that calls `operation` with the input.
    ///
    /// # Examples
    ///
    /// ```
    /// use hale_resilience::FallbackChain;
    ///
    /// let chain = FallbackChain::builder("answer")
    ///     .alternative("model", |q: String| async move { Err::<String, _>(format!("{q}: 503")) })
    ///     .alternative("cache", |q: String| async move { Ok(format!("cached {q}")) })
    ///     .escalate(|_| async { Ok("a human will answer".to_string()) })
    ///     .unwrap();
    /// assert_eq!(chain.alternatives().len(), 2);
    /// ```
    pub fn alternative<F, Fut>(self, name: impl Into<Arc<str>>, operation: F) -> Self
    where
        F: Fn(I) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<T, E>> + Send + 'static,
    {
        self.resilient_alternative(name, move |input| lift(operation(input)))
    }

    /// Adds an alternative whose operation runs under its own policies and so already
    /// reports [`ResilienceError`]s (for example a [`Pipeline`](crate::Pipeline) call).
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use hale_resilience::{FallbackChain, Timeout};
    ///
    /// let timeout = Timeout::new("model", Duration::from_secs(20));
    /// let chain = FallbackChain::builder("answer")
    ///     .resilient_alternative("model", move |q: String| {
    ///         let timeout = timeout.clone();
    ///         async move { timeout.call(|| async move { Ok::<_, String>(format!("answer to {q}")) }).await }
    ///     })
    ///     .escalate(|_| async { Ok("a human will answer".to_string()) })
    ///     .unwrap();
    /// assert_eq!(chain.alternatives(), vec!["model"]);
    /// ```
    pub fn resilient_alternative<F, Fut>(mut self, name: impl Into<Arc<str>>, operation: F) -> Self
    where
        F: Fn(I) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<T, ResilienceError<E>>> + Send + 'static,
    {
        self.alternatives.push(Alternative {
            name: name.into(),
            call: Box::new(move |input| Box::pin(operation(input))),
        });
        self
    }

    /// Reports fallbacks and escalations to `bus` (they are traced either way).
    ///
    /// # Examples
    ///
    /// ```
    /// use hale_resilience::{EventKind, FallbackChain, ResilienceBus};
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// let bus = ResilienceBus::new();
    /// let mut events = bus.subscribe();
    /// let chain = FallbackChain::builder("answer")
    ///     .alternative("model", |_: ()| async { Err::<String, _>("503".to_string()) })
    ///     .events(&bus)
    ///     .escalate(|_| async { Ok("later".to_string()) })
    ///     .unwrap();
    /// chain.call(()).await.unwrap();
    /// assert_eq!(events.try_recv().unwrap().kind, EventKind::Escalated { failed_alternatives: 1 });
    /// # }
    /// ```
    pub fn events(mut self, bus: &ResilienceBus) -> Self {
        self.events = bus.clone();
        self
    }

    /// Finishes the chain with the handler that runs when every alternative failed
    /// (enqueue for a human, page someone, answer "try later"). Its answer is returned as
    /// [`AnsweredBy::Escalation`]; its error as [`EscalationFailed`].
    ///
    /// # Errors
    ///
    /// [`ConfigError::NoAlternatives`] if no alternative was added.
    ///
    /// # Examples
    ///
    /// ```
    /// use hale_resilience::{Escalation, FallbackChain};
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// let chain = FallbackChain::builder("refund")
    ///     .alternative("gateway", |_: u64| async { Err::<String, _>("declined".to_string()) })
    ///     .escalate(|escalation: Escalation<'_, u64, String>| {
    ///         let order = escalation.input;
    ///         async move { Ok(format!("order {order} queued for a human")) }
    ///     })
    ///     .unwrap();
    /// assert!(chain.call(1234).await.unwrap().is_escalated());
    /// # }
    /// ```
    pub fn escalate<F, Fut>(self, handler: F) -> Result<FallbackChain<I, T, E>, ConfigError>
    where
        F: for<'a> Fn(Escalation<'a, I, E>) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<T, E>> + Send + 'static,
    {
        if self.alternatives.is_empty() {
            return Err(ConfigError::NoAlternatives {
                name: self.name.to_string(),
            });
        }
        Ok(FallbackChain {
            shared: Arc::new(Shared {
                name: self.name,
                alternatives: self.alternatives,
                escalation: Box::new(move |escalation| Box::pin(handler(escalation))),
                events: self.events,
                counters: FallbackCounters::default(),
            }),
        })
    }
}

impl<I, T, E> Clone for FallbackChain<I, T, E> {
    fn clone(&self) -> Self {
        Self {
            shared: Arc::clone(&self.shared),
        }
    }
}

impl<I, T, E> fmt::Debug for FallbackChain<I, T, E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let names: Vec<&str> = self.shared.alternatives.iter().map(|a| &*a.name).collect();
        f.debug_struct("FallbackChain")
            .field("name", &self.shared.name)
            .field("alternatives", &names)
            .finish()
    }
}

impl<I, T, E> fmt::Debug for FallbackChainBuilder<I, T, E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let names: Vec<&str> = self.alternatives.iter().map(|a| &*a.name).collect();
        f.debug_struct("FallbackChainBuilder")
            .field("name", &self.name)
            .field("alternatives", &names)
            .finish()
    }
}
