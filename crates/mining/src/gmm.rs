//! 高斯混合模型 — Gaussian mixture models fitted by expectation–maximisation, with diagonal or
//! full covariance matrices, k-means initialisation, a ridge on the covariances (`reg_covar`),
//! and the log-likelihood and BIC of the fit.
//!
//! Rows are processed in fixed chunks on rayon's threads and the per-chunk sums added in chunk
//! order, so a fit is the same on any number of threads.

use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use crate::kmeans::{CHUNK, check_points, check_width};
use crate::{Deadline, KMeansParams, Matrix, MiningError, Result};

const LN_2PI: f64 = 1.837_877_066_409_345_3;

/// 协方差类型 — the form of each component's covariance matrix.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
pub enum CovarianceType {
    /// 对角协方差 — independent inputs within a component: d variances per component.
    Diagonal,
    /// 完全协方差 — any covariance: a d × d matrix per component.
    #[default]
    Full,
}

impl std::str::FromStr for CovarianceType {
    type Err = MiningError;

    /// Parses `diag` (or `diagonal`) and `full`, ignoring case.
    fn from_str(s: &str) -> Result<Self> {
        match s.trim().to_ascii_lowercase().as_str() {
            "diag" | "diagonal" => Ok(CovarianceType::Diagonal),
            "full" => Ok(CovarianceType::Full),
            _ => Err(MiningError::param("covariance", "must be `diag` or `full`")),
        }
    }
}

/// 参数 — the parameters of a Gaussian mixture fit, unchecked.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GmmParams {
    /// Number of components.
    pub k: usize,
    /// Covariance form (default full).
    pub covariance: CovarianceType,
    /// EM iterations per initialisation at most (default 100).
    pub max_iter: usize,
    /// Stop when the mean log-likelihood per row gains less than this (default 1e-3, as
    /// scikit-learn).
    pub tol: f64,
    /// Added to the covariance diagonals to keep them positive definite (default 1e-6).
    pub reg_covar: f64,
    /// Initialisations (each from its own k-means); the highest likelihood wins (default 1).
    pub n_init: usize,
    /// Seed of the k-means initialisations (default 0).
    pub seed: u64,
    /// Wall-clock budget of the whole fit in seconds (default none). When it runs out EM
    /// stops, later initialisations are not tried, and [`Gmm::timed_out`] is set.
    #[serde(default)]
    pub max_seconds: Option<f64>,
}

impl GmmParams {
    /// The defaults with `k` components.
    pub fn new(k: usize) -> Self {
        GmmParams {
            k,
            covariance: CovarianceType::Full,
            max_iter: 100,
            tol: 1e-3,
            reg_covar: 1e-6,
            n_init: 1,
            seed: 0,
            max_seconds: None,
        }
    }

    /// Sets the covariance form.
    pub fn covariance(mut self, covariance: CovarianceType) -> Self {
        self.covariance = covariance;
        self
    }

    /// Sets the seed.
    pub fn seed(mut self, seed: u64) -> Self {
        self.seed = seed;
        self
    }

    /// Sets the number of initialisations.
    pub fn n_init(mut self, n_init: usize) -> Self {
        self.n_init = n_init;
        self
    }

    /// Sets the time budget in seconds.
    pub fn max_seconds(mut self, max_seconds: Option<f64>) -> Self {
        self.max_seconds = max_seconds;
        self
    }

    /// Checks the parameters.
    ///
    /// # Errors
    /// [`MiningError::InvalidParameter`], e.g. "k cannot be 0", "reg_covar must be finite and
    /// >= 0".
    pub fn validate(&self) -> Result<GmmValidParams> {
        for (name, v) in [
            ("k", self.k),
            ("max_iter", self.max_iter),
            ("n_init", self.n_init),
        ] {
            if v == 0 {
                return Err(MiningError::param(name, "cannot be 0"));
            }
        }
        if !(self.tol.is_finite() && self.tol >= 0.0) {
            return Err(MiningError::param("tol", "must be finite and >= 0"));
        }
        if !(self.reg_covar.is_finite() && self.reg_covar >= 0.0) {
            return Err(MiningError::param("reg_covar", "must be finite and >= 0"));
        }
        crate::check_seconds(self.max_seconds)?;
        Ok(GmmValidParams(self.clone()))
    }

