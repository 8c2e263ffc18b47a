//! Gradient-boosted decision trees for binary classification (梯度提升树), histogram-based.
//!
//! Each tree is a second-order (Newton) step on the log loss (Friedman 2001, "Greedy Function
//! Approximation: A Gradient Boosting Machine"; Chen & Guestrin 2016, "XGBoost", eqs. 6–7): with
//! gᵢ = pᵢ − yᵢ and hᵢ = pᵢ(1 − pᵢ), a leaf holding rows I gets weight −Σg / (Σh + λ), and a
//! split of I into L and R gains
//!
//! ½ [G_L² / (H_L + λ) + G_R² / (H_R + λ) − G_I² / (H_I + λ)].
//!
//! Inputs are first cut into at most `n_bins` quantile bins per feature, so a split search is a
//! scan of a histogram (Ke et al. 2017, "LightGBM"); the larger child's histogram is the parent's
//! minus the smaller child's. Missing values (NaN) have a bin of their own and each split learns
//! which side they go to. Histograms are built for all features in parallel, each feature
//! summed in row order, so a fit is the same on any number of threads.

use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use crate::logistic::sigmoid;
use crate::matrix::Matrix;
use crate::rng::SplitMix64;
use crate::{ModelError, Result};

/// Parameters of a boosted-trees fit.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct GbtParams {
    /// Number of trees. Default 200.
    pub n_trees: usize,
    /// Depth of each tree (a depth-d tree has at most 2ᵈ leaves). Default 4.
    pub max_depth: usize,
    /// Shrinkage applied to every leaf weight. Default 0.1.
    pub learning_rate: f64,
    /// Fewest training rows a leaf may hold. Default 20.
    pub min_samples_leaf: usize,
    /// Share of rows, drawn without replacement, that each tree is grown on. Default 1.0.
    pub subsample: f64,
    /// Most bins per feature (2 to 255). Default 64.
    pub n_bins: usize,
    /// L2 penalty λ on leaf weights. Default 1.0.
    pub l2: f64,
    /// Seed of the row sampling. Default 0.
    pub seed: u64,
    /// Wall-clock budget of the fit in seconds: when it runs out no more trees are grown and
    /// [`GbtClassifier::timed_out`] says so. Default none.
    #[serde(default)]
    pub max_seconds: Option<f64>,
}

impl Default for GbtParams {
    fn default() -> Self {
        GbtParams {
            n_trees: 200,
            max_depth: 4,
            learning_rate: 0.1,
            min_samples_leaf: 20,
            subsample: 1.0,
            n_bins: 64,
            l2: 1.0,
            seed: 0,
            max_seconds: None,
        }
    }
}

/// Bin index of a missing value.
const MISSING: u8 = u8::MAX;

/// Smallest gain worth a split: below it a split only fits rounding.
const MIN_GAIN: f64 = 1e-12;

impl GbtParams {
    fn validate(&self) -> Result<()> {
        if self.n_trees == 0 {
            return Err(ModelError::param("n_trees", "cannot be 0"));
        }
        if !(1..=16).contains(&self.max_depth) {
            return Err(ModelError::param("max_depth", "must be in [1, 16]"));
        }
        if !(self.learning_rate > 0.0 && self.learning_rate <= 1.0) {
            return Err(ModelError::param("learning_rate", "must be in (0, 1]"));
        }
        if self.min_samples_leaf == 0 {
            return Err(ModelError::param("min_samples_leaf", "cannot be 0"));
        }
        if !(self.subsample > 0.0 && self.subsample <= 1.0) {
            return Err(ModelError::param("subsample", "must be in (0, 1]"));
        }
        if !(2..=255).contains(&self.n_bins) {
            return Err(ModelError::param("n_bins", "must be in [2, 255]"));
        }
        if !(self.l2.is_finite() && self.l2 >= 0.0) {
            return Err(ModelError::param("l2", "must be finite and >= 0"));
        }
        if self
            .max_seconds
            .is_some_and(|s| !(s.is_finite() && s > 0.0))
        {
            return Err(ModelError::param("max_seconds", "must be finite and > 0"));
        }
        Ok(())
    }

