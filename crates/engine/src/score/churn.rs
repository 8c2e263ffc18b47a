//! Churn probability: models trained on the features of an earlier as-of date and judged on a
//! later one, then applied to the parties at the as-of date being scored.
//!
//! With window w and as-of date D: the training set is the features at D − 2w labelled by what
//! happened in the w days after; the test set is the features at D − w labelled the same way;
//! the parties at D are scored. A party churns in the window after a date when it has no
//! activity in the window and (with the label `activity_and_assets`, the default when the store
//! has balance snapshots) its average daily assets of the window's last 30 days are below those
//! of the 30 days before the date.

use std::collections::HashMap;
use std::path::Path;

use arrow::array::{Array, AsArray, RecordBatch};
use arrow::datatypes::Float64Type;
use chrono::{Duration, NaiveDate};
use datafusion::prelude::SessionContext;
use portrait_model::metrics::{self, CalibrationBin};
use portrait_model::{GbtClassifier, GbtParams, LogisticParams, LogisticRegression, Matrix};
use portrait_store::Store;
use serde::Serialize;

use super::Progress;
use super::bgnbd::model_error;
use super::config::ScoreConfig;
use crate::features::{self, FeatureConfig};
use crate::{EngineError, Result};

/// Model inputs: columns of `features`, turned into numbers. Heavy-tailed money columns enter
/// as sign(v)·ln(1 + |v|).
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
    ("financial_assets", true),
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

/// How one model did on the test date.
#[derive(Debug, Clone, Serialize)]
pub struct Evaluation {
    pub model: String,
    pub auc: f64,
    pub precision_at_10pct: f64,
    pub brier: f64,
    pub log_loss: f64,
    pub calibration: Vec<CalibrationBin>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub train_as_of: NaiveDate,
    pub test_as_of: NaiveDate,
    pub window_days: i64,
    /// The churn label used: `activity` or `activity_and_assets`.
    pub label: String,
    pub n_train: usize,
    pub n_test: usize,
    pub train_churn_rate: f64,
    pub test_churn_rate: f64,
    pub scored_with: String,
    pub evaluations: Vec<Evaluation>,
    /// Inputs by importance (gain share) in the tree model.
    pub importance: Vec<(String, f64)>,
    /// The saved models as JSON, by name (`churn_logistic`, `churn_gbt`).
    #[serde(skip)]
    pub models: Vec<(String, String)>,
    /// What the fits did that a user should know (a time budget used up).
    pub notes: Vec<String>,
}

/// One date's inputs for every party.
struct Frame {
    ids: Vec<String>,
    /// Row-major, `INPUTS` then `TRENDS`; NaN where unknown.
    x: Vec<f64>,
    recency_days: Vec<f64>,
    adb_month: Vec<f64>,
    in_population: Vec<bool>,
}

fn n_inputs() -> usize {
    INPUTS.len() + TRENDS.len()
}

fn input_names() -> Vec<String> {
    INPUTS
        .iter()
        .map(|(c, _)| c.to_string())
        .chain(TRENDS.iter().map(|s| s.to_string()))
        .collect()
}

async fn frame(ctx: &SessionContext, source: &str, population: &[String]) -> Result<Frame> {
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
        recency_days: Vec::new(),
        adb_month: Vec::new(),
        in_population: Vec::new(),
    };
    let idx = |name: &str| INPUTS.iter().position(|(c, _)| *c == name).expect("input");
    let (i_month, i_quarter, i_year) = (idx("adb_month"), idx("adb_quarter"), idx("adb_year"));
    for b in &batches {
        append(b, &mut f, population, (i_month, i_quarter, i_year))?;
    }
    Ok(f)
}

fn append(
    b: &RecordBatch,
    f: &mut Frame,
    population: &[String],
    (i_month, i_quarter, i_year): (usize, usize, usize),
) -> Result<()> {
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
        f.ids.push(ids.value(i).to_string());
        f.in_population
            .push(class.is_valid(i) && population.iter().any(|p| p == class.value(i)));
        for (j, (_, log)) in INPUTS.iter().enumerate() {
            let v = get(j, i);
            f.x.push(if *log {
                v.signum() * v.abs().ln_1p()
            } else {
                v
            });
        }
        let (m, q, y) = (get(i_month, i), get(i_quarter, i), get(i_year, i));
        f.x.push(if q > 0.0 { m / q } else { f64::NAN });
        f.x.push(if y > 0.0 { m / y } else { f64::NAN });
        f.recency_days.push(get(0, i));
        f.adb_month.push(get(i_month, i));
    }
    Ok(())
}

/// Churn labels of `now`'s parties from the frame `window` days later.
fn labels(now: &Frame, later: &Frame, window: i64, assets_down: bool) -> Vec<bool> {
    let at: HashMap<&str, usize> = later
        .ids
        .iter()
        .enumerate()
        .map(|(i, s)| (s.as_str(), i))
        .collect();
    now.ids
        .iter()
        .enumerate()
        .map(|(i, id)| {
            let Some(&j) = at.get(id.as_str()) else {
                return false;
            };
            let r = later.recency_days[j];
            let inactive = !r.is_finite() || r >= window as f64;
            let down = !assets_down || {
                let (before, after) = (now.adb_month[i], later.adb_month[j]);
                before.is_finite() && after.is_finite() && after < before
            };
            inactive && down
        })
        .collect()
}

