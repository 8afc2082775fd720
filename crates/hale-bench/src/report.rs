//! docs/benchmarks.md: the table, the machine it ran on, how to reproduce
//! it, and how each figure is measured.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use crate::BenchResult;
use crate::table::{Row, closing_note, render};

/// What one run produced, for the docs.
pub(crate) struct Run<'a> {
    pub(crate) rows: &'a [Row],
    pub(crate) notes: &'a [String],
    pub(crate) otp_release: Option<&'a str>,
    pub(crate) command: String,
    pub(crate) quick: bool,
}

const METHOD: &str = "\
## How each figure is measured

All Rust systems run on one tokio runtime with 2 worker threads; every \
measuring loop runs as a task on that runtime, like the actors it drives. \
Times are wall-clock `Instant`s; p50/p99 are nearest-rank percentiles (the \
rule `otp_bench.erl` uses).

- **Restart latency.** A supervisor with n children (`post_start` of each \
  incarnation reports over a channel). Each round crashes one child, by an \
  error returned from its handler or by a kill, and waits until the \
  replacement (under one_for_all/rest_for_one: every restarted sibling) has \
  reported. one_for_one crashes each child in turn; group strategies crash \
  the first-started child, so all n restart. The four Rust systems of a case \
  run at once, their rounds interleaved in 10 blocks (each block starting \
  with a different system), after unmeasured warm-up rounds, so the shared \
  machine's noise falls on all of them alike. Each block starts after a \
  pause of 50 µs per child, so the teardown the previous system's last \
  round left behind does not land in this system's rounds; within a block \
  rounds run back to back, as in the OTP anchor. Configuration as in the OTP \
  anchor: brutal-kill shutdown where the system has one, restart intensity \
  that no run reaches within a 1 s period.
  - *floor*: a hand-written ractor parent that respawns a child at once in \
    `handle_supervisor_evt`; for a group it kills the others in reverse \
    order, waiting for each, then spawns the group in order. No events, \
    specs or intensity: the least a ractor-based OTP supervisor can cost.
  - *kameo* 0.22: `supervise(...).spawn()` children of a supervisor actor \
    with `supervision_strategy()`; a child reports from `on_start` (kameo \
    has no post-start hook); an error from a `tell` handler stops it.
  - *ractor-supervisor* 0.2: `Supervisor` with `ChildSpec`s (children must \
    be named). Its group restarts sleep 10 ms between kill and respawn, by \
    design.
  - *OTP*: `shared/anchors/otp_bench.erl`, which kills the child \
    (`exit(Pid, kill)`); its figure stands beside both the error and the \
    kill rows. rest_for_one with 1000 children is the anchor's exported \
    `restart_latency/3`, called beside its `main`.
- **Dynamic children.** 100,000 children started one call at a time under \
  Hale's `DynamicSupervisor` (`start_child`), the floor parent (one call \
  that spawns a linked child) and ractor-supervisor's `DynamicSupervisor` \
  (`spawn_child`), each system in a fresh process (`hale-bench mem SYSTEM \
  N`, driven from a worker thread), twice in turn; the run with the lower \
  time counts. Time per child is reported overall and for the first and \
  last tenth; memory per child is the RSS growth (`/proc/self/statm`) over \
  the same run; *bare* is `Actor::spawn` of the same child with no parent.
- **Happy path.** Casts per second to one actor until it has handled them \
  all: the bare actor, the same actor as a Hale child (sent to directly, \
  through a `ChildRef`, and under `Watch::per_message`); the best of 7 \
  interleaved runs (the same work each time). Circuit breaker and retry around an `async` call that \
  succeeds, in ns per call against the bare call (best of 5 loops; \
  `cargo bench -p hale-bench` has the same figures under criterion).
