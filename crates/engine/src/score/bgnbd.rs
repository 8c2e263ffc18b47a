//! BG/NBD + Gamma-Gamma: repeat-purchase summaries per party from the transactions (one DataFusion
//! plan), the maximum-likelihood fits, and the per-party predictions.
//!
//! A party's purchases are its activity days (several transactions on one day are one purchase
//! of their summed value), as in the published CDNOW analyses: `x` = activity days − 1,
//! `t_x` = last − first activity day, `T` = calibration end − first activity day, in units of
//! `unit_days`, and `m` = the mean value of the repeat days.

use arrow::array::{Array, AsArray, RecordBatch};
use arrow::datatypes::Float64Type;
use chrono::NaiveDate;
use datafusion::prelude::SessionContext;
use portrait_model::{BgNbd, Discounting, Fit, FitOptions, GammaGamma, Rfm, Spend};
use serde::Serialize;

use super::config::BgNbdConfig;
use crate::features::{FeatureConfig, Parties};
use crate::{EngineError, Result};

/// One party's summary at the calibration end.
#[derive(Debug, Clone)]
pub struct Summary {
    pub party_id: String,
    pub rfm: Rfm,
    /// Mean value of the repeat days; NaN without repeats.
    pub m: f64,
}

/// The statement that summarises every party with activity up to `end` (inclusive).
pub fn summary_sql(
    cfg: &FeatureConfig,
    end: NaiveDate,
    parties: Parties,
    unit_days: f64,
) -> String {
    let (p, from) = match parties {
        Parties::PerCustomer => ("x.cust_no", "\"transaction\" x".to_string()),
        Parties::Resolved => (
            "pm.party_id",
            "\"transaction\" x JOIN party_member pm ON pm.cust_no = x.cust_no".to_string(),
        ),
    };
    let mut activity = format!(
        "(x.direction IS NULL OR x.direction IN ({}))",
        cfg.rfm
            .directions
            .iter()
            .map(|d| format!("'{d}'"))
            .collect::<Vec<_>>()
            .join(", ")
    );
    if !cfg.rfm.exclude_categories.is_empty() {
        activity += &format!(
            " AND (x.category IS NULL OR x.category NOT IN ({}))",
            cfg.rfm
                .exclude_categories
                .iter()
                .map(|c| format!("'{}'", c.replace('\'', "''")))
                .collect::<Vec<_>>()
                .join(", ")
        );
    }
    let next = (end + chrono::Duration::days(1)).format("%Y-%m-%d");
    let end = end.format("%Y-%m-%d");
    format!(
        "WITH d AS (SELECT {p} AS party_id, CAST(x.ts AS DATE) AS day, SUM(CAST(x.amount AS DOUBLE)) AS amount \
         FROM {from} WHERE x.ts < TIMESTAMP '{next} 00:00:00' AND {activity} GROUP BY {p}, CAST(x.ts AS DATE)) \
         SELECT party_id, CAST(COUNT(*) - 1 AS DOUBLE) AS x, \
         CAST(MAX(day) - MIN(day) AS DOUBLE) / {unit_days:?} AS t_x, \
         CAST(DATE '{end}' - MIN(day) AS DOUBLE) / {unit_days:?} AS t, \
         (SUM(amount) - first_value(amount ORDER BY day)) / CAST(NULLIF(COUNT(*) - 1, 0) AS DOUBLE) AS m \
         FROM d GROUP BY party_id ORDER BY party_id"
    )
}

/// Summaries of every party with activity up to `end`.
pub async fn summaries(
    ctx: &SessionContext,
    cfg: &FeatureConfig,
    end: NaiveDate,
    parties: Parties,
    unit_days: f64,
) -> Result<Vec<Summary>> {
    let batches = ctx
        .sql(&summary_sql(cfg, end, parties, unit_days))
        .await?
        .collect()
        .await?;
    let mut out = Vec::new();
    for b in &batches {
        read_batch(b, &mut out)?;
    }
    Ok(out)
}

fn read_batch(b: &RecordBatch, out: &mut Vec<Summary>) -> Result<()> {
    let ids = crate::utf8(b.column(0))?;
    let ids = ids.as_string::<i32>();
    let f = |i: usize| {
        b.column(i)
            .as_primitive_opt::<Float64Type>()
            .ok_or_else(|| EngineError::Internal(format!("summary column {i} is not DOUBLE")))
    };
    let (x, t_x, t, m) = (f(1)?, f(2)?, f(3)?, f(4)?);
    for i in 0..b.num_rows() {
        out.push(Summary {
            party_id: ids.value(i).to_string(),
            rfm: Rfm {
                x: x.value(i),
                t_x: t_x.value(i),
                t: t.value(i),
            },
            m: if m.is_valid(i) { m.value(i) } else { f64::NAN },
        });
    }
    Ok(())
}

/// Both fits with their diagnostics; `spend` is absent when no party has a positive repeat
/// value.
#[derive(Debug, Clone, Serialize)]
pub struct Fitted {
    pub bgnbd: Fit<BgNbd>,
    pub spend: Option<Fit<GammaGamma>>,
    pub unit_days: f64,
}

pub fn fit(rows: &[Summary], cfg: &BgNbdConfig) -> Result<Fitted> {
    if rows.is_empty() {
        return Err(EngineError::Usage(
            "no party has any activity up to the calibration end, so there is nothing to fit"
                .into(),
        ));
    }
    let options = FitOptions {
        penalizer: cfg.penalizer,
        ..FitOptions::default()
    };
    let rfm: Vec<Rfm> = rows.iter().map(|s| s.rfm).collect();
    let bgnbd = BgNbd::fit_with(&rfm, &options).map_err(model_error)?;
    let spend: Vec<Spend> = rows
        .iter()
        .filter(|s| s.rfm.x > 0.0 && s.m > 0.0)
        .map(|s| Spend { x: s.rfm.x, m: s.m })
        .collect();
    let spend = if spend.is_empty() {
        None
    } else {
        Some(GammaGamma::fit_with(&spend, &options).map_err(model_error)?)
    };
    Ok(Fitted {
        bgnbd,
        spend,
        unit_days: cfg.unit_days,
    })
}

pub(crate) fn model_error(e: portrait_model::ModelError) -> EngineError {
    EngineError::Query(format!("model fit: {e}"))
}

/// Per-party predictions.
#[derive(Debug, Clone, Copy)]
pub struct Prediction {
    pub p_alive: f64,
    pub expected_purchases: f64,
    pub expected_value: f64,
    pub clv: f64,
}

pub fn predict(f: &Fitted, s: &Summary, cfg: &BgNbdConfig) -> Prediction {
    let m = &f.bgnbd.model;
    let Rfm { x, t_x, t } = s.rfm;
    let horizon = cfg.horizon_days / cfg.unit_days;
    let (expected_value, clv) = match &f.spend {
        Some(g) => {
            let g = &g.model;
            let mean = if x > 0.0 && s.m > 0.0 { s.m } else { 0.0 };
            let value = g.expected_average_value(x, mean);
            let d = Discounting {
                periods: cfg.clv_months,
                rate_per_period: cfg.monthly_discount_rate,
                period_length: 365.25 / 12.0 / cfg.unit_days,
            };
            (value, cfg.margin * g.clv_discounted(m, x, t_x, t, mean, &d))
        }
        None => (f64::NAN, f64::NAN),
    };
    Prediction {
        p_alive: m.p_alive(x, t_x, t),
        expected_purchases: m.expected_purchases(horizon, x, t_x, t),
        expected_value,
        clv,
    }
}
