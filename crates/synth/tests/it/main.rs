//! Integration tests of the synthetic bank: determinism, valid identifiers, complete ground
//! truth, encodings and formats, and the statistical shape a bank analyst expects.

use std::collections::{HashMap, HashSet};
use std::fs;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, OnceLock};

use chrono::NaiveDate;
use portrait_synth::{
    Encoding, Format, Headers, Progress, Summary, SynthConfig, SynthError, generate,
};
use portrait_types::{Gender, IdCardNo, MobileNo, Uscc};

const TABLE_FILES: [&str; 9] = [
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

fn cfg(customers: u64, seed: u64) -> SynthConfig {
    SynthConfig {
        customers,
        seed,
        ..SynthConfig::default()
    }
}

fn run(cfg: &SynthConfig, dir: &Path) -> Summary {
    generate(cfg, dir, &|_| {}).expect("generation succeeds")
}

/// A default-style bank shared by the read-only tests, generated once per test binary.
fn shared() -> &'static (PathBuf, Summary) {
    static BANK: OnceLock<(PathBuf, Summary)> = OnceLock::new();
    BANK.get_or_init(|| {
        let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("synth-shared");
        let _ = fs::remove_dir_all(&dir);
        let summary = run(&cfg(4_000, 42), &dir);
        (dir, summary)
    })
}

/// A CSV table as its header and records.
struct Table {
    headers: Vec<String>,
    rows: Vec<csv::StringRecord>,
}

impl Table {
    fn read(path: &Path) -> Self {
        let mut r =
            csv::Reader::from_path(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        let headers = r.headers().unwrap().iter().map(String::from).collect();
        let rows = r.records().map(|x| x.unwrap()).collect();
        Self { headers, rows }
    }

    fn col(&self, name: &str) -> usize {
        self.headers
            .iter()
            .position(|h| h == name)
            .unwrap_or_else(|| panic!("no column {name}"))
    }

    fn values<'a>(&'a self, name: &str) -> impl Iterator<Item = &'a str> {
        let c = self.col(name);
        self.rows.iter().map(move |r| r.get(c).unwrap())
    }
}

fn table(dir: &Path, name: &str) -> Table {
    Table::read(&dir.join(format!("{name}.csv")))
}

fn end() -> NaiveDate {
    SynthConfig::default().end
}

/// `cust_no` → (`true_id`, noise).
fn identity(dir: &Path) -> HashMap<String, (String, String)> {
    let t = table(dir, "truth/identity");
    t.rows
        .iter()
        .map(|r| (r[0].to_string(), (r[1].to_string(), r[2].to_string())))
        .collect()
}

fn files(dir: &Path) -> Vec<PathBuf> {
    let mut out: Vec<PathBuf> = TABLE_FILES
        .iter()
        .map(|t| dir.join(format!("{t}.csv")))
        .chain(
            ["identity", "household", "corp_group", "churn"]
                .iter()
                .map(|t| dir.join(format!("truth/{t}.csv"))),
        )
        .collect();
    out.sort();
    out
}

#[test]
fn same_seed_gives_identical_bytes_and_another_seed_does_not() {
    let (a, b, c) = (
        tempfile::tempdir().unwrap(),
        tempfile::tempdir().unwrap(),
        tempfile::tempdir().unwrap(),
    );
    run(&cfg(1_200, 7), a.path());
    run(&cfg(1_200, 7), b.path());
    run(&cfg(1_200, 8), c.path());
    for (fa, fb) in files(a.path()).iter().zip(files(b.path())) {
        assert!(
            fs::read(fa).unwrap() == fs::read(&fb).unwrap(),
            "{} differs between runs",
            fa.display()
        );
    }
    for name in ["customer.csv", "transaction.csv", "truth/identity.csv"] {
        assert_ne!(
            fs::read(a.path().join(name)).unwrap(),
            fs::read(c.path().join(name)).unwrap(),
            "{name}"
        );
    }
}

