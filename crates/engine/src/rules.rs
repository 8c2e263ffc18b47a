//! `rules` and `recommend`: 关联规则 over product holdings and purchase categories, and
//! next-best products for every party.
//!
//! A party's basket is the products it holds open at the as-of date (by `product_id`) and the
//! purchase categories it spent in over the year before (`cat:<category>`, the interest
//! categories of `[features]`). Every party with features is a basket, empty or not, so support
//! is a share of all parties.
//!
//! Tables: `rule(antecedent, consequent, support, confidence, lift, conviction, count)` with the
//! sorted item names of each side joined by `|`, and
//! `recommendation(party_id, rank, product_id, product_name, score, reason)`.

use chrono::NaiveDate;
use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Arc;

use arrow::array::{
    Array, AsArray, Float64Array, RecordBatch, StringArray, UInt32Array, UInt64Array,
};
use arrow::datatypes::{DataType, Field, Schema};
use portrait_mining::{FpGrowthParams, association_rules};
use portrait_store::Store;
use serde::{Deserialize, Serialize};

use crate::{EngineError, Result, open_session};

pub const RULE: &str = "rule";
pub const RECOMMENDATION: &str = "recommendation";

/// `[rules]` in portrait.toml.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RulesConfig {
    /// Smallest share of parties holding an itemset.
    pub min_support: f64,
    /// Smallest confidence of a rule.
    pub min_confidence: f64,
    /// Longest itemset.
    pub max_len: usize,
    /// Whether purchase categories join the products in the baskets.
    pub categories: bool,
    /// Days of transactions whose categories count.
    pub category_days: i64,
    /// Recommendations per party.
    pub top: usize,
    /// Highest product risk level (1–5, R1–R5) offered to each investment preference.
    pub max_risk_conservative: u8,
    pub max_risk_growth: u8,
    pub max_risk_aggressive: u8,
}

impl Default for RulesConfig {
    fn default() -> Self {
        RulesConfig {
            min_support: 0.02,
            min_confidence: 0.3,
            max_len: 4,
            categories: true,
            category_days: 365,
            top: 3,
            max_risk_conservative: 2,
            max_risk_growth: 3,
            max_risk_aggressive: 5,
        }
    }
}

impl RulesConfig {
    pub fn validate(&self) -> std::result::Result<(), String> {
        if !(self.min_support > 0.0 && self.min_support <= 1.0) {
            return Err("min_support must be in (0, 1]".into());
        }
        if !(0.0..=1.0).contains(&self.min_confidence) {
            return Err("min_confidence must be in [0, 1]".into());
        }
        if self.max_len < 2 {
            return Err("max_len must be at least 2: a rule needs two items".into());
        }
        for r in [
            self.max_risk_conservative,
            self.max_risk_growth,
            self.max_risk_aggressive,
        ] {
            if !(1..=5).contains(&r) {
                return Err("max_risk_* must be risk levels 1 to 5".into());
            }
        }
        Ok(())
    }

    fn max_risk(&self, preference: Option<&str>) -> u8 {
        match preference {
            Some("aggressive") => self.max_risk_aggressive,
            Some("growth") => self.max_risk_growth,
            _ => self.max_risk_conservative,
        }
    }
}

/// Every party's basket, in party order, and the item names.
pub struct Baskets {
    pub parties: Vec<String>,
    pub items: Vec<String>,
    pub baskets: Vec<Vec<u32>>,
}

