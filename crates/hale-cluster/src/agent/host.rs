//! The host's side: children this node runs for owners on other nodes.
//!
//! Each runs under the node's hosting supervisor (a hale-core supervisor)
//! as a temporary child, so the host stops and kills it by its spec's rules
//! but never restarts it: its owner's supervisor decides that. The host
//! reports every exit with the incarnation's generation, and kills an
//! incarnation when its owner can no longer vouch for it (fencing).

use std::collections::HashMap;

use hale_core::{ExitReason, Restart, StartedChild};
use ractor::ActorCell;
use tokio::time::Instant;

use super::AgentState;
use crate::agent_msg::{AgentMsg, HostedInfo, Local};
use crate::events::{ClusterEvent, FenceCause};
use crate::node_id::NodeId;
use crate::wire::{self, Incarnation, Wire};

enum Phase {
    /// The start function runs (in a task).
    Starting,
    Running(ActorCell),
    /// The hosting supervisor is stopping it for its owner.
    Stopping,
}

struct HostedChild {
    owner: NodeId,
    key: String,
    generation: u64,
    phase: Phase,
}

/// The hosted children, by their id under the hosting supervisor.
#[derive(Default)]
pub(crate) struct Host {
    children: HashMap<String, HostedChild>,
}

impl Host {
    fn find(&self, owner: &str, key: &str) -> Option<(&String, &HostedChild)> {
        self.children
            .iter()
            .find(|(_, child)| child.owner.name == owner && child.key == key)
    }

    pub(crate) fn info(&self) -> Vec<HostedInfo> {
        let mut info: Vec<HostedInfo> = self
            .children
            .values()
            .map(|child| HostedInfo {
                owner: child.owner.clone(),
                key: child.key.clone(),
                generation: child.generation,
                running: matches!(child.phase, Phase::Running(_)),
            })
            .collect();
        info.sort_by(|a, b| (&a.owner.name, &a.key).cmp(&(&b.owner.name, &b.key)));
        info
    }
}

/// The id of a hosted incarnation under the hosting supervisor: unique per
/// owner, key and generation, and one path segment.
fn child_id(owner: &str, key: &str, generation: u64) -> String {
    format!("{owner}:{}#{generation}", key.replace('/', "."))
}

impl AgentState {
    pub(super) fn host_start(&mut self, owner: NodeId, key: String, generation: u64, spec: String) {
        if let Some((id, existing)) = self.host.find(&owner.name, &key) {
            let (id, existing_generation) = (id.clone(), existing.generation);
            // Same owner run: an earlier run's children were fenced when the
            // new run was first heard from.
            if existing_generation > generation {
                self.send(
                    &owner.name,
                    Wire::StartFailed {
                        key,
                        generation,
                        cause: "a newer incarnation runs here".into(),
                    },
                );
                return;
            }
            if existing_generation == generation {
                // The same start again: answer as before.
                if matches!(existing.phase, Phase::Running(_)) {
                    self.send(&owner.name, Wire::Started { key, generation });
                }
                return;
            }
            self.host_kill_id(&id, FenceCause::Superseded);
        }
        let Some(spec) = self.registry.build(&spec) else {
            self.send(
                &owner.name,
                Wire::StartFailed {
                    key,
                    generation,
                    cause: format!("no spec registered as {spec:?} on {}", self.me.name),
                },
            );
            return;
        };
        let id = child_id(&owner.name, &key, generation);
        let spec = spec.with_id(id.clone()).restart(Restart::Temporary);
        self.host.children.insert(
            id.clone(),
            HostedChild {
                owner,
                key,
                generation,
                phase: Phase::Starting,
            },
        );
        let (agent, hosting) = (self.myself.clone(), self.hosting.clone());
        self.tasks.retain(|task| !task.is_finished());
        self.tasks.push(tokio::spawn(async move {
            let result = match hosting.start_child(spec).await {
                Ok(StartedChild::Started(actor)) => Ok(Some(actor)),
                Ok(_) => Ok(None),
                Err(error) => Err(wire::cut(&error.to_string(), wire::MAX_TEXT)),
            };
            let _ = agent.send_message(AgentMsg::Local(Local::HostStartDone { child_id: id, result }));
        }));
    }

    pub(super) fn host_start_done(&mut self, id: &str, result: Result<Option<ActorCell>, String>) {
        let Some(child) = self.host.children.get_mut(id) else {
            // Fenced while starting: it must not run.
            if let Ok(Some(actor)) = result {
                actor.kill();
            }
            return;
        };
        let (owner, key, generation) = (child.owner.name.clone(), child.key.clone(), child.generation);
        match result {
            Ok(Some(actor)) => {
                child.phase = Phase::Running(actor);
                self.bus.emit(ClusterEvent::Hosted {
                    owner: owner.clone(),
                    key: key.clone(),
                    generation,
                });
                self.send(&owner, Wire::Started { key, generation });
            }
            Ok(None) => {
                self.host.children.remove(id);
                self.send(&owner, Wire::Ignored { key, generation });
            }
            Err(cause) => {
                self.host.children.remove(id);
                self.send(
                    &owner,
                    Wire::StartFailed {
                        key,
                        generation,
                        cause,
                    },
                );
            }
        }
    }

