#!/usr/bin/env bash
# The whole pipeline at N customers: generate → ingest → run, with each stage's wall time and
# peak resident memory (from `portrait run --format json`, and /usr/bin/time for ingest), under
# the memory budget MEMORY_LIMIT (default: portrait's own, 3/4 of the machine). Prints a Markdown
# table for bench/RESULTS.md. No peer runs this pipeline, and each step runs once (at 1M
# customers a step takes minutes). Exits non-zero when a step fails or a process's peak goes
# over the budget.
#
#   bench/pipeline.sh 1000000
#   MEMORY_LIMIT=8G bench/pipeline.sh 1000000
#   PROFILE=dev bench/pipeline.sh 100000
#   BIN=target/debug/portrait WORK=/tmp/p100k bench/pipeline.sh 100000   # a built binary; keep the files
set -euo pipefail
customers=${1:-100000}
BENCH_ARGS=${1:-}
RUNS=1
source "$(dirname "$0")/lib.sh"
bench_vars MEMORY_LIMIT SEED WORK
seed=${SEED:-7}
profile=$BENCH_PROFILE
bench_build portrait
bin=$BENCH_BIN
budget=()
[ -z "${MEMORY_LIMIT:-}" ] || budget=(--memory-limit "$MEMORY_LIMIT")
command -v /usr/bin/time > /dev/null || { echo "needs GNU time (/usr/bin/time)" >&2; exit 1; }
commit=$BENCH_COMMIT

work=${WORK:-$BENCH_TMP/work}
mkdir -p "$work"
bank=$work/bank
store=$work/store
rm -rf "$store"

# `name seconds peak_kib` of a command, from GNU time.
measure() {
  local name=$1
  shift
  /usr/bin/time -f "%e %M" -o "$work/$name.time" "$@" > "$work/$name.out" 2> "$work/$name.err" \
    || { tail -20 "$work/$name.err" >&2; echo "$name failed" >&2; exit 1; }
  read -r secs kib < "$work/$name.time"
  bench_record "$name" portrait "$secs"
  echo "$name $secs $kib"
}

echo "portrait $commit, $profile build, $customers customers, seed $seed, $(nproc) cores, budget ${MEMORY_LIMIT:-default}" >&2
# A kept WORK directory reuses its bank only when it was made for these customers and seed.
if [ "$(cat "$work/bank.made" 2>/dev/null)" != "$customers $seed" ]; then
  rm -rf "$bank"
  measure generate "$bin" generate --customers "$customers" --seed "$seed" --out "$bank" > "$work/generate.line"
  echo "$customers $seed" > "$work/bank.made"
fi
measure ingest "$bin" --quiet ${budget[@]+"${budget[@]}"} --store "$store" ingest "$bank" > "$work/ingest.line"
measure run "$bin" --quiet ${budget[@]+"${budget[@]}"} --store "$store" run --format json > "$work/run.line"
ingest=$(cat "$work/ingest.line")
run=$(cat "$work/run.line")

python3 - "$work" "$customers" "$ingest" "$run" "$commit" "$profile" "${MEMORY_LIMIT:-default}" <<'EOF'
import json, sys
work, customers, ingest, run, commit, profile, limit = sys.argv[1:8]
rows = json.load(open(f"{work}/run.out"))
_, in_s, in_kib = ingest.split()
_, run_s, run_kib = run.split()
mib = lambda b: f"{b / 1048576:,.0f}" if b is not None else "-"
print(f"\n### Pipeline at {int(customers):,} customers ({profile} build, commit {commit}, budget {limit})\n")
print("| step | outcome | rows written | seconds | peak RSS MiB |")
print("|---|---|---:|---:|---:|")
print(f"| ingest | ran | | {float(in_s):.1f} | {int(in_kib) / 1024:,.0f} |")
total = 0.0
for r in rows:
    outcome = "ran" if r["ran"] else "skipped: " + ((r["skipped"] or "").splitlines() or [""])[0]
    total += r["seconds"]
    print(f"| {r['stage']} | {outcome} | {r['rows']:,} | {r['seconds']:.1f} | {mib(r['peak_rss_bytes'])} |")
# GNU time's peak restarts with each stage's measurement (clear_refs), so the process's peak
# is the largest of the stages' and the last one's.
peaks = [r["peak_rss_bytes"] for r in rows if r["peak_rss_bytes"]] + [int(run_kib) * 1024]
run_kib = str(max(peaks) // 1024)
print(f"| **run** (process) | | | {float(run_s):.1f} | {int(run_kib) / 1024:,.0f} |")
print(f"\ningest + run: {float(in_s) + float(run_s):.1f} s; stages {total:.1f} s.")
if limit.strip().lower() not in ("default", "none", "off", "unlimited"):
    units = {"K": 1 << 10, "M": 1 << 20, "G": 1 << 30, "T": 1 << 40}
    t = limit.strip().upper().rstrip("B").rstrip("I")
    cap = float(t[:-1]) * units[t[-1]] if t[-1] in units else float(t)
    for name, kib in (("ingest", in_kib), ("run", run_kib)):
        if int(kib) * 1024 > cap:
            sys.exit(f"{name} peaked at {int(kib) / 1024:,.0f} MiB, over the budget {limit}")
EOF
bench_note "data $customers customers, seed $seed, budget ${MEMORY_LIMIT:-default}"
bench_row ingest
bench_row run
bench_report
