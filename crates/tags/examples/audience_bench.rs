//! Audience latency on a synthetic bank: builds the tag index of N parties (default 10,000,000)
//! through the crate's public API, writes the long-form `tag(party_id, tag, value)` table to
//! Parquet for the peers, then times a 5-term expression count and the breakdown of the same
//! audience by a 10-valued tag, in process, with the index loaded as the server holds it.
//! `bench/audience.sh` runs it beside DuckDB and chdb:
//!
//! `cargo run --release -p portrait-tags --example audience_bench -- DIR [--parties N]
//!  [--reps 200] [--warmup 10] [--seed 1] [--skip-parquet]`
//!
//! Data: 32 tags, 204 values, generated with a fixed seed from per-party features (gender, age,
//! province, assets, recency, spend, interests, holdings, channels, …) with the correlations a
//! bank's customers have (age ↔ life stage and marital status, assets ↔ asset tier, private
//! banking, trust and wealth holdings, luxury and red-wine interest, …). The index is built as
//! `portrait tags build` builds it: an `IndexBuilder` over Arrow batches of the features, with a
//! `Catalog` parsed from TOML (`DIR/catalog.toml`), quantile cuts from `quantile_cuts`; then
//! stored with `to_batches` and read back with `from_batches`.
//!
//! Writes `DIR/tag.parquet` (party_id BIGINT = dense index + 1, tag, value), `DIR/catalog.toml`
//! and `DIR/query.json` (the expression, the breakdown tag and the expression's SQL from
//! `Expr::to_sql`), and prints one JSON line per query on stdout: p50, p99 and mean in ms and the
//! count or breakdown. Evaluation is single-threaded.

use std::collections::HashMap;
use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use arrow::array::{ArrayRef, BooleanArray, Float64Array, Int64Array, RecordBatch, StringArray};
use arrow::datatypes::{DataType, Field, Schema};
use parquet::arrow::ArrowWriter;
use parquet::basic::Compression;
use parquet::file::properties::WriterProperties;
use portrait_tags::catalog::TagRule;
use portrait_tags::eval::schema_of;
use portrait_tags::index::quantile_cuts;
use portrait_tags::{Catalog, Expr, IndexBuilder, NumericColumns, TagIndex};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde_json::json;

type Error = Box<dyn std::error::Error>;

const EXPR: &str = "gender:female AND age_group:(25-29|30-34|35-39) AND interest:red_wine \
                    AND NOT recency_class:churned AND asset_tier:(gold|platinum|diamond)";
const BY: &str = "city_tier";
const BATCH: usize = 1 << 20;

const PROVINCES: [&str; 31] = [
    "guangdong",
    "shandong",
    "henan",
    "jiangsu",
    "sichuan",
    "hebei",
    "hunan",
    "zhejiang",
    "anhui",
    "hubei",
    "guangxi",
    "yunnan",
    "jiangxi",
    "liaoning",
    "fujian",
    "shaanxi",
    "guizhou",
    "shanxi",
    "chongqing",
    "heilongjiang",
    "xinjiang",
    "gansu",
    "shanghai",
    "inner_mongolia",
    "jilin",
    "beijing",
    "tianjin",
    "hainan",
    "ningxia",
    "qinghai",
    "tibet",
];
const CITY_TIERS: [&str; 10] = [
    "tier_1",
    "new_tier_1",
    "tier_2",
    "tier_3",
    "tier_4",
    "tier_5",
    "county_seat",
    "town",
    "village",
    "overseas",
];
const EDUCATION: [&str; 7] = [
    "junior_high",
    "high_school",
    "vocational",
    "associate",
    "bachelor",
    "master",
    "doctorate",
];
const OCCUPATIONS: [&str; 20] = [
    "office_worker",
    "civil_servant",
    "teacher",
    "doctor",
    "engineer",
    "it_professional",
    "finance",
    "sales",
    "manufacturing",
    "construction",
    "farmer",
    "driver",
    "retail",
    "catering",
    "student",
    "retired",
    "business_owner",
    "freelancer",
    "military",
    "unemployed",
];
const INTERESTS: [(&str, f64); 13] = [
    ("red_wine", 0.14),
    ("travel", 0.28),
    ("sports", 0.20),
    ("luxury", 0.10),
    ("education", 0.16),
    ("dining", 0.30),
    ("entertainment", 0.24),
    ("electronics", 0.22),
    ("health", 0.18),
    ("beauty", 0.15),
    ("parenting", 0.12),
    ("pets", 0.11),
    ("automobile", 0.13),
];
const HOLDS: [&str; 8] = [
    "deposit",
    "wealth",
    "fund",
    "insurance",
    "gold",
    "trust",
    "loan",
    "credit_card",
];
const CHANNELS: [&str; 6] = ["mobile", "online", "counter", "atm", "pos", "third_party"];
const SEGMENTS: [&str; 8] = [
    "young_starters",
    "young_professionals",
    "family_builders",
    "affluent_families",
    "mass_seniors",
    "affluent_seniors",
    "high_net_worth",
    "dormant",
];
const ACQUISITION: [&str; 8] = [
    "branch",
    "payroll_program",
    "mobile_app",
    "referral",
    "partner_platform",
    "mortgage",
    "credit_card",
    "campaign",
];
const PREFERENCES: [&str; 5] = ["conservative", "steady", "balanced", "growth", "aggressive"];
const CARD_LEVELS: [&str; 6] = [
    "classic", "gold", "platinum", "diamond", "infinite", "business",
];

