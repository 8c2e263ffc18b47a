#!/usr/bin/env bash
# Load on the audience-count endpoint over loopback: a generated bank through `portrait run`,
# a marketer token, `portrait serve` with the per-token rate limit raised out of the way, and
# wrk (Debian's package) for DURATION seconds. Every request is authenticated, evaluated over
# the bitmap index, masked and written to the audit log.
#
#   bench/serve-load.sh
#   CUSTOMERS=200000 DURATION=30 PROFILE=release bench/serve-load.sh
set -euo pipefail
cd "$(dirname "$0")/.."
customers=${CUSTOMERS:-20000}
duration=${DURATION:-30}
profile=${PROFILE:-dev}
port=${PORT:-8095}
command -v wrk > /dev/null || apt-get install -y wrk > /dev/null
if [ "$profile" = release ]; then
  cargo build --release --quiet -p portrait-cli
  bin=target/release/portrait
else
  cargo build --quiet
  bin=target/debug/portrait
fi
tmp=$(mktemp -d)
trap 'kill $server 2> /dev/null || true; rm -rf "$tmp"' EXIT
"$bin" -q generate --customers "$customers" --seed 42 --out "$tmp/bank" > /dev/null
"$bin" -q --store "$tmp/s" ingest "$tmp/bank" > /dev/null
"$bin" -q --store "$tmp/s" run > /dev/null 2>&1
token=$("$bin" -q --store "$tmp/s" user add load --role marketer 2> /dev/null)
"$bin" -q --store "$tmp/s" serve --addr "127.0.0.1:$port" --rate-limit 1000000 --burst 1000000 2> "$tmp/serve.log" &
server=$!
sleep 2
expr=$(python3 -c "import urllib.parse; print(urllib.parse.quote('gender:female AND age_group:(25-29|30-34|35-39) AND interest:red_wine AND NOT recency_class:churned AND asset_tier:(gold|platinum|diamond)'))")
url="http://127.0.0.1:$port/api/audience/count?expr=$expr"
curl -s -H "Authorization: Bearer $token" "$url"; echo
wrk -t2 -c16 -d"${duration}s" --latency -H "Authorization: Bearer $token" "$url"
python3 - "$tmp/s/privacy.sqlite" <<'PY'
import sqlite3, sys
n, lo, hi = sqlite3.connect(sys.argv[1]).execute("SELECT count(*), min(status), max(status) FROM audit").fetchone()
print(f"audit rows {n}, statuses {lo}..{hi}")
PY
