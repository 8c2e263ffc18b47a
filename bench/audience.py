"""Audience latency peers for bench/audience.sh: the 5-term expression count and the breakdown by
a 10-valued tag of crates/tags/examples/audience_bench.rs, in DuckDB SQL over the long `tag`
table and with ClickHouse bitmap functions (chdb), over the same DIR/tag.parquet; then checks that
all three tools agree and prints the table.

  python bench/audience.py DIR portrait.jsonl [--reps 200] [--warmup 10] [--threads N]

DuckDB: the Parquet is loaded into a table of an in-memory database first (compressed, in the
file's (tag, value, party_id) order, so the zone maps skip to each tag value), with a `party`
table of the distinct ids; not timed. Three formulations of each query are tried — the semi-join
of `Expr::to_sql` (`party_id IN (SELECT … FROM tag WHERE …)`), INTERSECT / EXCEPT, and one
GROUP BY party_id … HAVING — each WARMUP times; the fastest by median then runs REPS times.
chdb: the Parquet is loaded into a Memory table of one groupBitmap state per (tag, value); the
count is bitmapAnd / bitmapOr / bitmapAndnot / bitmapCardinality, the breakdown
bitmapAndCardinality of the audience against each value's bitmap; load not timed.
Both run on --threads threads (DuckDB's `threads`, ClickHouse's `max_threads`).
"""

import argparse
import gc
import json
import math
import os
import re
import sys
import time


def stats(ms):
    ms = sorted(ms)
    q = lambda p: ms[min(max(math.ceil(p * len(ms)), 1), len(ms)) - 1]  # nearest rank
    return q(0.50), q(0.99), sum(ms) / len(ms)


def terms_of(expr):
    """`a:x AND b:(y|z) AND NOT c:w` → [(tag, [values], negated)]; a conjunction of tag terms."""
    out = []
    for part in re.split(r"\s+AND\s+", expr.strip()):
        neg = part.startswith("NOT ")
        part = part[4:].strip() if neg else part
        m = re.fullmatch(r"(\w+):(?:\(([^)]*)\)|(\S+))", part)
        if not m:
            sys.exit(f"audience.py handles conjunctions of tag terms only, not `{part}`")
        vals = (m.group(2) or m.group(3)).split("|")
        out.append((m.group(1), vals, neg))
    return out


def q(s):
    return "'" + s.replace("'", "''") + "'"


def pred(tag, vals):
    return f"(tag = {q(tag)} AND value IN ({', '.join(q(v) for v in vals)}))"


def duck_audiences(terms, sql_where):
    """Three SQL formulations of the audience (a query returning party_id)."""
    semi = f"SELECT party_id FROM party WHERE {sql_where}"
    pos = [f"SELECT party_id FROM tag WHERE {pred(t, v)}" for t, v, n in terms if not n]
    neg = [f"SELECT party_id FROM tag WHERE {pred(t, v)}" for t, v, n in terms if n]
    setops = " INTERSECT ".join(pos) + "".join(f" EXCEPT {x}" for x in neg)
    having = (
        f"SELECT party_id FROM tag WHERE {' OR '.join(pred(t, v) for t, v, _ in terms)} "
        f"GROUP BY party_id HAVING "
        + " AND ".join(
            ("NOT " if n else "") + f"bool_or({pred(t, v)})" for t, v, n in terms
        )
    )
    return {"semi-join": semi, "intersect/except": setops, "group by/having": having}


def timed(run, warmup, reps):
    times, result = [], None
    for i in range(warmup + reps):
        t = time.perf_counter()
        result = run()
        ms = (time.perf_counter() - t) * 1e3
        if i >= warmup:
            times.append(ms)
    return times, result


