//! Bounded concurrency with a bounded wait.
//!
//! A bulkhead caps how many calls to one dependency run at once, so a slow dependency
//! ties up at most that many tasks instead of all of them. A call that finds every slot
//! taken waits at most `max_wait` (zero: fail at once) and, optionally, only if fewer than
//! `max_waiting` callers are already waiting. Otherwise it is rejected with
//! [`Rejection::BulkheadFull`] without calling the dependency. Waiters are served first in,
//! first out.
//!
//! ```
//! use std::time::Duration;
//! use hale_resilience::Bulkhead;
//!
//! # #[tokio::main(flavor = "current_thread", start_paused = true)]
//! # async fn main() {
//! let bulkhead = Bulkhead::builder("vector-db")
//!     .max_concurrent(2)
//!     .max_wait(Duration::from_millis(100))
//!     .build()
//!     .unwrap();
//!
//! let first = bulkhead.try_acquire().unwrap();
//! let _second = bulkhead.try_acquire().unwrap();
//! assert!(bulkhead.try_acquire().is_err()); // full
//! drop(first);
//! assert!(bulkhead.call(|| async { Ok::<_, String>("ran") }).await.is_ok());
//! # }
//! ```

use std::fmt;
use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use serde::{Deserialize, Serialize};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use crate::builder::PolicyBuilder;
use crate::error::{ConfigError, Rejection, ResilienceError};
use crate::events::ResilienceBus;
use crate::registry::Registry;
use crate::stats::{bump, counters};

/// Bulkhead settings (resilience4j's semaphore bulkhead, plus a bound on waiters).
///
/// | field | default | meaning |
/// |---|---|---|
/// | `max_concurrent` | 25 | calls running at once |
/// | `max_wait` | 0 | how long a call may wait for a slot |
/// | `max_waiting` | none | how many calls may wait at once; `None` = no limit |
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BulkheadConfig {
    /// Calls allowed to run at once.
    pub max_concurrent: usize,
    /// Longest wait for a free slot.
    pub max_wait: Duration,
    /// Most callers allowed to wait at once.
    pub max_waiting: Option<usize>,
}

impl Default for BulkheadConfig {
    fn default() -> Self {
        Self {
            max_concurrent: 25,
            max_wait: Duration::ZERO,
            max_waiting: None,
        }
    }
}

impl BulkheadConfig {
    /// Checks the settings; `name` only labels the error.
    ///
    /// # Errors
    ///
    /// [`ConfigError::Zero`] when `max_concurrent` is 0.
    ///
    /// # Examples
    ///
    /// ```
    /// use hale_resilience::BulkheadConfig;
    ///
    /// assert!(BulkheadConfig::default().validate("db").is_ok());
    /// let none = BulkheadConfig { max_concurrent: 0, ..Default::default() };
    /// assert!(none.validate("db").is_err());
    /// ```
    pub fn validate(&self, name: &str) -> Result<(), ConfigError> {
        if self.max_concurrent == 0 {
            return Err(ConfigError::Zero {
                policy: "bulkhead",
                name: name.to_owned(),
                field: "max concurrent",
            });
        }
        Ok(())
    }
}

impl crate::builder::sealed::Build for BulkheadConfig {
    type Policy = Bulkhead;

    fn validate_named(&self, name: &str) -> Result<(), ConfigError> {
        self.validate(name)
    }

    fn build_valid(self, name: Arc<str>, events: ResilienceBus) -> Bulkhead {
        Bulkhead {
            shared: Arc::new(Shared {
                name,
                semaphore: Arc::new(Semaphore::new(self.max_concurrent)),
                config: self,
                waiting: AtomicUsize::new(0),
                events,
                counters: BulkheadCounters::default(),
            }),
        }
    }
}

impl PolicyBuilder<BulkheadConfig> {
    /// Calls allowed to run at once (at least 1).
    ///
    /// # Examples
    ///
    /// ```
    /// let bulkhead = hale_resilience::Bulkhead::builder("db").max_concurrent(8).build().unwrap();
    /// assert_eq!(bulkhead.available(), 8);
    /// ```
    pub fn max_concurrent(mut self, calls: usize) -> Self {
        self.config.max_concurrent = calls;
        self
    }

