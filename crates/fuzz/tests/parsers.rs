//! The parsers that read what users and exports write, fuzzed: none may panic, hang or
//! overflow its stack on any input. Each target has a case and a time budget (`FUZZ_CASES`,
//! `FUZZ_SECONDS` raise them for a long run).

use std::path::Path;

use portrait_fuzz::{Budget, fuzz};

fn repo() -> &'static Path {
    Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../.."))
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

#[test]
fn audience_expressions() {
    let seeds: Vec<Vec<u8>> = [
        "gender:female AND interest:red_wine AND NOT recency:churned",
        "a:(x|\"y z\") OR (b > 3 AND c IS NOT NULL)",
        "flag AND v IN (1, 2.5, 'x') AND w NOT IN (true)",
        "age BETWEEN 25 AND 34 OR clv >= 10_000",
        "省份:广东 AND 年龄段:25-29",
    ]
    .iter()
    .map(|s| s.as_bytes().to_vec())
    .collect();
    let tokens: &[&[u8]] = &[
        b"(",
        b")",
        b" AND ",
        b" OR ",
        b"NOT ",
        b":",
        b"|",
        b"\"",
        b"'",
        b" IN (",
        b" BETWEEN ",
        b" IS NULL",
        b"1e308",
        b"-",
        b"_",
    ];
    let run = fuzz("expr", &seeds, tokens, Budget::from_env(20_000, 5.0), |b| {
        if let Ok(e) = portrait_tags::Expr::parse(&text(b)) {
            // What parses prints to text that parses again.
            portrait_tags::Expr::parse(&e.to_string()).expect("canonical text parses");
        }
    });
    eprintln!("expr: {run:?}");
    assert!(run.cases > 100, "{run:?}");
}

#[test]
fn id_mobile_and_uscc_numbers() {
    let today = chrono::NaiveDate::from_ymd_opt(2026, 12, 1).unwrap();
    let seeds: Vec<Vec<u8>> = [
        "11010519491231002X",
        "440524188001010014",
        "１１０１０５１９４９１２３１００２Ｘ",
        "+86 138-0013-8000",
        "13800138000",
        "91350100M000100Y43",
    ]
    .iter()
    .map(|s| s.as_bytes().to_vec())
    .collect();
    let tokens: &[&[u8]] = &[
        "０".as_bytes(),
        "Ｘ".as_bytes(),
        "　".as_bytes(),
        b"x",
        b"0086",
        b" ",
    ];
    let run = fuzz("ids", &seeds, tokens, Budget::from_env(50_000, 5.0), |b| {
        let s = text(b);
        let _ = portrait_types::IdCardNo::parse(&s, today);
        let _ = portrait_types::MobileNo::parse(&s);
        let _ = portrait_types::Uscc::parse(&s);
    });
    eprintln!("ids: {run:?}");
    assert!(run.cases > 100, "{run:?}");
}

#[test]
fn tag_catalogues() {
    let seeds = vec![portrait_tags::catalog::DEFAULT_CATALOG.as_bytes().to_vec()];
    let schema: portrait_tags::FeatureSchema = ["recency_days", "clv", "gender", "frequency"]
        .iter()
        .map(|f| (f.to_string(), portrait_tags::FeatureType::Number))
        .collect();
    let tokens: &[&[u8]] = &[
        b"[[tag]]\n",
        b"=",
        b"\"",
        b"[",
        b"]",
        b"\n",
        b"expr = \"(\"\n",
    ];
    let run = fuzz(
        "catalog",
        &seeds,
        tokens,
        Budget::from_env(2_000, 5.0),
        |b| {
            let _ = portrait_tags::Catalog::parse("fuzz.toml", &text(b), &schema);
        },
    );
    eprintln!("catalog: {run:?}");
    assert!(run.cases > 10, "{run:?}");
}

#[test]
fn csv_files() {
    let corpus = repo().join("tests/corpus");
    let mut seeds = Vec::new();
    for e in std::fs::read_dir(&corpus).unwrap().flatten() {
        let p = e.path();
        if p.extension().is_some_and(|x| x == "csv") {
            let mut b = std::fs::read(&p).unwrap();
            b.truncate(4096);
            seeds.push(b);
        }
    }
    let tmp = tempfile::tempdir().unwrap();
    let tokens: &[&[u8]] = &[
        b"\"",
        b",",
        b"\n",
        b"\r\n",
        b"\xEF\xBB\xBF",
        "客户号".as_bytes(),
        b"cust_no",
    ];
    let n = std::cell::Cell::new(0u64);
    let run = fuzz("csv", &seeds, tokens, Budget::from_env(400, 10.0), |b| {
        let i = n.get();
        n.set(i + 1);
        let dir = tmp.path().join(format!("c{i}"));
        std::fs::create_dir_all(&dir).unwrap();
        for table in ["customer", "transaction"] {
            let file = dir.join(format!("{table}.csv"));
            std::fs::write(&file, b).unwrap();
            let out = dir.join(format!("{table}.out"));
            std::fs::create_dir_all(&out).unwrap();
            let def = portrait_types::model::table(table).unwrap();
            let mut loader = portrait_ingest::Loader::new(
                portrait_ingest::Options {
                    threads: 1,
                    ..portrait_ingest::Options::default()
                },
                dir.join("rejects.csv"),
            );
            let _ = loader.load_file(def, &file, &out, &|_| {});
        }
        let _ = std::fs::remove_dir_all(&dir);
    });
    eprintln!("csv: {run:?}");
    assert!(run.cases >= seeds.len() as u64, "{run:?}");
}

#[test]
fn configuration_files() {
    // The shipped example and a file touching every section.
    let seeds = vec![
        std::fs::read(repo().join("bench/febrl.toml")).unwrap(),
        r#"[ingest]
encoding = "gbk"
max_errors = "1%"
threads = 2
[mapping.customer]
"客户姓名XX" = "name"
[features]
[score]
[score.churn]
max_seconds = 60
[resolve]
threshold = 0.9
[links]
[survivorship]
[tags]
[segment]
default_model = "value"
[segment.models.value]
method = "kmeans"
k = "auto"
features = ["clv", "frequency"]
[rules]
"#
        .as_bytes()
        .to_vec(),
    ];
    let tokens: &[&[u8]] = &[
        b"[",
        b"]",
        b"[[",
        b"=",
        b"\"",
        b"\n",
        b"[segment.models.x]\n",
        b"k = 0\n",
        b"k_min = 1\n",
        b"1e400",
        b"-1",
        b"nan",
        b"inf",
        b"[mapping.nowhere]\n",
    ];
    let parsed = std::cell::Cell::new(0u64);
    let run = fuzz(
        "config",
        &seeds,
        tokens,
        Budget::from_env(5_000, 5.0),
        |b| {
            if let Ok(cfg) = portrait_engine::config::ConfigFile::parse("fuzz.toml", &text(b)) {
                parsed.set(parsed.get() + 1);
                let _ = cfg.validate();
                let _ = cfg.pipeline();
            }
        },
    );
    eprintln!("config: {run:?}, {} parsed", parsed.get());
    assert!(run.cases > 100 && parsed.get() > 10, "{run:?}");
}
