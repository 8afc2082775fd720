//! Children that are OS processes, proved with real processes: the small
//! programs in `tests/programs/` (`/bin/sh` scripts, and a Python agent for
//! the notify protocol, skipped with a printed line where `python3` is
//! missing).
//!
//! These tests run on real time (an OS process cannot run on tokio's paused
//! clock), but assert no timing: every wait is for an event or a state,
//! with a bound. After each test, every process it started is checked from
//! `/proc`: nothing alive in its process group, and no zombie left among
//! this test process's own children.

#![cfg(target_os = "linux")]
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::path::PathBuf;
use std::time::Duration;

use hale_core::process::{
    Liveness, OutputStream, ProbeCommand, ProcessCommand, ProcessExit, ProcessView, ResourceLimits,
};
use hale_core::{
    ChildSpec, EventStream, ExitReason, HealingEventKind, Restart, Shutdown, StopCause, StopOutcome,
    Strategy, Supervisor, SupervisorRef, SupervisorSpec, Watch,
};
use support::{Lab, WAIT, expect_at, failed_child};

const PROGRAMS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/programs");

fn program(name: &str) -> String {
    format!("{PROGRAMS}/{name}")
}

/// A test program with its arguments, keeping its output in its view.
fn script<const N: usize>(name: &str, args: [&str; N]) -> ProcessCommand {
    ProcessCommand::new(program(name)).args(args).keep_output(200)
}

fn process(id: &str, command: ProcessCommand) -> ChildSpec {
    ChildSpec::process(id, command).expect("valid process spec")
}

/// A root with nothing in it yet (children are started through the API
/// after subscribing, so no event is missed), and its events.
async fn empty_root(spec: SupervisorSpec) -> (SupervisorRef, EventStream) {
    let root = Supervisor::start(spec).await.expect("root starts");
    let events = root.subscribe();
    (root, events)
}

/// Whether `python3` is here; prints why a test is skipped when not.
fn python(test: &str) -> bool {
    let found = std::process::Command::new("python3")
        .arg("-c")
        .arg("pass")
        .status()
        .is_ok_and(|status| status.success());
    if !found {
        println!("skipping {test}: python3 is not installed");
    }
    found
}

