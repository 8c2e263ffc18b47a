//! Segments, rules and recommendations on a generated bank: every party in one segment,
//! profiles that add up, deterministic fits, each method end to end, and recommendations that
//! respect risk level, consent and what a party already holds.

use crate::common::{copy_dir, ok, pipeline_store, run, scalar, snapshot};

fn n(store: &std::path::Path, sql: &str) -> u64 {
    scalar(store, sql)
        .parse()
        .unwrap_or_else(|e| panic!("{sql}: {e}"))
}

#[test]
fn run_segments_every_party_once_with_profiles_that_add_up() {
    let store = pipeline_store();
    let parties = n(
        store,
        "SELECT count(*) FROM features WHERE as_of = (SELECT max(as_of) FROM features)",
    );
    assert_eq!(
        n(store, "SELECT count(*) FROM segment WHERE model = 'value'"),
        parties
    );
    assert_eq!(
        n(
            store,
            "SELECT count(DISTINCT party_id) FROM segment WHERE model = 'value'"
        ),
        parties
    );
    let k = n(
        store,
        "SELECT count(*) FROM segment_profile WHERE model = 'value'",
    );
    assert!((3..=8).contains(&k), "k = {k}");
    assert_eq!(
        n(
            store,
            "SELECT sum(size) FROM segment_profile WHERE model = 'value'"
        ),
        parties
    );
    let shares = scalar(
        store,
        "SELECT round(sum(share), 6) || '/' || round(sum(value_share), 6) FROM segment_profile WHERE model = 'value'",
    );
    assert_eq!(shares, "1.0/1.0");
    // Segments are numbered by falling value; every one has a persona and an action.
    assert_eq!(
        n(
            store,
            "SELECT count(*) FROM segment_profile WHERE persona = '' OR persona_zh = '' \
                  OR action NOT IN ('retain', 'develop', 'maintain', 'reactivate')"
        ),
        0
    );
    let means = ok(
        store,
        &[
            "sql",
            "SELECT s.segment, avg(f.clv) AS v FROM segment s JOIN features f ON f.party_id = s.party_id \
                 AND f.as_of = (SELECT max(as_of) FROM features) GROUP BY 1 ORDER BY 1",
            "--format",
            "csv",
        ],
    );
    let v: Vec<f64> = means
        .lines()
        .skip(1)
        .map(|l| l.split(',').nth(1).unwrap().parse().unwrap())
        .collect();
    assert!(
        v.windows(2).all(|w| w[0] >= w[1]),
        "segments by falling mean value: {v:?}"
    );
    // Published as a tag.
    let list = ok(store, &["tags", "list", "--format", "csv"]);
    assert!(list.contains("\nsegment_value,value,"), "{list}");
}

#[test]
fn each_method_runs_deterministically_and_versions_the_model() {
    let tmp = tempfile::tempdir().unwrap();
    let store = tmp.path().join("s");
    copy_dir(pipeline_store(), &store);
    let seg = |args: &[&str]| {
        let mut a = vec!["segment", "--format", "json"];
        a.extend_from_slice(args);
        let out = ok(&store, &a);
        serde_json::from_str::<serde_json::Value>(&out).unwrap()
    };
    let first = seg(&["--model", "m", "--k", "4"]);
    let labels1 = ok(
        &store,
        &[
            "sql",
            "SELECT party_id, segment FROM segment WHERE model = 'm' ORDER BY 1",
            "--format",
            "csv",
        ],
    );
    let second = seg(&["--model", "m", "--k", "4"]);
    let labels2 = ok(
        &store,
        &[
            "sql",
            "SELECT party_id, segment FROM segment WHERE model = 'm' ORDER BY 1",
            "--format",
            "csv",
        ],
    );
    assert_eq!(labels1, labels2, "same data, same seed, same segments");
    assert_eq!(first["version"], 1);
    assert_eq!(second["version"], 2);
    assert_eq!(
        n(
            &store,
            "SELECT count(*) FROM segment_model WHERE model = 'm'"
        ),
        2
    );
    // The other model's rows are untouched.
    assert!(n(&store, "SELECT count(*) FROM segment WHERE model = 'value'") > 0);
    for (method, k) in [("gmm", "3"), ("hierarchical", "auto"), ("minibatch", "5")] {
        let o = seg(&["--model", method, "--method", method, "--k", k]);
        assert_eq!(o["method"], method);
        let got = o["k"].as_u64().unwrap();
        if k != "auto" {
            assert_eq!(got.to_string(), k);
        } else {
            assert!(!o["k_scores"].as_array().unwrap().is_empty());
        }
        assert_eq!(
            n(
                &store,
                &format!("SELECT count(DISTINCT segment) FROM segment WHERE model = '{method}'")
            ),
            got
        );
    }
    // Bad parameters are refused, and nothing changes.
    let before = snapshot(&store);
    for (args, want) in [
        (
            vec!["segment", "--method", "dbscan"],
            "segment method `dbscan` is unknown",
        ),
        (vec!["segment", "--k", "0"], "k cannot be 0"),
        (
            vec!["segment", "--method", "kprototypes", "--k", "3"],
            "k-prototypes needs `categorical` inputs",
        ),
    ] {
        let out = run(&store, &args);
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{err}");
        assert!(err.contains(want), "{err}");
    }
    assert_eq!(before, snapshot(&store));
}

