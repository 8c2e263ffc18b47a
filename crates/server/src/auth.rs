//! Authentication, permission and rate limit as an extractor; the only way to build a data
//! response ([`Auth::reply`]: audit, then mask); extractors for query strings, paths and JSON
//! bodies whose failures are 4xx [`ApiError`]s.

use std::sync::{Arc, Mutex};

use axum::Json;
use axum::extract::{FromRequest, FromRequestParts, MatchedPath, Request, State};
use axum::http::request::Parts;
use axum::http::{HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use portrait_privacy::{NewAudit, Role, mask_json};
use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::routes::{self, RouteSpec};
use crate::{ApiError, AppState};

/// Who made the current request and whether it has been audited: filled by [`Auth`], read by
/// [`request_scope`] once the handler has answered.
#[derive(Default)]
struct Scope {
    id: String,
    caller: Option<(Auth, Value)>,
    audited: bool,
}

#[derive(Clone)]
struct ScopeSlot(Arc<Mutex<Scope>>);

tokio::task_local! {
    static REQUEST_ID: String;
}

/// The id of the current request (`-` outside one).
pub fn request_id() -> String {
    REQUEST_ID
        .try_with(Clone::clone)
        .unwrap_or_else(|_| "-".into())
}

fn new_request_id() -> String {
    let b: [u8; 8] = rand::random();
    hex::encode(b)
}

/// Gives every request an id (the `x-request-id` header of the response) and audits the
/// requests of authenticated callers that failed in their handler.
pub async fn request_scope(
    State(state): State<AppState>,
    mut req: Request,
    next: Next,
) -> Response {
    let id = new_request_id();
    let slot = ScopeSlot(Arc::new(Mutex::new(Scope {
        id: id.clone(),
        ..Default::default()
    })));
    req.extensions_mut().insert(slot.clone());
    let mut resp = REQUEST_ID.scope(id.clone(), next.run(req)).await;
    let pending = {
        let mut s = slot.0.lock().unwrap_or_else(|p| p.into_inner());
        if s.audited {
            None
        } else {
            s.audited = true;
            s.caller.take()
        }
    };
    if let Some((auth, params)) = pending {
        let status = resp.status().as_u16();
        if let Err(e) = state.privacy().audit(&NewAudit {
            user: &auth.user,
            role: auth.role.as_str(),
            action: auth.action,
            params,
            rows: 0,
            status,
            export_id: None,
            request_id: Some(&id),
        }) {
            tracing::error!(request_id = %id, "audit: {e}");
            resp = StatusCode::INTERNAL_SERVER_ERROR.into_response();
        }
    }
    if let Ok(v) = HeaderValue::from_str(&id) {
        resp.headers_mut().insert("x-request-id", v);
    }
    resp
}

/// An authenticated caller allowed on the route it called. A handler that takes `Auth` cannot
/// run for a request without a valid token (401), for a role outside the route's row of the
/// permission matrix (403), or over the token's rate (429).
#[derive(Clone, Debug)]
pub struct Auth {
    pub user: String,
    pub role: Role,
    pub token_id: String,
    /// The route's action name, as the audit log records it.
    pub action: &'static str,
    pub route: &'static RouteSpec,
    request_id: String,
    slot: Option<ScopeSlot>,
}

impl std::fmt::Debug for ScopeSlot {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ScopeSlot")
    }
}

fn bearer(parts: &Parts) -> Option<&str> {
    let h = parts
        .headers
        .get(axum::http::header::AUTHORIZATION)?
        .to_str()
        .ok()?;
    let (scheme, token) = h.split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then_some(token.trim())
}

