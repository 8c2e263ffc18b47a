//! Tags and audiences on a generated bank: the bitmap index agrees with a plain SQL evaluation
//! of the same expressions, errors point at the column, exports honour consent and mask, saved
//! audiences diff and report.

use std::path::Path;

use portrait_engine::tags as engine;
use portrait_store::Store;
use portrait_tags::Expr;
use rand::rngs::StdRng;
use rand::seq::IndexedRandom;
use rand::{Rng, SeedableRng};

use crate::common::{ok, run, snapshot};

fn tagged() -> &'static Path {
    crate::common::pipeline_store()
}

fn count(store: &Path, expr: &str) -> u64 {
    let out = ok(store, &["audience", "count", expr]);
    out.lines().last().unwrap().trim().parse().unwrap()
}

/// A random expression over the index's tags and a few numeric features.
fn random_expr(rng: &mut StdRng, index: &portrait_tags::TagIndex, depth: u32) -> String {
    if depth == 0 || rng.random_bool(0.35) {
        return match rng.random_range(0..5) {
            0..=2 => {
                let tags: Vec<_> = index
                    .tags()
                    .iter()
                    .filter(|t| !t.values.is_empty())
                    .collect();
                let t = tags.choose(rng).unwrap();
                let k = rng.random_range(1..=t.values.len().min(3));
                let vals: Vec<String> = t
                    .values
                    .choose_multiple(rng, k)
                    .map(|(v, _)| format!("\"{v}\""))
                    .collect();
                if rng.random_bool(0.15) {
                    t.info.name.clone()
                } else if vals.len() == 1 {
                    format!("{}:{}", t.info.name, vals[0])
                } else {
                    format!("{}:({})", t.info.name, vals.join("|"))
                }
            }
            3 => {
                let f = [
                    "age",
                    "clv",
                    "frequency",
                    "recency_days",
                    "adb_year",
                    "churn_probability",
                ]
                .choose(rng)
                .unwrap();
                let op = [">", ">=", "<", "<=", "=", "!="].choose(rng).unwrap();
                let v = match *f {
                    "age" => rng.random_range(18..80) as f64,
                    "churn_probability" => rng.random_range(0..100) as f64 / 100.0,
                    "recency_days" => rng.random_range(0..400) as f64,
                    "frequency" => rng.random_range(0..30) as f64,
                    _ => rng.random_range(-1000..200_000) as f64,
                };
                format!("{f} {op} {v}")
            }
            _ => {
                let lo = rng.random_range(18..60);
                let hi = lo + rng.random_range(0..20);
                if rng.random_bool(0.2) {
                    "satisfaction IS NULL".to_string()
                } else {
                    format!(
                        "age {}BETWEEN {lo} AND {hi}",
                        if rng.random_bool(0.2) { "NOT " } else { "" }
                    )
                }
            }
        };
    }
    let a = random_expr(rng, index, depth - 1);
    match rng.random_range(0..3) {
        0 => format!("({a} AND {})", random_expr(rng, index, depth - 1)),
        1 => format!("({a} OR {})", random_expr(rng, index, depth - 1)),
        _ => format!("NOT {a}"),
    }
}

#[test]
fn bitmap_counts_equal_a_plain_sql_evaluation() {
    let store_dir = tagged();
    let rt = tokio::runtime::Runtime::new().unwrap();
    let store = Store::open(store_dir).unwrap();
    let index = engine::open_index(&store).unwrap();
    assert!(index.parties() > 2000);
    let ctx = rt.block_on(portrait_engine::open_session(&store)).unwrap();
    let mut rng = StdRng::seed_from_u64(7);
    let mut nonzero = 0;
    for _ in 0..60 {
        let text = random_expr(&mut rng, &index, 3);
        let a = engine::select(&store, &index, &text).unwrap_or_else(|e| panic!("{text}: {e}"));
        let expr = Expr::parse(&text).unwrap();
        let pred = expr.to_sql(&|n| index.tag(n).is_some());
        let sql = format!("SELECT count(*) FROM tag_party WHERE {pred}");
        let batches = rt
            .block_on(async { ctx.sql(&sql).await?.collect().await })
            .unwrap_or_else(|e| panic!("{sql}: {e}"));
        let want = arrow::compute::cast(batches[0].column(0), &arrow::datatypes::DataType::UInt64)
            .unwrap();
        let want = want
            .as_any()
            .downcast_ref::<arrow::array::UInt64Array>()
            .unwrap()
            .value(0);
        assert_eq!(a.parties.len(), want, "{text}\n{sql}");
        nonzero += usize::from(want > 0 && want < u64::from(index.parties()));
    }
    assert!(
        nonzero > 20,
        "the random expressions should select something: {nonzero}"
    );
}

