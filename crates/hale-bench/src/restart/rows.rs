//! The restart rows of the table: every case against every system.

use std::time::Duration;

use crate::otp::OtpFigures;
use crate::restart::{
    Case, CrashKind, Floor, Hale, HaleInPlace, Kameo, RactorSupervisor, Runner, Strategy, System,
};
use crate::stats::{Summary, micros};
use crate::table::{FLOOR, HALE, KAMEO, OTP, RSUP, Row, Verdict, ratio};

/// The cases, with the round counts (÷10 when quick).
pub(crate) fn cases(quick: bool) -> Vec<Case> {
    let scale = if quick { 10 } else { 1 };
    let shapes = [
        (Strategy::OneForOne, 1, 10_000),
        (Strategy::OneForOne, 100, 2_000),
        (Strategy::OneForAll, 100, 500),
        (Strategy::RestForOne, 100, 500),
        (Strategy::OneForAll, 1000, 100),
        (Strategy::RestForOne, 1000, 100),
    ];
    let mut cases = Vec::new();
    for (strategy, children, rounds) in shapes {
        for crash in [CrashKind::Error, CrashKind::Kill] {
            cases.push(Case {
                strategy,
                children,
                rounds: rounds / scale,
                crash,
            });
        }
    }
    cases
}

/// Timed blocks per case; each block runs every system in turn, starting
/// with a different one each time.
const BLOCKS: usize = 10;

/// The systems' results for one case.
struct Results {
    hale: Result<Summary, String>,
    /// Hale with its children restarted in place: for a crash by error
    /// only (a kill always restarts fresh).
    in_place: Option<Result<Summary, String>>,
    floor: Result<Summary, String>,
    kameo: Result<Summary, String>,
    rsup: Result<Summary, String>,
}

/// Runs one case on every system, interleaved.
async fn run_case(case: Case) -> Results {
    let mut hale = Runner::<Hale>::start(case).await;
    let mut floor = Runner::<Floor>::start(case).await;
    let mut kameo = Runner::<Kameo>::start(case).await;
    let mut rsup = Runner::<RactorSupervisor>::start(case).await;
    let mut in_place = match case.crash {
        CrashKind::Error => Some(Runner::<HaleInPlace>::start(case).await),
        CrashKind::Kill => None,
    };
    let systems = if in_place.is_some() { 5 } else { 4 };
    let warmup = (case.rounds / 20).clamp(1, 200);
    let per_block = case.rounds.div_ceil(BLOCKS);
    for block in 0..=BLOCKS {
        let (rounds, timed) = if block == 0 {
            (warmup, false)
        } else {
            (per_block, true)
        };
        for slot in 0..systems {
            match (block + slot) % systems {
                0 => hale.block(rounds, timed).await,
                1 => floor.block(rounds, timed).await,
                2 => kameo.block(rounds, timed).await,
                3 => rsup.block(rounds, timed).await,
                _ => {
                    if let Some(in_place) = in_place.as_mut() {
                        in_place.block(rounds, timed).await;
                    }
                }
            }
        }
    }
    let in_place = match in_place {
        Some(runner) => Some(runner.finish().await),
        None => None,
    };
    let results = Results {
        hale: hale.finish().await,
        in_place,
        floor: floor.finish().await,
        kameo: kameo.finish().await,
        rsup: rsup.finish().await,
    };
    let in_place = results
        .in_place
        .as_ref()
        .map(|result| (HaleInPlace::NAME, result));
    for (name, result) in [
        (Hale::NAME, &results.hale),
        (Floor::NAME, &results.floor),
        (Kameo::NAME, &results.kameo),
        (RactorSupervisor::NAME, &results.rsup),
    ]
    .into_iter()
    .chain(in_place)
    {
        match result {
            Ok(summary) => eprintln!(
                "  {name:<18} {:<38} p50 {:>10}  p99 {:>10}  ({} rounds)",
                case.label(),
                micros(summary.p50),
                micros(summary.p99),
                summary.samples
            ),
            Err(error) => eprintln!("  {name:<18} {:<38} failed: {error}", case.label()),
        }
    }
    results
}

fn cell(result: &Result<Summary, String>) -> String {
    match result {
        Ok(summary) => format!("{} / {}", micros(summary.p50), micros(summary.p99)),
        Err(_) => "failed".to_owned(),
    }
}

