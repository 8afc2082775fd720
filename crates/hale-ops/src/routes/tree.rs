//! `/tree`: the snapshot as JSON.

use std::sync::Arc;

use axum::Json;
use axum::extract::State;

use crate::error::ApiError;
use crate::ops::Inner;
use crate::snapshot::TreeSnapshot;

pub(super) async fn tree(State(inner): State<Arc<Inner>>) -> Result<Json<TreeSnapshot>, ApiError> {
    inner.snapshot().await.map(Json)
}