/// Rows of the population, their inputs (row-major) and labels.
fn select(f: &Frame, y: &[bool]) -> (Vec<f64>, Vec<bool>) {
    let k = n_inputs();
    let mut x = Vec::new();
    let mut out = Vec::new();
    for (i, (&inside, &label)) in f.in_population.iter().zip(y).enumerate() {
        if inside {
            x.extend_from_slice(&f.x[i * k..(i + 1) * k]);
            out.push(label);
        }
    }
    (x, out)
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
        precision_at_10pct: metrics::precision_at(p, y, 0.1).map_err(model_error)?,
        brier: metrics::brier_score(p, y).map_err(model_error)?,
        log_loss: metrics::log_loss(p, y).map_err(model_error)?,
        calibration: metrics::calibration(p, y, 10).map_err(model_error)?,
    })
}

fn matrix(x: &[f64]) -> Result<Matrix<'_>> {
    let k = n_inputs();
    Matrix::new(x, x.len() / k, k).map_err(model_error)
}

/// Trains both models, reports them on the test date, and returns the chosen model's churn
/// probability for `ids` (the parties at `as_of`, in order). `None` when the store's history
/// is too short for a training and a test window, or a window has no churn at all.
#[allow(clippy::too_many_arguments)]
pub async fn train_and_score(
    ctx: &SessionContext,
    store: &Store,
    fcfg: &FeatureConfig,
    cfg: &ScoreConfig,
    as_of: NaiveDate,
    ids: &[String],
    scratch: [&Path; 2],
    progress: &dyn Progress,
) -> Result<Option<(Vec<f64>, Report)>> {
    let k = &cfg.churn;
    let w = k.window_days;
    let (d1, d2) = (as_of - Duration::days(2 * w), as_of - Duration::days(w));
    let parties = features::parties(store);
    let mut frames = Vec::new();
    for (i, (d, what)) in [(d1, "training"), (d2, "test")].into_iter().enumerate() {
        progress.stage(&format!("churn: features as of {d} ({what})"));
        let df = features::compute(
            ctx,
            fcfg,
            d,
            parties,
            scratch[i],
            &format!("churn_base_{i}"),
        )
        .await?;
        let view = format!("churn_features_{i}");
        ctx.register_table(view.as_str(), df.into_view())?;
        frames.push(frame(ctx, &view, &k.population).await?);
    }
    let f2 = frames.pop().expect("test frame");
    let f1 = frames.pop().expect("training frame");
    let f3 = frame(
        ctx,
        &format!(
            "(SELECT * FROM {} WHERE as_of = DATE '{}')",
            features::TABLE,
            as_of.format("%Y-%m-%d")
        ),
        &k.population,
    )
    .await?;
    let has_balances = store.table("asset_snapshot").is_some();
    let assets_down = k.assets_down(has_balances);
    let y1 = labels(&f1, &f2, w, assets_down);
    let y2 = labels(&f2, &f3, w, assets_down);
    let (x_train, y_train) = select(&f1, &y1);
    let (x_test, y_test) = select(&f2, &y2);
    let pos = |y: &[bool]| y.iter().filter(|v| **v).count();
    if y_train.is_empty()
        || y_test.is_empty()
        || pos(&y_train) == 0
        || pos(&y_train) == y_train.len()
        || pos(&y_test) == 0
        || pos(&y_test) == y_test.len()
    {
        tracing::warn!(
            "churn: no model; the windows before {as_of} hold {} training and {} test parties with {} and {} churners",
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
    let mut notes = Vec::new();
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

    // Score the parties at the as-of date, in the caller's order.
    let p3 = if k.model == "logistic" {
        logistic
            .predict_proba(matrix(&impute(&f3.x, &mu))?)
            .map_err(model_error)?
    } else {
        gbt.predict_proba(matrix(&f3.x)?).map_err(model_error)?
    };
    let at: HashMap<&str, usize> = f3
        .ids
        .iter()
        .enumerate()
        .map(|(i, s)| (s.as_str(), i))
        .collect();
    let probs = ids
        .iter()
        .map(|id| at.get(id.as_str()).map_or(f64::NAN, |&i| p3[i]))
        .collect();

    let models = vec![
        (
            "churn_logistic".to_string(),
            to_json(&LrWithMeans {
                model: &logistic,
                impute_means: &mu,
                inputs: &names,
            })?,
        ),
        (
            "churn_gbt".to_string(),
            to_json(&GbtWithInputs {
                model: &gbt,
                inputs: &names,
            })?,
        ),
    ];
    let rate = |y: &[bool]| pos(y) as f64 / y.len() as f64;
    Ok(Some((
        probs,
        Report {
            train_as_of: d1,
            test_as_of: d2,
            window_days: w,
            label: k.label_name(has_balances).to_string(),
            n_train: y_train.len(),
            n_test: y_test.len(),
            train_churn_rate: rate(&y_train),
            test_churn_rate: rate(&y_test),
            scored_with: k.model.clone(),
            evaluations,
            importance,
            models,
            notes,
        },
    )))
}

#[derive(Serialize)]
struct LrWithMeans<'a> {
    model: &'a LogisticRegression,
    impute_means: &'a [f64],
    inputs: &'a [String],
}

#[derive(Serialize)]
struct GbtWithInputs<'a> {
    model: &'a GbtClassifier,
    inputs: &'a [String],
}

pub(crate) fn to_json<T: Serialize>(v: &T) -> Result<String> {
    serde_json::to_string(v).map_err(|e| EngineError::Internal(e.to_string()))
}
