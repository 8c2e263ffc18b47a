//! The handlers. Each takes [`Auth`] (so none runs unauthenticated) and answers through
//! [`Auth::reply`] (audited and masked).

use std::sync::Arc;

use arrow::array::RecordBatch;
use axum::Json;
use axum::extract::State;
use datafusion::scalar::ScalarValue;
use serde::Deserialize;
use serde_json::{Map, Value, json};

use crate::auth::{Auth, Body, P, Q, Reply};
use crate::routes::ROUTES;
use crate::state::Snapshot;
use crate::{ApiError, AppState};

type Rows = Vec<Map<String, Value>>;

/// The latest as-of date of `features`.
const LATEST: &str = "(SELECT * FROM features WHERE as_of = (SELECT max(as_of) FROM features))";

pub async fn health() -> Json<Value> {
    Json(json!({"status": "ok"}))
}

pub async fn not_found() -> ApiError {
    ApiError::NotFound("no such route; see /openapi.json".into())
}

/// Record batches as JSON objects, nulls kept.
fn to_rows(batches: &[RecordBatch]) -> Result<Rows, ApiError> {
    let mut buf = Vec::new();
    {
        let mut w = arrow::json::WriterBuilder::new()
            .with_explicit_nulls(true)
            .build::<_, arrow::json::writer::JsonArray>(&mut buf);
        for b in batches {
            w.write(b)?;
        }
        w.finish()?;
    }
    if buf.is_empty() {
        return Ok(Vec::new());
    }
    serde_json::from_slice(&buf).map_err(|e| ApiError::Internal(e.to_string()))
}

async fn query(snap: &Snapshot, sql: &str, params: Vec<ScalarValue>) -> Result<Rows, ApiError> {
    let mut df = snap.ctx.sql(sql).await?;
    if !params.is_empty() {
        df = df.with_param_values(params)?;
    }
    to_rows(&df.collect().await?)
}

fn utf8(s: &str) -> ScalarValue {
    ScalarValue::Utf8(Some(s.to_string()))
}

/// A required, bounded text parameter.
fn required<'a>(state: &AppState, name: &str, v: &'a Option<String>) -> Result<&'a str, ApiError> {
    let v = v
        .as_deref()
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .ok_or_else(|| ApiError::bad("missing_parameter", format!("`{name}` is required")))?;
    let max = state.limits().text_chars;
    if v.chars().count() > max {
        return Err(ApiError::bad(
            "invalid_parameter",
            format!("`{name}` is longer than {max} characters"),
        ));
    }
    Ok(v)
}

pub async fn me(auth: Auth, State(state): State<AppState>) -> Result<Reply, ApiError> {
    let routes: Vec<Value> = ROUTES
        .iter()
        .filter(|r| r.roles.contains(&auth.role))
        .map(|r| json!({"method": r.method, "path": r.path}))
        .collect();
    let body = json!({"user": auth.user, "role": auth.role, "routes": routes});
    auth.reply(&state, json!({}), 1, body)
}

pub async fn overview(auth: Auth, State(state): State<AppState>) -> Result<Reply, ApiError> {
    let snap = state.snapshot().await?;
    snap.need(&["features"])?;
    let count = |t: &str| {
        if snap.has(t) {
            format!("(SELECT count(*) FROM \"{t}\")")
        } else {
            "CAST(NULL AS BIGINT)".into()
        }
    };
    let households = if snap.has("party_group") {
        "(SELECT count(DISTINCT household_id) FROM party_group)".to_string()
    } else {
        "CAST(NULL AS BIGINT)".into()
    };
    let sql = format!(
        "SELECT (SELECT max(as_of) FROM features) AS as_of, \
                (SELECT count(*) FROM {LATEST}) AS parties, {} AS customers, {households} AS households, \
                (SELECT sum(financial_assets) FROM {LATEST}) AS financial_assets, \
                (SELECT count(*) FROM {LATEST} WHERE private_banking) AS private_banking",
        count("customer")
    );
    let head = query(&snap, &sql, vec![]).await?;
    let recency = query(
        &snap,
        &format!(
            "SELECT recency_class AS value, count(*) AS parties FROM {LATEST} GROUP BY 1 ORDER BY 1"
        ),
        vec![],
    )
    .await?;
    let tiers = query(
        &snap,
        &format!("SELECT asset_tier AS value, count(*) AS parties, sum(financial_assets) AS financial_assets FROM {LATEST} GROUP BY 1 ORDER BY 3 DESC"),
        vec![],
    )
    .await?;
    let mut body = Value::Object(head.into_iter().next().unwrap_or_default());
    body["recency_classes"] = json!(recency);
    body["asset_tiers"] = json!(tiers);
    auth.reply(&state, json!({}), 1, body)
}