    /// Longest wait for a free slot (zero, the default: refuse at once).
    ///
    /// # Examples
    ///
    /// ```
    /// # use std::time::Duration;
    /// let bulkhead = hale_resilience::Bulkhead::builder("db")
    ///     .max_wait(Duration::from_millis(200))
    ///     .build()
    ///     .unwrap();
    /// assert_eq!(bulkhead.config().max_wait, Duration::from_millis(200));
    /// ```
    pub fn max_wait(mut self, wait: Duration) -> Self {
        self.config.max_wait = wait;
        self
    }

    /// Most callers allowed to wait at once; a caller beyond them is refused at once.
    ///
    /// # Examples
    ///
    /// ```
    /// let bulkhead = hale_resilience::Bulkhead::builder("db").max_waiting(32).build().unwrap();
    /// assert_eq!(bulkhead.config().max_waiting, Some(32));
    /// ```
    pub fn max_waiting(mut self, callers: usize) -> Self {
        self.config.max_waiting = Some(callers);
        self
    }
}

counters! {
    BulkheadCounters =>
    /// Counters of a bulkhead since it was built.
    pub struct BulkheadStats {
        /// Calls given a slot.
        permitted,
        /// Calls given a slot after waiting.
        waited,
        /// Calls rejected.
        rejected,
    }
}

/// A bulkhead. Cheap to clone; clones share the slots.
#[derive(Clone)]
pub struct Bulkhead {
    shared: Arc<Shared>,
}

struct Shared {
    name: Arc<str>,
    config: BulkheadConfig,
    semaphore: Arc<Semaphore>,
    waiting: AtomicUsize,
    events: ResilienceBus,
    counters: BulkheadCounters,
}

/// A slot in a bulkhead, given back when dropped.
#[derive(Debug)]
#[must_use = "the slot is released as soon as the permit is dropped"]
pub struct BulkheadPermit {
    _permit: OwnedSemaphorePermit,
}

/// Counts a caller as waiting for as long as it lives, even if its future is dropped.
struct WaitingGuard<'a>(&'a AtomicUsize);

impl Drop for WaitingGuard<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

impl Bulkhead {
    /// Starts building a bulkhead named `name` (usually the dependency it protects),
    /// from the defaults of [`BulkheadConfig`].
    ///
    /// # Examples
    ///
    /// ```
    /// let bulkhead = hale_resilience::Bulkhead::builder("vector-db").max_concurrent(4).build().unwrap();
    /// assert_eq!(bulkhead.name(), "vector-db");
    /// ```
    pub fn builder(name: impl Into<Arc<str>>) -> PolicyBuilder<BulkheadConfig> {
        PolicyBuilder::new(name)
    }

    /// A registry of bulkheads, one per dependency name, all built from `config` and
    /// reporting to `events`.
    ///
    /// # Errors
    ///
    /// The [`ConfigError`] of `config`, checked once, here.
    ///
    /// # Examples
    ///
    /// ```
    /// use hale_resilience::{Bulkhead, BulkheadConfig, ResilienceBus};
    ///
    /// let pools = Bulkhead::registry(BulkheadConfig::default(), &ResilienceBus::new()).unwrap();
    /// let _slot = pools.get("postgres").try_acquire().unwrap();
    /// assert_eq!(pools.get("postgres").available(), 24); // the same bulkhead
    /// ```
    pub fn registry(config: BulkheadConfig, events: &ResilienceBus) -> Result<Registry<Self>, ConfigError> {
        Registry::from_config(config, events)
    }

    /// The bulkhead's name.
    ///
    /// # Examples
    ///
    /// ```
    /// let bulkhead = hale_resilience::Bulkhead::builder("db").build().unwrap();
    /// assert_eq!(bulkhead.name(), "db");
    /// ```
    pub fn name(&self) -> &str {
        &self.shared.name
    }

