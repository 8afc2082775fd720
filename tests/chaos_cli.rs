//! The chaos examples' shared command line (`examples/support/cli.rs`): readable errors
//! with the list of options, a cap on `--items`, the JSON path checked before the run,
//! progress on long runs only, and one line on stderr with a nonzero status on error.

#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "../examples/support/cli.rs"]
#[allow(dead_code)] // the examples use all of it; this test reaches some parts only
mod cli;

use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

use cli::{ArgsError, JsonReport, MAX_ITEMS, Progress, Request, parse};

fn args(line: &str) -> Result<Request, ArgsError> {
    parse(line.split_whitespace().map(str::to_owned), 100)
}

#[test]
fn options_and_defaults_are_read() {
    assert_eq!(
        args("").unwrap(),
        Request::Run {
            seed: 42,
            items: 100,
            plan: None,
            json: None
        }
    );
    assert_eq!(
        args("--seed 7 --items 5 --json out.json --plan p.toml").unwrap(),
        Request::Run {
            seed: 7,
            items: 5,
            plan: Some(PathBuf::from("p.toml")),
            json: Some(PathBuf::from("out.json"))
        }
    );
    assert_eq!(args("--seed 7 --help").unwrap(), Request::Help);
}

#[test]
fn errors_are_sentences_that_list_the_options() {
    let cases = [
        ("--items -1", "option `--items` takes a whole number, not `-1`"),
        ("--seed", "option `--seed` needs a value"),
        ("--fast", "unknown option `--fast`"),
    ];
    for (line, sentence) in cases {
        let message = args(line).unwrap_err().to_string();
        assert!(message.starts_with(sentence), "{message}");
        assert!(
            message.contains("the options are --seed N, --items N"),
            "{message}"
        );
        assert!(!message.contains('{'), "no Debug form: {message}");
    }
}

#[test]
fn items_above_the_cap_are_refused() {
    assert!(matches!(
        args(&format!("--items {MAX_ITEMS}")),
        Ok(Request::Run { items: MAX_ITEMS, .. })
    ));
    let refused = args("--items 99999999999").unwrap_err();
    assert!(matches!(refused, ArgsError::TooManyItems(99_999_999_999)));
    assert!(
        refused
            .to_string()
            .contains("99999999999 is more than the limit of 1000000 items")
    );
}

#[test]
fn an_unwritable_json_path_fails_before_the_run_and_names_the_path() {
    let path = std::env::temp_dir()
        .join(format!("hale-no-such-dir-{}", std::process::id()))
        .join("report.json");
    let error = JsonReport::open(&path).unwrap_err();
    assert!(matches!(error, ArgsError::Json { .. }));
    assert!(error.to_string().contains(&path.display().to_string()), "{error}");
}

#[test]
fn the_json_report_replaces_what_the_file_held() {
    let path = std::env::temp_dir().join(format!("hale-cli-report-{}.json", std::process::id()));
    std::fs::write(&path, "an older, longer report than the new one").unwrap();
    let report = JsonReport::open(&path).unwrap();
    assert_eq!(
        std::fs::read_to_string(&path).unwrap(),
        "an older, longer report than the new one",
        "opening keeps the old content until the report is written"
    );
    report.write("{\"ok\": true}").unwrap();
    assert_eq!(std::fs::read_to_string(&path).unwrap(), "{\"ok\": true}");
    std::fs::remove_file(&path).unwrap();
}

#[test]
fn progress_shows_every_tenth_of_a_long_run_only() {
    let quiet = Progress::QUIET;
    let mut short = Progress::new(1_000);
    assert_eq!(short.line(500, quiet / 2), None, "a short run stays quiet");

    let mut long = Progress::new(1_000);
    assert_eq!(long.line(50, quiet), None, "not a tenth yet");
    assert_eq!(
        long.line(100, quiet).as_deref(),
        Some("progress: 10% (100 of 1000 items, 2 s)")
    );
    assert_eq!(long.line(150, quiet), None, "each tenth is shown once");
    assert_eq!(
        long.line(1_000, quiet + Duration::from_secs(3)).as_deref(),
        Some("progress: 100% (1000 of 1000 items, 5 s)")
    );
    assert_eq!(Progress::new(0).line(0, quiet), None);
}

#[test]
fn a_failed_run_is_one_line_and_a_nonzero_status() {
    assert_eq!(cli::failure_line(&Ok(())), None);
    let failed: Result<(), Box<dyn std::error::Error>> = Err("3 work items lost".into());
    assert_eq!(
        cli::failure_line(&failed).as_deref(),
        Some("error: 3 work items lost")
    );
}

/// The built `document_pipeline` example, if `cargo test` built the examples.
fn example(name: &str) -> Option<PathBuf> {
    let deps = std::env::current_exe().ok()?.parent()?.to_owned();
    let binary = deps.parent()?.join("examples").join(name);
    binary.exists().then_some(binary)
}

#[test]
fn an_example_with_bad_arguments_exits_nonzero_with_one_line() {
    let Some(binary) = example("document_pipeline") else {
        println!("skipped: the examples are not built (run `cargo test` without a target filter)");
        return;
    };
    let unwritable = std::env::temp_dir()
        .join(format!("hale-no-such-dir-{}", std::process::id()))
        .join("r.json");
    let cases: [&[&str]; 3] = [
        &["--items", "99999999999"],
        &["--items", "-1"],
        &["--json", unwritable.to_str().unwrap()],
    ];
    for case in cases {
        let output = Command::new(&binary).args(case).output().unwrap();
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(1), "{case:?}: {stderr}");
        assert_eq!(stderr.lines().count(), 1, "{case:?}: {stderr}");
        assert!(stderr.starts_with("error: "), "{case:?}: {stderr}");
        assert!(output.stdout.is_empty(), "nothing ran: {case:?}");
    }
    let help = Command::new(&binary).arg("--help").output().unwrap();
    assert!(help.status.success());
    assert!(String::from_utf8_lossy(&help.stdout).contains("--items N"));
}
