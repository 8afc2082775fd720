//! Process children: what supervising an OS process costs beside the bare
//! system calls, in the same run.
//!
//! Restart cycle: a permanent process child running `/bin/true` exits at
//! once and is restarted at once, again and again; a sample is the time
//! between two consecutive exits as the bench's event subscriber sees them
//! (spawn, exec, run, exit, reap, classify, restart). The floor is the same
//! program run by `std::process::Command::status` in a loop on a blocking
//! thread (fork/exec, wait): the least any supervisor can cost. The two
//! arms run in alternating blocks, so the machine's noise falls on both.
//! A second row gives Hale's exit → replacement running latency alone.
//!
//! Notify heartbeat: the process CPU time (all threads) that one
//! `WATCHDOG=1` datagram costs, sent at a steady rate by a thread of the
//! bench to a process child's `NOTIFY_SOCKET` (Hale reads it, parses it and
//! beats the child's heartbeat), against the same datagrams sent to a bare
//! tokio socket whose task only receives them. Each arm's figure is the CPU
//! of a sending window minus that of an idle window of the same length,
//! per datagram; the sender's own cost is in both.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use hale_core::process::{Liveness, ProcessCommand, ProcessView};
use hale_core::{ChildSpec, HealingEventKind, Supervisor, SupervisorSpec, Watch};

use crate::BenchResult;
use crate::stats::{Summary, micros};
use crate::table::{FLOOR, HALE, Row, Verdict, ratio};

/// The `/bin/true`-like program both arms run.
const PROGRAM: &str = "/bin/true";
/// Alternating blocks per arm.
const BLOCKS: usize = 4;
/// Unmeasured cycles at the start of each Hale block.
const WARM_UP: usize = 10;
/// Heartbeats per second in the notify rows: under Hale's
/// `MAX_DATAGRAMS_PER_SECOND`, so none is dropped.
const BEAT_RATE: u32 = 900;

/// `count` bare fork+exec+wait cycles, each timed.
fn bare_cycles(count: usize) -> BenchResult<Vec<Duration>> {
    let mut samples = Vec::with_capacity(count);
    for _ in 0..count {
        let began = Instant::now();
        let status = std::process::Command::new(PROGRAM).status()?;
        samples.push(began.elapsed());
        if !status.success() {
            return Err(format!("{PROGRAM} failed: {status}").into());
        }
    }
    Ok(samples)
}

/// `count` Hale restart cycles of a `/bin/true` child: intervals between
/// consecutive exits, and exit → restarted latencies.
async fn hale_cycles(count: usize) -> BenchResult<(Vec<Duration>, Vec<Duration>)> {
    let child = ChildSpec::process("true", ProcessCommand::new(PROGRAM))?;
    let root = Supervisor::start(SupervisorSpec::new("bench").intensity(u32::MAX)).await?;
    let mut events = root.subscribe();
    root.start_child(child).await?;
    let (mut cycles, mut restarts) = (Vec::with_capacity(count), Vec::with_capacity(count));
    let mut last_exit: Option<Instant> = None;
    let mut exits = 0;
    while cycles.len() < count {
        let event = tokio::time::timeout(Duration::from_secs(10), events.recv())
            .await
            .map_err(|_| "no event from the process child within 10 s")?
            .map_err(|error| format!("event stream: {error}"))?;
        let now = Instant::now();
        match event.kind {
            HealingEventKind::ChildExited { .. } => {
                exits += 1;
                if let Some(previous) = last_exit
                    && exits > WARM_UP
                {
                    cycles.push(now.duration_since(previous));
                }
                last_exit = Some(now);
            }
            HealingEventKind::ChildRestarted { .. } if exits > WARM_UP => {
                if let Some(exit) = last_exit {
                    restarts.push(now.duration_since(exit));
                }
            }
            _ => {}
        }
    }
    root.stop(Duration::from_secs(10)).await;
    Ok((cycles, restarts))
}

/// Sends `WATCHDOG=1` to `path` at [`BEAT_RATE`] for `window`, from a
/// thread of its own; returns how many were sent.
fn send_beats(path: PathBuf, window: Duration) -> std::thread::JoinHandle<std::io::Result<u64>> {
    std::thread::spawn(move || {
        let socket = std::os::unix::net::UnixDatagram::unbound()?;
        let every = Duration::from_secs(1) / BEAT_RATE;
        let began = Instant::now();
        let mut sent = 0_u64;
        while began.elapsed() < window {
            socket.send_to(b"WATCHDOG=1", &path)?;
            sent += 1;
            let next = every * u32::try_from(sent).unwrap_or(u32::MAX);
            if let Some(wait) = next.checked_sub(began.elapsed()) {
                std::thread::sleep(wait);
            }
        }
        Ok(sent)
    })
}

/// Process CPU per datagram sent to `path` (µs): a sending window minus an
/// idle one of the same length.
async fn cpu_per_beat(path: &std::path::Path, window: Duration) -> BenchResult<f64> {
    let idle_before = crate::sys::cpu_time()?;
    tokio::time::sleep(window).await;
    let idle = crate::sys::cpu_time()?.saturating_sub(idle_before);
    let busy_before = crate::sys::cpu_time()?;
    let sender = send_beats(path.to_owned(), window);
    let sent = tokio::task::spawn_blocking(move || sender.join())
        .await?
        .map_err(|_| "the sender thread panicked")??;
    // Let the receiver drain what is queued.
    tokio::time::sleep(Duration::from_millis(50)).await;
    let busy = crate::sys::cpu_time()?.saturating_sub(busy_before);
    let extra = busy.as_secs_f64() - idle.as_secs_f64();
    Ok(extra.max(0.0) * 1e6 / sent.max(1) as f64)
}

