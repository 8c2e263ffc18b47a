//! `links`: typed, scored, explainable links between parties, and the households, corporate
//! groups and guarantee chains they form.
//!
//! Link kinds:
//! - `household_address` — individuals with a customer record at the same normalised
//!   address (room included);
//!   score 0.9 with the same surname, 0.7 without;
//! - `shared_mobile`, `shared_email` — parties whose customer records share a valid mobile or
//!   e-mail (placeholders never link); 0.6 and 0.5;
//! - declared relations from `relation` (`spouse`, `parent`, `child`, `guarantor`,
//!   `legal_rep`, `shareholder`, `group_member`, `employee_of`); 1.0;
//! - `transfer` — at least `min_count` transfers worth at least `min_amount` in total between
//!   two parties in the last `window_days`; score count / 12, at most 1;
//! - `group_id` — corporates carrying the same group customer id; 1.0.
//!
//! Groups are connected components: households over household_address, spouse, parent and
//! child between individuals; corporate groups over group_id, group_member and shareholder
//! between corporates; guarantee chains over guarantor. A union that would make a component
//! larger than its guard is refused and counted, so one shared address of a dormitory or a
//! data error cannot chain thousands of parties into one group.

#![allow(clippy::needless_range_loop)]

use std::collections::BTreeMap;
use std::sync::Arc;

use ahash::AHashMap;
use arrow::array::{Array, ArrayRef, AsArray, Float64Array, RecordBatch, StringArray};
use arrow::datatypes::{DataType, Field, Float64Type, Int64Type, Schema};
use datafusion::prelude::SessionContext;
use portrait_resolve::names::is_placeholder_name;
use portrait_resolve::normal::{normalise_address, normalise_email, normalise_mobile};
use portrait_store::Store;
use serde::{Deserialize, Serialize};

use crate::{EngineError, Result};

pub const LINK: &str = "link";
pub const PARTY_GROUP: &str = "party_group";

/// `[links]` in portrait.toml.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LinkConfig {
    /// Addresses shared by more parties than this (dormitories, company addresses, data
    /// errors) make no household links.
    pub max_address_parties: usize,
    /// Mobiles or e-mails shared by more parties than this make no links.
    pub max_contact_parties: usize,
    pub transfer_min_count: u64,
    pub transfer_min_amount: f64,
    pub transfer_window_days: i64,
    /// Largest household, corporate group and guarantee chain.
    pub max_household: usize,
    pub max_corp_group: usize,
    pub max_guarantee_chain: usize,
}

impl Default for LinkConfig {
    fn default() -> Self {
        Self {
            max_address_parties: 8,
            max_contact_parties: 5,
            transfer_min_count: 3,
            transfer_min_amount: 1000.0,
            transfer_window_days: 365,
            max_household: 12,
            max_corp_group: 500,
            max_guarantee_chain: 200,
        }
    }
}

impl LinkConfig {
    pub fn validate(&self) -> std::result::Result<(), String> {
        for (name, v) in [
            ("max_address_parties", self.max_address_parties),
            ("max_contact_parties", self.max_contact_parties),
            ("max_household", self.max_household),
            ("max_corp_group", self.max_corp_group),
            ("max_guarantee_chain", self.max_guarantee_chain),
        ] {
            if v < 2 {
                return Err(format!("links.{name}: must be at least 2, found {v}"));
            }
        }
        if self.transfer_window_days < 1 {
            return Err("links.transfer_window_days: must be at least 1".into());
        }
        if self.transfer_min_amount.is_nan() || self.transfer_min_amount < 0.0 {
            return Err("links.transfer_min_amount: must be a non-negative amount".into());
        }
        Ok(())
    }
}

