//! The BG/NBD model of repeat purchases (Fader, Hardie & Lee 2005, "Counting Your Customers the
//! Easy Way: An Alternative to the Pareto/NBD Model", *Marketing Science* 24(2), 275–284).
//!
//! While active, a customer buys at a Poisson rate λ, with λ ~ Gamma(r, α) across customers; after
//! each purchase the customer drops out with probability p, with p ~ Beta(a, b). From each
//! customer's repeat-purchase count and timing alone the model estimates the probability that the
//! customer is still active (存活概率) and how many purchases to expect next (预期购买次数).
//!
//! All times are in one unit of the caller's choosing (days, weeks, …): `t_x`, `t`, horizons and
//! the fitted `alpha` share it.

use serde::{Deserialize, Serialize};

use crate::optim::{self, Objective};
use crate::special::{digamma, hyp2f1, ln_gamma};
use crate::{Fit, FitOptions, ModelError, Result, sum_terms};

/// 客户 RFM 摘要 — one customer's repeat-purchase history at the end of the calibration period.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Rfm {
    /// Repeat transactions: purchases after the first (频次), a non-negative integer.
    pub x: f64,
    /// Time of the last purchase, measured from the first purchase (近度); 0 when `x` is 0.
    pub t_x: f64,
    /// The customer's age: end of the calibration period minus the first purchase (T in the paper).
    pub t: f64,
}

impl Rfm {
    /// Checks one customer's history; `row` names it in the error.
    fn validate(&self, row: usize) -> Result<()> {
        if !(self.x.is_finite() && self.x >= 0.0 && self.x.fract() == 0.0) {
            return Err(ModelError::input(
                row,
                "x",
                "must be a non-negative whole number",
            ));
        }
        if !(self.t.is_finite() && self.t >= 0.0) {
            return Err(ModelError::input(row, "t", "must be finite and >= 0"));
        }
        if !(self.t_x.is_finite() && self.t_x >= 0.0 && self.t_x <= self.t) {
            return Err(ModelError::input(row, "t_x", "must be in [0, t]"));
        }
        Ok(())
    }
}

/// The four parameters of the BG/NBD model.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct BgNbd {
    /// Shape of the Gamma distribution of purchase rates.
    pub r: f64,
    /// Scale of the Gamma distribution of purchase rates, in the caller's time unit (the mean
    /// purchase rate of active customers is r / α per unit).
    pub alpha: f64,
    /// First shape of the Beta distribution of dropout probabilities.
    pub a: f64,
    /// Second shape of the Beta distribution of dropout probabilities (mean dropout
    /// probability a / (a + b)).
    pub b: f64,
}

impl BgNbd {
    /// A model with the given parameters.
    ///
    /// # Errors
    /// [`ModelError::InvalidParameter`] unless every parameter is finite and positive.
    pub fn new(r: f64, alpha: f64, a: f64, b: f64) -> Result<Self> {
        for (name, v) in [("r", r), ("alpha", alpha), ("a", a), ("b", b)] {
            if !(v.is_finite() && v > 0.0) {
                return Err(ModelError::param(name, "must be finite and > 0"));
            }
        }
        Ok(BgNbd { r, alpha, a, b })
    }

    /// Fits the model by maximum likelihood with the default [`FitOptions`].
    ///
    /// # Errors
    /// As [`BgNbd::fit_with`].
    pub fn fit(customers: &[Rfm]) -> Result<Fit<BgNbd>> {
        Self::fit_with(customers, &FitOptions::default())
    }