impl FromRequestParts<AppState> for Auth {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let path = parts
            .extensions
            .get::<MatchedPath>()
            .map(|p| p.as_str().to_string())
            .unwrap_or_default();
        let spec = routes::find(parts.method.as_str(), &path)
            .ok_or_else(|| ApiError::Internal(format!("route `{path}` is not in the table")))?;
        let refuse = |who: &str, status: StatusCode, err: ApiError| {
            // Refusals are audited too: who tried (the public token id, never the secret),
            // what, and the answer.
            state.privacy().audit(&NewAudit {
                user: who,
                role: "-",
                action: spec.action,
                params: Value::Object(Default::default()),
                rows: 0,
                status: status.as_u16(),
                export_id: None,
                request_id: None,
            })?;
            Err(err)
        };
        let Some(token) = bearer(parts) else {
            return refuse("-", StatusCode::UNAUTHORIZED, ApiError::Unauthorized);
        };
        let id = portrait_privacy::db::token_id(token)
            .unwrap_or("-")
            .to_string();
        let who = match state.authenticate(token).await? {
            crate::state::Login::Valid(who) => who,
            crate::state::Login::Refused => {
                return refuse(&id, StatusCode::UNAUTHORIZED, ApiError::Unauthorized);
            }
            crate::state::Login::Throttled => {
                return refuse(&id, StatusCode::TOO_MANY_REQUESTS, ApiError::RateLimited);
            }
        };
        if !state.allow(&who.token_id) {
            return refuse(
                &who.user,
                StatusCode::TOO_MANY_REQUESTS,
                ApiError::RateLimited,
            );
        }
        let slot = parts.extensions.get::<ScopeSlot>().cloned();
        let auth = Auth {
            user: who.user,
            role: who.role,
            token_id: who.token_id,
            action: spec.action,
            route: spec,
            request_id: slot
                .as_ref()
                .map(|s| s.0.lock().unwrap_or_else(|p| p.into_inner()).id.clone())
                .unwrap_or_else(new_request_id),
            slot,
        };
        let params = query_params(parts.uri.query());
        if !spec.roles.contains(&auth.role) {
            auth.record(state, params, 0, StatusCode::FORBIDDEN.as_u16(), None)?;
            return Err(ApiError::Forbidden);
        }
        // Handler failures are audited by `request_scope` with these parameters.
        if let Some(s) = &auth.slot {
            s.0.lock().unwrap_or_else(|p| p.into_inner()).caller = Some((auth.clone(), params));
        }
        Ok(auth)
    }
}

/// The query string as a JSON object, for the audit log.
fn query_params(q: Option<&str>) -> Value {
    let pairs: Vec<(String, String)> = q
        .and_then(|q| serde_urlencoded_pairs(q).ok())
        .unwrap_or_default();
    Value::Object(
        pairs
            .into_iter()
            .map(|(k, v)| (k, Value::String(v)))
            .collect(),
    )
}

fn serde_urlencoded_pairs(q: &str) -> Result<Vec<(String, String)>, ()> {
    axum::extract::Query::<Vec<(String, String)>>::try_from_uri(
        &format!("/?{q}").parse().map_err(|_| ())?,
    )
    .map(|axum::extract::Query(v)| v)
    .map_err(|_| ())
}

/// A data response: audited, then masked for the caller's role. Only [`Auth::reply`] and
/// [`Auth::reply_csv`] make one.
pub struct Reply(Response);

impl IntoResponse for Reply {
    fn into_response(self) -> Response {
        self.0
    }
}

impl Auth {
    /// Appends the audit record of this request.
    fn record(
        &self,
        state: &AppState,
        params: Value,
        rows: u64,
        status: u16,
        export_id: Option<&str>,
    ) -> Result<(), ApiError> {
        // The audit log may quote what was searched for; it is masked on the way out.
        state.privacy().audit(&NewAudit {
            user: &self.user,
            role: self.role.as_str(),
            action: self.action,
            params,
            rows,
            status,
            export_id,
            request_id: Some(&self.request_id),
        })?;
        if let Some(s) = &self.slot {
            s.0.lock().unwrap_or_else(|p| p.into_inner()).audited = true;
        }
        Ok(())
    }

