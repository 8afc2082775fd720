//! How the CLI prints what the service answers.

use serde_json::Value;

use crate::Failure;

/// The tree as indented text, one node a line.
pub fn tree(snapshot: &Value) -> Result<String, Failure> {
    let root = snapshot
        .get("root")
        .ok_or_else(|| Failure("/tree answered without a root".to_owned()))?;
    let mut out = String::new();
    node(root, "", "", &mut out);
    let counts = snapshot["counts"]
        .as_object()
        .map(|counts| {
            counts
                .iter()
                .filter(|(_, count)| count.as_u64().unwrap_or(0) > 0)
                .map(|(state, count)| format!("{state} {count}"))
                .collect::<Vec<_>>()
                .join(", ")
        })
        .unwrap_or_default();
    out.push_str(&format!("\n{counts}\n"));
    for breaker in snapshot["breakers"].as_array().into_iter().flatten() {
        out.push_str(&format!(
            "breaker {}: {}\n",
            breaker["policy"].as_str().unwrap_or("?"),
            breaker["state"].as_str().unwrap_or("?")
        ));
    }
    Ok(out)
}

fn node(node: &Value, lead: &str, branch: &str, out: &mut String) {
    let id = node["id"].as_str().unwrap_or("?");
    let mut line = format!("{lead}{branch}{id}");
    let width = 32usize.saturating_sub(line.chars().count()).max(1);
    line.push_str(&" ".repeat(width));
    line.push_str(&format!(
        "{:<11} restarts {:<4}",
        node["state"].as_str().unwrap_or("?"),
        node["restarts"].as_u64().unwrap_or(0)
    ));
    if let Some(window) = node["intensity"]["text"].as_str() {
        line.push_str(&format!(" window {window}"));
    }
    if node["ready"] == Value::Bool(false) && node["state"] == "running" {
        line.push_str(" not ready");
    }
    if node["last_exit_abnormal"] == Value::Bool(true)
        && let Some(exit) = node["last_exit"].as_str()
    {
        line.push_str(&format!(" last exit: {exit}"));
    }
    out.push_str(line.trim_end());
    out.push('\n');
    let children = node["children"].as_array().map(Vec::as_slice).unwrap_or_default();
    let below = match branch {
        "" => lead.to_owned(),
        "└── " => format!("{lead}    "),
        _ => format!("{lead}│   "),
    };
    for (index, child) in children.iter().enumerate() {
        let branch = if index + 1 == children.len() {
            "└── "
        } else {
            "├── "
        };
        self::node(child, &below, branch, out);
    }
}

/// Dead letters, one a line.
pub fn dead_letters(list: &Value) -> String {
    let rows: Vec<String> = list
        .as_array()
        .into_iter()
        .flatten()
        .map(|letter| {
            format!(
                "{}  {}  {}  {} attempts  {}",
                letter["id"].as_str().unwrap_or("?"),
                letter["workflow"].as_str().unwrap_or("?"),
                letter["step"].as_str().unwrap_or("-"),
                letter["attempts"].as_u64().unwrap_or(0),
                letter["error"].as_str().unwrap_or("")
            )
        })
        .collect();
    if rows.is_empty() {
        "no dead letters\n".to_owned()
    } else {
        rows.join("\n") + "\n"
    }
}

/// Waiting approval gates, one a line.
pub fn approvals(list: &Value) -> String {
    let rows: Vec<String> = list
        .as_array()
        .into_iter()
        .flatten()
        .map(|gate| {
            format!(
                "{}  {}  {}  {}",
                gate["id"].as_str().unwrap_or("?"),
                gate["workflow"].as_str().unwrap_or("?"),
                gate["step"].as_str().unwrap_or("?"),
                gate["summary"].as_str().unwrap_or("")
            )
        })
        .collect();
    if rows.is_empty() {
        "no approval gates waiting\n".to_owned()
    } else {
        rows.join("\n") + "\n"
    }
}

/// One line for an admin action's answer.
pub fn answer(text: &str) -> String {
    let Ok(value) = serde_json::from_str::<Value>(text) else {
        return text.trim().to_owned();
    };
    let target = value["path"].as_str().or(value["id"].as_str()).unwrap_or("?");
    let mut line = format!(
        "{} {target}: {} (by {})",
        value["action"].as_str().unwrap_or("?"),
        value["result"].as_str().unwrap_or("ok"),
        value["by"].as_str().unwrap_or("?")
    );
    if let Some(audit) = value["audit"].as_str().filter(|audit| *audit != "written") {
        line.push_str(&format!("; audit entry {audit}"));
    }
    line
}