    /// Fits the model by maximum likelihood: minimises λ Σ θ² − (mean log-likelihood, eq. 6 of
    /// the paper) over θ = (r, α, a, b), by BFGS on ln θ with the analytic gradient. The
    /// log-likelihood is summed in parallel over large inputs, deterministically.
    ///
    /// # Errors
    /// [`ModelError::InsufficientData`] when `customers` is empty or no customer has a repeat
    /// purchase (the dropout process is then not identified); [`ModelError::InvalidInput`] for a
    /// customer whose `x` is not a whole number ≥ 0, or whose `t_x` is outside [0, t];
    /// [`ModelError::InvalidParameter`] for invalid options.
    pub fn fit_with(customers: &[Rfm], options: &FitOptions) -> Result<Fit<BgNbd>> {
        options.validate()?;
        if customers.is_empty() {
            return Err(ModelError::InsufficientData("no customers to fit".into()));
        }
        for (row, c) in customers.iter().enumerate() {
            c.validate(row)?;
        }
        if customers.iter().all(|c| c.x == 0.0) {
            return Err(ModelError::InsufficientData(
                "no customer has a repeat purchase".into(),
            ));
        }
        // Start as the Python package `lifetimes` does: all ones with time scaled so the oldest
        // customer is 10 units old, i.e. α = max(t) / 10 in the caller's unit.
        let max_t = customers.iter().fold(0.0_f64, |m, c| m.max(c.t));
        let alpha0 = if max_t > 0.0 { max_t / 10.0 } else { 1.0 };
        let objective = NegLogLikelihood {
            customers,
            penalizer: options.penalizer,
            table_len: table_len(customers),
        };
        let found = optim::minimize_positive(&objective, &[1.0, alpha0, 1.0, 1.0], &options.optim)?;
        let model = BgNbd {
            r: found.x[0],
            alpha: found.x[1],
            a: found.x[2],
            b: found.x[3],
        };
        Ok(Fit {
            model,
            log_likelihood: model.total_log_likelihood(customers),
            n: customers.len(),
            iterations: found.iterations,
            converged: found.converged,
            method: found.method,
            timed_out: found.timed_out,
        })
    }

    /// ln L(r, α, a, b | x, t_x, T) of one customer (eq. 6 of the paper):
    ///
    /// L = B(a, b + x) / B(a, b) · Γ(r + x) αʳ / (Γ(r) (α + T)ʳ⁺ˣ)
    ///   + 𝟙[x > 0] · B(a + 1, b + x − 1) / B(a, b) · Γ(r + x) αʳ / (Γ(r) (α + tₓ)ʳ⁺ˣ).
    pub fn log_likelihood(&self, x: f64, t_x: f64, t: f64) -> f64 {
        let consts = Constants::new(self, 0);
        let mut grad = [0.0; 4];
        customer_term(self, &consts, &Rfm { x, t_x, t }, &mut grad)
    }

    /// The log-likelihood summed over `customers`.
    pub fn total_log_likelihood(&self, customers: &[Rfm]) -> f64 {
        let consts = Constants::new(self, table_len(customers));
        sum_terms(customers, |c, g: &mut [f64; 4]| {
            customer_term(self, &consts, c, g)
        })
        .0
    }

    /// P(alive | x, t_x, T): the probability that the customer has not dropped out by the end of
    /// the calibration period (Fader, Hardie & Lee 2008, "Computing P(alive) Using the BG/NBD
    /// Model", eq. 2):
    ///
    /// P = 1 / (1 + 𝟙[x > 0] · a / (b + x − 1) · ((α + T) / (α + tₓ))ʳ⁺ˣ).
    ///
    /// A customer with no repeat purchase has had no chance to drop out, so P = 1.
    pub fn p_alive(&self, x: f64, t_x: f64, t: f64) -> f64 {
        if x == 0.0 {
            return 1.0;
        }
        let log_odds_dead = (self.a / (self.b + x - 1.0)).ln()
            + (self.r + x) * ((self.alpha + t) / (self.alpha + t_x)).ln();
        // 1 / (1 + e^d), stable for large |d|.
        if log_odds_dead > 0.0 {
            let e = (-log_odds_dead).exp();
            e / (1.0 + e)
        } else {
            1.0 / (1.0 + log_odds_dead.exp())
        }
    }

    /// E[Y(horizon) | x, t_x, T]: the expected number of purchases in the next `horizon` time
    /// units of a customer with the given history (eq. 10 of the paper):
    ///
    /// E = (a + b + x − 1) / (a − 1) · [1 − ((α + T) / (α + T + t))ʳ⁺ˣ ₂F₁(r + x, b + x; a + b + x − 1; z)]
    ///     · P(alive | x, tₓ, T),  with z = t / (α + T + t).
    ///
    /// The bracket is evaluated through Euler's transformation (Abramowitz & Stegun 15.3.3) as
    /// 1 − (1 − z)ᵃ⁻¹ ₂F₁(a + b − 1 − r, a − 1; a + b + x − 1; z), whose terms stay small however
    /// large x is; at a = 1, where both factors vanish, it takes the limit.
    ///
    /// Returns NaN when the ₂F₁ series fails (see [`hyp2f1`]: a horizon so long that z is within
    /// about 1e-5 of 1, or parameters that put a pole in c), and for NaN inputs.
    pub fn expected_purchases(&self, horizon: f64, x: f64, t_x: f64, t: f64) -> f64 {
        if horizon == 0.0 {
            return 0.0;
        }
        let conditional = self.bracket_over_a_minus_1(horizon, x, t);
        conditional * self.p_alive(x, t_x, t)
    }

