//! 层次聚类 — agglomerative hierarchical clustering with single, complete, average, centroid and
//! Ward linkage, cut at k clusters; the rest of the rows then join the nearest cluster centroid.
//!
//! The distance matrix takes O(n²) memory, so the method runs on a sample (see
//! [`crate::sample_indices`]) and [`Hierarchical::predict`] assigns everyone else. Cluster distances
//! are updated by the Lance–Williams formulas and each cluster keeps its nearest neighbour, so a
//! merge costs O(n) in the usual case.

use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use crate::kmeans::check_width;
use crate::{Distance, Matrix, MiningError, Result};

/// 连接方法 — how the distance between two clusters is measured.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
pub enum Linkage {
    /// 最短距离法 — single linkage: the closest pair of members.
    Single,
    /// 最长距离法 — complete linkage: the farthest pair of members.
    Complete,
    /// 类平均法 — average linkage (UPGMA): the mean over all pairs of members.
    Average,
    /// 重心法 — centroid linkage (UPGMC): the distance between the centroids; Euclidean only.
    Centroid,
    /// 离差平方和法 — Ward's minimum variance: √(2 nₐ n_b / (nₐ + n_b)) ‖cₐ − c_b‖, the growth of
    /// the within-cluster sum of squares (as scipy); Euclidean only.
    #[default]
    Ward,
}

impl Linkage {
    /// The name as spelt in configuration: `single`, `complete`, `average`, `centroid`, `ward`.
    pub fn name(&self) -> &'static str {
        match self {
            Linkage::Single => "single",
            Linkage::Complete => "complete",
            Linkage::Average => "average",
            Linkage::Centroid => "centroid",
            Linkage::Ward => "ward",
        }
    }

    /// Whether the stored value is the squared distance (the Lance–Williams recurrences of
    /// centroid and Ward linkage hold for squared Euclidean distances).
    fn squared(&self) -> bool {
        matches!(self, Linkage::Centroid | Linkage::Ward)
    }
}

impl std::str::FromStr for Linkage {
    type Err = MiningError;

    /// Parses the configuration name (see [`Linkage::name`]), ignoring case.
    fn from_str(s: &str) -> Result<Self> {
        let all = [
            Linkage::Single,
            Linkage::Complete,
            Linkage::Average,
            Linkage::Centroid,
            Linkage::Ward,
        ];
        all.into_iter()
            .find(|l| l.name().eq_ignore_ascii_case(s.trim()))
            .ok_or_else(|| {
                MiningError::param(
                    "linkage",
                    "must be one of `single`, `complete`, `average`, `centroid`, `ward`",
                )
            })
    }
}

/// One merge of the dendrogram, numbered as scipy's linkage matrix: ids below n are rows of the
/// input; merge i creates cluster n + i.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Merge {
    /// The smaller id of the two clusters merged.
    pub a: usize,
    /// The larger id.
    pub b: usize,
    /// The linkage distance at which they merged.
    pub height: f64,
    /// Rows in the merged cluster.
    pub size: usize,
}

/// 树状图 — the merge history of n rows: n − 1 merges in order.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Dendrogram {
    /// Number of rows clustered.
    pub n: usize,
    /// The merges, first to last.
    pub merges: Vec<Merge>,
}

impl Dendrogram {
    /// The partition when `k` clusters remain (after the first n − k merges): a label per row in
    /// 0..k, numbered in order of each cluster's first row. `k` is clamped to 1..=n.
    pub fn cut(&self, k: usize) -> Vec<usize> {
        let n = self.n;
        let k = k.clamp(1, n.max(1));
        // parent[id] for ids 0..2n−1; roots after n − k merges are the clusters.
        let mut parent: Vec<usize> = (0..2 * n).collect();
        for (i, m) in self.merges.iter().take(n.saturating_sub(k)).enumerate() {
            parent[m.a] = n + i;
            parent[m.b] = n + i;
        }
        let root = |mut id: usize| {
            while parent[id] != id {
                id = parent[id];
            }
            id
        };
        let mut names = std::collections::HashMap::new();
        (0..n)
            .map(|i| {
                let next = names.len();
                *names.entry(root(i)).or_insert(next)
            })
            .collect()
    }
}

/// Index of pair (i, j), i < j, in a condensed upper triangle of n rows.
#[inline]
fn tri(n: usize, i: usize, j: usize) -> usize {
    let (i, j) = if i < j { (i, j) } else { (j, i) };
    n * i - i * (i + 1) / 2 + j - i - 1
}

