#!/usr/bin/env bash
# Churn against the generator's ground truth at bank scale, side by side in one run on the same
# parties: portrait's churn_probability, scikit-learn's HistGradientBoostingClassifier trained
# on the same rows portrait's model learned from (`score --churn-rows`), and BG/NBD p_alive from
# portrait and from lifetimes. Generates CUSTOMERS customer numbers (default 100,000) with SEED,
# runs ingest, resolve, features and score as of AS_OF (three months before the data's end), then
# `portrait eval churn` and bench/churn_truth.py. Then CDNOW master as a ranking of who buys again
# in the holdout after 1997-09-30, against lifetimes (bench/cdnow_holdout.py). Exits non-zero when
# the sides do not judge the same parties.
#
#   bench/churn_truth.sh                      # 100,000 customers, seed 21, release build
#   CUSTOMERS=1000000 bench/churn_truth.sh
#   PROFILE=dev SEED=33 bench/churn_truth.sh
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
profile=${PROFILE:-release}
customers=${CUSTOMERS:-100000}
seed=${SEED:-21}
as_of=${AS_OF:-2026-09-01}
horizon=${HORIZON:-90}
target=${CARGO_TARGET_DIR:-$root/target}
venv=${VENV:-$target/venv-churn-truth}

if [ ! -x "$venv/bin/python" ]; then
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet scikit-learn==1.9.1 pandas==3.1.1 duckdb==2.0.1 lifetimes==0.11.3
fi
tests/fetch-references.sh > /dev/null
if [ "$profile" = release ]; then
  cargo build --release --quiet -p portrait-cli
  bin=$target/release/portrait
else
  cargo build --quiet -p portrait-cli
  bin=$target/debug/portrait
fi

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
bank=$work/bank
store=$work/store
timed() {
  local name=$1
  shift
  local start
  start=$(date +%s%N)
  "$@" > "$work/${name// /-}.out" 2> "$work/${name// /-}.err" || { cat "$work/${name// /-}.err" >&2; exit 1; }
  local ms=$((($(date +%s%N) - start) / 1000000))
  printf '%-15s %4d.%01d s\n' "$name" $((ms / 1000)) $((ms % 1000 / 100))
}
echo "portrait $(git rev-parse --short HEAD), $profile build, $customers customers, seed $seed, as of $as_of"
timed generate "$bin" generate --customers "$customers" --seed "$seed" --out "$bank"
timed ingest "$bin" --quiet --store "$store" ingest "$bank"
timed resolve "$bin" --quiet --store "$store" resolve
timed features "$bin" --quiet --store "$store" features --as-of "$as_of"
timed score "$bin" --quiet --store "$store" score --as-of "$as_of" --churn-rows "$work/rows"
grep -h '^churn within' "$work/score.out" || true
"$bin" --store "$store" eval churn --truth "$bank/truth/customer_churn.csv" --as-of "$as_of" \
  --horizon "${horizon}d" --format json > "$work/eval.json"
"$venv/bin/python" bench/churn_truth.py "$store" "$bank" "$as_of" "$work/rows" "$horizon" "$work/eval.json"

echo
cdnow=$work/cdnow
timed "cdnow ingest" "$bin" --quiet --store "$cdnow" ingest "transaction=$root/target/references/cdnow/transaction.csv"
timed "cdnow resolve" "$bin" --quiet --store "$cdnow" resolve
timed "cdnow features" "$bin" --quiet --store "$cdnow" features --as-of 1997-09-30
timed "cdnow score" "$bin" --quiet --store "$cdnow" score --as-of 1997-09-30
"$venv/bin/python" bench/cdnow_holdout.py "$cdnow" "$root/target/references/cdnow/transaction.csv"
