//! L2-regularised logistic regression (逻辑回归), fitted by Newton's method (iteratively
//! reweighted least squares) on standardised inputs.
//!
//! The model is P(y = 1 | x) = σ(β₀ + Σⱼ βⱼ zⱼ) with zⱼ = (xⱼ − μⱼ) / sⱼ the standardised inputs
//! (μⱼ and sⱼ the column's mean and population standard deviation). The fit minimises
//!
//! Σᵢ [ln(1 + e^ηᵢ) − yᵢ ηᵢ] + (λ/2) Σⱼ βⱼ²   (the intercept is not penalised),
//!
//! the objective of scikit-learn's `LogisticRegression(C = 1/λ)` behind a `StandardScaler`
//! (Hastie, Tibshirani & Friedman, *The Elements of Statistical Learning*, §4.4.1 for the Newton
//! step). Coefficients are reported back in the inputs' original units.

use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use crate::matrix::Matrix;
use crate::{ModelError, Result};

/// Rows per parallel task; partial sums are added in task order, so the fit is identical on any
/// number of threads.
const ROWS_PER_TASK: usize = 4096;

/// Parameters of a logistic regression fit.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct LogisticParams {
    /// L2 penalty λ on the standardised coefficients (scikit-learn's 1 / C). Default 1.0; 0 gives
    /// plain maximum likelihood, which diverges on separable data.
    pub l2: f64,
    /// Most Newton iterations. Default 100.
    pub max_iter: usize,
    /// Converged when no standardised coefficient moves by more than this. Default 1e-10.
    pub tol: f64,
    /// Wall-clock budget of the fit in seconds. When it runs out the last Newton iterate is
    /// kept, not converged, and [`LogisticRegression::timed_out`] says so. Default none.
    #[serde(default)]
    pub max_seconds: Option<f64>,
}

impl Default for LogisticParams {
    fn default() -> Self {
        LogisticParams {
            l2: 1.0,
            max_iter: 100,
            tol: 1e-10,
            max_seconds: None,
        }
    }
}

impl LogisticParams {
    fn validate(&self) -> Result<()> {
        if !(self.l2.is_finite() && self.l2 >= 0.0) {
            return Err(ModelError::param("l2", "must be finite and >= 0"));
        }
        if self.max_iter == 0 {
            return Err(ModelError::param("max_iter", "cannot be 0"));
        }
        if !(self.tol.is_finite() && self.tol > 0.0) {
            return Err(ModelError::param("tol", "must be finite and > 0"));
        }
        if self
            .max_seconds
            .is_some_and(|s| !(s.is_finite() && s > 0.0))
        {
            return Err(ModelError::param("max_seconds", "must be finite and > 0"));
        }
        Ok(())
    }

