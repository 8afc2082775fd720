//! Reading a program's notify datagrams and acting on them.

use tokio::sync::watch;
use tokio::time::Instant;

use crate::path::ChildPath;
use crate::process::ProcessView;
use crate::process::datagram_budget::{Admission, DatagramBudget};
use crate::process::notify_message::NotifyMessage;
use crate::process::notify_socket::NotifySocket;
use crate::watchdog::Heartbeat;

/// The longest notify datagram read whole; the kernel cuts a longer one to
/// this size (systemd's own messages are far shorter).
pub const MAX_DATAGRAM_BYTES: usize = 4096;

/// The most datagrams acted on per second and per run. Beyond it datagrams
/// are read and dropped (so the socket never backs up), and a warning says
/// how many were dropped. A program that floods the socket cannot make Hale
/// spend more than this on it.
pub const MAX_DATAGRAMS_PER_SECOND: u32 = 1000;

/// Where one run's notify datagrams take effect.
pub(crate) struct NotifyTarget {
    pub(crate) path: ChildPath,
    pub(crate) pid: u32,
    pub(crate) heartbeat: Heartbeat,
    /// Whether `WATCHDOG=1` is this run's heartbeat.
    pub(crate) beats: bool,
    pub(crate) view: ProcessView,
    pub(crate) ready: watch::Sender<bool>,
}

/// Reads `socket` until the task is dropped, applying each datagram to
/// `target`.
///
/// # Cancel safety
///
/// Dropping the future drops the socket (and removes its directory); a
/// datagram being read is lost, which only matters while the run lives.
pub(crate) async fn listen(socket: NotifySocket, target: NotifyTarget) {
    let mut buffer = vec![0_u8; MAX_DATAGRAM_BYTES];
    let mut budget = DatagramBudget::new(MAX_DATAGRAMS_PER_SECOND);
    loop {
        let Ok(read) = socket.socket().recv(&mut buffer).await else {
            // A receive error on a datagram socket we own means it is
            // unusable; the run goes on without notifications.
            tracing::warn!(target: "hale::process", path = %target.path, pid = target.pid, "the notify socket failed; notifications stop");
            return;
        };
        match budget.admit(Instant::now()) {
            Admission::Drop => continue,
            Admission::Handle { dropped_before } => {
                if dropped_before > 0 {
                    tracing::warn!(
                        target: "hale::process",
                        path = %target.path,
                        pid = target.pid,
                        dropped = dropped_before,
                        "notify datagrams over {MAX_DATAGRAMS_PER_SECOND}/s were dropped"
                    );
                }
                target.apply(NotifyMessage::parse(&buffer[..read]));
            }
        }
    }
}

impl NotifyTarget {
    fn apply(&self, message: NotifyMessage) {
        if message.watchdog && self.beats {
            self.heartbeat.beat();
        }
        if let Some(status) = message.status {
            tracing::info!(target: "hale::process", path = %self.path, pid = self.pid, status = %status, "status");
            self.view.set_status(status);
        }
        if message.ready {
            if !*self.ready.borrow() {
                tracing::info!(target: "hale::process", path = %self.path, pid = self.pid, "ready");
            }
            self.heartbeat.set_ready(true);
            self.ready.send_replace(true);
        }
        if message.stopping {
            tracing::info!(target: "hale::process", path = %self.path, pid = self.pid, "stopping");
            self.heartbeat.set_ready(false);
        }
    }
}