/// 聚类树 — the dendrogram of the rows of `x` under `linkage` and `distance`.
///
/// # Errors
/// [`MiningError::InvalidParameter`] for centroid or Ward linkage with a non-Euclidean distance
/// or a bad Minkowski order; [`MiningError::InvalidInput`] on a NaN or infinite value.
pub fn linkage(x: &Matrix, linkage: Linkage, distance: Distance) -> Result<Dendrogram> {
    distance.validate()?;
    if linkage.squared() && !distance.is_euclidean() {
        return Err(MiningError::param(
            "distance",
            format!("must be Euclidean for {} linkage", linkage.name()),
        ));
    }
    x.check_finite()?;
    let n = x.n_rows();
    if n < 2 {
        return Ok(Dendrogram { n, merges: vec![] });
    }
    let mut dist = vec![0.0; n * (n - 1) / 2];
    // Row i of the triangle holds pairs (i, i+1..n).
    let mut rows: Vec<&mut [f64]> = Vec::with_capacity(n);
    let mut rest = dist.as_mut_slice();
    for i in 0..n {
        let (head, tail) = rest.split_at_mut(n - i - 1);
        rows.push(head);
        rest = tail;
    }
    rows.into_par_iter().enumerate().for_each(|(i, row)| {
        for (o, j) in row.iter_mut().zip(i + 1..n) {
            let d = distance.eval(x.row(i), x.row(j));
            *o = if linkage.squared() { d * d } else { d };
        }
    });

    if linkage == Linkage::Single {
        return Ok(single_linkage(n, &dist));
    }
    let mut active = vec![true; n];
    let mut size = vec![1usize; n];
    let mut id: Vec<usize> = (0..n).collect();
    let mut nn = vec![usize::MAX; n];
    let mut nn_d = vec![f64::INFINITY; n];
    let rescan = |i: usize, active: &[bool], dist: &[f64]| {
        let mut best = (usize::MAX, f64::INFINITY);
        for j in (0..n).filter(|&j| j != i && active[j]) {
            let d = dist[tri(n, i, j)];
            if d < best.1 {
                best = (j, d);
            }
        }
        best
    };
    for i in 0..n {
        (nn[i], nn_d[i]) = rescan(i, &active, &dist);
    }
    let mut merges = Vec::with_capacity(n - 1);
    for step in 0..n - 1 {
        let mut i = usize::MAX;
        for c in (0..n).filter(|&c| active[c]) {
            if i == usize::MAX || nn_d[c] < nn_d[i] {
                i = c;
            }
        }
        let j = nn[i];
        let (a, b) = (i.min(j), i.max(j));
        let dab = dist[tri(n, a, b)];
        let (na, nb) = (size[a] as f64, size[b] as f64);
        merges.push(Merge {
            a: id[a].min(id[b]),
            b: id[a].max(id[b]),
            height: if linkage.squared() {
                dab.max(0.0).sqrt()
            } else {
                dab
            },
            size: size[a] + size[b],
        });
        for m in (0..n).filter(|&m| active[m] && m != a && m != b) {
            let dma = dist[tri(n, m, a)];
            let dmb = dist[tri(n, m, b)];
            let nm = size[m] as f64;
            dist[tri(n, m, a)] = match linkage {
                Linkage::Single => dma.min(dmb),
                Linkage::Complete => dma.max(dmb),
                Linkage::Average => (na * dma + nb * dmb) / (na + nb),
                Linkage::Centroid => {
                    (na * dma + nb * dmb) / (na + nb) - na * nb * dab / ((na + nb) * (na + nb))
                }
                Linkage::Ward => ((na + nm) * dma + (nb + nm) * dmb - nm * dab) / (na + nb + nm),
            };
        }
        active[b] = false;
        size[a] += size[b];
        id[a] = n + step;
        (nn[a], nn_d[a]) = rescan(a, &active, &dist);
        for m in (0..n).filter(|&m| active[m] && m != a) {
            if nn[m] == a || nn[m] == b {
                (nn[m], nn_d[m]) = rescan(m, &active, &dist);
            } else {
                let d = dist[tri(n, m, a)];
                if d < nn_d[m] {
                    (nn[m], nn_d[m]) = (a, d);
                }
            }
        }
    }
    Ok(Dendrogram { n, merges })
}

