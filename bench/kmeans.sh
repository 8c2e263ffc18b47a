#!/usr/bin/env bash
# k-means against scikit-learn's KMeans (algorithm="lloyd"), in one run on the same files and the
# same thread count: 200,000 × 8 and 2,000,000 × 8 points around 8 blobs with noise and outliers
# (bench/kmeans.py gen, written once under bench/data/), k = 8, n_init = 10, max_iter = 300,
# tol = 1e-4, both with k-means++ seeding. The time is that of the fit alone; each tool runs RUNS
# times (default 3), alternating, and the best time counts. Prints a table with the ratios.
#
#   bench/kmeans.sh
#   THREADS=1 RUNS=5 SIZES="200000" bench/kmeans.sh
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
threads=${THREADS:-2}
runs=${RUNS:-3}
sizes=${SIZES:-"200000 2000000"}
venv=$root/bench/.venv-mining
if [ ! -x "$venv/bin/python" ]; then
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet scikit-learn threadpoolctl numpy pandas mlxtend pyfim
fi
# OPENBLAS_CORETYPE / OPENBLAS_L2_SIZE are set on some machines for old OpenBLAS builds; they
# slow a current numpy, so the peer runs without them (its kernels are printed in `pools`).
py() { env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE "$venv/bin/python" "$@"; }

cargo build --release --quiet -p portrait-mining --example kmeans_csv
example=$root/target/release/examples/kmeans_csv

mkdir -p bench/data
out=$(mktemp)
trap 'rm -f "$out"' EXIT
for n in $sizes; do
  data=bench/data/kmeans-$n.csv
  [ -s "$data" ] || py bench/kmeans.py gen "$data" "$n"
  for _ in $(seq "$runs"); do
    "$example" "$data" --k 8 --n-init 10 --threads "$threads" | tee -a "$out"
    py bench/kmeans.py fit "$data" --k 8 --n-init 10 --threads "$threads" | tee -a "$out"
  done
done

py - "$out" <<'PY'
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1]) if l.startswith("{")]
best = {}
for r in rows:
    key = (r["tool"].split()[0], r["n"])
    if key not in best or r["seconds"] < best[key]["seconds"]:
        best[key] = r
print()
print("| tool | n × d | threads | inertia | iterations | seconds (best) |")
print("|---|---:|---:|---:|---:|---:|")
for (tool, n), r in sorted(best.items(), key=lambda kv: (kv[0][1], kv[0][0])):
    print(f"| {r['tool']} | {n:,} × {r['d']} | {r['threads']} | {r['inertia']:.6e} | {r['n_iter']} | {r['seconds']:.3f} |")
print()
for n in sorted({n for _, n in best}):
    p, s = best.get(("portrait", n)), best.get(("scikit-learn", n))
    if p and s:
        print(f"n = {n:,}: time portrait ÷ scikit-learn = {p['seconds'] / s['seconds']:.2f}; "
              f"inertia portrait ÷ scikit-learn − 1 = {p['inertia'] / s['inertia'] - 1:+.2e}")
PY
