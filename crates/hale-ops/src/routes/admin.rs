//! `POST /admin/{restart,terminate,delete}`: act on one child.

use std::sync::Arc;

use axum::extract::State;
use axum::extract::rejection::JsonRejection;
use axum::http::StatusCode;
use axum::{Extension, Json};
use serde::Deserialize;
use tokio::sync::oneshot;

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
) -> Result<(StatusCode, Json<serde_json::Value>), ApiError> {
    act(state, actor, body, ChildAction::Restart).await
}

pub(super) async fn terminate(
    state: State<Arc<Inner>>,
    actor: Extension<Actor>,
    body: Result<Json<Target>, JsonRejection>,
) -> Result<(StatusCode, Json<serde_json::Value>), ApiError> {
    act(state, actor, body, ChildAction::Terminate).await
}

pub(super) async fn delete(
    state: State<Arc<Inner>>,
    actor: Extension<Actor>,
    body: Result<Json<Target>, JsonRejection>,
) -> Result<(StatusCode, Json<serde_json::Value>), ApiError> {
    act(state, actor, body, ChildAction::Delete).await
}

async fn act(
    State(inner): State<Arc<Inner>>,
    Extension(Actor(actor)): Extension<Actor>,
    body: Result<Json<Target>, JsonRejection>,
    action: ChildAction,
) -> Result<(StatusCode, Json<serde_json::Value>), ApiError> {
    let Json(target) = body?;
    let segments = target.path.segments();
    let path = segments.join("/");
    // The action runs in a task of its own, so a client that gives up (or
    // the call timeout below) never cuts it short; it audits its outcome
    // when it ends.
    let (finished, mut outcome) = oneshot::channel();
    let worker = {
        let inner = Arc::clone(&inner);
        let (actor, path) = (actor.clone(), path.clone());
        async move {
            let result = inner.source.act(&segments, action).await;
            inner
                .metrics
                .admin_action(action.as_str(), outcome_class(&result));
            let text = super::workflows::outcome_text(&result);
            let audit_error = inner.audit(&actor, action.as_str(), &path, &text).await;
            let _ = finished.send((result, audit_error));
        }
    };
    tokio::spawn(worker);
    let answer = |result: String, audit: String| {
        Json(serde_json::json!({
            "path": path,
            "action": action.as_str(),
            "result": result,
            "by": actor,
            "audit": audit,
        }))
    };
    match tokio::time::timeout(inner.call_timeout, &mut outcome).await {
        Ok(Ok((result, audit_error))) => {
            let done = result?;
            Ok((
                StatusCode::OK,
                answer(done, super::workflows::audit_text(audit_error)),
            ))
        }
        Ok(Err(_)) => Err(ApiError::Failed(format!(
            "the {} of `{path}` was lost",
            action.as_str()
        ))),
        // Stopping a child can take its whole shutdown time: the action
        // goes on, and its outcome shows on /events and in the audit trail.
        Err(_) => Ok((
            StatusCode::ACCEPTED,
            answer(
                "in progress (see /events for its outcome)".to_owned(),
                "written when it ends".to_owned(),
            ),
        )),
    }
}

/// `ok`, `refused` (a 4xx answer) or `failed`, for the admin-action counter.
pub(super) fn outcome_class<T>(result: &Result<T, ApiError>) -> &'static str {
    match result {
        Ok(_) => "ok",
        Err(error) if error.status().is_client_error() => "refused",
        Err(_) => "failed",
    }
}
