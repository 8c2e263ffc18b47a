//! 聚类评价 — measures of a clustering: silhouette, Calinski–Harabasz, agreement with a
//! reference partition (adjusted Rand index), and what sets each cluster apart (standardised mean
//! differences, tag lift).

use rayon::prelude::*;

use crate::distance::{Distance, squared_euclidean};
use crate::matrix::sample_indices;
use crate::{Matrix, MiningError, Result};

fn check_labels(x: &Matrix, labels: &[usize]) -> Result<usize> {
    if labels.len() != x.n_rows() {
        return Err(MiningError::ShapeMismatch {
            what: "labels",
            expected: x.n_rows(),
            found: labels.len(),
        });
    }
    x.check_finite()?;
    let k = labels.iter().max().map_or(0, |m| m + 1);
    let mut seen = vec![false; k];
    for &l in labels {
        seen[l] = true;
    }
    let distinct = seen.iter().filter(|&&s| s).count();
    if distinct < 2 || distinct >= x.n_rows() {
        return Err(MiningError::InsufficientData(format!(
            "{distinct} clusters among {} rows: a silhouette or Calinski–Harabasz index needs \
             from 2 to n − 1 clusters",
            x.n_rows()
        )));
    }
    Ok(k)
}

/// 轮廓系数 — the mean silhouette (Rousseeuw 1987) of all rows, by Euclidean distance, exact:
/// O(n²). s(i) = (b − a) / max(a, b) with a the mean distance to the rest of its own cluster and b
/// the smallest mean distance to another cluster; 0 for a row alone in its cluster.
///
/// # Errors
/// [`MiningError::ShapeMismatch`] when `labels` is not one per row,
/// [`MiningError::InsufficientData`] unless there are from 2 to n − 1 clusters.
pub fn silhouette(x: &Matrix, labels: &[usize]) -> Result<f64> {
    silhouette_with(x, labels, Distance::Euclidean)
}

/// [`silhouette`] by any [`Distance`].
///
/// # Errors
/// As [`silhouette`], and [`MiningError::InvalidParameter`] for a bad Minkowski order.
pub fn silhouette_with(x: &Matrix, labels: &[usize], distance: Distance) -> Result<f64> {
    distance.validate()?;
    let k = check_labels(x, labels)?;
    let mut sizes = vec![0usize; k];
    for &l in labels {
        sizes[l] += 1;
    }
    let n = x.n_rows();
    let parts: Vec<f64> = (0..n)
        .into_par_iter()
        .with_min_len(64)
        .map(|i| {
            let mut sums = vec![0.0; k];
            let xi = x.row(i);
            for (j, row) in x.rows().enumerate() {
                if j != i {
                    sums[labels[j]] += distance.eval(xi, row);
                }
            }
            let own = labels[i];
            if sizes[own] <= 1 {
                return 0.0;
            }
            let a = sums[own] / (sizes[own] - 1) as f64;
            let b = (0..k)
                .filter(|&c| c != own && sizes[c] > 0)
                .map(|c| sums[c] / sizes[c] as f64)
                .fold(f64::INFINITY, f64::min);
            let m = a.max(b);
            if m > 0.0 { (b - a) / m } else { 0.0 }
        })
        .collect();
    Ok(parts.iter().sum::<f64>() / n as f64)
}

/// The silhouette of `sample_size` rows drawn with `seed` (all rows when `sample_size >= n`),
/// computed among those rows only, as scikit-learn's `silhouette_score(sample_size=…)`: the same
/// value for the same seed.
///
/// # Errors
/// As [`silhouette`], on the sample.
pub fn silhouette_sampled(
    x: &Matrix,
    labels: &[usize],
    sample_size: usize,
    seed: u64,
) -> Result<f64> {
    if labels.len() != x.n_rows() {
        return Err(MiningError::ShapeMismatch {
            what: "labels",
            expected: x.n_rows(),
            found: labels.len(),
        });
    }
    if sample_size >= x.n_rows() {
        return silhouette(x, labels);
    }
    let rows = sample_indices(x.n_rows(), sample_size, seed);
    let sub = x.select_rows(&rows);
    let sub_labels: Vec<usize> = rows.iter().map(|&i| labels[i]).collect();
    silhouette(&sub, &sub_labels)
}