/// The distributions: (key in the answer, column of `features`).
const DISTRIBUTIONS: &[(&str, &str)] = &[
    ("age_group", "age_group"),
    ("province", "province"),
    ("gender", "gender"),
    ("channel", "top_source_channel"),
    ("recency_class", "recency_class"),
    ("asset_tier", "asset_tier"),
    ("life_stage", "life_stage"),
];

pub async fn distributions(auth: Auth, State(state): State<AppState>) -> Result<Reply, ApiError> {
    let snap = state.snapshot().await?;
    snap.need(&["features"])?;
    let mut out = Map::new();
    for (key, col) in DISTRIBUTIONS {
        let rows = query(
            &snap,
            &format!("SELECT \"{col}\" AS value, count(*) AS parties FROM {LATEST} GROUP BY 1 ORDER BY 2 DESC, 1"),
            vec![],
        )
        .await?;
        out.insert(key.to_string(), json!(rows));
    }
    auth.reply(&state, json!({}), out.len() as u64, Value::Object(out))
}

pub async fn rfm(auth: Auth, State(state): State<AppState>) -> Result<Reply, ApiError> {
    let snap = state.snapshot().await?;
    snap.need(&["features"])?;
    let cells = query(
        &snap,
        &format!(
            "SELECT r_score, f_score, count(*) AS parties, avg(monetary) AS avg_monetary \
             FROM {LATEST} WHERE r_score IS NOT NULL AND f_score IS NOT NULL GROUP BY 1, 2 ORDER BY 1, 2"
        ),
        vec![],
    )
    .await?;
    let classes = query(
        &snap,
        &format!("SELECT rfm_class AS value, count(*) AS parties, sum(monetary) AS monetary FROM {LATEST} GROUP BY 1 ORDER BY 2 DESC"),
        vec![],
    )
    .await?;
    let n = cells.len() as u64;
    auth.reply(
        &state,
        json!({}),
        n,
        json!({"cells": cells, "classes": classes}),
    )
}

pub async fn retention(auth: Auth, State(state): State<AppState>) -> Result<Reply, ApiError> {
    let snap = state.snapshot().await?;
    snap.need(&["features"])?;
    let group = |col: &str| {
        format!(
            "SELECT \"{col}\" AS value, count(*) AS parties, sum(clv) AS clv, avg(churn_probability) AS churn_probability, \
                    sum(financial_assets) AS financial_assets FROM {LATEST} GROUP BY 1 ORDER BY 2 DESC"
        )
    };
    let groups = query(&snap, &group("retention_group"), vec![]).await?;
    let recency = query(&snap, &group("recency_class"), vec![]).await?;
    // The churn model's quality on its validation date, as `portrait score` reported it.
    let mut model = Value::Null;
    if snap.has("model") {
        let rows = query(
            &snap,
            "SELECT model FROM model WHERE name = 'churn_report' ORDER BY as_of DESC LIMIT 1",
            vec![],
        )
        .await?;
        if let Some(text) = rows
            .first()
            .and_then(|r| r.get("model"))
            .and_then(Value::as_str)
        {
            let r: Value = serde_json::from_str(text).unwrap_or(Value::Null);
            let keep = [
                "label",
                "window_days",
                "inactive_days",
                "train_as_of",
                "train_dates",
                "test_as_of",
                "n_test",
                "test_churn_rate",
                "scored_with",
                "evaluations",
                "calibration",
                "churned_at_as_of",
            ];
            model = Value::Object(
                keep.iter()
                    .filter_map(|k| r.get(*k).map(|v| (k.to_string(), v.clone())))
                    .collect(),
            );
        }
    }
    // The parties most likely to leave that have not left yet.
    let at_risk = query(
        &snap,
        &format!(
            "SELECT party_id, churn_probability, clv, retention_group, recency_days, financial_assets              FROM {LATEST} WHERE churn_probability IS NOT NULL ORDER BY churn_probability DESC, clv DESC, party_id LIMIT 20"
        ),
        vec![],
    )
    .await?;
    let n = groups.len() as u64;
    auth.reply(
        &state,
        json!({}),
        n,
        json!({"retention_groups": groups, "recency_classes": recency, "churn_model": model, "at_risk": at_risk}),
    )
}

pub async fn segments(auth: Auth, State(state): State<AppState>) -> Result<Reply, ApiError> {
    let snap = state.snapshot().await?;
    snap.need(&["segment_profile"])?;
    let mut rows = query(
        &snap,
        "SELECT model, segment, size, share, value_share, name AS label, name_zh AS label_zh, action, \
                persona, persona_zh, features, tags FROM segment_profile ORDER BY model, segment",
        vec![],
    )
    .await?;
    for r in &mut rows {
        for k in ["features", "tags"] {
            if let Some(Value::String(s)) = r.get(k) {
                let parsed = serde_json::from_str(s).unwrap_or(Value::Null);
                r.insert(k.into(), parsed);
            }
        }
    }
    let n = rows.len() as u64;
    auth.reply(&state, json!({}), n, json!({"segments": rows}))
}

