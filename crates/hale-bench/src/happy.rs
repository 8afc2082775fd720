//! The happy path: what supervision and the resilience wrappers cost when
//! nothing fails.
//!
//! - Message throughput to one actor: bare (spawned alone) against the same
//!   actor as a Hale child, sent to directly, through a [`ChildRef`], and
//!   under `Watch::per_message`.
//! - A circuit breaker and a retry policy around a call that succeeds, in
//!   nanoseconds per call, against the bare call.

use std::future::Future;
use std::hint::black_box;
use std::time::{Duration, Instant};

use hale_core::{ChildRef, ChildSpec, Supervisor, SupervisorRef, SupervisorSpec, Watch};
use hale_resilience::{CircuitBreaker, RetryPolicy};
use ractor::{Actor, ActorRef};

use crate::BenchResult;
use crate::child::{BenchChild, ChildMsg};
use crate::otp::OtpFigures;
use crate::stats::rate;
use crate::table::{FLOOR, HALE, OTP, Row, Verdict, ratio};

/// Repetitions of each throughput run; the best counts (the same work
/// every time: a slower run is one the shared machine disturbed).
const REPEATS: usize = 7;

/// How a throughput run reaches its actor.
enum Target {
    Bare(ActorRef<ChildMsg>),
    Direct(ActorRef<ChildMsg>),
    Stable(ChildRef<ChildMsg>),
}

impl Target {
    fn send(&self, message: ChildMsg) -> BenchResult<()> {
        match self {
            Self::Bare(actor) | Self::Direct(actor) => {
                actor.send_message(message).map_err(|e| e.to_string())?
            }
            Self::Stable(child) => child.send(message).map_err(|e| e.to_string())?,
        }
        Ok(())
    }

    fn actor(&self) -> BenchResult<ActorRef<ChildMsg>> {
        match self {
            Self::Bare(actor) | Self::Direct(actor) => Ok(actor.clone()),
            Self::Stable(child) => Ok(child.current().ok_or("child not running")?),
        }
    }
}

/// Sends `count` casts, then waits until the actor has handled them all.
/// Returns messages per second.
async fn cast_run(target: &Target, count: u64) -> BenchResult<f64> {
    let actor = target.actor()?;
    let before = actor.call(ChildMsg::Count, None).await?.success_or("no count")?;
    let began = Instant::now();
    for _ in 0..count {
        target.send(ChildMsg::Ping)?;
    }
    let after = actor.call(ChildMsg::Count, None).await?.success_or("no count")?;
    let elapsed = began.elapsed();
    if after - before != count {
        return Err(format!("handled {} of {count}", after - before).into());
    }
    #[allow(clippy::cast_precision_loss)]
    Ok(count as f64 / elapsed.as_secs_f64())
}

/// A Hale root with one actor child, optionally watched per message or
/// restarted in place.
async fn supervised(watch: bool, in_place: bool) -> BenchResult<(SupervisorRef, ChildRef<ChildMsg>)> {
    let mut child = ChildSpec::actor("agent", BenchChild::silent(), ()).in_place(in_place);
    if watch {
        child = child.watch(Watch::per_message(Duration::from_secs(30)));
    }
    let root = Supervisor::start(SupervisorSpec::new("happy").child(child)).await?;
    let child = root.child_ref::<ChildMsg>("agent").await?;
    Ok((root, child))
}

fn best(values: Vec<f64>) -> f64 {
    values.into_iter().fold(0.0, f64::max)
}

/// Throughputs, best of interleaved repeats: bare, direct, ChildRef,
/// per-message, in place.
async fn throughputs(count: u64) -> BenchResult<[f64; 5]> {
    let (bare, _join) = Actor::spawn(None, BenchChild::silent(), ()).await?;
    let (root, child) = supervised(false, false).await?;
    let (watched_root, watched) = supervised(true, false).await?;
    let (in_place_root, in_place) = supervised(false, true).await?;
    let targets = [
        Target::Bare(bare.clone()),
        Target::Direct(child.current().ok_or("child not running")?),
        Target::Stable(child),
        Target::Direct(watched.current().ok_or("child not running")?),
        Target::Direct(in_place.current().ok_or("child not running")?),
    ];
    let mut runs: [Vec<f64>; 5] = Default::default();
    // Warm up every path once.
    for target in &targets {
        cast_run(target, count / 10).await?;
    }
    for repeat in 0..REPEATS {
        for slot in 0..targets.len() {
            let index = (repeat + slot) % targets.len();
            runs[index].push(cast_run(&targets[index], count).await?);
        }
    }
    bare.stop(None);
    root.stop(Duration::from_secs(10)).await;
    watched_root.stop(Duration::from_secs(10)).await;
    in_place_root.stop(Duration::from_secs(10)).await;
    Ok(runs.map(best))
}

/// Nanoseconds per call of `call`, the best of a few timed loops.
async fn ns_per_call<F, Fut>(iterations: u32, mut call: F) -> f64
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    let mut best = f64::MAX;
    for _ in 0..5 {
        let began = Instant::now();
        for _ in 0..iterations {
            black_box(call().await);
        }
        best = best.min(began.elapsed().as_secs_f64() * 1e9 / f64::from(iterations));
    }
    best
}

async fn succeed() -> Result<u64, String> {
    Ok(black_box(1))
}

