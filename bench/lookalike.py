"""The peers of bench/lookalike.sh, on the features of `tag_party` exported as CSV.

  lookalike.py centroid TAG_PARTY.csv SEED.txt K OUT.csv
      A plain numpy reference of portrait's centroid lookalike (percentile ranks with ties at
      their mean rank and missing values at the median, standardised; the seed's mean, with
      dimensions under 0.05 standard deviations dropped; parties outside the seed by their
      projection on it): the top K written as `party_id,score`. JSON on stdout: seconds.
  lookalike.py holdout TAG_PARTY.csv TRUTH.csv
      For each trait of TRUTH (`party_id,value`), the half of its parties portrait hides (the
      same shuffle, see `split`) hidden, the rest the seed; the centroid reference and scikit-learn's LogisticRegression (L2, C = 1, every
      other party a negative, as portrait's classifier is fitted) each select as many parties
      as were hidden. JSON on stdout: recall and base rate per trait and method, seconds.
"""
import csv
import json
import sys
import time

import numpy as np
from scipy.stats import rankdata


def load(path):
    with open(path, newline="") as f:
        r = csv.reader(f)
        header = next(r)
        rows = list(r)
    ids = [row[header.index("party_id")] for row in rows]
    cols, names = [], []
    for j, name in enumerate(header):
        if name in ("idx", "party_id", "marketing_consent"):
            continue
        v = np.empty(len(rows))
        ok = True
        for i, row in enumerate(rows):
            x = row[j]
            if x == "":
                v[i] = np.nan
            elif x == "true":
                v[i] = 1.0
            elif x == "false":
                v[i] = 0.0
            else:
                try:
                    v[i] = float(x)
                except ValueError:
                    ok = False
                    break
        if ok:
            cols.append(v)
            names.append(name)
    return ids, names, cols


def standardise(cols):
    out = []
    for v in cols:
        ok = np.isfinite(v)
        if not ok.any():
            continue
        q = np.full(len(v), 0.5)
        q[ok] = (rankdata(v[ok]) - 0.5) / ok.sum()
        sd = q.std()
        if sd < 1e-9:
            continue
        out.append(((q - q.mean()) / sd).astype(np.float32))
    return np.array(out, dtype=np.float64).T


MASK = (1 << 64) - 1


def split(members):
    """portrait's hidden half: a Fisher-Yates shuffle of the sorted seed by SplitMix64 seeded
    with 1 ^ 0x5EED4A1F (Lemire's multiply-shift for the draws), so both sides hide the same
    parties."""
    state = 1 ^ 0x5EED4A1F
    out = list(members)
    for k in range(len(out) - 1, 0, -1):
        state = (state + 0x9E3779B97F4A7C15) & MASK
        z = state
        z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & MASK
        z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & MASK
        z ^= z >> 31
        j = (z * (k + 1)) >> 64
        out[k], out[j] = out[j], out[k]
    return np.array(out)


def centroid_scores(x, seed):
    c = x[seed].mean(axis=0)
    c[np.abs(c) < 0.05] = 0.0
    return x @ c / np.linalg.norm(c)


def top(scores, candidate, k):
    s = np.where(candidate, scores, -np.inf)
    order = np.lexsort((np.arange(len(s)), -s))
    return order[:k]


def main():
    what = sys.argv[1]
    ids, _, cols = load(sys.argv[2])
    started = time.perf_counter()
    x = standardise(cols)
    index = {p: i for i, p in enumerate(ids)}
    if what == "centroid":
        seed = np.array(sorted(index[line.strip()] for line in open(sys.argv[3]) if line.strip()))
        k = int(sys.argv[4])
        s = centroid_scores(x, seed)
        candidate = np.ones(len(ids), bool)
        candidate[seed] = False
        picked = top(s, candidate, k)
        seconds = time.perf_counter() - started
        with open(sys.argv[5], "w", newline="") as f:
            w = csv.writer(f)
            w.writerow(["party_id", "score"])
            for i in picked:
                w.writerow([ids[i], f"{s[i]:.6f}"])
        print(json.dumps({"seconds": seconds}))
    elif what == "holdout":
        from sklearn.linear_model import LogisticRegression

        held = {}
        with open(sys.argv[3], newline="") as f:
            for row in csv.DictReader(f):
                if row["party_id"] in index:
                    held.setdefault(row["value"], set()).add(index[row["party_id"]])
        out = {}
        for value, parties in sorted(held.items()):
            if len(parties) < 20:
                continue
            members = split(sorted(parties))
            cut = (len(members) + 1) // 2
            shown, hidden = np.sort(members[:cut]), members[cut:]
            candidate = np.ones(len(ids), bool)
            candidate[shown] = False
            is_hidden = np.zeros(len(ids), bool)
            is_hidden[hidden] = True
            base = len(hidden) / candidate.sum()
            res = {}
            s = centroid_scores(x, shown)
            res["centroid"] = float(is_hidden[top(s, candidate, len(hidden))].mean())
            y = np.zeros(len(ids))
            y[shown] = 1.0
            model = LogisticRegression(C=1.0, max_iter=200).fit(x, y)
            s = model.decision_function(x)
            res["classifier"] = float(is_hidden[top(s, candidate, len(hidden))].mean())
            out[value] = {"parties": len(members), "base_rate": base, **res}
        print(json.dumps({"seconds": time.perf_counter() - started, "traits": out}))
    else:
        sys.exit(f"unknown command {what}")


if __name__ == "__main__":
    main()
