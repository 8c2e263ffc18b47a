//! 相似人群扩展 (lookalike): the parties most like a seed audience, by two methods.
//!
//! Every feature column is turned into its percentile rank among the parties that have a value
//! (ties share their mean rank; a missing value sits at the median) and standardised to mean 0
//! and standard deviation 1 over all parties, so that amounts with long tails, counts and shares
//! weigh alike. On that scale:
//!
//! - **centroid**: the seed's mean vector `c`; the dimensions where the seed departs from the
//!   population by at least [`LookalikeParams::min_departure`] standard deviations are kept, and
//!   a party's score is its projection on `c` there (`x·c / |c|`, in standard deviations).
//! - **classifier**: an L2-regularised logistic regression of seed (1) against a random sample of
//!   everyone else (0), the positive-unlabelled set-up of Elkan & Noto (2008); a party's score is
//!   the fitted probability, whose ranking is that of P(seed | x).
//!
//! [`holdout`] judges a method the way a marketer would: hide a random half of the seed, expand
//! the other half to as many parties as were hidden, and count the hidden ones found.
//! Explanations are the largest terms of a party's score: `w_j z_ij / |w|` of the centroid's
//! projection, `w_j z_ij` of the classifier's log-odds, with `z_ij` the party's standardised
//! value.

use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use crate::logistic::{LogisticParams, LogisticRegression};
use crate::matrix::Matrix;
use crate::rng::SplitMix64;
use crate::{ModelError, Result};

/// How the parties like the seed are found.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Method {
    Centroid,
    Classifier,
}

impl Method {
    pub const ALL: [Method; 2] = [Method::Centroid, Method::Classifier];

    pub fn code(self) -> &'static str {
        match self {
            Method::Centroid => "centroid",
            Method::Classifier => "classifier",
        }
    }
}

/// Parameters of a lookalike.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct LookalikeParams {
    /// Centroid: the least departure of the seed's mean from the population's, in standard
    /// deviations, for a dimension to count. Default 0.05.
    pub min_departure: f64,
    /// Classifier: most parties outside the seed sampled as the other class. Default 50,000.
    pub max_negatives: usize,
    /// Classifier: the L2 penalty on standardised coefficients. Default 1.0.
    pub l2: f64,
    /// Seed of the samples (negatives, held-out halves), so results repeat. Default 1.
    pub seed: u64,
    /// Explanations: the features named per party. Default 3.
    pub top_features: usize,
}

impl Default for LookalikeParams {
    fn default() -> Self {
        LookalikeParams {
            min_departure: 0.05,
            max_negatives: 50_000,
            l2: 1.0,
            seed: 1,
            top_features: 3,
        }
    }
}

/// Feature columns on the percentile-rank scale, standardised; constant columns dropped.
#[derive(Debug, Clone)]
pub struct Features {
    n: usize,
    /// Index into the caller's columns of each kept column.
    kept: Vec<usize>,
    columns: Vec<Vec<f32>>,
}

impl Features {
    /// Transforms `columns` (each one value per party, NaN for missing).
    ///
    /// # Errors
    /// [`ModelError::ShapeMismatch`] when the columns differ in length;
    /// [`ModelError::InsufficientData`] when no column varies.
    pub fn new(columns: &[&[f64]]) -> Result<Self> {
        let n = columns.first().map_or(0, |c| c.len());
        if let Some(c) = columns.iter().find(|c| c.len() != n) {
            return Err(ModelError::ShapeMismatch {
                what: "feature column (one value per party)",
                expected: n,
                found: c.len(),
            });
        }
        let transformed: Vec<Option<Vec<f32>>> =
            columns.par_iter().map(|c| rank_standardise(c)).collect();
        let mut kept = Vec::new();
        let mut out = Vec::new();
        for (j, t) in transformed.into_iter().enumerate() {
            if let Some(t) = t {
                kept.push(j);
                out.push(t);
            }
        }
        if out.is_empty() {
            return Err(ModelError::InsufficientData(
                "no feature varies across the parties".into(),
            ));
        }
        Ok(Features {
            n,
            kept,
            columns: out,
        })
    }

    /// Parties (rows).
    pub fn n(&self) -> usize {
        self.n
    }