/// Single linkage from the minimum spanning tree (Prim, O(n²)): its edges in ascending order are
/// the merges (Gower & Ross 1969). The nearest-neighbour updates of the general method degrade
/// towards O(n³) here, as one cluster absorbs most rows.
fn single_linkage(n: usize, dist: &[f64]) -> Dendrogram {
    let mut in_tree = vec![false; n];
    let mut best = vec![f64::INFINITY; n];
    let mut from = vec![0usize; n];
    let mut edges = Vec::with_capacity(n - 1);
    let mut current = 0;
    in_tree[0] = true;
    for _ in 1..n {
        let mut next = usize::MAX;
        for j in 0..n {
            if in_tree[j] {
                continue;
            }
            let d = dist[tri(n, current, j)];
            if d < best[j] {
                best[j] = d;
                from[j] = current;
            }
            if next == usize::MAX || best[j] < best[next] {
                next = j;
            }
        }
        edges.push((best[next], from[next], next));
        in_tree[next] = true;
        current = next;
    }
    edges.sort_by(|a, b| a.0.total_cmp(&b.0));
    // Union–find over rows; each root remembers its cluster's id and size.
    let mut parent: Vec<usize> = (0..n).collect();
    let mut id: Vec<usize> = (0..n).collect();
    let mut size = vec![1usize; n];
    fn find(parent: &mut [usize], mut i: usize) -> usize {
        while parent[i] != i {
            parent[i] = parent[parent[i]];
            i = parent[i];
        }
        i
    }
    let mut merges = Vec::with_capacity(n - 1);
    for (step, (height, a, b)) in edges.into_iter().enumerate() {
        let (ra, rb) = (find(&mut parent, a), find(&mut parent, b));
        merges.push(Merge {
            a: id[ra].min(id[rb]),
            b: id[ra].max(id[rb]),
            height,
            size: size[ra] + size[rb],
        });
        parent[rb] = ra;
        size[ra] += size[rb];
        id[ra] = n + step;
    }
    Dendrogram { n, merges }
}

/// 参数 — parameters of hierarchical clustering, unchecked.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HierarchicalParams {
    /// Clusters at the cut.
    pub k: usize,
    /// Linkage (default Ward).
    pub linkage: Linkage,
    /// Point distance (default Euclidean; centroid and Ward need Euclidean).
    pub distance: Distance,
    /// Most rows accepted, for the O(n²) distance matrix (default 10,000: 400 MB); sample
    /// larger inputs first.
    pub max_points: usize,
}

impl HierarchicalParams {
    /// Ward linkage, Euclidean distance, cut at `k`.
    pub fn new(k: usize) -> Self {
        HierarchicalParams {
            k,
            linkage: Linkage::Ward,
            distance: Distance::Euclidean,
            max_points: 10_000,
        }
    }

    /// Sets the linkage.
    pub fn linkage(mut self, linkage: Linkage) -> Self {
        self.linkage = linkage;
        self
    }

    /// Sets the distance.
    pub fn distance(mut self, distance: Distance) -> Self {
        self.distance = distance;
        self
    }

    /// Checks the parameters.
    ///
    /// # Errors
    /// [`MiningError::InvalidParameter`], e.g. "k cannot be 0", "distance must be Euclidean for
    /// ward linkage".
    pub fn validate(&self) -> Result<HierarchicalValidParams> {
        if self.k == 0 {
            return Err(MiningError::param("k", "cannot be 0"));
        }
        if self.max_points < 2 {
            return Err(MiningError::param("max_points", "must be at least 2"));
        }
        self.distance.validate()?;
        if self.linkage.squared() && !self.distance.is_euclidean() {
            return Err(MiningError::param(
                "distance",
                format!("must be Euclidean for {} linkage", self.linkage.name()),
            ));
        }
        Ok(HierarchicalValidParams(self.clone()))
    }

    /// Validates and fits in one step.
    ///
    /// # Errors
    /// As [`HierarchicalParams::validate`] and [`HierarchicalValidParams::fit`].
    pub fn fit(&self, sample: &Matrix) -> Result<Hierarchical> {
        self.validate()?.fit(sample)
    }
}

/// Checked hierarchical-clustering parameters.
#[derive(Debug, Clone, PartialEq)]
pub struct HierarchicalValidParams(HierarchicalParams);