    /// Fits the model to the rows of `x` and their labels `y`.
    ///
    /// Columns with no variation get coefficient 0.
    ///
    /// # Errors
    /// [`ModelError::ShapeMismatch`] when `y` has not one label per row;
    /// [`ModelError::InvalidInput`] for a non-finite input; [`ModelError::InsufficientData`]
    /// when there are no rows or only one class; [`ModelError::InvalidParameter`] for invalid
    /// parameters.
    pub fn fit(&self, x: Matrix<'_>, y: &[bool]) -> Result<LogisticRegression> {
        self.validate()?;
        if y.len() != x.n_rows() {
            return Err(ModelError::ShapeMismatch {
                what: "labels (one per row)",
                expected: x.n_rows(),
                found: y.len(),
            });
        }
        let positives = y.iter().filter(|v| **v).count();
        if positives == 0 || positives == y.len() {
            return Err(ModelError::InsufficientData(
                "logistic regression needs both positive and negative labels".into(),
            ));
        }
        if let Some(i) = x.data().iter().position(|v| !v.is_finite()) {
            return Err(ModelError::input(
                i / x.n_cols(),
                format!("column {}", i % x.n_cols()),
                "must be finite",
            ));
        }
        let standard = Standardiser::of(x);
        let dim = x.n_cols() + 1;
        let base_rate = positives as f64 / y.len() as f64;
        // θ = (β₀, β₁…βₚ) on the standardised scale; start at the base rate.
        let mut theta = vec![0.0; dim];
        theta[0] = (base_rate / (1.0 - base_rate)).ln();
        let mut iterations = 0;
        let mut converged = false;
        let mut timed_out = false;
        let deadline = crate::optim::deadline_after(self.max_seconds);
        let mut loss = self.loss(&standard, x, y, &theta);
        while iterations < self.max_iter {
            if iterations > 0 && crate::optim::passed(deadline) {
                timed_out = true;
                break;
            }
            iterations += 1;
            let (grad, mut hess) = self.gradient_and_hessian(&standard, x, y, &theta);
            for j in 1..dim {
                if !standard.active[j - 1] {
                    // Keep a constant column's coefficient at 0: decouple it from the system.
                    for k in 0..dim {
                        hess[j * dim + k] = 0.0;
                        hess[k * dim + j] = 0.0;
                    }
                    hess[j * dim + j] = 1.0;
                }
            }
            let mut step = grad.clone();
            for (s, active) in step[1..].iter_mut().zip(&standard.active) {
                if !active {
                    *s = 0.0;
                }
            }
            solve_spd(&mut hess, &mut step, dim)?;
            // Backtrack until the objective decreases (Armijo); Newton's full step is nearly
            // always taken.
            let slope: f64 = grad.iter().zip(&step).map(|(g, s)| g * s).sum();
            let mut t = 1.0;
            let mut candidate = vec![0.0; dim];
            let mut accepted = false;
            for _ in 0..60 {
                for k in 0..dim {
                    candidate[k] = theta[k] - t * step[k];
                }
                let new_loss = self.loss(&standard, x, y, &candidate);
                // Near the optimum the decrease of a full step is below the loss's rounding;
                // the step itself is still worth taking.
                let flat = t == 1.0 && new_loss - loss <= 1e-13 * loss.abs().max(1.0);
                if new_loss <= loss - 1e-4 * t * slope || flat {
                    loss = new_loss;
                    accepted = true;
                    break;
                }
                t *= 0.5;
            }
            let moved = step.iter().fold(0.0_f64, |m, s| m.max((t * s).abs()));
            if accepted {
                theta.copy_from_slice(&candidate);
            }
            if !accepted || moved <= self.tol {
                // No decrease is possible at rounding level: this is the minimum.
                converged = true;
                break;
            }
        }
        let mut model =
            LogisticRegression::from_standardised(&theta, standard, *self, iterations, converged);
        model.timed_out = timed_out;
        Ok(model)
    }

    /// The penalised objective at θ.
    fn loss(&self, s: &Standardiser, x: Matrix<'_>, y: &[bool], theta: &[f64]) -> f64 {
        let rows: Vec<usize> = (0..x.n_rows()).collect();
        let partials: Vec<f64> = rows
            .par_chunks(ROWS_PER_TASK)
            .map(|chunk| {
                chunk
                    .iter()
                    .map(|&i| {
                        let eta = s.linear(theta, x.row(i));
                        softplus(eta) - if y[i] { eta } else { 0.0 }
                    })
                    .sum::<f64>()
            })
            .collect();
        let penalty: f64 = theta[1..].iter().map(|b| b * b).sum::<f64>() * self.l2 / 2.0;
        partials.iter().sum::<f64>() + penalty
    }

