//! The Gamma-Gamma model of spend per transaction (Fader, Hardie & Lee 2005, "RFM and CLV: Using
//! Iso-Value Curves for Customer Base Analysis", *Journal of Marketing Research* 42(4), 415–430;
//! Fader & Hardie 2013, "The Gamma-Gamma Model of Monetary Value", note 025), and the discounted
//! customer lifetime value (客户终身价值) it gives together with [`BgNbd`].
//!
//! A customer's transaction values are Gamma(p, ν) around a mean p/ν that is the customer's own;
//! across customers ν ~ Gamma(q, γ). The model assumes spend is independent of purchase timing.
//! Here γ is written `v`, as in the Python package `lifetimes`.

use serde::{Deserialize, Serialize};

use crate::bgnbd::BgNbd;
use crate::optim::{self, Objective};
use crate::special::{digamma, ln_gamma};
use crate::{Fit, FitOptions, ModelError, Result, sum_terms};

/// 消费金额摘要 — one customer's spend: the number of repeat transactions and their mean value.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Spend {
    /// Repeat transactions (the `x` of [`crate::Rfm`]), a non-negative whole number.
    pub x: f64,
    /// Mean value of those transactions (z̄ in the note); ignored when `x` is 0.
    pub m: f64,
}

/// The three parameters of the Gamma-Gamma model.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct GammaGamma {
    /// Shape of each transaction's value around the customer's mean.
    pub p: f64,
    /// Shape of the Gamma distribution of ν across customers.
    pub q: f64,
    /// Scale γ of the Gamma distribution of ν across customers, in money units.
    pub v: f64,
}

/// How a customer lifetime value discounts the future.
///
/// The horizon is `periods` steps of `period_length` time units each (the unit of the
/// [`BgNbd`] fit); cash in step i is discounted by (1 + `rate_per_period`)ⁱ. With a model fitted
/// in weeks, a monthly rate and a 12-month horizon are `periods: 12, rate_per_period: 0.01,
/// period_length: 4.345`, which is what `lifetimes`' `customer_lifetime_value(..., time=12,
/// discount_rate=0.01, freq="W")` computes.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Discounting {
    /// Number of discounting steps.
    pub periods: usize,
    /// Discount rate per step, e.g. 0.01 for 1 %.
    pub rate_per_period: f64,
    /// Length of one step in the model's time unit.
    pub period_length: f64,
}

impl GammaGamma {
    /// A model with the given parameters.
    ///
    /// # Errors
    /// [`ModelError::InvalidParameter`] unless every parameter is finite and positive.
    pub fn new(p: f64, q: f64, v: f64) -> Result<Self> {
        for (name, val) in [("p", p), ("q", q), ("v", v)] {
            if !(val.is_finite() && val > 0.0) {
                return Err(ModelError::param(name, "must be finite and > 0"));
            }
        }
        Ok(GammaGamma { p, q, v })
    }

    /// Fits the model by maximum likelihood with the default [`FitOptions`].
    ///
    /// # Errors
    /// As [`GammaGamma::fit_with`].
    pub fn fit(customers: &[Spend]) -> Result<Fit<GammaGamma>> {
        Self::fit_with(customers, &FitOptions::default())
    }

