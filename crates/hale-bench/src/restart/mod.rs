//! Restart latency: from a child's crash until its replacement (and, for
//! group strategies, every sibling restarted with it) has started and
//! reported from `post_start`.
//!
//! Every system runs the same loop ([`measure`]): start a supervisor with
//! `n` children that report their incarnations over a channel; then, round
//! after round, crash one child (error from its handler, or a kill) and wait
//! for the reports the strategy implies.

mod floor;
mod hale;
mod kameo;
pub(crate) mod rows;
mod rsup;

use std::time::{Duration, Instant};

use ractor::ActorRef;
use tokio::sync::mpsc::{UnboundedReceiver, UnboundedSender, unbounded_channel};

use crate::BenchResult;
use crate::child::{ChildMsg, Started};
use crate::stats::Summary;

pub(crate) use floor::Floor;
pub(crate) use hale::Hale;
pub(crate) use kameo::Kameo;
pub(crate) use rsup::RactorSupervisor;

/// The restart strategies, as every system names them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Strategy {
    OneForOne,
    OneForAll,
    RestForOne,
}

impl Strategy {
    pub(crate) fn otp_name(self) -> &'static str {
        match self {
            Self::OneForOne => "one_for_one",
            Self::OneForAll => "one_for_all",
            Self::RestForOne => "rest_for_one",
        }
    }
}

/// How the child is crashed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum CrashKind {
    /// Its handler returns an error.
    Error,
    /// It is killed from outside.
    Kill,
}

/// One row of the restart table.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Case {
    pub(crate) strategy: Strategy,
    pub(crate) children: usize,
    pub(crate) rounds: usize,
    pub(crate) crash: CrashKind,
}

impl Case {
    /// The child crashed in `round`: rotating under one_for_one, the
    /// first-started otherwise (so every child restarts).
    fn target(&self, round: usize) -> usize {
        match self.strategy {
            Strategy::OneForOne => round % self.children,
            Strategy::OneForAll | Strategy::RestForOne => 0,
        }
    }

    /// How many children report after `target` crashes.
    fn expected(&self, target: usize) -> usize {
        match self.strategy {
            Strategy::OneForOne => 1,
            Strategy::OneForAll => self.children,
            Strategy::RestForOne => self.children - target,
        }
    }

    pub(crate) fn label(&self) -> String {
        let crash = match self.crash {
            CrashKind::Error => "error",
            CrashKind::Kill => "kill",
        };
        format!(
            "restart {} ×{} ({crash})",
            self.strategy.otp_name(),
            self.children
        )
    }
}

/// A supervision system under test.
pub(crate) trait System {
    /// Its column in the table.
    const NAME: &'static str;
    /// How the bench reaches one incarnation of a child.
    type Handle: Clone;
    /// What keeps the system running until `stop`.
    type Running;

    /// Starts a supervisor with `case.children` children that report to
    /// `reports`; returns once the supervisor runs (the children report by
    /// themselves).
    async fn start(
        case: &Case,
        reports: UnboundedSender<Started<Self::Handle>>,
    ) -> BenchResult<Self::Running>;

    /// Crashes one incarnation.
    fn crash(handle: &Self::Handle, crash: CrashKind) -> BenchResult<()>;

    /// Stops the supervisor and its children.
    async fn stop(running: Self::Running);
}

/// Crashes a ractor child: the handler returns an error, or `kill()`.
pub(crate) fn crash_ractor(handle: &ActorRef<ChildMsg>, crash: CrashKind) -> BenchResult<()> {
    match crash {
        CrashKind::Error => handle
            .send_message(ChildMsg::Fail)
            .map_err(|error| format!("crash message not delivered: {error}"))?,
        CrashKind::Kill => handle.kill(),
    }
    Ok(())
}

/// How long one round may take before the system counts as stalled.
const ROUND_LIMIT: Duration = Duration::from_secs(20);

/// Runs `case` against `S`: warm-up rounds, then `case.rounds` timed ones.
pub(crate) async fn measure<S: System>(case: &Case) -> BenchResult<Summary> {
    let (reports, mut incoming) = unbounded_channel();
    let running = S::start(case, reports).await?;
    let result = rounds::<S>(case, &mut incoming).await;
    S::stop(running).await;
    let mut samples = result?;
    Summary::of(&mut samples).ok_or_else(|| "no samples".into())
}

async fn rounds<S: System>(
    case: &Case,
    incoming: &mut UnboundedReceiver<Started<S::Handle>>,
) -> BenchResult<Vec<Duration>> {
    let mut current: Vec<Option<S::Handle>> = vec![None; case.children];
    collect(incoming, case.children, &mut current).await?;
    let warmup = (case.rounds / 20).clamp(1, 200);
    let mut samples = Vec::with_capacity(case.rounds);
    for round in 0..warmup + case.rounds {
        let target = case.target(round);
        let handle = current[target].take().ok_or("crashed child has no incarnation")?;
        let expected = case.expected(target);
        let crashed_at = Instant::now();
        S::crash(&handle, case.crash)?;
        collect(incoming, expected, &mut current).await?;
        if round >= warmup {
            samples.push(crashed_at.elapsed());
        }
    }
    Ok(samples)
}

/// Waits for `count` reports, recording each incarnation.
async fn collect<H>(
    incoming: &mut UnboundedReceiver<Started<H>>,
    count: usize,
    current: &mut [Option<H>],
) -> BenchResult<()> {
    for _ in 0..count {
        let report = tokio::time::timeout(ROUND_LIMIT, incoming.recv())
            .await
            .map_err(|_| format!("no restart within {ROUND_LIMIT:?}"))?
            .ok_or("report channel closed")?;
        let slot = current
            .get_mut(report.index)
            .ok_or("report for an unknown child")?;
        *slot = Some(report.handle);
    }
    Ok(())
}
