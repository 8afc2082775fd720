//! Single-flight: one run of the work per logical task, however many ask for it.
//!
//! Agents retry, supervisors restart, users double-click: the same logical task (refund
//! order 1234, summarise document 42) is easily requested twice while the first run is
//! still going. A [`SingleFlight`] guard keys work on the task. The first request for a
//! key runs the work; a request for a key that is running either **joins** it and gets a
//! clone of the same result ([`OnDuplicate::Join`]), or is **refused** with
//! [`Rejection::AlreadyRunning`] ([`OnDuplicate::Refuse`]). Nothing is cached: once the
//! run ends, the next request starts a fresh one.
//!
//! If the caller running the work is cancelled (or panics), the key is freed and one of
//! the joined callers starts the work itself, so nobody waits on a run that no longer
//! exists.
//!
//! ```
//! use hale_resilience::{OnDuplicate, SingleFlight};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() {
//! let refunds: SingleFlight<u64, String, String> = SingleFlight::new("refunds", OnDuplicate::Join);
//! let (a, b) = tokio::join!(
//!     refunds.run(1234, || async {
//!         tokio::task::yield_now().await; // still running when the duplicate arrives
//!         Ok("refunded".to_string())
//!     }),
//!     refunds.run(1234, || async { Ok("refunded twice!".to_string()) }),
//! );
//! assert_eq!(a.unwrap(), "refunded");
//! assert_eq!(b.unwrap(), "refunded"); // joined the first run
//! assert_eq!(refunds.stats().started, 1);
//! # }
//! ```

use std::collections::HashMap;
use std::fmt;
use std::future::Future;
use std::hash::Hash;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use tokio::sync::watch;

use crate::error::{Rejection, ResilienceError};
use crate::events::{EventKind, ResilienceBus};
use crate::stats::{bump, counters};
use crate::util::lock;

/// What a request for a key that is already running does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum OnDuplicate {
    /// Wait for the running work and share its result.
    #[default]
    Join,
    /// Return [`Rejection::AlreadyRunning`] at once.
    Refuse,
}

counters! {
    SingleFlightCounters =>
    /// Counters of a single-flight guard since it was created.
    pub struct SingleFlightStats {
        /// Runs of the work started.
        started,
        /// Requests that joined a running run.
        joined,
        /// Requests refused because their key was running.
        refused,
        /// Runs started by a joined caller after the original runner went away.
        taken_over,
    }
}

type Outcome<T, E> = Option<Result<T, E>>;

struct Flight<T, E> {
    id: u64,
    outcome: watch::Receiver<Outcome<T, E>>,
    joined: usize,
}

struct Inner<K, T, E> {
    flights: Mutex<HashMap<K, Flight<T, E>>>,
    next_id: AtomicU64,
    counters: SingleFlightCounters,
}

/// A single-flight guard for work keyed by `K`, producing `Result<T, E>`. Cheap to clone;
/// clones share the running work.
pub struct SingleFlight<K, T, E> {
    name: Arc<str>,
    mode: OnDuplicate,
    events: ResilienceBus,
    inner: Arc<Inner<K, T, E>>,
}

enum Role<T, E> {
    Run(watch::Sender<Outcome<T, E>>, u64),
    Join(watch::Receiver<Outcome<T, E>>),
}

/// Frees the key when the running caller finishes or goes away, but only if the entry is
/// still its own (a newer run may have taken the key since).
struct RunGuard<'a, K: Hash + Eq, T, E> {
    inner: &'a Inner<K, T, E>,
    key: &'a K,
    id: u64,
}

impl<K: Hash + Eq, T, E> Drop for RunGuard<'_, K, T, E> {
    fn drop(&mut self) {
        let mut flights = lock(&self.inner.flights);
        if flights.get(self.key).is_some_and(|f| f.id == self.id) {
            flights.remove(self.key);
        }
    }
}

