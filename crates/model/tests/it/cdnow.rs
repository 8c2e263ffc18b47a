//! BG/NBD and Gamma-Gamma on the CDNOW summaries of Fader, Hardie & Lee (2005), read from the
//! copy `tests/fetch-references.sh` extracts (the data are not ours to commit).
//!
//! "lifetimes" below is the Python package lifetimes 0.11.3 (BetaGeoFitter, GammaGammaFitter with
//! default options) run on the same files; its numbers are hard-coded here.

use std::path::PathBuf;

use portrait_model::{BgNbd, Discounting, FitOptions, GammaGamma, Rfm, Spend};

/// A file of the extracted lifetimes wheel, or a failure that says how to get it.
fn reference(name: &str) -> PathBuf {
    let manifest = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let root = manifest
        .ancestors()
        .nth(2)
        .expect("crates/model inside the workspace");
    let path = root.join("target/references/lifetimes/datasets").join(name);
    assert!(
        path.is_file(),
        "{} is missing: run tests/fetch-references.sh at the workspace root first \
         (it downloads the lifetimes 0.11.3 wheel from PyPI and extracts its data sets)",
        path.display()
    );
    path
}

/// The columns of a numeric CSV file with a header row.
fn read_csv(name: &str) -> (Vec<String>, Vec<Vec<f64>>) {
    let text = std::fs::read_to_string(reference(name)).expect("readable reference file");
    let mut lines = text.lines();
    let header: Vec<String> = lines
        .next()
        .expect("a header")
        .split(',')
        .map(str::to_owned)
        .collect();
    let rows = lines
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            l.split(',')
                .map(|v| v.trim().parse().expect("a number"))
                .collect()
        })
        .collect();
    (header, rows)
}

fn column(header: &[String], name: &str) -> usize {
    header
        .iter()
        .position(|h| h == name)
        .unwrap_or_else(|| panic!("no column {name}"))
}

/// Customers of `cdnow_customers_summary.csv` (ID, frequency, recency, T; weeks).
fn summary() -> Vec<Rfm> {
    let (header, rows) = read_csv("cdnow_customers_summary.csv");
    let (x, t_x, t) = (
        column(&header, "frequency"),
        column(&header, "recency"),
        column(&header, "T"),
    );
    rows.iter()
        .map(|r| Rfm {
            x: r[x],
            t_x: r[t_x],
            t: r[t],
        })
        .collect()
}

/// Customers of `cdnow_customers_summary_with_transactions.csv` (ID, x, t_x, T, zbar).
fn with_spend() -> Vec<(Rfm, Spend)> {
    let (header, rows) = read_csv("cdnow_customers_summary_with_transactions.csv");
    let (x, t_x, t, m) = (
        column(&header, "x"),
        column(&header, "t_x"),
        column(&header, "T"),
        column(&header, "zbar"),
    );
    rows.iter()
        .map(|r| {
            (
                Rfm {
                    x: r[x],
                    t_x: r[t_x],
                    t: r[t],
                },
                Spend { x: r[x], m: r[m] },
            )
        })
        .collect()
}

/// lifetimes' BG/NBD fit of `cdnow_customers_summary.csv`.
const LIFETIMES_BGNBD: BgNbd = BgNbd {
    r: 0.242_592_928_279_821_82,
    alpha: 4.413_532_265_271_819,
    a: 0.792_885_966_440_688_2,
    b: 2.425_752_382_625_86,
};

/// lifetimes' Gamma-Gamma fit of the customers with x > 0.
const LIFETIMES_GG: GammaGamma = GammaGamma {
    p: 6.248_802_496_075_312,
    q: 3.744_588_460_923_114,
    v: 15.447_748_064_929_14,
};

fn round(v: f64, decimals: i32) -> f64 {
    let scale = 10f64.powi(decimals);
    (v * scale).round() / scale
}

fn assert_rel(got: f64, want: f64, tol: f64, what: &str) {
    let err = (got - want).abs() / want.abs();
    assert!(
        err <= tol,
        "{what}: got {got}, want {want} (relative error {err:e})"
    );
}

