//! Traces of work items across agents, for the chaos examples.
//!
//! Each work item gets a root span (`item`), each step of it a child span
//! (`step`: the policy call around one agent, retries included), and the
//! message to the agent carries that step's span: the agent's handler
//! enters a span of its own under it (`handle`), so everything the agent
//! does for the item (its faults, its resilience decisions) sits in the
//! item's trace, however many agents and attempts it passed. One failing
//! document is one trace.
//!
//! `--trace FILE` ([`crate::cli::TRACE`]) installs [`SpanLines`], which writes
//! one JSON line per closed span of these three kinds:
//!
//! ```text
//! {"agent":"validate","attempt":5,"duration_us":10000,"item":5,"name":"handle","outcome":"error: schema mismatch","parent":52,"span":53,"start_us":3566000,"trace":46}
//! ```
//!
//! `trace` is the number of the item's root span and `span`/`parent` number
//! the spans in the order they opened (tracing's own ids are reused once a
//! span closes, so they cannot name a trace in a file); times are on the
//! run's clock (tokio's, paused in the examples), in µs since the run
//! started. A span that closes without an outcome (its agent was killed
//! with the message) says `"outcome":"unfinished"`.
//!
//! Spans add no `.await` and no task, so they never change a run's
//! scheduling: a run's event-log hash is the same with `--trace` and
//! without. Without `--trace` (and without `RUST_LOG`), the spans are
//! disabled at their call sites and cost a branch each.
//!
//! Each example includes this file with `#[path = "support/tracing.rs"] mod
//! traces;` (beside `support/cli.rs`).

#![allow(dead_code, reason = "each example uses the part of this module it needs")]

use std::fmt;
use std::fs::File;
use std::future::Future;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use tracing::field::{Empty, Field, Visit};
use tracing::span::{Attributes, Id, Record};
use tracing::{Instrument, Span, Subscriber};
use tracing_subscriber::layer::{Context, SubscriberExt};
use tracing_subscriber::registry::LookupSpan;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{EnvFilter, Layer};

/// The target of the work-item spans: `--trace` writes these, and with
/// `RUST_LOG=hale=info` each log line names the item, step and agent it
/// happened in.
pub const TARGET: &str = "hale::trace";

/// The root span of work item `item`; `kind` says what it is (`document`).
/// Record its end with [`settle`].
pub fn item_span(kind: &'static str, item: u64) -> Span {
    tracing::info_span!(target: TARGET, "item", kind, item, outcome = Empty)
}

/// Runs `work`, one step of item `id` through `agent`, inside a span of its
/// own under the item's span `item`; records `ok` or the error as its
/// outcome. An agent call inside `work` takes the span along in its message
/// ([`Span::current`]).
pub async fn step<T, E: fmt::Display>(
    item: &Span,
    id: u64,
    agent: &'static str,
    work: impl Future<Output = Result<T, E>>,
) -> Result<T, E> {
    let span = tracing::info_span!(target: TARGET, parent: item, "step", item = id, agent, outcome = Empty);
    let result = work.instrument(span.clone()).await;
    record_result(&span, &result);
    result
}

/// The span an agent's handler enters for a message that carried
/// `carried` (the step that sent it).
pub fn handler_span(carried: &Span, item: u64, agent: &str, attempt: u32) -> Span {
    tracing::info_span!(target: TARGET, parent: carried, "handle", item, agent, attempt, outcome = Empty)
}

/// Records how the work of `span` ended: `ok`, or `error: ...`.
pub fn record_result<T, E: fmt::Display>(span: &Span, result: &Result<T, E>) {
    match result {
        Ok(_) => span.record("outcome", "ok"),
        Err(error) => span.record("outcome", format!("error: {error}").as_str()),
    };
}

/// Records where item `span` ended (`completed`, `dead_lettered`, ...: the
/// outcome's serde name).
pub fn settle(span: &Span, outcome: impl serde::Serialize) {
    let name = serde_json::to_value(outcome)
        .ok()
        .and_then(|value| value.as_str().map(str::to_owned))
        .unwrap_or_else(|| "unknown".to_owned());
    span.record("outcome", name.as_str());
}

/// Installs the examples' subscriber: `RUST_LOG` lines as before (off by
/// default), and, when `trace_file` is given, [`SpanLines`] writing the
/// work-item spans to it. Returns the file's handle, to [`finish`](TraceFile::finish)
/// at the end of the run.
///
/// # Errors
/// The file cannot be created.
pub fn install(trace_file: Option<&str>) -> Result<Option<TraceFile>, TraceError> {
    let log = tracing_subscriber::fmt::layer()
        .with_filter(EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("off")));
    let file = trace_file.map(TraceFile::create).transpose()?;
    let lines = file.as_ref().map(|file| {
        SpanLines::new(Arc::clone(&file.out))
            .with_filter(tracing_subscriber::filter::Targets::new().with_target(TARGET, tracing::Level::INFO))
    });
    tracing_subscriber::registry().with(log).with(lines).init();
    Ok(file)
}

/// The trace file could not be written.
#[derive(Debug, thiserror::Error)]
#[error("cannot write the trace to {path}: {source}")]
pub struct TraceError {
    path: String,
    source: std::io::Error,
}

/// Where the span lines go, and the first write error, if any.
struct Output {
    writer: BufWriter<File>,
    lines: u64,
    error: Option<std::io::Error>,
}

/// The file `--trace` names, open for the run.
pub struct TraceFile {
    path: PathBuf,
    out: Arc<Mutex<Output>>,
}