    /// Validates and fits in one step.
    ///
    /// # Errors
    /// As [`GmmParams::validate`] and [`GmmValidParams::fit`].
    pub fn fit(&self, x: &Matrix) -> Result<Gmm> {
        self.validate()?.fit(x)
    }
}

/// Checked Gaussian mixture parameters.
#[derive(Debug, Clone, PartialEq)]
pub struct GmmValidParams(GmmParams);

/// 高斯混合 — a fitted Gaussian mixture.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Gmm {
    /// Covariance form.
    pub covariance_type: CovarianceType,
    /// Mixing weight of each component; they sum to 1.
    pub weights: Vec<f64>,
    /// Component means, k × d.
    pub means: Matrix,
    /// Covariances: k × d variances (diagonal) or k × d × d matrices (full), row-major.
    pub covariances: Vec<f64>,
    /// Inverse of the lower Cholesky factor of each full covariance (k × d × d, lower
    /// triangular), or the reciprocal standard deviations (k × d) for diagonal ones.
    precision_chol: Vec<f64>,
    /// log wₖ − ½ d ln 2π − ½ ln |Σₖ| of each component.
    log_norm: Vec<f64>,
    /// Σ log p(x) over the training rows at the fitted parameters.
    pub log_likelihood: f64,
    /// Bayesian information criterion: −2 log L + p ln n (lower is better).
    pub bic: f64,
    /// Free parameters p.
    pub n_parameters: usize,
    /// EM iterations of the winning initialisation.
    pub n_iter: usize,
    /// Whether it met the tolerance within `max_iter`.
    pub converged: bool,
    /// Whether the time budget (`max_seconds`) ended the fit early.
    #[serde(default)]
    pub timed_out: bool,
    /// Components that collapsed onto less than one row's weight: the fit ran into the
    /// boundary of the parameter space (a weight of 0, a covariance at `reg_covar`), and a
    /// smaller k describes the data as well.
    #[serde(default)]
    pub collapsed: usize,
    /// Most likely component of every training row.
    pub labels: Vec<usize>,
}

impl GmmValidParams {
    /// Fits the mixture to the rows of `x`.
    ///
    /// # Errors
    /// [`MiningError::InvalidInput`] on a NaN or infinite value,
    /// [`MiningError::InsufficientData`] with fewer rows than components or when a covariance is
    /// not positive definite even with `reg_covar` (raise it).
    pub fn fit(&self, x: &Matrix) -> Result<Gmm> {
        let p = &self.0;
        check_points(x, p.k)?;
        let (n, d, k) = (x.n_rows(), x.n_cols(), p.k);
        let mut best: Option<Gmm> = None;
        let deadline = Deadline::after(p.max_seconds);
        let mut timed_out = false;
        for init in 0..p.n_init {
            if init > 0 && deadline.passed() {
                timed_out = true;
                break;
            }
            let km = KMeansParams::new(k)
                .n_init(1)
                .seed(p.seed.wrapping_add(init as u64))
                .fit(x)?;
            let mut resp = vec![0.0; n * k];
            for (i, &l) in km.labels.iter().enumerate() {
                resp[i * k + l] = 1.0;
            }
            let mut model = m_step(x, &resp, k, p.covariance, p.reg_covar)?;
            let mut lower = f64::NEG_INFINITY;
            let mut converged = false;
            let mut n_iter = 0;
            for iter in 1..=p.max_iter {
                n_iter = iter;
                let prev = lower;
                lower = e_step(&model, x, &mut resp) / n as f64;
                model = m_step(x, &resp, k, p.covariance, p.reg_covar)?;
                if (lower - prev).abs() < p.tol {
                    converged = true;
                    break;
                }
                if deadline.passed() {
                    timed_out = true;
                    break;
                }
            }
            let total = e_step(&model, x, &mut resp);
            model.log_likelihood = total;
            model.n_iter = n_iter;
            model.converged = converged;
            model.collapsed = model
                .weights
                .iter()
                .filter(|w| **w * (n as f64) < 1.0)
                .count();
            model.labels = argmax_rows(&resp, k);
            let cov_params = match p.covariance {
                CovarianceType::Diagonal => k * d,
                CovarianceType::Full => k * d * (d + 1) / 2,
            };
            model.n_parameters = k - 1 + k * d + cov_params;
            model.bic = -2.0 * total + model.n_parameters as f64 * (n as f64).ln();
            if best
                .as_ref()
                .is_none_or(|b| model.log_likelihood > b.log_likelihood)
            {
                best = Some(model);
            }
        }
        let mut best = best.ok_or_else(|| MiningError::Internal("no initialisation ran".into()))?;
        best.timed_out = timed_out;
        Ok(best)
    }
}

