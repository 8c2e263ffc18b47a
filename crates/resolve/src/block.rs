//! Blocking: which record pairs are compared at all.
//!
//! Each rule groups records by the hash of its keys; every pair inside a group is a candidate
//! unless an earlier rule already produced it (the pair agrees on that rule's keys too), so a
//! pair is compared once however many rules it meets. Groups larger than the size guard are
//! skipped and reported: a key shared by thousands of records is a placeholder or too common
//! to mean anything, and comparing it would cost a quadratic number of pairs.

use std::hash::{BuildHasher, Hasher};

use ahash::AHashMap;
use rayon::prelude::*;
use serde::Serialize;

use crate::compare::{Cutoffs, Field, pattern};
use crate::config::Plan;
use crate::record::{KeyField, Record};

/// One blocking rule's key hash per record (`None`: the record lacks a key).
pub type Keys = Vec<Vec<Option<u64>>>;

/// A compared pair: record indices (a < b) and the packed comparison vector.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Candidate {
    pub a: u32,
    pub b: u32,
    pub pattern: u32,
    /// The blocking rule that produced the pair.
    pub rule: u8,
}

/// What one blocking rule contributed.
#[derive(Debug, Clone, Default, Serialize)]
pub struct RuleReport {
    pub rule: String,
    /// Records with every key of the rule.
    pub keyed_records: u64,
    /// Groups of two or more records within the size guard.
    pub blocks: u64,
    /// Pairs inside those groups.
    pub pairs: u64,
    /// Of those, pairs no earlier rule produced: the ones this rule adds.
    pub new_pairs: u64,
    /// Groups above the size guard, skipped.
    pub oversized_blocks: u64,
    /// Records in skipped groups.
    pub oversized_records: u64,
    /// The largest skipped groups: an example record number and the group's size.
    pub largest_oversized: Vec<(String, u64)>,
}

const SEEDS: [u64; 4] = [
    0x243f_6a88_85a3_08d3,
    0x1319_8a2e_0370_7344,
    0xa409_3822_299f_31d0,
    0x082e_fa98_ec4e_6c89,
];

/// Hashes every rule's keys for every record. Corporates and individuals never share a key.
pub fn keys(records: &[Record], rules: &[(String, Vec<KeyField>)]) -> Keys {
    let state = ahash::RandomState::with_seeds(SEEDS[0], SEEDS[1], SEEDS[2], SEEDS[3]);
    rules
        .iter()
        .map(|(_, fields)| {
            records
                .par_iter()
                .map(|r| {
                    let mut h = state.build_hasher();
                    h.write_u8(u8::from(r.corporate));
                    for &f in fields {
                        let v = r.key(f)?;
                        h.write(v.as_bytes());
                        h.write_u8(0xff);
                    }
                    Some(h.finish())
                })
                .collect()
        })
        .collect()
}

/// The groups of one rule: runs of record indices sharing a key, sorted by key.
fn groups(keys: &[Option<u64>]) -> Vec<Vec<u32>> {
    let mut keyed: Vec<(u64, u32)> = keys
        .iter()
        .enumerate()
        .filter_map(|(i, k)| k.map(|k| (k, i as u32)))
        .collect();
    keyed.par_sort_unstable();
    let mut out = Vec::new();
    let mut start = 0;
    for i in 1..=keyed.len() {
        if i == keyed.len() || keyed[i].0 != keyed[start].0 {
            if i - start >= 2 {
                out.push(keyed[start..i].iter().map(|(_, r)| *r).collect());
            }
            start = i;
        }
    }
    out
}

/// Whether an earlier rule already pairs `a` and `b`.
fn seen_before(keys: &Keys, rule: usize, a: usize, b: usize) -> bool {
    keys[..rule]
        .iter()
        .any(|k| matches!((k[a], k[b]), (Some(x), Some(y)) if x == y))
}

