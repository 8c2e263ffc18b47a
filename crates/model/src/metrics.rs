//! Metrics of a binary classifier's scores: ranking (ROC AUC, precision at the top), calibration
//! (the calibration table), and proper scoring rules (Brier score, log loss).

use serde::{Deserialize, Serialize};

use crate::{ModelError, Result};

fn check_lengths(scores: &[f64], labels: &[bool]) -> Result<()> {
    if scores.len() != labels.len() {
        return Err(ModelError::ShapeMismatch {
            what: "labels (one per score)",
            expected: scores.len(),
            found: labels.len(),
        });
    }
    if scores.is_empty() {
        return Err(ModelError::InsufficientData("no scores".into()));
    }
    if let Some(row) = scores.iter().position(|s| s.is_nan()) {
        return Err(ModelError::input(row, "score", "cannot be NaN"));
    }
    Ok(())
}

fn check_probabilities(probs: &[f64], labels: &[bool]) -> Result<()> {
    check_lengths(probs, labels)?;
    if let Some(row) = probs.iter().position(|p| !(0.0..=1.0).contains(p)) {
        return Err(ModelError::input(row, "probability", "must be in [0, 1]"));
    }
    Ok(())
}

/// Row indices sorted by score, descending (ties in row order).
fn by_score_descending(scores: &[f64]) -> Vec<usize> {
    let mut order: Vec<usize> = (0..scores.len()).collect();
    order.sort_by(|&i, &j| scores[j].total_cmp(&scores[i]));
    order
}

/// Area under the ROC curve: the probability that a random positive scores above a random
/// negative, ties counting one half. Computed as the Mann–Whitney U statistic with tied scores
/// given their average rank (Hanley & McNeil 1982), in O(n log n).
///
/// # Errors
/// [`ModelError::ShapeMismatch`] when the lengths differ; [`ModelError::InvalidInput`] for a NaN
/// score; [`ModelError::InsufficientData`] when there are no scores or only one class.
pub fn roc_auc(scores: &[f64], labels: &[bool]) -> Result<f64> {
    check_lengths(scores, labels)?;
    let positives = labels.iter().filter(|l| **l).count();
    let negatives = labels.len() - positives;
    if positives == 0 || negatives == 0 {
        return Err(ModelError::InsufficientData(
            "ROC AUC needs both positive and negative labels".into(),
        ));
    }
    let mut order: Vec<usize> = (0..scores.len()).collect();
    order.sort_by(|&i, &j| scores[i].total_cmp(&scores[j]));
    let mut positive_rank_sum = 0.0;
    let mut start = 0;
    while start < order.len() {
        let mut end = start + 1;
        while end < order.len() && scores[order[end]] == scores[order[start]] {
            end += 1;
        }
        // Ranks start..end (1-based start+1..=end) share their mean.
        let mean_rank = (start + 1 + end) as f64 / 2.0;
        let tied_positives = order[start..end].iter().filter(|&&i| labels[i]).count();
        positive_rank_sum += mean_rank * tied_positives as f64;
        start = end;
    }
    let (p, n) = (positives as f64, negatives as f64);
    Ok((positive_rank_sum - p * (p + 1.0) / 2.0) / (p * n))
}

/// Precision among the top `fraction` of rows by score (e.g. 0.1 for the top decile): the share of
/// positives among the ⌈fraction · n⌉ highest scores. When tied scores straddle the cut, the tied
/// group contributes its positive rate times the places it fills, which is the expectation over
/// any order of the ties.
///
/// # Errors
/// [`ModelError::InvalidParameter`] unless `fraction` is in (0, 1]; otherwise as [`roc_auc`]
/// except that one class is allowed.
pub fn precision_at(scores: &[f64], labels: &[bool], fraction: f64) -> Result<f64> {
    if !(fraction > 0.0 && fraction <= 1.0) {
        return Err(ModelError::param("fraction", "must be in (0, 1]"));
    }
    check_lengths(scores, labels)?;
    let k = ((fraction * scores.len() as f64).ceil() as usize).clamp(1, scores.len());
    let order = by_score_descending(scores);
    let mut hits = 0.0;
    let mut start = 0;
    while start < k {
        let mut end = start + 1;
        while end < order.len() && scores[order[end]] == scores[order[start]] {
            end += 1;
        }
        let tied_positives = order[start..end].iter().filter(|&&i| labels[i]).count() as f64;
        let taken = end.min(k) - start;
        hits += tied_positives * taken as f64 / (end - start) as f64;
        start = end;
    }
    Ok(hits / k as f64)
}