/// Breaker, retry and bare call, in ns per call.
async fn wrappers(iterations: u32) -> BenchResult<[f64; 3]> {
    let breaker = CircuitBreaker::builder("bench").build()?;
    let retry = RetryPolicy::builder("bench").maximum_attempts(3).build()?;
    let bare = ns_per_call(iterations, || async { succeed().await.is_ok() }).await;
    let breaker = ns_per_call(iterations, || {
        let breaker = &breaker;
        async move { breaker.call(succeed).await.is_ok() }
    })
    .await;
    let retry = ns_per_call(iterations, || {
        let retry = &retry;
        async move { retry.call(succeed).await.is_ok() }
    })
    .await;
    Ok([bare, breaker, retry])
}

const WHY_DIRECT: &str = "The supervised actor is the same ractor actor, linked to its \
supervisor; messages go straight to its mailbox and never through the supervisor, so there \
is no Hale code on this path: a gap here is run-to-run noise of the shared machine (compare \
the ChildRef row, which adds work and yet may come out ahead).";

const WHY_CHILD_REF: &str = "`ChildRef::send` takes the watch channel's read lock and checks the \
message type before ractor's send: a few ns per message, with no clone of the cell or the path. A \
gap here is run-to-run noise of the shared machine (compare the direct row, which has no Hale code \
on its path).";

const WHY_PER_MESSAGE: &str = "Under `Watch::per_message` a message costs one relaxed load of the \
tree's coarse clock and three relaxed stores (`watchdog/coarse.rs`: no clock read per message; the \
clock read it replaced cost about 40 ns of a 280 ns message). What is left is a few ns: a gap here \
is run-to-run noise of the shared machine.";

const WHY_IN_PLACE: &str = "The in-place wrapper is a second actor layer around the user's: per \
message a check whether the sink keeps messages, a `catch_unwind` around the handler's future and \
an `Option` around the user's state, with the recovery boxed off the happy path and the \
actor's reference passed on uncloned. Removing the \
`catch_unwind` gained nothing measurable; what is left is the layer itself (the per-message \
watch, also a wrapper with almost no work of its own, lands near the same ratio). Because of \
this cost in-place restart is opt-in (`ChildSpec::in_place`), not the default; making it free \
needs the catching done by ractor itself (it already catches handler panics) with a hook to \
resume instead of stop.";

const WHY_BREAKER: &str = "A call through a closed breaker reads the clock twice (`try_acquire` \
stamps the permit for slow-call detection; `record` reads it once for both the elapsed time and the \
window), takes the state-machine mutex, clones the breaker's Arc into the permit and bumps two \
atomic counters. Fix in `breaker/handle.rs`: in the closed state with a count-based window, record \
the outcome without the mutex (an atomic ring of outcomes), taking the lock only when a threshold \
may be crossed.";

/// The happy-path rows.
pub(crate) async fn rows(quick: bool, otp: Option<&OtpFigures>) -> Vec<Row> {
    let count = if quick { 200_000 } else { 2_000_000 };
    let mut rows = Vec::new();
    match tokio::spawn(throughputs(count)).await {
        Ok(Ok([bare, direct, stable, watched, in_place])) => {
            eprintln!(
                "  casts/s: bare {}, supervised {}, via ChildRef {}, per-message watch {}, in place {}",
                rate(bare),
                rate(direct),
                rate(stable),
                rate(watched),
                rate(in_place)
            );
            let otp_rate = otp.and_then(|figures| figures.send_per_s);
            for (case, value, why) in [
                (
                    "cast throughput to a supervised actor (bare ractor in floor column)",
                    direct,
                    WHY_DIRECT,
                ),
                ("cast throughput through a ChildRef", stable, WHY_CHILD_REF),
                (
                    "cast throughput, child under Watch::per_message",
                    watched,
                    WHY_PER_MESSAGE,
                ),
                (
                    "cast throughput, child restarted in place (Hale's wrapper)",
                    in_place,
                    WHY_IN_PLACE,
                ),
            ] {
                let mut row = Row::new(format!("{case}, {count} msgs"));
                row.cells[HALE] = rate(value);
                row.cells[FLOOR] = rate(bare);
                if let Some(otp_rate) = otp_rate {
                    row.cells[OTP] = rate(otp_rate);
                }
                row.ratio = ratio(value, bare);
                row.target = "≥ 0.95× bare ractor".to_owned();
                row.verdict = Verdict::from_bool(value >= 0.95 * bare);
                why.clone_into(&mut row.why);
                rows.push(row);
            }
        }
        Ok(Err(error)) => eprintln!("  throughput failed: {error}"),
        Err(_) => eprintln!("  throughput: the measuring task panicked"),
    }
    let iterations = if quick { 200_000 } else { 2_000_000 };
    match tokio::spawn(wrappers(iterations)).await {
        Ok(Ok([bare, breaker, retry])) => {
            eprintln!("  ns/call: bare {bare:.1}, circuit breaker {breaker:.1}, retry {retry:.1}");
            for (case, value, why) in [
                (
                    "circuit breaker around a succeeding call (bare call in floor column)",
                    breaker,
                    WHY_BREAKER,
                ),
                ("retry policy around a succeeding call", retry, ""),
            ] {
                let mut row = Row::new(format!("{case}, ns/call"));
                row.cells[HALE] = format!("{value:.1} ns");
                row.cells[FLOOR] = format!("{bare:.1} ns");
                row.ratio = format!("+{:.1} ns", value - bare);
                row.target = "report (no target)".to_owned();
                why.clone_into(&mut row.why);
                rows.push(row);
            }
        }
        Ok(Err(error)) => eprintln!("  wrappers failed: {error}"),
        Err(_) => eprintln!("  wrappers: the measuring task panicked"),
    }
    rows
}