    /// Appends an audit record of a step of this request under `action` (an erasure's request
    /// before anything changes), leaving the request's own record to its answer.
    pub fn record_step(
        &self,
        state: &AppState,
        action: &str,
        params: Value,
        status: u16,
    ) -> Result<(), ApiError> {
        state.privacy().audit(&NewAudit {
            user: &self.user,
            role: self.role.as_str(),
            action,
            params,
            rows: 0,
            status,
            export_id: None,
            request_id: Some(&self.request_id),
        })?;
        Ok(())
    }

    /// Audits the request and answers `status` with `body` (a failure the handler reports
    /// itself, with the parameters it knows).
    pub fn record_failure(&self, state: &AppState, params: Value, err: ApiError) -> ApiError {
        let status = err.status().as_u16();
        match self.record(state, params, 0, status, None) {
            Ok(()) => err,
            Err(e) => e,
        }
    }

    /// Audits the request (its parameters and the rows returned) and answers with `body`,
    /// masked for the caller's role.
    pub fn reply(
        &self,
        state: &AppState,
        params: Value,
        rows: u64,
        mut body: Value,
    ) -> Result<Reply, ApiError> {
        self.record(state, params, rows, 200, None)?;
        mask_json(self.role, &mut body);
        Ok(Reply(Json(body).into_response()))
    }

    /// Audits the request and answers with a document that holds no personal data (the
    /// OpenAPI description), unmasked.
    pub(crate) fn reply_document(&self, state: &AppState, body: Value) -> Result<Reply, ApiError> {
        self.record(state, Value::Object(Default::default()), 0, 200, None)?;
        Ok(Reply(Json(body).into_response()))
    }

    /// Audits an export under `export_id` and answers with CSV built from `rows`, each masked
    /// for the caller's role before it is written.
    /// An export as an Excel workbook: the rows masked for this role and as exports always
    /// are, every row watermarked, the description sheet naming the audience and the export.
    pub async fn reply_xlsx(
        &self,
        state: &AppState,
        params: Value,
        expr: &str,
        batch: arrow::record_batch::RecordBatch,
        lang: portrait_engine::labels::Lang,
    ) -> Result<Reply, ApiError> {
        let export_id = portrait_privacy::db::new_export_id();
        let zh = lang == portrait_engine::labels::Lang::Zh;
        let consent = match (params["include_no_consent"].as_bool() == Some(true), zh) {
            (false, true) => format!(
                "仅含同意营销的客户（{} 位未同意，未导出）",
                params["withheld_no_consent"]
            ),
            (false, false) => format!(
                "only parties who consented ({} without consent left out)",
                params["withheld_no_consent"]
            ),
            (true, true) => "含未同意营销的客户".to_string(),
            (true, false) => "parties without consent included".to_string(),
        };
        let say = |z: &str, e: &str| (if zh { z } else { e }).to_string();
        let about = portrait_engine::xlsx::About {
            title: say("portrait 人群导出", "portrait audience export"),
            lines: vec![
                (say("人群表达式", "Audience"), expr.to_string()),
                (say("营销同意", "Marketing consent"), consent),
                (
                    say("个人信息", "Personal data"),
                    say("按字段含义脱敏", "masked by the meaning of each column"),
                ),
                (say("导出人", "Exported by"), self.user.clone()),
            ],
            export_id: Some(export_id.clone()),
        };
        let (role, id) = (self.role, export_id.clone());
        let sheet = say("人群", "audience");
        // Masking and the workbook are CPU work: off the threads that answer requests.
        let built = tokio::task::spawn_blocking(move || {
            let masked = portrait_engine::output::mask_batch(role, &batch)?;
            let masked = portrait_engine::output::mask_batch(Role::Marketer, &masked)?;
            let rows = portrait_engine::tags::watermark_batch(&masked, &id)?;
            let mut book = portrait_engine::xlsx::Workbook::new(lang, &std::env::temp_dir())?;
            book.table(&sheet, rows.schema())?;
            book.write(&rows)?;
            Ok::<_, portrait_engine::EngineError>((book.into_bytes(&about)?, rows.num_rows()))
        })
        .await
        .map_err(|e| portrait_engine::EngineError::Internal(e.to_string()))
        .and_then(|r| r);
        // On record once the file exists: a workbook that fails is a failed export.
        let bytes = match built {
            Ok((bytes, n)) => {
                self.record(state, params, n as u64, 200, Some(&export_id))?;
                bytes
            }
            Err(e) => {
                self.record(state, params, 0, 500, Some(&export_id))?;
                return Err(ApiError::Internal(e.to_string()));
            }
        };
        let mut r = (
            [
                (
                    axum::http::header::CONTENT_TYPE,
                    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
                ),
                (
                    axum::http::header::CONTENT_DISPOSITION,
                    "attachment; filename=\"audience.xlsx\"",
                ),
            ],
            bytes,
        )
            .into_response();
        if let Ok(v) = HeaderValue::from_str(&export_id) {
            r.headers_mut().insert("x-export-id", v);
        }
        Ok(Reply(r))
    }

