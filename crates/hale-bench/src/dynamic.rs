//! Dynamic children: starting many children one call at a time, the time
//! per child (overall and per tenth of the run, to show whether it grows
//! with the count) and the memory per child (RSS growth, each system in a
//! fresh process).

use std::time::{Duration, Instant};

use hale_core::{ChildSpec, DynamicSupervisor, DynamicSupervisorRef, DynamicSupervisorSpec, Shutdown};
use ractor::{Actor, ActorCell, ActorRef};
use ractor_supervisor::{DynamicSupervisorMsg, DynamicSupervisorOptions};

use crate::BenchResult;
use crate::child::BenchChild;
use crate::otp::OtpFigures;
use crate::restart::{FloorArgs, FloorMsg, FloorParent, Strategy, bench_spec, run_prefix};
use crate::stats::{kib, micros};
use crate::table::{FLOOR, HALE, OTP, RSUP, Row, Verdict, ratio};

/// A parent that children can be added to at run time.
pub(crate) trait Dynamic: Sized {
    /// Its name on the command line and in the output.
    const NAME: &'static str;
    /// Starts the parent with no children.
    async fn start() -> BenchResult<Self>;
    /// Adds one child, by one call, and waits for the answer.
    async fn add(&mut self) -> BenchResult<()>;
    /// Stops the parent and every child.
    async fn stop(self);
}

/// Hale's `DynamicSupervisor`.
pub(crate) struct HaleDynamic {
    supervisor: DynamicSupervisorRef,
    spec: ChildSpec,
}

impl Dynamic for HaleDynamic {
    const NAME: &'static str = "hale";

    async fn start() -> BenchResult<Self> {
        let spec = DynamicSupervisorSpec::new("bench").intensity(u32::MAX);
        Ok(Self {
            supervisor: DynamicSupervisor::start(spec).await?,
            spec: ChildSpec::actor("w", BenchChild::silent(), ()).shutdown(Shutdown::BrutalKill),
        })
    }

    async fn add(&mut self) -> BenchResult<()> {
        self.supervisor.start_child(self.spec.clone()).await?;
        Ok(())
    }

    async fn stop(self) {
        self.supervisor.stop(Duration::from_secs(60)).await;
    }
}

/// The floor parent, asked to spawn one more child per call.
pub(crate) struct FloorDynamic(ActorRef<FloorMsg>);

impl Dynamic for FloorDynamic {
    const NAME: &'static str = "floor";

    async fn start() -> BenchResult<Self> {
        let args = FloorArgs {
            strategy: Strategy::OneForOne,
            children: 0,
            reports: None,
        };
        let (parent, _join) = Actor::spawn(None, FloorParent, args).await?;
        Ok(Self(parent))
    }

    async fn add(&mut self) -> BenchResult<()> {
        let answer = self.0.call(FloorMsg::Spawn, None).await?;
        answer.success_or("floor did not answer")?;
        Ok(())
    }

    async fn stop(self) {
        let _ = self.0.stop_and_wait(None, Some(Duration::from_secs(60))).await;
    }
}

/// ractor-supervisor's `DynamicSupervisor`.
pub(crate) struct RsupDynamic {
    supervisor: ActorRef<DynamicSupervisorMsg>,
    prefix: String,
    next: usize,
}

impl Dynamic for RsupDynamic {
    const NAME: &'static str = "ractor-supervisor";

    async fn start() -> BenchResult<Self> {
        let prefix = run_prefix();
        let options = DynamicSupervisorOptions {
            max_children: None,
            max_restarts: usize::MAX,
            max_window: Duration::from_secs(1),
            reset_after: None,
        };
        let (supervisor, _join) =
            ractor_supervisor::DynamicSupervisor::spawn(format!("{prefix}-dyn"), options).await?;
        Ok(Self {
            supervisor,
            prefix,
            next: 0,
        })
    }

    async fn add(&mut self) -> BenchResult<()> {
        let spec = bench_spec(format!("{}-w{}", self.prefix, self.next), BenchChild::silent());
        self.next += 1;
        ractor_supervisor::DynamicSupervisor::spawn_child(self.supervisor.clone(), spec)
            .await
            .map_err(|error| error.to_string())?;
        Ok(())
    }

    async fn stop(self) {
        let children = self.supervisor.get_children();
        let _ = self
            .supervisor
            .stop_and_wait(None, Some(Duration::from_secs(60)))
            .await;
        for child in children {
            child.kill();
        }
    }
}

/// Bare ractor actors, no parent: the memory baseline.
pub(crate) struct Bare(Vec<ActorCell>);

impl Dynamic for Bare {
    const NAME: &'static str = "bare";

    async fn start() -> BenchResult<Self> {
        Ok(Self(Vec::new()))
    }