    pub(super) fn host_stop(&mut self, owner: &NodeId, key: &str, generation: u64) {
        let target = self
            .host
            .find(&owner.name, key)
            .filter(|(_, child)| child.generation == generation && matches!(child.phase, Phase::Running(_)))
            .map(|(id, _)| id.clone());
        let Some(id) = target else {
            self.send(
                &owner.name,
                Wire::Stopped {
                    key: key.to_owned(),
                    generation,
                },
            );
            return;
        };
        if let Some(child) = self.host.children.get_mut(&id) {
            child.phase = Phase::Stopping;
        }
        let (agent, hosting) = (self.myself.clone(), self.hosting.clone());
        self.tasks.retain(|task| !task.is_finished());
        self.tasks.push(tokio::spawn(async move {
            // Not found means it exited meanwhile: stopped all the same.
            let _ = hosting.terminate_child(&id).await;
            let _ = agent.send_message(AgentMsg::Local(Local::HostStopDone { child_id: id }));
        }));
    }

    pub(super) fn host_stop_done(&mut self, id: &str) {
        if let Some(child) = self.host.children.remove(id) {
            self.send(
                &child.owner.name,
                Wire::Stopped {
                    key: child.key,
                    generation: child.generation,
                },
            );
        }
    }

    pub(super) fn host_kill(&mut self, owner: &NodeId, key: &str, generation: u64, cause: FenceCause) {
        let target = self
            .host
            .find(&owner.name, key)
            .filter(|(_, child)| child.generation <= generation)
            .map(|(id, _)| id.clone());
        if let Some(id) = target {
            self.host_kill_id(&id, cause);
        }
    }

    /// Kills a hosted incarnation now and forgets it; its exit is not
    /// reported (its owner already counts it gone).
    pub(super) fn host_kill_id(&mut self, id: &str, cause: FenceCause) {
        let Some(child) = self.host.children.remove(id) else {
            return;
        };
        if let Phase::Running(actor) = &child.phase {
            actor.kill();
        }
        // A child still starting is killed when its start finishes (its
        // entry is gone); one stopping is being stopped already.
        self.bus.emit(ClusterEvent::Fenced {
            owner: child.owner.name,
            key: child.key,
            generation: child.generation,
            cause,
        });
    }

    pub(super) fn host_fence(&mut self, owner: &NodeId, children: Vec<Incarnation>) {
        for listed in children {
            let target = self
                .host
                .find(&owner.name, &listed.key)
                .filter(|(_, child)| child.generation == listed.generation)
                .map(|(id, _)| id.clone());
            if let Some(id) = target {
                self.host_kill_id(&id, FenceCause::OwnerFenced);
            }
        }
    }

    /// The owner `name` ran as `old_epoch` before and restarted: nothing it
    /// started then has an owner any more.
    pub(super) fn fence_owner_run(&mut self, name: &str, old_epoch: u64) {
        let orphans: Vec<String> = self
            .host
            .children
            .iter()
            .filter(|(_, child)| child.owner.name == name && child.owner.epoch == old_epoch)
            .map(|(id, _)| id.clone())
            .collect();
        for id in orphans {
            self.host_kill_id(&id, FenceCause::OwnerRestarted);
        }
    }

    pub(super) fn host_exited(&mut self, id: &str, reason: ExitReason) {
        match self.host.children.get(id).map(|child| &child.phase) {
            Some(Phase::Running(_)) => {}
            // Stopping: the stop answers. Unknown: fenced, or not ours.
            _ => return,
        }
        if let Some(child) = self.host.children.remove(id) {
            self.send(
                &child.owner.name,
                Wire::Exited {
                    key: child.key,
                    generation: child.generation,
                    reason: wire::sendable_reason(reason),
                },
            );
        }
    }

    /// The hosting supervisor's events lagged: every running child it no
    /// longer has exited without a known reason.
    pub(super) fn host_resync(&mut self, running: &[String]) {
        let gone: Vec<String> = self
            .host
            .children
            .iter()
            .filter(|(id, child)| matches!(child.phase, Phase::Running(_)) && !running.contains(id))
            .map(|(id, _)| id.clone())
            .collect();
        for id in gone {
            self.host_exited(
                &id,
                ExitReason::Other("exit not observed: the host's events lagged".into()),
            );
        }
    }

    /// Kills the hosted children whose owner has not acknowledged a
    /// heartbeat of this node within the lease.
    pub(super) fn host_check_leases(&mut self, now: Instant) {
        let expired: Vec<String> = self
            .host
            .children
            .iter()
            .filter(|(_, child)| {
                child.owner.name != self.me.name
                    && !self
                        .peers
                        .lease_holds(&child.owner.name, child.owner.epoch, now, self.config.lease)
            })
            .map(|(id, _)| id.clone())
            .collect();
        for id in expired {
            self.host_kill_id(&id, FenceCause::LeaseExpired);
        }
    }

    /// `owner` came (back) up: tell it what runs here for it, so it can
    /// fence what it no longer counts as its own.
    pub(super) fn host_report_to(&mut self, owner: &NodeId) {
        let children: Vec<Incarnation> = self
            .host
            .children
            .values()
            .filter(|child| child.owner == *owner)
            .map(|child| Incarnation {
                key: child.key.clone(),
                generation: child.generation,
            })
            .collect();
        if !children.is_empty() {
            self.send(&owner.name, Wire::Hosting { children });
        }
    }
}
