//! Clustering of accepted pairs into parties, under the guards that keep parties honest.
//!
//! Merges are applied strongest first (operator merges, then deterministic rules, then
//! matches by falling weight). A merge is refused when it would put two different valid ID
//! numbers in one party, touch a record an operator split off, or grow a party past the
//! size guard. Every record remembers the first merge that attached it: the reason it is in
//! its party.

use serde::Serialize;

/// Why two records were merged.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Reason {
    /// An operator merged them (`party merge`).
    Manual,
    /// A deterministic rule: `id_no`, `uscc` or a configured exact rule's name.
    Rule(String),
    /// The Fellegi–Sunter model: the pair's match weight and probability.
    Match { weight: f64, probability: f64 },
}

/// A proposed merge of records `a` and `b`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Merge {
    pub a: u32,
    pub b: u32,
    pub reason: Reason,
    /// The comparison vector behind a match, for the explanation.
    pub pattern: Option<u32>,
}

impl Merge {
    fn rank(&self) -> (u8, f64) {
        match &self.reason {
            Reason::Manual => (0, 0.0),
            Reason::Rule(_) => (1, 0.0),
            Reason::Match { weight, .. } => (2, -weight),
        }
    }
}

/// Why a merge was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Refusal {
    /// The two sides hold different valid ID numbers.
    ConflictingIds,
    /// An operator split one side off.
    SplitByOperator,
    /// The merged party would exceed the size guard.
    TooLarge,
    /// The two sides, each of several records, match on the joining pair but not as wholes:
    /// the mean match probability over all pairs across them is below one half.
    WeakLink,
}

/// The outcome of clustering.
#[derive(Debug, Clone)]
pub struct Clusters {
    /// A cluster representative per record (equal values: same party).
    pub root: Vec<u32>,
    /// Index into the merges of the merge that attached each record, if any.
    pub attached_by: Vec<Option<usize>>,
    /// Refused merges: index into the merges and the reason.
    pub refused: Vec<(usize, Refusal)>,
}

struct Dsu {
    parent: Vec<u32>,
    size: Vec<u32>,
    id: Vec<Option<u64>>,
    /// Members of each root (empty for non-roots).
    members: Vec<Vec<u32>>,
}

impl Dsu {
    fn find(&mut self, mut x: u32) -> u32 {
        while self.parent[x as usize] != x {
            let p = self.parent[x as usize];
            self.parent[x as usize] = self.parent[p as usize];
            x = p;
        }
        x
    }
}

