//! The shared circuit-breaker handle and its permits.

use std::fmt;
use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::Ordering;

use serde::{Deserialize, Serialize};
use tokio::time::Instant;

use super::config::BreakerConfig;
use super::machine::{Admission, Machine, Transition};
use super::state::BreakerState;
use super::sync::{AtomicU64, Lock};
use crate::builder::PolicyBuilder;
use crate::classify::{CallOutcome, Classify, call_outcome};
use crate::error::{ConfigError, Rejection, ResilienceError};
use crate::events::{EventKind, ResilienceBus};
use crate::registry::Registry;
use crate::stats::{bump, counters};

counters! {
    BreakerCounters =>
    /// Counters of a circuit breaker since it was built.
    pub struct BreakerStats {
        /// Calls let through.
        permitted,
        /// Calls refused without calling the dependency.
        rejected,
        /// Calls reported as successful (a call that ends after the breaker changed
        /// state is counted here but not recorded in the new state's window).
        successes,
        /// Calls reported as failed (same note).
        failures,
        /// Reported calls that were slow (successful or not).
        slow_calls,
        /// Calls that ended without being recorded (cancelled, or ignored errors).
        ignored,
        /// State changes.
        transitions,
        /// Times the breaker opened on its own.
        opened,
    }
}

/// The rates the breaker currently judges the dependency by: its sliding window when
/// closed, its trial calls when half-open.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct WindowMetrics {
    /// State when measured.
    pub state: BreakerState,
    /// Calls recorded.
    pub calls: u32,
    /// Of which failed.
    pub failures: u32,
    /// Of which slow.
    pub slow_calls: u32,
    /// Failures in percent of calls.
    pub failure_rate: f64,
    /// Slow calls in percent of calls.
    pub slow_call_rate: f64,
}

/// State code in the low bits of the published word, epoch above it.
const STATE_BITS: u32 = 3;

const fn state_code(state: BreakerState) -> u64 {
    match state {
        BreakerState::Closed => 0,
        BreakerState::Open => 1,
        BreakerState::HalfOpen => 2,
        BreakerState::ForcedOpen => 3,
        BreakerState::Disabled => 4,
    }
}

fn decode_state(word: u64) -> BreakerState {
    match word & ((1 << STATE_BITS) - 1) {
        0 => BreakerState::Closed,
        1 => BreakerState::Open,
        2 => BreakerState::HalfOpen,
        3 => BreakerState::ForcedOpen,
        _ => BreakerState::Disabled,
    }
}

/// A circuit breaker, on the model of resilience4j. Cheap to clone; clones are the same
/// breaker. Share one per dependency, usually through a [`Registry`].
///
/// ```
/// use std::time::Duration;
/// use hale_resilience::{BreakerState, CircuitBreaker, ResilienceError};
///
/// # #[tokio::main(flavor = "current_thread", start_paused = true)]
/// # async fn main() {
/// let breaker = CircuitBreaker::builder("payments")
///     .count_window(4)
///     .minimum_calls(4)
///     .failure_rate_threshold(50.0)
///     .wait_in_open(Duration::from_secs(30))
///     .build()
///     .unwrap();
///
/// for _ in 0..4 {
///     let _ = breaker.call(|| async { Err::<(), _>("gateway down".to_string()) }).await;
/// }
/// assert_eq!(breaker.state(), BreakerState::Open);
///
/// // Rejected without calling the gateway.
/// let result = breaker.call(|| async { Ok::<_, String>("paid") }).await;
/// assert!(matches!(result, Err(ResilienceError::Rejected(_))));
/// # }
/// ```
#[derive(Clone)]
pub struct CircuitBreaker {
    shared: Arc<Shared>,
}

struct Shared {
    name: Arc<str>,
    config: BreakerConfig,
    /// `epoch << STATE_BITS | state`, mirrored from the machine after every change, so
    /// a closed breaker admits a call with one atomic load and no lock.
    published: AtomicU64,
    machine: Lock<Machine>,
    events: ResilienceBus,
    counters: BreakerCounters,
}

