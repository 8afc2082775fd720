//! hale-durable's engine as the surface's workflow store (feature
//! `durable`): the one place hale-ops touches hale-durable's API.
//!
//! [`OpsBuilder::durable`](crate::OpsBuilder::durable) plugs a
//! [`Durable`] in. Its dead letters and waiting approval gates then show on
//! `/dead-letters` and `/approvals`; replays and decisions go through the
//! engine (which resumes the runs in this process); every admin action,
//! on the tree too, is appended to the engine's hash-chained audit log with
//! the name of the token that asked for it; and a task reads the engine's
//! bounded event stream into the `hale_durable_*` metrics.
//!
//! Ids, as the routes and `hale` take them:
//!
//! - a dead letter is its number in the store (`7`);
//! - an approval gate is its workflow's id and the gate's position in the
//!   run, `WORKFLOW:SEQ` (`invoice-9:2`): unambiguous whatever the workflow
//!   id holds, since the part after the last `:` is a number.

use std::sync::Arc;
use std::time::Duration;

use futures::future::BoxFuture;
use hale_durable::{
    ApprovalRecord, ApprovalStatus, AuditDraft, CompensationRecord, Durable, DurableError, DurableEvents,
    EventsError, StepRecord, StepStatus, WriteOp,
};
use serde::Deserialize;

use crate::feed::FeedTask;
use crate::metrics::OpsMetrics;
use crate::workflows::{
    AuditEntry, DeadLetter, DeadLetterSummary, Decision, PendingApproval, WorkflowCounts, WorkflowError,
    Workflows,
};

/// The most dead letters or approval gates one listing returns (the
/// oldest first); `/metrics` counts them all.
pub(crate) const LIST_LIMIT: usize = 1_000;

/// How often the durable feed folds buffered commit-duration samples into
/// their buckets when nobody scrapes (checkpoints can come by the ten
/// thousand a second).
const UPKEEP_EVERY: Duration = Duration::from_secs(1);

/// The audit-log action of an admin action: `admin_` and its name
/// (`admin_replay`, `admin_approve`, `admin_restart`, ...).
pub(crate) const AUDIT_ACTION_PREFIX: &str = "admin_";

/// Starts the task that reads the engine's events into the durable
/// metrics. It ends when the engine is gone; events it falls too far
/// behind to read are counted in `hale_ops_events_missed_total`.
pub(crate) fn spawn_feed(mut events: DurableEvents, metrics: Arc<OpsMetrics>) -> FeedTask {
    // Registered now, so the counters show (at zero) from the first scrape.
    let counters = metrics.durable();
    FeedTask::new(tokio::spawn(async move {
        let mut upkeep = tokio::time::interval(UPKEEP_EVERY);
        upkeep.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                received = events.recv() => match received {
                    Ok(event) => counters.record(&event.kind),
                    Err(EventsError::Lagged(missed)) => metrics.missed(missed),
                    Err(EventsError::Closed) => break,
                },
                _ = upkeep.tick() => metrics.upkeep(),
            }
        }
        tracing::debug!(target: "hale::ops", "the durable engine is gone; its feed stops");
    }))
}

/// The steps, compensations and gates a dead letter keeps, as the engine
/// wrote them.
#[derive(Deserialize)]
struct Snapshot {
    #[serde(default)]
    steps: Vec<StepRecord>,
    #[serde(default)]
    compensations: Vec<CompensationRecord>,
    #[serde(default)]
    approvals: Vec<ApprovalRecord>,
}

fn snapshot(letter: &hale_durable::DeadLetter) -> Result<Snapshot, String> {
    serde_json::from_str(&letter.history).map_err(|error| format!("its history is unreadable: {error}"))
}

fn unsigned(ms: i64) -> u64 {
    u64::try_from(ms).unwrap_or(0)
}

/// The failed step (or failed compensation, or rejecting gate) of a dead
/// letter, and the attempts it made.
fn failed_step(snapshot: Option<&Snapshot>) -> (Option<String>, u32) {
    let Some(snapshot) = snapshot else {
        return (None, 0);
    };
    let attempts = |attempts: i64| u32::try_from(attempts).unwrap_or(if attempts < 0 { 0 } else { u32::MAX });
    if let Some(undo) = snapshot
        .compensations
        .iter()
        .rev()
        .find(|undo| undo.status == StepStatus::Failed)
    {
        return (Some(undo.name.clone()), attempts(undo.attempts));
    }
    if let Some(step) = snapshot
        .steps
        .iter()
        .rev()
        .find(|step| step.status == StepStatus::Failed)
    {
        return (Some(step.name.clone()), attempts(step.attempts));
    }
    // A rejection at a gate fails the run without a failed step.
    match snapshot
        .approvals
        .iter()
        .rev()
        .find(|gate| gate.status == ApprovalStatus::Rejected)
    {
        Some(gate) => (Some(gate.gate.clone()), 0),
        None => (None, 0),
    }
}

