//! `segment`: 客户分群 over the latest features — preprocessing, a clustering method, and a
//! profile and persona for every segment.
//!
//! Writes, in one commit:
//! - `segment(model, party_id, segment, distance)` — segments numbered from 1 by falling mean
//!   value; `distance` to the segment's centre in the scaled input space;
//! - `segment_profile(model, version, segment, size, share, value_share, name, name_zh, action,
//!   persona, persona_zh, features, tags)` — `features` and `tags` are JSON lists of what sets
//!   the segment apart (standardised mean difference; tag lift);
//! - `segment_model(model, version, created_at, method, k, parties, config, report)` — every
//!   fit, kept as a version.
//!
//! Rows of other models are kept; a model's rows are replaced by its new fit.

use chrono::NaiveDate;
use std::collections::BTreeMap;
use std::sync::Arc;

use arrow::array::{
    Array, ArrayRef, AsArray, Float64Array, RecordBatch, StringArray, UInt32Array, UInt64Array,
};
use arrow::datatypes::{DataType, Field, Float64Type, Schema};
use portrait_mining::{
    CappingParams, ChooseKParams, Codes, CovarianceType, Distance, FillStrategy, FillValues,
    GmmParams, HierarchicalParams, KCriterion, KMeansParams, KPrototypesParams, Linkage, Matrix,
    MiniBatchKMeansParams, OneHotEncoder, OrdinalEncoder, Scaler, Scaling, calinski_harabasz,
    sample_indices, select_by_vif, silhouette_sampled,
};
use portrait_store::Store;
use serde::{Deserialize, Serialize};

use crate::{EngineError, Result, open_session};

pub const SEGMENT: &str = "segment";
pub const SEGMENT_PROFILE: &str = "segment_profile";
pub const SEGMENT_MODEL: &str = "segment_model";

/// `[segment]` in portrait.toml.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SegmentConfig {
    /// The model `portrait run` fits.
    pub default_model: String,
    /// `[segment.models.NAME]`: the models, by name. The built-in `value` model is used when
    /// the name is not here.
    pub models: BTreeMap<String, ModelConfig>,
}

impl Default for SegmentConfig {
    fn default() -> Self {
        SegmentConfig {
            default_model: "value".into(),
            models: BTreeMap::new(),
        }
    }
}

impl SegmentConfig {
    /// The configuration of a model: the file's, else the built-in one.
    pub fn model(&self, name: &str) -> ModelConfig {
        self.models.get(name).cloned().unwrap_or_default()
    }
}

/// k: a number, or `auto` to choose it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum KSetting {
    Fixed(usize),
    Auto(String),
}

impl KSetting {
    pub fn fixed(&self) -> Option<usize> {
        match self {
            KSetting::Fixed(k) => Some(*k),
            KSetting::Auto(_) => None,
        }
    }
}

/// One segmentation model.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ModelConfig {
    /// kmeans, minibatch, hierarchical, gmm or kprototypes.
    pub method: String,
    /// A number of segments, or "auto": the best of k_min..=k_max by `criterion`.
    pub k: KSetting,
    pub k_min: usize,
    pub k_max: usize,
    /// silhouette, calinski_harabasz or elbow (k-means and hierarchical); Gaussian mixtures
    /// choose by BIC.
    pub criterion: String,
    /// Numeric inputs (columns of `features`).
    pub features: Vec<String>,
    /// Categorical inputs: encoded by `encoding`, or matched as categories by k-prototypes.
    pub categorical: Vec<String>,
    /// onehot (a 0/1 column per value) or ordinal (one column of value codes in sorted order).
    pub encoding: String,
    /// Inputs taken as sign(x)·ln(1 + |x|) first: money and counts with long tails.
    pub log: Vec<String>,
    /// Missing values: mean, median, mode or a number.
    pub fill: String,
    /// Percentiles numeric inputs are capped at (winsorised), e.g. [0.01, 0.99]; [0, 1] for none.
    pub cap: [f64; 2],
    /// zscore or minmax.
    pub scaling: String,
    /// Inputs whose variance inflation factor is above this are dropped one by one; 0 keeps all.
    pub vif_threshold: f64,
    pub n_init: usize,
    pub max_iter: usize,
    /// Wall-clock budget of the fit in seconds (all restarts and every k tried): when it runs
    /// out the best fit so far is kept and the report says so.
    pub max_seconds: f64,
    pub seed: u64,
    /// single, complete, average, centroid or ward.
    pub linkage: String,
    /// euclidean, manhattan, chebyshev or minkowski:P (hierarchical clustering).
    pub distance: String,
    /// full or diagonal (Gaussian mixtures).
    pub covariance: String,
    /// Rows hierarchical clustering runs on (the rest are assigned to the nearest centre), and
    /// rows the silhouette is measured on.
    pub sample: usize,
    /// The feature whose share each segment carries (value share).
    pub value: String,
}

impl Default for ModelConfig {
    fn default() -> Self {
        let s = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        ModelConfig {
            method: "kmeans".into(),
            k: KSetting::Auto("auto".into()),
            k_min: 3,
            k_max: 8,
            criterion: "silhouette".into(),
            features: s(&[
                "recency_days",
                "frequency",
                "monetary",
                "adb_year",
                "product_types",
                "tenure_months",
                "clv",
                "churn_probability",
            ]),
            categorical: Vec::new(),
            encoding: "onehot".into(),
            log: s(&["frequency", "monetary", "adb_year", "clv"]),
            fill: "median".into(),
            cap: [0.01, 0.99],
            scaling: "zscore".into(),
            vif_threshold: 10.0,
            n_init: 10,
            max_iter: 300,
            max_seconds: 120.0,
            seed: 42,
            linkage: "ward".into(),
            distance: "euclidean".into(),
            covariance: "full".into(),
            sample: 5000,
            value: "clv".into(),
        }
    }
}

