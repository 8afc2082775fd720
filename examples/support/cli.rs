//! The command line every chaos example shares:
//!
//! ```text
//! <example> [--seed N] [--items N] [--plan FILE] [--json FILE] [--help]
//! ```
//!
//! Each example includes this file with `#[path = "support/cli.rs"] mod cli;` (cargo
//! builds no example from a folder without a `main.rs`). It is not part of any crate's
//! API: it reads the options, opens the JSON report file before the run so a bad path
//! fails at once, shows progress on long runs, and turns the run's result into one line
//! on stderr and an exit code.

#![allow(dead_code, reason = "each example uses the part of this module it needs")]

use std::fmt;
use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{Duration, Instant};

/// The most work items a run may be given: a million items take a few minutes and a
/// few hundred MB at most, and a larger number is far more likely a typo than a plan.
pub const MAX_ITEMS: u64 = 1_000_000;

/// An option only some examples take (`--store FILE`), with its help line.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ExtraOption {
    /// The option, with its dashes: `--store`.
    pub name: &'static str,
    /// What its value is: `FILE`.
    pub value: &'static str,
    /// One line of help.
    pub help: &'static str,
}

/// `--trace FILE`: write each work item's spans as JSON lines (see
/// `support/tracing.rs`, whose `install` takes the value).
pub const TRACE: ExtraOption = ExtraOption {
    name: "--trace",
    value: "FILE",
    help: "write each work item's spans to FILE, one JSON line per span (its trace, item, agent, outcome)",
};

/// The options of a chaos example.
#[derive(Debug)]
pub struct RunArgs {
    /// The seed (default 42).
    pub seed: u64,
    /// How many work items (default: the example's own; at most [`MAX_ITEMS`]).
    pub items: u64,
    /// A fault plan file replacing the example's own plan.
    pub plan: Option<PathBuf>,
    /// Where the report goes as JSON, opened before the run.
    pub json: Option<JsonReport>,
    /// The example's own options that were given, with their values.
    pub extra: Vec<(&'static str, String)>,
}

impl RunArgs {
    /// The value given to the example's own option `name`, if any.
    pub fn extra(&self, name: &str) -> Option<&str> {
        self.extra
            .iter()
            .find(|(given, _)| *given == name)
            .map(|(_, value)| value.as_str())
    }
}

/// What a command line asks for.
#[derive(Debug, PartialEq, Eq)]
pub enum Request {
    /// A run with these options; `json` is the path, not opened yet.
    Run {
        seed: u64,
        items: u64,
        plan: Option<PathBuf>,
        json: Option<PathBuf>,
        extra: Vec<(&'static str, String)>,
    },
    /// `--help`: print the usage and stop.
    Help,
}

/// A command line that cannot be used. Each message is one sentence followed by the
/// list of options.
#[derive(Debug, thiserror::Error)]
pub enum ArgsError {
    /// An option this program does not know.
    #[error("unknown option `{0}`; {1}")]
    Unknown(String, Options),
    /// An option without its value.
    #[error("option `{0}` needs a value; {1}")]
    MissingValue(String, Options),
    /// A number that is not one.
    #[error("option `{option}` takes a whole number, not `{value}`; {options}")]
    NotANumber {
        /// The option.
        option: String,
        /// What was given.
        value: String,
        /// The options there are.
        options: Options,
    },
    /// More items than [`MAX_ITEMS`].
    #[error("option `--items`: {0} is more than the limit of {MAX_ITEMS} items; {1}")]
    TooManyItems(u64, Options),
    /// The JSON report file cannot be created or opened for writing.
    #[error("cannot write the JSON report to {path}: {source}")]
    Json {
        /// The file.
        path: String,
        /// Why.
        source: std::io::Error,
    },
}

/// The options an example takes, in the words every argument error ends with.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Options(Vec<ExtraOption>);

impl fmt::Display for Options {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("the options are --seed N, --items N (at most 1000000), --plan FILE (.toml or .json), --json FILE")?;
        for extra in &self.0 {
            write!(f, ", {} {}", extra.name, extra.value)?;
        }
        f.write_str(" and --help")
    }
}

impl RunArgs {
    /// Reads the process's arguments; `default_items` when `--items` is not given. On
    /// `--help` prints the usage and ends the process with status 0.
    pub fn from_env(default_items: u64) -> Result<Self, ArgsError> {
        Self::from_env_with(default_items, &[])
    }

