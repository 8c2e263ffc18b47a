//! Logistic regression: recovery of a known model, and scikit-learn's answer on a fixed data set.

use portrait_model::{LogisticParams, LogisticRegression, Matrix};
use rand::Rng;

use crate::{normal, rng};

#[test]
fn recovers_the_coefficients_of_a_known_model() {
    // Three inputs on very different scales: age in years, balance in yuan, a 0/1 flag.
    let truth = [0.05, 2e-5, -0.9];
    let intercept = -2.0;
    let n = 50_000;
    let mut r = rng(17);
    let mut data = Vec::with_capacity(n * 3);
    let mut y = Vec::with_capacity(n);
    for _ in 0..n {
        let row = [
            40.0 + 12.0 * normal(&mut r),
            50_000.0 + 30_000.0 * normal(&mut r),
            f64::from(u8::from(r.random_bool(0.3))),
        ];
        let eta = intercept + truth.iter().zip(&row).map(|(b, x)| b * x).sum::<f64>();
        y.push(r.random::<f64>() < 1.0 / (1.0 + (-eta).exp()));
        data.extend_from_slice(&row);
    }
    let x = Matrix::new(&data, n, 3).unwrap();
    let model = LogisticParams::default().fit(x, &y).unwrap();
    assert!(model.converged());
    // Standard errors at this n are about 0.0008, 3.5e-7 and 0.025 (and 0.05 for the
    // intercept); allow four of them.
    let tolerance = [0.0032, 1.4e-6, 0.1];
    for j in 0..3 {
        let got = model.coefficients()[j];
        assert!(
            (got - truth[j]).abs() < tolerance[j],
            "coefficient {j}: {got} vs {}",
            truth[j]
        );
    }
    assert!(
        (model.intercept() - intercept).abs() < 0.2,
        "{}",
        model.intercept()
    );
}

/// Forty rows drawn once with numpy (seed 42): age, balance, flag → label.
#[rustfmt::skip]
const SMALL_X: [[f64; 3]; 40] = [
    [53.7, 4001.0, 1.0], [37.5, 4173.0, 1.0], [59.0, 3252.0, 0.0], [61.3, 219.0, 0.0],
    [26.6, 3402.0, 0.0], [34.4, 4063.0, 1.0], [51.5, 3366.0, 0.0], [46.2, 840.0, 0.0],
    [49.8, 963.0, 0.0], [39.8, 497.0, 0.0], [60.6, 1063.0, 0.0], [59.3, 63.0, 0.0],
    [50.8, 502.0, 1.0], [63.5, 3945.0, 1.0], [55.6, 11987.0, 1.0], [39.7, 1691.0, 0.0],
    [54.4, 852.0, 1.0], [38.5, 1193.0, 0.0], [60.5, 1084.0, 1.0], [49.4, 389.0, 1.0],
    [47.8, 3250.0, 1.0], [41.8, 4128.0, 0.0], [64.7, 4523.0, 0.0], [48.1, 15930.0, 1.0],
    [44.9, 6320.0, 0.0], [45.8, 4935.0, 0.0], [56.4, 3130.0, 0.0], [54.4, 1778.0, 0.0],
    [55.0, 133.0, 0.0], [55.2, 2870.0, 0.0], [75.7, 1864.0, 1.0], [45.1, 4524.0, 1.0],
    [43.9, 6084.0, 1.0], [40.2, 996.0, 0.0], [57.4, 149.0, 1.0], [63.5, 2774.0, 0.0],
    [48.6, 7660.0, 0.0], [39.9, 2463.0, 0.0], [40.1, 6393.0, 0.0], [57.8, 2259.0, 1.0],
];

#[rustfmt::skip]
const SMALL_Y: [u8; 40] = [
    0, 0, 1, 0, 0, 0, 1, 1, 1, 0, 1, 1, 0, 0, 1, 0, 0, 0, 0, 0,
    0, 0, 1, 1, 1, 1, 1, 1, 1, 0, 1, 0, 0, 0, 0, 1, 0, 0, 0, 1,
];

fn small() -> (Vec<f64>, Vec<bool>) {
    (
        SMALL_X.iter().flatten().copied().collect(),
        SMALL_Y.iter().map(|v| *v == 1).collect(),
    )
}

#[test]
fn matches_scikit_learn() {
    // scikit-learn 1.9.1: make_pipeline(StandardScaler(), LogisticRegression(C=C,
    // solver="newton-cholesky", tol=1e-14)), coefficients divided by the scaler's scale_ to return
    // to original units, and the first three predict_proba values. (The default lbfgs solver
    // stops with a gradient of 1e-7 and agrees to about 1e-8.)
    let cases = [
        (
            1.0,
            [
                0.138_890_313_181_340_6,
                0.000_217_472_669_196_415_89,
                -2.082_264_088_254_243_4,
            ],
            -7.355_307_810_383_786,
            [
                0.248_047_307_069_976_55,
                0.034_835_159_262_665_73,
                0.824_399_221_125_322_7,
            ],
        ),
        (
            0.1,
            [
                0.053_498_295_772_444_034,
                7.439_827_461_603_62e-5,
                -0.733_927_123_731_369_6,
            ],
            -2.975_036_366_957_575_7,
            [
                0.368_551_131_835_769_6,
                0.199_038_692_645_188_23,
                0.604_274_140_556_327_6,
            ],
        ),
    ];
    let (data, y) = small();
    let x = Matrix::new(&data, 40, 3).unwrap();
    for (c, coefficients, intercept, first_probs) in cases {
        let params = LogisticParams {
            l2: 1.0 / c,
            ..LogisticParams::default()
        };
        let model = params.fit(x, &y).unwrap();
        for (got, want) in model.coefficients().iter().zip(coefficients) {
            assert!(
                (got - want).abs() <= 1e-10 * want.abs(),
                "C={c}: {got} vs {want}"
            );
        }
        assert!((model.intercept() - intercept).abs() < 1e-10 * intercept.abs());
        let probs = model.predict_proba(x).unwrap();
        for (got, want) in probs.iter().zip(first_probs) {
            assert!((got - want).abs() < 1e-12, "C={c}: {got} vs {want}");
        }
    }
}

#[test]
fn round_trips_through_json() {
    let (data, y) = small();
    let x = Matrix::new(&data, 40, 3).unwrap();
    let model = LogisticParams::default().fit(x, &y).unwrap();
    let json = serde_json::to_string(&model).unwrap();
    let back: LogisticRegression = serde_json::from_str(&json).unwrap();
    assert_eq!(back, model);
    assert_eq!(
        back.predict_proba(x).unwrap(),
        model.predict_proba(x).unwrap()
    );
}

/// A budget that runs out at once keeps the first Newton iterate and says so.
#[test]
fn a_spent_time_budget_keeps_the_last_iterate() {
    let (data, y) = small();
    let x = Matrix::new(&data, 40, 3).unwrap();
    let params = LogisticParams {
        max_seconds: Some(1e-9),
        ..LogisticParams::default()
    };
    let model = params.fit(x, &y).unwrap();
    assert!(model.timed_out());
    assert!(!model.converged());
    assert_eq!(model.iterations(), 1);
    let full = LogisticParams::default().fit(x, &y).unwrap();
    assert!(full.converged() && !full.timed_out());
    // A budget too large for the clock is no budget, not a panic.
    let huge = LogisticParams {
        max_seconds: Some(1e300),
        ..LogisticParams::default()
    };
    assert!(huge.fit(x, &y).unwrap().converged());
}
