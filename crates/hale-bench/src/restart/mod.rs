//! Restart latency: from a child's crash until its replacement (and, for
//! group strategies, every sibling restarted with it) has started and
//! reported from `post_start`.
//!
//! Every system runs the same loop ([`Runner`]): start a supervisor with
//! `n` children that report their incarnations over a channel; then, round
//! after round, crash one child (error from its handler, or a kill) and wait
//! for the reports the strategy implies. The four systems of a case run at
//! once, their rounds interleaved in blocks, so that the machine's noise
//! falls on all of them alike.

mod floor;
mod hale;
mod kameo;
pub(crate) mod lost;
pub(crate) mod rows;
mod rsup;

use std::collections::HashSet;
use std::time::{Duration, Instant};

use ractor::ActorRef;
use tokio::sync::mpsc::{UnboundedReceiver, UnboundedSender, unbounded_channel};

use crate::BenchResult;
use crate::child::{ChildMsg, Started};
use crate::stats::Summary;

pub(crate) use floor::{Floor, FloorArgs, FloorMsg, FloorParent};
pub(crate) use hale::{Hale, HaleInPlace};
pub(crate) use kameo::Kameo;
pub(crate) use rsup::{RactorSupervisor, bench_spec, run_prefix};

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

    /// The pause before a block of rounds: 50 µs per child (5 ms for 100,
    /// 50 ms for 1000), enough for the system measured before to finish
    /// the teardown its last round left behind, so that it does not land
    /// in this system's rounds. Within a block rounds run back to back, as
    /// in the OTP anchor: a system's own leftovers are its own cost.
    fn settle(&self) -> Duration {
        Duration::from_micros(50 * u64::try_from(self.children).unwrap_or(u64::MAX))
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

/// One system running one case: its supervisor, the reports of its
/// children, their current incarnations and the samples so far.
pub(crate) struct Runner<S: System> {
    case: Case,
    running: Option<S::Running>,
    incoming: UnboundedReceiver<Started<S::Handle>>,
    current: Vec<Option<S::Handle>>,
    round: usize,
    samples: Vec<Duration>,
    failure: Option<String>,
}

impl<S: System> Runner<S> {
    /// Starts the system and waits for every child's first report. A
    /// failure is kept and reported by [`finish`](Self::finish).
    pub(crate) async fn start(case: Case) -> Self {
        let (reports, incoming) = unbounded_channel();
        let mut runner = Self {
            case,
            running: None,
            incoming,
            current: vec![None; case.children],
            round: 0,
            samples: Vec::with_capacity(case.rounds),
            failure: None,
        };
        match S::start(&case, reports).await {
            Ok(running) => {
                runner.running = Some(running);
                let first = collect(&mut runner.incoming, case.children, &mut runner.current).await;
                runner.keep(first).await;
            }
            Err(error) => runner.failure = Some(error.to_string()),
        }
        runner
    }

    /// Keeps the first failure and stops a failed system at once, so that
    /// whatever it still does (a restart storm) does not load the machine
    /// while the others are measured.
    async fn keep(&mut self, result: BenchResult<()>) {
        if let Err(error) = result {
            self.failure.get_or_insert(error.to_string());
            if let Some(running) = self.running.take() {
                S::stop(running).await;
            }
        }
    }

    /// Runs `rounds` more rounds; `timed` says whether they count.
    pub(crate) async fn block(&mut self, rounds: usize, timed: bool) {
        tokio::time::sleep(self.case.settle()).await;
        for _ in 0..rounds {
            if self.failure.is_some() {
                return;
            }
            let result = self.round(timed).await;
            self.keep(result).await;
        }
    }

    async fn round(&mut self, timed: bool) -> BenchResult<()> {
        let target = self.case.target(self.round);
        self.round += 1;
        let handle = self.current[target]
            .take()
            .ok_or("crashed child has no incarnation")?;
        let expected = self.case.expected(target);
        let crashed_at = Instant::now();
        S::crash(&handle, self.case.crash)?;
        collect(&mut self.incoming, expected, &mut self.current).await?;
        if timed {
            self.samples.push(crashed_at.elapsed());
        }
        Ok(())
    }

    /// Stops the system and summarises its samples.
    pub(crate) async fn finish(mut self) -> Result<Summary, String> {
        if let Some(running) = self.running.take() {
            S::stop(running).await;
        }
        if let Some(failure) = self.failure {
            return Err(failure);
        }
        Summary::of(&mut self.samples).ok_or_else(|| "no samples".to_owned())
    }
}

/// Waits for `count` reports, recording each incarnation.
async fn collect<H>(
    incoming: &mut UnboundedReceiver<Started<H>>,
    count: usize,
    current: &mut [Option<H>],
) -> BenchResult<()> {
    let mut seen = HashSet::with_capacity(count);
    for _ in 0..count {
        let report = tokio::time::timeout(ROUND_LIMIT, incoming.recv())
            .await
            .map_err(|_| format!("no restart within {ROUND_LIMIT:?}"))?
            .ok_or("report channel closed")?;
        if !seen.insert(report.index) {
            return Err(format!(
                "child {} started twice for one crash (the group was restarted more than once)",
                report.index
            )
            .into());
        }
        let slot = current
            .get_mut(report.index)
            .ok_or("report for an unknown child")?;
        *slot = Some(report.handle);
    }
    Ok(())
}