#[test]
fn rules_are_well_formed_and_their_measures_hold() {
    let store = pipeline_store();
    assert!(n(store, "SELECT count(*) FROM rule") > 10);
    assert_eq!(
        n(
            store,
            "SELECT count(*) FROM rule WHERE support < 0.02 OR confidence < 0.3 OR lift <= 0 \
                  OR antecedent = '' OR consequent = ''"
        ),
        0
    );
    // Sides are sorted item names joined by `|`.
    let rows = ok(
        store,
        &[
            "sql",
            "SELECT antecedent, consequent FROM rule",
            "--format",
            "csv",
        ],
    );
    for l in rows.lines().skip(1) {
        for side in l.split(',') {
            let items: Vec<&str> = side.split('|').collect();
            let mut sorted = items.clone();
            sorted.sort();
            assert_eq!(items, sorted, "{l}");
        }
    }
    // One product ⇒ product rule recomputed from the holdings.
    let rule = scalar(
        store,
        "SELECT antecedent || ';' || consequent || ';' || CAST(support AS VARCHAR) || ';' || CAST(confidence AS VARCHAR) FROM rule \
         WHERE antecedent NOT LIKE '%|%' AND consequent NOT LIKE '%|%' AND antecedent NOT LIKE 'cat:%' AND consequent NOT LIKE 'cat:%' \
         ORDER BY support DESC, antecedent, consequent LIMIT 1",
    );
    let p: Vec<&str> = rule.split(';').collect();
    let held = |prod: &str| {
        format!(
            "SELECT DISTINCT pm.party_id FROM holding h JOIN party_member pm ON pm.cust_no = h.cust_no \
             WHERE h.product_id = '{prod}' AND (h.close_date IS NULL OR h.close_date > (SELECT max(as_of) FROM features)) \
             AND (h.open_date IS NULL OR h.open_date <= (SELECT max(as_of) FROM features))"
        )
    };
    let parties = n(
        store,
        "SELECT count(*) FROM features WHERE as_of = (SELECT max(as_of) FROM features)",
    ) as f64;
    let a = n(store, &format!("SELECT count(*) FROM ({})", held(p[0]))) as f64;
    let both = n(
        store,
        &format!(
            "SELECT count(*) FROM ({}) x WHERE party_id IN ({})",
            held(p[0]),
            held(p[1])
        ),
    ) as f64;
    let (support, confidence): (f64, f64) = (p[2].parse().unwrap(), p[3].parse().unwrap());
    assert!(
        (support - both / parties).abs() < 1e-9,
        "{rule}: {both} / {parties}"
    );
    assert!((confidence - both / a).abs() < 1e-9, "{rule}: {both} / {a}");
}

