//! The feature query: one SQL statement over the input tables, portable between DataFusion and
//! other SQL engines that read the same Parquet files (it uses only standard SQL plus `date -
//! date` giving days), so the benchmark can run it unchanged elsewhere.
//!
//! Every window is computed in Rust from the as-of date and written into the statement as a
//! literal, so the statement is the whole definition.

use chrono::{Datelike, Duration, NaiveDate};

use super::config::FeatureConfig;

/// Which party owns a row of an input table: the one answer every stage uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Parties {
    /// No identity resolution yet: every customer number of `customer` is its own party.
    PerCustomer,
    /// `party_member(cust_no, party_id)` and `party(party_id, …)` exist.
    Resolved,
}

impl Parties {
    /// The mapping the store supports.
    pub fn of(store: &portrait_store::Store) -> Parties {
        if store.table("party_member").is_some() && store.table("party").is_some() {
            Parties::Resolved
        } else {
            Parties::PerCustomer
        }
    }

    /// `(party, from)`: the SQL expression of a row's party, and the FROM item that reads
    /// `table` as `alias` with what that expression needs joined in.
    pub fn owner(self, table: &str, alias: &str) -> (String, String) {
        match self {
            Parties::PerCustomer => (format!("{alias}.cust_no"), format!("\"{table}\" {alias}")),
            Parties::Resolved => (
                "pm.party_id".to_string(),
                // The mapping first: joins are kept as written, and the left side is the one
                // a hash join holds (the transactions there held 50M rows at 1M customers).
                format!("party_member pm JOIN \"{table}\" {alias} ON pm.cust_no = {alias}.cust_no"),
            ),
        }
    }

    /// A query of `(cust_no, party_id)`, one row per customer number.
    pub fn mapping_sql(self) -> &'static str {
        match self {
            Parties::PerCustomer => "SELECT cust_no, cust_no AS party_id FROM customer",
            Parties::Resolved => "SELECT cust_no, party_id FROM party_member",
        }
    }
}

/// Literal date and timestamp bounds for one as-of date. All windows end at the end of the
/// as-of day and are `days` long, so "the last 90 days" at 2026-12-01 is 2026-09-03 – 2026-12-01.
struct Bounds {
    as_of: NaiveDate,
}

impl Bounds {
    /// `DATE 'YYYY-MM-DD'`.
    fn date(d: NaiveDate) -> String {
        format!("DATE '{}'", d.format("%Y-%m-%d"))
    }
    fn ts(d: NaiveDate) -> String {
        format!("TIMESTAMP '{} 00:00:00'", d.format("%Y-%m-%d"))
    }
    /// The day after the as-of date: every window's exclusive end.
    fn end(&self) -> NaiveDate {
        self.as_of + Duration::days(1)
    }
    /// First day of the window of the last `days` days.
    fn start(&self, days: i64) -> NaiveDate {
        self.end() - Duration::days(days)
    }
    /// First day of the calendar month `k` months before the as-of month.
    fn month_start(&self, k: i32) -> NaiveDate {
        let m0 = self.as_of.year() * 12 + self.as_of.month0() as i32 - k;
        NaiveDate::from_ymd_opt(m0.div_euclid(12), m0.rem_euclid(12) as u32 + 1, 1)
            .expect("valid month")
    }
}

/// SQL string literal.
fn lit(s: &str) -> String {
    format!("'{}'", s.replace('\'', "''"))
}

fn list(v: &[String]) -> String {
    if v.is_empty() {
        return "NULL".into();
    }
    v.iter().map(|s| lit(s)).collect::<Vec<_>>().join(", ")
}

fn contains_any(col: &str, words: &[String]) -> String {
    if words.is_empty() {
        return "FALSE".into();
    }
    let terms: Vec<String> = words
        .iter()
        .map(|w| format!("{col} LIKE {}", lit(&format!("%{w}%"))))
        .collect();
    format!("({})", terms.join(" OR "))
}

