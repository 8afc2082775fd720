//! The bearer-token check in front of the mutating routes (and of the read
//! routes when they are protected).

use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::header::AUTHORIZATION;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::error::ApiError;
use crate::ops::Inner;

/// Who made an authenticated request: the name of the token presented.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Actor(pub(crate) String);

/// Lets the request through with its [`Actor`] when it carries a
/// configured token; 403 when no token is configured (mutation is off);
/// 401 for a missing, malformed or wrong one.
pub(crate) async fn require_token(
    State(inner): State<Arc<Inner>>,
    mut request: Request,
    next: Next,
) -> Response {
    if inner.tokens.is_empty() {
        return ApiError::Forbidden(
            "this route is off: no admin token is configured (OpsBuilder::admin_token)".to_owned(),
        )
        .into_response();
    }
    let Some(header) = request.headers().get(AUTHORIZATION) else {
        return ApiError::Unauthorized("this route needs `Authorization: Bearer <token>`".to_owned())
            .into_response();
    };
    let presented = header
        .as_bytes()
        .strip_prefix(b"Bearer ")
        .or_else(|| header.as_bytes().strip_prefix(b"bearer "));
    let Some(presented) = presented else {
        return ApiError::Unauthorized("the Authorization header must be `Bearer <token>`".to_owned())
            .into_response();
    };
    let Some(name) = inner.tokens.find(presented.trim_ascii()) else {
        return ApiError::Unauthorized("the token is not valid".to_owned()).into_response();
    };
    request.extensions_mut().insert(Actor(name.to_owned()));
    next.run(request).await
}