pub async fn tags(auth: Auth, State(state): State<AppState>) -> Result<Reply, ApiError> {
    let snap = state.snapshot().await?;
    let index = snap.index().await?;
    let tags: Vec<Value> = index
        .tags()
        .iter()
        .map(|t| {
            let values: Vec<Value> = t
                .values
                .iter()
                .map(|(v, b)| json!({"value": v, "parties": b.len()}))
                .collect();
            json!({
                "tag": t.info.name, "label_zh": t.info.label_zh, "label_en": t.info.label_en,
                "category": t.info.category, "kind": t.info.kind, "source": t.info.source,
                "description": t.info.description, "parties": t.any().len(), "values": values,
            })
        })
        .collect();
    let n = tags.len() as u64;
    auth.reply(
        &state,
        json!({}),
        n,
        json!({"parties": index.parties(), "consenting": index.consent().len(), "tags": tags}),
    )
}

#[derive(Deserialize)]
pub struct ExprQuery {
    expr: Option<String>,
    by: Option<String>,
}

/// Evaluates an expression off the async threads.
async fn select(
    snap: &Arc<Snapshot>,
    text: &str,
) -> Result<
    (
        Arc<portrait_tags::TagIndex>,
        portrait_engine::tags::Audience,
    ),
    ApiError,
> {
    let index = snap.index().await?;
    let (s, i, t) = (snap.clone(), index.clone(), text.to_string());
    let a = tokio::task::spawn_blocking(move || portrait_engine::tags::select(&s.store, &i, &t))
        .await
        .map_err(|e| ApiError::Internal(e.to_string()))?
        .map_err(|e| match e {
            portrait_engine::EngineError::Usage(m) => ApiError::bad("invalid_expression", m),
            other => ApiError::from(other),
        })?;
    Ok((index, a))
}

pub async fn audience_count(
    auth: Auth,
    State(state): State<AppState>,
    Q(q): Q<ExprQuery>,
) -> Result<Reply, ApiError> {
    let expr = required(&state, "expr", &q.expr)?;
    let snap = state.snapshot().await?;
    let (index, a) = select(&snap, expr).await?;
    let body = json!({
        "expr": a.expr.to_string(),
        "parties": a.parties.len(),
        "consenting": a.parties.intersection_len(index.consent()),
        "population": index.parties(),
    });
    auth.reply(&state, json!({"expr": expr}), 1, body)
}

pub async fn audience_breakdown(
    auth: Auth,
    State(state): State<AppState>,
    Q(q): Q<ExprQuery>,
) -> Result<Reply, ApiError> {
    let expr = required(&state, "expr", &q.expr)?;
    let by = required(&state, "by", &q.by)?;
    let snap = state.snapshot().await?;
    let (index, a) = select(&snap, expr).await?;
    let rows = index.breakdown(&a.parties, by).map_err(|e| match e {
        portrait_tags::TagsError::NotFound(m) => ApiError::bad("unknown_tag", m),
        other => ApiError::Internal(other.to_string()),
    })?;
    let rows: Vec<Value> = rows
        .into_iter()
        .map(|r| {
            json!({
                "value": r.value, "parties": r.count, "share": r.share,
                "population": r.population, "population_share": r.population_share,
                "lift": r.lift, "chi2": r.chi2, "p_value": r.p_value,
            })
        })
        .collect();
    let n = rows.len() as u64;
    let body =
        json!({"expr": a.expr.to_string(), "by": by, "parties": a.parties.len(), "rows": rows});
    auth.reply(&state, json!({"expr": expr, "by": by}), n, body)
}

/// Fewest parties an audience portrait describes: the tag values of a smaller audience tell
/// too much about the people in it (the same floor as `portrait report audience`).
pub const MIN_PORTRAIT_PARTIES: u64 = 10;

