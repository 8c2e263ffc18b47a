#!/usr/bin/env bash
# Ingest benchmark: `portrait ingest` of a 10,000,000-row transaction CSV against DuckDB's
# read_csv → Parquet of the same file, in one run on the same machine. Prints a table with
# rows/s of each and the ratio.
#
#   bench/ingest.sh                 # release build, 10M rows
#   ROWS_CUSTOMERS=20000 bench/ingest.sh   # smaller (1M rows) for a quick look
#   PROFILE=dev bench/ingest.sh     # use the dev build (dependencies optimised)
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
customers=${ROWS_CUSTOMERS:-200000}
profile=${PROFILE:-release}
data=$root/bench/data/ingest-$customers
venv=$root/bench/.venv

if [ ! -x "$venv/bin/python" ]; then
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet duckdb
fi

if [ "$profile" = release ]; then
  cargo build --release --quiet -p portrait-cli
  bin=$root/target/release/portrait
else
  cargo build --quiet -p portrait-cli
  bin=$root/target/debug/portrait
fi

if [ ! -f "$data/transaction.csv" ]; then
  "$bin" --quiet generate --customers "$customers" --seed 1 --out "$data" --txns-per-customer 50
fi
csv=$data/transaction.csv
rows=$(($(wc -l < "$csv") - 1))
bytes=$(stat -c %s "$csv")

store=$(mktemp -d)/store
start=$(date +%s.%N)
"$bin" --quiet --store "$store" ingest "transaction=$csv" --rejects "$store.rejects.csv" > /dev/null
end=$(date +%s.%N)
portrait_s=$(echo "$end - $start" | bc -l)

duck_out=$(mktemp -d)/transaction.parquet
duck_s=$("$venv/bin/python" - "$csv" "$duck_out" <<'PY'
import sys, time, duckdb
csv, out = sys.argv[1], sys.argv[2]
con = duckdb.connect()
t = time.perf_counter()
con.execute(f"COPY (SELECT * FROM read_csv('{csv}', header=true)) TO '{out}' (FORMAT parquet)")
print(time.perf_counter() - t)
PY
)
duck_v=$("$venv/bin/python" -c "import duckdb; print(duckdb.__version__)")

printf '\n%-28s %12s %10s %14s\n' "tool" "rows" "seconds" "rows/s"
printf '%-28s %12d %10.2f %14.0f\n' "portrait ingest ($profile)" "$rows" "$portrait_s" "$(echo "$rows / $portrait_s" | bc -l)"
printf '%-28s %12d %10.2f %14.0f\n' "duckdb $duck_v read_csv→parquet" "$rows" "$duck_s" "$(echo "$rows / $duck_s" | bc -l)"
printf 'ratio (portrait rows/s ÷ duckdb rows/s): %.2f   file: %d MB, %d cores\n' "$(echo "$duck_s / $portrait_s" | bc -l)" "$((bytes / 1000000))" "$(nproc)"
rm -rf "$(dirname "$store")" "$(dirname "$duck_out")"