- **Watchdog.** CPU time of the whole process (sum of every thread's \
  `/proc/self/task/*/schedstat`) over a window with n children watched \
  (`Watch::heartbeat(timeout)`) minus the same with no watch spec, two \
  windows each, interleaved; one driver task beats every child's heartbeat \
  every quarter timeout in both arms (a beat is a clock read and an atomic \
  store). Lateness: children that beat once and never again \
  (timeout 200 ms), started 2 ms apart among heartbeating watched siblings; \
  each records in `post_stop`, which runs when the watchdog stops it, how \
  long after its beat + timeout that was.
- **Operator surface.** `/metrics` for a tree of 100 supervisors of 100 \
  workers (`Ops::metrics_text`: the health snapshot, the gauges set from \
  it, the text format), each round interleaved with a round of the health \
  snapshot alone (`SupervisorRef::health`, the floor column). Event to \
  screen: one child of a served tree crashes every 25 ms; headless Chromium \
  shows the live page, which records for each healing event it applies the \
  wall-clock time from the event's timestamp to the start of the frame that \
  paints it; the floor column is the same events read from `/events` over \
  HTTP by a bare client in the bench process. Both have the events' \
  millisecond resolution.

**Reading the restart rows.** Every system runs with a restart intensity \
no run reaches within a 1 s period, as the OTP anchor does; at thousands of \
restarts per second that window holds thousands of entries. OTP and \
ractor-supervisor keep the restarts of the period in a list that each \
restart scans, so their one_for_one figures grow with the restart rate (the \
anchor's 10,000-round one_for_one is dearer than a short run of it); Hale's \
window is a queue that drops expired entries from the front, O(1) per \
restart. ractor-supervisor's group restarts sleep 10 ms between kill and \
respawn, and at 1000 children it can restart a group more than once for \
one crash: the harness reports that as a failure (a child reported twice \
in one round) and stops that system at once.

**Build note.** ractor-supervisor depends on ractor with its default \
features, so any build that includes hale-bench has ractor's \
`message_span_propogation` on (Hale's own builds do not). It applies to \
every ractor-based system in the table alike (Hale, floor, bare ractor, \
ractor-supervisor).
";

/// The whole page.
pub(crate) fn markdown(run: &Run<'_>) -> String {
    let mut out = String::from("# Benchmarks\n\n");
    out.push_str(
        "Speed of recovery is what a self-healing runtime is for. This page holds the latest table \
         of `hale-bench`: restart latency, dynamic children, the happy-path cost and the watchdog's \
         cost, measured in one run beside a hand-written ractor floor, kameo, ractor-supervisor and \
         Erlang/OTP. The machine is shared and noisy, so read ratios within the run rather than \
         absolute figures across runs.\n\n",
    );
    let _ = writeln!(out, "## Latest run\n");
    let _ = writeln!(out, "- date: {}", crate::sys::today());
    let _ = writeln!(out, "- machine: {}", crate::sys::machine());
    let _ = writeln!(out, "- rustc: {}", crate::sys::rustc_version());
    let _ = writeln!(
        out,
        "- Erlang/OTP: {}",
        run.otp_release
            .map_or_else(|| "not run".to_owned(), |release| format!("OTP {release}"))
    );
    let _ = writeln!(out, "- command: `{}`", run.command);
    if run.quick {
        let _ = writeln!(
            out,
            "- **quick run** (a tenth of the rounds and children): not the figures of record"
        );
    }
    out.push('\n');
    out.push_str(&render(run.rows));
    out.push('\n');
    for note in run.notes {
        let _ = writeln!(out, "{note}\n");
    }
    let _ = writeln!(out, "## Closing note\n");
    out.push_str(&closing_note(run.rows));
    out.push('\n');
    out.push_str(METHOD);
    out
}

/// docs/benchmarks.md of the repository this program was built from.
fn docs_path() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/benchmarks.md")
}

/// Writes the page; returns where.
pub(crate) fn write(run: &Run<'_>) -> BenchResult<PathBuf> {
    let path = docs_path();
    let mut page = markdown(run);
    if let Ok(old) = std::fs::read_to_string(&path) {
        keep_durable_section(&old, &mut page);
    }
    std::fs::write(&path, page)?;
    Ok(path)
}

/// The durable family's section is written by hand from its own run
/// (`--only durable`): carry it from the old page into the new one, before
/// the method.
fn keep_durable_section(old: &str, page: &mut String) {
    let (Some(start), Some(method)) = (
        old.find(DURABLE_HEADING),
        page.find("## How each figure is measured"),
    ) else {
        return;
    };
    let body = start + DURABLE_HEADING.len();
    let end = old[body..].find("\n## ").map_or(old.len(), |at| body + at + 1);
    page.insert_str(method, &old[start..end]);
}

const DURABLE_HEADING: &str = "## Durable workflows";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_rewritten_page_keeps_the_durable_section_before_the_method() {
        let old = "# B\n\n## Closing note\n\nx\n\n## Durable workflows\n\n| d |\n\n## How each figure is measured\n\nold method\n";
        let mut page =
            "# B\n\n## Closing note\n\ny\n\n## How each figure is measured\n\nnew method\n".to_owned();
        keep_durable_section(old, &mut page);
        assert_eq!(
            page,
            "# B\n\n## Closing note\n\ny\n\n## Durable workflows\n\n| d |\n\n## How each figure is measured\n\nnew method\n"
        );
        let mut untouched = "no method here".to_owned();
        keep_durable_section(old, &mut untouched);
        assert_eq!(untouched, "no method here");
    }
}