    /// Gradient and Hessian (row-major, dim × dim) of the penalised objective at θ.
    fn gradient_and_hessian(
        &self,
        s: &Standardiser,
        x: Matrix<'_>,
        y: &[bool],
        theta: &[f64],
    ) -> (Vec<f64>, Vec<f64>) {
        let dim = theta.len();
        let rows: Vec<usize> = (0..x.n_rows()).collect();
        let partials: Vec<(Vec<f64>, Vec<f64>)> = rows
            .par_chunks(ROWS_PER_TASK)
            .map(|chunk| {
                let mut grad = vec![0.0; dim];
                let mut hess = vec![0.0; dim * dim];
                let mut z = vec![0.0; dim];
                for &i in chunk {
                    z[0] = 1.0;
                    s.standardise(x.row(i), &mut z[1..]);
                    let eta: f64 = theta.iter().zip(&z).map(|(t, v)| t * v).sum();
                    let p = sigmoid(eta);
                    let residual = p - f64::from(u8::from(y[i]));
                    let weight = p * (1.0 - p);
                    for j in 0..dim {
                        grad[j] += residual * z[j];
                        let wz = weight * z[j];
                        for k in j..dim {
                            hess[j * dim + k] += wz * z[k];
                        }
                    }
                }
                (grad, hess)
            })
            .collect();
        let mut grad = vec![0.0; dim];
        let mut hess = vec![0.0; dim * dim];
        for (g, h) in partials {
            for (a, b) in grad.iter_mut().zip(&g) {
                *a += b;
            }
            for (a, b) in hess.iter_mut().zip(&h) {
                *a += b;
            }
        }
        for j in 1..dim {
            grad[j] += self.l2 * theta[j];
            hess[j * dim + j] += self.l2;
        }
        for j in 0..dim {
            for k in 0..j {
                hess[j * dim + k] = hess[k * dim + j];
            }
        }
        (grad, hess)
    }
}

/// Column means and standard deviations of the training inputs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Standardiser {
    means: Vec<f64>,
    scales: Vec<f64>,
    /// False for a column with no variation; it is left out of the model.
    active: Vec<bool>,
}

impl Standardiser {
    fn of(x: Matrix<'_>) -> Self {
        let (n, p) = (x.n_rows() as f64, x.n_cols());
        let mut means = vec![0.0; p];
        for i in 0..x.n_rows() {
            for (m, v) in means.iter_mut().zip(x.row(i)) {
                *m += v;
            }
        }
        for m in &mut means {
            *m /= n;
        }
        let mut vars = vec![0.0; p];
        for i in 0..x.n_rows() {
            for ((s, v), m) in vars.iter_mut().zip(x.row(i)).zip(&means) {
                *s += (v - m) * (v - m);
            }
        }
        let mut active = vec![true; p];
        let mut scales = vec![1.0; p];
        for j in 0..p {
            let sd = (vars[j] / n).sqrt();
            if sd > 1e-12 * means[j].abs().max(1e-300) && sd > 0.0 {
                scales[j] = sd;
            } else {
                active[j] = false;
            }
        }
        Standardiser {
            means,
            scales,
            active,
        }
    }

    fn standardise(&self, row: &[f64], out: &mut [f64]) {
        for j in 0..row.len() {
            out[j] = if self.active[j] {
                (row[j] - self.means[j]) / self.scales[j]
            } else {
                0.0
            };
        }
    }

    /// β₀ + Σ βⱼ zⱼ for a raw row.
    fn linear(&self, theta: &[f64], row: &[f64]) -> f64 {
        let mut eta = theta[0];
        for j in 0..row.len() {
            if self.active[j] {
                eta += theta[j + 1] * (row[j] - self.means[j]) / self.scales[j];
            }
        }
        eta
    }
}

/// A fitted logistic regression.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LogisticRegression {
    /// β₀ − Σ βⱼ μⱼ / sⱼ: the intercept in original units.
    intercept: f64,
    /// βⱼ / sⱼ: the change in log-odds per unit of each input.
    coefficients: Vec<f64>,
    /// β₀ on the standardised scale.
    standardised_intercept: f64,
    /// βⱼ on the standardised scale: comparable across inputs (log-odds per standard deviation).
    standardised_coefficients: Vec<f64>,
    standardiser: Standardiser,
    params: LogisticParams,
    iterations: usize,
    converged: bool,
    #[serde(default)]
    timed_out: bool,
}