/// What `links` wrote.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Outcome {
    pub links_by_kind: BTreeMap<String, u64>,
    pub households: u64,
    pub parties_in_households: u64,
    pub corp_groups: u64,
    pub guarantee_chains: u64,
    /// Unions refused by the size guards, per group kind.
    pub refused_unions: BTreeMap<String, u64>,
    /// Addresses, mobiles and e-mails skipped for being shared too widely.
    pub skipped_shared_values: u64,
    pub version: u64,
}

struct Link {
    a: u32,
    b: u32,
    kind: &'static str,
    score: f64,
    evidence: String,
}

/// Declared relation types, as link kinds.
const DECLARED: &[&str] = &[
    "spouse",
    "parent",
    "child",
    "guarantor",
    "legal_rep",
    "shareholder",
    "group_member",
    "employee_of",
];

async fn rows(ctx: &SessionContext, sql: &str) -> Result<Vec<RecordBatch>> {
    let batches = ctx.sql(sql).await?.collect().await?;
    Ok(batches)
}

fn text(b: &RecordBatch, c: usize) -> Result<Vec<Option<String>>> {
    let a = crate::utf8(b.column(c))?;
    let a = a.as_string::<i32>();
    Ok((0..a.len())
        .map(|i| (!a.is_null(i)).then(|| a.value(i).to_string()))
        .collect())
}