/// Generates the candidate pairs of every rule, compares each once, and reports per rule.
/// With `compare = false` it only counts (for `--explain-blocking`); with `train`, it also
/// counts the comparison vectors of the pairs earlier rules produced, for per-rule training.
#[allow(clippy::too_many_arguments)]
pub fn candidates(
    records: &[Record],
    plan: &Plan,
    keys: &mut Keys,
    max_block_size: usize,
    cutoffs: &Cutoffs,
    compare: bool,
    train: bool,
    progress: &(dyn Fn(usize) + Sync),
) -> (Vec<Candidate>, Vec<RuleReport>, Vec<AHashMap<u32, f64>>) {
    let fields: &[Field] = &plan.fields;
    let mut out = Vec::new();
    let mut reports = Vec::new();
    let mut training = Vec::new();
    for (r, (name, _)) in plan.blocking.iter().enumerate() {
        let groups = groups(&keys[r]);
        let mut report = RuleReport {
            rule: name.clone(),
            keyed_records: keys[r].iter().filter(|k| k.is_some()).count() as u64,
            ..RuleReport::default()
        };
        let mut oversized: Vec<(String, u64)> = Vec::new();
        let mut kept = Vec::new();
        let mut big_member = vec![false; records.len()];
        for g in groups {
            if g.len() > max_block_size {
                for &i in &g {
                    big_member[i as usize] = true;
                }
                report.oversized_blocks += 1;
                report.oversized_records += g.len() as u64;
                oversized.push((records[g[0] as usize].cust_no.clone(), g.len() as u64));
            } else {
                report.blocks += 1;
                report.pairs += (g.len() * (g.len() - 1) / 2) as u64;
                kept.push(g);
            }
        }
        // A skipped group pairs nobody, so later rules must not count its pairs as seen.
        for (r_key, &is_big) in keys[r].iter_mut().zip(&big_member) {
            if is_big {
                *r_key = None;
            }
        }
        oversized.sort_by_key(|o| std::cmp::Reverse(o.1));
        oversized.truncate(10);
        report.largest_oversized = oversized;
        let keys = &*keys;
        let found: Vec<(Vec<Candidate>, Vec<u32>)> = kept
            .par_iter()
            .map(|g| {
                let mut v = Vec::new();
                let mut seen = Vec::new();
                for (x, &i) in g.iter().enumerate() {
                    for &j in &g[x + 1..] {
                        let (a, b) = if i < j { (i, j) } else { (j, i) };
                        if seen_before(keys, r, a as usize, b as usize) {
                            if train {
                                seen.push(pattern(
                                    fields,
                                    &records[a as usize],
                                    &records[b as usize],
                                    cutoffs,
                                ));
                            }
                            continue;
                        }
                        let p = if compare {
                            pattern(fields, &records[a as usize], &records[b as usize], cutoffs)
                        } else {
                            0
                        };
                        v.push(Candidate {
                            a,
                            b,
                            pattern: p,
                            rule: r as u8,
                        });
                    }
                }
                (v, seen)
            })
            .collect();
        let new_pairs: usize = found.iter().map(|(v, _)| v.len()).sum();
        report.new_pairs = new_pairs as u64;
        let mut counts: AHashMap<u32, f64> = AHashMap::new();
        if compare {
            out.reserve(new_pairs);
            for (v, seen) in found {
                if train {
                    for p in v.iter().map(|c| c.pattern).chain(seen) {
                        *counts.entry(p).or_default() += 1.0;
                    }
                }
                out.extend(v);
            }
        }
        training.push(counts);
        reports.push(report);
        progress(r + 1);
    }
    (out, reports, training)
}

#[cfg(test)]
mod tests {
    use chrono::NaiveDate;

    use super::*;
    use crate::config::ResolveConfig;
    use crate::record::Input;

    #[test]
    fn every_pair_is_compared_once_and_big_blocks_are_skipped() {
        let today = NaiveDate::from_ymd_opt(2026, 1, 1).unwrap();
        let mut inputs = Vec::new();
        for i in 0..6 {
            inputs.push(Input {
                cust_no: format!("{i}"),
                surname: Some("王".into()),
                given_name: Some("伟".into()),
                birth_date: NaiveDate::from_ymd_opt(1980, 1, 1),
                mobile: Some(if i < 2 {
                    "13957114382".into()
                } else {
                    format!("1396711438{i}")
                }),
                ..Input::default()
            });
        }
        let records: Vec<Record> = inputs.iter().map(|i| Record::new(i, today, &[])).collect();
        let mut cfg = ResolveConfig::default();
        let plan = cfg.plan().unwrap();
        let mut k = keys(&records, &plan.blocking);
        let (c, reports, _) = candidates(
            &records,
            &plan,
            &mut k.clone(),
            100,
            &cfg.cutoffs,
            true,
            false,
            &|_| {},
        );
        assert_eq!(c.len(), 15);
        let mut pairs: Vec<_> = c.iter().map(|c| (c.a, c.b)).collect();
        pairs.sort();
        pairs.dedup();
        assert_eq!(pairs.len(), 15);
        assert_eq!(reports[0].new_pairs, 15);
        assert_eq!(
            reports.iter().find(|r| r.rule == "mobile").unwrap().pairs,
            1
        );
        assert_eq!(
            reports
                .iter()
                .find(|r| r.rule == "mobile")
                .unwrap()
                .new_pairs,
            0
        );

        cfg.max_block_size = 5;
        let (c, reports, _) = candidates(
            &records,
            &plan,
            &mut k,
            5,
            &cfg.cutoffs,
            true,
            false,
            &|_| {},
        );
        assert_eq!(reports[0].oversized_blocks, 1);
        assert_eq!(reports[0].oversized_records, 6);
        // Only the shared mobile still pairs anyone.
        assert_eq!(c.len(), 1);
    }
}