    /// Fits p, q and v by maximum likelihood on the customers with `x > 0` (the others carry no
    /// spend information and are skipped): minimises λ Σ θ² − (mean log-likelihood, eq. 1a of
    /// the note), by BFGS on ln θ with the analytic gradient. [`Fit::n`] counts the customers
    /// used.
    ///
    /// # Errors
    /// [`ModelError::InvalidInput`] for a customer whose `x` is not a whole number ≥ 0 or, when
    /// `x > 0`, whose `m` is not finite and positive; [`ModelError::InsufficientData`] when no
    /// customer has `x > 0`; [`ModelError::InvalidParameter`] for invalid options.
    pub fn fit_with(customers: &[Spend], options: &FitOptions) -> Result<Fit<GammaGamma>> {
        options.validate()?;
        let mut used = Vec::with_capacity(customers.len());
        for (row, c) in customers.iter().enumerate() {
            if !(c.x.is_finite() && c.x >= 0.0 && c.x.fract() == 0.0) {
                return Err(ModelError::input(
                    row,
                    "x",
                    "must be a non-negative whole number",
                ));
            }
            if c.x == 0.0 {
                continue;
            }
            if !(c.m.is_finite() && c.m > 0.0) {
                return Err(ModelError::input(
                    row,
                    "m",
                    "must be finite and > 0 when x > 0",
                ));
            }
            used.push(*c);
        }
        if used.is_empty() {
            return Err(ModelError::InsufficientData(
                "no customer has a repeat transaction to learn spend from".into(),
            ));
        }
        // Start where the population mean p v / (q − 1) equals the observed mean spend.
        let mean_m = used.iter().map(|c| c.m).sum::<f64>() / used.len() as f64;
        let objective = NegLogLikelihood {
            customers: &used,
            penalizer: options.penalizer,
            table_len: table_len(&used),
        };
        let found = optim::minimize_positive(&objective, &[1.0, 2.0, mean_m], &options.optim)?;
        let model = GammaGamma {
            p: found.x[0],
            q: found.x[1],
            v: found.x[2],
        };
        Ok(Fit {
            model,
            log_likelihood: model.total_log_likelihood(&used),
            n: used.len(),
            iterations: found.iterations,
            converged: found.converged,
            method: found.method,
            timed_out: found.timed_out,
        })
    }

    /// ln f(m | p, q, γ; x) of one customer with x > 0 transactions of mean value m (eq. 1a of
    /// the note):
    ///
    /// f = Γ(px + q) / (Γ(px) Γ(q)) · γ^q x^{px} m^{px−1} / (γ + x m)^{px+q}.
    pub fn log_likelihood(&self, x: f64, m: f64) -> f64 {
        let mut grad = [0.0; 3];
        customer_term(self, &Constants::new(self, 0), &Spend { x, m }, &mut grad)
    }

    /// The log-likelihood summed over `customers` (all of which must have `x > 0`).
    pub fn total_log_likelihood(&self, customers: &[Spend]) -> f64 {
        let consts = Constants::new(self, table_len(customers));
        sum_terms(customers, |c, g: &mut [f64; 3]| {
            customer_term(self, &consts, c, g)
        })
        .0
    }

    /// E[M | x, m]: the expected value of the customer's future transactions (eq. 5 of the note):
    ///
    /// E = (q − 1) / (px + q − 1) · p γ / (q − 1) + px / (px + q − 1) · m
    ///   = p (γ + x m) / (px + q − 1),
    ///
    /// a weighted mean of the population mean and the customer's own mean, which counts for more
    /// the more transactions it rests on. For x = 0 it is the population mean,
    /// [`GammaGamma::mean_value`].
    pub fn expected_average_value(&self, x: f64, m: f64) -> f64 {
        let m = if x == 0.0 { 0.0 } else { m };
        self.p * (self.v + x * m) / (self.p * x + self.q - 1.0)
    }

    /// E[M] = p γ / (q − 1), the mean transaction value across customers; +∞ when q ≤ 1 (the
    /// population mean does not exist).
    pub fn mean_value(&self) -> f64 {
        if self.q <= 1.0 {
            f64::INFINITY
        } else {
            self.p * self.v / (self.q - 1.0)
        }
    }

    /// Discounted expected value of the customer's purchases over the next `horizon_periods`
    /// periods of one time unit of the BG/NBD fit each (weeks, if it was fitted in weeks):
    ///
    /// CLV = Σᵢ₌₁ᴴ (E[Y(i)] − E[Y(i − 1)]) · E[M | x, m] / (1 + d)ⁱ
    ///
    /// with E[Y(·)] from [`BgNbd::expected_purchases`] and E[M | x, m] from
    /// [`GammaGamma::expected_average_value`]. Multiply by a margin to turn value into profit.
    /// For periods of another length (months over a weekly model) use
    /// [`GammaGamma::clv_discounted`].
    #[allow(clippy::too_many_arguments)]
    pub fn clv(
        &self,
        bgnbd: &BgNbd,
        x: f64,
        t_x: f64,
        t: f64,
        m: f64,
        horizon_periods: usize,
        discount_rate_per_period: f64,
    ) -> f64 {
        let discounting = Discounting {
            periods: horizon_periods,
            rate_per_period: discount_rate_per_period,
            period_length: 1.0,
        };
        self.clv_discounted(bgnbd, x, t_x, t, m, &discounting)
    }