impl LogisticRegression {
    fn from_standardised(
        theta: &[f64],
        standardiser: Standardiser,
        params: LogisticParams,
        iterations: usize,
        converged: bool,
    ) -> Self {
        let p = theta.len() - 1;
        let mut coefficients = vec![0.0; p];
        let mut intercept = theta[0];
        for j in 0..p {
            if standardiser.active[j] {
                coefficients[j] = theta[j + 1] / standardiser.scales[j];
                intercept -= coefficients[j] * standardiser.means[j];
            }
        }
        LogisticRegression {
            intercept,
            coefficients,
            standardised_intercept: theta[0],
            standardised_coefficients: theta[1..].to_vec(),
            standardiser,
            params,
            iterations,
            converged,
            timed_out: false,
        }
    }

    /// Fits with the given parameters; the same as [`LogisticParams::fit`].
    ///
    /// # Errors
    /// As [`LogisticParams::fit`].
    pub fn fit(x: Matrix<'_>, y: &[bool], params: &LogisticParams) -> Result<Self> {
        params.fit(x, y)
    }

    /// The intercept in the inputs' original units.
    pub fn intercept(&self) -> f64 {
        self.intercept
    }

    /// Coefficients in the inputs' original units (log-odds per unit), one per column.
    pub fn coefficients(&self) -> &[f64] {
        &self.coefficients
    }

    /// Coefficients per standard deviation of each input, comparable across inputs.
    pub fn standardised_coefficients(&self) -> &[f64] {
        &self.standardised_coefficients
    }

    /// Number of input columns.
    pub fn n_features(&self) -> usize {
        self.coefficients.len()
    }

    /// The parameters the model was fitted with.
    pub fn params(&self) -> &LogisticParams {
        &self.params
    }

    /// Newton iterations of the fit.
    pub fn iterations(&self) -> usize {
        self.iterations
    }

    /// Whether the fit met its tolerance within `max_iter` iterations.
    pub fn converged(&self) -> bool {
        self.converged
    }

    /// Whether the time budget ([`LogisticParams::max_seconds`]) ended the fit.
    pub fn timed_out(&self) -> bool {
        self.timed_out
    }

    /// P(y = 1) for one row of raw inputs (NaN when the row has the wrong length).
    pub fn predict_proba_row(&self, row: &[f64]) -> f64 {
        if row.len() != self.n_features() {
            return f64::NAN;
        }
        let mut theta = Vec::with_capacity(row.len() + 1);
        theta.push(self.standardised_intercept);
        theta.extend_from_slice(&self.standardised_coefficients);
        sigmoid(self.standardiser.linear(&theta, row))
    }

    /// P(y = 1) for every row of `x`. A NaN input gives a NaN probability.
    ///
    /// # Errors
    /// [`ModelError::ShapeMismatch`] when `x` has a different number of columns than the
    /// training data.
    pub fn predict_proba(&self, x: Matrix<'_>) -> Result<Vec<f64>> {
        if x.n_cols() != self.n_features() {
            return Err(ModelError::ShapeMismatch {
                what: "input columns",
                expected: self.n_features(),
                found: x.n_cols(),
            });
        }
        let mut theta = Vec::with_capacity(x.n_cols() + 1);
        theta.push(self.standardised_intercept);
        theta.extend_from_slice(&self.standardised_coefficients);
        Ok((0..x.n_rows())
            .into_par_iter()
            .map(|i| sigmoid(self.standardiser.linear(&theta, x.row(i))))
            .collect())
    }
}

/// 1 / (1 + e^−η), without overflow for large |η|.
pub(crate) fn sigmoid(eta: f64) -> f64 {
    if eta >= 0.0 {
        1.0 / (1.0 + (-eta).exp())
    } else {
        let e = eta.exp();
        e / (1.0 + e)
    }
}

/// ln(1 + e^η), without overflow for large η.
fn softplus(eta: f64) -> f64 {
    eta.max(0.0) + (-eta.abs()).exp().ln_1p()
}

