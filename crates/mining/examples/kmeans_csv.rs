//! Fits k-means to a headerless numeric CSV (or to generated blobs) and prints the inertia and the
//! fit time as one JSON line; `bench/kmeans.sh` runs it beside scikit-learn:
//!
//! `cargo run --release -p portrait-mining --example kmeans_csv -- <file.csv | blobs:N:D:SEED>
//!  [--k 8] [--n-init 10] [--threads 2] [--seed 0] [--max-iter 300] [--tol 1e-4]`
//!
//! The time covers the fit alone (seeding, restarts, final labels), not the reading of the file.

use std::io::Write;
use std::time::Instant;

use portrait_mining::{KMeansParams, Matrix};
use rand::{Rng, SeedableRng};

type Error = Box<dyn std::error::Error>;

fn read_csv(path: &str) -> Result<Matrix, Error> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("cannot read `{path}`: {e}"))?;
    let mut data = Vec::new();
    let mut n_cols = 0;
    let mut n_rows = 0;
    for (i, line) in text
        .lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
    {
        let before = data.len();
        for field in line.split(',') {
            let v: f64 = field
                .trim()
                .parse()
                .map_err(|_| format!("{path}:{}: not a number", i + 1))?;
            data.push(v);
        }
        let width = data.len() - before;
        if n_rows == 0 {
            n_cols = width;
        } else if width != n_cols {
            return Err(format!("{path}:{}: {width} fields, expected {n_cols}", i + 1).into());
        }
        n_rows += 1;
    }
    Ok(Matrix::new(data, n_rows, n_cols)?)
}

/// `n` points around `k` centres drawn in [−10, 10]^d, unit normal noise.
fn blobs(n: usize, d: usize, k: usize, seed: u64) -> Matrix {
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
    let centres: Vec<f64> = (0..k * d).map(|_| rng.random_range(-10.0..10.0)).collect();
    let mut data = Vec::with_capacity(n * d);
    for _ in 0..n {
        let c = rng.random_range(0..k);
        for j in 0..d {
            let u1: f64 = 1.0 - rng.random::<f64>();
            let u2: f64 = rng.random();
            let z = (-2.0 * u1.ln()).sqrt() * (2.0 * std::f64::consts::PI * u2).cos();
            data.push(centres[c * d + j] + z);
        }
    }
    Matrix::new(data, n, d).expect("n × d")
}

fn main() -> Result<(), Error> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let source = args
        .first()
        .ok_or("usage: kmeans_csv <file.csv | blobs:N:D:SEED> [options]")?;
    let opt = |name: &str, default: &str| -> String {
        args.iter()
            .position(|a| a == name)
            .and_then(|i| args.get(i + 1))
            .cloned()
            .unwrap_or_else(|| default.to_string())
    };
    let k: usize = opt("--k", "8").parse()?;
    let n_init: usize = opt("--n-init", "10").parse()?;
    let threads: usize = opt("--threads", "0").parse()?;
    let seed: u64 = opt("--seed", "0").parse()?;
    let max_iter: usize = opt("--max-iter", "300").parse()?;
    let tol: f64 = opt("--tol", "1e-4").parse()?;
    rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build_global()?;
    let x = if let Some(spec) = source.strip_prefix("blobs:") {
        let p: Vec<u64> = spec.split(':').map(str::parse).collect::<Result<_, _>>()?;
        let [n, d, s] = p[..] else {
            return Err("blobs:N:D:SEED".into());
        };
        blobs(n as usize, d as usize, k, s)
    } else {
        read_csv(source)?
    };
    let params = KMeansParams::new(k)
        .n_init(n_init)
        .max_iter(max_iter)
        .tol(tol)
        .seed(seed);
    let start = Instant::now();
    let model = params.fit(&x)?;
    let seconds = start.elapsed().as_secs_f64();
    writeln!(
        std::io::stdout().lock(),
        "{{\"tool\":\"portrait\",\"n\":{},\"d\":{},\"k\":{k},\"n_init\":{n_init},\"threads\":{},\"inertia\":{},\"n_iter\":{},\"seconds\":{seconds:.4}}}",
        x.n_rows(),
        x.n_cols(),
        rayon::current_num_threads(),
        model.inertia,
        model.n_iter
    )?;
    Ok(())
}