impl<K, T, E> SingleFlight<K, T, E>
where
    K: Hash + Eq + Clone + fmt::Debug,
    T: Clone,
    E: Clone,
{
    /// A guard named `name` that treats duplicates as `mode` says.
    ///
    /// # Examples
    ///
    /// ```
    /// use hale_resilience::{OnDuplicate, SingleFlight};
    ///
    /// let refunds: SingleFlight<u64, String, String> = SingleFlight::new("refunds", OnDuplicate::Join);
    /// assert_eq!(refunds.name(), "refunds");
    /// ```
    pub fn new(name: impl Into<Arc<str>>, mode: OnDuplicate) -> Self {
        Self {
            name: name.into(),
            mode,
            events: ResilienceBus::default(),
            inner: Arc::new(Inner {
                flights: Mutex::new(HashMap::new()),
                next_id: AtomicU64::new(0),
                counters: SingleFlightCounters::default(),
            }),
        }
    }

    /// Reports joins and refusals to `bus` (they are traced either way).
    ///
    /// # Examples
    ///
    /// ```
    /// use hale_resilience::{OnDuplicate, ResilienceBus, SingleFlight};
    ///
    /// let bus = ResilienceBus::new();
    /// let jobs: SingleFlight<u32, (), String> = SingleFlight::new("jobs", OnDuplicate::Refuse).events(&bus);
    /// assert_eq!(jobs.name(), "jobs");
    /// ```
    pub fn events(mut self, bus: &ResilienceBus) -> Self {
        self.events = bus.clone();
        self
    }

    /// The guard's name.
    ///
    /// # Examples
    ///
    /// ```
    /// use hale_resilience::{OnDuplicate, SingleFlight};
    ///
    /// let refunds: SingleFlight<u64, String, String> = SingleFlight::new("refunds", OnDuplicate::Join);
    /// assert_eq!(refunds.name(), "refunds");
    /// ```
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Whether work for `key` is running.
    ///
    /// # Examples
    ///
    /// ```
    /// use hale_resilience::{OnDuplicate, SingleFlight};
    ///
    /// let refunds: SingleFlight<u64, String, String> = SingleFlight::new("refunds", OnDuplicate::Join);
    /// assert!(!refunds.is_running(&1234));
    /// ```
    pub fn is_running(&self, key: &K) -> bool {
        lock(&self.inner.flights).contains_key(key)
    }

    /// How many requests joined the run for `key` so far, including any that have left
    /// since (0 if none is running).
    ///
    /// # Examples
    ///
    /// ```
    /// use hale_resilience::{OnDuplicate, SingleFlight};
    ///
    /// let refunds: SingleFlight<u64, String, String> = SingleFlight::new("refunds", OnDuplicate::Join);
    /// assert_eq!(refunds.joined(&1234), 0);
    /// ```
    pub fn joined(&self, key: &K) -> usize {
        lock(&self.inner.flights).get(key).map_or(0, |f| f.joined)
    }

    /// Counters since creation.
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// use hale_resilience::{OnDuplicate, SingleFlight};
    ///
    /// let refunds: SingleFlight<u64, String, String> = SingleFlight::new("refunds", OnDuplicate::Join);
    /// refunds.run(1, || async { Ok("done".to_string()) }).await.unwrap();
    /// assert_eq!(refunds.stats().started, 1);
    /// # }
    /// ```
    pub fn stats(&self) -> SingleFlightStats {
        self.inner.counters.snapshot()
    }

    /// Runs `work` for `key`, or joins (or is refused by) the run already going for it.
    /// `work` is only called if this request ends up running it.
    ///
    /// # Errors
    ///
    /// The work's own error as [`ResilienceError::Inner`] (a joined request gets a clone
    /// of the runner's), or [`ResilienceError::Rejected`] with
    /// [`Rejection::AlreadyRunning`] when the guard refuses duplicates and `key` is
    /// running.
    ///
    /// # Cancel safety
    ///
    /// Dropping the future of the request that runs the work drops the work and frees
    /// the key at once: a joined request then takes the work over and runs it itself,
    /// and the next request for the key starts afresh. Dropping a joined request only
    /// stops its waiting; the run goes on for the others.
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// use hale_resilience::{OnDuplicate, SingleFlight};
    ///
    /// let refunds: SingleFlight<u64, String, String> = SingleFlight::new("refunds", OnDuplicate::Join);
    /// let (a, b) = tokio::join!(
    ///     refunds.run(1234, || async {
    ///         tokio::task::yield_now().await;
    ///         Ok("refunded".to_string())
    ///     }),
    ///     refunds.run(1234, || async { Ok("refunded twice".to_string()) }),
    /// );
    /// assert_eq!((a.unwrap(), b.unwrap()), ("refunded".to_string(), "refunded".to_string()));
    /// # }
    /// ```
    pub async fn run<F, Fut>(&self, key: K, work: F) -> Result<T, ResilienceError<E>>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<T, E>>,
    {
        let mut taking_over = false;
        loop {
            match self.role(&key, taking_over)? {
                Role::Run(sender, id) => {
                    let guard = RunGuard {
                        inner: &self.inner,
                        key: &key,
                        id,
                    };
                    let outcome = work().await;
                    // Free the key first, then publish: a request arriving in between
                    // starts a fresh run rather than joining a finished one.
                    drop(guard);
                    sender.send_replace(Some(outcome.clone()));
                    return outcome.map_err(ResilienceError::Inner);
                }
                Role::Join(mut receiver) => {
                    if let Ok(outcome) = receiver.wait_for(Option::is_some).await
                        && let Some(outcome) = outcome.as_ref()
                    {
                        return outcome.clone().map_err(ResilienceError::Inner);
                    }
                    // The runner went away without a result: try to run it ourselves.
                    taking_over = true;
                }
            }
        }
    }

    fn role(&self, key: &K, taking_over: bool) -> Result<Role<T, E>, Rejection> {
        let counters = &self.inner.counters;
        let mut flights = lock(&self.inner.flights);
        if let Some(flight) = flights.get_mut(key) {
            return match self.mode {
                OnDuplicate::Join => {
                    flight.joined += 1;
                    let receiver = flight.outcome.clone();
                    drop(flights);
                    if !taking_over {
                        bump(&counters.joined);
                        self.events.emit(
                            &self.name,
                            EventKind::SingleFlightJoined {
                                key: format!("{key:?}"),
                            },
                        );
                    }
                    Ok(Role::Join(receiver))
                }
                OnDuplicate::Refuse => {
                    drop(flights);
                    bump(&counters.refused);
                    let rejection = Rejection::AlreadyRunning {
                        guard: Arc::clone(&self.name),
                        key: format!("{key:?}"),
                    };
                    self.events.emit_rejection(&rejection);
                    Err(rejection)
                }
            };
        }
        let id = self.inner.next_id.fetch_add(1, Ordering::Relaxed);
        let (sender, receiver) = watch::channel(None);
        flights.insert(
            key.clone(),
            Flight {
                id,
                outcome: receiver,
                joined: 0,
            },
        );
        drop(flights);
        bump(&counters.started);
        if taking_over {
            bump(&counters.taken_over);
        }
        Ok(Role::Run(sender, id))
    }
}