    /// As [`from_env`](Self::from_env), for an example that also takes `extras`.
    pub fn from_env_with(default_items: u64, extras: &[ExtraOption]) -> Result<Self, ArgsError> {
        let program = std::env::args()
            .next()
            .as_deref()
            .map(Path::new)
            .and_then(Path::file_stem)
            .map_or_else(
                || "example".to_owned(),
                |stem| stem.to_string_lossy().into_owned(),
            );
        match parse(std::env::args().skip(1), default_items, extras)? {
            Request::Help => {
                println!("{}", usage(&program, default_items, extras));
                std::process::exit(0);
            }
            Request::Run {
                seed,
                items,
                plan,
                json,
                extra,
            } => Ok(Self {
                seed,
                items,
                plan,
                json: json.as_deref().map(JsonReport::open).transpose()?,
                extra,
            }),
        }
    }
}

/// Reads `args` (without the program name), for an example that also takes
/// `extras`.
pub fn parse(
    args: impl IntoIterator<Item = String>,
    default_items: u64,
    extras: &[ExtraOption],
) -> Result<Request, ArgsError> {
    let options = Options(extras.to_vec());
    let (mut seed, mut items, mut plan, mut json, mut extra) = (42, default_items, None, None, Vec::new());
    let mut args = args.into_iter();
    while let Some(option) = args.next() {
        let mut value = || {
            args.next()
                .ok_or_else(|| ArgsError::MissingValue(option.clone(), options.clone()))
        };
        match option.as_str() {
            "--seed" => seed = number(&option, value()?, &options)?,
            "--items" => items = number(&option, value()?, &options)?,
            "--plan" => plan = Some(PathBuf::from(value()?)),
            "--json" => json = Some(PathBuf::from(value()?)),
            "--help" | "-h" => return Ok(Request::Help),
            other => match extras.iter().find(|known| known.name == other) {
                Some(known) => extra.push((known.name, value()?)),
                None => return Err(ArgsError::Unknown(option, options)),
            },
        }
    }
    if items > MAX_ITEMS {
        return Err(ArgsError::TooManyItems(items, options));
    }
    Ok(Request::Run {
        seed,
        items,
        plan,
        json,
        extra,
    })
}

/// The usage text of `program`, whose default number of items is `default_items`
/// and which also takes `extras`.
pub fn usage(program: &str, default_items: u64, extras: &[ExtraOption]) -> String {
    let mut synopsis = format!("usage: {program} [--seed N] [--items N] [--plan FILE] [--json FILE]");
    let mut lines = format!(
        "  --seed N      seed of every random choice (default 42)\n  \
         --items N     work items to run (default {default_items}, at most {MAX_ITEMS})\n  \
         --plan FILE   fault plan replacing the built-in one (.toml or .json)\n  \
         --json FILE   also write the report as JSON (checked before the run)\n"
    );
    for extra in extras {
        synopsis.push_str(&format!(" [{} {}]", extra.name, extra.value));
        let flag = format!("{} {}", extra.name, extra.value);
        lines.push_str(&format!("  {flag:<13} {}\n", extra.help));
    }
    format!("{synopsis}\n\n{lines}  --help        print this and exit")
}

fn number(option: &str, value: String, options: &Options) -> Result<u64, ArgsError> {
    value.parse().map_err(|_| ArgsError::NotANumber {
        option: option.to_owned(),
        value,
        options: options.clone(),
    })
}

/// The file the report is written to, opened before the run.
pub struct JsonReport {
    path: PathBuf,
    file: File,
}

/// The JSON report could not be written at the end of the run.
#[derive(Debug, thiserror::Error)]
#[error("cannot write the JSON report to {path}: {source}")]
pub struct JsonWriteError {
    path: String,
    source: std::io::Error,
}

impl JsonReport {
    /// Creates `path` (or opens it, keeping its content until the report replaces it).
    pub fn open(path: &Path) -> Result<Self, ArgsError> {
        let file = OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(false)
            .open(path)
            .map_err(|source| ArgsError::Json {
                path: path.display().to_string(),
                source,
            })?;
        Ok(Self {
            path: path.to_owned(),
            file,
        })
    }

    /// Replaces the file's content with `json`.
    pub fn write(mut self, json: &str) -> Result<(), JsonWriteError> {
        let written = self
            .file
            .set_len(0)
            .and_then(|()| self.file.write_all(json.as_bytes()))
            .and_then(|()| self.file.flush());
        written.map_err(|source| JsonWriteError {
            path: self.path.display().to_string(),
            source,
        })
    }
}

impl fmt::Debug for JsonReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("JsonReport").field("path", &self.path).finish()
    }
}

/// Progress of a long run, on stderr: nothing for the first [`Progress::QUIET`] of wall
/// time, then a line at each further tenth of the items. Stdout (the report) and the
/// event log are untouched, so a run's hash does not depend on it.
#[derive(Debug)]
pub struct Progress {
    total: u64,
    started: Instant,
    /// Tenths of `total` already shown.
    shown: u64,
}

impl Progress {
    /// How long a run stays quiet: short runs print no progress at all.
    pub const QUIET: Duration = Duration::from_secs(2);

    /// Progress of a run of `total` items, starting now.
    pub fn new(total: u64) -> Self {
        Self {
            total,
            started: Instant::now(),
            shown: 0,
        }
    }

    /// `done` items are through: prints a line if one is due.
    pub fn advance(&mut self, done: u64) {
        if let Some(line) = self.line(done, self.started.elapsed()) {
            eprintln!("{line}");
        }
    }

    /// The line due after `done` items at `elapsed` wall time, if any.
    pub fn line(&mut self, done: u64, elapsed: Duration) -> Option<String> {
        if self.total == 0 || elapsed < Self::QUIET {
            return None;
        }
        let tenths = done.min(self.total).saturating_mul(10) / self.total;
        if tenths <= self.shown {
            return None;
        }
        self.shown = tenths;
        Some(format!(
            "progress: {}% ({done} of {} items, {} s)",
            tenths * 10,
            self.total,
            elapsed.as_secs()
        ))
    }
}

/// The exit status for a run's result: 0, or 1 after one line on stderr.
pub fn exit_code(result: Result<(), Box<dyn std::error::Error>>) -> ExitCode {
    match failure_line(&result) {
        None => ExitCode::SUCCESS,
        Some(line) => {
            eprintln!("{line}");
            ExitCode::FAILURE
        }
    }
}

/// The line a failed run prints, as a sentence (never the error's `Debug` form).
pub fn failure_line(result: &Result<(), Box<dyn std::error::Error>>) -> Option<String> {
    result.as_ref().err().map(|error| format!("error: {error}"))
}