    async fn add(&mut self) -> BenchResult<()> {
        let (actor, _join) = Actor::spawn(None, BenchChild::silent(), ()).await?;
        self.0.push(actor.get_cell());
        Ok(())
    }

    async fn stop(self) {
        for actor in self.0 {
            actor.kill();
        }
    }
}

/// One system's starts: the time of each tenth of the run.
struct Timeline {
    tenths: Vec<Duration>,
    per_tenth: usize,
    failure: Option<String>,
}

impl Timeline {
    fn per_child(&self, tenth: Duration) -> Duration {
        tenth / u32::try_from(self.per_tenth.max(1)).unwrap_or(u32::MAX)
    }

    fn overall(&self) -> Option<Duration> {
        if self.failure.is_some() || self.tenths.len() < 10 {
            return None;
        }
        Some(self.per_child(self.tenths.iter().sum::<Duration>() / 10))
    }

    fn first_and_last(&self) -> Option<(Duration, Duration)> {
        Some((
            self.per_child(*self.tenths.first()?),
            self.per_child(*self.tenths.last()?),
        ))
    }
}

async fn tenth<D: Dynamic>(parent: &mut Option<D>, timeline: &mut Timeline) {
    let Some(system) = parent.as_mut() else {
        return;
    };
    if timeline.failure.is_some() {
        return;
    }
    let began = Instant::now();
    for _ in 0..timeline.per_tenth {
        if let Err(error) = system.add().await {
            timeline.failure = Some(error.to_string());
            return;
        }
    }
    timeline.tenths.push(began.elapsed());
}

async fn started<D: Dynamic>(per_tenth: usize) -> (Option<D>, Timeline) {
    let mut timeline = Timeline {
        tenths: Vec::with_capacity(10),
        per_tenth,
        failure: None,
    };
    match D::start().await {
        Ok(system) => (Some(system), timeline),
        Err(error) => {
            timeline.failure = Some(error.to_string());
            (None, timeline)
        }
    }
}