/// Computes the links and groups of the store's parties and commits them.
pub async fn run(
    store: &Store,
    cfg: &LinkConfig,
    stage: &(dyn Fn(&str) + Sync),
) -> Result<Outcome> {
    cfg.validate().map_err(EngineError::Usage)?;
    if store.table(crate::identity::PARTY).is_none()
        || store.table(crate::identity::PARTY_MEMBER).is_none()
    {
        return Err(EngineError::Usage(
            "the store has no parties yet\nhint: run `portrait resolve` first".into(),
        ));
    }
    let ctx = crate::open_session(store).await?;
    crate::features::register_missing_inputs(&ctx, store)?;
    let mut out = Outcome::default();

    // Parties, in id order: the dense index every link uses.
    stage("reading parties");
    let mut ids: Vec<String> = Vec::new();
    let mut corporate: Vec<bool> = Vec::new();
    let mut surname: Vec<Option<String>> = Vec::new();
    let mut group: Vec<Option<String>> = Vec::new();
    for b in rows(
        &ctx,
        "SELECT party_id, CAST(cust_type AS VARCHAR), surname, group_id FROM party ORDER BY party_id",
    )
    .await?
    {
        let cols: Vec<Vec<Option<String>>> = (0..4).map(|c| text(&b, c)).collect::<Result<_>>()?;
        for i in 0..b.num_rows() {
            ids.push(cols[0][i].clone().unwrap_or_default());
            corporate.push(cols[1][i].as_deref() == Some("corporate"));
            surname.push(cols[2][i].clone());
            group.push(cols[3][i].clone().filter(|g| !g.trim().is_empty()));
        }
    }
    let index: AHashMap<&str, u32> = ids
        .iter()
        .enumerate()
        .map(|(i, p)| (p.as_str(), i as u32))
        .collect();
    let n = ids.len();
    let mut links: Vec<Link> = Vec::new();

    // Shared contacts, over every member record.
    stage("reading addresses and contacts");
    let mut by_mobile: AHashMap<String, Vec<u32>> = AHashMap::new();
    let mut by_email: AHashMap<String, Vec<u32>> = AHashMap::new();
    let mut by_address: AHashMap<String, Vec<u32>> = AHashMap::new();
    for b in rows(
        &ctx,
        "SELECT m.party_id, c.mobile, c.email, c.province, c.city, c.district, c.address \
         FROM party_member m JOIN customer c ON c.cust_no = m.cust_no",
    )
    .await?
    {
        let cols: Vec<Vec<Option<String>>> = (0..7).map(|c| text(&b, c)).collect::<Result<_>>()?;
        let (p, mo, em) = (&cols[0], &cols[1], &cols[2]);
        for i in 0..b.num_rows() {
            let Some(&pi) = p[i].as_deref().and_then(|p| index.get(p)) else {
                continue;
            };
            if let Some(m) = mo[i].as_deref().and_then(normalise_mobile) {
                by_mobile.entry(m).or_default().push(pi);
            }
            if let Some(e) = em[i].as_deref().and_then(normalise_email) {
                by_email.entry(e).or_default().push(pi);
            }
            // Every member's address: a party's numbers may carry several.
            if let Some(a) = cols[6][i].as_deref()
                && !corporate[pi as usize]
            {
                let a = normalise_address(
                    a,
                    cols[3][i].as_deref().unwrap_or(""),
                    cols[4][i].as_deref().unwrap_or(""),
                    cols[5][i].as_deref().unwrap_or(""),
                );
                if a.chars().any(|c| c.is_ascii_digit()) {
                    by_address.entry(a).or_default().push(pi);
                }
            }
        }
    }
    // Same address.
    stage("linking households");
    let mut addresses: Vec<(&String, &mut Vec<u32>)> = by_address.iter_mut().collect();
    addresses.sort_by(|a, b| a.0.cmp(b.0));
    for (_, members) in addresses {
        members.sort_unstable();
        members.dedup();
        if members.len() < 2 {
            continue;
        }
        if members.len() > cfg.max_address_parties {
            out.skipped_shared_values += 1;
            continue;
        }
        for (x, &p) in members.iter().enumerate() {
            for &q in &members[x + 1..] {
                let same = matches!((&surname[p as usize], &surname[q as usize]), (Some(s), Some(t)) if s == t && !is_placeholder_name(s));
                links.push(Link {
                    a: p,
                    b: q,
                    kind: "household_address",
                    score: if same { 0.9 } else { 0.7 },
                    // The evidence names what is shared, never the value: the address is
                    // in both parties' records, masked there for whoever may not see it.
                    evidence: if same {
                        "same address, same surname"
                    } else {
                        "same address"
                    }
                    .to_string(),
                });
            }
        }
    }

    for (kind, map, score, evidence) in [
        ("shared_mobile", &mut by_mobile, 0.6, "same mobile"),
        ("shared_email", &mut by_email, 0.5, "same e-mail"),
    ] {
        let mut values: Vec<(&String, &mut Vec<u32>)> = map.iter_mut().collect();
        values.sort_by(|a, b| a.0.cmp(b.0));
        for (_, members) in values {
            members.sort_unstable();
            members.dedup();
            if members.len() < 2 {
                continue;
            }
            if members.len() > cfg.max_contact_parties {
                out.skipped_shared_values += 1;
                continue;
            }
            for (x, &p) in members.iter().enumerate() {
                for &q in &members[x + 1..] {
                    links.push(Link {
                        a: p,
                        b: q,
                        kind,
                        score,
                        evidence: evidence.to_string(),
                    });
                }
            }
        }
    }

    // Declared relations.
    if store.table("relation").is_some() {
        stage("reading declared relations");
        for b in rows(
            &ctx,
            "SELECT a.party_id, b.party_id, CAST(r.relation_type AS VARCHAR), r.cust_no, r.related_cust_no \
             FROM relation r JOIN party_member a ON a.cust_no = r.cust_no \
             JOIN party_member b ON b.cust_no = r.related_cust_no WHERE a.party_id <> b.party_id",
        )
        .await?
        {
            let cols: Vec<Vec<Option<String>>> = (0..5).map(|c| text(&b, c)).collect::<Result<_>>()?;
            for i in 0..b.num_rows() {
                let (Some(&p), Some(&q)) = (
                    cols[0][i].as_deref().and_then(|x| index.get(x)),
                    cols[1][i].as_deref().and_then(|x| index.get(x)),
                ) else {
                    continue;
                };
                let Some(kind) = cols[2][i].as_deref().and_then(|t| DECLARED.iter().find(|d| **d == t)) else {
                    continue;
                };
                links.push(Link {
                    a: p,
                    b: q,
                    kind,
                    score: 1.0,
                    evidence: format!(
                        "declared: {} is {kind} of {}",
                        cols[4][i].as_deref().unwrap_or(""),
                        cols[3][i].as_deref().unwrap_or("")
                    ),
                });
            }
        }
    }

    // Frequent transfers.
    if store.table("transaction").is_some() {
        stage("counting transfers between parties");
        // The window's start first, as a literal: joined in, it made a nested-loop join, which
        // under a memory budget re-runs its input and DataFusion 55 then panics ("partition
        // not used yet").
        let since = rows(
            &ctx,
            &format!(
                "SELECT CAST(MAX(ts) - INTERVAL '{} days' AS VARCHAR) AS since FROM \"transaction\" WHERE counterparty IS NOT NULL",
                cfg.transfer_window_days
            ),
        )
        .await?
        .first()
        .map(|b| text(b, 0))
        .transpose()?
        .and_then(|v| v.into_iter().next().flatten());
        // The mappings on the left, where a hash join holds its side: the transactions are
        // the big side.
        let batches = match since {
            Some(since) => {
                let sql = format!(
                    "SELECT b.party_id AS pb, x.pa, COUNT(*), SUM(CAST(x.amount AS DOUBLE)) \
                     FROM party_member b JOIN ( \
                       SELECT a.party_id AS pa, t.counterparty, t.amount FROM party_member a \
                       JOIN \"transaction\" t ON a.cust_no = t.cust_no \
                       WHERE t.counterparty IS NOT NULL AND t.ts >= CAST('{}' AS TIMESTAMP)) x \
                     ON b.cust_no = x.counterparty \
                     WHERE x.pa <> b.party_id GROUP BY x.pa, b.party_id",
                    since.replace('\'', "")
                );
                rows(&ctx, &sql).await?
            }
            // No transfer has a counterparty.
            None => Vec::new(),
        };
        let mut pairs: AHashMap<(u32, u32), (i64, f64)> = AHashMap::new();
        for b in batches {
            let (p, q) = (text(&b, 0)?, text(&b, 1)?);
            let cnt = b.column(2).as_primitive::<Int64Type>();
            let amt = b.column(3).as_primitive::<Float64Type>();
            for i in 0..b.num_rows() {
                let (Some(&x), Some(&y)) = (
                    p[i].as_deref().and_then(|v| index.get(v)),
                    q[i].as_deref().and_then(|v| index.get(v)),
                ) else {
                    continue;
                };
                let e = pairs.entry((x.min(y), x.max(y))).or_default();
                e.0 += cnt.value(i);
                e.1 += amt.value(i).abs();
            }
        }
        let mut pairs: Vec<_> = pairs.into_iter().collect();
        pairs.sort_by_key(|(k, _)| *k);
        for ((x, y), (count, total)) in pairs {
            if count as u64 >= cfg.transfer_min_count && total >= cfg.transfer_min_amount {
                links.push(Link {
                    a: x,
                    b: y,
                    kind: "transfer",
                    score: (count as f64 / 12.0).min(1.0),
                    evidence: format!(
                        "{count} transfers, {total:.2} in total, in the last {} days",
                        cfg.transfer_window_days
                    ),
                });
            }
        }
    }

    // Group customer ids of corporates: a star around the group's first party.
    let mut by_group: BTreeMap<&str, Vec<u32>> = BTreeMap::new();
    for i in 0..n {
        if corporate[i]
            && let Some(g) = group[i].as_deref()
        {
            by_group.entry(g).or_default().push(i as u32);
        }
    }
    for (g, members) in &by_group {
        for &q in &members[1..] {
            links.push(Link {
                a: members[0],
                b: q,
                kind: "group_id",
                score: 1.0,
                evidence: format!("same group customer id {g}"),
            });
        }
    }

    // One link per pair and kind, the strongest.
    for l in &mut links {
        if l.a > l.b {
            std::mem::swap(&mut l.a, &mut l.b);
        }
    }
    links.sort_by(|x, y| {
        (x.a, x.b, x.kind)
            .cmp(&(y.a, y.b, y.kind))
            .then(y.score.total_cmp(&x.score))
    });
    links.dedup_by(|later, first| (later.a, later.b, later.kind) == (first.a, first.b, first.kind));
    for l in &links {
        *out.links_by_kind.entry(l.kind.to_string()).or_default() += 1;
    }

    // Groups.
    stage("forming groups");
    let household = components(n, &links, cfg.max_household, |l| {
        matches!(l.kind, "household_address" | "spouse" | "parent" | "child")
            && !corporate[l.a as usize]
            && !corporate[l.b as usize]
    });
    let corp = components(n, &links, cfg.max_corp_group, |l| {
        matches!(l.kind, "group_id" | "group_member" | "shareholder")
            && corporate[l.a as usize]
            && corporate[l.b as usize]
    });
    let chain = components(n, &links, cfg.max_guarantee_chain, |l| {
        l.kind == "guarantor"
    });
    for (name, c) in [
        ("household", &household),
        ("corp_group", &corp),
        ("guarantee_chain", &chain),
    ] {
        if c.refused > 0 {
            out.refused_unions.insert(name.to_string(), c.refused);
        }
    }
    let group_id = |c: &Components, i: usize, prefix: char, always: bool| -> Option<String> {
        let r = c.root[i] as usize;
        (always || c.size[r] > 1).then(|| format!("{prefix}{}", &ids[c.min[r] as usize][1..]))
    };
    let mut hh = Vec::with_capacity(n);
    let mut cg = Vec::with_capacity(n);
    let mut gc = Vec::with_capacity(n);
    for i in 0..n {
        hh.push(if corporate[i] {
            None
        } else {
            group_id(&household, i, 'H', true)
        });
        cg.push(if corporate[i] {
            group_id(&corp, i, 'G', true)
        } else {
            None
        });
        gc.push(group_id(&chain, i, 'C', false));
    }
    out.households = (0..n)
        .filter(|&i| !corporate[i] && household.root[i] as usize == i && household.size[i] > 1)
        .count() as u64;
    out.parties_in_households = (0..n)
        .filter(|&i| !corporate[i] && household.size[household.root[i] as usize] > 1)
        .count() as u64;
    out.corp_groups = (0..n)
        .filter(|&i| corporate[i] && corp.root[i] as usize == i && corp.size[i] > 1)
        .count() as u64;
    out.guarantee_chains = (0..n)
        .filter(|&i| chain.root[i] as usize == i && chain.size[i] > 1)
        .count() as u64;

    // Write both tables in one commit.
    stage("writing links and groups");
    let mut txn = store.begin()?;
    let link_schema = Arc::new(Schema::new(vec![
        Field::new("party_a", DataType::Utf8, false),
        Field::new("party_b", DataType::Utf8, false),
        Field::new("kind", DataType::Utf8, false),
        Field::new("score", DataType::Float64, false),
        Field::new("evidence", DataType::Utf8, false),
    ]));
    let batch = RecordBatch::try_new(
        link_schema.clone(),
        vec![
            Arc::new(StringArray::from_iter_values(
                links.iter().map(|l| ids[l.a as usize].as_str()),
            )) as ArrayRef,
            Arc::new(StringArray::from_iter_values(
                links.iter().map(|l| ids[l.b as usize].as_str()),
            )),
            Arc::new(StringArray::from_iter_values(links.iter().map(|l| l.kind))),
            Arc::new(Float64Array::from_iter_values(
                links.iter().map(|l| l.score),
            )),
            Arc::new(StringArray::from_iter_values(
                links.iter().map(|l| l.evidence.as_str()),
            )),
        ],
    )?;
    crate::output::stage_batches(
        &mut txn,
        LINK,
        link_schema,
        &[batch],
        "links between parties",
    )?;
    let group_schema = Arc::new(Schema::new(vec![
        Field::new("party_id", DataType::Utf8, false),
        Field::new("household_id", DataType::Utf8, true),
        Field::new("corp_group_id", DataType::Utf8, true),
        Field::new("guarantee_chain_id", DataType::Utf8, true),
    ]));
    let batch = RecordBatch::try_new(
        group_schema.clone(),
        vec![
            Arc::new(StringArray::from_iter_values(ids.iter())) as ArrayRef,
            Arc::new(StringArray::from(hh)),
            Arc::new(StringArray::from(cg)),
            Arc::new(StringArray::from(gc)),
        ],
    )?;
    crate::output::stage_batches(
        &mut txn,
        PARTY_GROUP,
        group_schema,
        &[batch],
        "households, corporate groups, guarantee chains",
    )?;
    out.version = txn.commit()?.version;
    Ok(out)
}

