//! The last few lines of one run, for start errors.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex, PoisonError};

/// How many lines a start error quotes.
const KEPT: usize = 8;

/// The last [`KEPT`] output lines of one run (each at most
/// [`MAX_LINE_BYTES`](crate::process::MAX_LINE_BYTES)), so that a program
/// that dies before it is ready gets an error that says why.
#[derive(Clone, Debug, Default)]
pub(crate) struct RecentLines(Arc<Mutex<VecDeque<String>>>);

impl RecentLines {
    pub(crate) fn push(&self, line: &str) {
        let mut lines = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        if lines.len() == KEPT {
            lines.pop_front();
        }
        lines.push_back(line.to_owned());
    }

    pub(crate) fn lines(&self) -> Vec<String> {
        let lines = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        lines.iter().cloned().collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_last_lines_are_kept() {
        let recent = RecentLines::default();
        for n in 0..20 {
            recent.push(&n.to_string());
        }
        let lines = recent.lines();
        assert_eq!(lines.len(), KEPT);
        assert_eq!(lines.last().map(String::as_str), Some("19"));
    }
}