    /// The settings.
    ///
    /// # Examples
    ///
    /// ```
    /// let bulkhead = hale_resilience::Bulkhead::builder("db").build().unwrap();
    /// assert_eq!(bulkhead.config().max_concurrent, 25);
    /// ```
    pub fn config(&self) -> &BulkheadConfig {
        &self.shared.config
    }

    /// Free slots right now.
    ///
    /// # Examples
    ///
    /// ```
    /// let bulkhead = hale_resilience::Bulkhead::builder("db").max_concurrent(2).build().unwrap();
    /// let _slot = bulkhead.try_acquire().unwrap();
    /// assert_eq!(bulkhead.available(), 1);
    /// ```
    pub fn available(&self) -> usize {
        self.shared.semaphore.available_permits()
    }

    /// Callers waiting for a slot right now.
    ///
    /// # Examples
    ///
    /// ```
    /// let bulkhead = hale_resilience::Bulkhead::builder("db").build().unwrap();
    /// assert_eq!(bulkhead.waiting(), 0);
    /// ```
    pub fn waiting(&self) -> usize {
        self.shared.waiting.load(Ordering::Acquire)
    }

    /// Counters since the bulkhead was built.
    ///
    /// # Examples
    ///
    /// ```
    /// use hale_resilience::{Bulkhead, BulkheadStats};
    ///
    /// let bulkhead = Bulkhead::builder("db").max_concurrent(1).build().unwrap();
    /// let _slot = bulkhead.try_acquire().unwrap();
    /// assert!(bulkhead.try_acquire().is_err());
    /// assert_eq!(bulkhead.stats(), BulkheadStats { permitted: 1, waited: 0, rejected: 1 });
    /// ```
    pub fn stats(&self) -> BulkheadStats {
        self.shared.counters.snapshot()
    }

    /// A slot if one is free now, without waiting. The slot is released when the permit
    /// is dropped.
    ///
    /// # Errors
    ///
    /// [`Rejection::BulkheadFull`] when every slot is taken.
    ///
    /// # Examples
    ///
    /// ```
    /// let bulkhead = hale_resilience::Bulkhead::builder("db").max_concurrent(1).build().unwrap();
    /// let slot = bulkhead.try_acquire().unwrap();
    /// assert!(bulkhead.try_acquire().is_err());
    /// drop(slot);
    /// assert!(bulkhead.try_acquire().is_ok());
    /// ```
    pub fn try_acquire(&self) -> Result<BulkheadPermit, Rejection> {
        match Arc::clone(&self.shared.semaphore).try_acquire_owned() {
            Ok(permit) => Ok(self.permitted(permit)),
            Err(_) => Err(self.reject()),
        }
    }

    /// A slot, waiting for one up to `max_wait` if `max_waiting` allows the wait.
    /// Waiters are served first in, first out.
    ///
    /// # Errors
    ///
    /// [`Rejection::BulkheadFull`] when no slot came free within `max_wait`, or at once
    /// when `max_wait` is zero or `max_waiting` callers are already waiting.
    ///
    /// # Cancel safety
    ///
    /// Dropping the future while it waits ends the wait: the caller no longer counts in
    /// [`waiting`](Self::waiting) and its place in the queue goes to the next waiter. No
    /// slot is taken. It is safe to use in `tokio::select!`.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use hale_resilience::Bulkhead;
    ///
    /// # #[tokio::main(flavor = "current_thread", start_paused = true)]
    /// # async fn main() {
    /// let bulkhead = Bulkhead::builder("db")
    ///     .max_concurrent(1)
    ///     .max_wait(Duration::from_millis(100))
    ///     .build()
    ///     .unwrap();
    /// let held = bulkhead.acquire().await.unwrap();
    /// assert!(bulkhead.acquire().await.is_err()); // waited 100 ms in vain
    /// drop(held);
    /// assert!(bulkhead.acquire().await.is_ok());
    /// # }
    /// ```
    pub async fn acquire(&self) -> Result<BulkheadPermit, Rejection> {
        if let Ok(permit) = self.try_acquire_quietly() {
            return Ok(self.permitted(permit));
        }
        let config = &self.shared.config;
        if config.max_wait.is_zero() {
            return Err(self.reject());
        }
        let waiting = self.shared.waiting.fetch_add(1, Ordering::AcqRel);
        let _guard = WaitingGuard(&self.shared.waiting);
        if config.max_waiting.is_some_and(|limit| waiting >= limit) {
            return Err(self.reject());
        }
        let semaphore = Arc::clone(&self.shared.semaphore);
        match tokio::time::timeout(config.max_wait, semaphore.acquire_owned()).await {
            Ok(Ok(permit)) => {
                bump(&self.shared.counters.waited);
                Ok(self.permitted(permit))
            }
            // The semaphore is never closed; a closed one would mean "no slot" anyway.
            Ok(Err(_)) | Err(_) => Err(self.reject()),
        }
    }