/// Calinski–Harabasz 指数 — the variance ratio criterion (Caliński & Harabasz 1974):
/// [B / (k − 1)] / [W / (n − k)] with B the between-cluster and W the within-cluster sum of
/// squares; 1 when W is 0 (as scikit-learn).
///
/// # Errors
/// As [`silhouette`].
pub fn calinski_harabasz(x: &Matrix, labels: &[usize]) -> Result<f64> {
    let k = check_labels(x, labels)?;
    let (n, d) = (x.n_rows(), x.n_cols());
    let mut sums = vec![0.0; k * d];
    let mut sizes = vec![0usize; k];
    for (row, &l) in x.rows().zip(labels) {
        sizes[l] += 1;
        for (a, v) in sums[l * d..(l + 1) * d].iter_mut().zip(row) {
            *a += v;
        }
    }
    let mean: Vec<f64> = (0..d)
        .map(|j| (0..k).map(|c| sums[c * d + j]).sum::<f64>() / n as f64)
        .collect();
    let mut centroids = sums;
    for c in 0..k {
        for j in 0..d {
            centroids[c * d + j] /= sizes[c].max(1) as f64;
        }
    }
    let between: f64 = (0..k)
        .map(|c| sizes[c] as f64 * squared_euclidean(&centroids[c * d..(c + 1) * d], &mean))
        .sum();
    let within: f64 = x
        .rows()
        .zip(labels)
        .map(|(row, &l)| squared_euclidean(row, &centroids[l * d..(l + 1) * d]))
        .sum();
    let k_used = sizes.iter().filter(|&&s| s > 0).count();
    if within == 0.0 {
        return Ok(1.0);
    }
    Ok(between * (n - k_used) as f64 / (within * (k_used - 1) as f64))
}

/// 调整兰德指数 — the adjusted Rand index (Hubert & Arabie 1985) of two partitions of the same
/// rows: 1 for identical partitions up to renaming, about 0 for independent ones.
///
/// # Errors
/// [`MiningError::ShapeMismatch`] when the two label vectors differ in length.
pub fn adjusted_rand_index(a: &[usize], b: &[usize]) -> Result<f64> {
    if a.len() != b.len() {
        return Err(MiningError::ShapeMismatch {
            what: "labels",
            expected: a.len(),
            found: b.len(),
        });
    }
    let n = a.len();
    let comb2 = |m: u64| (m as f64) * (m as f64 - 1.0) / 2.0;
    let ka = a.iter().max().map_or(0, |m| m + 1);
    let kb = b.iter().max().map_or(0, |m| m + 1);
    let mut table = std::collections::HashMap::new();
    let mut rows = vec![0u64; ka];
    let mut cols = vec![0u64; kb];
    for (&x, &y) in a.iter().zip(b) {
        *table.entry((x, y)).or_insert(0u64) += 1;
        rows[x] += 1;
        cols[y] += 1;
    }
    let index: f64 = table.values().map(|&m| comb2(m)).sum();
    let sum_a: f64 = rows.iter().map(|&m| comb2(m)).sum();
    let sum_b: f64 = cols.iter().map(|&m| comb2(m)).sum();
    let total = comb2(n as u64);
    if total == 0.0 {
        return Ok(1.0);
    }
    let expected = sum_a * sum_b / total;
    let max = 0.5 * (sum_a + sum_b);
    if max == expected {
        // Both partitions trivial (one cluster each, or all singletons): identical.
        return Ok(1.0);
    }
    Ok((index - expected) / (max - expected))
}

/// 标准化均值差 — the standardised mean difference of every column between each cluster and the
/// rest of the rows: (mean inside − mean outside) / √((var inside + var outside) / 2), with
/// population variances; 0 where both variances are 0. A k × d matrix for the persona of each
/// segment ("the features that set it apart"); |SMD| ≥ 0.2 is the usual threshold of a notable
/// difference, ≥ 0.8 of a large one.
///
/// # Errors
/// [`MiningError::ShapeMismatch`] when `labels` is not one per row, [`MiningError::InvalidInput`]
/// on a NaN or infinite value, [`MiningError::InvalidParameter`] when a label is not below `k`.
pub fn standardized_mean_differences(x: &Matrix, labels: &[usize], k: usize) -> Result<Matrix> {
    if labels.len() != x.n_rows() {
        return Err(MiningError::ShapeMismatch {
            what: "labels",
            expected: x.n_rows(),
            found: labels.len(),
        });
    }
    x.check_finite()?;
    if labels.iter().any(|&l| l >= k) {
        return Err(MiningError::param("labels", "must be below k"));
    }
    let (n, d) = (x.n_rows(), x.n_cols());
    let mut sizes = vec![0usize; k];
    let mut sum = vec![0.0; k * d];
    let mut total = vec![0.0; d];
    for (row, &l) in x.rows().zip(labels) {
        sizes[l] += 1;
        for j in 0..d {
            sum[l * d + j] += row[j];
            total[j] += row[j];
        }
    }
    // Second pass around the means, for accurate variances.
    let mut out = Matrix::zeros(k, d);
    for c in 0..k {
        let (n_in, n_out) = (sizes[c], n - sizes[c]);
        if n_in == 0 || n_out == 0 {
            continue;
        }
        let mean_in: Vec<f64> = (0..d).map(|j| sum[c * d + j] / n_in as f64).collect();
        let mean_out: Vec<f64> = (0..d)
            .map(|j| (total[j] - sum[c * d + j]) / n_out as f64)
            .collect();
        let mut ss_in = vec![0.0; d];
        let mut ss_out = vec![0.0; d];
        for (row, &l) in x.rows().zip(labels) {
            for j in 0..d {
                if l == c {
                    ss_in[j] += (row[j] - mean_in[j]).powi(2);
                } else {
                    ss_out[j] += (row[j] - mean_out[j]).powi(2);
                }
            }
        }
        for j in 0..d {
            let pooled = ((ss_in[j] / n_in as f64 + ss_out[j] / n_out as f64) / 2.0).sqrt();
            let diff = mean_in[j] - mean_out[j];
            out.set(c, j, if pooled > 0.0 { diff / pooled } else { 0.0 });
        }
    }
    Ok(out)
}