fn argmax_rows(resp: &[f64], k: usize) -> Vec<usize> {
    resp.chunks_exact(k)
        .map(|r| {
            let mut best = 0;
            for c in 1..k {
                if r[c] > r[best] {
                    best = c;
                }
            }
            best
        })
        .collect()
}

/// In-place lower Cholesky factor of a d × d row-major matrix; false when not positive definite.
fn cholesky(a: &mut [f64], d: usize) -> bool {
    for j in 0..d {
        let mut s = a[j * d + j];
        for l in 0..j {
            s -= a[j * d + l] * a[j * d + l];
        }
        if s <= 0.0 || !s.is_finite() {
            return false;
        }
        let ljj = s.sqrt();
        a[j * d + j] = ljj;
        for i in j + 1..d {
            let mut s = a[i * d + j];
            for l in 0..j {
                s -= a[i * d + l] * a[j * d + l];
            }
            a[i * d + j] = s / ljj;
        }
        for l in j + 1..d {
            a[j * d + l] = 0.0;
        }
    }
    true
}

/// M-step: weights, means and covariances from responsibilities.
fn m_step(x: &Matrix, resp: &[f64], k: usize, cov: CovarianceType, reg: f64) -> Result<Gmm> {
    let (n, d) = (x.n_rows(), x.n_cols());
    // Pass 1: Σ r and Σ r x per component, by chunk in order.
    let parts: Vec<Vec<f64>> = x
        .data()
        .par_chunks(CHUNK * d)
        .zip(resp.par_chunks(CHUNK * k))
        .map(|(rows, r)| {
            let mut acc = vec![0.0; k * (1 + d)];
            for (row, ri) in rows.chunks_exact(d).zip(r.chunks_exact(k)) {
                for c in 0..k {
                    let w = ri[c];
                    if w == 0.0 {
                        continue;
                    }
                    acc[c] += w;
                    let m = &mut acc[k + c * d..k + (c + 1) * d];
                    for (a, v) in m.iter_mut().zip(row) {
                        *a += w * v;
                    }
                }
            }
            acc
        })
        .collect();
    let mut acc = vec![0.0; k * (1 + d)];
    for part in parts {
        for (a, v) in acc.iter_mut().zip(part) {
            *a += v;
        }
    }
    // A small floor keeps an emptied component defined, as scikit-learn's 10 ε.
    let nk: Vec<f64> = acc[..k].iter().map(|v| v + 10.0 * f64::EPSILON).collect();
    let mut means = Matrix::zeros(k, d);
    for c in 0..k {
        for j in 0..d {
            means.set(c, j, acc[k + c * d + j] / nk[c]);
        }
    }
    // Pass 2: covariances around the new means.
    let width = match cov {
        CovarianceType::Diagonal => d,
        CovarianceType::Full => d * d,
    };
    let parts: Vec<Vec<f64>> = x
        .data()
        .par_chunks(CHUNK * d)
        .zip(resp.par_chunks(CHUNK * k))
        .map(|(rows, r)| {
            let mut acc = vec![0.0; k * width];
            let mut diff = vec![0.0; d];
            for (row, ri) in rows.chunks_exact(d).zip(r.chunks_exact(k)) {
                for c in 0..k {
                    let w = ri[c];
                    if w == 0.0 {
                        continue;
                    }
                    for ((o, v), m) in diff.iter_mut().zip(row).zip(means.row(c)) {
                        *o = v - m;
                    }
                    let a = &mut acc[c * width..(c + 1) * width];
                    match cov {
                        CovarianceType::Diagonal => {
                            for (o, v) in a.iter_mut().zip(&diff) {
                                *o += w * v * v;
                            }
                        }
                        CovarianceType::Full => {
                            // The lower triangle; the M-step mirrors it.
                            for (i, &di) in diff.iter().enumerate() {
                                let wi = w * di;
                                for (o, dj) in a[i * d..=i * d + i].iter_mut().zip(&diff[..=i]) {
                                    *o += wi * dj;
                                }
                            }
                        }
                    }
                }
            }
            acc
        })
        .collect();
    let mut covariances = vec![0.0; k * width];
    for part in parts {
        for (a, v) in covariances.iter_mut().zip(part) {
            *a += v;
        }
    }
    let mut precision_chol = vec![0.0; k * width];
    let mut log_norm = vec![0.0; k];
    let mut l = vec![0.0; d * d];
    for c in 0..k {
        let s = &mut covariances[c * width..(c + 1) * width];
        let p = &mut precision_chol[c * width..(c + 1) * width];
        let log_det_half = match cov {
            CovarianceType::Diagonal => {
                let mut ld = 0.0;
                for (v, pv) in s.iter_mut().zip(p.iter_mut()) {
                    *v = *v / nk[c] + reg;
                    let sd = v.sqrt();
                    *pv = 1.0 / sd;
                    ld += sd.ln();
                }
                ld
            }
            CovarianceType::Full => {
                for i in 0..d {
                    for j in 0..=i {
                        let v = s[i * d + j] / nk[c] + if i == j { reg } else { 0.0 };
                        s[i * d + j] = v;
                        s[j * d + i] = v;
                    }
                }
                l.copy_from_slice(s);
                if !cholesky(&mut l, d) {
                    return Err(MiningError::InsufficientData(format!(
                        "the covariance of component {c} is not positive definite; raise \
                         reg_covar or lower k"
                    )));
                }
                // P = L⁻¹, column by column, so that the E-step's y = P (x − μ) is a set of
                // independent dot products rather than a chain of substitutions.
                for j in 0..d {
                    p[j * d + j] = 1.0 / l[j * d + j];
                    for i in j + 1..d {
                        let mut acc = 0.0;
                        for m in j..i {
                            acc += l[i * d + m] * p[m * d + j];
                        }
                        p[i * d + j] = -acc / l[i * d + i];
                    }
                }
                (0..d).map(|i| l[i * d + i].ln()).sum()
            }
        };
        if s.iter().any(|v| !v.is_finite()) || !log_det_half.is_finite() {
            return Err(MiningError::InsufficientData(format!(
                "the covariance of component {c} is not finite"
            )));
        }
        log_norm[c] = (nk[c] / n as f64).ln() - 0.5 * d as f64 * LN_2PI - log_det_half;
    }
    let weights = nk.iter().map(|v| v / n as f64).collect();
    Ok(Gmm {
        covariance_type: cov,
        weights,
        means,
        covariances,
        precision_chol,
        log_norm,
        log_likelihood: f64::NAN,
        bic: f64::NAN,
        n_parameters: 0,
        n_iter: 0,
        converged: false,
        timed_out: false,
        collapsed: 0,
        labels: Vec::new(),
    })
}

