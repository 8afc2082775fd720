//! Hale added to a fresh cargo project, the way a service adds it: next to a
//! tokio the service chose itself (a release other than the one in Hale's
//! Cargo.lock), resolved without Hale's lock file, then checked. Exact pins in
//! Hale's Cargo.toml files would make the resolution fail.
//!
//! Ignored by default: it builds Hale from nothing in a project of its own
//! (minutes on two cores), and it resolves from crates.io (from the registry
//! cache when crates.io cannot be reached). `.ci/run` runs it:
//! `cargo test --test fresh_project -- --ignored`.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Output, Stdio};
use std::time::Duration;

/// The service's tokio: the lowest release Hale's range allows (the 1.47
/// long-term-support line), not the one Hale's own Cargo.lock records.
const SERVICE_TOKIO: &str = "1.47.0";

/// A cold check of Hale and its dependencies takes minutes; a hung download
/// or lock must not hang the run.
const CARGO_LIMIT: Duration = Duration::from_secs(30 * 60);

/// The service: Hale's prelude and its re-exported ractor, on the service's
/// own tokio runtime.
const MAIN_RS: &str = r#"use hale::prelude::*;
use hale::ractor::{Actor, ActorProcessingErr, ActorRef};

#[derive(Clone)]
struct Echo;

impl Actor for Echo {
    type Msg = String;
    type State = ();
    type Arguments = ();

    async fn pre_start(&self, _me: ActorRef<String>, _: ()) -> Result<(), ActorProcessingErr> {
        Ok(())
    }
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let root = Supervisor::start(SupervisorSpec::new("service").child(ChildSpec::actor("echo", Echo, ()))).await?;
    root.stop(std::time::Duration::from_secs(5)).await;
    Ok(())
}
"#;

fn manifest(hale: &Path) -> String {
    format!(
        r#"[package]
name = "service"
version = "0.1.0"
edition = "2024"
publish = false

[dependencies]
hale = {{ path = {hale:?} }}
tokio = {{ version = "={SERVICE_TOKIO}", features = ["rt-multi-thread", "macros"] }}

# Not a member of any workspace above it.
[workspace]
"#
    )
}

/// Writes `contents` unless the file already holds it: unchanged times keep
/// cargo's fingerprints, so a rerun checks nothing again.
fn write_if_changed(path: &Path, contents: &str) {
    if fs::read_to_string(path).ok().as_deref() != Some(contents) {
        fs::write(path, contents).unwrap();
    }
}

/// Runs `cargo <args>` in `project`, with the project's own target directory.
async fn cargo(project: &Path, args: &[&str]) -> Output {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let child = tokio::process::Command::new(cargo)
        .args(args)
        .current_dir(project)
        .env("CARGO_TARGET_DIR", project.join("target"))
        .stdin(Stdio::null())
        .kill_on_drop(true)
        .output();
    match tokio::time::timeout(CARGO_LIMIT, child).await {
        Ok(output) => output.unwrap(),
        Err(_) => panic!("cargo {args:?} ran longer than {CARGO_LIMIT:?}"),
    }
}

fn explain(what: &str, output: &Output) -> String {
    format!(
        "{what} failed ({}):\n{}{}",
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

/// The versions of `name` in a Cargo.lock.
fn locked_versions(lock: &str, name: &str) -> Vec<String> {
    let mut versions = Vec::new();
    let mut lines = lock.lines();
    while let Some(line) = lines.next() {
        if line == format!("name = \"{name}\"") {
            let version = lines.next().unwrap_or_default();
            versions.push(
                version
                    .trim_start_matches("version = ")
                    .trim_matches('"')
                    .to_owned(),
            );
        }
    }
    versions
}

#[tokio::test]
#[ignore = "builds Hale in a fresh project (minutes, and crates.io): .ci/run runs it"]
async fn hale_builds_next_to_a_tokio_the_service_chose() {
    let hale = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let ours = fs::read_to_string(hale.join("Cargo.lock")).unwrap();
    assert!(
        !locked_versions(&ours, "tokio").contains(&SERVICE_TOKIO.to_owned()),
        "the service's tokio must differ from Hale's locked one"
    );

    // A fixed place under target/, so a rerun reuses the build.
    let project = Path::new(env!("CARGO_TARGET_TMPDIR")).join("fresh-project");
    fs::create_dir_all(project.join("src")).unwrap();
    write_if_changed(&project.join("Cargo.toml"), &manifest(&hale));
    write_if_changed(&project.join("src/main.rs"), MAIN_RS);

    // Resolved the way the service would resolve it: from crates.io, without
    // Hale's Cargo.lock. Without a network, from the registry cache instead
    // (`--offline`), which resolves to whatever releases the cache holds.
    let online = cargo(&project, &["generate-lockfile"]).await;
    let offline = !online.status.success();
    if offline {
        let cached = cargo(&project, &["generate-lockfile", "--offline"]).await;
        assert!(
            cached.status.success(),
            "{}\n{}",
            explain("cargo generate-lockfile", &online),
            explain("cargo generate-lockfile --offline", &cached)
        );
    }
    let lock = fs::read_to_string(project.join("Cargo.lock")).unwrap();
    assert_eq!(
        locked_versions(&lock, "tokio"),
        [SERVICE_TOKIO],
        "one tokio, the service's"
    );
    assert_eq!(locked_versions(&lock, "ractor").len(), 1, "one ractor");

    let check = if offline {
        cargo(&project, &["check", "--locked", "--offline"]).await
    } else {
        cargo(&project, &["check", "--locked"]).await
    };
    assert!(check.status.success(), "{}", explain("cargo check", &check));
}
