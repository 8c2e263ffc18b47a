#!/usr/bin/env bash
# BG/NBD + Gamma-Gamma on CDNOW against the Python package lifetimes, in one run:
#  1. the fits alone on the published CDNOW summary (x, t_x, T, mean value):
#     portrait-model's `fit_cdnow` example against lifetimes' BetaGeoFitter + GammaGammaFitter;
#  2. end to end from the 6,919 raw transactions: `portrait score bgnbd` over the store (the
#     per-customer summary is a DataFusion plan) against lifetimes'
#     summary_data_from_transaction_data + both fits.
# Best of RUNS (default 5) for each; prints the parameters so the fits can be compared too.
#
#   bench/bgnbd.sh
#   PROFILE=dev bench/bgnbd.sh
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
profile=${PROFILE:-release}
runs=${RUNS:-5}
venv=$root/bench/.venv-lifetimes
tests/fetch-references.sh > /dev/null
data=$root/target/references/lifetimes/datasets

if [ ! -x "$venv/bin/python" ]; then
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet lifetimes==0.11.3
fi
if [ "$profile" = release ]; then
  cargo build --release --quiet -p portrait-cli --example fit_cdnow -p portrait-model
  bin=$root/target/release/portrait
  example=$root/target/release/examples/fit_cdnow
else
  cargo build --quiet -p portrait-cli --example fit_cdnow -p portrait-model
  bin=$root/target/debug/portrait
  example=$root/target/debug/examples/fit_cdnow
fi

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

echo "== fits on the CDNOW summary (2,357 customers), best of $runs"
"$example" "$data/cdnow_customers_summary_with_transactions.csv" "$runs"
"$venv/bin/python" bench/bgnbd.py --runs "$runs"

echo
echo "== end to end from the raw transactions, best of $runs"
python3 - "$data/CDNOW_sample.txt" "$tmp/cdnow.csv" <<'PY'
import sys
src, out = sys.argv[1:3]
with open(out, "w") as f:
    f.write("txn_id,cust_no,ts,amount\n")
    for i, line in enumerate(open(src)):
        p = line.split()
        if len(p) == 5:
            d = p[2]
            f.write(f"{i},{p[0]},{d[:4]}-{d[4:6]}-{d[6:]},{p[4]}\n")
PY
"$bin" --quiet --store "$tmp/store" ingest "transaction=$tmp/cdnow.csv" --rejects "$tmp/rejects.csv" > /dev/null
best=999
for _ in $(seq "$runs"); do
  start=$(date +%s.%N)
  "$bin" --quiet --store "$tmp/store" score bgnbd --calibration-end 1997-09-30 --format json > "$tmp/portrait.json"
  end=$(date +%s.%N)
  best=$(echo "t = $end - $start; if (t < $best) t else $best" | bc -l)
done
printf 'portrait score bgnbd (%s, whole command)  %.4f s\n' "$profile" "$best"
cat "$tmp/portrait.json"
"$venv/bin/python" - "$tmp/cdnow.csv" "$runs" <<'PY'
import json, sys, time, warnings
import pandas as pd
from lifetimes import BetaGeoFitter, GammaGammaFitter
from lifetimes.utils import summary_data_from_transaction_data
warnings.simplefilter("ignore")
path, runs = sys.argv[1], int(sys.argv[2])
best, params = float("inf"), None
for _ in range(runs):
    start = time.perf_counter()
    t = pd.read_csv(path, parse_dates=["ts"])
    s = summary_data_from_transaction_data(t, "cust_no", "ts", monetary_value_col="amount",
                                           observation_period_end="1997-09-30", freq="D")
    s["recency"] /= 7.0  # days to weeks, as the published analysis
    s["T"] /= 7.0
    bg = BetaGeoFitter().fit(s["frequency"], s["recency"], s["T"])
    r = s[s["frequency"] > 0]
    gg = GammaGammaFitter().fit(r["frequency"], r["monetary_value"])
    best = min(best, time.perf_counter() - start)
    params = {**{k: float(v) for k, v in bg.params_.items()}, **{k: float(v) for k, v in gg.params_.items()}}
print(f"lifetimes (read_csv + summary + both fits)  {best:.4f} s")
print(json.dumps(params, indent=2))
PY