impl CircuitBreaker {
    /// Starts building a breaker named `name` (usually the dependency it guards), from
    /// the defaults of [`BreakerConfig`].
    ///
    /// # Examples
    ///
    /// ```
    /// let breaker = hale_resilience::CircuitBreaker::builder("payments").build().unwrap();
    /// assert_eq!(breaker.name(), "payments");
    /// ```
    pub fn builder(name: impl Into<Arc<str>>) -> PolicyBuilder<BreakerConfig> {
        PolicyBuilder::new(name)
    }

    /// A registry that creates one breaker per dependency name with `config`, all
    /// reporting to `events`.
    ///
    /// # Errors
    ///
    /// The [`ConfigError`] of `config`, checked once, here.
    ///
    /// # Examples
    ///
    /// ```
    /// use hale_resilience::{BreakerConfig, CircuitBreaker, ResilienceBus};
    ///
    /// let breakers = CircuitBreaker::registry(BreakerConfig::default(), &ResilienceBus::new()).unwrap();
    /// breakers.get("payments").force_open();
    /// assert!(breakers.get("payments").try_acquire().is_err()); // the same breaker
    /// ```
    pub fn registry(config: BreakerConfig, events: &ResilienceBus) -> Result<Registry<Self>, ConfigError> {
        Registry::from_config(config, events)
    }

    pub(super) fn from_valid(name: Arc<str>, config: BreakerConfig, events: ResilienceBus) -> Self {
        let machine = Machine::new(config.clone(), Instant::now());
        Self {
            shared: Arc::new(Shared {
                name,
                config,
                published: AtomicU64::new(state_code(BreakerState::Closed)),
                machine: Lock::new(machine),
                events,
                counters: BreakerCounters::default(),
            }),
        }
    }

    /// The breaker's name.
    ///
    /// # Examples
    ///
    /// ```
    /// let breaker = hale_resilience::CircuitBreaker::builder("maps").build().unwrap();
    /// assert_eq!(breaker.name(), "maps");
    /// ```
    pub fn name(&self) -> &str {
        &self.shared.name
    }

    /// The settings.
    ///
    /// # Examples
    ///
    /// ```
    /// let breaker = hale_resilience::CircuitBreaker::builder("maps").half_open_calls(3).build().unwrap();
    /// assert_eq!(breaker.config().half_open_calls, 3);
    /// ```
    pub fn config(&self) -> &BreakerConfig {
        &self.shared.config
    }

    /// The current state. An open breaker whose wait has passed still reads `Open` until
    /// the next call moves it to half-open.
    ///
    /// # Examples
    ///
    /// ```
    /// use hale_resilience::{BreakerState, CircuitBreaker};
    ///
    /// let breaker = CircuitBreaker::builder("maps").build().unwrap();
    /// assert_eq!(breaker.state(), BreakerState::Closed);
    /// breaker.force_open();
    /// assert_eq!(breaker.state(), BreakerState::ForcedOpen);
    /// ```
    pub fn state(&self) -> BreakerState {
        decode_state(self.shared.published.load(Ordering::Acquire))
    }

    /// Counters since the breaker was built.
    ///
    /// # Examples
    ///
    /// ```
    /// let breaker = hale_resilience::CircuitBreaker::builder("maps").build().unwrap();
    /// breaker.try_acquire().unwrap().failure();
    /// let stats = breaker.stats();
    /// assert_eq!((stats.permitted, stats.failures), (1, 1));
    /// ```
    pub fn stats(&self) -> BreakerStats {
        self.shared.counters.snapshot()
    }

    /// The rates the breaker currently judges by: its window when closed, its trials
    /// when half-open.
    ///
    /// # Examples
    ///
    /// ```
    /// let breaker = hale_resilience::CircuitBreaker::builder("maps").build().unwrap();
    /// breaker.try_acquire().unwrap().failure();
    /// breaker.try_acquire().unwrap().success();
    /// let metrics = breaker.metrics();
    /// assert_eq!((metrics.calls, metrics.failure_rate), (2, 50.0));
    /// ```
    pub fn metrics(&self) -> WindowMetrics {
        let mut machine = self.shared.machine.lock();
        let tally = machine.tally(Instant::now());
        WindowMetrics {
            state: machine.state(),
            calls: tally.calls,
            failures: tally.failures,
            slow_calls: tally.slow,
            failure_rate: tally.failure_rate(),
            slow_call_rate: tally.slow_rate(),
        }
    }

