//! The crate's errors: building and serving ([`OpsError`]), and the answers
//! of the HTTP surface that are not success ([`ApiError`]).

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};

/// Setting up or serving the operator's surface failed.
///
/// # Examples
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// use hale_core::{Supervisor, SupervisorSpec};
/// use hale_ops::{AdminToken, Ops, OpsError};
///
/// let root = Supervisor::start(SupervisorSpec::new("root")).await?;
/// let weak = Ops::builder(root.clone()).admin_token(AdminToken::new("alice", "1234")).build();
/// assert!(matches!(weak, Err(OpsError::WeakToken { length: 4, .. })));
/// let ops = Ops::builder(root.clone()).build()?;
/// let remote = ops.serve("0.0.0.0:0".parse()?).await;
/// assert!(matches!(remote, Err(OpsError::NotLoopback(_))));
/// # root.stop(std::time::Duration::from_secs(1)).await;
/// # Ok(())
/// # }
/// ```
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum OpsError {
    /// An admin token is too short to resist guessing.
    #[error("admin token `{name}` is {length} bytes long; use at least {minimum}")]
    WeakToken {
        /// The token's name.
        name: String,
        /// Its length in bytes.
        length: usize,
        /// The shortest accepted.
        minimum: usize,
    },
    /// An admin token has no name, so audit entries could not say who acted.
    #[error("an admin token has an empty name; audit entries name who acted")]
    UnnamedToken,
    /// Two admin tokens share a name or a secret.
    #[error("admin token `{0}` is given twice (by name or by secret)")]
    DuplicateToken(String),
    /// A setting that cannot be used (a zero limit or timeout).
    #[error("setting `{setting}`: {problem}")]
    Setting {
        /// The setting.
        setting: &'static str,
        /// What is wrong with it.
        problem: String,
    },
    /// The metrics recorder refused its bucket configuration.
    #[error("metrics recorder: {0}")]
    Metrics(String),
    /// The address is not a loopback address and remote access was not
    /// allowed.
    #[error(
        "refusing to listen on {0}: it is not a loopback address (allow it with \
         `OpsBuilder::allow_remote`, which also puts reads behind the token)"
    )]
    NotLoopback(std::net::SocketAddr),
    /// Binding the listener failed.
    #[error("cannot listen on {address}: {source}")]
    Bind {
        /// The address.
        address: std::net::SocketAddr,
        /// The I/O error.
        source: std::io::Error,
    },
}

/// An HTTP answer that is not success: a status and one clear message,
/// sent as `{"error": "..."}`.
///
/// # Examples
///
/// ```
/// use hale_ops::ApiError;
///
/// let error = ApiError::Conflict("supervisor `root`: child `a` is running".into());
/// assert_eq!(error.status().as_u16(), 409);
/// assert_eq!(error.to_string(), "supervisor `root`: child `a` is running");
/// ```
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ApiError {
    /// 400: the request is malformed (bad path, bad JSON, bad query).
    #[error("{0}")]
    BadRequest(String),
    /// 401: no token, or a wrong one.
    #[error("{0}")]
    Unauthorized(String),
    /// 403: mutation is off (no admin token is configured).
    #[error("{0}")]
    Forbidden(String),
    /// 404: no such route, child, dead letter or approval.
    #[error("{0}")]
    NotFound(String),
    /// 409: the action does not apply in the target's current state.
    #[error("{0}")]
    Conflict(String),
    /// 413: the body is over the limit.
    #[error("{0}")]
    TooLarge(String),
    /// 415 or 422: the body is not the JSON the route takes.
    #[error("{message}")]
    Unprocessable {
        /// 415 (not JSON at all) or 422 (JSON of the wrong shape).
        status: StatusCode,
        /// What is wrong.
        message: String,
    },
    /// 500: the action was tried and failed (a start function's error).
    #[error("{0}")]
    Failed(String),
    /// 501: the route needs a part the service did not plug in.
    #[error("{0}")]
    NotPlugged(String),
    /// 503: the tree (or a plugged store) did not answer in time, or is gone.
    #[error("{0}")]
    Unavailable(String),
}

impl ApiError {
    /// The HTTP status of this answer.
    pub fn status(&self) -> StatusCode {
        match self {
            Self::BadRequest(_) => StatusCode::BAD_REQUEST,
            Self::Unauthorized(_) => StatusCode::UNAUTHORIZED,
            Self::Forbidden(_) => StatusCode::FORBIDDEN,
            Self::NotFound(_) => StatusCode::NOT_FOUND,
            Self::Conflict(_) => StatusCode::CONFLICT,
            Self::TooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            Self::Unprocessable { status, .. } => *status,
            Self::Failed(_) => StatusCode::INTERNAL_SERVER_ERROR,
            Self::NotPlugged(_) => StatusCode::NOT_IMPLEMENTED,
            Self::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
        }
    }
}

impl From<axum::extract::rejection::JsonRejection> for ApiError {
    fn from(rejection: axum::extract::rejection::JsonRejection) -> Self {
        let status = rejection.status();
        let message = rejection.body_text();
        match status {
            StatusCode::PAYLOAD_TOO_LARGE => {
                Self::TooLarge(format!("the request body is too large: {message}"))
            }
            StatusCode::BAD_REQUEST => Self::BadRequest(message),
            status => Self::Unprocessable { status, message },
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = self.status();
        let mut response = (status, Json(serde_json::json!({ "error": self.to_string() }))).into_response();
        if status == StatusCode::UNAUTHORIZED {
            response.headers_mut().insert(
                axum::http::header::WWW_AUTHENTICATE,
                axum::http::HeaderValue::from_static("Bearer"),
            );
        }
        response
    }
}