impl HierarchicalValidParams {
    /// Clusters the rows of `sample`, cuts at k and computes the clusters' centroids.
    ///
    /// # Errors
    /// [`MiningError::ResourcesExhausted`] above `max_points` rows,
    /// [`MiningError::InsufficientData`] with fewer rows than k, and as [`linkage`].
    pub fn fit(&self, sample: &Matrix) -> Result<Hierarchical> {
        let p = &self.0;
        let n = sample.n_rows();
        if n > p.max_points {
            return Err(MiningError::ResourcesExhausted(format!(
                "hierarchical clustering of {n} rows exceeds max_points = {}; cluster a sample \
                 and assign the rest with predict",
                p.max_points
            )));
        }
        if n < p.k {
            return Err(MiningError::InsufficientData(format!(
                "{n} rows cannot form {} clusters",
                p.k
            )));
        }
        let dendrogram = linkage(sample, p.linkage, p.distance)?;
        let labels = dendrogram.cut(p.k);
        let d = sample.n_cols();
        let mut centroids = Matrix::zeros(p.k, d);
        let mut sizes = vec![0usize; p.k];
        for (row, &l) in sample.rows().zip(&labels) {
            sizes[l] += 1;
            for (a, v) in centroids.row_mut(l).iter_mut().zip(row) {
                *a += v;
            }
        }
        for (c, &s) in sizes.iter().enumerate() {
            centroids.row_mut(c).iter_mut().for_each(|v| *v /= s as f64);
        }
        Ok(Hierarchical {
            dendrogram,
            labels,
            sizes,
            centroids,
            linkage: p.linkage,
            distance: p.distance,
        })
    }
}

/// A fitted hierarchical clustering.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Hierarchical {
    /// The full merge history of the sample.
    pub dendrogram: Dendrogram,
    /// The cluster of every sample row, in 0..k.
    pub labels: Vec<usize>,
    /// Sample rows in each cluster.
    pub sizes: Vec<usize>,
    /// Mean of each cluster's sample rows (k × d).
    pub centroids: Matrix,
    /// The linkage used.
    pub linkage: Linkage,
    /// The distance used, also by [`Hierarchical::predict`].
    pub distance: Distance,
}

impl Hierarchical {
    /// Assigns each row of `x` to the cluster whose centroid is nearest by the fit's distance
    /// (the lowest cluster on a tie).
    ///
    /// # Errors
    /// [`MiningError::ShapeMismatch`] when `x` has another width, [`MiningError::InvalidInput`]
    /// on a NaN or infinite value.
    pub fn predict(&self, x: &Matrix) -> Result<Vec<usize>> {
        check_width(x, self.centroids.n_cols(), "columns of the points")?;
        x.check_finite()?;
        let distance = self.distance;
        Ok((0..x.n_rows())
            .into_par_iter()
            .with_min_len(1024)
            .map(|i| {
                let mut best = (0, f64::INFINITY);
                for (c, centroid) in self.centroids.rows().enumerate() {
                    let d = distance.eval(x.row(i), centroid);
                    if d < best.1 {
                        best = (c, d);
                    }
                }
                best.0
            })
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ward_needs_euclidean() {
        let err = HierarchicalParams::new(2)
            .distance(Distance::Manhattan)
            .validate()
            .unwrap_err();
        assert_eq!(
            err.to_string(),
            "distance must be Euclidean for ward linkage"
        );
        assert!(
            HierarchicalParams::new(2)
                .linkage(Linkage::Average)
                .distance(Distance::Manhattan)
                .validate()
                .is_ok()
        );
    }

    #[test]
    fn hand_worked_single_linkage() {
        // 0, 1, 3, 7 on a line: merges at 1 (0+1), 2 ({0,1}+3), 4 (+7).
        let x = Matrix::from_rows(&[[0.0], [1.0], [3.0], [7.0]]).unwrap();
        let d = linkage(&x, Linkage::Single, Distance::Euclidean).unwrap();
        let heights: Vec<f64> = d.merges.iter().map(|m| m.height).collect();
        assert_eq!(heights, vec![1.0, 2.0, 4.0]);
        assert_eq!((d.merges[0].a, d.merges[0].b, d.merges[0].size), (0, 1, 2));
        assert_eq!((d.merges[1].a, d.merges[1].b), (2, 4));
        assert_eq!(d.cut(2), vec![0, 0, 0, 1]);
        assert_eq!(d.cut(4), vec![0, 1, 2, 3]);
        let h = HierarchicalParams::new(2)
            .linkage(Linkage::Single)
            .fit(&x)
            .unwrap();
        let new = Matrix::from_rows(&[[6.0], [0.5]]).unwrap();
        assert_eq!(h.predict(&new).unwrap(), vec![1, 0]);
    }
}