    /// Asks to make a call. On success, report the result through the permit; dropping
    /// it unreported (a cancelled call) records nothing and frees its half-open slot.
    /// While closed this takes no lock: one atomic load.
    ///
    /// # Errors
    ///
    /// [`Rejection::CircuitOpen`] when the breaker is open (with the time until it lets
    /// a trial through), forced open, or half-open with every trial slot taken.
    ///
    /// # Examples
    ///
    /// ```
    /// let breaker = hale_resilience::CircuitBreaker::builder("payments").build().unwrap();
    /// let permit = breaker.try_acquire().unwrap();
    /// // ... the call, however it is made (a request and a reply message, say) ...
    /// permit.success();
    /// breaker.force_open();
    /// assert!(breaker.try_acquire().is_err());
    /// ```
    pub fn try_acquire(&self) -> Result<BreakerPermit, Rejection> {
        let word = self.shared.published.load(Ordering::Acquire);
        let admission = match decode_state(word) {
            // The happy path: no lock, no allocation.
            BreakerState::Closed | BreakerState::Disabled => Admission::Permitted {
                epoch: word >> STATE_BITS,
            },
            _ => self.with_machine(|machine, now| machine.acquire(now)),
        };
        match admission {
            Admission::Permitted { epoch } => {
                bump(&self.shared.counters.permitted);
                Ok(BreakerPermit {
                    breaker: self.clone(),
                    epoch,
                    started: Instant::now(),
                    settled: false,
                })
            }
            Admission::Rejected { retry_after } => {
                bump(&self.shared.counters.rejected);
                let rejection = Rejection::CircuitOpen {
                    breaker: Arc::clone(&self.shared.name),
                    retry_after,
                };
                self.shared.events.emit_rejection(&rejection);
                Err(rejection)
            }
        }
    }

    crate::util::classified_calls! {
        FnOnce;
        /// Runs `operation` if the breaker admits it and records how it went, judging
        /// its errors by their [`ErrorClass`](crate::ErrorClass). The operation's own
        /// errors come back as [`ResilienceError::Inner`].
        ///
        /// # Errors
        ///
        /// [`ResilienceError::Rejected`] with [`Rejection::CircuitOpen`] when the
        /// breaker refused (the operation was not called), or the operation's own error.
        ///
        /// # Cancel safety
        ///
        /// Dropping the future while the operation runs drops the operation and records
        /// nothing (it counts as `ignored` in [`stats`](Self::stats)); if the call was a
        /// half-open trial, its slot goes back for another caller.
        ///
        /// # Examples
        ///
        /// ```
        /// use hale_resilience::{BreakerState, CircuitBreaker};
        ///
        /// # #[tokio::main(flavor = "current_thread", start_paused = true)]
        /// # async fn main() {
        /// let breaker = CircuitBreaker::builder("payments").count_window(2).minimum_calls(2).build().unwrap();
        /// for _ in 0..2 {
        ///     let _ = breaker.call(|| async { Err::<(), _>("503".to_string()) }).await;
        /// }
        /// assert_eq!(breaker.state(), BreakerState::Open);
        /// # }
        /// ```
        call;
        /// Like [`call`](Self::call), judging errors with `classifier` (for example a
        /// [`Classifier`](crate::Classifier) built from closures).
        ///
        /// # Errors
        ///
        /// As for [`call`](Self::call).
        ///
        /// # Cancel safety
        ///
        /// As for [`call`](Self::call).
        ///
        /// # Examples
        ///
        /// ```
        /// use hale_resilience::{BreakerState, CircuitBreaker, Classifier};
        ///
        /// # #[tokio::main(flavor = "current_thread", start_paused = true)]
        /// # async fn main() {
        /// // A 404 is the dependency working: not a failure.
        /// let by_status = Classifier::<u16>::new().failure_if(|status| *status >= 500);
        /// let breaker = CircuitBreaker::builder("api").count_window(1).minimum_calls(1).build().unwrap();
        /// let _ = breaker.call_with(&by_status, || async { Err::<(), u16>(404) }).await;
        /// assert_eq!(breaker.state(), BreakerState::Closed);
        /// # }
        /// ```
        call_with;
    }

