//! Generated data survives generate → ingest: every table's row count and a few aggregates match
//! the files, in every format the generator writes.

use std::path::Path;

use crate::common::*;

const TABLES: &[&str] = &[
    "customer",
    "asset_snapshot",
    "transaction",
    "holding",
    "event",
    "campaign_response",
    "relation",
    "interaction",
    "product",
];

/// Rows and the sum of a money column in cents, read straight from a generated CSV.
fn csv_facts(file: &Path, money_col: Option<&str>) -> (u64, i128) {
    let mut rdr = csv::Reader::from_path(file).unwrap();
    let idx = money_col.map(|c| rdr.headers().unwrap().iter().position(|h| h == c).unwrap());
    let mut rows = 0;
    let mut cents = 0i128;
    for rec in rdr.records() {
        let rec = rec.unwrap();
        rows += 1;
        if let Some(i) = idx {
            let v = &rec[i];
            if !v.is_empty() {
                let (int, frac) = v.split_once('.').unwrap_or((v, "0"));
                let neg = int.starts_with('-');
                let c = int.trim_start_matches('-').parse::<i128>().unwrap() * 100
                    + format!("{frac:0<2}")[..2].parse::<i128>().unwrap();
                cents += if neg { -c } else { c };
            }
        }
    }
    (rows, cents)
}

fn sum_cents(store: &Path, table: &str, col: &str) -> i128 {
    let v = scalar(
        store,
        &format!("SELECT CAST(sum({col}) * 100 AS BIGINT) FROM \"{table}\""),
    );
    v.parse().unwrap()
}

#[test]
fn every_table_round_trips_with_counts_and_sums() {
    let tmp = tempfile::tempdir().unwrap();
    let bank = tmp.path().join("bank");
    generate(&bank, 2000, 11, &[]);
    let store = tmp.path().join("s");
    let out = ok(&store, &["ingest", bank.to_str().unwrap()]);
    assert!(out.contains("committed store version 1"), "{out}");
    for t in TABLES {
        let money = match *t {
            "transaction" | "holding" => Some("amount"),
            "asset_snapshot" => Some("balance"),
            _ => None,
        };
        let (rows, cents) = csv_facts(&bank.join(format!("{t}.csv")), money);
        assert!(rows > 0, "{t} is empty");
        assert_eq!(
            scalar(&store, &format!("SELECT count(*) FROM \"{t}\"")),
            rows.to_string(),
            "{t} row count"
        );
        if let Some(col) = money {
            assert_eq!(sum_cents(&store, t, col), cents, "{t}.{col} sum");
        }
    }
    // Generated ID numbers are valid, so no customer lost one, and derived fields agree.
    let (with_id, _) = {
        let mut rdr = csv::Reader::from_path(bank.join("customer.csv")).unwrap();
        let i = rdr
            .headers()
            .unwrap()
            .iter()
            .position(|h| h == "id_no")
            .unwrap();
        (
            rdr.records()
                .filter(|r| !r.as_ref().unwrap()[i].is_empty())
                .count(),
            0,
        )
    };
    let stored: usize = scalar(&store, "SELECT count(id_no) FROM customer")
        .parse()
        .unwrap();
    assert!(
        stored as f64 >= with_id as f64 * 0.97,
        "{stored} of {with_id} ID numbers survived validation"
    );
}

#[test]
fn a_chinese_gbk_export_loads_to_the_same_tables() {
    let tmp = tempfile::tempdir().unwrap();
    let en = tmp.path().join("en");
    let zh = tmp.path().join("zh");
    let pq = tmp.path().join("pq");
    generate(&en, 800, 5, &[]);
    generate(&zh, 800, 5, &["--encoding", "gbk", "--headers", "zh"]);
    generate(&pq, 800, 5, &["--format", "parquet"]);
    let (s_en, s_zh, s_pq) = (
        tmp.path().join("s_en"),
        tmp.path().join("s_zh"),
        tmp.path().join("s_pq"),
    );
    ok(&s_en, &["ingest", en.to_str().unwrap()]);
    ok(&s_zh, &["ingest", zh.to_str().unwrap()]);
    ok(&s_pq, &["ingest", pq.to_str().unwrap()]);
    let facts = [
        "SELECT count(*) FROM customer",
        "SELECT count(*) FROM \"transaction\"",
        "SELECT CAST(sum(amount) * 100 AS BIGINT) FROM \"transaction\" WHERE direction = 'debit'",
        "SELECT CAST(max(ts) AS VARCHAR) FROM \"transaction\"",
        "SELECT count(*) FROM customer WHERE gender = 'F' AND marketing_consent",
        "SELECT count(DISTINCT id_no) FROM customer",
        "SELECT CAST(sum(balance) AS BIGINT) FROM asset_snapshot",
        "SELECT count(*) FROM relation WHERE relation_type = 'spouse'",
        "SELECT string_agg(name, '|' ORDER BY cust_no) FROM (SELECT * FROM customer ORDER BY cust_no LIMIT 20)",
    ];
    for f in facts {
        let want = scalar(&s_en, f);
        assert_eq!(scalar(&s_zh, f), want, "GBK/Chinese export differs: {f}");
        assert_eq!(scalar(&s_pq, f), want, "Parquet differs: {f}");
    }
}

