#!/usr/bin/env bash
# FP-Growth against pyfim (C, Borgelt) and mlxtend (Python) on the same baskets: 1,000,000
# generated baskets of 1-8 of 50 products with skewed popularity and bundles (bench/fpgrowth.py
# gen, written once under bench/data/), at each support in SUPPORTS. The time is that of the
# mining call alone on baskets in memory, as each tool reports it; portrait and pyfim run RUNS
# times each, alternating, mlxtend once (it is far slower). mlxtend runs on the first MLXTEND_N
# baskets (default all; it needs a one-hot DataFrame and minutes at low support).
# Checks, exactly: portrait finds as many itemsets as pyfim, as long at most; pyfim and mlxtend
# find the same itemsets with the same counts (on the same baskets). fpgrowth_baskets prints
# counts only, so portrait's own itemsets are not compared here (the crate's tests check them
# against brute-force enumeration).
#
#   bench/fpgrowth.sh
#   THREADS=2 SUPPORTS="0.01 0.001" MLXTEND_N=100000 bench/fpgrowth.sh
set -euo pipefail
# One thread unless asked: pyfim and mlxtend mine on one.
THREADS=${THREADS:-1}
source "$(dirname "$0")/lib.sh"
bench_vars SUPPORTS N MLXTEND_N
supports=${SUPPORTS:-"0.01 0.001 0.0001"}
n=${N:-1000000}
mlxtend_n=${MLXTEND_N:-$n}
tmp=$BENCH_TMP

bench_python_env mining "scikit-learn==1.9.1 threadpoolctl==3.8.0 numpy==2.4.6 scipy==1.17.1 pandas==3.1.1 mlxtend==0.25.0 pyfim==6.28"
py() { env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE "$BENCH_PY" "$@"; }
bench_build portrait-mining:fpgrowth_baskets
example=$BENCH_EXAMPLES/fpgrowth_baskets
bench_side pyfim 1 "pyfim 6.28, single-threaded"
bench_side mlxtend 1 "mlxtend 0.25.0, single-threaded"

mkdir -p bench/data
data=bench/data/baskets-$n.txt
[ -s "$data" ] || py bench/fpgrowth.py gen "$data" "$n"

ours() {
  "$example" "$data" --min-support "$s" --threads "$BENCH_THREADS" > "$tmp/portrait.json"
  bench_took "$(bench_json "$tmp/portrait.json" seconds)"
}
pyfim() {
  py bench/fpgrowth.py pyfim "$data" --min-support "$s" --itemsets "$tmp/pyfim.itemsets" > "$tmp/pyfim.json"
  bench_took "$(bench_json "$tmp/pyfim.json" seconds)"
}
mlxtend() {
  py bench/fpgrowth.py mlxtend "$data" --min-support "$s" --limit "$mlxtend_n" \
    --itemsets "$tmp/mlxtend.itemsets" > "$tmp/mlxtend.json"
  bench_took "$(bench_json "$tmp/mlxtend.json" seconds)"
}

for s in $supports; do
  bench_alternate "fp-growth at $s" pyfim ours pyfim
  bench_once "fp-growth at $s" mlxtend mlxtend 1
  bench_same_numbers "itemsets at $s, portrait and pyfim" "$(bench_json "$tmp/portrait.json" itemsets)" \
    "$(bench_json "$tmp/pyfim.json" itemsets)" 0
  bench_same_numbers "longest itemset at $s, portrait and pyfim" "$(bench_json "$tmp/portrait.json" longest)" \
    "$(bench_json "$tmp/pyfim.json" longest)" 0
  if [ "$(bench_json "$tmp/mlxtend.json" baskets)" = "$(bench_json "$tmp/pyfim.json" baskets)" ]; then
    bench_same_sets "$tmp/pyfim.itemsets" "$tmp/mlxtend.itemsets"
  else
    bench_note "at $s mlxtend mined the first $mlxtend_n baskets only: not compared"
  fi
done

bench_note "data $data: $n baskets"
for s in $supports; do
  bench_row "fp-growth at $s" pyfim
  bench_row "fp-growth at $s" mlxtend
done
bench_report
