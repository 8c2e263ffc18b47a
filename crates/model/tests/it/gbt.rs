//! Boosted trees: non-linear and threshold structure, missing values, determinism, persistence.

use portrait_model::metrics::roc_auc;
use portrait_model::{GbtClassifier, GbtParams, Matrix};
use rand::Rng;

use crate::rng;

/// `n` rows of `p` uniform(−1, 1) inputs and labels from `label(row)`, a share `noise` of them
/// flipped.
fn data(
    seed: u64,
    n: usize,
    p: usize,
    noise: f64,
    label: impl Fn(&[f64]) -> bool,
) -> (Vec<f64>, Vec<bool>) {
    let mut r = rng(seed);
    let mut x = Vec::with_capacity(n * p);
    let mut y = Vec::with_capacity(n);
    for _ in 0..n {
        let row: Vec<f64> = (0..p).map(|_| r.random_range(-1.0..1.0)).collect();
        y.push(label(&row) != r.random_bool(noise));
        x.extend_from_slice(&row);
    }
    (x, y)
}

fn held_out_auc(model: &GbtClassifier, x: &[f64], y: &[bool], p: usize) -> f64 {
    let probs = model
        .predict_proba(Matrix::new(x, y.len(), p).unwrap())
        .unwrap();
    roc_auc(&probs, y).unwrap()
}

#[test]
fn learns_xor() {
    // Neither input alone says anything; only the interaction does. Two inputs are noise.
    // Training labels are 5 % wrong; held-out labels are the truth (on noisy held-out labels even
    // a perfect model would score only 0.95).
    let xor = |r: &[f64]| (r[0] > 0.0) != (r[1] > 0.0);
    let (x, y) = data(1, 4000, 4, 0.05, xor);
    let (xt, yt) = data(2, 2000, 4, 0.0, xor);
    let model = GbtParams::default()
        .fit(Matrix::new(&x, 4000, 4).unwrap(), &y)
        .unwrap();
    let auc = held_out_auc(&model, &xt, &yt, 4);
    assert!(auc > 0.95, "held-out AUC {auc}");
    let importance = model.feature_importance();
    assert!((importance.iter().sum::<f64>() - 1.0).abs() < 1e-12);
    assert!(importance[0] + importance[1] > 0.9, "{importance:?}");
}

#[test]
fn learns_thresholds_with_missing_values() {
    // Label by two cut points; a fifth of every input missing; a missing x₂ means positive.
    let label = |r: &[f64]| r[2].is_nan() || (r[0] > 0.3 && r[2] > -0.2);
    let punch = |seed: u64, x: &mut [f64]| {
        let mut r = rng(seed);
        for v in x.iter_mut() {
            if r.random_bool(0.2) {
                *v = f64::NAN;
            }
        }
    };
    let (mut x, _) = data(3, 5000, 3, 0.0, |_| false);
    punch(4, &mut x);
    let mut r = rng(5);
    let y: Vec<bool> = x
        .chunks(3)
        .map(|row| label(row) != r.random_bool(0.05))
        .collect();
    let (mut xt, _) = data(6, 2000, 3, 0.0, |_| false);
    punch(7, &mut xt);
    let yt: Vec<bool> = xt.chunks(3).map(label).collect();
    let model = GbtParams::default()
        .fit(Matrix::new(&x, 5000, 3).unwrap(), &y)
        .unwrap();
    let auc = held_out_auc(&model, &xt, &yt, 3);
    assert!(auc > 0.95, "held-out AUC {auc}");
    // A row with nothing known still gets a probability, and a missing x₂ reads as positive.
    let unknown = model
        .predict_proba(Matrix::new(&[f64::NAN; 3], 1, 3).unwrap())
        .unwrap();
    assert!(unknown[0] > 0.8, "{unknown:?}");
}

#[test]
fn is_deterministic_for_a_seed_and_thread_count() {
    let (x, y) = data(8, 3000, 5, 0.05, |r| r[0] + r[1] * r[2] > 0.1);
    let x = Matrix::new(&x, 3000, 5).unwrap();
    let params = GbtParams {
        subsample: 0.7,
        n_trees: 60,
        seed: 42,
        ..GbtParams::default()
    };
    let first = params.fit(x, &y).unwrap();
    let second = params.fit(x, &y).unwrap();
    assert_eq!(first, second);
    let one_thread = rayon::ThreadPoolBuilder::new()
        .num_threads(1)
        .build()
        .unwrap()
        .install(|| params.fit(x, &y).unwrap());
    assert_eq!(first, one_thread);
    assert_eq!(
        first.predict_proba(x).unwrap(),
        second.predict_proba(x).unwrap()
    );
    let other_seed = GbtParams { seed: 43, ..params }.fit(x, &y).unwrap();
    assert_ne!(
        first.predict_proba(x).unwrap(),
        other_seed.predict_proba(x).unwrap()
    );
}

#[test]
fn round_trips_through_json() {
    let (x, y) = data(9, 1000, 2, 0.05, |r| r[0] > 0.0);
    let x = Matrix::new(&x, 1000, 2).unwrap();
    let model = GbtParams {
        n_trees: 20,
        ..GbtParams::default()
    }
    .fit(x, &y)
    .unwrap();
    let json = serde_json::to_string(&model).unwrap();
    let back: GbtClassifier = serde_json::from_str(&json).unwrap();
    assert_eq!(back, model);
    assert_eq!(
        back.predict_proba(x).unwrap(),
        model.predict_proba(x).unwrap()
    );
}