/// The restart rows.
pub(crate) async fn rows(quick: bool, otp: Option<&OtpFigures>) -> Vec<Row> {
    let mut rows = Vec::new();
    for case in cases(quick) {
        // On a worker thread, like the actors it drives.
        let Ok(Results {
            hale,
            in_place,
            floor,
            kameo,
            rsup,
        }) = tokio::spawn(run_case(case)).await
        else {
            eprintln!("  {}: the measuring task panicked", case.label());
            continue;
        };
        let otp_p50 = otp.and_then(|figures| {
            figures
                .restarts
                .get(&(case.strategy.otp_name().to_owned(), case.children))
                .copied()
        });
        let mut row = Row::new(format!("{} p50 / p99", case.label()));
        row.cells[HALE] = cell(&hale);
        row.cells[FLOOR] = cell(&floor);
        row.cells[KAMEO] = cell(&kameo);
        row.cells[RSUP] = cell(&rsup);
        if let Some((p50, p99)) = otp_p50 {
            row.cells[OTP] = format!(
                "{} / {} (kill)",
                micros(Duration::from_secs_f64(p50 / 1e6)),
                micros(Duration::from_secs_f64(p99 / 1e6))
            );
        }
        let seconds = |result: &Result<Summary, String>| result.as_ref().ok().map(|s| s.p50.as_secs_f64());
        if let (Some(hale), Some(floor)) = (seconds(&hale), seconds(&floor)) {
            row.ratio = ratio(hale, floor);
        }
        let medians = Medians {
            hale: seconds(&hale),
            floor: seconds(&floor),
            kameo: seconds(&kameo),
            otp: otp_p50,
        };
        (row.target, row.verdict, row.why) = judge(&case, medians);
        if let Some(in_place) = &in_place {
            let mut in_place_row = row.clone();
            in_place_row.case = format!("{} in place p50 / p99", case.label());
            in_place_row.cells[HALE] = cell(in_place);
            in_place_row.ratio = match (seconds(in_place), seconds(&floor)) {
                (Some(hale), Some(floor)) => ratio(hale, floor),
                _ => "–".to_owned(),
            };
            let medians = Medians {
                hale: seconds(in_place),
                ..medians
            };
            (in_place_row.target, in_place_row.verdict, in_place_row.why) = judge_in_place(&case, medians);
            rows.push(row);
            rows.push(in_place_row);
        } else {
            rows.push(row);
        }
    }
    rows
}

/// Why Hale's restart path costs more than the floor's, and the fix
/// (profiled with perf; gains from a local experiment on hale-core).
const WHY_ABOVE_FLOOR: &str = "Hale does per restart what the floor does not: two healing events (the \
exit and the restart, each handed to tracing and cloned to every subscriber), three clock reads \
(the intensity window, the new heartbeat's first beat, the start time), the start closure's boxed \
future and a StartContext, and the child's bookkeeping (slot, generation, restart count). Paths \
are shared and the exit finds its child through an index, so none of this grows with the number \
of children; what would cut it further is reading the clock once per restart and passing it down.";

const WHY_KAMEO: &str = "kameo restarts an actor in place: its supervisor keeps the dead \
child's mailbox and runs `on_start` again on it, so a restart creates no channels, cell or \
task. Every ractor-based supervisor must spawn a fresh actor (ActorCell, its port channels, a \
task, the link, an ActorStarted event), and the floor column shows that even the bare minimum \
on ractor is not faster than kameo. Matching kameo needs restart-in-place in ractor (reusing \
the cell and mailbox of the dead incarnation), not a change in Hale; Hale itself is within \
1.5× of the floor.";

const WHY_OTP: &str = "Half of Erlang/OTP is below what ractor can do: a ractor respawn costs \
~3–4 µs of CPU per child (new cell, channels and task, link, two supervision events) where an \
Erlang process costs ~1 µs, and the 2 workers are saturated by that work. Hale and the floor kill \
brutal-kill siblings together (unlinked first, then all waited for), which takes the kills off the \
critical path; what is left is the respawns, one after another in start order. Starting siblings \
concurrently was tried and gained nothing (the workers are already busy spawning, and start order \
would be lost). Going further needs a cheaper spawn or siblings reset in place.";

/// The p50s of one case, in seconds (OTP's: p50 and p99 in µs).
#[derive(Clone, Copy)]
struct Medians {
    hale: Option<f64>,
    floor: Option<f64>,
    kameo: Option<f64>,
    otp: Option<(f64, f64)>,
}

/// The targets for restart latency (p50), and why a miss is one.
fn judge(case: &Case, medians: Medians) -> (String, Verdict, String) {
    let Medians {
        hale,
        floor,
        kameo,
        otp,
    } = medians;
    let (Some(hale), Some(floor)) = (hale, floor) else {
        return ("–".to_owned(), Verdict::Unknown, String::new());
    };
    let near_floor = hale <= 1.5 * floor;
    let mut why = Vec::new();
    if !near_floor {
        why.push(WHY_ABOVE_FLOOR);
    }
    let (target, verdict) = match case.strategy {
        Strategy::OneForOne => {
            let target = "≤ 1.5× floor, ≤ kameo".to_owned();
            match kameo {
                Some(kameo) => {
                    if hale > kameo {
                        why.push(WHY_KAMEO);
                    }
                    (target, Verdict::from_bool(near_floor && hale <= kameo))
                }
                None => (target, Verdict::Unknown),
            }
        }
        Strategy::OneForAll | Strategy::RestForOne => {
            let target = "≤ 1.5× floor, ≤ ½ OTP".to_owned();
            match otp {
                Some((otp_p50_us, _)) => {
                    let half_otp = hale <= 0.5 * otp_p50_us / 1e6;
                    if !half_otp {
                        why.push(WHY_OTP);
                    }
                    (target, Verdict::from_bool(near_floor && half_otp))
                }
                None if !near_floor => (target, Verdict::Missed),
                None => (format!("{target} (no OTP figure)"), Verdict::Unknown),
            }
        }
    };
    (target, verdict, why.join(" "))
}

