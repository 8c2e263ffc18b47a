#!/usr/bin/env bash
# BG/NBD + Gamma-Gamma on CDNOW against the Python package lifetimes, RUNS times each,
# alternating:
#  1. the fits alone on the published CDNOW summary (x, t_x, T, mean value):
#     portrait-model's `fit_cdnow` example against lifetimes' BetaGeoFitter + GammaGammaFitter
#     (bench/bgnbd.py), each timing both fits in its process;
#  2. end to end from the 6,919 raw transactions: `portrait score bgnbd` over the store (the
#     per-customer summary is a DataFusion plan; the whole command is timed) against lifetimes'
#     read_csv + summary_data_from_transaction_data + both fits.
# Checks that both sides found the same seven parameters, and in (1) the same log-likelihoods.
#
#   bench/bgnbd.sh
#   PROFILE=dev RUNS=3 bench/bgnbd.sh
set -euo pipefail
source "$(dirname "$0")/lib.sh"
tmp=$BENCH_TMP

bench_python_env lifetimes "lifetimes==0.11.3 pandas==3.1.1 numpy==2.4.6 scipy==1.17.1 autograd==1.9.1"
tests/fetch-references.sh > /dev/null
data=$BENCH_ROOT/target/references/lifetimes/datasets
bench_build portrait portrait-model:fit_cdnow
bin=$BENCH_BIN
example=$BENCH_EXAMPLES/fit_cdnow
bench_side portrait "$BENCH_THREADS" "the fits themselves are single-threaded"
bench_side lifetimes 1 "lifetimes 0.11.3, single-threaded"

# Tolerance of the parameters: relative 1e-3, as the two optimisers stop at their own
# convergence tests on the same likelihood; of the log-likelihoods: 1e-3 nats, which a
# maximum moves by much less than the parameters (it is flat there).
same_params() {
  local k
  for k in $3; do
    bench_same_numbers "$1 $k" "$(bench_json "$2.portrait.json" "$k")" "$(bench_json "$2.lifetimes.json" "$k")" 1e-3
  done
}

summary=$data/cdnow_customers_summary_with_transactions.csv
fit_ours() {
  "$example" "$summary" 1 > "$tmp/fits.portrait.json"
  bench_took "$(bench_json "$tmp/fits.portrait.json" seconds.total)"
}
fit_peer() {
  "$BENCH_PY" bench/bgnbd.py --data "$summary" --runs 1 > "$tmp/fits.lifetimes.json"
  bench_took "$(bench_json "$tmp/fits.lifetimes.json" seconds.total)"
}
bench_alternate "both fits on the CDNOW summary" lifetimes fit_ours fit_peer
same_params "summary fit" "$tmp/fits" "bgnbd.r bgnbd.alpha bgnbd.a bgnbd.b gamma_gamma.p gamma_gamma.q gamma_gamma.v"
for k in bgnbd.log_likelihood gamma_gamma.log_likelihood; do
  bench_same_numbers "summary fit $k" "$(bench_json "$tmp/fits.portrait.json" "$k")" \
    "$(bench_json "$tmp/fits.lifetimes.json" "$k")" 0 1e-3
done

python3 - "$data/CDNOW_sample.txt" "$tmp/cdnow.csv" << 'PY'
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
cat > "$tmp/e2e.py" << 'PY'
import json, sys, time, warnings
import pandas as pd
from lifetimes import BetaGeoFitter, GammaGammaFitter
from lifetimes.utils import summary_data_from_transaction_data
warnings.simplefilter("ignore")
start = time.perf_counter()
t = pd.read_csv(sys.argv[1], parse_dates=["ts"])
s = summary_data_from_transaction_data(t, "cust_no", "ts", monetary_value_col="amount",
                                       observation_period_end="1997-09-30", freq="D")
s["recency"] /= 7.0  # days to weeks, as the published analysis
s["T"] /= 7.0
bg = BetaGeoFitter().fit(s["frequency"], s["recency"], s["T"])
r = s[s["frequency"] > 0]
gg = GammaGammaFitter().fit(r["frequency"], r["monetary_value"])
seconds = time.perf_counter() - start
params = {**{k: float(v) for k, v in bg.params_.items()}, **{k: float(v) for k, v in gg.params_.items()}}
print(json.dumps({**params, "seconds": seconds}))
PY
e2e_ours() {
  bench_timed "$bin" --quiet --store "$tmp/store" score bgnbd --calibration-end 1997-09-30 \
    --format json > "$tmp/e2e.portrait.json"
}
e2e_peer() {
  "$BENCH_PY" "$tmp/e2e.py" "$tmp/cdnow.csv" > "$tmp/e2e.lifetimes.json"
  bench_took "$(bench_json "$tmp/e2e.lifetimes.json" seconds)"
}
bench_alternate "end to end from the raw transactions" lifetimes e2e_ours e2e_peer
same_params "end to end" "$tmp/e2e" "r alpha a b p q v"

bench_note "data CDNOW: summary of 2,357 customers; 6,919 raw transactions, calibration to 1997-09-30"
bench_row "both fits on the CDNOW summary" lifetimes
bench_row "end to end from the raw transactions" lifetimes
bench_report
