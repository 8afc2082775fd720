//! `/metrics`: the Prometheus text format.

use std::sync::Arc;

use axum::extract::State;
use axum::http::header::CONTENT_TYPE;
use axum::response::IntoResponse;

use crate::ops::Inner;

/// The text format's content type.
const TEXT_FORMAT: &str = "text/plain; version=0.0.4; charset=utf-8";

pub(super) async fn render(State(inner): State<Arc<Inner>>) -> impl IntoResponse {
    let snapshot = inner.snapshot().await.ok();
    let workflows = match &inner.workflows {
        Some(workflows) => match tokio::time::timeout(inner.call_timeout, workflows.counts()).await {
            Ok(Ok(counts)) => Some((counts.dead_letters, counts.pending_approvals)),
            _ => None,
        },
        None => None,
    };
    let text = inner.metrics.render(snapshot.as_ref(), workflows);
    ([(CONTENT_TYPE, TEXT_FORMAT)], text)
}
