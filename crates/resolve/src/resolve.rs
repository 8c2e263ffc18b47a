//! The whole resolution: records in, a party and its reason per record out.

use std::fmt::Write as _;
use std::hash::{BuildHasher, Hasher};

use ahash::AHashMap;
use chrono::NaiveDate;
use rayon::prelude::*;
use serde::Serialize;

use crate::block::{self, RuleReport};
use crate::cluster::{self, Merge, Reason, Refusal};
use crate::compare::{Field, pattern, unpack};
use crate::config::{ConfigError, ResolveConfig, USource};
use crate::em::{self, Model};
use crate::record::{IdKind, Input, Record};

/// An operator's decision, respected by every later run.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "action", rename_all = "snake_case")]
pub enum Override {
    /// These two customer numbers are one party.
    Merge {
        a: String,
        b: String,
        by: String,
        reason: String,
    },
    /// This customer number is a party of its own (but for operator merges).
    Split {
        cust_no: String,
        by: String,
        reason: String,
    },
}

/// Why a record is in its party.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Member {
    /// `single`, `manual`, `id_no`, `uscc`, a configured rule's name, or `match`.
    pub rule: String,
    /// The match probability of the pair that attached the record (1 for rules).
    pub probability: Option<f64>,
    /// The pair and the evidence: rule, or per-field levels and weights.
    pub evidence: String,
}

/// Counts of a run.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Stats {
    pub records: u64,
    pub candidate_pairs: u64,
    pub matched_pairs: u64,
    pub rule_merges: u64,
    pub manual_merges: u64,
    pub parties: u64,
    pub multi_member_parties: u64,
    pub refused_conflicting_ids: u64,
    pub refused_split: u64,
    pub refused_weak_link: u64,
    pub refused_too_large: u64,
    /// Customer numbers of parties whose growth the size guard stopped (at most 20).
    pub size_guard_offenders: Vec<String>,
}

/// The outcome of [`resolve`], one entry per input record in input order.
#[derive(Debug, Clone)]
pub struct Resolution {
    /// The normalised records, in input order.
    pub records: Vec<Record>,
    pub party_id: Vec<String>,
    pub members: Vec<Member>,
    pub model: Option<Model>,
    pub blocking: Vec<RuleReport>,
    pub stats: Stats,
}

/// A party id: `P` and ten digits.
pub fn party_id(n: u64) -> String {
    format!("P{n:010}")
}

fn parse_party_id(s: &str) -> Option<u64> {
    s.strip_prefix('P')?.parse().ok()
}

/// Reports what every blocking rule would produce, without comparing anything.
pub fn explain_blocking(
    inputs: &[Input],
    cfg: &ResolveConfig,
    today: NaiveDate,
) -> Result<Vec<RuleReport>, ConfigError> {
    let plan = cfg.plan()?;
    let records = normalise(inputs, cfg, today);
    let mut keys = block::keys(&records, &plan.blocking);
    let (_, reports, _) = block::candidates(
        &records,
        &plan,
        &mut keys,
        cfg.max_block_size,
        &cfg.cutoffs,
        false,
        false,
        &|_| {},
    );
    Ok(reports)
}

fn normalise(inputs: &[Input], cfg: &ResolveConfig, today: NaiveDate) -> Vec<Record> {
    inputs
        .par_iter()
        .map(|i| Record::new(i, today, &cfg.placeholders))
        .collect()
}

fn hash(s: &str) -> u64 {
    let mut h = ahash::RandomState::with_seeds(1, 2, 3, 4).build_hasher();
    h.write(s.as_bytes());
    h.finish()
}

