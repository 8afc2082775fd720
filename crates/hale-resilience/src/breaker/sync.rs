//! The synchronisation the breaker's shared state is built on: the published word and
//! the machine's lock. Under `cfg(loom)` they are loom's, so `tests/loom_breaker.rs` can
//! explore every interleaving of admissions, results and transitions; otherwise std's.

#[cfg(loom)]
pub(crate) use loom::sync::atomic::AtomicU64;
#[cfg(loom)]
use loom::sync::{Mutex, MutexGuard};
#[cfg(not(loom))]
pub(crate) use std::sync::atomic::AtomicU64;
#[cfg(not(loom))]
use std::sync::{Mutex, MutexGuard};

/// A mutex whose guard is taken back from a poisoned lock: the machine is only mutated
/// by short, non-panicking steps, so a panic elsewhere cannot leave it half-changed.
#[derive(Debug)]
pub(crate) struct Lock<T>(Mutex<T>);

impl<T> Lock<T> {
    pub(crate) fn new(value: T) -> Self {
        Self(Mutex::new(value))
    }

    pub(crate) fn lock(&self) -> MutexGuard<'_, T> {
        self.0.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}
