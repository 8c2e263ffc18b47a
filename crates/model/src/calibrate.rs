//! Calibration of a classifier's scores into probabilities: Platt's sigmoid (Platt 1999) and
//! isotonic regression by pool-adjacent-violators (Zadrozny & Elkan 2002), each fitted on rows
//! the classifier did not learn from.

use serde::{Deserialize, Serialize};

use crate::{ModelError, Result};

/// A fitted map from a score in [0, 1] to a calibrated probability.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "method", rename_all = "lowercase")]
pub enum Calibrator {
    /// p = σ(a · logit(s) + b).
    Platt { a: f64, b: f64 },
    /// A non-decreasing step function through `(x[i], y[i])`, linear between the points and
    /// constant beyond the ends.
    Isotonic { x: Vec<f64>, y: Vec<f64> },
}

/// Scores are clipped to [ε, 1 − ε] before their logit is taken.
const EPS: f64 = 1e-12;

fn logit(s: f64) -> f64 {
    let s = s.clamp(EPS, 1.0 - EPS);
    (s / (1.0 - s)).ln()
}

fn sigmoid(z: f64) -> f64 {
    if z >= 0.0 {
        1.0 / (1.0 + (-z).exp())
    } else {
        let e = z.exp();
        e / (1.0 + e)
    }
}

fn check(scores: &[f64], labels: &[bool]) -> Result<()> {
    if scores.len() != labels.len() {
        return Err(ModelError::ShapeMismatch {
            what: "labels (one per score)",
            expected: scores.len(),
            found: labels.len(),
        });
    }
    if let Some(row) = scores.iter().position(|s| !(0.0..=1.0).contains(s)) {
        return Err(ModelError::input(row, "score", "must be in [0, 1]"));
    }
    let positives = labels.iter().filter(|y| **y).count();
    if positives == 0 || positives == labels.len() {
        return Err(ModelError::InsufficientData(
            "calibration needs both positive and negative labels".into(),
        ));
    }
    Ok(())
}

impl Calibrator {
    /// Platt scaling: the logistic regression of the label on the score's logit, with Platt's
    /// smoothed targets (N₊ + 1)/(N₊ + 2) and 1/(N₋ + 2) so that a perfectly separating score
    /// keeps finite parameters. Fitted by Newton's method.
    ///
    /// # Errors
    /// [`ModelError::ShapeMismatch`] when the lengths differ; [`ModelError::InvalidInput`] for
    /// a score outside [0, 1]; [`ModelError::InsufficientData`] with only one class.
    pub fn platt(scores: &[f64], labels: &[bool]) -> Result<Self> {
        check(scores, labels)?;
        let positives = labels.iter().filter(|y| **y).count() as f64;
        let negatives = labels.len() as f64 - positives;
        let (hi, lo) = (
            (positives + 1.0) / (positives + 2.0),
            1.0 / (negatives + 2.0),
        );
        let z: Vec<f64> = scores.iter().map(|s| logit(*s)).collect();
        let t: Vec<f64> = labels.iter().map(|y| if *y { hi } else { lo }).collect();
        let (mut a, mut b) = (1.0, 0.0);
        let loss = |a: f64, b: f64| -> f64 {
            z.iter()
                .zip(&t)
                .map(|(z, t)| {
                    let p = sigmoid(a * z + b).clamp(1e-300, 1.0 - 1e-16);
                    -(t * p.ln() + (1.0 - t) * (1.0 - p).ln())
                })
                .sum()
        };
        let mut current = loss(a, b);
        for _ in 0..100 {
            // Gradient and Hessian of the summed log loss in (a, b).
            let (mut ga, mut gb, mut haa, mut hab, mut hbb) = (0.0, 0.0, 0.0, 0.0, 0.0);
            for (z, t) in z.iter().zip(&t) {
                let p = sigmoid(a * z + b);
                let r = p - t;
                let w = (p * (1.0 - p)).max(1e-12);
                ga += r * z;
                gb += r;
                haa += w * z * z;
                hab += w * z;
                hbb += w;
            }
            if ga.abs().max(gb.abs()) < 1e-9 * labels.len() as f64 {
                break;
            }
            // A tiny ridge keeps the step defined when the scores hardly vary.
            let (haa, hbb) = (haa + 1e-9, hbb + 1e-9);
            let det = haa * hbb - hab * hab;
            if det.abs() < 1e-300 {
                break;
            }
            let da = (hbb * ga - hab * gb) / det;
            let db = (haa * gb - hab * ga) / det;
            // Halve the step until the loss does not rise.
            let mut step = 1.0;
            let mut moved = false;
            for _ in 0..40 {
                let (na, nb) = (a - step * da, b - step * db);
                let l = loss(na, nb);
                if l <= current {
                    (a, b, current) = (na, nb, l);
                    moved = true;
                    break;
                }
                step /= 2.0;
            }
            if !moved {
                break;
            }
        }
        Ok(Calibrator::Platt { a, b })
    }

