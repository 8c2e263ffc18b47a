//! One resolved set of settings, built before any work starts: config file < `PORTRAIT_*`
//! environment < command-line flags.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};

use crate::args::{EncodingArg, IngestArgs};

pub use portrait_engine::config::ConfigFile;

/// Every option: key, default, meaning. `portrait config list` prints this; keep it in step with
/// the structs of `portrait_engine::config`.
pub const OPTIONS: &[(&str, &str, &str)] = &[
    (
        "engine.memory_limit",
        "3/4 of the machine",
        "memory a process may use (8G, 512M, none); a stage going over it stops with an error naming it; env PORTRAIT_MEMORY_LIMIT, flag --memory-limit",
    ),
    (
        "engine.query_memory",
        "no pool",
        "memory DataFusion's sorts, joins and aggregates share before they spill to <store>/.spill (less than memory_limit)",
    ),
    (
        "segment.default_model",
        "value",
        "the segmentation model `portrait run` fits; [segment.models.NAME] defines models (docs/segments.md)",
    ),
    (
        "segment.models.NAME.method",
        "kmeans",
        "kmeans, minibatch, hierarchical, gmm or kprototypes",
    ),
    (
        "segment.models.NAME.k",
        "auto",
        "number of segments, or auto: the best of k_min..=k_max (3..=8) by criterion (silhouette, calinski_harabasz, elbow; BIC for gmm)",
    ),
    (
        "segment.models.NAME.features",
        "recency_days, frequency, monetary, adb_year, product_types, tenure_months, clv, churn_probability",
        "numeric inputs; `categorical` adds text inputs (one-hot, or as categories for kprototypes); `log` lists inputs taken as sign·ln(1+|x|)",
    ),
    (
        "segment.models.NAME.fill / cap / scaling / vif_threshold",
        "median / [0.01, 0.99] / zscore / 10",
        "missing values (mean, median, mode, a number), percentile capping, scaling (zscore, minmax), collinear inputs dropped above this VIF (0: keep all)",
    ),
    (
        "segment.models.NAME.n_init / max_iter / max_seconds / seed / sample",
        "10 / 300 / 120 / 42 / 5000",
        "restarts, iterations, the time budget of the fit in seconds (the best fit so far is kept, and said so), seed, and the rows hierarchical clustering and the silhouette run on",
    ),
    (
        "segment.models.NAME.linkage / distance / covariance",
        "ward / euclidean / full",
        "hierarchical linkage (single, complete, average, centroid, ward), distance (euclidean, manhattan, chebyshev, minkowski:P), GMM covariance (full, diagonal)",
    ),
    (
        "rules.min_support / min_confidence / max_len",
        "0.02 / 0.3 / 4",
        "FP-Growth over product holdings and purchase categories",
    ),
    (
        "rules.categories / category_days",
        "true / 365",
        "whether purchase categories (`cat:<category>`) join the baskets, and over how many days",
    ),
    ("rules.top", "3", "recommendations per party"),
    (
        "rules.max_risk_conservative / growth / aggressive",
        "2 / 3 / 5",
        "highest product risk level (R1–R5) recommended to each investment preference",
    ),
    (
        "tags.catalog",
        "built in",
        "tag catalogue file (TOML) used by `tags build`; `portrait tags catalog` prints the built-in one to start from",
    ),
    (
        "ingest.encoding",
        "auto",
        "encoding of CSV input: auto (UTF-8 unless the bytes say GBK), utf8, gbk; env PORTRAIT_ENCODING, flag --encoding",
    ),
    (
        "ingest.max_errors",
        "1%",
        "largest share of rows with errors a file may have before the run fails; env PORTRAIT_MAX_ERRORS, flag --max-errors",
    ),
    ("ingest.threads", "all cores", "parser threads per file"),
    (
        "resolve.threshold",
        "0.9",
        "match probability at or above which a compared pair of customer numbers is merged",
    ),
    (
        "resolve.fields",
        "name, birth_date, mobile, id_no, address, postcode, email, gender",
        "fields compared in the Fellegi–Sunter model",
    ),
    (
        "resolve.blocking",
        "surname+birth_date, given_name+birth_date, name_pinyin+birth_year, mobile, id_no, address, email, postcode+birth_date",
        "[[resolve.blocking]] rules (name, keys): only records agreeing on all keys of a rule are compared",
    ),
    (
        "resolve.rules",
        "none",
        "[[resolve.rules]] extra deterministic rules (name, fields) after same valid ID and same valid USCC",
    ),
    (
        "resolve.max_block_size",
        "1000",
        "blocks larger than this are skipped and reported",
    ),
    (
        "resolve.max_party_size",
        "20",
        "merges beyond this party size are refused and reported",
    ),
    (
        "resolve.placeholders",
        "[]",
        "extra values that never link (built in: 13800000000, 000000, blank names, …)",
    ),
    (
        "resolve.u_source",
        "random",
        "u probabilities: random (measured on random pairs, m trained per blocking rule) or em (fitted jointly with m)",
    ),
    (
        "resolve.random_pairs",
        "1000000",
        "random pairs sampled to measure u",
    ),
    ("resolve.em_max_iterations", "100", "EM iterations at most"),
    (
        "resolve.cutoffs.name_jw_high",
        "0.92",
        "Jaro–Winkler similarity of a strong name agreement",
    ),
    ("resolve.cutoffs.name_jw_low", "0.8", "… of a weak one"),
    (
        "resolve.cutoffs.address_high",
        "0.7",
        "address token overlap of a strong agreement",
    ),
    ("resolve.cutoffs.address_low", "0.4", "… of a weak one"),
    (
        "links.max_address_parties",
        "8",
        "an address shared by more parties makes no household links",
    ),
    (
        "links.max_contact_parties",
        "5",
        "a mobile or e-mail shared by more parties makes no links",
    ),
    (
        "links.transfer_min_count",
        "3",
        "transfers between two parties within the window that make a link",
    ),
    (
        "links.transfer_min_amount",
        "1000",
        "… and their total amount",
    ),
    (
        "links.transfer_window_days",
        "365",
        "days before the latest transaction that count",
    ),
    (
        "links.max_household",
        "12",
        "largest household; larger unions are refused and counted",
    ),
    ("links.max_corp_group", "500", "largest corporate group"),
    (
        "links.max_guarantee_chain",
        "200",
        "largest guarantee chain",
    ),
    (
        "survivorship.source_priority",
        "[]",
        "open_channel values in order of trust, for a party's primary record",
    ),
    (
        "features.*",
        "see `portrait features --explain`",
        "recency classes, RFM window and scores, interest categories, channels, asset tiers, private banking, risk, lending prospects",
    ),
    (
        "score.clv.years",
        "3",
        "years of profit in the discounted-profit CLV",
    ),
    (
        "score.clv.discount_rate",
        "0.08",
        "yearly discount rate of that CLV",
    ),
    (
        "score.bgnbd.unit_days",
        "7",
        "time unit of BG/NBD and Gamma-Gamma, in days (7: weeks)",
    ),
    (
        "score.bgnbd.horizon_days",
        "90",
        "horizon of expected_purchases",
    ),
    (
        "score.bgnbd.clv_months",
        "12",
        "horizon of clv_bgnbd in months",
    ),
    (
        "score.bgnbd.monthly_discount_rate",
        "0.01",
        "monthly discount rate of clv_bgnbd",
    ),
    (
        "score.bgnbd.margin",
        "1.0",
        "share of spend that is profit in clv_bgnbd",
    ),
    (
        "score.bgnbd.penalizer",
        "0",
        "L2 penalty of the BG/NBD and Gamma-Gamma fits",
    ),
    (
        "score.bgnbd.boundary_penalizer",
        "0.001",
        "penalty of the refit when the unpenalised BG/NBD fit does not converge or runs a parameter towards 0 or infinity (0: no refit)",
    ),
    (
        "score.bgnbd.max_iterations / max_seconds",
        "1000 / 10",
        "iteration and wall-clock budget of each fit; past them the best estimate so far is used and the run says so",
    ),
    (
        "score.churn.window_days",
        "90",
        "churn horizon: the days after a date in which a churn counts",
    ),
    (
        "score.churn.label",
        "auto",
        "what churn is: activity (a silence of inactive_days begins in the window), assets (balances down by assets_drop), closed (every product closed), or several joined by + such as activity+assets; auto is activity",
    ),
    (
        "score.churn.inactive_days",
        "90",
        "days without activity that make a party churned; a party silent that long at the as-of date is reported as churned, not scored",
    ),
    (
        "score.churn.assets_drop",
        "0.3",
        "share of the balances that must go for the assets condition",
    ),
    (
        "score.churn.model",
        "gbt",
        "model that scores the parties: gbt or logistic (both are trained and reported)",
    ),
    (
        "score.churn.calibration",
        "auto",
        "scores to probabilities: auto (Platt or isotonic, whichever has the lower held-out log loss on the validation date), platt, isotonic or none",
    ),
    (
        "score.churn.population",
        "[]",
        "recency classes the churn model may learn from (empty: every party that can still churn)",
    ),
    ("score.churn.seed", "42", "seed of the tree model"),
    (
        "score.churn.max_seconds",
        "60",
        "time budget of each churn model's fit in seconds (the last estimate is kept, and said so)",
    ),
    (
        "score.retention.value",
        "clv",
        "value behind the retention groups: clv or clv_bgnbd",
    ),
    (
        "score.retention.high_value_share",
        "0.2",
        "top share of parties with value that is high-value",
    ),
    (
        "score.retention.churn_prone_from",
        "0.3",
        "churn probability from which a party is churn-prone",
    ),
    (
        "mapping.<table>.\"<header>\"",
        "—",
        "maps a source header to a canonical column, e.g. [mapping.customer] \"客户姓名XX\" = \"name\"",
    ),
];

