//! Three nodes as separate OS processes on loopback: remote children, a
//! node killed with SIGKILL, a partition healed, a killed node rejoining.
//! Every wait is on an event, with a bound; nothing asserts a duration.

mod support;

use serde_json::Value;
use support::{NodeProc, free_ports, node_up};

/// a owns the tree; b and c host. b and c connect to a, c to b.
fn three_nodes() -> (NodeProc, NodeProc, NodeProc, [u16; 3]) {
    let ports = free_ports(3);
    let ports = [ports[0], ports[1], ports[2]];
    let mut a = NodeProc::start("a", ports[0], &[], &[]);
    let mut b = NodeProc::start("b", ports[1], &[ports[0]], &[]);
    let mut c = NodeProc::start("c", ports[2], &[ports[0], ports[1]], &[]);
    a.wait_for("b up", node_up("b"));
    a.wait_for("c up", node_up("c"));
    b.wait_for("c up", node_up("c"));
    c.wait_for("b up", node_up("b"));
    (a, b, c, ports)
}

fn placed(path: &'static str, node: &'static str) -> impl Fn(&Value) -> bool {
    move |line| {
        line["kind"] == "cluster"
            && line["event"] == "child_placed"
            && line["path"] == path
            && line["node"] == node
    }
}

fn hosted_keys(node: &mut NodeProc) -> Vec<(String, u64)> {
    node.ask("hosted")
        .as_array()
        .map(|hosted| {
            hosted
                .iter()
                .map(|h| {
                    (
                        h["key"].as_str().unwrap_or_default().to_owned(),
                        h["generation"].as_u64().unwrap_or(0),
                    )
                })
                .collect()
        })
        .unwrap_or_default()
}

#[test]
fn remote_children_start_where_allowed_and_report_their_exits() {
    let (mut a, mut b, mut c, _) = three_nodes();
    assert_eq!(
        a.ask("tree w1:sleeper:b,c w2:crasher:c:temporary w3:sleeper:a"),
        "started"
    );
    a.wait_for("w1 on b", placed("root/w1", "b"));
    a.wait_for("w3 on a itself", placed("root/w3", "a"));
    b.wait_for("w1 hosted", |line| {
        line["event"] == "hosted" && line["key"] == "root/w1"
    });
    // The crasher fails on c; its reason and generation come back to a,
    // whose supervisor sees the child's own reason.
    let exit = a.wait_for("w2's exit", |line| {
        line["event"] == "remote_exit" && line["path"] == "root/w2"
    });
    assert_eq!(exit["node"], "c");
    assert!(exit["reason"].to_string().contains("boom"), "{exit}");
    let healing = a.wait_for("w2 exited in the tree", |line| {
        line["kind"] == "healing"
            && line["path"] == serde_json::json!(["root", "w2"])
            && line["event"] == "child_exited"
    });
    assert!(healing["reason"].to_string().contains("boom"), "{healing}");
    assert_eq!(healing["will_restart"], false);
    assert_eq!(healing["node"], "c", "the healing event says where the child ran");
    let placements = a.ask("placements");
    let nodes: Vec<(&str, &str)> = placements
        .as_array()
        .expect("a list")
        .iter()
        .map(|p| (p["path"].as_str().unwrap_or(""), p["node"].as_str().unwrap_or("")))
        .collect();
    assert_eq!(nodes, [("root/w1", "b"), ("root/w3", "a")]);
    assert_eq!(hosted_keys(&mut b), [("root/w1".to_owned(), 1)]);
    assert!(hosted_keys(&mut c).is_empty());
}

#[test]
fn a_killed_node_s_children_restart_elsewhere_and_the_node_rejoins() {
    let (mut a, b, mut c, ports) = three_nodes();
    assert_eq!(a.ask("tree w1:sleeper:b,c"), "started");
    a.wait_for("w1 on b", placed("root/w1", "b"));
    b.kill();
    let down = a.wait_for("b down", |line| {
        line["event"] == "node_down" && line["node"] == "b"
    });
    assert!(down["silent_ms"].as_u64().is_some());
    let exit = a.wait_for("w1 lost", |line| {
        line["event"] == "remote_exit" && line["path"] == "root/w1"
    });
    assert_eq!(
        exit["reason"],
        serde_json::json!({"kind": "other", "detail": "noconnection"})
    );
    a.wait_for("w1 on c", placed("root/w1", "c"));
    a.wait_for("w1 restarted by its supervisor", |line| {
        line["kind"] == "healing"
            && line["event"] == "child_restarted"
            && line["path"] == serde_json::json!(["root", "w1"])
    });
    assert_eq!(hosted_keys(&mut c).len(), 1);
    // b comes back on its port: a and c see a new run of it.
    let mut b = NodeProc::start("b", ports[1], &[ports[0]], &[]);
    let first_epoch = a
        .events("node_up")
        .iter()
        .find(|e| e["node"] == "b")
        .map(|e| e["epoch"].clone());
    let again = a.wait_for_new("b up again", node_up("b"));
    assert_ne!(Some(again["epoch"].clone()), first_epoch);
    c.wait_for_new("b up again at c", node_up("b"));
    b.wait_for("a up at b", node_up("a"));
    assert!(hosted_keys(&mut b).is_empty(), "a restarted node hosts nothing");
}

#[test]
fn a_partitioned_node_is_fenced_and_after_healing_no_child_runs_twice() {
    let (mut a, mut b, mut c, _) = three_nodes();
    assert_eq!(a.ask("tree w1:sleeper:b,c"), "started");
    a.wait_for("w1 on b", placed("root/w1", "b"));
    b.wait_for("w1 hosted on b", |line| line["event"] == "hosted");
    assert_eq!(b.ask("isolate"), "ok");
    // b loses a's acknowledgements and kills w1 itself ...
    let fenced = b.wait_for("w1 fenced on b", |line| {
        line["event"] == "fenced" && line["key"] == "root/w1"
    });
    assert_eq!(fenced["cause"], "lease_expired");
    // ... before a declares b down and restarts w1 on c.
    a.wait_for("b down", |line| {
        line["event"] == "node_down" && line["node"] == "b"
    });
    a.wait_for("w1 on c", placed("root/w1", "c"));
    let started_on_c = c.wait_for("w1 hosted on c", |line| {
        line["event"] == "hosted" && line["key"] == "root/w1"
    });
    // Both stamps are from this machine's wall clock: the fenced copy was
    // dead before the new one started.
    assert!(
        fenced["timestamp_ms"].as_u64() <= started_on_c["timestamp_ms"].as_u64(),
        "b's copy died at {fenced}, c's started at {started_on_c}"
    );
    assert!(hosted_keys(&mut b).is_empty());
    // Heal: b is up again everywhere, and w1 still runs once, on c.
    assert_eq!(b.ask("heal"), "ok");
    a.wait_for_new("b back up at a", node_up("b"));
    b.wait_for_new("a back up at b", node_up("a"));
    assert!(hosted_keys(&mut b).is_empty());
    let on_c = hosted_keys(&mut c);
    assert_eq!(on_c.len(), 1, "{on_c:?}");
    let placements = a.ask("placements");
    assert_eq!(placements[0]["node"], "c");
    assert_eq!(placements[0]["generation"].as_u64(), Some(on_c[0].1));
}