impl Gmm {
    /// Number of components.
    pub fn k(&self) -> usize {
        self.weights.len()
    }

    /// log(wₖ) + log N(x | μₖ, Σₖ) of one row for every component, into `out`.
    fn weighted_log_prob(&self, row: &[f64], out: &mut [f64], diff: &mut [f64]) {
        let d = row.len();
        for (c, o) in out.iter_mut().enumerate() {
            for ((o, x), m) in diff.iter_mut().zip(row).zip(self.means.row(c)) {
                *o = x - m;
            }
            let maha = match self.covariance_type {
                CovarianceType::Diagonal => {
                    let p = &self.precision_chol[c * d..(c + 1) * d];
                    diff.iter()
                        .zip(p)
                        .map(|(z, p)| (z * p) * (z * p))
                        .sum::<f64>()
                }
                CovarianceType::Full => {
                    let p = &self.precision_chol[c * d * d..(c + 1) * d * d];
                    // y = P (x − μ) with P lower triangular; the Mahalanobis distance is ‖y‖².
                    let mut maha = 0.0;
                    for i in 0..d {
                        let y: f64 = p[i * d..i * d + i + 1]
                            .iter()
                            .zip(&diff[..=i])
                            .map(|(a, b)| a * b)
                            .sum();
                        maha += y * y;
                    }
                    maha
                }
            };
            *o = self.log_norm[c] - 0.5 * maha;
        }
    }

