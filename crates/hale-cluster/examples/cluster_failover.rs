//! A chaos run across three processes: node `a` supervises six workers
//! placed on `b` and `c`; at a seeded moment one host is killed (SIGKILL).
//! The report: children lost (must be 0), time to detect the dead node, time
//! until every child runs again.
//!
//! ```text
//! cargo run --example cluster_failover -- [--seed N]
//! ```
//!
//! The command starts itself three times as the nodes (`--node NAME ...`)
//! and reads their events (JSON lines) from their stdout. Every node listens
//! on 127.0.0.1 only.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc::{Receiver, channel};
use std::time::{Duration, Instant};

use hale_cluster::{Node, NodeConfig, RemoteChild, SpecRegistry};
use hale_core::{ChildSpec, Supervisor, SupervisorSpec};
use rand::{RngExt, SeedableRng};
use serde_json::{Value, json};

const COOKIE: &str = "cluster-failover-example-cookie";
const WORKERS: usize = 6;
/// The bound on the whole recovery: past it the run reports what is lost.
const RECOVERY_BOUND: Duration = Duration::from_secs(20);

type Failure = Box<dyn std::error::Error>;

fn main() -> Result<(), Failure> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.first().map(String::as_str) == Some("--node") {
        return run_node(&args[1..]);
    }
    let seed = match args.as_slice() {
        [flag, seed] if flag == "--seed" => seed.parse()?,
        [] => 42,
        _ => return Err("usage: cluster_failover [--seed N]".into()),
    };
    orchestrate(seed)
}

// ----- the three nodes ------------------------------------------------------

/// `--node NAME PORT [PEER_PORT...]`: one node; `a` also runs the tree.
fn run_node(args: &[String]) -> Result<(), Failure> {
    let [name, port, peers @ ..] = args else {
        return Err("--node NAME PORT [PEER_PORT...]".into());
    };
    let mut config = NodeConfig::new(name.clone(), COOKIE).port(port.parse()?);
    for peer in peers {
        config = config.peer(format!("127.0.0.1:{peer}"));
    }
    let runtime = tokio::runtime::Runtime::new()?;
    runtime.block_on(async move {
        let registry = SpecRegistry::new().register("worker", || {
            ChildSpec::task("worker", |_ctx| async {
                std::future::pending::<()>().await;
                Ok(())
            })
        });
        let node = Node::start(config, registry).await?;
        let mut events = node.subscribe();
        tokio::spawn(async move {
            while let Ok(record) = events.recv().await {
                if let Ok(line) = serde_json::to_string(&record) {
                    println!("{line}");
                }
            }
        });
        if node.id().name == "a" {
            // Wait until both hosts are up, then start the tree.
            for _ in 0..200 {
                let up = node
                    .peers()
                    .await
                    .map(|peers| peers.iter().filter(|peer| peer.up).count());
                if up == Ok(2) {
                    break;
                }
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            let mut spec = SupervisorSpec::new("root")
                .intensity(WORKERS as u32 * 2)
                .period(Duration::from_secs(10));
            for index in 0..WORKERS {
                let hosts = if index % 2 == 0 { ["b", "c"] } else { ["c", "b"] };
                spec = spec.child(node.child_spec(RemoteChild::new(format!("w{index}"), "worker").on(hosts)));
            }
            let _tree = Supervisor::start(spec).await?;
            std::future::pending::<()>().await;
        }
        std::future::pending::<()>().await;
        Ok::<(), Failure>(())
    })
}

// ----- the orchestrator -----------------------------------------------------

struct NodeProcess {
    child: Child,
    lines: Receiver<Value>,
}

impl Drop for NodeProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn spawn_node(name: &str, port: u16, peers: &[u16]) -> Result<NodeProcess, Failure> {
    let mut command = Command::new(std::env::current_exe()?);
    command
        .arg("--node")
        .arg(name)
        .arg(port.to_string())
        .args(peers.iter().map(u16::to_string))
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null());
    let mut child = command.spawn()?;
    let stdout = child.stdout.take().ok_or("no stdout")?;
    let (sender, lines) = channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if let Ok(value) = serde_json::from_str::<Value>(&line)
                && sender.send(value).is_err()
            {
                return;
            }
        }
    });
    Ok(NodeProcess { child, lines })
}

