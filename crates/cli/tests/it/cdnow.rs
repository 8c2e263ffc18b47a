//! BG/NBD and Gamma-Gamma through the whole product — ingest the CDNOW transactions, fit, print
//! JSON — against the published parameters of Fader, Hardie & Lee (2005): r = 0.243,
//! α = 4.414, a = 0.793, b = 2.426 (39-week calibration, weeks), and p = 6.25, q = 3.74,
//! γ = 15.44 for the spend model.
//!
//! The data ships with PyPI's `lifetimes` package; its licence is not stated, so it is not
//! committed: `tests/fetch-references.sh` (run by the README's test command) puts it under
//! `target/references/`.

use std::path::PathBuf;

use crate::common::ok;

fn cdnow_sample() -> PathBuf {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..");
    let p = root.join("target/references/lifetimes/datasets/CDNOW_sample.txt");
    assert!(
        p.exists(),
        "{} is missing: run tests/fetch-references.sh first (the README's test command does)",
        p.display()
    );
    p
}

/// Three significant digits.
fn sig3(v: f64) -> String {
    format!("{:.2e}", v)
}

#[test]
fn cdnow_reproduces_the_published_parameters() {
    let tmp = tempfile::tempdir().unwrap();
    // master id, sample id, YYYYMMDD, CDs bought, dollar value
    let mut csv = String::from("txn_id,cust_no,ts,amount\n");
    let text = std::fs::read_to_string(cdnow_sample()).unwrap();
    for (i, line) in text.lines().enumerate() {
        let f: Vec<&str> = line.split_whitespace().collect();
        if f.len() == 5 {
            let d = f[2];
            csv += &format!(
                "{i},{},{}-{}-{},{}\n",
                f[0],
                &d[..4],
                &d[4..6],
                &d[6..],
                f[4]
            );
        }
    }
    let file = tmp.path().join("cdnow.csv");
    std::fs::write(&file, csv).unwrap();
    let store = tmp.path().join("store");
    ok(
        &store,
        &["ingest", &format!("transaction={}", file.display())],
    );
    let out = ok(
        &store,
        &[
            "score",
            "bgnbd",
            "--calibration-end",
            "1997-09-30",
            "--format",
            "json",
        ],
    );
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    let get = |k: &str| {
        v[k].as_f64()
            .unwrap_or_else(|| panic!("{k} missing in {out}"))
    };
    assert_eq!(v["customers"], 2357, "{out}");
    assert_eq!(v["converged"], true, "{out}");
    for (k, published) in [
        ("r", 0.243),
        ("alpha", 4.414),
        ("a", 0.793),
        ("b", 2.426),
        ("p", 6.25),
        ("q", 3.74),
        ("v", 15.44),
    ] {
        assert_eq!(sig3(get(k)), sig3(published), "{k}: {out}");
    }
}
