//! 数据预处理 — preparing model inputs: missing-value fill, percentile capping, categorical
//! encoding, z-score and min-max scaling, and collinearity (correlation, VIF) with variable
//! selection.
//!
//! Every step is fitted once and returns its parameters (fill values, caps, means and scales,
//! categories), which serialise, so a model stores them and applies the same transform to new rows.

use serde::{Deserialize, Serialize};

use crate::{Matrix, MiningError, Result};

/// 缺失值填充方法 — how a column's missing values (NaN) are filled.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, Default)]
pub enum FillStrategy {
    /// 均值 — the mean of the present values.
    #[default]
    Mean,
    /// 中位数 — the median of the present values (the mean of the middle two for an even count).
    Median,
    /// 众数 — the most frequent present value (the smallest on a tie).
    Mode,
    /// 常数 — a given constant.
    Constant(f64),
}

impl std::str::FromStr for FillStrategy {
    type Err = MiningError;

    /// Parses `mean`, `median`, `mode` or `constant:V` (e.g. `constant:0`), ignoring case.
    fn from_str(s: &str) -> Result<Self> {
        let s = s.trim().to_ascii_lowercase();
        match s.as_str() {
            "mean" => Ok(FillStrategy::Mean),
            "median" => Ok(FillStrategy::Median),
            "mode" => Ok(FillStrategy::Mode),
            other => match other.strip_prefix("constant:").map(str::parse::<f64>) {
                Some(Ok(v)) if v.is_finite() => Ok(FillStrategy::Constant(v)),
                _ => Err(MiningError::param(
                    "fill",
                    "must be one of `mean`, `median`, `mode`, `constant:V`",
                )),
            },
        }
    }
}

/// 缺失值填充 — fitted fill values, one per column.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FillValues {
    /// The strategy of each column.
    pub strategies: Vec<FillStrategy>,
    /// The value that replaces NaN in each column.
    pub values: Vec<f64>,
}

impl FillValues {
    /// Fits one strategy to every column of `x`.
    ///
    /// # Errors
    /// [`MiningError::InsufficientData`] when a column other than a constant fill has no present
    /// value.
    pub fn fit(x: &Matrix, strategy: FillStrategy) -> Result<Self> {
        Self::fit_columns(x, &vec![strategy; x.n_cols()])
    }

    /// Fits a strategy per column.
    ///
    /// # Errors
    /// [`MiningError::ShapeMismatch`] unless there is one strategy per column; otherwise as
    /// [`FillValues::fit`].
    pub fn fit_columns(x: &Matrix, strategies: &[FillStrategy]) -> Result<Self> {
        if strategies.len() != x.n_cols() {
            return Err(MiningError::ShapeMismatch {
                what: "fill strategies (one per column)",
                expected: x.n_cols(),
                found: strategies.len(),
            });
        }
        let mut values = Vec::with_capacity(x.n_cols());
        for (j, strategy) in strategies.iter().enumerate() {
            if let FillStrategy::Constant(c) = strategy {
                values.push(*c);
                continue;
            }
            let mut present: Vec<f64> = x.column(j).into_iter().filter(|v| !v.is_nan()).collect();
            if present.is_empty() {
                return Err(MiningError::InsufficientData(format!(
                    "column {j} has no present value to compute a fill from"
                )));
            }
            present.sort_by(f64::total_cmp);
            values.push(match strategy {
                FillStrategy::Mean => present.iter().sum::<f64>() / present.len() as f64,
                FillStrategy::Median => percentile_sorted(&present, 0.5),
                FillStrategy::Mode => mode_sorted(&present),
                FillStrategy::Constant(c) => *c,
            });
        }
        Ok(FillValues {
            strategies: strategies.to_vec(),
            values,
        })
    }