    /// The caller's column index of each kept column.
    pub fn kept(&self) -> &[usize] {
        &self.kept
    }

    fn dim(&self) -> usize {
        self.columns.len()
    }

    fn value(&self, j: usize, i: usize) -> f64 {
        f64::from(self.columns[j][i])
    }
}

/// Percentile ranks of the non-missing values (mean rank for ties), missing at the median, then
/// mean 0 and standard deviation 1; `None` when the column does not vary.
fn rank_standardise(c: &[f64]) -> Option<Vec<f32>> {
    let mut order: Vec<u32> = (0..c.len() as u32)
        .filter(|&i| c[i as usize].is_finite())
        .collect();
    let valid = order.len();
    if valid == 0 {
        return None;
    }
    order.sort_unstable_by(|&a, &b| c[a as usize].total_cmp(&c[b as usize]));
    let mut q = vec![0.5f64; c.len()];
    let mut start = 0;
    while start < valid {
        let v = c[order[start] as usize];
        let mut end = start + 1;
        while end < valid && c[order[end] as usize] == v {
            end += 1;
        }
        // Ranks start..end share their mean; on (0, 1).
        let r = ((start + end - 1) as f64 / 2.0 + 0.5) / valid as f64;
        for &i in &order[start..end] {
            q[i as usize] = r;
        }
        start = end;
    }
    let n = c.len() as f64;
    let mean = q.iter().sum::<f64>() / n;
    let var = q.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / n;
    if var.sqrt() < 1e-9 {
        return None;
    }
    let sd = var.sqrt();
    Some(q.into_iter().map(|x| ((x - mean) / sd) as f32).collect())
}

/// A fitted lookalike: a weight per kept feature and how scores are formed.
#[derive(Debug, Clone)]
pub struct Scorer {
    pub method: Method,
    /// Per kept feature: the centroid (0 where it departs too little) or the coefficient.
    pub weights: Vec<f64>,
    intercept: f64,
    /// For the classifier: whether the fit met its tolerance.
    pub converged: bool,
}

/// One party of a lookalike.
#[derive(Debug, Clone, PartialEq)]
pub struct Scored {
    pub index: u32,
    /// Centroid: the projection on the seed's mean, in standard deviations; classifier:
    /// probability.
    pub score: f64,
    /// The kept-feature positions (into [`Features::kept`]) adding most to the score, with
    /// what each adds, largest first; only positive contributions.
    pub why: Vec<(usize, f64)>,
}

impl Scorer {
    /// Fits `method` to the parties of `seed` (indices below `features.n()`).
    ///
    /// # Errors
    /// [`ModelError::InsufficientData`] for an empty seed, a seed of everyone, a seed that does
    /// not differ from the population (centroid) or one under 10 parties (classifier).
    pub fn fit(
        features: &Features,
        seed: &[u32],
        method: Method,
        params: &LookalikeParams,
    ) -> Result<Scorer> {
        validate(features, seed, params)?;
        match method {
            Method::Centroid => {
                let k = seed.len() as f64;
                let mut weights: Vec<f64> = (0..features.dim())
                    .map(|j| {
                        seed.iter()
                            .map(|&i| features.value(j, i as usize))
                            .sum::<f64>()
                            / k
                    })
                    .collect();
                for w in &mut weights {
                    if w.abs() < params.min_departure {
                        *w = 0.0;
                    }
                }
                if weights.iter().all(|w| *w == 0.0) {
                    return Err(ModelError::InsufficientData(format!(
                        "the seed departs from the population by less than {} standard deviations on every feature",
                        params.min_departure
                    )));
                }
                Ok(Scorer {
                    method,
                    weights,
                    intercept: 0.0,
                    converged: true,
                })
            }
            Method::Classifier => {
                if seed.len() < 10 {
                    return Err(ModelError::InsufficientData(format!(
                        "the classifier needs a seed of at least 10 parties, found {}",
                        seed.len()
                    )));
                }
                let negatives =
                    sample_outside(features.n(), seed, params.max_negatives, params.seed);
                // A large seed is sampled as the others are, so a fit's cost is bounded by
                // `max_negatives`, not by the seed.
                let positives = sample_of(seed, params.max_negatives, params.seed ^ 0x9E37);
                let rows: Vec<u32> = positives.iter().chain(&negatives).copied().collect();
                let y: Vec<bool> = (0..rows.len()).map(|r| r < positives.len()).collect();
                let d = features.dim();
                let mut data = vec![0.0; rows.len() * d];
                for (r, &i) in rows.iter().enumerate() {
                    for j in 0..d {
                        data[r * d + j] = features.value(j, i as usize);
                    }
                }
                let x = Matrix::new(&data, rows.len(), d)?;
                let fit = LogisticRegression::fit(
                    x,
                    &y,
                    &LogisticParams {
                        l2: params.l2,
                        max_iter: 50,
                        tol: 1e-8,
                        max_seconds: Some(120.0),
                    },
                )?;
                Ok(Scorer {
                    method,
                    weights: fit.coefficients().to_vec(),
                    intercept: fit.intercept(),
                    converged: fit.converged(),
                })
            }
        }
    }

