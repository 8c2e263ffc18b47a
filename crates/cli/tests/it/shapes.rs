//! The data-shape matrix: one generated bank projected onto the shapes of data users bring —
//! (a) a transaction log alone, (b) baskets alone, (c) a customer master alone, (d) customers
//! and transactions, (e) d with balance snapshots, (f) e with holdings and products, (g) all
//! nine tables — each through `portrait run`. For every shape and stage the test asserts the
//! outcome (ran with rows written, or skipped for the named reason), and that `sql` reads every
//! table the run wrote with the row count the manifest records.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use crate::common::{generate, ok, project, scalar};

/// The generated bank, shared by the shapes.
fn bank() -> &'static Path {
    static BANK: OnceLock<(tempfile::TempDir, PathBuf)> = OnceLock::new();
    let (_, dir) = BANK.get_or_init(|| {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("bank");
        generate(&dir, 1200, 17, &[]);
        (tmp, dir)
    });
    dir
}

/// What `portrait run --format json` said of each stage: `Ok(rows written)` or
/// `Err(reason skipped)`.
type Outcomes = BTreeMap<String, Result<u64, String>>;

fn run_shape(name: &str, tables: &[(&str, Option<&[&str]>)]) -> (tempfile::TempDir, Outcomes) {
    let tmp = tempfile::tempdir().unwrap();
    let files: Vec<String> = tables
        .iter()
        .map(|(t, cols)| project(bank(), tmp.path(), t, *cols))
        .collect();
    let store = tmp.path().join("store");
    let mut args = vec!["ingest"];
    args.extend(files.iter().map(String::as_str));
    ok(&store, &args);
    let out = ok(&store, &["run", "--format", "json"]);
    let rows: Vec<serde_json::Value> =
        serde_json::from_str(&out).unwrap_or_else(|e| panic!("{name}: {e}: {out}"));
    let outcomes: Outcomes = rows
        .iter()
        .map(|r| {
            let stage = r["stage"].as_str().unwrap().to_string();
            let o = if r["ran"].as_bool().unwrap() {
                Ok(r["rows"].as_u64().unwrap())
            } else {
                Err(r["skipped"].as_str().unwrap().to_string())
            };
            (stage, o)
        })
        .collect();
    every_table_reads_back(name, &store);
    (tmp, outcomes)
}

/// `sql` reads every table of the manifest, with the manifest's row count.
fn every_table_reads_back(shape: &str, store: &Path) {
    let manifest: serde_json::Value =
        serde_json::from_slice(&std::fs::read(store.join("manifest.json")).unwrap()).unwrap();
    for (table, entry) in manifest["tables"].as_object().unwrap() {
        let n = scalar(store, &format!("SELECT count(*) FROM \"{table}\""));
        assert_eq!(
            n,
            entry["rows"].to_string(),
            "{shape}: `{table}` reads back {n} rows, the manifest says {}",
            entry["rows"]
        );
    }
}

fn ran(shape: &str, o: &Outcomes, stage: &str) -> u64 {
    match &o[stage] {
        Ok(rows) => *rows,
        Err(why) => panic!("{shape}: `{stage}` was skipped: {why}"),
    }
}

fn ran_rows(shape: &str, o: &Outcomes, stage: &str) {
    assert!(
        ran(shape, o, stage) > 0,
        "{shape}: `{stage}` ran but wrote no rows"
    );
}

fn skipped(shape: &str, o: &Outcomes, stage: &str, because: &str) {
    match &o[stage] {
        Err(why) => assert!(
            why.contains(because),
            "{shape}: `{stage}` skipped for `{why}`, expected `{because}`"
        ),
        Ok(_) => panic!("{shape}: `{stage}` ran; expected it skipped for `{because}`"),
    }
}

/// The stored churn report (JSON), out of its CSV quoting.
fn churn_report(store: &Path) -> String {
    let v = scalar(store, "SELECT model FROM model WHERE name = 'churn_report'");
    v.trim_matches('"').replace("\"\"", "\"")
}

const TRANSACTION_LOG: &[&str] = &["cust_no", "ts", "amount"];
const BASKETS: &[&str] = &["cust_no", "product_id"];