impl<K, T, E> Clone for SingleFlight<K, T, E> {
    fn clone(&self) -> Self {
        Self {
            name: Arc::clone(&self.name),
            mode: self.mode,
            events: self.events.clone(),
            inner: Arc::clone(&self.inner),
        }
    }
}

impl<K, T, E> fmt::Debug for SingleFlight<K, T, E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SingleFlight")
            .field("name", &self.name)
            .field("mode", &self.mode)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::AtomicU32;
    use std::time::Duration;
    use tokio::sync::oneshot;
    use tokio::time::timeout;

    #[tokio::test(start_paused = true)]
    async fn many_concurrent_callers_start_the_work_once() {
        const CALLERS: usize = 100;
        let bus = ResilienceBus::new();
        let mut events = bus.subscribe();
        let guard: SingleFlight<&str, u32, String> =
            SingleFlight::new("summaries", OnDuplicate::Join).events(&bus);
        let runs = Arc::new(AtomicU32::new(0));
        let (release, released) = oneshot::channel::<()>();
        let released = Arc::new(Mutex::new(Some(released)));

        let tasks: Vec<_> = (0..CALLERS)
            .map(|_| {
                let (guard, runs, released) = (guard.clone(), runs.clone(), released.clone());
                tokio::spawn(async move {
                    guard
                        .run("doc-42", || async move {
                            let n = runs.fetch_add(1, Ordering::SeqCst) + 1;
                            let gate = released.lock().unwrap().take();
                            if let Some(gate) = gate {
                                let _ = gate.await;
                            }
                            Ok(n)
                        })
                        .await
                })
            })
            .collect();

        // Hold the run open until every other caller has joined it.
        let joins = timeout(Duration::from_secs(5), async {
            let mut joins = 0;
            while joins < CALLERS - 1 {
                if let Ok(EventKind::SingleFlightJoined { .. }) = events.recv().await.map(|e| e.kind) {
                    joins += 1;
                }
            }
            joins
        })
        .await
        .expect("every caller joins within the bound");
        assert_eq!(joins, CALLERS - 1);
        assert_eq!(guard.joined(&"doc-42"), CALLERS - 1);
        release.send(()).unwrap();

        for task in tasks {
            assert_eq!(task.await.unwrap().unwrap(), 1);
        }
        assert_eq!(runs.load(Ordering::SeqCst), 1);
        assert!(!guard.is_running(&"doc-42"));
        let stats = guard.stats();
        assert_eq!((stats.started, stats.joined), (1, CALLERS as u64 - 1));
    }

    #[tokio::test]
    async fn refuse_mode_turns_duplicates_away() {
        let guard: SingleFlight<u32, (), String> = SingleFlight::new("jobs", OnDuplicate::Refuse);
        let (release, released) = oneshot::channel::<()>();
        let first = guard.run(7, || async {
            let _ = released.await;
            Ok(())
        });
        tokio::pin!(first);
        // Start the first run (it parks on the channel).
        assert!(futures_poll_once(&mut first).await.is_none());
        let second = guard.run(7, || async { Ok(()) }).await;
        assert!(matches!(
            second,
            Err(ResilienceError::Rejected(Rejection::AlreadyRunning { ref key, .. })) if key == "7"
        ));
        assert!(guard.run(8, || async { Ok(()) }).await.is_ok(), "other keys run");
        release.send(()).unwrap();
        assert!(first.await.is_ok());
        assert!(
            guard.run(7, || async { Ok(()) }).await.is_ok(),
            "a finished key runs again"
        );
        assert_eq!(guard.stats().refused, 1);
    }

    #[tokio::test]
    async fn errors_are_shared_with_joined_callers_too() {
        let guard: SingleFlight<u32, (), String> = SingleFlight::new("jobs", OnDuplicate::Join);
        let (a, b) = tokio::join!(
            guard.run(1, || async {
                tokio::task::yield_now().await;
                Err("boom".to_string())
            }),
            guard.run(1, || async { Ok(()) }),
        );
        assert!(matches!(a, Err(ResilienceError::Inner(ref e)) if e == "boom"));
        assert!(matches!(b, Err(ResilienceError::Inner(ref e)) if e == "boom"));
    }

    #[tokio::test]
    async fn a_joined_caller_takes_over_when_the_runner_is_cancelled() {
        let guard: SingleFlight<u32, &'static str, String> = SingleFlight::new("jobs", OnDuplicate::Join);
        // Boxed, not stack-pinned, so that dropping it really drops the run.
        let mut runner = Box::pin(guard.run(1, std::future::pending));
        assert!(futures_poll_once(&mut runner).await.is_none());
        let joiner = guard.run(1, || async { Ok("ran it myself") });
        tokio::pin!(joiner);
        assert!(futures_poll_once(&mut joiner).await.is_none());
        assert_eq!(guard.joined(&1), 1);
        drop(runner); // cancelled mid-run
        assert_eq!(joiner.await.unwrap(), "ran it myself");
        assert_eq!(guard.stats().taken_over, 1);
    }

    /// Polls a future once; `Some` if it completed.
    async fn futures_poll_once<F: Future + Unpin>(future: &mut F) -> Option<F::Output> {
        std::future::poll_fn(|cx| {
            std::task::Poll::Ready(match std::pin::Pin::new(&mut *future).poll(cx) {
                std::task::Poll::Ready(value) => Some(value),
                std::task::Poll::Pending => None,
            })
        })
        .await
    }
}
