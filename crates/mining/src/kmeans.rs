//! 客户分群 — k-means clustering: k-means++ seeding, Lloyd iterations, several restarts, mini-batch
//! k-means for large n, and the choice of k by silhouette, Calinski–Harabasz and elbow.
//!
//! The kernel assigns points to centroids chunk by chunk on rayon's threads. Each chunk keeps its
//! own partial sums and the sums are added in chunk order, so a fit gives the same centroids to the
//! last bit on any number of threads.

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use crate::distance::squared_euclidean;
use crate::metrics::{calinski_harabasz, silhouette_sampled};
use crate::{Deadline, Matrix, MiningError, Result};

/// Points per parallel task; fixed so that results do not depend on the number of threads.
pub(crate) const CHUNK: usize = 1024;

/// 参数 — the parameters of a k-means fit, unchecked; [`KMeansParams::validate`] checks them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct KMeansParams {
    /// Number of clusters (default none: must be set).
    pub k: usize,
    /// Independent restarts, each with its own k-means++ seeding; the lowest inertia wins
    /// (default 10).
    pub n_init: usize,
    /// Lloyd iterations per restart at most (default 300).
    pub max_iter: usize,
    /// Convergence tolerance relative to the data's mean per-column variance: a restart stops when
    /// the centroids move by less than `tol × mean variance` in total squared distance
    /// (default 1e-4, as scikit-learn).
    pub tol: f64,
    /// Seed of the random seeding (default 0). Restart r draws from stream r of this seed.
    pub seed: u64,
    /// Wall-clock budget of the whole fit in seconds (default none). When it runs out the
    /// current restart stops, later restarts are not tried, and [`KMeans::timed_out`] is set.
    #[serde(default)]
    pub max_seconds: Option<f64>,
}

impl KMeansParams {
    /// The defaults with `k` clusters.
    pub fn new(k: usize) -> Self {
        KMeansParams {
            k,
            n_init: 10,
            max_iter: 300,
            tol: 1e-4,
            seed: 0,
            max_seconds: None,
        }
    }

    /// Sets the number of restarts.
    pub fn n_init(mut self, n_init: usize) -> Self {
        self.n_init = n_init;
        self
    }

    /// Sets the iteration limit per restart.
    pub fn max_iter(mut self, max_iter: usize) -> Self {
        self.max_iter = max_iter;
        self
    }

    /// Sets the relative tolerance.
    pub fn tol(mut self, tol: f64) -> Self {
        self.tol = tol;
        self
    }

    /// Sets the seed.
    pub fn seed(mut self, seed: u64) -> Self {
        self.seed = seed;
        self
    }

    /// Sets the time budget in seconds.
    pub fn max_seconds(mut self, max_seconds: Option<f64>) -> Self {
        self.max_seconds = max_seconds;
        self
    }

    /// Checks the parameters.
    ///
    /// # Errors
    /// [`MiningError::InvalidParameter`], e.g. "k cannot be 0".
    pub fn validate(&self) -> Result<KMeansValidParams> {
        if self.k == 0 {
            return Err(MiningError::param("k", "cannot be 0"));
        }
        if self.n_init == 0 {
            return Err(MiningError::param("n_init", "cannot be 0"));
        }
        if self.max_iter == 0 {
            return Err(MiningError::param("max_iter", "cannot be 0"));
        }
        if !(self.tol.is_finite() && self.tol >= 0.0) {
            return Err(MiningError::param("tol", "must be finite and >= 0"));
        }
        crate::check_seconds(self.max_seconds)?;
        Ok(KMeansValidParams(self.clone()))
    }

    /// Validates and fits in one step.
    ///
    /// # Errors
    /// As [`KMeansParams::validate`] and [`KMeansValidParams::fit`].
    pub fn fit(&self, x: &Matrix) -> Result<KMeans> {
        self.validate()?.fit(x)
    }
}

/// Checked k-means parameters.
#[derive(Debug, Clone, PartialEq)]
pub struct KMeansValidParams(KMeansParams);

impl KMeansValidParams {
    /// The checked parameters.
    pub fn params(&self) -> &KMeansParams {
        &self.0
    }

    /// Fits k-means to the rows of `x`.
    ///
    /// # Errors
    /// [`MiningError::InvalidInput`] on a NaN or infinite value,
    /// [`MiningError::InsufficientData`] when there are fewer rows than clusters.
    pub fn fit(&self, x: &Matrix) -> Result<KMeans> {
        self.fit_by(x, Deadline::after(self.0.max_seconds))
    }

    fn fit_by(&self, x: &Matrix, deadline: Deadline) -> Result<KMeans> {
        let p = &self.0;
        check_points(x, p.k)?;
        let (n, d, k) = (x.n_rows(), x.n_cols(), p.k);
        // Centring keeps ‖c‖² − 2x·c accurate when the data sit far from the origin.
        let mean = column_means(x);
        let xc = centred(x, &mean);
        let tol = p.tol * mean_variance(&xc, d);
        let norms = row_norms(&xc, d);
        let mut ws = Workspace::new(n, d, k);
        let mut best: Option<(f64, Vec<f64>, usize)> = None;
        let mut best_labels = vec![0u32; n];
        let mut timed_out = false;
        for restart in 0..p.n_init {
            if restart > 0 && deadline.passed() {
                timed_out = true;
                break;
            }
            let mut rng = restart_rng(p.seed, restart);
            let init = kmeans_plus_plus(&xc, &norms, d, k, &mut rng);
            let (centers, inertia, n_iter, out) =
                lloyd(&xc, &norms, d, k, init, p.max_iter, tol, deadline, &mut ws);
            timed_out |= out;
            if best.as_ref().is_none_or(|(b, _, _)| inertia < *b) {
                best = Some((inertia, centers, n_iter));
                best_labels.copy_from_slice(&ws.labels);
            }
        }
        let (inertia, centers, n_iter) =
            best.ok_or_else(|| MiningError::Internal("no k-means restart ran".into()))?;
        let mut model =
            KMeans::from_parts(uncentred(centers, &mean), d, best_labels, inertia, n_iter);
        model.timed_out = timed_out;
        Ok(model)
    }
}

