//! The memory budget: a plan that spills gives the same rows, and a budget too small is an
//! error that names the stage and the setting and leaves the store as it was.

use std::path::Path;

use crate::common::{bin, generate, ok, snapshot};

fn config(dir: &Path, body: &str) -> std::path::PathBuf {
    let path = dir.join("portrait.toml");
    std::fs::write(&path, body).unwrap();
    path
}

/// Runs `portrait --store STORE --config CONFIG ARGS…` with DataFusion's debug log on stderr.
fn run_logged(store: &Path, config: &Path, args: &[&str]) -> std::process::Output {
    let mut c = bin();
    c.env("RUST_LOG", "warn,datafusion_physical_plan=debug")
        .arg("--store")
        .arg(store)
        .arg("--config")
        .arg(config)
        .args(args);
    c.output().expect("portrait runs")
}

#[test]
fn an_aggregate_that_spills_gives_the_same_rows() {
    let tmp = tempfile::tempdir().unwrap();
    let bank = tmp.path().join("bank");
    generate(&bank, 5000, 11, &[]);
    let store = tmp.path().join("store");
    ok(&store, &["ingest", bank.to_str().unwrap()]);

    // Every (customer, category, day) of 250,000 transactions; rows compared sorted.
    let q = "SELECT cust_no, category, CAST(ts AS DATE) AS day, count(*) AS n, sum(amount) AS total \
             FROM \"transaction\" GROUP BY cust_no, category, CAST(ts AS DATE)";
    let sorted = |csv: &str| {
        let mut lines: Vec<&str> = csv.lines().collect();
        lines.sort_unstable();
        lines.join("\n")
    };
    let roomy = sorted(&ok(
        &store,
        &["--memory-limit", "none", "sql", q, "--format", "csv"],
    ));
    assert!(roomy.lines().count() > 10_000, "too few groups to matter");

    // Down a ladder of budgets: each run gives the unbounded rows or the named error, never
    // other rows, and some run spilled on its way to the right rows.
    let mut spilled_ok = Vec::new();
    for mb in [64, 48, 40, 32, 28, 24, 20, 16, 12, 8] {
        let cfg = config(
            tmp.path(),
            &format!("[engine]\nmemory_limit = \"none\"\nquery_memory = \"{mb}M\"\n"),
        );
        let out = run_logged(&store, &cfg, &["sql", q, "--format", "csv"]);
        let err = String::from_utf8_lossy(&out.stderr);
        if !out.status.success() {
            assert!(
                out.status.code() == Some(1)
                    && err.contains("the query went over the memory budget")
                    && err.contains("query_memory"),
                "{mb} MiB: not the named error:\n{err}"
            );
            continue;
        }
        let tight = sorted(&String::from_utf8(out.stdout).unwrap());
        assert!(roomy == tight, "{mb} MiB: the aggregate gave other rows");
        // Did it spill? The plan's metrics say.
        let out = run_logged(
            &store,
            &cfg,
            &["sql", &format!("EXPLAIN ANALYZE {q}"), "--format", "csv"],
        );
        let plan = String::from_utf8_lossy(&out.stdout);
        let spills: u64 = plan
            .match_indices("spill_count=")
            .filter_map(|(i, k)| {
                let rest = &plan[i + k.len()..];
                let n: String = rest.chars().take_while(|c| c.is_ascii_digit()).collect();
                n.parse::<u64>().ok()
            })
            .sum();
        if spills > 0 {
            spilled_ok.push(mb);
        }
    }
    assert!(
        !spilled_ok.is_empty(),
        "no budget both spilled and finished: the test no longer tests spilling"
    );

    // Spill files are gone once the query ends (the process's lease aside).
    let left: Vec<_> = walk(&store.join(".spill"))
        .into_iter()
        .filter(|p| !p.ends_with(".lease"))
        .collect();
    assert!(left.is_empty(), "spill files left behind: {left:?}");
}

/// What the store holds: its files but the work in progress of a stopped writer (`.staging`,
/// swept by the next one).
fn committed(store: &Path) -> std::collections::BTreeMap<std::path::PathBuf, Vec<u8>> {
    let mut s = snapshot(store);
    s.retain(|p, _| !p.starts_with(".staging"));
    s
}

fn walk(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    if let Ok(entries) = std::fs::read_dir(dir) {
        for e in entries.flatten() {
            let p = e.path();
            if p.is_dir() {
                out.extend(walk(&p));
            } else {
                out.push(p);
            }
        }
    }
    out
}

#[test]
fn a_budget_too_small_names_the_stage_and_leaves_the_store() {
    let tmp = tempfile::tempdir().unwrap();
    let bank = tmp.path().join("bank");
    generate(&bank, 600, 5, &[]);
    let store = tmp.path().join("store");
    ok(&store, &["ingest", bank.to_str().unwrap()]);
    ok(&store, &["resolve"]);
    let before = committed(&store);

    // Too little for a hash join's build side, which cannot spill.
    let cfg = config(
        tmp.path(),
        "[engine]\nmemory_limit = \"none\"\nquery_memory = \"64K\"\n",
    );
    let out = run_logged(&store, &cfg, &["features"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "not a user error:\n{err}");
    assert!(
        err.contains("stage `features` went over the memory budget")
            && err.contains("query_memory")
            && err.contains("--memory-limit"),
        "the error does not name the stage and the setting:\n{err}"
    );
    assert!(
        before == committed(&store),
        "the failed stage changed the store"
    );

    // A process over the whole budget stops with the same kind of error, not a kernel kill.
    let out = bin()
        .args([
            "--store",
            store.to_str().unwrap(),
            "--memory-limit",
            "64M",
            "features",
        ])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        err.contains("stage `features` went over the memory budget (64 MiB from --memory-limit")
            && err.contains("resident"),
        "{err}"
    );
    assert!(
        before == committed(&store),
        "the stopped stage changed the store"
    );

    // Settings that make no sense are refused before any work.
    for (flag, why) in [
        ("lots", "not an amount of memory"),
        ("16M", "less than 64M"),
    ] {
        let out = bin()
            .args([
                "--store",
                store.to_str().unwrap(),
                "--memory-limit",
                flag,
                "features",
            ])
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{flag}: {err}");
        assert!(err.contains(why), "{flag}: {err}");
    }
}
