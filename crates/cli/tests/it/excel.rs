//! Excel workbooks where people take data away: `sql --format xlsx` and `audience export` to
//! .xlsx, read back with calamine and compared cell by cell with the CSV the same command
//! writes; headers in English or Chinese; the description sheet names every column and carries
//! the export id that the watermark column and the audit log hold.

use std::collections::BTreeMap;
use std::path::Path;

use calamine::{Data, Reader};

use crate::common::{ok, run};

/// The sheets of a workbook, each as rows of cells.
fn sheets(path: &Path) -> BTreeMap<String, Vec<Vec<Data>>> {
    let mut book = calamine::open_workbook_auto(path).unwrap();
    let names = book.sheet_names().to_vec();
    names
        .into_iter()
        .map(|n| {
            let range = book.worksheet_range(&n).unwrap();
            let rows = range.rows().map(|r| r.to_vec()).collect();
            (n, rows)
        })
        .collect()
}

fn sheet_order(path: &Path) -> Vec<String> {
    calamine::open_workbook_auto(path)
        .unwrap()
        .sheet_names()
        .to_vec()
}

/// The CSV text of a cell as `portrait sql --format csv` writes it.
fn as_csv(cell: &Data) -> String {
    match cell {
        Data::Empty => String::new(),
        Data::String(s) => s.clone(),
        Data::Bool(b) => b.to_string(),
        Data::Int(i) => i.to_string(),
        Data::Float(f) => f.to_string(),
        Data::DateTime(d) => {
            let (y, mo, da, h, mi, s, ms) = d.to_ymd_hms_milli();
            // Serial days carry the time to a fraction of a millisecond: round to the second.
            // (The tests' timestamps are never at midnight, so a whole serial is a date.)
            let (h, mi, s) = if ms >= 500 {
                let t = h as u32 * 3600 + mi as u32 * 60 + s as u32 + 1;
                (t / 3600, t / 60 % 60, t % 60)
            } else {
                (h as u32, mi as u32, s as u32)
            };
            if (h, mi, s) == (0, 0, 0) && d.as_f64().fract() < 1e-6 {
                format!("{y:04}-{mo:02}-{da:02}")
            } else {
                format!("{y:04}-{mo:02}-{da:02}T{h:02}:{mi:02}:{s:02}")
            }
        }
        other => panic!("unexpected cell {other:?}"),
    }
}

/// Whether a workbook cell holds the value of a CSV field.
fn same(csv: &str, cell: &Data) -> bool {
    match cell {
        Data::Float(f) => csv.parse::<f64>().is_ok_and(|c| c == *f),
        Data::Int(i) => csv.parse::<f64>().is_ok_and(|c| c == *i as f64),
        _ => as_csv(cell) == csv,
    }
}

/// The column codes of the description sheet's table, in order, with their headers.
fn described(about: &[Vec<Data>]) -> Vec<(String, String)> {
    let start = about
        .iter()
        .position(|r| matches!(r.first(), Some(Data::String(s)) if s == "Column" || s == "列"))
        .expect("the description sheet lists the columns");
    about[start + 1..]
        .iter()
        .take_while(|r| matches!(r.first(), Some(Data::String(s)) if !s.is_empty()))
        .map(|r| (as_csv(&r[0]), as_csv(&r[1])))
        .collect()
}

fn about_value(about: &[Vec<Data>], label: &str) -> String {
    about
        .iter()
        .find(|r| matches!(r.first(), Some(Data::String(s)) if s == label))
        .map(|r| as_csv(&r[1]))
        .unwrap_or_else(|| panic!("no `{label}` line in the description sheet"))
}