/// 聚类结果 — a fitted k-means (or mini-batch k-means) model.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct KMeans {
    /// The k centroids, k × d, in the units of the input.
    pub centroids: Matrix,
    /// The cluster of every training row, in 0..k.
    pub labels: Vec<usize>,
    /// Rows in each cluster.
    pub sizes: Vec<usize>,
    /// Sum of squared distances of the rows to their centroids (within-cluster sum of squares).
    pub inertia: f64,
    /// Lloyd iterations of the winning restart (steps, for mini-batch).
    pub n_iter: usize,
    /// Whether the time budget (`max_seconds`) ended the fit early.
    #[serde(default)]
    pub timed_out: bool,
}

impl KMeans {
    fn from_parts(
        centers: Vec<f64>,
        d: usize,
        labels: Vec<u32>,
        inertia: f64,
        n_iter: usize,
    ) -> Self {
        let k = centers.len() / d;
        let mut sizes = vec![0usize; k];
        for &l in &labels {
            sizes[l as usize] += 1;
        }
        KMeans {
            centroids: Matrix::new(centers, k, d).expect("k × d centroids"),
            labels: labels.into_iter().map(|l| l as usize).collect(),
            sizes,
            inertia,
            n_iter,
            timed_out: false,
        }
    }

    /// Number of clusters.
    pub fn k(&self) -> usize {
        self.centroids.n_rows()
    }

    /// The nearest centroid (Euclidean) of every row of `x`.
    ///
    /// # Errors
    /// [`MiningError::ShapeMismatch`] when `x` has another width than the training data,
    /// [`MiningError::InvalidInput`] on a NaN or infinite value.
    pub fn predict(&self, x: &Matrix) -> Result<Vec<usize>> {
        check_width(x, self.centroids.n_cols(), "columns of the points")?;
        x.check_finite()?;
        Ok(nearest_centroids(x, &self.centroids))
    }
}

/// The nearest centroid of every row of `x` by exact squared Euclidean distance (lowest index on
/// a tie).
pub(crate) fn nearest_centroids(x: &Matrix, centroids: &Matrix) -> Vec<usize> {
    let d = x.n_cols();
    let mut labels = vec![0usize; x.n_rows()];
    if d == 0 {
        return labels;
    }
    labels
        .par_chunks_mut(CHUNK)
        .zip(x.data().par_chunks(CHUNK * d))
        .for_each(|(labels, rows)| {
            for (label, row) in labels.iter_mut().zip(rows.chunks_exact(d)) {
                *label = nearest(row, centroids).0;
            }
        });
    labels
}

/// The nearest row of `centroids` to `row` and its squared distance.
pub(crate) fn nearest(row: &[f64], centroids: &Matrix) -> (usize, f64) {
    let mut best = (0, f64::INFINITY);
    for (c, center) in centroids.rows().enumerate() {
        let dist = squared_euclidean(row, center);
        if dist < best.1 {
            best = (c, dist);
        }
    }
    best
}

pub(crate) fn check_width(x: &Matrix, d: usize, what: &'static str) -> Result<()> {
    if x.n_cols() != d {
        return Err(MiningError::ShapeMismatch {
            what,
            expected: d,
            found: x.n_cols(),
        });
    }
    Ok(())
}

pub(crate) fn check_points(x: &Matrix, k: usize) -> Result<()> {
    x.check_finite()?;
    if x.n_rows() < k {
        return Err(MiningError::InsufficientData(format!(
            "{} rows cannot form {k} clusters",
            x.n_rows()
        )));
    }
    Ok(())
}

pub(crate) fn restart_rng(seed: u64, restart: usize) -> ChaCha8Rng {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    rng.set_stream(restart as u64);
    rng
}

/// Ordered sum of per-chunk partial results: the same rounding on any number of threads.
fn chunk_sum(data: &[f64], d: usize, f: impl Fn(&[f64]) -> f64 + Sync + Send) -> f64 {
    let parts: Vec<f64> = data.par_chunks(CHUNK * d).map(f).collect();
    parts.iter().sum()
}

pub(crate) fn column_means(x: &Matrix) -> Vec<f64> {
    let d = x.n_cols();
    let parts: Vec<Vec<f64>> = x
        .data()
        .par_chunks(CHUNK * d)
        .map(|rows| {
            let mut s = vec![0.0; d];
            for row in rows.chunks_exact(d) {
                for (a, v) in s.iter_mut().zip(row) {
                    *a += v;
                }
            }
            s
        })
        .collect();
    let mut mean = vec![0.0; d];
    for part in parts {
        for (a, v) in mean.iter_mut().zip(part) {
            *a += v;
        }
    }
    let n = x.n_rows().max(1) as f64;
    mean.iter_mut().for_each(|m| *m /= n);
    mean
}

fn centred(x: &Matrix, mean: &[f64]) -> Vec<f64> {
    let d = mean.len();
    let mut out = x.data().to_vec();
    out.par_chunks_mut(CHUNK * d).for_each(|rows| {
        for row in rows.chunks_exact_mut(d) {
            for (v, m) in row.iter_mut().zip(mean) {
                *v -= m;
            }
        }
    });
    out
}

fn uncentred(mut centers: Vec<f64>, mean: &[f64]) -> Vec<f64> {
    for row in centers.chunks_exact_mut(mean.len()) {
        for (v, m) in row.iter_mut().zip(mean) {
            *v += m;
        }
    }
    centers
}

/// Mean over columns of the per-column variance of centred data.
fn mean_variance(xc: &[f64], d: usize) -> f64 {
    let n = (xc.len() / d).max(1) as f64;
    chunk_sum(xc, d, |rows| rows.iter().map(|v| v * v).sum()) / n / d as f64
}

