//! Churn probability: models trained on earlier dates (and calibrated out of fold on the latest
//! of them), judged on a later one, then applied to the parties at the as-of date being scored.
//!
//! With window w, silence N (`inactive_days`) and as-of date D, a label at date t needs the
//! store's data up to t + w + N (to see that a silence which began in the window lasted N
//! days), so the validation date is t₂ = D − w − N and the latest training date t₁ = t₂ − w.
//! Features at a date use what happened up to that date; labels, and the population's
//! condition that a party is still active on or after the date, what happened after it (up to
//! D, never beyond).
//! The parties at D that have already churned (silent for N days, no balance or product left,
//! as the label says) are reported as churned, not scored.

use std::collections::HashMap;
use std::path::Path;

use arrow::array::{Array, AsArray, RecordBatch};
use arrow::datatypes::Float64Type;
use chrono::{Duration, NaiveDate};
use datafusion::prelude::SessionContext;
use portrait_model::metrics;
pub use portrait_model::metrics::CalibrationBin;
use portrait_model::{
    Calibrator, GbtClassifier, GbtParams, LogisticParams, LogisticRegression, Matrix,
};
use portrait_store::Store;
use serde::Serialize;

use super::Progress;
use super::bgnbd::{activity_condition, model_error, outside_excluded};
use super::config::{Label, ScoreConfig};
use crate::features::{self, FeatureConfig, Parties};
use crate::{EngineError, Result};

/// Model inputs: columns of `features`, turned into numbers. Heavy-tailed money columns enter
/// as sign(v)·ln(1 + |v|). Only columns known at their date: `financial_assets` falls back to
/// the customer master's stated assets, which are as of the export, so it is left out.
pub const INPUTS: &[(&str, bool)] = &[
    ("recency_days", false),
    ("frequency", false),
    ("monetary", true),
    ("txn_count_year", false),
    ("tenure_months", false),
    ("age", false),
    ("adb_month", true),
    ("adb_quarter", true),
    ("adb_year", true),
    ("product_types", false),
    ("n_holdings", false),
    ("profit", true),
    ("loyalty_score", false),
    ("visits_90d", false),
    ("events_90d", false),
    ("events_year", false),
    ("complaints_year", false),
    ("satisfaction", false),
    ("campaign_response_rate", false),
    ("salary_months_6", false),
    ("max_days_overdue", false),
    ("mobile_event_share", false),
    ("invest_risk", false),
];
/// Derived inputs: the asset trend (last month against the quarter and the year).
const TRENDS: &[&str] = &["assets_month_vs_quarter", "assets_month_vs_year"];

/// Inputs read from the store at each date, besides the features: recent activity against the
/// months before (the precursors of leaving), as `(name, log)`.
pub const RECENT: &[(&str, bool)] = &[
    ("txn_30d", false),
    ("txn_31_90d", false),
    ("txn_91_180d", false),
    ("active_days_30d", false),
    ("active_days_31_90d", false),
    ("active_days_91_180d", false),
    ("amount_90d", true),
    ("amount_91_180d", true),
    ("outflow_90d", true),
    ("salary_90d", false),
    ("salary_91_180d", false),
    ("logins_30d", false),
    ("logins_31_90d", false),
    ("logins_91_180d", false),
    ("closed_90d", false),
    ("open_products", false),
];
/// Ratios of the recent inputs.
const RECENT_RATIOS: &[&str] = &[
    "activity_trend",
    "login_trend",
    "amount_trend",
    "outflow_share",
    "overdue_days",
];

/// How one model did on the validation date.
#[derive(Debug, Clone, Serialize)]
pub struct Evaluation {
    pub model: String,
    pub auc: f64,
    /// Area under the precision–recall curve (average precision).
    pub pr_auc: f64,
    pub precision_at_10pct: f64,
    /// Precision in the top decile over the churn rate.
    pub lift_at_10pct: f64,
    /// Share of the churners found in the top decile.
    pub capture_at_10pct: f64,
    pub brier: f64,
    pub log_loss: f64,
    pub calibration: Vec<CalibrationBin>,
}