    /// Isotonic regression of the label on the score by pool-adjacent-violators: the
    /// non-decreasing function of the score with the least squared error. Equal scores are
    /// pooled first.
    ///
    /// # Errors
    /// As [`Calibrator::platt`].
    pub fn isotonic(scores: &[f64], labels: &[bool]) -> Result<Self> {
        check(scores, labels)?;
        let mut order: Vec<usize> = (0..scores.len()).collect();
        order.sort_by(|&i, &j| scores[i].total_cmp(&scores[j]));
        // Blocks of (lowest score, highest score, sum of labels, rows).
        let mut blocks: Vec<(f64, f64, f64, f64)> = Vec::new();
        for &i in &order {
            let (s, y) = (scores[i], f64::from(u8::from(labels[i])));
            match blocks.last_mut() {
                Some(last) if last.1 == s => {
                    last.2 += y;
                    last.3 += 1.0;
                }
                _ => blocks.push((s, s, y, 1.0)),
            }
            // Merge while the last block's mean is below the one before it.
            while blocks.len() > 1 {
                let n = blocks.len();
                let (prev, last) = (blocks[n - 2], blocks[n - 1]);
                if prev.2 / prev.3 <= last.2 / last.3 {
                    break;
                }
                blocks[n - 2] = (prev.0, last.1, prev.2 + last.2, prev.3 + last.3);
                blocks.pop();
            }
        }
        let mut x = Vec::with_capacity(2 * blocks.len());
        let mut y = Vec::with_capacity(2 * blocks.len());
        for (lo, hi, sum, n) in blocks {
            let v = sum / n;
            x.push(lo);
            y.push(v);
            if hi > lo {
                x.push(hi);
                y.push(v);
            }
        }
        Ok(Calibrator::Isotonic { x, y })
    }

    /// The calibrated probability of a score.
    pub fn apply(&self, score: f64) -> f64 {
        if score.is_nan() {
            return f64::NAN;
        }
        match self {
            Calibrator::Platt { a, b } => sigmoid(a * logit(score) + b),
            Calibrator::Isotonic { x, y } => {
                let i = x.partition_point(|v| *v <= score);
                if i == 0 {
                    y[0]
                } else if i == x.len() {
                    y[x.len() - 1]
                } else {
                    let (x0, x1, y0, y1) = (x[i - 1], x[i], y[i - 1], y[i]);
                    y0 + (y1 - y0) * (score - x0) / (x1 - x0)
                }
            }
        }
    }