/// Greedy k-means++ (Arthur & Vassilvitskii, with 2 + ⌊ln k⌋ candidates per step as
/// scikit-learn): each new centroid is the candidate, drawn in proportion to the squared distance
/// to the nearest centroid so far, that lowers the total most.
pub(crate) fn kmeans_plus_plus(
    x: &[f64],
    norms: &[f64],
    d: usize,
    k: usize,
    rng: &mut ChaCha8Rng,
) -> Vec<f64> {
    let n = x.len() / d;
    let trials = 2 + (k as f64).ln().floor() as usize;
    let groups = trials.div_ceil(LANES);
    let mut centers = Vec::with_capacity(k * d);
    let first = rng.random_range(0..n);
    centers.extend_from_slice(&x[first * d..(first + 1) * d]);
    // Squared distance of every row to its nearest centre so far, and that centre.
    let mut closest = vec![0.0; n];
    let mut nearest = vec![0u32; n];
    closest
        .par_chunks_mut(CHUNK)
        .zip(x.par_chunks(CHUNK * d))
        .for_each(|(out, rows)| {
            let c = &x[first * d..(first + 1) * d];
            for (o, row) in out.iter_mut().zip(rows.chunks_exact(d)) {
                *o = squared_euclidean(row, c);
            }
        });
    let mut cumsum = vec![0.0; n];
    let mut chunk_end = vec![0.0; n.div_ceil(CHUNK)];
    // Each row's squared distance to every candidate of the last step (∞ where the bound showed
    // it cannot matter), so the winner's distances need no second pass.
    let mut cand_dist = vec![[f64::INFINITY; LANES]; n * groups];
    let mut chosen_lane: Option<usize> = None;
    let mut packed = Packed::new(d);
    for _ in 1..k {
        // Fold the last winner into the distances while summing them for the draw: prefix sums
        // within each chunk (in parallel), then the chunks' running totals.
        let index = (centers.len() / d - 1) as u32;
        closest
            .par_chunks_mut(CHUNK)
            .zip(nearest.par_chunks_mut(CHUNK))
            .zip(cumsum.par_chunks_mut(CHUNK))
            .zip(cand_dist.par_chunks(CHUNK * groups))
            .zip(chunk_end.par_iter_mut())
            .for_each(|((((close, near), sums), dist), end)| {
                let mut acc = 0.0;
                for (i, (cl, c)) in close.iter_mut().zip(near.iter_mut()).enumerate() {
                    if let Some(t) = chosen_lane {
                        let v = dist[i * groups + t / LANES][t % LANES];
                        if v < *cl {
                            *cl = v;
                            *c = index;
                        }
                    }
                    acc += *cl;
                    sums[i] = acc;
                }
                *end = acc;
            });
        for c in 1..chunk_end.len() {
            chunk_end[c] += chunk_end[c - 1];
        }
        let pot = chunk_end[chunk_end.len() - 1];
        let candidates: Vec<usize> = (0..trials)
            .map(|_| {
                let r = rng.random::<f64>() * pot;
                let c = chunk_end
                    .partition_point(|&e| e < r)
                    .min(chunk_end.len() - 1);
                let start = if c == 0 { 0.0 } else { chunk_end[c - 1] };
                let local = &cumsum[c * CHUNK..((c + 1) * CHUNK).min(n)];
                c * CHUNK
                    + local
                        .partition_point(|&v| start + v < r)
                        .min(local.len() - 1)
            })
            .collect();
        let cand_rows: Vec<f64> = candidates
            .iter()
            .flat_map(|&i| x[i * d..(i + 1) * d].iter().copied())
            .collect();
        // A row whose nearest centre c lies within half the distance from c to every candidate
        // keeps its distance whichever candidate wins (triangle inequality), so only the other
        // rows need their distances to the candidates: cut[c] = min_t ‖c − t‖² / 4.
        let n_centers = centers.len() / d;
        let cut: Vec<f64> = (0..n_centers)
            .map(|c| {
                cand_rows
                    .chunks_exact(d)
                    .map(|t| squared_euclidean(&centers[c * d..(c + 1) * d], t))
                    .fold(f64::INFINITY, f64::min)
                    / 4.0
            })
            .collect();
        // ‖x − t‖² = ‖x‖² + 2 (½‖t‖² − x·t), four candidates at a time.
        packed.load(&cand_rows);
        let parts: Vec<Vec<f64>> = x
            .par_chunks(CHUNK * d)
            .zip(closest.par_chunks(CHUNK))
            .zip(nearest.par_chunks(CHUNK))
            .zip(norms.par_chunks(CHUNK))
            .zip(cand_dist.par_chunks_mut(CHUNK * groups))
            .map(|((((rows, close), near), norms), dist)| {
                let mut pots = vec![0.0; groups * LANES];
                let mut kept = 0.0;
                for ((((row, &cl), &c), &xn), dist) in rows
                    .chunks_exact(d)
                    .zip(close)
                    .zip(near)
                    .zip(norms)
                    .zip(dist.chunks_exact_mut(groups))
                {
                    if cl <= cut[c as usize] {
                        kept += cl;
                        dist.fill([f64::INFINITY; LANES]);
                        continue;
                    }
                    for (g, out) in dist.iter_mut().enumerate() {
                        let acc = packed.scores(row, g);
                        for l in 0..LANES {
                            let v = (xn + 2.0 * acc[l]).max(0.0);
                            out[l] = v;
                            pots[g * LANES + l] += v.min(cl);
                        }
                    }
                }
                pots.iter_mut().for_each(|p| *p += kept);
                pots
            })
            .collect();
        let mut pots = vec![0.0; trials];
        for part in parts {
            for (a, v) in pots.iter_mut().zip(part) {
                *a += v;
            }
        }
        let mut best = 0;
        for t in 1..trials {
            if pots[t] < pots[best] {
                best = t;
            }
        }
        chosen_lane = Some(best);
        centers.extend_from_slice(&cand_rows[best * d..(best + 1) * d]);
    }
    centers
}

/// x·y with four partial sums, so the additions do not wait on each other.
#[inline(always)]
fn dot(x: &[f64], y: &[f64]) -> f64 {
    let mut acc = [0.0; 4];
    let mut xs = x.chunks_exact(4);
    let mut ys = y.chunks_exact(4);
    for (a, b) in (&mut xs).zip(&mut ys) {
        for l in 0..4 {
            acc[l] += a[l] * b[l];
        }
    }
    let tail: f64 = xs
        .remainder()
        .iter()
        .zip(ys.remainder())
        .map(|(a, b)| a * b)
        .sum();
    (acc[0] + acc[1]) + (acc[2] + acc[3]) + tail
}

/// ‖x‖² of every row.
pub(crate) fn row_norms(x: &[f64], d: usize) -> Vec<f64> {
    let mut norms = vec![0.0; x.len() / d];
    norms
        .par_chunks_mut(CHUNK)
        .zip(x.par_chunks(CHUNK * d))
        .for_each(|(out, rows)| {
            for (o, row) in out.iter_mut().zip(rows.chunks_exact(d)) {
                *o = dot(row, row);
            }
        });
    norms
}