/// Resolves `inputs` into parties. `previous` maps customer numbers to the party ids of the
/// last run, so parties keep their ids; `overrides` are the operator's decisions.
pub fn resolve(
    inputs: &[Input],
    cfg: &ResolveConfig,
    today: NaiveDate,
    previous: &AHashMap<String, String>,
    overrides: &[Override],
    stage: &(dyn Fn(&str) + Sync),
) -> Result<Resolution, ConfigError> {
    let plan = cfg.plan()?;
    let n = inputs.len();
    stage("normalising records");
    let records = normalise(inputs, cfg, today);
    let index: AHashMap<&str, u32> = records
        .iter()
        .enumerate()
        .map(|(i, r)| (r.cust_no.as_str(), i as u32))
        .collect();

    stage("comparing candidate pairs");
    let mut keys = block::keys(&records, &plan.blocking);
    let (candidates, blocking, training) = block::candidates(
        &records,
        &plan,
        &mut keys,
        cfg.max_block_size,
        &cfg.cutoffs,
        true,
        cfg.u_source == USource::Random,
        &|_| {},
    );
    drop(keys);

    stage("sampling random pairs");
    let (u_random, sampled) = em::random_u(
        &records,
        &plan.fields,
        &cfg.cutoffs,
        cfg.random_pairs,
        cfg.seed,
    );
    stage("fitting m by EM");
    let people = records.iter().filter(|r| !r.corporate).count() as f64;
    let firms = n as f64 - people;
    let all_pairs = people * (people - 1.0) / 2.0 + firms * (firms - 1.0).max(0.0) / 2.0;
    let excluded: Vec<Vec<usize>> = plan
        .blocking
        .iter()
        .map(|(_, keys)| {
            plan.fields
                .iter()
                .enumerate()
                .filter(|(_, f)| keys.iter().any(|k| k.informs(**f)))
                .map(|(i, _)| i)
                .collect()
        })
        .collect();
    let model = em::fit(
        &plan.fields,
        &candidates,
        &excluded,
        &training,
        u_random,
        sampled,
        cfg.u_source,
        all_pairs,
        cfg.em_max_iterations,
    );

    stage("weighing pairs");
    let tf = TermFrequencies::new(&records, &model, cfg.term_frequencies);
    let mut weights: AHashMap<u32, f64> = AHashMap::new();
    let mut merges = Vec::new();
    for c in &candidates {
        let w = *weights
            .entry(c.pattern)
            .or_insert_with(|| model.weight(c.pattern))
            + tf.total(&model, c.pattern, &records[c.a as usize]);
        let probability = Model::probability(w);
        if probability >= cfg.threshold {
            merges.push(Merge {
                a: c.a,
                b: c.b,
                reason: Reason::Match {
                    weight: w,
                    probability,
                },
                pattern: Some(c.pattern),
            });
        }
    }
    let mut stats = Stats {
        records: n as u64,
        candidate_pairs: candidates.len() as u64,
        matched_pairs: merges.len() as u64,
        ..Stats::default()
    };
    drop(candidates);

    // Deterministic rules: chain each group of equal keys.
    let mut rule_groups: Vec<(String, AHashMap<u64, Vec<u32>>)> = vec![
        ("id_no".into(), AHashMap::new()),
        ("uscc".into(), AHashMap::new()),
    ];
    for (i, r) in records.iter().enumerate() {
        if let Some(id) = r.valid_id() {
            let g = if r.id_kind == IdKind::ValidResident {
                0
            } else {
                1
            };
            rule_groups[g].1.entry(hash(id)).or_default().push(i as u32);
        }
    }
    for (name, fields) in &plan.rules {
        let mut groups: AHashMap<u64, Vec<u32>> = AHashMap::new();
        for (i, r) in records.iter().enumerate() {
            let mut key = String::new();
            let complete = fields.iter().all(|&f| match r.key(f) {
                Some(v) => {
                    key.push_str(&v);
                    key.push('\u{1f}');
                    true
                }
                None => false,
            });
            if complete {
                key.push(if r.corporate { 'c' } else { 'i' });
                groups.entry(hash(&key)).or_default().push(i as u32);
            }
        }
        rule_groups.push((name.clone(), groups));
    }
    for (name, groups) in rule_groups {
        let mut groups: Vec<Vec<u32>> = groups.into_values().filter(|g| g.len() > 1).collect();
        groups.sort();
        for g in groups {
            for &b in &g[1..] {
                stats.rule_merges += 1;
                merges.push(Merge {
                    a: g[0],
                    b,
                    reason: Reason::Rule(name.clone()),
                    pattern: None,
                });
            }
        }
    }

    // Operator decisions.
    let mut split = vec![false; n];
    let mut manual_note: AHashMap<(u32, u32), String> = AHashMap::new();
    for o in overrides {
        match o {
            Override::Merge { a, b, by, reason } => {
                if let (Some(&x), Some(&y)) = (index.get(a.as_str()), index.get(b.as_str())) {
                    stats.manual_merges += 1;
                    manual_note.insert((x.min(y), x.max(y)), format!("merged by {by}: {reason}"));
                    merges.push(Merge {
                        a: x.min(y),
                        b: x.max(y),
                        reason: Reason::Manual,
                        pattern: None,
                    });
                }
            }
            Override::Split { cust_no, .. } => {
                if let Some(&x) = index.get(cust_no.as_str()) {
                    split[x as usize] = true;
                }
            }
        }
    }

    stage("clustering");
    let valid: Vec<Option<u64>> = records.iter().map(|r| r.valid_id().map(hash)).collect();
    let prob = |a: u32, b: u32| {
        let (ra, rb) = (&records[a as usize], &records[b as usize]);
        let p = pattern(&plan.fields, ra, rb, &cfg.cutoffs);
        Model::probability(model.weight(p) + tf.total(&model, p, ra))
    };
    let clusters = cluster::cluster(n, &mut merges, &valid, &split, cfg.max_party_size, &prob);
    let mut offenders = Vec::new();
    for &(k, why) in &clusters.refused {
        match why {
            Refusal::ConflictingIds => stats.refused_conflicting_ids += 1,
            Refusal::SplitByOperator => stats.refused_split += 1,
            Refusal::WeakLink => stats.refused_weak_link += 1,
            Refusal::TooLarge => {
                stats.refused_too_large += 1;
                let root = clusters.root[merges[k].a as usize];
                offenders.push(root);
            }
        }
    }
    offenders.sort();
    offenders.dedup();
    stats.size_guard_offenders = offenders
        .iter()
        .take(20)
        .map(|&r| records[r as usize].cust_no.clone())
        .collect();

    stage("numbering parties");
    let party_id = assign_ids(&clusters.root, &records, previous);
    let members = (0..n)
        .map(|i| {
            let Some(k) = clusters.attached_by[i] else {
                return Member {
                    rule: if split[i] { "split" } else { "single" }.into(),
                    probability: None,
                    evidence: String::new(),
                };
            };
            let m = &merges[k];
            let other = if m.a as usize == i { m.b } else { m.a };
            let with = &records[other as usize].cust_no;
            match &m.reason {
                Reason::Manual => Member {
                    rule: "manual".into(),
                    probability: Some(1.0),
                    evidence: format!(
                        "with {with}: {}",
                        manual_note
                            .get(&(m.a, m.b))
                            .map(String::as_str)
                            .unwrap_or("")
                    ),
                },
                Reason::Rule(name) => Member {
                    rule: name.clone(),
                    probability: Some(1.0),
                    evidence: format!("with {with}: same {name}"),
                },
                Reason::Match {
                    weight,
                    probability,
                } => Member {
                    rule: "match".into(),
                    probability: Some(*probability),
                    evidence: explain(
                        &model,
                        &tf,
                        (&records[i], &records[other as usize]),
                        m.pattern.unwrap_or(0),
                        *weight,
                    ),
                },
            }
        })
        .collect();
    let mut sizes: AHashMap<u32, u32> = AHashMap::new();
    for &r in &clusters.root {
        *sizes.entry(r).or_default() += 1;
    }
    stats.parties = sizes.len() as u64;
    stats.multi_member_parties = sizes.values().filter(|&&s| s > 1).count() as u64;
    Ok(Resolution {
        records,
        party_id,
        members,
        model: Some(model),
        blocking,
        stats,
    })
}