/// Every data row of the workbook equals the CSV's row, the watermark column aside (each file
/// is its own export); the headers are the description sheet's labels of the CSV's columns.
fn assert_same_as_csv(xlsx: &Path, csv_path: &Path, data_sheet: &str, about_sheet: &str) {
    let book = sheets(xlsx);
    let about = &book[about_sheet];
    let columns = described(about);
    let mut rdr = csv::Reader::from_path(csv_path).unwrap();
    let headers: Vec<String> = rdr.headers().unwrap().iter().map(String::from).collect();
    let codes: Vec<&str> = columns.iter().map(|(c, _)| c.as_str()).collect();
    assert_eq!(codes, headers, "the workbook's columns are the CSV's");
    let data = &book[data_sheet];
    let labels: Vec<String> = data[0].iter().map(as_csv).collect();
    let expected: Vec<&str> = columns.iter().map(|(_, h)| h.as_str()).collect();
    assert_eq!(labels, expected, "the header row holds the labels");
    let watermark = headers.iter().position(|h| h == "watermark");
    let records: Vec<csv::StringRecord> = rdr.records().map(|r| r.unwrap()).collect();
    assert_eq!(data.len() - 1, records.len(), "rows of {}", xlsx.display());
    assert!(!records.is_empty());
    for (i, (rec, row)) in records.iter().zip(&data[1..]).enumerate() {
        for (j, field) in rec.iter().enumerate() {
            if Some(j) == watermark {
                continue;
            }
            let cell = row.get(j).unwrap_or(&Data::Empty);
            assert!(
                same(field, cell),
                "row {} column `{}`: the CSV has {field:?}, the workbook {cell:?}",
                i + 1,
                headers[j]
            );
        }
    }
    if let Some(w) = watermark {
        let id = about_value(
            about,
            if about_sheet == "说明" {
                "导出编号（水印）"
            } else {
                "Export id (watermark)"
            },
        );
        assert!(id.starts_with("EXP-"), "{id}");
        for row in &data[1..] {
            assert_eq!(as_csv(&row[w]), id, "every row carries the export id");
        }
    }
}

fn cdnow_store(dir: &Path) -> std::path::PathBuf {
    let root = crate::common::repo_root();
    let p = root.join("target/references/lifetimes/datasets/CDNOW_sample.txt");
    assert!(
        p.exists(),
        "{} is missing: run tests/fetch-references.sh first (the README's test command does)",
        p.display()
    );
    // master id, sample id, YYYYMMDD, CDs bought, dollar value
    let mut csv = String::from("txn_id,cust_no,ts,amount\n");
    for (i, line) in std::fs::read_to_string(p).unwrap().lines().enumerate() {
        let f: Vec<&str> = line.split_whitespace().collect();
        if f.len() == 5 {
            let d = f[2];
            csv += &format!(
                "{i},{},{}-{}-{} {:02}:{:02}:00,{}\n",
                f[0],
                &d[..4],
                &d[4..6],
                &d[6..],
                1 + i % 23,
                i % 60,
                f[4]
            );
        }
    }
    let file = dir.join("cdnow.csv");
    std::fs::write(&file, csv).unwrap();
    let store = dir.join("store");
    ok(
        &store,
        &["ingest", &format!("transaction={}", file.display())],
    );
    store
}

#[test]
fn sql_workbook_equals_the_csv_on_cdnow() {
    let tmp = tempfile::tempdir().unwrap();
    let store = cdnow_store(tmp.path());
    // Text, integers, decimals, dates and timestamps of a public data set.
    let query = "SELECT txn_id, cust_no, ts, CAST(ts AS DATE) AS day, amount, amount > 20 AS large, \
                 CAST(NULL AS VARCHAR) AS nothing FROM \"transaction\" ORDER BY txn_id";
    let csv_path = tmp.path().join("t.csv");
    let xlsx = tmp.path().join("t.xlsx");
    ok(
        &store,
        &[
            "sql",
            query,
            "--format",
            "csv",
            "--out",
            csv_path.to_str().unwrap(),
        ],
    );
    ok(
        &store,
        &[
            "sql",
            query,
            "--format",
            "xlsx",
            "--out",
            xlsx.to_str().unwrap(),
        ],
    );
    assert_eq!(sheet_order(&xlsx), ["data", "About"]);
    assert_same_as_csv(&xlsx, &csv_path, "data", "About");
    assert!(!tmp.path().join("t.xlsx.partial").exists());
    // The export is on record under the id of the description sheet.
    let about = &sheets(&xlsx)["About"];
    let id = about_value(about, "Export id (watermark)");
    let audit = ok(&store, &["audit", "--export-id", &id, "--format", "json"]);
    assert!(
        audit.contains("cli.sql") && audit.contains("xlsx"),
        "{audit}"
    );
}

#[test]
fn sql_workbook_headers_in_chinese() {
    let store = crate::common::pipeline_store();
    let tmp = tempfile::tempdir().unwrap();
    let query = "SELECT party_id, age_group, financial_assets, churn_probability, share_wine, n_gold \
                 FROM features ORDER BY party_id LIMIT 500";
    let csv_path = tmp.path().join("f.csv");
    let xlsx = tmp.path().join("f.xlsx");
    ok(
        store,
        &[
            "sql",
            query,
            "--format",
            "csv",
            "--out",
            csv_path.to_str().unwrap(),
        ],
    );
    ok(
        store,
        &[
            "sql",
            query,
            "--format",
            "xlsx",
            "--lang",
            "zh",
            "--out",
            xlsx.to_str().unwrap(),
        ],
    );
    assert_eq!(sheet_order(&xlsx), ["数据", "说明"]);
    assert_same_as_csv(&xlsx, &csv_path, "数据", "说明");
    let header: Vec<String> = sheets(&xlsx)["数据"][0].iter().map(as_csv).collect();
    assert_eq!(
        header,
        [
            "客户",
            "年龄段",
            "金融资产",
            "流失概率",
            "葡萄酒消费占比",
            "贵金属持有数",
            "导出水印"
        ]
    );
}

