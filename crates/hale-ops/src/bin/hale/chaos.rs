//! `hale chaos run PLAN`: checks a fault plan with hale-chaos's own loader,
//! then runs one of the chaos examples under it.
//!
//! The examples are programs of the Hale workspace, so by default the run
//! is `cargo run --release --example NAME -- --plan PLAN ...` from a Hale
//! checkout; `--binary PATH` runs an example already built instead. The
//! example's own report and exit status are the run's.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::Subcommand;

use crate::Failure;

/// The chaos examples, all of which take `--plan`.
const EXAMPLES: [&str; 4] = [
    "document_pipeline",
    "memory_sync_storm",
    "route_fallback",
    "cascade",
];
/// The examples that can serve the live page while they run.
const SERVING: [&str; 1] = ["document_pipeline"];

#[derive(Subcommand)]
pub enum ChaosAction {
    /// Run a fault plan (TOML or JSON) against one of the examples.
    Run {
        /// The fault plan.
        plan: PathBuf,
        /// The example to run it against.
        #[arg(long, default_value = "document_pipeline")]
        example: String,
        /// The seed (the plan's own when not given).
        #[arg(long)]
        seed: Option<u64>,
        /// How many work items.
        #[arg(long)]
        items: Option<u64>,
        /// Serve the live page and endpoints on this loopback address while
        /// the run goes on (document_pipeline only).
        #[arg(long)]
        serve: Option<SocketAddr>,
        /// Write the report as JSON to this file.
        #[arg(long)]
        json: Option<PathBuf>,
        /// Run this built example program instead of `cargo run`.
        #[arg(long)]
        binary: Option<PathBuf>,
    },
}

pub async fn run(action: ChaosAction) -> Result<ExitCode, Failure> {
    let ChaosAction::Run {
        plan,
        example,
        seed,
        items,
        serve,
        json,
        binary,
    } = action;
    if !EXAMPLES.contains(&example.as_str()) {
        return Err(Failure(format!(
            "no chaos example `{example}`; the examples are {}",
            EXAMPLES.join(", ")
        )));
    }
    if serve.is_some() && !SERVING.contains(&example.as_str()) {
        return Err(Failure(format!(
            "`{example}` cannot serve the live page; document_pipeline can"
        )));
    }
    let checked = hale_chaos::FaultPlan::from_path(&plan).map_err(|error| Failure(error.to_string()))?;
    eprintln!(
        "hale: plan {} is valid: {} rules{}",
        plan.display(),
        checked.rules.len(),
        if checked.kills.is_some() {
            ", random kills"
        } else {
            ""
        }
    );
    let mut command = match &binary {
        Some(binary) => tokio::process::Command::new(binary),
        None => {
            if !Path::new("examples").join(format!("{example}.rs")).is_file() {
                return Err(Failure(format!(
                    "examples/{example}.rs is not here: run from a Hale checkout, or give --binary PATH"
                )));
            }
            let mut cargo = tokio::process::Command::new("cargo");
            cargo.args(["run", "--release", "--quiet", "--example", &example, "--"]);
            cargo
        }
    };
    command.arg("--plan").arg(&plan);
    if let Some(seed) = seed {
        command.arg("--seed").arg(seed.to_string());
    }
    if let Some(items) = items {
        command.arg("--items").arg(items.to_string());
    }
    if let Some(serve) = serve {
        command.arg("--serve").arg(serve.to_string());
    }
    if let Some(json) = &json {
        command.arg("--json").arg(json);
    }
    let status = command
        .status()
        .await
        .map_err(|error| Failure(format!("cannot run the example: {error}")))?;
    match status.code() {
        Some(0) => Ok(ExitCode::SUCCESS),
        Some(code) => Ok(ExitCode::from(u8::try_from(code).unwrap_or(1))),
        None => Err(Failure(format!("the example was ended by a signal ({status})"))),
    }
}