    /// Fits `n_trees` trees to the rows of `x` and their labels `y`. NaN inputs are missing
    /// values; ±∞ is refused.
    ///
    /// # Errors
    /// [`ModelError::ShapeMismatch`] when `y` has not one label per row;
    /// [`ModelError::InvalidInput`] for an infinite input; [`ModelError::InsufficientData`]
    /// when there are no rows or columns, or only one class; [`ModelError::InvalidParameter`]
    /// for invalid parameters.
    pub fn fit(&self, x: Matrix<'_>, y: &[bool]) -> Result<GbtClassifier> {
        self.validate()?;
        if y.len() != x.n_rows() {
            return Err(ModelError::ShapeMismatch {
                what: "labels (one per row)",
                expected: x.n_rows(),
                found: y.len(),
            });
        }
        if x.n_cols() == 0 {
            return Err(ModelError::InsufficientData("no feature columns".into()));
        }
        if u32::try_from(x.n_rows()).is_err() {
            return Err(ModelError::param("rows", "must be fewer than 2^32"));
        }
        let positives = y.iter().filter(|v| **v).count();
        if positives == 0 || positives == y.len() {
            return Err(ModelError::InsufficientData(
                "boosted trees need both positive and negative labels".into(),
            ));
        }
        if let Some(i) = x.data().iter().position(|v| v.is_infinite()) {
            return Err(ModelError::input(
                i / x.n_cols(),
                format!("column {}", i % x.n_cols()),
                "cannot be infinite (NaN marks a missing value)",
            ));
        }
        let binned = Binned::of(x, self.n_bins);
        let n = x.n_rows();
        let base_rate = positives as f64 / n as f64;
        let base_score = (base_rate / (1.0 - base_rate)).ln();
        let targets: Vec<f64> = y.iter().map(|v| f64::from(u8::from(*v))).collect();
        let mut margin = vec![base_score; n];
        let mut grad = vec![0.0; n];
        let mut hess = vec![0.0; n];
        let mut trees = Vec::with_capacity(self.n_trees);
        let mut gains = vec![0.0; x.n_cols()];
        let sample_size = ((self.subsample * n as f64).round() as usize).clamp(1, n);
        let mut rng = SplitMix64::new(self.seed);
        let mut pool: Vec<u32> = (0..n as u32).collect();
        let deadline = crate::optim::deadline_after(self.max_seconds);
        let mut timed_out = false;
        for _ in 0..self.n_trees {
            if !trees.is_empty() && crate::optim::passed(deadline) {
                timed_out = true;
                break;
            }
            grad.par_iter_mut()
                .zip(hess.par_iter_mut())
                .zip(margin.par_iter().zip(&targets))
                .for_each(|((g, h), (f, t))| {
                    let p = sigmoid(*f);
                    *g = p - t;
                    *h = (p * (1.0 - p)).max(1e-16);
                });
            let rows = if sample_size == n {
                pool.clone()
            } else {
                // Partial Fisher–Yates: the first `sample_size` places get a uniform sample.
                for i in 0..sample_size {
                    let j = i + rng.below(n - i);
                    pool.swap(i, j);
                }
                let mut rows = pool[..sample_size].to_vec();
                rows.sort_unstable();
                rows
            };
            let grower = Grower {
                binned: &binned,
                grad: &grad,
                hess: &hess,
                params: self,
            };
            let tree = grower.grow(rows, &mut gains);
            margin.par_iter_mut().enumerate().for_each(|(i, f)| {
                *f += tree.value_binned(&binned, i);
            });
            trees.push(tree);
        }
        Ok(GbtClassifier {
            base_score,
            trees,
            n_features: x.n_cols(),
            gains,
            params: *self,
            timed_out,
        })
    }
}

/// The training inputs cut into bins, feature-major.
struct Binned {
    n_rows: usize,
    /// `bins[f * n_rows + i]`: the bin of row i in feature f, or [`MISSING`].
    bins: Vec<u8>,
    /// Per feature, the increasing cut points: a value v is in bin k when
    /// `cuts[k - 1] < v <= cuts[k]`, so `v <= cuts[k]` exactly when its bin is at most k.
    cuts: Vec<Vec<f64>>,
}