#[test]
fn append_replaces_rows_by_key_and_adds_new_ones() {
    let tmp = tempfile::tempdir().unwrap();
    let store = tmp.path().join("s");
    let day1 = tmp.path().join("day1.csv");
    let day2 = tmp.path().join("day2.csv");
    std::fs::write(&day1, "txn_id,cust_no,ts,amount\nT1,C1,2026-01-01 10:00:00,10.00\nT2,C1,2026-01-02 10:00:00,20.00\n").unwrap();
    std::fs::write(&day2, "txn_id,cust_no,ts,amount\nT2,C1,2026-01-02 10:00:00,25.00\nT3,C2,2026-01-03 10:00:00,30.00\n").unwrap();
    ok(
        &store,
        &["ingest", &format!("transaction={}", day1.display())],
    );
    ok(
        &store,
        &[
            "ingest",
            "--append",
            &format!("transaction={}", day2.display()),
        ],
    );
    assert_eq!(scalar(&store, "SELECT count(*) FROM \"transaction\""), "3");
    assert_eq!(
        scalar(
            &store,
            "SELECT CAST(sum(amount) AS VARCHAR) FROM \"transaction\""
        ),
        "65.00"
    );
    // A full load replaces the table.
    ok(
        &store,
        &["ingest", &format!("transaction={}", day2.display())],
    );
    assert_eq!(scalar(&store, "SELECT count(*) FROM \"transaction\""), "2");
}

#[test]
fn sql_formats_and_coverage() {
    let tmp = tempfile::tempdir().unwrap();
    let bank = tmp.path().join("bank");
    generate(&bank, 300, 2, &[]);
    let store = tmp.path().join("s");
    ok(&store, &["ingest", bank.to_str().unwrap()]);
    let csv = ok(
        &store,
        &[
            "sql",
            "SELECT count(*) AS n FROM customer",
            "--format",
            "csv",
        ],
    );
    assert_eq!(csv, "n\n300\n");
    let json = ok(
        &store,
        &[
            "sql",
            "SELECT count(*) AS n FROM customer",
            "--format",
            "json",
        ],
    );
    assert_eq!(json.trim(), "[{\"n\":300}]");
    let table = ok(&store, &["sql", "SELECT count(*) AS n FROM customer"]);
    assert!(table.contains("| 300 |"), "{table}");
    let pq = tmp.path().join("c.parquet");
    ok(
        &store,
        &[
            "sql",
            "SELECT * FROM customer",
            "--format",
            "parquet",
            "--out",
            pq.to_str().unwrap(),
        ],
    );
    assert!(std::fs::metadata(&pq).unwrap().len() > 1000);

    let cov = ok(&store, &["coverage", "--format", "csv"]);
    let line = cov
        .lines()
        .find(|l| l.starts_with("customer,cust_no,"))
        .expect("cust_no coverage row");
    assert_eq!(line, "customer,cust_no,客户号,300,300,100.0");
    assert!(
        cov.lines()
            .any(|l| l.starts_with("transaction,amount,交易金额,"))
    );

    let bad = run(&store, &["sql", "SELECT * FROM nope"]);
    assert_eq!(bad.status.code(), Some(1));
    let err = String::from_utf8_lossy(&bad.stderr);
    assert!(
        err.contains("hint: the store has") && err.contains("customer"),
        "{err}"
    );
}