/// 提升度 — the lift of a 0/1 attribute (a tag) in each cluster: P(tag | cluster) / P(tag); NaN
/// for an empty cluster or a tag nobody has. `has` holds one flag per row.
///
/// # Errors
/// [`MiningError::ShapeMismatch`] when `has` or `labels` is not one per row of the other,
/// [`MiningError::InvalidParameter`] when a label is not below `k`.
pub fn cluster_lift(has: &[bool], labels: &[usize], k: usize) -> Result<Vec<f64>> {
    if has.len() != labels.len() {
        return Err(MiningError::ShapeMismatch {
            what: "tag flags",
            expected: labels.len(),
            found: has.len(),
        });
    }
    if labels.iter().any(|&l| l >= k) {
        return Err(MiningError::param("labels", "must be below k"));
    }
    let mut sizes = vec![0usize; k];
    let mut with = vec![0usize; k];
    for (&h, &l) in has.iter().zip(labels) {
        sizes[l] += 1;
        with[l] += usize::from(h);
    }
    let base = with.iter().sum::<usize>() as f64 / labels.len().max(1) as f64;
    Ok((0..k)
        .map(|c| {
            if sizes[c] == 0 || base == 0.0 {
                f64::NAN
            } else {
                with[c] as f64 / sizes[c] as f64 / base
            }
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ari_hand_worked() {
        assert_eq!(
            adjusted_rand_index(&[0, 0, 1, 1], &[1, 1, 0, 0]).unwrap(),
            1.0
        );
        // scikit-learn: adjusted_rand_score([0, 0, 1, 2], [0, 0, 1, 1]) = 0.5714285714285715
        let v = adjusted_rand_index(&[0, 0, 1, 2], &[0, 0, 1, 1]).unwrap();
        assert!((v - 0.5714285714285715).abs() < 1e-12);
        // adjusted_rand_score([0, 0, 1, 1], [0, 1, 0, 1]) = -0.5
        let v = adjusted_rand_index(&[0, 0, 1, 1], &[0, 1, 0, 1]).unwrap();
        assert!((v + 0.5).abs() < 1e-12);
    }

    #[test]
    fn smd_and_lift_hand_worked() {
        // Cluster 0 = {0, 2}, cluster 1 = {4, 6, 8}: means 1 and 6, variances 1 and 8/3.
        let x = Matrix::from_rows(&[[0.0], [2.0], [4.0], [6.0], [8.0]]).unwrap();
        let smd = standardized_mean_differences(&x, &[0, 0, 1, 1, 1], 2).unwrap();
        let want = -5.0 / ((1.0 + 8.0 / 3.0) / 2.0f64).sqrt();
        assert!((smd.get(0, 0) - want).abs() < 1e-12);
        assert!((smd.get(1, 0) + want).abs() < 1e-12);
        // 2 of 5 have the tag, both in cluster 0: lift 2.5 there, 0 in cluster 1.
        let lift = cluster_lift(&[true, true, false, false, false], &[0, 0, 1, 1, 1], 2).unwrap();
        assert_eq!(lift, vec![2.5, 0.0]);
    }

    #[test]
    fn silhouette_hand_worked() {
        // Points 0, 1 | 4, 5 on a line: a = 1 for all, b = 4.5, 3.5, 3.5, 4.5.
        let x = Matrix::from_rows(&[[0.0], [1.0], [4.0], [5.0]]).unwrap();
        let s = silhouette(&x, &[0, 0, 1, 1]).unwrap();
        let want = ((3.5 / 4.5) + (2.5 / 3.5)) / 2.0;
        assert!((s - want).abs() < 1e-12);
        // W = 4 × 0.25 = 1, B = 4 × 4 = 16: CH = 16 × (4 − 2) / (1 × 1) = 32.
        let ch = calinski_harabasz(&x, &[0, 0, 1, 1]).unwrap();
        assert!((ch - 32.0).abs() < 1e-12);
        assert!(silhouette(&x, &[0, 0, 0, 0]).is_err());
    }
}