/// Lanes of a packed group of centres: four f64 fill two SSE2 (or one AVX) registers, and a
/// fixed width lets the compiler unroll and vectorise the loop over centres whatever k and d are.
const LANES: usize = 4;

/// Centres packed for the distance kernel: groups of four, transposed (`data[g * d + j][l]` is
/// coordinate j of centre 4g + l), with ½‖c‖² per lane. Padding lanes have ½‖c‖² = ∞ and are
/// never nearest.
struct Packed {
    d: usize,
    data: Vec<[f64; LANES]>,
    half_norms: Vec<[f64; LANES]>,
}

impl Packed {
    fn new(d: usize) -> Self {
        Packed {
            d,
            data: Vec::new(),
            half_norms: Vec::new(),
        }
    }

    fn load(&mut self, centers: &[f64]) {
        let d = self.d;
        let k = centers.len() / d;
        let groups = k.div_ceil(LANES);
        self.data.clear();
        self.data.resize(groups * d, [0.0; LANES]);
        self.half_norms.clear();
        self.half_norms.resize(groups, [f64::INFINITY; LANES]);
        for (c, center) in centers.chunks_exact(d).enumerate() {
            let (g, l) = (c / LANES, c % LANES);
            self.half_norms[g][l] = 0.5 * center.iter().map(|v| v * v).sum::<f64>();
            for (j, v) in center.iter().enumerate() {
                self.data[g * d + j][l] = *v;
            }
        }
    }

    /// ½‖c‖² − x·c for the centres of group `g`.
    #[inline(always)]
    fn scores(&self, row: &[f64], g: usize) -> [f64; LANES] {
        let mut acc = self.half_norms[g];
        for (xj, c) in row.iter().zip(&self.data[g * self.d..(g + 1) * self.d]) {
            for l in 0..LANES {
                acc[l] -= xj * c[l];
            }
        }
        acc
    }
}

/// Buffers of the Lloyd iterations, allocated once per fit.
struct Workspace {
    labels: Vec<u32>,
    /// Hamerly's bounds: an upper bound on each row's distance to its centroid and a lower
    /// bound on its distance to any other centroid.
    upper: Vec<f64>,
    lower: Vec<f64>,
    sums: Vec<f64>,
    counts: Vec<f64>,
    packed: Packed,
    n_chunks: usize,
}

impl Workspace {
    fn new(n: usize, d: usize, k: usize) -> Self {
        let n_chunks = n.div_ceil(CHUNK).max(1);
        Workspace {
            labels: vec![u32::MAX; n],
            upper: vec![0.0; n],
            lower: vec![0.0; n],
            sums: vec![0.0; n_chunks * k * d],
            counts: vec![0.0; n_chunks * k],
            packed: Packed::new(d),
            n_chunks,
        }
    }
}

/// How the centroids moved since the last pass, for the bounds.
struct Moves {
    /// Distance each centroid moved.
    delta: Vec<f64>,
    /// The largest move, and the largest of the others for the centroid that moved most.
    max: f64,
    max_other: f64,
    argmax: usize,
    /// Half the distance from each centroid to its nearest other centroid.
    half_gap: Vec<f64>,
}

impl Moves {
    fn new(k: usize) -> Self {
        Moves {
            delta: vec![0.0; k],
            max: 0.0,
            max_other: 0.0,
            argmax: 0,
            half_gap: vec![0.0; k],
        }
    }

    fn set(&mut self, old: &[f64], new: &[f64], d: usize) {
        let k = self.delta.len();
        for c in 0..k {
            self.delta[c] =
                squared_euclidean(&old[c * d..(c + 1) * d], &new[c * d..(c + 1) * d]).sqrt();
        }
        self.argmax = 0;
        for c in 1..k {
            if self.delta[c] > self.delta[self.argmax] {
                self.argmax = c;
            }
        }
        self.max = self.delta[self.argmax];
        self.max_other = (0..k)
            .filter(|&c| c != self.argmax)
            .map(|c| self.delta[c])
            .fold(0.0, f64::max);
        self.gaps(new, d);
    }

    fn gaps(&mut self, centers: &[f64], d: usize) {
        let k = self.delta.len();
        for c in 0..k {
            self.half_gap[c] = (0..k)
                .filter(|&o| o != c)
                .map(|o| {
                    squared_euclidean(&centers[c * d..(c + 1) * d], &centers[o * d..(o + 1) * d])
                })
                .fold(f64::INFINITY, f64::min)
                .sqrt()
                * 0.5;
        }
    }
}

