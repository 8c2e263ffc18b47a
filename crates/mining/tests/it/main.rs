//! Integration tests of portrait-mining: every method on seeded synthetic data against the known
//! truth or a naive reference computed from the definitions.

mod clustering;
mod fpgrowth;
mod hierarchical;
mod preprocess;

use portrait_mining::Matrix;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// A seeded generator for test data.
pub fn rng(seed: u64) -> ChaCha8Rng {
    ChaCha8Rng::seed_from_u64(seed)
}

/// A standard normal draw (Box–Muller).
pub fn normal(rng: &mut ChaCha8Rng) -> f64 {
    let u1: f64 = 1.0 - rng.random::<f64>();
    let u2: f64 = rng.random();
    (-2.0 * u1.ln()).sqrt() * (2.0 * std::f64::consts::PI * u2).cos()
}

/// `n` points around `k` centres spread `spread` apart in `d` dimensions, noise `sd`; the
/// points and the true centre of each.
pub fn blobs(
    n: usize,
    d: usize,
    k: usize,
    spread: f64,
    sd: f64,
    seed: u64,
) -> (Matrix, Vec<usize>) {
    let mut rng = rng(seed);
    let centres: Vec<f64> = (0..k * d)
        .map(|_| rng.random_range(-1.0..1.0) * spread)
        .collect();
    let mut data = Vec::with_capacity(n * d);
    let mut truth = Vec::with_capacity(n);
    for i in 0..n {
        let c = i % k;
        truth.push(c);
        for j in 0..d {
            data.push(centres[c * d + j] + sd * normal(&mut rng));
        }
    }
    (Matrix::new(data, n, d).unwrap(), truth)
}

/// Uniform random points in [0, 1)^d.
pub fn uniform(n: usize, d: usize, seed: u64) -> Matrix {
    let mut rng = rng(seed);
    Matrix::new((0..n * d).map(|_| rng.random()).collect(), n, d).unwrap()
}

/// Runs `f` on a rayon pool of `threads` threads.
pub fn on_threads<T: Send>(threads: usize, f: impl FnOnce() -> T + Send) -> T {
    rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()
        .unwrap()
        .install(f)
}