fn summary(letter: &hale_durable::DeadLetter, snapshot: Option<&Snapshot>) -> DeadLetterSummary {
    let (step, attempts) = failed_step(snapshot);
    DeadLetterSummary {
        id: letter.id.to_string(),
        workflow: letter.workflow_id.clone(),
        step,
        error: letter.error.clone(),
        attempts,
        at_ms: unsigned(letter.at_ms),
    }
}

/// What happened to a dead letter's run, one line each: its steps and
/// gates in the order they ran, its compensations in the order they were
/// written, then its dead-lettering and replay.
fn history_lines(letter: &hale_durable::DeadLetter, snapshot: Result<&Snapshot, &String>) -> Vec<String> {
    let mut lines = Vec::new();
    match snapshot {
        Ok(snapshot) => {
            let mut sequence: Vec<(i64, String)> = snapshot
                .steps
                .iter()
                .map(|step| {
                    let mut line = format!(
                        "step {} `{}` ({}): {}, {} attempt{}",
                        step.seq,
                        step.name,
                        step.kind,
                        step.status,
                        step.attempts,
                        if step.attempts == 1 { "" } else { "s" }
                    );
                    if let Some(key) = &step.key {
                        line.push_str(&format!(", key {key}"));
                    }
                    if let Some(error) = &step.error {
                        line.push_str(&format!(": {error}"));
                    }
                    (step.seq, line)
                })
                .collect();
            sequence.extend(snapshot.approvals.iter().map(|gate| {
                let mut line = format!("gate {} `{}`: {}", gate.seq, gate.gate, gate.status);
                if let Some(by) = &gate.decided_by {
                    line.push_str(&format!(" by {by}"));
                }
                if let Some(note) = gate.note.as_ref().filter(|note| !note.is_empty()) {
                    line.push_str(&format!(" ({note})"));
                }
                if gate.escalated {
                    line.push_str(", escalated");
                }
                (gate.seq, line)
            }));
            sequence.sort_by_key(|(seq, _)| *seq);
            lines.extend(sequence.into_iter().map(|(_, line)| line));
            lines.extend(snapshot.compensations.iter().map(|undo| {
                let mut line = format!(
                    "compensation `{}` of step {}: {}, {} attempt{}",
                    undo.name,
                    undo.step_seq,
                    undo.status,
                    undo.attempts,
                    if undo.attempts == 1 { "" } else { "s" }
                );
                if let Some(error) = &undo.error {
                    line.push_str(&format!(": {error}"));
                }
                line
            }));
        }
        Err(error) => lines.push(error.clone()),
    }
    lines.push(format!("dead-lettered at {} ms: {}", letter.at_ms, letter.error));
    if let Some(at) = letter.replayed_ms {
        lines.push(format!(
            "replayed at {at} ms by {}",
            letter.replayed_by.as_deref().unwrap_or("?")
        ));
    }
    lines
}

fn dead_letter_number(id: &str) -> Result<i64, WorkflowError> {
    id.parse::<i64>().map_err(|_| {
        WorkflowError::NotFound(format!(
            "no dead letter `{id}`: dead letters are numbered, as `hale dlq list` shows"
        ))
    })
}

/// `WORKFLOW:SEQ` into its parts.
fn gate_id(id: &str) -> Result<(&str, i64), WorkflowError> {
    id.rsplit_once(':')
        .and_then(|(workflow, seq)| Some((workflow, seq.parse::<i64>().ok()?)))
        .filter(|(workflow, _)| !workflow.is_empty())
        .ok_or_else(|| {
            WorkflowError::NotFound(format!(
                "no approval `{id}`: approvals are named WORKFLOW:SEQ, as `hale approvals` shows"
            ))
        })
}

fn store_error(error: impl std::fmt::Display) -> WorkflowError {
    WorkflowError::Store(error.to_string())
}

/// What the gate asks, in words: a JSON string without its quotes, any
/// other value as JSON.
fn request_text(request: &str) -> String {
    match serde_json::from_str::<serde_json::Value>(request) {
        Ok(serde_json::Value::String(text)) => text,
        _ => request.to_owned(),
    }
}