/// The notify socket of a running process child, read from its output.
async fn notify_path(view: &ProcessView) -> BenchResult<PathBuf> {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        if let Some(line) = view.output().into_iter().find(|line| line.text.starts_with('/')) {
            return Ok(PathBuf::from(line.text));
        }
        if Instant::now() > deadline {
            return Err("the process child never printed its NOTIFY_SOCKET".into());
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

/// Hale's and the bare receiver's CPU per heartbeat (µs), best of `rounds`
/// interleaved windows each.
async fn heartbeat_cost(rounds: usize, window: Duration) -> BenchResult<(f64, f64)> {
    let command = ProcessCommand::new("/bin/sh")
        .args(["-c", r#"echo "$NOTIFY_SOCKET"; exec sleep 1000"#])
        .watch(Watch::heartbeat(Duration::from_secs(60)), Liveness::Notify)
        .keep_output(4);
    let view = command.view();
    let root =
        Supervisor::start(SupervisorSpec::new("bench").child(ChildSpec::process("notifier", command)?))
            .await?;
    let hale_path = notify_path(&view).await?;

    let dir = std::env::temp_dir().join(format!("hale-bench-notify-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let bare_path = dir.join("notify");
    let _ = std::fs::remove_file(&bare_path);
    let bare = tokio::net::UnixDatagram::bind(&bare_path)?;
    let receiver = tokio::spawn(async move {
        let mut buffer = vec![0_u8; 4096];
        while bare.recv(&mut buffer).await.is_ok() {}
    });

    let (mut hale, mut floor) = (f64::INFINITY, f64::INFINITY);
    for _ in 0..rounds {
        hale = hale.min(cpu_per_beat(&hale_path, window).await?);
        floor = floor.min(cpu_per_beat(&bare_path, window).await?);
    }
    receiver.abort();
    root.stop(Duration::from_secs(10)).await;
    let _ = std::fs::remove_dir_all(&dir);
    Ok((hale, floor))
}

/// The process-child rows.
pub(crate) async fn rows(quick: bool) -> Vec<Row> {
    let mut rows = Vec::new();
    let per_block = if quick { 50 } else { 500 };

    let mut cycle = Row::new(format!(
        "process child restart cycle ({PROGRAM}: spawn, exit, reap, restart), p50 / p99"
    ));
    cycle.why = WHY_CYCLE.to_owned();
    let mut latency = Row::new("process child restart latency (exit seen → replacement running), p50 / p99");
    let measured = async {
        let (mut bare, mut hale, mut restarts) = (Vec::new(), Vec::new(), Vec::new());
        for _ in 0..BLOCKS {
            bare.extend(tokio::task::spawn_blocking(move || bare_cycles(per_block)).await??);
            let (cycles, latencies) = hale_cycles(per_block).await?;
            hale.extend(cycles);
            restarts.extend(latencies);
        }
        BenchResult::Ok((bare, hale, restarts))
    };
    match measured.await {
        Ok((mut bare, mut hale, mut restarts)) => {
            if let (Some(bare), Some(hale), Some(restarts)) = (
                Summary::of(&mut bare),
                Summary::of(&mut hale),
                Summary::of(&mut restarts),
            ) {
                eprintln!(
                    "  restart cycle: hale {} / {}, fork+exec+wait {} / {}",
                    micros(hale.p50),
                    micros(hale.p99),
                    micros(bare.p50),
                    micros(bare.p99)
                );
                cycle.cells[HALE] = format!("{} / {}", micros(hale.p50), micros(hale.p99));
                cycle.cells[FLOOR] = format!("{} / {}", micros(bare.p50), micros(bare.p99));
                cycle.ratio = ratio(hale.p50.as_secs_f64(), bare.p50.as_secs_f64());
                latency.cells[HALE] = format!("{} / {}", micros(restarts.p50), micros(restarts.p99));
            }
        }
        Err(error) => {
            eprintln!("  process restart cycle: {error}");
            cycle.cells[HALE] = "failed".to_owned();
            cycle.verdict = Verdict::Unknown;
        }
    }
    rows.push(cycle);
    rows.push(latency);

    let mut beat = Row::new(format!(
        "notify heartbeat (WATCHDOG=1 at {BEAT_RATE}/s), process CPU per datagram"
    ));
    beat.why = WHY_BEAT.to_owned();
    let (rounds, window) = if quick {
        (2, Duration::from_millis(500))
    } else {
        (3, Duration::from_secs(2))
    };
    match heartbeat_cost(rounds, window).await {
        Ok((hale, floor)) => {
            eprintln!("  notify heartbeat: hale {hale:.2} µs, bare recv {floor:.2} µs");
            beat.cells[HALE] = format!("{hale:.2} µs");
            beat.cells[FLOOR] = format!("{floor:.2} µs");
            beat.ratio = ratio(hale, floor);
        }
        Err(error) => {
            eprintln!("  notify heartbeat: {error}");
            beat.cells[HALE] = "failed".to_owned();
            beat.verdict = Verdict::Unknown;
        }
    }
    rows.push(beat);
    rows
}

const WHY_CYCLE: &str = "A process child's cycle is the floor's fork+exec+wait plus what \
supervision adds: a SIGCHLD listener and a waitid(WNOWAIT) before the reap (so the group is \
killed while its id is still held), two pipe readers and their tasks, the exit forwarded to \
the child's actor, the actor's stop and the supervisor's restart decision. The floor here runs \
in a tight blocking loop; the figures are the price of those steps, paid once per restart.";

const WHY_BEAT: &str = "Both arms include the sending thread's own cost. Hale's listener \
adds a parse of the datagram, a rate-limit check and one atomic store (the heartbeat); the rest \
is the kernel's datagram path and a task wake-up per datagram, which the bare receiver pays too.";