    /// The customer lifetime value of [`GammaGamma::clv`] with periods of any length: step i
    /// covers model time ((i − 1)·L, i·L] and is discounted by (1 + d)ⁱ. NaN when an expected
    /// purchase count is (see [`BgNbd::expected_purchases`]).
    pub fn clv_discounted(
        &self,
        bgnbd: &BgNbd,
        x: f64,
        t_x: f64,
        t: f64,
        m: f64,
        discounting: &Discounting,
    ) -> f64 {
        let value = self.expected_average_value(x, m);
        let step = discounting.period_length;
        let growth = 1.0 + discounting.rate_per_period;
        let mut previous = 0.0;
        let mut discount = 1.0;
        let mut total = 0.0;
        for i in 1..=discounting.periods {
            let cumulative = bgnbd.expected_purchases(i as f64 * step, x, t_x, t);
            discount /= growth;
            total += (cumulative - previous) * value * discount;
            previous = cumulative;
        }
        total
    }
}

/// Most transaction counts whose special-function terms are tabulated per evaluation.
const X_TABLE_MAX: usize = 100_000;

/// The largest transaction count in `customers`, as a table length.
fn table_len(customers: &[Spend]) -> usize {
    let max_x = customers.iter().fold(0.0_f64, |m, c| m.max(c.x));
    (max_x as usize).min(X_TABLE_MAX) + 1
}

/// ln Γ(px + q) − ln Γ(px), ψ(px + q), ψ(px) and ln x: everything that depends on the customer
/// only through x.
fn x_terms(model: &GammaGamma, x: f64) -> [f64; 4] {
    let px = model.p * x;
    [
        ln_gamma(px + model.q) - ln_gamma(px),
        digamma(px + model.q),
        digamma(px),
        x.ln(),
    ]
}

/// Per-evaluation constants: ln Γ(q), ψ(q), ln γ, and [`x_terms`] for x = 0, 1, ….
struct Constants {
    ln_gamma_q: f64,
    psi_q: f64,
    ln_v: f64,
    by_x: Vec<[f64; 4]>,
}

impl Constants {
    fn new(model: &GammaGamma, table_len: usize) -> Self {
        Constants {
            ln_gamma_q: ln_gamma(model.q),
            psi_q: digamma(model.q),
            ln_v: model.v.ln(),
            by_x: (0..table_len).map(|x| x_terms(model, x as f64)).collect(),
        }
    }

    fn x_terms(&self, model: &GammaGamma, x: f64) -> [f64; 4] {
        let tabulated = if x >= 0.0 && x.fract() == 0.0 {
            self.by_x.get(x as usize)
        } else {
            None
        };
        match tabulated {
            Some(t) => *t,
            None => x_terms(model, x),
        }
    }
}

/// One customer's log-likelihood (eq. 1a of the note) and its gradient with respect to
/// (p, q, γ):
///
/// ∂/∂p = x [ψ(px + q) − ψ(px) + ln x + ln m − ln(γ + x m)],
/// ∂/∂q = ψ(px + q) − ψ(q) + ln γ − ln(γ + x m),
/// ∂/∂γ = q / γ − (px + q) / (γ + x m).
fn customer_term(model: &GammaGamma, k: &Constants, c: &Spend, grad: &mut [f64; 3]) -> f64 {
    let GammaGamma { p, q, v } = *model;
    let (x, m) = (c.x, c.m);
    let px = p * x;
    let [ln_gamma_ratio, psi_pxq, psi_px, ln_x] = k.x_terms(model, x);
    let ln_m = m.ln();
    let ln_total = (v + x * m).ln();
    grad[0] = x * (psi_pxq - psi_px + ln_x + ln_m - ln_total);
    grad[1] = psi_pxq - k.psi_q + k.ln_v - ln_total;
    grad[2] = q / v - (px + q) / (v + x * m);
    ln_gamma_ratio - k.ln_gamma_q + q * k.ln_v + px * ln_x + (px - 1.0) * ln_m - (px + q) * ln_total
}

