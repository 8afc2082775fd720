//! [`Linger`]: work a child runs outside its actor, which its supervisor
//! must see end before it counts the child as stopped.

use std::sync::Mutex;
use std::time::Duration;

use tokio::sync::watch;

/// A token held by work a child runs outside its actor: the body of a
/// [`task`](crate::ChildSpec::task), a thread, an OS process's reaper. Take
/// one from [`StartContext::linger`](crate::StartContext::linger), move it
/// into the work, and let it drop when the work has ended.
///
/// When the supervisor stops the child, it waits for the child's actor to
/// exit and then for every `Linger` of that incarnation to drop, up to the
/// child's [`kill_wait`](crate::ChildSpec::kill_wait). Work still running
/// after that (blocked in synchronous code, where an abort cannot land) is
/// reported as stuck: the stop answers
/// [`StopOutcome::Stuck`](crate::StopOutcome::Stuck), a `StuckTask` event
/// is emitted and the watchdog's stuck count grows. Without it, a stop would
/// report `Exited` while the work still ran.
///
/// # Examples
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// use hale_core::{ChildSpec, StartOutcome, Supervisor, SupervisorSpec};
/// use ractor::{Actor, ActorProcessingErr, ActorRef};
///
/// struct Idle;
/// impl Actor for Idle {
///     type Msg = ();
///     type State = ();
///     type Arguments = ();
///     async fn pre_start(&self, _: ActorRef<()>, _: ()) -> Result<(), ActorProcessingErr> {
///         Ok(())
///     }
/// }
///
/// let spec = ChildSpec::new("indexer", |ctx| async move {
///     let linger = ctx.linger();
///     // Work outside the actor: the supervisor waits for it on a stop.
///     tokio::spawn(async move {
///         let _linger = linger;
///         tokio::task::yield_now().await;
///     });
///     let (actor, _) = Actor::spawn_linked(None, Idle, (), ctx.supervisor().clone()).await?;
///     Ok(StartOutcome::Started(actor.get_cell()))
/// });
/// let root = Supervisor::start(SupervisorSpec::new("root").child(spec)).await?;
/// root.terminate_child("indexer").await?;
/// # root.stop(std::time::Duration::from_secs(5)).await;
/// # Ok(())
/// # }
/// ```
#[derive(Debug)]
pub struct Linger {
    _alive: watch::Receiver<()>,
}

/// Where a start context hands out [`Linger`]s; the child's record takes the
/// other end once the start function returns.
#[derive(Debug, Default)]
pub(crate) struct LingerSlot(Mutex<Option<watch::Sender<()>>>);

impl LingerSlot {
    pub(crate) fn token(&self) -> Linger {
        let mut slot = hale_util::lock(&self.0);
        let sender = slot.get_or_insert_with(|| watch::channel(()).0);
        Linger {
            _alive: sender.subscribe(),
        }
    }

    /// The work handed out tokens for, if any.
    pub(crate) fn take(&self) -> Option<Lingering> {
        hale_util::lock(&self.0).take().map(Lingering)
    }
}

/// The supervisor's end of an incarnation's [`Linger`]s.
#[derive(Debug)]
pub(crate) struct Lingering(watch::Sender<()>);

impl Lingering {
    /// Whether every token has dropped.
    pub(crate) fn ended(&self) -> bool {
        self.0.is_closed()
    }

    /// Waits up to `bound` for every token to drop; `false` if some work
    /// still runs then.
    pub(crate) async fn wait(&self, bound: Duration) -> bool {
        tokio::time::timeout(bound, self.0.closed()).await.is_ok()
    }

    /// Waits, without a bound, for every token to drop: for work already
    /// counted stuck, whose end the watchdog waits for.
    pub(crate) async fn ended_wait(&self) {
        self.0.closed().await;
    }
}