#[test]
fn recommendations_respect_risk_consent_and_holdings() {
    let store = pipeline_store();
    assert!(n(store, "SELECT count(*) FROM recommendation") > 100);
    let latest = "(SELECT * FROM features WHERE as_of = (SELECT max(as_of) FROM features))";
    // Never above the party's risk level.
    assert_eq!(
        n(
            store,
            &format!(
                "SELECT count(*) FROM recommendation r JOIN product p ON p.product_id = r.product_id \
             JOIN {latest} f ON f.party_id = r.party_id \
             WHERE CAST(substr(p.risk_level, 2) AS INT) > CASE f.investment_preference \
               WHEN 'aggressive' THEN 5 WHEN 'growth' THEN 3 ELSE 2 END"
            )
        ),
        0
    );
    // Never without marketing consent.
    assert_eq!(
        n(
            store,
            "SELECT count(*) FROM recommendation r JOIN party p ON p.party_id = r.party_id \
                  WHERE NOT COALESCE(p.marketing_consent, false)"
        ),
        0
    );
    // Never what the party holds.
    assert_eq!(
        n(
            store,
            "SELECT count(*) FROM recommendation r JOIN party_member pm ON pm.party_id = r.party_id \
                  JOIN holding h ON h.cust_no = pm.cust_no AND h.product_id = r.product_id \
                  WHERE h.close_date IS NULL OR h.close_date > (SELECT max(as_of) FROM features)"
        ),
        0
    );
    // Every recommendation says why; ranks start at 1 and stay within the top 3.
    assert_eq!(
        n(
            store,
            "SELECT count(*) FROM recommendation WHERE reason = '' OR rank < 1 OR rank > 3"
        ),
        0
    );
}