/// 人群画像: the tag values over-represented in the audience, most first.
pub async fn audience_portrait(
    auth: Auth,
    State(state): State<AppState>,
    Q(q): Q<ExprQuery>,
) -> Result<Reply, ApiError> {
    let expr = required(&state, "expr", &q.expr)?;
    let snap = state.snapshot().await?;
    let (index, a) = select(&snap, expr).await?;
    let n = a.parties.len();
    let suppressed = n < MIN_PORTRAIT_PARTIES;
    let rows: Vec<Value> = if suppressed {
        Vec::new()
    } else {
        let parties = a.parties.clone();
        tokio::task::spawn_blocking(move || index.portrait(&parties))
            .await
            .map_err(|e| ApiError::Internal(e.to_string()))?
            .into_iter()
            // A value held by a few members describes those members: each row counts at least
            // as many parties as an audience must hold.
            .filter(|r| r.count >= MIN_PORTRAIT_PARTIES && r.lift > 1.0 && r.p_value < 0.05)
            .take(25)
            .map(|r| {
                json!({
                    "tag": r.tag, "value": r.value, "parties": r.count, "share": r.share,
                    "population_share": r.population_share, "lift": r.lift,
                    "chi2": r.chi2, "p_value": r.p_value,
                })
            })
            .collect()
    };
    let count = rows.len() as u64;
    let body = json!({
        "expr": a.expr.to_string(), "parties": n, "suppressed": suppressed,
        "min_parties": MIN_PORTRAIT_PARTIES, "rows": rows,
    });
    auth.reply(&state, json!({"expr": expr}), count, body)
}

#[derive(Deserialize)]
pub struct AffinityQuery {
    expr: Option<String>,
    min_support: Option<f64>,
}

/// Rows of a tag affinity answer.
const AFFINITY_ROWS: usize = 30;

pub async fn tag_affinity(
    auth: Auth,
    State(state): State<AppState>,
    Q(q): Q<AffinityQuery>,
) -> Result<Reply, ApiError> {
    let expr = required(&state, "expr", &q.expr)?;
    let min_support = q.min_support.unwrap_or(0.0);
    if !(0.0..=1.0).contains(&min_support) {
        return Err(ApiError::bad(
            "invalid_parameter",
            "`min_support` must be between 0 and 1",
        ));
    }
    let snap = state.snapshot().await?;
    let (index, a) = select(&snap, expr).await?;
    let n = a.parties.len();
    // As the portrait: no rows for a handful of parties, nor rows of a handful.
    let suppressed = n < MIN_PORTRAIT_PARTIES;
    let rows: Vec<Value> = if suppressed {
        Vec::new()
    } else {
        let skip: Vec<String> = a
            .expr
            .leaves()
            .iter()
            .filter_map(|l| l.leaf_name().map(|(n, _)| n.to_string()))
            .collect();
        let parties = a.parties.clone();
        tokio::task::spawn_blocking(move || {
            let skip: Vec<&str> = skip.iter().map(String::as_str).collect();
            index.affinity(&parties, &skip, min_support)
        })
        .await
        .map_err(|e| ApiError::Internal(e.to_string()))?
        .into_iter()
        .filter(|r| r.both >= MIN_PORTRAIT_PARTIES)
        .take(AFFINITY_ROWS)
        .map(|r| {
            json!({
                "tag": r.tag, "value": r.value, "both": r.both, "support": r.support,
                "confidence": r.confidence, "lift": r.lift,
            })
        })
        .collect()
    };
    let count = rows.len() as u64;
    let body = json!({
        "expr": a.expr.to_string(), "parties": n, "suppressed": suppressed,
        "min_parties": MIN_PORTRAIT_PARTIES, "rows": rows,
    });
    auth.reply(
        &state,
        json!({"expr": expr, "min_support": min_support}),
        count,
        body,
    )
}

