#!/usr/bin/env bash
# Features benchmark: `portrait features` (the whole portrait of every party, written to the
# store) against DuckDB running the very same SQL statements (`portrait features --sql`: the
# per-party base table, then the ranked and classified rows) over the same Parquet files and
# writing the result to Parquet, RUNS times each, alternating, on THREADS threads each.
# portrait's time is the whole command; DuckDB's the statements in its process (the views over
# the store are made before the clock starts). Then both results are compared value by value.
#
#   bench/features.sh                     # release build, 1,000,000 customers, ~50M transactions
#   CUSTOMERS=100000 RUNS=2 bench/features.sh   # smaller, for a quick look
#   PROFILE=dev bench/features.sh         # the dev build (dependencies optimised)
set -euo pipefail
source "$(dirname "$0")/lib.sh"
bench_vars CUSTOMERS
customers=${CUSTOMERS:-1000000}
as_of=2026-12-01
data=$BENCH_ROOT/bench/data/features-$customers
store=$BENCH_ROOT/bench/data/features-store-$customers
tmp=$BENCH_TMP

bench_python_env duckdb "duckdb==2.0.1"
bench_build portrait
bin=$BENCH_BIN
duck_v=$("$BENCH_PY" -c "import duckdb; print(duckdb.__version__)")
bench_side duckdb "$BENCH_THREADS" "duckdb $duck_v, SET threads"

if [ ! -f "$data/transaction.csv" ]; then
  "$bin" --quiet generate --customers "$customers" --seed 1 --out "$data" --txns-per-customer 50
fi
if [ ! -f "$store/manifest.json" ]; then
  "$bin" --quiet --store "$store" ingest "$data" --rejects "$store-rejects.csv" > /dev/null
fi
"$bin" --store "$store" features --as-of "$as_of" --sql > "$tmp/features.sql"

cat > "$tmp/duck.py" << 'PY'
import json, sys, time, duckdb
store, sql_file, out, threads = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
manifest = json.load(open(f"{store}/manifest.json"))
# CREATE TABLE features_base AS …; then the scored query.
*creates, scored = [s.strip().rstrip(";") for s in open(sql_file).read().split(";\n\n") if s.strip()]
# portrait's ID-number functions (crates/engine/src/functions.rs, GB 11643-1999), as macros.
ID_MACROS = r"""
CREATE MACRO id_ok(s) AS s IS NOT NULL AND regexp_full_match(trim(s), '[0-9]{17}[0-9Xx]')
  AND substr(trim(s), 1, 2) IN ('11','12','13','14','15','21','22','23','31','32','33','34','35',
    '36','37','41','42','43','44','45','46','50','51','52','53','54','61','62','63','64','65',
    '71','81','82')
  AND substr(trim(s), 3, 4) <> '0000'
  AND try_strptime(substr(trim(s), 7, 8), '%Y%m%d') IS NOT NULL
  AND year(try_strptime(substr(trim(s), 7, 8), '%Y%m%d')) >= 1880
  AND CAST(try_strptime(substr(trim(s), 7, 8), '%Y%m%d') AS DATE) <= current_date
  AND substr('10X98765432', CAST(list_sum(list_transform(range(17), lambda i:
        CAST(substr(trim(s), i + 1, 1) AS INTEGER) * [7,9,10,5,8,4,2,1,6,3,7,9,10,5,8,4,2][i + 1])) % 11 AS INTEGER) + 1, 1)
      = upper(substr(trim(s), 18, 1));
CREATE MACRO id_birth_date(s) AS CASE WHEN id_ok(s) THEN CAST(strptime(substr(trim(s), 7, 8), '%Y%m%d') AS DATE) END;
CREATE MACRO id_gender(s) AS CASE WHEN id_ok(s) THEN
  CASE WHEN CAST(substr(trim(s), 17, 1) AS INTEGER) % 2 = 1 THEN 'M' ELSE 'F' END END;
"""
con = duckdb.connect()
con.execute(f"SET threads = {threads}")
con.execute(ID_MACROS)
for name, t in manifest["tables"].items():
    if name != "features":
        con.execute(f"CREATE VIEW \"{name}\" AS SELECT * FROM read_parquet('{store}/{t['dir']}/*.parquet')")
start = time.perf_counter()
for create in creates:
    con.execute(create)
con.execute(f"COPY ({scored}) TO '{out}' (FORMAT parquet)")
print(time.perf_counter() - start)
PY

ours() { bench_timed "$bin" --quiet --store "$store" features --as-of "$as_of" 2> /dev/null; }
duck() {
  rm -f "$tmp/duck.parquet"
  bench_took "$("$BENCH_PY" "$tmp/duck.py" "$store" "$tmp/features.sql" "$tmp/duck.parquet" "$BENCH_THREADS")"
}
bench_alternate features duckdb ours duck

# Every value of every column, rows by party_id. Tolerance: 1e-9, relative (absolute near 0), as
# the two engines add up floating-point aggregates in different orders.
"$BENCH_PY" - "$store" "$tmp/duck.parquet" "$as_of" "$tmp/portrait.csv" "$tmp/duckdb.csv" << 'PY'
import json, sys, duckdb
store, duck, as_of, ours_csv, duck_csv = sys.argv[1:6]
f = json.load(open(f"{store}/manifest.json"))["tables"]["features"]["dir"]
con = duckdb.connect()
con.execute(f"CREATE VIEW p AS SELECT * FROM read_parquet('{store}/{f}/*.parquet') WHERE as_of = DATE '{as_of}'")
con.execute(f"CREATE VIEW d AS SELECT * FROM read_parquet('{duck}')")
cols = ", ".join(f'"{r[0]}"' for r in con.execute("DESCRIBE d").fetchall())
for view, out in (("p", ours_csv), ("d", duck_csv)):
    con.execute(f"COPY (SELECT {cols} FROM {view} ORDER BY party_id) TO '{out}' (HEADER)")
PY
bench_same_csv "$tmp/portrait.csv" "$tmp/duckdb.csv" 1e-9 1e-9

parties=$("$bin" --store "$store" sql "SELECT count(*) AS n FROM features WHERE as_of = DATE '$as_of'" --format csv | tail -1)
txns=$("$bin" --store "$store" sql "SELECT count(*) AS n FROM \"transaction\"" --format csv | tail -1)
bench_note "data $parties parties, $txns transactions, as of $as_of"
bench_row features duckdb
bench_report