/// Reads the baskets at `as_of`, a date of `features`.
pub async fn baskets(
    store: &Store,
    cfg: &RulesConfig,
    categories: &[String],
    as_of: NaiveDate,
) -> Result<Baskets> {
    if store.table(crate::features::TABLE).is_none() {
        return Err(EngineError::Usage(
            "no `features` table in the store\nhint: run `portrait run` (or `portrait features`) first".into(),
        ));
    }
    let ctx = open_session(store).await?;
    crate::features::register_missing_inputs(&ctx, store)?;
    let pm = crate::features::Parties::of(store).mapping_sql();
    let as_of = format!("DATE '{as_of}'");
    let mut parts = vec![format!(
        "SELECT COALESCE(pm.party_id, h.cust_no) AS party_id, CAST(h.product_id AS VARCHAR) AS item FROM holding h \
         LEFT JOIN pm ON pm.cust_no = h.cust_no \
         WHERE h.product_id IS NOT NULL AND (h.open_date IS NULL OR CAST(h.open_date AS DATE) <= {as_of}) \
         AND (h.close_date IS NULL OR CAST(h.close_date AS DATE) > {as_of})"
    )];
    if cfg.categories && !categories.is_empty() {
        let list = categories
            .iter()
            .map(|c| format!("'{}'", c.replace('\'', "''")))
            .collect::<Vec<_>>()
            .join(", ");
        parts.push(format!(
            "SELECT COALESCE(pm.party_id, t.cust_no) AS party_id, 'cat:' || t.category AS item FROM \"transaction\" t \
             LEFT JOIN pm ON pm.cust_no = t.cust_no \
             WHERE t.category IN ({list}) AND (t.direction IS NULL OR t.direction = 'debit') \
             AND CAST(t.ts AS DATE) <= {as_of} AND CAST(t.ts AS DATE) > {as_of} - INTERVAL '{} days'",
            cfg.category_days
        ));
    }
    let sql = format!(
        "WITH pm AS ({pm}), items AS ({}), \
         f AS (SELECT party_id FROM features WHERE as_of = {as_of}) \
         SELECT f.party_id, i.item FROM f LEFT JOIN (SELECT DISTINCT party_id, item FROM items) i ON i.party_id = f.party_id \
         ORDER BY f.party_id, i.item",
        parts.join(" UNION ALL ")
    );
    let batches = ctx.sql(&sql).await?.collect().await?;
    let mut parties: Vec<String> = Vec::new();
    let mut items: Vec<String> = Vec::new();
    let mut ids: HashMap<String, u32> = HashMap::new();
    let mut baskets: Vec<Vec<u32>> = Vec::new();
    for b in &batches {
        let p = crate::utf8(b.column(0))?;
        let it = crate::utf8(b.column(1))?;
        let (p, it) = (p.as_string::<i32>(), it.as_string::<i32>());
        for i in 0..b.num_rows() {
            if parties.last().map(String::as_str) != Some(p.value(i)) {
                parties.push(p.value(i).to_string());
                baskets.push(Vec::new());
            }
            if it.is_valid(i) {
                let name = it.value(i);
                let id = *ids.entry(name.to_string()).or_insert_with(|| {
                    items.push(name.to_string());
                    items.len() as u32 - 1
                });
                baskets.last_mut().expect("pushed").push(id);
            }
        }
    }
    for b in &mut baskets {
        b.sort_unstable();
        b.dedup();
    }
    Ok(Baskets {
        parties,
        items,
        baskets,
    })
}

/// A mined rule with item names.
#[derive(Debug, Clone, Serialize)]
pub struct NamedRule {
    pub antecedent: Vec<String>,
    pub consequent: Vec<String>,
    pub support: f64,
    pub confidence: f64,
    pub lift: f64,
    pub conviction: f64,
    pub count: u64,
}

/// What `rules` did.
#[derive(Debug, Clone, Serialize)]
pub struct RulesOutcome {
    pub baskets: usize,
    pub items: usize,
    pub itemsets: usize,
    pub rules: Vec<NamedRule>,
}

/// What `mine` found.
#[derive(Debug)]
pub enum Mined {
    Rules(RulesOutcome),
    /// No basket holds an item: nothing was written.
    NoItems,
}