    /// Fills `resp` with the posterior of every component for every row; returns Σ log p(x).
    fn responsibilities(&self, x: &Matrix, resp: &mut [f64]) -> f64 {
        let (d, k) = (x.n_cols(), self.k());
        let parts: Vec<f64> = x
            .data()
            .par_chunks(CHUNK * d)
            .zip(resp.par_chunks_mut(CHUNK * k))
            .map(|(rows, r)| {
                let mut diff = vec![0.0; d];
                let mut total = 0.0;
                for (row, ri) in rows.chunks_exact(d).zip(r.chunks_exact_mut(k)) {
                    self.weighted_log_prob(row, ri, &mut diff);
                    let max = ri.iter().copied().fold(f64::NEG_INFINITY, f64::max);
                    let lse = max + ri.iter().map(|v| (v - max).exp()).sum::<f64>().ln();
                    for v in ri.iter_mut() {
                        *v = (*v - lse).exp();
                    }
                    total += lse;
                }
                total
            })
            .collect();
        parts.iter().sum()
    }

    /// 后验概率 — P(component | row) for every row of `x`: an n × k matrix whose rows sum to 1.
    ///
    /// # Errors
    /// [`MiningError::ShapeMismatch`] when `x` has another width, [`MiningError::InvalidInput`]
    /// on a NaN or infinite value.
    pub fn predict_proba(&self, x: &Matrix) -> Result<Matrix> {
        check_width(x, self.means.n_cols(), "columns of the points")?;
        x.check_finite()?;
        let mut resp = vec![0.0; x.n_rows() * self.k()];
        self.responsibilities(x, &mut resp);
        Matrix::new(resp, x.n_rows(), self.k())
    }

    /// The most likely component of every row of `x`.
    ///
    /// # Errors
    /// As [`Gmm::predict_proba`].
    pub fn predict(&self, x: &Matrix) -> Result<Vec<usize>> {
        let p = self.predict_proba(x)?;
        Ok(argmax_rows(p.data(), self.k()))
    }

    /// Mean log-likelihood per row of `x` under the mixture.
    ///
    /// # Errors
    /// As [`Gmm::predict_proba`].
    pub fn score(&self, x: &Matrix) -> Result<f64> {
        check_width(x, self.means.n_cols(), "columns of the points")?;
        x.check_finite()?;
        let mut resp = vec![0.0; x.n_rows() * self.k()];
        Ok(self.responsibilities(x, &mut resp) / x.n_rows().max(1) as f64)
    }
}

fn e_step(model: &Gmm, x: &Matrix, resp: &mut [f64]) -> f64 {
    model.responsibilities(x, resp)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_component_is_the_sample_moments() {
        let x = Matrix::from_rows(&[[0.0, 1.0], [2.0, 1.0], [1.0, 4.0], [1.0, 2.0]]).unwrap();
        let g = GmmParams::new(1).fit(&x).unwrap();
        assert!((g.means.get(0, 0) - 1.0).abs() < 1e-12);
        assert!((g.means.get(0, 1) - 2.0).abs() < 1e-12);
        // Population covariance: var x = 0.5, var y = 1.5, cov = 0.
        assert!((g.covariances[0] - 0.5 - 1e-6).abs() < 1e-9);
        assert!((g.covariances[3] - 1.5 - 1e-6).abs() < 1e-9);
        assert!(g.covariances[1].abs() < 1e-9);
        let ll = -0.5 * 4.0 * (2.0 * LN_2PI + (0.5f64 * 1.5).ln()) - 0.5 * 4.0 * 2.0;
        assert!(
            (g.log_likelihood - ll).abs() < 1e-4,
            "{} {ll}",
            g.log_likelihood
        );
        assert_eq!(g.n_parameters, 5);
        assert_eq!(
            GmmParams::new(0).validate().unwrap_err().to_string(),
            "k cannot be 0"
        );
    }
}