    /// The building block for composition: `operation` already reports
    /// [`ResilienceError`]s. Timeouts count as failures; rejections by inner policies
    /// are not recorded (the dependency was not called).
    ///
    /// # Errors
    ///
    /// [`ResilienceError::Rejected`] when the breaker refused, or the operation's error
    /// unchanged.
    ///
    /// # Cancel safety
    ///
    /// As for [`call`](Self::call).
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use hale_resilience::{ByErrorClass, CircuitBreaker, ResilienceError, Timeout};
    ///
    /// # #[tokio::main(flavor = "current_thread", start_paused = true)]
    /// # async fn main() {
    /// let breaker = CircuitBreaker::builder("search").count_window(1).minimum_calls(1).build().unwrap();
    /// let timeout = Timeout::new("search", Duration::from_secs(1));
    /// let result = breaker
    ///     .run_with(&ByErrorClass, || timeout.run(std::future::pending::<Result<(), ResilienceError<String>>>))
    ///     .await;
    /// assert!(result.unwrap_err().is_timeout());
    /// assert_eq!(breaker.stats().failures, 1); // a timeout is a failure
    /// # }
    /// ```
    pub async fn run_with<T, E, C, F, Fut>(
        &self,
        classifier: &C,
        operation: F,
    ) -> Result<T, ResilienceError<E>>
    where
        C: Classify<E> + ?Sized,
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<T, ResilienceError<E>>>,
    {
        let permit = self.try_acquire()?;
        let result = operation().await;
        permit.record(call_outcome(classifier, &result));
        result
    }

    /// Holds the breaker open: every call is rejected until [`reset`](Self::reset).
    ///
    /// # Examples
    ///
    /// ```
    /// let breaker = hale_resilience::CircuitBreaker::builder("payments").build().unwrap();
    /// breaker.force_open(); // a maintenance window
    /// assert!(breaker.try_acquire().is_err());
    /// ```
    pub fn force_open(&self) {
        self.with_machine(|machine, now| ((), machine.force(BreakerState::ForcedOpen, now)));
    }

    /// Switches the breaker off: every call flows and nothing is recorded until
    /// [`reset`](Self::reset).
    ///
    /// # Examples
    ///
    /// ```
    /// use hale_resilience::{BreakerState, CircuitBreaker};
    ///
    /// let breaker = CircuitBreaker::builder("payments").count_window(1).minimum_calls(1).build().unwrap();
    /// breaker.disable();
    /// breaker.try_acquire().unwrap().failure();
    /// assert_eq!(breaker.state(), BreakerState::Disabled);
    /// ```
    pub fn disable(&self) {
        self.with_machine(|machine, now| ((), machine.force(BreakerState::Disabled, now)));
    }

    /// Returns to closed with an empty window, from any state.
    ///
    /// # Examples
    ///
    /// ```
    /// use hale_resilience::{BreakerState, CircuitBreaker};
    ///
    /// let breaker = CircuitBreaker::builder("payments").build().unwrap();
    /// breaker.force_open();
    /// breaker.reset();
    /// assert_eq!(breaker.state(), BreakerState::Closed);
    /// ```
    pub fn reset(&self) {
        self.with_machine(|machine, now| ((), machine.force(BreakerState::Closed, now)));
    }

    /// Runs `f` on the locked machine, publishes its state, then reports any transition
    /// (outside the lock, so subscribers never slow down callers).
    fn with_machine<R>(&self, f: impl FnOnce(&mut Machine, Instant) -> (R, Option<Transition>)) -> R {
        self.with_machine_at(Instant::now(), f)
    }

