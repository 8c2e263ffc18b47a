#!/usr/bin/env bash
# SQL over the PostgreSQL protocol against `portrait sql`: five queries an analyst's tools send
# (a count, a group-by over `features`, a customer lookup, an audience-sized export, a join),
# RUNS times each, alternating. `portrait serve --pg` is queried by psycopg 3 over one open
# connection, as a BI tool or a notebook keeps it (the time is execute and fetch, rows decoded
# into Python values); `portrait sql` is a process per query, as a script calls it (the time is
# the whole command, CSV on stdout). Both run as an admin, so both see the stored values, and
# the results are compared cell by cell (numbers within 1e-9); the script exits 1 when they differ.
#
#   bench/pg.sh                                  # release build, 1,000,000 customers
#   CUSTOMERS=20000 RUNS=3 PROFILE=dev bench/pg.sh   # small, for a quick look
set -euo pipefail
source "$(dirname "$0")/lib.sh"
bench_vars CUSTOMERS
customers=${CUSTOMERS:-1000000}
data=$BENCH_ROOT/bench/data/pg-$customers
store=$BENCH_ROOT/bench/data/pg-store-$customers
tmp=$BENCH_TMP

bench_python_env pg "psycopg[binary]==3.3.9"
bench_build portrait
bin=$BENCH_BIN
bench_side cli "$BENCH_THREADS" "portrait sql, a process per query"
bench_note "portrait side: \`serve --pg\` through psycopg 3.3.9 on one open connection"

if [ ! -f "$data/customer.csv" ]; then
  "$bin" --quiet generate --customers "$customers" --seed 3 --out "$data"
fi
if [ ! -f "$store/manifest.json" ]; then
  "$bin" --quiet --store "$store" ingest "$data" > /dev/null
  "$bin" --quiet --store "$store" run > /dev/null
fi
bench_note "data: generated bank, $customers customers (seed 3), ingested and run"
token=$("$bin" --quiet --store "$store" user add "bench-$$" --role admin)
bench_on_exit "\"$bin\" --quiet --store \"$store\" user revoke \"bench-$$\" --by bench > /dev/null 2>&1"
port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
http=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
"$bin" --quiet --store "$store" serve --addr "127.0.0.1:$http" --pg "127.0.0.1:$port" \
  --rate-limit 100000 --burst 100000 > "$tmp/server.log" 2>&1 &
server=$!
bench_on_exit "kill $server"
for _ in $(seq 100); do
  (echo > "/dev/tcp/127.0.0.1/$port") 2> /dev/null && break
  sleep 0.2
done

one=$("$bin" --quiet --store "$store" sql --format csv "SELECT party_id FROM party ORDER BY party_id LIMIT 1 OFFSET 7" | tail -1)
declare -A queries=(
  [count]="SELECT count(*) AS n FROM features"
  [group_by]="SELECT recency_class, count(*) AS n, avg(monetary) AS m FROM features GROUP BY recency_class ORDER BY recency_class"
  [lookup]="SELECT * FROM party WHERE party_id = '$one'"
  [export]="SELECT party_id, age, monetary, recency_days FROM features WHERE age BETWEEN 30 AND 39"
  [join]="SELECT f.recency_class, s.segment, count(*) AS n FROM features f JOIN segment s ON f.party_id = s.party_id GROUP BY f.recency_class, s.segment ORDER BY 1, 2"
)

cat > "$tmp/client.py" << 'PY'
import csv, datetime, decimal, sys, time, psycopg
port, token, query, out = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4]
def cell(v):
    if v is None: return ""
    if isinstance(v, bool): return "true" if v else "false"
    return str(v)
with psycopg.connect(host="127.0.0.1", port=int(port), user=sys.argv[5], password=token,
                     dbname="portrait", autocommit=True) as c:
    start = time.perf_counter()
    cur = c.execute(query)
    rows = cur.fetchall()
    took = time.perf_counter() - start
    with open(out, "w", newline="") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow([d.name for d in cur.description])
        w.writerows([[cell(v) for v in r] for r in rows])
print(f"{took:.6f}")
PY

for m in count group_by lookup export join; do
  q=${queries[$m]}
  pg_side() { bench_took "$("$BENCH_PY" "$tmp/client.py" "$port" "$token" "$q" "$tmp/pg-$m.csv" "bench-$$")"; }
  cli_side() { "$bin" --quiet --store "$store" sql --format csv "$q" > "$tmp/cli-$m.csv"; }
  bench_alternate "$m" cli pg_side cli_side
  bench_same_csv "$tmp/pg-$m.csv" "$tmp/cli-$m.csv" 1e-9
  bench_row "$m" cli
done
bench_report
