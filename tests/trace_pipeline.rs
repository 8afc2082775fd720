//! The main job's traces: `document_pipeline -- --trace FILE` writes one
//! JSON line per closed span, a document's spans form one trace across the
//! agents it passed (the span travels in the message to each agent), and
//! tracing does not change the run: its event-log hash is the one of the
//! same run without `--trace`.

#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "support/example.rs"]
mod support;

use std::collections::{BTreeSet, HashMap};
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

const ITEMS: &str = "60";

fn example() -> PathBuf {
    support::example("document_pipeline")
}

/// Runs the example to its end (bounded) and returns its report.
fn run(args: &[&str]) -> String {
    let mut child = Command::new(example())
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let started = Instant::now();
    while child.try_wait().unwrap().is_none() {
        assert!(
            started.elapsed() < Duration::from_secs(300),
            "the run did not end"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    let output = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{stderr}");
    String::from_utf8(output.stdout).unwrap()
}

fn hash(report: &str) -> &str {
    report
        .lines()
        .find_map(|line| line.trim_start().strip_prefix("event log hash "))
        .unwrap_or_else(|| panic!("no hash in:\n{report}"))
}

fn text<'a>(span: &'a Value, key: &str) -> &'a str {
    span[key]
        .as_str()
        .unwrap_or_else(|| panic!("no `{key}` in {span}"))
}

/// Checks that the spans of `item` are one trace rooted at its item span,
/// connected through parents, with the message-carried handler spans under
/// the steps that sent them; returns the agents its handlers ran in.
fn one_trace(spans: &[Value], item: u64) -> BTreeSet<String> {
    let by_number: HashMap<u64, &Value> = spans
        .iter()
        .map(|span| (span["span"].as_u64().unwrap(), span))
        .collect();
    assert_eq!(by_number.len(), spans.len(), "span numbers repeat");
    let of_item: Vec<&Value> = spans
        .iter()
        .filter(|span| span["item"].as_u64() == Some(item))
        .collect();
    let roots: Vec<&&Value> = of_item.iter().filter(|span| span["parent"].is_null()).collect();
    assert_eq!(roots.len(), 1, "item {item} has one root: {roots:?}");
    let root = roots[0];
    assert_eq!(text(root, "name"), "item");
    let trace = root["trace"].as_u64().unwrap();
    assert_eq!(root["span"].as_u64(), Some(trace));
    // The trace holds this item's spans and nobody else's.
    for span in spans.iter().filter(|span| span["trace"].as_u64() == Some(trace)) {
        assert_eq!(span["item"].as_u64(), Some(item), "{span}");
    }
    let mut agents = BTreeSet::new();
    for span in &of_item {
        assert_eq!(span["trace"].as_u64(), Some(trace), "{span}");
        assert!(span["outcome"].is_string(), "{span}");
        if span["parent"].is_null() {
            continue;
        }
        let parent = by_number[&span["parent"].as_u64().unwrap()];
        assert_eq!(parent["trace"].as_u64(), Some(trace), "{span} under {parent}");
        match text(span, "name") {
            "step" => assert_eq!(text(parent, "name"), "item", "{span}"),
            "handle" => {
                // The agent's handler ran under the step whose message it got.
                assert_eq!(text(parent, "name"), "step", "{span}");
                assert_eq!(text(parent, "agent"), text(span, "agent"), "{span}");
                agents.insert(text(span, "agent").to_owned());
            }
            other => panic!("unexpected span `{other}`: {span}"),
        }
    }
    agents
}

#[test]
fn a_failing_documents_spans_form_one_trace_across_the_agents_it_passed() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("trace.jsonl");
    let plain = run(&["--items", ITEMS]);
    let traced = run(&["--items", ITEMS, "--trace", file.to_str().unwrap()]);
    assert_eq!(hash(&plain), hash(&traced), "tracing changed the run");

    let spans: Vec<Value> = std::fs::read_to_string(&file)
        .unwrap()
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect();
    let items: Vec<&Value> = spans.iter().filter(|span| text(span, "name") == "item").collect();
    assert_eq!(items.len().to_string(), ITEMS, "one item span per document");

    let ended = |outcome: &str| {
        items
            .iter()
            .find(|span| text(span, "outcome") == outcome)
            .and_then(|span| span["item"].as_u64())
            .unwrap_or_else(|| panic!("no {outcome} document among the first {ITEMS}"))
    };
    // A dead-lettered document: it passed several agents (classify first),
    // and the step that gave up says why.
    let dead = ended("dead_lettered");
    let agents = one_trace(&spans, dead);
    assert!(
        agents.len() >= 2 && agents.contains("classify"),
        "document {dead} passed {agents:?}"
    );
    let failed_step = spans
        .iter()
        .filter(|span| span["item"].as_u64() == Some(dead) && text(span, "name") == "step")
        .find(|span| text(span, "outcome").starts_with("error: "));
    assert!(failed_step.is_some(), "document {dead} has no failing step");
    // A degraded document is one trace too.
    let degraded = ended("degraded");
    assert!(one_trace(&spans, degraded).len() >= 2);
}