    /// E[X(horizon)]: the expected number of repeat purchases in the first `horizon` time units
    /// of a customer just acquired (eq. 9 of the paper):
    ///
    /// E = (a + b − 1) / (a − 1) · [1 − (α / (α + t))ʳ ₂F₁(r, b; a + b − 1; t / (α + t))],
    ///
    /// which is [`BgNbd::expected_purchases`] for x = tₓ = T = 0. NaN as there.
    pub fn expected_purchases_new(&self, horizon: f64) -> f64 {
        self.expected_purchases(horizon, 0.0, 0.0, 0.0)
    }

    /// (a + b + x − 1) / (a − 1) · [1 − (1 − z)ᵃ⁻¹ ₂F₁(a + b − 1 − r, a − 1; a + b + x − 1; z)].
    fn bracket_over_a_minus_1(&self, horizon: f64, x: f64, t: f64) -> f64 {
        /// Below this distance of a from 1 the quotient is 0/0 to rounding; the limit is taken as
        /// the mean of the quotients at a ± this step (error O(step²)).
        const NEAR_ONE: f64 = 1e-5;
        let at = |a: f64| -> f64 {
            let z = horizon / (self.alpha + t + horizon);
            let c = a + self.b + x - 1.0;
            match hyp2f1(a + self.b - 1.0 - self.r, a - 1.0, c, z) {
                Ok(f) => c / (a - 1.0) * (1.0 - (1.0 - z).powf(a - 1.0) * f),
                Err(_) => f64::NAN,
            }
        };
        if (self.a - 1.0).abs() < NEAR_ONE {
            0.5 * (at(1.0 - NEAR_ONE) + at(1.0 + NEAR_ONE))
        } else {
            at(self.a)
        }
    }
}

/// Most repeat purchases whose special-function terms are tabulated per evaluation; customers
/// beyond it get theirs computed on the spot.
const X_TABLE_MAX: usize = 100_000;

/// The largest repeat-purchase count in `customers`, as a table length.
fn table_len(customers: &[Rfm]) -> usize {
    let max_x = customers.iter().fold(0.0_f64, |m, c| m.max(c.x));
    (max_x as usize).min(X_TABLE_MAX) + 1
}

/// ln Γ(r + x), ln Γ(b + x), ln Γ(a + b + x), ψ(r + x), ψ(b + x), ψ(a + b + x).
fn x_terms(m: &BgNbd, x: f64) -> [f64; 6] {
    let (rx, bx, abx) = (m.r + x, m.b + x, m.a + m.b + x);
    [
        ln_gamma(rx),
        ln_gamma(bx),
        ln_gamma(abx),
        digamma(rx),
        digamma(bx),
        digamma(abx),
    ]
}

/// The terms of the log-likelihood that do not depend on the customer, and those that depend
/// only on x tabulated for x = 0, 1, … (counts are whole and usually small, so a likelihood over
/// many customers needs the special functions only once per distinct count).
struct Constants {
    ln_alpha: f64,
    ln_gamma_r: f64,
    ln_gamma_ab: f64,
    ln_gamma_b: f64,
    psi_r: f64,
    psi_ab: f64,
    psi_b: f64,
    by_x: Vec<[f64; 6]>,
}

impl Constants {
    fn new(m: &BgNbd, table_len: usize) -> Self {
        Constants {
            ln_alpha: m.alpha.ln(),
            ln_gamma_r: ln_gamma(m.r),
            ln_gamma_ab: ln_gamma(m.a + m.b),
            ln_gamma_b: ln_gamma(m.b),
            psi_r: digamma(m.r),
            psi_ab: digamma(m.a + m.b),
            psi_b: digamma(m.b),
            by_x: (0..table_len).map(|x| x_terms(m, x as f64)).collect(),
        }
    }

