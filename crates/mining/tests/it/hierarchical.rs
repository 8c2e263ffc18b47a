//! Hierarchical clustering against a brute-force reference that recomputes every cluster distance
//! from its definition at every step.

use portrait_mining::distance::squared_euclidean;
use portrait_mining::{Distance, Linkage, Matrix, linkage};

use crate::uniform;

fn cluster_distance(x: &Matrix, a: &[usize], b: &[usize], how: Linkage, dist: Distance) -> f64 {
    let pairs = || {
        a.iter()
            .flat_map(move |&i| b.iter().map(move |&j| dist.eval(x.row(i), x.row(j))))
    };
    let centroid = |s: &[usize]| -> Vec<f64> {
        (0..x.n_cols())
            .map(|j| s.iter().map(|&i| x.get(i, j)).sum::<f64>() / s.len() as f64)
            .collect()
    };
    match how {
        Linkage::Single => pairs().fold(f64::INFINITY, f64::min),
        Linkage::Complete => pairs().fold(0.0, f64::max),
        Linkage::Average => pairs().sum::<f64>() / (a.len() * b.len()) as f64,
        Linkage::Centroid => squared_euclidean(&centroid(a), &centroid(b)).sqrt(),
        Linkage::Ward => {
            let (na, nb) = (a.len() as f64, b.len() as f64);
            (2.0 * na * nb / (na + nb) * squared_euclidean(&centroid(a), &centroid(b))).sqrt()
        }
    }
}

/// Heights and the partition after each merge, by brute force.
fn naive(x: &Matrix, how: Linkage, dist: Distance) -> (Vec<f64>, Vec<Vec<usize>>) {
    let n = x.n_rows();
    let mut clusters: Vec<Vec<usize>> = (0..n).map(|i| vec![i]).collect();
    let mut heights = Vec::new();
    let mut partitions = Vec::new();
    while clusters.len() > 1 {
        let mut best = (0, 1, f64::INFINITY);
        for a in 0..clusters.len() {
            for b in a + 1..clusters.len() {
                let d = cluster_distance(x, &clusters[a], &clusters[b], how, dist);
                if d < best.2 {
                    best = (a, b, d);
                }
            }
        }
        let merged = clusters.remove(best.1);
        clusters[best.0].extend(merged);
        heights.push(best.2);
        let mut labels = vec![0; n];
        for (c, members) in clusters.iter().enumerate() {
            for &i in members {
                labels[i] = c;
            }
        }
        partitions.push(canonical(&labels));
    }
    (heights, partitions)
}

fn canonical(labels: &[usize]) -> Vec<usize> {
    let mut names = std::collections::HashMap::new();
    labels
        .iter()
        .map(|l| {
            let next = names.len();
            *names.entry(*l).or_insert(next)
        })
        .collect()
}

#[test]
fn every_linkage_matches_brute_force() {
    let cases = [
        (Linkage::Single, Distance::Euclidean),
        (Linkage::Single, Distance::Manhattan),
        (Linkage::Complete, Distance::Euclidean),
        (Linkage::Complete, Distance::Chebyshev),
        (Linkage::Average, Distance::Euclidean),
        (Linkage::Average, Distance::Minkowski(3.0)),
        (Linkage::Centroid, Distance::Euclidean),
        (Linkage::Ward, Distance::Euclidean),
    ];
    for (how, dist) in cases {
        for seed in 0..6 {
            let n = 8 + seed as usize * 5;
            let x = uniform(n, 3, 1000 + seed);
            let dendrogram = linkage(&x, how, dist).unwrap();
            let (heights, partitions) = naive(&x, how, dist);
            assert_eq!(dendrogram.merges.len(), n - 1);
            for (step, (m, h)) in dendrogram.merges.iter().zip(&heights).enumerate() {
                assert!(
                    (m.height - h).abs() <= 1e-9 * h.max(1.0),
                    "{how:?} {dist:?} seed {seed} step {step}: {} vs {h}",
                    m.height
                );
            }
            for (step, want) in partitions.iter().enumerate() {
                let k = n - step - 1;
                assert_eq!(
                    &dendrogram.cut(k),
                    want,
                    "{how:?} {dist:?} seed {seed} k {k}"
                );
            }
            assert_eq!(dendrogram.merges.last().unwrap().size, n);
        }
    }
}