def run_duckdb(path, meta, terms, by, warmup, reps, threads, out):
    import duckdb

    con = duckdb.connect()
    con.execute(f"SET threads = {threads}")
    con.execute("ATTACH ':memory:' AS m (COMPRESS)")
    con.execute("USE m")
    t = time.perf_counter()
    con.execute(f"CREATE TABLE tag AS SELECT * FROM read_parquet({q(path)})")
    con.execute("CREATE TABLE party AS SELECT DISTINCT party_id FROM tag ORDER BY party_id")
    load = time.perf_counter() - t
    threads = con.execute("SELECT current_setting('threads')").fetchone()[0]
    mem = con.execute("SELECT sum(memory_usage_bytes) FROM duckdb_memory()").fetchone()[0]
    print(
        f"duckdb {duckdb.__version__}: loaded in {load:.1f} s, {threads} threads, "
        f"{mem / 1e9:.1f} GB in memory",
        file=sys.stderr,
    )
    auds = duck_audiences(terms, meta["sql_where"])
    queries = {
        "count": {k: f"SELECT count(*) FROM ({a})" for k, a in auds.items()},
        "breakdown": {
            k: f"WITH aud AS ({a}) SELECT t.value, count(*) FROM tag t JOIN aud USING (party_id) "
            f"WHERE t.tag = {q(by)} GROUP BY t.value ORDER BY t.value"
            for k, a in auds.items()
        },
    }
    for name, variants in queries.items():
        pilot = {}
        for k, sql in variants.items():
            times, _ = timed(lambda: con.execute(sql).fetchall(), 0, max(warmup, 1))
            pilot[k] = stats(times)[0]
            print(f"  duckdb {name} {k}: median {pilot[k]:.1f} ms over {len(times)} (pilot)", file=sys.stderr)
        best = min(pilot, key=pilot.get)
        sql = variants[best]
        times, res = timed(lambda: con.execute(sql).fetchall(), 0, reps)
        p50, p99, mean = stats(times)
        row = {"tool": f"duckdb {duckdb.__version__}", "query": name, "variant": best,
               "reps": reps, "threads": int(threads), "p50_ms": p50, "p99_ms": p99,
               "mean_ms": mean, "pilot_median_ms": pilot}
        if name == "count":
            row["count"] = res[0][0]
        else:
            row["breakdown"] = {v: c for v, c in res}
        print(json.dumps(row), file=out, flush=True)
        yield row
    con.close()