impl ModelConfig {
    pub fn validate(&self) -> std::result::Result<(), String> {
        if !["kmeans", "minibatch", "hierarchical", "gmm", "kprototypes"]
            .contains(&self.method.as_str())
        {
            return Err(format!(
                "segment method `{}` is unknown; expected kmeans, minibatch, hierarchical, gmm or kprototypes",
                self.method
            ));
        }
        match &self.k {
            KSetting::Fixed(0) => return Err("k cannot be 0".into()),
            KSetting::Auto(s) if s != "auto" => {
                return Err(format!("k must be a number or \"auto\", not `{s}`"));
            }
            _ => {}
        }
        if self.k_min < 2 || self.k_max < self.k_min {
            return Err(format!(
                "k_min ({}) must be at least 2 and k_max ({}) at least k_min",
                self.k_min, self.k_max
            ));
        }
        if self.features.is_empty() && self.categorical.is_empty() {
            return Err("a segment model needs `features` or `categorical` inputs".into());
        }
        if self.method == "kprototypes" && self.categorical.is_empty() {
            return Err("k-prototypes needs `categorical` inputs".into());
        }
        if !(0.0..=1.0).contains(&self.cap[0])
            || !(0.0..=1.0).contains(&self.cap[1])
            || self.cap[0] >= self.cap[1]
        {
            return Err(format!(
                "cap must be two percentiles in [0, 1], lower first, not {:?}",
                self.cap
            ));
        }
        self.parse_fill()?;
        self.parse_scaling()?;
        self.parse_linkage()?;
        self.parse_distance()?;
        self.parse_criterion()?;
        self.parse_covariance()?;
        if !(self.max_seconds.is_finite() && self.max_seconds > 0.0) {
            return Err(format!(
                "max_seconds must be a positive number of seconds, not {}",
                self.max_seconds
            ));
        }
        if self.vif_threshold != 0.0 && self.vif_threshold < 1.0 {
            return Err("vif_threshold must be 0 (off) or at least 1".into());
        }
        if !["onehot", "ordinal"].contains(&self.encoding.as_str()) {
            return Err(format!(
                "encoding `{}` is unknown; expected onehot or ordinal",
                self.encoding
            ));
        }
        if self.sample < 10 {
            return Err("sample must be at least 10".into());
        }
        Ok(())
    }

    fn parse_fill(&self) -> std::result::Result<FillStrategy, String> {
        Ok(match self.fill.as_str() {
            "mean" => FillStrategy::Mean,
            "median" => FillStrategy::Median,
            "mode" => FillStrategy::Mode,
            s => FillStrategy::Constant(s.parse::<f64>().map_err(|_| {
                format!("fill `{s}` is unknown; expected mean, median, mode or a number")
            })?),
        })
    }

    fn parse_scaling(&self) -> std::result::Result<Scaling, String> {
        match self.scaling.as_str() {
            "zscore" => Ok(Scaling::ZScore),
            "minmax" => Ok(Scaling::MinMax),
            s => Err(format!(
                "scaling `{s}` is unknown; expected zscore or minmax"
            )),
        }
    }

    fn parse_linkage(&self) -> std::result::Result<Linkage, String> {
        Ok(match self.linkage.as_str() {
            "single" => Linkage::Single,
            "complete" => Linkage::Complete,
            "average" => Linkage::Average,
            "centroid" => Linkage::Centroid,
            "ward" => Linkage::Ward,
            s => {
                return Err(format!(
                    "linkage `{s}` is unknown; expected single, complete, average, centroid or ward"
                ));
            }
        })
    }

    fn parse_distance(&self) -> std::result::Result<Distance, String> {
        let d = match self.distance.as_str() {
            "euclidean" => Distance::Euclidean,
            "manhattan" => Distance::Manhattan,
            "chebyshev" => Distance::Chebyshev,
            s => match s
                .strip_prefix("minkowski:")
                .and_then(|p| p.parse::<f64>().ok())
            {
                Some(p) => Distance::Minkowski(p),
                None => {
                    return Err(format!(
                        "distance `{s}` is unknown; expected euclidean, manhattan, chebyshev or minkowski:P"
                    ));
                }
            },
        };
        d.validate().map_err(|e| e.to_string())?;
        Ok(d)
    }

    fn parse_criterion(&self) -> std::result::Result<KCriterion, String> {
        match self.criterion.as_str() {
            "silhouette" => Ok(KCriterion::Silhouette),
            "calinski_harabasz" => Ok(KCriterion::CalinskiHarabasz),
            "elbow" => Ok(KCriterion::Elbow),
            s => Err(format!(
                "criterion `{s}` is unknown; expected silhouette, calinski_harabasz or elbow"
            )),
        }
    }

    fn parse_covariance(&self) -> std::result::Result<CovarianceType, String> {
        match self.covariance.as_str() {
            "full" => Ok(CovarianceType::Full),
            "diagonal" | "diag" => Ok(CovarianceType::Diagonal),
            s => Err(format!(
                "covariance `{s}` is unknown; expected full or diagonal"
            )),
        }
    }
}

fn mining(e: portrait_mining::MiningError) -> EngineError {
    EngineError::Usage(format!("segmentation: {e}"))
}

pub use crate::pipeline::Progress;

/// One k's scores when k was chosen.
#[derive(Debug, Clone, Serialize)]
pub struct KScoreRow {
    pub k: usize,
    /// Within-cluster sum of squares (k-means), or BIC (Gaussian mixtures).
    pub inertia: Option<f64>,
    pub silhouette: Option<f64>,
    pub calinski_harabasz: Option<f64>,
    pub bic: Option<f64>,
}

/// A feature that sets a segment apart.
#[derive(Debug, Clone, Serialize)]
pub struct Standout {
    pub feature: String,
    pub mean: f64,
    pub population_mean: f64,
    /// Standardised mean difference: (segment mean − mean) / standard deviation.
    pub smd: f64,
}

/// A segment's profile.
#[derive(Debug, Clone, Serialize)]
pub struct Profile {
    pub segment: u32,
    pub size: u64,
    pub share: f64,
    pub value_share: f64,
    pub name: String,
    pub name_zh: String,
    pub action: String,
    pub persona: String,
    pub persona_zh: String,
    pub features: Vec<Standout>,
    pub tags: Vec<(String, String, f64)>,
}

