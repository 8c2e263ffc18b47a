//! 关联规则 — frequent itemsets by FP-Growth (Han, Pei & Yin 2000) and the association rules
//! built from them, with support, confidence, lift and conviction.
//!
//! Items are re-coded by descending frequency so that shared prefixes sit near the root; the
//! FP-tree lives in flat arrays (an arena of nodes with parent, first-child, sibling and
//! node-link indices); each item's conditional tree is built from its prefix paths, and a tree
//! that has become a single path yields its itemsets directly. The first level is mined in
//! parallel and the results concatenated in item order, so the output does not depend on the
//! number of threads.

use std::collections::HashMap;

use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use crate::{MiningError, Result};

/// 频繁项集参数 — parameters of FP-Growth, unchecked.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct FpGrowthParams {
    /// 最小支持度 — an itemset is frequent when it occurs in at least this fraction of the
    /// baskets, in (0, 1].
    pub min_support: f64,
    /// Longest itemset reported (default none: all lengths).
    pub max_len: Option<usize>,
}

impl FpGrowthParams {
    /// Itemsets of any length with support ≥ `min_support`.
    pub fn new(min_support: f64) -> Self {
        FpGrowthParams {
            min_support,
            max_len: None,
        }
    }

    /// Sets the longest itemset reported.
    pub fn max_len(mut self, max_len: usize) -> Self {
        self.max_len = Some(max_len);
        self
    }

    /// Checks the parameters.
    ///
    /// # Errors
    /// [`MiningError::InvalidParameter`]: "min_support must be in (0, 1]", "max_len cannot be 0".
    pub fn validate(&self) -> Result<FpGrowthValidParams> {
        if !(self.min_support > 0.0 && self.min_support <= 1.0) {
            return Err(MiningError::param("min_support", "must be in (0, 1]"));
        }
        if self.max_len == Some(0) {
            return Err(MiningError::param("max_len", "cannot be 0"));
        }
        Ok(FpGrowthValidParams(*self))
    }

    /// Validates and mines in one step.
    ///
    /// # Errors
    /// As [`FpGrowthParams::validate`].
    pub fn fit<B: AsRef<[u32]> + Sync>(&self, baskets: &[B]) -> Result<FrequentItemsets> {
        Ok(self.validate()?.fit(baskets))
    }
}

/// Checked FP-Growth parameters.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct FpGrowthValidParams(FpGrowthParams);

/// 频繁项集 — a set of items and the number of baskets that hold all of them.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Itemset {
    /// Item ids, ascending.
    pub items: Vec<u32>,
    /// Baskets that contain every item.
    pub count: u64,
}

/// The frequent itemsets of a set of baskets.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FrequentItemsets {
    /// Baskets mined (empty ones included).
    pub n_baskets: usize,
    /// The smallest count that was frequent.
    pub min_count: u64,
    /// The itemsets, by length and then by items.
    pub itemsets: Vec<Itemset>,
}

impl FrequentItemsets {
    /// The support (fraction of baskets) of an itemset.
    pub fn support(&self, itemset: &Itemset) -> f64 {
        itemset.count as f64 / self.n_baskets.max(1) as f64
    }
}

const NONE: u32 = u32::MAX;

/// Baskets per parallel task of the counting and re-coding passes.
const BASKET_CHUNK: usize = 16_384;

/// An FP-tree over ranks 0..m (rank 0 the most frequent item); node 0 is the root.
struct Tree {
    item: Vec<u32>,
    count: Vec<u64>,
    parent: Vec<u32>,
    first_child: Vec<u32>,
    next_sibling: Vec<u32>,
    link: Vec<u32>,
    /// First node of each rank (node-link list head), and its total count.
    head: Vec<u32>,
    total: Vec<u64>,
    /// The root's child of each rank, found without a sibling scan.
    root_child: Vec<u32>,
}

impl Tree {
    fn new(m: usize) -> Self {
        Tree {
            item: vec![NONE],
            count: vec![0],
            parent: vec![NONE],
            first_child: vec![NONE],
            next_sibling: vec![NONE],
            link: vec![NONE],
            head: vec![NONE; m],
            total: vec![0; m],
            root_child: vec![NONE; m],
        }
    }

