#!/usr/bin/env bash
# Ingest benchmark: `portrait ingest` of a 10,000,000-row transaction CSV against DuckDB's
# read_csv → Parquet of the same file, RUNS times each, alternating, on THREADS threads each.
# portrait's time is the whole command (process start, validation, the store's commit); DuckDB's
# is the COPY statement in its process. Checks that both wrote the same rows: the row count and
# checksums of txn_id, cust_no, ts and amount over each side's Parquet, read by DuckDB.
#
#   bench/ingest.sh                        # release build, 10M rows
#   ROWS_CUSTOMERS=20000 RUNS=2 bench/ingest.sh   # smaller (1M rows) for a quick look
#   PROFILE=dev bench/ingest.sh            # the dev build (dependencies optimised)
set -euo pipefail
source "$(dirname "$0")/lib.sh"
bench_vars ROWS_CUSTOMERS
customers=${ROWS_CUSTOMERS:-200000}
data=$BENCH_ROOT/bench/data/ingest-$customers

bench_python_env duckdb "duckdb==2.0.1"
bench_build portrait
bin=$BENCH_BIN
duck_v=$("$BENCH_PY" -c "import duckdb; print(duckdb.__version__)")
bench_side duckdb "$BENCH_THREADS" "duckdb $duck_v, SET threads"

if [ ! -f "$data/transaction.csv" ]; then
  "$bin" --quiet generate --customers "$customers" --seed 1 --out "$data" --txns-per-customer 50
fi
csv=$data/transaction.csv
tmp=$BENCH_TMP
cat > "$tmp/duck.py" << 'PY'
import sys, time, duckdb
csv, out, threads = sys.argv[1], sys.argv[2], int(sys.argv[3])
con = duckdb.connect()
con.execute(f"SET threads = {threads}")
t = time.perf_counter()
con.execute(f"COPY (SELECT * FROM read_csv('{csv}', header=true)) TO '{out}' (FORMAT parquet)")
print(time.perf_counter() - t)
PY

# Each side removes only its own output, so both last outputs are there for the check.
ours() {
  rm -rf "$tmp/store" "$tmp/rejects.csv"
  bench_timed "$bin" --quiet --store "$tmp/store" ingest "transaction=$csv" --rejects "$tmp/rejects.csv" > /dev/null
}
duck() {
  rm -f "$tmp/duck.parquet"
  bench_took "$("$BENCH_PY" "$tmp/duck.py" "$csv" "$tmp/duck.parquet" "$BENCH_THREADS")"
}
bench_alternate "ingest transaction.csv" duckdb ours duck

# Row count and order-free checksums, equal exactly: amounts in cents, times in microseconds,
# ids as text.
"$BENCH_PY" - "$tmp/store" "$tmp/duck.parquet" "$tmp/portrait.csv" "$tmp/duckdb.csv" << 'PY'
import json, sys, duckdb
store, duck, ours_csv, duck_csv = sys.argv[1:5]
d = json.load(open(f"{store}/manifest.json"))["tables"]["transaction"]["dir"]
con = duckdb.connect()
sums = """SELECT count(*) AS rows,
  sum(hash(CAST(txn_id AS VARCHAR))) AS txn_id, sum(hash(CAST(cust_no AS VARCHAR))) AS cust_no,
  sum(epoch_us(CAST(ts AS TIMESTAMP))) AS ts, sum(CAST(round(amount * 100) AS HUGEINT)) AS amount_cents
  FROM read_parquet('{}')"""
con.execute(f"COPY ({sums.format(f'{store}/{d}/*.parquet')}) TO '{ours_csv}' (HEADER)")
con.execute(f"COPY ({sums.format(duck)}) TO '{duck_csv}' (HEADER)")
PY
bench_same_csv "$tmp/portrait.csv" "$tmp/duckdb.csv"

bench_row "ingest transaction.csv" duckdb
bench_note "data $csv: $(($(wc -l < "$csv") - 1)) rows, $(($(stat -c %s "$csv") / 1000000)) MB"
bench_report