    pub fn reply_csv(
        &self,
        state: &AppState,
        params: Value,
        export_id: &str,
        columns: &[String],
        mut rows: Vec<Value>,
    ) -> Result<Reply, ApiError> {
        self.record(state, params, rows.len() as u64, 200, Some(export_id))?;
        let mut w = csv::Writer::from_writer(Vec::new());
        let mut header: Vec<&str> = columns.iter().map(String::as_str).collect();
        header.push("watermark");
        w.write_record(&header)
            .map_err(|e| ApiError::Internal(e.to_string()))?;
        for row in &mut rows {
            mask_json(self.role, row);
            // Exports are masked for every role, admins included.
            mask_json(Role::Marketer, row);
            let mut rec: Vec<String> = columns
                .iter()
                .map(|c| match &row[c.as_str()] {
                    Value::Null => String::new(),
                    Value::String(s) => s.clone(),
                    v => v.to_string(),
                })
                .collect();
            rec.push(export_id.to_string());
            w.write_record(&rec)
                .map_err(|e| ApiError::Internal(e.to_string()))?;
        }
        let bytes = w
            .into_inner()
            .map_err(|e| ApiError::Internal(e.to_string()))?;
        let mut r = (
            [
                (axum::http::header::CONTENT_TYPE, "text/csv; charset=utf-8"),
                (
                    axum::http::header::CONTENT_DISPOSITION,
                    "attachment; filename=\"audience.csv\"",
                ),
            ],
            bytes,
        )
            .into_response();
        if let Ok(v) = HeaderValue::from_str(export_id) {
            r.headers_mut().insert("x-export-id", v);
        }
        Ok(Reply(r))
    }
}

/// A query string parsed into `T`; failures are 400 `invalid_parameter`.
pub struct Q<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequestParts<S> for Q<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        axum::extract::Query::<T>::from_request_parts(parts, state)
            .await
            .map(|axum::extract::Query(v)| Q(v))
            .map_err(|e| ApiError::bad("invalid_parameter", e.body_text()))
    }
}

/// A path parameter; failures are 400 `invalid_parameter`.
pub struct P<T>(pub T);

impl<T: DeserializeOwned + Send, S: Send + Sync> FromRequestParts<S> for P<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        axum::extract::Path::<T>::from_request_parts(parts, state)
            .await
            .map(|axum::extract::Path(v)| P(v))
            .map_err(|e| ApiError::bad("invalid_parameter", e.body_text()))
    }
}

/// A JSON body parsed into `T`; failures are 400 `invalid_json`, 413 or 415.
pub struct Body<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for Body<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, ApiError> {
        match Json::<T>::from_request(req, state).await {
            Ok(Json(v)) => Ok(Body(v)),
            Err(e) => Err(match e.status() {
                StatusCode::PAYLOAD_TOO_LARGE => ApiError::PayloadTooLarge,
                StatusCode::UNSUPPORTED_MEDIA_TYPE => ApiError::UnsupportedMediaType,
                _ => ApiError::bad("invalid_json", e.body_text()),
            }),
        }
    }
}