#[test]
fn the_catalogue_covers_the_four_portrait_categories() {
    let store = tagged();
    let list = ok(store, &["tags", "list", "--format", "csv"]);
    for cat in [
        "demographic",
        "consumption",
        "interest",
        "social",
        "value",
        "risk",
    ] {
        assert!(list.contains(&format!(",{cat},")), "no {cat} tag:\n{list}");
    }
    for tag in [
        "gender",
        "age_group",
        "interest",
        "asset_tier",
        "private_banking",
        "retention_group",
        "churn_risk",
        "risk_level",
        "investment_preference",
        "lending_prospect",
        "household",
    ] {
        assert!(list.contains(&format!("\n{tag},")), "no tag `{tag}`");
    }
    // The long form matches the index.
    let n = crate::common::scalar(
        store,
        "SELECT count(*) FROM tag WHERE tag = 'gender' AND value = 'female'",
    );
    assert_eq!(n.parse::<u64>().unwrap(), count(store, "gender:female"));
}

#[test]
fn bad_expressions_point_at_the_column() {
    let store = tagged();
    let before = snapshot(store);
    for (expr, want) in [
        ("gender:femal", "did you mean `female`?"),
        (
            "gender: AND x",
            "found the keyword `AND` (quote a value that is a keyword) (column 9)",
        ),
        (
            "gendr:female",
            "unknown tag `gendr`; did you mean `gender`?",
        ),
        ("clv > 'high'", "type mismatch: `clv` is numeric"),
        (
            "(gender:female OR clv > 3",
            "expected `)` to close the `(` at column 1",
        ),
        ("occupation = 'x'", "`occupation` is a tag"),
    ] {
        let out = run(store, &["audience", "count", expr]);
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{expr}: {err}");
        assert!(err.contains(want), "{expr}: {err}");
        assert!(
            err.contains(&format!("  {expr}\n")),
            "the expression is shown: {err}"
        );
    }
    assert_eq!(before, snapshot(store));
}

#[test]
fn breakdown_counts_add_up_to_the_audience() {
    let store = tagged();
    let n = count(store, "NOT recency_class:churned");
    let csv = ok(
        store,
        &[
            "audience",
            "breakdown",
            "NOT recency_class:churned",
            "--by",
            "gender",
            "--format",
            "csv",
        ],
    );
    let mut total = 0u64;
    let mut lines = csv.lines();
    assert_eq!(
        lines.next().unwrap(),
        "value,count,share,population,population_share,lift"
    );
    for l in lines {
        total += l.split(',').nth(1).unwrap().parse::<u64>().unwrap();
    }
    assert_eq!(total, n);
}

#[test]
fn exports_honour_consent_and_mask_personal_data() {
    let store = tagged();
    let tmp = tempfile::tempdir().unwrap();
    let expr = "NOT recency_class:churned";
    let all = count(store, expr);
    let out = tmp.path().join("a.csv");
    let n: u64 = ok(
        store,
        &["audience", "export", expr, "--out", out.to_str().unwrap()],
    )
    .trim()
    .parse()
    .unwrap();
    let text = std::fs::read_to_string(&out).unwrap();
    let mut rdr = csv::Reader::from_reader(text.as_bytes());
    let headers = rdr.headers().unwrap().clone();
    let col = |name: &str| headers.iter().position(|h| h == name).unwrap();
    let (pid, name, mobile) = (col("party_id"), col("name"), col("mobile"));
    let rows: Vec<csv::StringRecord> = rdr.records().map(|r| r.unwrap()).collect();
    assert_eq!(rows.len() as u64, n);
    assert!(
        n > 0 && n < all,
        "consent filters some parties out: {n} of {all}"
    );
    // Every exported party consented, by the golden record.
    let ids: Vec<String> = rows.iter().map(|r| format!("'{}'", &r[pid])).collect();
    let refused = crate::common::scalar(
        store,
        &format!(
            "SELECT count(*) FROM party WHERE party_id IN ({}) AND NOT COALESCE(marketing_consent, false)",
            ids.join(",")
        ),
    );
    assert_eq!(refused, "0");
    let with_consent = crate::common::scalar(
        store,
        "SELECT count(*) FROM tag_party WHERE marketing_consent AND NOT party_id IN \
         (SELECT party_id FROM tag WHERE tag = 'recency_class' AND value = 'churned')",
    );
    assert_eq!(with_consent.parse::<u64>().unwrap(), n);
    for r in &rows {
        let m = &r[mobile];
        assert!(
            m.is_empty() || (m.len() == 11 && &m[3..7] == "****"),
            "mobile {m} not masked"
        );
        let nm = &r[name];
        assert!(
            nm.is_empty() || nm.chars().skip(1).all(|c| c == '*'),
            "name {nm} not masked"
        );
    }
    // Told otherwise, everyone.
    let n2: u64 = ok(
        store,
        &[
            "audience",
            "export",
            expr,
            "--out",
            out.to_str().unwrap(),
            "--include-no-consent",
        ],
    )
    .trim()
    .parse()
    .unwrap();
    assert_eq!(n2, all);
}