pub fn load_config(explicit: Option<&Path>) -> Result<ConfigFile> {
    let path: PathBuf = match explicit {
        Some(p) => p.to_path_buf(),
        None if Path::new("portrait.toml").exists() => PathBuf::from("portrait.toml"),
        None => return Ok(ConfigFile::default()),
    };
    let text = std::fs::read_to_string(&path)
        .with_context(|| format!("cannot read config `{}`", path.display()))?;
    ConfigFile::parse(&path.display().to_string(), &text).map_err(|e| anyhow::anyhow!(e))
}

/// Parses `1%`, `0.5 %` or `0.01` into a fraction in [0, 1].
pub fn parse_budget(s: &str) -> Result<f64> {
    let t = s.trim();
    let v = if let Some(p) = t.strip_suffix('%') {
        p.trim().parse::<f64>().map(|v| v / 100.0)
    } else {
        t.parse::<f64>()
    };
    match v {
        Ok(v) if (0.0..=1.0).contains(&v) => Ok(v),
        _ => bail!(
            "max errors must be a share between 0% and 100% (like `1%` or `0.01`), found `{s}`"
        ),
    }
}

fn parse_encoding(s: &str) -> Result<portrait_ingest::Encoding> {
    Ok(match s.to_ascii_lowercase().as_str() {
        "auto" => portrait_ingest::Encoding::Auto,
        "utf8" | "utf-8" => portrait_ingest::Encoding::Utf8,
        "gbk" | "gb18030" | "gb2312" => portrait_ingest::Encoding::Gbk,
        _ => bail!("unknown encoding `{s}`; expected auto, utf8 or gbk"),
    })
}