    /// A new child of `parent` with rank `r` and `count`; the caller knows there is none yet.
    fn add_child(&mut self, parent: u32, r: u32, count: u64) -> u32 {
        let id = self.item.len() as u32;
        self.item.push(r);
        self.count.push(count);
        self.parent.push(parent);
        self.first_child.push(NONE);
        self.next_sibling.push(self.first_child[parent as usize]);
        self.first_child[parent as usize] = id;
        self.link.push(self.head[r as usize]);
        self.head[r as usize] = id;
        if parent == 0 {
            self.root_child[r as usize] = id;
        }
        self.total[r as usize] += count;
        id
    }

    /// Adds a path of ascending ranks with a count.
    fn insert(&mut self, path: &[u32], count: u64) {
        let mut node = 0u32;
        for (depth, &r) in path.iter().enumerate() {
            let found = if depth == 0 {
                self.root_child[r as usize]
            } else {
                let mut c = self.first_child[node as usize];
                while c != NONE && self.item[c as usize] != r {
                    c = self.next_sibling[c as usize];
                }
                c
            };
            let child = if found != NONE {
                found
            } else {
                let id = self.item.len() as u32;
                self.item.push(r);
                self.count.push(0);
                self.parent.push(node);
                self.first_child.push(NONE);
                self.next_sibling.push(self.first_child[node as usize]);
                self.first_child[node as usize] = id;
                self.link.push(self.head[r as usize]);
                self.head[r as usize] = id;
                if depth == 0 {
                    self.root_child[r as usize] = id;
                }
                id
            };
            self.count[child as usize] += count;
            self.total[r as usize] += count;
            node = child;
        }
    }

    /// The nodes from the root down when the tree is one path, else `None`.
    fn single_path(&self) -> Option<Vec<u32>> {
        let mut path = Vec::new();
        let mut node = self.first_child[0];
        while node != NONE {
            if self.next_sibling[node as usize] != NONE {
                return None;
            }
            path.push(node);
            node = self.first_child[node as usize];
        }
        Some(path)
    }
}

/// Shared state of a mining run.
struct Miner<'a> {
    min_count: u64,
    max_len: usize,
    /// Original item id of each rank.
    ids: &'a [u32],
}

impl Miner<'_> {
    fn emit(&self, suffix: &[u32], count: u64, out: &mut Vec<Itemset>) {
        let mut items: Vec<u32> = suffix.iter().map(|&r| self.ids[r as usize]).collect();
        items.sort_unstable();
        out.push(Itemset { items, count });
    }

    /// Mines the itemsets that end with rank `r` of `tree` (plus `suffix`).
    fn mine_item(&self, tree: &Tree, r: u32, suffix: &mut Vec<u32>, out: &mut Vec<Itemset>) {
        let support = tree.total[r as usize];
        if support < self.min_count {
            return;
        }
        suffix.push(r);
        self.emit(suffix, support, out);
        if suffix.len() < self.max_len && r > 0 {
            // Conditional pattern base: the prefix path of every node of rank r.
            let m = r as usize;
            let mut counts = vec![0u64; m];
            let mut node = tree.head[m];
            while node != NONE {
                let c = tree.count[node as usize];
                let mut p = tree.parent[node as usize];
                while p != 0 {
                    counts[tree.item[p as usize] as usize] += c;
                    p = tree.parent[p as usize];
                }
                node = tree.link[node as usize];
            }
            if counts.iter().any(|&c| c >= self.min_count) {
                let mut cond = Tree::new(m);
                let mut path = Vec::new();
                let mut node = tree.head[m];
                while node != NONE {
                    let c = tree.count[node as usize];
                    path.clear();
                    let mut p = tree.parent[node as usize];
                    while p != 0 {
                        let item = tree.item[p as usize];
                        if counts[item as usize] >= self.min_count {
                            path.push(item);
                        }
                        p = tree.parent[p as usize];
                    }
                    if !path.is_empty() {
                        path.reverse();
                        cond.insert(&path, c);
                    }
                    node = tree.link[node as usize];
                }
                self.mine(&cond, suffix, out);
            }
        }
        suffix.pop();
    }

    fn mine(&self, tree: &Tree, suffix: &mut Vec<u32>, out: &mut Vec<Itemset>) {
        if let Some(path) = tree.single_path() {
            self.combinations(tree, &path, suffix, out);
            return;
        }
        for r in (0..tree.head.len() as u32).rev() {
            self.mine_item(tree, r, suffix, out);
        }
    }

    /// Every non-empty combination of a single path's nodes, with the count of its deepest node.
    fn combinations(
        &self,
        tree: &Tree,
        path: &[u32],
        suffix: &mut Vec<u32>,
        out: &mut Vec<Itemset>,
    ) {
        let frequent: Vec<u32> = path
            .iter()
            .copied()
            .filter(|&n| tree.count[n as usize] >= self.min_count)
            .collect();
        self.extend(tree, &frequent, 0, u64::MAX, suffix, out);
    }

    fn extend(
        &self,
        tree: &Tree,
        nodes: &[u32],
        from: usize,
        count: u64,
        suffix: &mut Vec<u32>,
        out: &mut Vec<Itemset>,
    ) {
        if suffix.len() >= self.max_len {
            return;
        }
        for i in from..nodes.len() {
            let node = nodes[i] as usize;
            let c = count.min(tree.count[node]);
            suffix.push(tree.item[node]);
            self.emit(suffix, c, out);
            self.extend(tree, nodes, i + 1, c, suffix, out);
            suffix.pop();
        }
    }
}

