//! The operator's surface (hale-ops): what rendering `/metrics` costs for a
//! tree of 10,000 children, and how long a healing event takes to show on
//! the live page in a real browser.
//!
//! Metrics: a root with 100 supervisors of 100 workers each. Each round
//! renders the whole `/metrics` text (`Ops::metrics_text`: a health snapshot
//! of the tree, the gauges set from it, the text format), interleaved with
//! a round of the health snapshot alone (`SupervisorRef::health`), the
//! least any exporter of per-state counts must do: the ratio is what
//! hale-ops adds on top of walking the tree.
//!
//! Event to screen: a served tree whose one child crashes every
//! [`CRASH_EVERY`]; headless Chromium shows the live page, which records,
//! for every healing event it applies, the wall-clock time from the event's
//! timestamp to the start of the frame that paints it. Beside it, the same
//! events read from `/events` over HTTP by a bare client in this process
//! (the time to the wire, without a browser). Both use the events'
//! millisecond timestamps, so both have millisecond resolution.

use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use hale_core::{ChildSpec, Supervisor, SupervisorRef, SupervisorSpec};
use hale_ops::Ops;
use hale_ops::browser::{BrowserError, Chromium};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::Notify;

use crate::BenchResult;
use crate::stats::{Summary, micros};
use crate::table::{FLOOR, HALE, Row, Verdict};

/// Supervisors under the root, and workers under each.
const SUPERVISORS: usize = 100;
const WORKERS: usize = 100;
/// The target for one render of `/metrics` at 10,000 children.
const RENDER_TARGET: Duration = Duration::from_millis(50);
/// The target for event to screen, p99.
const SCREEN_TARGET: Duration = Duration::from_millis(250);
/// Time between two crashes of the event-to-screen child.
const CRASH_EVERY: Duration = Duration::from_millis(25);

fn idle(id: String) -> ChildSpec {
    ChildSpec::task(id, |_| async {
        std::future::pending::<()>().await;
        Ok(())
    })
}

/// The rows of this family, and notes for what could not be measured.
pub(crate) async fn rows(quick: bool) -> (Vec<Row>, Vec<String>) {
    let mut rows = Vec::new();
    let mut notes = Vec::new();
    match tokio::spawn(render_row(quick)).await {
        Ok(Ok(row)) => rows.push(row),
        Ok(Err(error)) => notes.push(format!("ops metrics render: {error}")),
        Err(error) => notes.push(format!("ops metrics render: {error}")),
    }
    match tokio::spawn(screen_row(quick)).await {
        Ok(Ok(Some(row))) => rows.push(row),
        Ok(Ok(None)) => notes.push(
            "Event to screen was not measured: chromium is not installed (`apt-get install chromium`)."
                .to_owned(),
        ),
        Ok(Err(error)) => notes.push(format!("ops event to screen: {error}")),
        Err(error) => notes.push(format!("ops event to screen: {error}")),
    }
    (rows, notes)
}

async fn render_row(quick: bool) -> BenchResult<Row> {
    let rounds = if quick { 20 } else { 200 };
    let supervisors = (0..SUPERVISORS).map(|s| {
        ChildSpec::supervisor(
            SupervisorSpec::new(format!("group-{s}"))
                .children((0..WORKERS).map(|w| idle(format!("worker-{w}")))),
        )
    });
    let root = Supervisor::start(SupervisorSpec::new("root").children(supervisors)).await?;
    let ops = Ops::builder(root.clone())
        .call_timeout(Duration::from_secs(10))
        .build()?;
    let text = ops.metrics_text().await;
    let children = SUPERVISORS * (WORKERS + 1);
    if !text.contains(&format!("hale_children{{state=\"running\"}} {}", children + 1)) {
        return Err("the rendered metrics do not count every child".into());
    }
    let mut render = Vec::with_capacity(rounds);
    let mut walk = Vec::with_capacity(rounds);
    for _ in 0..rounds {
        let start = Instant::now();
        std::hint::black_box(ops.metrics_text().await);
        render.push(start.elapsed());
        let start = Instant::now();
        std::hint::black_box(root.health().await?);
        walk.push(start.elapsed());
    }
    root.stop(Duration::from_secs(30)).await;
    let render = Summary::of(&mut render).ok_or("no samples")?;
    let walk = Summary::of(&mut walk).ok_or("no samples")?;
    eprintln!(
        "  /metrics for {children} children: p50 {} p99 {} (health snapshot alone: p50 {} p99 {}), {} bytes",
        micros(render.p50),
        micros(render.p99),
        micros(walk.p50),
        micros(walk.p99),
        text.len()
    );
    let mut row = Row::new(format!(
        "/metrics render, tree of {children} children (health snapshot alone in floor column), p50 / p99"
    ));
    row.cells[HALE] = format!("{} / {}", micros(render.p50), micros(render.p99));
    row.cells[FLOOR] = format!("{} / {}", micros(walk.p50), micros(walk.p99));
    row.ratio = format!(
        "{:.2}× / {:.2}×",
        render.p50.as_secs_f64() / walk.p50.as_secs_f64().max(1e-9),
        render.p99.as_secs_f64() / walk.p99.as_secs_f64().max(1e-9)
    );
    row.target = format!("p99 < {}", micros(RENDER_TARGET));
    row.verdict = Verdict::from_bool(render.p99 < RENDER_TARGET);
    row.why = "Almost all of a render is the health snapshot itself (every supervisor answers for its \
               children in turn): the floor column. On top of it, hale-ops counts states in one pass and \
               writes a text whose size does not grow with the tree (no per-child series)."
        .to_owned();
    Ok(row)
}