/// How the chosen model's scores were turned into probabilities, and how well.
#[derive(Debug, Clone, Serialize)]
pub struct CalibrationReport {
    /// `platt`, `isotonic` or `none`.
    pub method: String,
    /// The date whose rows the calibration was fitted on: the latest training date's rows,
    /// each scored by a model that did not learn from its party (or, with `none`, the
    /// validation date's).
    pub as_of: NaiveDate,
    /// Rows the calibration was fitted and judged on.
    pub rows: usize,
    /// Held-out log loss of each method tried (two halves of those rows, each calibrated on
    /// the other).
    pub tried: Vec<(String, f64)>,
    pub brier_raw: f64,
    pub brier_calibrated: f64,
    /// Expected calibration error (10 bins) before and after.
    pub ece_raw: f64,
    pub ece_calibrated: f64,
    /// The calibration table of the held-out calibrated probabilities.
    pub table: Vec<CalibrationBin>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Report {
    /// The latest training date.
    pub train_as_of: NaiveDate,
    /// Every training date, earliest first (one row per party and date).
    pub train_dates: Vec<NaiveDate>,
    /// The validation date (the evaluations; see `CalibrationReport::as_of` for calibration).
    pub test_as_of: NaiveDate,
    pub window_days: i64,
    pub inactive_days: i64,
    /// The churn label used: its conditions joined by `+` (`activity`, `activity+assets`, …).
    pub label: String,
    pub n_train: usize,
    pub n_test: usize,
    pub train_churn_rate: f64,
    pub test_churn_rate: f64,
    pub scored_with: String,
    pub evaluations: Vec<Evaluation>,
    pub calibration: Option<CalibrationReport>,
    /// Parties at the as-of date that have already churned by the label, so not scored.
    pub churned_at_as_of: usize,
    /// Inputs by importance (gain share) in the tree model.
    pub importance: Vec<(String, f64)>,
    /// The saved models as JSON, by name (`churn_logistic`, `churn_gbt`).
    #[serde(skip)]
    pub models: Vec<(String, String)>,
    /// What the fits did that a user should know (a time budget used up).
    pub notes: Vec<String>,
}

/// The scores of the parties at the as-of date, in the caller's order.
pub struct Scored {
    /// Calibrated probability; NaN for a party not in the population.
    pub probability: Vec<f64>,
    /// Whether the party has already churned at the as-of date.
    pub churned: Vec<bool>,
    pub report: Report,
}

/// One date's inputs for every party.
struct Frame {
    ids: Vec<String>,
    /// Row-major, `INPUTS`, `TRENDS`, `RECENT` then `RECENT_RATIOS`; NaN where unknown.
    x: Vec<f64>,
    class_ok: Vec<bool>,
}

fn n_inputs() -> usize {
    INPUTS.len() + TRENDS.len() + RECENT.len() + RECENT_RATIOS.len()
}

fn input_names() -> Vec<String> {
    INPUTS
        .iter()
        .map(|(c, _)| c.to_string())
        .chain(TRENDS.iter().map(|s| s.to_string()))
        .chain(RECENT.iter().map(|(c, _)| c.to_string()))
        .chain(RECENT_RATIOS.iter().map(|s| s.to_string()))
        .collect()
}

fn signed_log(v: f64) -> f64 {
    v.signum() * v.abs().ln_1p()
}

fn date_lit(d: NaiveDate) -> String {
    format!("DATE '{}'", d.format("%Y-%m-%d"))
}

fn ts_lit(d: NaiveDate) -> String {
    format!("TIMESTAMP '{} 00:00:00'", d.format("%Y-%m-%d"))
}

/// The first column of the first row of a statement, as text (`None` when empty or null).
pub(crate) async fn first_text(ctx: &SessionContext, sql: &str) -> Result<Option<String>> {
    let b = ctx.sql(sql).await?.collect().await?;
    Ok(b.iter()
        .find(|b| b.num_rows() > 0)
        .map(|b| crate::utf8(b.column(0)))
        .transpose()?
        .and_then(|c| {
            let c = c.as_string::<i32>();
            c.is_valid(0).then(|| c.value(0).to_string())
        }))
}

/// Reads `(party_id, f64…)` rows of a statement into a map.
async fn per_party(
    ctx: &SessionContext,
    sql: &str,
    width: usize,
) -> Result<HashMap<String, Vec<f64>>> {
    let batches = ctx.sql(sql).await?.collect().await?;
    let mut out = HashMap::new();
    for b in &batches {
        let ids = crate::utf8(b.column(0))?;
        let ids = ids.as_string::<i32>();
        let cols: Vec<_> = (1..=width)
            .map(|j| {
                let c = arrow::compute::cast(b.column(j), &arrow::datatypes::DataType::Float64)?;
                Ok(c)
            })
            .collect::<Result<_>>()?;
        for i in 0..b.num_rows() {
            if ids.is_null(i) {
                continue;
            }
            let row = cols
                .iter()
                .map(|c| {
                    let c = c.as_primitive::<Float64Type>();
                    if c.is_valid(i) { c.value(i) } else { f64::NAN }
                })
                .collect();
            out.insert(ids.value(i).to_string(), row);
        }
    }
    Ok(out)
}

/// The recent-activity inputs of every party at `t`.
async fn recent(
    ctx: &SessionContext,
    fcfg: &FeatureConfig,
    parties: Parties,
    t: NaiveDate,
) -> Result<HashMap<String, Vec<f64>>> {
    let day = |k: i64| date_lit(t - Duration::days(k));
    let (p, from) = parties.owner("transaction", "x");
    let act = activity_condition(fcfg, "x");
    let salary = fcfg
        .salary_categories
        .iter()
        .map(|c| format!("'{}'", c.replace('\'', "''")))
        .collect::<Vec<_>>()
        .join(", ");
    let salary = if salary.is_empty() {
        "NULL".to_string()
    } else {
        salary
    };
    let next = ts_lit(t + Duration::days(1));
    let lo = ts_lit(t - Duration::days(179));
    let (d30, d90) = (day(30), day(90));
    // Amounts are summed as decimals, exactly, whatever order the partitions arrive in: a
    // float sum's last digit would change from run to run and move a tree's split.
    let tx = format!(
        "WITH d AS (SELECT {p} AS party_id, CAST(x.ts AS DATE) AS day, \
           COUNT(CASE WHEN {act} THEN 1 END) AS n, \
           SUM(CASE WHEN {act} THEN abs(x.amount) END) AS amount, \
           SUM(CASE WHEN x.direction = 'debit' AND x.category = 'transfer' THEN x.amount END) AS outflow, \
           COUNT(CASE WHEN x.direction = 'credit' AND x.category IN ({salary}) THEN 1 END) AS salary \
         FROM {from} WHERE x.ts >= {lo} AND x.ts < {next} GROUP BY 1, 2) \
         SELECT CAST(party_id AS VARCHAR), \
           SUM(CASE WHEN day > {d30} THEN n ELSE 0 END), \
           SUM(CASE WHEN day > {d90} AND day <= {d30} THEN n ELSE 0 END), \
           SUM(CASE WHEN day <= {d90} THEN n ELSE 0 END), \
           COUNT(CASE WHEN day > {d30} AND n > 0 THEN 1 END), \
           COUNT(CASE WHEN day > {d90} AND day <= {d30} AND n > 0 THEN 1 END), \
           COUNT(CASE WHEN day <= {d90} AND n > 0 THEN 1 END), \
           CAST(COALESCE(SUM(CASE WHEN day > {d90} THEN amount END), 0) AS DOUBLE), \
           CAST(COALESCE(SUM(CASE WHEN day <= {d90} THEN amount END), 0) AS DOUBLE), \
           CAST(COALESCE(SUM(CASE WHEN day > {d90} THEN outflow END), 0) AS DOUBLE), \
           SUM(CASE WHEN day > {d90} THEN salary ELSE 0 END), \
           SUM(CASE WHEN day <= {d90} THEN salary ELSE 0 END) \
         FROM d GROUP BY party_id"
    );
    let (pe, from_e) = parties.owner("event", "e");
    let ev = format!(
        "WITH d AS (SELECT DISTINCT {pe} AS party_id, CAST(e.ts AS DATE) AS day FROM {from_e} \
           WHERE e.ts >= {lo} AND e.ts < {next}) \
         SELECT CAST(party_id AS VARCHAR), COUNT(CASE WHEN day > {d30} THEN 1 END), \
           COUNT(CASE WHEN day > {d90} AND day <= {d30} THEN 1 END), COUNT(CASE WHEN day <= {d90} THEN 1 END) \
         FROM d GROUP BY party_id"
    );
    let (ph, from_h) = parties.owner("holding", "h");
    let today = date_lit(t);
    let ho = format!(
        "SELECT CAST({ph} AS VARCHAR), \
           COUNT(CASE WHEN h.close_date > {d90} AND h.close_date <= {today} THEN 1 END), \
           COUNT(CASE WHEN h.open_date <= {today} AND (h.close_date IS NULL OR h.close_date > {today}) THEN 1 END) \
         FROM {from_h} GROUP BY {ph}"
    );
    let tx = per_party(ctx, &tx, 11).await?;
    let ev = per_party(ctx, &ev, 3).await?;
    let ho = per_party(ctx, &ho, 2).await?;
    let mut out: HashMap<String, Vec<f64>> = HashMap::new();
    let zeros = |n: usize| vec![0.0; n];
    let keys: std::collections::HashSet<&String> =
        tx.keys().chain(ev.keys()).chain(ho.keys()).collect();
    for k in keys {
        let mut row = tx.get(k).cloned().unwrap_or_else(|| zeros(11));
        row.extend(ev.get(k).cloned().unwrap_or_else(|| zeros(3)));
        row.extend(ho.get(k).cloned().unwrap_or_else(|| zeros(2)));
        out.insert(k.clone(), row);
    }
    Ok(out)
}

/// The recent inputs of one party (zeros when it has none) and their ratios.
fn recent_inputs(row: Option<&Vec<f64>>, adb_quarter: f64, recency_days: f64, out: &mut Vec<f64>) {
    let zeros = vec![0.0; RECENT.len()];
    let r = row.unwrap_or(&zeros);
    let g = |name: &str| {
        r[RECENT
            .iter()
            .position(|(c, _)| *c == name)
            .expect("recent input")]
    };
    for ((_, log), v) in RECENT.iter().zip(r) {
        let v = if v.is_finite() { *v } else { 0.0 };
        out.push(if *log { signed_log(v) } else { v });
    }
    let days_90 = g("active_days_30d") + g("active_days_31_90d");
    let days_180 = days_90 + g("active_days_91_180d");
    out.push((days_90 + 1.0) / (g("active_days_91_180d") + 1.0));
    out.push((g("logins_30d") + g("logins_31_90d") + 1.0) / (g("logins_91_180d") + 1.0));
    out.push(((g("amount_90d") + 1.0) / (g("amount_91_180d") + 1.0)).ln());
    let outflow = g("outflow_90d");
    let held = if adb_quarter.is_finite() {
        adb_quarter.max(0.0)
    } else {
        0.0
    };
    out.push(outflow / (outflow + held + 1.0));
    // Activity days the party would have had since its last one, at its usual pace.
    out.push(if recency_days.is_finite() {
        recency_days * days_180 / 180.0
    } else {
        f64::NAN
    });
}

async fn frame(
    ctx: &SessionContext,
    source: &str,
    population: &[String],
    recent: &HashMap<String, Vec<f64>>,
) -> Result<Frame> {
    // `source` is a table name or a parenthesised query.
    let cols: Vec<String> = INPUTS
        .iter()
        .map(|(c, _)| format!("CAST({c} AS DOUBLE) AS {c}"))
        .collect();
    let sql = format!(
        "SELECT CAST(party_id AS VARCHAR) AS party_id, CAST(recency_class AS VARCHAR) AS recency_class, {} \
         FROM {source} src ORDER BY party_id",
        cols.join(", ")
    );
    let batches = ctx.sql(&sql).await?.collect().await?;
    let mut f = Frame {
        ids: Vec::new(),
        x: Vec::new(),
        class_ok: Vec::new(),
    };
    for b in &batches {
        append(b, &mut f, population, recent)?;
    }
    Ok(f)
}

fn append(
    b: &RecordBatch,
    f: &mut Frame,
    population: &[String],
    recent: &HashMap<String, Vec<f64>>,
) -> Result<()> {
    let idx = |name: &str| INPUTS.iter().position(|(c, _)| *c == name).expect("input");
    let (i_month, i_quarter, i_year) = (idx("adb_month"), idx("adb_quarter"), idx("adb_year"));
    let ids = crate::utf8(b.column(0))?;
    let ids = ids.as_string::<i32>();
    let class = crate::utf8(b.column(1))?;
    let class = class.as_string::<i32>();
    let cols: Vec<_> = (0..INPUTS.len())
        .map(|j| {
            b.column(j + 2)
                .as_primitive_opt::<Float64Type>()
                .ok_or_else(|| EngineError::Internal("churn input is not DOUBLE".into()))
        })
        .collect::<Result<_>>()?;
    let get = |j: usize, i: usize| {
        if cols[j].is_valid(i) {
            cols[j].value(i)
        } else {
            f64::NAN
        }
    };
    for i in 0..b.num_rows() {
        let id = ids.value(i);
        f.ids.push(id.to_string());
        f.class_ok.push(
            population.is_empty()
                || (class.is_valid(i) && population.iter().any(|p| p == class.value(i))),
        );
        for (j, (_, log)) in INPUTS.iter().enumerate() {
            let v = get(j, i);
            f.x.push(if *log { signed_log(v) } else { v });
        }
        let (m, q, y) = (get(i_month, i), get(i_quarter, i), get(i_year, i));
        f.x.push(if q > 0.0 { m / q } else { f64::NAN });
        f.x.push(if y > 0.0 { m / y } else { f64::NAN });
        recent_inputs(recent.get(id), q, get(0, i), &mut f.x);
    }
    Ok(())
}

/// What the label needs of every party at one date: whether a silence began in the window
/// after it, and its balances and open products at the date and at the window's end.
#[derive(Debug, Clone, Copy)]
struct State {
    /// Days from the last activity on or before the date to the date (infinite: none).
    recency_days: f64,
    /// Active on or after the date: still a customer there.
    active: bool,
    stops: bool,
    balance_now: f64,
    balance_then: f64,
    open_now: f64,
    open_then: f64,
}

impl Default for State {
    fn default() -> Self {
        Self {
            recency_days: f64::INFINITY,
            active: false,
            stops: false,
            balance_now: 0.0,
            balance_then: 0.0,
            open_now: 0.0,
            open_then: 0.0,
        }
    }
}

/// What counts as a party's activity for the label: a statement of `(party, ts)` rows up to
/// `hi` (exclusive) — every transaction outside the excluded categories and every digital
/// event (`any`), or the RFM activity of the features (`rfm`).
fn activity_sql(
    fcfg: &FeatureConfig,
    parties: Parties,
    store: &Store,
    activity: &str,
    hi: &str,
) -> String {
    let (p, from) = parties.owner("transaction", "x");
    if activity == "rfm" {
        let act = activity_condition(fcfg, "x");
        return format!("SELECT {p} AS party, x.ts AS ts FROM {from} WHERE {act} AND x.ts < {hi}");
    }
    let mut sql = format!("SELECT {p} AS party, x.ts AS ts FROM {from} WHERE x.ts < {hi}");
    if let Some(c) = outside_excluded(fcfg, "x") {
        sql += &format!(" AND {c}");
    }
    if store.table("event").is_some() {
        let (pe, from_e) = parties.owner("event", "e");
        sql +=
            &format!(" UNION ALL SELECT {pe} AS party, e.ts AS ts FROM {from_e} WHERE e.ts < {hi}");
    }
    sql
}

/// The label's inputs of every party at `t` (window `w`, data up to `data_end`).
#[allow(clippy::too_many_arguments)]
async fn states(
    ctx: &SessionContext,
    fcfg: &FeatureConfig,
    parties: Parties,
    store: &Store,
    label: Label,
    activity: &str,
    t: NaiveDate,
    w: i64,
    data_end: NaiveDate,
) -> Result<HashMap<String, State>> {
    let mut out: HashMap<String, State> = HashMap::new();
    if label.activity {
        let hi = ts_lit(data_end + Duration::days(1));
        let acts = activity_sql(fcfg, parties, store, activity, &hi);
        // The party churns when its last activity up to the end of the data (the as-of
        // date being scored, at least n days after the window) lies in [t, t + w): it was
        // still active at the date, then a silence began within the window and the party
        // has not come back. A long gap followed by a return is a pause, not a churn. A
        // party whose last activity lies before t had already left at the date: it is not
        // in the population, as a customer who has left cannot leave again.
        let sql = format!(
            "WITH a AS ({acts}) SELECT CAST(party AS VARCHAR), \
               date_part('epoch', MAX(CASE WHEN ts < {next} THEN ts END)), \
               CASE WHEN MAX(ts) >= {lo} THEN 1 ELSE 0 END, \
               CASE WHEN MAX(ts) >= {lo} AND MAX(ts) < {end} THEN 1 ELSE 0 END \
             FROM a GROUP BY party",
            lo = ts_lit(t),
            next = ts_lit(t + Duration::days(1)),
            end = ts_lit(t + Duration::days(w)),
        );
        let day = (t - NaiveDate::default()).num_days() as f64;
        for (k, v) in per_party(ctx, &sql, 3).await? {
            let s = out.entry(k).or_default();
            s.recency_days = if v[0].is_finite() {
                day - (v[0] / 86_400.0).floor()
            } else {
                f64::INFINITY
            };
            s.active = v[1] > 0.0;
            s.stops = v[2] > 0.0;
        }
    }
    if label.assets && store.table("asset_snapshot").is_some() {
        // Balances on the last snapshot date of the store on or before each day.
        let mut dates = Vec::new();
        for d in [t, t + Duration::days(w)] {
            let v = first_text(
                ctx,
                &format!(
                    "SELECT CAST(MAX(snapshot_date) AS VARCHAR) FROM asset_snapshot WHERE snapshot_date <= {}",
                    date_lit(d)
                ),
            )
            .await?;
            dates.push(v.map_or("DATE '0001-01-01'".to_string(), |v| format!("DATE '{v}'")));
        }
        let last = |d: NaiveDate| dates[usize::from(d != t)].clone();
        let (p, from) = parties.owner("asset_snapshot", "a");
        let sql = format!(
            "SELECT CAST({p} AS VARCHAR), \
               CAST(COALESCE(SUM(CASE WHEN a.snapshot_date = {now} THEN a.balance END), 0) AS DOUBLE) AS balance_now, \
               CAST(COALESCE(SUM(CASE WHEN a.snapshot_date = {then} THEN a.balance END), 0) AS DOUBLE) AS balance_then \
             FROM {from} WHERE a.snapshot_date IN ({now}, {then}) GROUP BY {p}",
            now = last(t),
            then = last(t + Duration::days(w)),
        );
        for (k, v) in per_party(ctx, &sql, 2).await? {
            let s = out.entry(k).or_default();
            s.balance_now = v[0];
            s.balance_then = v[1];
        }
    }
    if label.closed && store.table("holding").is_some() {
        let open = |d: NaiveDate| {
            format!(
                "COUNT(CASE WHEN h.open_date <= {d} AND (h.close_date IS NULL OR h.close_date > {d}) THEN 1 END)",
                d = date_lit(d)
            )
        };
        let (p, from) = parties.owner("holding", "h");
        let sql = format!(
            "SELECT CAST({p} AS VARCHAR), {} AS open_now, {} AS open_then FROM {from} GROUP BY {p}",
            open(t),
            open(t + Duration::days(w))
        );
        for (k, v) in per_party(ctx, &sql, 2).await? {
            let s = out.entry(k).or_default();
            s.open_now = v[0];
            s.open_then = v[1];
        }
    }
    Ok(out)
}

/// Whether the party can still churn at the date (in the population), by the label.
fn can_churn(label: Label, n: i64, s: &State) -> bool {
    (!label.activity || (s.recency_days.is_finite() && s.recency_days < n as f64))
        && (!label.assets || s.balance_now > 0.0)
        && (!label.closed || s.open_now > 0.0)
}

fn churns(label: Label, drop: f64, s: &State) -> bool {
    (!label.activity || s.stops)
        && (!label.assets || s.balance_then <= (1.0 - drop) * s.balance_now)
        && (!label.closed || s.open_then <= 0.0)
}

/// Rows of the population, their inputs (row-major) and labels.
fn select(
    f: &Frame,
    label: Label,
    cfg: &super::config::ChurnConfig,
    states: &HashMap<String, State>,
) -> (Vec<f64>, Vec<bool>, Vec<usize>) {
    let k = n_inputs();
    let none = State::default();
    let (mut x, mut y, mut rows) = (Vec::new(), Vec::new(), Vec::new());
    for (i, id) in f.ids.iter().enumerate() {
        let s = states.get(id).unwrap_or(&none);
        if f.class_ok[i] && (!label.activity || s.active) && can_churn(label, cfg.inactive_days, s)
        {
            x.extend_from_slice(&f.x[i * k..(i + 1) * k]);
            y.push(churns(label, cfg.assets_drop, s));
            rows.push(i);
        }
    }
    (x, y, rows)
}

/// Means of each input over finite values, for the logistic model's imputation.
fn means(x: &[f64]) -> Vec<f64> {
    let k = n_inputs();
    let mut sum = vec![0.0; k];
    let mut n = vec![0usize; k];
    for row in x.chunks(k) {
        for (j, v) in row.iter().enumerate() {
            if v.is_finite() {
                sum[j] += v;
                n[j] += 1;
            }
        }
    }
    sum.iter()
        .zip(&n)
        .map(|(s, &n)| if n > 0 { s / n as f64 } else { 0.0 })
        .collect()
}

fn impute(x: &[f64], means: &[f64]) -> Vec<f64> {
    let k = means.len();
    x.iter()
        .enumerate()
        .map(|(i, v)| if v.is_finite() { *v } else { means[i % k] })
        .collect()
}

fn evaluate(model: &str, p: &[f64], y: &[bool]) -> Result<Evaluation> {
    Ok(Evaluation {
        model: model.into(),
        auc: metrics::roc_auc(p, y).map_err(model_error)?,
        pr_auc: metrics::average_precision(p, y).map_err(model_error)?,
        precision_at_10pct: metrics::precision_at(p, y, 0.1).map_err(model_error)?,
        lift_at_10pct: metrics::lift_at(p, y, 0.1).map_err(model_error)?,
        capture_at_10pct: metrics::capture_at(p, y, 0.1).map_err(model_error)?,
        brier: metrics::brier_score(p, y).map_err(model_error)?,
        log_loss: metrics::log_loss(p, y).map_err(model_error)?,
        calibration: metrics::calibration(p, y, 10).map_err(model_error)?,
    })
}

fn matrix(x: &[f64]) -> Result<Matrix<'_>> {
    let k = n_inputs();
    Matrix::new(x, x.len() / k, k).map_err(model_error)
}

