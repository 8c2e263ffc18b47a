#!/usr/bin/env bash
# Churn classifiers on one training and one test CSV: portrait-model's boosted trees and logistic
# regression (the `churn_csv` example) against scikit-learn's HistGradientBoostingClassifier and
# LogisticRegression with the same settings (bench/churn.py), on the same files and THREADS
# threads each, RUNS times each, alternating. The times are the fits alone, as each side reports
# them. Prints AUC, precision in the top 10 %, Brier score and log loss side by side, and checks
# that both sides' models score the test file alike (tolerances below).
#
#   bench/churn.sh TRAIN.csv TEST.csv
#   PROFILE=dev RUNS=3 bench/churn.sh TRAIN.csv TEST.csv
#   THREADS=1 VENV=/tmp/sk bench/churn.sh TRAIN.csv TEST.csv   # the peer's virtualenv in VENV
#
# Both files: a header row, numeric feature columns (empty = missing), the 0/1 label last.
set -euo pipefail
if [ $# -ne 2 ]; then
  echo "usage: bench/churn.sh TRAIN.csv TEST.csv" >&2
  exit 2
fi
train=$(realpath "$1")
test=$(realpath "$2")
BENCH_ARGS="$1 $2"
source "$(dirname "$0")/lib.sh"
tmp=$BENCH_TMP

bench_python_env sklearn "scikit-learn==1.9.1 pandas==3.1.1 numpy==2.4.6 scipy==1.17.1"
bench_build portrait-model:churn_csv
example=$BENCH_EXAMPLES/churn_csv
bench_side scikit-learn "$BENCH_THREADS" "scikit-learn 1.9.1, OMP_NUM_THREADS"

# Each model's fit time of a side's report is a sample of its own ("whole run" is the wall time).
record() {
  local side=$1 report=$2 i model
  for i in 0 1; do
    model=$(bench_json "$report" "models.$i.model")
    bench_record "$model fit" "$side" "$(bench_json "$report" "models.$i.fit_seconds")"
  done
}
ours() {
  "$example" "$train" "$test" --json > "$tmp/portrait.json"
  record portrait "$tmp/portrait.json"
}
peer() {
  "$BENCH_PY" bench/churn.py "$train" "$test" > "$tmp/sklearn.json"
  record scikit-learn "$tmp/sklearn.json"
}
bench_alternate "whole run" scikit-learn ours peer

python3 - "$tmp/portrait.json" "$tmp/sklearn.json" << 'PY'
import json
import sys

ours, peer = (json.load(open(p)) for p in sys.argv[1:3])
print(f"train {ours['train_rows']} rows, test {ours['test_rows']} rows, {ours['features']} features; "
      f"peer {peer['implementation']}")
print("| model | implementation | AUC | precision@10% | Brier | log loss |")
print("|---|---|---:|---:|---:|---:|")
for side, report in (("portrait", ours), (peer["implementation"], peer)):
    for m in report["models"]:
        print(f"| {m['model']} | {side} | {m['auc']:.4f} | {m['precision_at_10']:.4f} | "
              f"{m['brier']:.4f} | {m['log_loss']:.4f} |")
PY

metric() { python3 -c 'import json, sys; print(next(m[sys.argv[3]] for m in json.load(open(sys.argv[1]))["models"] if m["model"] == sys.argv[2]))' "$@"; }
# Tolerances. Logistic: absolute 1e-4 on AUC, relative 1e-4 on log loss — the same convex fit
# by Newton's method on both sides. Trees: absolute 0.005 on AUC, relative 0.01 on log loss —
# histogram bin edges and split tie-breaks differ, so 200 trees end a little apart.
for model in logistic gbt; do
  case $model in
    logistic) auc=1e-4 loss=1e-4 ;;
    gbt) auc=0.005 loss=0.01 ;;
  esac
  bench_same_numbers "$model AUC" "$(metric "$tmp/portrait.json" "$model" auc)" \
    "$(metric "$tmp/sklearn.json" "$model" auc)" 0 "$auc"
  bench_same_numbers "$model log loss" "$(metric "$tmp/portrait.json" "$model" log_loss)" \
    "$(metric "$tmp/sklearn.json" "$model" log_loss)" "$loss"
done

bench_row "logistic fit" scikit-learn
bench_row "gbt fit" scikit-learn
bench_report
