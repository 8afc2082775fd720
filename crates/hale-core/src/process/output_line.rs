//! One line a supervised program wrote: [`OutputLine`] and [`OutputStream`].

use serde::{Deserialize, Serialize};

/// Which of a program's output streams a line came from.
///
/// # Examples
///
/// ```
/// use hale_core::process::OutputStream;
///
/// assert_eq!(OutputStream::Stderr.as_str(), "stderr");
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OutputStream {
    /// Standard output.
    Stdout,
    /// Standard error.
    Stderr,
}

impl OutputStream {
    /// `"stdout"` or `"stderr"`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Stdout => "stdout",
            Self::Stderr => "stderr",
        }
    }
}

/// One line of a program's output, as kept by
/// [`ProcessCommand::keep_output`](crate::process::ProcessCommand::keep_output).
///
/// # Examples
///
/// ```
/// use hale_core::process::{OutputLine, OutputStream};
///
/// let line = OutputLine { pid: 42, stream: OutputStream::Stdout, text: "ready".into(), truncated: false };
/// assert_eq!(line.text, "ready");
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct OutputLine {
    /// The pid of the run that wrote it.
    pub pid: u32,
    /// The stream it was written to.
    pub stream: OutputStream,
    /// The line, without its line ending; invalid UTF-8 is replaced.
    pub text: String,
    /// Whether the line was longer than
    /// [`MAX_LINE_BYTES`](crate::process::MAX_LINE_BYTES) and was cut there.
    pub truncated: bool,
}
