//! k-prototypes (Huang 1997/1998) — clustering of mixed numeric and categorical inputs: a
//! prototype is a mean on the numeric inputs and a mode on the categorical ones, and the cost of
//! a row is its squared Euclidean distance to the prototype plus γ times its categorical
//! mismatches.

use rand::seq::index::sample;
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use crate::kmeans::{CHUNK, restart_rng};
use crate::{Deadline, Matrix, MiningError, Result};

/// 类别矩阵 — categorical inputs as codes (e.g. from [`crate::OrdinalEncoder`]), row-major,
/// n × q.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Codes {
    data: Vec<u32>,
    n_rows: usize,
    n_cols: usize,
}

impl Codes {
    /// Takes `data` as `n_rows` × `n_cols`, row-major.
    ///
    /// # Errors
    /// [`MiningError::ShapeMismatch`] when `data.len() != n_rows * n_cols`.
    pub fn new(data: Vec<u32>, n_rows: usize, n_cols: usize) -> Result<Self> {
        if data.len() != n_rows * n_cols {
            return Err(MiningError::ShapeMismatch {
                what: "codes data length (n_rows * n_cols)",
                expected: n_rows * n_cols,
                found: data.len(),
            });
        }
        Ok(Codes {
            data,
            n_rows,
            n_cols,
        })
    }

    /// Number of rows.
    pub fn n_rows(&self) -> usize {
        self.n_rows
    }

    /// Number of categorical columns.
    pub fn n_cols(&self) -> usize {
        self.n_cols
    }

    /// Row `i`.
    pub fn row(&self, i: usize) -> &[u32] {
        &self.data[i * self.n_cols..(i + 1) * self.n_cols]
    }
}

/// 参数 — parameters of k-prototypes, unchecked.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct KPrototypesParams {
    /// Number of clusters.
    pub k: usize,
    /// γ, the weight of one categorical mismatch against squared numeric distance (default
    /// none: half the mean standard deviation of the numeric inputs, after Huang).
    pub gamma: Option<f64>,
    /// Restarts from random distinct rows; the lowest cost wins (default 10).
    pub n_init: usize,
    /// Iterations per restart at most (default 100).
    pub max_iter: usize,
    /// Seed (default 0).
    pub seed: u64,
    /// Wall-clock budget of the whole fit in seconds (default none); see
    /// [`KPrototypes::timed_out`].
    #[serde(default)]
    pub max_seconds: Option<f64>,
}

impl KPrototypesParams {
    /// The defaults with `k` clusters.
    pub fn new(k: usize) -> Self {
        KPrototypesParams {
            k,
            gamma: None,
            n_init: 10,
            max_iter: 100,
            seed: 0,
            max_seconds: None,
        }
    }

    /// Sets γ.
    pub fn gamma(mut self, gamma: f64) -> Self {
        self.gamma = Some(gamma);
        self
    }

    /// Sets the seed.
    pub fn seed(mut self, seed: u64) -> Self {
        self.seed = seed;
        self
    }

    /// Checks the parameters.
    ///
    /// # Errors
    /// [`MiningError::InvalidParameter`], e.g. "k cannot be 0", "gamma must be finite and >= 0".
    pub fn validate(&self) -> Result<KPrototypesValidParams> {
        for (name, v) in [
            ("k", self.k),
            ("n_init", self.n_init),
            ("max_iter", self.max_iter),
        ] {
            if v == 0 {
                return Err(MiningError::param(name, "cannot be 0"));
            }
        }
        if let Some(g) = self.gamma
            && !(g.is_finite() && g >= 0.0)
        {
            return Err(MiningError::param("gamma", "must be finite and >= 0"));
        }
        crate::check_seconds(self.max_seconds)?;
        Ok(KPrototypesValidParams(self.clone()))
    }

    /// Validates and fits in one step.
    ///
    /// # Errors
    /// As [`KPrototypesParams::validate`] and [`KPrototypesValidParams::fit`].
    pub fn fit(&self, numeric: &Matrix, categorical: &Codes) -> Result<KPrototypes> {
        self.validate()?.fit(numeric, categorical)
    }
}

/// Checked k-prototypes parameters.
#[derive(Debug, Clone, PartialEq)]
pub struct KPrototypesValidParams(KPrototypesParams);