/// How common each value of the name fields is: an exact agreement on a rare name says
/// more than one on a common name. The weight of an exact agreement on value v becomes
/// log2(m / f(v)), f(v) being v's share of the records, instead of log2(m / u).
pub(crate) struct TermFrequencies {
    per_field: Vec<Option<AHashMap<String, f64>>>,
    floor: f64,
}

impl TermFrequencies {
    fn value(field: Field, r: &Record) -> &str {
        match field {
            Field::Name => &r.full,
            Field::Surname => &r.surname,
            Field::GivenName => &r.given,
            _ => "",
        }
    }

    fn new(records: &[Record], model: &Model, enabled: bool) -> Self {
        let per_field = model
            .fields
            .iter()
            .map(|&f| {
                if !enabled || !matches!(f, Field::Name | Field::Surname | Field::GivenName) {
                    return None;
                }
                let mut counts: AHashMap<String, f64> = AHashMap::new();
                let mut n = 0.0;
                for r in records {
                    let v = Self::value(f, r);
                    if !v.is_empty() {
                        *counts.entry(v.to_string()).or_default() += 1.0;
                        n += 1.0;
                    }
                }
                for c in counts.values_mut() {
                    *c /= n;
                }
                Some(counts)
            })
            .collect();
        Self {
            per_field,
            floor: 1.0 / records.len().max(1) as f64,
        }
    }

