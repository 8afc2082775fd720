//! The ractor child every ractor-based system supervises: it reports from
//! `post_start` that it runs, and fails on request.

use ractor::{Actor, ActorProcessingErr, ActorRef};
use tokio::sync::mpsc::UnboundedSender;

/// A child reports here, from `post_start`, that an incarnation runs.
#[derive(Debug)]
pub(crate) struct Started<H> {
    /// Which child (its place in start order).
    pub(crate) index: usize,
    /// How to reach this incarnation.
    pub(crate) handle: H,
}

/// What the ractor bench child understands.
#[derive(Debug)]
pub(crate) enum ChildMsg {
    /// Return an error from the handler: a crash.
    Fail,
    /// Count a message (throughput runs).
    Ping,
    /// Answer how many pings were counted.
    Count(ractor::RpcReplyPort<u64>),
    /// Wait in the handler until notified (so that messages queue).
    Gate(std::sync::Arc<tokio::sync::Notify>),
}

/// The child. `reports` is `None` for runs that do not time restarts.
#[derive(Clone, Debug)]
pub(crate) struct BenchChild {
    pub(crate) index: usize,
    pub(crate) reports: Option<UnboundedSender<Started<ActorRef<ChildMsg>>>>,
}

impl BenchChild {
    /// A child that does not report.
    pub(crate) fn silent() -> Self {
        Self {
            index: 0,
            reports: None,
        }
    }
}

/// The crash a handler returns.
#[derive(Debug)]
pub(crate) struct Crash;

impl std::fmt::Display for Crash {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("bench crash")
    }
}

impl std::error::Error for Crash {}

impl Actor for BenchChild {
    type Msg = ChildMsg;
    type State = u64;
    type Arguments = ();

    async fn pre_start(&self, _myself: ActorRef<ChildMsg>, _args: ()) -> Result<u64, ActorProcessingErr> {
        Ok(0)
    }

    async fn post_start(
        &self,
        myself: ActorRef<ChildMsg>,
        _state: &mut u64,
    ) -> Result<(), ActorProcessingErr> {
        if let Some(reports) = &self.reports {
            // The bench may have stopped listening: nothing to do then.
            let _ = reports.send(Started {
                index: self.index,
                handle: myself,
            });
        }
        Ok(())
    }

    async fn handle(
        &self,
        _myself: ActorRef<ChildMsg>,
        message: ChildMsg,
        count: &mut u64,
    ) -> Result<(), ActorProcessingErr> {
        match message {
            ChildMsg::Fail => return Err(Box::new(Crash)),
            ChildMsg::Ping => *count += 1,
            ChildMsg::Count(reply) => {
                let _ = reply.send(*count);
            }
            ChildMsg::Gate(gate) => gate.notified().await,
        }
        Ok(())
    }
}