/// A fitted k-prototypes model.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct KPrototypes {
    /// Numeric part of each prototype (k × p means).
    pub numeric: Matrix,
    /// Categorical part of each prototype (k × q modes).
    pub categorical: Codes,
    /// The γ used.
    pub gamma: f64,
    /// Cluster of every training row.
    pub labels: Vec<usize>,
    /// Total cost: Σ squared numeric distance + γ × mismatches.
    pub cost: f64,
    /// Iterations of the winning restart.
    pub n_iter: usize,
    /// Whether the time budget (`max_seconds`) stopped the current restart and skipped the
    /// later ones.
    #[serde(default)]
    pub timed_out: bool,
}

fn cost_of(num: &[f64], cat: &[u32], pn: &[f64], pc: &[u32], gamma: f64) -> f64 {
    let sq: f64 = num.iter().zip(pn).map(|(a, b)| (a - b) * (a - b)).sum();
    let mismatches = cat.iter().zip(pc).filter(|(a, b)| a != b).count();
    sq + gamma * mismatches as f64
}

impl KPrototypesValidParams {
    /// Fits k-prototypes to the rows of `numeric` and `categorical` (the same rows).
    ///
    /// # Errors
    /// [`MiningError::ShapeMismatch`] when the two have different row counts,
    /// [`MiningError::InvalidInput`] on a NaN or infinite numeric value,
    /// [`MiningError::InsufficientData`] with fewer rows than clusters.
    pub fn fit(&self, numeric: &Matrix, categorical: &Codes) -> Result<KPrototypes> {
        let p = &self.0;
        let n = numeric.n_rows();
        if categorical.n_rows() != n {
            return Err(MiningError::ShapeMismatch {
                what: "rows of the categorical inputs",
                expected: n,
                found: categorical.n_rows(),
            });
        }
        if numeric.n_cols() > 0 {
            numeric.check_finite()?;
        }
        if n < p.k {
            return Err(MiningError::InsufficientData(format!(
                "{n} rows cannot form {} clusters",
                p.k
            )));
        }
        let (dn, dc, k) = (numeric.n_cols(), categorical.n_cols(), p.k);
        let gamma = p.gamma.unwrap_or_else(|| {
            if dn == 0 {
                return 1.0;
            }
            let mean_sd = (0..dn)
                .map(|j| {
                    let col = numeric.column(j);
                    let m = col.iter().sum::<f64>() / n as f64;
                    (col.iter().map(|v| (v - m) * (v - m)).sum::<f64>() / n as f64).sqrt()
                })
                .sum::<f64>()
                / dn as f64;
            0.5 * mean_sd
        });
        let mut best: Option<KPrototypes> = None;
        let deadline = Deadline::after(p.max_seconds);
        let mut timed_out = false;
        for restart in 0..p.n_init {
            if restart > 0 && deadline.passed() {
                timed_out = true;
                break;
            }
            let mut rng = restart_rng(p.seed, restart);
            let init = sample(&mut rng, n, k).into_vec();
            let mut pn: Vec<f64> = init.iter().flat_map(|&i| numeric.row(i).to_vec()).collect();
            let mut pc: Vec<u32> = init
                .iter()
                .flat_map(|&i| categorical.row(i).to_vec())
                .collect();
            let mut labels = vec![usize::MAX; n];
            let mut n_iter = 0;
            for iter in 1..=p.max_iter {
                n_iter = iter;
                let changed: usize = labels
                    .par_chunks_mut(CHUNK)
                    .enumerate()
                    .map(|(chunk, out)| {
                        let mut changed = 0;
                        for (o, i) in out.iter_mut().zip(chunk * CHUNK..) {
                            let mut b = (0, f64::INFINITY);
                            for c in 0..k {
                                let v = cost_of(
                                    numeric.row(i),
                                    categorical.row(i),
                                    &pn[c * dn..(c + 1) * dn],
                                    &pc[c * dc..(c + 1) * dc],
                                    gamma,
                                );
                                if v < b.1 {
                                    b = (c, v);
                                }
                            }
                            if *o != b.0 {
                                *o = b.0;
                                changed += 1;
                            }
                        }
                        changed
                    })
                    .sum();
                if changed == 0 {
                    break;
                }
                // Means of the numeric inputs; modes (smallest code on a tie) of the others. An
                // emptied cluster keeps its prototype.
                let mut sums = vec![0.0; k * dn];
                let mut sizes = vec![0usize; k];
                let mut freq: Vec<std::collections::HashMap<u32, usize>> =
                    vec![Default::default(); k * dc];
                for (i, &l) in labels.iter().enumerate() {
                    sizes[l] += 1;
                    for (a, v) in sums[l * dn..(l + 1) * dn].iter_mut().zip(numeric.row(i)) {
                        *a += v;
                    }
                    for (j, &code) in categorical.row(i).iter().enumerate() {
                        *freq[l * dc + j].entry(code).or_insert(0) += 1;
                    }
                }
                for c in (0..k).filter(|&c| sizes[c] > 0) {
                    for j in 0..dn {
                        pn[c * dn + j] = sums[c * dn + j] / sizes[c] as f64;
                    }
                    for j in 0..dc {
                        let f = &freq[c * dc + j];
                        let mode = f
                            .iter()
                            .max_by(|a, b| a.1.cmp(b.1).then(b.0.cmp(a.0)))
                            .map(|(code, _)| *code);
                        if let Some(mode) = mode {
                            pc[c * dc + j] = mode;
                        }
                    }
                }
                if deadline.passed() {
                    timed_out = true;
                    break;
                }
            }
            let cost: f64 = (0..n)
                .map(|i| {
                    let c = labels[i];
                    cost_of(
                        numeric.row(i),
                        categorical.row(i),
                        &pn[c * dn..(c + 1) * dn],
                        &pc[c * dc..(c + 1) * dc],
                        gamma,
                    )
                })
                .sum();
            if best.as_ref().is_none_or(|b| cost < b.cost) {
                best = Some(KPrototypes {
                    numeric: Matrix::new(pn, k, dn)?,
                    categorical: Codes::new(pc, k, dc)?,
                    gamma,
                    labels,
                    cost,
                    n_iter,
                    timed_out: false,
                });
            }
        }
        let mut best =
            best.ok_or_else(|| MiningError::Internal("no k-prototypes restart ran".into()))?;
        best.timed_out = timed_out;
        Ok(best)
    }
}