/// One pass over the points: every label becomes the nearest centroid; with `update`, each chunk
/// also sums its points per cluster. Returns the number of labels that changed.
///
/// Hamerly's bounds (2010) skip the distances to all centroids for a row whose centroid is
/// provably still the nearest: the labels are those of a plain Lloyd pass. With `first` every
/// distance is computed and the bounds set; otherwise `moves` says how far the centroids moved
/// since the bounds were set.
#[allow(clippy::too_many_arguments)]
fn assign(
    x: &[f64],
    norms: &[f64],
    d: usize,
    k: usize,
    centers: &[f64],
    ws: &mut Workspace,
    moves: &Moves,
    first: bool,
    update: bool,
) -> usize {
    ws.packed.load(centers);
    let packed = &ws.packed;
    x.par_chunks(CHUNK * d)
        .zip(norms.par_chunks(CHUNK))
        .zip(ws.labels.par_chunks_mut(CHUNK))
        .zip(ws.upper.par_chunks_mut(CHUNK))
        .zip(ws.lower.par_chunks_mut(CHUNK))
        .zip(ws.sums.par_chunks_mut(k * d))
        .zip(ws.counts.par_chunks_mut(k))
        .map(
            |((((((rows, norms), labels), upper), lower), sums), counts)| {
                if update {
                    sums.fill(0.0);
                    counts.fill(0.0);
                }
                let mut changed = 0;
                for (i, row) in rows.chunks_exact(d).enumerate() {
                    let label = labels[i] as usize;
                    let mut full = first;
                    if !first {
                        upper[i] += moves.delta[label];
                        lower[i] -= if label == moves.argmax {
                            moves.max_other
                        } else {
                            moves.max
                        };
                        let bound = lower[i].max(moves.half_gap[label]);
                        if upper[i] > bound {
                            upper[i] =
                                squared_euclidean(row, &centers[label * d..(label + 1) * d]).sqrt();
                            full = upper[i] > bound;
                        }
                    }
                    let best = if full {
                        // Branch-free running minimum and second minimum: which centre wins is
                        // unpredictable, and a mispredicted branch costs more than the selects.
                        let mut best = f64::INFINITY;
                        let mut best_c = 0usize;
                        let mut second = f64::INFINITY;
                        for g in 0..packed.half_norms.len() {
                            let acc = packed.scores(row, g);
                            for (l, &v) in acc.iter().enumerate() {
                                let lt = v < best;
                                second = if lt { best } else { second.min(v) };
                                best_c = if lt { g * LANES + l } else { best_c };
                                best = if lt { v } else { best };
                            }
                        }
                        let c = best_c;
                        // ‖x‖² + 2·score loses a little to rounding: widen the bounds by a margin
                        // well above it.
                        let xn = norms[i];
                        let far = if second.is_finite() {
                            second.abs()
                        } else {
                            0.0
                        };
                        let margin = 1e-9 * (1.0 + xn + 2.0 * (best.abs() + far));
                        upper[i] = ((xn + 2.0 * best).max(0.0) + margin).sqrt();
                        lower[i] = (xn + 2.0 * second - margin).max(0.0).sqrt();
                        if labels[i] != c as u32 {
                            labels[i] = c as u32;
                            changed += 1;
                        }
                        c
                    } else {
                        label
                    };
                    if update {
                        counts[best] += 1.0;
                        for (a, v) in sums[best * d..(best + 1) * d].iter_mut().zip(row) {
                            *a += v;
                        }
                    }
                }
                changed
            },
        )
        .sum()
}

/// Lloyd iterations from `centers`; returns the final centroids, the inertia, the number of
/// iterations and whether `deadline` stopped them, with the labels in `ws.labels`. Stops as
/// scikit-learn does: when no label changes, or when the centroids' total squared shift is at
/// most `tol`.
#[allow(clippy::too_many_arguments)]
fn lloyd(
    x: &[f64],
    norms: &[f64],
    d: usize,
    k: usize,
    mut centers: Vec<f64>,
    max_iter: usize,
    tol: f64,
    deadline: Deadline,
    ws: &mut Workspace,
) -> (Vec<f64>, f64, usize, bool) {
    ws.labels.fill(u32::MAX);
    let mut moves = Moves::new(k);
    let mut old_centers = centers.clone();
    let mut new_centers = vec![0.0; k * d];
    let mut counts = vec![0.0; k];
    let mut strict = false;
    let mut timed_out = false;
    let mut n_iter = 0;
    for iter in 0..max_iter {
        n_iter = iter + 1;
        if iter > 0 {
            moves.set(&old_centers, &centers, d);
        } else {
            moves.gaps(&centers, d);
        }
        old_centers.copy_from_slice(&centers);
        let changed = assign(x, norms, d, k, &centers, ws, &moves, iter == 0, true);
        new_centers.fill(0.0);
        counts.fill(0.0);
        for chunk in 0..ws.n_chunks {
            for (a, v) in new_centers
                .iter_mut()
                .zip(&ws.sums[chunk * k * d..(chunk + 1) * k * d])
            {
                *a += v;
            }
            for (a, v) in counts
                .iter_mut()
                .zip(&ws.counts[chunk * k..(chunk + 1) * k])
            {
                *a += v;
            }
        }
        if counts.contains(&0.0) {
            relocate_empty(x, d, &centers, &ws.labels, &mut new_centers, &mut counts);
        }
        let mut shift = 0.0;
        for c in 0..k {
            for j in 0..d {
                let v = new_centers[c * d + j] / counts[c];
                let old = centers[c * d + j];
                shift += (v - old) * (v - old);
                centers[c * d + j] = v;
            }
        }
        if iter > 0 && changed == 0 {
            strict = true;
            break;
        }
        if shift <= tol {
            break;
        }
        if deadline.passed() {
            timed_out = true;
            break;
        }
    }
    if !strict {
        moves.set(&old_centers, &centers, d);
        assign(x, norms, d, k, &centers, ws, &moves, false, false);
    }
    let inertia = inertia_of(x, d, &centers, &ws.labels);
    (centers, inertia, n_iter, timed_out)
}

/// Gives each empty cluster the point farthest from its own centroid (as scikit-learn does),
/// moving that point's weight out of its old cluster's sums.
fn relocate_empty(
    x: &[f64],
    d: usize,
    centers: &[f64],
    labels: &[u32],
    sums: &mut [f64],
    counts: &mut [f64],
) {
    let empty: Vec<usize> = (0..counts.len()).filter(|&c| counts[c] == 0.0).collect();
    let mut far: Vec<(f64, usize)> = x
        .chunks_exact(d)
        .zip(labels)
        .enumerate()
        .map(|(i, (row, &l))| {
            let l = l as usize;
            (squared_euclidean(row, &centers[l * d..(l + 1) * d]), i)
        })
        .collect();
    far.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)));
    for (&c, &(_, i)) in empty.iter().zip(&far) {
        let old = labels[i] as usize;
        if counts[old] <= 1.0 {
            continue;
        }
        let row = &x[i * d..(i + 1) * d];
        for j in 0..d {
            sums[old * d + j] -= row[j];
            sums[c * d + j] = row[j];
        }
        counts[old] -= 1.0;
        counts[c] = 1.0;
    }
    // A cluster that could not be given a point keeps its centroid.
    for c in 0..counts.len() {
        if counts[c] == 0.0 {
            sums[c * d..(c + 1) * d].copy_from_slice(&centers[c * d..(c + 1) * d]);
            counts[c] = 1.0;
        }
    }
}