/// Builds the FP-tree when there are at most 64 frequent items: each basket becomes a bit set
/// (rank r at bit 63 − r), the sets are sorted and counted, and since all sets that share a
/// prefix of ranks form one run of the sorted order, the tree grows along a stack without ever
/// searching a node's children.
fn build_from_masks<B: AsRef<[u32]> + Sync>(
    baskets: &[B],
    m: usize,
    rank: &(impl Fn(u32) -> u32 + Sync),
) -> Tree {
    let mut masks: Vec<u64> = baskets
        .par_iter()
        .with_min_len(BASKET_CHUNK)
        .map(|b| {
            let mut mask = 0u64;
            for &i in b.as_ref() {
                let r = rank(i);
                if r != NONE {
                    mask |= 1u64 << (63 - r);
                }
            }
            mask
        })
        .collect();
    masks.par_sort_unstable();
    let mut tree = Tree::new(m);
    let mut stack: Vec<(u32, u32)> = Vec::new();
    let mut ranks: Vec<u32> = Vec::with_capacity(64);
    let mut i = 0;
    while i < masks.len() {
        let mask = masks[i];
        let mut j = i + 1;
        while j < masks.len() && masks[j] == mask {
            j += 1;
        }
        let count = (j - i) as u64;
        i = j;
        if mask == 0 {
            continue;
        }
        ranks.clear();
        let mut rest = mask;
        while rest != 0 {
            let r = rest.leading_zeros();
            ranks.push(r);
            rest &= !(1u64 << (63 - r));
        }
        let common = stack
            .iter()
            .zip(&ranks)
            .take_while(|((sr, _), r)| sr == *r)
            .count();
        stack.truncate(common);
        for &(r, node) in &stack {
            tree.count[node as usize] += count;
            tree.total[r as usize] += count;
        }
        for &r in &ranks[common..] {
            let parent = stack.last().map_or(0, |&(_, node)| node);
            let node = tree.add_child(parent, r, count);
            stack.push((r, node));
        }
    }
    tree
}

/// Builds the FP-tree by inserting every basket's sorted ranks in turn.
fn build_by_insertion<B: AsRef<[u32]> + Sync>(
    baskets: &[B],
    m: usize,
    rank: &(impl Fn(u32) -> u32 + Sync),
) -> Tree {
    // Each basket as its sorted, distinct frequent ranks (in parallel, by chunk), then the
    // FP-tree of all of them (in basket order).
    let paths: Vec<(Vec<u32>, Vec<u32>)> = baskets
        .par_chunks(BASKET_CHUNK)
        .map(|chunk| {
            let mut flat = Vec::new();
            let mut ends = Vec::with_capacity(chunk.len());
            for b in chunk {
                let start = flat.len();
                for &i in b.as_ref() {
                    let r = rank(i);
                    if r != NONE {
                        flat.push(r);
                    }
                }
                let path = &mut flat[start..];
                path.sort_unstable();
                let mut len = 0;
                for k in 0..path.len() {
                    if k == 0 || path[k] != path[len - 1] {
                        path[len] = path[k];
                        len += 1;
                    }
                }
                flat.truncate(start + len);
                ends.push(flat.len() as u32);
            }
            (flat, ends)
        })
        .collect();
    let mut tree = Tree::new(m);
    for (flat, ends) in &paths {
        let mut start = 0;
        for &end in ends {
            let end = end as usize;
            if end > start {
                tree.insert(&flat[start..end], 1);
            }
            start = end;
        }
    }
    tree
}

/// The smallest count c with c / n ≥ min_support.
fn min_count(min_support: f64, n: usize) -> u64 {
    let nf = n as f64;
    let mut c = (min_support * nf).ceil().max(1.0) as u64;
    while c > 1 && (c - 1) as f64 / nf >= min_support {
        c -= 1;
    }
    while (c as f64) / nf < min_support {
        c += 1;
    }
    c
}