fn free_ports() -> Result<[u16; 3], Failure> {
    let listeners = [
        TcpListener::bind("127.0.0.1:0")?,
        TcpListener::bind("127.0.0.1:0")?,
        TcpListener::bind("127.0.0.1:0")?,
    ];
    Ok([
        listeners[0].local_addr()?.port(),
        listeners[1].local_addr()?.port(),
        listeners[2].local_addr()?.port(),
    ])
}

fn orchestrate(seed: u64) -> Result<(), Failure> {
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    let ports = free_ports()?;
    let a = spawn_node("a", ports[0], &[])?;
    let b = spawn_node("b", ports[1], &[ports[0]])?;
    let c = spawn_node("c", ports[2], &[ports[0], ports[1]])?;
    // Where each child runs, from a's placement events.
    let mut placement: BTreeMap<String, String> = BTreeMap::new();
    let deadline = Instant::now() + RECOVERY_BOUND;
    while placement.len() < WORKERS {
        let line = a
            .lines
            .recv_timeout(deadline.saturating_duration_since(Instant::now()))?;
        track(&line, &mut placement);
    }
    // The seeded fault: which host dies, and when.
    let victim = if rng.random_bool(0.5) { "b" } else { "c" };
    let delay = Duration::from_millis(rng.random_range(200..1500));
    std::thread::sleep(delay);
    let mut victim_process = if victim == "b" { b } else { c };
    victim_process.child.kill()?;
    let killed_at = Instant::now();
    let on_victim = placement.values().filter(|node| *node == victim).count();
    let (mut detected, mut recovered) = (None, None);
    let deadline = killed_at + RECOVERY_BOUND;
    while recovered.is_none() && Instant::now() < deadline {
        let Ok(line) = a
            .lines
            .recv_timeout(deadline.saturating_duration_since(Instant::now()))
        else {
            break;
        };
        if line["event"] == "node_down" && line["node"] == victim && detected.is_none() {
            detected = Some(killed_at.elapsed());
        }
        track(&line, &mut placement);
        let running_elsewhere = placement.values().filter(|node| *node != victim).count();
        if detected.is_some() && running_elsewhere == WORKERS {
            recovered = Some(killed_at.elapsed());
        }
    }
    let lost = WORKERS - placement.values().filter(|node| *node != victim).count();
    let millis = |d: Option<Duration>| d.map_or(json!(null), |d| json!(d.as_millis() as u64));
    let report = json!({
        "seed": seed,
        "workers": WORKERS,
        "killed": victim,
        "killed_after_ms": delay.as_millis() as u64,
        "children_on_killed_node": on_victim,
        "lost": lost,
        "time_to_detect_ms": millis(detected),
        "time_to_recover_ms": millis(recovered),
        "detection_bound_ms": NodeConfig::new("a", COOKIE).detection_bound().as_millis() as u64,
    });
    let mut out = std::io::stdout().lock();
    writeln!(
        out,
        "cluster failover (seed {seed}): killed {victim} with {on_victim} of {WORKERS} workers"
    )?;
    writeln!(out, "  lost            {lost}")?;
    writeln!(out, "  time to detect  {} ms", report["time_to_detect_ms"])?;
    writeln!(out, "  time to recover {} ms", report["time_to_recover_ms"])?;
    writeln!(out, "{report}")?;
    drop(victim_process);
    drop(a);
    if lost > 0 {
        return Err(format!("{lost} children lost").into());
    }
    Ok(())
}

/// Follows a's placement events: a child runs where it was last placed,
/// and nowhere once its exit is reported.
fn track(line: &Value, placement: &mut BTreeMap<String, String>) {
    let path = line["path"].as_str().unwrap_or_default().to_owned();
    match line["event"].as_str() {
        Some("child_placed") => {
            placement.insert(path, line["node"].as_str().unwrap_or_default().to_owned());
        }
        Some("remote_exit") => {
            placement.remove(&path);
        }
        _ => {}
    }
}
