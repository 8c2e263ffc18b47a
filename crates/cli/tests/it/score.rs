//! `portrait score` on a generated bank: every party scored, scores within their ranges, churn
//! models that beat chance on the test date, and the retention groups by their cut-offs.

use crate::common::{generate, ok, run, snapshot};

#[test]
fn scores_a_generated_bank() {
    let tmp = tempfile::tempdir().unwrap();
    let bank = tmp.path().join("bank");
    generate(&bank, 3000, 11, &[]);
    let store = tmp.path().join("store");
    ok(&store, &["ingest", bank.to_str().unwrap()]);

    // Scoring before the features exist says what to do, and changes nothing.
    let before = snapshot(&store);
    let out = run(&store, &["score", "--as-of", "2026-11-30"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("portrait features"));
    assert_eq!(before, snapshot(&store));

    ok(&store, &["features", "--as-of", "2026-11-30"]);
    let json = ok(&store, &["score", "--format", "json"]);
    let report: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(report["as_of"], "2026-11-30");
    let churn = &report["churn"];
    // Judged on the validation date's own labels, which see only 90 days of silence after
    // the window and so count some pausing stayers as leavers: the bar against the truth is
    // in churn.rs.
    for e in churn["evaluations"].as_array().unwrap() {
        let auc = e["auc"].as_f64().unwrap();
        let bar = if e["model"] == "gbt" { 0.65 } else { 0.55 };
        assert!(auc > bar, "churn model {} AUC {auc}", e["model"]);
    }
    assert!(report["bgnbd"]["bgnbd"]["model"]["r"].as_f64().unwrap() > 0.0);

    let check = |sql: &str| ok(&store, &["sql", sql, "--format", "csv"]);
    // Every party that can still leave has a probability, every party a group; probabilities
    // are probabilities. A party silent for 90 days is churned, not scored.
    assert_eq!(
        check(
            "SELECT count(*) AS n FROM features WHERE (churn_probability IS NULL AND retention_group <> 'churned' AND recency_days IS NOT NULL) \
             OR churn_probability < 0 OR churn_probability > 1 OR retention_group IS NULL OR p_alive < 0 OR p_alive > 1"
        ),
        "n\n0\n"
    );
    // Churned is 90 days without any activity (a salary coming in or a login counts, not only
    // the debits of `recency_days`), so never a party with a debit in the last 90 days.
    assert_eq!(
        check(
            "SELECT count(*) AS n FROM features WHERE retention_group = 'churned' AND recency_days < 90"
        ),
        "n\n0\n"
    );
    let churned = check("SELECT count(*) AS n FROM features WHERE retention_group = 'churned'");
    assert_ne!(churned, "n\n0\n", "a generated bank has churned parties");
    // Discounted-profit CLV: three years at 8%.
    assert_eq!(
        check(
            "SELECT count(*) AS n FROM features WHERE abs(clv - profit * (1/1.08 + 1/power(1.08, 2) + 1/power(1.08, 3))) > 1e-6 * (1 + abs(clv))"
        ),
        "n\n0\n"
    );
    // Retention groups follow their definitions.
    assert_eq!(
        check(
            "SELECT count(*) AS n FROM features WHERE \
             retention_group <> 'churned' AND ((retention_group = 'no_value') <> (clv <= 0) \
             OR (retention_group LIKE '%churn_prone') <> (clv > 0 AND churn_probability >= 0.3))"
        ),
        "n\n0\n"
    );
    let high = check(
        "SELECT CAST(round(100.0 * count(*) FILTER (WHERE retention_group LIKE 'high_value%') \
         / count(*) FILTER (WHERE clv > 0)) AS BIGINT) AS pct FROM features WHERE retention_group <> 'churned'",
    );
    assert_eq!(high, "pct\n20\n", "the top 20% by value are high-value");
    // The models and the value by product are stored.
    assert_eq!(
        check("SELECT name FROM model ORDER BY name"),
        "name\nbgnbd\nchurn_gbt\nchurn_logistic\nchurn_report\ngamma_gamma\n"
    );
    let groups = check("SELECT count(DISTINCT group_by) AS n FROM product_value");
    assert_eq!(groups, "n\n4\n");
}