/// What a fit did.
#[derive(Debug, Clone, Serialize)]
pub struct Outcome {
    pub model: String,
    pub version: u32,
    pub method: String,
    pub k: usize,
    pub parties: usize,
    pub inputs: Vec<String>,
    pub dropped: Vec<(String, f64, String)>,
    /// Variance inflation factor of every numeric input kept.
    pub vif: Vec<(String, f64)>,
    pub k_scores: Vec<KScoreRow>,
    pub silhouette: Option<f64>,
    pub calinski_harabasz: Option<f64>,
    pub profiles: Vec<Profile>,
    /// What the fit did that a user should know: a time budget used up, a component collapsed.
    pub notes: Vec<String>,
}

fn signed_log(x: f64) -> f64 {
    x.signum() * x.abs().ln_1p()
}

/// Persona inputs read beside the model inputs.
const PERSONA: [&str; 4] = [
    "age_group",
    "asset_tier",
    "recency_days",
    "churn_probability",
];

/// Fits a model and writes its segments and profiles.
pub async fn run(
    store: &Store,
    name: &str,
    cfg: &ModelConfig,
    as_of: NaiveDate,
    progress: &dyn Progress,
) -> Result<Outcome> {
    cfg.validate().map_err(EngineError::Usage)?;
    if store.table(crate::features::TABLE).is_none() {
        return Err(EngineError::Usage(
            "no `features` table in the store\nhint: run `portrait run` (or `portrait features` and `portrait score`) first".into(),
        ));
    }
    progress.stage("reading features");
    let ctx = open_session(store).await?;
    let available: Vec<String> = ctx
        .sql("SELECT * FROM features LIMIT 0")
        .await?
        .schema()
        .fields()
        .iter()
        .map(|f| f.name().clone())
        .collect();
    for f in cfg
        .features
        .iter()
        .chain(&cfg.categorical)
        .chain(std::iter::once(&cfg.value))
    {
        if !available.contains(f) {
            return Err(EngineError::Usage(format!(
                "segment model `{name}`: unknown feature `{f}`\nhint: `portrait sql \"SELECT * FROM features LIMIT 1\"` shows the features"
            )));
        }
    }
    let q = |s: &str| format!("\"{}\"", s.replace('"', "\"\""));
    let mut cols = vec!["party_id".to_string()];
    cols.extend(
        cfg.features
            .iter()
            .map(|f| format!("CAST({} AS DOUBLE) AS {}", q(f), q(&format!("n:{f}")))),
    );
    cols.extend(
        cfg.categorical
            .iter()
            .map(|f| format!("CAST({} AS VARCHAR) AS {}", q(f), q(&format!("c:{f}")))),
    );
    cols.push(format!("CAST({} AS DOUBLE) AS \"v:value\"", q(&cfg.value)));
    for p in PERSONA {
        if available.iter().any(|a| a == p) {
            cols.push(format!(
                "CAST({} AS VARCHAR) AS {}",
                q(p),
                q(&format!("p:{p}"))
            ));
        }
    }
    let sql = format!(
        "SELECT {} FROM features WHERE as_of = DATE '{as_of}' ORDER BY party_id",
        cols.join(", ")
    );
    let batches = ctx.sql(&sql).await?.collect().await?;
    let n: usize = batches.iter().map(|b| b.num_rows()).sum();
    if n < cfg.k_max.max(cfg.k.fixed().unwrap_or(2)) * 2 {
        return Err(EngineError::NothingToDo(format!(
            "segment model `{name}`: only {n} parties, too few to segment"
        )));
    }
    let text = |col: &str| -> Result<Vec<Option<String>>> {
        let mut out = Vec::with_capacity(n);
        for b in &batches {
            let a = crate::utf8(
                b.column_by_name(col)
                    .ok_or_else(|| EngineError::Internal(col.into()))?,
            )?;
            let a = a.as_string::<i32>();
            out.extend((0..a.len()).map(|i| a.is_valid(i).then(|| a.value(i).to_string())));
        }
        Ok(out)
    };
    let num = |col: &str| -> Result<Vec<f64>> {
        let mut out = Vec::with_capacity(n);
        for b in &batches {
            let a = b
                .column_by_name(col)
                .ok_or_else(|| EngineError::Internal(col.into()))?;
            let a = a.as_primitive::<Float64Type>();
            out.extend((0..a.len()).map(|i| if a.is_valid(i) { a.value(i) } else { f64::NAN }));
        }
        Ok(out)
    };
    let party_ids: Vec<String> = text("party_id")?
        .into_iter()
        .map(Option::unwrap_or_default)
        .collect();
    let value = num("v:value")?;

    // ---- preprocessing
    progress.stage("preprocessing");
    let mut raw_cols: Vec<Vec<f64>> = Vec::new();
    let mut inputs: Vec<String> = Vec::new();
    let mut dropped = Vec::new();
    for f in &cfg.features {
        let mut c = num(&format!("n:{f}"))?;
        if cfg.log.contains(f) {
            c.iter_mut().for_each(|v| *v = signed_log(*v));
        }
        // An input the data give no value or one value to separates nobody (a store without
        // balances has adb_year 0 for everyone): it is left out, with the reason.
        let mut seen = c.iter().copied().filter(|v| v.is_finite());
        let first = seen.next();
        let why = match first {
            None => Some("no party has a value (its input table is missing or empty)"),
            Some(v) if seen.all(|w| w == v) => Some("every party has the same value"),
            Some(_) => None,
        };
        match why {
            Some(why) => dropped.push((f.clone(), f64::NAN, why.to_string())),
            None => {
                raw_cols.push(c);
                inputs.push(f.clone());
            }
        }
    }
    if raw_cols.is_empty() && cfg.categorical.is_empty() {
        return Err(EngineError::NothingToDo(format!(
            "segment model `{name}`: none of its inputs ({}) varies across the parties\nhint: load the tables they come from (`portrait features --explain` says which)",
            cfg.features.join(", ")
        )));
    }
    let mut x = if raw_cols.is_empty() {
        Matrix::zeros(n, 0)
    } else {
        Matrix::from_columns(&raw_cols).map_err(mining)?
    };
    if x.n_cols() > 0 {
        let fill =
            FillValues::fit(&x, cfg.parse_fill().map_err(EngineError::Usage)?).map_err(mining)?;
        fill.apply(&mut x).map_err(mining)?;
        if cfg.cap != [0.0, 1.0] {
            let caps = CappingParams::new(cfg.cap[0], cfg.cap[1])
                .fit(&x)
                .map_err(mining)?;
            caps.apply(&mut x).map_err(mining)?;
        }
    }
    // The filled, capped inputs in their own units (after the log), for the profiles.
    let profile_x = x.clone();
    let profile_inputs = inputs.clone();
    let mut vifs: Vec<(String, f64)> = Vec::new();
    if x.n_cols() > 1 {
        // With the check off, the VIFs are still reported.
        let threshold = if cfg.vif_threshold >= 1.0 {
            cfg.vif_threshold
        } else {
            f64::MAX
        };
        let sel = select_by_vif(&x, threshold).map_err(mining)?;
        for d in &sel.dropped {
            dropped.push((inputs[d.column].clone(), d.vif, d.reason.clone()));
        }
        vifs = sel
            .kept
            .iter()
            .zip(&sel.vif)
            .map(|(&i, &v)| (inputs[i].clone(), v))
            .collect();
        x = x.select_columns(&sel.kept);
        inputs = sel.kept.iter().map(|&i| inputs[i].clone()).collect();
    }
    let cats: Vec<Vec<String>> = cfg
        .categorical
        .iter()
        .map(|c| -> Result<Vec<String>> {
            Ok(text(&format!("c:{c}"))?
                .into_iter()
                .map(|v| v.unwrap_or_else(|| "(missing)".into()))
                .collect())
        })
        .collect::<Result<_>>()?;
    let mut codes: Option<Codes> = None;
    if cfg.method == "kprototypes" {
        let mut data = vec![0u32; n * cats.len()];
        for (j, col) in cats.iter().enumerate() {
            let mut dict: BTreeMap<&str, u32> = BTreeMap::new();
            for v in col {
                let next = dict.len() as u32;
                dict.entry(v.as_str()).or_insert(next);
            }
            for (i, v) in col.iter().enumerate() {
                data[i * cats.len() + j] = dict[v.as_str()];
            }
        }
        codes = Some(Codes::new(data, n, cats.len()).map_err(mining)?);
    } else {
        // Encoded columns join the numeric inputs.
        for (c, col) in cfg.categorical.iter().zip(&cats) {
            let mut cols: Vec<Vec<f64>> = (0..x.n_cols()).map(|j| x.column(j)).collect();
            if cfg.encoding == "ordinal" {
                cols.push(OrdinalEncoder::fit(col).transform(col));
                inputs.push(c.clone());
            } else {
                let enc = OneHotEncoder::fit(col);
                let m = enc.transform(col);
                for j in 0..m.n_cols() {
                    cols.push(m.column(j));
                }
                inputs.extend(enc.column_names(c));
            }
            x = Matrix::from_columns(&cols).map_err(mining)?;
        }
    }
    if x.n_cols() > 0 {
        let scaler =
            Scaler::fit(&x, cfg.parse_scaling().map_err(EngineError::Usage)?).map_err(mining)?;
        scaler.apply(&mut x).map_err(mining)?;
    }

    // ---- fit
    progress.stage(&format!("fitting {}", cfg.method));
    let mut k_scores = Vec::new();
    let mut notes = Vec::new();
    let budget = Some(cfg.max_seconds);
    let mut timed_out = false;
    let (labels, centres): (Vec<usize>, Matrix) = match cfg.method.as_str() {
        "kmeans" => {
            let params = KMeansParams::new(cfg.k.fixed().unwrap_or(2))
                .n_init(cfg.n_init)
                .max_iter(cfg.max_iter)
                .max_seconds(budget)
                .seed(cfg.seed);
            let model = match cfg.k.fixed() {
                Some(_) => params.fit(&x).map_err(mining)?,
                None => {
                    let choice = portrait_mining::choose_k(
                        &x,
                        &ChooseKParams {
                            k_min: cfg.k_min,
                            k_max: cfg.k_max,
                            kmeans: params,
                            silhouette_sample: Some(cfg.sample.min(n)),
                            criterion: cfg.parse_criterion().map_err(EngineError::Usage)?,
                        },
                    )
                    .map_err(mining)?;
                    timed_out = choice.timed_out;
                    k_scores = choice
                        .scores
                        .iter()
                        .map(|s| KScoreRow {
                            k: s.k,
                            inertia: Some(s.inertia),
                            silhouette: Some(s.silhouette),
                            calinski_harabasz: Some(s.calinski_harabasz),
                            bic: None,
                        })
                        .collect();
                    choice.model
                }
            };
            timed_out |= model.timed_out;
            (model.labels, model.centroids)
        }
        "minibatch" => {
            let k = match cfg.k.fixed() {
                Some(k) => k,
                None => {
                    return Err(EngineError::Usage(
                        "mini-batch k-means needs a fixed k (`--k 6`); choose k with `--method kmeans --k auto` on a sample".into(),
                    ));
                }
            };
            let model = MiniBatchKMeansParams::new(k)
                .seed(cfg.seed)
                .max_seconds(budget)
                .fit(&x)
                .map_err(mining)?;
            timed_out = model.timed_out;
            (model.labels, model.centroids)
        }
        "gmm" => {
            let cov = cfg.parse_covariance().map_err(EngineError::Usage)?;
            let started = std::time::Instant::now();
            // Every k tried shares the one budget.
            let fit = |k: usize| {
                let left = (cfg.max_seconds - started.elapsed().as_secs_f64()).max(1e-3);
                GmmParams::new(k)
                    .covariance(cov)
                    .seed(cfg.seed)
                    .n_init(cfg.n_init.clamp(1, 3))
                    .max_seconds(Some(left))
                    .fit(&x)
                    .map_err(mining)
            };
            let model = match cfg.k.fixed() {
                Some(k) => fit(k)?,
                None => {
                    let mut best: Option<portrait_mining::Gmm> = None;
                    for k in cfg.k_min..=cfg.k_max {
                        if best.is_some() && started.elapsed().as_secs_f64() >= cfg.max_seconds {
                            timed_out = true;
                            break;
                        }
                        let g = fit(k)?;
                        timed_out |= g.timed_out;
                        k_scores.push(KScoreRow {
                            k,
                            inertia: None,
                            silhouette: None,
                            calinski_harabasz: None,
                            bic: Some(g.bic),
                        });
                        if best.as_ref().is_none_or(|b| g.bic < b.bic) {
                            best = Some(g);
                        }
                    }
                    best.expect("k range is not empty")
                }
            };
            timed_out |= model.timed_out;
            if model.collapsed > 0 {
                notes.push(format!(
                    "{} of the {} mixture components hold less than one party: the fit reached the boundary (a weight of 0); a smaller k describes these data as well",
                    model.collapsed,
                    model.weights.len()
                ));
            }
            (model.labels.clone(), model.means.clone())
        }
        "hierarchical" => {
            let linkage = cfg.parse_linkage().map_err(EngineError::Usage)?;
            let distance = cfg.parse_distance().map_err(EngineError::Usage)?;
            let idx = sample_indices(n, cfg.sample.min(n), cfg.seed);
            let sample = x.select_rows(&idx);
            let k = match cfg.k.fixed() {
                Some(k) => k,
                None => {
                    // Every k from one dendrogram, scored by silhouette on the sample.
                    let d = portrait_mining::linkage(&sample, linkage, distance).map_err(mining)?;
                    let mut best = (cfg.k_min, f64::NEG_INFINITY);
                    for k in cfg.k_min..=cfg.k_max {
                        let l = d.cut(k);
                        let s = silhouette_sampled(&sample, &l, sample.n_rows(), cfg.seed)
                            .map_err(mining)?;
                        let ch = calinski_harabasz(&sample, &l).map_err(mining)?;
                        k_scores.push(KScoreRow {
                            k,
                            inertia: None,
                            silhouette: Some(s),
                            calinski_harabasz: Some(ch),
                            bic: None,
                        });
                        if s > best.1 {
                            best = (k, s);
                        }
                    }
                    best.0
                }
            };
            let model = HierarchicalParams::new(k)
                .linkage(linkage)
                .distance(distance)
                .fit(&sample)
                .map_err(mining)?;
            let labels = model.predict(&x).map_err(mining)?;
            (labels, model.centroids.clone())
        }
        _ => {
            let k = cfg.k.fixed().ok_or_else(|| {
                EngineError::Usage("k-prototypes needs a fixed k (`--k 5`)".into())
            })?;
            let codes = codes.as_ref().expect("codes built for k-prototypes");
            let mut p = KPrototypesParams::new(k).seed(cfg.seed);
            p.n_init = cfg.n_init.max(1);
            p.max_iter = cfg.max_iter;
            p.max_seconds = budget;
            let model = p.fit(&x, codes).map_err(mining)?;
            timed_out = model.timed_out;
            (model.labels.clone(), model.numeric.clone())
        }
    };
    if timed_out {
        notes.push(format!(
            "the {} fit used its time budget of {} s (segment max_seconds): the best fit so far is kept; raise the budget or fit on fewer parties for a converged model",
            cfg.method, cfg.max_seconds
        ));
    }
    let k = centres.n_rows();

    // Number segments 1..k by falling mean value.
    let mut sums = vec![(0.0f64, 0u64); k];
    for (l, v) in labels.iter().zip(&value) {
        if !v.is_nan() {
            sums[*l].0 += v;
            sums[*l].1 += 1;
        }
    }
    let mut order: Vec<usize> = (0..k).collect();
    order.sort_by(|&a, &b| {
        let ma = sums[a].0 / sums[a].1.max(1) as f64;
        let mb = sums[b].0 / sums[b].1.max(1) as f64;
        mb.total_cmp(&ma).then(a.cmp(&b))
    });
    let mut rank = vec![0u32; k];
    for (r, &c) in order.iter().enumerate() {
        rank[c] = r as u32 + 1;
    }
    let distances: Vec<f64> = (0..n)
        .map(|i| {
            if centres.n_cols() == 0 {
                0.0
            } else {
                portrait_mining::distance::squared_euclidean(x.row(i), centres.row(labels[i]))
                    .sqrt()
            }
        })
        .collect();
    let segments: Vec<u32> = labels.iter().map(|&l| rank[l]).collect();
    let silhouette = if x.n_cols() > 0 && k > 1 {
        silhouette_sampled(&x, &labels, cfg.sample.min(n), cfg.seed).ok()
    } else {
        None
    };
    let ch = if x.n_cols() > 0 && k > 1 {
        calinski_harabasz(&x, &labels).ok()
    } else {
        None
    };

    // ---- profiles
    progress.stage("profiles and personas");
    let persona_text: BTreeMap<&str, Vec<Option<String>>> = PERSONA
        .iter()
        .filter(|p| available.iter().any(|a| a == *p))
        .map(|p| Ok((*p, text(&format!("p:{p}"))?)))
        .collect::<Result<_>>()?;
    let tag_index = crate::tags::open_index(store).ok();
    let tag_ids: Option<std::collections::HashMap<String, u32>> =
        tag_index.as_ref().and_then(|_| {
            crate::tags::party_ids(store).ok().map(|ids| {
                ids.into_iter()
                    .enumerate()
                    .map(|(i, p)| (p, i as u32))
                    .collect()
            })
        });
    let total_value: f64 = value
        .iter()
        .filter(|v| !v.is_nan())
        .map(|v| v.max(0.0))
        .sum();
    let col_stats: Vec<(f64, f64)> = (0..profile_x.n_cols())
        .map(|j| {
            let c = profile_x.column(j);
            let m = c.iter().sum::<f64>() / n as f64;
            let sd = (c.iter().map(|v| (v - m).powi(2)).sum::<f64>() / n as f64).sqrt();
            (m, sd)
        })
        .collect();
    let pop_value_mean = mean(value.iter().copied());
    let pop_churn = persona_text
        .get("churn_probability")
        .map(|c| mean(c.iter().filter_map(|v| v.as_deref()?.parse().ok())));
    let mut profiles = Vec::new();
    for s in 1..=k as u32 {
        let members: Vec<usize> = (0..n).filter(|&i| segments[i] == s).collect();
        let size = members.len() as u64;
        let seg_value: f64 = members
            .iter()
            .map(|&i| value[i])
            .filter(|v| !v.is_nan())
            .map(|v| v.max(0.0))
            .sum();
        let mut standouts: Vec<Standout> = (0..profile_x.n_cols())
            .map(|j| {
                let m =
                    members.iter().map(|&i| profile_x.get(i, j)).sum::<f64>() / size.max(1) as f64;
                let (pm, sd) = col_stats[j];
                let f = &profile_inputs[j];
                let unlog = |v: f64| {
                    if cfg.log.contains(f) {
                        v.signum() * v.abs().exp_m1()
                    } else {
                        v
                    }
                };
                Standout {
                    feature: f.clone(),
                    mean: unlog(m),
                    population_mean: unlog(pm),
                    smd: if sd > 0.0 { (m - pm) / sd } else { 0.0 },
                }
            })
            .collect();
        standouts.sort_by(|a, b| b.smd.abs().total_cmp(&a.smd.abs()));
        standouts.truncate(4);
        let mut tags = Vec::new();
        if let (Some(index), Some(ids)) = (&tag_index, &tag_ids) {
            let set: portrait_tags::RoaringBitmap = members
                .iter()
                .filter_map(|&i| ids.get(&party_ids[i]).copied())
                .collect();
            for r in index.portrait(&set) {
                if r.share >= 0.2
                    && r.lift >= 1.3
                    && r.p_value < 0.01
                    && !r.tag.starts_with("segment_")
                {
                    tags.push((r.tag.clone(), r.value.clone().unwrap_or_default(), r.lift));
                }
                if tags.len() >= 5 {
                    break;
                }
            }
        }
        let mode = |p: &str| -> Option<(String, f64)> {
            let c = persona_text.get(p)?;
            let mut counts: BTreeMap<&str, u64> = BTreeMap::new();
            for &i in &members {
                if let Some(v) = c[i].as_deref() {
                    *counts.entry(v).or_default() += 1;
                }
            }
            let (v, c) = counts.into_iter().max_by_key(|(_, c)| *c)?;
            Some((v.to_string(), c as f64 / size.max(1) as f64))
        };
        let median_recency = persona_text.get("recency_days").map(|c| {
            let mut v: Vec<f64> = members
                .iter()
                .filter_map(|&i| c[i].as_deref()?.parse().ok())
                .collect();
            v.sort_by(f64::total_cmp);
            v.get(v.len() / 2).copied().unwrap_or(f64::NAN)
        });
        let churn = persona_text.get("churn_probability").map(|c| {
            mean(
                members
                    .iter()
                    .filter_map(|&i| c[i].as_deref()?.parse().ok()),
            )
        });
        let seg_value_mean = mean(members.iter().map(|&i| value[i]));
        let facts = PersonaFacts {
            value_ratio: if pop_value_mean.abs() > 0.0 {
                seg_value_mean / pop_value_mean
            } else {
                1.0
            },
            seg_value_mean,
            recency: median_recency.unwrap_or(f64::NAN),
            churn: churn.unwrap_or(f64::NAN),
            pop_churn: pop_churn.unwrap_or(f64::NAN),
            age_group: mode("age_group"),
            asset_tier: mode("asset_tier"),
        };
        let p = persona(&facts, &standouts);
        profiles.push(Profile {
            segment: s,
            size,
            share: size as f64 / n as f64,
            value_share: if total_value > 0.0 {
                seg_value / total_value
            } else {
                0.0
            },
            name: p.name,
            name_zh: p.name_zh,
            action: p.action,
            persona: p.persona,
            persona_zh: p.persona_zh,
            features: standouts,
            tags,
        });
    }

    // ---- write
    progress.stage("writing segments");
    let report = serde_json::json!({
        "inputs": inputs, "dropped": dropped, "vif": vifs, "k_scores": k_scores,
        "silhouette": silhouette, "calinski_harabasz": ch,
    });
    let version = write(
        store, name, cfg, &party_ids, &segments, &distances, &profiles, &report,
    )?;
    Ok(Outcome {
        model: name.to_string(),
        version,
        method: cfg.method.clone(),
        k,
        parties: n,
        inputs,
        dropped,
        vif: vifs,
        k_scores,
        silhouette,
        calinski_harabasz: ch,
        profiles,
        notes,
    })
}

