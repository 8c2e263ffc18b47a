"""FP-Growth peers of bench/fpgrowth.sh: writes the benchmark baskets, or mines them with pyfim or
mlxtend.

  python fpgrowth.py gen OUT.txt N [--seed 7]
  python fpgrowth.py pyfim BASKETS.txt --min-support 0.001 [--itemsets OUT]
  python fpgrowth.py mlxtend BASKETS.txt --min-support 0.001 [--limit N] [--itemsets OUT]

`gen` draws baskets of 1-8 of 50 products: popularity Zipf-like (weight 1 / rank^1.1), basket size
geometric-ish (mostly 1-4), and in 30 % of the baskets one of six bundles (2-3 products bought
together: current + debit card, fund + wealth product, ...) on top. Item ids are 1..50.
Each peer prints one JSON line: the itemset count, the longest itemset and the seconds of the
mining call alone, on baskets already in memory (for mlxtend, the one-hot DataFrame is built
outside the timing). `--itemsets` writes the itemsets, one a line: the item ids in ascending
order, a tab, the number of baskets holding them.
"""
import argparse
import json
import time

import numpy as np


def gen(out, n, seed):
    rng = np.random.default_rng(seed)
    products = 50
    weights = 1.0 / np.arange(1, products + 1) ** 1.1
    weights /= weights.sum()
    bundles = [(3, 7), (5, 12, 20), (2, 9), (15, 16), (22, 30, 31), (8, 40)]
    sizes = np.minimum(rng.geometric(0.35, size=n), 8)
    draws = rng.choice(products, size=(n, 8), p=weights) + 1
    with_bundle = rng.random(n) < 0.3
    which = rng.integers(0, len(bundles), size=n)
    with open(out, "w") as f:
        for i in range(n):
            items = set(draws[i, : sizes[i]].tolist())
            if with_bundle[i]:
                items.update(bundles[which[i]])
                while len(items) > 8:
                    items.pop()
            f.write(" ".join(map(str, sorted(items))) + "\n")


def read(path, limit=None):
    baskets = []
    with open(path) as f:
        for line in f:
            baskets.append([int(t) for t in line.split()])
            if limit and len(baskets) >= limit:
                break
    return baskets


def write_itemsets(out, found):
    """found: (items, count) pairs."""
    if out:
        with open(out, "w") as f:
            for items, count in found:
                f.write(" ".join(map(str, sorted(items))) + f"\t{count}\n")


def run_pyfim(path, min_support, out):
    import fim
    from importlib.metadata import version

    baskets = read(path)
    start = time.perf_counter()
    found = fim.fpgrowth(baskets, target="s", supp=min_support * 100.0, zmin=1, report="a")
    seconds = time.perf_counter() - start
    write_itemsets(out, found)
    print(json.dumps({"tool": f"pyfim {version('pyfim')}", "baskets": len(baskets), "itemsets": len(found),
                      "longest": max((len(s) for s, _ in found), default=0), "seconds": round(seconds, 4)}))


def run_mlxtend(path, min_support, limit, out):
    import mlxtend
    import pandas as pd
    from mlxtend.frequent_patterns import fpgrowth
    from mlxtend.preprocessing import TransactionEncoder

    baskets = read(path, limit)
    te = TransactionEncoder()
    df = pd.DataFrame(te.fit(baskets).transform(baskets), columns=te.columns_)
    start = time.perf_counter()
    found = fpgrowth(df, min_support=min_support)
    seconds = time.perf_counter() - start
    n = len(baskets)
    # Itemsets hold column positions; the columns are the item ids.
    write_itemsets(out, (([te.columns_[i] for i in s], round(p * n)) for s, p in zip(found["itemsets"], found["support"])))
    print(json.dumps({"tool": f"mlxtend {mlxtend.__version__}", "baskets": n, "itemsets": len(found),
                      "longest": int(found["itemsets"].map(len).max()) if len(found) else 0,
                      "seconds": round(seconds, 4)}))


if __name__ == "__main__":
    ap = argparse.ArgumentParser()
    sub = ap.add_subparsers(dest="cmd", required=True)
    g = sub.add_parser("gen")
    g.add_argument("out")
    g.add_argument("n", type=int)
    g.add_argument("--seed", type=int, default=7)
    for name in ("pyfim", "mlxtend"):
        p = sub.add_parser(name)
        p.add_argument("baskets")
        p.add_argument("--min-support", type=float, default=0.001)
        p.add_argument("--limit", type=int, default=None)
        p.add_argument("--itemsets", default=None)
    a = ap.parse_args()
    if a.cmd == "gen":
        gen(a.out, a.n, a.seed)
    elif a.cmd == "pyfim":
        run_pyfim(a.baskets, a.min_support, a.itemsets)
    else:
        run_mlxtend(a.baskets, a.min_support, a.limit, a.itemsets)
