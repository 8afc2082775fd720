//! The checks behind `/livez` and `/readyz`, and how each of hale-core's
//! health levels maps onto them.
//!
//! | level (hale-core) | where it shows | check |
//! |---|---|---|
//! | alive: the root supervisor runs and answers | `/livez` and `/readyz` | `supervisor` |
//! | observed: hale-ops' own event feed runs | `/livez` | `event-feed` |
//! | progressing: no child hung or waiting for a restart | `/readyz` | `healing` |
//! | ready: every node's own word (`Heartbeat::set_ready`) | `/readyz` | `ready` |
//! | functional: every functional probe passes (no `degraded` node) | `/readyz` | `probes` |
//! | dependencies: no circuit breaker open | `/readyz` | `breakers` |
//!
//! Liveness never looks at a dependency or a child: a crashing child is the
//! tree's job to heal, and a restart of the whole process by the platform
//! would not help it. `/livez` fails only when the root supervisor is gone
//! or stops answering, or when hale-ops' own event feed has stopped.

use crate::ops::Inner;
use crate::snapshot::{State, TreeSnapshot, declares_unready};

/// How many offending nodes a failing check names.
const NAMED: usize = 5;

/// One check's result.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Check {
    pub(crate) name: &'static str,
    pub(crate) result: Result<(), String>,
}

/// The liveness checks, by name.
pub(crate) const LIVENESS: [&str; 2] = ["supervisor", "event-feed"];
/// The readiness checks, by name.
pub(crate) const READINESS: [&str; 5] = ["supervisor", "healing", "ready", "probes", "breakers"];

/// Runs the liveness checks.
pub(crate) async fn liveness(inner: &Inner) -> Vec<Check> {
    let supervisor = if !inner.source.root_running() {
        Err("the root supervisor is not running".to_owned())
    } else {
        inner.source.answers().await
    };
    let feed = if inner.feed_task.is_running() {
        Ok(())
    } else {
        Err("hale-ops' event feed has stopped (the tree's event bus closed)".to_owned())
    };
    vec![
        Check {
            name: "supervisor",
            result: supervisor,
        },
        Check {
            name: "event-feed",
            result: feed,
        },
    ]
}

/// Runs the readiness checks on one snapshot.
pub(crate) async fn readiness(inner: &Inner) -> Vec<Check> {
    let snapshot = match inner.snapshot().await {
        Ok(snapshot) => snapshot,
        Err(error) => {
            let unknown = || Err("unknown: the tree did not answer".to_owned());
            return READINESS
                .iter()
                .map(|name| Check {
                    name,
                    result: if *name == "supervisor" {
                        Err(error.to_string())
                    } else {
                        unknown()
                    },
                })
                .collect();
        }
    };
    vec![
        Check {
            name: "supervisor",
            result: Ok(()),
        },
        Check {
            name: "healing",
            result: nodes_where(&snapshot, "hung or waiting for a restart", |node| {
                matches!(node.state, State::Hung | State::Restarting)
            }),
        },
        Check {
            name: "ready",
            result: nodes_where(&snapshot, "running but not ready", |node| {
                declares_unready(node.ready, node.state)
            }),
        },
        Check {
            name: "probes",
            result: nodes_where(&snapshot, "degraded (functional probe failing)", |node| {
                node.state == State::Degraded
            }),
        },
        Check {
            name: "breakers",
            result: {
                let open: Vec<_> = snapshot
                    .breakers
                    .iter()
                    .filter(|breaker| breaker.is_open())
                    .map(|breaker| breaker.policy.as_str())
                    .collect();
                if open.is_empty() {
                    Ok(())
                } else {
                    Err(format!("circuit open: {}", open.join(", ")))
                }
            },
        },
    ]
}

fn nodes_where(
    snapshot: &TreeSnapshot,
    what: &str,
    bad: impl Fn(&crate::snapshot::TreeNode) -> bool,
) -> Result<(), String> {
    let offending: Vec<&str> = snapshot
        .nodes()
        .into_iter()
        .filter(|node| bad(node))
        .map(|node| node.path.as_str())
        .collect();
    if offending.is_empty() {
        return Ok(());
    }
    let named = offending[..offending.len().min(NAMED)].join(", ");
    let more = offending.len().saturating_sub(NAMED);
    Err(if more > 0 {
        format!("{} nodes {what}: {named} and {more} more", offending.len())
    } else {
        format!("{what}: {named}")
    })
}

/// The body and status of a `/livez` or `/readyz` answer, in Kubernetes'
/// format: `ok` when all pass and `verbose` is off; otherwise one line per
/// check (`[+]name ok`, `[-]name failed: reason`) and a closing line.
pub(crate) fn report(endpoint: &str, checks: &[Check], verbose: bool) -> (bool, String) {
    let passed = checks.iter().all(|check| check.result.is_ok());
    if passed && !verbose {
        return (true, "ok".to_owned());
    }
    let mut body = String::new();
    for check in checks {
        match &check.result {
            Ok(()) => body.push_str(&format!("[+]{} ok\n", check.name)),
            Err(reason) => body.push_str(&format!("[-]{} failed: {reason}\n", check.name)),
        }
    }
    body.push_str(&format!(
        "{endpoint} check {}\n",
        if passed { "passed" } else { "failed" }
    ));
    (passed, body)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reports_follow_kubernetes_format() {
        let checks = vec![
            Check {
                name: "supervisor",
                result: Ok(()),
            },
            Check {
                name: "probes",
                result: Err("degraded: root/a".to_owned()),
            },
        ];
        assert_eq!(report("livez", &checks[..1], false), (true, "ok".to_owned()));
        assert_eq!(
            report("livez", &checks[..1], true),
            (true, "[+]supervisor ok\nlivez check passed\n".to_owned())
        );
        assert_eq!(
            report("readyz", &checks, false),
            (
                false,
                "[+]supervisor ok\n[-]probes failed: degraded: root/a\nreadyz check failed\n".to_owned()
            )
        );
    }
}