    /// The adjustment of each field's weight for a pair.
    fn adjustments(&self, model: &Model, levels: &[u8], a: &Record) -> Vec<f64> {
        levels
            .iter()
            .enumerate()
            .map(|(f, &l)| match &self.per_field[f] {
                Some(freq) if l == 1 => {
                    // Exact agreement: both records hold this value.
                    let v = Self::value(model.fields[f], a);
                    let share = freq.get(v).copied().unwrap_or(self.floor).max(self.floor);
                    (model.u[f][1] / share).log2()
                }
                _ => 0.0,
            })
            .collect()
    }

    fn total(&self, model: &Model, pattern: u32, a: &Record) -> f64 {
        if self.per_field.iter().all(Option::is_none) {
            return 0.0;
        }
        self.adjustments(model, &unpack(&model.fields, pattern), a)
            .iter()
            .sum()
    }
}

/// `with 1000000123: weight 23.4 = prior -17.2 name same_pinyin +9.1 …`
fn explain(
    model: &Model,
    tf: &TermFrequencies,
    (a, b): (&Record, &Record),
    pattern: u32,
    weight: f64,
) -> String {
    let levels = unpack(&model.fields, pattern);
    let fw = model.field_weights(&levels);
    let adj = tf.adjustments(model, &levels, a);
    let mut s = format!(
        "with {}: weight {weight:.2} = prior {:.2}",
        b.cust_no,
        (model.prior / (1.0 - model.prior)).log2()
    );
    for (((f, &l), w), t) in model.fields.iter().zip(&levels).zip(fw).zip(adj) {
        if l > 0 {
            let _ = write!(s, " {} {} {:+.2}", f.name(), f.levels()[l as usize], w + t);
            if t != 0.0 {
                s.push_str(" (name frequency)");
            }
        }
    }
    s
}

