//! The live tree page: one HTML file, one script and one stylesheet,
//! compiled into the crate. Links are relative, so the page works wherever
//! the router is mounted.

use axum::extract::OriginalUri;
use axum::http::header::{CACHE_CONTROL, CONTENT_TYPE};
use axum::response::IntoResponse;

const INDEX: &str = include_str!("../page/index.html");
const SCRIPT: &str = include_str!("../page/app.js");
const STYLE: &str = include_str!("../page/style.css");

/// The page. Its links are relative to the folder it is served from: under
/// `nest("/ops", ...)` axum serves it at `/ops`, whose folder is `/`, so the
/// page then names its own folder with a `<base>` element.
pub(super) async fn index(OriginalUri(uri): OriginalUri) -> impl IntoResponse {
    let page = match uri.path().rsplit('/').next() {
        Some(last) if !last.is_empty() => {
            let base = format!("<head>\n<base href=\"{}/\">", escape(last));
            INDEX.replacen("<head>", &base, 1)
        }
        _ => INDEX.to_owned(),
    };
    (
        [
            (CONTENT_TYPE, "text/html; charset=utf-8"),
            (CACHE_CONTROL, "no-cache"),
        ],
        page,
    )
}

/// Escapes text for an HTML attribute.
fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('"', "&quot;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

pub(super) async fn script() -> impl IntoResponse {
    (
        [
            (CONTENT_TYPE, "text/javascript; charset=utf-8"),
            (CACHE_CONTROL, "no-cache"),
        ],
        SCRIPT,
    )
}

pub(super) async fn style() -> impl IntoResponse {
    (
        [
            (CONTENT_TYPE, "text/css; charset=utf-8"),
            (CACHE_CONTROL, "no-cache"),
        ],
        STYLE,
    )
}
