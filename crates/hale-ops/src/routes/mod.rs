//! The routes, and how they are put together.
//!
//! | method | route | what |
//! |---|---|---|
//! | GET | `/` | the live tree page |
//! | GET | `/livez`, `/livez/{check}` | liveness (Kubernetes' format, `?verbose`, `?exclude=`) |
//! | GET | `/readyz`, `/readyz/{check}` | readiness |
//! | GET | `/metrics` | Prometheus text format |
//! | GET | `/tree` | the tree as JSON |
//! | GET | `/events` | healing, resilience and audit events, server-sent |
//! | GET | `/dead-letters`, `/dead-letters/{id}`, `/approvals` | the plugged workflow store |
//! | POST | `/admin/restart`, `/admin/terminate`, `/admin/delete` | act on a child: `{"path": "root/a/b"}` |
//! | POST | `/admin/dead-letters/{id}/replay` | replay a dead letter |
//! | POST | `/admin/approvals/{id}` | decide a gate: `{"decision": "approve" \| "reject", "note": "..."}` |

mod admin;
mod events;
mod health;
mod metrics;
mod page;
mod tree;
mod workflows;

use std::sync::Arc;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::http::Uri;
use axum::middleware::from_fn_with_state;
use axum::routing::{get, post};

use crate::auth::require_token;
use crate::error::ApiError;
use crate::ops::Inner;

pub(crate) fn router(inner: Arc<Inner>) -> Router {
    let probes = Router::new()
        .route("/livez", get(health::livez))
        .route("/livez/{check}", get(health::livez_check))
        .route("/readyz", get(health::readyz))
        .route("/readyz/{check}", get(health::readyz_check));
    let mut reads = Router::new()
        .route("/", get(page::index))
        .route("/ui/app.js", get(page::script))
        .route("/ui/style.css", get(page::style))
        .route("/metrics", get(metrics::render))
        .route("/tree", get(tree::tree))
        .route("/events", get(events::stream))
        .route("/dead-letters", get(workflows::list))
        .route("/dead-letters/{id}", get(workflows::show))
        .route("/approvals", get(workflows::pending));
    if inner.protect_reads {
        reads = reads.route_layer(from_fn_with_state(Arc::clone(&inner), require_token));
    }
    let admin = Router::new()
        .route("/admin/restart", post(admin::restart))
        .route("/admin/terminate", post(admin::terminate))
        .route("/admin/delete", post(admin::delete))
        .route("/admin/dead-letters/{id}/replay", post(workflows::replay))
        .route("/admin/approvals/{id}", post(workflows::decide))
        .route_layer(from_fn_with_state(Arc::clone(&inner), require_token));
    let body_limit = inner.body_limit;
    // The probes stay open even when reads are protected: a platform's
    // kubelet carries no token.
    probes
        .merge(reads)
        .merge(admin)
        .fallback(not_found)
        .layer(DefaultBodyLimit::max(body_limit))
        .with_state(inner)
}

async fn not_found(uri: Uri) -> ApiError {
    ApiError::NotFound(format!("no route `{}`", uri.path()))
}