impl Binned {
    fn of(x: Matrix<'_>, n_bins: usize) -> Self {
        let n = x.n_rows();
        let per_feature: Vec<(Vec<f64>, Vec<u8>)> = (0..x.n_cols())
            .into_par_iter()
            .map(|f| {
                let column: Vec<f64> = (0..n).map(|i| x.get(i, f)).collect();
                let cuts = quantile_cuts(&column, n_bins);
                let bins = column
                    .iter()
                    .map(|v| {
                        if v.is_nan() {
                            MISSING
                        } else {
                            cuts.partition_point(|c| c < v) as u8
                        }
                    })
                    .collect();
                (cuts, bins)
            })
            .collect();
        let mut bins = Vec::with_capacity(n * x.n_cols());
        let mut cuts = Vec::with_capacity(x.n_cols());
        for (c, b) in per_feature {
            cuts.push(c);
            bins.extend_from_slice(&b);
        }
        Binned {
            n_rows: n,
            bins,
            cuts,
        }
    }

    fn bin(&self, feature: usize, row: usize) -> u8 {
        self.bins[feature * self.n_rows + row]
    }
}

/// Cut points that split the non-missing values of a column into at most `n_bins` bins of about
/// equal count, placed midway between neighbouring distinct values. A column with at most
/// `n_bins` distinct values gets one bin per value.
fn quantile_cuts(column: &[f64], n_bins: usize) -> Vec<f64> {
    let mut values: Vec<f64> = column.iter().copied().filter(|v| !v.is_nan()).collect();
    values.sort_by(f64::total_cmp);
    let mut distinct: Vec<(f64, usize)> = Vec::new();
    for v in values.iter().copied() {
        match distinct.last_mut() {
            Some((last, count)) if *last == v => *count += 1,
            _ => distinct.push((v, 1)),
        }
    }
    let midpoint = |a: f64, b: f64| {
        let m = a + (b - a) / 2.0;
        if m < b { m } else { a }
    };
    let mut cuts = Vec::new();
    if distinct.len() <= n_bins {
        for w in distinct.windows(2) {
            cuts.push(midpoint(w[0].0, w[1].0));
        }
        return cuts;
    }
    let total = values.len() as f64;
    let mut seen = 0usize;
    let mut next = 1usize;
    for w in distinct.windows(2) {
        seen += w[0].1;
        // Cut after this value once the running count reaches the next quantile.
        if seen as f64 >= next as f64 * total / n_bins as f64 {
            cuts.push(midpoint(w[0].0, w[1].0));
            while next < n_bins && seen as f64 >= next as f64 * total / n_bins as f64 {
                next += 1;
            }
            if cuts.len() == n_bins - 1 {
                break;
            }
        }
    }
    cuts.dedup();
    cuts
}

/// Sums of gradient, Hessian and rows in one histogram bin.
#[derive(Debug, Clone, Copy, Default)]
struct BinSum {
    g: f64,
    h: f64,
    n: u32,
}

impl BinSum {
    fn add(&mut self, other: &BinSum) {
        self.g += other.g;
        self.h += other.h;
        self.n += other.n;
    }

    fn minus(&self, other: &BinSum) -> BinSum {
        BinSum {
            g: self.g - other.g,
            h: self.h - other.h,
            n: self.n - other.n,
        }
    }
}

/// The best split found for a node.
#[derive(Debug, Clone, Copy)]
struct Candidate {
    feature: usize,
    rule: Rule,
    gain: f64,
}

struct Grower<'a> {
    binned: &'a Binned,
    grad: &'a [f64],
    hess: &'a [f64],
    params: &'a GbtParams,
}