impl FpGrowthValidParams {
    /// The frequent itemsets of `baskets` (each a list of item ids; repeats within a basket count
    /// once).
    pub fn fit<B: AsRef<[u32]> + Sync>(&self, baskets: &[B]) -> FrequentItemsets {
        let n = baskets.len();
        let min_count = min_count(self.0.min_support, n.max(1));
        let max_len = self.0.max_len.unwrap_or(usize::MAX);

        // Item frequencies, each basket's repeats counted once (a per-chunk marker of the last
        // basket that counted an item replaces a sort).
        let max_id = baskets
            .par_iter()
            .map(|b| b.as_ref().iter().copied().max().unwrap_or(0))
            .max()
            .unwrap_or(0) as usize;
        let dense = max_id < (1 << 24);
        let freq: Vec<(u32, u64)> = if dense {
            let parts: Vec<Vec<u64>> = baskets
                .par_chunks(BASKET_CHUNK)
                .map(|chunk| {
                    let mut counts = vec![0u64; max_id + 1];
                    let mut last = vec![u32::MAX; max_id + 1];
                    for (b, basket) in chunk.iter().enumerate() {
                        for &i in basket.as_ref() {
                            if last[i as usize] != b as u32 {
                                last[i as usize] = b as u32;
                                counts[i as usize] += 1;
                            }
                        }
                    }
                    counts
                })
                .collect();
            let mut counts = vec![0u64; max_id + 1];
            for part in parts {
                for (a, v) in counts.iter_mut().zip(part) {
                    *a += v;
                }
            }
            counts
                .iter()
                .enumerate()
                .filter(|(_, c)| **c > 0)
                .map(|(i, c)| (i as u32, *c))
                .collect()
        } else {
            let mut freq: HashMap<u32, u64> = HashMap::new();
            let mut seen: Vec<u32> = Vec::new();
            for b in baskets {
                seen.clear();
                seen.extend_from_slice(b.as_ref());
                seen.sort_unstable();
                seen.dedup();
                for &i in &seen {
                    *freq.entry(i).or_insert(0) += 1;
                }
            }
            freq.into_iter().collect()
        };
        let mut frequent: Vec<(u32, u64)> =
            freq.into_iter().filter(|&(_, c)| c >= min_count).collect();
        frequent.sort_unstable_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
        let ids: Vec<u32> = frequent.iter().map(|&(i, _)| i).collect();
        let rank_of: HashMap<u32, u32> = ids
            .iter()
            .enumerate()
            .map(|(r, &i)| (i, r as u32))
            .collect();
        let dense_rank: Vec<u32> = if dense {
            let mut v = vec![NONE; max_id + 1];
            for (&i, &r) in &rank_of {
                v[i as usize] = r;
            }
            v
        } else {
            Vec::new()
        };

        let rank = |i: u32| {
            if dense {
                dense_rank[i as usize]
            } else {
                rank_of.get(&i).copied().unwrap_or(NONE)
            }
        };
        let m = ids.len();
        let tree = if m <= 64 {
            build_from_masks(baskets, m, &rank)
        } else {
            build_by_insertion(baskets, m, &rank)
        };

        let miner = Miner {
            min_count,
            max_len,
            ids: &ids,
        };
        let parts: Vec<Vec<Itemset>> = (0..m as u32)
            .into_par_iter()
            .rev()
            .map(|r| {
                let mut out = Vec::new();
                miner.mine_item(&tree, r, &mut Vec::new(), &mut out);
                out
            })
            .collect();
        let mut itemsets: Vec<Itemset> = parts.into_iter().flatten().collect();
        itemsets.par_sort_unstable_by(|a, b| {
            a.items
                .len()
                .cmp(&b.items.len())
                .then_with(|| a.items.cmp(&b.items))
        });
        FrequentItemsets {
            n_baskets: n,
            min_count,
            itemsets,
        }
    }
}

/// 关联规则 — antecedent ⇒ consequent, with its measures.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Rule {
    /// Items on the left, ascending.
    pub antecedent: Vec<u32>,
    /// Items on the right, ascending.
    pub consequent: Vec<u32>,
    /// 支持度 — fraction of baskets holding both sides.
    pub support: f64,
    /// 置信度 — support(both) / support(antecedent).
    pub confidence: f64,
    /// 提升度 — confidence / support(consequent).
    pub lift: f64,
    /// 确信度 — (1 − support(consequent)) / (1 − confidence); infinite when the confidence is 1.
    pub conviction: f64,
    /// Baskets holding both sides.
    pub count: u64,
}

