#!/usr/bin/env bash
# The features stage embedded and on an Apache Ballista cluster, in one run on the same store:
# `portrait features` in this process (embedded DataFusion), then `portrait --cluster … features`
# through a local `portrait cluster scheduler` with one executor, then with two. Every executor
# gets the machine's cores as task slots; scheduler, executors and client share this machine,
# so the numbers measure Ballista's overhead (planning, task dispatch, shuffle over loopback
# Flight, results back to the client), not a speed-up. Each setting runs RUNS times (default
# 3), alternating; the best counts. The three results are checked to agree.
#
#   bench/cluster.sh                      # release build, 200,000 customers
#   CUSTOMERS=50000 RUNS=2 bench/cluster.sh
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
customers=${CUSTOMERS:-200000}
runs=${RUNS:-3}
as_of=2026-12-01
data=$root/bench/data/cluster-$customers
store=$root/bench/data/cluster-store-$customers

cargo build --release --quiet -p portrait-cli
bin=$root/target/release/portrait

if [ ! -f "$data/transaction.csv" ]; then
  "$bin" --quiet generate --customers "$customers" --seed 1 --out "$data"
fi
if [ ! -f "$store/manifest.json" ]; then
  "$bin" --quiet --store "$store" ingest "$data" --rejects "$store-rejects.csv" > /dev/null
  "$bin" --quiet --store "$store" resolve > /dev/null
fi

tmp=$(mktemp -d)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill -INT "$p" 2> /dev/null || true; done
  wait 2> /dev/null || true
  rm -rf "$tmp"
}
trap cleanup EXIT
port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
wait_port() {
  for _ in $(seq 300); do
    (exec 3<> "/dev/tcp/127.0.0.1/$1") 2> /dev/null && return 0
    sleep 0.1
  done
  echo "nothing listens on $1" >&2
  exit 1
}
sched=$(port)
"$bin" cluster scheduler --bind "127.0.0.1:$sched" 2> "$tmp/scheduler.log" &
pids+=($!)
wait_port "$sched"
start_executor() {
  local flight grpc
  flight=$(port)
  grpc=$(port)
  "$bin" cluster executor --scheduler "127.0.0.1:$sched" --bind "127.0.0.1:$flight" \
    --grpc-port "$grpc" --work-dir "$tmp/work-$1" 2> "$tmp/executor-$1.log" &
  pids+=($!)
  wait_port "$flight"
  wait_port "$grpc"
  sleep 1
}
url=df://127.0.0.1:$sched

time_features() {
  local start end
  start=$(date +%s.%N)
  "$bin" --quiet --store "$store" "$@" features --as-of "$as_of" > /dev/null 2> "$tmp/last.err" ||
    { cat "$tmp/last.err" >&2; exit 1; }
  end=$(date +%s.%N)
  echo "$end - $start" | bc -l
}
digest() {
  "$bin" --store "$store" sql --format csv \
    "SELECT count(*) AS parties, sum(monetary) AS monetary, sum(adb_year) AS adb, count(DISTINCT rfm_class) AS classes FROM features"
}

start_executor 1
mkdir -p "$tmp/work-1" "$tmp/work-2"
for _ in $(seq "$runs"); do
  time_features >> "$tmp/embedded.times"
  digest > "$tmp/embedded.digest"
  time_features --cluster "$url" >> "$tmp/one.times"
  digest > "$tmp/one.digest"
done
start_executor 2
for _ in $(seq "$runs"); do
  time_features >> "$tmp/embedded.times"
  time_features --cluster "$url" >> "$tmp/two.times"
  digest > "$tmp/two.digest"
done

python3 - "$tmp" "$customers" "$runs" <<'PY'
import sys
tmp, customers, runs = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
def times(name):
    return [float(l) for l in open(f"{tmp}/{name}.times") if l.strip()]
digests = {n: open(f"{tmp}/{n}.digest").read() for n in ("embedded", "one", "two")}
rows = [[float(x) for x in d.split("\n")[1].split(",")] for d in digests.values()]
same = all(all(abs(a - b) <= 1e-9 * max(1.0, abs(a)) for a, b in zip(rows[0], r)) for r in rows)
e, o, t = times("embedded"), times("one"), times("two")
print(f"features stage, {customers:,} customers, best of {runs} (embedded: best of {2 * runs})")
print("| setting | seconds (best) | runs | ÷ embedded |")
print("|---|---:|---|---:|")
for name, ts in (("embedded DataFusion", e), ("Ballista, 1 executor", o), ("Ballista, 2 executors", t)):
    print(f"| {name} | {min(ts):.2f} | {', '.join(f'{x:.2f}' for x in ts)} | {min(ts) / min(e):.2f} |")
print("results agree:" , "yes" if same else "NO", "—", digests["embedded"].split("\n")[1])
if not same:
    print(digests)
    sys.exit(1)
PY
