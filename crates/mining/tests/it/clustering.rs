//! k-means, mini-batch k-means, Gaussian mixtures and k-prototypes against the truth of seeded
//! blobs; silhouette and Calinski–Harabasz against naive computations; determinism.

use portrait_mining::distance::squared_euclidean;
use portrait_mining::{
    ChooseKParams, Codes, CovarianceType, GmmParams, HierarchicalParams, KMeansParams,
    KPrototypesParams, Matrix, MiniBatchKMeansParams, adjusted_rand_index, calinski_harabasz,
    choose_k, sample_indices, silhouette, silhouette_sampled,
};

use crate::{blobs, on_threads, uniform};

#[test]
fn kmeans_recovers_blobs() {
    for seed in [1, 2, 3] {
        let (x, truth) = blobs(3000, 5, 6, 20.0, 1.0, seed);
        let m = KMeansParams::new(6).seed(seed).fit(&x).unwrap();
        let ari = adjusted_rand_index(&truth, &m.labels).unwrap();
        assert!(ari >= 0.99, "seed {seed}: ARI {ari}");
        assert_eq!(m.predict(&x).unwrap(), m.labels);
        let naive: f64 = x
            .rows()
            .zip(&m.labels)
            .map(|(r, &l)| squared_euclidean(r, m.centroids.row(l)))
            .sum();
        assert!((naive - m.inertia).abs() <= 1e-9 * naive);
    }
}

#[test]
fn minibatch_recovers_blobs() {
    let (x, truth) = blobs(20_000, 4, 5, 20.0, 1.0, 9);
    let m = MiniBatchKMeansParams::new(5).seed(4).fit(&x).unwrap();
    let ari = adjusted_rand_index(&truth, &m.labels).unwrap();
    assert!(ari >= 0.99, "ARI {ari}");
}

#[test]
fn kmeans_is_deterministic_across_threads() {
    let x = uniform(20_000, 3, 5);
    let params = KMeansParams::new(7).n_init(3).seed(11);
    let one = on_threads(1, || params.fit(&x).unwrap());
    let two = on_threads(2, || params.fit(&x).unwrap());
    let again = on_threads(2, || params.fit(&x).unwrap());
    assert_eq!(one, two);
    assert_eq!(two, again);
    let other = params.clone().seed(12).fit(&x).unwrap();
    assert_ne!(other.centroids, one.centroids);
    let mb = MiniBatchKMeansParams::new(4).seed(2);
    assert_eq!(
        on_threads(1, || mb.fit(&x).unwrap()),
        on_threads(2, || mb.fit(&x).unwrap())
    );
}

#[test]
fn gmm_recovers_blobs() {
    for cov in [CovarianceType::Diagonal, CovarianceType::Full] {
        let (x, truth) = blobs(3000, 4, 5, 15.0, 1.0, 21);
        let g = GmmParams::new(5).covariance(cov).seed(3).fit(&x).unwrap();
        let ari = adjusted_rand_index(&truth, &g.labels).unwrap();
        assert!(ari >= 0.99, "{cov:?}: ARI {ari}");
        assert!(g.converged);
        assert_eq!(g.predict(&x).unwrap(), g.labels);
        let p = g.predict_proba(&x).unwrap();
        for row in p.rows() {
            assert!((row.iter().sum::<f64>() - 1.0).abs() < 1e-9);
        }
        let mean_ll = g.score(&x).unwrap();
        assert!((mean_ll * 3000.0 - g.log_likelihood).abs() < 1e-6 * g.log_likelihood.abs());
        let bic = -2.0 * g.log_likelihood + g.n_parameters as f64 * 3000f64.ln();
        assert!((g.bic - bic).abs() < 1e-9 * bic.abs());
    }
}