    /// Replaces every NaN of `x` by its column's fill value; returns how many were filled.
    ///
    /// # Errors
    /// [`MiningError::ShapeMismatch`] when `x` has another number of columns.
    pub fn apply(&self, x: &mut Matrix) -> Result<usize> {
        check_cols(x, self.values.len())?;
        let d = self.values.len();
        let mut filled = 0;
        for row in x.data_mut().chunks_exact_mut(d.max(1)) {
            for (v, fill) in row.iter_mut().zip(&self.values) {
                if v.is_nan() {
                    *v = *fill;
                    filled += 1;
                }
            }
        }
        Ok(filled)
    }
}

fn check_cols(x: &Matrix, d: usize) -> Result<()> {
    if x.n_cols() != d {
        return Err(MiningError::ShapeMismatch {
            what: "columns",
            expected: d,
            found: x.n_cols(),
        });
    }
    Ok(())
}

/// The most frequent value of sorted data, the smallest on a tie.
fn mode_sorted(sorted: &[f64]) -> f64 {
    let mut best = (sorted[0], 0usize);
    let mut i = 0;
    while i < sorted.len() {
        let mut j = i;
        while j < sorted.len() && sorted[j] == sorted[i] {
            j += 1;
        }
        if j - i > best.1 {
            best = (sorted[i], j - i);
        }
        i = j;
    }
    best.0
}

/// The q-quantile (q in [0, 1]) of sorted data by linear interpolation between order statistics
/// (numpy's default, "linear" / Hyndman–Fan type 7).
fn percentile_sorted(sorted: &[f64], q: f64) -> f64 {
    let pos = q * (sorted.len() - 1) as f64;
    let lo = pos.floor() as usize;
    let hi = pos.ceil() as usize;
    sorted[lo] + (sorted[hi] - sorted[lo]) * (pos - lo as f64)
}

/// 分位数 — the q-quantile (q in [0, 1]) of the present (non-NaN) values, interpolated as numpy's
/// default; NaN when no value is present.
pub fn percentile(values: &[f64], q: f64) -> f64 {
    let mut present: Vec<f64> = values.iter().copied().filter(|v| !v.is_nan()).collect();
    if present.is_empty() {
        return f64::NAN;
    }
    present.sort_by(f64::total_cmp);
    percentile_sorted(&present, q.clamp(0.0, 1.0))
}

/// 盖帽法 — parameters of percentile capping (winsorising), unchecked: values below the `lower`
/// quantile or above the `upper` quantile of their column are set to that quantile.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct CappingParams {
    /// Lower quantile, in [0, 1) (default 0.01).
    pub lower: f64,
    /// Upper quantile, in (0, 1] and above `lower` (default 0.99).
    pub upper: f64,
}

impl Default for CappingParams {
    fn default() -> Self {
        CappingParams {
            lower: 0.01,
            upper: 0.99,
        }
    }
}

impl CappingParams {
    /// Capping at the `lower` and `upper` quantiles, e.g. `(0.05, 0.95)`.
    pub fn new(lower: f64, upper: f64) -> Self {
        CappingParams { lower, upper }
    }

    /// Checks the quantiles.
    ///
    /// # Errors
    /// [`MiningError::InvalidParameter`], e.g. "lower must be in [0, 1)".
    pub fn validate(&self) -> Result<CappingValidParams> {
        if !(0.0..1.0).contains(&self.lower) {
            return Err(MiningError::param("lower", "must be in [0, 1)"));
        }
        if !(self.upper > 0.0 && self.upper <= 1.0) {
            return Err(MiningError::param("upper", "must be in (0, 1]"));
        }
        if self.upper <= self.lower {
            return Err(MiningError::param("upper", "must be greater than lower"));
        }
        Ok(CappingValidParams(*self))
    }

    /// Validates and fits in one step.
    ///
    /// # Errors
    /// As [`CappingParams::validate`].
    pub fn fit(&self, x: &Matrix) -> Result<Caps> {
        Ok(self.validate()?.fit(x))
    }
}