fn mean(it: impl Iterator<Item = f64>) -> f64 {
    let (mut s, mut c) = (0.0, 0u64);
    for v in it {
        if !v.is_nan() {
            s += v;
            c += 1;
        }
    }
    if c == 0 { f64::NAN } else { s / c as f64 }
}

/// What a persona is written from.
pub struct PersonaFacts {
    /// Segment mean value ÷ population mean value.
    pub value_ratio: f64,
    pub seg_value_mean: f64,
    /// Median recency in days.
    pub recency: f64,
    pub churn: f64,
    pub pop_churn: f64,
    /// Most common value and its share.
    pub age_group: Option<(String, f64)>,
    pub asset_tier: Option<(String, f64)>,
}

pub struct Persona {
    pub name: String,
    pub name_zh: String,
    pub action: String,
    pub persona: String,
    pub persona_zh: String,
}

fn tier_zh(t: &str) -> &str {
    match t {
        "diamond" => "钻石",
        "platinum" => "白金",
        "gold" => "金卡",
        "silver" => "银卡",
        "ordinary" => "普通",
        other => other,
    }
}

fn feature_zh(f: &str) -> &str {
    match f {
        "recency_days" => "距上次交易天数",
        "frequency" => "交易频次",
        "monetary" => "消费金额",
        "adb_year" => "年日均资产",
        "adb_month" => "月日均资产",
        "product_types" => "持有产品种类",
        "tenure_months" => "客龄",
        "clv" => "客户终身价值",
        "churn_probability" => "流失概率",
        "age" => "年龄",
        "financial_assets" => "金融资产",
        "profit" => "利润贡献",
        other => other,
    }
}

