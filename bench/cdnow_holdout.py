"""CDNOW master as a ranking of who buys again: calibration up to 1997-09-30, holdout
1997-10-01 … 1998-06-30. Judges portrait's BG/NBD expected purchases and its churn score
(1 − churn_probability; a party reported as churned counts as certain to leave) against
lifetimes' BG/NBD conditional expected purchases over the same 90 days as portrait's
(`score.bgnbd.horizon_days`), fitted in the same run on the same purchase days, by ROC-AUC.

    python bench/cdnow_holdout.py STORE TRANSACTIONS_CSV

STORE holds `portrait score --as-of 1997-09-30` over the CDNOW master log (TRANSACTIONS_CSV,
as tests/fetch-references.sh writes it). Exits non-zero when the two sides do not judge the same
customers.
"""

import json
import sys

import duckdb
import numpy as np
from lifetimes import BetaGeoFitter
from sklearn.metrics import roc_auc_score

END, HOLDOUT_END, WEEKS = "1997-09-30", "1998-06-30", 90 / 7


def main():
    store, transactions = sys.argv[1:3]
    tables = json.load(open(f"{store}/manifest.json"))["tables"]
    con = duckdb.connect()
    for t in ("score", "party_member"):
        con.execute(f"CREATE VIEW {t} AS SELECT * FROM read_parquet('{store}/{tables[t]['dir']}/*.parquet')")
    con.execute(
        f"CREATE VIEW tx AS SELECT cust_no, CAST(ts AS DATE) AS day FROM read_csv('{transactions}', types={{'cust_no': 'VARCHAR'}})"
    )
    ours = con.execute(
        f"""SELECT m.cust_no, s.churn_probability AS p, s.retention_group AS grp, s.expected_purchases AS e
            FROM score s JOIN party_member m USING (party_id) WHERE s.as_of = DATE '{END}'"""
    ).df()
    summary = con.execute(
        f"""WITH days AS (SELECT DISTINCT cust_no, day FROM tx WHERE day <= DATE '{END}')
            SELECT cust_no, count(*) - 1 AS frequency, date_diff('day', min(day), max(day)) / 7.0 AS recency,
                   date_diff('day', min(day), DATE '{END}') / 7.0 AS T
            FROM days GROUP BY cust_no"""
    ).df()
    buyers = set(con.execute(
        f"SELECT DISTINCT cust_no FROM tx WHERE day > DATE '{END}' AND day <= DATE '{HOLDOUT_END}'"
    ).df().cust_no)
    bg = BetaGeoFitter(penalizer_coef=0.0).fit(summary.frequency, summary.recency, summary["T"])
    summary["lifetimes"] = bg.conditional_expected_number_of_purchases_up_to_time(
        WEEKS, summary.frequency, summary.recency, summary["T"]
    )
    d = summary.merge(ours, on="cust_no", how="left")
    failures = []
    if d.p.notna().sum() == 0:
        failures.append("portrait trained no churn model on CDNOW: no churn_probability to judge")
    if len(ours) != len(summary) or d.e.isna().any():
        failures.append(f"portrait scored {len(ours)} customers, lifetimes summarised {len(summary)}")
    y = d.cust_no.isin(buyers).to_numpy()
    keep = np.where(d.grp == "churned", 1.0, d.p.fillna(1.0))
    rows = [
        ("lifetimes BG/NBD conditional expected purchases (90 days)", d.lifetimes),
        ("portrait BG/NBD expected_purchases", d.e.fillna(0.0)),
        ("portrait 1 − churn_probability (churned: 0)", 1.0 - keep),
    ]
    print(f"CDNOW master: {len(d):,} customers, {int(y.sum()):,} buy again between {END} and {HOLDOUT_END}; "
          f"{int((d.grp == 'churned').sum()):,} reported as churned at {END}")
    print("| ranking of who buys again | ROC-AUC |")
    print("|---|---:|")
    for name, score in rows:
        print(f"| {name} | {roc_auc_score(y, score):.4f} |")
    for f in failures:
        print(f"MISMATCH: {f}", file=sys.stderr)
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
