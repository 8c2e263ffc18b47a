//! Statistical models of portrait, in plain Rust with no query engine underneath: the customer-value
//! models (BG/NBD for repeat purchases, Gamma-Gamma for spend, and the discounted customer lifetime
//! value built from them), the classifiers of churn and response (L2-regularised logistic
//! regression, histogram gradient-boosted trees), the metrics that judge them, and the special
//! functions and optimiser they rest on.
//!
//! Every fit is deterministic: the same data and parameters (and seed, where there is one) give
//! the same model on any number of threads.

mod error;
pub mod matrix;
pub mod metrics;
pub mod optim;
pub mod special;

pub use error::{ModelError, Result};
pub use matrix::Matrix;