/// Itemsets longer than this give no rules: 2ⁿ antecedents each.
const MAX_RULE_ITEMS: usize = 20;

/// 生成关联规则 — every rule A ⇒ C with A and C non-empty, disjoint and A ∪ C a frequent
/// itemset, whose confidence is at least `min_confidence` (itemsets of more than 20 items are
/// skipped). Rules come in the order of their itemsets, then by antecedent bit pattern.
///
/// # Errors
/// [`MiningError::InvalidParameter`]: "min_confidence must be in [0, 1]".
pub fn association_rules(itemsets: &FrequentItemsets, min_confidence: f64) -> Result<Vec<Rule>> {
    if !(0.0..=1.0).contains(&min_confidence) {
        return Err(MiningError::param("min_confidence", "must be in [0, 1]"));
    }
    let n = itemsets.n_baskets.max(1) as f64;
    let counts: HashMap<&[u32], u64> = itemsets
        .itemsets
        .iter()
        .map(|s| (s.items.as_slice(), s.count))
        .collect();
    let mut rules = Vec::new();
    let mut a = Vec::new();
    let mut c = Vec::new();
    for set in itemsets
        .itemsets
        .iter()
        .filter(|s| s.items.len() >= 2 && s.items.len() <= MAX_RULE_ITEMS)
    {
        let len = set.items.len();
        for mask in 1..(1u32 << len) - 1 {
            a.clear();
            c.clear();
            for (i, &item) in set.items.iter().enumerate() {
                if mask & (1 << i) != 0 {
                    a.push(item);
                } else {
                    c.push(item);
                }
            }
            // Every subset of a frequent itemset is frequent, so both are present.
            let (Some(&ca), Some(&cc)) = (counts.get(a.as_slice()), counts.get(c.as_slice()))
            else {
                continue;
            };
            let confidence = set.count as f64 / ca as f64;
            if confidence < min_confidence {
                continue;
            }
            let supp_c = cc as f64 / n;
            rules.push(Rule {
                antecedent: a.clone(),
                consequent: c.clone(),
                support: set.count as f64 / n,
                confidence,
                lift: confidence / supp_c,
                conviction: if confidence >= 1.0 {
                    f64::INFINITY
                } else {
                    (1.0 - supp_c) / (1.0 - confidence)
                },
                count: set.count,
            });
        }
    }
    Ok(rules)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn textbook_example() {
        // Han's example: min count 3 of 5 baskets.
        let baskets: Vec<Vec<u32>> = vec![
            vec![1, 2, 5],
            vec![2, 4],
            vec![2, 3],
            vec![1, 2, 4],
            vec![1, 3],
            vec![2, 3],
            vec![1, 3],
            vec![1, 2, 3, 5],
            vec![1, 2, 3],
        ];
        let f = FpGrowthParams::new(2.0 / 9.0).fit(&baskets).unwrap();
        assert_eq!(f.min_count, 2);
        let got: Vec<(Vec<u32>, u64)> = f
            .itemsets
            .iter()
            .map(|s| (s.items.clone(), s.count))
            .collect();
        let want: Vec<(Vec<u32>, u64)> = vec![
            (vec![1], 6),
            (vec![2], 7),
            (vec![3], 6),
            (vec![4], 2),
            (vec![5], 2),
            (vec![1, 2], 4),
            (vec![1, 3], 4),
            (vec![1, 5], 2),
            (vec![2, 3], 4),
            (vec![2, 4], 2),
            (vec![2, 5], 2),
            (vec![1, 2, 3], 2),
            (vec![1, 2, 5], 2),
        ];
        assert_eq!(got, want);
        let rules = association_rules(&f, 1.0).unwrap();
        // {5} ⇒ {1}, {5} ⇒ {2}, {4} ⇒ {2}, {1,5} ⇒ {2}, {2,5} ⇒ {1}, {5} ⇒ {1,2}
        assert_eq!(rules.len(), 6);
        assert!(rules.iter().all(|r| r.conviction.is_infinite()));
    }

    #[test]
    fn messages() {
        assert_eq!(
            FpGrowthParams::new(0.0).validate().unwrap_err().to_string(),
            "min_support must be in (0, 1]"
        );
        assert_eq!(min_count(0.01, 1_000_000), 10_000);
        assert_eq!(min_count(0.3, 10), 3);
    }
}