/// Mines the rules and writes `rule`.
pub async fn mine(
    store: &Store,
    cfg: &RulesConfig,
    categories: &[String],
    as_of: NaiveDate,
) -> Result<Mined> {
    cfg.validate().map_err(EngineError::Usage)?;
    let b = baskets(store, cfg, categories, as_of).await?;
    if b.items.is_empty() {
        return Ok(Mined::NoItems);
    }
    let sets = FpGrowthParams::new(cfg.min_support)
        .max_len(cfg.max_len)
        .fit(&b.baskets)
        .map_err(|e| EngineError::Usage(format!("rules: {e}")))?;
    let rules = association_rules(&sets, cfg.min_confidence)
        .map_err(|e| EngineError::Usage(format!("rules: {e}")))?;
    let name = |ids: &[u32]| -> Vec<String> {
        let mut v: Vec<String> = ids.iter().map(|&i| b.items[i as usize].clone()).collect();
        v.sort();
        v
    };
    let mut named: Vec<NamedRule> = rules
        .iter()
        .map(|r| NamedRule {
            antecedent: name(&r.antecedent),
            consequent: name(&r.consequent),
            support: r.support,
            confidence: r.confidence,
            lift: r.lift,
            conviction: r.conviction,
            count: r.count,
        })
        .collect();
    named.sort_by(|a, b| {
        b.lift
            .total_cmp(&a.lift)
            .then(b.confidence.total_cmp(&a.confidence))
            .then(a.antecedent.cmp(&b.antecedent))
            .then(a.consequent.cmp(&b.consequent))
    });
    let schema = Arc::new(Schema::new(vec![
        Field::new("antecedent", DataType::Utf8, false),
        Field::new("consequent", DataType::Utf8, false),
        Field::new("support", DataType::Float64, false),
        Field::new("confidence", DataType::Float64, false),
        Field::new("lift", DataType::Float64, false),
        Field::new("conviction", DataType::Float64, false),
        Field::new("count", DataType::UInt64, false),
    ]));
    let batch = RecordBatch::try_new(
        schema.clone(),
        vec![
            Arc::new(StringArray::from_iter_values(
                named.iter().map(|r| r.antecedent.join("|")),
            )),
            Arc::new(StringArray::from_iter_values(
                named.iter().map(|r| r.consequent.join("|")),
            )),
            Arc::new(Float64Array::from_iter_values(
                named.iter().map(|r| r.support),
            )),
            Arc::new(Float64Array::from_iter_values(
                named.iter().map(|r| r.confidence),
            )),
            Arc::new(Float64Array::from_iter_values(named.iter().map(|r| r.lift))),
            Arc::new(Float64Array::from_iter_values(
                named.iter().map(|r| r.conviction),
            )),
            Arc::new(UInt64Array::from_iter_values(named.iter().map(|r| r.count))),
        ],
    )?;
    let mut txn = store.begin()?;
    crate::output::stage_batches(
        &mut txn,
        RULE,
        schema,
        &[batch],
        format!(
            "min_support {} min_confidence {}",
            cfg.min_support, cfg.min_confidence
        ),
    )?;
    txn.commit()?;
    Ok(Mined::Rules(RulesOutcome {
        baskets: b.baskets.len(),
        items: b.items.len(),
        itemsets: sets.itemsets.len(),
        rules: named,
    }))
}

/// A product that may be recommended.
struct Product {
    name: String,
    risk: u8,
    product_type: String,
}

fn risk_number(s: &str) -> Option<u8> {
    s.trim()
        .trim_start_matches(['R', 'r'])
        .parse()
        .ok()
        .filter(|r| (1..=5).contains(r))
}

/// What `recommend` did.
#[derive(Debug, Clone, Serialize)]
pub struct RecommendOutcome {
    pub parties: usize,
    pub with_consent: usize,
    pub recommended: usize,
    pub rows: usize,
    pub from_rules: usize,
    pub from_segment: usize,
    /// Candidates withheld because the product's risk was above the party's.
    pub withheld_for_risk: u64,
    /// Whether the store has customer master data with marketing consent; without it every
    /// party is recommended to.
    pub consent_known: bool,
    /// Whether the store has a product catalogue with risk levels.
    pub risk_rated: bool,
}