/// Checked capping parameters.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CappingValidParams(CappingParams);

impl CappingValidParams {
    /// The caps of every column of `x` (NaN for a column without present values, which then
    /// stays uncapped).
    pub fn fit(&self, x: &Matrix) -> Caps {
        let (mut lower, mut upper) = (Vec::new(), Vec::new());
        for j in 0..x.n_cols() {
            let col = x.column(j);
            lower.push(percentile(&col, self.0.lower));
            upper.push(percentile(&col, self.0.upper));
        }
        Caps { lower, upper }
    }
}

/// 盖帽值 — fitted caps, one pair per column.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Caps {
    /// Lowest value kept in each column.
    pub lower: Vec<f64>,
    /// Highest value kept in each column.
    pub upper: Vec<f64>,
}

impl Caps {
    /// Clamps every present value of `x` into its column's caps; returns how many changed.
    ///
    /// # Errors
    /// [`MiningError::ShapeMismatch`] when `x` has another number of columns.
    pub fn apply(&self, x: &mut Matrix) -> Result<usize> {
        let d = self.lower.len();
        check_cols(x, d)?;
        let mut capped = 0;
        for row in x.data_mut().chunks_exact_mut(d.max(1)) {
            for ((v, lo), hi) in row.iter_mut().zip(&self.lower).zip(&self.upper) {
                if *v < *lo {
                    *v = *lo;
                    capped += 1;
                } else if *v > *hi {
                    *v = *hi;
                    capped += 1;
                }
            }
        }
        Ok(capped)
    }
}

/// 序数编码 — ordinal encoding of a categorical column: category i becomes the number i.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrdinalEncoder {
    /// The categories in code order.
    pub categories: Vec<String>,
}

impl OrdinalEncoder {
    /// The distinct values of `values`, sorted (byte order), as the categories.
    pub fn fit<S: AsRef<str>>(values: &[S]) -> Self {
        OrdinalEncoder {
            categories: distinct_sorted(values),
        }
    }

    /// An encoder with the given order, e.g. risk levels `["R1", "R2", "R3"]`.
    pub fn with_categories(categories: Vec<String>) -> Self {
        OrdinalEncoder { categories }
    }

    /// The code of each value; NaN for a value not among the categories.
    pub fn transform<S: AsRef<str>>(&self, values: &[S]) -> Vec<f64> {
        values
            .iter()
            .map(|v| {
                self.categories
                    .iter()
                    .position(|c| c == v.as_ref())
                    .map_or(f64::NAN, |i| i as f64)
            })
            .collect()
    }
}

/// 独热编码 — one-hot encoding of a categorical column: one 0/1 column per category.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OneHotEncoder {
    /// The categories in column order.
    pub categories: Vec<String>,
}

impl OneHotEncoder {
    /// The distinct values of `values`, sorted (byte order), as the categories.
    pub fn fit<S: AsRef<str>>(values: &[S]) -> Self {
        OneHotEncoder {
            categories: distinct_sorted(values),
        }
    }

    /// n × categories matrix of 0/1; a value not among the categories gets a row of zeros.
    pub fn transform<S: AsRef<str>>(&self, values: &[S]) -> Matrix {
        let m = self.categories.len();
        let mut out = Matrix::zeros(values.len(), m);
        for (i, v) in values.iter().enumerate() {
            if let Some(j) = self.categories.iter().position(|c| c == v.as_ref()) {
                out.set(i, j, 1.0);
            }
        }
        out
    }

    /// Names of the output columns: `{prefix}={category}`.
    pub fn column_names(&self, prefix: &str) -> Vec<String> {
        self.categories
            .iter()
            .map(|c| format!("{prefix}={c}"))
            .collect()
    }
}

fn distinct_sorted<S: AsRef<str>>(values: &[S]) -> Vec<String> {
    let mut cats: Vec<String> = values.iter().map(|v| v.as_ref().to_string()).collect();
    cats.sort_unstable();
    cats.dedup();
    cats
}