#[test]
fn bgnbd_recovers_the_published_cdnow_estimates() {
    let customers = summary();
    assert_eq!(customers.len(), 2357);
    let fit = BgNbd::fit(&customers).unwrap();
    assert!(fit.converged, "{fit:?}");
    let m = fit.model;
    // Fader, Hardie & Lee (2005), §5: r = 0.243, α = 4.414, a = 0.793, b = 2.426, LL = −9582.4.
    assert_eq!(round(m.r, 3), 0.243, "{m:?}");
    assert_eq!(round(m.alpha, 3), 4.414, "{m:?}");
    assert_eq!(round(m.a, 3), 0.793, "{m:?}");
    assert_eq!(round(m.b, 3), 2.426, "{m:?}");
    assert_eq!(round(fit.log_likelihood, 1), -9582.4);
    // lifetimes finds the same optimum; its log-likelihood there is −9582.425560567368.
    assert_rel(m.r, LIFETIMES_BGNBD.r, 1e-4, "r");
    assert_rel(m.alpha, LIFETIMES_BGNBD.alpha, 1e-4, "alpha");
    assert_rel(m.a, LIFETIMES_BGNBD.a, 1e-4, "a");
    assert_rel(m.b, LIFETIMES_BGNBD.b, 1e-4, "b");
    let theirs = LIFETIMES_BGNBD.total_log_likelihood(&customers);
    assert_rel(
        theirs,
        -9_582.425_560_567_368,
        1e-12,
        "log-likelihood at lifetimes' fit",
    );
    assert!(fit.log_likelihood >= theirs - 1e-6);
}

#[test]
fn bgnbd_predictions_match_lifetimes() {
    let m = LIFETIMES_BGNBD;
    // (x, t_x, T) of CDNOW customers 1, 2, 3, 11, 101 and 1001; lifetimes'
    // conditional_probability_alive and conditional_expected_number_of_purchases_up_to_time(39).
    let cases = [
        (
            (2.0, 30.43, 38.86),
            0.726_609_136_799_059,
            1.225_910_424_174_399_9,
        ),
        (
            (1.0, 1.71, 38.86),
            0.212_227_388_072_209_9,
            0.203_250_624_256_190_06,
        ),
        ((0.0, 0.0, 38.86), 1.0, 0.194_780_857_939_477_6),
        (
            (5.0, 24.43, 38.86),
            0.491_426_704_580_813_44,
            1.870_991_613_976_897_8,
        ),
        (
            (5.0, 36.14, 38.14),
            0.862_950_040_710_380_5,
            3.331_177_739_595_245_2,
        ),
        ((0.0, 0.0, 33.57), 1.0, 0.218_939_821_950_668_16),
    ];
    for ((x, t_x, t), p_alive, expected) in cases {
        assert_rel(m.p_alive(x, t_x, t), p_alive, 1e-12, "p_alive");
        assert_rel(
            m.expected_purchases(39.0, x, t_x, t),
            expected,
            1e-10,
            "E[Y(39)]",
        );
    }
    // expected_number_of_purchases_up_to_time(39) and (78).
    assert_rel(
        m.expected_purchases_new(39.0),
        1.195_016_228_446_195_2,
        1e-10,
        "E[X(39)]",
    );
    assert_rel(
        m.expected_purchases_new(78.0),
        1.857_971_703_527_738_3,
        1e-10,
        "E[X(78)]",
    );
}