/// Σ ‖x − c(x)‖², exact, in chunk order.
fn inertia_of(x: &[f64], d: usize, centers: &[f64], labels: &[u32]) -> f64 {
    let parts: Vec<f64> = x
        .par_chunks(CHUNK * d)
        .zip(labels.par_chunks(CHUNK))
        .map(|(rows, labels)| {
            rows.chunks_exact(d)
                .zip(labels)
                .map(|(row, &l)| {
                    let l = l as usize;
                    squared_euclidean(row, &centers[l * d..(l + 1) * d])
                })
                .sum::<f64>()
        })
        .collect();
    parts.iter().sum()
}

/// 小批量 k-means — mini-batch k-means (Sculley 2010) for large n: centroids move towards random
/// batches with per-centroid learning rates; one full pass at the end labels every row.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MiniBatchKMeansParams {
    /// Number of clusters.
    pub k: usize,
    /// Rows per batch (default 1024).
    pub batch_size: usize,
    /// Passes over the data at most, counted in batches of `n / batch_size` (default 100).
    pub max_iter: usize,
    /// Seedings tried on the initial sample; the lowest inertia there wins (default 3).
    pub n_init: usize,
    /// Stop after this many batches without improvement of the smoothed batch inertia
    /// (default 10).
    pub max_no_improvement: usize,
    /// Seed (default 0).
    pub seed: u64,
    /// Wall-clock budget of the batches in seconds (default none); see
    /// [`KMeans::timed_out`].
    #[serde(default)]
    pub max_seconds: Option<f64>,
}

impl MiniBatchKMeansParams {
    /// The defaults with `k` clusters.
    pub fn new(k: usize) -> Self {
        MiniBatchKMeansParams {
            k,
            batch_size: 1024,
            max_iter: 100,
            n_init: 3,
            max_no_improvement: 10,
            seed: 0,
            max_seconds: None,
        }
    }

    /// Sets the batch size.
    pub fn batch_size(mut self, batch_size: usize) -> Self {
        self.batch_size = batch_size;
        self
    }

    /// Sets the time budget in seconds.
    pub fn max_seconds(mut self, max_seconds: Option<f64>) -> Self {
        self.max_seconds = max_seconds;
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
    /// [`MiningError::InvalidParameter`], e.g. "batch_size cannot be 0".
    pub fn validate(&self) -> Result<MiniBatchKMeansValidParams> {
        for (name, v) in [
            ("k", self.k),
            ("batch_size", self.batch_size),
            ("max_iter", self.max_iter),
            ("n_init", self.n_init),
            ("max_no_improvement", self.max_no_improvement),
        ] {
            if v == 0 {
                return Err(MiningError::param(name, "cannot be 0"));
            }
        }
        crate::check_seconds(self.max_seconds)?;
        Ok(MiniBatchKMeansValidParams(self.clone()))
    }

    /// Validates and fits in one step.
    ///
    /// # Errors
    /// As [`MiniBatchKMeansParams::validate`] and [`MiniBatchKMeansValidParams::fit`].
    pub fn fit(&self, x: &Matrix) -> Result<KMeans> {
        self.validate()?.fit(x)
    }
}

/// Checked mini-batch k-means parameters.
#[derive(Debug, Clone, PartialEq)]
pub struct MiniBatchKMeansValidParams(MiniBatchKMeansParams);

impl MiniBatchKMeansValidParams {
    /// Fits mini-batch k-means to the rows of `x`.
    ///
    /// # Errors
    /// As [`KMeansValidParams::fit`].
    pub fn fit(&self, x: &Matrix) -> Result<KMeans> {
        let p = &self.0;
        check_points(x, p.k)?;
        let (n, d, k) = (x.n_rows(), x.n_cols(), p.k);
        let mean = column_means(x);
        let xc = centred(x, &mean);
        let batch = p.batch_size.min(n);
        let init_size = (3 * batch).max(3 * k).min(n);
        let init_rows = crate::matrix::sample_indices(n, init_size, p.seed);
        let sample: Vec<f64> = init_rows
            .iter()
            .flat_map(|&i| xc[i * d..(i + 1) * d].iter().copied())
            .collect();
        let sample_norms = row_norms(&sample, d);
        let mut centers = Vec::new();
        let mut best = f64::INFINITY;
        for restart in 0..p.n_init {
            let mut rng = restart_rng(p.seed, restart + 1);
            let c = kmeans_plus_plus(&sample, &sample_norms, d, k, &mut rng);
            let cm = Matrix::new(c.clone(), k, d)?;
            let inertia: f64 = sample.chunks_exact(d).map(|r| nearest(r, &cm).1).sum();
            if inertia < best {
                best = inertia;
                centers = c;
            }
        }
        let mut rng = restart_rng(p.seed, 0);
        let steps = (p.max_iter * n).div_ceil(batch);
        let alpha = (2.0 * batch as f64 / (n as f64 + 1.0)).min(1.0);
        let mut weights = vec![0.0; k];
        let mut batch_sums = vec![0.0; k * d];
        let mut batch_counts = vec![0.0; k];
        let (mut ewa, mut best_ewa, mut stale) = (f64::NAN, f64::INFINITY, 0);
        let mut n_iter = 0;
        let deadline = Deadline::after(p.max_seconds);
        let mut timed_out = false;
        for step in 0..steps {
            if step > 0 && deadline.passed() {
                timed_out = true;
                break;
            }
            n_iter = step + 1;
            batch_sums.fill(0.0);
            batch_counts.fill(0.0);
            let cm = Matrix::new(centers.clone(), k, d)?;
            let mut batch_inertia = 0.0;
            for _ in 0..batch {
                let i = rng.random_range(0..n);
                let row = &xc[i * d..(i + 1) * d];
                let (c, dist) = nearest(row, &cm);
                batch_inertia += dist;
                batch_counts[c] += 1.0;
                for (a, v) in batch_sums[c * d..(c + 1) * d].iter_mut().zip(row) {
                    *a += v;
                }
            }
            for c in 0..k {
                if batch_counts[c] > 0.0 {
                    let w = weights[c] + batch_counts[c];
                    for j in 0..d {
                        let v = &mut centers[c * d + j];
                        *v = (*v * weights[c] + batch_sums[c * d + j]) / w;
                    }
                    weights[c] = w;
                }
            }
            let bi = batch_inertia / batch as f64;
            ewa = if step == 0 {
                bi
            } else {
                ewa * (1.0 - alpha) + bi * alpha
            };
            if ewa < best_ewa {
                best_ewa = ewa;
                stale = 0;
            } else {
                stale += 1;
                if stale >= p.max_no_improvement {
                    break;
                }
            }
        }
        let mut ws = Workspace::new(n, d, k);
        let norms = row_norms(&xc, d);
        let mut moves = Moves::new(k);
        moves.gaps(&centers, d);
        assign(&xc, &norms, d, k, &centers, &mut ws, &moves, true, false);
        let inertia = inertia_of(&xc, d, &centers, &ws.labels);
        let mut model =
            KMeans::from_parts(uncentred(centers, &mean), d, ws.labels, inertia, n_iter);
        model.timed_out = timed_out;
        Ok(model)
    }
}

/// How [`choose_k`] picks k from the scores.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
pub enum KCriterion {
    /// 轮廓系数 — the highest (sampled) silhouette.
    #[default]
    Silhouette,
    /// Calinski–Harabasz 指数 — the highest Calinski–Harabasz index.
    CalinskiHarabasz,
    /// 肘部法则 — the elbow of the inertia curve: the k farthest below the chord from the first
    /// to the last k.
    Elbow,
}

impl std::str::FromStr for KCriterion {
    type Err = MiningError;