/// A stable half of the parties, by a hash of their id.
fn half(id: &str) -> bool {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in id.bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    // FNV's low bit depends on the bytes' parities alone (`half("fold:" + id)` would be
    // `!half(id)`): mix every bit into the top one and take that.
    h ^= h >> 33;
    h = h.wrapping_mul(0xff51_afd7_ed55_8ccd);
    h ^= h >> 33;
    h >> 63 == 1
}

fn fit_calibrator(method: &str, p: &[f64], y: &[bool]) -> Result<Calibrator> {
    match method {
        "platt" => Calibrator::platt(p, y),
        _ => Calibrator::isotonic(p, y),
    }
    .map_err(model_error)
}

/// Chooses and fits the calibration of the held-out scores `p` (labels `y`, parties
/// `ids`): each method is fitted on one half and judged on the other, both ways.
fn calibrate(
    method: &str,
    as_of: NaiveDate,
    p: &[f64],
    y: &[bool],
    ids: &[&str],
) -> Result<(Option<Calibrator>, CalibrationReport)> {
    let ece = |p: &[f64]| metrics::expected_calibration_error(p, y, 10).map_err(model_error);
    let brier = |p: &[f64]| metrics::brier_score(p, y).map_err(model_error);
    let candidates: Vec<&str> = match method {
        "auto" => vec!["platt", "isotonic"],
        "none" => vec![],
        m => vec![m],
    };
    let sides: Vec<bool> = ids.iter().map(|id| half(id)).collect();
    let part = |side: bool| -> (Vec<f64>, Vec<bool>) {
        p.iter()
            .zip(y)
            .zip(&sides)
            .filter(|(_, s)| **s == side)
            .map(|((p, y), _)| (*p, *y))
            .unzip()
    };
    let both_classes = |y: &[bool]| y.iter().any(|v| *v) && y.iter().any(|v| !*v);
    let (pa, ya) = part(true);
    let (pb, yb) = part(false);
    let mut tried = Vec::new();
    let mut best: Option<(&str, f64, Vec<f64>)> = None;
    if both_classes(&ya) && both_classes(&yb) {
        for m in candidates {
            let (ca, cb) = (fit_calibrator(m, &pa, &ya)?, fit_calibrator(m, &pb, &yb)?);
            // Each row calibrated by the fit of the other half.
            let held: Vec<f64> = p
                .iter()
                .zip(&sides)
                .map(|(v, s)| if *s { cb.apply(*v) } else { ca.apply(*v) })
                .collect();
            let ll = metrics::log_loss(&held, y).map_err(model_error)?;
            tried.push((m.to_string(), ll));
            if best.as_ref().is_none_or(|b| ll < b.1) {
                best = Some((m, ll, held));
            }
        }
    }
    let raw_ll = metrics::log_loss(p, y).map_err(model_error)?;
    tried.push(("none".to_string(), raw_ll));
    // Keep the raw scores when no method beats them out of sample (or when asked to).
    let mut chosen = best.filter(|b| method != "auto" || b.1 < raw_ll);
    // A method asked for by name is used even when the halves cannot judge it (one half
    // without a churner); its figures are then in-sample.
    if chosen.is_none() && matches!(method, "platt" | "isotonic") {
        let c = fit_calibrator(method, p, y)?;
        let fitted: Vec<f64> = p.iter().map(|v| c.apply(*v)).collect();
        let ll = metrics::log_loss(&fitted, y).map_err(model_error)?;
        chosen = Some((
            if method == "platt" {
                "platt"
            } else {
                "isotonic"
            },
            ll,
            fitted,
        ));
    }
    let (brier_raw, ece_raw) = (brier(p)?, ece(p)?);
    Ok(match chosen {
        Some((m, _, held)) => (
            Some(fit_calibrator(m, p, y)?),
            CalibrationReport {
                method: m.to_string(),
                as_of,
                rows: p.len(),
                tried,
                brier_raw,
                brier_calibrated: brier(&held)?,
                ece_raw,
                ece_calibrated: ece(&held)?,
                table: metrics::calibration(&held, y, 10).map_err(model_error)?,
            },
        ),
        None => (
            None,
            CalibrationReport {
                method: "none".into(),
                as_of,
                rows: p.len(),
                tried,
                brier_raw,
                brier_calibrated: brier_raw,
                ece_raw,
                ece_calibrated: ece_raw,
                table: metrics::calibration(p, y, 10).map_err(model_error)?,
            },
        ),
    })
}