/// One bin of a calibration table.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct CalibrationBin {
    /// Lower edge of the bin's predicted probabilities (inclusive).
    pub lower: f64,
    /// Upper edge (exclusive, except 1 in the last bin).
    pub upper: f64,
    /// Rows in the bin.
    pub count: usize,
    /// Mean predicted probability of those rows.
    pub mean_predicted: f64,
    /// Share of those rows that are positive.
    pub observed_rate: f64,
}

/// The calibration table (reliability diagram): predicted probabilities cut into `n_bins` equal
/// bins of [0, 1], and for each non-empty bin the mean prediction against the observed positive
/// rate. A calibrated model has the two close in every bin.
///
/// # Errors
/// [`ModelError::InvalidParameter`] when `n_bins` is 0; [`ModelError::InvalidInput`] for a
/// probability outside [0, 1]; [`ModelError::ShapeMismatch`] when the lengths differ.
pub fn calibration(probs: &[f64], labels: &[bool], n_bins: usize) -> Result<Vec<CalibrationBin>> {
    if n_bins == 0 {
        return Err(ModelError::param("n_bins", "cannot be 0"));
    }
    check_probabilities(probs, labels)?;
    let mut sums = vec![(0usize, 0.0_f64, 0usize); n_bins];
    for (p, y) in probs.iter().zip(labels) {
        let bin = ((p * n_bins as f64) as usize).min(n_bins - 1);
        let s = &mut sums[bin];
        s.0 += 1;
        s.1 += p;
        s.2 += usize::from(*y);
    }
    Ok(sums
        .iter()
        .enumerate()
        .filter(|(_, s)| s.0 > 0)
        .map(|(i, &(count, sum_p, positives))| CalibrationBin {
            lower: i as f64 / n_bins as f64,
            upper: (i + 1) as f64 / n_bins as f64,
            count,
            mean_predicted: sum_p / count as f64,
            observed_rate: positives as f64 / count as f64,
        })
        .collect())
}

/// The Brier score: mean squared difference between the predicted probability and the outcome
/// (Brier 1950). 0 is perfect; always predicting the base rate π scores π(1 − π).
///
/// # Errors
/// As [`calibration`].
pub fn brier_score(probs: &[f64], labels: &[bool]) -> Result<f64> {
    check_probabilities(probs, labels)?;
    let sum: f64 = probs
        .iter()
        .zip(labels)
        .map(|(p, y)| (p - f64::from(u8::from(*y))).powi(2))
        .sum();
    Ok(sum / probs.len() as f64)
}

/// Probabilities are clipped to [ε, 1 − ε] before taking logarithms, as scikit-learn does.
const LOG_LOSS_EPS: f64 = 1e-15;

/// Log loss (binary cross-entropy): −mean(y ln p + (1 − y) ln(1 − p)), with p clipped to
/// [1e-15, 1 − 1e-15] so a confident mistake costs about 34.5 rather than infinity.
///
/// # Errors
/// As [`calibration`].
pub fn log_loss(probs: &[f64], labels: &[bool]) -> Result<f64> {
    check_probabilities(probs, labels)?;
    let sum: f64 = probs
        .iter()
        .zip(labels)
        .map(|(p, y)| {
            let p = p.clamp(LOG_LOSS_EPS, 1.0 - LOG_LOSS_EPS);
            if *y { -p.ln() } else { -(1.0 - p).ln() }
        })
        .sum();
    Ok(sum / probs.len() as f64)
}

/// Average precision (area under the precision–recall curve, step-wise): the mean over the
/// positives of the precision among the rows scored at least as high. Tied scores enter as one
/// step, as scikit-learn's `average_precision_score` does.
///
/// # Errors
/// As [`roc_auc`], and [`ModelError::InsufficientData`] without a positive.
pub fn average_precision(scores: &[f64], labels: &[bool]) -> Result<f64> {
    check_lengths(scores, labels)?;
    let positives = labels.iter().filter(|l| **l).count();
    if positives == 0 {
        return Err(ModelError::InsufficientData(
            "average precision needs a positive label".into(),
        ));
    }
    let order = by_score_descending(scores);
    let (mut seen, mut hits, mut sum) = (0usize, 0usize, 0.0);
    let mut start = 0;
    while start < order.len() {
        let mut end = start + 1;
        while end < order.len() && scores[order[end]] == scores[order[start]] {
            end += 1;
        }
        let tied = order[start..end].iter().filter(|&&i| labels[i]).count();
        seen += end - start;
        hits += tied;
        // Recall rises by tied / positives at precision hits / seen.
        sum += tied as f64 * hits as f64 / seen as f64;
        start = end;
    }
    Ok(sum / positives as f64)
}

