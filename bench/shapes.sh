#!/usr/bin/env bash
# `portrait run` on data shape (d) — the export a core-banking team sends first: a customer table
# and a transaction table, GBK, Chinese headers, nothing else — at CUSTOMERS customer numbers
# (default 1,000,000): wall time, rows written and peak resident memory of every stage, as
# `portrait run --format json` reports them (peak memory per stage from /proc/self/status, reset
# between stages). No peer runs this pipeline; the figures are the product's own, from one run
# (a run at 1M customer numbers takes minutes).
#
#   bench/shapes.sh                      # 1,000,000 customer numbers, release build
#   CUSTOMERS=200000 bench/shapes.sh
#   PROFILE=dev bench/shapes.sh          # the dev build (dependencies and hot crates at opt-level 2)
#
# Prints a table and writes target/bench-shapes/run-<customers>.json.
set -euo pipefail
RUNS=1
source "$(dirname "$0")/lib.sh"
bench_vars CUSTOMERS
customers=${CUSTOMERS:-1000000}
work=target/bench-shapes
mkdir -p "$work"
bench_build portrait
bin=$BENCH_BIN

bank=$work/bank-$customers
if [ ! -f "$bank/transaction.csv" ]; then
  "$bin" --quiet generate --customers "$customers" --seed 7 --out "$bank" --encoding gbk --headers zh >&2
fi
store=$work/store-$customers
rm -rf "$store" "$store-rejects.csv"
echo "ingest customer + transaction ($customers customer numbers, GBK, Chinese headers)" >&2
ingest_shape() {
  /usr/bin/time -f "ingest: %e s, peak %M KiB" "$bin" --quiet --store "$store" ingest \
    "customer=$bank/customer.csv" "transaction=$bank/transaction.csv" >&2
}
out=$work/run-$customers.json
run_shape() { /usr/bin/time -f "run: %e s, peak %M KiB" "$bin" --quiet --store "$store" run --format json > "$out"; }
bench_once ingest portrait ingest_shape 1
bench_once run portrait run_shape 1
python3 - "$out" "$customers" "$BENCH_COMMIT" "$BENCH_PROFILE" <<'PY'
import json, sys
rows = json.load(open(sys.argv[1]))
print(f"portrait run, shape (d), {int(sys.argv[2]):,} customer numbers, commit {sys.argv[3]}, {sys.argv[4]} build")
print(f"{'stage':10} {'outcome':50} {'rows':>12} {'seconds':>8} {'peak MiB':>9}")
for r in rows:
    what = r["summary"] if r["ran"] else "skipped: " + r["skipped"].splitlines()[0]
    peak = r.get("peak_rss_bytes")
    print(f"{r['stage']:10} {what[:50]:50} {r['rows']:>12,} {r['seconds']:>8.1f} "
          f"{(peak or 0) / 1048576:>9.0f}")
print(f"{'total':10} {'':50} {sum(r['rows'] for r in rows):>12,} {sum(r['seconds'] for r in rows):>8.1f}")
PY
bench_note "data shape (d): $customers customer numbers, GBK, Chinese headers"
bench_row ingest
bench_row run
bench_report
