//! `/metrics`: the Prometheus text format.

use std::sync::Arc;

use axum::extract::State;
use axum::http::header::CONTENT_TYPE;
use axum::response::IntoResponse;

use crate::ops::Inner;

/// The text format's content type.
const TEXT_FORMAT: &str = "text/plain; version=0.0.4; charset=utf-8";

pub(super) async fn render(State(inner): State<Arc<Inner>>) -> impl IntoResponse {
    ([(CONTENT_TYPE, TEXT_FORMAT)], inner.metrics_text().await)
}