/// Resolved ingest options.
pub fn ingest_options(cfg: &ConfigFile, args: &IngestArgs) -> Result<portrait_ingest::Options> {
    let mut o = portrait_ingest::Options::default();
    if let Some(e) = &cfg.ingest.encoding {
        o.encoding = parse_encoding(e).context("config `ingest.encoding`")?;
    }
    if let Some(b) = &cfg.ingest.max_errors {
        o.budget = parse_budget(b).context("config `ingest.max_errors`")?;
    }
    if let Some(t) = cfg.ingest.threads.filter(|t| *t > 0) {
        o.threads = t;
    }
    if let Ok(e) = std::env::var("PORTRAIT_ENCODING") {
        o.encoding = parse_encoding(&e).context("PORTRAIT_ENCODING")?;
    }
    if let Ok(b) = std::env::var("PORTRAIT_MAX_ERRORS") {
        o.budget = parse_budget(&b).context("PORTRAIT_MAX_ERRORS")?;
    }
    if let Some(e) = args.encoding {
        o.encoding = match e {
            EncodingArg::Auto => portrait_ingest::Encoding::Auto,
            EncodingArg::Utf8 => portrait_ingest::Encoding::Utf8,
            EncodingArg::Gbk | EncodingArg::Gb18030 => portrait_ingest::Encoding::Gbk,
        };
    }
    if let Some(b) = &args.max_errors {
        o.budget = parse_budget(b)?;
    }
    o.sheet = args.sheet.clone();
    o.allow_shrink = args.replace;
    o.overrides = cfg.mapping.clone();
    Ok(o)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn budgets() {
        assert_eq!(parse_budget("1%").unwrap(), 0.01);
        assert_eq!(parse_budget("0.05").unwrap(), 0.05);
        assert!(parse_budget("150%").is_err());
        assert!(parse_budget("lots").is_err());
    }
}