/// Next-best products for every party with marketing consent, never above the party's risk
/// level, written to `recommendation`.
pub async fn recommend(
    store: &Store,
    cfg: &RulesConfig,
    categories: &[String],
    segment_model: &str,
    as_of: NaiveDate,
) -> Result<RecommendOutcome> {
    cfg.validate().map_err(EngineError::Usage)?;
    if store.table(RULE).is_none() {
        return Err(EngineError::Usage(
            "no `rule` table in the store\nhint: run `portrait rules` first".into(),
        ));
    }
    let b = baskets(store, cfg, categories, as_of).await?;
    let ctx = open_session(store).await?;
    crate::features::register_missing_inputs(&ctx, store)?;
    // The catalogue.
    let mut products: HashMap<String, Product> = HashMap::new();
    for batch in ctx
        .sql("SELECT CAST(product_id AS VARCHAR), CAST(product_name AS VARCHAR), CAST(product_type AS VARCHAR), CAST(risk_level AS VARCHAR) FROM product")
        .await?
        .collect()
        .await?
    {
        let c: Vec<_> = (0..4).map(|i| crate::utf8(batch.column(i))).collect::<Result<_>>()?;
        let c: Vec<&StringArray> = c.iter().map(|a| a.as_string::<i32>()).collect();
        for i in 0..batch.num_rows() {
            if c[0].is_null(i) {
                continue;
            }
            products.insert(
                c[0].value(i).to_string(),
                Product {
                    name: if c[1].is_valid(i) { c[1].value(i).to_string() } else { String::new() },
                    risk: if c[3].is_valid(i) { risk_number(c[3].value(i)).unwrap_or(5) } else { 5 },
                    product_type: if c[2].is_valid(i) { c[2].value(i).to_string() } else { String::new() },
                },
            );
        }
    }
    // Without a catalogue every held product may be offered: there are no risk levels to
    // respect (a retailer's baskets).
    let rated = store.table("product").is_some();
    if !rated {
        for item in &b.items {
            if !item.starts_with("cat:") {
                products.entry(item.clone()).or_insert(Product {
                    name: String::new(),
                    risk: 0,
                    product_type: String::new(),
                });
            }
        }
    }
    if !b.items.iter().any(|i| products.contains_key(i)) {
        return Err(EngineError::NothingToDo(
            "no basket holds a product: the baskets are purchase categories only\nhint: load holdings with `portrait ingest holding=FILE` (`cust_no, product_id`)".into(),
        ));
    }
    // Consent, preference and credit risk per party. Without customer master data nobody's
    // consent is known: recommendations are made for everyone (they are analysis, not contact;
    // audience exports still require consent) and the outcome says so.
    let consent_known = store.table("customer").is_some();
    let consent_default = if consent_known { "false" } else { "true" };
    let consent_src = if store.table(crate::identity::PARTY).is_some() {
        "SELECT party_id AS cid, marketing_consent AS c FROM party"
    } else {
        "SELECT cust_no AS cid, marketing_consent AS c FROM customer"
    };
    let has_segment = store.table(crate::segment::SEGMENT).is_some();
    let seg = if has_segment {
        format!(
            "(SELECT party_id, model || ':' || CAST(segment AS VARCHAR) AS s FROM segment WHERE model = '{}')",
            segment_model.replace('\'', "''")
        )
    } else {
        "(SELECT party_id, CAST(NULL AS VARCHAR) AS s FROM features WHERE false)".to_string()
    };
    let sql = format!(
        "SELECT f.party_id, COALESCE(CAST(mc.c AS BOOLEAN), {consent_default}) AS consent, CAST(f.investment_preference AS VARCHAR), \
                CAST(f.risk_level AS VARCHAR), sg.s FROM features f \
         LEFT JOIN ({consent_src}) mc ON mc.cid = f.party_id LEFT JOIN {seg} sg ON sg.party_id = f.party_id \
         WHERE f.as_of = DATE '{as_of}' ORDER BY f.party_id"
    );
    // party → (consent, investment preference, credit risk level, segment)
    type PartyInfo = (bool, Option<String>, Option<String>, Option<String>);
    let mut info: HashMap<String, PartyInfo> = HashMap::new();
    for batch in ctx.sql(&sql).await?.collect().await? {
        let id = crate::utf8(batch.column(0))?;
        let consent = batch.column(1).as_boolean().clone();
        let pref = crate::utf8(batch.column(2))?;
        let risk = crate::utf8(batch.column(3))?;
        let s = crate::utf8(batch.column(4))?;
        let (id, pref, risk, s) = (
            id.as_string::<i32>(),
            pref.as_string::<i32>(),
            risk.as_string::<i32>(),
            s.as_string::<i32>(),
        );
        let opt = |a: &StringArray, i: usize| a.is_valid(i).then(|| a.value(i).to_string());
        for i in 0..batch.num_rows() {
            info.insert(
                id.value(i).to_string(),
                (
                    consent.is_valid(i) && consent.value(i),
                    opt(pref, i),
                    opt(risk, i),
                    opt(s, i),
                ),
            );
        }
    }
    // Rules whose consequent is one product.
    let item_id: HashMap<&str, u32> = b
        .items
        .iter()
        .enumerate()
        .map(|(i, n)| (n.as_str(), i as u32))
        .collect();
    struct Usable {
        antecedent: Vec<u32>,
        names: String,
        product: String,
        confidence: f64,
        lift: f64,
    }
    let mut usable: Vec<Usable> = Vec::new();
    for batch in ctx
        .sql("SELECT antecedent, consequent, confidence, lift FROM rule WHERE lift > 1")
        .await?
        .collect()
        .await?
    {
        let a = crate::utf8(batch.column(0))?;
        let c = crate::utf8(batch.column(1))?;
        let (a, c) = (a.as_string::<i32>(), c.as_string::<i32>());
        let conf = batch
            .column(2)
            .as_primitive::<arrow::datatypes::Float64Type>();
        let lift = batch
            .column(3)
            .as_primitive::<arrow::datatypes::Float64Type>();
        for i in 0..batch.num_rows() {
            let cons = c.value(i);
            if cons.contains('|') || !products.contains_key(cons) {
                continue;
            }
            let ante: Option<Vec<u32>> = a
                .value(i)
                .split('|')
                .map(|n| item_id.get(n).copied())
                .collect();
            if let Some(mut ante) = ante {
                ante.sort_unstable();
                usable.push(Usable {
                    antecedent: ante,
                    names: a
                        .value(i)
                        .split('|')
                        .map(|n| match products.get(n) {
                            Some(p) if !p.name.is_empty() => format!("{} ({n})", p.name),
                            _ => n
                                .strip_prefix("cat:")
                                .map_or_else(|| n.to_string(), |c| format!("{c} spending")),
                        })
                        .collect::<Vec<_>>()
                        .join(" + "),
                    product: cons.to_string(),
                    confidence: conf.value(i),
                    lift: lift.value(i),
                });
            }
        }
    }
    // Segment popularity for parties no rule reaches.
    let mut seg_counts: HashMap<&str, (u64, BTreeMap<&str, u64>)> = HashMap::new();
    for (p, basket) in b.parties.iter().zip(&b.baskets) {
        if let Some((_, _, _, Some(s))) = info.get(p) {
            let e = seg_counts.entry(s.as_str()).or_default();
            e.0 += 1;
            for &it in basket {
                let name = b.items[it as usize].as_str();
                if products.contains_key(name) {
                    *e.1.entry(name).or_default() += 1;
                }
            }
        }
    }

    let (mut out_p, mut out_rank, mut out_prod, mut out_name, mut out_score, mut out_reason) = (
        Vec::new(),
        Vec::new(),
        Vec::new(),
        Vec::new(),
        Vec::new(),
        Vec::new(),
    );
    let (mut with_consent, mut recommended, mut from_rules, mut from_segment, mut withheld) =
        (0, 0, 0, 0, 0u64);
    for (p, basket) in b.parties.iter().zip(&b.baskets) {
        let Some((consent, pref, credit, segment)) = info.get(p) else {
            continue;
        };
        if !consent {
            continue;
        }
        with_consent += 1;
        let held: HashSet<u32> = basket.iter().copied().collect();
        let max_risk = cfg.max_risk(pref.as_deref());
        let allowed = |prod: &Product| -> bool {
            // No new credit for parties of high credit risk.
            let credit_ok = !(credit.as_deref() == Some("high")
                && matches!(prod.product_type.as_str(), "loan" | "credit_card"));
            prod.risk <= max_risk && credit_ok
        };
        // product → (score, reason, from rules)
        let mut best: BTreeMap<String, (f64, String, bool)> = BTreeMap::new();
        for r in &usable {
            if item_id
                .get(r.product.as_str())
                .is_some_and(|id| held.contains(id))
            {
                continue;
            }
            if !r.antecedent.iter().all(|a| held.contains(a)) {
                continue;
            }
            let prod = &products[&r.product];
            if !allowed(prod) {
                withheld += 1;
                continue;
            }
            let score = r.confidence;
            let e = best
                .entry(r.product.clone())
                .or_insert((f64::MIN, String::new(), true));
            if score > e.0 {
                *e = (
                    score,
                    format!(
                        "holders of {} also hold it ({:.0}% of them, lift {:.2})",
                        r.names,
                        r.confidence * 100.0,
                        r.lift
                    ),
                    true,
                );
            }
        }
        if best.len() < cfg.top
            && let Some(s) = segment
            && let Some((size, counts)) = seg_counts.get(s.as_str())
        {
            let mut popular: Vec<(&str, u64)> = counts.iter().map(|(k, v)| (*k, *v)).collect();
            popular.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(b.0)));
            for (prod_id, c) in popular {
                if best.len() >= cfg.top {
                    break;
                }
                if best.contains_key(prod_id)
                    || item_id.get(prod_id).is_some_and(|id| held.contains(id))
                {
                    continue;
                }
                let prod = &products[prod_id];
                if !allowed(prod) {
                    withheld += 1;
                    continue;
                }
                let share = c as f64 / (*size).max(1) as f64;
                if share < 0.05 {
                    break;
                }
                // Below every rule-based score of the same strength.
                best.insert(
                    prod_id.to_string(),
                    (
                        share * 0.5,
                        format!("held by {:.0}% of the party's segment {s}", share * 100.0),
                        false,
                    ),
                );
            }
        }
        let mut ranked: Vec<(String, (f64, String, bool))> = best.into_iter().collect();
        ranked.sort_by(|a, b| b.1.0.total_cmp(&a.1.0).then(a.0.cmp(&b.0)));
        ranked.truncate(cfg.top);
        if !ranked.is_empty() {
            recommended += 1;
        }
        for (rank, (prod_id, (score, reason, rule))) in ranked.into_iter().enumerate() {
            if rule {
                from_rules += 1;
            } else {
                from_segment += 1;
            }
            out_p.push(p.clone());
            out_rank.push(rank as u32 + 1);
            out_name.push(products[&prod_id].name.clone());
            out_prod.push(prod_id);
            out_score.push(score);
            out_reason.push(reason);
        }
    }
    let schema = Arc::new(Schema::new(vec![
        Field::new("party_id", DataType::Utf8, false),
        Field::new("rank", DataType::UInt32, false),
        Field::new("product_id", DataType::Utf8, false),
        Field::new("product_name", DataType::Utf8, false),
        Field::new("score", DataType::Float64, false),
        Field::new("reason", DataType::Utf8, false),
    ]));
    let rows = out_p.len();
    let batch = RecordBatch::try_new(
        schema.clone(),
        vec![
            Arc::new(StringArray::from(out_p)),
            Arc::new(UInt32Array::from(out_rank)),
            Arc::new(StringArray::from(out_prod)),
            Arc::new(StringArray::from(out_name)),
            Arc::new(Float64Array::from(out_score)),
            Arc::new(StringArray::from(out_reason)),
        ],
    )?;
    let mut txn = store.begin()?;
    crate::output::stage_batches(&mut txn, RECOMMENDATION, schema, &[batch], "recommend")?;
    txn.commit()?;
    Ok(RecommendOutcome {
        parties: b.parties.len(),
        with_consent,
        recommended,
        rows,
        from_rules,
        from_segment,
        withheld_for_risk: withheld,
        consent_known,
        risk_rated: rated,
    })
}