/// Trains both models, calibrates the chosen one out of fold, judges both on the validation date, and
/// returns its churn probability for `ids` (the parties at `as_of`, in order). `None` when the
/// store's history is too short for a training and a validation window, or a window has no
/// churn at all.
#[allow(clippy::too_many_arguments)]
pub async fn train_and_score(
    ctx: &SessionContext,
    store: &Store,
    fcfg: &FeatureConfig,
    cfg: &ScoreConfig,
    as_of: NaiveDate,
    ids: &[String],
    scratch: [&Path; 2],
    rows_out: Option<&Path>,
    progress: &dyn Progress,
) -> Result<Option<Scored>> {
    let k = &cfg.churn;
    let label = k.label_parts().map_err(EngineError::Usage)?;
    let w = k.window_days;
    let n = if label.activity { k.inactive_days } else { 0 };
    let d2 = as_of - Duration::days(w + n);
    let d1 = d2 - Duration::days(w);
    let parties = features::parties(store);
    let step = Duration::days(k.training_step_days);
    let mut dates: Vec<(NaiveDate, &str)> = (0..k.training_dates as i32)
        .map(|j| (d1 - step * j, "training"))
        .collect();
    dates.push((d2, "validation"));
    let mut frames = Vec::new();
    let mut labels = Vec::new();
    for (i, &(d, what)) in dates.iter().enumerate() {
        progress.stage(&format!("churn: features as of {d} ({what})"));
        let dir = scratch[usize::from(what == "validation")].join(format!("d{i}"));
        let df = features::compute(
            ctx,
            store,
            fcfg,
            d,
            parties,
            &dir,
            &format!("churn_base_{i}"),
        )
        .await?;
        let view = format!("churn_features_{i}");
        ctx.register_table(view.as_str(), df.into_view())?;
        let r = recent(ctx, fcfg, parties, d).await?;
        frames.push(frame(ctx, &view, &k.population, &r).await?);
        labels.push(states(ctx, fcfg, parties, store, label, &k.activity, d, w, as_of).await?);
    }
    let (f2, l2) = (
        frames.pop().expect("validation"),
        labels.pop().expect("validation"),
    );
    let f2 = &f2;
    let (mut x_train, mut y_train) = (Vec::new(), Vec::new());
    let mut train_ids: Vec<String> = Vec::new();
    let mut train_days: Vec<NaiveDate> = Vec::new();
    for ((f, l), (d, _)) in frames.iter().zip(&labels).zip(&dates) {
        let (x, y, rows) = select(f, label, k, l);
        x_train.extend(x);
        y_train.extend(y);
        train_ids.extend(rows.iter().map(|&i| f.ids[i].clone()));
        train_days.extend(rows.iter().map(|_| *d));
    }
    // The training rows are copied out: the dates' frames go (at 1,000,000 parties they held
    // 1.4 GB).
    drop(frames);
    drop(labels);
    let mut train_dates: Vec<NaiveDate> = dates[..dates.len() - 1].iter().map(|d| d.0).collect();
    train_dates.reverse();
    let (mut x_test, mut y_test, mut test_rows) = select(f2, label, k, &l2);
    let pos = |y: &[bool]| y.iter().filter(|v| **v).count();
    // A short history leaves few parties (or no churner) at the training date: then the
    // model learns from one half of the validation date's parties and is judged on the other.
    let mut train_as_of = d1;
    let mut notes = Vec::new();
    let few = y_train.len() < 500.max(y_test.len() / 4) || pos(&y_train) < 10;
    if few && y_test.len() >= 200 && pos(&y_test) >= 20 {
        notes.push(format!(
            "churn: {} party-dates (and {} churners) at the training dates up to {d1} are too few, so the model learned from half of the {} parties at {d2} and was judged on the other half",
            y_train.len(),
            pos(&y_train),
            y_test.len()
        ));
        let kk = n_inputs();
        let (mut xa, mut ya, mut xb, mut yb, mut rb) =
            (Vec::new(), Vec::new(), Vec::new(), Vec::new(), Vec::new());
        train_ids.clear();
        train_days.clear();
        for (j, &i) in test_rows.iter().enumerate() {
            let row = &x_test[j * kk..(j + 1) * kk];
            if half(&format!("train:{}", f2.ids[i])) {
                xa.extend_from_slice(row);
                ya.push(y_test[j]);
                train_ids.push(f2.ids[i].clone());
                train_days.push(d2);
            } else {
                xb.extend_from_slice(row);
                yb.push(y_test[j]);
                rb.push(i);
            }
        }
        (x_train, y_train, x_test, y_test, test_rows) = (xa, ya, xb, yb, rb);
        train_as_of = d2;
        train_dates = vec![d2];
    }
    if y_train.is_empty()
        || y_test.is_empty()
        || pos(&y_train) == 0
        || pos(&y_train) == y_train.len()
        || pos(&y_test) == 0
        || pos(&y_test) == y_test.len()
    {
        tracing::warn!(
            "churn: no model; the windows before {as_of} hold {} training and {} validation parties with {} and {} churners",
            y_train.len(),
            y_test.len(),
            pos(&y_train),
            pos(&y_test)
        );
        return Ok(None);
    }

    progress.stage("churn: logistic regression");
    let mu = means(&x_train);
    let lr_train = impute(&x_train, &mu);
    let lr_params = LogisticParams {
        max_seconds: Some(k.max_seconds),
        ..LogisticParams::default()
    };
    let logistic =
        LogisticRegression::fit(matrix(&lr_train)?, &y_train, &lr_params).map_err(model_error)?;
    drop(lr_train);
    let lr_test = impute(&x_test, &mu);
    let p_lr = logistic
        .predict_proba(matrix(&lr_test)?)
        .map_err(model_error)?;

    progress.stage("churn: gradient-boosted trees");
    let params = GbtParams {
        seed: k.seed,
        max_seconds: Some(k.max_seconds),
        ..GbtParams::default()
    };
    let gbt = GbtClassifier::fit(matrix(&x_train)?, &y_train, &params).map_err(model_error)?;
    if logistic.timed_out() {
        notes.push(format!(
            "churn: the logistic regression used its time budget of {} s (score.churn.max_seconds) after {} iterations; its last estimate is used",
            k.max_seconds,
            logistic.iterations()
        ));
    }
    if gbt.timed_out() {
        notes.push(format!(
            "churn: the boosted trees used their time budget of {} s (score.churn.max_seconds) after {} of {} trees",
            k.max_seconds,
            gbt.n_trees(),
            params.n_trees
        ));
    }
    let p_gbt = gbt.predict_proba(matrix(&x_test)?).map_err(model_error)?;

    let test_ids: Vec<&str> = test_rows.iter().map(|&i| f2.ids[i].as_str()).collect();
    if let Some(dir) = rows_out {
        let ids: Vec<&str> = train_ids.iter().map(String::as_str).collect();
        write_rows(dir, "training", &train_days, &ids, &x_train, Some(&y_train))?;
        let days = vec![d2; test_ids.len()];
        write_rows(dir, "validation", &days, &test_ids, &x_test, Some(&y_test))?;
    }

    // Calibration of the chosen model out of fold at the latest training date: the labels
    // there see as long a silence as those the model learned from, while the validation
    // date's see only N days and take more pausing stayers for leavers, so calibrating on
    // them would lift every probability. Each party's rows (at every training date) fall in
    // one of two folds; a model fitted on one fold scores the other's latest rows.
    progress.stage("churn: calibration");
    let (oof, y_oof, oof_ids) = if k.calibration == "none" {
        (Vec::new(), Vec::new(), Vec::new())
    } else {
        let kk = n_inputs();
        let fold: Vec<bool> = train_ids
            .iter()
            .map(|id| half(&format!("fold:{id}")))
            .collect();
        let (mut oof, mut y_oof, mut oof_ids) = (Vec::new(), Vec::new(), Vec::new());
        for side in [true, false] {
            let (mut xf, mut yf, mut xp, mut yp, mut ip) =
                (Vec::new(), Vec::new(), Vec::new(), Vec::new(), Vec::new());
            for (j, f) in fold.iter().enumerate() {
                let row = &x_train[j * kk..(j + 1) * kk];
                if *f == side {
                    xf.extend_from_slice(row);
                    yf.push(y_train[j]);
                } else if train_days[j] == train_as_of {
                    xp.extend_from_slice(row);
                    yp.push(y_train[j]);
                    ip.push(train_ids[j].as_str());
                }
            }
            // A fold without both classes cannot be fitted: its other side is left out.
            if xp.is_empty() || !yf.iter().any(|v| *v) || yf.iter().all(|v| *v) {
                continue;
            }
            let p = if k.model == "logistic" {
                let mu = means(&xf);
                LogisticRegression::fit(matrix(&impute(&xf, &mu))?, &yf, &lr_params)
                    .map_err(model_error)?
                    .predict_proba(matrix(&impute(&xp, &mu))?)
                    .map_err(model_error)?
            } else {
                GbtClassifier::fit(matrix(&xf)?, &yf, &params)
                    .map_err(model_error)?
                    .predict_proba(matrix(&xp)?)
                    .map_err(model_error)?
            };
            oof.extend(p);
            y_oof.extend(yp);
            oof_ids.extend(ip);
        }
        (oof, y_oof, oof_ids)
    };
    let (calibrator, calibration) = if oof.is_empty() {
        if k.calibration != "none" {
            notes.push(format!(
                "churn: no fold of the training parties holds both churners and stayers, so the probabilities are not calibrated (score.churn.calibration = {})",
                k.calibration
            ));
        }
        let chosen = if k.model == "logistic" { &p_lr } else { &p_gbt };
        calibrate("none", d2, chosen, &y_test, &test_ids)?
    } else {
        calibrate(&k.calibration, train_as_of, &oof, &y_oof, &oof_ids)?
    };

    let evaluations = vec![
        evaluate("logistic", &p_lr, &y_test)?,
        evaluate("gbt", &p_gbt, &y_test)?,
    ];
    let names = input_names();
    let mut importance: Vec<(String, f64)> = names
        .iter()
        .cloned()
        .zip(gbt.feature_importance())
        .collect();
    importance.sort_by(|a, b| b.1.total_cmp(&a.1));

    // The parties at the as-of date: those that can still churn are scored.
    progress.stage("churn: scoring");
    let r3 = recent(ctx, fcfg, parties, as_of).await?;
    let f3 = frame(
        ctx,
        &format!(
            "(SELECT * FROM {} WHERE as_of = DATE '{}')",
            features::TABLE,
            as_of.format("%Y-%m-%d")
        ),
        &[],
        &r3,
    )
    .await?;
    // Only the state at the as-of date matters here (a window of 0 days).
    let s3 = states(
        ctx,
        fcfg,
        parties,
        store,
        label,
        &k.activity,
        as_of,
        0,
        as_of,
    )
    .await?;
    let p3 = if k.model == "logistic" {
        logistic
            .predict_proba(matrix(&impute(&f3.x, &mu))?)
            .map_err(model_error)?
    } else {
        gbt.predict_proba(matrix(&f3.x)?).map_err(model_error)?
    };
    let none = State::default();
    let at: HashMap<&str, usize> = f3
        .ids
        .iter()
        .enumerate()
        .map(|(i, s)| (s.as_str(), i))
        .collect();
    let mut probability = Vec::with_capacity(ids.len());
    let mut churned = Vec::with_capacity(ids.len());
    let (mut scored_ids, mut scored_x) = (Vec::new(), Vec::new());
    let kk = n_inputs();
    for id in ids {
        match at.get(id.as_str()) {
            Some(&i) => {
                let s = s3.get(id.as_str()).unwrap_or(&none);
                if label.activity && !s.recency_days.is_finite() {
                    // Never active: nothing to lose, and not churned either.
                    probability.push(f64::NAN);
                    churned.push(false);
                } else if !can_churn(label, n, s) {
                    probability.push(f64::NAN);
                    churned.push(true);
                } else {
                    let v = p3[i];
                    probability.push(calibrator.as_ref().map_or(v, |c| c.apply(v)));
                    churned.push(false);
                    if rows_out.is_some() {
                        scored_ids.push(id.as_str());
                        scored_x.extend_from_slice(&f3.x[i * kk..(i + 1) * kk]);
                    }
                }
            }
            None => {
                probability.push(f64::NAN);
                churned.push(false);
            }
        }
    }

    if let Some(dir) = rows_out {
        let days = vec![as_of; scored_ids.len()];
        write_rows(dir, "scoring", &days, &scored_ids, &scored_x, None)?;
    }

    let models = vec![
        (
            "churn_logistic".to_string(),
            to_json(&LrWithMeans {
                model: &logistic,
                impute_means: &mu,
                inputs: &names,
                calibration: if k.model == "logistic" {
                    calibrator.as_ref()
                } else {
                    None
                },
            })?,
        ),
        (
            "churn_gbt".to_string(),
            to_json(&GbtWithInputs {
                model: &gbt,
                inputs: &names,
                calibration: if k.model == "gbt" {
                    calibrator.as_ref()
                } else {
                    None
                },
            })?,
        ),
    ];
    let rate = |y: &[bool]| pos(y) as f64 / y.len() as f64;
    let churned_at_as_of = churned.iter().filter(|c| **c).count();
    Ok(Some(Scored {
        probability,
        churned,
        report: Report {
            train_as_of,
            train_dates,
            test_as_of: d2,
            window_days: w,
            inactive_days: n,
            label: label.name(),
            n_train: y_train.len(),
            n_test: y_test.len(),
            train_churn_rate: rate(&y_train),
            test_churn_rate: rate(&y_test),
            scored_with: k.model.clone(),
            evaluations,
            calibration: Some(calibration),
            churned_at_as_of,
            importance,
            models,
            notes,
        },
    }))
}