#[test]
fn bgnbd_fit_is_the_same_on_the_parallel_path() {
    // Ten copies of every customer: the same maximum, summed in parallel chunks.
    let customers = summary();
    let many: Vec<Rfm> = customers
        .iter()
        .flat_map(|c| std::iter::repeat_n(*c, 10))
        .collect();
    let one = BgNbd::fit(&customers).unwrap().model;
    let ten = BgNbd::fit(&many).unwrap();
    assert_eq!(ten.n, 23_570);
    assert_rel(ten.model.r, one.r, 1e-6, "r");
    assert_rel(ten.model.alpha, one.alpha, 1e-6, "alpha");
    assert_rel(ten.model.a, one.a, 1e-6, "a");
    assert_rel(ten.model.b, one.b, 1e-6, "b");
    assert_eq!(BgNbd::fit(&many).unwrap(), ten, "a fit is deterministic");
}

#[test]
fn a_penalty_shrinks_the_parameters() {
    let customers = summary();
    let plain = BgNbd::fit(&customers).unwrap().model;
    let options = FitOptions {
        penalizer: 0.01,
        ..FitOptions::default()
    };
    let shrunk = BgNbd::fit_with(&customers, &options).unwrap().model;
    let norm = |m: &BgNbd| m.r * m.r + m.alpha * m.alpha + m.a * m.a + m.b * m.b;
    assert!(norm(&shrunk) < norm(&plain), "{shrunk:?} vs {plain:?}");
}

#[test]
fn gamma_gamma_recovers_the_published_cdnow_estimates() {
    let spend: Vec<Spend> = with_spend().into_iter().map(|(_, s)| s).collect();
    let fit = GammaGamma::fit(&spend).unwrap();
    assert!(fit.converged, "{fit:?}");
    assert_eq!(fit.n, 946);
    let m = fit.model;
    // Fader & Hardie, "The Gamma-Gamma Model of Monetary Value": p = 6.25, q = 3.74,
    // γ = 15.44. The optimum is flat along v (lifetimes stops at 15.4477), so v is held to
    // three significant digits.
    assert_eq!(round(m.p, 2), 6.25, "{m:?}");
    assert_eq!(round(m.q, 2), 3.74, "{m:?}");
    assert_eq!(round(m.v, 1), 15.4, "{m:?}");
    let used: Vec<Spend> = spend.iter().copied().filter(|s| s.x > 0.0).collect();
    let theirs = LIFETIMES_GG.total_log_likelihood(&used);
    // lifetimes' log-likelihood at its fit: −4055.9232435028644.
    assert_rel(
        theirs,
        -4_055.923_243_502_864_4,
        1e-12,
        "log-likelihood at lifetimes' fit",
    );
    assert!(
        fit.log_likelihood >= theirs - 1e-6,
        "{} < {theirs}",
        fit.log_likelihood
    );
    assert_rel(m.p, LIFETIMES_GG.p, 1e-3, "p");
    assert_rel(m.q, LIFETIMES_GG.q, 1e-3, "q");
    assert_rel(m.v, LIFETIMES_GG.v, 1e-3, "v");
}

#[test]
fn expected_value_and_clv_match_lifetimes() {
    let data = with_spend();
    // CDNOW customers 1, 2, 11 and 101: lifetimes' conditional_expected_average_profit, and
    // customer_lifetime_value(bgf, ..., time=12, discount_rate=0.01, freq="W") with its BG/NBD
    // fit of the same file (parameters equal to LIFETIMES_BGNBD).
    let cases = [
        (0, 24.658_616_189_236_472, 36.278_495_763_625_41),
        (1, 18.911_479_869_929_103, 4.637_466_328_569_604),
        (10, 29.902_779_930_379_033, 66.659_397_046_516_91),
        (100, 18.899_360_577_049_02, 74.970_504_219_882_6),
    ];
    let monthly = Discounting {
        periods: 12,
        rate_per_period: 0.01,
        period_length: 4.345,
    };
    for (i, value, clv) in cases {
        let (c, s) = data[i];
        assert_rel(
            LIFETIMES_GG.expected_average_value(s.x, s.m),
            value,
            1e-12,
            "E[M]",
        );
        let ours = LIFETIMES_GG.clv_discounted(&LIFETIMES_BGNBD, c.x, c.t_x, c.t, s.m, &monthly);
        assert_rel(ours, clv, 1e-9, "CLV");
    }
}