/// 标准化方法 — how a column is scaled.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
pub enum Scaling {
    /// Z-score 标准化 — (x − mean) / standard deviation (population, ddof 0, as scikit-learn's
    /// `StandardScaler`).
    #[default]
    ZScore,
    /// 极差标准化 — (x − min) / (max − min), into [0, 1].
    MinMax,
}

impl std::str::FromStr for Scaling {
    type Err = MiningError;

    /// Parses `zscore` and `minmax`, ignoring case.
    fn from_str(s: &str) -> Result<Self> {
        match s.trim().to_ascii_lowercase().as_str() {
            "zscore" | "z-score" => Ok(Scaling::ZScore),
            "minmax" | "min-max" => Ok(Scaling::MinMax),
            _ => Err(MiningError::param(
                "scaling",
                "must be `zscore` or `minmax`",
            )),
        }
    }
}

/// 标准化参数 — a fitted scaler: x′ = (x − offset) / scale per column. A constant column gets
/// scale 1, so it becomes 0 rather than NaN.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Scaler {
    /// The method fitted.
    pub method: Scaling,
    /// Subtracted from each column (mean or minimum).
    pub offset: Vec<f64>,
    /// Divides each column (standard deviation or range).
    pub scale: Vec<f64>,
}

impl Scaler {
    /// Fits `method` to the present values of each column of `x`.
    ///
    /// # Errors
    /// [`MiningError::InsufficientData`] when a column has no present value.
    pub fn fit(x: &Matrix, method: Scaling) -> Result<Self> {
        let (mut offset, mut scale) = (Vec::new(), Vec::new());
        for j in 0..x.n_cols() {
            let col: Vec<f64> = x.column(j).into_iter().filter(|v| !v.is_nan()).collect();
            if col.is_empty() {
                return Err(MiningError::InsufficientData(format!(
                    "column {j} has no present value to scale by"
                )));
            }
            let (o, s) = match method {
                Scaling::ZScore => {
                    let n = col.len() as f64;
                    let mean = col.iter().sum::<f64>() / n;
                    let var = col.iter().map(|v| (v - mean) * (v - mean)).sum::<f64>() / n;
                    (mean, var.sqrt())
                }
                Scaling::MinMax => {
                    let lo = col.iter().copied().fold(f64::INFINITY, f64::min);
                    let hi = col.iter().copied().fold(f64::NEG_INFINITY, f64::max);
                    (lo, hi - lo)
                }
            };
            offset.push(o);
            scale.push(if s > 0.0 && s.is_finite() { s } else { 1.0 });
        }
        Ok(Scaler {
            method,
            offset,
            scale,
        })
    }

    /// Scales `x` in place (NaN stays NaN).
    ///
    /// # Errors
    /// [`MiningError::ShapeMismatch`] when `x` has another number of columns.
    pub fn apply(&self, x: &mut Matrix) -> Result<()> {
        let d = self.offset.len();
        check_cols(x, d)?;
        for row in x.data_mut().chunks_exact_mut(d.max(1)) {
            for ((v, o), s) in row.iter_mut().zip(&self.offset).zip(&self.scale) {
                *v = (*v - o) / s;
            }
        }
        Ok(())
    }

    /// Undoes [`Scaler::apply`] in place, e.g. to report centroids in the input's units.
    ///
    /// # Errors
    /// [`MiningError::ShapeMismatch`] when `x` has another number of columns.
    pub fn invert(&self, x: &mut Matrix) -> Result<()> {
        let d = self.offset.len();
        check_cols(x, d)?;
        for row in x.data_mut().chunks_exact_mut(d.max(1)) {
            for ((v, o), s) in row.iter_mut().zip(&self.offset).zip(&self.scale) {
                *v = *v * s + o;
            }
        }
        Ok(())
    }
}