/// Clusters `n` records. `valid_id[i]` is a hash of record i's valid ID number; `split[i]`
/// marks records an operator split off (only operator merges touch them). `probability`
/// gives the match probability of any two records, for joining groups by a match. `merges`
/// is reordered strongest first.
pub fn cluster(
    n: usize,
    merges: &mut [Merge],
    valid_id: &[Option<u64>],
    split: &[bool],
    max_party_size: usize,
    probability: &dyn Fn(u32, u32) -> f64,
) -> Clusters {
    merges.sort_by(|x, y| {
        let (a, b) = (x.rank(), y.rank());
        a.0.cmp(&b.0)
            .then(a.1.total_cmp(&b.1))
            .then((x.a, x.b).cmp(&(y.a, y.b)))
    });
    let mut dsu = Dsu {
        parent: (0..n as u32).collect(),
        size: vec![1; n],
        id: valid_id.to_vec(),
        members: (0..n as u32).map(|i| vec![i]).collect(),
    };
    let mut attached_by = vec![None; n];
    let mut refused = Vec::new();
    for (k, m) in merges.iter().enumerate() {
        let manual = m.reason == Reason::Manual;
        if !manual && (split[m.a as usize] || split[m.b as usize]) {
            refused.push((k, Refusal::SplitByOperator));
            continue;
        }
        let (ra, rb) = (dsu.find(m.a), dsu.find(m.b));
        if ra != rb {
            if let (Some(x), Some(y)) = (dsu.id[ra as usize], dsu.id[rb as usize])
                && x != y
            {
                refused.push((k, Refusal::ConflictingIds));
                continue;
            }
            let size = dsu.size[ra as usize] + dsu.size[rb as usize];
            if !manual && size as usize > max_party_size {
                refused.push((k, Refusal::TooLarge));
                continue;
            }
            if matches!(m.reason, Reason::Match { .. })
                && dsu.size[ra as usize] > 1
                && dsu.size[rb as usize] > 1
            {
                let (xa, xb) = (&dsu.members[ra as usize], &dsu.members[rb as usize]);
                let total: f64 = xa
                    .iter()
                    .flat_map(|&a| xb.iter().map(move |&b| (a, b)))
                    .map(|(a, b)| probability(a, b))
                    .sum();
                if total / ((xa.len() * xb.len()) as f64) < 0.5 {
                    refused.push((k, Refusal::WeakLink));
                    continue;
                }
            }
            let (big, small) = if dsu.size[ra as usize] >= dsu.size[rb as usize] {
                (ra, rb)
            } else {
                (rb, ra)
            };
            dsu.parent[small as usize] = big;
            dsu.size[big as usize] = size;
            dsu.id[big as usize] = dsu.id[big as usize].or(dsu.id[small as usize]);
            let moved = std::mem::take(&mut dsu.members[small as usize]);
            dsu.members[big as usize].extend(moved);
        }
        for r in [m.a, m.b] {
            attached_by[r as usize].get_or_insert(k);
        }
    }
    let root = (0..n as u32).map(|i| dsu.find(i)).collect();
    Clusters {
        root,
        attached_by,
        refused,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(a: u32, b: u32, weight: f64) -> Merge {
        Merge {
            a,
            b,
            reason: Reason::Match {
                weight,
                probability: 0.99,
            },
            pattern: None,
        }
    }

    #[test]
    fn never_joins_two_valid_ids() {
        // 0 and 2 hold different IDs; 1 has none and matches both, more strongly with 2.
        let mut merges = vec![m(0, 1, 10.0), m(1, 2, 20.0), m(3, 4, 5.0)];
        let c = cluster(
            5,
            &mut merges,
            &[Some(1), None, Some(2), None, None],
            &[false; 5],
            10,
            &|_, _| 1.0,
        );
        assert_eq!(c.root[1], c.root[2]);
        assert_ne!(c.root[0], c.root[1]);
        assert_eq!(c.root[3], c.root[4]);
        assert_eq!(c.refused.len(), 1);
        assert_eq!(c.refused[0].1, Refusal::ConflictingIds);
    }

    #[test]
    fn size_guard_and_operator_split() {
        let mut merges = vec![m(0, 1, 9.0), m(1, 2, 8.0), m(2, 3, 7.0), m(3, 4, 6.0)];
        let split = [false, false, false, false, true];
        let c = cluster(5, &mut merges, &[None; 5], &split, 3, &|_, _| 1.0);
        assert_eq!(c.root[0], c.root[2]);
        assert_ne!(c.root[2], c.root[3]);
        assert_ne!(c.root[3], c.root[4]);
        let reasons: Vec<_> = c.refused.iter().map(|r| r.1).collect();
        assert_eq!(reasons, [Refusal::TooLarge, Refusal::SplitByOperator]);
    }

    #[test]
    fn groups_join_only_when_they_match_as_wholes() {
        // {0,1} and {2,3} are pairs; 1–2 is a strong bridge, but 0 and 3 match nobody across.
        let mut merges = vec![m(0, 1, 30.0), m(2, 3, 30.0), m(1, 2, 10.0)];
        let p = |a: u32, b: u32| {
            if (a, b) == (1, 2) || (a, b) == (2, 1) {
                0.95
            } else {
                0.01
            }
        };
        let c = cluster(4, &mut merges, &[None; 4], &[false; 4], 10, &p);
        assert_ne!(c.root[1], c.root[2]);
        assert_eq!(c.refused, [(2, Refusal::WeakLink)]);
    }
}