/// Splits a server-sent event stream into (event name, data) pairs.
#[derive(Default)]
pub struct SseParser {
    buffer: String,
}

impl SseParser {
    /// Adds received text; returns the events it completed.
    pub fn push(&mut self, text: &str) -> Vec<(String, String)> {
        self.buffer.push_str(&text.replace("\r\n", "\n"));
        let mut events = Vec::new();
        while let Some(end) = self.buffer.find("\n\n") {
            let block: String = self.buffer.drain(..end + 2).collect();
            let mut name = String::from("message");
            let mut data = Vec::new();
            let mut any = false;
            for line in block.lines() {
                if let Some(value) = line.strip_prefix("event:") {
                    name = value.trim().to_owned();
                    any = true;
                } else if let Some(value) = line.strip_prefix("data:") {
                    data.push(value.strip_prefix(' ').unwrap_or(value).to_owned());
                    any = true;
                }
            }
            if any {
                events.push((name, data.join("\n")));
            }
        }
        events
    }
}

/// An event as one JSON line: `{"event": name, "data": ...}`.
pub fn event_json(name: &str, data: &str) -> Option<String> {
    let data: Value = serde_json::from_str(data).unwrap_or_else(|_| Value::String(data.to_owned()));
    Some(serde_json::json!({ "event": name, "data": data }).to_string())
}

/// An event as one readable line.
pub fn event_line(name: &str, data: &str) -> Option<String> {
    let value: Value = serde_json::from_str(data).ok()?;
    Some(match name {
        "snapshot" => {
            let missed = value["missed"].as_u64().unwrap_or(0);
            let nodes: u64 = value["tree"]["counts"]
                .as_object()
                .map(|counts| counts.values().filter_map(Value::as_u64).sum())
                .unwrap_or(0);
            if missed > 0 {
                format!("-- missed {missed} events; the tree now has {nodes} nodes")
            } else {
                format!("-- following; the tree has {nodes} nodes")
            }
        }
        "healing" => {
            let path: Vec<&str> = value["path"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(Value::as_str)
                .collect();
            let kind = &value["kind"];
            let what = kind["event"].as_str().unwrap_or("?");
            let detail = healing_detail(kind);
            let time = clock(value["timestamp_ms"].as_u64().unwrap_or(0));
            format!("{time} {} {what}{detail}", path.join("/"))
        }
        "resilience" => format!(
            "{} {} {}",
            clock(value["at_unix_ms"].as_u64().unwrap_or(0)),
            value["policy"].as_str().unwrap_or("?"),
            value["event"].as_str().unwrap_or("?")
        ),
        "audit" => format!(
            "{} audit: {} {} {} -> {}",
            clock(value["at_ms"].as_u64().unwrap_or(0)),
            value["actor"].as_str().unwrap_or("?"),
            value["action"].as_str().unwrap_or("?"),
            value["target"].as_str().unwrap_or("?"),
            value["outcome"].as_str().unwrap_or("?")
        ),
        other => format!("{other}: {data}"),
    })
}

fn healing_detail(kind: &Value) -> String {
    match kind["event"].as_str() {
        Some("child_exited") => {
            let reason = &kind["reason"];
            let mut text = reason["kind"].as_str().unwrap_or("?").to_owned();
            if let Some(detail) = reason["detail"].as_str() {
                text.push_str(&format!(": {detail}"));
            }
            let restart = if kind["will_restart"] == Value::Bool(true) {
                ", will restart"
            } else {
                ""
            };
            format!(" ({text}{restart})")
        }
        Some("child_restarted") => format!(" (restart {})", kind["restarts"].as_u64().unwrap_or(0)),
        Some("start_failed" | "restart_failed") => format!(" ({})", kind["cause"].as_str().unwrap_or("?")),
        Some("intensity_exceeded") => format!(
            " ({} restarts in {} ms allowed)",
            kind["intensity"].as_u64().unwrap_or(0),
            kind["period_ms"].as_u64().unwrap_or(0)
        ),
        Some("backoff_scheduled") => format!(" ({} ms)", kind["delay_ms"].as_u64().unwrap_or(0)),
        _ => String::new(),
    }
}

/// `HH:MM:SS.mmm` (UTC) of a Unix-ms timestamp.
fn clock(unix_ms: u64) -> String {
    let day_ms = unix_ms % 86_400_000;
    format!(
        "{:02}:{:02}:{:02}.{:03}",
        day_ms / 3_600_000,
        day_ms / 60_000 % 60,
        day_ms / 1_000 % 60,
        day_ms % 1_000
    )
}