/// −(mean log-likelihood) + λ Σ θ², the objective of [`GammaGamma::fit_with`].
struct NegLogLikelihood<'a> {
    customers: &'a [Spend],
    penalizer: f64,
    table_len: usize,
}

impl NegLogLikelihood<'_> {
    fn evaluate(&self, theta: &[f64], grad: &mut [f64]) -> f64 {
        let model = GammaGamma {
            p: theta[0],
            q: theta[1],
            v: theta[2],
        };
        let consts = Constants::new(&model, self.table_len);
        let (ll, g) = sum_terms(self.customers, |c, g: &mut [f64; 3]| {
            customer_term(&model, &consts, c, g)
        });
        let n = self.customers.len() as f64;
        for i in 0..3 {
            grad[i] = -g[i] / n + 2.0 * self.penalizer * theta[i];
        }
        -ll / n + self.penalizer * theta.iter().map(|t| t * t).sum::<f64>()
    }
}

impl Objective for NegLogLikelihood<'_> {
    fn value(&self, theta: &[f64]) -> f64 {
        let mut grad = [0.0; 3];
        self.evaluate(theta, &mut grad)
    }

    fn value_and_gradient(&self, theta: &[f64], grad: &mut [f64]) -> Option<f64> {
        Some(self.evaluate(theta, grad))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gradient_matches_finite_differences() {
        let customers = [
            Spend { x: 1.0, m: 11.77 },
            Spend { x: 2.0, m: 22.35 },
            Spend { x: 9.0, m: 48.0 },
        ];
        let objective = NegLogLikelihood {
            customers: &customers,
            penalizer: 0.001,
            table_len: 3,
        };
        let theta = [6.0, 3.5, 15.0];
        let mut grad = [0.0; 3];
        objective.value_and_gradient(&theta, &mut grad);
        for i in 0..3 {
            let h = 1e-6 * theta[i];
            let (mut up, mut down) = (theta, theta);
            up[i] += h;
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
    fn expected_value_shrinks_towards_the_population_mean() {
        let gg = GammaGamma::new(6.25, 3.74, 15.44).unwrap();
        let population = gg.mean_value();
        assert!((gg.expected_average_value(0.0, 123.0) - population).abs() < 1e-12);
        let one = gg.expected_average_value(1.0, 100.0);
        let many = gg.expected_average_value(50.0, 100.0);
        assert!(population < one && one < many && many < 100.0);
    }

    #[test]
    fn clv_without_discounting_is_value_times_purchases() {
        let bg = BgNbd::new(0.243, 4.414, 0.793, 2.426).unwrap();
        let gg = GammaGamma::new(6.25, 3.74, 15.44).unwrap();
        let clv = gg.clv(&bg, 2.0, 30.43, 38.86, 22.35, 10, 0.0);
        let want =
            bg.expected_purchases(10.0, 2.0, 30.43, 38.86) * gg.expected_average_value(2.0, 22.35);
        assert!((clv - want).abs() < 1e-12 * want);
        assert!(gg.clv(&bg, 2.0, 30.43, 38.86, 22.35, 10, 0.05) < clv);
    }

    #[test]
    fn fit_skips_customers_without_repeat_purchases_and_checks_the_rest() {
        let only_zero = [Spend { x: 0.0, m: 0.0 }];
        assert!(matches!(
            GammaGamma::fit(&only_zero),
            Err(ModelError::InsufficientData(_))
        ));
        let bad = [Spend { x: 0.0, m: 0.0 }, Spend { x: 2.0, m: -1.0 }];
        assert!(matches!(
            GammaGamma::fit(&bad),
            Err(ModelError::InvalidInput { row: 1, .. })
        ));
    }
}
