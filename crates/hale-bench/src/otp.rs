//! Erlang/OTP's own figures, from `shared/anchors/otp_bench.erl`, run in the
//! same run when `erl` is installed.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::Command;

/// What the anchor printed.
#[derive(Debug, Default)]
pub(crate) struct OtpFigures {
    /// OTP release.
    pub(crate) release: String,
    /// (strategy, children) → (p50 µs, p99 µs); the anchor kills the child.
    pub(crate) restarts: HashMap<(String, usize), (f64, f64)>,
    /// start_child: µs per child.
    pub(crate) start_child_us: Option<f64>,
    /// Process memory per dynamic child, bytes.
    pub(crate) bytes_per_process: Option<f64>,
    /// Send throughput, messages per second.
    pub(crate) send_per_s: Option<f64>,
}

/// Where the anchor lives: `OTP_BENCH` if set, else `shared/anchors` beside
/// the repository (found from the current directory or the binary's path).
fn anchor() -> Option<PathBuf> {
    if let Some(path) = std::env::var_os("OTP_BENCH") {
        return Some(PathBuf::from(path));
    }
    let mut roots = Vec::new();
    if let Ok(dir) = std::env::current_dir() {
        roots.push(dir);
    }
    roots.push(PathBuf::from(env!("CARGO_MANIFEST_DIR")));
    roots.into_iter().find_map(|root| {
        root.ancestors()
            .map(|dir| dir.join("shared/anchors/otp_bench.erl"))
            .find(|candidate| candidate.is_file())
    })
}

/// Compiles and runs the anchor. `Err` says why there are no OTP figures.
/// Quick runs call the anchor's exported functions with smaller counts;
/// full runs run its `main` and add rest_for_one with 1000 children, which
/// `main` leaves out.
pub(crate) fn run(quick: bool) -> Result<OtpFigures, String> {
    if Command::new("erl").arg("-version").output().is_err() {
        return Err("erl is not installed: no Erlang/OTP figures in this run \
                    (apt-get install erlang-base to add them)"
            .to_owned());
    }
    let source = anchor().ok_or("shared/anchors/otp_bench.erl not found (set OTP_BENCH)")?;
    let dir = std::env::temp_dir().join(format!("hale-bench-otp-{}", std::process::id()));
    std::fs::create_dir_all(&dir).map_err(|error| error.to_string())?;
    let compiled = Command::new("erlc")
        .arg("-o")
        .arg(&dir)
        .arg(&source)
        .output()
        .map_err(|error| format!("erlc: {error}"))?;
    if !compiled.status.success() {
        return Err(format!(
            "erlc failed: {}",
            String::from_utf8_lossy(&compiled.stderr)
        ));
    }
    let output = run_anchor(&dir, quick);
    let _ = std::fs::remove_dir_all(&dir);
    let text = output?;
    let figures = parse(&text);
    if figures.restarts.is_empty() {
        return Err(format!("otp_bench printed nothing usable: {text}"));
    }
    Ok(figures)
}

fn run_anchor(dir: &Path, quick: bool) -> Result<String, String> {
    let release = "io:format(\"otp release ~s~n\", [erlang:system_info(otp_release)])";
    let mut command = Command::new("erl");
    command
        .arg("-noshell")
        .arg("-pa")
        .arg(dir)
        .arg("-eval")
        .arg(release);
    if quick {
        let evals = [
            "logger:set_primary_config(level, none)",
            "otp_bench:restart_latency(one_for_one, 1, 1000)",
            "otp_bench:restart_latency(one_for_one, 100, 200)",
            "otp_bench:restart_latency(one_for_all, 100, 50)",
            "otp_bench:restart_latency(rest_for_one, 100, 50)",
            "otp_bench:restart_latency(one_for_all, 1000, 10)",
            "otp_bench:restart_latency(rest_for_one, 1000, 10)",
            "otp_bench:dynamic_spawn(10000)",
            "otp_bench:cast_throughput(200000)",
        ];
        for eval in evals {
            command.arg("-eval").arg(eval);
        }
    } else {
        command.args(["-s", "otp_bench", "main"]);
        command
            .arg("-eval")
            .arg("otp_bench:restart_latency(rest_for_one, 1000, 100)");
    }
    command.args(["-s", "init", "stop"]);
    let output = command.output().map_err(|error| format!("erl: {error}"))?;
    if !output.status.success() {
        return Err(format!("erl failed: {}", String::from_utf8_lossy(&output.stderr)));
    }
    Ok(String::from_utf8_lossy(&output.stdout).into_owned())
}

/// `key=value` fields of one line.
fn fields(line: &str) -> HashMap<&str, &str> {
    line.split_whitespace()
        .filter_map(|field| field.split_once('='))
        .collect()
}

fn number(fields: &HashMap<&str, &str>, key: &str) -> Option<f64> {
    fields.get(key).and_then(|value| value.parse().ok())
}

/// Reads the anchor's lines (format: see `io:format` calls in otp_bench.erl).
pub(crate) fn parse(text: &str) -> OtpFigures {
    let mut figures = OtpFigures::default();
    for line in text.lines() {
        let found = fields(line);
        if let Some(release) = line.strip_prefix("otp release ") {
            release.trim().clone_into(&mut figures.release);
        } else if let Some(rest) = line.strip_prefix("otp restart ") {
            let strategy = rest.split_whitespace().next().unwrap_or_default().to_owned();
            let children = found.get("children").and_then(|n| n.parse().ok());
            if let (Some(children), Some(p50), Some(p99)) =
                (children, number(&found, "p50_us"), number(&found, "p99_us"))
            {
                figures.restarts.insert((strategy, children), (p50, p99));
            }
        } else if line.starts_with("otp dynamic start_child") {
            figures.start_child_us = number(&found, "per_child_us");
            if let (Some(mb), Some(count)) = (number(&found, "processes_mem_mb"), number(&found, "count")) {
                figures.bytes_per_process = Some(mb * 1_048_576.0 / count);
            }
        } else if line.starts_with("otp send throughput") {
            figures.send_per_s = number(&found, "msgs_per_s");
        }
    }
    figures
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_anchor_format() {
        let text = "otp release 25\n\
            otp restart one_for_one children=1 rounds=10000 p50_us=38.2 p99_us=135.0\n\
            otp restart one_for_all children=100 rounds=500 p50_us=920.5 p99_us=1500.1\n\
            otp dynamic start_child count=100000 total_ms=2000.0 per_child_us=20.00 processes_mem_mb=267.0\n\
            otp send throughput msgs=2000000 msgs_per_s=5000000.0\n";
        let figures = parse(text);
        assert_eq!(figures.release, "25");
        assert_eq!(figures.restarts[&("one_for_one".to_owned(), 1)], (38.2, 135.0));
        assert_eq!(figures.restarts[&("one_for_all".to_owned(), 100)].0, 920.5);
        assert_eq!(figures.start_child_us, Some(20.0));
        assert!((figures.bytes_per_process.unwrap() - 2799.7).abs() < 1.0);
        assert_eq!(figures.send_per_s, Some(5_000_000.0));
    }
}