    fn x_terms(&self, m: &BgNbd, x: f64) -> [f64; 6] {
        let tabulated = if x >= 0.0 && x.fract() == 0.0 {
            self.by_x.get(x as usize)
        } else {
            None
        };
        match tabulated {
            Some(t) => *t,
            None => x_terms(m, x),
        }
    }
}

/// One customer's log-likelihood (eq. 6, in the A₁…A₄ arrangement of Hardie's note 004) and
/// its gradient with respect to (r, α, a, b).
///
/// ln L = A₁ + A₂ + ln(e^A₃ + 𝟙[x > 0] e^A₄) with
/// A₁ = ln Γ(r + x) − ln Γ(r) + r ln α,
/// A₂ = ln Γ(a + b) + ln Γ(b + x) − ln Γ(b) − ln Γ(a + b + x),
/// A₃ = −(r + x) ln(α + T),
/// A₄ = ln a − ln(b + x − 1) − (r + x) ln(α + tₓ).
fn customer_term(m: &BgNbd, k: &Constants, c: &Rfm, grad: &mut [f64; 4]) -> f64 {
    let x = c.x;
    let (r, alpha, a, b) = (m.r, m.alpha, m.a, m.b);
    let [lg_rx, lg_bx, lg_abx, psi_rx, psi_bx, psi_abx] = k.x_terms(m, x);
    let a1 = lg_rx - k.ln_gamma_r + r * k.ln_alpha;
    let a2 = k.ln_gamma_ab + lg_bx - k.ln_gamma_b - lg_abx;
    let ln_at = (alpha + c.t).ln();
    let a3 = -(r + x) * ln_at;
    // Softmax weights of the two branches: the share of the likelihood each contributes.
    let (lse, w3, w4, ln_atx) = if x > 0.0 {
        let ln_atx = (alpha + c.t_x).ln();
        let a4 = a.ln() - (b + x - 1.0).ln() - (r + x) * ln_atx;
        let top = a3.max(a4);
        let (e3, e4) = ((a3 - top).exp(), (a4 - top).exp());
        let sum = e3 + e4;
        (top + sum.ln(), e3 / sum, e4 / sum, ln_atx)
    } else {
        (a3, 1.0, 0.0, 0.0)
    };
    grad[0] = psi_rx - k.psi_r + k.ln_alpha - w3 * ln_at - w4 * ln_atx;
    grad[1] = r / alpha - (r + x) * (w3 / (alpha + c.t) + w4 / (alpha + c.t_x));
    grad[2] = k.psi_ab - psi_abx + if x > 0.0 { w4 / a } else { 0.0 };
    grad[3] =
        k.psi_ab + psi_bx - k.psi_b - psi_abx - if x > 0.0 { w4 / (b + x - 1.0) } else { 0.0 };
    a1 + a2 + lse
}

/// −(mean log-likelihood) + λ Σ θ², the objective of [`BgNbd::fit_with`].
struct NegLogLikelihood<'a> {
    customers: &'a [Rfm],
    penalizer: f64,
    table_len: usize,
}

impl NegLogLikelihood<'_> {
    fn evaluate(&self, theta: &[f64], grad: &mut [f64]) -> f64 {
        let m = BgNbd {
            r: theta[0],
            alpha: theta[1],
            a: theta[2],
            b: theta[3],
        };
        let consts = Constants::new(&m, self.table_len);
        let (ll, g) = sum_terms(self.customers, |c, g: &mut [f64; 4]| {
            customer_term(&m, &consts, c, g)
        });
        let n = self.customers.len() as f64;
        let penalty: f64 = theta.iter().map(|v| v * v).sum::<f64>() * self.penalizer;
        for i in 0..4 {
            grad[i] = -g[i] / n + 2.0 * self.penalizer * theta[i];
        }
        -ll / n + penalty
    }
}