    /// Parses `silhouette`, `calinski_harabasz` (or `ch`) and `elbow`, ignoring case.
    fn from_str(s: &str) -> Result<Self> {
        match s.trim().to_ascii_lowercase().as_str() {
            "silhouette" => Ok(KCriterion::Silhouette),
            "calinski_harabasz" | "ch" => Ok(KCriterion::CalinskiHarabasz),
            "elbow" => Ok(KCriterion::Elbow),
            _ => Err(MiningError::param(
                "criterion",
                "must be one of `silhouette`, `calinski_harabasz`, `elbow`",
            )),
        }
    }
}

/// 选择 k — parameters of [`choose_k`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ChooseKParams {
    /// Smallest k tried (default 2).
    pub k_min: usize,
    /// Largest k tried (default 10).
    pub k_max: usize,
    /// The k-means settings of every fit; its `k` is ignored.
    pub kmeans: KMeansParams,
    /// Rows the silhouette is computed on, drawn with the k-means seed (default 10,000; `None`
    /// for the exact silhouette over all rows, O(n²)).
    pub silhouette_sample: Option<usize>,
    /// How k is picked (default silhouette).
    pub criterion: KCriterion,
}

impl Default for ChooseKParams {
    fn default() -> Self {
        ChooseKParams {
            k_min: 2,
            k_max: 10,
            kmeans: KMeansParams::new(2),
            silhouette_sample: Some(10_000),
            criterion: KCriterion::Silhouette,
        }
    }
}

/// The scores of one k.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct KScore {
    /// Number of clusters.
    pub k: usize,
    /// Within-cluster sum of squares (the elbow curve).
    pub inertia: f64,
    /// Mean silhouette, in [−1, 1]; higher is better.
    pub silhouette: f64,
    /// Calinski–Harabasz index; higher is better.
    pub calinski_harabasz: f64,
}

/// The outcome of [`choose_k`]: every k's scores side by side, the k picked and its model.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct KChoice {
    /// One row per k, ascending.
    pub scores: Vec<KScore>,
    /// The k picked by the criterion.
    pub k: usize,
    /// The fit at that k.
    pub model: KMeans,
    /// Whether the time budget (`kmeans.max_seconds`, for all k together) ran out: the fits
    /// stopped early and larger k were not tried.
    #[serde(default)]
    pub timed_out: bool,
}

/// 选择聚类数 — fits k-means for every k in `k_min..=k_max` and reports inertia (elbow),
/// silhouette and Calinski–Harabasz side by side, picking k by `params.criterion`.
///
/// # Errors
/// [`MiningError::InvalidParameter`] when `k_min < 2` or `k_max < k_min`; otherwise as
/// [`KMeansValidParams::fit`].
pub fn choose_k(x: &Matrix, params: &ChooseKParams) -> Result<KChoice> {
    if params.k_min < 2 {
        return Err(MiningError::param("k_min", "must be at least 2"));
    }
    if params.k_max < params.k_min {
        return Err(MiningError::param("k_max", "must be at least k_min"));
    }
    if params.silhouette_sample == Some(0) {
        return Err(MiningError::param("silhouette_sample", "cannot be 0"));
    }
    let mut scores = Vec::new();
    let mut models = Vec::new();
    let deadline = Deadline::after(params.kmeans.max_seconds);
    let mut timed_out = false;
    for k in params.k_min..=params.k_max {
        if !models.is_empty() && deadline.passed() {
            timed_out = true;
            break;
        }
        let mut p = params.kmeans.clone();
        p.k = k;
        let model = p.validate()?.fit_by(x, deadline)?;
        timed_out |= model.timed_out;
        let sample = params.silhouette_sample.unwrap_or(x.n_rows());
        let silhouette = silhouette_sampled(x, &model.labels, sample, p.seed)?;
        let ch = calinski_harabasz(x, &model.labels)?;
        scores.push(KScore {
            k,
            inertia: model.inertia,
            silhouette,
            calinski_harabasz: ch,
        });
        models.push(model);
    }
    let pick = match params.criterion {
        KCriterion::Silhouette => argmax(scores.iter().map(|s| s.silhouette)),
        KCriterion::CalinskiHarabasz => argmax(scores.iter().map(|s| s.calinski_harabasz)),
        KCriterion::Elbow => elbow(&scores),
    };
    Ok(KChoice {
        k: scores[pick].k,
        model: models.swap_remove(pick),
        scores,
        timed_out,
    })
}

/// Index of the largest value; the first on a tie, NaN never wins.
fn argmax(values: impl Iterator<Item = f64>) -> usize {
    let mut best = (0, f64::NEG_INFINITY);
    for (i, v) in values.enumerate() {
        if v > best.1 {
            best = (i, v);
        }
    }
    best.0
}

