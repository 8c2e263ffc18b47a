#!/usr/bin/env bash
# A fuzzed walk of the HTTP API: schemathesis (PyPI, pinned) generates requests for every
# operation of `/openapi.json` — valid, invalid and malformed parameters and bodies — as an
# admin, a marketer and an auditor, against `portrait serve` on loopback over a generated bank
# run through the pipeline. Fails on any 5xx answer, on a server that stops answering, and on a
# panic in its log. Uses target/debug/portrait (`cargo test --workspace` builds it).
# API_FUZZ_EXAMPLES (default 40) sets the examples per operation and phase.
set -euo pipefail
cd "$(dirname "$0")/.."
version=4.32.5
if ! python3 -m schemathesis.cli --version 2> /dev/null | grep -q "$version"; then
  echo "installing schemathesis $version (PyPI) for the API walk"
  python3 -m pip install --quiet --disable-pip-version-check "schemathesis==$version"
fi
bin=${PORTRAIT_BIN:-${CARGO_TARGET_DIR:-target}/debug/portrait}
if [ ! -x "$bin" ]; then
  cargo build --quiet
fi
bin=$(realpath "$bin")
work=$(mktemp -d)
server=""
cleanup() {
  if [ -n "$server" ]; then kill "$server" 2> /dev/null || true; fi
  rm -rf "$work"
}
trap cleanup EXIT
"$bin" --quiet generate --customers 1000 --seed 7 --out "$work/bank" > /dev/null
"$bin" --quiet --store "$work/store" ingest "$work/bank" > /dev/null
"$bin" --quiet --store "$work/store" run > /dev/null
# Long user names: a generated name never hits one and revokes the walker's own token.
declare -A token
for role in admin marketer auditor; do
  token[$role]=$("$bin" --store "$work/store" user add "walk_${role}_4f1c9b" --role "$role" 2> /dev/null)
done
port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
"$bin" --store "$work/store" serve --addr "127.0.0.1:$port" --rate-limit 100000 --burst 100000 \
  > "$work/serve.log" 2>&1 &
server=$!
for _ in $(seq 1 50); do
  curl -sf "http://127.0.0.1:$port/health" > /dev/null && break
  sleep 0.2
done
pass=0
fail=0
for role in admin marketer auditor; do
  if python3 -m schemathesis.cli run "http://127.0.0.1:$port/openapi.json" \
      -H "Authorization: Bearer ${token[$role]}" \
      --checks not_a_server_error \
      --max-examples "${API_FUZZ_EXAMPLES:-40}" \
      --seed 20261202 \
      --workers 1 \
      --no-color > "$work/$role.log" 2>&1; then
    pass=$((pass + 1))
    grep -E "generated|passed|failed" "$work/$role.log" | tail -1 | sed "s/^/$role: /"
  else
    fail=$((fail + 1))
    echo "API walk as $role found failures:"
    tail -60 "$work/$role.log"
  fi
done
if ! curl -sf "http://127.0.0.1:$port/health" > /dev/null; then
  echo "the server stopped answering"; fail=$((fail + 1))
fi
if grep -q "panicked" "$work/serve.log"; then
  echo "the server panicked:"; grep -A5 "panicked" "$work/serve.log"; fail=$((fail + 1))
fi
echo "# pass $pass"
echo "# fail $fail"
[ "$fail" = 0 ]
