#!/usr/bin/env bash
# k-means against scikit-learn's KMeans (algorithm="lloyd") on the same files and THREADS threads
# each: 200,000 × 8 and 2,000,000 × 8 points around 8 blobs with noise and outliers
# (bench/kmeans.py gen, written once under bench/data/), k = 8, n_init = 10, max_iter = 300,
# tol = 1e-4, both with k-means++ seeding. The time is that of the fit alone, as each tool
# reports it; RUNS runs each, alternating. Checks that both reach the same inertia.
#
#   bench/kmeans.sh
#   THREADS=1 RUNS=3 SIZES="200000" bench/kmeans.sh
set -euo pipefail
source "$(dirname "$0")/lib.sh"
bench_vars SIZES
sizes=${SIZES:-"200000 2000000"}
tmp=$BENCH_TMP

bench_python_env mining "scikit-learn==1.9.1 threadpoolctl==3.8.0 numpy==2.4.6 scipy==1.17.1 pandas==3.1.1 mlxtend==0.25.0 pyfim==6.28"
# OPENBLAS_CORETYPE / OPENBLAS_L2_SIZE are set on some machines for old OpenBLAS builds; they
# slow a current numpy, so the peer runs without them (its kernels are printed in `pools`).
py() { env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE "$BENCH_PY" "$@"; }
bench_build portrait-mining:kmeans_csv
example=$BENCH_EXAMPLES/kmeans_csv
bench_side scikit-learn "$BENCH_THREADS" "scikit-learn 1.9.1, threadpoolctl"

ours() {
  "$example" "$data" --k 8 --n-init 10 --threads "$BENCH_THREADS" > "$tmp/portrait.json"
  bench_took "$(bench_json "$tmp/portrait.json" seconds)"
}
peer() {
  py bench/kmeans.py fit "$data" --k 8 --n-init 10 --threads "$BENCH_THREADS" > "$tmp/sklearn.json"
  bench_took "$(bench_json "$tmp/sklearn.json" seconds)"
}

mkdir -p bench/data
for n in $sizes; do
  data=bench/data/kmeans-$n.csv
  [ -s "$data" ] || py bench/kmeans.py gen "$data" "$n"
  bench_alternate "k-means $n × 8" scikit-learn ours peer
  # Tolerance: relative 1e-6. Both reach the same optimum from their own seedings; the sums of
  # squares then differ in the ninth digit or so (summation order).
  bench_same_numbers "inertia, $n points" "$(bench_json "$tmp/portrait.json" inertia)" \
    "$(bench_json "$tmp/sklearn.json" inertia)" 1e-6
  bench_note "n = $n: iterations portrait $(bench_json "$tmp/portrait.json" n_iter), scikit-learn $(bench_json "$tmp/sklearn.json" n_iter); scikit-learn pools $(bench_json "$tmp/sklearn.json" pools)"
done

for n in $sizes; do bench_row "k-means $n × 8" scikit-learn; done
bench_report
