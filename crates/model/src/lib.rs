//! Statistical models of portrait, in plain Rust with no query engine underneath: the customer-value
//! models (BG/NBD for repeat purchases, Gamma-Gamma for spend, and the discounted customer lifetime
//! value built from them), the classifiers of churn and response (L2-regularised logistic
//! regression, histogram gradient-boosted trees), the metrics that judge them, and the special
//! functions and optimiser they rest on.
//!
//! Every fit is deterministic: the same data and parameters (and seed, where there is one) give
//! the same model on any number of threads.

pub mod bgnbd;
pub mod calibrate;
mod error;
pub mod gamma_gamma;
pub mod gbt;
pub mod logistic;
pub mod lookalike;
pub mod matrix;
pub mod metrics;
pub mod optim;
mod rng;
pub mod special;

use serde::{Deserialize, Serialize};

pub use bgnbd::{BgNbd, Rfm};
pub use calibrate::Calibrator;
pub use error::{ModelError, Result};
pub use gamma_gamma::{Discounting, GammaGamma, Spend};
pub use gbt::{GbtClassifier, GbtParams};
pub use logistic::{LogisticParams, LogisticRegression};
pub use matrix::Matrix;

/// A model fitted by maximum likelihood, with the diagnostics of its fit.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Fit<M> {
    /// The fitted parameters.
    pub model: M,
    /// Log-likelihood of the data at the fitted parameters, summed over the customers used
    /// (without the penalty).
    pub log_likelihood: f64,
    /// Customers the fit used.
    pub n: usize,
    /// Optimiser iterations.
    pub iterations: usize,
    /// Whether the optimiser met its gradient test.
    pub converged: bool,
    /// The method that produced the estimate.
    pub method: optim::Method,
    /// Whether the time budget ([`optim::Options::max_seconds`]) ended the fit.
    #[serde(default)]
    pub timed_out: bool,
}

/// Options of the maximum-likelihood fits of [`BgNbd`] and [`GammaGamma`].
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct FitOptions {
    /// L2 penalty λ: the fit minimises −(mean log-likelihood) + λ Σ θᵢ² over the model's
    /// parameters θ on their natural scale, as the `penalizer_coef` of the Python package
    /// `lifetimes` does. Default 0 (plain maximum likelihood); small values such as 0.001 keep
    /// the parameters finite on data that cannot identify them.
    pub penalizer: f64,
    /// The optimiser's stopping rules.
    pub optim: optim::Options,
}

impl Default for FitOptions {
    fn default() -> Self {
        FitOptions {
            penalizer: 0.0,
            optim: optim::Options::default(),
        }
    }
}

impl FitOptions {
    fn validate(&self) -> Result<()> {
        if !(self.penalizer.is_finite() && self.penalizer >= 0.0) {
            return Err(ModelError::param("penalizer", "must be finite and >= 0"));
        }
        Ok(())
    }
}

/// Customers per parallel task when a likelihood is summed over many customers; the partial sums
/// are added in task order, so the result does not depend on the number of threads.
const LIKELIHOOD_CHUNK: usize = 2048;

/// Sums a per-customer log-likelihood term and its gradient over `items`.
///
/// The items are summed chunk by chunk and the chunk sums added in order, on many threads when
/// there are many items; either way the rounding is the same.
pub(crate) fn sum_terms<T, const P: usize>(
    items: &[T],
    term: impl Fn(&T, &mut [f64; P]) -> f64 + Sync,
) -> (f64, [f64; P])
where
    T: Sync,
{
    use rayon::prelude::*;
    let chunk_sum = |chunk: &[T]| {
        let mut value = 0.0;
        let mut grad = [0.0; P];
        let mut g = [0.0; P];
        for item in chunk {
            value += term(item, &mut g);
            for (acc, v) in grad.iter_mut().zip(&g) {
                *acc += v;
            }
        }
        (value, grad)
    };
    let partials: Vec<(f64, [f64; P])> = if items.len() >= 4 * LIKELIHOOD_CHUNK {
        items.par_chunks(LIKELIHOOD_CHUNK).map(chunk_sum).collect()
    } else {
        items.chunks(LIKELIHOOD_CHUNK).map(chunk_sum).collect()
    };
    partials
        .into_iter()
        .fold((0.0, [0.0; P]), |(value, mut grad), (v, g)| {
            for (acc, x) in grad.iter_mut().zip(&g) {
                *acc += x;
            }
            (value + v, grad)
        })
}
