//! Churn judged against what happened: a generated bank whose leavers show (or do not show)
//! warning signs, scored three months before its end and evaluated with `portrait eval churn`
//! against the generator's truth; the label's variants; and the truth file's errors.

use crate::common::{generate, ok, run};

/// Three months before the generated bank's last day (2026-11-30).
const AS_OF: &str = "2026-09-01";

#[test]
fn churn_scores_rank_the_real_leavers_and_are_calibrated() {
    let tmp = tempfile::tempdir().unwrap();
    let bank = tmp.path().join("bank");
    generate(&bank, 6000, 5, &[]);
    let store = tmp.path().join("store");
    ok(&store, &["ingest", bank.to_str().unwrap()]);
    ok(&store, &["resolve"]);
    ok(&store, &["features", "--as-of", AS_OF]);
    let rows = tmp.path().join("rows");
    let out = run(
        &store,
        &[
            "score",
            "--as-of",
            AS_OF,
            "--format",
            "json",
            "--churn-rows",
            rows.to_str().unwrap(),
        ],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    // BG/NBD converges on the bank without any setting.
    assert_eq!(report["bgnbd"]["bgnbd"]["converged"], true, "{stderr}");
    assert!(!stderr.contains("warning"), "{stderr}");

    let churn = &report["churn"];
    assert_eq!(churn["label"], "activity");
    // Validation three months plus the 90 days' silence before the as-of date.
    assert_eq!(churn["test_as_of"], "2026-03-05");
    let cal = &churn["calibration"];
    // Calibrated out of fold on the latest training date, whose labels see the long silence
    // the model learned from, not on the validation date's shorter one.
    assert_eq!(cal["as_of"], churn["train_as_of"], "{cal}");
    assert!(cal["rows"].as_u64().unwrap() > 1000, "{cal}");
    let method = cal["method"].as_str().unwrap();
    assert!(["platt", "isotonic", "none"].contains(&method), "{cal}");
    assert!(
        cal["ece_calibrated"].as_f64().unwrap() <= cal["ece_raw"].as_f64().unwrap() + 1e-9,
        "calibration made the held-out probabilities worse: {cal}"
    );

    // The rows the model learned from and scored, for checking it with other tools: one per
    // party and date of the report, labelled at the training and validation dates only.
    let names: Vec<&str> = churn["importance"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v[0].as_str().unwrap())
        .collect();
    let read = |name: &str| {
        let text = std::fs::read_to_string(rows.join(format!("{name}.csv"))).unwrap();
        let mut lines = text.lines();
        let header: Vec<String> = lines.next().unwrap().split(',').map(String::from).collect();
        let body: Vec<Vec<String>> = lines
            .map(|l| l.split(',').map(String::from).collect())
            .collect();
        (header, body)
    };
    let mut churners = [0usize; 2];
    for (set, (name, n, rate)) in [
        ("training", "n_train", "train_churn_rate"),
        ("validation", "n_test", "test_churn_rate"),
    ]
    .into_iter()
    .enumerate()
    {
        let (header, body) = read(name);
        assert_eq!(header[..3], ["party_id", "as_of", "churned"], "{name}");
        let mut inputs: Vec<&str> = header[3..].iter().map(String::as_str).collect();
        let mut expected = names.clone();
        inputs.sort();
        expected.sort();
        assert_eq!(inputs, expected, "{name}.csv names the model's inputs");
        assert_eq!(body.len() as u64, churn[n].as_u64().unwrap(), "{name}");
        assert!(body.iter().all(|r| r.len() == header.len()), "{name}");
        churners[set] = body.iter().filter(|r| r[2] == "1").count();
        assert!(body.iter().all(|r| r[2] == "0" || r[2] == "1"), "{name}");
        let share = churners[set] as f64 / body.len() as f64;
        assert!(
            (share - churn[rate].as_f64().unwrap()).abs() < 1e-9,
            "{name}"
        );
    }
    // Several training dates: a party appears once per date, so more often than at validation.
    let (_, training) = read("training");
    let dates: std::collections::BTreeSet<&str> = training.iter().map(|r| r[1].as_str()).collect();
    assert_eq!(dates.len(), 3, "{dates:?}");
    assert_eq!(churn["train_dates"].as_array().unwrap().len(), 3);
    assert_eq!(
        dates.last().copied(),
        churn["train_as_of"].as_str(),
        "the latest training date is the reported one"
    );
    let (_, scoring) = read("scoring");
    assert!(scoring.iter().all(|r| r[1] == AS_OF && r[2].is_empty()));
    let parties = report["parties"].as_u64().unwrap() as usize;
    let gone = churn["churned_at_as_of"].as_u64().unwrap() as usize;
    assert!(
        scoring.len() > parties / 2 && scoring.len() + gone <= parties,
        "{} scored and {gone} churned of {parties} parties",
        scoring.len()
    );

    // Against the truth: the parties whose person leaves in the 90 days after the as-of date.
    let truth = bank.join("truth/customer_churn.csv");
    let json = ok(
        &store,
        &[
            "eval",
            "churn",
            "--truth",
            truth.to_str().unwrap(),
            "--as-of",
            AS_OF,
            "--horizon",
            "90d",
            "--format",
            "json",
        ],
    );
    let e: serde_json::Value = serde_json::from_str(&json).unwrap();
    let (auc, lift) = (
        e["roc_auc"].as_f64().unwrap(),
        e["lift_at_10pct"].as_f64().unwrap(),
    );
    assert!(e["churners"].as_u64().unwrap() >= 40, "{e}");
    assert!(auc >= 0.70, "ROC-AUC against the truth {auc}: {e}");
    assert!(lift >= 3.0, "top-decile lift against the truth {lift}: {e}");
    assert!(
        e["pr_auc"].as_f64().unwrap() > 2.0 * e["churn_rate"].as_f64().unwrap(),
        "{e}"
    );
    // Most of those reported as already churned have really left.
    let reported = e["reported_churned"].as_f64().unwrap();
    let confirmed = e["reported_churned_confirmed"].as_f64().unwrap();
    assert!(reported > 0.0 && confirmed / reported >= 0.4, "{e}");

    // The table names the measures.
    let text = ok(
        &store,
        &["eval", "churn", "--truth", truth.to_str().unwrap()],
    );
    for word in [
        "ROC-AUC",
        "PR-AUC",
        "lift in the top 10%",
        "capture in the top 10%",
        "Brier",
    ] {
        assert!(text.contains(word), "{text}");
    }

    // Another label: churn is a silence and balances down by half.
    let config = tmp.path().join("portrait.toml");
    std::fs::write(
        &config,
        "[score.churn]\nlabel = \"activity+assets\"\nassets_drop = 0.5\ncalibration = \"platt\"\n",
    )
    .unwrap();
    let json = ok(
        &store,
        &[
            "--config",
            config.to_str().unwrap(),
            "score",
            "--as-of",
            AS_OF,
            "--format",
            "json",
        ],
    );
    let r: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(r["churn"]["label"], "activity+assets", "{}", r["churn"]);
    assert_eq!(r["churn"]["calibration"]["method"], "platt");
    assert!(
        r["churn"]["test_churn_rate"].as_f64().unwrap()
            < churn["test_churn_rate"].as_f64().unwrap(),
        "a stricter label finds fewer churners"
    );

    // A label that names no condition is refused with the key.
    std::fs::write(&config, "[score.churn]\nlabel = \"activity+gone\"\n").unwrap();
    let out = run(
        &store,
        &[
            "--config",
            config.to_str().unwrap(),
            "score",
            "--as-of",
            AS_OF,
        ],
    );
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("score.churn.label") && err.contains("`gone`"),
        "{err}"
    );
}