struct Args {
    dir: PathBuf,
    parties: usize,
    reps: usize,
    warmup: usize,
    seed: u64,
    skip_parquet: bool,
}

fn args() -> Result<Args, Error> {
    let mut it = std::env::args().skip(1);
    let mut a = Args {
        dir: PathBuf::new(),
        parties: 10_000_000,
        reps: 200,
        warmup: 10,
        seed: 1,
        skip_parquet: false,
    };
    let mut dir = None;
    while let Some(x) = it.next() {
        let mut val = |name: &str| -> Result<usize, Error> {
            let v = it.next().ok_or_else(|| format!("{name} needs a value"))?;
            Ok(v.replace('_', "").parse()?)
        };
        match x.as_str() {
            "--parties" => a.parties = val("--parties")?,
            "--reps" => a.reps = val("--reps")?,
            "--warmup" => a.warmup = val("--warmup")?,
            "--seed" => a.seed = val("--seed")? as u64,
            "--skip-parquet" => a.skip_parquet = true,
            _ if dir.is_none() && !x.starts_with("--") => dir = Some(PathBuf::from(x)),
            _ => return Err(format!("unexpected argument `{x}`").into()),
        }
    }
    a.dir =
        dir.ok_or("usage: audience_bench DIR [--parties N] [--reps R] [--warmup W] [--seed S]")?;
    Ok(a)
}