/// Writes one set of the model's rows as `DIR/NAME.csv`: `party_id`, `as_of`, `churned`
/// (empty for the parties being scored) and the inputs as the models see them (empty where
/// unknown). The file appears whole or not at all.
fn write_rows(
    dir: &Path,
    name: &str,
    dates: &[NaiveDate],
    ids: &[&str],
    x: &[f64],
    y: Option<&[bool]>,
) -> Result<()> {
    use std::io::Write;
    let io = |path: &Path| {
        let path = path.to_path_buf();
        move |source| EngineError::Io { path, source }
    };
    std::fs::create_dir_all(dir).map_err(io(dir))?;
    let path = dir.join(format!("{name}.csv"));
    let tmp = dir.join(format!(".{name}.csv.tmp"));
    let mut out = std::io::BufWriter::new(std::fs::File::create(&tmp).map_err(io(&tmp))?);
    let k = n_inputs();
    let mut line = String::from("party_id,as_of,churned");
    for n in input_names() {
        line.push(',');
        line.push_str(&n);
    }
    writeln!(out, "{line}").map_err(io(&tmp))?;
    for (j, (id, day)) in ids.iter().zip(dates).enumerate() {
        line.clear();
        let id = if id.contains([',', '"', '\n', '\r']) {
            format!("\"{}\"", id.replace('"', "\"\""))
        } else {
            id.to_string()
        };
        let label = y.map_or("", |y| if y[j] { "1" } else { "0" });
        line.push_str(&format!("{id},{},{label}", day.format("%Y-%m-%d")));
        for v in &x[j * k..(j + 1) * k] {
            line.push(',');
            if v.is_finite() {
                line.push_str(&v.to_string());
            }
        }
        writeln!(out, "{line}").map_err(io(&tmp))?;
    }
    out.into_inner()
        .map_err(|e| io(&tmp)(e.into_error()))?
        .sync_all()
        .map_err(io(&tmp))?;
    std::fs::rename(&tmp, &path).map_err(io(&path))?;
    Ok(())
}

#[derive(Serialize)]
struct LrWithMeans<'a> {
    model: &'a LogisticRegression,
    impute_means: &'a [f64],
    inputs: &'a [String],
    #[serde(skip_serializing_if = "Option::is_none")]
    calibration: Option<&'a Calibrator>,
}

#[derive(Serialize)]
struct GbtWithInputs<'a> {
    model: &'a GbtClassifier,
    inputs: &'a [String],
    #[serde(skip_serializing_if = "Option::is_none")]
    calibration: Option<&'a Calibrator>,
}

pub(crate) fn to_json<T: Serialize>(v: &T) -> Result<String> {
    serde_json::to_string(v).map_err(|e| EngineError::Internal(e.to_string()))
}