impl KPrototypes {
    /// The prototype of least cost for every row.
    ///
    /// # Errors
    /// [`MiningError::ShapeMismatch`] when the widths or row counts disagree.
    pub fn predict(&self, numeric: &Matrix, categorical: &Codes) -> Result<Vec<usize>> {
        let (dn, dc) = (self.numeric.n_cols(), self.categorical.n_cols());
        if numeric.n_cols() != dn || categorical.n_cols() != dc {
            return Err(MiningError::ShapeMismatch {
                what: "numeric + categorical columns",
                expected: dn + dc,
                found: numeric.n_cols() + categorical.n_cols(),
            });
        }
        if numeric.n_rows() != categorical.n_rows() {
            return Err(MiningError::ShapeMismatch {
                what: "rows of the categorical inputs",
                expected: numeric.n_rows(),
                found: categorical.n_rows(),
            });
        }
        Ok((0..numeric.n_rows())
            .map(|i| {
                let mut b = (0, f64::INFINITY);
                for c in 0..self.numeric.n_rows() {
                    let v = cost_of(
                        numeric.row(i),
                        categorical.row(i),
                        self.numeric.row(c),
                        self.categorical.row(c),
                        self.gamma,
                    );
                    if v < b.1 {
                        b = (c, v);
                    }
                }
                b.0
            })
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mixed_groups() {
        // Two groups that differ in both parts.
        let mut num = Vec::new();
        let mut cat = Vec::new();
        for i in 0..40 {
            let g = i % 2;
            num.push(g as f64 * 5.0 + (i % 5) as f64 * 0.1);
            cat.extend([g as u32, (g as u32) * 3 + (i % 2 == 0 && i % 7 == 0) as u32]);
        }
        let x = Matrix::new(num, 40, 1).unwrap();
        let c = Codes::new(cat, 40, 2).unwrap();
        let m = KPrototypesParams::new(2).seed(1).fit(&x, &c).unwrap();
        for i in 0..40 {
            assert_eq!(m.labels[i] == m.labels[0], i % 2 == 0);
        }
        assert_eq!(m.predict(&x, &c).unwrap(), m.labels);
    }
}
