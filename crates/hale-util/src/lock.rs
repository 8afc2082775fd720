//! Locking a mutex whatever panicked while it was held.

use std::sync::{Mutex, MutexGuard, PoisonError};

/// Locks `mutex`, ignoring poisoning.
///
/// Hale keeps only small records behind its mutexes (a subscriber list, a
/// recorded exit, a breaker's counters), updated in a few steps that leave
/// them valid at every point. A panic elsewhere while one was held is no
/// reason to make every later caller panic too.
///
/// # Examples
///
/// ```
/// use std::sync::Mutex;
///
/// let counter = Mutex::new(0);
/// *hale_util::lock(&counter) += 1;
/// assert_eq!(*hale_util::lock(&counter), 1);
/// ```
pub fn lock<T: ?Sized>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};

    use super::lock;

    #[test]
    fn a_poisoned_mutex_is_still_usable() {
        let shared = Arc::new(Mutex::new(vec![1]));
        let poisoner = Arc::clone(&shared);
        let _ = std::thread::spawn(move || {
            let _guard = poisoner.lock();
            panic!("poison it");
        })
        .join();
        assert!(shared.is_poisoned());
        lock(&shared).push(2);
        assert_eq!(*lock(&shared), [1, 2]);
    }
}
