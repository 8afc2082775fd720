//! Nodes as separate OS processes on loopback, driven through the
//! `hale-cluster-node` binary: commands on stdin, JSON events on stdout.
//! Every wait has a bound; a node process is killed when its handle drops.

#![allow(dead_code, clippy::expect_used, clippy::unwrap_used)]

use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc::{Receiver, RecvTimeoutError, channel};
use std::time::{Duration, Instant};

use serde_json::Value;

pub const COOKIE: &str = "hale-test-cookie-0123456789";
/// The bound on any one wait: generous, since debug builds on a loaded
/// machine are slow; the waits end as soon as the event arrives.
pub const WAIT: Duration = Duration::from_secs(30);

/// Free loopback ports (bound, read, released).
pub fn free_ports(count: usize) -> Vec<u16> {
    let listeners: Vec<TcpListener> = (0..count)
        .map(|_| TcpListener::bind("127.0.0.1:0").expect("a free port"))
        .collect();
    listeners
        .iter()
        .map(|listener| listener.local_addr().expect("its address").port())
        .collect()
}

pub struct NodeProc {
    pub name: String,
    pub port: u16,
    child: Child,
    stdin: Option<ChildStdin>,
    lines: Receiver<Value>,
    /// Every line read so far, for assertions over the whole history.
    pub seen: Vec<Value>,
}

/// Fast failure detection for tests: heartbeat 100 ms, down after 1 s,
/// lease 500 ms.
pub const TIMING: [&str; 6] = [
    "--heartbeat-ms",
    "100",
    "--down-after-ms",
    "1000",
    "--lease-ms",
    "500",
];

impl NodeProc {
    pub fn start(name: &str, port: u16, peers: &[u16], extra: &[&str]) -> Self {
        Self::start_with_cookie(name, port, peers, COOKIE, extra)
    }

    pub fn start_with_cookie(name: &str, port: u16, peers: &[u16], cookie: &str, extra: &[&str]) -> Self {
        let mut command = Command::new(env!("CARGO_BIN_EXE_hale-cluster-node"));
        command
            .args(["--name", name, "--port", &port.to_string(), "--cookie", cookie])
            .args(TIMING)
            .args(extra)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null());
        for peer in peers {
            command.args(["--peer", &format!("127.0.0.1:{peer}")]);
        }
        let mut child = command.spawn().expect("the node binary starts");
        let stdout = child.stdout.take().expect("piped stdout");
        let (sender, lines) = channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { return };
                if let Ok(value) = serde_json::from_str::<Value>(&line)
                    && sender.send(value).is_err()
                {
                    return;
                }
            }
        });
        let stdin = child.stdin.take();
        let mut node = Self {
            name: name.to_owned(),
            port,
            child,
            stdin,
            lines,
            seen: Vec::new(),
        };
        node.wait_for("listening", |line| line["event"] == "listening");
        node
    }

    pub fn send(&mut self, command: &str) {
        let stdin = self.stdin.as_mut().expect("the node's stdin is open");
        writeln!(stdin, "{command}").expect("the node reads commands");
        stdin.flush().expect("flushed");
    }

    /// Waits (at most [`WAIT`]) for a line that `matches`; earlier lines
    /// are kept in `seen`.
    pub fn wait_for(&mut self, what: &str, matches: impl Fn(&Value) -> bool) -> Value {
        if let Some(found) = self.seen.iter().find(|line| matches(line)) {
            return found.clone();
        }
        let deadline = Instant::now() + WAIT;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) => {
                    self.seen.push(line.clone());
                    if matches(&line) {
                        return line;
                    }
                }
                Err(RecvTimeoutError::Timeout) => {
                    panic!("{}: no {what} within {WAIT:?}; saw {:#?}", self.name, self.seen)
                }
                Err(RecvTimeoutError::Disconnected) => {
                    panic!("{}: exited before {what}; saw {:#?}", self.name, self.seen)
                }
            }
        }
    }

    /// Like [`wait_for`](Self::wait_for), but only lines read from now on.
    pub fn wait_for_new(&mut self, what: &str, matches: impl Fn(&Value) -> bool) -> Value {
        let already = self.seen.len();
        let deadline = Instant::now() + WAIT;
        loop {
            if let Some(found) = self.seen[already..].iter().find(|line| matches(line)) {
                return found.clone();
            }
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) => self.seen.push(line),
                Err(_) => panic!(
                    "{}: no new {what} within {WAIT:?}; saw {:#?}",
                    self.name, self.seen
                ),
            }
        }
    }

    /// Sends `command` and returns its answer's body.
    pub fn ask(&mut self, command: &str) -> Value {
        let already = self.seen.len();
        self.send(command);
        let cmd = command.split_whitespace().next().unwrap_or_default().to_owned();
        let deadline = Instant::now() + WAIT;
        loop {
            if let Some(found) = self.seen[already..]
                .iter()
                .find(|line| line["kind"] == "answer" && line["cmd"] == cmd.as_str())
            {
                return found["body"].clone();
            }
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) => self.seen.push(line),
                Err(_) => panic!("{}: no answer to {command}", self.name),
            }
        }
    }

    /// SIGKILL: the process ends at once, its children with it.
    pub fn kill(mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    pub fn events(&self, event: &str) -> Vec<&Value> {
        self.seen
            .iter()
            .filter(|line| line["kind"] == "cluster" && line["event"] == event)
            .collect()
    }
}

impl Drop for NodeProc {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub fn cluster_event(event: &'static str) -> impl Fn(&Value) -> bool {
    move |line| line["kind"] == "cluster" && line["event"] == event
}

pub fn node_up(node: &'static str) -> impl Fn(&Value) -> bool {
    move |line| line["kind"] == "cluster" && line["event"] == "node_up" && line["node"] == node
}
