//! The Fellegi–Sunter model: m and u probabilities per comparison level, fitted by EM.
//!
//! m is the probability of a level among true matches, u among non-matches. A pair's match
//! weight is log2 of the prior odds plus, per non-missing field, log2(m/u) of its level; its
//! match probability is 2^w / (1 + 2^w). EM runs on the distinct comparison vectors of the
//! candidate pairs with their counts, so its cost does not grow with the number of pairs.

use ahash::AHashMap;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rayon::prelude::*;
use serde::Serialize;

use crate::block::Candidate;
use crate::compare::{Cutoffs, Field, pattern, unpack};
use crate::config::USource;
use crate::record::Record;

/// Smallest probability a level may take, so no single field can veto or force a match.
const FLOOR: f64 = 1e-6;

/// A fitted model.
#[derive(Debug, Clone, Serialize)]
pub struct Model {
    pub fields: Vec<Field>,
    /// m[f][level]; level 0 (missing) is unused and 0.
    pub m: Vec<Vec<f64>>,
    /// u[f][level] as used for prediction.
    pub u: Vec<Vec<f64>>,
    /// u[f][level] measured on random pairs.
    pub u_random: Vec<Vec<f64>>,
    /// Share of matches among the candidate pairs, as fitted.
    pub lambda: f64,
    /// Prior match probability that predictions use (candidate share with `u_source = em`,
    /// share among all pairs with `u_source = random`).
    pub prior: f64,
    pub iterations: usize,
    pub converged: bool,
    pub candidate_pairs: u64,
    pub random_pairs: u64,
}

impl Model {
    /// log2(m/u) of every field of a comparison vector (0 for missing fields).
    pub fn field_weights(&self, levels: &[u8]) -> Vec<f64> {
        levels
            .iter()
            .enumerate()
            .map(|(f, &l)| {
                if l == 0 {
                    0.0
                } else {
                    (self.m[f][l as usize] / self.u[f][l as usize]).log2()
                }
            })
            .collect()
    }

    /// The match weight of a packed pattern: prior log-odds plus the field weights.
    pub fn weight(&self, pattern: u32) -> f64 {
        let levels = unpack(&self.fields, pattern);
        (self.prior / (1.0 - self.prior)).log2() + self.field_weights(&levels).iter().sum::<f64>()
    }

    /// The match probability of a weight.
    pub fn probability(weight: f64) -> f64 {
        let odds = weight.exp2();
        if odds.is_infinite() {
            1.0
        } else {
            odds / (1.0 + odds)
        }
    }
}

/// Level frequencies of `samples` random pairs of records of the same kind, with add-one
/// smoothing: nearly all random pairs are non-matches, so these are u probabilities.
pub fn random_u(
    records: &[Record],
    fields: &[Field],
    cutoffs: &Cutoffs,
    samples: usize,
    seed: u64,
) -> (Vec<Vec<f64>>, u64) {
    let (people, firms): (Vec<u32>, Vec<u32>) =
        (0..records.len() as u32).partition(|&i| !records[i as usize].corporate);
    let pools: Vec<&Vec<u32>> = [&people, &firms]
        .into_iter()
        .filter(|p| p.len() >= 2)
        .collect();
    let mut counts: Vec<Vec<u64>> = fields.iter().map(|f| vec![0; f.levels().len()]).collect();
    let total: usize = pools.iter().map(|p| p.len()).sum();
    if total == 0 {
        return (smooth(&counts), 0);
    }
    let chunks = 64;
    let per_chunk = samples.div_ceil(chunks);
    let partial: Vec<Vec<Vec<u64>>> = (0..chunks)
        .into_par_iter()
        .map(|c| {
            let mut rng =
                ChaCha8Rng::seed_from_u64(seed ^ (c as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15));
            let mut counts: Vec<Vec<u64>> =
                fields.iter().map(|f| vec![0; f.levels().len()]).collect();
            for _ in 0..per_chunk {
                let mut pick = rng.random_range(0..total);
                let pool = pools
                    .iter()
                    .find(|p| {
                        if pick < p.len() {
                            true
                        } else {
                            pick -= p.len();
                            false
                        }
                    })
                    .expect("pick within total");
                let a = pool[pick];
                let mut b = pool[rng.random_range(0..pool.len())];
                while b == a {
                    b = pool[rng.random_range(0..pool.len())];
                }
                let p = pattern(fields, &records[a as usize], &records[b as usize], cutoffs);
                for (f, l) in unpack(fields, p).into_iter().enumerate() {
                    counts[f][l as usize] += 1;
                }
            }
            counts
        })
        .collect();
    for part in partial {
        for (f, levels) in part.into_iter().enumerate() {
            for (l, n) in levels.into_iter().enumerate() {
                counts[f][l] += n;
            }
        }
    }
    (smooth(&counts), (per_chunk * chunks) as u64)
}