const WHY_IN_PLACE_GROUP: &str = "In place keeps the failed child's mailbox, but a group \
restart still stops every sibling by its shutdown rule and spawns it fresh (OTP's stop in \
reverse, then start in order; a running sibling's mailbox goes with it), so a group restart \
costs what a fresh one does: the respawns dominate. Resetting running siblings in place \
would need a way to interrupt a wrapper between messages (ractor has no control channel \
beside the mailbox), which is left for later.";

const WHY_IN_PLACE_ONE: &str = "An in-place restart does no spawn (no cell, channels, task or \
link), but it still goes through the supervisor's mailbox twice (the child's report, then \
the resume and its answer) and emits three events (exit, in place, restart); kameo's \
supervisor restarts without either.";

/// The targets for an in-place restart (p50): one_for_one at or
/// below kameo and below the floor; a group at most half of OTP's figure.
fn judge_in_place(case: &Case, medians: Medians) -> (String, Verdict, String) {
    let (kameo, floor, otp) = (medians.kameo, medians.floor, medians.otp);
    let Some(hale) = medians.hale else {
        return ("–".to_owned(), Verdict::Unknown, String::new());
    };
    match case.strategy {
        Strategy::OneForOne => {
            let target = "≤ kameo, < floor".to_owned();
            match (kameo, floor) {
                (Some(kameo), Some(floor)) => {
                    let met = hale <= kameo && hale < floor;
                    let why = if met { "" } else { WHY_IN_PLACE_ONE };
                    (target, Verdict::from_bool(met), why.to_owned())
                }
                _ => (target, Verdict::Unknown, String::new()),
            }
        }
        Strategy::OneForAll | Strategy::RestForOne => {
            let target = "≤ ½ OTP".to_owned();
            match otp {
                Some((otp_p50_us, _)) => {
                    let met = hale <= 0.5 * otp_p50_us / 1e6;
                    let why = if met { "" } else { WHY_IN_PLACE_GROUP };
                    (target, Verdict::from_bool(met), why.to_owned())
                }
                None => (
                    format!("{target} (no OTP figure)"),
                    Verdict::Unknown,
                    String::new(),
                ),
            }
        }
    }
}

/// The subcommand `solo SYSTEM STRATEGY CHILDREN CRASH ROUNDS`: one system,
/// one case, nothing else running (for profilers).
pub(crate) async fn solo(args: &[String]) -> Result<String, String> {
    let [system, strategy, children, crash, rounds] = args else {
        return Err(
            "usage: solo hale|inplace|floor|kameo|rsup one_for_one|one_for_all|rest_for_one N error|kill ROUNDS"
                .to_owned(),
        );
    };
    let strategy = match strategy.as_str() {
        "one_for_one" => Strategy::OneForOne,
        "one_for_all" => Strategy::OneForAll,
        "rest_for_one" => Strategy::RestForOne,
        other => return Err(format!("unknown strategy {other}")),
    };
    let crash = match crash.as_str() {
        "error" => CrashKind::Error,
        "kill" => CrashKind::Kill,
        other => return Err(format!("unknown crash {other}")),
    };
    let case = Case {
        strategy,
        children: children.parse().map_err(|_| "bad CHILDREN")?,
        rounds: rounds.parse().map_err(|_| "bad ROUNDS")?,
        crash,
    };
    let system = system.clone();
    let summary = tokio::spawn(async move {
        match system.as_str() {
            "hale" => solo_run::<Hale>(case).await,
            "inplace" => solo_run::<HaleInPlace>(case).await,
            "floor" => solo_run::<Floor>(case).await,
            "kameo" => solo_run::<Kameo>(case).await,
            "rsup" => solo_run::<RactorSupervisor>(case).await,
            other => Err(format!("unknown system {other}")),
        }
    })
    .await
    .map_err(|_| "the measuring task panicked")??;
    Ok(format!(
        "{} p50 {} p99 {} ({} rounds)",
        case.label(),
        micros(summary.p50),
        micros(summary.p99),
        summary.samples
    ))
}

async fn solo_run<S: System>(case: Case) -> Result<Summary, String> {
    let mut runner = Runner::<S>::start(case).await;
    runner.block((case.rounds / 20).clamp(1, 200), false).await;
    runner.block(case.rounds, true).await;
    runner.finish().await
}
