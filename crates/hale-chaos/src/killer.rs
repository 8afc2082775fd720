//! Killing a random worker of a tree at intervals.

use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

use hale_core::{ChildKind, ChildPath, SupervisorRef};
use ractor::ActorCell;
use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};
use tokio::task::JoinHandle;

use crate::injector::Injector;
use crate::plan::KillSchedule;

/// Every running worker of the tree under `root`, depth first in start
/// order (a stable order, so a seeded pick is reproducible).
pub async fn running_workers(root: &SupervisorRef) -> Vec<(ChildPath, ActorCell)> {
    let mut found = Vec::new();
    collect(root.clone(), &mut found).await;
    found
}

fn collect<'a>(
    supervisor: SupervisorRef,
    found: &'a mut Vec<(ChildPath, ActorCell)>,
) -> Pin<Box<dyn Future<Output = ()> + Send + 'a>> {
    Box::pin(async move {
        let Ok(children) = supervisor.which_children().await else {
            return;
        };
        for child in children {
            let Some(actor) = child.actor else { continue };
            match child.kind {
                ChildKind::Worker => found.push((child.path, actor)),
                ChildKind::Supervisor => {
                    if let Ok(nested) = supervisor.child_supervisor(&child.id).await {
                        collect(nested, found).await;
                    } else if let Ok(dynamic) = supervisor.child_dynamic_supervisor(&child.id).await
                        && let Ok(rows) = dynamic.which_children().await
                    {
                        for row in rows {
                            if let (Some(actor), ChildKind::Worker) = (row.actor, row.kind) {
                                found.push((row.path, actor));
                            }
                        }
                    }
                }
            }
        }
    })
}

/// Starts killing a random running worker of `root` by `schedule`, with a
/// random source seeded from the plan. Each kill is recorded in the
/// injector's log as a `kill` fault.
pub fn spawn_killer(root: SupervisorRef, schedule: KillSchedule, injector: Injector) -> JoinHandle<()> {
    let mut rng = StdRng::seed_from_u64(injector.plan().seed ^ 0x6B69_6C6C);
    tokio::spawn(async move {
        let mut kills = 0u64;
        loop {
            tokio::time::sleep(Duration::from_millis(schedule.every_ms)).await;
            if schedule.max_count.is_some_and(|max| kills >= max) {
                return;
            }
            let now = injector.elapsed_ms();
            if schedule.window.is_some_and(|window| !window.contains(now)) {
                continue;
            }
            let workers = running_workers(&root).await;
            if workers.is_empty() {
                continue;
            }
            let (path, actor) = &workers[rng.random_range(0..workers.len())];
            injector.record(&path.to_string(), 0, 0, "kill");
            actor.kill();
            kills += 1;
        }
    })
}