/// Names a segment and suggests what to do with it, from its value, activity and churn risk.
///
/// - value: high when the segment's mean value is at least 1.5× the population's, low at
///   0.5× or below (or when it is not positive);
/// - reactivate (唤醒) when the median recency is beyond 180 days; retain (挽留) a high- or
///   mid-value segment whose churn probability is at least 0.3 or 1.5× the population's;
///   maintain (维护) a high-value one otherwise; develop (发展) the rest.
pub fn persona(f: &PersonaFacts, standouts: &[Standout]) -> Persona {
    let (level, level_zh) = if f.seg_value_mean <= 0.0 || f.value_ratio <= 0.5 {
        ("low_value", "低价值")
    } else if f.value_ratio >= 1.5 {
        ("high_value", "高价值")
    } else {
        ("mid_value", "中价值")
    };
    let churn_prone = !f.churn.is_nan()
        && (f.churn >= 0.3
            || (!f.pop_churn.is_nan() && f.churn >= 1.5 * f.pop_churn && f.churn >= 0.1));
    let dormant = !f.recency.is_nan() && f.recency > 180.0;
    let (state, state_zh, action) = if dormant {
        ("dormant", "沉睡", "reactivate")
    } else if churn_prone && level != "low_value" {
        ("churn_prone", "易流失", "retain")
    } else if level == "high_value" {
        ("stable", "稳定", "maintain")
    } else if churn_prone {
        ("churn_prone", "易流失", "develop")
    } else {
        ("active", "活跃", "develop")
    };
    let action_zh = match action {
        "reactivate" => "唤醒",
        "retain" => "挽留",
        "maintain" => "维护",
        _ => "发展",
    };
    let name = format!("{level}_{state}");
    let name_zh = format!("{level_zh}{state_zh}");
    let mut en = Vec::new();
    let mut zh = Vec::new();
    if let Some((g, share)) = &f.age_group
        && *share >= 0.3
    {
        en.push(format!("mostly aged {g} ({:.0}%)", share * 100.0));
        zh.push(format!("{g}岁为主 ({:.0}%)", share * 100.0));
    }
    if let Some((t, share)) = &f.asset_tier
        && *share >= 0.4
    {
        en.push(format!("asset tier {t} ({:.0}%)", share * 100.0));
        zh.push(format!("资产{} ({:.0}%)", tier_zh(t), share * 100.0));
    }
    if !f.recency.is_nan() {
        if f.recency > 90.0 {
            en.push(format!("no transaction for a median {:.0} days", f.recency));
            zh.push(format!("近{:.0}天未交易", f.recency));
        } else {
            en.push(format!(
                "last transaction a median {:.0} days ago",
                f.recency
            ));
            zh.push(format!("中位{:.0}天前有交易", f.recency));
        }
    }
    if !f.churn.is_nan() {
        en.push(format!("churn probability {:.0}%", f.churn * 100.0));
        zh.push(format!("流失概率{:.0}%", f.churn * 100.0));
    }
    for s in standouts.iter().filter(|s| s.smd.abs() >= 0.5).take(2) {
        let dir = if s.smd > 0.0 { "above" } else { "below" };
        let dir_zh = if s.smd > 0.0 { "高于" } else { "低于" };
        en.push(format!("{} {dir} average ({:+.1} sd)", s.feature, s.smd));
        zh.push(format!(
            "{}{dir_zh}平均 ({:+.1}σ)",
            feature_zh(&s.feature),
            s.smd
        ));
    }
    let pretty = name.replace('_', " ");
    Persona {
        persona: format!("{pretty}: {}. Suggested action: {action}.", en.join(", ")),
        persona_zh: format!("{name_zh}: {}。建议: {action_zh}。", zh.join(", ")),
        name,
        name_zh,
        action: action.to_string(),
    }
}

