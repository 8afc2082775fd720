//! The process group of one started program, and the rule for signalling
//! it safely.

use std::io;
use std::process::ExitStatus;
use std::sync::{Mutex, PoisonError};

use rustix::io::Errno;
use rustix::process::{Pid, Signal, WaitId, WaitIdOptions, kill_process_group, waitid};
use tokio::process::Child;
use tokio::signal::unix::Signal as SignalStream;

/// A program started in a process group of its own: its pid is the group id.
///
/// A group id names the group only while some process holds it: once every
/// member has exited and the leader has been reaped, the kernel may hand the
/// number to an unrelated process. So Hale signals the group only while its
/// leader is unreaped (a dead but unreaped leader still holds the id), and
/// marks it reaped, under the same lock, just before reaping it. A signal can
/// then never reach a stranger that inherited the number.
#[derive(Debug)]
pub(crate) struct ProcessGroup {
    leader: Pid,
    reaped: Mutex<bool>,
}

impl ProcessGroup {
    /// The group led by `child`, which must have been spawned with
    /// `process_group(0)`. `None` if the child has no pid (already reaped) or
    /// its pid could name init or every process (`kill(-1)`).
    pub(crate) fn of(child: &Child) -> Option<Self> {
        let raw = i32::try_from(child.id()?).ok()?;
        let leader = Pid::from_raw(raw).filter(|pid| pid.as_raw_nonzero().get() > 1)?;
        Some(Self {
            leader,
            reaped: Mutex::new(false),
        })
    }

    /// The leader's pid, which is also the group id.
    pub(crate) fn pid(&self) -> u32 {
        self.leader.as_raw_nonzero().get().unsigned_abs()
    }

    /// Sends `signal` to every process of the group, unless the leader has
    /// been reaped (then the group is already gone: see the type's docs).
    /// Returns whether the signal was sent.
    pub(crate) fn signal(&self, signal: Signal) -> bool {
        let reaped = self.reaped.lock().unwrap_or_else(PoisonError::into_inner);
        if *reaped {
            return false;
        }
        // ESRCH: every member has exited already; nothing to do.
        kill_process_group(self.leader, signal).is_ok()
    }

    /// Waits until the leader has exited, kills whatever it left in its group
    /// while the leader still holds the group id, then reaps the leader.
    ///
    /// `sigchld` must have been registered before the leader could exit (or
    /// at least before this call): the leader is checked first, then after
    /// every SIGCHLD, so no exit is missed.
    ///
    /// # Cancel safety
    ///
    /// Cancelling it before the leader exited leaves everything as it was;
    /// the caller still owns `child` and must make sure it is reaped.
    pub(crate) async fn reap(&self, child: &mut Child, sigchld: &mut SignalStream) -> io::Result<ExitStatus> {
        let exited = WaitIdOptions::EXITED | WaitIdOptions::NOHANG | WaitIdOptions::NOWAIT;
        loop {
            match waitid(WaitId::Pid(self.leader), exited) {
                Ok(Some(_)) => break,
                Ok(None) => {}
                Err(Errno::INTR) => continue,
                // ECHILD and the like: nothing left to observe; tokio's wait
                // below reports what happened.
                Err(_) => break,
            }
            if sigchld.recv().await.is_none() {
                // The signal driver is gone (runtime shutting down): fall
                // back to tokio's own wait.
                break;
            }
        }
        {
            let mut reaped = self.reaped.lock().unwrap_or_else(PoisonError::into_inner);
            if !*reaped {
                let _ = kill_process_group(self.leader, Signal::KILL);
                *reaped = true;
            }
        }
        child.wait().await
    }
}

/// Kills a whole process group, synchronously, when dropped: the last line
/// of defence that holds even when the actor owning the process is killed
/// (a ractor kill skips `post_stop` but drops the state) or its task is
/// aborted. Reaping is left to whoever owns the `Child`.
#[derive(Debug)]
pub(crate) struct KillOnDrop(pub(crate) std::sync::Arc<ProcessGroup>);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        self.0.signal(Signal::KILL);
    }
}