#[test]
fn gmm_is_deterministic_and_full_beats_diagonal_on_correlated_data() {
    // Two correlated clusters: the full covariance fits better by likelihood.
    let mut rng = crate::rng(8);
    let mut rows = Vec::new();
    for i in 0..2000 {
        let z = crate::normal(&mut rng);
        let e = crate::normal(&mut rng) * 0.3;
        let off = if i % 2 == 0 { 0.0 } else { 8.0 };
        rows.push([z + off, z + e + off]);
    }
    let x = Matrix::from_rows(&rows).unwrap();
    let full = GmmParams::new(2).seed(1);
    let a = on_threads(1, || full.fit(&x).unwrap());
    let b = on_threads(2, || full.fit(&x).unwrap());
    assert_eq!(a, b);
    let diag = GmmParams::new(2)
        .covariance(CovarianceType::Diagonal)
        .seed(1)
        .fit(&x)
        .unwrap();
    assert!(a.log_likelihood > diag.log_likelihood);
    assert!(a.bic < diag.bic);
}

#[test]
fn hierarchical_on_a_sample_then_assignment() {
    let (x, truth) = blobs(6000, 3, 4, 20.0, 1.0, 31);
    let rows = sample_indices(x.n_rows(), 800, 5);
    let h = HierarchicalParams::new(4)
        .fit(&x.select_rows(&rows))
        .unwrap();
    let labels = h.predict(&x).unwrap();
    let ari = adjusted_rand_index(&truth, &labels).unwrap();
    assert!(ari >= 0.99, "ARI {ari}");
}

#[test]
fn kprototypes_recovers_mixed_groups() {
    let (x, truth) = blobs(1500, 2, 3, 10.0, 1.0, 41);
    let mut rng = crate::rng(42);
    let mut codes = Vec::new();
    for &t in &truth {
        // The categorical column agrees with the group 90 % of the time.
        use rand::Rng;
        let c = if rng.random::<f64>() < 0.9 {
            t as u32
        } else {
            rng.random_range(0..3)
        };
        codes.extend([c, (t as u32) * 2]);
    }
    let c = Codes::new(codes, 1500, 2).unwrap();
    let m = KPrototypesParams::new(3).seed(7).fit(&x, &c).unwrap();
    let ari = adjusted_rand_index(&truth, &m.labels).unwrap();
    assert!(ari >= 0.99, "ARI {ari}");
    assert_eq!(m, KPrototypesParams::new(3).seed(7).fit(&x, &c).unwrap());
}

fn naive_silhouette(x: &Matrix, labels: &[usize]) -> f64 {
    let n = x.n_rows();
    let k = labels.iter().max().unwrap() + 1;
    let mut total = 0.0;
    for i in 0..n {
        let mut sums = vec![0.0; k];
        let mut counts = vec![0usize; k];
        for j in 0..n {
            if i != j {
                sums[labels[j]] += squared_euclidean(x.row(i), x.row(j)).sqrt();
                counts[labels[j]] += 1;
            }
        }
        let own = labels[i];
        if counts[own] == 0 {
            continue;
        }
        let a = sums[own] / counts[own] as f64;
        let b = (0..k)
            .filter(|&c| c != own && counts[c] > 0)
            .map(|c| sums[c] / counts[c] as f64)
            .fold(f64::INFINITY, f64::min);
        total += (b - a) / a.max(b);
    }
    total / n as f64
}

fn naive_ch(x: &Matrix, labels: &[usize]) -> f64 {
    let (n, d) = (x.n_rows(), x.n_cols());
    let k = labels.iter().max().unwrap() + 1;
    let mean: Vec<f64> = (0..d)
        .map(|j| x.column(j).iter().sum::<f64>() / n as f64)
        .collect();
    let (mut b, mut w) = (0.0, 0.0);
    for c in 0..k {
        let members: Vec<&[f64]> = x
            .rows()
            .zip(labels)
            .filter(|(_, l)| **l == c)
            .map(|(r, _)| r)
            .collect();
        let centroid: Vec<f64> = (0..d)
            .map(|j| members.iter().map(|r| r[j]).sum::<f64>() / members.len() as f64)
            .collect();
        b += members.len() as f64 * squared_euclidean(&centroid, &mean);
        w += members
            .iter()
            .map(|r| squared_euclidean(r, &centroid))
            .sum::<f64>();
    }
    b / (k - 1) as f64 / (w / (n - k) as f64)
}