    /// The score of party `i`.
    pub fn score(&self, features: &Features, i: usize) -> f64 {
        let mut dot = self.intercept;
        for (j, w) in self.weights.iter().enumerate() {
            if *w != 0.0 {
                dot += w * features.value(j, i);
            }
        }
        match self.method {
            // How far the party lies in the seed's direction, in standard deviations: a party
            // further than the seed's mean on what sets the seed apart ranks higher, where a
            // cosine would rank a party barely off the population's centre as high.
            Method::Centroid => {
                let c = self.weights.iter().map(|w| w * w).sum::<f64>().sqrt();
                dot / c
            }
            Method::Classifier => 1.0 / (1.0 + (-dot).exp()),
        }
    }

    /// The `size` best-scoring parties among those `candidate` admits, best first (ties by
    /// index), with their explanations.
    pub fn top(
        &self,
        features: &Features,
        candidate: impl Fn(u32) -> bool + Sync,
        size: usize,
        params: &LookalikeParams,
    ) -> Vec<Scored> {
        let scores: Vec<(u32, f64)> = (0..features.n() as u32)
            .into_par_iter()
            .filter(|&i| candidate(i))
            .map(|i| (i, self.score(features, i as usize)))
            .collect();
        let mut scores = scores;
        let better = |a: &(u32, f64), b: &(u32, f64)| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0));
        if size < scores.len() {
            scores.select_nth_unstable_by(size, better);
            scores.truncate(size);
        }
        scores.sort_unstable_by(better);
        scores
            .into_iter()
            .map(|(i, score)| Scored {
                index: i,
                score,
                why: self.why(features, i as usize, params.top_features),
            })
            .collect()
    }

    fn why(&self, features: &Features, i: usize, k: usize) -> Vec<(usize, f64)> {
        // Centroid: terms of the projection, which they sum to; classifier: terms of the
        // log-odds.
        let unit = match self.method {
            Method::Centroid => self.weights.iter().map(|w| w * w).sum::<f64>().sqrt(),
            Method::Classifier => 1.0,
        };
        let mut parts: Vec<(usize, f64)> = self
            .weights
            .iter()
            .enumerate()
            .map(|(j, w)| (j, w * features.value(j, i) / unit))
            .filter(|(_, c)| *c > 0.0)
            .collect();
        parts.sort_unstable_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
        parts.truncate(k);
        parts
    }
}

fn validate(features: &Features, seed: &[u32], params: &LookalikeParams) -> Result<()> {
    if !(params.min_departure.is_finite() && params.min_departure >= 0.0) {
        return Err(ModelError::param(
            "min_departure",
            "must be finite and >= 0",
        ));
    }
    if params.max_negatives == 0 {
        return Err(ModelError::param("max_negatives", "cannot be 0"));
    }
    if seed.is_empty() {
        return Err(ModelError::InsufficientData("the seed is empty".into()));
    }
    if seed.windows(2).any(|w| w[0] >= w[1]) {
        return Err(ModelError::param(
            "seed",
            "must be strictly increasing party indices",
        ));
    }
    if let Some(&i) = seed.iter().find(|&&i| i as usize >= features.n()) {
        return Err(ModelError::input(
            i as usize,
            "seed",
            "is not a party of the features",
        ));
    }
    if seed.len() >= features.n() {
        return Err(ModelError::InsufficientData(
            "the seed holds every party: nobody is left to find".into(),
        ));
    }
    Ok(())
}