/// A fresh directory for one test's marker files.
fn scratch(test: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("hale-process-{test}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

// ----- /proc -----------------------------------------------------------

/// State, parent and process group of `pid`, from `/proc/<pid>/stat`.
fn stat(pid: u32) -> Option<(char, u32, u32)> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name is in parentheses and may hold spaces: read after it.
    let rest = &text[text.rfind(')')? + 2..];
    let mut fields = rest.split(' ');
    let state = fields.next()?.chars().next()?;
    let ppid = fields.next()?.parse().ok()?;
    let pgrp = fields.next()?.parse().ok()?;
    Some((state, ppid, pgrp))
}

fn alive(pid: u32) -> bool {
    stat(pid).is_some_and(|(state, _, _)| state != 'Z' && state != 'X')
}

/// Processes of the group `pgid` that are not zombies.
fn live_members(pgid: u32) -> Vec<u32> {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .filter_map(|entry| entry.ok()?.file_name().to_str()?.parse::<u32>().ok())
        .filter(|&pid| stat(pid).is_some_and(|(state, _, pgrp)| pgrp == pgid && state != 'Z' && state != 'X'))
        .collect()
}

/// Whether `pid` is a zombie that this test process failed to reap.
fn our_zombie(pid: u32) -> bool {
    stat(pid).is_some_and(|(state, ppid, _)| state == 'Z' && ppid == std::process::id())
}

/// The pids a run's output announced ("started N", "grandchild N").
fn announced(view: &ProcessView) -> Vec<u32> {
    let mut pids: Vec<u32> = view
        .output()
        .iter()
        .filter_map(|line| {
            let (word, pid) = line.text.split_once(' ')?;
            matches!(word, "started" | "grandchild").then(|| pid.trim().parse().ok())?
        })
        .collect();
    pids.sort_unstable();
    pids.dedup();
    pids
}

/// Waits (bounded) until every process in `pids` is gone or a zombie of
/// someone else (init's to reap), nothing lives in their process groups,
/// and none is an unreaped child of this test process.
async fn assert_all_reaped(pids: &[u32]) {
    assert!(!pids.is_empty(), "the test saw no pid to check");
    let settled = || {
        pids.iter()
            .all(|&pid| !alive(pid) && !our_zombie(pid) && live_members(pid).is_empty())
    };
    let deadline = tokio::time::Instant::now() + WAIT;
    while !settled() {
        if tokio::time::Instant::now() > deadline {
            let report: Vec<_> = pids
                .iter()
                .map(|&pid| (pid, stat(pid), live_members(pid)))
                .collect();
            panic!("processes left behind (pid, stat, live group members): {report:?}");
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Waits (bounded) until the view shows a run with a pid.
async fn running_pid(view: &ProcessView) -> u32 {
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        if let Some(pid) = view.pid() {
            return pid;
        }
        assert!(tokio::time::Instant::now() < deadline, "no run started");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// Waits (bounded) until the view's output holds a line satisfying `wanted`.
async fn output_line(view: &ProcessView, wanted: impl Fn(&str) -> bool) -> String {
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        if let Some(line) = view.output().into_iter().find(|line| wanted(&line.text)) {
            return line.text;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "no such output line; saw {:?}",
            view.output()
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

async fn exited(events: &mut EventStream, path: &str) -> (ExitReason, bool) {
    match expect_at(events, path, |kind| {
        matches!(kind, HealingEventKind::ChildExited { .. })
    })
    .await
    {
        HealingEventKind::ChildExited { reason, will_restart } => (reason, will_restart),
        _ => unreachable!("matched above"),
    }
}

async fn restarted(events: &mut EventStream, path: &str) {
    expect_at(events, path, |kind| {
        matches!(kind, HealingEventKind::ChildRestarted { .. })
    })
    .await;
}

// ----- exits -----------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_nonzero_exit_code_is_a_failure_with_the_code_and_restarts() {
    let (root, mut events) = empty_root(SupervisorSpec::new("root").intensity(10)).await;
    let command = script("exit_with.sh", ["3"]);
    let view = command.view();
    root.start_child(process("job", command).restart(Restart::Transient))
        .await
        .unwrap();
    assert_eq!(
        exited(&mut events, "root/job").await,
        (ExitReason::ExitCode(3), true)
    );
    restarted(&mut events, "root/job").await;
    assert_eq!(view.last_exit(), Some(ProcessExit::Code(3)));
    root.stop(WAIT).await;
    assert_all_reaped(&announced(&view)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exit_code_zero_is_normal_and_ends_a_transient_child() {
    let (root, mut events) = empty_root(SupervisorSpec::new("root")).await;
    let command = script("exit_with.sh", ["0"]);
    let view = command.view();
    root.start_child(process("job", command).restart(Restart::Transient))
        .await
        .unwrap();
    assert_eq!(exited(&mut events, "root/job").await, (ExitReason::Normal, false));
    root.stop(WAIT).await;
    assert_eq!(view.started(), 1);
    assert_all_reaped(&announced(&view)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn death_by_a_signal_is_a_kill_named_after_the_signal() {
    let (root, mut events) = empty_root(SupervisorSpec::new("root")).await;
    let command = script("kill_self.sh", ["USR1"]);
    let view = command.view();
    root.start_child(process("job", command).restart(Restart::Transient))
        .await
        .unwrap();
    let (reason, will_restart) = exited(&mut events, "root/job").await;
    assert_eq!(reason, ExitReason::Signal("SIGUSR1".into()));
    assert!(will_restart, "a kill is abnormal");
    root.stop(WAIT).await;
    assert_all_reaped(&announced(&view)).await;
}

// ----- shutdown ----------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stopping_a_program_sends_sigterm_and_it_exits_in_time() {
    let (root, mut events) = empty_root(SupervisorSpec::new("root")).await;
    let command = script("forks_grandchild.sh", ["stay"]);
    let view = command.view();
    root.start_child(process("worker", command)).await.unwrap();
    output_line(&view, |text| text.starts_with("started")).await;
    root.terminate_child("worker").await.unwrap();
    let stopped = expect_at(&mut events, "root/worker", |kind| {
        matches!(kind, HealingEventKind::ChildStopped { .. })
    })
    .await;
    assert_eq!(
        stopped,
        HealingEventKind::ChildStopped {
            cause: StopCause::Terminated,
            outcome: StopOutcome::Exited
        }
    );
    let pids = announced(&view);
    assert_eq!(pids.len(), 2, "the program and its grandchild: {pids:?}");
    assert_all_reaped(&pids).await;
    root.stop(WAIT).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_program_that_ignores_sigterm_is_killed_after_the_shutdown_timeout() {
    let (root, mut events) = empty_root(SupervisorSpec::new("root")).await;
    let command = script("ignores_term.sh", []);
    let view = command.view();
    let spec = process("stubborn", command).shutdown(Shutdown::Timeout(Duration::from_millis(300)));
    root.start_child(spec).await.unwrap();
    let pid = running_pid(&view).await;
    output_line(&view, |text| text.starts_with("started")).await;
    root.terminate_child("stubborn").await.unwrap();
    let stopped = expect_at(&mut events, "root/stubborn", |kind| {
        matches!(kind, HealingEventKind::ChildStopped { .. })
    })
    .await;
    assert_eq!(
        stopped,
        HealingEventKind::ChildStopped {
            cause: StopCause::Terminated,
            outcome: StopOutcome::Killed
        }
    );
    assert_all_reaped(&[pid]).await;
    root.stop(WAIT).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_grandchild_left_behind_by_an_exiting_program_is_killed() {
    let (root, mut events) = empty_root(SupervisorSpec::new("root")).await;
    let command = script("forks_grandchild.sh", ["exit"]);
    let view = command.view();
    root.start_child(process("parent", command).restart(Restart::Transient))
        .await
        .unwrap();
    assert_eq!(
        exited(&mut events, "root/parent").await,
        (ExitReason::Normal, false)
    );
    let pids = announced(&view);
    assert_eq!(pids.len(), 2, "the program and its grandchild: {pids:?}");
    assert_all_reaped(&pids).await;
    root.stop(WAIT).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killing_the_actor_kills_the_whole_group_at_once() {
    let (root, mut events) = empty_root(SupervisorSpec::new("root").intensity(5)).await;
    let command = script("forks_grandchild.sh", ["stay"]);
    let view = command.view();
    root.start_child(process("worker", command)).await.unwrap();
    output_line(&view, |text| text.starts_with("started")).await;
    let first_run = announced(&view);
    let actor = root.which_children().await.unwrap()[0]
        .actor
        .clone()
        .expect("runs");
    actor.kill();
    assert_eq!(
        exited(&mut events, "root/worker").await,
        (ExitReason::Killed, true)
    );
    assert_all_reaped(&first_run).await;
    restarted(&mut events, "root/worker").await;
    root.stop(WAIT).await;
    assert_all_reaped(&announced(&view)).await;
}

// ----- hangs -------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_program_that_goes_silent_is_hung_killed_and_restarted() {
    let (root, mut events) = empty_root(SupervisorSpec::new("root").intensity(10)).await;
    let command = script("ticks_then_hangs.sh", ["3"]).watch(
        Watch::heartbeat(Duration::from_millis(500)).grace(Duration::from_millis(500)),
        Liveness::Output,
    );
    let view = command.view();
    root.start_child(process("crawler", command)).await.unwrap();
    expect_at(&mut events, "root/crawler", |kind| {
        matches!(kind, HealingEventKind::HeartbeatMissed { .. })
    })
    .await;
    assert_eq!(
        exited(&mut events, "root/crawler").await,
        (ExitReason::Hung, true)
    );
    restarted(&mut events, "root/crawler").await;
    root.stop(WAIT).await;
    assert_all_reaped(&announced(&view)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hung_program_that_ignores_sigterm_is_killed_after_the_grace() {
    let (root, mut events) = empty_root(SupervisorSpec::new("root").intensity(10)).await;
    let command = script("ticks_then_hangs.sh", ["2", "stubborn"]).watch(
        Watch::heartbeat(Duration::from_millis(400)).grace(Duration::from_millis(300)),
        Liveness::Output,
    );
    let view = command.view();
    root.start_child(process("stuck", command)).await.unwrap();
    expect_at(&mut events, "root/stuck", |kind| {
        matches!(kind, HealingEventKind::HungKilled)
    })
    .await;
    assert_eq!(exited(&mut events, "root/stuck").await, (ExitReason::Hung, true));
    restarted(&mut events, "root/stuck").await;
    root.stop(WAIT).await;
    assert_all_reaped(&announced(&view)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_probe_command_keeps_a_silent_program_alive_until_it_fails() {
    let dir = scratch("probe");
    let marker = dir.join("alive");
    std::fs::write(&marker, "").unwrap();
    let probe = ProbeCommand::new(
        ProcessCommand::new("test").arg("-e").arg(&marker),
        Duration::from_millis(100),
    );
    let (root, mut events) = empty_root(SupervisorSpec::new("root").intensity(10)).await;
    let command = script("ignores_term.sh", []).watch(
        Watch::heartbeat(Duration::from_secs(2)).grace(Duration::from_millis(200)),
        Liveness::Probe(probe),
    );
    let view = command.view();
    root.start_child(process("server", command)).await.unwrap();
    let first = running_pid(&view).await;
    // Alive by its probe: a health snapshot shows it running, not hung.
    let health = root.health().await.unwrap();
    assert_eq!(
        health.find("root/server").unwrap().state,
        hale_core::ChildState::Running
    );
    std::fs::remove_file(&marker).unwrap();
    expect_at(&mut events, "root/server", |kind| {
        matches!(kind, HealingEventKind::HeartbeatMissed { .. })
    })
    .await;
    assert_eq!(exited(&mut events, "root/server").await, (ExitReason::Hung, true));
    restarted(&mut events, "root/server").await;
    assert_ne!(running_pid(&view).await, first);
    root.stop(WAIT).await;
    assert_all_reaped(&announced(&view)).await;
}

// ----- start failures ----------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_missing_program_is_a_typed_start_error_naming_the_child() {
    let started = Supervisor::start(
        SupervisorSpec::new("root").child(process("ghost", ProcessCommand::new(program("no_such_program")))),
    )
    .await;
    let (supervisor, child, cause) = failed_child(started);
    assert_eq!((supervisor.as_str(), child.as_str()), ("root", "ghost"));
    assert!(cause.contains("process child `root/ghost`"), "{cause}");
    assert!(cause.contains("not found"), "{cause}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_program_that_is_not_executable_is_a_typed_start_error() {
    for limits in [
        ResourceLimits::new(),
        ResourceLimits::new().cpu_time(Duration::from_secs(60)),
    ] {
        let command = ProcessCommand::new(program("not_executable.sh")).limits(limits);
        let started = Supervisor::start(SupervisorSpec::new("root").child(process("plain", command))).await;
        let (_, child, cause) = failed_child(started);
        assert_eq!(child, "plain");
        assert!(cause.contains("is not executable"), "{cause}");
    }
    // Through the limits shell a missing program is still named as such.
    let command = ProcessCommand::new("no-such-program-anywhere")
        .limits(ResourceLimits::new().cpu_time(Duration::from_secs(60)));
    let started = Supervisor::start(SupervisorSpec::new("root").child(process("ghost", command))).await;
    assert!(failed_child(started).2.contains("not found"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_missing_working_directory_is_a_typed_start_error() {
    let command = ProcessCommand::new("/bin/true").current_dir("/no/such/dir");
    let started = Supervisor::start(SupervisorSpec::new("root").child(process("lost", command))).await;
    assert!(
        failed_child(started)
            .2
            .contains("working directory `/no/such/dir` does not exist")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_program_that_exits_before_it_is_ready_fails_to_start_with_its_output() {
    let command = script("exit_with.sh", ["4"]).ready_timeout(Duration::from_secs(20));
    let view = command.view();
    let started = Supervisor::start(SupervisorSpec::new("root").child(process("agent", command))).await;
    let (_, child, cause) = failed_child(started);
    assert_eq!(child, "agent");
    assert!(cause.contains("exit code 4 before it was ready"), "{cause}");
    assert!(
        cause.contains("started"),
        "the start error quotes the output: {cause}"
    );
    assert_all_reaped(&announced(&view)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_program_that_is_never_ready_is_killed_and_fails_to_start() {
    let command = script("ignores_term.sh", []).ready_timeout(Duration::from_millis(300));
    let view = command.view();
    let started = Supervisor::start(SupervisorSpec::new("root").child(process("mute", command))).await;
    let cause = failed_child(started).2;
    assert!(cause.contains("not ready within 300ms"), "{cause}");
    assert_all_reaped(&announced(&view)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_restart_is_retried_by_otp_rules() {
    // The program file is removed while its first run waits; when that run
    // crashes, every restart fails to start ("not found"), the supervisor
    // retries through its mailbox, and the intensity finally gives up.
    let dir = scratch("retry");
    let runnable = dir.join("job.sh");
    std::fs::copy(program("waits_for.sh"), &runnable).unwrap();
    let gate = dir.join("gate");
    let command = ProcessCommand::new(&runnable).arg(&gate).arg("1").keep_output(50);
    let view = command.view();
    let (root, mut events) = empty_root(SupervisorSpec::new("root").intensity(2)).await;
    // A program file written a moment ago can fail to exec with "text file
    // busy" (ETXTBSY) while another test's fork still holds the copy's
    // write descriptor between its fork and exec: start again then.
    let mut tries = 0;
    while let Err(error) = root.start_child(process("job", command.clone())).await {
        tries += 1;
        assert!(tries < 50 && error.to_string().contains("busy"), "{error}");
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    output_line(&view, |text| text.starts_with("started")).await;
    std::fs::remove_file(&runnable).unwrap();
    std::fs::write(&gate, "").unwrap();
    assert_eq!(exited(&mut events, "root/job").await.0, ExitReason::ExitCode(1));
    let failed = expect_at(&mut events, "root/job", |kind| {
        matches!(kind, HealingEventKind::RestartFailed { .. })
    })
    .await;
    let HealingEventKind::RestartFailed { cause } = failed else {
        unreachable!("matched above")
    };
    assert!(cause.contains("not found"), "{cause}");
    expect_at(&mut events, "root", |kind| {
        matches!(kind, HealingEventKind::IntensityExceeded { .. })
    })
    .await;
    assert_eq!(root.wait().await, ExitReason::Shutdown(None));
    assert_eq!(view.started(), 1);
    assert_all_reaped(&announced(&view)).await;
}

// ----- strategies and whole trees ------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_for_all_restarts_an_actor_beside_a_crashed_process() {
    let dir = scratch("one-for-all");
    let lab = Lab::new();
    let command = script("crash_once.sh", [dir.join("crashed").to_str().unwrap()]);
    let view = command.view();
    let (root, mut events) = empty_root(
        SupervisorSpec::new("root")
            .strategy(Strategy::OneForAll)
            .intensity(5),
    )
    .await;
    root.start_child(lab.worker("actor")).await.unwrap();
    root.start_child(process("python", command)).await.unwrap();
    assert_eq!(
        exited(&mut events, "root/python").await,
        (ExitReason::ExitCode(1), true)
    );
    let stopped = expect_at(&mut events, "root/actor", |kind| {
        matches!(kind, HealingEventKind::ChildStopped { .. })
    })
    .await;
    assert!(matches!(
        stopped,
        HealingEventKind::ChildStopped {
            cause: StopCause::GroupRestart,
            ..
        }
    ));
    restarted(&mut events, "root/actor").await;
    restarted(&mut events, "root/python").await;
    assert_eq!(
        lab.journal.wait_len(3).await,
        ["start actor", "stop actor", "start actor"]
    );
    running_pid(&view).await;
    output_line(&view, |text| text.starts_with("started")).await;
    assert_eq!(view.started(), 2);
    root.stop(WAIT).await;
    assert_all_reaped(&announced(&view)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stopped_tree_leaves_no_process_behind() {
    let plain = script("forks_grandchild.sh", ["stay"]);
    let stubborn = script("ignores_term.sh", []);
    let nested = script("forks_grandchild.sh", ["stay"]);
    let views = [plain.view(), stubborn.view(), nested.view()];
    let root = Supervisor::start(
        SupervisorSpec::new("root")
            .child(process("plain", plain))
            .child(process("stubborn", stubborn).shutdown(Shutdown::Timeout(Duration::from_millis(200))))
            .child(ChildSpec::supervisor(
                SupervisorSpec::new("team").child(process("nested", nested)),
            )),
    )
    .await
    .unwrap();
    for view in &views {
        output_line(view, |text| text.starts_with("started")).await;
    }
    assert_eq!(root.stop(WAIT).await, ExitReason::Normal);
    let pids: Vec<u32> = views.iter().flat_map(announced).collect();
    assert_eq!(pids.len(), 5, "three programs and two grandchildren: {pids:?}");
    assert_all_reaped(&pids).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_supervisor_that_gives_up_leaves_no_process_behind() {
    let dir = scratch("give-up");
    let survivor = script("forks_grandchild.sh", ["stay"]);
    let crasher = script("crash_once.sh", [dir.join("crashed").to_str().unwrap()]);
    let views = [survivor.view(), crasher.view()];
    let (root, mut events) = empty_root(SupervisorSpec::new("root").intensity(0)).await;
    root.start_child(process("survivor", survivor)).await.unwrap();
    output_line(&views[0], |text| text.starts_with("started")).await;
    root.start_child(process("crasher", crasher)).await.unwrap();
    expect_at(&mut events, "root", |kind| {
        matches!(kind, HealingEventKind::IntensityExceeded { .. })
    })
    .await;
    assert_eq!(root.wait().await, ExitReason::Shutdown(None));
    let pids: Vec<u32> = views.iter().flat_map(announced).collect();
    assert_eq!(pids.len(), 3, "{pids:?}");
    assert_all_reaped(&pids).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dynamic_supervisor_stops_its_process_children_in_parallel_and_reaps_them() {
    use hale_core::{DynamicSupervisor, DynamicSupervisorSpec};
    let dynamic = DynamicSupervisor::start(DynamicSupervisorSpec::new("pool"))
        .await
        .unwrap();
    let mut views = Vec::new();
    for stubborn in [false, true, false] {
        let command = if stubborn {
            script("ignores_term.sh", [])
        } else {
            script("forks_grandchild.sh", ["stay"])
        };
        views.push(command.view());
        let spec = process("worker", command).shutdown(Shutdown::Timeout(Duration::from_millis(300)));
        dynamic.start_child(spec).await.unwrap();
    }
    for view in &views {
        output_line(view, |text| text.starts_with("started")).await;
    }
    dynamic.stop(WAIT).await;
    let pids: Vec<u32> = views.iter().flat_map(announced).collect();
    assert_eq!(pids.len(), 5, "three programs and two grandchildren: {pids:?}");
    assert_all_reaped(&pids).await;
}

// ----- output and limits ---------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn output_lines_are_kept_per_stream_and_cut_at_the_bound() {
    let (root, _events) = empty_root(SupervisorSpec::new("root")).await;
    let command = script("chatty.sh", []);
    let view = command.view();
    root.start_child(process("chatty", command)).await.unwrap();
    output_line(&view, |text| text.starts_with("xxx")).await;
    let output = view.output();
    let stderr = output
        .iter()
        .find(|line| line.text == "to stderr")
        .expect("stderr line");
    assert_eq!(stderr.stream, OutputStream::Stderr);
    let stdout = output
        .iter()
        .find(|line| line.text == "to stdout")
        .expect("stdout line");
    assert_eq!(stdout.stream, OutputStream::Stdout);
    let long = output.iter().find(|line| line.text.starts_with("xxx")).unwrap();
    assert!(long.truncated);
    assert_eq!(long.text.len(), hale_core::process::MAX_LINE_BYTES);
    root.stop(WAIT).await;
    assert_all_reaped(&announced(&view)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_program_over_its_cpu_time_limit_is_ended_by_sigxcpu() {
    let (root, mut events) = empty_root(SupervisorSpec::new("root")).await;
    let command = script("burn_cpu.sh", []).limits(ResourceLimits::new().cpu_time(Duration::from_secs(1)));
    let view = command.view();
    root.start_child(process("burner", command).restart(Restart::Transient))
        .await
        .unwrap();
    let (reason, _) = exited(&mut events, "root/burner").await;
    assert_eq!(reason, ExitReason::Signal("SIGXCPU".into()));
    assert!(view.last_exit().unwrap().is_cpu_limit());
    root.stop(WAIT).await;
    assert_all_reaped(&announced(&view)).await;
}

// ----- the notify protocol (python3) -----------------------------------------

fn agent<const N: usize>(args: [&str; N]) -> ProcessCommand {
    ProcessCommand::new("python3")
        .arg("-u")
        .arg(program("notify_agent.py"))
        .args(args)
        .keep_output(200)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_python_agent_is_ready_by_notify_and_its_status_shows() {
    if !python("a_python_agent_is_ready_by_notify_and_its_status_shows") {
        return;
    }
    let command = agent(["ready"])
        .ready_timeout(Duration::from_secs(20))
        .watch(Watch::heartbeat(Duration::from_secs(2)), Liveness::Notify);
    let view = command.view();
    let root = Supervisor::start(SupervisorSpec::new("root").child(process("agent", command)))
        .await
        .unwrap();
    // The start returned after READY=1, which came with STATUS=serving.
    let health = root.health().await.unwrap();
    let node = health.find("root/agent").unwrap();
    assert!(node.ready);
    assert_eq!(node.state, hale_core::ChildState::Running);
    let deadline = tokio::time::Instant::now() + WAIT;
    while view.status().as_deref() != Some("serving") {
        assert!(
            tokio::time::Instant::now() < deadline,
            "status: {:?}",
            view.status()
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(
        output_line(&view, |text| text.starts_with("WATCHDOG_USEC")).await,
        "WATCHDOG_USEC=2000000"
    );
    root.stop(WAIT).await;
    assert_all_reaped(&announced(&view)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_python_agent_that_stops_notifying_is_killed_and_restarted() {
    if !python("a_python_agent_that_stops_notifying_is_killed_and_restarted") {
        return;
    }
    let (root, mut events) = empty_root(SupervisorSpec::new("root").intensity(10)).await;
    let command = agent(["stubborn", "3"])
        .ready_timeout(Duration::from_secs(20))
        .watch(
            Watch::heartbeat(Duration::from_millis(600)).grace(Duration::from_millis(300)),
            Liveness::Notify,
        );
    let view = command.view();
    root.start_child(process("agent", command)).await.unwrap();
    expect_at(&mut events, "root/agent", |kind| {
        matches!(kind, HealingEventKind::HeartbeatMissed { .. })
    })
    .await;
    // It ignores SIGTERM, so the grace runs out and SIGKILL ends it.
    expect_at(&mut events, "root/agent", |kind| {
        matches!(kind, HealingEventKind::HungKilled)
    })
    .await;
    assert_eq!(exited(&mut events, "root/agent").await, (ExitReason::Hung, true));
    restarted(&mut events, "root/agent").await;
    root.stop(WAIT).await;
    assert_all_reaped(&announced(&view)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_python_agent_that_dies_before_ready_fails_to_start() {
    if !python("a_python_agent_that_dies_before_ready_fails_to_start") {
        return;
    }
    let command = agent(["no_ready"]).ready_timeout(Duration::from_secs(20));
    let view = command.view();
    let started = Supervisor::start(SupervisorSpec::new("root").child(process("agent", command))).await;
    let cause = failed_child(started).2;
    assert!(cause.contains("exit code 4 before it was ready"), "{cause}");
    assert!(cause.contains("failing before ready"), "{cause}");
    assert_all_reaped(&announced(&view)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_python_agent_over_its_memory_limit_fails_with_memory_error() {
    if !python("a_python_agent_over_its_memory_limit_fails_with_memory_error") {
        return;
    }
    let (root, mut events) = empty_root(SupervisorSpec::new("root")).await;
    let command = ProcessCommand::new("python3")
        .args([
            "-c",
            "import os; print('started', os.getpid(), flush=True); b = bytearray(1 << 30)",
        ])
        .keep_output(50)
        .limits(ResourceLimits::new().address_space(256 * 1024 * 1024));
    let view = command.view();
    root.start_child(process("hog", command).restart(Restart::Transient))
        .await
        .unwrap();
    let (reason, _) = exited(&mut events, "root/hog").await;
    assert_eq!(reason, ExitReason::ExitCode(1));
    output_line(&view, |text| text.contains("MemoryError")).await;
    root.stop(WAIT).await;
    assert_all_reaped(&announced(&view)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_health_snapshot_shows_a_process_pid_and_kept_output() {
    let dir = scratch("health");
    let gate = dir.join("gate");
    let command = script("waits_for.sh", [gate.to_str().unwrap(), "0"]);
    let view = command.view();
    let (root, mut events) = empty_root(SupervisorSpec::new("root")).await;
    root.start_child(process("worker", command).restart(Restart::Transient))
        .await
        .unwrap();
    output_line(&view, |text| text.starts_with("started")).await;
    let pid = running_pid(&view).await;

    let health = root.health().await.unwrap();
    let node = health
        .find("root/worker")
        .expect("the process child is in the snapshot");
    let shown = node.process.as_ref().expect("a process child shows its process");
    assert_eq!(shown.pid, Some(pid));
    assert_eq!(shown.started, 1);
    assert!(
        shown.output.iter().any(|line| line.text.starts_with("started")),
        "{shown:?}"
    );
    // Serialized for /tree: the output travels with the node.
    let json = serde_json::to_value(node).unwrap();
    assert_eq!(json["process"]["pid"], pid);

    std::fs::write(&gate, "").unwrap();
    assert_eq!(exited(&mut events, "root/worker").await.0, ExitReason::Normal);
    let after = root.health().await.unwrap();
    let shown = after
        .find("root/worker")
        .and_then(|node| node.process.clone())
        .unwrap();
    assert_eq!(shown.pid, None, "no program runs after it exited");
    assert_all_reaped(&[pid]).await;
    root.stop(WAIT).await;
}
