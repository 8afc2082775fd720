//! The watchdog: what watching heartbeating children costs in CPU, and how
//! late after its deadline a hung child is found.
//!
//! CPU: `n` children under one dynamic supervisor, each with a heartbeat
//! that one driver task beats every [`BEAT_EVERY`] (a beat is an atomic
//! store, so the driver costs the same in both arms). The process's CPU time
//! over a window is measured with the children watched
//! (`Watch::heartbeat(TIMEOUT)`) and without a watch spec; the difference is
//! the watchdog's cost, as a share of one core.
//!
//! Lateness: children that beat once and then never again, started a little
//! apart so their deadlines do not coincide, among heartbeating watched
//! siblings. Each records, in `post_stop` (run when the watchdog stops it as
//! hung), how long after its own beat + timeout that was.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use hale_core::{
    ChildSpec, DynamicSupervisor, DynamicSupervisorRef, DynamicSupervisorSpec, Heartbeat, Restart,
    StartContext, StartOutcome, Watch,
};
use ractor::{Actor, ActorProcessingErr, ActorRef};
use tokio::sync::mpsc::{UnboundedSender, unbounded_channel};

use crate::BenchResult;
use crate::child::BenchChild;
use crate::stats::{Summary, micros};
use crate::table::{HALE, Row, Verdict};

/// Heartbeat timeout of the watched children in the CPU runs: a harsh
/// one (agents typically use tens of seconds); the cost is proportional
/// to children / timeout.
const TIMEOUT: Duration = Duration::from_secs(1);
/// How often every heartbeat is beaten: a quarter of the timeout.
const BEAT_EVERY: Duration = Duration::from_millis(250);
/// Heartbeat timeout of the hung children.
const HUNG_TIMEOUT: Duration = Duration::from_millis(200);

type Beats = Arc<Mutex<Vec<Heartbeat>>>;

/// A child that hands its heartbeat to `beats` and otherwise idles.
fn beating_child(beats: &Beats, watch: Option<Watch>) -> ChildSpec {
    let beats = Arc::clone(beats);
    let spec = ChildSpec::new("beating", move |ctx: StartContext| {
        let beats = Arc::clone(&beats);
        async move {
            hale_util::lock(&beats).push(ctx.heartbeat());
            let (actor, _join) =
                Actor::spawn_linked(None, BenchChild::silent(), (), ctx.supervisor().clone()).await?;
            Ok(StartOutcome::Started(actor.get_cell()))
        }
    });
    match watch {
        Some(watch) => spec.watch(watch),
        None => spec,
    }
}

/// Starts `count` beating children and a task that beats them all.
async fn population(
    count: usize,
    timeout: Option<Duration>,
    beat_every: Duration,
) -> BenchResult<(DynamicSupervisorRef, Beats, tokio::task::JoinHandle<()>)> {
    let supervisor =
        DynamicSupervisor::start(DynamicSupervisorSpec::new("watched").intensity(u32::MAX)).await?;
    let beats: Beats = Arc::new(Mutex::new(Vec::with_capacity(count)));
    // The driver runs from the first child on: starting 100,000 children
    // takes longer than a timeout.
    let driver_beats = Arc::clone(&beats);
    let driver = tokio::spawn(async move {
        let mut every = tokio::time::interval(beat_every);
        loop {
            every.tick().await;
            let beats = hale_util::lock(&driver_beats).clone();
            for beat in &beats {
                beat.beat();
            }
        }
    });
    let spec = beating_child(&beats, timeout.map(Watch::heartbeat));
    for _ in 0..count {
        supervisor.start_child(spec.clone()).await?;
    }
    Ok((supervisor, beats, driver))
}

/// CPU share of one core used by the whole process over `window`, with
/// `count` children watched or not.
async fn cpu_share(count: usize, timeout: Duration, watched: bool, window: Duration) -> BenchResult<f64> {
    let (supervisor, beats, driver) = population(count, watched.then_some(timeout), timeout / 4).await?;
    // Past the first deadlines, so the watchdog is in its steady state.
    tokio::time::sleep(timeout + Duration::from_millis(500)).await;
    let cpu_before = crate::sys::cpu_time()?;
    let began = Instant::now();
    tokio::time::sleep(window).await;
    let cpu = crate::sys::cpu_time()?.saturating_sub(cpu_before);
    let wall = began.elapsed();
    driver.abort();
    supervisor.stop(Duration::from_secs(60)).await;
    // A beating child found hung would have been restarted with a fresh
    // heartbeat: there must be exactly one per child.
    let incarnations = hale_util::lock(&beats).len();
    if incarnations != count {
        return Err(format!("{} heartbeating children were found hung", incarnations - count).into());
    }
    Ok(cpu.as_secs_f64() / wall.as_secs_f64())
}

/// The watchdog's CPU cost for `count` children, % of one core: the
/// difference of interleaved watched and unwatched windows.
async fn watch_cost(count: usize, timeout: Duration, window: Duration) -> BenchResult<(f64, f64, f64)> {
    let mut watched = Vec::new();
    let mut unwatched = Vec::new();
    for _ in 0..2 {
        unwatched.push(cpu_share(count, timeout, false, window).await?);
        watched.push(cpu_share(count, timeout, true, window).await?);
    }
    let mean = |values: &[f64]| values.iter().sum::<f64>() / 2.0;
    let (w, u) = (mean(&watched), mean(&unwatched));
    Ok((100.0 * (w - u), 100.0 * w, 100.0 * u))
}

/// A child that never beats after its start; reports, when it is stopped,
/// how long after its beat that was.
struct Hung;

struct HungArgs {
    beat_at: Instant,
    report: UnboundedSender<Duration>,
}