/// The `rules` stage: association rules over the parties' baskets.
pub struct RulesStage;

impl crate::pipeline::Stage for RulesStage {
    fn name(&self) -> &'static str {
        "rules"
    }
    fn requires(&self) -> crate::pipeline::Requirement {
        &[&[crate::features::TABLE], &["holding", "transaction"]]
    }
    fn uses(&self) -> &'static [&'static str] {
        &[crate::identity::PARTY_MEMBER]
    }
    fn writes(&self) -> &'static [&'static str] {
        &[RULE]
    }
    fn run<'a>(
        &'a self,
        store: &'a Store,
        settings: &'a crate::pipeline::Settings,
        progress: &'a dyn crate::pipeline::Progress,
    ) -> futures::future::BoxFuture<'a, Result<crate::pipeline::Step>> {
        Box::pin(async move {
            progress.stage("mining association rules");
            let categories = &settings.features.interest_categories;
            let Some(as_of) = crate::pipeline::features_date(store, settings).await? else {
                return Ok(crate::pipeline::no_features());
            };
            match mine(store, &settings.rules, categories, as_of).await? {
                Mined::Rules(o) => Ok(crate::pipeline::Step::Ran(crate::pipeline::Report::Rules(
                    o,
                ))),
                Mined::NoItems => {
                    let holdings = if store.table("holding").is_some() {
                        "no holding has a `product_id` at the as-of date"
                    } else {
                        "the store has no holdings"
                    };
                    let categories = if store.table("transaction").is_some() {
                        "no transaction has an interest category"
                    } else {
                        "no transactions"
                    };
                    Ok(crate::pipeline::Step::Skipped(format!(
                        "no basket holds an item: {holdings} and {categories}\nhint: load holdings with `portrait ingest holding=FILE` (`cust_no, product_id`)"
                    )))
                }
            }
        })
    }
}