#[test]
fn output_does_not_depend_on_the_thread_count() {
    let (a, b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let c = cfg(5_000, 3);
    rayon::ThreadPoolBuilder::new()
        .num_threads(1)
        .build()
        .unwrap()
        .install(|| run(&c, a.path()));
    rayon::ThreadPoolBuilder::new()
        .num_threads(3)
        .build()
        .unwrap()
        .install(|| run(&c, b.path()));
    for (fa, fb) in files(a.path()).iter().zip(files(b.path())) {
        assert!(
            fs::read(fa).unwrap() == fs::read(&fb).unwrap(),
            "{} differs with the thread count",
            fa.display()
        );
    }
}

#[test]
fn resident_ids_are_valid_unique_and_agree_with_birth_date_and_gender() {
    let (dir, _) = shared();
    let ident = identity(dir);
    let t = table(dir, "customer");
    let (no, ty, id, birth, gender, ctype) = (
        t.col("cust_no"),
        t.col("id_type"),
        t.col("id_no"),
        t.col("birth_date"),
        t.col("gender"),
        t.col("cust_type"),
    );
    let mut owner: HashMap<String, String> = HashMap::new();
    let (mut checked, mut excused) = (0, 0);
    for r in &t.rows {
        if &r[ctype] != "individual" || &r[ty] != "resident_id" || r[id].is_empty() {
            continue;
        }
        let (true_id, noise) = &ident[&r[no]];
        let parsed = IdCardNo::parse(&r[id], end()).unwrap_or_else(|e| panic!("{}: {e}", &r[no]));
        let g = if &r[gender] == "M" {
            Gender::Male
        } else {
            Gender::Female
        };
        assert_eq!(parsed.gender(), g, "{}", &r[no]);
        let b = NaiveDate::parse_from_str(&r[birth], "%Y-%m-%d").unwrap();
        if noise.contains("birth_transposed") {
            excused += 1;
        } else {
            assert_eq!(parsed.birth_date(), b, "{}", &r[no]);
        }
        if r[id].ends_with('x') {
            assert!(noise.contains("id_lower_x"), "{}", &r[no]);
        }
        let prev = owner
            .entry(parsed.expose().to_string())
            .or_insert_with(|| true_id.clone());
        assert_eq!(prev, true_id, "two persons share an ID number");
        checked += 1;
    }
    assert!(checked > 3_000, "{checked}");
    assert!(excused < checked / 50);
    let passports = t
        .values("id_type")
        .filter(|v| *v == "passport" || *v == "other")
        .count();
    assert!((10..200).contains(&passports), "{passports}");
}

#[test]
fn mobiles_are_valid_and_never_shared_by_two_persons() {
    let (dir, _) = shared();
    let ident = identity(dir);
    let t = table(dir, "customer");
    let (no, mobile, ctype) = (t.col("cust_no"), t.col("mobile"), t.col("cust_type"));
    let mut owner: HashMap<&str, &str> = HashMap::new();
    for r in t.rows.iter().filter(|r| &r[ctype] == "individual") {
        MobileNo::parse(&r[mobile]).unwrap();
        let true_id = ident[&r[no]].0.as_str();
        let prev = *owner.entry(r.get(mobile).unwrap()).or_insert(true_id);
        assert_eq!(prev, true_id, "mobile {} shared", &r[mobile]);
    }
}

#[test]
fn credit_codes_are_valid_and_belong_to_one_company() {
    let (dir, _) = shared();
    let ident = identity(dir);
    let t = table(dir, "customer");
    let (no, uscc) = (t.col("cust_no"), t.col("uscc"));
    let mut owner: HashMap<String, String> = HashMap::new();
    let mut names: HashMap<&str, &str> = HashMap::new();
    let mut n = 0;
    for r in &t.rows {
        if r[uscc].is_empty() {
            continue;
        }
        let code = Uscc::parse(&r[uscc]).unwrap_or_else(|e| panic!("{}: {e}", &r[uscc]));
        assert!(code.as_str().starts_with("91"));
        let true_id = &ident[&r[no]].0;
        assert!(true_id.starts_with('E'));
        assert_eq!(
            owner
                .entry(code.as_str().to_string())
                .or_insert_with(|| true_id.clone()),
            true_id
        );
        n += 1;
    }
    assert!(n > 150, "{n}");
    // Company names are not shared by two companies either.
    for r in t
        .rows
        .iter()
        .filter(|r| &r[t.col("cust_type")] == "corporate")
    {
        let id = ident[&r[no]].0.as_str();
        let prev = *names.entry(r.get(t.col("name")).unwrap()).or_insert(id);
        assert_eq!(prev, id, "company name {} shared", &r[t.col("name")]);
    }
}

#[test]
fn truth_covers_every_number_and_duplicates_are_10_to_20_percent_of_persons() {
    let (dir, summary) = shared();
    let ident = identity(dir);
    let customers: HashSet<String> = table(dir, "customer")
        .values("cust_no")
        .map(String::from)
        .collect();
    assert_eq!(customers.len(), 4_000);
    assert_eq!(customers, ident.keys().cloned().collect::<HashSet<_>>());
    let mut per_person: HashMap<&str, usize> = HashMap::new();
    for (true_id, _) in ident.values() {
        if true_id.starts_with('P') {
            *per_person.entry(true_id).or_default() += 1;
        }
    }
    let dups = per_person.values().filter(|&&n| n > 1).count();
    let share = dups as f64 / per_person.len() as f64;
    assert!((0.10..=0.20).contains(&share), "{share}");
    assert_eq!(summary.persons as usize, per_person.len());
    assert_eq!(summary.duplicate_persons as usize, dups);
    let households: HashSet<String> = table(dir, "truth/household")
        .values("true_id")
        .map(String::from)
        .collect();
    let churn: HashSet<String> = table(dir, "truth/churn")
        .values("true_id")
        .map(String::from)
        .collect();
    let persons: HashSet<String> = per_person.keys().map(|s| s.to_string()).collect();
    assert_eq!(households, persons);
    assert_eq!(churn, persons);
    let companies: HashSet<String> = ident
        .values()
        .filter(|v| v.0.starts_with('E'))
        .map(|v| v.0.clone())
        .collect();
    let groups: HashSet<String> = table(dir, "truth/corp_group")
        .values("true_id")
        .map(String::from)
        .collect();
    assert_eq!(groups, companies);
}

#[test]
fn transfer_counterparties_are_customer_numbers() {
    let (dir, _) = shared();
    let customers: HashSet<String> = table(dir, "customer")
        .values("cust_no")
        .map(String::from)
        .collect();
    let t = table(dir, "transaction");
    let (cat, cp) = (t.col("category"), t.col("counterparty"));
    let mut transfers = 0;
    // A transfer to another bank (a leaver moving money out) has no counterparty here.
    for r in t
        .rows
        .iter()
        .filter(|r| &r[cat] == "transfer" && !r[cp].is_empty())
    {
        assert!(customers.contains(&r[cp]), "counterparty {}", &r[cp]);
        transfers += 1;
    }
    assert!(transfers > 10_000);
    let ids: HashSet<&str> = t.values("txn_id").collect();
    assert_eq!(ids.len(), t.rows.len(), "transaction ids are unique");
    let events = table(dir, "event");
    assert_eq!(
        events.values("event_id").collect::<HashSet<_>>().len(),
        events.rows.len()
    );
    let inter = table(dir, "interaction");
    assert_eq!(
        inter.values("interaction_id").collect::<HashSet<_>>().len(),
        inter.rows.len()
    );
}

#[test]
fn churned_persons_stop_transacting() {
    let (dir, _) = shared();
    let ident = identity(dir);
    let churn: HashMap<String, String> = table(dir, "truth/churn")
        .rows
        .iter()
        // Returners come back, so they transact after their churn date.
        .filter(|r| &r[1] == "true" && &r[3] != "returned")
        .map(|r| (r[0].to_string(), r[2].to_string()))
        .collect();
    let t = table(dir, "transaction");
    let (no, ts) = (t.col("cust_no"), t.col("ts"));
    for r in &t.rows {
        if let Some(date) = churn.get(&ident[&r[no]].0) {
            assert!(
                &r[ts][..10] < date.as_str(),
                "{} transacts on {} after churning on {date}",
                &r[no],
                &r[ts]
            );
        }
    }
    let persons = table(dir, "truth/churn").rows.len() as f64;
    let share = table(dir, "truth/churn")
        .rows
        .iter()
        .filter(|r| &r[1] == "true")
        .count() as f64
        / persons;
    assert!((0.08..0.16).contains(&share), "{share}");
}

#[test]
fn shape_of_the_bank() {
    let (dir, summary) = shared();
    let cust = table(dir, "customer");
    let corporate = cust
        .values("cust_type")
        .filter(|v| *v == "corporate")
        .count() as f64
        / 4_000.0;
    assert!((0.05..0.09).contains(&corporate), "{corporate}");
    let txns = summary
        .rows
        .iter()
        .find(|r| r.0 == "transaction")
        .unwrap()
        .1 as f64
        / 4_000.0;
    assert!(
        (40.0..62.0).contains(&txns),
        "{txns} transactions per customer number"
    );
    for (name, rows) in &summary.rows {
        let lines = fs::read_to_string(dir.join(format!("{name}.csv")))
            .unwrap()
            .lines()
            .count() as u64;
        assert!(
            lines > *rows,
            "{name}: the header and every row are written"
        );
    }
    // Financial assets are the sum of the last month-end balances.
    let mut last: HashMap<&str, i64> = HashMap::new();
    let snaps = table(dir, "asset_snapshot");
    let end = end().format("%Y-%m-%d").to_string();
    for r in snaps.rows.iter().filter(|r| r[2] == *end) {
        *last.entry(r.get(0).unwrap()).or_default() += cents(&r[3]);
    }
    for r in &cust.rows {
        let expected = last.get(r.get(0).unwrap()).copied().unwrap_or(0);
        assert_eq!(
            cents(&r[cust.col("financial_assets")]),
            expected,
            "{}",
            &r[0]
        );
    }
}

fn cents(s: &str) -> i64 {
    let (a, b) = s.split_once('.').unwrap();
    a.parse::<i64>().unwrap() * 100 + b.parse::<i64>().unwrap()
}

#[test]
fn gbk_output_decodes_to_the_utf8_output() {
    let (u, g) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let zh = SynthConfig {
        headers: Headers::Zh,
        ..cfg(800, 11)
    };
    run(&zh, u.path());
    run(
        &SynthConfig {
            encoding: Encoding::Gbk,
            ..zh.clone()
        },
        g.path(),
    );
    for (fu, fg) in files(u.path()).iter().zip(files(g.path())) {
        let utf8 = fs::read_to_string(fu).unwrap();
        let bytes = fs::read(&fg).unwrap();
        let (decoded, _, errors) = encoding_rs::GBK.decode(&bytes);
        assert!(!errors, "{}", fg.display());
        assert!(decoded == utf8, "{} decodes differently", fg.display());
    }
}

#[test]
fn chinese_headers_look_like_a_core_banking_export() {
    let dir = tempfile::tempdir().unwrap();
    run(
        &SynthConfig {
            headers: Headers::Zh,
            ..cfg(600, 5)
        },
        dir.path(),
    );
    let t = table(dir.path(), "transaction");
    assert_eq!(
        &t.headers[..5],
        ["交易流水号", "客户号", "交易日期", "交易时间", "交易金额"]
    );
    for r in &t.rows {
        assert!(
            r[2].len() == 8 && r[2].bytes().all(|b| b.is_ascii_digit()),
            "date {}",
            &r[2]
        );
        assert!(
            r[3].len() == 8 && r[3].as_bytes()[2] == b':',
            "time {}",
            &r[3]
        );
        assert!(["借", "贷"].contains(&&r[5]));
    }
    let c = table(dir.path(), "customer");
    assert_eq!(c.headers[0], "客户号");
    assert!(c.values("性别").all(|g| ["男", "女", ""].contains(&g)));
    assert!(
        c.values("是否本行员工")
            .all(|b| ["是", "否", ""].contains(&b))
    );
    assert!(
        c.values("出生日期")
            .filter(|d| !d.is_empty())
            .all(|d| d.len() == 8)
    );
    assert!(c.values("证件类型").any(|v| v == "居民身份证"));
    let rel = table(dir.path(), "relation");
    assert!(rel.values("关系类型").any(|v| v == "配偶"));
    let p = table(dir.path(), "product");
    assert!(p.values("产品类型").any(|v| v == "存款"));
    let i = table(dir.path(), "interaction");
    assert!(
        i.values("发生时间")
            .all(|v| v.len() == 19 && v.as_bytes()[4] == b'-')
    );
}

#[test]
fn parquet_and_csv_agree() {
    use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;

    let (c, p) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let csv_summary = run(&cfg(1_500, 9), c.path());
    let pq_summary = run(
        &SynthConfig {
            format: Format::Parquet,
            ..cfg(1_500, 9)
        },
        p.path(),
    );
    assert_eq!(csv_summary.rows, pq_summary.rows);
    for name in TABLE_FILES {
        let csv_rows = table(c.path(), name).rows.len();
        let file = fs::File::open(p.path().join(format!("{name}.parquet"))).unwrap();
        let builder = ParquetRecordBatchReaderBuilder::try_new(file).unwrap();
        let rows = builder.metadata().file_metadata().num_rows() as usize;
        assert_eq!(rows, csv_rows, "{name}");
        let def = portrait_types::model::table(name).unwrap();
        let names: Vec<&str> = builder
            .schema()
            .fields()
            .iter()
            .map(|f| f.name().as_str())
            .collect();
        assert_eq!(
            names,
            def.columns.iter().map(|c| c.name).collect::<Vec<_>>(),
            "{name}"
        );
    }
    let file = fs::File::open(p.path().join("transaction.parquet")).unwrap();
    let schema = ParquetRecordBatchReaderBuilder::try_new(file)
        .unwrap()
        .schema()
        .clone();
    assert_eq!(
        schema.field_with_name("ts").unwrap().data_type(),
        &arrow::datatypes::DataType::Timestamp(arrow::datatypes::TimeUnit::Microsecond, None)
    );
    assert_eq!(
        schema.field_with_name("amount").unwrap().data_type(),
        &arrow::datatypes::DataType::Decimal128(18, 2)
    );
    // The truth is CSV whatever the format.
    assert_eq!(
        fs::read(c.path().join("truth/identity.csv")).unwrap(),
        fs::read(p.path().join("truth/identity.csv")).unwrap()
    );
}

#[test]
fn progress_reaches_the_total() {
    let dir = tempfile::tempdir().unwrap();
    let seen = Mutex::new(Vec::new());
    generate(&cfg(5_000, 1), dir.path(), &|p: Progress| {
        seen.lock().unwrap().push(p)
    })
    .unwrap();
    let seen = seen.into_inner().unwrap();
    assert!(seen.len() >= 2);
    assert!(
        seen.windows(2)
            .all(|w| w[0].customers_done < w[1].customers_done)
    );
    let last = seen.last().unwrap();
    assert_eq!((last.customers_done, last.customers_total), (5_000, 5_000));
}

#[test]
fn tiny_banks_have_exactly_the_requested_numbers() {
    for n in [1, 2, 17] {
        let dir = tempfile::tempdir().unwrap();
        let s = run(&cfg(n, 1), dir.path());
        assert_eq!(s.rows[0], ("customer", n));
        assert_eq!(table(dir.path(), "customer").rows.len() as u64, n);
    }
}

#[test]
fn bad_configs_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let err = generate(&cfg(0, 1), dir.path(), &|_| {}).unwrap_err();
    assert!(matches!(err, SynthError::InvalidConfig(_)));
    assert_eq!(err.to_string(), "customers cannot be 0");
}