/// The catalogue, as a bank would write it for these features.
fn catalog_toml() -> String {
    let mut t = String::new();
    let mut tag = |name: &str, category: &str, kind: &str, body: &str| {
        t.push_str(&format!(
            "[[tag]]\nname = \"{name}\"\nlabel_zh = \"{name}\"\nlabel_en = \"{name}\"\n\
             category = \"{category}\"\nkind = \"{kind}\"\n{body}\n\n"
        ));
    };
    let list = |vals: &[&str], f: &dyn Fn(&str) -> String| {
        vals.iter()
            .map(|v| format!("  {{ value = \"{v}\", when = \"{}\" }},\n", f(v)))
            .collect::<String>()
    };
    tag(
        "gender",
        "demographic",
        "category",
        "feature = \"gender\"\nmap = { F = \"female\", M = \"male\" }",
    );
    tag(
        "age_group",
        "demographic",
        "bucket",
        "feature = \"age\"\nbuckets = [\n  { value = \"<18\", max = 18 },\n  \
         { value = \"18-24\", min = 18, max = 25 },\n  { value = \"25-29\", min = 25, max = 30 },\n  \
         { value = \"30-34\", min = 30, max = 35 },\n  { value = \"35-39\", min = 35, max = 40 },\n  \
         { value = \"40-49\", min = 40, max = 50 },\n  { value = \"50-59\", min = 50, max = 60 },\n  \
         { value = \"60+\", min = 60 },\n]",
    );
    tag(
        "life_stage",
        "demographic",
        "bucket",
        "feature = \"age\"\nbuckets = [\n  { value = \"young_adult\", min = 18, max = 30 },\n  \
         { value = \"family_building\", min = 30, max = 45 },\n  \
         { value = \"established\", min = 45, max = 55 },\n  \
         { value = \"pre_retirement\", min = 55, max = 60 },\n  { value = \"retired\", min = 60 },\n]",
    );
    tag(
        "province",
        "demographic",
        "category",
        "feature = \"province\"",
    );
    tag(
        "city_tier",
        "demographic",
        "category",
        "feature = \"city_tier\"",
    );
    tag(
        "education",
        "demographic",
        "category",
        "feature = \"education\"",
    );
    tag(
        "occupation",
        "demographic",
        "category",
        "feature = \"occupation\"",
    );
    tag(
        "marital",
        "demographic",
        "category",
        "feature = \"marital\"",
    );
    tag(
        "tenure",
        "demographic",
        "bucket",
        "feature = \"tenure_months\"\nbuckets = [\n  { value = \"new\", max = 12 },\n  \
         { value = \"1-3y\", min = 12, max = 36 },\n  { value = \"3-5y\", min = 36, max = 60 },\n  \
         { value = \"5-10y\", min = 60, max = 120 },\n  { value = \"10y+\", min = 120 },\n]",
    );
    tag(
        "asset_tier",
        "value",
        "bucket",
        "feature = \"adb_year\"\nbuckets = [\n  { value = \"mass\", max = 50000 },\n  \
         { value = \"silver\", min = 50000, max = 300000 },\n  \
         { value = \"gold\", min = 300000, max = 1000000 },\n  \
         { value = \"platinum\", min = 1000000, max = 6000000 },\n  \
         { value = \"diamond\", min = 6000000 },\n]",
    );
    tag(
        "private_banking",
        "value",
        "rule",
        "when = \"adb_year >= 6000000 OR (adb_year >= 3000000 AND n_trust > 0)\"",
    );
    tag(
        "recency_class",
        "consumption",
        "bucket",
        "feature = \"recency_days\"\nbuckets = [\n  { value = \"active\", max = 30 },\n  \
         { value = \"sleeping\", min = 30, max = 90 },\n  { value = \"pre_churn\", min = 90, max = 180 },\n  \
         { value = \"churned\", min = 180 },\n]",
    );
    tag(
        "rfm_class",
        "consumption",
        "category",
        "feature = \"rfm_class\"",
    );
    tag(
        "retention_group",
        "risk",
        "model",
        "feature = \"retention_group\"",
    );
    tag("churn_risk", "risk", "model", "feature = \"churn_risk\"");
    tag(
        "interest",
        "interest",
        "rule",
        &format!(
            "multiple = true\nvalues = [\n{}]",
            list(&INTERESTS.map(|(i, _)| i), &|v| format!("int_{v}"))
        ),
    );
    tag(
        "holds",
        "consumption",
        "rule",
        &format!(
            "multiple = true\nvalues = [\n{}]",
            list(&HOLDS, &|v| format!("n_{v} > 0"))
        ),
    );
    tag(
        "channel",
        "consumption",
        "rule",
        &format!(
            "multiple = true\nvalues = [\n{}]",
            list(&CHANNELS, &|v| format!("ch_{v} >= 0.4"))
        ),
    );
    tag(
        "mobile_banking",
        "consumption",
        "rule",
        "when = \"mobile_banking_user\"",
    );
    tag("payroll", "social", "rule", "when = \"payroll_customer\"");
    tag(
        "cross_border",
        "consumption",
        "rule",
        "when = \"cross_border_txn\"",
    );
    tag(
        "credit_card_active",
        "consumption",
        "rule",
        "when = \"n_credit_card > 0 AND cc_spend_90d > 0\"",
    );
    tag("risk_level", "risk", "category", "feature = \"risk_level\"");
    tag(
        "investment_preference",
        "interest",
        "category",
        "feature = \"investment_preference\"",
    );
    tag(
        "digital_engagement",
        "consumption",
        "bucket",
        "feature = \"visits_90d\"\nbuckets = [\n  { value = \"none\", max = 1 },\n  \
         { value = \"light\", min = 1, max = 5 },\n  { value = \"regular\", min = 5, max = 20 },\n  \
         { value = \"heavy\", min = 20 },\n]",
    );
    let q = "labels = [\"low\", \"mid_low\", \"mid\", \"mid_high\", \"high\"]";
    tag(
        "clv_level",
        "value",
        "quantile",
        &format!("feature = \"clv\"\n{q}"),
    );
    tag(
        "spend_level",
        "consumption",
        "quantile",
        &format!("feature = \"monetary\"\n{q}\nskip_zero = true"),
    );
    tag(
        "frequency_level",
        "consumption",
        "quantile",
        &format!("feature = \"frequency\"\n{q}\nskip_zero = true"),
    );
    tag("segment", "value", "category", "feature = \"segment\"");
    tag(
        "acquisition_channel",
        "social",
        "category",
        "feature = \"acquisition_channel\"",
    );
    tag(
        "lending_prospect",
        "value",
        "rule",
        "values = [\n  { value = \"business\", when = \"occupation = 'business_owner' AND adb_year >= 100000\" },\n  \
         { value = \"mortgage\", when = \"age BETWEEN 25 AND 45 AND adb_year >= 50000 AND n_loan = 0 AND marital = 'married'\" },\n  \
         { value = \"consumer\", when = \"age < 40 AND monetary >= 3000\" },\n  \
         { value = \"none\", when = \"age >= 0\" },\n]",
    );
    tag(
        "card_level",
        "value",
        "category",
        "feature = \"card_level\"",
    );
    t
}

