//! A small HTTP/1 client for a service's hale-ops routes.

use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::client::legacy::Client as HyperClient;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;

use crate::Failure;

/// How long a request (not a followed stream) may take.
const REQUEST_LIMIT: Duration = Duration::from_secs(30);

/// The service's base URL, its admin token, and a connection pool.
pub struct Client {
    base: String,
    token: Option<String>,
    http: HyperClient<HttpConnector, Full<Bytes>>,
}

impl Client {
    /// A client for the service at `url` (`http://host:port`, optionally
    /// with the prefix the router is mounted under).
    pub fn new(url: &str, token: Option<String>) -> Result<Self, Failure> {
        if url.starts_with("https://") {
            return Err(Failure(format!(
                "`{url}`: this client speaks plain HTTP to a loopback address; reach a remote service through a port forward"
            )));
        }
        let uri: hyper::Uri = url
            .parse()
            .map_err(|error| Failure(format!("`{url}` is not a URL: {error}")))?;
        if uri.scheme_str() != Some("http") || uri.host().is_none() {
            return Err(Failure(format!("`{url}` is not an http://host:port URL")));
        }
        Ok(Self {
            base: url.trim_end_matches('/').to_owned(),
            token: token.filter(|token| !token.is_empty()),
            http: HyperClient::builder(TokioExecutor::new()).build_http(),
        })
    }

    async fn send(
        &self,
        method: Method,
        path: &str,
        body: Option<serde_json::Value>,
    ) -> Result<Response<Incoming>, Failure> {
        let url = format!("{}{path}", self.base);
        let mut request = Request::builder().method(method).uri(&url);
        if let Some(token) = &self.token {
            request = request.header("authorization", format!("Bearer {token}"));
        }
        let payload = match body {
            Some(body) => {
                request = request.header("content-type", "application/json");
                Bytes::from(body.to_string())
            }
            None => Bytes::new(),
        };
        let request = request
            .body(Full::new(payload))
            .map_err(|error| Failure(format!("cannot build the request to {url}: {error}")))?;
        self.http
            .request(request)
            .await
            .map_err(|error| Failure(format!("cannot reach {}: {}", self.base, root_cause(&error))))
    }

    /// A request whose whole answer is read; a non-2xx answer is an error
    /// carrying the service's message.
    pub async fn call(
        &self,
        method: Method,
        path: &str,
        body: Option<serde_json::Value>,
    ) -> Result<String, Failure> {
        let exchange = async {
            let response = self.send(method, path, body).await?;
            let status = response.status();
            let bytes = response
                .into_body()
                .collect()
                .await
                .map_err(|error| Failure(format!("the answer from {} broke off: {error}", self.base)))?
                .to_bytes();
            let text = String::from_utf8_lossy(&bytes).into_owned();
            if status.is_success() {
                Ok(text)
            } else {
                Err(Failure(refusal(status, &text)))
            }
        };
        tokio::time::timeout(REQUEST_LIMIT, exchange)
            .await
            .map_err(|_| Failure(format!("{} did not answer within {REQUEST_LIMIT:?}", self.base)))?
    }

    /// A GET whose answer is JSON.
    pub async fn json(&self, path: &str) -> Result<serde_json::Value, Failure> {
        let text = self.call(Method::GET, path, None).await?;
        serde_json::from_str(&text).map_err(|error| Failure(format!("{path} did not answer JSON: {error}")))
    }

    /// Opens a stream (for `/events`); the caller reads its body.
    pub async fn stream(&self, path: &str) -> Result<Incoming, Failure> {
        let response = tokio::time::timeout(REQUEST_LIMIT, self.send(Method::GET, path, None))
            .await
            .map_err(|_| Failure(format!("{} did not answer within {REQUEST_LIMIT:?}", self.base)))??;
        let status = response.status();
        if !status.is_success() {
            let bytes = response
                .into_body()
                .collect()
                .await
                .map(|body| body.to_bytes())
                .unwrap_or_default();
            return Err(Failure(refusal(status, &String::from_utf8_lossy(&bytes))));
        }
        Ok(response.into_body())
    }
}

/// One line for a refused request: the status and the service's message.
fn refusal(status: StatusCode, body: &str) -> String {
    let message = serde_json::from_str::<serde_json::Value>(body)
        .ok()
        .and_then(|value| value["error"].as_str().map(str::to_owned))
        .unwrap_or_else(|| body.trim().lines().next().unwrap_or("").to_owned());
    let hint = match status {
        StatusCode::UNAUTHORIZED => " (set HALE_TOKEN to an admin token of the service)",
        _ => "",
    };
    format!("{status}: {message}{hint}")
}

/// The innermost cause of an error, which says what went wrong ("Connection
/// refused") where the outer ones only say where.
fn root_cause(error: &(dyn std::error::Error + 'static)) -> String {
    let mut cause = error;
    while let Some(next) = cause.source() {
        cause = next;
    }
    cause.to_string()
}
