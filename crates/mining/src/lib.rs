//! Data mining of portrait, in plain Rust with no query engine underneath: the preprocessing of
//! model inputs (missing values, capping, encoding, scaling, collinearity), customer segmentation
//! (客户分群: k-means, mini-batch k-means, hierarchical clustering, Gaussian mixtures,
//! k-prototypes, and the measures that choose and judge them), and association rules (关联规则:
//! FP-Growth).
//!
//! Parameters come as plain structs that `validate()` into checked types before a fit, in the
//! manner of linfa (`KMeansParams` → `KMeansValidParams`). Every fit is deterministic: the same
//! data, parameters and seed give the same model on any number of threads.

pub mod distance;
mod error;
pub mod fpgrowth;
pub mod gmm;
pub mod hierarchical;
pub mod kmeans;
pub mod kprototypes;
pub mod matrix;
pub mod metrics;
pub mod preprocess;

pub use distance::Distance;

/// 时间预算 — the moment an iterative fit must stop by: it then keeps its best estimate so far
/// and says so. `None` waits for ever.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Deadline(Option<std::time::Instant>);

impl Deadline {
    /// `seconds` from now; no deadline for `None`.
    pub(crate) fn after(seconds: Option<f64>) -> Self {
        // Budgets beyond what a clock can hold (`1e300` seconds) are no budget at all.
        Deadline(seconds.and_then(|s| {
            let d = std::time::Duration::try_from_secs_f64(s).ok()?;
            std::time::Instant::now().checked_add(d)
        }))
    }

    /// Whether the moment has come.
    pub(crate) fn passed(&self) -> bool {
        self.0.is_some_and(|at| std::time::Instant::now() >= at)
    }
}

/// Checks a `max_seconds` parameter: absent, or finite and positive.
pub(crate) fn check_seconds(max_seconds: Option<f64>) -> Result<()> {
    match max_seconds {
        Some(s) if !(s.is_finite() && s > 0.0) => {
            Err(MiningError::param("max_seconds", "must be finite and > 0"))
        }
        _ => Ok(()),
    }
}
pub use error::{MiningError, Result};
pub use fpgrowth::{
    FpGrowthParams, FpGrowthValidParams, FrequentItemsets, Itemset, Rule, association_rules,
};
pub use gmm::{CovarianceType, Gmm, GmmParams, GmmValidParams};
pub use hierarchical::{
    Dendrogram, Hierarchical, HierarchicalParams, HierarchicalValidParams, Linkage, Merge, linkage,
};
pub use kmeans::{
    ChooseKParams, KChoice, KCriterion, KMeans, KMeansParams, KMeansValidParams, KScore,
    MiniBatchKMeansParams, MiniBatchKMeansValidParams, choose_k,
};
pub use kprototypes::{Codes, KPrototypes, KPrototypesParams, KPrototypesValidParams};
pub use matrix::{Matrix, sample_indices};
pub use metrics::{
    adjusted_rand_index, calinski_harabasz, cluster_lift, silhouette, silhouette_sampled,
    silhouette_with, standardized_mean_differences,
};
pub use preprocess::{
    CappingParams, CappingValidParams, Caps, DroppedInput, FillStrategy, FillValues, OneHotEncoder,
    OrdinalEncoder, Scaler, Scaling, VifSelection, correlation_matrix, percentile, select_by_vif,
    vif,
};