    crate::util::call_via_run! {
        /// Runs `operation` in a slot, waiting for one as [`acquire`](Self::acquire)
        /// does; the slot is released when the operation ends. The operation's own
        /// errors come back as [`ResilienceError::Inner`].
        ///
        /// # Errors
        ///
        /// [`ResilienceError::Rejected`] with [`Rejection::BulkheadFull`] when no slot
        /// was had (the operation was not called), or the operation's own error.
        ///
        /// # Cancel safety
        ///
        /// Dropping the future while it waits ends the wait; dropping it while the
        /// operation runs drops the operation and releases its slot at once.
        ///
        /// # Examples
        ///
        /// ```
        /// # #[tokio::main(flavor = "current_thread")]
        /// # async fn main() {
        /// let bulkhead = hale_resilience::Bulkhead::builder("db").build().unwrap();
        /// let rows = bulkhead.call(|| async { Ok::<_, String>(vec![1, 2]) }).await;
        /// assert_eq!(rows.unwrap(), vec![1, 2]);
        /// # }
        /// ```
    }

    /// The building block for composition: `operation` already reports
    /// [`ResilienceError`]s, which pass through unchanged.
    ///
    /// # Errors
    ///
    /// As for [`call`](Self::call), with the operation's errors unchanged.
    ///
    /// # Cancel safety
    ///
    /// As for [`call`](Self::call).
    ///
    /// # Examples
    ///
    /// ```
    /// use hale_resilience::ResilienceError;
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// let bulkhead = hale_resilience::Bulkhead::builder("db").build().unwrap();
    /// let rows = bulkhead
    ///     .run(|| async { Ok::<_, ResilienceError<String>>(3) })
    ///     .await;
    /// assert_eq!(rows.unwrap(), 3);
    /// # }
    /// ```
    pub async fn run<T, E, F, Fut>(&self, operation: F) -> Result<T, ResilienceError<E>>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<T, ResilienceError<E>>>,
    {
        let _permit = self.acquire().await?;
        operation().await
    }

    fn try_acquire_quietly(&self) -> Result<OwnedSemaphorePermit, ()> {
        Arc::clone(&self.shared.semaphore)
            .try_acquire_owned()
            .map_err(|_| ())
    }

    fn permitted(&self, permit: OwnedSemaphorePermit) -> BulkheadPermit {
        bump(&self.shared.counters.permitted);
        BulkheadPermit { _permit: permit }
    }

    fn reject(&self) -> Rejection {
        bump(&self.shared.counters.rejected);
        let rejection = Rejection::BulkheadFull {
            bulkhead: Arc::clone(&self.shared.name),
            max_concurrent: self.shared.config.max_concurrent,
        };
        self.shared.events.emit_rejection(&rejection);
        rejection
    }
}

impl fmt::Debug for Bulkhead {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Bulkhead")
            .field("name", &self.shared.name)
            .field("config", &self.shared.config)
            .field("available", &self.available())
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::AtomicU32;
    use tokio::sync::Barrier;
    use tokio::time::{Instant, sleep};

