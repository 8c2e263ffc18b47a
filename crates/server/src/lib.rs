//! The HTTP API of portrait (axum): the only crate that knows axum.
//!
//! [`app`] builds the router over an [`AppState`]. `/` and `/assets/...` serve the web dashboard
//! ([`web`], static files embedded in the binary, no data). Every other route but `/health`
//! authenticates with a bearer token through the [`auth::Auth`] extractor, which also checks the
//! caller's role against the route table ([`routes::ROUTES`], the permission matrix) and the
//! per-token rate limit. Handlers answer through [`auth::Auth::reply`], which appends the audit record and masks
//! the personal fields for the caller's role: there is no other way to build a data response.

pub mod api;
pub mod auth;
pub mod error;
pub mod openapi;
pub mod pg;
pub mod pg_catalog;
pub mod routes;
pub mod state;
pub mod web;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::routing::{get, post};

pub use error::ApiError;
pub use state::{AppState, Limits};

/// The router of the API over `state`.
pub fn app(state: AppState) -> Router {
    let body_limit = state.limits().body_bytes;
    Router::new()
        .route("/", get(web::index))
        .route("/assets/{*path}", get(web::asset))
        .route("/health", get(api::health))
        .route("/openapi.json", get(openapi::document))
        .route("/api/me", get(api::me))
        .route("/api/overview", get(api::overview))
        .route("/api/distributions", get(api::distributions))
        .route("/api/rfm", get(api::rfm))
        .route("/api/retention", get(api::retention))
        .route("/api/segments", get(api::segments))
        .route("/api/tags", get(api::tags))
        .route("/api/audience/count", get(api::audience_count))
        .route("/api/audience/breakdown", get(api::audience_breakdown))
        .route("/api/audience/portrait", get(api::audience_portrait))
        .route("/api/audiences", get(api::audiences))
        .route("/api/tags/affinity", get(api::tag_affinity))
        .route("/api/audience/save", post(api::audience_save))
        .route("/api/audience/lookalike", post(api::audience_lookalike))
        .route("/api/audience/export", post(api::audience_export))
        .route("/api/customers", get(api::customer_search))
        .route("/api/customers/{party_id}", get(api::customer_360))
        .route("/api/coverage", get(api::coverage))
        .route("/api/audit", get(api::audit))
        .route("/api/users", get(api::users))
        .route("/api/users/revoke", post(api::users_revoke))
        .route("/api/users/rotate", post(api::users_rotate))
        .route("/api/erase", post(api::erase))
        .fallback(api::not_found)
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            auth::request_scope,
        ))
        .layer(DefaultBodyLimit::max(body_limit))
        .layer(axum::middleware::map_response(no_store))
        .with_state(state)
}

/// No response is kept by a browser or a proxy: API answers carry personal data (masked or
/// not) and exports. The dashboard's assets say their own caching.
async fn no_store(mut r: axum::response::Response) -> axum::response::Response {
    use axum::http::header::{CACHE_CONTROL, HeaderValue};
    if !r.headers().contains_key(CACHE_CONTROL) {
        r.headers_mut()
            .insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    r
}

/// Serves the API on `addr` until the process is stopped.
pub async fn serve(state: AppState, addr: std::net::SocketAddr) -> std::io::Result<()> {
    let listener = tokio::net::TcpListener::bind(addr).await?;
    axum::serve(listener, app(state)).await
}
