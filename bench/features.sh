#!/usr/bin/env bash
# Features benchmark: `portrait features` (the whole portrait of every party, written to the
# store) against DuckDB running the very same SQL statements (`portrait features --sql`: the
# per-party base table, then the ranked and classified rows) over the same Parquet files and
# writing the result to Parquet, in one run on the same machine. Both engines' results are
# then compared value by value.
#
#   bench/features.sh                     # release build, 1,000,000 customers, ~50M transactions
#   CUSTOMERS=100000 bench/features.sh    # smaller, for a quick look
#   PROFILE=dev bench/features.sh         # the dev build (dependencies optimised)
#   RUNS=5 bench/features.sh              # runs per tool (default 3; the best is reported)
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
customers=${CUSTOMERS:-1000000}
profile=${PROFILE:-release}
runs=${RUNS:-3}
as_of=2026-12-01
data=$root/bench/data/features-$customers
store=$root/bench/data/features-store-$customers
venv=$root/bench/.venv

if [ ! -x "$venv/bin/python" ]; then
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet duckdb
fi

if [ "$profile" = release ]; then
  cargo build --release --quiet -p portrait-cli
  bin=$root/target/release/portrait
else
  cargo build --quiet -p portrait-cli
  bin=$root/target/debug/portrait
fi

if [ ! -f "$data/transaction.csv" ]; then
  "$bin" --quiet generate --customers "$customers" --seed 1 --out "$data" --txns-per-customer 50
fi
if [ ! -f "$store/manifest.json" ]; then
  "$bin" --quiet --store "$store" ingest "$data" --rejects "$store-rejects.csv" > /dev/null
fi

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
"$bin" --store "$store" features --as-of "$as_of" --sql > "$tmp/features.sql"

best() { sort -g | head -1; }
for _ in $(seq "$runs"); do
  start=$(date +%s.%N)
  "$bin" --quiet --store "$store" features --as-of "$as_of" 2> /dev/null
  end=$(date +%s.%N)
  echo "$end - $start" | bc -l
done > "$tmp/portrait.times"
portrait_s=$(best < "$tmp/portrait.times")

"$venv/bin/python" - "$store" "$tmp/features.sql" "$tmp/duck.parquet" "$runs" > "$tmp/duck.times" <<'PY'
import json, sys, time, duckdb
store, sql_file, out, runs = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
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
for _ in range(runs):
    con = duckdb.connect()
    con.execute(ID_MACROS)
    for name, t in manifest["tables"].items():
        if name == "features":
            continue
        con.execute(f"CREATE VIEW \"{name}\" AS SELECT * FROM read_parquet('{store}/{t['dir']}/*.parquet')")
    start = time.perf_counter()
    for create in creates:
        con.execute(create)
    con.execute(f"COPY ({scored}) TO '{out}' (FORMAT parquet)")
    print(time.perf_counter() - start)
    con.close()
PY
duck_s=$(best < "$tmp/duck.times")
duck_v=$("$venv/bin/python" -c "import duckdb; print(duckdb.__version__)")

parties=$("$bin" --store "$store" sql "SELECT count(*) AS n FROM features WHERE as_of = DATE '$as_of'" --format csv | tail -1)
txns=$("$bin" --store "$store" sql "SELECT count(*) AS n FROM \"transaction\"" --format csv | tail -1)
# Both engines must agree on every value of every column.
"$venv/bin/python" - "$store" "$tmp/duck.parquet" "$as_of" <<'PY'
import json, sys, duckdb
store, duck, as_of = sys.argv[1:4]
f = json.load(open(f"{store}/manifest.json"))["tables"]["features"]["dir"]
con = duckdb.connect()
con.execute(f"CREATE VIEW p AS SELECT * FROM read_parquet('{store}/{f}/*.parquet') WHERE as_of = DATE '{as_of}'")
con.execute(f"CREATE VIEW d AS SELECT * FROM read_parquet('{duck}')")
n_p, n_d = (con.execute(f"SELECT count(*) FROM {v}").fetchone()[0] for v in "pd")
cols = [r[0] for r in con.execute("DESCRIBE d").fetchall()]
bad = []
for c in cols:
    c = f'"{c}"'
    same = (f"(p.{c} IS NULL AND d.{c} IS NULL) OR CAST(p.{c} AS VARCHAR) = CAST(d.{c} AS VARCHAR) "
            f"OR abs(TRY_CAST(p.{c} AS DOUBLE) - TRY_CAST(d.{c} AS DOUBLE)) <= 1e-9 * greatest(1, abs(TRY_CAST(d.{c} AS DOUBLE)))")
    n = con.execute(f"SELECT count(*) FROM p FULL JOIN d USING (party_id) WHERE NOT coalesce({same}, false)").fetchone()[0]
    if n:
        bad.append(f"{c}: {n} rows")
if n_p != n_d or bad:
    sys.exit(f"results differ: portrait {n_p} rows, duckdb {n_d}; {', '.join(bad)}")
print(f"same {n_p} rows × {len(cols)} columns from both engines")
PY

printf '\n%d parties, %d transactions, as of %s, %d cores, best of %d\n' "$parties" "$txns" "$as_of" "$(nproc)" "$runs"
printf '%-34s %10s   %s\n' "tool" "seconds" "all runs"
printf '%-34s %10.2f   %s\n' "portrait features ($profile)" "$portrait_s" "$(tr '\n' ' ' < "$tmp/portrait.times")"
printf '%-34s %10.2f   %s\n' "duckdb $duck_v, same SQL" "$duck_s" "$(tr '\n' ' ' < "$tmp/duck.times")"
printf 'ratio (duckdb seconds ÷ portrait seconds, > 1 means portrait is faster): %.2f\n' "$(echo "$duck_s / $portrait_s" | bc -l)"
