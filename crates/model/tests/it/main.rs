//! Integration tests of portrait-model: the customer-value models on the CDNOW data set against
//! the published estimates and the Python package `lifetimes`, and the classifiers on seeded
//! synthetic data against known truths and scikit-learn.

mod cdnow;
mod gbt;
mod logistic;

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// A seeded generator for test data.
pub fn rng(seed: u64) -> ChaCha8Rng {
    ChaCha8Rng::seed_from_u64(seed)
}

/// A standard normal draw (Box–Muller).
pub fn normal(rng: &mut ChaCha8Rng) -> f64 {
    let u1: f64 = 1.0 - rng.random::<f64>();
    let u2: f64 = rng.random();
    (-2.0 * u1.ln()).sqrt() * (2.0 * std::f64::consts::PI * u2).cos()
}
