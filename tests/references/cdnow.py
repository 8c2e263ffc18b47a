"""CDNOW master (lifetimes' copy of Fader, Hardie & Lee's data) as a retailer's transaction
log, and the recency classes of its customers at an as-of date, computed by pandas as the
reference the pipeline's `features` must equal.

    python cdnow.py CDNOW_master.txt OUT_DIR 1998-07-01

writes OUT_DIR/transaction.csv (cust_no, ts, amount) and OUT_DIR/recency_<as-of>.csv
(cust_no, recency_days, recency_class) with the classes of SPEC §3.4: active R <= 90,
sleeping 90 < R <= 180, pre_churn 180 < R <= 360, churned R > 360 (R in days).
"""

import sys
from pathlib import Path

import numpy as np
import pandas as pd


def main(src: str, out: str, as_of: str) -> None:
    out_dir = Path(out)
    out_dir.mkdir(parents=True, exist_ok=True)
    df = pd.read_csv(
        src,
        sep=r"\s+",
        skiprows=1,
        header=None,
        names=["cust_no", "date", "cds", "amount"],
        dtype={"cust_no": str, "date": str},
    )
    df["ts"] = pd.to_datetime(df["date"], format="%Y%m%d")
    log = df[["cust_no", "ts", "amount"]]
    log.to_csv(out_dir / "transaction.csv", index=False, date_format="%Y-%m-%d")

    last = log.groupby("cust_no")["ts"].max()
    recency = (pd.Timestamp(as_of) - last).dt.days
    classes = pd.cut(
        recency,
        bins=[-np.inf, 90, 180, 360, np.inf],
        labels=["active", "sleeping", "pre_churn", "churned"],
        right=True,
    )
    ref = pd.DataFrame({"recency_days": recency, "recency_class": classes})
    ref.index.name = "cust_no"
    ref.sort_index().to_csv(out_dir / f"recency_{as_of}.csv")
    print(
        f"cdnow: {len(log)} transactions of {len(ref)} customers -> {out_dir}",
        file=sys.stderr,
    )


if __name__ == "__main__":
    main(*sys.argv[1:4])
