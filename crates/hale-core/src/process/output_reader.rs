//! A program's stdout or stderr, line by line, into `tracing` (and the view).

use tokio::io::AsyncRead;

use crate::path::ChildPath;
use crate::process::line_splitter::read_lines;
use crate::process::recent_lines::RecentLines;
use crate::process::{OutputLine, OutputStream, ProcessView};
use crate::watchdog::Heartbeat;

/// Where one stream's lines go.
pub(crate) struct OutputTarget {
    pub(crate) path: ChildPath,
    pub(crate) pid: u32,
    pub(crate) stream: OutputStream,
    pub(crate) view: ProcessView,
    pub(crate) recent: RecentLines,
    /// Set when output lines are the run's heartbeat.
    pub(crate) heartbeat: Option<Heartbeat>,
}

/// Reads `source` to its end. Each line becomes a `tracing` event at `info`
/// (target `hale::process`, with the child's path, the pid and the stream),
/// enters the run's recent lines and, if kept, the view's ring; and beats
/// the heartbeat when output is the run's liveness. A program that writes
/// faster than this reads blocks on its full pipe: the pipe is the bound.
///
/// # Cancel safety
///
/// Dropping the future loses the unfinished line.
pub(crate) async fn forward<R: AsyncRead + Unpin>(source: R, target: OutputTarget) {
    let keep = target.view.keeps_output();
    read_lines(source, |bytes, truncated| {
        let text = String::from_utf8_lossy(bytes);
        tracing::info!(
            target: "hale::process",
            path = %target.path,
            pid = target.pid,
            stream = target.stream.as_str(),
            truncated,
            "{text}"
        );
        if let Some(heartbeat) = &target.heartbeat {
            heartbeat.beat();
        }
        target.recent.push(&text);
        if keep {
            target.view.push_line(OutputLine {
                pid: target.pid,
                stream: target.stream,
                text: text.into_owned(),
                truncated,
            });
        }
    })
    .await;
}