    /// [`with_machine`](Self::with_machine) at a time the caller has already read
    /// (a clock read is a good part of the cost of a call through a closed breaker).
    fn with_machine_at<R>(
        &self,
        now: Instant,
        f: impl FnOnce(&mut Machine, Instant) -> (R, Option<Transition>),
    ) -> R {
        let (result, transition) = {
            let mut machine = self.shared.machine.lock();
            let out = f(&mut machine, now);
            let word = (machine.epoch() << STATE_BITS) | state_code(machine.state());
            self.shared.published.store(word, Ordering::Release);
            out
        };
        if let Some(Transition { from, to }) = transition {
            let counters = &self.shared.counters;
            bump(&counters.transitions);
            if to == BreakerState::Open {
                bump(&counters.opened);
            }
            self.shared
                .events
                .emit(&self.shared.name, EventKind::BreakerTransition { from, to });
        }
        result
    }
}

impl fmt::Debug for CircuitBreaker {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CircuitBreaker")
            .field("name", &self.shared.name)
            .field("state", &self.state())
            .finish()
    }
}

/// Permission to make one call through a breaker. Report how it went with
/// [`record`](Self::record) (or the shortcuts); dropping the permit unreported records
/// nothing.
#[must_use = "a permit records nothing unless its outcome is reported"]
pub struct BreakerPermit {
    breaker: CircuitBreaker,
    epoch: u64,
    started: Instant,
    settled: bool,
}

impl BreakerPermit {
    /// Reports the call's outcome; its duration is measured from the permit's creation.
    /// An outcome reported after the breaker changed state counts in the stats but not
    /// in the new state's window.
    ///
    /// # Examples
    ///
    /// ```
    /// use hale_resilience::{CallOutcome, CircuitBreaker};
    ///
    /// let breaker = CircuitBreaker::builder("payments").build().unwrap();
    /// breaker.try_acquire().unwrap().record(CallOutcome::Ignored); // a cancelled request
    /// assert_eq!(breaker.stats().ignored, 1);
    /// ```
    pub fn record(mut self, outcome: CallOutcome) {
        self.settled = true;
        let now = Instant::now();
        let elapsed = now.saturating_duration_since(self.started);
        let shared = &self.breaker.shared;
        let slow = elapsed >= shared.config.slow_call_duration;
        let counters = &shared.counters;
        match outcome {
            CallOutcome::Success => bump(&counters.successes),
            CallOutcome::Failure => bump(&counters.failures),
            CallOutcome::Ignored => bump(&counters.ignored),
        }
        if slow && outcome != CallOutcome::Ignored {
            bump(&counters.slow_calls);
        }
        let epoch = self.epoch;
        self.breaker.with_machine_at(now, |machine, now| {
            ((), machine.record(epoch, outcome, elapsed, now))
        });
    }

    /// Reports a successful call.
    ///
    /// # Examples
    ///
    /// ```
    /// let breaker = hale_resilience::CircuitBreaker::builder("payments").build().unwrap();
    /// breaker.try_acquire().unwrap().success();
    /// assert_eq!(breaker.stats().successes, 1);
    /// ```
    pub fn success(self) {
        self.record(CallOutcome::Success);
    }

    /// Reports a failed call.
    ///
    /// # Examples
    ///
    /// ```
    /// let breaker = hale_resilience::CircuitBreaker::builder("payments").build().unwrap();
    /// breaker.try_acquire().unwrap().failure();
    /// assert_eq!(breaker.stats().failures, 1);
    /// ```
    pub fn failure(self) {
        self.record(CallOutcome::Failure);
    }
}

impl Drop for BreakerPermit {
    fn drop(&mut self) {
        if self.settled {
            return;
        }
        bump(&self.breaker.shared.counters.ignored);
        // Only a half-open trial holds anything worth giving back.
        if self.breaker.state() == BreakerState::HalfOpen {
            let epoch = self.epoch;
            self.breaker.with_machine(|machine, _| {
                machine.release(epoch);
                ((), None)
            });
        }
    }
}

impl fmt::Debug for BreakerPermit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BreakerPermit")
            .field("breaker", &self.breaker.shared.name)
            .field("epoch", &self.epoch)
            .finish()
    }
}