/// The memory budget: `--memory-limit` (or `PORTRAIT_MEMORY_LIMIT`) over `[engine]
/// memory_limit` over the machine's default; `none` lifts the limit.
pub fn memory_budget(
    flag: Option<&str>,
    config: &ConfigFile,
) -> Result<Option<portrait_engine::memory::Budget>> {
    use portrait_engine::memory::{Budget, parse_bytes};
    let (text, source) = match (flag, config.engine.memory_limit.as_deref()) {
        (Some(f), _) => (f, "--memory-limit (or PORTRAIT_MEMORY_LIMIT)"),
        (None, Some(c)) => (c, "[engine] memory_limit"),
        (None, None) => ("", "the default (3/4 of this machine's memory)"),
    };
    let query_memory = match config.engine.query_memory.as_deref() {
        Some(q) => Some(parse_bytes(q).map_err(|e| anyhow::anyhow!("[engine] query_memory: {e}"))?),
        None => None,
    };
    let unbounded = matches!(
        text.trim().to_ascii_lowercase().as_str(),
        "none" | "off" | "unlimited"
    );
    let limit = if text.is_empty() {
        match Budget::default_for_machine() {
            Some(b) => b.limit,
            None => return Ok(None),
        }
    } else if unbounded {
        // No limit on the process; a pool only when one is asked for.
        return Ok(query_memory.map(|q| Budget {
            limit: u64::MAX,
            source,
            query_memory: Some(q),
        }));
    } else {
        parse_bytes(text).map_err(|e| anyhow::anyhow!("{source}: {e}"))?
    };
    if limit < 64 << 20 {
        bail!(
            "{source}: `{text}` is less than 64M, too little for portrait to start its work\nhint: give e.g. 512M or 8G"
        );
    }
    if let Some(q) = query_memory.filter(|q| *q >= limit) {
        bail!(
            "[engine] query_memory ({q} bytes) must be less than the memory limit ({limit} bytes, from {source})\nhint: leave it out for no pool, or give less than the limit"
        );
    }
    Ok(Some(Budget {
        limit,
        source,
        query_memory,
    }))
}
