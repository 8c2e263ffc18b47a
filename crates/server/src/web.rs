//! The web dashboard: the files of `web/`, embedded in the binary and served without
//! authentication (they are static and carry no data; every `/api/...` call the page makes
//! still needs the bearer token the user types into its login box).

use axum::extract::Path;
use axum::http::header::{
    CACHE_CONTROL, CONTENT_SECURITY_POLICY, CONTENT_TYPE, REFERRER_POLICY, X_CONTENT_TYPE_OPTIONS,
    X_FRAME_OPTIONS,
};
use axum::response::{IntoResponse, Response};

use crate::ApiError;

const HTML: &str = "text/html; charset=utf-8";
const JS: &str = "text/javascript; charset=utf-8";
const CSS: &str = "text/css; charset=utf-8";

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
        "vendor/echarts.min.js",
        JS,
        include_str!("../../../web/vendor/echarts.min.js"),
    ),
];

fn file(content_type: &'static str, body: &'static str) -> Response {
    (
        [
            (CONTENT_TYPE, content_type),
            (CACHE_CONTROL, "no-cache"),
            (X_CONTENT_TYPE_OPTIONS, "nosniff"),
            (X_FRAME_OPTIONS, "DENY"),
            (REFERRER_POLICY, "no-referrer"),
            (CONTENT_SECURITY_POLICY, CSP),
        ],
        body,
    )
        .into_response()
}

/// `GET /`: the dashboard page.
pub async fn index() -> Response {
    file(HTML, INDEX)
}

/// `GET /assets/{*path}`: a script or style sheet of the page.
pub async fn asset(Path(path): Path<String>) -> Result<Response, ApiError> {
    ASSETS
        .iter()
        .find(|(name, _, _)| *name == path)
        .map(|(_, ct, body)| file(ct, body))
        .ok_or_else(|| ApiError::NotFound(format!("no asset `{path}`")))
}
