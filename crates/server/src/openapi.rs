//! `/openapi.json`, generated from the route table so that it lists exactly the routes, roles
//! and parameters the server enforces.

use axum::extract::State;
use serde_json::{Map, Value, json};

use crate::auth::{Auth, Reply};
use crate::routes::{In, ROUTES};
use crate::{ApiError, AppState};

/// The OpenAPI 3.1 document of the API.
pub fn spec() -> Value {
    let mut paths = Map::new();
    let error = json!({"$ref": "#/components/responses/Error"});
    for r in ROUTES {
        let params: Vec<Value> = r
            .params
            .iter()
            .map(|p| {
                json!({
                    "name": p.name,
                    "in": if p.at == In::Path { "path" } else { "query" },
                    "required": p.required,
                    "description": p.description,
                    "schema": {"type": "string"},
                })
            })
            .collect();
        let roles: Vec<&str> = r.roles.iter().map(|r| r.as_str()).collect();
        let mut op = json!({
            "operationId": r.action,
            "summary": r.summary,
            "description": format!("Roles: {}. Audited as `{}`.", roles.join(", "), r.action),
            "x-roles": roles,
            "parameters": params,
            "security": [{"bearer": []}],
            "responses": {
                "200": {"description": "OK", "content": content(r.produces)},
                "400": error, "401": error, "403": error, "404": error, "409": error,
                "413": error, "429": error, "500": error,
            },
        });
        if let Some(b) = &r.body {
            let mut props = Map::new();
            let mut required = Vec::new();
            for (name, ty, req, desc) in b.fields {
                props.insert(name.to_string(), json!({"type": ty, "description": desc}));
                if *req {
                    required.push(*name);
                }
            }
            op["requestBody"] = json!({
                "required": true,
                "content": {"application/json": {"schema": {
                    "type": "object", "properties": props, "required": required,
                    "additionalProperties": false,
                }}},
            });
        }
        let entry = paths.entry(r.path.to_string()).or_insert_with(|| json!({}));
        entry[r.method.to_ascii_lowercase()] = op;
    }
    paths.insert(
        "/health".into(),
        json!({"get": {"operationId": "health", "summary": "Liveness; needs no token", "security": [],
                "responses": {"200": {"description": "OK"}}}}),
    );
    json!({
        "openapi": "3.1.0",
        "info": {
            "title": "portrait API",
            "version": env!("CARGO_PKG_VERSION"),
            "description": "Customer portrait and segmentation. Every route but /health needs `Authorization: Bearer TOKEN` \
                            (tokens: `portrait user add NAME --role ROLE`). Personal fields are masked by role; see docs/security.md.",
        },
        "paths": paths,
        "components": {
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
            "responses": {"Error": {
                "description": "An error with a stable code; 5xx carry a request id instead of details",
                "content": {"application/json": {"schema": {
                    "type": "object",
                    "properties": {"error": {"type": "object", "properties": {
                        "code": {"type": "string"}, "message": {"type": "string"}, "request_id": {"type": "string"}},
                        "required": ["code", "message"]}},
                }}},
            }},
        },
    })
}

pub async fn document(auth: Auth, State(state): State<AppState>) -> Result<Reply, ApiError> {
    // The document describes the API and holds no personal data, so it is not masked.
    auth.reply_document(&state, spec())
}

/// The 200 response's content: `produces` lists media types separated by `|`; files are
/// strings, JSON an object.
fn content(produces: &str) -> Value {
    let mut m = Map::new();
    for t in produces.split('|') {
        let schema = if t == "application/json" {
            json!({"type": "object"})
        } else {
            json!({"type": "string"})
        };
        m.insert(t.to_string(), json!({"schema": schema}));
    }
    Value::Object(m)
}
