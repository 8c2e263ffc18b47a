"""Weka's supermarket baskets (a real New Zealand supermarket's transactions, shipped in Debian's
`weka` package) as portrait holdings, and pyfim's FP-Growth on them as the reference.

    python supermarket.py supermarket.arff OUT_DIR MIN_SUPPORT MIN_CONFIDENCE MAX_LEN

writes OUT_DIR/holding.csv (cust_no = basket number, product_id = item) and OUT_DIR/fim.json:
the number of baskets, the smallest count that reaches MIN_SUPPORT, the number of frequent
itemsets of at most MAX_LEN items, and every rule with one item in its consequent and a
confidence of at least MIN_CONFIDENCE, as pyfim (Borgelt's C implementation) finds them.
"""

import csv
import json
import math
import re
import sys
from pathlib import Path

import fim


def baskets(path):
    names, out, data = [], [], False
    for line in open(path, encoding="utf-8"):
        line = line.strip()
        if not data:
            if line.lower().startswith("@attribute"):
                names.append(re.match(r"@attribute\s+'([^']*)'", line, re.I).group(1))
            elif line.lower().startswith("@data"):
                data = True
        elif line:
            values = line.split(",")
            # The last attribute is the basket's total (low/high), not an item.
            out.append(sorted(names[i] for i, v in enumerate(values[:-1]) if v == "t"))
    return out


def min_count(min_support, n):
    """The smallest count c with c / n >= min_support (as portrait's FP-Growth takes it)."""
    c = max(1, math.ceil(min_support * n))
    while c > 1 and (c - 1) / n >= min_support:
        c -= 1
    while c / n < min_support:
        c += 1
    return c


def main(src, out, min_support, min_confidence, max_len):
    min_support, min_confidence, max_len = float(min_support), float(min_confidence), int(max_len)
    out_dir = Path(out)
    out_dir.mkdir(parents=True, exist_ok=True)
    tx = [b for b in baskets(src) if b]
    with open(out_dir / "holding.csv", "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["cust_no", "product_id"])
        for i, b in enumerate(tx):
            for item in b:
                w.writerow([f"B{i + 1:05d}", item])
    k = min_count(min_support, len(tx))
    itemsets = fim.fpgrowth(tx, target="s", supp=-k, zmin=1, zmax=max_len, report="a")
    rules = fim.fpgrowth(
        tx, target="r", supp=-k, conf=min_confidence * 100.0, zmin=2, zmax=max_len, report="ab", mode="o"
    )
    # (head, body, support of body and head together, support of the body)
    ref = {
        "tool": "pyfim 6.28",
        "baskets": len(tx),
        "min_count": k,
        "itemsets": len(itemsets),
        "rules": sorted(
            [sorted(body), head, int(both), int(body_n)] for head, body, both, body_n in rules
        ),
    }
    (out_dir / "fim.json").write_text(json.dumps(ref, ensure_ascii=False, indent=0))
    print(
        f"supermarket: {len(tx)} baskets, {len(itemsets)} itemsets and {len(rules)} rules "
        f"at count >= {k} -> {out_dir}",
        file=sys.stderr,
    )


if __name__ == "__main__":
    main(*sys.argv[1:6])
