//! The malformed-input corpus of `tests/corpus/`: each file must fail with its exact message and
//! leave the store byte-for-byte as it was.

use std::io::Write;

use serde::Deserialize;

use crate::common::*;

#[derive(Deserialize)]
struct Cases {
    case: Vec<Case>,
}

#[derive(Deserialize)]
struct Case {
    name: String,
    args: Vec<String>,
    stderr: Vec<String>,
}

#[test]
fn every_malformed_input_fails_with_its_message_and_leaves_the_store_unchanged() {
    let corpus = repo_root().join("tests/corpus");
    let cases: Cases =
        toml::from_str(&std::fs::read_to_string(corpus.join("cases.toml")).unwrap()).unwrap();
    assert!(
        cases.case.len() >= 20,
        "the corpus must hold at least 20 cases"
    );

    let tmp = tempfile::tempdir().unwrap();
    // The 10 MB line is made here rather than committed.
    let work = tmp.path().join("corpus");
    std::fs::create_dir(&work).unwrap();
    for e in std::fs::read_dir(&corpus).unwrap().flatten() {
        std::fs::copy(e.path(), work.join(e.file_name())).unwrap();
    }
    let mut f = std::fs::File::create(work.join("long_line.csv")).unwrap();
    f.write_all("交易流水号,客户号,交易日期,交易金额\nT1,C1,20260101,".as_bytes())
        .unwrap();
    f.write_all(&vec![b'9'; 10 << 20]).unwrap();
    drop(f);

    let bank = tmp.path().join("bank");
    generate(&bank, 300, 7, &[]);
    let store = tmp.path().join("store");
    ok(&store, &["ingest", bank.to_str().unwrap()]);
    let before = snapshot(&store);

    let mut failures = Vec::new();
    for case in &cases.case {
        let out = bin()
            .current_dir(&work)
            .arg("--store")
            .arg(&store)
            .arg("ingest")
            .args(&case.args)
            .arg("--rejects")
            .arg(tmp.path().join("rejects.csv"))
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        if out.status.code() != Some(1) {
            failures.push(format!(
                "{}: exit code {:?}, expected 1\n{stderr}",
                case.name,
                out.status.code()
            ));
        }
        for want in &case.stderr {
            if !stderr.contains(want.as_str()) {
                failures.push(format!(
                    "{}: stderr lacks\n    {want}\n  it was:\n{stderr}",
                    case.name
                ));
            }
        }
        if snapshot(&store) != before {
            failures.push(format!("{}: the store changed", case.name));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} cases failed:\n{}",
        failures.len(),
        cases.case.len(),
        failures.join("\n")
    );
}

#[test]
fn gbk_without_declaration_is_detected() {
    let tmp = tempfile::tempdir().unwrap();
    let store = tmp.path().join("s");
    let file = repo_root().join("tests/corpus/gbk_undeclared.csv");
    let out = ok(
        &store,
        &["ingest", &format!("transaction={}", file.display())],
    );
    assert!(
        out.contains("gbk"),
        "summary names the detected encoding:\n{out}"
    );
    assert_eq!(
        scalar(
            &store,
            "SELECT count(*) FROM \"transaction\" WHERE direction = 'debit' AND channel = 'mobile'"
        ),
        "50"
    );
}

/// A UTF-8 byte-order mark in front of GBK text is skipped, not read into the first column's
/// name (`锘縞ust_no`).
#[test]
fn gbk_behind_a_utf8_byte_order_mark_loads() {
    let tmp = tempfile::tempdir().unwrap();
    let store = tmp.path().join("s");
    let gbk = std::fs::read(repo_root().join("tests/corpus/gbk_undeclared.csv")).unwrap();
    let file = tmp.path().join("marked.csv");
    std::fs::write(&file, [b"\xEF\xBB\xBF".as_slice(), &gbk].concat()).unwrap();
    let out = ok(
        &store,
        &["ingest", &format!("transaction={}", file.display())],
    );
    assert!(out.contains("gbk"), "{out}");
    assert_eq!(
        scalar(
            &store,
            "SELECT count(*) FROM \"transaction\" WHERE direction = 'debit' AND channel = 'mobile'"
        ),
        "50"
    );
}

#[test]
fn excel_dates_and_numbers_load() {
    let tmp = tempfile::tempdir().unwrap();
    let store = tmp.path().join("s");
    let file = repo_root().join("tests/corpus/good_customers.xlsx");
    ok(&store, &["ingest", &format!("customer={}", file.display())]);
    assert_eq!(
        scalar(
            &store,
            "SELECT CAST(birth_date AS VARCHAR) FROM customer WHERE cust_no = 'C1'"
        ),
        "1985-03-09"
    );
    assert_eq!(
        scalar(
            &store,
            "SELECT CAST(financial_assets AS VARCHAR) FROM customer WHERE cust_no = 'C2'"
        ),
        "25000.50"
    );
}

#[test]
fn within_the_budget_bad_rows_are_listed_and_the_rest_loads() {
    let tmp = tempfile::tempdir().unwrap();
    let store = tmp.path().join("s");
    let rejects = tmp.path().join("r.csv");
    let file = repo_root().join("tests/corpus/bad_dates.csv");
    ok(
        &store,
        &[
            "ingest",
            &format!("transaction={}", file.display()),
            "--max-errors",
            "25%",
            "--rejects",
            rejects.to_str().unwrap(),
        ],
    );
    assert_eq!(scalar(&store, "SELECT count(*) FROM \"transaction\""), "4");
    let listed = std::fs::read_to_string(&rejects).unwrap();
    assert!(
        listed.contains(",3,3,交易日期,rejected,`ts`: invalid date `20260230`: no such day"),
        "{listed}"
    );
}

/// Replacing a large table with a file of under a tenth of its rows is refused (usually a
/// partial export), leaving the store as it was; `--replace` does it anyway.
#[test]
fn a_much_smaller_full_load_is_refused_unless_confirmed() {
    let tmp = tempfile::tempdir().unwrap();
    let bank = tmp.path().join("bank");
    crate::common::generate(&bank, 1500, 3, &[]);
    let store = tmp.path().join("s");
    let full = bank.join("customer.csv");
    ok(&store, &["ingest", &format!("customer={}", full.display())]);
    let text = std::fs::read_to_string(&full).unwrap();
    let small = tmp.path().join("customer.csv");
    std::fs::write(
        &small,
        text.lines().take(21).collect::<Vec<_>>().join("\n") + "\n",
    )
    .unwrap();
    let before = crate::common::snapshot(&store);
    let arg = format!("customer={}", small.display());
    let out = crate::common::run(&store, &["ingest", &arg]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("would shrink from 1500 rows to 20") && err.contains("--replace"),
        "{err}"
    );
    assert!(
        before == crate::common::snapshot(&store),
        "a refused load changed the store"
    );
    // Appending is no replacement; confirming replaces.
    ok(&store, &["ingest", "--append", &arg]);
    assert_eq!(scalar(&store, "SELECT count(*) FROM customer"), "1500");
    ok(&store, &["ingest", "--replace", &arg]);
    assert_eq!(scalar(&store, "SELECT count(*) FROM customer"), "20");
}