impl Objective for NegLogLikelihood<'_> {
    fn value(&self, theta: &[f64]) -> f64 {
        let mut grad = [0.0; 4];
        self.evaluate(theta, &mut grad)
    }

    fn value_and_gradient(&self, theta: &[f64], grad: &mut [f64]) -> Option<f64> {
        Some(self.evaluate(theta, grad))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn model() -> BgNbd {
        BgNbd::new(0.243, 4.414, 0.793, 2.426).unwrap()
    }

    #[test]
    fn gradient_matches_finite_differences() {
        let customers = [
            Rfm {
                x: 0.0,
                t_x: 0.0,
                t: 38.86,
            },
            Rfm {
                x: 2.0,
                t_x: 30.43,
                t: 38.86,
            },
            Rfm {
                x: 7.0,
                t_x: 12.0,
                t: 31.0,
            },
        ];
        let objective = NegLogLikelihood {
            customers: &customers,
            penalizer: 0.01,
            table_len: 3,
        };
        let theta = [0.3, 5.0, 0.7, 2.5];
        let mut grad = [0.0; 4];
        objective.value_and_gradient(&theta, &mut grad);
        for i in 0..4 {
            let h = 1e-6 * theta[i];
            let mut up = theta;
            up[i] += h;
            let mut down = theta;
            down[i] -= h;
            let numeric = (objective.value(&up) - objective.value(&down)) / (2.0 * h);
            assert!(
                (grad[i] - numeric).abs() < 1e-7 * numeric.abs().max(1.0),
                "parameter {i}: analytic {} numeric {numeric}",
                grad[i]
            );
        }
    }

    #[test]
    fn p_alive_is_one_without_repeat_purchases_and_falls_with_silence() {
        let m = model();
        assert_eq!(m.p_alive(0.0, 0.0, 30.0), 1.0);
        let recent = m.p_alive(3.0, 29.0, 30.0);
        let silent = m.p_alive(3.0, 5.0, 30.0);
        assert!(recent > silent && silent > 0.0 && recent < 1.0);
    }

    #[test]
    fn expected_purchases_grow_with_the_horizon_and_agree_with_the_unconditional_form() {
        let m = model();
        let mut last = 0.0;
        for h in [1.0, 5.0, 20.0, 52.0, 200.0] {
            let e = m.expected_purchases(h, 4.0, 30.0, 38.0);
            assert!(e > last, "{h}: {e}");
            last = e;
        }
        // Eq. 9 evaluated directly, without Euler's transformation.
        let t = 39.0;
        let z = t / (m.alpha + t);
        let direct = (m.a + m.b - 1.0) / (m.a - 1.0)
            * (1.0
                - (m.alpha / (m.alpha + t)).powf(m.r)
                    * hyp2f1(m.r, m.b, m.a + m.b - 1.0, z).unwrap());
        let ours = m.expected_purchases_new(t);
        assert!((ours - direct).abs() < 1e-12 * direct, "{ours} vs {direct}");
    }

    #[test]
    fn the_limit_at_a_equal_to_one_is_continuous() {
        let m = |a: f64| BgNbd::new(0.5, 3.0, a, 2.0).unwrap();
        let at_one = m(1.0).expected_purchases(10.0, 3.0, 8.0, 12.0);
        let near = m(1.0 + 1e-3).expected_purchases(10.0, 3.0, 8.0, 12.0);
        assert!(at_one.is_finite());
        assert!((at_one - near).abs() < 1e-3 * near, "{at_one} vs {near}");
    }

    #[test]
    fn huge_frequencies_do_not_overflow() {
        // A customer buying about 50 times per unit and seen buying at the very end.
        let e = model().expected_purchases(52.0, 5000.0, 100.0, 100.0);
        assert!(e.is_finite() && e > 1000.0, "{e}");
    }

    #[test]
    fn fit_rejects_bad_input() {
        let bad_tx = [Rfm {
            x: 1.0,
            t_x: 5.0,
            t: 4.0,
        }];
        assert!(matches!(
            BgNbd::fit(&bad_tx),
            Err(ModelError::InvalidInput { row: 0, .. })
        ));
        let fractional = [Rfm {
            x: 1.5,
            t_x: 1.0,
            t: 4.0,
        }];
        assert!(BgNbd::fit(&fractional).is_err());
        let no_repeat = [Rfm {
            x: 0.0,
            t_x: 0.0,
            t: 4.0,
        }];
        assert!(matches!(
            BgNbd::fit(&no_repeat),
            Err(ModelError::InsufficientData(_))
        ));
        assert!(BgNbd::fit(&[]).is_err());
        assert!(BgNbd::new(0.0, 1.0, 1.0, 1.0).is_err());
    }
}