/// Party ids that survive from run to run: each cluster takes the previous id most of its
/// members had (a split-off part gets a new one); new clusters get fresh numbers.
fn assign_ids(
    root: &[u32],
    records: &[Record],
    previous: &AHashMap<String, String>,
) -> Vec<String> {
    // Records grouped by cluster, as runs of one sorted vector.
    let mut order: Vec<(u32, u32)> = root
        .iter()
        .enumerate()
        .map(|(i, &r)| (r, i as u32))
        .collect();
    order.sort_unstable();
    let runs: Vec<&[(u32, u32)]> = order.chunk_by(|x, y| x.0 == y.0).collect();
    // Each cluster's claims on previous ids: (cluster, members holding it, id).
    let mut claims: Vec<(u32, u32, &str)> = Vec::new();
    let mut tally: Vec<(&str, u32)> = Vec::new();
    for run in &runs {
        tally.clear();
        for &(_, i) in *run {
            if let Some(p) = previous.get(records[i as usize].cust_no.as_str()) {
                match tally.iter_mut().find(|(q, _)| *q == p.as_str()) {
                    Some(t) => t.1 += 1,
                    None => tally.push((p.as_str(), 1)),
                }
            }
        }
        claims.extend(tally.iter().map(|&(p, n)| (run[0].0, n, p)));
    }
    claims.sort_unstable_by(|x, y| y.1.cmp(&x.1).then(x.2.cmp(y.2)).then(x.0.cmp(&y.0)));
    let mut id_of: Vec<Option<String>> = vec![None; root.len()];
    let mut taken: ahash::AHashSet<&str> = ahash::AHashSet::with_capacity(claims.len());
    for (r, _, p) in claims {
        if id_of[r as usize].is_none() && taken.insert(p) {
            id_of[r as usize] = Some(p.to_string());
        }
    }
    let next = previous
        .values()
        .filter_map(|p| parse_party_id(p))
        .max()
        .map_or(1, |m| m + 1);
    // New clusters are numbered in the order of their smallest customer number.
    let mut fresh: Vec<(&str, u32)> = runs
        .iter()
        .filter(|run| id_of[run[0].0 as usize].is_none())
        .map(|run| {
            let first = run
                .iter()
                .map(|&(_, i)| records[i as usize].cust_no.as_str())
                .min()
                .unwrap_or("");
            (first, run[0].0)
        })
        .collect();
    fresh.sort_unstable();
    for (k, (_, r)) in fresh.into_iter().enumerate() {
        id_of[r as usize] = Some(party_id(next + k as u64));
    }
    root.iter()
        .map(|&r| id_of[r as usize].clone().expect("every cluster has an id"))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn person(cust: &str, name: &str, id: Option<&str>, mobile: &str) -> Input {
        Input {
            cust_no: cust.into(),
            name: Some(name.into()),
            birth_date: NaiveDate::from_ymd_opt(1988, 7, 20),
            id_no: id.map(str::to_string),
            mobile: Some(mobile.into()),
            address: Some("金华市义乌市长江街650号金色家园32栋3306室".into()),
            ..Input::default()
        }
    }

    fn today() -> NaiveDate {
        NaiveDate::from_ymd_opt(2026, 1, 1).unwrap()
    }

    #[test]
    fn ids_are_stable_and_overrides_respected() {
        let inputs = vec![
            person("1", "章浩荣", Some("330782198807207711"), "13513387272"),
            person("2", "章浩荣", Some("330782198807207711"), "13600000001"),
            person("3", "李四", None, "13700000002"),
        ];
        let cfg = ResolveConfig::default();
        let r = resolve(&inputs, &cfg, today(), &AHashMap::new(), &[], &|_| {}).unwrap();
        assert_eq!(r.party_id[0], r.party_id[1]);
        assert_ne!(r.party_id[0], r.party_id[2]);
        assert_eq!(r.members[1].rule, "id_no");
        assert_eq!(r.members[2].rule, "single");

        // A new number of an existing party joins it; nobody is renumbered.
        let previous: AHashMap<String, String> = inputs
            .iter()
            .zip(&r.party_id)
            .map(|(i, p)| (i.cust_no.clone(), p.clone()))
            .collect();
        let mut more = inputs.clone();
        more.insert(
            0,
            person("0", "章浩荣", Some("330782198807207711"), "13513387272"),
        );
        more.push(person("4", "王五", None, "13900000003"));
        let r2 = resolve(&more, &cfg, today(), &previous, &[], &|_| {}).unwrap();
        assert_eq!(r2.party_id[0], r.party_id[0]);
        assert_eq!(r2.party_id[1..4], r.party_id[..]);
        assert!(!r.party_id.contains(&r2.party_id[4]));

        // The operator splits 2 off and merges 3 into the first party.
        let overrides = vec![
            Override::Split {
                cust_no: "2".into(),
                by: "ops".into(),
                reason: "different person".into(),
            },
            Override::Merge {
                a: "1".into(),
                b: "3".into(),
                by: "ops".into(),
                reason: "same person, renamed".into(),
            },
        ];
        let r3 = resolve(&more, &cfg, today(), &previous, &overrides, &|_| {}).unwrap();
        assert_ne!(r3.party_id[2], r3.party_id[1]);
        assert_eq!(r3.party_id[3], r3.party_id[1]);
        assert_eq!(r3.party_id[1], r.party_id[0]);
        assert_eq!(r3.members[2].rule, "split");
        assert_eq!(r3.members[3].rule, "manual");
        assert!(r3.members[3].evidence.contains("same person, renamed"));
    }

    #[test]
    fn configured_exact_rules_merge_and_say_so() {
        // Same e-mail and birth date, different names: no match, but an exact rule merges.
        let mut a = person("1", "陈晓", None, "13700000002");
        let mut b = person("2", "林海", None, "13900000003");
        for p in [&mut a, &mut b] {
            p.email = Some("chenlin88@163.com".into());
            p.address = None;
        }
        let mut cfg = ResolveConfig::default();
        let r = resolve(
            &[a.clone(), b.clone()],
            &cfg,
            today(),
            &AHashMap::new(),
            &[],
            &|_| {},
        )
        .unwrap();
        assert_ne!(r.party_id[0], r.party_id[1]);
        cfg.rules.push(crate::config::ExactRule {
            name: "email_birth".into(),
            fields: vec!["email".into(), "birth_date".into()],
        });
        let r = resolve(&[a, b], &cfg, today(), &AHashMap::new(), &[], &|_| {}).unwrap();
        assert_eq!(r.party_id[0], r.party_id[1]);
        assert_eq!(r.members[1].rule, "email_birth");
        assert!(r.members[1].evidence.contains("same email_birth"));
    }
}
