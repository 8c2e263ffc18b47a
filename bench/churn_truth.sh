#!/usr/bin/env bash
# Churn against the generator's ground truth at bank scale, side by side in one run on the same
# parties: portrait's churn_probability, scikit-learn's HistGradientBoostingClassifier trained
# on the same rows portrait's model learned from (`score --churn-rows`), and BG/NBD p_alive from
# portrait and from lifetimes. Generates CUSTOMERS customer numbers (default 100,000) with SEED,
# runs ingest, resolve, features and score as of AS_OF (three months before the data's end), then
# `portrait eval churn` and bench/churn_truth.py. Then CDNOW master as a ranking of who buys again
# in the holdout after 1997-09-30, against lifetimes (bench/cdnow_holdout.py). The sides are
# judged, not timed against each other: each stage runs once (they build on each other's output)
# and its wall time is listed. Exits non-zero when the sides do not judge the same parties, or
# this script's judgement of portrait's scores differs from `portrait eval churn`'s.
#
#   bench/churn_truth.sh                      # 100,000 customers, seed 21, release build
#   CUSTOMERS=1000000 bench/churn_truth.sh
#   PROFILE=dev SEED=33 bench/churn_truth.sh
set -euo pipefail
RUNS=1
source "$(dirname "$0")/lib.sh"
bench_vars CUSTOMERS SEED AS_OF HORIZON
customers=${CUSTOMERS:-100000}
seed=${SEED:-21}
as_of=${AS_OF:-2026-09-01}
horizon=${HORIZON:-90}

bench_python_env churn-truth "scikit-learn==1.9.1 pandas==3.1.1 duckdb==2.0.1 lifetimes==0.11.3 numpy==2.4.6 scipy==1.17.1 autograd==1.9.1"
tests/fetch-references.sh > /dev/null
bench_build portrait
bin=$BENCH_BIN
bench_side scikit-learn "$BENCH_THREADS" "scikit-learn 1.9.1, OMP_NUM_THREADS"
bench_side lifetimes 1 "lifetimes 0.11.3, single-threaded"

work=$BENCH_TMP
bank=$work/bank
store=$work/store
# stage NAME CMD...: CMD once, its wall time a portrait-only measurement; output in NAME.out.
stage() {
  stage_name=$1
  shift
  stage_cmd=("$@")
  bench_once "$stage_name" portrait run_stage 1
  bench_row "$stage_name"
}
run_stage() {
  local f=$work/${stage_name// /-}
  "${stage_cmd[@]}" > "$f.out" 2> "$f.err" || { cat "$f.err" >&2; exit 1; }
}
stage generate "$bin" generate --customers "$customers" --seed "$seed" --out "$bank"
stage ingest "$bin" --quiet --store "$store" ingest "$bank"
stage resolve "$bin" --quiet --store "$store" resolve
stage features "$bin" --quiet --store "$store" features --as-of "$as_of"
stage score "$bin" --quiet --store "$store" score --as-of "$as_of" --churn-rows "$work/rows"
grep -h '^churn within' "$work/score.out" || true
"$bin" --store "$store" eval churn --truth "$bank/truth/customer_churn.csv" --as-of "$as_of" \
  --horizon "${horizon}d" --format json > "$work/eval.json"
"$BENCH_PY" bench/churn_truth.py "$store" "$bank" "$as_of" "$work/rows" "$horizon" "$work/eval.json"
bench_checked "bank: the parties judged, their churners and portrait's ROC-AUC as \`portrait eval churn\` has them; scoring rows = scored parties"

echo
cdnow=$work/cdnow
transactions=$BENCH_ROOT/target/references/cdnow/transaction.csv
stage "cdnow ingest" "$bin" --quiet --store "$cdnow" ingest "transaction=$transactions"
stage "cdnow resolve" "$bin" --quiet --store "$cdnow" resolve
stage "cdnow features" "$bin" --quiet --store "$cdnow" features --as-of 1997-09-30
stage "cdnow score" "$bin" --quiet --store "$cdnow" score --as-of 1997-09-30
"$BENCH_PY" bench/cdnow_holdout.py "$cdnow" "$transactions"
bench_checked "CDNOW: portrait scored every customer lifetimes summarised"

bench_note "data $customers customers, seed $seed, as of $as_of, horizon $horizon days"
bench_report