/// 相关系数矩阵 — the Pearson correlation matrix of the columns of `x` (d × d); NaN in the row
/// and column of a constant column, its diagonal included.
///
/// # Errors
/// [`MiningError::InvalidInput`] on a missing or infinite value (fill first).
pub fn correlation_matrix(x: &Matrix) -> Result<Matrix> {
    x.check_finite()?;
    let (n, d) = (x.n_rows(), x.n_cols());
    let means: Vec<f64> = (0..d)
        .map(|j| x.rows().map(|r| r[j]).sum::<f64>() / n.max(1) as f64)
        .collect();
    let mut cov = vec![0.0; d * d];
    for row in x.rows() {
        for a in 0..d {
            let da = row[a] - means[a];
            for b in a..d {
                cov[a * d + b] += da * (row[b] - means[b]);
            }
        }
    }
    let mut corr = Matrix::zeros(d, d);
    for a in 0..d {
        for b in a..d {
            let denom = (cov[a * d + a] * cov[b * d + b]).sqrt();
            let r = if denom > 0.0 && a == b {
                1.0
            } else if denom > 0.0 {
                (cov[a * d + b] / denom).clamp(-1.0, 1.0)
            } else {
                f64::NAN
            };
            corr.set(a, b, r);
            corr.set(b, a, r);
        }
    }
    Ok(corr)
}

/// 方差膨胀因子 — the variance inflation factor of every column: 1 / (1 − R²ⱼ), with R²ⱼ from
/// regressing column j on all the others (with intercept). Infinite for a column that the others
/// determine exactly, and for a constant column.
///
/// # Errors
/// As [`correlation_matrix`].
pub fn vif(x: &Matrix) -> Result<Vec<f64>> {
    let corr = correlation_matrix(x)?;
    Ok(vif_from_correlation(&corr))
}

/// VIFs from a correlation matrix by the sweep operator: sweeping every other column leaves
/// 1 − R²ⱼ at (j, j). A column whose remaining variance is nil is skipped as a pivot, which
/// keeps the regression defined when some of the others are themselves collinear.
fn vif_from_correlation(corr: &Matrix) -> Vec<f64> {
    let d = corr.n_cols();
    let constant: Vec<bool> = (0..d).map(|j| corr.get(j, j).is_nan()).collect();
    (0..d)
        .map(|j| {
            if constant[j] {
                return f64::INFINITY;
            }
            let mut a = corr.data().to_vec();
            for p in (0..d).filter(|&p| p != j && !constant[p]) {
                let pivot = a[p * d + p];
                if pivot < 1e-10 {
                    continue;
                }
                sweep(&mut a, d, p, &constant);
            }
            let residual = a[j * d + j];
            if residual <= 1e-10 {
                f64::INFINITY
            } else {
                1.0 / residual
            }
        })
        .collect()
}

fn sweep(a: &mut [f64], d: usize, p: usize, skip: &[bool]) {
    let pivot = a[p * d + p];
    let col: Vec<f64> = (0..d).map(|i| a[i * d + p]).collect();
    for i in (0..d).filter(|&i| i != p && !skip[i]) {
        for l in (0..d).filter(|&l| l != p && !skip[l]) {
            a[i * d + l] -= col[i] * col[l] / pivot;
        }
    }
    for i in (0..d).filter(|&i| i != p) {
        a[i * d + p] /= pivot;
        a[p * d + i] /= pivot;
    }
    a[p * d + p] = -1.0 / pivot;
}

/// An input dropped by [`select_by_vif`], and why.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DroppedInput {
    /// Index of the column in the input matrix.
    pub column: usize,
    /// Its VIF when it was dropped (infinite for a constant or exactly determined column).
    pub vif: f64,
    /// Why, in words, e.g. "VIF 23.41 above 10".
    pub reason: String,
}

