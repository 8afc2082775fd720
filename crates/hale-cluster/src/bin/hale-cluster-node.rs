//! One Hale cluster node as a process: the three-process tests, the
//! failover example and the benchmarks run it.
//!
//! ```text
//! hale-cluster-node --name a --port 4370 --cookie COOKIE [--peer HOST:PORT]...
//!     [--tls CERT.pem KEY.pem CA.pem] [--heartbeat-ms N] [--down-after-ms N] [--lease-ms N]
//! ```
//!
//! It prints one JSON object per line on stdout: `{"kind":"cluster",...}`
//! for its cluster events, `{"kind":"healing",...}` for its tree's healing
//! events, `{"kind":"answer",...}` for answers. It reads commands on stdin,
//! one per line, and exits when stdin closes:
//!
//! - `tree ID:SPEC:NODE,NODE[:RESTART] ...`: start the supervisor `root`
//!   with these remote children (restart: permanent, transient, temporary);
//! - `placements`, `hosted`, `peers`: answer what the node knows;
//! - `isolate`, `heal`: cut or restore the agent's traffic;
//! - `garbage NODE`: send NODE's agent a frame that does not decode;
//! - `stop`: stop the tree and the node, and exit.
//!
//! Registered specs: `sleeper` (runs until stopped) and `crasher` (fails
//! with "boom" after 200 ms).

use std::time::Duration;

use hale_cluster::{Node, NodeConfig, RemoteChild, SpecRegistry, TlsConfig};
use hale_core::{ChildSpec, Restart, Supervisor, SupervisorRef, SupervisorSpec, TaskError};
use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, BufReader};

/// An actor that waits for nothing: a child whose stop is immediate. (A
/// `ChildSpec::task` that never returns takes hale-core's kill wait, 5 s, to
/// terminate: its linger token outlives the stop; reported to hale-core.)
#[derive(Clone)]
struct Idle;

impl ractor::Actor for Idle {
    type Msg = ();
    type State = ();
    type Arguments = ();

    async fn pre_start(&self, _: ractor::ActorRef<()>, _: ()) -> Result<(), ractor::ActorProcessingErr> {
        Ok(())
    }
}

fn registry() -> SpecRegistry {
    SpecRegistry::new()
        .register("sleeper", || ChildSpec::actor("sleeper", Idle, ()))
        .register("crasher", || {
            ChildSpec::task("crasher", |_ctx| async {
                tokio::time::sleep(Duration::from_millis(200)).await;
                Err(TaskError::from("boom"))
            })
        })
}

fn print(value: &Value) {
    println!("{value}");
}

fn answer(command: &str, body: Value) {
    print(&json!({"kind": "answer", "cmd": command, "body": body}));
}

fn config_from_args() -> Result<NodeConfig, String> {
    let mut args = std::env::args().skip(1);
    let (mut name, mut cookie, mut port) = (None, None, 0u16);
    let mut peers = Vec::new();
    let mut tls = None;
    let mut timing: [Option<u64>; 3] = [None; 3];
    while let Some(flag) = args.next() {
        let mut value = || args.next().ok_or_else(|| format!("{flag} needs a value"));
        match flag.as_str() {
            "--name" => name = Some(value()?),
            "--cookie" => cookie = Some(value()?),
            "--port" => port = value()?.parse().map_err(|error| format!("--port: {error}"))?,
            "--peer" => peers.push(value()?),
            "--tls" => {
                let read =
                    |path: String| std::fs::read_to_string(&path).map_err(|error| format!("{path}: {error}"));
                let (cert, key, ca) = (read(value()?)?, read(value()?)?, read(value()?)?);
                tls = Some(
                    TlsConfig::from_pem(&cert, &key, &ca, "localhost").map_err(|error| error.to_string())?,
                );
            }
            "--heartbeat-ms" | "--down-after-ms" | "--lease-ms" => {
                let slot = ["--heartbeat-ms", "--down-after-ms", "--lease-ms"]
                    .iter()
                    .position(|known| *known == flag)
                    .unwrap_or(0);
                timing[slot] = Some(value()?.parse().map_err(|error| format!("{flag}: {error}"))?);
            }
            other => return Err(format!("unknown argument {other}")),
        }
    }
    let mut config = NodeConfig::new(
        name.ok_or("--name is required")?,
        cookie.ok_or("--cookie is required")?,
    )
    .port(port);
    for peer in peers {
        config = config.peer(peer);
    }
    if let Some(tls) = tls {
        config = config.tls(tls);
    }
    if let Some(ms) = timing[0] {
        config = config.heartbeat(Duration::from_millis(ms));
    }
    if let Some(ms) = timing[1] {
        config = config.down_after(Duration::from_millis(ms));
    }
    if let Some(ms) = timing[2] {
        config = config.lease(Duration::from_millis(ms));
    }
    Ok(config)
}