/// Days of the windows used for average daily balances.
pub const ADB_WINDOWS: [(&str, i64); 3] = [("month", 30), ("quarter", 91), ("year", 365)];
/// A balance snapshot stands for at most this many days when no later snapshot follows.
pub const SNAPSHOT_VALID_DAYS: i64 = 31;
/// Product types counted per party (`n_<type>` columns): the model's product type codes.
pub fn holding_types() -> impl Iterator<Item = &'static str> {
    portrait_types::model::PRODUCT_TYPE.iter().map(|c| c.code)
}
/// Product types whose risk level describes an investment preference.
pub const INVESTMENT_TYPES: &[&str] = &["wealth", "fund", "gold", "trust", "insurance"];
/// Event pages that count as views of an interest category: `/life/<category>`.
pub const INTEREST_PAGE_PREFIX: &str = "/life/";

/// Columns of the `features` view that the score stage writes (table `score`); a row not yet
/// scored has them empty.
pub const SCORE_COLUMNS: &[(&str, &str)] = &[
    ("clv", "DOUBLE"),
    ("p_alive", "DOUBLE"),
    ("expected_purchases", "DOUBLE"),
    ("expected_value", "DOUBLE"),
    ("clv_bgnbd", "DOUBLE"),
    ("churn_probability", "DOUBLE"),
    ("retention_group", "VARCHAR"),
];

/// The two statements of one as-of date: `base` computes every party's features from the input
/// tables; `scored`, over `base`'s rows stored as the table named `base_table`, adds the RFM
/// quintiles, the classes and the bank groups. Ranking in a second statement keeps its sorts
/// narrow: the engines do not share a CTE between two uses, so one statement would sort the
/// full rows three times over.
#[derive(Debug, Clone)]
pub struct FeatureSql {
    /// The per-party aggregate of each input table, `(table, statement)`: materialised one by
    /// one before `base`, so no plan holds every aggregate's hash table at once (nor, on a
    /// cluster, one task).
    pub parts: Vec<(String, String)>,
    /// The parts and the party attributes joined into one row per party; read as `base_table`.
    pub base: String,
    /// The same rows as `parts` + `base` in one statement (the parts as CTEs): what an
    /// embedded session runs, faster there when everything fits in memory.
    pub inline: String,
    pub scored: String,
}

impl FeatureSql {
    /// Every statement as one script: `inline` materialised as `base_table`, then `scored`.
    pub fn script(&self, base_table: &str) -> String {
        format!(
            "CREATE TABLE {base_table} AS\n{};\n\n{};\n",
            self.inline, self.scored
        )
    }
}

/// Splits `name AS (body)` into the part table `{base_table}_{name}` and its statement, and
/// returns the CTE that reads the table back under `name`.
fn materialise(cte: &str, base_table: &str, parts: &mut Vec<(String, String)>) -> String {
    let (name, rest) = cte
        .split_once(" AS (")
        .expect("a feature CTE is `name AS (body)`");
    let body = rest.strip_suffix(')').expect("a feature CTE ends with `)`");
    let table = format!("{base_table}_{name}");
    parts.push((table.clone(), body.to_string()));
    format!("{name} AS (SELECT * FROM {table})")
}