#[test]
fn a_transactions_only() {
    let s = "(a) transactions only";
    let (tmp, o) = run_shape(s, &[("transaction", Some(TRANSACTION_LOG))]);
    let store = tmp.path().join("store");
    for stage in ["resolve", "features", "score", "segment", "tags"] {
        ran_rows(s, &o, stage);
    }
    // One party per customer number of the log.
    assert_eq!(
        scalar(&store, "SELECT count(*) FROM party"),
        scalar(
            &store,
            "SELECT count(DISTINCT cust_no) FROM \"transaction\""
        )
    );
    // Churn is judged by activity; every party of a log has some, so each is either scored
    // or, silent for 90 days, reported as churned.
    let report = churn_report(&store);
    assert!(report.contains("\"label\":\"activity\""), "{report}");
    assert_eq!(
        scalar(
            &store,
            "SELECT count(*) FROM features WHERE recency_class IS NULL OR p_alive IS NULL \
             OR (churn_probability IS NULL) <> (retention_group = 'churned')"
        ),
        "0"
    );
    skipped(s, &o, "rules", "no basket holds an item");
    skipped(s, &o, "recommend", "needs `rule`");
    // A customer number of the log alone (no customer master) can be erased.
    let who = scalar(&store, "SELECT min(cust_no) FROM \"transaction\"");
    let parties = scalar(&store, "SELECT count(*) FROM party");
    ok(&store, &["erase", &who, "--reason", "request 7"]);
    let q = format!("SELECT count(*) FROM \"transaction\" WHERE cust_no = '{who}'");
    assert_eq!(scalar(&store, &q), "0");
    assert_eq!(
        scalar(&store, "SELECT count(*) FROM party")
            .parse::<u64>()
            .unwrap(),
        parties.parse::<u64>().unwrap() - 1
    );
    let out = crate::common::run(&store, &["erase", "no-such-number", "--reason", "x"]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("no customer `no-such-number`"));
}

#[test]
fn b_baskets_only() {
    let s = "(b) baskets only";
    let (tmp, o) = run_shape(s, &[("holding", Some(BASKETS))]);
    let store = tmp.path().join("store");
    for stage in ["resolve", "features", "score", "rules", "recommend", "tags"] {
        ran_rows(s, &o, stage);
    }
    // No recommendation of a product the party holds.
    assert_eq!(
        scalar(
            &store,
            "SELECT count(*) FROM recommendation r JOIN party_member pm ON pm.party_id = r.party_id \
             JOIN holding h ON h.cust_no = pm.cust_no AND h.product_id = r.product_id"
        ),
        "0"
    );
}

#[test]
fn c_customers_only() {
    let s = "(c) customers only";
    let (_tmp, o) = run_shape(s, &[("customer", None)]);
    for stage in ["resolve", "links", "features", "score", "tags"] {
        ran_rows(s, &o, stage);
    }
    skipped(s, &o, "rules", "needs `holding` or `transaction`");
    skipped(s, &o, "recommend", "needs `rule`");
}

#[test]
fn d_customers_and_transactions() {
    let s = "(d) customers + transactions";
    let (tmp, o) = run_shape(s, &[("customer", None), ("transaction", None)]);
    let store = tmp.path().join("store");
    for stage in [
        "resolve", "links", "features", "score", "segment", "rules", "tags",
    ] {
        ran_rows(s, &o, stage);
    }
    // Regression: no holdings made `product_value` an empty directory that could not be read.
    assert_eq!(scalar(&store, "SELECT count(*) FROM product_value"), "0");
    // Purchase categories make rules, but no basket holds a product to recommend.
    skipped(s, &o, "recommend", "no basket holds a product");
}

#[test]
fn e_with_balances() {
    let s = "(e) d + asset snapshots";
    let (tmp, o) = run_shape(
        s,
        &[
            ("customer", None),
            ("transaction", None),
            ("asset_snapshot", None),
        ],
    );
    let store = tmp.path().join("store");
    for stage in [
        "resolve", "links", "features", "score", "segment", "rules", "tags",
    ] {
        ran_rows(s, &o, stage);
    }
    // The default label is activity, with balances or without.
    let report = churn_report(&store);
    assert!(report.contains("\"label\":\"activity\""), "{report}");
}

#[test]
fn f_with_holdings_and_products() {
    let s = "(f) e + holdings and products";
    let (_tmp, o) = run_shape(
        s,
        &[
            ("customer", None),
            ("transaction", None),
            ("asset_snapshot", None),
            ("holding", None),
            ("product", None),
        ],
    );
    for stage in [
        "resolve",
        "links",
        "features",
        "score",
        "segment",
        "rules",
        "recommend",
        "tags",
    ] {
        ran_rows(s, &o, stage);
    }
}

