//! Minimisation of smooth functions of a few parameters (the likelihoods of the customer-value
//! models have three or four).
//!
//! [`minimize`] runs BFGS (Nocedal & Wright, *Numerical Optimization*, 2nd ed., algorithm 6.1) with
//! an Armijo backtracking line search (algorithm 3.1 with quadratic interpolation), using the
//! objective's analytic gradient when it has one and central differences otherwise. When BFGS
//! stalls before the gradient test is met, Nelder–Mead (Nelder & Mead 1965, with the
//! dimension-adaptive coefficients of Gao & Han 2012) restarts from the best point and BFGS polishes
//! its result. [`minimize_positive`] optimises u = ln θ so every parameter stays positive.

use serde::{Deserialize, Serialize};

use crate::{ModelError, Result};

/// A function to minimise.
///
/// Return `NaN` or `+∞` outside the function's domain: the line search and the simplex step back
/// from such points.
pub trait Objective {
    /// f(x).
    fn value(&self, x: &[f64]) -> f64;

    /// Writes ∇f(x) into `grad` and returns f(x), or returns `None` when there is no analytic
    /// gradient; the optimiser then differences [`Objective::value`] on the scale it works on.
    fn value_and_gradient(&self, x: &[f64], grad: &mut [f64]) -> Option<f64> {
        let _ = (x, grad);
        None
    }
}

impl<F: Fn(&[f64]) -> f64> Objective for F {
    fn value(&self, x: &[f64]) -> f64 {
        self(x)
    }
}

/// Stopping rules of [`minimize`].
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Options {
    /// Most BFGS iterations per run; the Nelder–Mead fallback may take 100 times as many.
    /// Default 1000.
    pub max_iter: usize,
    /// Converged when every component of the gradient is at most this in absolute value.
    /// Default 1e-8 (objectives are best scaled to O(1), e.g. a mean log-likelihood).
    pub grad_tol: f64,
    /// Nelder–Mead stops when the simplex's values differ by at most this, relative to 1 + |f|,
    /// and its vertices by at most `sqrt(f_tol)`. Default 1e-14.
    pub f_tol: f64,
    /// Whether to fall back to Nelder–Mead when BFGS stalls. Default true.
    pub nelder_mead_fallback: bool,
    /// Wall-clock budget of the whole minimisation, in seconds: past it the best point so far
    /// is returned, not converged, with [`Minimum::timed_out`] set. Default none.
    #[serde(default)]
    pub max_seconds: Option<f64>,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            max_iter: 1000,
            grad_tol: 1e-8,
            f_tol: 1e-14,
            nelder_mead_fallback: true,
            max_seconds: None,
        }
    }
}

impl Options {
    fn validate(&self) -> Result<()> {
        if self.max_iter == 0 {
            return Err(ModelError::param("max_iter", "cannot be 0"));
        }
        if !(self.grad_tol.is_finite() && self.grad_tol > 0.0) {
            return Err(ModelError::param("grad_tol", "must be finite and > 0"));
        }
        if !(self.f_tol.is_finite() && self.f_tol > 0.0) {
            return Err(ModelError::param("f_tol", "must be finite and > 0"));
        }
        if self
            .max_seconds
            .is_some_and(|s| !(s.is_finite() && s > 0.0))
        {
            return Err(ModelError::param("max_seconds", "must be finite and > 0"));
        }
        Ok(())
    }
}

/// Which method produced the reported minimum.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Method {
    /// BFGS alone.
    Bfgs,
    /// BFGS stalled; Nelder–Mead, then BFGS from its result.
    NelderMeadThenBfgs,
}

/// The outcome of a minimisation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Minimum {
    /// The best point found (on the caller's scale: θ for [`minimize_positive`]).
    pub x: Vec<f64>,
    /// f at `x`.
    pub value: f64,
    /// Largest absolute component of the gradient at `x`, on the scale optimised.
    pub gradient_norm: f64,
    /// Iterations of all methods together.
    pub iterations: usize,
    /// Whether the gradient test was met at `x`.
    pub converged: bool,
    /// The method that produced `x`.
    pub method: Method,
    /// Whether the time budget ([`Options::max_seconds`]) ended the search.
    pub timed_out: bool,
}

