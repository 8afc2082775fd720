//! Progress beats that reach a supervised child's heartbeat through code
//! that knows nothing about it.
//!
//! A watched agent proves it is alive by beating its heartbeat. When the
//! agent spends a minute inside a retry loop or a fallback chain, the code
//! doing the work is a library's, not the agent's, and threading the
//! heartbeat through every input type would be glue. Instead the agent runs
//! the call inside a [`Progress`] scope, and the library calls
//! [`report_progress`] at the points where it knows work moved on (an
//! attempt started, a backoff ended, the next fallback began). Outside any
//! scope, [`report_progress`] does nothing and costs one task-local lookup.

use std::fmt;
use std::future::Future;
use std::sync::Arc;

tokio::task_local! {
    static PROGRESS: Progress;
}

/// What a [`report_progress`] call inside a scope does: usually "beat this
/// child's heartbeat".
///
/// # Examples
///
/// ```
/// use std::sync::Arc;
/// use std::sync::atomic::{AtomicU32, Ordering};
/// use hale_util::{Progress, report_progress};
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// let beats = Arc::new(AtomicU32::new(0));
/// let counter = Arc::clone(&beats);
/// let progress = Progress::new(move || {
///     counter.fetch_add(1, Ordering::Relaxed);
/// });
/// progress
///     .scope(async {
///         report_progress(); // deep inside some library call
///         report_progress();
///     })
///     .await;
/// report_progress(); // outside the scope: nothing happens
/// assert_eq!(beats.load(Ordering::Relaxed), 2);
/// # }
/// ```
#[derive(Clone)]
pub struct Progress {
    on_progress: Arc<dyn Fn() + Send + Sync>,
}

impl Progress {
    /// A scope value that runs `on_progress` for every report inside it.
    /// `on_progress` runs on the reporting task, so it must be cheap and
    /// must not block (a relaxed atomic store is the intended size).
    pub fn new(on_progress: impl Fn() + Send + Sync + 'static) -> Self {
        Self {
            on_progress: Arc::new(on_progress),
        }
    }

    /// Runs `work` with this progress hook in scope: every
    /// [`report_progress`] made by `work`, on its own task, runs the hook.
    /// Tasks that `work` spawns do not inherit the scope (tokio task-locals
    /// never cross a spawn); wrap their futures in a scope of their own.
    ///
    /// A scope inside a scope shadows it until the inner one ends.
    ///
    /// # Cancel safety
    ///
    /// Cancel safe exactly when `work` is: dropping the returned future
    /// drops `work` and ends the scope.
    ///
    /// # Examples
    ///
    /// See [`Progress`].
    pub async fn scope<F: Future>(self, work: F) -> F::Output {
        PROGRESS.scope(self, work).await
    }
}

impl fmt::Debug for Progress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Progress").finish_non_exhaustive()
    }
}

/// Reports that the current work moved on: runs the hook of the innermost
/// [`Progress`] scope of this task, if there is one.
///
/// # Examples
///
/// See [`Progress`].
pub fn report_progress() {
    // Outside a scope (or during a task-local's teardown) there is no one
    // to tell, which is fine: progress reports are advisory.
    let _ = PROGRESS.try_with(|progress| (progress.on_progress)());
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use std::sync::atomic::{AtomicU32, Ordering};

    use super::*;

    fn counting() -> (Progress, Arc<AtomicU32>) {
        let count = Arc::new(AtomicU32::new(0));
        let counter = Arc::clone(&count);
        let progress = Progress::new(move || {
            counter.fetch_add(1, Ordering::Relaxed);
        });
        (progress, count)
    }

    #[tokio::test]
    async fn an_inner_scope_shadows_the_outer_one_until_it_ends() {
        let (outer, outer_count) = counting();
        let (inner, inner_count) = counting();
        outer
            .scope(async {
                report_progress();
                inner.scope(async { report_progress() }).await;
                report_progress();
            })
            .await;
        assert_eq!(outer_count.load(Ordering::Relaxed), 2);
        assert_eq!(inner_count.load(Ordering::Relaxed), 1);
    }

    #[tokio::test]
    async fn a_spawned_task_does_not_inherit_the_scope() {
        let (progress, count) = counting();
        progress
            .scope(async {
                tokio::spawn(async { report_progress() }).await.unwrap();
            })
            .await;
        assert_eq!(count.load(Ordering::Relaxed), 0);
    }
}