#[test]
fn g_all_nine_tables() {
    let s = "(g) all nine tables";
    let tables: Vec<(&str, Option<&[&str]>)> = portrait_types_tables()
        .into_iter()
        .map(|t| (t, None))
        .collect();
    let (tmp, o) = run_shape(s, &tables);
    for stage in o.keys() {
        ran_rows(s, &o, stage);
    }
    // Scores are their own table, read through `features`; running `features` again keeps them.
    let store = tmp.path().join("store");
    let scored = "SELECT count(*) FROM features WHERE churn_probability IS NOT NULL";
    let before = scalar(&store, scored);
    assert_ne!(before, "0");
    ok(&store, &["features"]);
    assert_eq!(scalar(&store, scored), before);
}

/// The nine input tables, as the generator writes them.
fn portrait_types_tables() -> Vec<&'static str> {
    vec![
        "customer",
        "asset_snapshot",
        "transaction",
        "holding",
        "event",
        "campaign_response",
        "relation",
        "interaction",
        "product",
    ]
}

#[test]
fn a_single_command_names_the_file_to_load() {
    let tmp = tempfile::tempdir().unwrap();
    let store = tmp.path().join("store");
    ok(
        &store,
        &["ingest", &project(bank(), tmp.path(), "customer", None)],
    );
    let out = crate::common::run(&store, &["rules"]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("portrait ingest holding=FILE") || err.contains("`features`"),
        "{err}"
    );
}

/// Public data as shape (a): the CDNOW master log (23,570 customers, 69,659 purchases) through
/// `run`; every customer's recency class at 1998-07-01 equals pandas' (tests/references/cdnow.py).
#[test]
fn cdnow_master_through_run_matches_pandas() {
    let refs = crate::common::repo_root().join("target/references/cdnow");
    let reference = refs.join("recency_1998-07-01.csv");
    assert!(
        reference.exists(),
        "{} is missing: run tests/fetch-references.sh first (the README's test command does)",
        reference.display()
    );
    let tmp = tempfile::tempdir().unwrap();
    let store = tmp.path().join("store");
    ok(
        &store,
        &[
            "ingest",
            &format!("transaction={}", refs.join("transaction.csv").display()),
        ],
    );
    let out = ok(
        &store,
        &["run", "--as-of", "1998-07-01", "--format", "json"],
    );
    let rows: Vec<serde_json::Value> = serde_json::from_str(&out).unwrap();
    for r in &rows {
        let stage = r["stage"].as_str().unwrap();
        let expect_ran = !matches!(stage, "rules" | "recommend" | "links");
        if expect_ran {
            assert_eq!(r["ran"], true, "CDNOW: `{stage}` did not run: {r}");
        }
    }
    let ours = ok(
        &store,
        &[
            "sql",
            "SELECT pm.cust_no, f.recency_days, f.recency_class FROM features f \
             JOIN party_member pm ON pm.party_id = f.party_id ORDER BY pm.cust_no",
            "--format",
            "csv",
        ],
    );
    let mut r = csv::Reader::from_path(&reference).unwrap();
    let expected: Vec<(String, String, String)> = r
        .records()
        .map(|x| {
            let x = x.unwrap();
            (x[0].to_string(), x[1].to_string(), x[2].to_string())
        })
        .collect();
    let got: Vec<(String, String, String)> = csv::Reader::from_reader(ours.as_bytes())
        .records()
        .map(|x| {
            let x = x.unwrap();
            (x[0].to_string(), x[1].to_string(), x[2].to_string())
        })
        .collect();
    assert_eq!(expected.len(), 23_570);
    assert_eq!(got.len(), expected.len());
    let differ: Vec<_> = expected
        .iter()
        .zip(&got)
        .filter(|(e, g)| e != g)
        .take(5)
        .collect();
    assert!(differ.is_empty(), "recency differs from pandas: {differ:?}");
    // The lifetime model is fitted on the log, within its budget.
    assert_eq!(
        scalar(
            &store,
            "SELECT count(*) FROM features WHERE p_alive IS NULL"
        ),
        "0"
    );
}