#[test]
fn saved_audiences_diff_and_report_campaigns() {
    let tmp = tempfile::tempdir().unwrap();
    let store = tmp.path().join("copy");
    crate::common::copy_dir(tagged(), &store);
    ok(
        &store,
        &["audience", "save", "young", "age_group:(25-29|30-34)"],
    );
    let diff = ok(&store, &["audience", "diff", "young"]);
    assert!(diff.contains("entered 0, left 0"), "{diff}");
    let list = ok(&store, &["audience", "list", "--format", "csv"]);
    assert!(list.contains("young,age_group:(25-29|30-34)"), "{list}");
    let report = ok(&store, &["audience", "report", "young", "--format", "csv"]);
    assert!(
        report.starts_with(
            "campaign_id,group,contacted,responded,converted,response_rate,conversion_rate"
        ),
        "{report}"
    );
    assert!(
        report.contains(",audience,") && report.contains(",rest,"),
        "{report}"
    );
    // Rebuilding the tags with a narrower catalogue changes who is in.
    let cat = tmp.path().join("tags.toml");
    std::fs::write(
        &cat,
        "[[tag]]\nname = \"age_group\"\nlabel_zh = \"年龄段\"\nlabel_en = \"Age group\"\ncategory = \"demographic\"\n\
         kind = \"bucket\"\nfeature = \"age\"\nbuckets = [{ value = \"25-29\", min = 25, max = 30 }, { value = \"30-34\", min = 30, max = 32 }]\n",
    )
    .unwrap();
    ok(
        &store,
        &["tags", "build", "--catalog", cat.to_str().unwrap()],
    );
    let diff = ok(&store, &["audience", "diff", "young"]);
    assert!(diff.contains("entered 0, left "), "{diff}");
    assert!(!diff.contains("left 0"), "{diff}");
    // A catalogue with an error is refused with its position, and nothing changes.
    std::fs::write(
        &cat,
        "[[tag]]\nname = \"rich\"\nlabel_zh = \"富\"\nlabel_en = \"Rich\"\ncategory = \"value\"\nkind = \"rule\"\nwhen = \"adb_yeer > 1\"\n",
    )
    .unwrap();
    let before = snapshot(&store);
    let out = run(
        &store,
        &["tags", "build", "--catalog", cat.to_str().unwrap()],
    );
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        err.contains(
            "tags.toml:7:9: in `adb_yeer > 1`: unknown feature `adb_yeer`; did you mean `adb_year`?"
        ),
        "{err}"
    );
    assert_eq!(before, snapshot(&store));
}

#[test]
fn ordered_categories_keep_their_order_in_breakdowns() {
    let store = tagged();
    for (tag, order) in [
        (
            "age_group",
            &[
                "<18", "18-24", "25-29", "30-34", "35-39", "40-49", "50-59", "60+",
            ][..],
        ),
        (
            "asset_tier",
            &["diamond", "platinum", "gold", "silver", "ordinary"][..],
        ),
        (
            "recency_class",
            &["active", "sleeping", "pre_churn", "churned"][..],
        ),
    ] {
        let csv = ok(
            store,
            &[
                "audience",
                "breakdown",
                "NOT gender:female",
                "--by",
                tag,
                "--format",
                "csv",
            ],
        );
        let values: Vec<&str> = csv
            .lines()
            .skip(1)
            .map(|l| l.split(',').next().unwrap())
            .filter(|v| !v.is_empty())
            .collect();
        let expected: Vec<&str> = order
            .iter()
            .copied()
            .filter(|v| values.contains(v))
            .collect();
        assert!(values.len() >= 3, "{tag}: {values:?}");
        assert_eq!(values, expected, "{tag} in the catalogue's order");
    }
}
