"""The peers of bench/lookalike.sh, on the features of `tag_party` exported as CSV.

  lookalike.py centroid TAG_PARTY.csv SEED.txt K OUT.csv [DROP]
      A plain numpy reference of portrait's centroid lookalike (percentile ranks with ties at
      their mean rank and missing values at the median, standardised; the seed's mean, with
      dimensions under 0.05 standard deviations dropped; parties outside the seed by their
      projection on it): the top K written as `party_id,score`. DROP: comma-separated features
      left out, as portrait leaves out the ones the seed is defined by. JSON on stdout: seconds.
  lookalike.py holdout TAG_PARTY.csv TRUTH.csv
      For each trait of TRUTH (`party_id,value`), the half of its parties portrait hides (the
      same shuffle, see `split`) hidden, the rest the seed; the centroid reference and scikit-learn's LogisticRegression (L2, C = 1, every
      other party a negative, as portrait's classifier is fitted) each select as many parties
      as were hidden. JSON on stdout: recall and base rate per trait and method, seconds.
  lookalike.py same-top OURS.csv PEER.csv
      The check of two lookalikes (`party_id,score`): the same parties (Jaccard ≥ 0.999, same
      count) with scores within 1e-4. Exits 1 with a line `MISMATCH: …` when they differ.
  lookalike.py same-recall OURS.json PEER.json
      The check of `portrait eval lookalike --format json` against `holdout`'s answer: per trait,
      the centroid's recall within 0.002 and, for traits of at least 1,000 parties, the
      classifier's within 0.02. Exits 1 with a line `MISMATCH: …` naming each difference.
The checks need the standard library only (bench/selftest.sh runs them on small files).
"""
import csv
import json
import sys
import time


def load(path, drop=()):
    import numpy as np

    with open(path, newline="") as f:
        r = csv.reader(f)
        header = next(r)
        rows = list(r)
    ids = [row[header.index("party_id")] for row in rows]
    cols, names = [], []
    for j, name in enumerate(header):
        if name in ("idx", "party_id", "marketing_consent") or name in drop:
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
    import numpy as np
    from scipy.stats import rankdata

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
    return out


def centroid_scores(x, seed):
    import numpy as np

    c = x[seed].mean(axis=0)
    c[np.abs(c) < 0.05] = 0.0
    return x @ c / np.linalg.norm(c)


def top(scores, candidate, k):
    import numpy as np

    s = np.where(candidate, scores, -np.inf)
    order = np.lexsort((np.arange(len(s)), -s))
    return order[:k]


def same_top(ours_path, peer_path):
    def read(path):
        with open(path, newline="") as f:
            return {r["party_id"]: float(r["score"]) for r in csv.DictReader(f)}

    ours, peer = read(ours_path), read(peer_path)
    both = ours.keys() & peer.keys()
    jaccard = len(both) / max(len(ours.keys() | peer.keys()), 1)
    worst = max((abs(ours[p] - peer[p]) for p in both), default=0.0)
    said = f"jaccard {jaccard:.6f}, largest score difference {worst:.3g}, sizes {len(ours)} and {len(peer)}"
    if jaccard >= 0.999 and worst <= 1e-4 and len(ours) == len(peer):
        print(said)
        return 0
    print(f"MISMATCH: lookalikes differ: {said}")
    return 1


def same_recall(ours_path, peer_path):
    with open(ours_path) as f:
        ours = json.load(f)
    with open(peer_path) as f:
        peer = json.load(f)["traits"]
    bad, lines = [], []
    for t in ours:
        p = peer.get(t["value"])
        if p is None:
            bad.append(f"{t['value']}: not judged by the peer")
            continue
        for c in t["checks"]:
            a, b = c["recall"], p[c["method"]]
            lines.append(f"{t['value']} {c['method']} {a:.3f}/{b:.3f}")
            tol = 0.002 if c["method"] == "centroid" else (0.02 if t["parties"] >= 1000 else None)
            if tol is not None and abs(a - b) > tol:
                bad.append(f"{t['value']} {c['method']}: portrait {a:.3f}, peer {b:.3f}")
    if bad:
        print("MISMATCH: held-out recall: " + "; ".join(bad))
        return 1
    print(", ".join(lines))
    return 0


def main():
    what = sys.argv[1]
    if what == "same-top":
        sys.exit(same_top(sys.argv[2], sys.argv[3]))
    if what == "same-recall":
        sys.exit(same_recall(sys.argv[2], sys.argv[3]))
    import numpy as np

    drop = sys.argv[6].split(",") if what == "centroid" and len(sys.argv) > 6 else ()
    ids, _, cols = load(sys.argv[2], drop)
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
            members = np.array(split(sorted(parties)))
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