fn remote_child(text: &str) -> Result<RemoteChild, String> {
    let parts: Vec<&str> = text.split(':').collect();
    let [id, spec, nodes, rest @ ..] = parts.as_slice() else {
        return Err(format!("{text}: expected ID:SPEC:NODES[:RESTART]"));
    };
    let restart = match rest.first().copied().unwrap_or("permanent") {
        "permanent" => Restart::Permanent,
        "transient" => Restart::Transient,
        "temporary" => Restart::Temporary,
        other => return Err(format!("unknown restart type {other}")),
    };
    Ok(RemoteChild::new(*id, *spec).on(nodes.split(',')).restart(restart))
}

async fn start_tree(node: &Node, children: &[&str]) -> Result<SupervisorRef, String> {
    let mut spec = SupervisorSpec::new("root")
        .intensity(10)
        .period(Duration::from_secs(10));
    for child in children {
        spec = spec.child(node.child_spec(remote_child(child)?));
    }
    let tree = Supervisor::start(spec).await.map_err(|error| error.to_string())?;
    let mut events = tree.subscribe();
    tokio::spawn(async move {
        while let Ok(event) = events.recv().await {
            // `{"kind":"healing","path":..,"event":"child_exited",..}`: the
            // event's own fields next to its path and time.
            if let Ok(Value::Object(mut line)) = serde_json::to_value(&event) {
                if let Some(Value::Object(kind)) = line.remove("kind") {
                    line.extend(kind);
                }
                line.insert("kind".into(), json!("healing"));
                print(&Value::Object(line));
            }
        }
    });
    Ok(tree)
}

#[tokio::main]
async fn main() {
    let config = match config_from_args() {
        Ok(config) => config,
        Err(error) => {
            eprintln!("hale-cluster-node: {error}");
            std::process::exit(2);
        }
    };
    // Subscribe before anything happens: the events are the tests' clock.
    let node = match Node::start(config, registry()).await {
        Ok(node) => node,
        Err(error) => {
            eprintln!("hale-cluster-node: {error}");
            std::process::exit(1);
        }
    };
    let mut events = node.subscribe();
    print(&json!({"kind": "cluster", "event": "listening", "port": node.port(), "node": node.id().name}));
    tokio::spawn(async move {
        while let Ok(record) = events.recv().await {
            if let Ok(mut value) = serde_json::to_value(&record) {
                value["kind"] = json!("cluster");
                print(&value);
            }
        }
    });
    let mut tree: Option<SupervisorRef> = None;
    let mut lines = BufReader::new(tokio::io::stdin()).lines();
    while let Ok(Some(line)) = lines.next_line().await {
        let words: Vec<&str> = line.split_whitespace().collect();
        match words.as_slice() {
            ["tree", children @ ..] => match start_tree(&node, children).await {
                Ok(started) => {
                    tree = Some(started);
                    answer("tree", json!("started"));
                }
                Err(error) => answer("tree", json!({"error": error})),
            },
            ["placements"] => {
                let placements = node.placements().await.unwrap_or_default();
                let body: Vec<Value> = placements
                    .into_iter()
                    .map(|p| json!({"path": p.path, "node": p.node, "generation": p.generation}))
                    .collect();
                answer("placements", json!(body));
            }
            ["hosted"] => {
                let hosted = node.hosted().await.unwrap_or_default();
                let body: Vec<Value> = hosted
                    .into_iter()
                    .map(|h| json!({"owner": h.owner.name, "key": h.key, "generation": h.generation, "running": h.running}))
                    .collect();
                answer("hosted", json!(body));
            }
            ["peers"] => {
                let peers = node.peers().await.unwrap_or_default();
                let body: Vec<Value> = peers
                    .into_iter()
                    .map(|p| json!({"name": p.name, "up": p.up, "connected": p.connected}))
                    .collect();
                answer("peers", json!(body));
            }
            ["isolate"] => {
                node.isolate(true);
                answer("isolate", json!("ok"));
            }
            ["heal"] => {
                node.isolate(false);
                answer("heal", json!("ok"));
            }
            ["garbage", peer] => {
                node.send_raw_frame(peer, b"{not a frame".to_vec());
                answer("garbage", json!("sent"));
            }
            ["stop"] => break,
            _ => answer("unknown", json!(line)),
        }
    }
    if let Some(tree) = tree {
        tree.stop(Duration::from_secs(15)).await;
    }
    node.stop().await;
}
