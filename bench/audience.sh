#!/usr/bin/env bash
# Audience latency against DuckDB SQL and ClickHouse bitmaps (chdb) on the same data:
# portrait-tags' `audience_bench` example generates PARTIES parties (default 10,000,000) with a
# fixed seed, builds the tag index (32 tags, 204 values) through IndexBuilder + Catalog, writes the
# long `tag(party_id, tag, value)` table to Parquet (first run only), and times REPS (default 200,
# after 10 warm-ups) of a 5-term expression count and of the breakdown of that audience by the
# 10-valued city_tier, in process with the index loaded. bench/audience.py then loads the same
# Parquet into DuckDB (an in-memory table) and chdb (a table of groupBitmap states), loads
# untimed, and runs the same two queries the same number of times. RUNS runs of each,
# alternating; a run's sample is its median (p50) over REPS. Checks that the three tools give the
# same count and the same breakdown, exactly.
#
# Threads: portrait evaluates on one thread, so THREADS defaults to 1 here and DuckDB and chdb
# get THREADS (THREADS=2 gives the peers both cores; portrait stays on one).
#
#   bench/audience.sh
#   PARTIES=1000000 REPS=50 RUNS=3 bench/audience.sh
set -euo pipefail
THREADS=${THREADS:-1}
source "$(dirname "$0")/lib.sh"
bench_vars PARTIES REPS DATA
parties=${PARTIES:-10000000}
reps=${REPS:-200}
data=${DATA:-$BENCH_ROOT/bench/data/audience-$parties}
tmp=$BENCH_TMP

bench_python_env audience "duckdb==2.0.1 chdb==4.4.0"
bench_build portrait-tags:audience_bench
example=$BENCH_EXAMPLES/audience_bench
bench_side portrait 1 "evaluation is single-threaded"
bench_side duckdb "$BENCH_THREADS" "duckdb 2.0.1, SET threads"
bench_side chdb "$BENCH_THREADS" "chdb 4.4.0, max_threads"

mkdir -p "$data"
# Samples of one run: each query's p50 in seconds, by tool (`portrait`, `duckdb …`, `chdb …`).
record() {
  python3 - "$1" << 'PY' > "$tmp/samples"
import json, sys
for line in open(sys.argv[1]):
    if line.startswith("{"):
        r = json.loads(line)
        print(r["query"], r["tool"].split()[0], r["p50_ms"] / 1e3)
PY
  local query side seconds
  while read -r query side seconds; do bench_record "$query" "$side" "$seconds"; done < "$tmp/samples"
}
ours() {
  local skip=()
  [ "$1" = 1 ] || skip=(--skip-parquet)
  "$example" "$data" --parties "$parties" --reps "$reps" --warmup 10 ${skip[@]+"${skip[@]}"} > "$tmp/portrait.jsonl"
  # query.json says how many rows tag.parquet has only when this run wrote it.
  if [ "$1" = 1 ]; then cp "$data/query.json" "$tmp/query.json"; else cp "$tmp/query.json" "$data/query.json"; fi
  record "$tmp/portrait.jsonl"
}
peers() {
  "$BENCH_PY" bench/audience.py "$data" "$tmp/portrait.jsonl" --reps "$reps" --warmup 10 \
    --threads "$BENCH_THREADS" > "$tmp/peers.out"
  record "$tmp/peers.out"
}
bench_alternate "whole run" peers ours peers
cat "$tmp/peers.out"

# The last run's answers of each tool: the count, and the breakdown as value,count rows
# (values an audience does not reach left out, as chdb lists them and the others do not).
answers() {
  python3 - "$1" "$2" "$tmp" << 'PY'
import csv, json, sys
path, tool, tmp = sys.argv[1:4]
for line in open(path):
    if line.startswith("{"):
        r = json.loads(line)
        if r["tool"].split()[0] != tool:
            continue
        if r["query"] == "count":
            open(f"{tmp}/{tool}.count", "w").write(f"{r['count']}\n")
        else:
            with open(f"{tmp}/{tool}.breakdown.csv", "w", newline="") as f:
                w = csv.writer(f)
                w.writerow(["value", "count"])
                w.writerows((v, c) for v, c in r["breakdown"].items() if c)
PY
}
answers "$tmp/portrait.jsonl" portrait
for peer in duckdb chdb; do
  answers "$tmp/peers.out" "$peer"
  bench_same_numbers "audience count, portrait and $peer" "$(cat "$tmp/portrait.count")" "$(cat "$tmp/$peer.count")" 0
  bench_same_csv "$tmp/portrait.breakdown.csv" "$tmp/$peer.breakdown.csv"
done

bench_note "data $parties parties, $reps repetitions after 10 warm-ups; a sample is a run's p50"
for query in count breakdown; do
  bench_row "$query" duckdb
  bench_row "$query" chdb
done
bench_report