fn smooth(counts: &[Vec<u64>]) -> Vec<Vec<f64>> {
    counts
        .iter()
        .map(|levels| {
            let k = (levels.len() - 1) as f64;
            let n: u64 = levels[1..].iter().sum();
            let mut p = vec![0.0; levels.len()];
            for l in 1..levels.len() {
                p[l] = (levels[l] as f64 + 1.0) / (n as f64 + k);
            }
            p
        })
        .collect()
}

/// Starting m: most matches agree exactly, the rest spread over the weaker levels.
fn initial_m(field: Field) -> Vec<f64> {
    let n = field.levels().len();
    let mut m = vec![0.0; n];
    let mut rest = 0.1;
    m[1] = 0.9;
    for l in 2..n {
        let share = if l + 1 == n { rest } else { rest / 2.0 };
        m[l] = share;
        rest -= share;
    }
    m
}

/// Distinct comparison vectors and how many pairs have each.
fn distinct(fields: &[Field], candidates: impl Iterator<Item = u32>) -> Vec<(Vec<u8>, f64)> {
    let mut counts: AHashMap<u32, f64> = AHashMap::new();
    for p in candidates {
        *counts.entry(p).or_default() += 1.0;
    }
    let mut v: Vec<(u32, f64)> = counts.into_iter().collect();
    v.sort_unstable_by_key(|(p, _)| *p);
    v.into_iter().map(|(p, n)| (unpack(fields, p), n)).collect()
}

/// State of one EM run.
struct Em {
    m: Vec<Vec<f64>>,
    u: Vec<Vec<f64>>,
    lambda: f64,
    iterations: usize,
    converged: bool,
}

/// EM over `patterns`. Fields with `active[f] == false` are left out of the likelihood and
/// keep their m; u is updated only with `update_u`, m only with `update_m`.
fn em(
    patterns: &[(Vec<u8>, f64)],
    mut s: Em,
    active: &[bool],
    update_m: bool,
    update_u: bool,
    max_iterations: usize,
) -> Em {
    let total: f64 = patterns.iter().map(|(_, n)| n).sum();
    let mut g = vec![0.0; patterns.len()];
    s.iterations = 0;
    s.converged = false;
    while s.iterations < max_iterations && total > 0.0 {
        s.iterations += 1;
        // E step: the posterior match probability of each distinct vector.
        for ((levels, _), g) in patterns.iter().zip(&mut g) {
            let (mut lm, mut lu) = (s.lambda.ln(), (1.0 - s.lambda).ln());
            for (f, &l) in levels.iter().enumerate() {
                if l > 0 && active[f] {
                    lm += s.m[f][l as usize].ln();
                    lu += s.u[f][l as usize].ln();
                }
            }
            *g = 1.0 / (1.0 + (lu - lm).exp());
        }
        // M step.
        let matches: f64 = patterns.iter().zip(&g).map(|((_, n), g)| n * g).sum();
        let new_lambda = (matches / total).clamp(FLOOR, 1.0 - FLOOR);
        let mut new_m: Vec<Vec<f64>> = s.m.iter().map(|l| vec![0.0; l.len()]).collect();
        let mut new_u = new_m.clone();
        for ((levels, n), &g) in patterns.iter().zip(&g) {
            for (f, &l) in levels.iter().enumerate() {
                if l > 0 {
                    new_m[f][l as usize] += n * g;
                    new_u[f][l as usize] += n * (1.0 - g);
                }
            }
        }
        normalise(&mut new_m);
        normalise(&mut new_u);
        let mut change = (new_lambda - s.lambda).abs();
        for f in 0..s.m.len() {
            if !active[f] {
                continue;
            }
            for l in 1..new_m[f].len() {
                if update_m {
                    change = change.max((new_m[f][l] - s.m[f][l]).abs());
                }
                if update_u {
                    change = change.max((new_u[f][l] - s.u[f][l]).abs());
                }
            }
            if update_m {
                s.m[f] = new_m[f].clone();
            }
            if update_u {
                s.u[f] = new_u[f].clone();
            }
        }
        s.lambda = new_lambda;
        if change < 1e-7 {
            s.converged = true;
            break;
        }
    }
    s
}