/// Minimises `objective` from `x0`.
///
/// # Errors
/// [`ModelError::InvalidParameter`] for empty or non-finite `x0`, invalid options, or an objective
/// that is not finite at `x0`. Not converging is no error: see [`Minimum::converged`].
pub fn minimize<O: Objective + ?Sized>(
    objective: &O,
    x0: &[f64],
    options: &Options,
) -> Result<Minimum> {
    options.validate()?;
    if x0.is_empty() {
        return Err(ModelError::param("x0", "cannot be empty"));
    }
    if x0.iter().any(|v| !v.is_finite()) {
        return Err(ModelError::param("x0", "must be finite"));
    }
    let deadline = deadline_after(options.max_seconds).map(|at| Deadline { at });
    let first = bfgs(objective, x0, options, deadline)?;
    if first.converged || first.timed_out || !options.nelder_mead_fallback {
        let timed_out = first.timed_out;
        return Ok(first.into_minimum(Method::Bfgs, 0, timed_out));
    }
    let simplex = nelder_mead(objective, &first.x, first.f, options, deadline);
    let start = if simplex.f <= first.f {
        simplex.x
    } else {
        first.x.clone()
    };
    let polished = bfgs(objective, &start, options, deadline)?;
    let spent = first.iterations + simplex.iterations;
    let timed_out = simplex.timed_out || polished.timed_out;
    if polished.f <= first.f {
        Ok(polished.into_minimum(Method::NelderMeadThenBfgs, spent, timed_out))
    } else {
        Ok(first.into_minimum(Method::NelderMeadThenBfgs, spent, timed_out))
    }
}

/// Minimises `objective` over positive parameters by optimising u = ln θ.
///
/// `theta0` is the starting point on the natural scale; the result's `x` is too, while
/// `gradient_norm` is that of the log-scale problem (∂f/∂uᵢ = θᵢ ∂f/∂θᵢ).
///
/// # Errors
/// As [`minimize`], and [`ModelError::InvalidParameter`] when a component of `theta0` is not
/// positive.
pub fn minimize_positive<O: Objective + ?Sized>(
    objective: &O,
    theta0: &[f64],
    options: &Options,
) -> Result<Minimum> {
    if theta0.iter().any(|v| !(*v > 0.0 && v.is_finite())) {
        return Err(ModelError::param("theta0", "must be finite and > 0"));
    }
    let u0: Vec<f64> = theta0.iter().map(|v| v.ln()).collect();
    let mut found = minimize(&LogScale(objective), &u0, options)?;
    for v in &mut found.x {
        *v = v.exp();
    }
    Ok(found)
}

/// f(exp(u)), with the chain rule applied to an analytic gradient.
struct LogScale<'a, O: ?Sized>(&'a O);

impl<O: Objective + ?Sized> Objective for LogScale<'_, O> {
    fn value(&self, u: &[f64]) -> f64 {
        let theta: Vec<f64> = u.iter().map(|v| v.exp()).collect();
        self.0.value(&theta)
    }

    fn value_and_gradient(&self, u: &[f64], grad: &mut [f64]) -> Option<f64> {
        let theta: Vec<f64> = u.iter().map(|v| v.exp()).collect();
        let f = self.0.value_and_gradient(&theta, grad)?;
        for (g, t) in grad.iter_mut().zip(&theta) {
            *g *= t;
        }
        Some(f)
    }
}

/// f(x) and its gradient, analytic or by central differences with steps ∛ε · max(|xᵢ|, 1)
/// (Nocedal & Wright §8.1).
fn value_and_gradient<O: Objective + ?Sized>(objective: &O, x: &[f64], grad: &mut [f64]) -> f64 {
    if let Some(f) = objective.value_and_gradient(x, grad) {
        return f;
    }
    let f = objective.value(x);
    let step = f64::EPSILON.cbrt();
    let mut probe = x.to_vec();
    for i in 0..x.len() {
        let h = step * x[i].abs().max(1.0);
        probe[i] = x[i] + h;
        let up = objective.value(&probe);
        let h_up = probe[i] - x[i];
        probe[i] = x[i] - h;
        let down = objective.value(&probe);
        let h_down = x[i] - probe[i];
        probe[i] = x[i];
        grad[i] = (up - down) / (h_up + h_down);
    }
    f
}

