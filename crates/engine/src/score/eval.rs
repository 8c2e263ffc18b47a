//! `portrait eval churn`: the stored churn probabilities of one as-of date judged against what
//! really happened, by party: a truth file `cust_no,churn_date` (empty: the customer stayed).
//!
//! A party churned on the latest churn date of its customer numbers, and stayed when any of
//! them stayed. Judged are the parties scored at the as-of date that the truth still has as
//! customers then; a churner is one whose churn date falls in the horizon after it.

use std::collections::HashMap;
use std::path::Path;

use arrow::array::{Array, AsArray};
use chrono::{Duration, NaiveDate};
use portrait_model::metrics::{self, CalibrationBin};
use portrait_store::Store;
use serde::Serialize;

use super::bgnbd::model_error;
use crate::features;
use crate::{EngineError, Result};

/// The report of one evaluation.
#[derive(Debug, Clone, Serialize)]
pub struct ChurnEval {
    pub as_of: NaiveDate,
    pub horizon_days: i64,
    /// Parties scored at the as-of date and still customers then, by the truth.
    pub parties: usize,
    /// Of those, the ones that churned within the horizon.
    pub churners: usize,
    pub churn_rate: f64,
    pub roc_auc: f64,
    pub pr_auc: f64,
    pub precision_at_10pct: f64,
    pub lift_at_10pct: f64,
    pub capture_at_10pct: f64,
    pub brier: f64,
    pub calibration: Vec<CalibrationBin>,
    /// Parties the engine reported as already churned at the as-of date (not scored), and how
    /// many of them the truth has as gone by then or within the horizon.
    pub reported_churned: usize,
    pub reported_churned_confirmed: usize,
    /// Parties the truth has as gone before the as-of date (left out of the judgement).
    pub gone_before: usize,
    /// Parties with no customer number in the truth (left out).
    pub not_in_truth: usize,
    /// Customer numbers of the truth that are not in the store.
    pub unknown_customers: usize,
}

/// One customer number's truth: `None` when it stayed.
fn read_truth(path: &Path) -> Result<HashMap<String, Option<NaiveDate>>> {
    let bad =
        |line: u64, what: String| EngineError::Usage(format!("{}:{line}: {what}", path.display()));
    let mut reader = csv::ReaderBuilder::new()
        .trim(csv::Trim::All)
        .flexible(true)
        .from_path(path)
        .map_err(|e| bad(1, e.to_string()))?;
    let header: Vec<String> = reader
        .headers()
        .map_err(|e| bad(1, e.to_string()))?
        .iter()
        .map(|h| h.trim_start_matches('\u{feff}').to_string())
        .collect();
    let find = |name: &str| {
        header.iter().position(|h| h == name).ok_or_else(|| {
            bad(
                1,
                format!(
                    "the header must name the columns cust_no and churn_date; found {}",
                    header.join(", ")
                ),
            )
        })
    };
    let (c_cust, c_date) = (find("cust_no")?, find("churn_date")?);
    let mut out = HashMap::new();
    for record in reader.records() {
        let record =
            record.map_err(|e| bad(e.position().map_or(0, |p| p.line()), e.to_string()))?;
        let line = record.position().map_or(0, |p| p.line());
        let cust = record.get(c_cust).unwrap_or("");
        if cust.is_empty() {
            return Err(bad(
                line,
                format!("column {} (`cust_no`) is empty", c_cust + 1),
            ));
        }
        let date = match record.get(c_date).unwrap_or("") {
            "" => None,
            d => Some(NaiveDate::parse_from_str(d, "%Y-%m-%d").map_err(|_| {
                bad(
                    line,
                    format!(
                        "column {} (`churn_date`): `{d}` is not a date (YYYY-MM-DD) or empty",
                        c_date + 1
                    ),
                )
            })?),
        };
        out.insert(cust.to_string(), date);
    }
    if out.is_empty() {
        return Err(bad(1, "the truth file has no rows".into()));
    }
    Ok(out)
}