    /// `platt` or `isotonic`.
    pub fn method(&self) -> &'static str {
        match self {
            Calibrator::Platt { .. } => "platt",
            Calibrator::Isotonic { .. } => "isotonic",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{Rng, SeedableRng};
    use rand_chacha::ChaCha8Rng;

    /// The min–max formula of isotonic regression: the fit at the i-th smallest score is
    /// maxⱼ≤ᵢ minₖ≥ᵢ mean(y[j..=k]).
    fn isotonic_by_formula(y: &[f64]) -> Vec<f64> {
        let n = y.len();
        (0..n)
            .map(|i| {
                (0..=i)
                    .map(|j| {
                        (i..n)
                            .map(|k| y[j..=k].iter().sum::<f64>() / (k - j + 1) as f64)
                            .fold(f64::INFINITY, f64::min)
                    })
                    .fold(f64::NEG_INFINITY, f64::max)
            })
            .collect()
    }

    #[test]
    fn isotonic_equals_the_min_max_formula_on_random_data() {
        let mut rng = ChaCha8Rng::seed_from_u64(3);
        for round in 0..100 {
            let n = rng.random_range(2..60);
            let mut scores: Vec<f64> = (0..n).map(|i| (i as f64 + 0.5) / n as f64).collect();
            // Shuffle: the fit must not depend on the input order.
            for i in (1..n).rev() {
                scores.swap(i, rng.random_range(0..=i));
            }
            let mut labels: Vec<bool> = scores.iter().map(|s| rng.random_bool(*s)).collect();
            labels[0] = true;
            labels[1] = false;
            let c = Calibrator::isotonic(&scores, &labels).unwrap();
            let mut by_score: Vec<(f64, f64)> = scores
                .iter()
                .zip(&labels)
                .map(|(s, y)| (*s, f64::from(u8::from(*y))))
                .collect();
            by_score.sort_by(|a, b| a.0.total_cmp(&b.0));
            let want = isotonic_by_formula(&by_score.iter().map(|p| p.1).collect::<Vec<_>>());
            for ((s, _), w) in by_score.iter().zip(&want) {
                let got = c.apply(*s);
                assert!(
                    (got - w).abs() < 1e-12,
                    "round {round}: at {s} {got} vs {w}"
                );
            }
        }
    }

    #[test]
    fn platt_reaches_the_minimum_of_its_loss() {
        let mut rng = ChaCha8Rng::seed_from_u64(9);
        // Scores that are overconfident: the truth is σ(0.5 · logit(s) − 1).
        let scores: Vec<f64> = (0..4000).map(|_| rng.random_range(0.01..0.99)).collect();
        let labels: Vec<bool> = scores
            .iter()
            .map(|s| rng.random_bool(sigmoid(0.5 * logit(*s) - 1.0)))
            .collect();
        let Calibrator::Platt { a, b } = Calibrator::platt(&scores, &labels).unwrap() else {
            panic!("platt");
        };
        assert!(
            (a - 0.5).abs() < 0.1 && (b + 1.0).abs() < 0.15,
            "a {a} b {b}"
        );
        // No point of a grid around the estimate does better.
        let pos = labels.iter().filter(|y| **y).count() as f64;
        let neg = labels.len() as f64 - pos;
        let loss = |a: f64, b: f64| -> f64 {
            scores
                .iter()
                .zip(&labels)
                .map(|(s, y)| {
                    let t = if *y {
                        (pos + 1.0) / (pos + 2.0)
                    } else {
                        1.0 / (neg + 2.0)
                    };
                    let p = sigmoid(a * logit(*s) + b);
                    -(t * p.ln() + (1.0 - t) * (1.0 - p).ln())
                })
                .sum()
        };
        let best = loss(a, b);
        for da in [-0.01, 0.0, 0.01] {
            for db in [-0.01, 0.0, 0.01] {
                assert!(loss(a + da, b + db) >= best - 1e-9);
            }
        }
    }

    #[test]
    fn calibration_refuses_one_class_and_bad_scores() {
        assert!(Calibrator::platt(&[0.2, 0.3], &[true, true]).is_err());
        assert!(Calibrator::isotonic(&[0.2, 1.3], &[true, false]).is_err());
        assert!(Calibrator::isotonic(&[0.2], &[true, false]).is_err());
        let c = Calibrator::isotonic(&[0.1, 0.9], &[false, true]).unwrap();
        assert_eq!(c.apply(0.0), 0.0);
        assert_eq!(c.apply(1.0), 1.0);
        assert!((c.apply(0.5) - 0.5).abs() < 1e-12);
    }
}
