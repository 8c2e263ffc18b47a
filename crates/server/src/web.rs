//! The web dashboard: the files of `web/`, embedded in the binary and served without
//! authentication (they are static and carry no data; every `/api/...` call the page makes
//! still needs the bearer token the user types into its login box).

use axum::extract::Path;
use axum::http::header::{
    CACHE_CONTROL, CONTENT_SECURITY_POLICY, CONTENT_TYPE, ETAG, IF_NONE_MATCH, REFERRER_POLICY,
    X_CONTENT_TYPE_OPTIONS, X_FRAME_OPTIONS,
};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};

use crate::ApiError;

const HTML: &str = "text/html; charset=utf-8";
const JS: &str = "text/javascript; charset=utf-8";
const CSS: &str = "text/css; charset=utf-8";
const JSON: &str = "application/json; charset=utf-8";

/// Scripts and styles from this origin only (ECharts sets inline styles on its tooltips),
/// no framing.
const CSP: &str = "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; \
                   img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; \
                   form-action 'none'";

const INDEX: &str = include_str!("../../../web/index.html");

/// The files under `/assets/`: name, content type, body.
pub const ASSETS: &[(&str, &str, &str)] = &[
    ("app.js", JS, include_str!("../../../web/app.js")),
    ("style.css", CSS, include_str!("../../../web/style.css")),
    (
        "i18n/zh.json",
        JSON,
        include_str!("../../../web/i18n/zh.json"),
    ),
    (
        "i18n/en.json",
        JSON,
        include_str!("../../../web/i18n/en.json"),
    ),
    (
        "vendor/echarts.min.js",
        JS,
        include_str!("../../../web/vendor/echarts.min.js"),
    ),
];

/// 64-bit FNV-1a of the file: its entity tag. The files are fixed at build time, so a browser
/// revalidating with `If-None-Match` gets `304 Not Modified` instead of the 1 MB chart library.
fn etag(body: &str) -> String {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in body.bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    format!("\"{h:016x}\"")
}

fn file(headers: &HeaderMap, content_type: &'static str, body: &'static str) -> Response {
    let tag = etag(body);
    let fresh = headers
        .get(IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|t| t.trim() == tag || t.trim() == "*"));
    if fresh {
        return (StatusCode::NOT_MODIFIED, [(ETAG, tag)]).into_response();
    }
    (
        [
            (CONTENT_TYPE, content_type.to_string()),
            (ETAG, tag),
            (CACHE_CONTROL, "no-cache".to_string()),
            (X_CONTENT_TYPE_OPTIONS, "nosniff".to_string()),
            (X_FRAME_OPTIONS, "DENY".to_string()),
            (REFERRER_POLICY, "no-referrer".to_string()),
            (CONTENT_SECURITY_POLICY, CSP.to_string()),
        ],
        body,
    )
        .into_response()
}

/// `GET /`: the dashboard page.
pub async fn index(headers: HeaderMap) -> Response {
    file(&headers, HTML, INDEX)
}

/// `GET /assets/{*path}`: a script or style sheet of the page.
pub async fn asset(Path(path): Path<String>, headers: HeaderMap) -> Result<Response, ApiError> {
    ASSETS
        .iter()
        .find(|(name, _, _)| *name == path)
        .map(|(_, ct, body)| file(&headers, ct, body))
        .ok_or_else(|| ApiError::NotFound(format!("no asset `{path}`")))
}