/// The k whose inertia lies farthest below the chord joining the first and last k, both axes
/// scaled to [0, 1]; the first k when the curve never dips below the chord.
fn elbow(scores: &[KScore]) -> usize {
    if scores.len() < 3 {
        return 0;
    }
    let (first, last) = (&scores[0], &scores[scores.len() - 1]);
    let span_k = (last.k - first.k) as f64;
    let span_i = first.inertia - last.inertia;
    if span_i <= 0.0 {
        return 0;
    }
    let mut best = (0, 0.0);
    for (i, s) in scores.iter().enumerate() {
        let t = (s.k - first.k) as f64 / span_k;
        let chord = 1.0 - t;
        let y = (s.inertia - last.inertia) / span_i;
        if chord - y > best.1 {
            best = (i, chord - y);
        }
    }
    best.0
}

#[cfg(test)]
mod tests {
    use super::*;

    fn blobs() -> Matrix {
        let mut rows = Vec::new();
        for (c, (cx, cy)) in [(0.0, 0.0), (10.0, 0.0), (0.0, 10.0)].iter().enumerate() {
            for i in 0..20 {
                let dx = ((i * 7 + c) % 5) as f64 * 0.1;
                let dy = ((i * 3 + c) % 4) as f64 * 0.1;
                rows.push([cx + dx, cy + dy]);
            }
        }
        Matrix::from_rows(&rows).unwrap()
    }

    #[test]
    fn messages_name_the_rule() {
        assert_eq!(
            KMeansParams::new(0).validate().unwrap_err().to_string(),
            "k cannot be 0"
        );
        assert_eq!(
            KMeansParams::new(2)
                .tol(-1.0)
                .validate()
                .unwrap_err()
                .to_string(),
            "tol must be finite and >= 0"
        );
        let x = Matrix::from_rows(&[[1.0], [2.0]]).unwrap();
        assert!(matches!(
            KMeansParams::new(3).fit(&x),
            Err(MiningError::InsufficientData(_))
        ));
    }

    #[test]
    fn three_blobs() {
        let x = blobs();
        let m = KMeansParams::new(3).seed(1).fit(&x).unwrap();
        assert_eq!(m.sizes.len(), 3);
        assert!(m.sizes.iter().all(|&s| s == 20));
        let pred = m.predict(&x).unwrap();
        assert_eq!(pred, m.labels);
        let naive: f64 = x
            .rows()
            .zip(&m.labels)
            .map(|(r, &l)| squared_euclidean(r, m.centroids.row(l)))
            .sum();
        assert!((naive - m.inertia).abs() < 1e-9 * naive.max(1.0));
    }

    /// Plain Lloyd with exact distances and the same stopping rules.
    fn naive_lloyd(x: &[f64], d: usize, mut centers: Vec<f64>, tol: f64) -> (Vec<u32>, Vec<f64>) {
        let k = centers.len() / d;
        let n = x.len() / d;
        let mut labels = vec![u32::MAX; n];
        let label_all = |centers: &[f64], labels: &mut Vec<u32>| {
            let cm = Matrix::new(centers.to_vec(), k, d).unwrap();
            let mut changed = 0;
            for (i, row) in x.chunks_exact(d).enumerate() {
                let c = nearest(row, &cm).0 as u32;
                if labels[i] != c {
                    labels[i] = c;
                    changed += 1;
                }
            }
            changed
        };
        for iter in 0..300 {
            let changed = label_all(&centers, &mut labels);
            let mut sums = vec![0.0; k * d];
            let mut counts = vec![0.0; k];
            for (row, &l) in x.chunks_exact(d).zip(&labels) {
                counts[l as usize] += 1.0;
                for j in 0..d {
                    sums[l as usize * d + j] += row[j];
                }
            }
            let mut shift = 0.0;
            for c in 0..k {
                for j in 0..d {
                    let v = sums[c * d + j] / counts[c];
                    shift += (v - centers[c * d + j]).powi(2);
                    centers[c * d + j] = v;
                }
            }
            if iter > 0 && changed == 0 {
                return (labels, centers);
            }
            if shift <= tol {
                break;
            }
        }
        label_all(&centers, &mut labels);
        (labels, centers)
    }

    #[test]
    fn bounded_lloyd_equals_plain_lloyd() {
        use rand::Rng;
        let mut rng = ChaCha8Rng::seed_from_u64(5);
        for (n, d, k) in [(3000, 2, 5), (2000, 5, 9), (1500, 3, 3)] {
            let x: Vec<f64> = (0..n * d).map(|_| rng.random::<f64>()).collect();
            let norms = row_norms(&x, d);
            let init = kmeans_plus_plus(&x, &norms, d, k, &mut rng);
            let tol = 1e-9;
            let mut ws = Workspace::new(n, d, k);
            let (centers, inertia, _, _) = lloyd(
                &x,
                &norms,
                d,
                k,
                init.clone(),
                300,
                tol,
                Deadline::after(None),
                &mut ws,
            );
            let (labels, want_centers) = naive_lloyd(&x, d, init, tol);
            assert_eq!(ws.labels, labels);
            for (a, b) in centers.iter().zip(&want_centers) {
                assert!((a - b).abs() < 1e-12);
            }
            let naive_inertia = inertia_of(&x, d, &want_centers, &labels);
            assert!((inertia - naive_inertia).abs() < 1e-9 * naive_inertia);
        }
    }

    #[test]
    fn one_cluster_is_the_mean() {
        let x = blobs();
        let m = KMeansParams::new(1).fit(&x).unwrap();
        let mean = column_means(&x);
        let total: f64 = x.rows().map(|r| squared_euclidean(r, &mean)).sum();
        assert!((m.inertia - total).abs() < 1e-9 * total);
        assert_eq!(m.sizes, vec![60]);
    }

    #[test]
    fn minibatch_finds_blobs() {
        let x = blobs();
        let m = MiniBatchKMeansParams::new(3)
            .batch_size(16)
            .seed(3)
            .fit(&x)
            .unwrap();
        assert!(m.sizes.iter().all(|&s| s == 20), "{:?}", m.sizes);
    }

    #[test]
    fn choose_k_finds_three() {
        let x = blobs();
        for criterion in [
            KCriterion::Silhouette,
            KCriterion::CalinskiHarabasz,
            KCriterion::Elbow,
        ] {
            let params = ChooseKParams {
                k_min: 2,
                k_max: 6,
                criterion,
                ..ChooseKParams::default()
            };
            let choice = choose_k(&x, &params).unwrap();
            assert_eq!(choice.k, 3, "{criterion:?}");
            assert_eq!(choice.scores.len(), 5);
        }
    }
}
