//! Driving one run from its store: replay the checkpoints, run what is
//! left, then complete it, or compensate and/or dead-letter it.

use std::collections::HashMap;
use std::sync::Arc;

use crate::audit::action;
use crate::context::{WorkflowContext, attempt_with_retry, audit};
use crate::engine::Engine;
use crate::error::{DurableError, StoreError, WorkflowError};
use crate::events::{DurableEventKind, now_ms};
use crate::handle::Outcome;
use crate::record::{
    CompensationRecord, DeadLetter, History, StepStatus, WorkflowRecord, WorkflowStatus, WriteOp,
};
use crate::workflow::definition_changes;

/// Why a run is being driven.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Reason {
    /// A new run, or one continuing in this process (a decision, a replay,
    /// a join).
    Continue,
    /// A process start found it running.
    Resume,
    /// Its supervisor restarted it after a crash.
    Restart,
}

/// Drives the run of `id` as far as it goes now. An error means the store
/// failed: the caller crashes, and the supervisor's restart resumes it.
pub(crate) async fn drive(engine: &Arc<Engine>, id: &str, reason: Reason) -> Result<(), StoreError> {
    match drive_once(engine, id, reason).await {
        Err(StoreError::Conflict(_)) => {
            // Someone else moved the run on (another process, a decision);
            // report what the store says now.
            if let Some(record) = engine.shared.store.workflow(id).await?
                && let Some(outcome) = Outcome::of(&record)
            {
                engine.deliver(id, outcome);
            }
            Ok(())
        }
        other => other,
    }
}

async fn drive_once(engine: &Arc<Engine>, id: &str, reason: Reason) -> Result<(), StoreError> {
    let shared = &engine.shared;
    let Some(history) = shared.store.history(id).await? else {
        engine.deliver(id, Outcome::NotResumed(DurableError::NotFound(id.to_owned())));
        return Ok(());
    };
    let record = &history.workflow;
    if let Some(outcome) = Outcome::of(record) {
        engine.deliver(id, outcome);
        return Ok(());
    }
    if record.status == WorkflowStatus::Waiting {
        return Ok(());
    }
    let Some(definition) = engine.registry.get(record.name.as_str()).cloned() else {
        let error = DurableError::UnknownWorkflow(record.name.clone());
        shared.events.emit(
            id,
            DurableEventKind::ResumeFailed {
                error: error.to_string(),
            },
        );
        engine.deliver(id, Outcome::NotResumed(error));
        return Ok(());
    };
    let changes = definition_changes(&record.definition, definition.steps());
    if !changes.is_empty() {
        not_resumed(engine, id, changes);
        return Ok(());
    }
    if reason != Reason::Continue {
        let after_crash = reason == Reason::Restart;
        let what = if after_crash {
            action::RESTARTED
        } else {
            action::RESUMED
        };
        let detail = serde_json::json!({"status": record.status, "checkpoints": history.steps.len()});
        shared.commit(id, vec![audit(id, what, detail)], None).await?;
        shared.events.emit(id, DurableEventKind::Resumed { after_crash });
    }
    let mut ctx = WorkflowContext::new(Arc::clone(shared), &history, definition.steps());
    let result = definition.run_json(&mut ctx, &record.input).await;
    match result {
        Ok(output) => {
            let unreached = ctx.unreached();
            if !unreached.is_empty() {
                not_resumed(
                    engine,
                    id,
                    vec![crate::DefinitionChange::Unreached { steps: unreached }],
                );
                return Ok(());
            }
            let ops = vec![WriteOp::SetStatus {
                id: id.to_owned(),
                from: vec![WorkflowStatus::Running],
                status: WorkflowStatus::Completed,
                output: Some(output.clone()),
                error: None,
                at_ms: now_ms(),
            }];
            shared.commit(id, ops, None).await?;
            shared.events.emit(id, DurableEventKind::Completed);
            engine.deliver(id, Outcome::Completed(output));
            Ok(())
        }
        Err(WorkflowError::Waiting { .. }) => Ok(()),
        Err(WorkflowError::Store(error)) => Err(error),
        Err(WorkflowError::DefinitionChanged(changes)) => {
            not_resumed(engine, id, changes);
            Ok(())
        }
        Err(error) => fail(engine, &history, ctx, &error).await,
    }
}

fn not_resumed(engine: &Engine, id: &str, changes: Vec<crate::DefinitionChange>) {
    let error = DurableError::DefinitionChanged {
        id: id.to_owned(),
        changes,
    };
    tracing::error!(target: "hale::durable", workflow = id, %error, "workflow not resumed");
    engine.shared.events.emit(
        id,
        DurableEventKind::ResumeFailed {
            error: error.to_string(),
        },
    );
    engine.deliver(id, Outcome::NotResumed(error));
}

