"""Judges portrait's churn probability against the generator's ground truth.

    bench/.venv/bin/python bench/churn_truth.py STORE BANK_DIR AS_OF [WINDOW_DAYS]

STORE must hold features scored at AS_OF (`portrait features --as-of AS_OF` then `portrait
score --as-of AS_OF`), BANK_DIR the generated files with `truth/`. A party is a true churner
when the person behind its customer number churned (truth/churn.csv) within WINDOW_DAYS (90)
after AS_OF. Prints the AUC and precision in the top 10 % of churn_probability against that
truth, for the parties the model learned about (active, sleeping, pre-churn at AS_OF) and for
all parties not yet churned by AS_OF.
"""

import json
import sys

import duckdb

store, bank, as_of = sys.argv[1:4]
window = int(sys.argv[4]) if len(sys.argv) > 4 else 90
tables = json.load(open(f"{store}/manifest.json"))["tables"]
con = duckdb.connect()
con.execute(
    f"CREATE VIEW f AS SELECT * FROM read_parquet('{store}/{tables['features']['dir']}/*.parquet') "
    f"WHERE as_of = DATE '{as_of}'"
)
con.execute(f"CREATE VIEW ident AS SELECT * FROM read_csv('{bank}/truth/identity.csv', all_varchar=true)")
con.execute(f"CREATE VIEW churn AS SELECT * FROM read_csv('{bank}/truth/churn.csv', all_varchar=true)")
con.execute(
    f"""CREATE VIEW judged AS
    SELECT f.party_id, f.recency_class, f.churn_probability AS p,
           c.churned = 'true' AND CAST(c.churn_date AS DATE) > DATE '{as_of}'
             AND CAST(c.churn_date AS DATE) <= DATE '{as_of}' + INTERVAL '{window} days' AS y,
           c.churned = 'true' AND CAST(c.churn_date AS DATE) <= DATE '{as_of}' AS gone
    FROM f JOIN ident i ON i.cust_no = f.party_id JOIN churn c ON c.true_id = i.true_id
    WHERE f.churn_probability IS NOT NULL"""
)


def judge(where):
    rows = con.execute(f"SELECT p, y FROM judged WHERE {where} ORDER BY p DESC").fetchall()
    n, pos = len(rows), sum(1 for _, y in rows if y)
    # AUC by ranks, ties averaged.
    ranked = sorted(rows, key=lambda r: r[0])
    rank_sum, i = 0.0, 0
    while i < n:
        j = i
        while j < n and ranked[j][0] == ranked[i][0]:
            j += 1
        avg = (i + j + 1) / 2
        rank_sum += avg * sum(1 for k in range(i, j) if ranked[k][1])
        i = j
    auc = (rank_sum - pos * (pos + 1) / 2) / (pos * (n - pos)) if 0 < pos < n else float("nan")
    top = rows[: max(1, n // 10)]
    prec = sum(1 for _, y in top if y) / len(top)
    return {"parties": n, "true_churners": pos, "auc": round(auc, 4), "precision_at_10pct": round(prec, 4)}


print(json.dumps({
    "as_of": as_of,
    "window_days": window,
    "population (active, sleeping, pre_churn)": judge(
        "recency_class IN ('active', 'sleeping', 'pre_churn') AND NOT gone"),
    "all not yet churned": judge("NOT gone"),
}, indent=2))