impl Grower<'_> {
    /// Histogram slots per feature: the bins and the missing bin last.
    fn stride(&self) -> usize {
        self.params.n_bins + 1
    }

    fn grow(&self, rows: Vec<u32>, gains: &mut [f64]) -> Tree {
        let mut tree = Tree { nodes: Vec::new() };
        let hist = self.histogram(&rows);
        self.grow_node(&mut tree, rows, hist, 0, gains);
        tree
    }

    /// Per-feature histograms of `rows`, features in parallel, each summed in row order.
    fn histogram(&self, rows: &[u32]) -> Vec<BinSum> {
        let stride = self.stride();
        let n_features = self.binned.cuts.len();
        let mut hist = vec![BinSum::default(); stride * n_features];
        hist.par_chunks_mut(stride)
            .enumerate()
            .for_each(|(f, slots)| {
                let column =
                    &self.binned.bins[f * self.binned.n_rows..(f + 1) * self.binned.n_rows];
                for &row in rows {
                    let row = row as usize;
                    let b = column[row];
                    let slot = if b == MISSING {
                        stride - 1
                    } else {
                        usize::from(b)
                    };
                    let s = &mut slots[slot];
                    s.g += self.grad[row];
                    s.h += self.hess[row];
                    s.n += 1;
                }
            });
        hist
    }

    fn leaf_weight(&self, total: &BinSum) -> f64 {
        -total.g / (total.h + self.params.l2) * self.params.learning_rate
    }

    fn score(&self, s: &BinSum) -> f64 {
        s.g * s.g / (s.h + self.params.l2)
    }

    /// Grows the subtree of `rows` and returns its node index.
    fn grow_node(
        &self,
        tree: &mut Tree,
        rows: Vec<u32>,
        hist: Vec<BinSum>,
        depth: usize,
        gains: &mut [f64],
    ) -> u32 {
        let stride = self.stride();
        let mut total = BinSum::default();
        for s in &hist[..stride] {
            total.add(s);
        }
        let index = tree.nodes.len() as u32;
        let min_leaf = self.params.min_samples_leaf;
        let best = if depth < self.params.max_depth && rows.len() >= 2 * min_leaf {
            self.best_split(&hist, &total)
        } else {
            None
        };
        let Some(best) = best else {
            tree.nodes.push(Node::Leaf {
                value: self.leaf_weight(&total),
            });
            return index;
        };
        gains[best.feature] += best.gain;
        tree.nodes.push(Node::Leaf { value: 0.0 });
        let column = best.feature;
        let (left_rows, right_rows): (Vec<u32>, Vec<u32>) = rows.iter().partition(|&&r| {
            best.rule
                .goes_left_binned(self.binned.bin(column, r as usize))
        });
        drop(rows);
        // Build the smaller child's histogram; the larger one is the parent's minus it.
        let (small, large_is_left) = if left_rows.len() <= right_rows.len() {
            (&left_rows, false)
        } else {
            (&right_rows, true)
        };
        let small_hist = self.histogram(small);
        let large_hist: Vec<BinSum> = hist
            .iter()
            .zip(&small_hist)
            .map(|(p, s)| p.minus(s))
            .collect();
        drop(hist);
        let (left_hist, right_hist) = if large_is_left {
            (large_hist, small_hist)
        } else {
            (small_hist, large_hist)
        };
        let left = self.grow_node(tree, left_rows, left_hist, depth + 1, gains);
        let right = self.grow_node(tree, right_rows, right_hist, depth + 1, gains);
        tree.nodes[index as usize] = Node::Split {
            feature: best.feature as u32,
            rule: best.rule,
            gain: best.gain,
            left,
            right,
        };
        index
    }

    /// The split of highest gain over all features; ties go to the lower feature and cut.
    fn best_split(&self, hist: &[BinSum], total: &BinSum) -> Option<Candidate> {
        let stride = self.stride();
        let per_feature: Vec<Option<Candidate>> = hist
            .par_chunks(stride)
            .enumerate()
            .map(|(f, slots)| self.best_split_of_feature(f, slots, total))
            .collect();
        let mut best: Option<Candidate> = None;
        for c in per_feature.into_iter().flatten() {
            if best.is_none_or(|b| c.gain > b.gain) {
                best = Some(c);
            }
        }
        best
    }

    fn best_split_of_feature(
        &self,
        feature: usize,
        slots: &[BinSum],
        total: &BinSum,
    ) -> Option<Candidate> {
        let stride = self.stride();
        let min_leaf = self.params.min_samples_leaf as u32;
        let missing = slots[stride - 1];
        let present = total.minus(&missing);
        let parent = self.score(total);
        let mut best: Option<Candidate> = None;
        let mut consider = |left: BinSum, rule: Rule| {
            let right = total.minus(&left);
            if left.n < min_leaf || right.n < min_leaf {
                return;
            }
            let gain = 0.5 * (self.score(&left) + self.score(&right) - parent);
            if gain > MIN_GAIN && best.is_none_or(|b| gain > b.gain) {
                best = Some(Candidate {
                    feature,
                    rule,
                    gain,
                });
            }
        };
        let mut below = BinSum::default();
        for (k, (slot, &threshold)) in slots.iter().zip(&self.binned.cuts[feature]).enumerate() {
            below.add(slot);
            if missing.n == 0 {
                // No missing value to learn from: send future ones with the majority.
                let above = present.minus(&below);
                let missing_left = below.n >= above.n;
                consider(
                    below,
                    Rule::LessOrEqual {
                        threshold,
                        bin: k as u8,
                        missing_left,
                    },
                );
            } else {
                consider(
                    below,
                    Rule::LessOrEqual {
                        threshold,
                        bin: k as u8,
                        missing_left: false,
                    },
                );
                let mut with_missing = below;
                with_missing.add(&missing);
                consider(
                    with_missing,
                    Rule::LessOrEqual {
                        threshold,
                        bin: k as u8,
                        missing_left: true,
                    },
                );
            }
        }
        if missing.n > 0 && present.n > 0 {
            consider(missing, Rule::IsMissing);
        }
        best
    }
}