/// Why a replay found no dead letter to replay: none by that number, or
/// one replayed already.
async fn why_no_replay(durable: &Durable, number: i64) -> WorkflowError {
    match Durable::dead_letter(durable, number).await {
        Ok(Some(letter)) => match (letter.replayed_ms, letter.replayed_by) {
            (Some(at), by) => WorkflowError::Conflict(format!(
                "dead letter {number} was replayed already, by {} at {at} ms",
                by.as_deref().unwrap_or("?")
            )),
            (None, _) => WorkflowError::Conflict(format!(
                "dead letter {number}: its workflow `{}` is not in a failed state (run again since?)",
                letter.workflow_id
            )),
        },
        Ok(None) => WorkflowError::NotFound(format!("no dead letter {number}")),
        Err(error) => store_error(error),
    }
}

/// The workflow an audited target belongs to, when there is one.
async fn audited_workflow(durable: &Durable, action: &str, target: &str) -> String {
    match action {
        "replay" => match target.parse::<i64>() {
            Ok(number) => Durable::dead_letter(durable, number)
                .await
                .ok()
                .flatten()
                .map(|letter| letter.workflow_id)
                .unwrap_or_default(),
            Err(_) => String::new(),
        },
        "approve" | "reject" => gate_id(target)
            .map(|(workflow, _)| workflow.to_owned())
            .unwrap_or_default(),
        // An action on the tree is about no workflow.
        _ => String::new(),
    }
}