#[test]
fn silhouette_and_ch_match_naive() {
    for seed in 0..4 {
        let x = uniform(300, 3, 100 + seed);
        let m = KMeansParams::new(3 + seed as usize)
            .seed(seed)
            .fit(&x)
            .unwrap();
        let s = silhouette(&x, &m.labels).unwrap();
        assert!((s - naive_silhouette(&x, &m.labels)).abs() < 1e-12);
        let ch = calinski_harabasz(&x, &m.labels).unwrap();
        let want = naive_ch(&x, &m.labels);
        assert!((ch - want).abs() < 1e-9 * want);
        // The sampled silhouette is the exact one of the sample.
        let rows = sample_indices(300, 120, 9);
        let sub = x.select_rows(&rows);
        let sub_labels: Vec<usize> = rows.iter().map(|&i| m.labels[i]).collect();
        let sampled = silhouette_sampled(&x, &m.labels, 120, 9).unwrap();
        assert!((sampled - naive_silhouette(&sub, &sub_labels)).abs() < 1e-12);
    }
}

#[test]
fn choose_k_reports_side_by_side_and_picks_the_truth() {
    let (x, _) = blobs(1200, 3, 4, 20.0, 1.0, 77);
    let params = ChooseKParams {
        k_min: 2,
        k_max: 7,
        silhouette_sample: Some(500),
        ..ChooseKParams::default()
    };
    let choice = choose_k(&x, &params).unwrap();
    assert_eq!(choice.k, 4);
    assert_eq!(choice.scores.len(), 6);
    assert!(
        choice
            .scores
            .windows(2)
            .all(|w| w[0].inertia >= w[1].inertia * 0.999)
    );
    let best_ch = choice
        .scores
        .iter()
        .max_by(|a, b| a.calinski_harabasz.total_cmp(&b.calinski_harabasz))
        .unwrap();
    assert_eq!(best_ch.k, 4);
}

/// A budget that runs out at once stops every fit after its first step, keeps a usable
/// model, and says so; without a budget nothing is said.
#[test]
fn time_budgets_stop_fits_and_say_so() {
    let (x, _) = blobs(4000, 4, 5, 3.0, 1.0, 13);
    let spent = Some(1e-9);

    let km = KMeansParams::new(5)
        .seed(1)
        .max_seconds(spent)
        .fit(&x)
        .unwrap();
    assert!(km.timed_out);
    assert_eq!(km.n_iter, 1, "one Lloyd iteration, no further restart");
    assert_eq!(
        km.predict(&x).unwrap(),
        km.labels,
        "labels fit the centroids kept"
    );
    assert!(!KMeansParams::new(5).seed(1).fit(&x).unwrap().timed_out);

    let choice = choose_k(
        &x,
        &ChooseKParams {
            k_min: 2,
            k_max: 8,
            kmeans: KMeansParams::new(2).max_seconds(spent),
            ..ChooseKParams::default()
        },
    )
    .unwrap();
    assert!(choice.timed_out);
    assert_eq!(choice.scores.len(), 1, "no k after the budget ran out");

    let mb = MiniBatchKMeansParams::new(5)
        .batch_size(64)
        .max_seconds(spent)
        .fit(&x)
        .unwrap();
    assert!(mb.timed_out);
    assert_eq!(mb.n_iter, 1);

    let g = GmmParams::new(5)
        .n_init(3)
        .max_seconds(spent)
        .fit(&x)
        .unwrap();
    assert!(g.timed_out);
    assert_eq!(g.n_iter, 1);
    assert!((g.weights.iter().sum::<f64>() - 1.0).abs() < 1e-9);
    assert!(!GmmParams::new(5).fit(&x).unwrap().timed_out);

    let codes = Codes::new((0..4000).map(|i| (i % 3) as u32).collect(), 4000, 1).unwrap();
    let mut kp = KPrototypesParams::new(5);
    kp.max_seconds = spent;
    let m = kp.fit(&x, &codes).unwrap();
    assert!(m.timed_out);
    assert_eq!(m.n_iter, 1);

    // A budget too large for the clock is no budget, not a panic.
    let huge = KMeansParams::new(5)
        .seed(1)
        .max_seconds(Some(1e300))
        .fit(&x)
        .unwrap();
    assert!(!huge.timed_out);
    for bad in [0.0, -1.0, f64::NAN, f64::INFINITY] {
        let err = KMeansParams::new(2)
            .max_seconds(Some(bad))
            .validate()
            .unwrap_err();
        assert!(err.to_string().contains("max_seconds"), "{err}");
    }
}
