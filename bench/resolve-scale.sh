#!/usr/bin/env bash
# Identity resolution and links at scale: a generated bank of 1,000,000 customer numbers
# (noisy duplicates, households, corporate groups) through `resolve` and `links`, with wall
# time and peak memory of each, and their quality against the generator's truth. No peer;
# RUNS runs of each command (default 1: each takes minutes at this size).
#
#   bench/resolve-scale.sh                    # release build, 1,000,000 customer numbers
#   CUSTOMERS=100000 bench/resolve-scale.sh   # smaller
#   PROFILE=dev RUNS=3 bench/resolve-scale.sh # the dev build (dependencies optimised)
#
# Reuses the bank and store of bench/features.sh when present (same seed and size).
set -euo pipefail
RUNS=${RUNS:-1}
source "$(dirname "$0")/lib.sh"
bench_vars CUSTOMERS
customers=${CUSTOMERS:-1000000}
data=$BENCH_ROOT/bench/data/features-$customers
store=$BENCH_ROOT/bench/data/features-store-$customers

bench_build portrait
bin=$BENCH_BIN
if [ ! -f "$data/customer.csv" ]; then
  "$bin" --quiet generate --customers "$customers" --seed 1 --out "$data" --txns-per-customer 50
fi
if [ ! -f "$store/manifest.json" ]; then
  "$bin" --quiet --store "$store" ingest "$data" --rejects "$store-rejects.csv" > /dev/null
fi

# measure NAME ARGS...: RUNS runs of a portrait command; the last one's peak RSS in the table.
: > "$BENCH_TMP/rss"
measure() {
  measure_name=$1
  shift
  measure_args=("$@")
  bench_repeat "$measure_name" measure_once
  printf '| %s | %d |\n' "$measure_name" "$(($(cut -d' ' -f2 "$BENCH_TMP/time") / 1024))" >> "$BENCH_TMP/rss"
}
measure_once() {
  /usr/bin/time -f "%e %M" -o "$BENCH_TMP/time" "$bin" --quiet --store "$store" "${measure_args[@]}" > /dev/null
  bench_took "$(cut -d' ' -f1 "$BENCH_TMP/time")"
}
measure "resolve --explain-blocking" resolve --explain-blocking
measure resolve resolve
measure links links

echo "| command | peak RSS MiB |"
echo "|---|---:|"
cat "$BENCH_TMP/rss"
echo
"$bin" --quiet --store "$store" resolve --explain-blocking
echo
"$bin" --quiet --store "$store" eval identity --truth "$data/truth/identity.csv"
echo
"$bin" --quiet --store "$store" eval households --truth "$data/truth/household.csv" \
  --identity "$data/truth/identity.csv"

bench_note "data $customers customer numbers, seed 1"
bench_row "resolve --explain-blocking"
bench_row resolve
bench_row links
bench_report