/// Judges the churn probabilities at `as_of` (the latest scored date when `None`) against
/// `truth` over `horizon_days`.
pub async fn churn(
    store: &Store,
    truth: &Path,
    as_of: Option<NaiveDate>,
    horizon_days: i64,
) -> Result<ChurnEval> {
    if horizon_days < 1 {
        return Err(EngineError::Usage(format!(
            "--horizon must be at least one day, found {horizon_days}"
        )));
    }
    let truth = read_truth(truth)?;
    if store.table(super::SCORE_TABLE).is_none() {
        return Err(EngineError::Usage(
            "the store has no scores\nhint: run `portrait features` and `portrait score` first"
                .into(),
        ));
    }
    let ctx = crate::open_session(store).await?;
    features::register_missing_inputs(&ctx, store)?;
    let as_of = match as_of {
        Some(d) => d,
        None => {
            let v = super::churn::first_text(
                &ctx,
                &format!(
                    "SELECT CAST(MAX(as_of) AS VARCHAR) FROM {}",
                    super::SCORE_TABLE
                ),
            )
            .await?
            .ok_or_else(|| EngineError::Usage("the score table is empty".into()))?;
            NaiveDate::parse_from_str(&v, "%Y-%m-%d")
                .map_err(|e| EngineError::Internal(format!("as_of `{v}`: {e}")))?
        }
    };
    let day = as_of.format("%Y-%m-%d");
    let mapping = features::parties(store).mapping_sql();
    let sql = format!(
        "SELECT CAST(s.party_id AS VARCHAR), CAST(m.cust_no AS VARCHAR), s.churn_probability, \
           CAST(s.retention_group AS VARCHAR) \
         FROM {} s JOIN ({mapping}) m ON CAST(m.party_id AS VARCHAR) = CAST(s.party_id AS VARCHAR) \
         WHERE s.as_of = DATE '{day}'",
        super::SCORE_TABLE
    );
    let batches = ctx.sql(&sql).await?.collect().await?;
    // party → (probability, reported churned, churn dates of its customer numbers, any stayed)
    struct Party {
        p: f64,
        churned: bool,
        latest: Option<NaiveDate>,
        stayed: bool,
        known: bool,
    }
    let mut parties: HashMap<String, Party> = HashMap::new();
    let mut seen_customers = 0usize;
    for b in &batches {
        let id = crate::utf8(b.column(0))?;
        let cust = crate::utf8(b.column(1))?;
        let group = crate::utf8(b.column(3))?;
        let (id, cust, group) = (
            id.as_string::<i32>(),
            cust.as_string::<i32>(),
            group.as_string::<i32>(),
        );
        let p = arrow::compute::cast(b.column(2), &arrow::datatypes::DataType::Float64)?;
        let p = p.as_primitive::<arrow::datatypes::Float64Type>();
        for i in 0..b.num_rows() {
            let e = parties.entry(id.value(i).to_string()).or_insert(Party {
                p: if p.is_valid(i) { p.value(i) } else { f64::NAN },
                churned: group.is_valid(i) && group.value(i) == "churned",
                latest: None,
                stayed: false,
                known: false,
            });
            if let Some(t) = truth.get(cust.value(i)) {
                seen_customers += 1;
                e.known = true;
                match t {
                    None => e.stayed = true,
                    Some(d) => e.latest = e.latest.max(Some(*d)),
                }
            }
        }
    }
    if parties.is_empty() {
        return Err(EngineError::Usage(format!(
            "the store has no scores as of {day}\nhint: run `portrait score --as-of {day}`"
        )));
    }
    let end = as_of + Duration::days(horizon_days);
    let (mut p, mut y) = (Vec::new(), Vec::new());
    let (mut reported, mut confirmed, mut gone_before, mut not_in_truth) = (0, 0, 0, 0);
    let mut ids: Vec<&String> = parties.keys().collect();
    ids.sort();
    for id in ids {
        let e = &parties[id];
        if !e.known {
            not_in_truth += 1;
            continue;
        }
        let churn_date = if e.stayed { None } else { e.latest };
        if e.churned {
            reported += 1;
            confirmed += usize::from(churn_date.is_some_and(|d| d <= end));
            continue;
        }
        if churn_date.is_some_and(|d| d <= as_of) {
            gone_before += 1;
            continue;
        }
        if !e.p.is_finite() {
            continue;
        }
        p.push(e.p.clamp(0.0, 1.0));
        y.push(churn_date.is_some_and(|d| d > as_of && d <= end));
    }
    let churners = y.iter().filter(|v| **v).count();
    if churners == 0 || churners == y.len() {
        return Err(EngineError::Usage(format!(
            "the truth has {churners} churners among the {} judged parties within {horizon_days} days after {day}: AUC needs both churners and stayers\nhint: choose an as-of date with churn after it in the truth (`portrait score --as-of DATE`)",
            y.len()
        )));
    }
    Ok(ChurnEval {
        as_of,
        horizon_days,
        parties: y.len(),
        churners,
        churn_rate: churners as f64 / y.len() as f64,
        roc_auc: metrics::roc_auc(&p, &y).map_err(model_error)?,
        pr_auc: metrics::average_precision(&p, &y).map_err(model_error)?,
        precision_at_10pct: metrics::precision_at(&p, &y, 0.1).map_err(model_error)?,
        lift_at_10pct: metrics::lift_at(&p, &y, 0.1).map_err(model_error)?,
        capture_at_10pct: metrics::capture_at(&p, &y, 0.1).map_err(model_error)?,
        brier: metrics::brier_score(&p, &y).map_err(model_error)?,
        calibration: metrics::calibration(&p, &y, 10).map_err(model_error)?,
        reported_churned: reported,
        reported_churned_confirmed: confirmed,
        gone_before,
        not_in_truth,
        unknown_customers: truth.len().saturating_sub(seen_customers),
    })
}
