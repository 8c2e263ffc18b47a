//! One error type for every route: a stable code on 4xx, a generic message and the request id
//! on 5xx (the details go to the log, never to the client).

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::json;

use crate::auth::request_id;

#[derive(Debug)]
pub enum ApiError {
    /// 401 `unauthorized`: no token, or one that is malformed, unknown or revoked.
    Unauthorized,
    /// 403 `forbidden`: the role may not call this route.
    Forbidden,
    /// 404 `not_found`.
    NotFound(String),
    /// 400 with a code naming what is wrong (`invalid_parameter`, `invalid_json`,
    /// `invalid_expression`, `unknown_tag`, …).
    BadRequest { code: &'static str, message: String },
    /// 413 `payload_too_large`.
    PayloadTooLarge,
    /// 415 `unsupported_media_type`.
    UnsupportedMediaType,
    /// 429 `rate_limited`.
    RateLimited,
    /// 409 `not_ready`: the store lacks a table the route reads.
    NotReady(String),
    /// 500 `internal`: our fault; logged with the request id.
    Internal(String),
}

impl ApiError {
    pub fn bad(code: &'static str, message: impl Into<String>) -> Self {
        ApiError::BadRequest {
            code,
            message: message.into(),
        }
    }

    pub fn status(&self) -> StatusCode {
        match self {
            ApiError::Unauthorized => StatusCode::UNAUTHORIZED,
            ApiError::Forbidden => StatusCode::FORBIDDEN,
            ApiError::NotFound(_) => StatusCode::NOT_FOUND,
            ApiError::BadRequest { .. } => StatusCode::BAD_REQUEST,
            ApiError::PayloadTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            ApiError::UnsupportedMediaType => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            ApiError::RateLimited => StatusCode::TOO_MANY_REQUESTS,
            ApiError::NotReady(_) => StatusCode::CONFLICT,
            ApiError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    pub fn code(&self) -> &'static str {
        match self {
            ApiError::Unauthorized => "unauthorized",
            ApiError::Forbidden => "forbidden",
            ApiError::NotFound(_) => "not_found",
            ApiError::BadRequest { code, .. } => code,
            ApiError::PayloadTooLarge => "payload_too_large",
            ApiError::UnsupportedMediaType => "unsupported_media_type",
            ApiError::RateLimited => "rate_limited",
            ApiError::NotReady(_) => "not_ready",
            ApiError::Internal(_) => "internal",
        }
    }

    fn message(&self) -> String {
        match self {
            ApiError::Unauthorized => {
                "a valid bearer token is required: `Authorization: Bearer TOKEN`".into()
            }
            ApiError::Forbidden => "your role may not use this route".into(),
            ApiError::NotFound(m) | ApiError::NotReady(m) => m.clone(),
            ApiError::BadRequest { message, .. } => message.clone(),
            ApiError::PayloadTooLarge => "the request body is too large".into(),
            ApiError::UnsupportedMediaType => {
                "the request body must be JSON with `Content-Type: application/json`".into()
            }
            ApiError::RateLimited => "too many requests; slow down and retry".into(),
            ApiError::Internal(_) => {
                "internal error; quote the request id when you report it".into()
            }
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let id = request_id();
        let mut body = json!({"error": {"code": self.code(), "message": self.message()}});
        if let ApiError::Internal(detail) = &self {
            tracing::error!(request_id = %id, "{detail}");
            body["error"]["request_id"] = json!(id);
        }
        let mut r = (self.status(), Json(body)).into_response();
        if matches!(self, ApiError::Unauthorized) {
            r.headers_mut().insert(
                axum::http::header::WWW_AUTHENTICATE,
                axum::http::HeaderValue::from_static("Bearer"),
            );
        }
        r
    }
}

impl From<portrait_engine::EngineError> for ApiError {
    fn from(e: portrait_engine::EngineError) -> Self {
        match e {
            portrait_engine::EngineError::Usage(m) => ApiError::bad("invalid_request", m),
            other => ApiError::Internal(other.to_string()),
        }
    }
}

impl From<portrait_privacy::PrivacyError> for ApiError {
    fn from(e: portrait_privacy::PrivacyError) -> Self {
        if let portrait_privacy::PrivacyError::NotFound(m) = e {
            return ApiError::NotFound(m);
        }
        if e.is_user_error() {
            ApiError::bad("invalid_request", e.to_string())
        } else {
            ApiError::Internal(e.to_string())
        }
    }
}

impl From<datafusion::error::DataFusionError> for ApiError {
    fn from(e: datafusion::error::DataFusionError) -> Self {
        ApiError::Internal(e.to_string())
    }
}

impl From<arrow::error::ArrowError> for ApiError {
    fn from(e: arrow::error::ArrowError) -> Self {
        ApiError::Internal(e.to_string())
    }
}
