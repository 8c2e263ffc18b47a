//! `portrait score`: value, lifetime, churn and retention scores of every party at an as-of
//! date, written to `score` (read through the `features` view), with the fitted models in
//! `model` and the value of every product by group in `product_value`. One commit: a failed run
//! changes nothing.

pub mod bgnbd;
pub mod churn;
pub mod config;
pub mod eval;

use std::collections::HashMap;
use std::sync::Arc;

use arrow::array::{AsArray, Float64Array, RecordBatch, StringArray};
use arrow::datatypes::{DataType, Field, Schema};
use chrono::NaiveDate;
use portrait_store::Store;
use serde::Serialize;

pub use config::ScoreConfig;

use crate::features::{self, FeatureConfig, sql::SCORE_COLUMNS};
use crate::{EngineError, Result};

/// Table of fitted models.
pub const MODEL_TABLE: &str = "model";
/// Table of every party's scores by as-of date, read through the `features` view.
pub const SCORE_TABLE: &str = "score";
/// Table of revenue and profit per product and group.
pub const PRODUCT_VALUE_TABLE: &str = "product_value";
/// Groupings of `product_value`.
pub const VALUE_GROUPS: &[&str] = &["asset_tier", "retention_group", "rfm_class", "age_group"];

pub use crate::pipeline::Progress;

/// What a run produced.
#[derive(Debug, Serialize)]
pub struct Outcome {
    pub as_of: NaiveDate,
    pub parties: u64,
    pub bgnbd: Option<bgnbd::Fitted>,
    pub churn: Option<churn::Report>,
    /// Parties per retention group.
    pub retention: Vec<(String, u64)>,
    /// What the run could not compute, or had to do to compute it.
    pub notes: Vec<String>,
    /// Score rows of other as-of dates kept from before.
    pub kept: u64,
    pub version: u64,
}