/// How a split node sends a row left.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "kind")]
pub enum Rule {
    /// Left when the value is at most `threshold`; a missing value goes left when `missing_left`.
    LessOrEqual {
        /// The cut point.
        threshold: f64,
        /// The training bin the cut closes (bins ≤ this one go left).
        bin: u8,
        /// Where a missing value goes.
        missing_left: bool,
    },
    /// Left when the value is missing, right otherwise.
    IsMissing,
}

impl Rule {
    fn goes_left(&self, value: f64) -> bool {
        match *self {
            Rule::LessOrEqual {
                threshold,
                missing_left,
                ..
            } => {
                if value.is_nan() {
                    missing_left
                } else {
                    value <= threshold
                }
            }
            Rule::IsMissing => value.is_nan(),
        }
    }

    fn goes_left_binned(&self, b: u8) -> bool {
        match *self {
            Rule::LessOrEqual {
                bin, missing_left, ..
            } => {
                if b == MISSING {
                    missing_left
                } else {
                    b <= bin
                }
            }
            Rule::IsMissing => b == MISSING,
        }
    }
}

/// A node of a tree.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Node {
    /// A split on one feature.
    Split {
        /// Column index of the feature.
        feature: u32,
        /// Which rows go left.
        rule: Rule,
        /// The split's gain in the training objective.
        gain: f64,
        /// Node index of the left child.
        left: u32,
        /// Node index of the right child.
        right: u32,
    },
    /// A leaf: its value is added to the log-odds (learning rate already applied).
    Leaf {
        /// Contribution to the log-odds.
        value: f64,
    },
}

/// One regression tree on the log-odds scale; node 0 is the root.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Tree {
    /// The nodes, parents before children.
    pub nodes: Vec<Node>,
}

impl Tree {
    fn value(&self, row: &[f64]) -> f64 {
        let mut at = 0;
        loop {
            match self.nodes[at] {
                Node::Leaf { value } => return value,
                Node::Split {
                    feature,
                    rule,
                    left,
                    right,
                    ..
                } => {
                    at = if rule.goes_left(row[feature as usize]) {
                        left
                    } else {
                        right
                    } as usize;
                }
            }
        }
    }

    fn value_binned(&self, binned: &Binned, row: usize) -> f64 {
        let mut at = 0;
        loop {
            match self.nodes[at] {
                Node::Leaf { value } => return value,
                Node::Split {
                    feature,
                    rule,
                    left,
                    right,
                    ..
                } => {
                    at = if rule.goes_left_binned(binned.bin(feature as usize, row)) {
                        left
                    } else {
                        right
                    } as usize;
                }
            }
        }
    }
}

/// A fitted boosted-trees classifier.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GbtClassifier {
    /// Log-odds of the training base rate: every prediction starts here.
    base_score: f64,
    trees: Vec<Tree>,
    n_features: usize,
    /// Total split gain per feature.
    gains: Vec<f64>,
    params: GbtParams,
    #[serde(default)]
    timed_out: bool,
}

impl GbtClassifier {
    /// Fits with the given parameters; the same as [`GbtParams::fit`].
    ///
    /// # Errors
    /// As [`GbtParams::fit`].
    pub fn fit(x: Matrix<'_>, y: &[bool], params: &GbtParams) -> Result<Self> {
        params.fit(x, y)
    }

    /// Whether the time budget ([`GbtParams::max_seconds`]) stopped the fit before
    /// `n_trees` trees; [`GbtClassifier::n_trees`] tells how many it grew.
    pub fn timed_out(&self) -> bool {
        self.timed_out
    }

