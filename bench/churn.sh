#!/usr/bin/env bash
# Churn classifiers on one training and one test CSV: portrait-model's boosted trees and logistic
# regression (the `churn_csv` example) against scikit-learn's HistGradientBoostingClassifier and
# LogisticRegression with the same settings (bench/churn.py), in one run on the same files, on
# THREADS threads each (default: all cores). Prints AUC, precision in the top 10 %, Brier score,
# log loss and fit seconds side by side, and the fit-time ratio.
#
#   bench/churn.sh TRAIN.csv TEST.csv
#   PROFILE=dev bench/churn.sh TRAIN.csv TEST.csv
#   THREADS=1 VENV=/tmp/sk bench/churn.sh TRAIN.csv TEST.csv   # scikit-learn and pandas in VENV
#
# Both files: a header row, numeric feature columns (empty = missing), the 0/1 label last.
set -euo pipefail
if [ $# -ne 2 ]; then
  echo "usage: bench/churn.sh TRAIN.csv TEST.csv" >&2
  exit 2
fi
train=$(realpath "$1")
test=$(realpath "$2")
cd "$(dirname "$0")/.."
root=$(pwd)
profile=${PROFILE:-release}
threads=${THREADS:-$(nproc)}
target=${CARGO_TARGET_DIR:-$root/target}
venv=${VENV:-$target/venv-sklearn}

if [ ! -x "$venv/bin/python" ]; then
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet scikit-learn pandas
fi
if [ "$profile" = release ]; then
  cargo build --release --quiet -p portrait-model --example churn_csv
  example=$target/release/examples/churn_csv
else
  cargo build --quiet -p portrait-model --example churn_csv
  example=$target/debug/examples/churn_csv
fi

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
RAYON_NUM_THREADS=$threads "$example" "$train" "$test" --json > "$tmp/portrait.json"
OMP_NUM_THREADS=$threads "$venv/bin/python" bench/churn.py "$train" "$test" > "$tmp/sklearn.json"

python3 - "$tmp/portrait.json" "$tmp/sklearn.json" <<'PY'
import json
import sys

ours, peer = (json.load(open(p)) for p in sys.argv[1:3])
print(f"train {ours['train_rows']} rows, test {ours['test_rows']} rows, {ours['features']} features, "
      f"{ours['threads']} threads; peer {peer['implementation']}")
print(f"| model | implementation | AUC | precision@10% | Brier | log loss | fit s |")
print(f"|---|---|---:|---:|---:|---:|---:|")
by_model = {}
for side, report in (("portrait", ours), (peer["implementation"], peer)):
    for m in report["models"]:
        by_model.setdefault(m["model"], []).append((side, m))
        print(f"| {m['model']} | {side} | {m['auc']:.4f} | {m['precision_at_10']:.4f} | "
              f"{m['brier']:.4f} | {m['log_loss']:.4f} | {m['fit_seconds']:.2f} |")
for model, sides in by_model.items():
    (_, a), (_, b) = sides
    print(f"{model}: fit-time ratio portrait ÷ scikit-learn {a['fit_seconds'] / b['fit_seconds']:.2f}, "
          f"AUC difference {a['auc'] - b['auc']:+.4f}, log-loss difference {a['log_loss'] - b['log_loss']:+.4f}")
PY