/// Scores the parties of the features at `as_of` and commits.
pub async fn run(
    store: &Store,
    fcfg: &FeatureConfig,
    cfg: &ScoreConfig,
    as_of: NaiveDate,
    churn_rows: Option<&std::path::Path>,
    progress: &dyn Progress,
) -> Result<Outcome> {
    cfg.validate().map_err(EngineError::Usage)?;
    fcfg.validate().map_err(EngineError::Usage)?;
    let day = as_of.format("%Y-%m-%d").to_string();
    if store.table(features::TABLE).is_none() {
        return Err(EngineError::Usage(format!(
            "no features in the store\nhint: run `portrait features --as-of {day}` first"
        )));
    }
    let ctx = crate::open_session(store).await?;
    features::register_missing_inputs(&ctx, store)?;
    let parties_kind = features::parties(store);
    let mut txn = store.begin()?;

    // The parties of that date, in order.
    let base = ctx
        .sql(&format!(
            "SELECT CAST(party_id AS VARCHAR) AS party_id, profit, CAST(recency_class AS VARCHAR) AS recency_class \
             FROM {} WHERE as_of = DATE '{day}' ORDER BY party_id",
            features::TABLE
        ))
        .await?
        .collect()
        .await?;
    let mut ids = Vec::new();
    let mut profit = Vec::new();
    for b in &base {
        let id = crate::utf8(b.column(0))?;
        let id = id.as_string::<i32>();
        let pr = b.column(1).as_primitive::<arrow::datatypes::Float64Type>();
        for i in 0..b.num_rows() {
            ids.push(id.value(i).to_string());
            profit.push(pr.value(i));
        }
    }
    if ids.is_empty() {
        return Err(EngineError::Usage(format!(
            "the store has no features as of {day}\nhint: run `portrait features --as-of {day}` first"
        )));
    }
    let n = ids.len();

    // Discounted-profit CLV.
    let factor = cfg.clv_factor();
    let clv: Vec<f64> = profit.iter().map(|p| p * factor).collect();

    // BG/NBD + Gamma-Gamma.
    progress.stage("fitting BG/NBD and Gamma-Gamma");
    let (rows, fitted) =
        bgnbd::summarise_and_fit(&ctx, fcfg, &cfg.bgnbd, as_of, parties_kind).await?;
    let (mut p_alive, mut expected, mut value, mut clv_bg) = (
        vec![f64::NAN; n],
        vec![f64::NAN; n],
        vec![f64::NAN; n],
        vec![f64::NAN; n],
    );
    let mut notes = Vec::new();
    let fitted = if rows.is_empty() {
        notes.push(
            "BG/NBD: no party has any activity (no transactions); p_alive, expected_purchases and clv_bgnbd are empty\nhint: load `transaction.csv` with `portrait ingest transaction=FILE`"
                .to_string(),
        );
        None
    } else if let Some(fitted) = fitted {
        notes.extend(fitted.notes.iter().cloned());
        let index: HashMap<&str, usize> = ids
            .iter()
            .enumerate()
            .map(|(i, s)| (s.as_str(), i))
            .collect();
        for s in &rows {
            if let Some(&i) = index.get(s.party_id.as_str()) {
                let p = bgnbd::predict(&fitted, s, &cfg.bgnbd);
                p_alive[i] = p.p_alive;
                expected[i] = p.expected_purchases;
                value[i] = p.expected_value;
                clv_bg[i] = p.clv;
            }
        }
        Some(fitted)
    } else {
        notes.push(
            "BG/NBD: no party has a repeat activity day, so the dropout process cannot be fitted; lifetime columns are empty"
                .to_string(),
        );
        None
    };

    // Churn.
    progress.stage("training churn models");
    let scratch = [
        txn.scratch_dir("churn.train")?,
        txn.scratch_dir("churn.test")?,
    ];
    let churned = churn::train_and_score(
        &ctx,
        store,
        fcfg,
        cfg,
        as_of,
        &ids,
        [&scratch[0], &scratch[1]],
        churn_rows,
        progress,
    )
    .await?;
    let (churn_p, gone, churn_report) = match churned {
        Some(c) => {
            notes.extend(c.report.notes.iter().cloned());
            (c.probability, c.churned, Some(c.report))
        }
        None => {
            let k = &cfg.churn;
            notes.push(format!(
                "churn: no model — the dates {} and {} days before {as_of} hold no churner or no stayer (a label needs score.churn.window_days = {} days after its date, and inactive_days = {} more to see a silence last); churn_probability is empty",
                2 * k.window_days + k.inactive_days,
                k.window_days + k.inactive_days,
                k.window_days,
                k.inactive_days
            ));
            (vec![f64::NAN; n], vec![false; n], None)
        }
    };

    // Retention groups.
    let worth = if cfg.retention.value == "clv_bgnbd" {
        &clv_bg
    } else {
        &clv
    };
    let groups = retention_groups(worth, &churn_p, &gone, &cfg.retention);
    let mut counts: std::collections::BTreeMap<String, u64> = Default::default();
    for g in &groups {
        *counts.entry(g.to_string()).or_default() += 1;
    }

    // Write back.
    progress.stage("writing scores");
    let nan_null =
        |v: &[f64]| -> Float64Array { v.iter().map(|x| x.is_finite().then_some(*x)).collect() };
    let schema = Arc::new(Schema::new(vec![
        Field::new("party_id", DataType::Utf8, false),
        Field::new("clv", DataType::Float64, true),
        Field::new("p_alive", DataType::Float64, true),
        Field::new("expected_purchases", DataType::Float64, true),
        Field::new("expected_value", DataType::Float64, true),
        Field::new("clv_bgnbd", DataType::Float64, true),
        Field::new("churn_probability", DataType::Float64, true),
        Field::new("retention_group", DataType::Utf8, true),
    ]));
    let batch = RecordBatch::try_new(
        schema.clone(),
        vec![
            Arc::new(StringArray::from_iter_values(ids.iter())),
            Arc::new(nan_null(&clv)),
            Arc::new(nan_null(&p_alive)),
            Arc::new(nan_null(&expected)),
            Arc::new(nan_null(&value)),
            Arc::new(nan_null(&clv_bg)),
            Arc::new(nan_null(&churn_p)),
            Arc::new(StringArray::from_iter_values(groups.iter())),
        ],
    )?;
    crate::session::register_batches(
        &ctx,
        "scores",
        schema,
        vec![batch],
        &txn.scratch_dir("scores")?,
    )
    .await?;

    // The score rows of this date, with those of other dates kept.
    let score_cols: Vec<&str> = SCORE_COLUMNS.iter().map(|(c, _)| *c).collect();
    let mut sql = format!(
        "SELECT s.party_id, DATE '{day}' AS as_of, {} FROM scores s",
        score_cols
            .iter()
            .map(|c| format!("s.\"{c}\""))
            .collect::<Vec<_>>()
            .join(", ")
    );
    if store.table(SCORE_TABLE).is_some() {
        sql += &format!(
            " UNION ALL SELECT CAST(party_id AS VARCHAR), as_of, {} FROM {SCORE_TABLE} WHERE as_of <> DATE '{day}'",
            score_cols
                .iter()
                .map(|c| format!("\"{c}\""))
                .collect::<Vec<_>>()
                .join(", ")
        );
    }
    crate::output::stage_query(
        &mut txn,
        SCORE_TABLE,
        ctx.sql(&sql).await?,
        format!("scored as of {as_of}"),
    )
    .await?;
    // Read `features` with the new scores from here on.
    ctx.deregister_table(SCORE_TABLE)?;
    crate::session::register_dir(&ctx, SCORE_TABLE, &txn.staged_dir(SCORE_TABLE)).await?;
    crate::session::register_features_view(&ctx, &store.table_dir(features::TABLE)?).await?;

    // Value by product and group, from the scored rows just written.
    let (p, from) = parties_kind.owner("holding", "h");
    let parts: Vec<String> = VALUE_GROUPS
        .iter()
        .map(|g| {
            format!(
                "SELECT '{g}' AS group_by, CAST(f.{g} AS VARCHAR) AS \"group\", h.product_id, \
                 MAX(h.product_type) AS product_type, COUNT(DISTINCT {p}) AS holders, \
                 SUM(CAST(h.revenue AS DOUBLE)) AS revenue, SUM(CAST(h.cost AS DOUBLE)) AS cost, \
                 SUM(CAST(h.revenue AS DOUBLE)) - SUM(CAST(h.cost AS DOUBLE)) AS profit \
                 FROM {from} JOIN features f ON CAST(f.party_id AS VARCHAR) = CAST({p} AS VARCHAR) AND f.as_of = DATE '{day}' \
                 GROUP BY 1, 2, 3"
            )
        })
        .collect();
    let value_sql = format!(
        "SELECT DATE '{day}' AS as_of, v.*, v.profit / NULLIF(SUM(v.profit) OVER (PARTITION BY v.group_by, v.\"group\"), 0) AS profit_share \
         FROM ({}) v ORDER BY group_by, \"group\", profit DESC",
        parts.join(" UNION ALL ")
    );
    crate::output::stage_query(
        &mut txn,
        PRODUCT_VALUE_TABLE,
        ctx.sql(&value_sql).await?,
        format!("value by product as of {as_of}"),
    )
    .await?;

    // The fitted models.
    let mut names = Vec::new();
    let mut params = Vec::new();
    if let Some(f) = &fitted {
        names.push("bgnbd".to_string());
        params.push(churn::to_json(&f.bgnbd)?);
        if let Some(g) = &f.spend {
            names.push("gamma_gamma".to_string());
            params.push(churn::to_json(g)?);
        }
    }
    if let Some(r) = &churn_report {
        for (name, json) in &r.models {
            names.push(name.clone());
            params.push(json.clone());
        }
        names.push("churn_report".into());
        params.push(churn::to_json(r)?);
    }
    let schema = Arc::new(Schema::new(vec![
        Field::new("name", DataType::Utf8, false),
        Field::new("as_of", DataType::Date32, false),
        Field::new("model", DataType::Utf8, false),
    ]));
    let date = arrow::array::Date32Array::from(vec![
        (as_of - NaiveDate::from_ymd_opt(1970, 1, 1).expect("epoch")).num_days()
            as i32;
        names.len()
    ]);
    let models = RecordBatch::try_new(
        schema.clone(),
        vec![
            Arc::new(StringArray::from(names)),
            Arc::new(date),
            Arc::new(StringArray::from(params)),
        ],
    )?;
    crate::output::stage_batches(
        &mut txn,
        MODEL_TABLE,
        schema,
        &[models],
        format!("models as of {as_of}"),
    )?;

    let manifest = txn.commit()?;
    let kept = manifest
        .tables
        .get(SCORE_TABLE)
        .map_or(0, |t| t.rows.saturating_sub(n as u64));
    Ok(Outcome {
        as_of,
        parties: n as u64,
        bgnbd: fitted,
        churn: churn_report,
        retention: counts.into_iter().collect(),
        notes,
        kept,
        version: manifest.version,
    })
}