/// The `recommend` stage: next-best products from the rules and the segments.
pub struct RecommendStage;

impl crate::pipeline::Stage for RecommendStage {
    fn name(&self) -> &'static str {
        "recommend"
    }
    fn requires(&self) -> crate::pipeline::Requirement {
        &[&[RULE], &[crate::features::TABLE]]
    }
    fn uses(&self) -> &'static [&'static str] {
        &[
            "product",
            "holding",
            "customer",
            crate::identity::PARTY,
            crate::segment::SEGMENT,
        ]
    }
    fn writes(&self) -> &'static [&'static str] {
        &[RECOMMENDATION]
    }
    fn run<'a>(
        &'a self,
        store: &'a Store,
        settings: &'a crate::pipeline::Settings,
        progress: &'a dyn crate::pipeline::Progress,
    ) -> futures::future::BoxFuture<'a, Result<crate::pipeline::Step>> {
        Box::pin(async move {
            progress.stage("recommending products");
            let o = recommend(
                store,
                &settings.rules,
                &settings.features.interest_categories,
                &settings.segment_name(),
                {
                    let Some(as_of) = crate::pipeline::features_date(store, settings).await? else {
                        return Ok(crate::pipeline::no_features());
                    };
                    as_of
                },
            )
            .await?;
            Ok(crate::pipeline::Step::Ran(
                crate::pipeline::Report::Recommend(o),
            ))
        })
    }
}