#[test]
fn audience_workbook_equals_its_csv() {
    let store = crate::common::pipeline_store();
    let tmp = tempfile::tempdir().unwrap();
    let expr = "NOT recency_class:churned";
    let csv_path = tmp.path().join("a.csv");
    let xlsx = tmp.path().join("a.xlsx");
    let n_csv = ok(
        store,
        &[
            "audience",
            "export",
            expr,
            "--out",
            csv_path.to_str().unwrap(),
        ],
    );
    // The format follows the file's extension.
    let n_xlsx = ok(
        store,
        &["audience", "export", expr, "--out", xlsx.to_str().unwrap()],
    );
    assert_eq!(n_csv, n_xlsx);
    assert_same_as_csv(&xlsx, &csv_path, "audience", "About");
    let about = &sheets(&xlsx)["About"];
    assert_eq!(about_value(about, "Audience"), expr);
    // Masked as the CSV is: no full mobile number in any cell.
    let data = &sheets(&xlsx)["audience"];
    let mobile = data[0].iter().position(|h| as_csv(h) == "Mobile").unwrap();
    for row in &data[1..] {
        let m = as_csv(&row[mobile]);
        assert!(m.is_empty() || m.contains("****"), "mobile {m} not masked");
    }
}

#[test]
fn a_workbook_longer_than_a_sheet_continues_on_the_next() {
    let tmp = tempfile::tempdir().unwrap();
    let store = tmp.path().join("store");
    let xlsx = tmp.path().join("long.xlsx");
    let rows = 1_048_575u64 + 1_234;
    ok(
        &store,
        &[
            "sql",
            &format!("SELECT value AS n FROM range({rows})"),
            "--format",
            "xlsx",
            "--out",
            xlsx.to_str().unwrap(),
        ],
    );
    let book = sheets(&xlsx);
    assert_eq!(sheet_order(&xlsx), ["data", "data (2)", "About"]);
    assert_eq!(book["data"].len(), 1_048_576);
    assert_eq!(book["data (2)"].len(), 1 + 1_234);
    assert_eq!(as_csv(&book["data (2)"][0][0]), "n");
    assert_eq!(book["data (2)"][1234][0], Data::Float((rows - 1) as f64));
}

#[test]
fn a_workbook_needs_a_file() {
    let store = crate::common::pipeline_store();
    let out = run(store, &["sql", "SELECT 1 AS one", "--format", "xlsx"]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("--out FILE.xlsx"), "{err}");
    let out = run(
        store,
        &[
            "audience",
            "export",
            "recency_class:active",
            "--out",
            "/tmp/x.json",
            "--format",
            "json",
        ],
    );
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("csv or xlsx"));
}

#[test]
fn both_languages_label_the_same_keys() {
    let root = crate::common::repo_root();
    let read = |l: &str| -> serde_json::Value {
        serde_json::from_str(
            &std::fs::read_to_string(root.join(format!("web/i18n/{l}.json"))).unwrap(),
        )
        .unwrap()
    };
    let (zh, en) = (read("zh"), read("en"));
    let sections =
        |v: &serde_json::Value| -> Vec<String> { v.as_object().unwrap().keys().cloned().collect() };
    assert_eq!(sections(&zh), sections(&en));
    for section in ["ui", "fields", "prefixes", "values"] {
        let keys = |v: &serde_json::Value| -> Vec<String> {
            let mut k: Vec<String> = v[section].as_object().unwrap().keys().cloned().collect();
            k.sort();
            k
        };
        assert_eq!(keys(&zh), keys(&en), "section {section}");
    }
    // Every column of the features table has a Chinese header of its own.
    let store = crate::common::pipeline_store();
    let (cols, _) = crate::common::rows(store, "features");
    let tmp = tempfile::tempdir().unwrap();
    let xlsx = tmp.path().join("all.xlsx");
    ok(
        store,
        &[
            "sql",
            "SELECT * FROM features LIMIT 1",
            "--format",
            "xlsx",
            "--lang",
            "zh",
            "--out",
            xlsx.to_str().unwrap(),
        ],
    );
    let header: Vec<String> = sheets(&xlsx)["数据"][0].iter().map(as_csv).collect();
    let untranslated: Vec<&String> = header.iter().filter(|h| h.is_ascii()).collect();
    assert!(
        untranslated.is_empty(),
        "columns without a Chinese header: {untranslated:?} of {cols:?}"
    );
}