/// Public data as shape (c): the FEBRL3 customer master (5,000 records of 2,000 people) through
/// `run` with the default configuration.
#[test]
fn febrl_customer_master_through_run() {
    let dir = crate::common::repo_root().join("target/references/febrl/febrl3");
    assert!(
        dir.join("customer.csv").exists(),
        "{} is missing: run tests/fetch-references.sh first",
        dir.display()
    );
    let tmp = tempfile::tempdir().unwrap();
    let store = tmp.path().join("store");
    ok(
        &store,
        &["ingest", dir.join("customer.csv").to_str().unwrap()],
    );
    let out = ok(&store, &["run", "--format", "json"]);
    let rows: Vec<serde_json::Value> = serde_json::from_str(&out).unwrap();
    let get = |stage: &str| rows.iter().find(|r| r["stage"] == stage).unwrap().clone();
    for stage in ["resolve", "links", "features", "score", "tags"] {
        assert_eq!(get(stage)["ran"], true, "FEBRL3: `{stage}`: {}", get(stage));
    }
    assert!(
        get("rules")["skipped"]
            .as_str()
            .unwrap()
            .contains("needs `holding` or `transaction`")
    );
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
    assert!(f1 > 0.98, "FEBRL3 pairwise F1 {f1} through run: {e}");
    assert_eq!(
        scalar(&store, "SELECT count(*) FROM party"),
        scalar(&store, "SELECT count(DISTINCT party_id) FROM features")
    );
}

/// A real basket set as shape (b): Weka's supermarket baskets (4,627 baskets of a New Zealand
/// supermarket, from Debian's `weka` package) loaded as holdings, through `run`; FP-Growth's
/// itemset count and every rule with one consequent (support count, confidence) equal pyfim's
/// on the same baskets (tests/references/supermarket.py).
#[test]
fn supermarket_baskets_through_run_match_pyfim() {
    let refs = crate::common::repo_root().join("target/references/supermarket");
    let fim = refs.join("fim.json");
    assert!(
        fim.exists(),
        "{} is missing: run tests/fetch-references.sh first (the README's test command does)",
        fim.display()
    );
    let reference: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&fim).unwrap()).unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let config = tmp.path().join("portrait.toml");
    std::fs::write(
        &config,
        "[rules]\nmin_support = 0.1\nmin_confidence = 0.5\nmax_len = 4\n",
    )
    .unwrap();
    let c = config.to_str().unwrap();
    let store = tmp.path().join("store");
    ok(
        &store,
        &[
            "ingest",
            &format!("holding={}", refs.join("holding.csv").display()),
        ],
    );
    let out = ok(&store, &["--config", c, "run", "--format", "json"]);
    let rows: Vec<serde_json::Value> = serde_json::from_str(&out).unwrap();
    for stage in ["resolve", "features", "rules", "recommend", "tags"] {
        let r = rows.iter().find(|r| r["stage"] == stage).unwrap();
        assert_eq!(r["ran"], true, "supermarket: `{stage}`: {r}");
    }
    let mined: serde_json::Value =
        serde_json::from_str(&ok(&store, &["--config", c, "rules", "--format", "json"])).unwrap();
    assert_eq!(mined["baskets"], reference["baskets"]);
    assert_eq!(
        mined["itemsets"], reference["itemsets"],
        "itemsets against pyfim"
    );

    let n = reference["baskets"].as_f64().unwrap();
    let ours = ok(
        &store,
        &[
            "sql",
            "SELECT antecedent, consequent, support, confidence FROM rule \
             WHERE strpos(consequent, '|') = 0 ORDER BY antecedent, consequent",
            "--format",
            "csv",
        ],
    );
    let mut got: Vec<(Vec<String>, String, u64, f64)> = csv::Reader::from_reader(ours.as_bytes())
        .records()
        .map(|r| {
            let r = r.unwrap();
            let ante: Vec<String> = r[0].split('|').map(str::to_string).collect();
            let support: f64 = r[2].parse().unwrap();
            (
                ante,
                r[1].to_string(),
                (support * n).round() as u64,
                r[3].parse().unwrap(),
            )
        })
        .collect();
    got.sort_by(|a, b| (&a.0, &a.1).cmp(&(&b.0, &b.1)));
    let expected: Vec<(Vec<String>, String, u64, f64)> = reference["rules"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            let ante: Vec<String> = r[0]
                .as_array()
                .unwrap()
                .iter()
                .map(|v| v.as_str().unwrap().to_string())
                .collect();
            let both = r[2].as_u64().unwrap();
            let body = r[3].as_u64().unwrap();
            (
                ante,
                r[1].as_str().unwrap().to_string(),
                both,
                both as f64 / body as f64,
            )
        })
        .collect();
    assert_eq!(
        got.len(),
        expected.len(),
        "single-consequent rules against pyfim"
    );
    for (g, e) in got.iter().zip(&expected) {
        assert_eq!((&g.0, &g.1, g.2), (&e.0, &e.1, e.2), "rule against pyfim");
        assert!(
            (g.3 - e.3).abs() < 1e-9,
            "confidence of {g:?} against pyfim {e:?}"
        );
    }
}