/// The six retention groups; see [`config::RetentionConfig`].
pub fn retention_groups(
    value: &[f64],
    churn: &[f64],
    churned: &[bool],
    cfg: &config::RetentionConfig,
) -> Vec<&'static str> {
    // The cut among the parties still here.
    let mut positive: Vec<f64> = value
        .iter()
        .zip(churned)
        .filter(|(v, gone)| !**gone && v.is_finite() && **v > 0.0)
        .map(|(v, _)| *v)
        .collect();
    positive.sort_by(f64::total_cmp);
    let cut = if positive.is_empty() {
        f64::INFINITY
    } else {
        let k = ((1.0 - cfg.high_value_share) * positive.len() as f64).floor() as usize;
        positive[k.min(positive.len() - 1)]
    };
    value
        .iter()
        .zip(churn)
        .zip(churned)
        .map(|((&v, &p), &gone)| {
            if gone {
                return "churned";
            }
            if !(v.is_finite() && v > 0.0) {
                return "no_value";
            }
            let prone = p.is_finite() && p >= cfg.churn_prone_from;
            match (v >= cut, prone) {
                (true, false) => "high_value_stable",
                (true, true) => "high_value_churn_prone",
                (false, false) => "low_value_stable",
                (false, true) => "low_value_churn_prone",
            }
        })
        .collect()
}