impl TraceFile {
    fn create(path: &str) -> Result<Self, TraceError> {
        let path = Path::new(path);
        let file = File::create(path).map_err(|source| TraceError {
            path: path.display().to_string(),
            source,
        })?;
        Ok(Self {
            path: path.to_owned(),
            out: Arc::new(Mutex::new(Output {
                writer: BufWriter::new(file),
                lines: 0,
                error: None,
            })),
        })
    }

    /// Flushes the file; returns how many span lines it holds.
    ///
    /// # Errors
    /// The first write that failed during the run, or the flush.
    pub fn finish(self) -> Result<u64, TraceError> {
        let mut out = self.out.lock().unwrap_or_else(PoisonError::into_inner);
        let flushed = out.writer.flush();
        match out.error.take().map_or(flushed, Err) {
            Ok(()) => Ok(out.lines),
            Err(source) => Err(TraceError {
                path: self.path.display().to_string(),
                source,
            }),
        }
    }
}

/// A layer that writes each closed work-item span as one JSON line.
///
/// Memory: one small record per open span (the examples hold a handful at
/// a time) and the file's 8 KiB buffer; after a write error it writes
/// nothing more and [`TraceFile::finish`] reports the error.
pub struct SpanLines {
    out: Arc<Mutex<Output>>,
    next: AtomicU64,
    epoch: tokio::time::Instant,
}

/// What [`SpanLines`] keeps about an open span.
struct OpenSpan {
    number: u64,
    trace: u64,
    parent: Option<u64>,
    fields: serde_json::Map<String, serde_json::Value>,
    opened: tokio::time::Instant,
}

impl SpanLines {
    fn new(out: Arc<Mutex<Output>>) -> Self {
        Self {
            out,
            next: AtomicU64::new(1),
            epoch: tokio::time::Instant::now(),
        }
    }
}

impl<S> Layer<S> for SpanLines
where
    S: Subscriber + for<'a> LookupSpan<'a>,
{
    fn on_new_span(&self, attrs: &Attributes<'_>, id: &Id, ctx: Context<'_, S>) {
        let Some(span) = ctx.span(id) else { return };
        let number = self.next.fetch_add(1, Ordering::Relaxed);
        let (parent, trace) = span
            .parent()
            .and_then(|parent| {
                parent
                    .extensions()
                    .get::<OpenSpan>()
                    .map(|open| (Some(open.number), open.trace))
            })
            .unwrap_or((None, number));
        let mut fields = serde_json::Map::new();
        attrs.record(&mut Fields(&mut fields));
        span.extensions_mut().insert(OpenSpan {
            number,
            trace,
            parent,
            fields,
            opened: tokio::time::Instant::now(),
        });
    }

    fn on_record(&self, id: &Id, values: &Record<'_>, ctx: Context<'_, S>) {
        if let Some(span) = ctx.span(id)
            && let Some(open) = span.extensions_mut().get_mut::<OpenSpan>()
        {
            values.record(&mut Fields(&mut open.fields));
        }
    }

    fn on_close(&self, id: Id, ctx: Context<'_, S>) {
        let Some(span) = ctx.span(&id) else { return };
        let Some(open) = span.extensions_mut().remove::<OpenSpan>() else {
            return;
        };
        let micros = |at: tokio::time::Instant| {
            u64::try_from(at.duration_since(self.epoch).as_micros()).unwrap_or(u64::MAX)
        };
        let mut line = serde_json::Map::new();
        line.insert("trace".into(), open.trace.into());
        line.insert("span".into(), open.number.into());
        line.insert(
            "parent".into(),
            open.parent.map_or(serde_json::Value::Null, Into::into),
        );
        line.insert("name".into(), span.name().into());
        for key in ["item", "agent"] {
            line.insert(
                key.into(),
                open.fields.get(key).cloned().unwrap_or(serde_json::Value::Null),
            );
        }
        let mut fields = open.fields;
        fields.remove("item");
        fields.remove("agent");
        let outcome = fields.remove("outcome").unwrap_or_else(|| "unfinished".into());
        line.extend(fields);
        line.insert("outcome".into(), outcome);
        line.insert("start_us".into(), micros(open.opened).into());
        line.insert(
            "duration_us".into(),
            u64::try_from(
                tokio::time::Instant::now()
                    .duration_since(open.opened)
                    .as_micros(),
            )
            .unwrap_or(u64::MAX)
            .into(),
        );
        let mut out = self.out.lock().unwrap_or_else(PoisonError::into_inner);
        if out.error.is_some() {
            return;
        }
        let text = serde_json::Value::Object(line).to_string();
        match writeln!(out.writer, "{text}") {
            Ok(()) => out.lines += 1,
            Err(error) => out.error = Some(error),
        }
    }
}

/// Span fields into a JSON object.
struct Fields<'a>(&'a mut serde_json::Map<String, serde_json::Value>);

impl Visit for Fields<'_> {
    fn record_u64(&mut self, field: &Field, value: u64) {
        self.0.insert(field.name().into(), value.into());
    }
    fn record_i64(&mut self, field: &Field, value: i64) {
        self.0.insert(field.name().into(), value.into());
    }
    fn record_bool(&mut self, field: &Field, value: bool) {
        self.0.insert(field.name().into(), value.into());
    }
    fn record_str(&mut self, field: &Field, value: &str) {
        self.0.insert(field.name().into(), value.into());
    }
    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        self.0.insert(field.name().into(), format!("{value:?}").into());
    }
}
