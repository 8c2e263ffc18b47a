"""Judges churn rankings against the generator's ground truth, side by side on the same parties:
portrait's churn_probability, scikit-learn's HistGradientBoostingClassifier trained on the very
rows portrait's model learned from (`portrait score --churn-rows DIR`), portrait's BG/NBD
p_alive and lifetimes' BetaGeoFitter fitted on the same activity days.

    python bench/churn_truth.py STORE BANK_DIR AS_OF ROWS_DIR HORIZON_DAYS EVAL_JSON

STORE holds the scores at AS_OF, BANK_DIR the generated files with `truth/`, ROWS_DIR the rows
written by `score --churn-rows`, EVAL_JSON the output of `portrait eval churn --format json`.
A party churned on the latest churn date of its customer numbers and stayed if any of them
stayed (as `portrait eval churn` reads the truth); judged are the scored parties the truth
still has as customers at AS_OF; a churner leaves within HORIZON_DAYS after it.

Exits non-zero when the sides do not judge the same parties: the scoring rows are not the
scored parties, or this script's judgement of portrait's probabilities differs from `portrait
eval churn`'s.
"""

import json
import sys
import time

import duckdb
import numpy as np
import pandas as pd


def measures(p, y):
    from sklearn.metrics import average_precision_score, brier_score_loss, roc_auc_score

    p = np.asarray(p, dtype=float)
    y = np.asarray(y, dtype=bool)
    # The top decile; scores tied across the cut count their positive rate (as portrait's
    # precision_at does), so the order of tied rows does not matter.
    k = max(1, int(np.ceil(0.1 * len(p))))
    cut = np.sort(p)[::-1][k - 1]
    above, tied = p > cut, p == cut
    hits = float(y[above].sum()) + float(y[tied].mean()) * (k - int(above.sum()))
    return {
        "roc_auc": float(roc_auc_score(y, p)),
        "pr_auc": float(average_precision_score(y, p)),
        "lift_at_10pct": hits / k / float(y.mean()),
        "capture_at_10pct": hits / float(y.sum()),
        "brier": float(brier_score_loss(y, np.clip(p, 0, 1))),
    }