    #[tokio::test(start_paused = true)]
    async fn never_more_than_max_concurrent_calls_run() {
        let bulkhead = Bulkhead::builder("b")
            .max_concurrent(3)
            .max_wait(Duration::from_secs(60))
            .build()
            .unwrap();
        let running = Arc::new(AtomicU32::new(0));
        let peak = Arc::new(AtomicU32::new(0));
        let tasks: Vec<_> = (0..20)
            .map(|_| {
                let (bulkhead, running, peak) = (bulkhead.clone(), running.clone(), peak.clone());
                tokio::spawn(async move {
                    bulkhead
                        .call(|| async {
                            let now = running.fetch_add(1, Ordering::SeqCst) + 1;
                            peak.fetch_max(now, Ordering::SeqCst);
                            sleep(Duration::from_millis(100)).await;
                            running.fetch_sub(1, Ordering::SeqCst);
                            Ok::<_, String>(())
                        })
                        .await
                })
            })
            .collect();
        for task in tasks {
            assert!(task.await.unwrap().is_ok());
        }
        assert_eq!(peak.load(Ordering::SeqCst), 3);
        let stats = bulkhead.stats();
        assert_eq!((stats.permitted, stats.rejected), (20, 0));
        assert_eq!(stats.waited, 17);
    }

    #[tokio::test(start_paused = true)]
    async fn a_caller_waits_at_most_max_wait() {
        let bulkhead = Bulkhead::builder("b")
            .max_concurrent(1)
            .max_wait(Duration::from_millis(250))
            .build()
            .unwrap();
        let _held = bulkhead.try_acquire().unwrap();
        let began = Instant::now();
        let result = bulkhead.acquire().await;
        assert!(matches!(
            result,
            Err(Rejection::BulkheadFull {
                max_concurrent: 1,
                ..
            })
        ));
        assert_eq!(began.elapsed(), Duration::from_millis(250));
        assert_eq!(bulkhead.waiting(), 0);
    }

    #[tokio::test(start_paused = true)]
    async fn the_number_of_waiters_is_bounded() {
        let bulkhead = Bulkhead::builder("b")
            .max_concurrent(1)
            .max_wait(Duration::from_secs(10))
            .max_waiting(2)
            .build()
            .unwrap();
        let held = bulkhead.try_acquire().unwrap();
        let all_waiting = Arc::new(Barrier::new(3));
        let waiters: Vec<_> = (0..2)
            .map(|_| {
                let (bulkhead, barrier) = (bulkhead.clone(), all_waiting.clone());
                tokio::spawn(async move {
                    let wait = bulkhead.acquire();
                    tokio::pin!(wait);
                    // Poll once so the caller is registered as waiting, then signal.
                    tokio::select! {
                        biased;
                        result = &mut wait => return result.map(drop),
                        () = std::future::ready(()) => {}
                    }
                    barrier.wait().await;
                    wait.await.map(drop)
                })
            })
            .collect();
        all_waiting.wait().await;
        assert_eq!(bulkhead.waiting(), 2);
        assert!(
            bulkhead.acquire().await.is_err(),
            "a third waiter is refused at once"
        );
        drop(held);
        for waiter in waiters {
            assert!(waiter.await.unwrap().is_ok());
        }
    }

    #[tokio::test(start_paused = true)]
    async fn zero_max_wait_fails_fast() {
        let bulkhead = Bulkhead::builder("b").max_concurrent(1).build().unwrap();
        let _held = bulkhead.try_acquire().unwrap();
        let began = Instant::now();
        let result = bulkhead.call(|| async { Ok::<_, String>(()) }).await;
        assert!(matches!(
            result,
            Err(ResilienceError::Rejected(Rejection::BulkheadFull { .. }))
        ));
        assert_eq!(began.elapsed(), Duration::ZERO);
    }

    #[test]
    fn zero_slots_are_rejected() {
        assert!(Bulkhead::builder("b").max_concurrent(0).build().is_err());
    }
}