impl Actor for Hung {
    type Msg = ();
    type State = HungArgs;
    type Arguments = HungArgs;

    async fn pre_start(&self, _myself: ActorRef<()>, args: HungArgs) -> Result<HungArgs, ActorProcessingErr> {
        Ok(args)
    }

    async fn post_stop(&self, _myself: ActorRef<()>, state: &mut HungArgs) -> Result<(), ActorProcessingErr> {
        let _ = state.report.send(state.beat_at.elapsed());
        Ok(())
    }
}

fn hung_child(report: &UnboundedSender<Duration>) -> ChildSpec {
    let report = report.clone();
    ChildSpec::new("hung", move |ctx: StartContext| {
        let report = report.clone();
        async move {
            let heartbeat = ctx.heartbeat();
            heartbeat.beat();
            let args = HungArgs {
                beat_at: Instant::now(),
                report,
            };
            let (actor, _join) = Actor::spawn_linked(None, Hung, args, ctx.supervisor().clone()).await?;
            Ok(StartOutcome::Started(actor.get_cell()))
        }
    })
    .restart(Restart::Temporary)
    .watch(Watch::heartbeat(HUNG_TIMEOUT).grace(Duration::from_secs(1)))
}

/// Lateness of `hung` hung children among `background` heartbeating ones.
async fn lateness(hung: usize, background: usize) -> BenchResult<Summary> {
    let (supervisor, _beats, driver) = population(background, Some(TIMEOUT), BEAT_EVERY).await?;
    let (report, mut reports) = unbounded_channel();
    let spec = hung_child(&report);
    let starter = supervisor.clone();
    let starting = tokio::spawn(async move {
        for _ in 0..hung {
            starter.start_child(spec.clone()).await?;
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
        Ok::<(), hale_core::ChildError>(())
    });
    let mut samples = Vec::with_capacity(hung);
    for _ in 0..hung {
        let after_beat = tokio::time::timeout(Duration::from_secs(30), reports.recv())
            .await
            .map_err(|_| "a hung child was not found within 30 s")?
            .ok_or("report channel closed")?;
        samples.push(after_beat.saturating_sub(HUNG_TIMEOUT));
    }
    starting.await??;
    driver.abort();
    supervisor.stop(Duration::from_secs(60)).await;
    Summary::of(&mut samples).ok_or_else(|| "no samples".into())
}

const WHY_CPU: &str = "The watchdog looks at every child once per timeout (a child that beat \
since is put back at its new deadline), so its cost is children ÷ timeout checks per second: \
100,000 per second here. Deadlines sit in millisecond buckets whose entries carry the child's \
heartbeat, timeout and mode, so a check is a read of the heartbeat cell (one cache miss at 100,000 \
children) and a push onto a vector. With a 5 s timeout the same children cost a fifth (next \
row). What is left to cut is the miss itself: heartbeat cells of one bucket allocated together \
(a slab) would let a check stream through memory.";

/// The watchdog rows.
pub(crate) async fn rows(quick: bool) -> Vec<Row> {
    let mut rows = Vec::new();
    let window = if quick {
        Duration::from_secs(2)
    } else {
        Duration::from_secs(5)
    };
    let five = Duration::from_secs(5);
    let sizes: &[(usize, Duration)] = if quick {
        &[(10_000, TIMEOUT)]
    } else {
        &[(10_000, TIMEOUT), (100_000, TIMEOUT), (100_000, five)]
    };
    for &(count, timeout) in sizes {
        let mut row = Row::new(format!(
            "watchdog CPU, {count} children heartbeating (timeout {timeout:?}, beat every {:?}), % of one core",
            timeout / 4
        ));
        row.target = "≤ 5% of one core".to_owned();
        row.why = WHY_CPU.to_owned();
        match tokio::spawn(watch_cost(count, timeout, window)).await {
            Ok(Ok((cost, watched, unwatched))) => {
                eprintln!(
                    "  {count} children: watched {watched:.2}%, unwatched {unwatched:.2}% → cost {cost:.2}%"
                );
                row.cells[HALE] = format!("{cost:.2}%");
                row.ratio = format!("{watched:.2}% vs {unwatched:.2}% unwatched");
                row.verdict = Verdict::from_bool(cost <= 5.0);
            }
            Ok(Err(error)) => {
                eprintln!("  watchdog CPU {count}: {error}");
                row.cells[HALE] = "failed".to_owned();
                row.verdict = Verdict::Unknown;
            }
            Err(_) => row.verdict = Verdict::Unknown,
        }
        rows.push(row);
    }
    let (hung, background) = if quick { (100, 1_000) } else { (500, 10_000) };
    let mut row = Row::new(format!(
        "hung child found after its deadline (timeout {HUNG_TIMEOUT:?}, {hung} hung among {background} watched), p50 / p99"
    ));
    let limit = HUNG_TIMEOUT / 10;
    row.target = format!("p99 ≤ 10% of timeout ({})", micros(limit));
    match tokio::spawn(lateness(hung, background)).await {
        Ok(Ok(summary)) => {
            eprintln!(
                "  lateness p50 {} p99 {}",
                micros(summary.p50),
                micros(summary.p99)
            );
            row.cells[HALE] = format!("{} / {}", micros(summary.p50), micros(summary.p99));
            row.verdict = Verdict::from_bool(summary.p99 <= limit);
        }
        Ok(Err(error)) => {
            eprintln!("  lateness: {error}");
            row.cells[HALE] = "failed".to_owned();
            row.verdict = Verdict::Unknown;
        }
        Err(_) => row.verdict = Verdict::Unknown,
    }
    rows.push(row);
    rows
}