fn normal(r: &mut ChaCha8Rng) -> f64 {
    // Box–Muller.
    let u: f64 = r.random::<f64>().max(1e-300);
    let v: f64 = r.random();
    (-2.0 * u.ln()).sqrt() * (std::f64::consts::TAU * v).cos()
}

fn pick(r: &mut ChaCha8Rng, cum: &[f64]) -> usize {
    let u = r.random::<f64>() * cum[cum.len() - 1];
    cum.partition_point(|&c| c <= u).min(cum.len() - 1)
}

fn cumulative(w: &[f64]) -> Vec<f64> {
    w.iter()
        .scan(0.0, |s, &x| {
            *s += x;
            Some(*s)
        })
        .collect()
}

/// Feature columns of parties `start..start + n`, the same for a given seed whatever the batch
/// size, and their marketing consent.
fn gen_batch(seed: u64, start: usize, n: usize) -> (RecordBatch, Vec<bool>) {
    let mut r = ChaCha8Rng::seed_from_u64(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ start as u64);
    let province_cum = cumulative(
        &(0..PROVINCES.len())
            .map(|i| 1.0 / (i as f64 + 2.0))
            .collect::<Vec<_>>(),
    );
    let tier_big = cumulative(&[14.0, 16.0, 18.0, 14.0, 10.0, 6.0, 10.0, 6.0, 4.0, 2.0]);
    let tier_small = cumulative(&[1.0, 4.0, 12.0, 16.0, 16.0, 12.0, 18.0, 12.0, 8.0, 1.0]);
    let occ_cum = cumulative(
        &(0..OCCUPATIONS.len())
            .map(|i| 1.0 / (i as f64 + 3.0))
            .collect::<Vec<_>>(),
    );

    let mut text: Vec<(&str, Vec<&'static str>)> = [
        "gender",
        "province",
        "city_tier",
        "education",
        "occupation",
        "marital",
        "rfm_class",
        "retention_group",
        "churn_risk",
        "risk_level",
        "investment_preference",
        "segment",
        "acquisition_channel",
        "card_level",
    ]
    .into_iter()
    .map(|c| (c, Vec::with_capacity(n)))
    .collect();
    let num_names: Vec<String> = [
        "age",
        "tenure_months",
        "adb_year",
        "recency_days",
        "frequency",
        "monetary",
        "clv",
        "visits_90d",
        "cc_spend_90d",
    ]
    .iter()
    .map(|s| s.to_string())
    .chain(HOLDS.iter().map(|h| format!("n_{h}")))
    .chain(CHANNELS.iter().map(|c| format!("ch_{c}")))
    .collect();
    let mut num: Vec<Vec<f64>> = vec![Vec::with_capacity(n); num_names.len()];
    let bool_names: Vec<String> = INTERESTS
        .iter()
        .map(|(i, _)| format!("int_{i}"))
        .chain(
            [
                "mobile_banking_user",
                "payroll_customer",
                "cross_border_txn",
            ]
            .iter()
            .map(|s| s.to_string()),
        )
        .collect();
    let mut bools: Vec<Vec<bool>> = vec![Vec::with_capacity(n); bool_names.len()];
    let mut consent = Vec::with_capacity(n);

    for _ in 0..n {
        let female = r.random::<f64>() < 0.51;
        let age = if r.random::<f64>() < 0.03 {
            r.random_range(8.0..18.0f64).floor()
        } else {
            (41.0 + 15.0 * normal(&mut r)).clamp(18.0, 92.0).floor()
        };
        let prov = pick(&mut r, &province_cum);
        let tier = pick(
            &mut r,
            if prov < 6 || prov == 22 || prov == 25 {
                &tier_big
            } else {
                &tier_small
            },
        );
        let edu = {
            let young = age < 40.0;
            let w: [f64; 7] = if young {
                [6.0, 14.0, 14.0, 20.0, 34.0, 10.0, 2.0]
            } else {
                [22.0, 26.0, 14.0, 16.0, 17.0, 4.0, 1.0]
            };
            pick(&mut r, &cumulative(&w))
        };
        let occ = if age < 18.0 || (age < 23.0 && r.random::<f64>() < 0.5) {
            14
        } else if age >= 60.0 && r.random::<f64>() < 0.7 {
            15
        } else {
            pick(&mut r, &occ_cum)
        };
        let marital = if age < 18.0 {
            "single"
        } else {
            let pm = ((age - 22.0) / 12.0).clamp(0.0, 0.85);
            let u = r.random::<f64>();
            if u < pm {
                "married"
            } else if u < pm + 0.05 * (age / 40.0).min(1.5) {
                "divorced"
            } else if age > 65.0 && u < pm + 0.25 {
                "widowed"
            } else {
                "single"
            }
        };
        let tenure = (r.random::<f64>() * ((age - 14.0).max(1.0) * 12.0).min(360.0)).floor();
        let mut ln_adb = 9.6 + 0.045 * (age - 18.0).clamp(0.0, 45.0) + 1.7 * normal(&mut r);
        if age < 18.0 {
            ln_adb -= 2.5;
        }
        if tier < 2 {
            ln_adb += 0.5;
        }
        if occ == 16 {
            ln_adb += 0.8;
        }
        let adb = ln_adb.exp().floor();
        let rich = ((ln_adb - 11.0) / 4.0).clamp(0.0, 1.0);

        let u = r.random::<f64>() - 0.08 * rich;
        let recency = if u < 0.56 {
            r.random_range(0.0..30.0f64)
        } else if u < 0.75 {
            r.random_range(30.0..90.0)
        } else if u < 0.87 {
            r.random_range(90.0..180.0)
        } else {
            r.random_range(180.0..730.0)
        }
        .floor();
        let frequency = if recency >= 90.0 {
            0.0
        } else {
            let base = if recency < 30.0 { 14.0 } else { 3.0 };
            (base * (-(r.random::<f64>().max(1e-12)).ln()))
                .ceil()
                .min(90.0)
        };
        let monetary = if frequency == 0.0 {
            0.0
        } else {
            (frequency * (4.0 + 0.35 * ln_adb.max(0.0) + 0.8 * normal(&mut r)).exp() / 20.0).floor()
        };
        let clv = ((ln_adb * 0.6 + frequency.ln_1p() * 0.8 + 0.9 * normal(&mut r)).exp()).floor();
        let rfm = {
            let rr = recency < 30.0;
            let ff = frequency >= 12.0;
            let mm = monetary >= 6000.0;
            match (rr, ff, mm) {
                (true, true, true) => "important_value",
                (true, false, true) => "important_develop",
                (false, true, true) => "important_keep",
                (false, false, true) => "important_retain",
                (true, true, false) => "general_value",
                (true, false, false) => "general_develop",
                (false, true, false) => "general_keep",
                (false, false, false) => "general_retain",
            }
        };
        let retention = if tenure < 6.0 {
            "new"
        } else if recency < 30.0 && frequency >= 15.0 {
            "loyal"
        } else if recency < 30.0 {
            "stable"
        } else if recency < 180.0 {
            "at_risk"
        } else {
            "lost"
        };
        let churn_risk = {
            let s = recency / 180.0 + 0.4 * normal(&mut r);
            if s > 0.9 {
                "high"
            } else if s > 0.4 {
                "medium"
            } else {
                "low"
            }
        };
        let risk = {
            let s = 2.8 - (age - 40.0) / 25.0 + 0.6 * rich + 0.9 * normal(&mut r);
            s.round().clamp(1.0, 5.0) as usize
        };
        let pref = (risk as f64 - 1.0 + 0.7 * normal(&mut r))
            .round()
            .clamp(0.0, 4.0) as usize;

        // Holdings.
        let mut holds = [0.0f64; 8];
        let p_hold = [
            0.93,
            0.08 + 0.5 * rich,
            0.06 + 0.3 * rich + if age < 45.0 { 0.06 } else { 0.0 },
            0.10 + 0.15 * rich,
            0.03 + 0.08 * rich,
            0.002 + 0.25 * rich * rich,
            if (25.0..60.0).contains(&age) {
                0.24
            } else {
                0.04
            },
            if age >= 18.0 { 0.30 + 0.3 * rich } else { 0.0 },
        ];
        for (h, p) in holds.iter_mut().zip(p_hold) {
            if r.random::<f64>() < p {
                *h = 1.0 + (r.random::<f64>() * 2.2).floor();
            }
        }
        let cc_spend = if holds[7] > 0.0 && recency < 90.0 && r.random::<f64>() < 0.8 {
            (monetary * r.random::<f64>()).floor() + 1.0
        } else {
            0.0
        };
        let card = if holds[7] > 0.0 {
            let s = rich * 4.0 + 0.8 * normal(&mut r);
            if occ == 16 && r.random::<f64>() < 0.5 {
                "business"
            } else {
                CARD_LEVELS[s.round().clamp(0.0, 4.0) as usize]
            }
        } else {
            ""
        };

        // Channel shares: exponential draws, mobile favoured by the young.
        let mobile_w = if age < 45.0 { 2.5 } else { 0.8 };
        let w = [
            mobile_w,
            1.0,
            if age >= 55.0 { 1.8 } else { 0.5 },
            0.7,
            0.9,
            if age < 40.0 { 1.2 } else { 0.4 },
        ];
        let mut ch = [0.0f64; 6];
        let mut total = 0.0;
        for (c, wi) in ch.iter_mut().zip(w) {
            *c = -wi * r.random::<f64>().max(1e-12).ln();
            total += *c;
        }
        for c in &mut ch {
            *c = if frequency > 0.0 { *c / total } else { 0.0 };
        }
        let mobile_user = r.random::<f64>() < if age < 50.0 { 0.82 } else { 0.45 };
        let payroll = (22.0..60.0).contains(&age) && r.random::<f64>() < 0.32;
        let cross_border = r.random::<f64>() < 0.03 + 0.25 * rich;
        let visits = if mobile_user {
            (frequency * 0.6 + 6.0 * (-(r.random::<f64>().max(1e-12)).ln())).floor()
        } else {
            0.0
        };

        // Interests, 10–30 % each, shifted by who the party is.
        for (k, (name, base)) in INTERESTS.iter().enumerate() {
            let mut p = *base;
            match *name {
                "red_wine" => {
                    p += 0.10 * rich
                        + if female { -0.03 } else { 0.03 }
                        + if age >= 30.0 { 0.03 } else { -0.05 }
                }
                "luxury" => p += 0.18 * rich + if female { 0.04 } else { 0.0 },
                "beauty" => p = if female { 0.26 } else { 0.03 },
                "parenting" => {
                    p = if (27.0..46.0).contains(&age) {
                        0.24
                    } else {
                        0.03
                    }
                }
                "sports" => p += if age < 40.0 { 0.08 } else { -0.08 },
                "automobile" => {
                    p += if !female && (25.0..55.0).contains(&age) {
                        0.10
                    } else {
                        -0.05
                    }
                }
                "travel" => p += 0.12 * rich,
                "health" => p += if age >= 50.0 { 0.12 } else { -0.04 },
                "education" => {
                    p += if (30.0..50.0).contains(&age) {
                        0.08
                    } else {
                        -0.05
                    }
                }
                _ => {}
            }
            bools[k].push(r.random::<f64>() < p.clamp(0.01, 0.9));
        }
        bools[13].push(mobile_user);
        bools[14].push(payroll);
        bools[15].push(cross_border);

        let segment = if recency >= 180.0 {
            7
        } else if ln_adb >= 15.0 {
            6
        } else if age >= 55.0 {
            if rich > 0.2 { 5 } else { 4 }
        } else if age >= 30.0 {
            if rich > 0.2 { 3 } else { 2 }
        } else if occ == 14 || age < 22.0 {
            0
        } else {
            1
        };
        let acq = if payroll && r.random::<f64>() < 0.4 {
            1
        } else if holds[6] > 0.0 && r.random::<f64>() < 0.3 {
            5
        } else if age < 35.0 && r.random::<f64>() < 0.4 {
            2
        } else {
            r.random_range(0..ACQUISITION.len())
        };

        let t = &mut text;
        t[0].1.push(if female { "F" } else { "M" });
        t[1].1.push(PROVINCES[prov]);
        t[2].1.push(CITY_TIERS[tier]);
        t[3].1.push(EDUCATION[edu]);
        t[4].1.push(OCCUPATIONS[occ]);
        t[5].1.push(marital);
        t[6].1.push(rfm);
        t[7].1.push(retention);
        t[8].1.push(churn_risk);
        t[9].1.push(["C1", "C2", "C3", "C4", "C5"][risk - 1]);
        t[10].1.push(PREFERENCES[pref]);
        t[11].1.push(SEGMENTS[segment]);
        t[12].1.push(ACQUISITION[acq]);
        t[13].1.push(card);

        let nums = [
            age, tenure, adb, recency, frequency, monetary, clv, visits, cc_spend,
        ];
        for (k, v) in nums.into_iter().chain(holds).chain(ch).enumerate() {
            num[k].push(v);
        }
        consent.push(r.random::<f64>() < 0.8);
    }

    let mut fields = Vec::new();
    let mut cols: Vec<ArrayRef> = Vec::new();
    for (name, v) in text {
        fields.push(Field::new(name, DataType::Utf8, true));
        cols.push(Arc::new(StringArray::from(v)));
    }
    for (name, v) in num_names.iter().zip(num) {
        fields.push(Field::new(name, DataType::Float64, true));
        cols.push(Arc::new(Float64Array::from(v)));
    }
    for (name, v) in bool_names.iter().zip(bools) {
        fields.push(Field::new(name, DataType::Boolean, true));
        cols.push(Arc::new(BooleanArray::from(v)));
    }
    let batch = RecordBatch::try_new(Arc::new(Schema::new(fields)), cols).expect("same lengths");
    (batch, consent)
}

