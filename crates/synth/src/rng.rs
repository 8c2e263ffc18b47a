//! Seeded randomness. Every unit of the bank (a household, a business with its owners) draws
//! from its own ChaCha8 stream keyed by `(seed, stream, index)`, so the output does not depend
//! on how many threads generate it or in which order.

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

pub(crate) type SynthRng = ChaCha8Rng;

/// Independent families of random streams.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Stream {
    /// Who lives where and was born when: drawn twice (plan, then generation), so it must not
    /// share a stream with anything else.
    Skeleton = 1,
    /// Attributes and behaviour of a unit's people.
    Unit = 2,
    /// The shared trade name and home of a corporate group.
    Group = 3,
    /// One company's own attributes (readable by employees in other units).
    Company = 4,
    /// Keys of the identifier permutations.
    Keys = 5,
}

/// SplitMix64 finaliser: a cheap, well-mixed 64-bit hash.
pub(crate) fn splitmix64(x: u64) -> u64 {
    let mut z = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

pub(crate) fn mix(a: u64, b: u64) -> u64 {
    splitmix64(a ^ splitmix64(b))
}

/// The random stream of one entity.
pub(crate) fn rng_for(seed: u64, stream: Stream, index: u64) -> SynthRng {
    SynthRng::seed_from_u64(mix(mix(seed, stream as u64), index))
}

/// Distributions the generator needs beyond `rand`'s uniform ones.
pub(crate) trait RngExt: Rng {
    /// `true` with probability `p`.
    fn chance(&mut self, p: f64) -> bool {
        self.random::<f64>() < p
    }

    /// Uniform in `[lo, hi)`.
    fn uniform(&mut self, lo: f64, hi: f64) -> f64 {
        lo + (hi - lo) * self.random::<f64>()
    }

    /// Standard normal (Box–Muller).
    fn normal(&mut self) -> f64 {
        let u1 = 1.0 - self.random::<f64>();
        let u2 = self.random::<f64>();
        (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
    }

    /// Log-normal with the given median and log-scale spread.
    fn lognormal(&mut self, median: f64, sigma: f64) -> f64 {
        median * (sigma * self.normal()).exp()
    }

    /// Poisson count (Knuth below 30, normal approximation above).
    fn poisson(&mut self, lambda: f64) -> u32 {
        if lambda <= 0.0 {
            return 0;
        }
        if lambda < 30.0 {
            let l = (-lambda).exp();
            let mut k = 0;
            let mut p = 1.0;
            loop {
                p *= self.random::<f64>();
                if p <= l {
                    return k;
                }
                k += 1;
            }
        }
        (lambda + lambda.sqrt() * self.normal()).round().max(0.0) as u32
    }

    /// A uniformly chosen element.
    fn pick<T: Copy>(&mut self, items: &[T]) -> T {
        items[self.random_range(0..items.len())]
    }

    /// A reference to a uniformly chosen element.
    fn pick_ref<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.random_range(0..items.len())]
    }

    /// An element chosen with probability proportional to its weight (linear scan: for small
    /// or rarely used tables; hot paths use [`Cdf`]).
    fn weighted<T: Copy>(&mut self, items: &[(T, u32)]) -> T {
        let total: u32 = items.iter().map(|(_, w)| w).sum();
        let mut x = self.random_range(0..total.max(1));
        for &(item, w) in items {
            if x < w {
                return item;
            }
            x -= w;
        }
        items[items.len() - 1].0
    }

    /// An index chosen with probability proportional to `weights`.
    fn weighted_index(&mut self, weights: &[f64]) -> usize {
        let total: f64 = weights.iter().sum();
        let mut x = self.random::<f64>() * total;
        for (i, w) in weights.iter().enumerate() {
            if x < *w {
                return i;
            }
            x -= w;
        }
        weights.iter().rposition(|w| *w > 0.0).unwrap_or(0)
    }
}

impl<R: Rng + ?Sized> RngExt for R {}

/// A cumulative distribution over indices, sampled by binary search.
#[derive(Debug, Clone)]
pub(crate) struct Cdf {
    cum: Vec<f64>,
}

impl Cdf {
    pub(crate) fn new(weights: impl IntoIterator<Item = f64>) -> Self {
        let mut acc = 0.0;
        let cum = weights
            .into_iter()
            .map(|w| {
                acc += w.max(0.0);
                acc
            })
            .collect();
        Self { cum }
    }

    /// Total weight of indices below `i`.
    fn before(&self, i: usize) -> f64 {
        if i == 0 { 0.0 } else { self.cum[i - 1] }
    }

    pub(crate) fn sample(&self, rng: &mut impl Rng) -> usize {
        self.sample_in(rng, 0, self.cum.len() - 1)
    }

    /// An index in `lo..=hi` drawn with the table's weights.
    pub(crate) fn sample_in(&self, rng: &mut impl Rng, lo: usize, hi: usize) -> usize {
        let a = self.before(lo);
        let b = self.cum[hi];
        let x = a + (b - a) * rng.random::<f64>();
        self.cum[lo..=hi].partition_point(|&c| c <= x).min(hi - lo) + lo
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn streams_are_reproducible_and_distinct() {
        let a: u64 = rng_for(1, Stream::Unit, 7).random();
        let b: u64 = rng_for(1, Stream::Unit, 7).random();
        let c: u64 = rng_for(1, Stream::Unit, 8).random();
        let d: u64 = rng_for(2, Stream::Unit, 7).random();
        assert_eq!(a, b);
        assert_ne!(a, c);
        assert_ne!(a, d);
    }

    #[test]
    fn cdf_samples_only_within_the_range_and_by_weight() {
        let cdf = Cdf::new([1.0, 0.0, 3.0, 1.0]);
        let mut rng = rng_for(0, Stream::Unit, 0);
        let mut counts = [0; 4];
        for _ in 0..10_000 {
            counts[cdf.sample_in(&mut rng, 1, 2)] += 1;
        }
        assert_eq!(counts, [0, 0, 10_000, 0]);
        let mut counts = [0; 4];
        for _ in 0..10_000 {
            counts[cdf.sample(&mut rng)] += 1;
        }
        assert_eq!(counts[1], 0);
        assert!(counts[2] > 5_000 && counts[0] > 1_500);
    }

    #[test]
    fn poisson_has_the_right_mean() {
        let mut rng = rng_for(0, Stream::Unit, 1);
        for lambda in [0.5, 4.0, 80.0] {
            let n = 20_000;
            let mean = (0..n).map(|_| f64::from(rng.poisson(lambda))).sum::<f64>() / n as f64;
            assert!(
                (mean - lambda).abs() < lambda * 0.05 + 0.05,
                "{lambda}: {mean}"
            );
        }
    }
}
