//! What a supervised program shows of itself: [`ProcessView`].

use std::collections::VecDeque;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use crate::process::{OutputLine, ProcessExit};

/// The most lines [`ProcessCommand::keep_output`](crate::process::ProcessCommand::keep_output)
/// may ask to keep: with lines of at most
/// [`MAX_LINE_BYTES`](crate::process::MAX_LINE_BYTES), a view holds at most
/// 40 MiB of text.
pub const MAX_KEPT_LINES: usize = 10_000;

/// The most characters of a `STATUS=` text that are kept.
pub(crate) const MAX_STATUS_CHARS: usize = 256;

/// A live view of one process child, across its restarts: the pid of the
/// run now, the last `STATUS=` it sent over the notify protocol, how its last
/// run ended, and (with [`keep_output`](crate::process::ProcessCommand::keep_output))
/// its last output lines in a ring buffer.
///
/// Get it from [`ProcessCommand::view`](crate::process::ProcessCommand::view)
/// before the command goes into a spec; clones share the same view. Memory
/// is bounded: the ring holds at most the number of lines asked for (oldest
/// dropped first), each at most [`MAX_LINE_BYTES`](crate::process::MAX_LINE_BYTES),
/// and the status at most 256 characters.
///
/// # Examples
///
/// ```
/// use hale_core::process::ProcessCommand;
///
/// let command = ProcessCommand::new("/bin/echo").arg("hello").keep_output(100);
/// let view = command.view();
/// assert_eq!(view.pid(), None); // nothing runs yet
/// assert!(view.output().is_empty());
/// ```
#[derive(Clone, Debug, Default)]
pub struct ProcessView {
    inner: Arc<ViewInner>,
}

#[derive(Debug, Default)]
struct ViewInner {
    pid: AtomicU32,
    started: AtomicU64,
    status: Mutex<Option<String>>,
    last_exit: Mutex<Option<ProcessExit>>,
    output: Mutex<Ring>,
}

#[derive(Debug, Default)]
struct Ring {
    capacity: usize,
    lines: VecDeque<OutputLine>,
}

impl ProcessView {
    /// The pid of the run now, if one runs (between its start and its reap).
    pub fn pid(&self) -> Option<u32> {
        match self.inner.pid.load(Ordering::Acquire) {
            0 => None,
            pid => Some(pid),
        }
    }

    /// How many runs were started so far (a start that failed to spawn is
    /// not counted).
    pub fn started(&self) -> u64 {
        self.inner.started.load(Ordering::Acquire)
    }

    /// The last `STATUS=` text the program sent, cut to 256 characters.
    pub fn status(&self) -> Option<String> {
        lock(&self.inner.status).clone()
    }

    /// How the last run that ended, ended.
    pub fn last_exit(&self) -> Option<ProcessExit> {
        *lock(&self.inner.last_exit)
    }

    /// The kept output lines, oldest first (empty unless
    /// [`keep_output`](crate::process::ProcessCommand::keep_output) was set).
    pub fn output(&self) -> Vec<OutputLine> {
        lock(&self.inner.output).lines.iter().cloned().collect()
    }

    pub(crate) fn set_capacity(&self, capacity: usize) {
        let mut ring = lock(&self.inner.output);
        ring.capacity = capacity;
        while ring.lines.len() > capacity {
            ring.lines.pop_front();
        }
    }

    pub(crate) fn keeps_output(&self) -> bool {
        lock(&self.inner.output).capacity > 0
    }

    pub(crate) fn push_line(&self, line: OutputLine) {
        let mut ring = lock(&self.inner.output);
        if ring.capacity == 0 {
            return;
        }
        if ring.lines.len() >= ring.capacity {
            ring.lines.pop_front();
        }
        ring.lines.push_back(line);
    }

    pub(crate) fn record_start(&self, pid: u32) {
        *lock(&self.inner.status) = None;
        self.inner.pid.store(pid, Ordering::Release);
        self.inner.started.fetch_add(1, Ordering::AcqRel);
    }

    pub(crate) fn record_exit(&self, pid: u32, exit: ProcessExit) {
        *lock(&self.inner.last_exit) = Some(exit);
        // A later run may have started meanwhile: clear only our own pid.
        let _ = self
            .inner
            .pid
            .compare_exchange(pid, 0, Ordering::AcqRel, Ordering::Acquire);
    }

    pub(crate) fn set_status(&self, status: String) {
        *lock(&self.inner.status) = Some(status);
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::process::OutputStream;

    fn line(n: usize) -> OutputLine {
        OutputLine {
            pid: 1,
            stream: OutputStream::Stdout,
            text: n.to_string(),
            truncated: false,
        }
    }

    #[test]
    fn the_ring_keeps_the_newest_lines_up_to_its_capacity() {
        let view = ProcessView::default();
        view.push_line(line(0));
        assert!(view.output().is_empty(), "no capacity, nothing kept");
        view.set_capacity(3);
        for n in 1..=5 {
            view.push_line(line(n));
        }
        let texts: Vec<_> = view.output().into_iter().map(|line| line.text).collect();
        assert_eq!(texts, ["3", "4", "5"]);
    }

    #[test]
    fn an_exit_clears_only_its_own_pid() {
        let view = ProcessView::default();
        view.record_start(10);
        view.record_start(11);
        view.record_exit(10, ProcessExit::Code(1));
        assert_eq!(view.pid(), Some(11));
        assert_eq!(view.last_exit(), Some(ProcessExit::Code(1)));
        view.record_exit(11, ProcessExit::Code(0));
        assert_eq!(view.pid(), None);
        assert_eq!(view.started(), 2);
    }
}