#[test]
fn a_bad_truth_file_is_named_with_its_line_and_column() {
    let tmp = tempfile::tempdir().unwrap();
    let bank = tmp.path().join("bank");
    generate(&bank, 300, 2, &[]);
    let store = tmp.path().join("store");
    ok(&store, &["ingest", bank.to_str().unwrap()]);
    ok(&store, &["features", "--as-of", AS_OF]);
    ok(&store, &["score", "--as-of", AS_OF]);
    let truth = tmp.path().join("truth.csv");
    std::fs::write(
        &truth,
        "cust_no,churn_date\n1000000001,2026-10-01\n1000000002,01/10/2026\n",
    )
    .unwrap();
    let out = run(
        &store,
        &["eval", "churn", "--truth", truth.to_str().unwrap()],
    );
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("truth.csv:3") && err.contains("column 2") && err.contains("01/10/2026"),
        "{err}"
    );
    std::fs::write(&truth, "customer,date\n1,2026-10-01\n").unwrap();
    let out = run(
        &store,
        &["eval", "churn", "--truth", truth.to_str().unwrap()],
    );
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("cust_no and churn_date"), "{err}");
    let out = run(
        &store,
        &[
            "eval",
            "churn",
            "--truth",
            truth.to_str().unwrap(),
            "--horizon",
            "three months",
        ],
    );
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("--horizon"), "{err}");
}