fn batches(parties: usize) -> impl Iterator<Item = (usize, usize)> {
    (0..parties)
        .step_by(BATCH)
        .map(move |s| (s, BATCH.min(parties - s)))
}

/// `tag(party_id, tag, value)` from the bitmaps, as `portrait tags build` writes it, with the
/// dense index + 1 as a BIGINT party id.
fn write_long_form(index: &TagIndex, path: &Path) -> Result<u64, Error> {
    let schema = Arc::new(Schema::new(vec![
        Field::new("party_id", DataType::Int64, false),
        Field::new("tag", DataType::Utf8, false),
        Field::new("value", DataType::Utf8, false),
    ]));
    let props = WriterProperties::builder()
        .set_compression(Compression::SNAPPY)
        .build();
    let mut w = ArrowWriter::try_new(File::create(path)?, schema.clone(), Some(props))?;
    let mut rows = 0u64;
    let (mut p, mut t, mut v): (Vec<i64>, Vec<&str>, Vec<&str>) =
        (Vec::new(), Vec::new(), Vec::new());
    let mut flush = |p: &mut Vec<i64>, t: &mut Vec<&str>, v: &mut Vec<&str>| -> Result<(), Error> {
        if p.is_empty() {
            return Ok(());
        }
        let b = RecordBatch::try_new(
            schema.clone(),
            vec![
                Arc::new(Int64Array::from(std::mem::take(p))),
                Arc::new(StringArray::from(std::mem::take(t))),
                Arc::new(StringArray::from(std::mem::take(v))),
            ],
        )?;
        w.write(&b)?;
        Ok(())
    };
    for tag in index.tags() {
        for (value, bitmap) in &tag.values {
            for i in bitmap {
                p.push(i64::from(i) + 1);
                t.push(tag.info.name.as_str());
                v.push(value.as_str());
                rows += 1;
                if p.len() >= BATCH {
                    flush(&mut p, &mut t, &mut v)?;
                }
            }
        }
    }
    flush(&mut p, &mut t, &mut v)?;
    w.close()?;
    Ok(rows)
}