#[allow(clippy::too_many_arguments)]
fn write(
    store: &Store,
    name: &str,
    cfg: &ModelConfig,
    party_ids: &[String],
    segments: &[u32],
    distances: &[f64],
    profiles: &[Profile],
    report: &serde_json::Value,
) -> Result<u32> {
    // A table's rows of the other models.
    let keep = |table: &str| -> Result<Vec<RecordBatch>> {
        if store.table(table).is_none() {
            return Ok(Vec::new());
        }
        let mut out = Vec::new();
        for b in crate::tags::read_parquet(store, table, None)? {
            let models = crate::utf8(
                b.column_by_name("model")
                    .ok_or_else(|| EngineError::Internal("model".into()))?,
            )?;
            let mask: arrow::array::BooleanArray = models
                .as_string::<i32>()
                .iter()
                .map(|m| Some(m != Some(name)))
                .collect();
            out.push(arrow::compute::filter_record_batch(&b, &mask)?);
        }
        Ok(out)
    };
    let all_models = if store.table(SEGMENT_MODEL).is_some() {
        crate::tags::read_parquet(store, SEGMENT_MODEL, None)?
    } else {
        Vec::new()
    };
    let mut version = 0u32;
    for b in &all_models {
        let m = crate::utf8(b.column(0))?;
        let vs = arrow::compute::cast(b.column(1), &DataType::UInt32)?;
        let vs = vs.as_primitive::<arrow::datatypes::UInt32Type>();
        for i in 0..b.num_rows() {
            if m.as_string::<i32>().value(i) == name {
                version = version.max(vs.value(i));
            }
        }
    }
    let version = version + 1;
    let mut txn = store.begin()?;

    // segment
    let seg_schema = Arc::new(Schema::new(vec![
        Field::new("model", DataType::Utf8, false),
        Field::new("party_id", DataType::Utf8, false),
        Field::new("segment", DataType::UInt32, false),
        Field::new("distance", DataType::Float64, false),
    ]));
    let mut seg_batches = keep(SEGMENT)?;
    seg_batches.push(RecordBatch::try_new(
        seg_schema.clone(),
        vec![
            Arc::new(StringArray::from_iter_values(std::iter::repeat_n(
                name,
                party_ids.len(),
            ))),
            Arc::new(StringArray::from_iter_values(party_ids.iter())),
            Arc::new(UInt32Array::from(segments.to_vec())),
            Arc::new(Float64Array::from(distances.to_vec())),
        ],
    )?);
    let seg_batches = cast_all(seg_batches, &seg_schema)?;
    crate::output::stage_batches(
        &mut txn,
        SEGMENT,
        seg_schema,
        &seg_batches,
        format!("segment model {name} v{version}"),
    )?;

    // segment_profile
    let prof_schema = Arc::new(Schema::new(vec![
        Field::new("model", DataType::Utf8, false),
        Field::new("version", DataType::UInt32, false),
        Field::new("segment", DataType::UInt32, false),
        Field::new("size", DataType::UInt64, false),
        Field::new("share", DataType::Float64, false),
        Field::new("value_share", DataType::Float64, false),
        Field::new("name", DataType::Utf8, false),
        Field::new("name_zh", DataType::Utf8, false),
        Field::new("action", DataType::Utf8, false),
        Field::new("persona", DataType::Utf8, false),
        Field::new("persona_zh", DataType::Utf8, false),
        Field::new("features", DataType::Utf8, false),
        Field::new("tags", DataType::Utf8, false),
    ]));
    let s = |f: fn(&Profile) -> String| -> ArrayRef {
        Arc::new(StringArray::from_iter_values(profiles.iter().map(f)))
    };
    let mut prof_batches = keep(SEGMENT_PROFILE)?;
    prof_batches.push(RecordBatch::try_new(
        prof_schema.clone(),
        vec![
            Arc::new(StringArray::from_iter_values(std::iter::repeat_n(
                name,
                profiles.len(),
            ))),
            Arc::new(UInt32Array::from(vec![version; profiles.len()])),
            Arc::new(UInt32Array::from_iter_values(
                profiles.iter().map(|p| p.segment),
            )),
            Arc::new(UInt64Array::from_iter_values(
                profiles.iter().map(|p| p.size),
            )),
            Arc::new(Float64Array::from_iter_values(
                profiles.iter().map(|p| p.share),
            )),
            Arc::new(Float64Array::from_iter_values(
                profiles.iter().map(|p| p.value_share),
            )),
            s(|p| p.name.clone()),
            s(|p| p.name_zh.clone()),
            s(|p| p.action.clone()),
            s(|p| p.persona.clone()),
            s(|p| p.persona_zh.clone()),
            s(|p| serde_json::to_string(&p.features).unwrap_or_default()),
            s(|p| serde_json::to_string(&p.tags).unwrap_or_default()),
        ],
    )?);
    let prof_batches = cast_all(prof_batches, &prof_schema)?;
    crate::output::stage_batches(
        &mut txn,
        SEGMENT_PROFILE,
        prof_schema,
        &prof_batches,
        format!("segment model {name} v{version}"),
    )?;

    // segment_model: every version kept.
    let model_schema = Arc::new(Schema::new(vec![
        Field::new("model", DataType::Utf8, false),
        Field::new("version", DataType::UInt32, false),
        Field::new("created_at", DataType::Utf8, false),
        Field::new("method", DataType::Utf8, false),
        Field::new("k", DataType::UInt32, false),
        Field::new("parties", DataType::UInt64, false),
        Field::new("config", DataType::Utf8, false),
        Field::new("report", DataType::Utf8, false),
    ]));
    let mut all_models = all_models;
    all_models.push(RecordBatch::try_new(
        model_schema.clone(),
        vec![
            Arc::new(StringArray::from(vec![name])),
            Arc::new(UInt32Array::from(vec![version])),
            Arc::new(StringArray::from(vec![
                chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
            ])),
            Arc::new(StringArray::from(vec![cfg.method.clone()])),
            Arc::new(UInt32Array::from(vec![profiles.len() as u32])),
            Arc::new(UInt64Array::from(vec![party_ids.len() as u64])),
            Arc::new(StringArray::from(vec![
                serde_json::to_string(cfg).unwrap_or_default(),
            ])),
            Arc::new(StringArray::from(vec![report.to_string()])),
        ],
    )?);
    let all_models = cast_all(all_models, &model_schema)?;
    crate::output::stage_batches(
        &mut txn,
        SEGMENT_MODEL,
        model_schema,
        &all_models,
        format!("segment model {name} v{version}"),
    )?;
    txn.commit()?;
    Ok(version)
}