/// hale-durable's engine as the surface's workflow store. Prefer
/// [`OpsBuilder::durable`](crate::OpsBuilder::durable), which also feeds
/// the durable metrics; `OpsBuilder::workflows(Arc::new(durable))` plugs
/// in the store alone.
///
/// The listings hold at most 1,000 entries, the oldest first (`/metrics`
/// counts them all).
/// Replays and decisions resume the run in this process, so the engine must
/// have its workflow registered. An admin action's audit entry goes to the
/// engine's audit log as `admin_ACTION` with `{"actor", "action",
/// "target", "outcome"}` as its detail, under the workflow it concerns (none
/// for an action on the tree).
///
/// # Examples
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// use hale_durable::{Durable, SqliteStore};
/// use hale_ops::Workflows;
///
/// let dir = tempfile::tempdir()?;
/// let durable = Durable::builder(SqliteStore::open(dir.path().join("wf.db")).await?).build().await?;
/// let counts = Workflows::counts(&durable).await?;
/// assert_eq!((counts.dead_letters, counts.pending_approvals), (0, 0));
/// assert!(Workflows::pending_approvals(&durable).await?.is_empty());
/// # Ok(())
/// # }
/// ```
impl Workflows for Durable {
    fn dead_letters(&self) -> BoxFuture<'_, Result<Vec<DeadLetterSummary>, WorkflowError>> {
        Box::pin(async move {
            let letters = Durable::dead_letters(self, LIST_LIMIT)
                .await
                .map_err(store_error)?;
            Ok(letters
                .iter()
                .map(|letter| summary(letter, snapshot(letter).ok().as_ref()))
                .collect())
        })
    }

    fn dead_letter(&self, id: String) -> BoxFuture<'_, Result<DeadLetter, WorkflowError>> {
        Box::pin(async move {
            let number = dead_letter_number(&id)?;
            let letter = Durable::dead_letter(self, number)
                .await
                .map_err(store_error)?
                .ok_or_else(|| WorkflowError::NotFound(format!("no dead letter {number}")))?;
            let snapshot = snapshot(&letter);
            let input = serde_json::from_str(&letter.input)
                .unwrap_or_else(|_| serde_json::Value::String(letter.input.clone()));
            Ok(DeadLetter {
                summary: summary(&letter, snapshot.as_ref().ok()),
                input,
                history: history_lines(&letter, snapshot.as_ref()),
            })
        })
    }

    fn replay(&self, id: String, by: String) -> BoxFuture<'_, Result<String, WorkflowError>> {
        Box::pin(async move {
            let number = dead_letter_number(&id)?;
            match Durable::replay::<serde_json::Value>(self, number, &by).await {
                Ok(run) => Ok(format!(
                    "workflow `{}` runs again from its last checkpoint",
                    run.id()
                )),
                Err(DurableError::NoDeadLetter(_)) => Err(why_no_replay(self, number).await),
                Err(DurableError::NotFound(workflow)) => Err(WorkflowError::Conflict(format!(
                    "dead letter {number}: its workflow `{workflow}` is gone from the store"
                ))),
                Err(error) => Err(store_error(error)),
            }
        })
    }

    fn pending_approvals(&self) -> BoxFuture<'_, Result<Vec<PendingApproval>, WorkflowError>> {
        Box::pin(async move {
            let gates = Durable::pending_approvals(self, LIST_LIMIT)
                .await
                .map_err(store_error)?;
            Ok(gates
                .into_iter()
                .map(|gate| PendingApproval {
                    id: format!("{}:{}", gate.workflow_id, gate.seq),
                    summary: request_text(&gate.request),
                    workflow: gate.workflow_id,
                    step: gate.gate,
                    requested_at_ms: unsigned(gate.requested_ms),
                    deadline_ms: gate.deadline_ms.map(unsigned),
                })
                .collect())
        })
    }

    fn decide(&self, id: String, decision: Decision) -> BoxFuture<'_, Result<(), WorkflowError>> {
        Box::pin(async move {
            let (workflow, seq) = gate_id(&id)?;
            let history = self
                .store()
                .history(workflow)
                .await
                .map_err(store_error)?
                .ok_or_else(|| {
                    WorkflowError::NotFound(format!("no approval `{id}`: no workflow `{workflow}`"))
                })?;
            let gate = history
                .approvals
                .iter()
                .find(|gate| gate.seq == seq)
                .ok_or_else(|| {
                    WorkflowError::NotFound(format!("no approval `{id}`: `{workflow}` has no gate {seq}"))
                })?;
            if gate.status != ApprovalStatus::Waiting {
                return Err(WorkflowError::Conflict(format!(
                    "approval `{id}` is decided already: {} by {}",
                    gate.status,
                    gate.decided_by.as_deref().unwrap_or("?")
                )));
            }
            let verdict = hale_durable::Decision {
                approved: decision.approve,
                by: decision.by,
                note: decision.note.unwrap_or_default(),
            };
            match Durable::decide(self, workflow, &gate.gate, verdict).await {
                Ok(()) => Ok(()),
                Err(DurableError::NoPendingApproval { .. }) => Err(WorkflowError::Conflict(format!(
                    "approval `{id}` was decided by someone else meanwhile"
                ))),
                Err(DurableError::NotFound(_)) => Err(WorkflowError::NotFound(format!(
                    "no approval `{id}`: no workflow `{workflow}`"
                ))),
                Err(error) => Err(store_error(error)),
            }
        })
    }

    fn counts(&self) -> BoxFuture<'_, Result<WorkflowCounts, WorkflowError>> {
        Box::pin(async move {
            let waiting = self.store().waiting_counts().await.map_err(store_error)?;
            Ok(WorkflowCounts {
                dead_letters: unsigned(waiting.dead_letters),
                pending_approvals: unsigned(waiting.approvals),
            })
        })
    }

    fn audit(&self, entry: AuditEntry) -> BoxFuture<'_, Result<(), WorkflowError>> {
        Box::pin(async move {
            let workflow_id = audited_workflow(self, &entry.action, &entry.target).await;
            let draft = AuditDraft {
                at_ms: i64::try_from(entry.at_ms).unwrap_or(i64::MAX),
                workflow_id,
                action: format!("{AUDIT_ACTION_PREFIX}{}", entry.action),
                detail: serde_json::json!({
                    "actor": entry.actor,
                    "action": entry.action,
                    "target": entry.target,
                    "outcome": entry.outcome,
                })
                .to_string(),
            };
            self.store()
                .apply(vec![WriteOp::Audit(draft)])
                .await
                .map(|_| ())
                .map_err(store_error)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gate_ids_split_at_the_last_colon_and_need_a_number() {
        assert_eq!(gate_id("invoice-9:2").ok(), Some(("invoice-9", 2)));
        assert_eq!(gate_id("order:eu:42:3").ok(), Some(("order:eu:42", 3)));
        for bad in ["invoice-9", "invoice-9:pay", ":3", "invoice-9:"] {
            assert!(matches!(gate_id(bad), Err(WorkflowError::NotFound(_))), "{bad}");
        }
    }

    #[test]
    fn a_string_request_loses_its_quotes() {
        assert_eq!(request_text(r#""pay 12,000 EUR""#), "pay 12,000 EUR");
        assert_eq!(request_text(r#"{"cents":1200}"#), r#"{"cents":1200}"#);
        assert_eq!(request_text("not json"), "not json");
    }
}
