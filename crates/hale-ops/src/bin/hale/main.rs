//! `hale`: the command-line client of a service's operator surface
//! (hale-ops), and the runner of chaos plans against the examples.
//!
//! ```text
//! hale tree                      the tree, with restarts, windows and last errors
//! hale events                    follow the healing events
//! hale restart|terminate|delete PATH
//! hale dlq list | show ID | replay ID
//! hale approvals                 the approval gates waiting
//! hale approve|reject ID [--note TEXT]
//! hale chaos run PLAN.toml [--example NAME] [--seed N] [--items N] [--serve ADDR]
//! ```
//!
//! The service is found at `--url` or `$HALE_URL` (default
//! `http://127.0.0.1:9090`); mutating commands send `$HALE_TOKEN` as a
//! bearer token. Errors are one line on stderr and exit status 1.

mod chaos;
mod client;
mod show;

use clap::{Parser, Subcommand};
use futures::StreamExt;
use http_body_util::BodyStream;
use hyper::Method;
use serde_json::json;

use client::Client;

/// Why a command failed, in one line.
#[derive(Debug)]
pub struct Failure(pub String);

#[derive(Parser)]
#[command(
    name = "hale",
    version,
    about = "Watch and act on a running Hale tree through its hale-ops surface"
)]
struct Cli {
    /// The service's hale-ops URL (with its mount prefix, if any).
    #[arg(
        long,
        env = "HALE_URL",
        default_value = "http://127.0.0.1:9090",
        global = true
    )]
    url: String,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Print the tree: state, restarts, intensity windows, last errors.
    Tree {
        /// Print the JSON of /tree instead.
        #[arg(long)]
        json: bool,
    },
    /// Follow the healing, resilience and audit events until interrupted.
    Events {
        /// Print each event as one JSON object per line.
        #[arg(long)]
        json: bool,
    },
    /// Stop a child gracefully and start it again.
    Restart {
        /// The child's path, as `root/pipeline/extract`.
        path: String,
    },
    /// Stop a child by its shutdown rule; its spec is kept.
    Terminate {
        /// The child's path.
        path: String,
    },
    /// Forget the spec of a child that is not running.
    Delete {
        /// The child's path.
        path: String,
    },
    /// Dead letters: list, show, replay.
    Dlq {
        #[command(subcommand)]
        action: DlqAction,
    },
    /// List the approval gates waiting for a decision.
    Approvals,
    /// Approve a waiting gate.
    Approve {
        /// The gate's id.
        id: String,
        /// Why.
        #[arg(long)]
        note: Option<String>,
    },
    /// Reject a waiting gate.
    Reject {
        /// The gate's id.
        id: String,
        /// Why.
        #[arg(long)]
        note: Option<String>,
    },
    /// Chaos runs against the examples.
    Chaos {
        #[command(subcommand)]
        action: chaos::ChaosAction,
    },
}

#[derive(Subcommand)]
enum DlqAction {
    /// List the dead letters.
    List,
    /// Show one dead letter with its input and history.
    Show {
        /// Its id.
        id: String,
    },
    /// Replay one dead letter.
    Replay {
        /// Its id.
        id: String,
    },
}

fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Builder::new_current_thread().enable_all().build() {
        Ok(runtime) => runtime,
        Err(error) => return fail(&Failure(format!("cannot start the async runtime: {error}"))),
    };
    match runtime.block_on(run(cli)) {
        Ok(code) => code,
        Err(failure) => fail(&failure),
    }
}

fn fail(failure: &Failure) -> std::process::ExitCode {
    let line = failure.0.replace('\n', " ");
    eprintln!("hale: error: {line}");
    std::process::ExitCode::FAILURE
}

async fn run(cli: Cli) -> Result<std::process::ExitCode, Failure> {
    if let Command::Chaos { action } = cli.command {
        return chaos::run(action).await;
    }
    let token = std::env::var("HALE_TOKEN").ok();
    let client = Client::new(&cli.url, token)?;
    match cli.command {
        Command::Tree { json } => {
            let tree = client.json("/tree").await?;
            if json {
                println!("{}", serde_json::to_string_pretty(&tree).unwrap_or_default());
            } else {
                print!("{}", show::tree(&tree)?);
            }
        }
        Command::Events { json } => follow(&client, json).await?,
        Command::Restart { path } => act(&client, "restart", &path).await?,
        Command::Terminate { path } => act(&client, "terminate", &path).await?,
        Command::Delete { path } => act(&client, "delete", &path).await?,
        Command::Dlq { action } => match action {
            DlqAction::List => print!("{}", show::dead_letters(&client.json("/dead-letters").await?)),
            DlqAction::Show { id } => {
                let letter = client.json(&format!("/dead-letters/{}", encode(&id))).await?;
                println!("{}", serde_json::to_string_pretty(&letter).unwrap_or_default());
            }
            DlqAction::Replay { id } => {
                let answer = client
                    .call(
                        Method::POST,
                        &format!("/admin/dead-letters/{}/replay", encode(&id)),
                        None,
                    )
                    .await?;
                println!("{}", show::answer(&answer));
            }
        },
        Command::Approvals => print!("{}", show::approvals(&client.json("/approvals").await?)),
        Command::Approve { id, note } => decide(&client, &id, "approve", note).await?,
        Command::Reject { id, note } => decide(&client, &id, "reject", note).await?,
        Command::Chaos { .. } => {}
    }
    Ok(std::process::ExitCode::SUCCESS)
}

async fn act(client: &Client, action: &str, path: &str) -> Result<(), Failure> {
    let answer = client
        .call(
            Method::POST,
            &format!("/admin/{action}"),
            Some(json!({ "path": path })),
        )
        .await?;
    println!("{}", show::answer(&answer));
    Ok(())
}

async fn decide(client: &Client, id: &str, decision: &str, note: Option<String>) -> Result<(), Failure> {
    let body = json!({ "decision": decision, "note": note });
    let answer = client
        .call(
            Method::POST,
            &format!("/admin/approvals/{}", encode(id)),
            Some(body),
        )
        .await?;
    println!("{}", show::answer(&answer));
    Ok(())
}

/// Prints events as they come, until the service ends the stream.
async fn follow(client: &Client, json: bool) -> Result<(), Failure> {
    let body = client.stream("/events").await?;
    let mut frames = BodyStream::new(body);
    let mut parser = show::SseParser::default();
    while let Some(frame) = frames.next().await {
        let frame = frame.map_err(|error| Failure(format!("the event stream broke off: {error}")))?;
        let Ok(data) = frame.into_data() else { continue };
        for (name, payload) in parser.push(&String::from_utf8_lossy(&data)) {
            let line = if json {
                show::event_json(&name, &payload)
            } else {
                show::event_line(&name, &payload)
            };
            if let Some(line) = line {
                println!("{line}");
            }
        }
    }
    Err(Failure("the service closed the event stream".to_owned()))
}

/// Percent-encodes an id for a URL path segment.
fn encode(id: &str) -> String {
    let mut out = String::with_capacity(id.len());
    for byte in id.bytes() {
        if byte.is_ascii_alphanumeric() || b"-._~".contains(&byte) {
            out.push(byte as char);
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}