    /// Trees grown.
    pub fn n_trees(&self) -> usize {
        self.trees.len()
    }

    /// Log-odds for every row of `x` (NaN marks a missing value).
    ///
    /// # Errors
    /// [`ModelError::ShapeMismatch`] when `x` has a different number of columns than the
    /// training data.
    pub fn predict_margin(&self, x: Matrix<'_>) -> Result<Vec<f64>> {
        if x.n_cols() != self.n_features {
            return Err(ModelError::ShapeMismatch {
                what: "input columns",
                expected: self.n_features,
                found: x.n_cols(),
            });
        }
        Ok((0..x.n_rows())
            .into_par_iter()
            .map(|i| {
                let row = x.row(i);
                self.trees
                    .iter()
                    .fold(self.base_score, |f, t| f + t.value(row))
            })
            .collect())
    }

    /// P(y = 1) for every row of `x` (NaN marks a missing value).
    ///
    /// # Errors
    /// As [`GbtClassifier::predict_margin`].
    pub fn predict_proba(&self, x: Matrix<'_>) -> Result<Vec<f64>> {
        let mut margin = self.predict_margin(x)?;
        for m in &mut margin {
            *m = sigmoid(*m);
        }
        Ok(margin)
    }

    /// Each feature's share of the total split gain (summing to 1; all 0 when no tree split).
    pub fn feature_importance(&self) -> Vec<f64> {
        let total: f64 = self.gains.iter().sum();
        if total > 0.0 {
            self.gains.iter().map(|g| g / total).collect()
        } else {
            vec![0.0; self.gains.len()]
        }
    }

    /// The trees, in the order they were grown.
    pub fn trees(&self) -> &[Tree] {
        &self.trees
    }

    /// Number of input columns.
    pub fn n_features(&self) -> usize {
        self.n_features
    }

    /// The parameters the model was fitted with.
    pub fn params(&self) -> &GbtParams {
        &self.params
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cuts_separate_values_and_bins_agree_with_thresholds() {
        let column: Vec<f64> = (0..1000).map(|i| f64::from(i % 97) * 0.5).collect();
        let cuts = quantile_cuts(&column, 16);
        assert!(cuts.len() <= 15 && cuts.len() >= 10, "{cuts:?}");
        assert!(cuts.windows(2).all(|w| w[0] < w[1]));
        let few = quantile_cuts(&[3.0, 1.0, 2.0, 2.0, f64::NAN], 64);
        assert_eq!(few, vec![1.5, 2.5]);
        // A cut at bin k sends a raw value left exactly when its bin is at most k.
        for v in &column {
            let b = cuts.partition_point(|c| c < v);
            for (k, c) in cuts.iter().enumerate() {
                assert_eq!(*v <= *c, b <= k);
            }
        }
    }

    #[test]
    fn a_heavy_value_does_not_break_the_quantiles() {
        let mut column = vec![0.0; 900];
        column.extend((0..100).map(f64::from));
        let cuts = quantile_cuts(&column, 8);
        assert!(cuts.windows(2).all(|w| w[0] < w[1]));
        assert!(cuts.len() <= 7);
    }

    #[test]
    fn rejects_bad_parameters_and_input() {
        let data = [1.0, 2.0, 3.0, 4.0];
        let x = Matrix::new(&data, 4, 1).unwrap();
        let y = [false, false, true, true];
        let bad = |p: GbtParams| p.fit(x, &y).unwrap_err();
        let d = GbtParams::default();
        assert!(matches!(
            bad(GbtParams {
                learning_rate: 0.0,
                ..d
            }),
            ModelError::InvalidParameter {
                name: "learning_rate",
                ..
            }
        ));
        assert!(matches!(
            bad(GbtParams { n_bins: 300, ..d }),
            ModelError::InvalidParameter { name: "n_bins", .. }
        ));
        assert!(matches!(
            bad(GbtParams {
                subsample: 1.5,
                ..d
            }),
            ModelError::InvalidParameter {
                name: "subsample",
                ..
            }
        ));
        let inf = [1.0, f64::INFINITY, 3.0, 4.0];
        let x = Matrix::new(&inf, 4, 1).unwrap();
        assert!(matches!(
            d.fit(x, &y),
            Err(ModelError::InvalidInput { row: 1, .. })
        ));
    }
}