#[test]
fn report_workbooks_are_watermarked_and_translate_only_their_coded_columns() {
    let store = crate::common::pipeline_store();
    let tmp = tempfile::tempdir().unwrap();
    let rfm = tmp.path().join("rfm.xlsx");
    ok(
        store,
        &[
            "report",
            "rfm",
            "--lang",
            "zh",
            "--out",
            rfm.to_str().unwrap(),
        ],
    );
    let book = sheets(&rfm);
    let id = about_value(&book["说明"], "导出编号（水印）");
    for name in ["RFM类别", "RFM矩阵", "活跃状态"] {
        let rows = &book[name];
        let w = rows[0]
            .iter()
            .position(|h| as_csv(h) == "导出水印")
            .unwrap_or_else(|| panic!("{name} has no watermark column"));
        assert!(rows.len() > 1, "{name}");
        assert!(rows[1..].iter().all(|r| as_csv(&r[w]) == id), "{name}");
    }
    // The class column reads as labels; the counts add up to the features table.
    let classes = &book["RFM类别"];
    assert!(
        classes[1..].iter().all(|r| !as_csv(&r[0]).contains('_')),
        "{:?}",
        classes[1]
    );
    let parties: f64 = classes[1..]
        .iter()
        .map(|r| as_csv(&r[1]).parse::<f64>().unwrap())
        .sum();
    let n = crate::common::scalar(
        store,
        "SELECT count(*) FROM features WHERE as_of = (SELECT max(as_of) FROM features)",
    );
    assert_eq!(parties, n.parse::<f64>().unwrap());
    // A coverage report keeps the column codes in its column column.
    let cov = tmp.path().join("cov.xlsx");
    ok(
        store,
        &[
            "report",
            "coverage",
            "--lang",
            "zh",
            "--out",
            cov.to_str().unwrap(),
        ],
    );
    let rows = &sheets(&cov)["满足度"];
    assert!(
        rows[1..].iter().any(|r| as_csv(&r[1]) == "mobile"),
        "the codes stay codes"
    );
}

#[test]
fn a_report_of_a_tiny_audience_is_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let store = tmp.path().join("copy");
    crate::common::copy_dir(crate::common::pipeline_store(), &store);
    // The richest party alone: a report of it would describe that person.
    let top = crate::common::scalar(&store, "SELECT max(financial_assets) FROM tag_party");
    ok(
        &store,
        &[
            "audience",
            "save",
            "one",
            &format!("financial_assets >= {top}"),
        ],
    );
    let n: u64 = ok(&store, &["audience", "list", "--format", "csv"])
        .lines()
        .find(|l| l.starts_with("one,"))
        .and_then(|l| l.rsplit(',').next())
        .and_then(|v| v.trim().parse().ok())
        .unwrap();
    assert!((1..10).contains(&n), "{n} parties");
    let out = run(
        &store,
        &[
            "report",
            "audience",
            "one",
            "--out",
            tmp.path().join("r.xlsx").to_str().unwrap(),
        ],
    );
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("at least 10"));
    assert!(!tmp.path().join("r.xlsx").exists());
}

#[test]
fn long_text_and_missing_directories() {
    let tmp = tempfile::tempdir().unwrap();
    let store = tmp.path().join("store");
    let xlsx = tmp.path().join("long.xlsx");
    // Excel counts UTF-16 units: 20,000 emoji are 40,000 of them.
    ok(
        &store,
        &[
            "sql",
            "SELECT repeat('😀', 20000) AS s, 9007199254740993 AS big, CAST('NaN' AS DOUBLE) AS nan",
            "--format",
            "xlsx",
            "--out",
            xlsx.to_str().unwrap(),
        ],
    );
    let book = sheets(&xlsx);
    let cell = as_csv(&book["data"][1][0]);
    assert!(cell.encode_utf16().count() <= 32_767 && cell.starts_with('😀'));
    assert_eq!(as_csv(&book["data"][1][1]), "9007199254740993");
    assert_eq!(as_csv(&book["data"][1][2]), "NaN");
    assert!(about_value(&book["About"], "Cells cut").starts_with('1'));
    let out = run(
        &store,
        &[
            "sql",
            "SELECT 1 AS one",
            "--format",
            "xlsx",
            "--out",
            tmp.path().join("no/such/dir/x.xlsx").to_str().unwrap(),
        ],
    );
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("no such directory") && !err.contains("bug"),
        "{err}"
    );
}