pub async fn audiences(auth: Auth, State(state): State<AppState>) -> Result<Reply, ApiError> {
    let snap = state.snapshot().await?;
    let list = portrait_engine::tags::saved_audiences(&snap.store)?;
    let rows: Vec<Value> = list
        .iter()
        .map(|a| json!({"audience": a.name, "expr": a.expr, "saved_at": a.saved_at, "as_of": a.as_of, "parties": a.parties}))
        .collect();
    let n = rows.len() as u64;
    auth.reply(&state, json!({}), n, json!({"audiences": rows}))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SaveBody {
    name: String,
    expr: String,
}

/// A saved audience's name, as given in the body field `field`.
fn audience_name(state: &AppState, field: &str, v: &str) -> Result<String, ApiError> {
    let name = required(state, field, &Some(v.to_string()))?.to_string();
    if name.chars().count() > 100 || name.chars().any(char::is_control) {
        return Err(ApiError::bad(
            "invalid_parameter",
            format!("`{field}` must be 1 to 100 characters without control characters"),
        ));
    }
    Ok(name)
}

pub async fn audience_save(
    auth: Auth,
    State(state): State<AppState>,
    Body(b): Body<SaveBody>,
) -> Result<Reply, ApiError> {
    let name = audience_name(&state, "name", &b.name)?;
    let expr = required(&state, "expr", &Some(b.expr.clone()))?.to_string();
    let snap = state.snapshot().await?;
    let (_, a) = select(&snap, &expr).await?;
    let canonical = a.expr.to_string();
    let (s, n, c) = (snap.clone(), name.clone(), canonical.clone());
    let parties = tokio::task::spawn_blocking(move || {
        portrait_engine::tags::save_audience(&s.store, &n, &c, &a.parties)
    })
    .await
    .map_err(|e| ApiError::Internal(e.to_string()))??;
    auth.reply(
        &state,
        json!({"audience": name, "expr": expr}),
        parties,
        json!({"audience": name, "expr": canonical, "parties": parties}),
    )
}

/// Most parties a lookalike request may ask for, and most listed in its answer (a saved
/// lookalike keeps them all).
const MAX_LOOKALIKE: usize = 100_000;
const LISTED_LOOKALIKE: usize = 1_000;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LookalikeBody {
    seed: String,
    size: u64,
    exclude: Option<String>,
    method: Option<String>,
    save: Option<String>,
}

pub async fn audience_lookalike(
    auth: Auth,
    State(state): State<AppState>,
    Body(b): Body<LookalikeBody>,
) -> Result<Reply, ApiError> {
    let seed = required(&state, "seed", &Some(b.seed.clone()))?.to_string();
    if b.size == 0 || b.size > MAX_LOOKALIKE as u64 {
        return Err(ApiError::bad(
            "invalid_parameter",
            format!("`size` must be 1 to {MAX_LOOKALIKE}"),
        ));
    }
    let method: portrait_engine::lookalike::Choice = match b.method.as_deref() {
        None => Default::default(),
        Some(m) => m
            .parse()
            .map_err(|e: String| ApiError::bad("invalid_parameter", &e))?,
    };
    let save = match &b.save {
        None => None,
        Some(n) => {
            let n = audience_name(&state, "save", n)?;
            // Saving is a campaign write, as `audience/save` is.
            if !matches!(
                auth.role,
                portrait_privacy::Role::Admin | portrait_privacy::Role::Marketer
            ) {
                return Err(ApiError::Forbidden);
            }
            Some(n)
        }
    };
    let snap = state.snapshot().await?;
    let (index, a) = select(&snap, &seed).await?;
    let exclude = match &b.exclude {
        Some(e) if !e.trim().is_empty() => {
            let e = required(&state, "exclude", &b.exclude)?;
            Some(select(&snap, e).await?.1.expr.to_string())
        }
        _ => None,
    };
    let spec = portrait_engine::lookalike::Spec {
        seed: a.expr.to_string(),
        size: b.size as usize,
        method,
        exclude,
    };
    // One lookalike at a time; the permit goes with the computation, so a client that hangs
    // up does not free it early.
    let Some(permit) = state.lookalike_permit() else {
        return Err(ApiError::RateLimited);
    };
    let (s, sp) = (snap.clone(), spec.clone());
    let found = tokio::task::spawn_blocking(move || {
        let _permit = permit;
        portrait_engine::lookalike::run(&s.store, &index, &sp)
    })
    .await
    .map_err(|e| ApiError::Internal(e.to_string()))?
    .map_err(|e| match e {
        portrait_engine::EngineError::Usage(m) => ApiError::bad("invalid_parameter", m),
        other => ApiError::from(other),
    })?;
    // Saved with the method chosen, in a step of its own after the computation.
    if let Some(name) = &save {
        let (s, n, text, parties) = (
            snap.clone(),
            name.clone(),
            spec.resolved(found.method).to_saved(),
            found.parties.clone(),
        );
        tokio::task::spawn_blocking(move || {
            portrait_engine::tags::save_audience(&s.store, &n, &text, &parties)
        })
        .await
        .map_err(|e| ApiError::Internal(e.to_string()))??;
    }
    let members: Vec<Value> = found
        .members
        .iter()
        .take(LISTED_LOOKALIKE)
        .map(|m| {
            json!({
                "party_id": m.party_id, "score": m.score,
                "why": m.why.iter().map(|(f, c)| json!({"feature": f, "adds": c})).collect::<Vec<_>>(),
            })
        })
        .collect();
    let n = found.members.len() as u64;
    let listed = members.len() as u64;
    let body = json!({
        "seed": spec.seed, "exclude": spec.exclude, "seed_parties": found.seed_parties,
        "candidates": found.candidates, "excluded": found.excluded, "method": found.method,
        "checks": found.checks, "features": found.features.len(), "dropped": found.dropped, "converged": found.converged,
        "parties": n, "listed": members.len(), "members": members, "saved": save,
    });
    auth.reply(
        &state,
        json!({"seed": spec.seed, "size": spec.size, "exclude": spec.exclude, "method": method, "save": save, "parties": n}),
        listed,
        body,
    )
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExportBody {
    expr: String,
    #[serde(default)]
    include_no_consent: bool,
    format: Option<String>,
    lang: Option<String>,
}

pub async fn audience_export(
    auth: Auth,
    State(state): State<AppState>,
    Body(b): Body<ExportBody>,
) -> Result<Reply, ApiError> {
    let expr = required(&state, "expr", &Some(b.expr.clone()))?.to_string();
    let xlsx = match b.format.as_deref() {
        None | Some("csv") => false,
        Some("xlsx") => true,
        Some(_) => {
            return Err(ApiError::bad(
                "invalid_parameter",
                "`format` is `csv` or `xlsx`",
            ));
        }
    };
    let lang: portrait_engine::labels::Lang = match b.lang.as_deref() {
        None => portrait_engine::labels::Lang::En,
        Some(l) => l
            .parse()
            .map_err(|e: String| ApiError::bad("invalid_parameter", &e))?,
    };
    // Exporting parties who refused marketing is an admin's decision alone (docs/security.md).
    if b.include_no_consent && auth.role != portrait_privacy::Role::Admin {
        return Err(ApiError::Forbidden);
    }
    let snap = state.snapshot().await?;
    let (index, a) = select(&snap, &expr).await?;
    let (batch, withheld) =
        portrait_engine::tags::export_rows(&snap.store, &index, &a.parties, !b.include_no_consent)
            .await?;
    let params = json!({"expr": a.expr.to_string(), "include_no_consent": b.include_no_consent, "withheld_no_consent": withheld, "format": if xlsx { "xlsx" } else { "csv" }});
    if xlsx {
        return auth
            .reply_xlsx(&state, params, &a.expr.to_string(), batch, lang)
            .await;
    }
    let columns: Vec<String> = batch
        .schema()
        .fields()
        .iter()
        .map(|f| f.name().clone())
        .collect();
    let rows: Vec<Value> = to_rows(&[batch])?.into_iter().map(Value::Object).collect();
    let export_id = format!("EXP-{}", hex::encode(rand::random::<[u8; 8]>()));
    auth.reply_csv(&state, params, &export_id, &columns, rows)
}

#[derive(Deserialize)]
pub struct SearchQuery {
    q: Option<String>,
    limit: Option<u32>,
}

/// A party id or customer number: letters, digits, `-` and `_`.
fn is_key(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 64
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

pub async fn customer_search(
    auth: Auth,
    State(state): State<AppState>,
    Q(q): Q<SearchQuery>,
) -> Result<Reply, ApiError> {
    let text = required(&state, "q", &q.q)?;
    if text.chars().count() > 64 {
        return Err(ApiError::bad(
            "invalid_parameter",
            "`q` is longer than 64 characters",
        ));
    }
    let limit = q.limit.unwrap_or(20);
    if !(1..=100).contains(&limit) {
        return Err(ApiError::bad(
            "invalid_parameter",
            "`limit` must be between 1 and 100",
        ));
    }
    let snap = state.snapshot().await?;
    snap.need(&["party", "party_member"])?;
    let sql = format!(
        "SELECT p.party_id, p.primary_cust_no, p.name, p.gender, p.mobile, p.id_no, p.province, p.city, p.cust_type, p.cust_count \
         FROM party p WHERE p.party_id = $1 \
            OR p.party_id IN (SELECT party_id FROM party_member WHERE cust_no = $1) \
            OR starts_with(p.name, $1) \
         ORDER BY CASE WHEN p.party_id = $1 THEN 0 ELSE 1 END, p.party_id LIMIT {limit}"
    );
    let rows = query(&snap, &sql, vec![utf8(text)]).await?;
    let n = rows.len() as u64;
    auth.reply(
        &state,
        json!({"q": text, "limit": limit}),
        n,
        json!({"customers": rows}),
    )
}

pub async fn customer_360(
    auth: Auth,
    State(state): State<AppState>,
    P(party_id): P<String>,
) -> Result<Reply, ApiError> {
    if !is_key(&party_id) {
        return Err(ApiError::bad(
            "invalid_parameter",
            "a party id has only letters, digits, `-` and `_`",
        ));
    }
    let snap = state.snapshot().await?;
    snap.need(&["party", "party_member"])?;
    let id = || vec![utf8(&party_id)];
    let party = query(&snap, "SELECT * FROM party WHERE party_id = $1", id()).await?;
    let Some(party) = party.into_iter().next() else {
        return Err(ApiError::NotFound(format!("no party `{party_id}`")));
    };
    let members = query(
        &snap,
        "SELECT cust_no, rule, probability FROM party_member WHERE party_id = $1 ORDER BY cust_no",
        id(),
    )
    .await?;
    let optional = |table: &str, sql: String| {
        let has = snap.has(table);
        let snap = snap.clone();
        let p = party_id.clone();
        async move {
            if has {
                query(&snap, &sql, vec![utf8(&p)]).await
            } else {
                Ok(Vec::new())
            }
        }
    };
    let features = optional(
        "features",
        format!("SELECT * FROM {LATEST} WHERE party_id = $1"),
    )
    .await?
    .into_iter()
    .next();
    let tags = optional(
        "tag",
        "SELECT tag, value FROM tag WHERE party_id = $1 ORDER BY tag, value".into(),
    )
    .await?;
    let segments = if snap.has("segment_profile") {
        optional(
            "segment",
            "SELECT s.model, s.segment, s.distance, p.name AS label, p.name_zh AS label_zh, p.action \
             FROM segment s LEFT JOIN segment_profile p ON p.model = s.model AND p.segment = s.segment \
             WHERE s.party_id = $1 ORDER BY s.model"
                .into(),
        )
        .await?
    } else {
        optional(
            "segment",
            "SELECT model, segment, distance FROM segment WHERE party_id = $1 ORDER BY model"
                .into(),
        )
        .await?
    };
    let recommendations = optional(
        "recommendation",
        "SELECT * FROM recommendation WHERE party_id = $1 ORDER BY score DESC".into(),
    )
    .await?;
    let links = optional(
        "link",
        "SELECT CASE WHEN l.party_a = $1 THEN l.party_b ELSE l.party_a END AS party_id, l.kind, l.score, l.evidence, \
                o.name, o.cust_type \
         FROM link l LEFT JOIN party o ON o.party_id = CASE WHEN l.party_a = $1 THEN l.party_b ELSE l.party_a END \
         WHERE l.party_a = $1 OR l.party_b = $1 ORDER BY l.score DESC, 1 LIMIT 200"
            .into(),
    )
    .await?;
    let group = optional(
        "party_group",
        "SELECT * FROM party_group WHERE party_id = $1".into(),
    )
    .await?
    .into_iter()
    .next();
    let rows = 1 + members.len() + tags.len() + links.len() + recommendations.len();
    let body = json!({
        "party": party, "members": members, "features": features, "tags": tags,
        "segments": segments, "recommendations": recommendations, "links": links, "group": group,
    });
    auth.reply(&state, json!({"party_id": party_id}), rows as u64, body)
}

pub async fn coverage(auth: Auth, State(state): State<AppState>) -> Result<Reply, ApiError> {
    let snap = state.snapshot().await?;
    if snap.store.manifest().tables.is_empty() {
        return Err(ApiError::NotReady("the store is empty".into()));
    }
    let batch = portrait_engine::coverage::coverage(&snap.store, &snap.ctx).await?;
    let rows = to_rows(&[batch])?;
    let n = rows.len() as u64;
    auth.reply(&state, json!({}), n, json!({"coverage": rows}))
}

#[derive(Deserialize)]
pub struct AuditParams {
    user: Option<String>,
    action: Option<String>,
    export_id: Option<String>,
    limit: Option<u32>,
}

pub async fn audit(
    auth: Auth,
    State(state): State<AppState>,
    Q(q): Q<AuditParams>,
) -> Result<Reply, ApiError> {
    let limit = q.limit.unwrap_or(100);
    if !(1..=1000).contains(&limit) {
        return Err(ApiError::bad(
            "invalid_parameter",
            "`limit` must be between 1 and 1000",
        ));
    }
    let filter = portrait_privacy::AuditQuery {
        user: q.user.clone(),
        action: q.action.clone(),
        export_id: q.export_id.clone(),
        limit,
    };
    let privacy = state.privacy().clone();
    let entries = tokio::task::spawn_blocking(move || privacy.audit_log(&filter))
        .await
        .map_err(|e| ApiError::Internal(e.to_string()))??;
    let n = entries.len() as u64;
    let params =
        json!({"user": q.user, "action": q.action, "export_id": q.export_id, "limit": limit});
    auth.reply(&state, params, n, json!({"entries": entries}))
}

pub async fn users(auth: Auth, State(state): State<AppState>) -> Result<Reply, ApiError> {
    let users = state.privacy().users()?;
    let n = users.len() as u64;
    let rows: Vec<Value> = users
        .into_iter()
        .map(|u| json!({"user": u.name, "role": u.role, "tokens": u.tokens, "created_at": u.created_at}))
        .collect();
    auth.reply(&state, json!({}), n, json!({"users": rows}))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RevokeBody {
    name: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RotateBody {
    name: String,
    #[serde(default)]
    expires: Option<String>,
}

/// A user name as `portrait user add` accepts it.
fn user_name<'a>(state: &AppState, name: &'a Option<String>) -> Result<&'a str, ApiError> {
    let n = required(state, "name", name)?;
    if n.chars().count() > 64 || n.chars().any(char::is_control) {
        return Err(ApiError::bad(
            "invalid_parameter",
            "`name` must be 1 to 64 characters without control characters",
        ));
    }
    Ok(n)
}

pub async fn users_revoke(
    auth: Auth,
    State(state): State<AppState>,
    Body(b): Body<RevokeBody>,
) -> Result<Reply, ApiError> {
    let name = Some(b.name);
    let name = user_name(&state, &name)?;
    let revoked = state.privacy().revoke_user(name, &auth.user)?;
    state.forget_user(name);
    auth.reply(
        &state,
        json!({"name": name}),
        u64::from(revoked),
        json!({"user": name, "revoked": revoked}),
    )
}

pub async fn users_rotate(
    auth: Auth,
    State(state): State<AppState>,
    Body(b): Body<RotateBody>,
) -> Result<Reply, ApiError> {
    let name = Some(b.name);
    let name = user_name(&state, &name)?;
    let until = b
        .expires
        .as_deref()
        .map(|e| {
            portrait_privacy::db::expiry(e)
                .map_err(|e| ApiError::bad("invalid_parameter", format!("`expires` {e}")))
        })
        .transpose()?;
    let token = state.privacy().rotate_user(name, until, &auth.user)?;
    state.forget_user(name);
    let expires_at = until.map(|t| t.to_rfc3339());
    // The new token is in this answer only (admins see it unmasked); the audit record keeps
    // the name and the expiry.
    auth.reply(
        &state,
        json!({"name": name, "expires": b.expires}),
        1,
        json!({"user": name, "token": token, "expires_at": expires_at}),
    )
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EraseBody {
    cust_no: String,
    reason: String,
}

pub async fn erase(
    auth: Auth,
    State(state): State<AppState>,
    Body(b): Body<EraseBody>,
) -> Result<Reply, ApiError> {
    let cust_no = Some(b.cust_no);
    let cust_no = required(&state, "cust_no", &cust_no)?;
    if !is_key(cust_no) {
        return Err(ApiError::bad(
            "invalid_parameter",
            "`cust_no` must be letters, digits, `-` or `_`",
        ));
    }
    let reason = Some(b.reason);
    let reason = required(&state, "reason", &reason)?;
    // Whom it erased is not kept in clear; the request is on record before anything changes,
    // so a crash part-way leaves it there.
    let params = json!({"cust_no": portrait_types::mask_keep(cust_no, 2, 2), "reason": reason});
    auth.record_step(&state, "erase.request", params.clone(), 202)?;
    let store = portrait_store::Store::open(state.store_dir()).map_err(|e| {
        auth.record_failure(&state, params.clone(), ApiError::Internal(e.to_string()))
    })?;
    let report = match portrait_engine::erase::erase(&store, cust_no).await {
        Ok(r) => r,
        // Another writer (a run, or the rebuild after an earlier erasure) holds the store.
        Err(e @ portrait_engine::EngineError::Store(portrait_store::StoreError::Busy { .. })) => {
            let err = ApiError::NotReady(format!("{e}; try again when it is done"));
            return Err(auth.record_failure(&state, params, err));
        }
        Err(e) if e.is_user_error() => {
            return Err(auth.record_failure(&state, params, ApiError::NotFound(e.to_string())));
        }
        Err(e) => return Err(auth.record_failure(&state, params, e.into())),
    };
    let rows: u64 = report.removed.iter().map(|(_, n)| n).sum();
    let rebuild = match state.rebuild() {
        Some(r) => {
            let (dir, st) = (state.store_dir().to_path_buf(), state.clone());
            let user = auth.user.clone();
            tokio::task::spawn_blocking(move || {
                let status = match r(&dir) {
                    Ok(()) => 200,
                    Err(e) => {
                        tracing::error!("rebuilding after an erasure: {e}");
                        500
                    }
                };
                let _ = st.privacy().audit(&portrait_privacy::NewAudit {
                    user: &user,
                    role: "admin",
                    action: "erase.rebuild",
                    params: json!({}),
                    rows: 0,
                    status,
                    export_id: None,
                    request_id: None,
                });
            });
            "started"
        }
        None => "run `portrait run` to rebuild the derived tables and the tag index",
    };
    let tables: Vec<Value> = report
        .removed
        .iter()
        .map(|(t, n)| json!({"table": t, "rows": n}))
        .collect();
    let mut audit = params;
    audit["parties"] = json!(report.parties.len());
    audit["tables"] = json!(tables);
    audit["dropped"] = json!(report.dropped);
    auth.reply(
        &state,
        audit,
        rows,
        json!({"erased": portrait_types::mask_keep(cust_no, 2, 2), "rows": rows, "tables": tables,
               "dropped": report.dropped, "rebuild": rebuild}),
    )
}
