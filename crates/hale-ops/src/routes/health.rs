//! `/livez` and `/readyz`, in Kubernetes' format.

use std::sync::Arc;

use axum::extract::{Path, RawQuery, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};

use crate::error::ApiError;
use crate::health::{self, Check, LIVENESS, READINESS};
use crate::ops::Inner;

/// `?verbose` and any number of `?exclude=NAME`.
struct Options {
    verbose: bool,
    exclude: Vec<String>,
}

fn options(query: Option<&str>, known: &[&str]) -> Result<Options, ApiError> {
    let mut options = Options {
        verbose: false,
        exclude: Vec::new(),
    };
    for pair in query.unwrap_or("").split('&').filter(|pair| !pair.is_empty()) {
        let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
        match key {
            "verbose" => options.verbose = value != "false" && value != "0",
            "exclude" if known.contains(&value) => options.exclude.push(value.to_owned()),
            "exclude" => {
                return Err(ApiError::BadRequest(format!(
                    "cannot exclude `{value}`: the checks are {}",
                    known.join(", ")
                )));
            }
            other => {
                return Err(ApiError::BadRequest(format!(
                    "unknown query parameter `{other}` (use `verbose` or `exclude=CHECK`)"
                )));
            }
        }
    }
    Ok(options)
}

fn answer(endpoint: &str, checks: Vec<Check>, options: &Options) -> Response {
    let kept: Vec<Check> = checks
        .into_iter()
        .filter(|check| !options.exclude.iter().any(|name| name == check.name))
        .collect();
    let (passed, body) = health::report(endpoint, &kept, options.verbose);
    let status = if passed {
        StatusCode::OK
    } else {
        StatusCode::INTERNAL_SERVER_ERROR
    };
    (status, body).into_response()
}

fn one(endpoint: &str, checks: Vec<Check>, name: &str, known: &[&str]) -> Response {
    match checks.into_iter().find(|check| check.name == name) {
        Some(Check { result: Ok(()), .. }) => (StatusCode::OK, "ok".to_owned()).into_response(),
        Some(Check {
            result: Err(reason), ..
        }) => (
            StatusCode::INTERNAL_SERVER_ERROR,
            format!("[-]{name} failed: {reason}\n"),
        )
            .into_response(),
        None => ApiError::NotFound(format!(
            "no {endpoint} check named `{name}`; the checks are {}",
            known.join(", ")
        ))
        .into_response(),
    }
}

pub(super) async fn livez(State(inner): State<Arc<Inner>>, RawQuery(query): RawQuery) -> Response {
    match options(query.as_deref(), &LIVENESS) {
        Ok(options) => answer("livez", health::liveness(&inner).await, &options),
        Err(error) => error.into_response(),
    }
}

pub(super) async fn readyz(State(inner): State<Arc<Inner>>, RawQuery(query): RawQuery) -> Response {
    match options(query.as_deref(), &READINESS) {
        Ok(options) => answer("readyz", health::readiness(&inner).await, &options),
        Err(error) => error.into_response(),
    }
}

pub(super) async fn livez_check(State(inner): State<Arc<Inner>>, Path(check): Path<String>) -> Response {
    if !LIVENESS.contains(&check.as_str()) {
        return one("livez", Vec::new(), &check, &LIVENESS);
    }
    one("livez", health::liveness(&inner).await, &check, &LIVENESS)
}

pub(super) async fn readyz_check(State(inner): State<Arc<Inner>>, Path(check): Path<String>) -> Response {
    if !READINESS.contains(&check.as_str()) {
        return one("readyz", Vec::new(), &check, &READINESS);
    }
    one("readyz", health::readiness(&inner).await, &check, &READINESS)
}