fn inf_norm(v: &[f64]) -> f64 {
    v.iter().fold(0.0, |m, x| m.max(x.abs()))
}

fn dot(a: &[f64], b: &[f64]) -> f64 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

/// The moment `seconds` from now, if any: when a time-budgeted fit must stop.
pub(crate) fn deadline_after(seconds: Option<f64>) -> Option<std::time::Instant> {
    // Budgets beyond what a clock can hold (`1e300` seconds) are no budget at all.
    let s = seconds?;
    let d = std::time::Duration::try_from_secs_f64(s).ok()?;
    std::time::Instant::now().checked_add(d)
}

/// Whether `deadline` has come.
pub(crate) fn passed(deadline: Option<std::time::Instant>) -> bool {
    deadline.is_some_and(|at| std::time::Instant::now() >= at)
}

/// When a time-budgeted minimisation must stop.
#[derive(Debug, Clone, Copy)]
struct Deadline {
    at: std::time::Instant,
}

impl Deadline {
    fn passed(deadline: Option<Deadline>) -> bool {
        deadline.is_some_and(|d| std::time::Instant::now() >= d.at)
    }
}

struct BfgsRun {
    x: Vec<f64>,
    f: f64,
    g: Vec<f64>,
    iterations: usize,
    converged: bool,
    timed_out: bool,
}

impl BfgsRun {
    fn into_minimum(self, method: Method, earlier_iterations: usize, timed_out: bool) -> Minimum {
        Minimum {
            gradient_norm: inf_norm(&self.g),
            x: self.x,
            value: self.f,
            iterations: self.iterations + earlier_iterations,
            converged: self.converged,
            method,
            timed_out: timed_out && !self.converged,
        }
    }
}

/// Armijo's sufficient-decrease constant.
const ARMIJO_C1: f64 = 1e-4;