/// Lift in the top `fraction`: the precision there over the base rate (1 = no better than a
/// random pick).
///
/// # Errors
/// As [`precision_at`], and [`ModelError::InsufficientData`] without a positive.
pub fn lift_at(scores: &[f64], labels: &[bool], fraction: f64) -> Result<f64> {
    let base = base_rate(labels)?;
    Ok(precision_at(scores, labels, fraction)? / base)
}

/// Capture rate of the top `fraction`: the share of all positives found there.
///
/// # Errors
/// As [`lift_at`].
pub fn capture_at(scores: &[f64], labels: &[bool], fraction: f64) -> Result<f64> {
    let base = base_rate(labels)?;
    let k = ((fraction * scores.len() as f64).ceil() as usize).clamp(1, scores.len());
    Ok(precision_at(scores, labels, fraction)? * k as f64 / (base * labels.len() as f64))
}

fn base_rate(labels: &[bool]) -> Result<f64> {
    let positives = labels.iter().filter(|l| **l).count();
    if positives == 0 {
        return Err(ModelError::InsufficientData("no positive label".into()));
    }
    Ok(positives as f64 / labels.len() as f64)
}

/// Expected calibration error: the rows' mean of |mean prediction − observed rate| over the
/// bins of [`calibration`].
///
/// # Errors
/// As [`calibration`].
pub fn expected_calibration_error(probs: &[f64], labels: &[bool], n_bins: usize) -> Result<f64> {
    let table = calibration(probs, labels, n_bins)?;
    let n = probs.len() as f64;
    Ok(table
        .iter()
        .map(|b| b.count as f64 / n * (b.mean_predicted - b.observed_rate).abs())
        .sum())
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{Rng, SeedableRng};
    use rand_chacha::ChaCha8Rng;

    /// The definition: over all positive–negative pairs, 1 when the positive scores higher,
    /// ½ on a tie.
    fn auc_by_pairs(scores: &[f64], labels: &[bool]) -> f64 {
        let mut wins = 0.0;
        let mut pairs = 0.0;
        for (i, &yi) in labels.iter().enumerate() {
            for (j, &yj) in labels.iter().enumerate() {
                if yi && !yj {
                    pairs += 1.0;
                    if scores[i] > scores[j] {
                        wins += 1.0;
                    } else if scores[i] == scores[j] {
                        wins += 0.5;
                    }
                }
            }
        }
        wins / pairs
    }

    #[test]
    fn auc_equals_the_pairwise_count_on_random_data_with_ties() {
        let mut rng = ChaCha8Rng::seed_from_u64(11);
        for round in 0..200 {
            let n = rng.random_range(2..300);
            // Few distinct scores in some rounds, so ties are everywhere.
            let levels = if round % 2 == 0 { 5 } else { 1_000_000 };
            let scores: Vec<f64> = (0..n)
                .map(|_| f64::from(rng.random_range(0..levels)) / f64::from(levels))
                .collect();
            let mut labels: Vec<bool> = (0..n).map(|_| rng.random_bool(0.3)).collect();
            labels[0] = true;
            labels[1] = false;
            let fast = roc_auc(&scores, &labels).unwrap();
            let slow = auc_by_pairs(&scores, &labels);
            assert!(
                (fast - slow).abs() < 1e-12,
                "round {round}: {fast} vs {slow}"
            );
        }
    }

    #[test]
    fn auc_extremes_and_errors() {
        let labels = [false, false, true, true];
        assert_eq!(roc_auc(&[0.1, 0.2, 0.3, 0.4], &labels).unwrap(), 1.0);
        assert_eq!(roc_auc(&[0.4, 0.3, 0.2, 0.1], &labels).unwrap(), 0.0);
        assert_eq!(roc_auc(&[0.5; 4], &labels).unwrap(), 0.5);
        assert!(roc_auc(&[0.1, 0.2], &[true, true]).is_err());
        assert!(roc_auc(&[0.1], &[true, false]).is_err());
        assert!(roc_auc(&[f64::NAN, 0.2], &[true, false]).is_err());
    }

    /// Average over every order of the ties of the precision of the first k rows.
    fn precision_by_permutations(scores: &[f64], labels: &[bool], k: usize) -> f64 {
        fn permutations(items: &mut Vec<usize>, at: usize, out: &mut Vec<Vec<usize>>) {
            if at == items.len() {
                out.push(items.clone());
                return;
            }
            for i in at..items.len() {
                items.swap(at, i);
                permutations(items, at + 1, out);
                items.swap(at, i);
            }
        }
        let mut all = Vec::new();
        permutations(&mut (0..scores.len()).collect(), 0, &mut all);
        let mut total = 0.0;
        let mut count = 0.0;
        for order in all {
            let sorted = order.windows(2).all(|w| scores[w[0]] >= scores[w[1]]);
            if sorted {
                total += order[..k].iter().filter(|&&i| labels[i]).count() as f64 / k as f64;
                count += 1.0;
            }
        }
        total / count
    }

    #[test]
    fn precision_at_matches_the_average_over_tie_orders() {
        let mut rng = ChaCha8Rng::seed_from_u64(5);
        for _ in 0..50 {
            let n = rng.random_range(1..8);
            let scores: Vec<f64> = (0..n).map(|_| f64::from(rng.random_range(0..3))).collect();
            let labels: Vec<bool> = (0..n).map(|_| rng.random_bool(0.5)).collect();
            let fraction = rng.random_range(0.05..=1.0);
            let k = ((fraction * n as f64).ceil() as usize).clamp(1, n);
            let fast = precision_at(&scores, &labels, fraction).unwrap();
            let slow = precision_by_permutations(&scores, &labels, k);
            assert!((fast - slow).abs() < 1e-12, "{scores:?} {labels:?} k={k}");
        }
        assert!(precision_at(&[1.0], &[true], 0.0).is_err());
    }

    #[test]
    fn calibration_brier_and_log_loss_by_hand() {
        let probs = [0.05, 0.15, 0.12, 0.95, 0.85, 1.0];
        let labels = [false, true, false, true, true, true];
        let table = calibration(&probs, &labels, 10).unwrap();
        assert_eq!(table.len(), 4);
        assert_eq!(table[1].count, 2);
        assert!((table[1].mean_predicted - 0.135).abs() < 1e-12);
        assert!((table[1].observed_rate - 0.5).abs() < 1e-12);
        // 1.0 falls in the last bin, not past it.
        assert_eq!(table[3].count, 2);

        let brier = brier_score(&probs, &labels).unwrap();
        let want = (0.05_f64.powi(2)
            + 0.85_f64.powi(2)
            + 0.12_f64.powi(2)
            + 0.05_f64.powi(2)
            + 0.15_f64.powi(2))
            / 6.0;
        assert!((brier - want).abs() < 1e-15);

        let ll = log_loss(&probs, &labels).unwrap();
        let want = -(0.95_f64.ln()
            + 0.15_f64.ln()
            + 0.88_f64.ln()
            + 0.95_f64.ln()
            + 0.85_f64.ln()
            + (1.0 - 1e-15_f64).ln())
            / 6.0;
        assert!((ll - want).abs() < 1e-12);
        assert!(log_loss(&[1.5], &[true]).is_err());
        assert!(calibration(&probs, &labels, 0).is_err());
    }

    /// Average precision by its definition: for each positive, the precision among the rows
    /// whose score is at least its score.
    fn ap_by_definition(scores: &[f64], labels: &[bool]) -> f64 {
        let pos: Vec<usize> = (0..scores.len()).filter(|&i| labels[i]).collect();
        pos.iter()
            .map(|&i| {
                let above: Vec<usize> = (0..scores.len())
                    .filter(|&j| scores[j] >= scores[i])
                    .collect();
                above.iter().filter(|&&j| labels[j]).count() as f64 / above.len() as f64
            })
            .sum::<f64>()
            / pos.len() as f64
    }

    #[test]
    fn average_precision_lift_and_capture_against_their_definitions() {
        let mut rng = ChaCha8Rng::seed_from_u64(23);
        for round in 0..200 {
            let n = rng.random_range(2..200);
            let levels = if round % 2 == 0 { 4 } else { 1_000_000 };
            let scores: Vec<f64> = (0..n)
                .map(|_| f64::from(rng.random_range(0..levels)))
                .collect();
            let mut labels: Vec<bool> = (0..n).map(|_| rng.random_bool(0.2)).collect();
            labels[0] = true;
            let fast = average_precision(&scores, &labels).unwrap();
            let slow = ap_by_definition(&scores, &labels);
            assert!(
                (fast - slow).abs() < 1e-12,
                "round {round}: {fast} vs {slow}"
            );
        }
        // Ten rows, the two positives on top: the top decile (one row) holds half of them.
        let scores: Vec<f64> = (0..10).map(|i| f64::from(10 - i)).collect();
        let labels: Vec<bool> = (0..10).map(|i| i < 2).collect();
        assert!((lift_at(&scores, &labels, 0.1).unwrap() - 5.0).abs() < 1e-12);
        assert!((capture_at(&scores, &labels, 0.1).unwrap() - 0.5).abs() < 1e-12);
        assert!((capture_at(&scores, &labels, 0.2).unwrap() - 1.0).abs() < 1e-12);
        assert!(lift_at(&scores, &[false; 10], 0.1).is_err());
        assert!(
            expected_calibration_error(&[0.25, 0.25, 0.25, 0.25], &[true, false, false, false], 10)
                .unwrap()
                < 1e-12
        );
    }
}
