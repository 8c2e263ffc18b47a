#!/usr/bin/env bash
# Audience latency against DuckDB SQL and ClickHouse bitmaps (chdb), in one run on the same data:
# portrait-tags' `audience_bench` example generates PARTIES parties (default 10,000,000) with a
# fixed seed, builds the tag index (32 tags, 204 values) through IndexBuilder + Catalog, writes the
# long `tag(party_id, tag, value)` table to Parquet, and times REPS (default 200, after 10 warm-ups)
# of a 5-term expression count and of the breakdown of that audience by the 10-valued city_tier,
# in process with the index loaded. bench/audience.py then loads the same Parquet into DuckDB (an
# in-memory table) and chdb (a table of groupBitmap states), loads untimed, runs the same two
# queries the same number of times, checks that the three tools give the same count and the same
# breakdown, and prints the table with the ratios peer ÷ portrait.
#
# Threads: portrait evaluates on one thread; DuckDB and chdb use all cores (their defaults).
#
#   bench/audience.sh
#   PARTIES=1000000 REPS=50 bench/audience.sh
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
parties=${PARTIES:-10000000}
reps=${REPS:-200}
venv=$root/bench/.venv-audience
data=${DATA:-$root/bench/data/audience-$parties}

if [ ! -x "$venv/bin/python" ]; then
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet duckdb==2.0.1 chdb==4.4.0
fi
cargo build --release --quiet -p portrait-tags --example audience_bench
example=$root/target/release/examples/audience_bench

out=$(mktemp)
trap 'rm -f "$out"' EXIT
mkdir -p "$data"
echo "== load $(uptime | sed 's/.*load average: //'); $(nproc) cores" >&2
"$example" "$data" --parties "$parties" --reps "$reps" --warmup 10 | tee "$out"
"$venv/bin/python" bench/audience.py "$data" "$out" --reps "$reps" --warmup 10