/// 变量筛选 — the outcome of [`select_by_vif`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct VifSelection {
    /// Columns kept, ascending.
    pub kept: Vec<usize>,
    /// Columns dropped, in the order they were dropped.
    pub dropped: Vec<DroppedInput>,
    /// VIF of each kept column among the kept ones.
    pub vif: Vec<f64>,
    /// The correlation matrix of all the input columns, for the report.
    pub correlation: Matrix,
}

/// 共线性筛选 — drops collinear inputs greedily: while the largest VIF among the kept columns
/// exceeds `threshold`, drop that column (the lowest index on a tie) and recompute.
///
/// # Errors
/// [`MiningError::InvalidParameter`] unless `threshold` is finite and ≥ 1 (no VIF is below 1);
/// otherwise as [`correlation_matrix`].
pub fn select_by_vif(x: &Matrix, threshold: f64) -> Result<VifSelection> {
    if !(threshold.is_finite() && threshold >= 1.0) {
        return Err(MiningError::param("threshold", "must be finite and >= 1"));
    }
    let correlation = correlation_matrix(x)?;
    let mut kept: Vec<usize> = (0..x.n_cols()).collect();
    let mut dropped = Vec::new();
    loop {
        let sub = sub_matrix(&correlation, &kept);
        let vifs = if kept.len() == 1 {
            // Alone, a column has VIF 1 unless it is constant.
            vec![if sub.get(0, 0).is_nan() {
                f64::INFINITY
            } else {
                1.0
            }]
        } else {
            vif_from_correlation(&sub)
        };
        let mut worst = 0;
        for (i, v) in vifs.iter().enumerate() {
            if *v > vifs[worst] {
                worst = i;
            }
        }
        if kept.is_empty() || vifs[worst] <= threshold {
            return Ok(VifSelection {
                kept,
                dropped,
                vif: vifs,
                correlation,
            });
        }
        let column = kept.remove(worst);
        let reason = if correlation.get(column, column).is_nan() {
            "constant column (zero variance)".to_string()
        } else if vifs[worst].is_infinite() {
            format!("exactly determined by the other inputs (VIF infinite, above {threshold})")
        } else {
            format!("VIF {:.2} above {threshold}", vifs[worst])
        };
        dropped.push(DroppedInput {
            column,
            vif: vifs[worst],
            reason,
        });
    }
}

fn sub_matrix(m: &Matrix, idx: &[usize]) -> Matrix {
    let mut out = Matrix::zeros(idx.len(), idx.len());
    for (a, &i) in idx.iter().enumerate() {
        for (b, &j) in idx.iter().enumerate() {
            out.set(a, b, m.get(i, j));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_interpolate_like_numpy() {
        // numpy.percentile([1, 2, 3, 4], 25) = 1.75; 99 → 3.97
        let v = [4.0, 1.0, f64::NAN, 3.0, 2.0];
        assert!((percentile(&v, 0.25) - 1.75).abs() < 1e-12);
        assert!((percentile(&v, 0.99) - 3.97).abs() < 1e-12);
        assert!(percentile(&[f64::NAN], 0.5).is_nan());
    }

    #[test]
    fn names_parse() {
        assert_eq!(
            "median".parse::<FillStrategy>().unwrap(),
            FillStrategy::Median
        );
        assert_eq!(
            "constant:-1".parse::<FillStrategy>().unwrap(),
            FillStrategy::Constant(-1.0)
        );
        assert!("zero".parse::<FillStrategy>().is_err());
        assert_eq!("MinMax".parse::<Scaling>().unwrap(), Scaling::MinMax);
    }

    #[test]
    fn capping_messages() {
        assert_eq!(
            CappingParams::new(0.5, 0.4)
                .validate()
                .unwrap_err()
                .to_string(),
            "upper must be greater than lower"
        );
        assert_eq!(
            CappingParams::new(-0.1, 0.9)
                .validate()
                .unwrap_err()
                .to_string(),
            "lower must be in [0, 1)"
        );
    }
}