/// Fits BG/NBD and Gamma-Gamma on the store's transactions up to `end` (the calibration
/// period's last day) without writing anything.
pub async fn fit_bgnbd(
    store: &Store,
    fcfg: &FeatureConfig,
    cfg: &ScoreConfig,
    end: NaiveDate,
) -> Result<bgnbd::Fitted> {
    cfg.validate().map_err(EngineError::Usage)?;
    if store.table("transaction").is_none() {
        return Err(EngineError::Usage(format!(
            "the store `{}` has no transactions\nhint: load them with `portrait ingest transaction=FILE`",
            store.root().display()
        )));
    }
    let ctx = crate::open_session(store).await?;
    features::register_missing_inputs(&ctx, store)?;
    let (_, fitted) =
        bgnbd::summarise_and_fit(&ctx, fcfg, &cfg.bgnbd, end, features::parties(store)).await?;
    fitted.ok_or_else(|| {
        EngineError::Usage(format!(
            "no party has a repeat activity day up to {end}, so BG/NBD cannot be fitted"
        ))
    })
}

/// The `score` stage: value, lifetime, churn and retention scores of the latest features.
pub struct ScoreStage;

impl crate::pipeline::Stage for ScoreStage {
    fn name(&self) -> &'static str {
        "score"
    }
    fn requires(&self) -> crate::pipeline::Requirement {
        &[&[features::TABLE]]
    }
    fn uses(&self) -> &'static [&'static str] {
        &[
            "transaction",
            "asset_snapshot",
            "holding",
            crate::identity::PARTY_MEMBER,
            SCORE_TABLE,
        ]
    }
    fn writes(&self) -> &'static [&'static str] {
        &[SCORE_TABLE, MODEL_TABLE, PRODUCT_VALUE_TABLE]
    }
    fn run<'a>(
        &'a self,
        store: &'a Store,
        settings: &'a crate::pipeline::Settings,
        progress: &'a dyn crate::pipeline::Progress,
    ) -> futures::future::BoxFuture<'a, Result<crate::pipeline::Step>> {
        Box::pin(async move {
            let as_of = match settings.as_of {
                Some(d) => d,
                None => match crate::pipeline::latest_features(store).await? {
                    Some(d) => d,
                    None => {
                        return Ok(crate::pipeline::Step::Skipped(
                            "the features table is empty\nhint: run `portrait features`".into(),
                        ));
                    }
                },
            };
            let o = run(
                store,
                &settings.features,
                &settings.score,
                as_of,
                settings.churn_rows.as_deref(),
                progress,
            )
            .await?;
            Ok(crate::pipeline::Step::Ran(crate::pipeline::Report::Score(
                o,
            )))
        })
    }
}
