#!/usr/bin/env bash
# FP-Growth against pyfim (C, Borgelt) and mlxtend (Python), in one run on the same baskets:
# 1,000,000 generated baskets of 1-8 of 50 products with skewed popularity and bundles
# (bench/fpgrowth.py gen, written once under bench/data/), at each support in SUPPORTS. The time is
# that of the mining call alone on baskets in memory; each tool runs RUNS times (default 3) and the
# best time counts. mlxtend runs on the first MLXTEND_N baskets (default all; it needs a one-hot
# DataFrame and minutes at low support). Checks that the itemset counts agree; prints a table with
# the ratios.
#
#   bench/fpgrowth.sh
#   THREADS=2 SUPPORTS="0.01 0.001" MLXTEND_N=100000 bench/fpgrowth.sh
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
threads=${THREADS:-1}
runs=${RUNS:-3}
supports=${SUPPORTS:-"0.01 0.001 0.0001"}
n=${N:-1000000}
mlxtend_n=${MLXTEND_N:-$n}
venv=$root/bench/.venv-mining
if [ ! -x "$venv/bin/python" ]; then
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet scikit-learn threadpoolctl numpy pandas mlxtend pyfim
fi
py() { env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE "$venv/bin/python" "$@"; }

cargo build --release --quiet -p portrait-mining --example fpgrowth_baskets
example=$root/target/release/examples/fpgrowth_baskets

mkdir -p bench/data
data=bench/data/baskets-$n.txt
[ -s "$data" ] || py bench/fpgrowth.py gen "$data" "$n"
out=$(mktemp)
trap 'rm -f "$out"' EXIT
for s in $supports; do
  for _ in $(seq "$runs"); do
    "$example" "$data" --min-support "$s" --threads "$threads" | sed "s/}\$/,\"support\":$s}/" | tee -a "$out"
    py bench/fpgrowth.py pyfim "$data" --min-support "$s" | sed "s/}\$/, \"support\": $s}/" | tee -a "$out"
  done
  # mlxtend once: it is far slower, and the best of several would not change the picture.
  py bench/fpgrowth.py mlxtend "$data" --min-support "$s" --limit "$mlxtend_n" | sed "s/}\$/, \"support\": $s}/" | tee -a "$out"
done

py - "$out" <<'PY'
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1]) if l.startswith("{")]
best = {}
for r in rows:
    key = (r["support"], r["tool"].split()[0])
    if key not in best or r["seconds"] < best[key]["seconds"]:
        best[key] = r
print()
print("| tool | baskets | min_support | itemsets | seconds (best) | ratio to portrait |")
print("|---|---:|---:|---:|---:|---:|")
ok = True
for s in sorted({k[0] for k in best}, reverse=True):
    p = best[(s, "portrait")]
    for tool in ("portrait", "pyfim", "mlxtend"):
        r = best.get((s, tool))
        if not r:
            continue
        name = r["tool"] + (f" ({r['threads']} thread{'s' if r['threads'] > 1 else ''})" if tool == "portrait" else "")
        print(f"| {name} | {r['baskets']:,} | {s} | {r['itemsets']:,} | {r['seconds']:.3f} | {r['seconds'] / p['seconds']:.1f} |")
        if r["baskets"] == p["baskets"] and r["itemsets"] != p["itemsets"]:
            ok = False
            print(f"MISMATCH: {tool} found {r['itemsets']} itemsets, portrait {p['itemsets']}")
print()
print("itemset counts agree" if ok else "itemset counts DIFFER")
PY