fn bfgs<O: Objective + ?Sized>(
    objective: &O,
    x0: &[f64],
    options: &Options,
    deadline: Option<Deadline>,
) -> Result<BfgsRun> {
    let n = x0.len();
    let mut x = x0.to_vec();
    let mut g = vec![0.0; n];
    let mut f = value_and_gradient(objective, &x, &mut g);
    if !f.is_finite() || g.iter().any(|v| !v.is_finite()) {
        return Err(ModelError::param(
            "x0",
            "must be a point where the objective and its gradient are finite",
        ));
    }
    // Inverse Hessian approximation, row-major.
    let mut h = identity(n);
    let mut fresh = true;
    let mut d = vec![0.0; n];
    let mut x_new = vec![0.0; n];
    let mut g_new = vec![0.0; n];
    let mut iterations = 0;
    let mut converged = false;
    let mut timed_out = false;
    let mut stalled = 0;
    while iterations < options.max_iter {
        if inf_norm(&g) <= options.grad_tol {
            converged = true;
            break;
        }
        if Deadline::passed(deadline) {
            timed_out = true;
            break;
        }
        iterations += 1;
        for i in 0..n {
            d[i] = -dot(&h[i * n..(i + 1) * n], &g);
        }
        let mut slope = dot(&g, &d);
        if slope.is_nan() || slope >= 0.0 {
            // Not a descent direction: the approximation has lost positive definiteness.
            h = identity(n);
            fresh = true;
            for i in 0..n {
                d[i] = -g[i];
            }
            slope = -dot(&g, &g);
        }
        // With no curvature information yet, keep the first step within one unit.
        let mut step = if fresh {
            (1.0 / inf_norm(&d)).min(1.0)
        } else {
            1.0
        };
        let x_scale = 1.0 + inf_norm(&x);
        let mut accepted = None;
        while step * inf_norm(&d) > f64::EPSILON * x_scale {
            for i in 0..n {
                x_new[i] = x[i] + step * d[i];
            }
            let f_try = objective.value(&x_new);
            if f_try.is_finite() && f_try <= f + ARMIJO_C1 * step * slope {
                accepted = Some(f_try);
                break;
            }
            step = if f_try.is_finite() {
                // Minimiser of the quadratic through f, the slope and f_try, kept in [0.1, 0.5].
                let q = -slope * step * step / (2.0 * (f_try - f - slope * step));
                q.clamp(0.1 * step, 0.5 * step)
            } else {
                0.1 * step
            };
        }
        let Some(_) = accepted else {
            if fresh {
                // Steepest descent cannot decrease f either: f is flat to rounding here.
                break;
            }
            h = identity(n);
            fresh = true;
            continue;
        };
        let f_new = value_and_gradient(objective, &x_new, &mut g_new);
        if !f_new.is_finite() || g_new.iter().any(|v| !v.is_finite()) {
            h = identity(n);
            fresh = true;
            continue;
        }
        // Progress below rounding for several steps: BFGS is stuck (a kink, or noise).
        if f - f_new <= options.f_tol * (1.0 + f.abs()) {
            stalled += 1;
            if stalled == 5 {
                std::mem::swap(&mut x, &mut x_new);
                std::mem::swap(&mut g, &mut g_new);
                f = f_new;
                break;
            }
        } else {
            stalled = 0;
        }
        let s: Vec<f64> = (0..n).map(|i| x_new[i] - x[i]).collect();
        let y: Vec<f64> = (0..n).map(|i| g_new[i] - g[i]).collect();
        let sy = dot(&s, &y);
        if sy > 1e-12 * dot(&s, &s).sqrt() * dot(&y, &y).sqrt() {
            if fresh {
                // Nocedal & Wright (6.20): scale the first approximation to the curvature seen.
                let scale = sy / dot(&y, &y);
                h = identity(n);
                for i in 0..n {
                    h[i * n + i] = scale;
                }
                fresh = false;
            }
            bfgs_update(&mut h, &s, &y, sy);
        }
        std::mem::swap(&mut x, &mut x_new);
        std::mem::swap(&mut g, &mut g_new);
        f = f_new;
    }
    if !converged && inf_norm(&g) <= options.grad_tol {
        converged = true;
    }
    Ok(BfgsRun {
        x,
        f,
        g,
        iterations,
        converged,
        timed_out,
    })
}

fn identity(n: usize) -> Vec<f64> {
    let mut m = vec![0.0; n * n];
    for i in 0..n {
        m[i * n + i] = 1.0;
    }
    m
}

/// H ← (I − ρ s yᵀ) H (I − ρ y sᵀ) + ρ s sᵀ with ρ = 1 / yᵀs (Nocedal & Wright 6.17).
fn bfgs_update(h: &mut [f64], s: &[f64], y: &[f64], sy: f64) {
    let n = s.len();
    let rho = 1.0 / sy;
    let hy: Vec<f64> = (0..n).map(|i| dot(&h[i * n..(i + 1) * n], y)).collect();
    let yhy = dot(y, &hy);
    // Expanded: H + ρ² (yᵀHy) s sᵀ + ρ s sᵀ − ρ (H y sᵀ + s yᵀ H), H symmetric.
    for i in 0..n {
        for j in 0..n {
            h[i * n + j] +=
                (rho * rho * yhy + rho) * s[i] * s[j] - rho * (hy[i] * s[j] + s[i] * hy[j]);
        }
    }
}

struct SimplexRun {
    x: Vec<f64>,
    f: f64,
    iterations: usize,
    timed_out: bool,
}

