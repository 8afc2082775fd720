//! Remote against local, in one run on one machine: `start_child` latency,
//! restart latency, and the time to detect a killed node against the
//! configured bound. This process is node `a`; node `b` (and the node that
//! is killed) are `hale-cluster-node` processes on loopback.
//!
//! ```text
//! cargo bench --bench cluster            # in crates/hale-cluster
//! ```

use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use hale_cluster::{ClusterEvent, Node, NodeConfig, RemoteChild, SpecRegistry};
use hale_core::{ChildSpec, HealingEventKind, Supervisor, SupervisorRef, SupervisorSpec};

const COOKIE: &str = "hale-bench-cookie-0123456789";
const ROUNDS: usize = 100;
const DETECTIONS: usize = 5;
const WAIT: Duration = Duration::from_secs(20);

type Failure = Box<dyn std::error::Error>;

struct NodeProcess(Child);

impl Drop for NodeProcess {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn free_port() -> Result<u16, Failure> {
    Ok(TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

/// Starts a node process and waits until it listens.
fn spawn_node(name: &str, port: u16, peer: u16) -> Result<NodeProcess, Failure> {
    let mut child = Command::new(env!("CARGO_BIN_EXE_hale-cluster-node"))
        .args(["--name", name, "--port", &port.to_string(), "--cookie", COOKIE])
        .args(["--peer", &format!("127.0.0.1:{peer}")])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()?;
    let stdout = child.stdout.take().ok_or("no stdout")?;
    let mut lines = BufReader::new(stdout).lines();
    lines.next().ok_or("the node exited")??;
    // Keep draining its output so it never blocks on a full pipe.
    std::thread::spawn(move || for _ in lines.map_while(Result::ok) {});
    Ok(NodeProcess(child))
}

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

fn sleeper() -> ChildSpec {
    ChildSpec::actor("sleeper", Idle, ())
}

fn median(mut samples: Vec<Duration>) -> Duration {
    samples.sort();
    samples.get(samples.len() / 2).copied().unwrap_or_default()
}

fn p99(mut samples: Vec<Duration>) -> Duration {
    samples.sort();
    let index = (samples.len() * 99 / 100).min(samples.len().saturating_sub(1));
    samples.get(index).copied().unwrap_or_default()
}

/// `start_child` then `terminate_child` + `delete_child`, `ROUNDS` times.
async fn start_latency(
    tree: &SupervisorRef,
    spec: impl Fn(usize) -> ChildSpec,
) -> Result<Vec<Duration>, Failure> {
    let mut samples = Vec::with_capacity(ROUNDS);
    for round in 0..ROUNDS {
        let spec = spec(round);
        let id = spec.id().to_owned();
        let started = Instant::now();
        tree.start_child(spec).await?;
        samples.push(started.elapsed());
        tree.terminate_child(&id).await?;
        tree.delete_child(&id).await?;
    }
    Ok(samples)
}

/// Kills the child `id`'s actor (locally: the child; remotely: its
/// stand-in, which kills the remote child) and times until its supervisor
/// restarted it.
async fn restart_latency(tree: &SupervisorRef, id: &str) -> Result<Vec<Duration>, Failure> {
    let mut events = tree.subscribe();
    let mut samples = Vec::with_capacity(ROUNDS);
    for _ in 0..ROUNDS {
        let children = tree.which_children().await?;
        let actor = children
            .iter()
            .find(|child| child.id == id)
            .and_then(|child| child.actor.clone())
            .ok_or("the child does not run")?;
        let killed = Instant::now();
        actor.kill();
        loop {
            let event = tokio::time::timeout(WAIT, events.recv()).await??;
            if event.path.leaf() == id && matches!(event.kind, HealingEventKind::ChildRestarted { .. }) {
                break;
            }
        }
        samples.push(killed.elapsed());
    }
    Ok(samples)
}

async fn wait_for(
    node: &Node,
    events: &mut hale_cluster::ClusterEvents,
    what: impl Fn(&ClusterEvent) -> bool,
) -> Result<(), Failure> {
    let _ = node;
    loop {
        let record = tokio::time::timeout(WAIT, events.recv()).await??;
        if what(&record.event) {
            return Ok(());
        }
    }
}

fn row(out: &mut impl Write, name: &str, local: &[Duration], remote: &[Duration]) -> Result<(), Failure> {
    let (local_median, remote_median) = (median(local.to_vec()), median(remote.to_vec()));
    writeln!(
        out,
        "| {name} | {:.1} µs | {:.1} µs | {:.1} µs | {:.0}× |",
        local_median.as_secs_f64() * 1e6,
        remote_median.as_secs_f64() * 1e6,
        p99(remote.to_vec()).as_secs_f64() * 1e6,
        remote_median.as_secs_f64() / local_median.as_secs_f64().max(1e-9),
    )?;
    Ok(())
}

#[tokio::main]
async fn main() -> Result<(), Failure> {
    let port = free_port()?;
    let config = NodeConfig::new("a", COOKIE).port(port);
    let bound = config.detection_bound();
    let node = Node::start(config, SpecRegistry::new()).await?;
    let mut events = node.subscribe();
    let _b = spawn_node("b", free_port()?, port)?;
    wait_for(
        &node,
        &mut events,
        |event| matches!(event, ClusterEvent::NodeUp { node, .. } if node == "b"),
    )
    .await?;

    let tree = Supervisor::start(
        SupervisorSpec::new("bench")
            .intensity(u32::MAX)
            .period(Duration::from_secs(1)),
    )
    .await?;
    let local_start = start_latency(&tree, |round| sleeper().with_id(format!("local{round}"))).await?;
    let remote_start = start_latency(&tree, |round| {
        node.child_spec(RemoteChild::new(format!("remote{round}"), "sleeper").on(["b"]))
    })
    .await?;
    tree.start_child(sleeper().with_id("local")).await?;
    tree.start_child(node.child_spec(RemoteChild::new("remote", "sleeper").on(["b"])))
        .await?;
    let local_restart = restart_latency(&tree, "local").await?;
    let remote_restart = restart_latency(&tree, "remote").await?;

    let mut detections = Vec::with_capacity(DETECTIONS);
    for round in 0..DETECTIONS {
        let name = format!("victim{round}");
        let victim = spawn_node(&name, free_port()?, port)?;
        wait_for(
            &node,
            &mut events,
            |event| matches!(event, ClusterEvent::NodeUp { node, .. } if *node == name),
        )
        .await?;
        let killed = Instant::now();
        drop(victim);
        wait_for(
            &node,
            &mut events,
            |event| matches!(event, ClusterEvent::NodeDown { node, .. } if *node == name),
        )
        .await?;
        detections.push(killed.elapsed());
    }

    let mut out = std::io::stdout().lock();
    writeln!(
        out,
        "| operation ({ROUNDS} rounds) | local median | remote median | remote p99 | remote / local |"
    )?;
    writeln!(out, "|---|---|---|---|---|")?;
    row(&mut out, "start_child", &local_start, &remote_start)?;
    row(&mut out, "restart after a kill", &local_restart, &remote_restart)?;
    writeln!(out)?;
    writeln!(
        out,
        "| failure detection ({DETECTIONS} SIGKILLs) | min | median | max | configured bound |"
    )?;
    writeln!(out, "|---|---|---|---|---|")?;
    let mut sorted = detections.clone();
    sorted.sort();
    writeln!(
        out,
        "| time to declare a killed node down | {} ms | {} ms | {} ms | {} ms |",
        sorted.first().map_or(0, Duration::as_millis),
        median(detections).as_millis(),
        sorted.last().map_or(0, Duration::as_millis),
        bound.as_millis(),
    )?;
    drop(out);
    tree.stop(Duration::from_secs(10)).await;
    node.stop().await;
    Ok(())
}
