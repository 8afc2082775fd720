//! The memory_sync_storm example under a kill plan faster than any
//! intensity allows: the tree gives up, and the run still ends with its
//! report, the syncs in flight escalated rather than lost.

#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "support/example.rs"]
mod support;

use std::process::Command;

#[test]
fn a_kill_storm_that_makes_the_tree_give_up_still_ends_with_a_report() {
    let dir = tempfile::tempdir().unwrap();
    let plan = dir.path().join("kill-storm.toml");
    std::fs::write(&plan, "seed = 7\n\n[kills]\nevery_ms = 50\nmax_count = 500\n").unwrap();
    let output = Command::new(support::example("memory_sync_storm"))
        .arg("--plan")
        .arg(&plan)
        .output()
        .unwrap();
    let report = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{report}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let line = |start: &str| {
        report
            .lines()
            .find(|line| line.trim_start().starts_with(start))
            .unwrap_or_else(|| panic!("no `{start}` line in:\n{report}"))
            .to_owned()
    };
    assert!(line("lost").contains(" 0 "), "{report}");
    line("the tree gave up at work item"); // said, not silent
    assert!(
        !line("syncs escalated when the tree gave up").ends_with(" 0"),
        "{report}"
    );
}
