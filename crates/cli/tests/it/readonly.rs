//! `portrait sql` cannot change a byte of the store or write a file (regression: an INSERT once
//! dropped a Parquet file into the store outside the manifest, after which every query failed,
//! and COPY wrote unmasked personal data to any path).

use crate::common::{copy_dir, generate, ok, pipeline_store, run, scalar, snapshot};

/// The audit log as JSON, newest first.
fn audit(store: &std::path::Path, args: &[&str]) -> Vec<serde_json::Value> {
    let mut a = vec!["audit", "--format", "json", "--limit", "1000"];
    a.extend_from_slice(args);
    serde_json::from_str::<serde_json::Value>(&ok(store, &a))
        .unwrap()
        .as_array()
        .unwrap()
        .clone()
}

#[test]
fn sql_refuses_every_statement_that_writes() {
    let tmp = tempfile::tempdir().unwrap();
    let bank = tmp.path().join("bank");
    generate(&bank, 200, 3, &[]);
    let store = tmp.path().join("store");
    ok(
        &store,
        &["ingest", bank.join("customer.csv").to_str().unwrap()],
    );
    let before = snapshot(&store);
    let target = tmp.path().join("x.csv");
    let statements = [
        "INSERT INTO customer (cust_no) VALUES ('1')".to_string(),
        format!(
            "COPY (SELECT name, id_no, mobile FROM customer) TO '{}'",
            target.display()
        ),
        format!(
            "CREATE EXTERNAL TABLE t STORED AS CSV LOCATION '{}'",
            target.display()
        ),
        "CREATE TABLE t AS SELECT * FROM customer".to_string(),
        "DROP TABLE customer".to_string(),
        "SET datafusion.execution.batch_size = 1".to_string(),
        "DELETE FROM customer".to_string(),
    ];
    for q in &statements {
        let out = run(&store, &["sql", q]);
        assert!(!out.status.success(), "`{q}` ran");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains("read-only"), "`{q}`: {err}");
    }
    assert!(!target.exists(), "a statement wrote {}", target.display());
    assert_eq!(snapshot(&store), before, "the store changed");
    // Queries still run.
    assert_eq!(scalar(&store, "SELECT count(*) FROM customer"), "200");
    // Each refusal is on record.
    let refused = audit(&store, &["--action", "cli.sql"])
        .into_iter()
        .filter(|e| e["status"] == 400)
        .count();
    assert_eq!(refused, statements.len());
}

#[test]
fn sql_and_exports_are_audited_and_watermarked() {
    let tmp = tempfile::tempdir().unwrap();
    let store = tmp.path().join("store");
    copy_dir(pipeline_store(), &store);
    let name = scalar(
        &store,
        "SELECT name FROM customer WHERE length(name) >= 2 ORDER BY cust_no LIMIT 1",
    );
    let mobile = scalar(
        &store,
        "SELECT mobile FROM customer WHERE length(mobile) = 11 ORDER BY cust_no LIMIT 1",
    );
    ok(
        &store,
        &[
            "sql",
            &format!("SELECT count(*) FROM customer WHERE name = '{name}' OR mobile = '{mobile}'"),
            "--by",
            "li.na",
        ],
    );
    let e = &audit(&store, &["--action", "cli.sql", "--user", "li.na"])[0];
    assert_eq!(e["status"], 200);
    let q = e["params"]["query"].as_str().unwrap();
    // The literals are hashed, the hash is the one `audit-term` gives for the value.
    assert!(!q.contains(&name) && !q.contains(&mobile), "{q}");
    let term = ok(&store, &["audit-term", &name]);
    assert!(q.contains(term.trim()), "{q}");

    // A file written by `sql --out` is an export: watermarked and on record.
    let out = tmp.path().join("x.csv");
    ok(
        &store,
        &[
            "sql",
            "SELECT cust_no, province FROM customer ORDER BY cust_no LIMIT 25",
            "--format",
            "csv",
            "--out",
            out.to_str().unwrap(),
        ],
    );
    let text = std::fs::read_to_string(&out).unwrap();
    let mut lines = text.lines();
    assert_eq!(lines.next().unwrap(), "cust_no,province,watermark");
    let rows: Vec<&str> = lines.collect();
    assert_eq!(rows.len(), 25);
    let id = rows[0].rsplit(',').next().unwrap().to_string();
    assert!(
        id.starts_with("EXP-") && rows.iter().all(|r| r.ends_with(&id)),
        "{id}"
    );
    let records = audit(&store, &["--export-id", &id]);
    let statuses: Vec<_> = records
        .iter()
        .map(|e| (e["status"].clone(), e["rows"].clone()))
        .collect();
    assert_eq!(
        statuses,
        vec![(200.into(), 25.into()), (202.into(), 0.into())]
    );

    // An audience export: masked by meaning, watermarked, on record.
    let file = tmp.path().join("a.csv");
    ok(
        &store,
        &[
            "audience",
            "export",
            "gender:female",
            "--out",
            file.to_str().unwrap(),
        ],
    );
    let text = std::fs::read_to_string(&file).unwrap();
    assert!(text.lines().next().unwrap().ends_with(",watermark"));
    assert!(text.lines().count() > 100);
    let mobile_shape = regex::Regex::new(r"(^|[^0-9])1[0-9]{10}([^0-9]|$)").unwrap();
    assert!(
        !mobile_shape.is_match(&text),
        "an unmasked mobile in the export"
    );
    let id = text
        .lines()
        .nth(1)
        .unwrap()
        .rsplit(',')
        .next()
        .unwrap()
        .to_string();
    let e = &audit(&store, &["--export-id", &id])[0];
    assert_eq!(e["action"], "cli.audience.export");
    assert_eq!(
        e["rows"].as_u64().unwrap() as usize,
        text.lines().count() - 1
    );
}