/// The run failed for good with `error`: compensate its done steps if it has
/// compensations, and dead-letter it unless compensation succeeded.
async fn fail(
    engine: &Arc<Engine>,
    history: &History,
    ctx: WorkflowContext,
    error: &WorkflowError,
) -> Result<(), StoreError> {
    debug_assert!(error.is_final());
    let shared = &engine.shared;
    let id = history.workflow.id.as_str();
    let error_text = error.to_string();
    if ctx.compensations.is_empty() {
        return dead_letter(engine, id, WorkflowStatus::Failed, &error_text, Vec::new()).await;
    }
    if history.workflow.status != WorkflowStatus::Compensating {
        let steps: Vec<&str> = ctx.compensations.iter().rev().map(|c| c.step.as_str()).collect();
        let ops = vec![
            WriteOp::SetStatus {
                id: id.to_owned(),
                from: vec![WorkflowStatus::Running],
                status: WorkflowStatus::Compensating,
                output: None,
                error: Some(error_text.clone()),
                at_ms: now_ms(),
            },
            audit(
                id,
                action::COMPENSATION_STARTED,
                serde_json::json!({"error": error_text, "order": steps}),
            ),
        ];
        shared.commit(id, ops, None).await?;
        shared.events.emit(
            id,
            DurableEventKind::CompensationStarted {
                error: error_text.clone(),
            },
        );
    }
    let recorded: HashMap<i64, &CompensationRecord> =
        history.compensations.iter().map(|c| (c.step_seq, c)).collect();
    let mut failure = None;
    for compensation in ctx.compensations.iter().rev() {
        let before = recorded.get(&compensation.step_seq);
        if before.is_some_and(|c| c.status == StepStatus::Done) {
            continue;
        }
        let resumed = before.is_some_and(|c| c.status == StepStatus::Intent);
        let row = |status, error: Option<String>, attempts: i64| CompensationRecord {
            workflow_id: id.to_owned(),
            step_seq: compensation.step_seq,
            name: compensation.name.clone(),
            status,
            error,
            key: compensation.key.clone(),
            attempts,
            at_ms: now_ms(),
        };
        if !resumed {
            shared
                .commit(
                    id,
                    vec![WriteOp::PutCompensation(row(StepStatus::Intent, None, 0))],
                    None,
                )
                .await?;
        }
        let policy = compensation.retry.as_ref().unwrap_or(&shared.compensation_retry);
        let mut attempts = 0u32;
        let result = attempt_with_retry(policy, &mut attempts, |attempt| {
            (compensation.run)(crate::StepInfo {
                workflow_id: id.to_owned(),
                key: compensation.key.clone(),
                attempt,
                resumed,
            })
        })
        .await;
        let attempts = i64::from(attempts);
        match result {
            Ok(()) => {
                let detail = serde_json::json!({"step": compensation.step, "seq": compensation.step_seq, "compensation": compensation.name, "key": compensation.key});
                let ops = vec![
                    WriteOp::PutCompensation(row(StepStatus::Done, None, attempts)),
                    audit(id, action::COMPENSATED_STEP, detail),
                ];
                shared
                    .commit(id, ops, Some((&compensation.name, compensation.step_seq)))
                    .await?;
            }
            Err(step_error) => {
                let ops = vec![WriteOp::PutCompensation(row(
                    StepStatus::Failed,
                    Some(step_error.message.clone()),
                    attempts,
                ))];
                shared.commit(id, ops, None).await?;
                failure = Some(format!(
                    "{error_text}; compensation `{}` of step `{}` failed: {step_error}",
                    compensation.name, compensation.step
                ));
                break;
            }
        }
    }
    match failure {
        None => {
            let ops = vec![
                WriteOp::SetStatus {
                    id: id.to_owned(),
                    from: vec![WorkflowStatus::Compensating],
                    status: WorkflowStatus::Compensated,
                    output: None,
                    error: Some(error_text.clone()),
                    at_ms: now_ms(),
                },
                audit(id, action::COMPENSATED, serde_json::json!({"error": error_text})),
            ];
            shared.commit(id, ops, None).await?;
            shared
                .events
                .emit(id, DurableEventKind::CompensationFinished { ok: true });
            engine.deliver(
                id,
                Outcome::Ended {
                    status: WorkflowStatus::Compensated,
                    error: error_text,
                },
            );
            Ok(())
        }
        Some(failure) => {
            let escalate = audit(
                id,
                action::COMPENSATION_FAILED,
                serde_json::json!({"error": failure}),
            );
            shared
                .events
                .emit(id, DurableEventKind::CompensationFinished { ok: false });
            tracing::error!(target: "hale::durable", workflow = id, error = %failure, "compensation failed: escalated");
            dead_letter(
                engine,
                id,
                WorkflowStatus::CompensationFailed,
                &failure,
                vec![escalate],
            )
            .await
        }
    }
}

/// Ends the run in `status` and stores its dead letter, atomically.
pub(crate) async fn dead_letter(
    engine: &Arc<Engine>,
    id: &str,
    status: WorkflowStatus,
    error: &str,
    mut extra: Vec<WriteOp>,
) -> Result<(), StoreError> {
    let shared = &engine.shared;
    let Some(history) = shared.store.history(id).await? else {
        return Ok(());
    };
    let record: &WorkflowRecord = &history.workflow;
    let snapshot = serde_json::json!({
        "steps": history.steps,
        "compensations": history.compensations,
        "approvals": history.approvals,
    });
    let now = now_ms();
    let mut ops = vec![
        WriteOp::SetStatus {
            id: id.to_owned(),
            from: vec![WorkflowStatus::Running, WorkflowStatus::Compensating],
            status,
            output: None,
            error: Some(error.to_owned()),
            at_ms: now,
        },
        WriteOp::AddDeadLetter(DeadLetter {
            id: 0,
            workflow_id: id.to_owned(),
            workflow_name: record.name.clone(),
            input: record.input.clone(),
            error: error.to_owned(),
            history: snapshot.to_string(),
            at_ms: now,
            replayed_ms: None,
            replayed_by: None,
        }),
    ];
    ops.append(&mut extra);
    ops.push(audit(
        id,
        action::DEAD_LETTERED,
        serde_json::json!({"status": status, "error": error}),
    ));
    shared.commit(id, ops, None).await?;
    shared.events.emit(
        id,
        DurableEventKind::DeadLettered {
            error: error.to_owned(),
        },
    );
    engine.deliver(
        id,
        Outcome::Ended {
            status,
            error: error.to_owned(),
        },
    );
    Ok(())
}