struct Components {
    root: Vec<u32>,
    size: Vec<u32>,
    /// Smallest member of each root's component: its id names the group.
    min: Vec<u32>,
    refused: u64,
}

/// Connected components over the links `keep` accepts, strongest first, refusing unions
/// past `max` members.
fn components(n: usize, links: &[Link], max: usize, keep: impl Fn(&Link) -> bool) -> Components {
    let mut parent: Vec<u32> = (0..n as u32).collect();
    let mut size = vec![1u32; n];
    let mut min: Vec<u32> = (0..n as u32).collect();
    let mut refused = 0;
    fn find(parent: &mut [u32], mut x: u32) -> u32 {
        while parent[x as usize] != x {
            let p = parent[x as usize];
            parent[x as usize] = parent[p as usize];
            x = p;
        }
        x
    }
    let mut order: Vec<&Link> = links.iter().filter(|l| keep(l)).collect();
    order.sort_by(|x, y| {
        y.score
            .total_cmp(&x.score)
            .then((x.a, x.b).cmp(&(y.a, y.b)))
    });
    for l in order {
        let (ra, rb) = (find(&mut parent, l.a), find(&mut parent, l.b));
        if ra == rb {
            continue;
        }
        if (size[ra as usize] + size[rb as usize]) as usize > max {
            refused += 1;
            continue;
        }
        let (big, small) = if size[ra as usize] >= size[rb as usize] {
            (ra, rb)
        } else {
            (rb, ra)
        };
        parent[small as usize] = big;
        size[big as usize] += size[small as usize];
        min[big as usize] = min[big as usize].min(min[small as usize]);
    }
    let root: Vec<u32> = (0..n as u32).map(|i| find(&mut parent, i)).collect();
    Components {
        root,
        size,
        min,
        refused,
    }
}

/// The `links` stage: related parties and their groups.
pub struct LinksStage;

impl crate::pipeline::Stage for LinksStage {
    fn name(&self) -> &'static str {
        "links"
    }
    fn requires(&self) -> crate::pipeline::Requirement {
        &[&[crate::identity::PARTY], &[crate::identity::PARTY_MEMBER]]
    }
    fn uses(&self) -> &'static [&'static str] {
        &["customer", "relation", "transaction"]
    }
    fn writes(&self) -> &'static [&'static str] {
        &[LINK, PARTY_GROUP]
    }
    fn run<'a>(
        &'a self,
        store: &'a Store,
        settings: &'a crate::pipeline::Settings,
        progress: &'a dyn crate::pipeline::Progress,
    ) -> futures::future::BoxFuture<'a, Result<crate::pipeline::Step>> {
        Box::pin(async move {
            let o = run(store, &settings.links, &|s: &str| progress.stage(s)).await?;
            Ok(crate::pipeline::Step::Ran(crate::pipeline::Report::Links(
                o,
            )))
        })
    }
}
