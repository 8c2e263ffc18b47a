#!/usr/bin/env python3
"""Fits scikit-learn's HistGradientBoostingClassifier and LogisticRegression on a churn training
file, scores a test file, and prints AUC, precision at the top 10 %, Brier score, log loss and fit
times in the shape of `cargo run --release -p portrait-model --example churn_csv -- --json`.

    python3 bench/churn.py TRAIN.csv TEST.csv

Both files have a header row, numeric feature columns and the 0/1 label last; an empty field is
a missing value. The settings are portrait's `GbtParams::default()` and `LogisticParams::default()`:
200 trees of depth 4, learning rate 0.1, at least 20 rows a leaf, 64 bins, L2 1.0, no early
stopping; the logistic regression gets missing values replaced by the training mean and
standardised inputs, with C = 1, fitted by Newton's method as portrait's is. Needs scikit-learn and pandas. Set OMP_NUM_THREADS to the
thread count portrait uses.
"""

import argparse
import json
import os
import time


def precision_at(scores, labels, fraction):
    """Share of positives among the ceil(fraction * n) highest scores; tied scores straddling the
    cut count their positive rate, as portrait's `precision_at` does."""
    import numpy as np

    n = len(scores)
    k = min(max(int(np.ceil(fraction * n)), 1), n)
    order = np.argsort(-scores, kind="stable")
    s, y = scores[order], labels[order]
    cut = s[k - 1]
    above = s > cut
    tied = s == cut
    taken = k - int(above.sum())
    return (float(y[above].sum()) + float(y[tied].mean()) * taken) / k


def report(name, fit_seconds, predict_seconds, train_probs, probs, y):
    from sklearn.metrics import brier_score_loss, log_loss, roc_auc_score

    return {
        "model": name,
        "auc": float(roc_auc_score(y, probs)),
        "precision_at_10": precision_at(probs, y, 0.1),
        "brier": float(brier_score_loss(y, probs)),
        "log_loss": float(log_loss(y, probs)),
        "train_mean_probability": float(train_probs.mean()),
        "fit_seconds": fit_seconds,
        "predict_seconds": predict_seconds,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("train")
    parser.add_argument("test")
    args = parser.parse_args()

    import numpy as np
    import pandas as pd
    import sklearn
    from sklearn.ensemble import HistGradientBoostingClassifier
    from sklearn.impute import SimpleImputer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    train = pd.read_csv(args.train)
    test = pd.read_csv(args.test)
    x, y = train.iloc[:, :-1].to_numpy(dtype=float), train.iloc[:, -1].to_numpy(dtype=int)
    xt, yt = test.iloc[:, :-1].to_numpy(dtype=float), test.iloc[:, -1].to_numpy(dtype=int)

    reports = []
    logistic = make_pipeline(
        SimpleImputer(strategy="mean"),
        StandardScaler(),
        LogisticRegression(C=1.0, solver="newton-cholesky", tol=1e-10),
    )
    start = time.perf_counter()
    logistic.fit(x, y)
    fit_seconds = time.perf_counter() - start
    start = time.perf_counter()
    probs = logistic.predict_proba(xt)[:, 1]
    predict_seconds = time.perf_counter() - start
    train_probs = logistic.predict_proba(x)[:, 1]
    reports.append(report("logistic", fit_seconds, predict_seconds, train_probs, probs, yt))

    gbt = HistGradientBoostingClassifier(
        max_iter=200,
        learning_rate=0.1,
        max_depth=4,
        max_leaf_nodes=None,
        min_samples_leaf=20,
        l2_regularization=1.0,
        max_bins=64,
        early_stopping=False,
        random_state=0,
    )
    start = time.perf_counter()
    gbt.fit(x, y)
    fit_seconds = time.perf_counter() - start
    start = time.perf_counter()
    probs = gbt.predict_proba(xt)[:, 1]
    predict_seconds = time.perf_counter() - start
    train_probs = gbt.predict_proba(x)[:, 1]
    reports.append(report("gbt", fit_seconds, predict_seconds, train_probs, probs, yt))

    print(
        json.dumps(
            {
                "implementation": f"scikit-learn {sklearn.__version__}",
                "threads": int(os.environ.get("OMP_NUM_THREADS", os.cpu_count() or 1)),
                "train_rows": len(y),
                "test_rows": len(yt),
                "features": x.shape[1],
                "train_base_rate": float(np.mean(y)),
                "models": reports,
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
