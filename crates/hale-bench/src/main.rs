//! `hale-bench`: Hale's benchmark program. It measures, in one run and side
//! by side, restart latency, dynamic children, the happy-path cost, the
//! watchdog's cost and process children's costs, against a hand-written ractor floor, kameo,
//! ractor-supervisor and (when `erl` is installed) Erlang/OTP, and prints one
//! table with ratios.
//!
//! ```text
//! cargo run --release -p hale-bench                  # the whole table
//! cargo run --release -p hale-bench -- --quick       # ÷10 rounds, for development
//! cargo run --release -p hale-bench -- --write-docs  # also write docs/benchmarks.md
//! cargo run --release -p hale-bench -- --only restart,dynamic
//! ```

mod child;
mod durable;
mod dynamic;
mod happy;
mod ops;
mod otp;
mod process;
mod report;
mod restart;
mod stats;
mod sys;
mod table;
mod watchdog;

use std::process::ExitCode;

use table::Row;

/// The error type of the benchmark: anything, with its message.
pub(crate) type BenchError = Box<dyn std::error::Error + Send + Sync>;
/// A result with [`BenchError`].
pub(crate) type BenchResult<T> = Result<T, BenchError>;

/// The measurement families.
const FAMILIES: [&str; 8] = [
    "otp", "restart", "dynamic", "happy", "watchdog", "process", "durable", "ops",
];

/// Command-line options.
#[derive(Debug)]
struct Options {
    quick: bool,
    write_docs: bool,
    only: Vec<String>,
}

impl Options {
    fn parse(args: &[String]) -> BenchResult<Self> {
        let mut options = Self {
            quick: false,
            write_docs: false,
            only: FAMILIES.iter().map(|&family| family.to_owned()).collect(),
        };
        let mut args = args.iter();
        while let Some(arg) = args.next() {
            match arg.as_str() {
                "--quick" => options.quick = true,
                "--write-docs" => options.write_docs = true,
                "--only" => {
                    let list = args.next().ok_or("--only needs a list")?;
                    options.only = list.split(',').map(str::to_owned).collect();
                    if let Some(unknown) = options.only.iter().find(|f| !FAMILIES.contains(&f.as_str())) {
                        return Err(format!("unknown family {unknown}; known: {}", FAMILIES.join(",")).into());
                    }
                }
                "-h" | "--help" => {
                    return Err(format!(
                        "usage: hale-bench [--quick] [--write-docs] [--only {}]",
                        FAMILIES.join(",")
                    )
                    .into());
                }
                other => return Err(format!("unknown argument {other}").into()),
            }
        }
        Ok(options)
    }

    fn runs(&self, family: &str) -> bool {
        self.only.iter().any(|f| f == family)
    }
}

fn runtime() -> BenchResult<tokio::runtime::Runtime> {
    Ok(tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?)
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match run(&args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("hale-bench: {error}");
            ExitCode::FAILURE
        }
    }
}

fn run(args: &[String]) -> BenchResult<()> {
    if let [command, system, count] = args
        && command == "mem"
    {
        // The fresh process of a dynamic-children measurement, driven from
        // a worker thread like every other measurement.
        let count: usize = count.parse()?;
        let system = system.clone();
        let report = runtime()?.block_on(async move {
            tokio::spawn(async move {
                dynamic::memory_child(&system, count)
                    .await
                    .map_err(|e| e.to_string())
            })
            .await
        })??;
        println!("{report}");
        return Ok(());
    }
    if let Some((command, rest)) = args.split_first()
        && command == "solo"
    {
        // One system, one case, alone: for profilers.
        let line = runtime()?.block_on(restart::rows::solo(rest))?;
        println!("{line}");
        return Ok(());
    }
    let options = Options::parse(args)?;
    let mut rows: Vec<Row> = Vec::new();
    let mut notes: Vec<String> = Vec::new();
    // OTP first, alone, so it never competes with Rust runs for the 2 cores.
    let otp = if options.runs("otp") {
        eprintln!("== Erlang/OTP anchor");
        match otp::run(options.quick) {
            Ok(figures) => {
                eprintln!(
                    "  OTP {}: {} restart cases",
                    figures.release,
                    figures.restarts.len()
                );
                Some(figures)
            }
            Err(why) => {
                eprintln!("  {why}");
                notes.push(why);
                None
            }
        }
    } else {
        None
    };
    let runtime = runtime()?;
    if options.runs("restart") {
        eprintln!("== restart latency");
        rows.extend(runtime.block_on(restart::rows::rows(options.quick, otp.as_ref())));
        eprintln!("== messages lost per crash");
        rows.extend(runtime.block_on(async {
            tokio::spawn(restart::lost::rows(options.quick))
                .await
                .unwrap_or_default()
        }));
    }
    if options.runs("dynamic") {
        eprintln!("== dynamic children");
        rows.extend(dynamic::rows(options.quick, otp.as_ref()));
    }
    if options.runs("happy") {
        eprintln!("== happy path");
        rows.extend(runtime.block_on(happy::rows(options.quick, otp.as_ref())));
    }
    if options.runs("watchdog") {
        eprintln!("== watchdog");
        rows.extend(runtime.block_on(watchdog::rows(options.quick)));
    }
    if options.runs("process") {
        eprintln!("== process children");
        rows.extend(runtime.block_on(async {
            tokio::spawn(process::rows(options.quick))
                .await
                .unwrap_or_default()
        }));
    }
    let durable = if options.runs("durable") {
        eprintln!("== durable workflows");
        Some(runtime.block_on(async { tokio::spawn(durable::section(options.quick)).await })??)
    } else {
        None
    };
    if options.runs("ops") {
        eprintln!("== operator surface");
        let (ops_rows, ops_notes) = runtime.block_on(ops::rows(options.quick));
        rows.extend(ops_rows);
        notes.extend(ops_notes);
    }
    drop(runtime);
    println!("{}", table::render(&rows));
    for note in &notes {
        println!("{note}\n");
    }
    println!("{}", table::closing_note(&rows));
    if let Some(durable) = &durable {
        println!("## Durable workflows\n\n{durable}");
    }
    if options.write_docs {
        let mut command = "cargo run --release -p hale-bench --".to_owned();
        for arg in args {
            command.push(' ');
            command.push_str(arg);
        }
        let run = report::Run {
            rows: &rows,
            notes: &notes,
            otp_release: otp.as_ref().map(|figures| figures.release.as_str()),
            command,
            quick: options.quick,
        };
        let path = report::write(&run)?;
        eprintln!("wrote {}", path.display());
    }
    Ok(())
}