def main():
    store, bank, as_of, rows, horizon, eval_json = sys.argv[1:7]
    horizon = int(horizon)
    ours_eval = json.load(open(eval_json))
    tables = json.load(open(f"{store}/manifest.json"))["tables"]
    con = duckdb.connect()
    for t in ("score", "party_member", "transaction"):
        con.execute(f"CREATE VIEW {t} AS SELECT * FROM read_parquet('{store}/{tables[t]['dir']}/*.parquet')")
    con.execute(
        f"CREATE VIEW truth AS SELECT * FROM read_csv('{bank}/truth/customer_churn.csv', all_varchar=true)"
    )
    d = pd.Timestamp(as_of)
    parties = con.execute(
        f"""SELECT s.party_id, s.churn_probability AS p, s.p_alive,
                   bool_or(t.churn_date IS NULL OR t.churn_date = '') AS stayed,
                   max(CAST(nullif(t.churn_date, '') AS DATE)) AS churn_date,
                   max(nullif(t.kind, '')) AS kind
            FROM score s JOIN party_member m USING (party_id) JOIN truth t ON t.cust_no = m.cust_no
            WHERE s.as_of = DATE '{as_of}' AND s.churn_probability IS NOT NULL
            GROUP BY ALL"""
    ).df()
    parties.loc[parties.stayed, "churn_date"] = pd.NaT
    parties = parties[parties.churn_date.isna() | (parties.churn_date > d)].copy()
    parties["y"] = parties.churn_date.notna() & (parties.churn_date <= d + pd.Timedelta(days=horizon))

    failures = []
    ours = measures(parties.p, parties.y)
    if len(parties) != ours_eval["parties"] or int(parties.y.sum()) != ours_eval["churners"]:
        failures.append(
            f"judged {len(parties)} parties with {int(parties.y.sum())} churners, "
            f"portrait eval churn {ours_eval['parties']} with {ours_eval['churners']}"
        )
    if abs(ours["roc_auc"] - ours_eval["roc_auc"]) > 1e-6:
        failures.append(f"ROC-AUC of portrait's scores {ours['roc_auc']:.6f} here, {ours_eval['roc_auc']:.6f} by portrait eval churn")

    # scikit-learn on the rows portrait's model learned from, with portrait's GbtParams.
    from sklearn.ensemble import HistGradientBoostingClassifier

    train = pd.read_csv(f"{rows}/training.csv")
    scoring = pd.read_csv(f"{rows}/scoring.csv")
    scored = set(con.execute(
        f"SELECT party_id FROM score WHERE as_of = DATE '{as_of}' AND churn_probability IS NOT NULL"
    ).df().party_id)
    if set(scoring.party_id) != scored:
        print(f"MISMATCH: scoring.csv holds {len(scoring)} parties, the store scored {len(scored)}", file=sys.stderr)
        sys.exit(1)
    inputs = [c for c in train.columns if c not in ("party_id", "as_of", "churned")]
    gbt = HistGradientBoostingClassifier(
        max_iter=200, learning_rate=0.1, max_depth=4, max_leaf_nodes=None, min_samples_leaf=20,
        l2_regularization=1.0, max_bins=64, early_stopping=False, random_state=0,
    )
    started = time.perf_counter()
    # A column no training row has a value in carries nothing (and scikit-learn cannot bin it).
    known = [c for c in inputs if train[c].notna().any()]
    gbt.fit(train[known].to_numpy(float), train.churned.to_numpy(int))
    sk_seconds = time.perf_counter() - started
    sk = pd.Series(gbt.predict_proba(scoring[known].to_numpy(float))[:, 1], index=scoring.party_id)
    sk_measures = measures(sk.reindex(parties.party_id).to_numpy(), parties.y)

    # lifetimes' BG/NBD on the activity days up to AS_OF (the customer's own debits, as
    # portrait's BG/NBD counts them), in weeks.
    from lifetimes import BetaGeoFitter

    summary = con.execute(
        f"""WITH days AS (
              SELECT DISTINCT m.party_id, CAST(x.ts AS DATE) AS day
              FROM transaction x JOIN party_member m ON m.cust_no = x.cust_no
              WHERE x.ts < DATE '{as_of}' + INTERVAL 1 DAY AND (x.direction IS NULL OR x.direction = 'debit'))
            SELECT party_id, count(*) - 1 AS frequency,
                   date_diff('day', min(day), max(day)) / 7.0 AS recency,
                   date_diff('day', min(day), DATE '{as_of}') / 7.0 AS T
            FROM days GROUP BY party_id"""
    ).df()
    bg = BetaGeoFitter(penalizer_coef=0.0)
    started = time.perf_counter()
    bg.fit(summary.frequency, summary.recency, summary["T"])
    lt_seconds = time.perf_counter() - started
    alive = pd.Series(
        bg.conditional_probability_alive(summary.frequency, summary.recency, summary["T"]),
        index=summary.party_id,
    )
    lt_risk = 1.0 - alive.reindex(parties.party_id).fillna(0.0).to_numpy()
    ours_bg = 1.0 - parties.p_alive.fillna(0.0).to_numpy()

    rows_out = [
        ("portrait churn_probability (gbt)", ours),
        (f"scikit-learn HistGradientBoosting on the same rows ({sk_seconds:.1f} s fit)", sk_measures),
        ("portrait BG/NBD 1 − p_alive", measures(ours_bg, parties.y)),
        (f"lifetimes BG/NBD 1 − p_alive ({lt_seconds:.1f} s fit)", measures(lt_risk, parties.y)),
    ]
    print(
        f"as of {as_of}, horizon {horizon} days: {len(parties):,} parties judged, "
        f"{int(parties.y.sum()):,} churners ({parties.y.mean():.2%}); "
        f"{len(train):,} training rows ({train.churned.mean():.2%} churn), {len(known)} inputs"
    )
    print("| ranking | ROC-AUC | PR-AUC | lift@10% | capture@10% | Brier |")
    print("|---|---:|---:|---:|---:|---:|")
    for name, m in rows_out:
        print(
            f"| {name} | {m['roc_auc']:.4f} | {m['pr_auc']:.4f} | {m['lift_at_10pct']:.2f} | "
            f"{m['capture_at_10pct']:.1%} | {m['brier']:.4f} |"
        )
    # By the truth's kind of leaver: the churners of one kind against every stayer.
    from sklearn.metrics import roc_auc_score

    kinds = sorted(k for k in parties[parties.y].kind.dropna().unique())
    if kinds:
        print()
        print("| ROC-AUC by kind of leaver | churners | portrait | scikit-learn |")
        print("|---|---:|---:|---:|")
        sk_p = sk.reindex(parties.party_id).to_numpy()
        for k in kinds:
            keep = (~parties.y | (parties.kind == k)).to_numpy()
            yk = parties.y.to_numpy()[keep]
            print(
                f"| {k} | {int(yk.sum()):,} | {roc_auc_score(yk, parties.p.to_numpy()[keep]):.4f} | "
                f"{roc_auc_score(yk, sk_p[keep]):.4f} |"
            )
    for f in failures:
        print(f"MISMATCH: {f}", file=sys.stderr)
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
