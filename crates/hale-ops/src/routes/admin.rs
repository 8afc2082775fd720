//! `POST /admin/{restart,terminate,delete}`: act on one child.

use std::sync::Arc;

use axum::extract::State;
use axum::extract::rejection::JsonRejection;
use axum::{Extension, Json};
use serde::Deserialize;

use crate::auth::Actor;
use crate::error::ApiError;
use crate::ops::Inner;
use crate::source::ChildAction;

/// The body: the child's path, as `"root/a/b"` or `["root", "a", "b"]`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct Target {
    path: PathSpec,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum PathSpec {
    Text(String),
    Segments(Vec<String>),
}

impl PathSpec {
    fn segments(self) -> Vec<String> {
        match self {
            Self::Text(text) if text.trim_matches('/').is_empty() => Vec::new(),
            Self::Text(text) => text.trim_matches('/').split('/').map(str::to_owned).collect(),
            Self::Segments(segments) => segments,
        }
    }
}

pub(super) async fn restart(
    state: State<Arc<Inner>>,
    actor: Extension<Actor>,
    body: Result<Json<Target>, JsonRejection>,
) -> Result<Json<serde_json::Value>, ApiError> {
    act(state, actor, body, ChildAction::Restart).await
}

pub(super) async fn terminate(
    state: State<Arc<Inner>>,
    actor: Extension<Actor>,
    body: Result<Json<Target>, JsonRejection>,
) -> Result<Json<serde_json::Value>, ApiError> {
    act(state, actor, body, ChildAction::Terminate).await
}

pub(super) async fn delete(
    state: State<Arc<Inner>>,
    actor: Extension<Actor>,
    body: Result<Json<Target>, JsonRejection>,
) -> Result<Json<serde_json::Value>, ApiError> {
    act(state, actor, body, ChildAction::Delete).await
}

async fn act(
    State(inner): State<Arc<Inner>>,
    Extension(Actor(actor)): Extension<Actor>,
    body: Result<Json<Target>, JsonRejection>,
    action: ChildAction,
) -> Result<Json<serde_json::Value>, ApiError> {
    let Json(target) = body?;
    let segments = target.path.segments();
    let path = segments.join("/");
    let result = inner.source.act(&segments, action).await;
    let outcome = super::workflows::outcome_text(&result);
    inner
        .metrics
        .admin_action(action.as_str(), outcome_class(&result));
    let audit_error = inner.audit(&actor, action.as_str(), &path, &outcome).await;
    let done = result?;
    Ok(Json(serde_json::json!({
        "path": path,
        "action": action.as_str(),
        "result": done,
        "by": actor,
        "audit": super::workflows::audit_text(audit_error),
    })))
}

/// `ok`, `refused` (a 4xx answer) or `failed`, for the admin-action counter.
pub(super) fn outcome_class<T>(result: &Result<T, ApiError>) -> &'static str {
    match result {
        Ok(_) => "ok",
        Err(error) if error.status().is_client_error() => "refused",
        Err(_) => "failed",
    }
}