/// Solves A x = b for a symmetric positive definite A (row-major, n × n) by Cholesky, in place:
/// `b` becomes x. A tiny ridge is added if rounding has made A indefinite.
fn solve_spd(a: &mut [f64], b: &mut [f64], n: usize) -> Result<()> {
    let original = a.to_vec();
    let max_diag = (0..n).fold(0.0_f64, |m, i| m.max(a[i * n + i].abs()));
    let mut ridge = 0.0;
    for _ in 0..8 {
        a.copy_from_slice(&original);
        for i in 0..n {
            a[i * n + i] += ridge;
        }
        if cholesky(a, n) {
            // Forward then back substitution with L (lower triangle of a).
            for i in 0..n {
                let mut s = b[i];
                for k in 0..i {
                    s -= a[i * n + k] * b[k];
                }
                b[i] = s / a[i * n + i];
            }
            for i in (0..n).rev() {
                let mut s = b[i];
                for k in i + 1..n {
                    s -= a[k * n + i] * b[k];
                }
                b[i] = s / a[i * n + i];
            }
            return Ok(());
        }
        ridge = if ridge == 0.0 {
            1e-12 * max_diag.max(1e-300)
        } else {
            ridge * 100.0
        };
    }
    Err(ModelError::NoConvergence {
        method: "Newton step",
        detail: "the Hessian is not positive definite even with a ridge; set l2 > 0".into(),
    })
}

/// In-place Cholesky factorisation A = L Lᵀ into the lower triangle; false if A is not positive
/// definite.
fn cholesky(a: &mut [f64], n: usize) -> bool {
    for j in 0..n {
        let mut d = a[j * n + j];
        for k in 0..j {
            d -= a[j * n + k] * a[j * n + k];
        }
        if d.is_nan() || d <= 0.0 {
            return false;
        }
        let d = d.sqrt();
        a[j * n + j] = d;
        for i in j + 1..n {
            let mut s = a[i * n + j];
            for k in 0..j {
                s -= a[i * n + k] * a[j * n + k];
            }
            a[i * n + j] = s / d;
        }
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn solves_a_small_spd_system() {
        let mut a = vec![4.0, 2.0, 2.0, 3.0];
        let mut b = vec![2.0, 1.0];
        solve_spd(&mut a, &mut b, 2).unwrap();
        // [4 2; 2 3] x = [2 1] → x = [0.5, 0].
        assert!((b[0] - 0.5).abs() < 1e-15 && b[1].abs() < 1e-15);
    }

    #[test]
    fn constant_columns_get_zero_and_predictions_are_probabilities() {
        let data = [1.0, 5.0, 2.0, 5.0, 3.0, 5.0, 4.0, 5.0];
        let x = Matrix::new(&data, 4, 2).unwrap();
        let y = [false, true, false, true];
        let m = LogisticParams::default().fit(x, &y).unwrap();
        assert!(m.converged());
        assert_eq!(m.coefficients()[1], 0.0);
        let p = m.predict_proba(x).unwrap();
        assert!(p.iter().all(|v| (0.0..=1.0).contains(v)));
        assert!(m.predict_proba_row(&[1.0]).is_nan());
    }

    #[test]
    fn rejects_bad_input() {
        let data = [1.0, f64::NAN];
        let x = Matrix::new(&data, 2, 1).unwrap();
        assert!(matches!(
            LogisticParams::default().fit(x, &[true, false]),
            Err(ModelError::InvalidInput { row: 1, .. })
        ));
        let data = [1.0, 2.0];
        let x = Matrix::new(&data, 2, 1).unwrap();
        assert!(LogisticParams::default().fit(x, &[true, true]).is_err());
        assert!(LogisticParams::default().fit(x, &[true]).is_err());
        let bad = LogisticParams {
            l2: -1.0,
            ..LogisticParams::default()
        };
        assert!(bad.fit(x, &[true, false]).is_err());
    }
}
