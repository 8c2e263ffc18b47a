"""k-means peer of bench/kmeans.sh: writes the benchmark data, or fits scikit-learn's KMeans.

  python kmeans.py gen OUT.csv N [--seed 42]
  python kmeans.py fit DATA.csv [--k 8] [--n-init 10] [--threads 2] [--seed 0]

`gen` draws 8 centres uniformly in [-6, 6]^8 and N points around them with unit normal noise plus
2 % uniform outliers, so that the blobs touch and Lloyd needs more than a handful of iterations.
`fit` prints one JSON line: inertia, iterations and seconds of `KMeans.fit` alone.
"""
import argparse
import json
import time

import numpy as np


def gen(out, n, seed):
    rng = np.random.default_rng(seed)
    d, k = 8, 8
    centres = rng.uniform(-6, 6, size=(k, d))
    labels = rng.integers(0, k, size=n)
    x = centres[labels] + rng.normal(size=(n, d))
    outliers = rng.random(n) < 0.02
    x[outliers] = rng.uniform(-12, 12, size=(outliers.sum(), d))
    np.savetxt(out, x, delimiter=",", fmt="%.6f")


def fit(path, k, n_init, threads, seed):
    from sklearn import __version__
    from sklearn.cluster import KMeans
    from threadpoolctl import threadpool_info, threadpool_limits

    x = np.loadtxt(path, delimiter=",")
    with threadpool_limits(limits=threads):
        start = time.perf_counter()
        m = KMeans(n_clusters=k, n_init=n_init, algorithm="lloyd", random_state=seed).fit(x)
        seconds = time.perf_counter() - start
        pools = [(p["internal_api"], p.get("num_threads"), p.get("architecture")) for p in threadpool_info()]
    print(json.dumps({"tool": f"scikit-learn {__version__}", "n": x.shape[0], "d": x.shape[1], "k": k,
                      "n_init": n_init, "threads": threads, "inertia": float(m.inertia_),
                      "n_iter": int(m.n_iter_), "seconds": round(seconds, 4), "pools": pools}))


if __name__ == "__main__":
    ap = argparse.ArgumentParser()
    sub = ap.add_subparsers(dest="cmd", required=True)
    g = sub.add_parser("gen")
    g.add_argument("out")
    g.add_argument("n", type=int)
    g.add_argument("--seed", type=int, default=42)
    f = sub.add_parser("fit")
    f.add_argument("data")
    f.add_argument("--k", type=int, default=8)
    f.add_argument("--n-init", type=int, default=10)
    f.add_argument("--threads", type=int, default=2)
    f.add_argument("--seed", type=int, default=0)
    a = ap.parse_args()
    if a.cmd == "gen":
        gen(a.out, a.n, a.seed)
    else:
        fit(a.data, a.k, a.n_init, a.threads, a.seed)