/// The feature statements for one as-of date; `scored` reads `base_table`.
///
/// `snapshot_dates` are the distinct `asset_snapshot` dates of the store (any order and range;
/// those that matter are picked here).
pub fn feature_sql(
    cfg: &FeatureConfig,
    as_of: NaiveDate,
    parties: Parties,
    base_table: &str,
    snapshot_dates: &[NaiveDate],
) -> FeatureSql {
    let b = Bounds { as_of };
    let end_ts = Bounds::ts(b.end());
    let end_d = Bounds::date(b.end());
    let as_of_d = Bounds::date(as_of);
    let year_ts = Bounds::ts(b.start(365));
    let q_ts = Bounds::ts(b.start(91));
    let rfm_ts = Bounds::ts(b.start(cfg.rfm.window_days));
    let year_d = Bounds::date(b.start(365));

    // `{from}` is the fact table aliased `x`; `{p}` the party of its row.
    let p = &parties.owner("transaction", "x").0;
    let from = |t: &str| parties.owner(t, "x").1;

    let activity = {
        let mut c = format!(
            "(x.direction IS NULL OR x.direction IN ({}))",
            list(&cfg.rfm.directions)
        );
        if !cfg.rfm.exclude_categories.is_empty() {
            c += &format!(
                " AND (x.category IS NULL OR x.category NOT IN ({}))",
                list(&cfg.rfm.exclude_categories)
            );
        }
        c
    };
    // Money is summed as decimals, exactly, and cast after: a float sum's last digit depends
    // on the order partitions arrive in, which differs from run to run and on a cluster.
    let amount = "x.amount";
    let in_year = format!("x.ts >= {year_ts}");
    let debit = "x.direction = 'debit'";

    // --- transactions: one pass, conditional aggregates.
    let mut t = vec![
        format!("{p} AS party_id"),
        format!("MIN(x.ts) AS first_txn_ts"),
        format!("MAX(CASE WHEN {activity} THEN x.ts END) AS last_txn_ts"),
        format!("COUNT(CASE WHEN {activity} AND x.ts >= {rfm_ts} THEN 1 END) AS frequency"),
        format!(
            "CAST(COALESCE(SUM(CASE WHEN {activity} AND x.ts >= {rfm_ts} THEN {amount} END), 0) AS DOUBLE) AS monetary"
        ),
        format!("COUNT(CASE WHEN {in_year} THEN 1 END) AS txn_count_year"),
    ];
    for c in &cfg.channels {
        t.push(format!(
            "COUNT(CASE WHEN {in_year} AND x.channel = {} THEN 1 END) AS ch_{c}_n",
            lit(c)
        ));
    }
    for c in &cfg.interest_categories {
        t.push(format!(
            "CAST(COALESCE(SUM(CASE WHEN {in_year} AND {debit} AND x.category = {l} THEN {amount} END), 0) AS DOUBLE) AS spend_{c}",
            l = lit(c)
        ));
        t.push(format!(
            "COUNT(CASE WHEN {in_year} AND {debit} AND x.category = {l} THEN 1 END) AS freq_{c}",
            l = lit(c)
        ));
    }
    for k in 0..6 {
        let (lo, hi) = (b.month_start(k), b.month_start(k - 1));
        t.push(format!(
            "MAX(CASE WHEN x.direction = 'credit' AND x.category IN ({}) AND x.ts >= {} AND x.ts < {} THEN 1 ELSE 0 END) AS salary_m{k}",
            list(&cfg.salary_categories),
            Bounds::ts(lo),
            Bounds::ts(hi.min(b.end()))
        ));
    }
    let txn_cte = format!(
        "t AS (SELECT {} FROM {} WHERE x.ts < {end_ts} GROUP BY {p})",
        t.join(",\n    "),
        from("transaction")
    );

    // --- balances: a step function per party over the store's snapshot calendar. A balance
    // holds from its snapshot date until the next snapshot date of the table, at most
    // SNAPSHOT_VALID_DAYS; a party without a row on a snapshot date had nothing then. Each
    // date's days inside each window are worked out here and written into the statement, so
    // the aggregate is a plain weighted sum, linear in the balances of all product types.
    let end = b.end();
    let recent: Vec<NaiveDate> = snapshot_dates
        .iter()
        .copied()
        .filter(|d| *d <= as_of && (end - *d).num_days() <= 365 + SNAPSHOT_VALID_DAYS)
        .collect();
    let span = |i: usize| {
        let pos = (end - recent[i]).num_days();
        let next = recent.get(i + 1).map_or(0, |n| (end - *n).num_days());
        (pos, next.max(pos - SNAPSHOT_VALID_DAYS))
    };
    let weight = |days: i64| {
        let arms: Vec<String> = (0..recent.len())
            .filter_map(|i| {
                let (pos, next) = span(i);
                let w = (pos.min(days) - next).max(0);
                (w > 0).then(|| format!("WHEN {} THEN {w}", Bounds::date(recent[i])))
            })
            .collect();
        if arms.is_empty() {
            "0".to_string()
        } else {
            format!("CASE x.snapshot_date {} ELSE 0 END", arms.join(" "))
        }
    };
    let mut a = vec![format!("{p} AS party_id")];
    for (name, days) in ADB_WINDOWS {
        a.push(format!(
            "CAST(SUM(x.balance * {}) AS DOUBLE) / LEAST({days}.0, MAX({end_d} - x.snapshot_date)) AS adb_{name}",
            weight(days)
        ));
    }
    let now = match recent.len().checked_sub(1) {
        Some(last) if span(last).1 == 0 => format!(
            "CAST(SUM(CASE WHEN x.snapshot_date = {} THEN x.balance END) AS DOUBLE)",
            Bounds::date(recent[last])
        ),
        _ => "CAST(NULL AS DOUBLE)".to_string(),
    };
    a.push(format!("{now} AS assets_now"));
    let assets_cte = format!(
        "a AS (SELECT {} FROM {} WHERE x.snapshot_date <= {as_of_d} AND x.snapshot_date >= {} GROUP BY {p})",
        a.join(",\n    "),
        from("asset_snapshot"),
        Bounds::date(end - Duration::days(365 + SNAPSHOT_VALID_DAYS))
    );

    // --- holdings, with the product's risk level.
    let open = format!(
        "(x.open_date IS NULL OR x.open_date <= {as_of_d}) AND (x.close_date IS NULL OR x.close_date > {as_of_d})"
    );
    let risk_num = "CASE pr.risk_level WHEN 'R1' THEN 1 WHEN 'R2' THEN 2 WHEN 'R3' THEN 3 WHEN 'R4' THEN 4 WHEN 'R5' THEN 5 END";
    let invest = format!(
        "{open} AND x.product_type IN ({})",
        list(
            &INVESTMENT_TYPES
                .iter()
                .map(|s| s.to_string())
                .collect::<Vec<_>>()
        )
    );
    let mut h = vec![format!("{p} AS party_id")];
    for ty in holding_types() {
        h.push(format!(
            "COUNT(CASE WHEN {open} AND x.product_type = '{ty}' THEN 1 END) AS n_{ty}"
        ));
    }
    h.push(format!("COUNT(CASE WHEN {open} THEN 1 END) AS n_holdings"));
    h.push("CAST(COALESCE(SUM(x.revenue), 0) AS DOUBLE) AS revenue".into());
    h.push("CAST(COALESCE(SUM(x.cost), 0) AS DOUBLE) AS cost".into());
    h.push(format!(
        "MAX(CASE WHEN {open} THEN x.days_overdue END) AS max_days_overdue"
    ));
    h.push(format!(
        "SUM(CASE WHEN {invest} AND {risk_num} IS NOT NULL THEN CAST(x.amount AS DOUBLE) * {risk_num} END) \
         / NULLIF(SUM(CASE WHEN {invest} AND {risk_num} IS NOT NULL THEN CAST(x.amount AS DOUBLE) END), 0) AS invest_risk"
    ));
    let holding_cte = format!(
        "h AS (SELECT {} FROM {} LEFT JOIN product pr ON pr.product_id = x.product_id GROUP BY {p})",
        h.join(",\n    "),
        from("holding")
    );

    // --- digital behaviour.
    let mut e = vec![
        format!("{p} AS party_id"),
        format!("COUNT(CASE WHEN x.ts >= {q_ts} THEN 1 END) AS events_90d"),
        format!("COUNT(CASE WHEN {in_year} THEN 1 END) AS events_year"),
        format!(
            "COUNT(CASE WHEN {in_year} AND x.platform = 'mobile' THEN 1 END) AS events_mobile_year"
        ),
        format!(
            "COUNT(CASE WHEN {in_year} AND x.event_type = 'view' AND x.product_id IS NOT NULL THEN 1 END) AS product_views_year"
        ),
        format!("COUNT(CASE WHEN {in_year} AND x.event_type = 'buy' THEN 1 END) AS buys_year"),
    ];
    for c in &cfg.interest_categories {
        let page = format!("{INTEREST_PAGE_PREFIX}{c}");
        e.push(format!(
            "COUNT(CASE WHEN {in_year} AND (x.page = {} OR x.page LIKE {}) THEN 1 END) AS views_{c}",
            lit(&page),
            lit(&format!("{page}/%"))
        ));
    }
    let event_cte = format!(
        "e AS (SELECT {} FROM {} WHERE x.ts < {end_ts} GROUP BY {p})",
        e.join(",\n    "),
        from("event")
    );
    let visits_cte = format!(
        "ev AS (SELECT party_id, COUNT(*) AS visits_90d FROM (SELECT DISTINCT {p} AS party_id, CAST(x.ts AS DATE) AS day \
         FROM {} WHERE x.ts >= {q_ts} AND x.ts < {end_ts}) v GROUP BY party_id)",
        from("event")
    );
    let source_cte = format!(
        "sc AS (SELECT party_id, source_channel FROM (SELECT party_id, source_channel, \
         ROW_NUMBER() OVER (PARTITION BY party_id ORDER BY n DESC, source_channel) AS rn FROM \
         (SELECT {p} AS party_id, x.source_channel, COUNT(*) AS n FROM {} \
         WHERE x.ts < {end_ts} AND {in_year} AND x.source_channel IS NOT NULL GROUP BY {p}, x.source_channel) s0) s1 WHERE rn = 1)",
        from("event")
    );

    // --- service interactions and campaigns.
    let inter_cte = format!(
        "i AS (SELECT {p} AS party_id, \
         AVG(CASE WHEN {in_year} THEN CAST(x.satisfaction AS DOUBLE) END) AS satisfaction, \
         COUNT(CASE WHEN {in_year} AND x.kind = 'complaint' THEN 1 END) AS complaints_year, \
         COUNT(CASE WHEN {in_year} THEN 1 END) AS interactions_year \
         FROM {} WHERE x.ts < {end_ts} GROUP BY {p})",
        from("interaction")
    );
    let camp_cte = format!(
        "cr AS (SELECT {p} AS party_id, COUNT(*) AS campaigns_contacted, \
         COUNT(CASE WHEN x.responded THEN 1 END) AS campaigns_responded, \
         COUNT(CASE WHEN x.converted THEN 1 END) AS campaigns_converted \
         FROM {} WHERE x.contact_date <= {as_of_d} AND x.contact_date >= {year_d} GROUP BY {p})",
        from("campaign_response")
    );

    // --- the party's own attributes.
    // A missing gender or birth date is read off a valid resident ID number (functions.rs).
    let attrs = "x.cust_type, COALESCE(x.gender, id_gender(x.id_no)) AS gender, \
                 COALESCE(x.birth_date, id_birth_date(x.id_no)) AS birth_date, x.province, x.city, x.hukou, x.education, \
                 x.occupation, x.employer, x.has_property, x.credit_rating, x.mobile_banking, \
                 CAST(x.financial_assets AS DOUBLE) AS stated_assets";
    let cust_cte = match parties {
        Parties::PerCustomer => format!(
            "c AS (SELECT x.cust_no AS party_id, 1 AS cust_count, x.open_date AS first_open, {attrs} FROM customer x)"
        ),
        Parties::Resolved => format!(
            "mem AS (SELECT pm.party_id, COUNT(*) AS cust_count, MIN(cu.open_date) AS first_open \
             FROM party_member pm LEFT JOIN customer cu ON cu.cust_no = pm.cust_no GROUP BY pm.party_id),\n\
             c AS (SELECT x.party_id, mem.cust_count, mem.first_open, {attrs} FROM party x LEFT JOIN mem ON mem.party_id = x.party_id)"
        ),
    };

    // --- derived columns over the joined parts.
    let r = &cfg.recency;
    let (ay, am, ad) = (as_of.year(), as_of.month(), as_of.day());
    let age = format!(
        "CAST({ay} - date_part('year', c.birth_date) - CASE WHEN date_part('month', c.birth_date) > {am} \
         OR (date_part('month', c.birth_date) = {am} AND date_part('day', c.birth_date) > {ad}) THEN 1 ELSE 0 END AS BIGINT)"
    );
    let mut cols = vec![
        "c.party_id".to_string(),
        format!("{as_of_d} AS as_of"),
        "c.cust_count".into(),
        "c.cust_type".into(),
        "c.gender".into(),
        format!("{age} AS age"),
        "c.province".into(),
        "c.city".into(),
        "c.education".into(),
        "c.occupation".into(),
        "c.credit_rating".into(),
        format!(
            "CASE WHEN c.first_open IS NULL OR c.first_open > {as_of_d} THEN NULL ELSE \
             CAST(({ay} - date_part('year', c.first_open)) * 12 + ({am} - date_part('month', c.first_open)) \
             - CASE WHEN date_part('day', c.first_open) > {ad} THEN 1 ELSE 0 END AS BIGINT) END AS tenure_months"
        ),
        format!("{as_of_d} - CAST(t.last_txn_ts AS DATE) AS recency_days"),
        "COALESCE(t.frequency, 0) AS frequency".into(),
        "COALESCE(t.monetary, 0) AS monetary".into(),
        format!(
            "CASE WHEN COALESCE({as_of_d} - CAST(t.last_txn_ts AS DATE), {as_of_d} - c.first_open) IS NULL THEN 'churned' \
             WHEN COALESCE({as_of_d} - CAST(t.last_txn_ts AS DATE), {as_of_d} - c.first_open) <= {} THEN 'active' \
             WHEN COALESCE({as_of_d} - CAST(t.last_txn_ts AS DATE), {as_of_d} - c.first_open) <= {} THEN 'sleeping' \
             WHEN COALESCE({as_of_d} - CAST(t.last_txn_ts AS DATE), {as_of_d} - c.first_open) <= {} THEN 'pre_churn' \
             ELSE 'churned' END AS recency_class",
            r.active_days, r.sleeping_days, r.pre_churn_days
        ),
        "COALESCE(t.txn_count_year, 0) AS txn_count_year".into(),
    ];
    for c in &cfg.channels {
        cols.push(format!(
            "CAST(COALESCE(t.ch_{c}_n, 0) AS DOUBLE) / NULLIF(t.txn_count_year, 0) AS ch_{c}"
        ));
    }
    cols.push(
        "COALESCE(c.mobile_banking, FALSE) OR COALESCE(e.events_mobile_year, 0) > 0 AS mobile_banking_user"
            .to_string(),
    );
    let spend_total = if cfg.interest_categories.is_empty() {
        "0".to_string()
    } else {
        cfg.interest_categories
            .iter()
            .map(|c| format!("COALESCE(t.spend_{c}, 0)"))
            .collect::<Vec<_>>()
            .join(" + ")
    };
    for c in &cfg.interest_categories {
        cols.push(format!(
            "COALESCE(t.spend_{c}, 0) / NULLIF({spend_total}, 0) AS share_{c}"
        ));
        cols.push(format!("COALESCE(t.freq_{c}, 0) AS freq_{c}"));
        cols.push(format!("COALESCE(e.views_{c}, 0) AS views_{c}"));
    }
    for ty in holding_types() {
        cols.push(format!("COALESCE(h.n_{ty}, 0) AS n_{ty}"));
    }
    let types_held = holding_types()
        .map(|ty| format!("CASE WHEN COALESCE(h.n_{ty}, 0) > 0 THEN 1 ELSE 0 END"))
        .collect::<Vec<_>>()
        .join(" + ");
    cols.push(format!("{types_held} AS product_types"));
    cols.push("COALESCE(h.n_holdings, 0) AS n_holdings".into());
    for (name, _) in ADB_WINDOWS {
        cols.push(format!("COALESCE(a.adb_{name}, 0) AS adb_{name}"));
    }
    cols.push("COALESCE(a.assets_now, c.stated_assets, 0) AS financial_assets".into());
    cols.push("COALESCE(h.revenue, 0) AS revenue".into());
    cols.push("COALESCE(h.cost, 0) AS cost".into());
    cols.push("COALESCE(h.revenue, 0) - COALESCE(h.cost, 0) AS profit".into());
    cols.push("h.max_days_overdue".into());
    cols.push("h.invest_risk".into());
    cols.push("i.satisfaction".into());
    cols.push("COALESCE(i.complaints_year, 0) AS complaints_year".into());
    cols.push("COALESCE(i.interactions_year, 0) AS interactions_year".into());
    cols.push("COALESCE(ev.visits_90d, 0) AS visits_90d".into());
    cols.push("COALESCE(e.events_90d, 0) AS events_90d".into());
    cols.push("COALESCE(e.events_year, 0) AS events_year".into());
    cols.push(
        "CAST(e.events_mobile_year AS DOUBLE) / NULLIF(e.events_year, 0) AS mobile_event_share"
            .into(),
    );
    cols.push("sc.source_channel AS top_source_channel".into());
    cols.push(
        "CAST(e.buys_year AS DOUBLE) / NULLIF(e.product_views_year, 0) AS browse_to_buy".into(),
    );
    cols.push("COALESCE(cr.campaigns_contacted, 0) AS campaigns_contacted".into());
    cols.push(
        "CAST(cr.campaigns_responded AS DOUBLE) / NULLIF(cr.campaigns_contacted, 0) AS campaign_response_rate"
            .into(),
    );
    cols.push(
        "CAST(cr.campaigns_converted AS DOUBLE) / NULLIF(cr.campaigns_contacted, 0) AS campaign_conversion_rate"
            .into(),
    );
    let salary = (0..6)
        .map(|k| format!("COALESCE(t.salary_m{k}, 0)"))
        .collect::<Vec<_>>()
        .join(" + ");
    cols.push(format!("{salary} AS salary_months_6"));

    // Bank groups that rest on attributes only.
    let pr = &cfg.prospects;
    let occ_in = |v: &[String]| {
        if v.is_empty() {
            "FALSE".to_string()
        } else {
            format!("COALESCE(c.occupation IN ({}), FALSE)", list(v))
        }
    };
    cols.push(format!(
        "{} OR COALESCE({}, FALSE) AS prospect_public_sector",
        occ_in(&pr.public_occupations),
        contains_any("c.employer", &pr.public_employer_words)
    ));
    cols.push(format!(
        "COALESCE({}, FALSE) AS prospect_large_employer",
        contains_any("c.employer", &pr.large_employer_words)
    ));
    cols.push(format!(
        "{} AS prospect_quality_occupation",
        occ_in(&pr.quality_occupations)
    ));
    cols.push(format!(
        "{} AS prospect_high_education",
        if pr.high_education.is_empty() {
            "FALSE".to_string()
        } else {
            format!(
                "COALESCE(c.education IN ({}), FALSE)",
                list(&pr.high_education)
            )
        }
    ));
    cols.push(
        "COALESCE(c.has_property AND starts_with(c.hukou, c.province), FALSE) AS prospect_local_property"
            .into(),
    );
    cols.push(format!(
        "{salary} >= {} AS prospect_verifiable_income",
        pr.salary_months
    ));

    // Each per-source aggregate is the build side of its join and the growing row the probe
    // side, so a join holds only its own source's columns in memory.
    let mut from = "c".to_string();
    for part in ["t", "a", "h", "e", "ev", "sc", "i", "cr"] {
        from = if from == "c" {
            format!("{part} RIGHT JOIN c ON {part}.party_id = c.party_id")
        } else {
            format!("{part} RIGHT JOIN ({from}) ON {part}.party_id = c.party_id")
        };
    }
    let ctes = [
        &txn_cte,
        &assets_cte,
        &holding_cte,
        &event_cte,
        &visits_cte,
        &source_cte,
        &inter_cte,
        &camp_cte,
    ];
    let mut parts = Vec::new();
    let reads: Vec<String> = ctes
        .iter()
        .map(|cte| materialise(cte, base_table, &mut parts))
        .collect();
    let select = format!("SELECT {} FROM {from}", cols.join(",\n    "));
    let base_sql = format!("WITH {},\n{cust_cte}\n{select}", reads.join(",\n"));
    let inline_sql = format!(
        "WITH {},\n{cust_cte}\n{select}",
        ctes.iter()
            .map(|c| c.as_str())
            .collect::<Vec<_>>()
            .join(",\n")
    );

    // --- scores and groups over the base rows; quintiles rank all parties, on a narrow
    // projection joined back.
    let quintile = |order: &str| {
        format!("LEAST(5, 1 + CAST(FLOOR(5 * PERCENT_RANK() OVER (ORDER BY {order})) AS BIGINT))")
    };
    let tiers = &cfg.asset_tiers;
    let k = &cfg.risk;
    let rating_in = |v: &[String]| {
        if v.is_empty() {
            "FALSE".to_string()
        } else {
            format!("COALESCE(credit_rating IN ({}), FALSE)", list(v))
        }
    };
    let scored = format!(
        "ranks AS (SELECT party_id, {r} AS r_score, {f} AS f_score, {m} AS m_score FROM {base_table}),\n\
         scored AS (SELECT b.*, ranks.r_score, ranks.f_score, ranks.m_score,\n    \
         CASE WHEN adb_month >= {d} THEN 'diamond' WHEN adb_month >= {pl} THEN 'platinum' \
         WHEN adb_month >= {g} THEN 'gold' WHEN adb_month >= {s} THEN 'silver' ELSE 'ordinary' END AS asset_tier,\n    \
         adb_year >= {pb} AS private_banking,\n    \
         CASE WHEN COALESCE(max_days_overdue, 0) >= {ho} OR {hr} THEN 'high' \
         WHEN COALESCE(max_days_overdue, 0) >= {mo} OR {mr} THEN 'medium' ELSE 'low' END AS risk_level,\n    \
         CASE WHEN invest_risk IS NULL OR invest_risk < {gf} THEN 'conservative' \
         WHEN invest_risk < {af} THEN 'growth' ELSE 'aggressive' END AS investment_preference,\n    \
         30 * LEAST(COALESCE(tenure_months, 0) / 120.0, 1) + 25 * LEAST(product_types / 4.0, 1) \
         + 25 * LEAST(frequency / 24.0, 1) + 10 * COALESCE(satisfaction, 3) / 5 \
         + CASE WHEN complaints_year = 0 THEN 10 ELSE 0 END AS loyalty_score\n  \
         FROM ranks JOIN {base_table} b ON b.party_id = ranks.party_id)",
        r = quintile("recency_days DESC NULLS FIRST"),
        f = quintile("frequency"),
        m = quintile("monetary"),
        d = tiers.diamond,
        pl = tiers.platinum,
        g = tiers.gold,
        s = tiers.silver,
        pb = cfg.private_banking_adb,
        ho = k.high_overdue_days,
        hr = rating_in(&k.high_ratings),
        mo = k.medium_overdue_days,
        mr = rating_in(&k.medium_ratings),
        gf = k.growth_from,
        af = k.aggressive_from,
    );
    let hi = cfg.rfm.high_score;
    let age_group = "CASE WHEN age IS NULL THEN NULL WHEN age < 18 THEN '<18' WHEN age < 25 THEN '18-24' \
         WHEN age < 30 THEN '25-29' WHEN age < 35 THEN '30-34' WHEN age < 40 THEN '35-39' \
         WHEN age < 50 THEN '40-49' WHEN age < 60 THEN '50-59' ELSE '60+' END";
    let life_stage = "CASE WHEN age IS NULL THEN NULL WHEN age < 6 THEN '0-6' WHEN age < 15 THEN '6-15' \
         WHEN age < 30 THEN '15-30' WHEN age < 45 THEN '30-45' WHEN age < 60 THEN '45-59' \
         WHEN age < 75 THEN '60-74' WHEN age < 90 THEN '75-89' ELSE '90+' END";
    let rfm_class = format!(
        "CASE WHEN r_score >= {hi} THEN \
           CASE WHEN m_score >= {hi} THEN CASE WHEN f_score >= {hi} THEN 'important_value' ELSE 'important_develop' END \
           ELSE CASE WHEN f_score >= {hi} THEN 'general_value' ELSE 'general_develop' END END \
         ELSE \
           CASE WHEN m_score >= {hi} THEN CASE WHEN f_score >= {hi} THEN 'important_keep' ELSE 'important_retain' END \
           ELSE CASE WHEN f_score >= {hi} THEN 'general_keep' ELSE 'general_retain' END END END"
    );

    let scored_sql = format!(
        "WITH {scored}\n\
         SELECT scored.*, {age_group} AS age_group, {life_stage} AS life_stage, \
         CAST(r_score AS VARCHAR) || CAST(f_score AS VARCHAR) || CAST(m_score AS VARCHAR) AS rfm_cell, \
         {rfm_class} AS rfm_class FROM scored"
    );
    FeatureSql {
        parts,
        base: base_sql,
        inline: inline_sql,
        scored: scored_sql,
    }
}