fn stats(mut ms: Vec<f64>) -> (f64, f64, f64) {
    let mean = ms.iter().sum::<f64>() / ms.len() as f64;
    ms.sort_by(f64::total_cmp);
    // Nearest rank.
    let q = |p: f64| ms[((p * ms.len() as f64).ceil() as usize).clamp(1, ms.len()) - 1];
    (q(0.50), q(0.99), mean)
}

fn main() -> Result<(), Error> {
    let a = args()?;
    std::fs::create_dir_all(&a.dir)?;
    let mut err = std::io::stderr().lock();
    let started = Instant::now();

    // Catalogue against the generated features' schema.
    let (probe, _) = gen_batch(a.seed, 0, 1);
    let schema = schema_of(&probe.schema());
    let toml = catalog_toml();
    std::fs::write(a.dir.join("catalog.toml"), &toml)?;
    let catalog = Catalog::parse("catalog.toml", &toml, &schema)?;

    // Quantile cuts need every value first (a first pass over the same batches).
    let quantiles: Vec<(String, String, usize, bool)> = catalog
        .tags
        .iter()
        .filter_map(|t| match &t.rule {
            TagRule::Quantile {
                feature,
                labels,
                skip_zero,
            } => Some((t.name.clone(), feature.clone(), labels.len(), *skip_zero)),
            _ => None,
        })
        .collect();
    let mut values: Vec<Vec<f64>> = vec![Vec::with_capacity(a.parties); quantiles.len()];
    for (start, n) in batches(a.parties) {
        let (b, _) = gen_batch(a.seed, start, n);
        for ((_, f, _, _), out) in quantiles.iter().zip(values.iter_mut()) {
            let c = b
                .column_by_name(f)
                .and_then(|c| c.as_any().downcast_ref::<Float64Array>())
                .ok_or("quantile feature is not numeric")?;
            out.extend(c.values().iter());
        }
    }
    let cuts: HashMap<String, Vec<f64>> = quantiles
        .iter()
        .zip(values)
        .map(|((t, _, g, z), v)| (t.clone(), quantile_cuts(v, *g, *z)))
        .collect();
    let gen_s = started.elapsed().as_secs_f64();

    let build_start = Instant::now();
    let mut builder = IndexBuilder::new(&catalog, cuts);
    for (start, n) in batches(a.parties) {
        let (b, consent) = gen_batch(a.seed, start, n);
        builder.add(&b, &consent)?;
    }
    let built = builder.finish(schema.clone());
    let build_s = build_start.elapsed().as_secs_f64();

    // Stored form and back: the index as the server opens it.
    let (ib, cb) = built.to_batches()?;
    let index_bytes: usize = ib.get_array_memory_size();
    let index = TagIndex::from_batches(&[ib], &[cb], schema)?;
    drop(built);
    let values_n: usize = index.tags().iter().map(|t| t.values.len()).sum();
    writeln!(
        err,
        "{} parties, {} tags, {} values; generated + quantiles {:.1} s, index built {:.1} s, stored index {:.0} MB",
        index.parties(),
        index.tags().len(),
        values_n,
        gen_s,
        build_s,
        index_bytes as f64 / 1e6
    )?;

    let write_start = Instant::now();
    let rows = if a.skip_parquet {
        0
    } else {
        write_long_form(&index, &a.dir.join("tag.parquet"))?
    };
    writeln!(
        err,
        "tag.parquet: {rows} rows in {:.1} s",
        write_start.elapsed().as_secs_f64()
    )?;
    let expr = Expr::parse(EXPR).map_err(|e| e.render(EXPR))?;
    let sql = expr.to_sql(&|n| index.tag(n).is_some());
    std::fs::write(
        a.dir.join("query.json"),
        serde_json::to_string_pretty(&json!({
            "expr": EXPR, "by": BY, "parties": index.parties(), "rows": rows,
            "tags": index.tags().len(), "values": values_n, "sql_where": sql,
        }))?,
    )?;

    let no_columns = NumericColumns::new();
    let select = |text: &str| -> Result<portrait_tags::RoaringBitmap, Error> {
        let e = Expr::parse(text).map_err(|e| e.render(text))?;
        let needed = index.check(&e).map_err(|e| e.render(text))?;
        assert!(needed.is_empty(), "the expression names only tags");
        Ok(index
            .evaluate(&e, &no_columns)
            .map_err(|e| e.render(text))?)
    };

    let mut out = std::io::stdout().lock();
    // (a) count: parse + check + evaluate + count.
    let mut count = 0;
    let mut times = Vec::with_capacity(a.reps);
    for i in 0..a.warmup + a.reps {
        let t = Instant::now();
        count = std::hint::black_box(select(EXPR)?.len());
        let ms = t.elapsed().as_secs_f64() * 1e3;
        if i >= a.warmup {
            times.push(ms);
        }
    }
    let (p50, p99, mean) = stats(times);
    writeln!(
        out,
        "{}",
        json!({"tool": "portrait", "query": "count", "reps": a.reps, "threads": 1,
               "p50_ms": p50, "p99_ms": p99, "mean_ms": mean, "count": count})
    )?;

    // (b) breakdown: parse + check + evaluate + breakdown by the 10-valued tag.
    let mut rows_b = Vec::new();
    let mut times = Vec::with_capacity(a.reps);
    let mut split = Vec::with_capacity(a.reps);
    for i in 0..a.warmup + a.reps {
        let t = Instant::now();
        let set = select(EXPR)?;
        let selected = t.elapsed().as_secs_f64() * 1e3;
        rows_b = std::hint::black_box(index.breakdown(&set, BY)?);
        let ms = t.elapsed().as_secs_f64() * 1e3;
        if i >= a.warmup {
            times.push(ms);
            split.push(ms - selected);
        }
    }
    let (p50, p99, mean) = stats(times);
    let (split_p50, _, _) = stats(split);
    let breakdown: serde_json::Map<String, serde_json::Value> = rows_b
        .iter()
        .map(|r| {
            (
                r.value.clone().unwrap_or_else(|| "(none)".into()),
                json!(r.count),
            )
        })
        .collect();
    writeln!(
        out,
        "{}",
        json!({"tool": "portrait", "query": "breakdown", "reps": a.reps, "threads": 1,
               "p50_ms": p50, "p99_ms": p99, "mean_ms": mean,
               "breakdown_alone_p50_ms": split_p50, "breakdown": breakdown})
    )?;
    Ok(())
}