/// Up to `max` of `items`, drawn without replacement, in order.
fn sample_of(items: &[u32], max: usize, rng_seed: u64) -> Vec<u32> {
    let mut out = items.to_vec();
    if out.len() > max {
        let mut rng = SplitMix64::new(rng_seed);
        for k in 0..max {
            let j = k + rng.below(out.len() - k);
            out.swap(k, j);
        }
        out.truncate(max);
    }
    out.sort_unstable();
    out
}

/// Up to `max` indices below `n` outside the sorted `seed`, drawn without replacement.
fn sample_outside(n: usize, seed: &[u32], max: usize, rng_seed: u64) -> Vec<u32> {
    let mut sorted = seed.to_vec();
    sorted.sort_unstable();
    let mut outside: Vec<u32> = Vec::with_capacity(n - sorted.len());
    let mut s = sorted.iter().peekable();
    for i in 0..n as u32 {
        if s.peek() == Some(&&i) {
            s.next();
        } else {
            outside.push(i);
        }
    }
    if outside.len() <= max {
        return outside;
    }
    let mut rng = SplitMix64::new(rng_seed);
    for k in 0..max {
        let j = k + rng.below(outside.len() - k);
        outside.swap(k, j);
    }
    outside.truncate(max);
    outside.sort_unstable();
    outside
}

/// How well a method finds a hidden half of a seed.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Holdout {
    pub method: Method,
    /// Seed parties the method was fitted on.
    pub shown: usize,
    /// Seed parties hidden among the candidates; as many parties were selected.
    pub hidden: usize,
    /// Hidden parties among the selected ÷ hidden.
    pub recall: f64,
    /// What a random choice of as many candidates finds: hidden ÷ candidates.
    pub base_rate: f64,
}