/// Grows Hale, the floor and ractor-supervisor to `count` children each,
/// a tenth at a time, taking turns.
async fn time_starts(count: usize) -> [(&'static str, Timeline); 3] {
    let per_tenth = count / 10;
    let (mut hale, mut hale_t) = started::<HaleDynamic>(per_tenth).await;
    let (mut floor, mut floor_t) = started::<FloorDynamic>(per_tenth).await;
    let (mut rsup, mut rsup_t) = started::<RsupDynamic>(per_tenth).await;
    for round in 0..10 {
        for slot in 0..3 {
            match (round + slot) % 3 {
                0 => tenth(&mut hale, &mut hale_t).await,
                1 => tenth(&mut floor, &mut floor_t).await,
                _ => tenth(&mut rsup, &mut rsup_t).await,
            }
        }
    }
    if let Some(system) = hale {
        system.stop().await;
    }
    if let Some(system) = floor {
        system.stop().await;
    }
    if let Some(system) = rsup {
        system.stop().await;
    }
    [
        (HaleDynamic::NAME, hale_t),
        (FloorDynamic::NAME, floor_t),
        (RsupDynamic::NAME, rsup_t),
    ]
}

/// The subcommand `mem SYSTEM COUNT`, run in a fresh process: prints the
/// RSS growth per child after starting `COUNT` children.
pub(crate) async fn memory_child(system: &str, count: usize) -> BenchResult<f64> {
    match system {
        HaleDynamic::NAME => grow::<HaleDynamic>(count).await,
        FloorDynamic::NAME => grow::<FloorDynamic>(count).await,
        RsupDynamic::NAME => grow::<RsupDynamic>(count).await,
        Bare::NAME => grow::<Bare>(count).await,
        other => Err(format!("unknown system {other}").into()),
    }
}

async fn grow<D: Dynamic>(count: usize) -> BenchResult<f64> {
    let mut system = D::start().await?;
    // One child first, so one-time allocations are not counted per child.
    system.add().await?;
    let before = crate::sys::rss_bytes()?;
    for _ in 0..count {
        system.add().await?;
    }
    let after = crate::sys::rss_bytes()?;
    #[allow(clippy::cast_precision_loss)]
    let per_child = after.saturating_sub(before) as f64 / count as f64;
    system.stop().await;
    Ok(per_child)
}

/// Runs `mem SYSTEM COUNT` in a fresh copy of this program.
fn memory_in_fresh_process(system: &str, count: usize) -> Result<f64, String> {
    let exe = std::env::current_exe().map_err(|error| error.to_string())?;
    let output = std::process::Command::new(exe)
        .args(["mem", system, &count.to_string()])
        .output()
        .map_err(|error| error.to_string())?;
    let text = String::from_utf8_lossy(&output.stdout);
    text.lines()
        .find_map(|line| line.strip_prefix("bytes_per_child="))
        .and_then(|value| value.trim().parse().ok())
        .ok_or_else(|| format!("mem {system} failed: {}", String::from_utf8_lossy(&output.stderr)))
}

fn us(duration: Duration) -> f64 {
    duration.as_secs_f64() * 1e6
}

/// The dynamic rows.
pub(crate) async fn rows(quick: bool, otp: Option<&OtpFigures>) -> Vec<Row> {
    let count = if quick { 10_000 } else { 100_000 };
    let timelines = match tokio::spawn(time_starts(count)).await {
        Ok(timelines) => timelines,
        Err(_) => return vec![Row::new("dynamic start: the measuring task panicked")],
    };
    for (name, timeline) in &timelines {
        let tenths: Vec<String> = timeline
            .tenths
            .iter()
            .map(|t| micros(timeline.per_child(*t)))
            .collect();
        match &timeline.failure {
            None => eprintln!("  {name:<18} per child by tenth: {}", tenths.join(", ")),
            Some(error) => eprintln!("  {name:<18} failed: {error}"),
        }
    }
    let [(_, hale), (_, floor), (_, rsup)] = &timelines;
    let mut rows = Vec::new();

    let mut overall = Row::new(format!("dynamic start_child, {count} children: time per child"));
    let cell = |timeline: &Timeline| timeline.overall().map_or_else(|| "failed".to_owned(), micros);
    overall.cells[HALE] = cell(hale);
    overall.cells[FLOOR] = cell(floor);
    overall.cells[RSUP] = cell(rsup);
    let otp_start = otp.and_then(|figures| figures.start_child_us);
    if let Some(per_child) = otp_start {
        overall.cells[OTP] = micros(Duration::from_secs_f64(per_child / 1e6));
    }
    if let (Some(h), Some(f)) = (hale.overall(), floor.overall()) {
        overall.ratio = ratio(us(h), us(f));
    }
    overall.target = "< OTP start_child".to_owned();
    overall.verdict = match (hale.overall(), otp_start) {
        (Some(h), Some(o)) => Verdict::from_bool(us(h) < o),
        _ => Verdict::Unknown,
    };
    rows.push(overall);

    let mut growth = Row::new("dynamic start_child: per child, first → last tenth");
    let cell = |timeline: &Timeline| {
        timeline.first_and_last().map_or_else(
            || "failed".to_owned(),
            |(first, last)| format!("{} → {}", micros(first), micros(last)),
        )
    };
    growth.cells[HALE] = cell(hale);
    growth.cells[FLOOR] = cell(floor);
    growth.cells[RSUP] = cell(rsup);
    growth.target = "flat: last ≤ 1.5× first".to_owned();
    if let Some((first, last)) = hale.first_and_last() {
        growth.ratio = format!("last/first {}", ratio(us(last), us(first)));
        growth.verdict = Verdict::from_bool(us(last) <= 1.5 * us(first));
    }
    rows.push(growth);

    // Memory: each system in its own fresh process.
    let mut memory = Row::new(format!(
        "memory per dynamic child (RSS growth over {count}, fresh process)"
    ));
    let measured: Vec<Result<f64, String>> = [
        HaleDynamic::NAME,
        FloorDynamic::NAME,
        RsupDynamic::NAME,
        Bare::NAME,
    ]
    .iter()
    .map(|system| {
        let result = memory_in_fresh_process(system, count);
        match &result {
            Ok(bytes) => eprintln!("  {system:<18} {} per child", kib(*bytes)),
            Err(error) => eprintln!("  {system:<18} memory failed: {error}"),
        }
        result
    })
    .collect();
    let cell =
        |result: &Result<f64, String>| result.as_ref().map_or_else(|_| "failed".to_owned(), |b| kib(*b));
    memory.cells[HALE] = cell(&measured[0]);
    memory.cells[FLOOR] = cell(&measured[1]);
    memory.cells[RSUP] = cell(&measured[2]);
    if let Some(bytes) = otp.and_then(|figures| figures.bytes_per_process) {
        memory.cells[OTP] = kib(bytes);
    }
    if let (Ok(h), Ok(f)) = (&measured[0], &measured[1]) {
        memory.ratio = ratio(*h, *f);
    }
    match (&measured[0], &measured[3]) {
        (Ok(hale), Ok(bare)) => {
            memory.target = format!("≤ bare ractor actor ({}) + 1 KiB", kib(*bare));
            memory.verdict = Verdict::from_bool(*hale <= bare + 1024.0);
        }
        _ => {
            memory.target = "≤ bare ractor actor + 1 KiB".to_owned();
            memory.verdict = Verdict::Unknown;
        }
    }
    rows.push(memory);
    rows
}
