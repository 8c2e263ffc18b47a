//! FP-Growth and the rules against brute-force enumeration on small random baskets.

use std::collections::{BTreeMap, BTreeSet};

use portrait_mining::{FpGrowthParams, association_rules};
use rand::Rng;

fn baskets(n: usize, items: u32, seed: u64) -> Vec<Vec<u32>> {
    let mut rng = crate::rng(seed);
    (0..n)
        .map(|_| {
            let len = rng.random_range(0..=6);
            // Skewed popularity: low ids are common; repeats inside a basket happen.
            (0..len)
                .map(|_| {
                    let u: f64 = rng.random();
                    ((u * u) * items as f64) as u32 * 3 + 5
                })
                .collect()
        })
        .collect()
}

/// Count of every non-empty subset of the item universe that occurs at all.
fn brute_counts(baskets: &[Vec<u32>]) -> BTreeMap<Vec<u32>, u64> {
    let universe: Vec<u32> = baskets
        .iter()
        .flatten()
        .copied()
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    let mut counts = BTreeMap::new();
    for mask in 1u32..(1 << universe.len()) {
        let set: Vec<u32> = (0..universe.len())
            .filter(|i| mask & (1 << i) != 0)
            .map(|i| universe[i])
            .collect();
        let c = baskets
            .iter()
            .filter(|b| set.iter().all(|i| b.contains(i)))
            .count() as u64;
        if c > 0 {
            counts.insert(set, c);
        }
    }
    counts
}

#[test]
fn itemsets_and_rules_match_brute_force() {
    for seed in 0..5 {
        let data = baskets(150 + 40 * seed as usize, 9, seed);
        let all = brute_counts(&data);
        let n = data.len() as f64;
        for min_support in [0.01, 0.05, 0.1, 0.25] {
            for max_len in [None, Some(2)] {
                let mut params = FpGrowthParams::new(min_support);
                params.max_len = max_len;
                let got = params.fit(&data).unwrap();
                let got_map: BTreeMap<Vec<u32>, u64> = got
                    .itemsets
                    .iter()
                    .map(|s| (s.items.clone(), s.count))
                    .collect();
                assert_eq!(got_map.len(), got.itemsets.len(), "no duplicates");
                let want: BTreeMap<Vec<u32>, u64> = all
                    .iter()
                    .filter(|(s, c)| {
                        **c as f64 / n >= min_support && max_len.is_none_or(|m| s.len() <= m)
                    })
                    .map(|(s, c)| (s.clone(), *c))
                    .collect();
                assert_eq!(
                    got_map, want,
                    "seed {seed} support {min_support} {max_len:?}"
                );

                for min_confidence in [0.0, 0.3, 0.7] {
                    let rules = association_rules(&got, min_confidence).unwrap();
                    let mut want_rules = BTreeMap::new();
                    for (set, &count) in &want {
                        let len = set.len();
                        if len < 2 {
                            continue;
                        }
                        for mask in 1u32..(1 << len) - 1 {
                            let a: Vec<u32> = (0..len)
                                .filter(|i| mask & (1 << i) != 0)
                                .map(|i| set[i])
                                .collect();
                            let c: Vec<u32> = (0..len)
                                .filter(|i| mask & (1 << i) == 0)
                                .map(|i| set[i])
                                .collect();
                            let conf = count as f64 / all[&a] as f64;
                            if conf >= min_confidence {
                                let sc = all[&c] as f64 / n;
                                want_rules.insert((a, c), (count, conf, conf / sc));
                            }
                        }
                    }
                    assert_eq!(rules.len(), want_rules.len());
                    for r in &rules {
                        let &(count, conf, lift) =
                            &want_rules[&(r.antecedent.clone(), r.consequent.clone())];
                        assert_eq!(r.count, count);
                        assert!((r.confidence - conf).abs() < 1e-12);
                        assert!((r.lift - lift).abs() < 1e-12);
                        assert!((r.support - count as f64 / n).abs() < 1e-12);
                        let sc = conf / lift;
                        if conf < 1.0 {
                            assert!((r.conviction - (1.0 - sc) / (1.0 - conf)).abs() < 1e-9);
                        } else {
                            assert!(r.conviction.is_infinite());
                        }
                    }
                }
            }
        }
    }
}

#[test]
fn deterministic_across_threads() {
    let data = baskets(5000, 30, 99);
    let params = FpGrowthParams::new(0.002);
    let one = crate::on_threads(1, || params.fit(&data).unwrap());
    let two = crate::on_threads(2, || params.fit(&data).unwrap());
    assert_eq!(one, two);
    assert!(one.itemsets.len() > 100);
}

#[test]
fn more_than_64_frequent_items_match_brute_force_pairs() {
    // Over 64 frequent items the tree is built by insertion rather than from bit sets.
    let mut rng = crate::rng(5);
    let data: Vec<Vec<u32>> = (0..3000)
        .map(|_| {
            (0..rng.random_range(1..=5))
                .map(|_| rng.random_range(0..100))
                .collect()
        })
        .collect();
    let n = data.len() as f64;
    for max_len in [Some(2), None] {
        let mut params = FpGrowthParams::new(0.004);
        params.max_len = max_len;
        let got = params.fit(&data).unwrap();
        assert!(got.itemsets.iter().filter(|s| s.items.len() == 1).count() > 64);
        let mut want = BTreeMap::new();
        for b in &data {
            let set: BTreeSet<u32> = b.iter().copied().collect();
            let items: Vec<u32> = set.into_iter().collect();
            for (x, &a) in items.iter().enumerate() {
                *want.entry(vec![a]).or_insert(0u64) += 1;
                for &c in &items[x + 1..] {
                    *want.entry(vec![a, c]).or_insert(0u64) += 1;
                }
            }
        }
        want.retain(|_, c| *c as f64 / n >= 0.004);
        let got_map: BTreeMap<Vec<u32>, u64> = got
            .itemsets
            .iter()
            .filter(|s| s.items.len() <= 2)
            .map(|s| (s.items.clone(), s.count))
            .collect();
        assert_eq!(got_map, want);
    }
}