/// Fits the model on the candidates' comparison vectors.
///
/// With `USource::Em`, m, u and the share of matches are fitted jointly on all candidates.
/// With `USource::Random`, u stays as measured on random pairs and m is trained per blocking
/// rule on the pairs that rule produced, leaving out of the likelihood the fields the rule
/// blocks on (every pair of the rule agrees on them, matches or not); each field's m is the
/// pair-weighted mean over the rules that leave it in. `excluded[r]` lists the fields rule r
/// blocks on; `training[r]` counts the comparison vectors of all pairs of rule r.
#[allow(clippy::too_many_arguments)]
pub fn fit(
    fields: &[Field],
    candidates: &[Candidate],
    excluded: &[Vec<usize>],
    training: &[AHashMap<u32, f64>],
    u_random: Vec<Vec<f64>>,
    random_pairs: u64,
    u_source: USource,
    all_pairs: f64,
    max_iterations: usize,
) -> Model {
    let all = distinct(fields, candidates.iter().map(|c| c.pattern));
    let total: f64 = all.iter().map(|(_, n)| n).sum();
    let start = || Em {
        m: fields.iter().map(|&f| initial_m(f)).collect(),
        u: u_random.clone(),
        lambda: 0.1,
        iterations: 0,
        converged: false,
    };
    let every = vec![true; fields.len()];
    let fitted = match u_source {
        USource::Em => em(&all, start(), &every, true, true, max_iterations),
        USource::Random => {
            let mut sum: Vec<Vec<f64>> =
                fields.iter().map(|f| vec![0.0; f.levels().len()]).collect();
            let mut weight = vec![0.0; fields.len()];
            let (mut iterations, mut converged) = (0, true);
            for (r, ex) in excluded.iter().enumerate() {
                let mut pats: Vec<(Vec<u8>, f64)> = training
                    .get(r)
                    .map(|t| t.iter().map(|(&p, &n)| (unpack(fields, p), n)).collect())
                    .unwrap_or_default();
                pats.sort_by(|a, b| a.0.cmp(&b.0));
                let n: f64 = pats.iter().map(|(_, n)| n).sum();
                if n < 1.0 {
                    continue;
                }
                let active: Vec<bool> = (0..fields.len()).map(|f| !ex.contains(&f)).collect();
                let e = em(&pats, start(), &active, true, false, max_iterations);
                iterations += e.iterations;
                converged &= e.converged;
                for f in (0..fields.len()).filter(|&f| active[f]) {
                    weight[f] += n;
                    for l in 1..sum[f].len() {
                        sum[f][l] += n * e.m[f][l];
                    }
                }
            }
            // Fields no rule leaves in: fall back on a joint fit of m on all candidates.
            let joint = em(&all, start(), &every, true, false, max_iterations);
            let m: Vec<Vec<f64>> = (0..fields.len())
                .map(|f| {
                    if weight[f] > 0.0 {
                        sum[f].iter().map(|v| v / weight[f]).collect()
                    } else {
                        joint.m[f].clone()
                    }
                })
                .collect();
            // The share of matches among the candidates, with m and u held.
            let e = em(
                &all,
                Em {
                    m,
                    u: u_random.clone(),
                    lambda: joint.lambda,
                    iterations: 0,
                    converged: false,
                },
                &every,
                false,
                false,
                max_iterations,
            );
            Em {
                iterations: iterations + e.iterations,
                converged: converged && e.converged,
                ..e
            }
        }
    };
    let prior = match u_source {
        USource::Em => fitted.lambda,
        USource::Random => (fitted.lambda * total / all_pairs.max(1.0)).clamp(1e-15, 0.5),
    };
    Model {
        fields: fields.to_vec(),
        m: fitted.m,
        u: fitted.u,
        u_random,
        lambda: fitted.lambda,
        prior,
        iterations: fitted.iterations,
        converged: fitted.converged,
        candidate_pairs: total as u64,
        random_pairs,
    }
}

