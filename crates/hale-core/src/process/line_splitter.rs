//! Splitting a byte stream into lines of bounded length.

use tokio::io::{AsyncRead, AsyncReadExt};

/// The longest line kept, in bytes; the rest of a longer line is dropped
/// and the line is marked truncated. Bounds the memory one line can take,
/// whatever a program writes.
pub const MAX_LINE_BYTES: usize = 4096;

/// Cuts bytes into lines of at most [`MAX_LINE_BYTES`].
#[derive(Debug, Default)]
pub(crate) struct LineSplitter {
    line: Vec<u8>,
    truncated: bool,
}

impl LineSplitter {
    /// Feeds `bytes`; calls `emit(line, truncated)` for every line they
    /// complete (without its `\n`, and without a `\r` before it).
    pub(crate) fn feed(&mut self, bytes: &[u8], emit: &mut impl FnMut(&[u8], bool)) {
        for piece in bytes.split_inclusive(|byte| *byte == b'\n') {
            let (text, ends) = match piece.strip_suffix(b"\n") {
                Some(text) => (text, true),
                None => (piece, false),
            };
            let room = MAX_LINE_BYTES - self.line.len();
            if text.len() > room {
                self.truncated = true;
            }
            self.line.extend_from_slice(&text[..text.len().min(room)]);
            if ends {
                self.emit(emit);
            }
        }
    }

    /// Emits what is left after the stream ended, if anything.
    pub(crate) fn finish(&mut self, emit: &mut impl FnMut(&[u8], bool)) {
        if !self.line.is_empty() || self.truncated {
            self.emit(emit);
        }
    }

    fn emit(&mut self, emit: &mut impl FnMut(&[u8], bool)) {
        let line = self.line.strip_suffix(b"\r").unwrap_or(&self.line);
        emit(line, self.truncated);
        self.line.clear();
        self.truncated = false;
    }
}

/// Reads `source` to its end, calling `emit` for every line. A read error
/// ends the stream like an end of file.
///
/// # Cancel safety
///
/// Dropping the future drops what was read of an unfinished line.
pub(crate) async fn read_lines<R>(mut source: R, mut emit: impl FnMut(&[u8], bool))
where
    R: AsyncRead + Unpin,
{
    let mut splitter = LineSplitter::default();
    let mut chunk = [0_u8; 4096];
    loop {
        match source.read(&mut chunk).await {
            Ok(0) | Err(_) => break,
            Ok(read) => splitter.feed(&chunk[..read], &mut emit),
        }
    }
    splitter.finish(&mut emit);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn split(chunks: &[&[u8]]) -> Vec<(String, bool)> {
        let mut lines = Vec::new();
        let mut emit =
            |line: &[u8], truncated| lines.push((String::from_utf8_lossy(line).into_owned(), truncated));
        let mut splitter = LineSplitter::default();
        for chunk in chunks {
            splitter.feed(chunk, &mut emit);
        }
        splitter.finish(&mut emit);
        lines
    }

    #[test]
    fn lines_are_split_across_chunks() {
        assert_eq!(
            split(&[b"one\ntw", b"o\r\nthree"]),
            vec![
                ("one".into(), false),
                ("two".into(), false),
                ("three".into(), false)
            ]
        );
    }

    #[test]
    fn empty_lines_are_kept_and_nothing_after_the_last_newline_is_invented() {
        assert_eq!(
            split(&[b"\n\n"]),
            vec![(String::new(), false), (String::new(), false)]
        );
        assert_eq!(split(&[b""]), Vec::<(String, bool)>::new());
    }

    #[test]
    fn a_long_line_is_cut_at_the_bound_and_marked() {
        let long = vec![b'x'; MAX_LINE_BYTES * 3 + 5];
        let lines = split(&[&long, b"\nnext\n"]);
        assert_eq!(lines.len(), 2);
        assert_eq!(lines[0].0.len(), MAX_LINE_BYTES);
        assert!(lines[0].1);
        assert_eq!(lines[1], ("next".into(), false));
    }
}
