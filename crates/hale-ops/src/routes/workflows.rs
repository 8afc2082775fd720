//! The plugged workflow store's routes: dead letters and approval gates.

use std::future::Future;
use std::sync::Arc;

use axum::extract::rejection::JsonRejection;
use axum::extract::{Path, State};
use axum::{Extension, Json};
use serde::Deserialize;

use super::admin::outcome_class;
use crate::auth::Actor;
use crate::error::ApiError;
use crate::ops::Inner;
use crate::workflows::{DeadLetter, DeadLetterSummary, Decision, PendingApproval, WorkflowError, Workflows};

/// The longest id accepted in a route.
const MAX_ID_LEN: usize = 256;

fn store(inner: &Inner) -> Result<&Arc<dyn Workflows>, ApiError> {
    inner.workflows.as_ref().ok_or_else(|| {
        ApiError::NotPlugged(
            "this service has no workflow store plugged in (OpsBuilder::workflows)".to_owned(),
        )
    })
}

fn checked_id(id: &str) -> Result<(), ApiError> {
    if id.is_empty() || id.len() > MAX_ID_LEN || id.chars().any(char::is_control) {
        return Err(ApiError::BadRequest(format!(
            "an id is 1 to {MAX_ID_LEN} printable characters"
        )));
    }
    Ok(())
}

/// Runs a store call under the call timeout and maps its errors.
async fn call<T>(
    inner: &Inner,
    future: impl Future<Output = Result<T, WorkflowError>>,
) -> Result<T, ApiError> {
    match tokio::time::timeout(inner.call_timeout, future).await {
        Ok(Ok(value)) => Ok(value),
        Ok(Err(WorkflowError::NotFound(message))) => Err(ApiError::NotFound(message)),
        Ok(Err(WorkflowError::Conflict(message))) => Err(ApiError::Conflict(message)),
        Ok(Err(error)) => Err(ApiError::Unavailable(error.to_string())),
        Err(_) => Err(ApiError::Unavailable(format!(
            "the workflow store did not answer within {} ms",
            inner.call_timeout.as_millis()
        ))),
    }
}

pub(super) async fn list(State(inner): State<Arc<Inner>>) -> Result<Json<Vec<DeadLetterSummary>>, ApiError> {
    let store = store(&inner)?;
    call(&inner, store.dead_letters()).await.map(Json)
}

pub(super) async fn show(
    State(inner): State<Arc<Inner>>,
    Path(id): Path<String>,
) -> Result<Json<DeadLetter>, ApiError> {
    checked_id(&id)?;
    let store = store(&inner)?;
    call(&inner, store.dead_letter(id)).await.map(Json)
}

pub(super) async fn pending(State(inner): State<Arc<Inner>>) -> Result<Json<Vec<PendingApproval>>, ApiError> {
    let store = store(&inner)?;
    call(&inner, store.pending_approvals()).await.map(Json)
}

pub(super) async fn replay(
    State(inner): State<Arc<Inner>>,
    Extension(Actor(actor)): Extension<Actor>,
    Path(id): Path<String>,
) -> Result<Json<serde_json::Value>, ApiError> {
    checked_id(&id)?;
    let store = store(&inner)?;
    let result = call(&inner, store.replay(id.clone(), actor.clone())).await;
    let outcome = outcome_text(&result);
    inner.metrics.admin_action("replay", outcome_class(&result));
    let audit_error = inner.audit(&actor, "replay", &id, &outcome).await;
    let detail = result?;
    Ok(Json(serde_json::json!({
        "id": id,
        "action": "replay",
        "result": detail,
        "by": actor,
        "audit": audit_text(audit_error),
    })))
}

/// The body of a decision.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct DecisionBody {
    decision: Verdict,
    #[serde(default)]
    note: Option<String>,
}

#[derive(Clone, Copy, Deserialize)]
#[serde(rename_all = "snake_case")]
enum Verdict {
    Approve,
    Reject,
}

/// The longest note accepted with a decision, in bytes.
const MAX_NOTE_LEN: usize = 4_096;

pub(super) async fn decide(
    State(inner): State<Arc<Inner>>,
    Extension(Actor(actor)): Extension<Actor>,
    Path(id): Path<String>,
    body: Result<Json<DecisionBody>, JsonRejection>,
) -> Result<Json<serde_json::Value>, ApiError> {
    checked_id(&id)?;
    let Json(body) = body?;
    if body.note.as_ref().is_some_and(|note| note.len() > MAX_NOTE_LEN) {
        return Err(ApiError::BadRequest(format!(
            "the note is longer than {MAX_NOTE_LEN} bytes"
        )));
    }
    let store = store(&inner)?;
    let action = match body.decision {
        Verdict::Approve => "approve",
        Verdict::Reject => "reject",
    };
    let decision = Decision {
        approve: matches!(body.decision, Verdict::Approve),
        by: actor.clone(),
        note: body.note,
    };
    let result = call(&inner, store.decide(id.clone(), decision)).await;
    let outcome = outcome_text(&result);
    inner.metrics.admin_action(action, outcome_class(&result));
    let audit_error = inner.audit(&actor, action, &id, &outcome).await;
    result?;
    Ok(Json(serde_json::json!({
        "id": id,
        "action": action,
        "by": actor,
        "audit": audit_text(audit_error),
    })))
}

pub(super) fn outcome_text<T>(result: &Result<T, ApiError>) -> String {
    match result {
        Ok(_) => "ok".to_owned(),
        Err(error) if error.status().is_client_error() => format!("refused: {error}"),
        Err(error) => format!("failed: {error}"),
    }
}

pub(super) fn audit_text(error: Option<String>) -> String {
    error.map_or_else(|| "written".to_owned(), |error| format!("failed: {error}"))
}
