//! `portrait sql` cannot change a byte of the store or write a file (regression: an INSERT once
//! dropped a Parquet file into the store outside the manifest, after which every query failed,
//! and COPY wrote unmasked personal data to any path).

use crate::common::{generate, ok, run, scalar, snapshot};

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
}
