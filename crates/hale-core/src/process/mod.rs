//! Children that are OS processes: a Python worker, a Node tool server, a
//! model server or a script, supervised like any actor.
//!
//! [`ChildSpec::process`](crate::ChildSpec::process) turns a
//! [`ProcessCommand`] into a child spec. Restart types, strategies,
//! intensity, backoff, the watchdog, the health snapshot and the healing
//! events all apply unchanged: in the tree, each run of the program is
//! stood for by an actor that lives exactly as long as the program.
//!
//! **Starting.** Each run is spawned directly (no shell unless you ask for
//! one with [`ProcessCommand::shell`]) in a process group of its own, with
//! stdin on `/dev/null`. Its stdout and stderr are read line by line (each
//! line cut at [`MAX_LINE_BYTES`]) into `tracing` events under the target
//! `hale::process`, with the child's path, the pid and the stream; with
//! [`ProcessCommand::keep_output`] the last lines are also kept in the
//! [`ProcessView`]. A program that does not exist or is not executable, a
//! missing working directory, and (when the spec waits for `READY=1`) a
//! program that exits or stays silent before it is ready, are a
//! [`ProcessStartError`] naming the child and the cause, which the
//! supervisor handles as any start failure.
//!
//! **Exit classification** ([`ProcessExit::reason`]):
//!
//! | the program          | exit reason                         | normal? |
//! |----------------------|-------------------------------------|---------|
//! | exits with code 0    | [`ExitReason::Normal`]              | yes     |
//! | exits with code N    | [`ExitReason::ExitCode`]`(N)`       | no      |
//! | is killed by SIGSEGV | [`ExitReason::Signal`]`("SIGSEGV")` | no      |
//!
//! **Shutdown**, as OTP asks and process supervisors do: SIGTERM to the
//! whole process group, wait the child's shutdown timeout, SIGKILL to the
//! group, reap. When the program exits by itself, whatever it left in its
//! group is killed before it is reaped. Every run is reaped, also when the
//! tree is stopped, when a supervisor gives up, and when the actor is killed
//! (dropping it SIGKILLs the group synchronously). The group is signalled
//! only while its leader is unreaped, so a signal never reaches an unrelated
//! process that inherited a recycled pid. A descendant that leaves the group
//! on purpose (`setsid`, a daemonizing double fork) escapes the group kill:
//! run such programs in their foreground mode.
//!
//! Grandchildren killed with the group are reparented to init, which reaps
//! them; a container whose pid 1 does not reap (no init) keeps them as
//! zombies, as it would for any supervisor.
//!
//! **The notify protocol** (systemd's `sd_notify`): a run that Hale waits
//! for ([`ProcessCommand::ready_timeout`]), watches by notify
//! ([`Liveness::Notify`]) or asks to ([`ProcessCommand::notify`]) gets
//! `NOTIFY_SOCKET`, a unix datagram socket made for that run in a private
//! directory. `READY=1` marks it ready (and ends the start), `WATCHDOG=1` is
//! a heartbeat (the timeout is in `WATCHDOG_USEC`), `STATUS=...` shows in
//! the view and the log, `STOPPING=1` marks it not ready. Datagrams are read
//! whole up to [`MAX_DATAGRAM_BYTES`] and acted on up to
//! [`MAX_DATAGRAMS_PER_SECOND`]. Any process of the run's group may send
//! (systemd's `NotifyAccess=all`).
//!
//! **Liveness** without the protocol: output lines ([`Liveness::Output`]) or
//! a probe command ([`Liveness::Probe`]). A run that misses its deadline is
//! hung: SIGTERM, the watch's grace, SIGKILL, restart by the supervisor's
//! rules.
//!
//! **Limits**: [`ResourceLimits`] (address space, CPU time), set by the
//! kernel before the program's first instruction; see that type for how,
//! and for what is reported when one is hit.
//!
//! Process children need a tokio runtime with its IO and signal drivers
//! (`#[tokio::main]` and `#[tokio::test]` enable them) and real time: under
//! tokio's paused test clock, timeouts fire while the runtime waits on the
//! operating system. Linux only.
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! use std::time::Duration;
//! use hale_core::{ChildSpec, Supervisor, SupervisorSpec, Watch};
//! use hale_core::process::{Liveness, ProcessCommand};
//!
//! // A worker that knows nothing of Hale: each line it writes is a heartbeat.
//! let worker = ProcessCommand::new("/bin/sh")
//!     .args(["-c", "while true; do echo working; sleep 1; done"])
//!     .watch(Watch::heartbeat(Duration::from_secs(5)), Liveness::Output);
//! let view = worker.view();
//! let root = Supervisor::start(SupervisorSpec::new("root").child(ChildSpec::process("worker", worker)?)).await?;
//! assert!(view.pid().is_some());
//! root.stop(Duration::from_secs(5)).await; // SIGTERM, and the run is reaped
//! # Ok(())
//! # }
//! ```

mod abort_on_drop;
mod child_spec;
mod datagram_budget;
mod group;
mod incarnation;
mod line_splitter;
mod liveness;
mod notify_listener;
mod notify_message;
mod notify_socket;
mod output_line;
mod output_reader;
mod probe_runner;
mod process_actor;
mod process_command;
mod process_exit;
mod process_spec_error;
mod process_start_error;
mod process_view;
mod program_path;
mod recent_lines;
mod resource_limits;

pub use line_splitter::MAX_LINE_BYTES;
pub use liveness::{Liveness, ProbeCommand};
pub use notify_listener::{MAX_DATAGRAM_BYTES, MAX_DATAGRAMS_PER_SECOND};
pub use output_line::{OutputLine, OutputStream};
#[cfg(feature = "cluster")]
pub(crate) use process_actor::ProcessExited;
pub use process_command::{MAX_TIMEOUT, ProcessCommand};
pub use process_exit::ProcessExit;
pub use process_spec_error::ProcessSpecError;
pub use process_start_error::ProcessStartError;
pub use process_view::{MAX_KEPT_LINES, ProcessView};
pub use resource_limits::ResourceLimits;

#[cfg(doc)]
use crate::ExitReason;
