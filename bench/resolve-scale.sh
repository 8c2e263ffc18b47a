#!/usr/bin/env bash
# Identity resolution and links at scale: a generated bank of 1,000,000 customer numbers
# (noisy duplicates, households, corporate groups) through `resolve` and `links`, with wall
# time and peak memory of each, and their quality against the generator's truth.
#
#   bench/resolve-scale.sh                    # release build, 1,000,000 customer numbers
#   CUSTOMERS=100000 bench/resolve-scale.sh   # smaller
#   PROFILE=dev bench/resolve-scale.sh        # the dev build (dependencies optimised)
#
# Reuses the bank and store of bench/features.sh when present (same seed and size).
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
customers=${CUSTOMERS:-1000000}
profile=${PROFILE:-release}
data=$root/bench/data/features-$customers
store=$root/bench/data/features-store-$customers

if [ "$profile" = release ]; then
  cargo build --release --quiet -p portrait-cli
  bin=$root/target/release/portrait
else
  cargo build --quiet -p portrait-cli
  bin=$root/target/debug/portrait
fi
if [ ! -f "$data/customer.csv" ]; then
  "$bin" --quiet generate --customers "$customers" --seed 1 --out "$data" --txns-per-customer 50
fi
if [ ! -f "$store/manifest.json" ]; then
  "$bin" --quiet --store "$store" ingest "$data" --rejects "$store-rejects.csv" > /dev/null
fi

# measure NAME ARGS...: runs portrait, prints wall seconds and peak RSS in MiB.
measure() {
  local name=$1
  shift
  /usr/bin/time -f "%e %M" -o "$store.time" "$bin" --quiet --store "$store" "$@" > /dev/null
  read -r secs kib < "$store.time"
  printf '| %s | %s | %d |\n' "$name" "$secs" "$((kib / 1024))"
}

echo "| stage | seconds | peak RSS MiB |"
echo "|---|---:|---:|"
measure "resolve --explain-blocking" resolve --explain-blocking
measure resolve resolve
measure links links
echo
"$bin" --quiet --store "$store" resolve --explain-blocking
echo
"$bin" --quiet --store "$store" eval identity --truth "$data/truth/identity.csv"
echo
"$bin" --quiet --store "$store" eval households --truth "$data/truth/household.csv" \
  --identity "$data/truth/identity.csv"