#[test]
fn configured_models_with_categorical_inputs() {
    let tmp = tempfile::tempdir().unwrap();
    let store = tmp.path().join("s");
    copy_dir(pipeline_store(), &store);
    let cfg = tmp.path().join("portrait.toml");
    std::fs::write(
        &cfg,
        "[segment.models.mixed]\nmethod = \"kprototypes\"\nk = 4\nfeatures = [\"age\", \"adb_year\", \"frequency\"]\n\
         categorical = [\"gender\", \"education\"]\nlog = [\"adb_year\", \"frequency\"]\n\n\
         [segment.models.coded]\nk = 3\nfeatures = [\"age\", \"adb_year\"]\ncategorical = [\"asset_tier\"]\n\
         encoding = \"ordinal\"\ncap = [0.05, 0.95]\nscaling = \"minmax\"\nfill = \"mean\"\n",
    )
    .unwrap();
    let c = cfg.to_str().unwrap();
    for model in ["mixed", "coded"] {
        let out = ok(
            &store,
            &[
                "--config", c, "segment", "--model", model, "--format", "json",
            ],
        );
        let o: serde_json::Value = serde_json::from_str(&out).unwrap();
        let k = o["k"].as_u64().unwrap();
        assert_eq!(k, if model == "mixed" { 4 } else { 3 });
        let inputs: Vec<&str> = o["inputs"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_str().unwrap())
            .collect();
        if model == "coded" {
            assert!(inputs.contains(&"asset_tier"), "{inputs:?}");
        }
        assert_eq!(
            n(
                &store,
                &format!("SELECT count(DISTINCT segment) FROM segment WHERE model = '{model}'")
            ),
            k
        );
    }
    // An unknown key is refused with the valid ones named.
    std::fs::write(&cfg, "[segment.models.x]\nclusters = 3\n").unwrap();
    let out = run(&store, &["--config", c, "segment", "--model", "x"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("unknown field `clusters`"));
}

#[test]
fn erase_leaves_no_trace_of_the_customer() {
    let tmp = tempfile::tempdir().unwrap();
    let store = tmp.path().join("s");
    copy_dir(pipeline_store(), &store);
    // A customer number that is a party of its own, with an ID number and a mobile no one else has.
    let pick = scalar(
        &store,
        "SELECT c.cust_no || ';' || c.id_no || ';' || c.mobile FROM customer c \
         JOIN party_member pm ON pm.cust_no = c.cust_no \
         WHERE c.id_no IS NOT NULL AND c.mobile IS NOT NULL \
         AND pm.party_id IN (SELECT party_id FROM party_member GROUP BY party_id HAVING count(*) = 1) \
         AND c.id_no IN (SELECT id_no FROM customer GROUP BY id_no HAVING count(*) = 1) \
         AND c.mobile IN (SELECT mobile FROM customer GROUP BY mobile HAVING count(*) = 1) \
         AND c.cust_no IN (SELECT cust_no FROM \"transaction\") \
         ORDER BY c.cust_no LIMIT 1",
    );
    let p: Vec<&str> = pick.split(';').collect();
    let (cust, id_no, mobile) = (p[0], p[1], p[2]);
    let party = scalar(
        &store,
        &format!("SELECT party_id FROM party_member WHERE cust_no = '{cust}'"),
    );
    // Refused without a reason; unknown numbers refused; nothing changes but the audit log,
    // which records the refusal.
    let data = |dir: &std::path::Path| {
        let mut s = snapshot(dir);
        s.retain(|path, _| !path.to_string_lossy().starts_with("privacy.sqlite"));
        s
    };
    let before = data(&store);
    let out = run(&store, &["erase", cust, "--reason", " "]);
    assert_eq!(out.status.code(), Some(1));
    let out = run(&store, &["erase", "NO-SUCH-NUMBER", "--reason", "r-1"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("no customer `NO-SUCH-NUMBER`"));
    assert!(
        before == data(&store),
        "a refused erasure changed the store"
    );

    ok(
        &store,
        &[
            "erase",
            cust,
            "--reason",
            "request 2026-118",
            "--by",
            "li.na",
        ],
    );
    // No table holds the number, the party, the ID number or the mobile any more.
    let tables = ok(
        &store,
        &[
            "sql",
            "SELECT table_name FROM information_schema.tables WHERE table_schema = 'public'",
            "--format",
            "csv",
        ],
    );
    let mut scanned = 0;
    for t in tables.lines().skip(1) {
        let cols = ok(
            &store,
            &[
                "sql",
                &format!(
                    "SELECT column_name FROM information_schema.columns WHERE table_name = '{t}' AND data_type IN ('Utf8', 'Utf8View', 'LargeUtf8')"
                ),
                "--format",
                "csv",
            ],
        );
        let cols: Vec<&str> = cols.lines().skip(1).collect();
        if cols.is_empty() {
            continue;
        }
        let pred = cols
            .iter()
            .map(|c| format!("\"{c}\" IN ('{cust}', '{party}', '{id_no}', '{mobile}')"))
            .collect::<Vec<_>>()
            .join(" OR ");
        let hits = n(
            &store,
            &format!("SELECT count(*) FROM \"{t}\" WHERE {pred}"),
        );
        assert_eq!(hits, 0, "table `{t}` still names the erased customer");
        scanned += 1;
    }
    assert!(scanned >= 20, "scanned {scanned} tables");
    // The index was rebuilt without the party, and the other parties are still there.
    assert!(n(&store, "SELECT count(*) FROM tag_party") > 2000);
    assert_eq!(
        n(&store, "SELECT count(*) FROM tag_party"),
        n(
            &store,
            "SELECT count(*) FROM features WHERE as_of = (SELECT max(as_of) FROM features)"
        )
    );
    // The audit log records the erasure, with the number masked.
    let db = rusqlite_audit(&store);
    assert!(
        db.contains("erase") && db.contains("request 2026-118") && !db.contains(cust),
        "{db}"
    );
    // The request is recorded before the commit, the outcome after it.
    let rows: Vec<serde_json::Value> = serde_json::from_str(&db).unwrap();
    let seq = |action: &str, status: u64| {
        rows.iter()
            .find(|r| r["action"] == action && r["status"] == status)
            .and_then(|r| r["seq"].as_i64())
            .unwrap_or_else(|| panic!("no `{action}` row with status {status}: {db}"))
    };
    assert!(seq("erase.request", 202) < seq("erase", 200));
    // A number that is not there is refused, and the refusal recorded.
    let out = crate::common::run(&store, &["erase", "0000000000", "--reason", "request 9"]);
    assert!(!out.status.success());
    assert!(rusqlite_audit(&store).contains("\"status\":404"));
}

/// The audit rows of a store as text.
fn rusqlite_audit(store: &std::path::Path) -> String {
    let privacy = portrait_privacy::Privacy::open(store).unwrap();
    let rows = privacy
        .audit_log(&portrait_privacy::AuditQuery {
            limit: 1000,
            ..Default::default()
        })
        .unwrap();
    serde_json::to_string(&rows).unwrap()
}