/// Batches read back from Parquet in the schema they are written with.
fn cast_all(batches: Vec<RecordBatch>, schema: &Arc<Schema>) -> Result<Vec<RecordBatch>> {
    batches
        .into_iter()
        .filter(|b| b.num_rows() > 0)
        .map(|b| {
            let cols: Vec<ArrayRef> = schema
                .fields()
                .iter()
                .zip(b.columns())
                .map(|(f, c)| arrow::compute::cast(c, f.data_type()))
                .collect::<std::result::Result<_, _>>()?;
            Ok(RecordBatch::try_new(schema.clone(), cols)?)
        })
        .collect()
}

/// The `segment` stage: fits the segmentation model in force over the latest features.
pub struct SegmentStage;

impl crate::pipeline::Stage for SegmentStage {
    fn name(&self) -> &'static str {
        "segment"
    }
    fn requires(&self) -> crate::pipeline::Requirement {
        &[&[crate::features::TABLE]]
    }
    fn uses(&self) -> &'static [&'static str] {
        &[SEGMENT, SEGMENT_PROFILE, SEGMENT_MODEL]
    }
    fn writes(&self) -> &'static [&'static str] {
        &[SEGMENT, SEGMENT_PROFILE, SEGMENT_MODEL]
    }
    fn run<'a>(
        &'a self,
        store: &'a Store,
        settings: &'a crate::pipeline::Settings,
        progress: &'a dyn crate::pipeline::Progress,
    ) -> futures::future::BoxFuture<'a, Result<crate::pipeline::Step>> {
        Box::pin(async move {
            let Some(as_of) = crate::pipeline::features_date(store, settings).await? else {
                return Ok(crate::pipeline::no_features());
            };
            let o = run(
                store,
                &settings.segment_name(),
                &settings.segment_config(),
                as_of,
                progress,
            )
            .await?;
            Ok(crate::pipeline::Step::Ran(
                crate::pipeline::Report::Segment(o),
            ))
        })
    }
}