/// Nelder–Mead with Gao & Han's coefficients: reflection 1, expansion 1 + 2/n, contraction
/// 0.75 − 1/(2n), shrink 1 − 1/n. The initial simplex steps 5 % of each coordinate (0.1 where it
/// is near 0).
fn nelder_mead<O: Objective + ?Sized>(
    objective: &O,
    x0: &[f64],
    f0: f64,
    options: &Options,
    deadline: Option<Deadline>,
) -> SimplexRun {
    let n = x0.len();
    let nf = n as f64;
    let (reflect, expand, contract, shrink) =
        (1.0, 1.0 + 2.0 / nf, 0.75 - 0.5 / nf, 1.0 - 1.0 / nf);
    let eval = |x: &[f64]| {
        let v = objective.value(x);
        if v.is_nan() { f64::INFINITY } else { v }
    };
    let mut points: Vec<Vec<f64>> = vec![x0.to_vec()];
    let mut values = vec![f0];
    for i in 0..n {
        let mut p = x0.to_vec();
        p[i] += if x0[i].abs() > 2.0 { 0.05 * x0[i] } else { 0.1 };
        values.push(eval(&p));
        points.push(p);
    }
    let max_iter = options.max_iter.saturating_mul(100).max(200 * n);
    let x_tol = options.f_tol.sqrt();
    let mut iterations = 0;
    let mut timed_out = false;
    let mut order: Vec<usize> = (0..=n).collect();
    while iterations < max_iter {
        order.sort_by(|&a, &b| values[a].total_cmp(&values[b]));
        let (best, worst, second) = (order[0], order[n], order[n - 1]);
        let spread = values[worst] - values[best];
        let size = points
            .iter()
            .map(|p| {
                p.iter()
                    .zip(&points[best])
                    .fold(0.0_f64, |m, (a, b)| m.max((a - b).abs()))
            })
            .fold(0.0_f64, f64::max);
        if spread <= options.f_tol * (1.0 + values[best].abs()) && size <= x_tol {
            break;
        }
        // The clock is read every 64 steps: a step is a few likelihood evaluations.
        if iterations % 64 == 0 && Deadline::passed(deadline) {
            timed_out = true;
            break;
        }
        iterations += 1;
        let mut centroid = vec![0.0; n];
        for &k in &order[..n] {
            for (c, p) in centroid.iter_mut().zip(&points[k]) {
                *c += p / nf;
            }
        }
        let along = |t: f64| -> Vec<f64> {
            centroid
                .iter()
                .zip(&points[worst])
                .map(|(c, w)| c + t * (c - w))
                .collect()
        };
        let xr = along(reflect);
        let fr = eval(&xr);
        if fr < values[best] {
            let xe = along(reflect * expand);
            let fe = eval(&xe);
            if fe < fr {
                (points[worst], values[worst]) = (xe, fe);
            } else {
                (points[worst], values[worst]) = (xr, fr);
            }
            continue;
        }
        if fr < values[second] {
            (points[worst], values[worst]) = (xr, fr);
            continue;
        }
        // Outside contraction when the reflection improved on the worst point, inside otherwise.
        let (xc, fc, bar) = if fr < values[worst] {
            let xc = along(reflect * contract);
            let fc = eval(&xc);
            (xc, fc, fr)
        } else {
            let xc = along(-contract);
            let fc = eval(&xc);
            (xc, fc, values[worst])
        };
        if fc < bar {
            (points[worst], values[worst]) = (xc, fc);
            continue;
        }
        let anchor = points[best].clone();
        for k in 0..=n {
            if k == best {
                continue;
            }
            for (p, a) in points[k].iter_mut().zip(&anchor) {
                *p = a + shrink * (*p - a);
            }
            values[k] = eval(&points[k]);
        }
    }
    let best = (0..=n)
        .min_by(|&a, &b| values[a].total_cmp(&values[b]))
        .unwrap_or(0);
    SimplexRun {
        x: points.swap_remove(best),
        f: values[best],
        iterations,
        timed_out,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Rosenbrock's function with its analytic gradient.
    struct Rosenbrock;

    impl Objective for Rosenbrock {
        fn value(&self, x: &[f64]) -> f64 {
            (0..x.len() - 1)
                .map(|i| 100.0 * (x[i + 1] - x[i] * x[i]).powi(2) + (1.0 - x[i]).powi(2))
                .sum()
        }

        fn value_and_gradient(&self, x: &[f64], grad: &mut [f64]) -> Option<f64> {
            grad.fill(0.0);
            for i in 0..x.len() - 1 {
                let t = x[i + 1] - x[i] * x[i];
                grad[i] += -400.0 * t * x[i] - 2.0 * (1.0 - x[i]);
                grad[i + 1] += 200.0 * t;
            }
            Some(self.value(x))
        }
    }

    #[test]
    fn bfgs_finds_the_rosenbrock_minimum_with_analytic_gradients() {
        let m = minimize(&Rosenbrock, &[-1.2, 1.0, -0.5, 0.8], &Options::default()).unwrap();
        assert!(m.converged, "{m:?}");
        assert_eq!(m.method, Method::Bfgs);
        for v in &m.x {
            assert!((v - 1.0).abs() < 1e-7, "{m:?}");
        }
    }

    #[test]
    fn bfgs_with_numeric_gradients() {
        let f = |x: &[f64]| Rosenbrock.value(x);
        let options = Options {
            grad_tol: 1e-6,
            ..Options::default()
        };
        let m = minimize(&f, &[-1.2, 1.0], &options).unwrap();
        assert!(m.converged, "{m:?}");
        assert!(
            (m.x[0] - 1.0).abs() < 1e-5 && (m.x[1] - 1.0).abs() < 1e-5,
            "{m:?}"
        );
    }

    #[test]
    fn a_time_budget_ends_a_search_that_never_converges() {
        // A bowl with rough noise of ~1e-5 on it: BFGS's differences stall and the simplex's
        // values never agree to 1e-14, so without the budget the search would run its full
        // 100,000 Nelder–Mead iterations (seconds at 200 µs an evaluation).
        let f = |x: &[f64]| {
            std::thread::sleep(std::time::Duration::from_micros(200));
            let h = (x[0].to_bits() ^ x[1].to_bits().rotate_left(17))
                .wrapping_mul(0x9E37_79B9_7F4A_7C15)
                >> 40;
            x[0] * x[0] + x[1] * x[1] + h as f64 * 1e-12
        };
        let options = Options {
            max_seconds: Some(0.05),
            ..Options::default()
        };
        let m = minimize(&f, &[3.0, -2.0], &options).unwrap();
        assert!(m.timed_out && !m.converged, "{m:?}");
        let bad = Options {
            max_seconds: Some(0.0),
            ..Options::default()
        };
        assert!(minimize(&f, &[0.0, 0.0], &bad).is_err());
    }

    #[test]
    fn positive_parameters_stay_positive() {
        // Minimum at θ = (0.01, 300): far from 1 in both directions of the log scale.
        let f = |t: &[f64]| (t[0].ln() - 0.01_f64.ln()).powi(2) + (t[1] / 300.0 - 1.0).powi(2);
        let m = minimize_positive(&f, &[1.0, 1.0], &Options::default()).unwrap();
        assert!(m.converged, "{m:?}");
        assert!((m.x[0] / 0.01 - 1.0).abs() < 1e-6 && (m.x[1] / 300.0 - 1.0).abs() < 1e-6);
    }

    /// |x₀ − 3| + (x₁ + 1)² with its exact gradient, which never vanishes off the kink.
    struct Kinked;

    impl Objective for Kinked {
        fn value(&self, x: &[f64]) -> f64 {
            (x[0] - 3.0).abs() + (x[1] + 1.0).powi(2)
        }

        fn value_and_gradient(&self, x: &[f64], grad: &mut [f64]) -> Option<f64> {
            grad[0] = (x[0] - 3.0).signum();
            grad[1] = 2.0 * (x[1] + 1.0);
            Some(self.value(x))
        }
    }

    #[test]
    fn nelder_mead_rescues_a_kinked_function() {
        // BFGS cannot meet the gradient test, so it stalls and the simplex finishes the job.
        let m = minimize(&Kinked, &[0.1, 0.0], &Options::default()).unwrap();
        assert_eq!(m.method, Method::NelderMeadThenBfgs);
        assert!(!m.converged);
        assert!(
            (m.x[0] - 3.0).abs() < 1e-6 && (m.x[1] + 1.0).abs() < 1e-6,
            "{m:?}"
        );
    }

    #[test]
    fn rejects_a_bad_start() {
        let f = |x: &[f64]| x[0].ln();
        assert!(minimize(&f, &[-1.0], &Options::default()).is_err());
        assert!(minimize(&f, &[], &Options::default()).is_err());
        assert!(minimize_positive(&f, &[0.0], &Options::default()).is_err());
    }
}