/// Hides a random half of `seed`, fits `method` on the rest and selects as many parties as were
/// hidden among those `allowed` admits (minus the shown half); `seed` needs at least 2 parties.
///
/// # Errors
/// As [`Scorer::fit`] for the shown half.
pub fn holdout(
    features: &Features,
    seed: &[u32],
    allowed: impl Fn(u32) -> bool + Sync,
    method: Method,
    params: &LookalikeParams,
) -> Result<Holdout> {
    if seed.len() < 2 {
        return Err(ModelError::InsufficientData(
            "a held-out check needs a seed of at least 2 parties".into(),
        ));
    }
    let mut shuffled = seed.to_vec();
    shuffled.sort_unstable();
    let mut rng = SplitMix64::new(params.seed ^ 0x5EED_4A1F);
    for k in (1..shuffled.len()).rev() {
        let j = rng.below(k + 1);
        shuffled.swap(k, j);
    }
    let (shown, hidden) = shuffled.split_at(shuffled.len().div_ceil(2));
    let mut shown = shown.to_vec();
    shown.sort_unstable();
    let mut hidden_sorted = hidden.to_vec();
    hidden_sorted.sort_unstable();
    let scorer = Scorer::fit(features, &shown, method, params)?;
    let candidate = |i: u32| allowed(i) && shown.binary_search(&i).is_err();
    let candidates = (0..features.n() as u32).filter(|&i| candidate(i)).count();
    let hidden_allowed: Vec<u32> = hidden_sorted.into_iter().filter(|&i| allowed(i)).collect();
    let picked = scorer.top(features, &candidate, hidden_allowed.len(), params);
    let found = picked
        .iter()
        .filter(|s| hidden_allowed.binary_search(&s.index).is_ok())
        .count();
    let h = hidden_allowed.len();
    Ok(Holdout {
        method,
        shown: shown.len(),
        hidden: h,
        recall: if h == 0 { 0.0 } else { found as f64 / h as f64 },
        base_rate: if candidates == 0 {
            0.0
        } else {
            h as f64 / candidates as f64
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A population where the seed trait shows in two of six noisy features.
    fn world(n: usize, seed: u64) -> (Vec<Vec<f64>>, Vec<u32>) {
        let mut rng = SplitMix64::new(seed);
        let mut unit = || (rng.next_u64() >> 11) as f64 / (1u64 << 53) as f64;
        let mut cols = vec![vec![0.0; n]; 6];
        let mut trait_holders = Vec::new();
        for i in 0..n {
            let has = unit() < 0.1;
            if has {
                trait_holders.push(i as u32);
            }
            for (j, c) in cols.iter_mut().enumerate() {
                let noise = unit() + unit() + unit();
                // A long-tailed amount and a share carry the trait; the rest is noise.
                c[i] = match j {
                    0 => (noise + if has { 1.5 } else { 0.0 }).exp() * 100.0,
                    1 => (noise / 3.0 + if has { 0.3 } else { 0.0 }).min(1.0),
                    5 if unit() < 0.2 => f64::NAN,
                    _ => noise,
                };
            }
        }
        (cols, trait_holders)
    }

    #[test]
    fn ranks_are_standardised_and_ties_share_their_rank() {
        let z = rank_standardise(&[1.0, 5.0, 5.0, 10.0, f64::NAN]).unwrap();
        assert_eq!(z[1], z[2]);
        assert!(z[0] < z[1] && z[2] < z[3]);
        // The missing value sits at the median, the mean of the percentile ranks.
        assert!(z[4].abs() < 1e-6, "{z:?}");
        let mean: f32 = z.iter().sum::<f32>() / 5.0;
        let var: f32 = z.iter().map(|x| (x - mean).powi(2)).sum::<f32>() / 5.0;
        assert!(mean.abs() < 1e-6 && (var - 1.0).abs() < 1e-5);
        assert!(rank_standardise(&[3.0, 3.0, f64::NAN]).is_none());
    }

    #[test]
    fn both_methods_find_the_hidden_half_far_above_chance() {
        let (cols, seed) = world(20_000, 7);
        let refs: Vec<&[f64]> = cols.iter().map(Vec::as_slice).collect();
        let f = Features::new(&refs).unwrap();
        let p = LookalikeParams::default();
        for m in Method::ALL {
            let h = holdout(&f, &seed, |_| true, m, &p).unwrap();
            assert!(h.hidden > 900, "{h:?}");
            assert!(h.recall > 0.6 && h.recall > 5.0 * h.base_rate, "{h:?}");
        }
    }

    /// The classifier's choice is the naive one: score every candidate by the fitted model and
    /// sort; the explanation names the features that carry the trait.
    #[test]
    fn top_agrees_with_scoring_everyone_and_explains_by_the_trait() {
        let (cols, seed) = world(5_000, 11);
        let refs: Vec<&[f64]> = cols.iter().map(Vec::as_slice).collect();
        let f = Features::new(&refs).unwrap();
        let p = LookalikeParams::default();
        for m in Method::ALL {
            let s = Scorer::fit(&f, &seed, m, &p).unwrap();
            let top = s.top(&f, |i| seed.binary_search(&i).is_err(), 100, &p);
            let mut all: Vec<(u32, f64)> = (0..5_000u32)
                .filter(|i| seed.binary_search(i).is_err())
                .map(|i| (i, s.score(&f, i as usize)))
                .collect();
            all.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
            let want: Vec<u32> = all[..100].iter().map(|x| x.0).collect();
            let got: Vec<u32> = top.iter().map(|x| x.index).collect();
            assert_eq!(got, want, "{m:?}");
            let carriers = top
                .iter()
                .filter(|x| x.why.first().is_some_and(|w| w.0 <= 1))
                .count();
            assert!(
                carriers > 90,
                "{m:?}: {carriers} of 100 explained by the trait"
            );
        }
    }

    #[test]
    fn bad_seeds_are_refused_with_a_reason() {
        let (cols, _) = world(100, 3);
        let refs: Vec<&[f64]> = cols.iter().map(Vec::as_slice).collect();
        let f = Features::new(&refs).unwrap();
        let p = LookalikeParams::default();
        assert!(Scorer::fit(&f, &[], Method::Centroid, &p).is_err());
        assert!(Scorer::fit(&f, &[1, 2, 3], Method::Classifier, &p).is_err());
        let all: Vec<u32> = (0..100).collect();
        assert!(Scorer::fit(&f, &all, Method::Centroid, &p).is_err());
        assert!(Scorer::fit(&f, &[100], Method::Centroid, &p).is_err());
    }
}
