#!/usr/bin/env bash
# The features stage embedded and on an Apache Ballista cluster, on the same store: `portrait
# features` in this process (embedded DataFusion) against `portrait --cluster … features`
# through a local `portrait cluster scheduler` with one executor, then with two, RUNS times
# each (default 3), alternating with embedded runs. Every executor gets THREADS task slots;
# scheduler, executors and client share this machine, so the numbers measure Ballista's
# overhead (planning, task dispatch, shuffle over loopback Flight, results back to the client),
# not a speed-up. The whole features table of each setting's last run is checked against the
# embedded one's.
#
#   bench/cluster.sh                      # release build, 200,000 customers
#   CUSTOMERS=50000 RUNS=2 bench/cluster.sh
set -euo pipefail
RUNS=${RUNS:-3}
source "$(dirname "$0")/lib.sh"
bench_vars CUSTOMERS
customers=${CUSTOMERS:-200000}
as_of=2026-12-01
data=$BENCH_ROOT/bench/data/cluster-$customers
store=$BENCH_ROOT/bench/data/cluster-store-$customers
tmp=$BENCH_TMP

bench_build portrait
bin=$BENCH_BIN
bench_side ballista "$BENCH_THREADS" "task slots per executor"

if [ ! -f "$data/transaction.csv" ]; then
  "$bin" --quiet generate --customers "$customers" --seed 1 --out "$data"
fi
if [ ! -f "$store/manifest.json" ]; then
  "$bin" --quiet --store "$store" ingest "$data" --rejects "$store-rejects.csv" > /dev/null
  "$bin" --quiet --store "$store" resolve > /dev/null
fi

pids=()
# Ctrl-C first, as a person stops them; TERM for any still running 10 s later.
alive() {
  local p
  for p in ${pids[@]+"${pids[@]}"}; do kill -0 "$p" 2> /dev/null && return 0; done
  return 1
}
stop_all() {
  local p
  for p in ${pids[@]+"${pids[@]}"}; do kill -INT "$p" 2> /dev/null || true; done
  for _ in $(seq 100); do alive || break; sleep 0.1; done
  for p in ${pids[@]+"${pids[@]}"}; do kill -TERM "$p" 2> /dev/null || true; done
  wait 2> /dev/null || true
}
bench_on_exit stop_all
port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
wait_port() {
  for _ in $(seq 300); do
    (exec 3<> "/dev/tcp/127.0.0.1/$1") 2> /dev/null && return 0
    sleep 0.1
  done
  echo "error: nothing listens on $1" >&2
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
  mkdir -p "$tmp/work-$1"
  "$bin" cluster executor --scheduler "127.0.0.1:$sched" --bind "127.0.0.1:$flight" \
    --grpc-port "$grpc" --work-dir "$tmp/work-$1" --concurrent-tasks "$BENCH_THREADS" 2> "$tmp/executor-$1.log" &
  pids+=($!)
  wait_port "$flight"
  wait_port "$grpc"
  sleep 1
}
url=df://127.0.0.1:$sched

# The features table as CSV, rows by party_id.
dump() {
  "$bin" --store "$store" sql --format csv \
    "SELECT * FROM features WHERE as_of = DATE '$as_of' ORDER BY party_id" > "$1"
}
features() {
  bench_timed "$bin" --quiet --store "$store" "$@" features --as-of "$as_of" > /dev/null 2> "$tmp/last.err" ||
    { cat "$tmp/last.err" >&2; exit 1; }
}
# Each side dumps the table its last run wrote, before the other side's last run replaces it.
embedded() {
  features
  [ "$1" != "$BENCH_RUNS" ] || dump "$tmp/embedded-$executors.csv"
}
cluster() {
  features --cluster "$url"
  [ "$1" != "$BENCH_RUNS" ] || dump "$tmp/ballista-$executors.csv"
}

# Tolerance: 1e-9, relative (absolute near 0): the cluster's partitions add up floating-point
# aggregates in another order.
for executors in 1 2; do
  start_executor "$executors"
  bench_alternate "features, $executors executor(s)" ballista embedded cluster
  bench_same_csv "$tmp/embedded-$executors.csv" "$tmp/ballista-$executors.csv" 1e-9 1e-9
done

bench_note "data $customers customers, $(($(wc -l < "$tmp/embedded-1.csv") - 1)) parties, as of $as_of"
bench_row "features, 1 executor(s)" ballista
bench_row "features, 2 executor(s)" ballista
bench_report
