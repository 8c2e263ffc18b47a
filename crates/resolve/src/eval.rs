//! Quality of a clustering against a ground truth: pairwise and whole-cluster precision,
//! recall and F1.
//!
//! Pairwise: a pair of records is predicted when both sit in one predicted cluster and true
//! when both sit in one true cluster. Cluster-level: a predicted cluster is correct when it
//! equals a true cluster exactly.

use std::hash::Hash;

use ahash::AHashMap;
use serde::Serialize;

/// Precision, recall and F1 with the counts behind them.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Scores {
    pub precision: f64,
    pub recall: f64,
    pub f1: f64,
    /// Pairs (or clusters) both predicted and true.
    pub tp: u64,
    pub predicted: u64,
    pub truth: u64,
}

impl Scores {
    fn new(tp: u64, predicted: u64, truth: u64) -> Self {
        let precision = if predicted == 0 {
            1.0
        } else {
            tp as f64 / predicted as f64
        };
        let recall = if truth == 0 {
            1.0
        } else {
            tp as f64 / truth as f64
        };
        let f1 = if precision + recall == 0.0 {
            0.0
        } else {
            2.0 * precision * recall / (precision + recall)
        };
        Self {
            precision,
            recall,
            f1,
            tp,
            predicted,
            truth,
        }
    }
}

fn pairs(n: u64) -> u64 {
    n * n.saturating_sub(1) / 2
}

fn pair_count<K: Hash + Eq>(keys: impl Iterator<Item = K>) -> u64 {
    let mut counts: AHashMap<K, u64> = AHashMap::new();
    for k in keys {
        *counts.entry(k).or_default() += 1;
    }
    counts.values().map(|&n| pairs(n)).sum()
}

/// Pairwise scores of `predicted[i]` against `truth[i]` (cluster labels per record).
pub fn pairwise<P: Hash + Eq, T: Hash + Eq>(predicted: &[P], truth: &[T]) -> Scores {
    assert_eq!(predicted.len(), truth.len(), "one label of each per record");
    let tp = pair_count(predicted.iter().zip(truth));
    Scores::new(tp, pair_count(predicted.iter()), pair_count(truth.iter()))
}

/// Pairwise scores counting only pairs of records that belong to different entities of
/// `within` (e.g. household pairs of different persons: pairs of one person's own customer
/// numbers say nothing about households).
pub fn pairwise_across<P: Hash + Eq, T: Hash + Eq, W: Hash + Eq>(
    predicted: &[P],
    truth: &[T],
    within: &[W],
) -> Scores {
    let same_entity_pred = pair_count(predicted.iter().zip(within));
    let same_entity_truth = pair_count(truth.iter().zip(within));
    let same_entity_both = pair_count(predicted.iter().zip(truth).zip(within));
    let tp = pair_count(predicted.iter().zip(truth)) - same_entity_both;
    Scores::new(
        tp,
        pair_count(predicted.iter()) - same_entity_pred,
        pair_count(truth.iter()) - same_entity_truth,
    )
}

/// Cluster-level scores: the share of predicted clusters that equal a true cluster, and of
/// true clusters that are predicted exactly.
pub fn clusters<P: Hash + Eq + Clone, T: Hash + Eq + Clone>(
    predicted: &[P],
    truth: &[T],
) -> Scores {
    let mut pred_size: AHashMap<&P, u64> = AHashMap::new();
    let mut true_size: AHashMap<&T, u64> = AHashMap::new();
    let mut both: AHashMap<(&P, &T), u64> = AHashMap::new();
    for (p, t) in predicted.iter().zip(truth) {
        *pred_size.entry(p).or_default() += 1;
        *true_size.entry(t).or_default() += 1;
        *both.entry((p, t)).or_default() += 1;
    }
    let exact = both
        .iter()
        .filter(|((p, t), n)| pred_size[p] == **n && true_size[t] == **n)
        .count() as u64;
    Scores::new(exact, pred_size.len() as u64, true_size.len() as u64)
}

#[cfg(test)]
mod tests {
    use rand::{Rng, SeedableRng};
    use rand_chacha::ChaCha8Rng;

    use super::*;

    /// Brute force over all pairs on random labels.
    #[test]
    fn pairwise_equals_brute_force() {
        let mut rng = ChaCha8Rng::seed_from_u64(3);
        for _ in 0..20 {
            let n = rng.random_range(1..80);
            let p: Vec<u8> = (0..n).map(|_| rng.random_range(0..12)).collect();
            let t: Vec<u8> = (0..n).map(|_| rng.random_range(0..12)).collect();
            let w: Vec<u8> = (0..n).map(|_| rng.random_range(0..30)).collect();
            let (mut tp, mut pp, mut tt) = (0, 0, 0);
            let (mut atp, mut app, mut att) = (0, 0, 0);
            for i in 0..n {
                for j in i + 1..n {
                    let (sp, st) = (p[i] == p[j], t[i] == t[j]);
                    tp += u64::from(sp && st);
                    pp += u64::from(sp);
                    tt += u64::from(st);
                    if w[i] != w[j] {
                        atp += u64::from(sp && st);
                        app += u64::from(sp);
                        att += u64::from(st);
                    }
                }
            }
            let s = pairwise(&p, &t);
            assert_eq!((s.tp, s.predicted, s.truth), (tp, pp, tt));
            let a = pairwise_across(&p, &t, &w);
            assert_eq!((a.tp, a.predicted, a.truth), (atp, app, att));
        }
    }

    #[test]
    fn cluster_scores() {
        let s = clusters(&[1, 1, 2, 3, 3], &["a", "a", "b", "b", "c"]);
        // {0,1} is exact; {2} and {3,4} are not.
        assert_eq!((s.tp, s.predicted, s.truth), (1, 3, 3));
    }
}
