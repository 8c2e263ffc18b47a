//! Preprocessing against hand-worked values.

use portrait_mining::{
    CappingParams, FillStrategy, FillValues, Matrix, OneHotEncoder, OrdinalEncoder, Scaler,
    Scaling, select_by_vif, vif,
};

const NAN: f64 = f64::NAN;

#[test]
fn fills() {
    let x = Matrix::from_columns(&[vec![1.0, NAN, 3.0, 3.0, 10.0]]).unwrap();
    let cases = [
        (FillStrategy::Mean, 4.25),
        (FillStrategy::Median, 3.0),
        (FillStrategy::Mode, 3.0),
        (FillStrategy::Constant(-1.0), -1.0),
    ];
    for (strategy, want) in cases {
        let fill = FillValues::fit(&x, strategy).unwrap();
        assert_eq!(fill.values, vec![want]);
        let mut y = x.clone();
        assert_eq!(fill.apply(&mut y).unwrap(), 1);
        assert_eq!(y.get(1, 0), want);
    }
    // Per column; even count median; mode tie takes the smallest.
    let x =
        Matrix::from_rows(&[[1.0, 5.0], [2.0, 4.0], [NAN, NAN], [4.0, 5.0], [7.0, 4.0]]).unwrap();
    let fill = FillValues::fit_columns(&x, &[FillStrategy::Median, FillStrategy::Mode]).unwrap();
    assert_eq!(fill.values, vec![3.0, 4.0]);
    let empty = Matrix::from_columns(&[vec![NAN, NAN]]).unwrap();
    assert!(FillValues::fit(&empty, FillStrategy::Mean).is_err());
    assert!(FillValues::fit(&empty, FillStrategy::Constant(0.0)).is_ok());
}

#[test]
fn caps_at_percentiles() {
    let col: Vec<f64> = (1..=100).map(f64::from).collect();
    let x = Matrix::from_columns(&[col]).unwrap();
    // numpy.percentile(range(1, 101), [1, 99]) = [1.99, 99.01]; [5, 95] = [5.95, 95.05]
    let caps = CappingParams::default().fit(&x).unwrap();
    assert!((caps.lower[0] - 1.99).abs() < 1e-12);
    assert!((caps.upper[0] - 99.01).abs() < 1e-12);
    let caps = CappingParams::new(0.05, 0.95).fit(&x).unwrap();
    assert!((caps.lower[0] - 5.95).abs() < 1e-12);
    assert!((caps.upper[0] - 95.05).abs() < 1e-12);
    let mut y = x.clone();
    assert_eq!(caps.apply(&mut y).unwrap(), 10);
    assert!((y.get(0, 0) - 5.95).abs() < 1e-12);
    assert_eq!(y.get(50, 0), 51.0);
    assert!((y.get(99, 0) - 95.05).abs() < 1e-12);
}

#[test]
fn scalings() {
    let x = Matrix::from_rows(&[[1.0, 7.0], [2.0, 7.0], [3.0, 7.0], [4.0, 7.0]]).unwrap();
    let z = Scaler::fit(&x, Scaling::ZScore).unwrap();
    assert_eq!(z.offset, vec![2.5, 7.0]);
    assert!((z.scale[0] - 1.25f64.sqrt()).abs() < 1e-15);
    assert_eq!(z.scale[1], 1.0, "a constant column is not divided by 0");
    let mut y = x.clone();
    z.apply(&mut y).unwrap();
    assert!((y.get(0, 0) + 1.5 / 1.25f64.sqrt()).abs() < 1e-12);
    assert_eq!(y.get(0, 1), 0.0);
    z.invert(&mut y).unwrap();
    assert!((y.get(3, 0) - 4.0).abs() < 1e-12);
    let m = Scaler::fit(&x, Scaling::MinMax).unwrap();
    let mut y = x.clone();
    m.apply(&mut y).unwrap();
    assert_eq!(y.column(0), vec![0.0, 1.0 / 3.0, 2.0 / 3.0, 1.0]);
}

#[test]
fn encodings() {
    let values = ["R2", "R1", "R3", "R1"];
    let ord = OrdinalEncoder::fit(&values);
    assert_eq!(ord.categories, vec!["R1", "R2", "R3"]);
    assert_eq!(ord.transform(&values), vec![1.0, 0.0, 2.0, 0.0]);
    assert!(ord.transform(&["R9"])[0].is_nan());
    let hot = OneHotEncoder::fit(&values);
    let m = hot.transform(&["R3", "R9"]);
    assert_eq!(m.data(), &[0.0, 0.0, 1.0, 0.0, 0.0, 0.0]);
    assert_eq!(
        hot.column_names("risk"),
        vec!["risk=R1", "risk=R2", "risk=R3"]
    );
}

#[test]
fn vif_hand_worked() {
    // x1 and x2 correlate at r = 0.8: VIF = 1 / (1 − 0.64) for both.
    let x1 = vec![1.0, 2.0, 3.0, 4.0, 5.0];
    let x2 = vec![2.0, 1.0, 4.0, 3.0, 5.0];
    let x = Matrix::from_columns(&[x1.clone(), x2.clone()]).unwrap();
    for v in vif(&x).unwrap() {
        assert!((v - 1.0 / 0.36).abs() < 1e-9, "{v}");
    }
    // x3 = x1 + x2 is exactly determined: every VIF is infinite, the first column goes, and
    // x2 against x1 + x2 correlate at r² = 0.9: VIF 10.
    let x3: Vec<f64> = x1.iter().zip(&x2).map(|(a, b)| a + b).collect();
    let c = vec![3.0; 5];
    let x = Matrix::from_columns(&[x1, x2, x3, c]).unwrap();
    let v = vif(&x).unwrap();
    assert!(v.iter().all(|v| v.is_infinite()), "{v:?}");
    let sel = select_by_vif(&x, 20.0).unwrap();
    assert_eq!(sel.kept, vec![1, 2], "{sel:?}");
    assert_eq!(sel.dropped.len(), 2);
    assert_eq!(sel.dropped[0].column, 0);
    assert!(sel.dropped[0].reason.starts_with("exactly determined"));
    assert_eq!(sel.dropped[1].column, 3);
    assert_eq!(sel.dropped[1].reason, "constant column (zero variance)");
    for v in &sel.vif {
        assert!((v - 10.0).abs() < 1e-9, "{v}");
    }
    let sel = select_by_vif(&x, 5.0).unwrap();
    assert_eq!(sel.kept, vec![2]);
    assert!(sel.dropped[2].reason.starts_with("VIF 10.00 above 5"));
    assert_eq!(
        select_by_vif(&x, 0.5).unwrap_err().to_string(),
        "threshold must be finite and >= 1"
    );
}