def run_chdb(path, terms, by, warmup, reps, threads, out):
    import chdb
    from chdb import session

    s = session.Session()
    settings = f" SETTINGS max_threads = {threads}"
    s.query(
        "CREATE TABLE tb (tag String, value String, b AggregateFunction(groupBitmap, UInt32)) "
        "ENGINE = Memory"
    )
    t = time.perf_counter()
    s.query(
        "INSERT INTO tb SELECT tag, value, groupBitmapState(toUInt32(party_id)) "
        f"FROM file({q(path)}, Parquet) GROUP BY tag, value" + settings
    )
    load = time.perf_counter() - t
    threads = str(s.query("SELECT getSetting('max_threads')" + settings, "CSV")).strip().strip('"')
    threads = re.sub(r"\D", "", threads) or "?"
    n = str(s.query("SELECT count() FROM tb", "CSV")).strip()
    print(f"chdb {chdb.__version__}: {n} bitmaps loaded in {load:.1f} s, max_threads {threads}",
          file=sys.stderr)

    withs = ", ".join(
        f"(SELECT groupBitmapOrState(b) FROM tb WHERE {pred(tg, v)}) AS t{i}"
        for i, (tg, v, _) in enumerate(terms)
    )
    pos = [f"t{i}" for i, (_, _, n) in enumerate(terms) if not n]
    neg = [f"t{i}" for i, (_, _, n) in enumerate(terms) if n]
    aud = pos[0]
    for p in pos[1:]:
        aud = f"bitmapAnd({aud}, {p})"
    for p in neg:
        aud = f"bitmapAndnot({aud}, {p})"
    queries = {
        "count": f"WITH {withs} SELECT bitmapCardinality({aud})" + settings,
        "breakdown": f"WITH {withs} SELECT value, bitmapAndCardinality({aud}, b) FROM tb "
        f"WHERE tag = {q(by)} ORDER BY value" + settings,
    }

    def rows(sql):
        text = str(s.query(sql, "TabSeparated"))
        return [line.split("\t") for line in text.splitlines() if line]

    for name, sql in queries.items():
        times, res = timed(lambda: rows(sql), warmup, reps)
        p50, p99, mean = stats(times)
        row = {"tool": f"chdb {chdb.__version__}", "query": name, "variant": "groupBitmap states",
               "reps": reps, "threads": int(threads) if threads.isdigit() else threads,
               "p50_ms": p50, "p99_ms": p99, "mean_ms": mean}
        if name == "count":
            row["count"] = int(res[0][0])
        else:
            row["breakdown"] = {v: int(c) for v, c in res}
        print(json.dumps(row), file=out, flush=True)
        yield row
    s.close()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("dir")
    ap.add_argument("portrait", help="the JSON lines of audience_bench")
    ap.add_argument("--reps", type=int, default=200)
    ap.add_argument("--warmup", type=int, default=10)
    ap.add_argument("--threads", type=int, default=os.cpu_count())
    a = ap.parse_args()
    meta = json.load(open(os.path.join(a.dir, "query.json")))
    path = os.path.abspath(os.path.join(a.dir, "tag.parquet"))
    terms = terms_of(meta["expr"])
    by = meta["by"]
    rows = [json.loads(line) for line in open(a.portrait) if line.strip().startswith("{")]
    rows += list(run_duckdb(path, meta, terms, by, a.warmup, a.reps, a.threads, sys.stdout))
    gc.collect()
    rows += list(run_chdb(path, terms, by, a.warmup, a.reps, a.threads, sys.stdout))

    # Same answers from all three, or fail.
    bad = []
    for name, key in (("count", "count"), ("breakdown", "breakdown")):
        got = {}
        for r in rows:
            if r["query"] == name:
                v = r[key]
                if key == "breakdown":
                    v = {k: c for k, c in v.items() if c}
                got[r["tool"]] = v
        if len({json.dumps(v, sort_keys=True) for v in got.values()}) != 1:
            bad.append(f"{name} differs: {json.dumps(got, sort_keys=True)}")
    if bad:
        sys.exit("MISMATCH between the tools:\n" + "\n".join(bad))

    cnt = next(r["count"] for r in rows if r["query"] == "count")
    bd = next(r["breakdown"] for r in rows if r["query"] == "breakdown")
    print(f"\n{meta['parties']:,} parties, {meta['tags']} tags, {meta['values']} tag values, "
          f"tag table {meta['rows']:,} rows")
    print(f"expression: {meta['expr']}")
    print(f"all three agree: count {cnt:,}; by {by}: "
          + ", ".join(f"{k} {v:,}" for k, v in bd.items()))
    print()
    print("| tool | query | threads | p50 ms | p99 ms | mean ms | p50 ÷ portrait | p99 ÷ portrait |")
    print("|---|---|---:|---:|---:|---:|---:|---:|")
    base = {r["query"]: r for r in rows if r["tool"] == "portrait"}
    for name in ("count", "breakdown"):
        for r in rows:
            if r["query"] != name:
                continue
            b = base[name]
            tool = r["tool"] + (f" ({r['variant']})" if "variant" in r else "")
            ratio = lambda k: "" if r is b else f"{r[k] / b[k]:.1f}"
            print(f"| {tool} | {name} | {r['threads']} | {r['p50_ms']:.2f} | {r['p99_ms']:.2f} | "
                  f"{r['mean_ms']:.2f} | {ratio('p50_ms')} | {ratio('p99_ms')} |")


if __name__ == "__main__":
    main()