fn unix_millis() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|elapsed| u64::try_from(elapsed.as_millis()).unwrap_or(u64::MAX))
        .unwrap_or(0)
}

async fn screen_row(quick: bool) -> BenchResult<Option<Row>> {
    let crashes = if quick { 60 } else { 400 };
    let browser = match Chromium::launch().await {
        Ok(browser) => browser,
        Err(BrowserError::NotInstalled) => return Ok(None),
        Err(error) => return Err(error.into()),
    };
    let crash = Arc::new(Notify::new());
    let crasher = {
        let crash = Arc::clone(&crash);
        ChildSpec::task("crasher", move |_| {
            let crash = Arc::clone(&crash);
            async move {
                crash.notified().await;
                Err("crash".into())
            }
        })
    };
    let root: SupervisorRef = Supervisor::start(
        SupervisorSpec::new("root")
            .intensity(1_000_000)
            .period(Duration::from_secs(1))
            .children((0..20).map(|i| idle(format!("idle-{i}"))))
            .child(crasher),
    )
    .await?;
    let ops = Ops::builder(root.clone()).build()?;
    let server = ops.serve("127.0.0.1:0".parse()?).await?;
    let page = browser.open(&format!("http://{}/", server.local_addr())).await?;
    page.wait_for(
        "window.hale.snapshots > 0 && document.getElementById('connection').dataset.state === 'live'",
        Duration::from_secs(20),
    )
    .await?;
    let wire = tokio::spawn(read_wire(server.local_addr(), crashes * 2));
    // Let the bare client's subscription start before the first crash.
    tokio::time::sleep(Duration::from_millis(200)).await;
    for _ in 0..crashes {
        crash.notify_one();
        tokio::time::sleep(CRASH_EVERY).await;
    }
    let applied = page
        .wait_for(
            &format!(
                "window.hale.latencies.length >= {} && window.hale.latencies.length",
                crashes * 2
            ),
            Duration::from_secs(30),
        )
        .await?;
    let samples = page.evaluate("window.hale.latencies").await?;
    let mut screen: Vec<Duration> = samples
        .as_array()
        .ok_or("no latencies on the page")?
        .iter()
        .filter_map(serde_json::Value::as_u64)
        .map(Duration::from_millis)
        .collect();
    let mut wire = tokio::time::timeout(Duration::from_secs(30), wire).await???;
    server.shutdown().await;
    root.stop(Duration::from_secs(10)).await;
    let screen = Summary::of(&mut screen).ok_or("no samples from the page")?;
    let wire = Summary::of(&mut wire).ok_or("no samples from the wire")?;
    eprintln!(
        "  event to screen over {applied} events: p50 {} p99 {} (to the wire: p50 {} p99 {})",
        micros(screen.p50),
        micros(screen.p99),
        micros(wire.p50),
        micros(wire.p99)
    );
    let mut row = Row::new(format!(
        "healing event to the live page's screen, {} crashes 25 ms apart (to an SSE client on the wire in floor column), p50 / p99",
        crashes
    ));
    row.cells[HALE] = format!("{} / {}", micros(screen.p50), micros(screen.p99));
    row.cells[FLOOR] = format!("{} / {}", micros(wire.p50), micros(wire.p99));
    row.ratio = "ms resolution".to_owned();
    row.target = format!("p99 < {}", micros(SCREEN_TARGET));
    row.verdict = Verdict::from_bool(screen.p99 < SCREEN_TARGET);
    row.why = "The page applies each event to its node at once and is measured to the start of the next frame; \
               a miss means the browser's frames fell behind (2 shared cores run the tree, the server and Chromium)."
        .to_owned();
    Ok(Some(row))
}

/// Reads `count` healing events from `/events` over plain HTTP and returns,
/// for each, the time from its timestamp to its arrival.
async fn read_wire(address: std::net::SocketAddr, count: usize) -> BenchResult<Vec<Duration>> {
    let mut stream = tokio::net::TcpStream::connect(address).await?;
    stream
        .write_all(b"GET /events HTTP/1.1\r\nHost: bench\r\nAccept: text/event-stream\r\n\r\n")
        .await?;
    let mut seen = Vec::with_capacity(count);
    let mut pending = String::new();
    let mut buffer = vec![0u8; 64 * 1024];
    let mut in_healing = false;
    while seen.len() < count {
        let read = stream.read(&mut buffer).await?;
        if read == 0 {
            return Err("the event stream closed".into());
        }
        let arrived = unix_millis();
        pending.push_str(&String::from_utf8_lossy(&buffer[..read]));
        while let Some(end) = pending.find('\n') {
            let line: String = pending.drain(..=end).collect();
            let line = line.trim_end();
            if let Some(name) = line.strip_prefix("event:") {
                in_healing = name.trim() == "healing";
            } else if let Some(data) = line.strip_prefix("data:")
                && in_healing
            {
                let event: serde_json::Value = serde_json::from_str(data.trim())?;
                let stamped = event["timestamp_ms"]
                    .as_u64()
                    .ok_or("an event without a timestamp")?;
                seen.push(Duration::from_millis(arrived.saturating_sub(stamped)));
            }
        }
    }
    Ok(seen)
}
