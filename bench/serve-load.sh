#!/usr/bin/env bash
# Load on the audience-count endpoint over loopback: a generated bank through `portrait run`,
# a marketer token, `portrait serve` with the per-token rate limit raised out of the way, RUNS
# single requests timed by curl, then wrk (Debian's package) for DURATION seconds. Every request
# is authenticated, evaluated over the bitmap index, masked and written to the audit log. No
# peer; checks, exactly, that the endpoint's count is `portrait audience count`'s for the same
# expression, and that every request under load answered 2xx and was audited with status 200.
#
#   bench/serve-load.sh
#   CUSTOMERS=200000 DURATION=30 PROFILE=release bench/serve-load.sh
set -euo pipefail
# The dev build unless asked: the results of bench/RESULTS.md were measured with it.
PROFILE=${PROFILE:-dev}
source "$(dirname "$0")/lib.sh"
bench_vars CUSTOMERS DURATION PORT
customers=${CUSTOMERS:-20000}
duration=${DURATION:-30}
port=${PORT:-8095}
tmp=$BENCH_TMP
command -v wrk > /dev/null || apt-get install -y wrk > /dev/null
bench_build portrait
bin=$BENCH_BIN
bench_side wrk 2 "load generator: 2 threads, 16 connections"

"$bin" -q generate --customers "$customers" --seed 42 --out "$tmp/bank" > /dev/null
"$bin" -q --store "$tmp/s" ingest "$tmp/bank" > /dev/null
"$bin" -q --store "$tmp/s" run > /dev/null 2>&1
token=$("$bin" -q --store "$tmp/s" user add load --role marketer 2> /dev/null)
"$bin" -q --store "$tmp/s" serve --addr "127.0.0.1:$port" --rate-limit 1000000 --burst 1000000 2> "$tmp/serve.log" &
server=$!
bench_on_exit "kill $server 2> /dev/null"
sleep 2
expr='gender:female AND age_group:(25-29|30-34|35-39) AND interest:red_wine AND NOT recency_class:churned AND asset_tier:(gold|platinum|diamond)'
url="http://127.0.0.1:$port/api/audience/count?expr=$(python3 -c 'import sys, urllib.parse; print(urllib.parse.quote(sys.argv[1]))' "$expr")"

request() {
  bench_took "$(curl -sf -o "$tmp/count.json" -w '%{time_total}' -H "Authorization: Bearer $token" "$url")"
}
bench_repeat "audience count, one request" request
cat "$tmp/count.json"
echo
bench_same_numbers "audience count, HTTP and CLI" "$(bench_json "$tmp/count.json" parties)" \
  "$("$bin" -q --store "$tmp/s" audience count "$expr" 2> /dev/null)" 0

wrk -t2 -c16 -d"${duration}s" --latency -H "Authorization: Bearer $token" "$url" | tee "$tmp/wrk.out"
non2xx=$(sed -n 's/^ *Non-2xx or 3xx responses: *//p' "$tmp/wrk.out")
bench_same_numbers "non-2xx responses under load" "${non2xx:-0}" 0 0
python3 - "$tmp/s/privacy.sqlite" > "$tmp/audit.txt" << 'PY'
import sqlite3, sys
n, lo, hi = sqlite3.connect(sys.argv[1]).execute("SELECT count(*), min(status), max(status) FROM audit").fetchone()
print(n, lo, hi)
PY
read -r audited lowest highest < "$tmp/audit.txt"
echo "audit rows $audited, statuses $lowest..$highest"
bench_same_numbers "lowest audited status" "$lowest" 200 0
bench_same_numbers "highest audited status" "$highest" 200 0

bench_note "data $customers customers, seed 42; wrk $duration s"
bench_row "audience count, one request"
bench_report