fn normalise(p: &mut [Vec<f64>]) {
    for levels in p {
        let s: f64 = levels[1..].iter().sum();
        for v in &mut levels[1..] {
            *v = if s > 0.0 { (*v / s).max(FLOOR) } else { FLOOR };
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Pairs drawn from a known two-class model: EM must recover λ and m.
    #[test]
    fn recovers_a_known_mixture() {
        let fields = [Field::Name, Field::BirthDate, Field::Mobile, Field::Email];
        let true_m = [
            vec![0.0, 0.8, 0.1, 0.02, 0.04, 0.02, 0.02],
            vec![0.0, 0.9, 0.04, 0.04, 0.02],
            vec![0.0, 0.7, 0.2, 0.1],
            vec![0.0, 0.95, 0.05],
        ];
        let true_u = [
            vec![0.0, 0.01, 0.01, 0.005, 0.02, 0.1, 0.855],
            vec![0.0, 0.001, 0.002, 0.05, 0.947],
            vec![0.0, 0.001, 0.002, 0.997],
            vec![0.0, 0.01, 0.99],
        ];
        let mut rng = ChaCha8Rng::seed_from_u64(7);
        let draw = |rng: &mut ChaCha8Rng, p: &[f64]| {
            let mut x: f64 = rng.random();
            for (l, &q) in p.iter().enumerate().skip(1) {
                if x < q {
                    return l as u8;
                }
                x -= q;
            }
            (p.len() - 1) as u8
        };
        let mut candidates = Vec::new();
        for _ in 0..200_000 {
            let is_match = rng.random::<f64>() < 0.2;
            let mut p = 0u32;
            for (f, field) in fields.iter().enumerate() {
                let l = draw(&mut rng, if is_match { &true_m[f] } else { &true_u[f] });
                p = p * field.levels().len() as u32 + u32::from(l);
            }
            candidates.push(Candidate {
                a: 0,
                b: 1,
                pattern: p,
                rule: 0,
            });
        }
        let u0: Vec<Vec<f64>> = fields
            .iter()
            .map(|f| {
                let n = f.levels().len();
                let mut v = vec![1.0 / (n - 1) as f64; n];
                v[0] = 0.0;
                v
            })
            .collect();
        let model = fit(
            &fields,
            &candidates,
            &[vec![]],
            &[],
            u0,
            0,
            USource::Em,
            1e9,
            500,
        );
        assert!((model.lambda - 0.2).abs() < 0.01, "lambda {}", model.lambda);
        for f in 0..fields.len() {
            for l in 1..true_m[f].len() {
                assert!(
                    (model.m[f][l] - true_m[f][l]).abs() < 0.02,
                    "m[{f}][{l}] = {}",
                    model.m[f][l]
                );
                assert!(
                    (model.u[f][l] - true_u[f][l]).abs() < 0.02,
                    "u[{f}][{l}] = {}",
                    model.u[f][l]
                );
            }
        }
    }
}
