//! A killed ingest leaves the store in the old or the new state, never in between; a reader
//! that goes away early is no error.

use std::path::Path;
use std::time::{Duration, Instant};

use rand::{Rng, SeedableRng};

use crate::common::*;

fn state(store: &Path) -> String {
    let q = "SELECT (SELECT count(*) FROM customer) AS c, (SELECT count(*) FROM \"transaction\") AS t, \
             (SELECT CAST(sum(amount) AS VARCHAR) FROM \"transaction\") AS s, (SELECT count(*) FROM asset_snapshot) AS a, \
             (SELECT count(*) FROM holding) AS h, (SELECT count(*) FROM event) AS e";
    ok(store, &["sql", q, "--format", "csv"])
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap().flatten() {
        let p = e.path();
        if p.is_dir() {
            copy_dir(&p, &to.join(e.file_name()))
        } else {
            std::fs::copy(&p, to.join(e.file_name()))
                .map(|_| ())
                .unwrap()
        }
    }
}

#[test]
fn a_killed_ingest_leaves_the_old_or_the_new_state() {
    let tmp = tempfile::tempdir().unwrap();
    let (old_bank, new_bank) = (tmp.path().join("old"), tmp.path().join("new"));
    generate(&old_bank, 3000, 1, &[]);
    generate(&new_bank, 12000, 2, &[]);
    let pristine = tmp.path().join("pristine");
    ok(&pristine, &["ingest", old_bank.to_str().unwrap()]);
    let old_state = state(&pristine);
    let reference = tmp.path().join("reference");
    let started = Instant::now();
    ok(&reference, &["ingest", new_bank.to_str().unwrap()]);
    let full = started.elapsed();
    let new_state = state(&reference);
    assert_ne!(old_state, new_state);

    let mut rng = rand::rngs::StdRng::seed_from_u64(20261125);
    let (mut saw_old, mut saw_new) = (0, 0);
    for i in 0..16 {
        let store = tmp.path().join(format!("s{i}"));
        copy_dir(&pristine, &store);
        let mut child = bin()
            .arg("--store")
            .arg(&store)
            .arg("ingest")
            .arg(&new_bank)
            .arg("--rejects")
            .arg(tmp.path().join("r.csv"))
            .spawn()
            .unwrap();
        let wait = full.mul_f64(rng.random_range(0.0..1.1));
        std::thread::sleep(wait.min(Duration::from_secs(30)));
        let _ = child.kill(); // SIGKILL
        let _ = child.wait();
        let now = state(&store);
        assert!(
            now == old_state || now == new_state,
            "after a kill at {wait:?} the store is in neither state:\n{now}"
        );
        if now == old_state {
            saw_old += 1
        } else {
            saw_new += 1
        }
        if i % 4 == 0 {
            // The next writer sweeps what the killed one left and commits normally.
            ok(
                &store,
                &[
                    "ingest",
                    new_bank.to_str().unwrap(),
                    "--rejects",
                    tmp.path().join("r.csv").to_str().unwrap(),
                ],
            );
            assert_eq!(state(&store), new_state);
            assert!(!store.join(".staging").exists());
        }
    }
    assert!(
        saw_old > 0,
        "no kill landed before the commit (old {saw_old}, new {saw_new})"
    );
}

/// `portrait sql … | head`: a reader that stops early ends the command quietly with the
/// status of SIGPIPE, not with an error or a panic on standard error.
#[test]
fn a_closed_pipe_is_not_an_error() {
    use std::io::{BufRead, BufReader};
    use std::process::Stdio;

    let tmp = tempfile::tempdir().unwrap();
    let bank = tmp.path().join("bank");
    generate(&bank, 2000, 3, &[]);
    let store = tmp.path().join("store");
    ok(
        &store,
        &["ingest", bank.join("customer.csv").to_str().unwrap()],
    );
    for format in ["csv", "table"] {
        let mut child = crate::common::bin()
            .args(["--store", store.to_str().unwrap(), "sql"])
            .arg("SELECT a.cust_no, b.cust_no FROM customer a CROSS JOIN customer b")
            .args(["--format", format])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let mut first = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut first)
            .unwrap();
        // The reader is dropped here: the pipe closes with most of the rows unwritten.
        let out = child.wait_with_output().unwrap();
        assert!(!first.is_empty());
        if format == "csv" {
            // Millions of rows: the writer always meets the closed pipe.
            assert_eq!(out.status.code(), Some(141), "{format}");
        } else {
            // The table shows 1,000 rows, which may fit in the pipe's buffer before the reader
            // closes it; either way the command ends quietly.
            assert!(
                matches!(out.status.code(), Some(141) | Some(0)),
                "{format}: {:?}",
                out.status
            );
        }
        assert_eq!(String::from_utf8_lossy(&out.stderr), "", "{format}");
    }
}

/// What a reader of `store` sees: the manifest, byte for byte, and every file it names.
fn visible(store: &Path) -> Vec<(String, Vec<u8>)> {
    let manifest = std::fs::read(store.join("manifest.json")).unwrap();
    let m: serde_json::Value = serde_json::from_slice(&manifest).unwrap();
    let mut out = vec![("manifest.json".to_string(), manifest)];
    for (_, e) in m["tables"].as_object().unwrap() {
        let dir = e["dir"].as_str().unwrap();
        for f in e["files"].as_array().unwrap() {
            let rel = format!("{dir}/{}", f.as_str().unwrap());
            let bytes = std::fs::read(store.join(&rel))
                .unwrap_or_else(|e| panic!("the manifest names `{rel}`, which is gone: {e}"));
            out.push((rel, bytes));
        }
    }
    out
}

/// The tables of the manifest with their rows, as every reader counts them.
fn tables(store: &Path) -> Vec<(String, u64)> {
    let m: serde_json::Value =
        serde_json::from_slice(&std::fs::read(store.join("manifest.json")).unwrap()).unwrap();
    let out: Vec<(String, u64)> = m["tables"]
        .as_object()
        .unwrap()
        .iter()
        .map(|(t, e)| (t.clone(), e["rows"].as_u64().unwrap()))
        .collect();
    // One query counts every table, reading each file the manifest names.
    let counts: Vec<String> = out
        .iter()
        .enumerate()
        .map(|(i, (t, _))| format!("(SELECT count(*) FROM \"{t}\") AS c{i}"))
        .collect();
    let line = scalar(store, &format!("SELECT {}", counts.join(", ")));
    let counted: Vec<u64> = line.split(',').map(|c| c.parse().unwrap()).collect();
    for ((t, rows), c) in out.iter().zip(&counted) {
        assert_eq!(
            c, rows,
            "`{t}`: the manifest says {rows} rows, a reader counts {c}"
        );
    }
    out
}

/// Every writing command, killed at random moments (`KILLS` per command, default 3): after each
/// kill the store is byte for byte as it was, or it is the writer's completed result (its next
/// version, with the tables and rows of an uninterrupted run), and the next writer recovers.
#[test]
fn every_writer_killed_leaves_the_old_or_the_new_state() {
    let kills: usize = std::env::var("KILLS")
        .ok()
        .and_then(|k| k.parse().ok())
        .unwrap_or(3);
    let tmp = tempfile::tempdir().unwrap();
    let bank = tmp.path().join("bank");
    generate(&bank, 1500, 11, &[]);
    let delta = tmp.path().join("delta");
    generate(&delta, 300, 12, &[]);
    let full = tmp.path().join("full");
    ok(&full, &["ingest", bank.to_str().unwrap()]);
    ok(&full, &["run"]);
    let pair = scalar(
        &full,
        "SELECT min(cust_no) FROM party_member WHERE party_id IN \
         (SELECT party_id FROM party_member GROUP BY party_id HAVING count(*) > 1)",
    );
    // Without an ID number: a merge with any other customer is allowed.
    let single = scalar(
        &full,
        "SELECT max(cust_no) FROM customer WHERE id_no IS NULL",
    );
    let append = format!("transaction={}", delta.join("transaction.csv").display());
    let writers: Vec<Vec<String>> = [
        vec!["ingest", "--append", &append],
        vec!["resolve"],
        vec!["links"],
        vec!["features"],
        vec!["score"],
        vec!["segment"],
        vec!["rules"],
        vec!["recommend"],
        vec!["tags", "build"],
        vec!["party", "split", &pair, "--reason", "kill test"],
        vec!["party", "merge", &pair, &single, "--reason", "kill test"],
        vec!["erase", &single, "--reason", "kill test", "--no-rebuild"],
    ]
    .into_iter()
    .map(|w| w.into_iter().map(String::from).collect())
    .collect();
    let old = visible(&full);
    let old_tables = tables(&full);
    let mut rng = rand::rngs::StdRng::seed_from_u64(20261202);
    for w in &writers {
        let args: Vec<&str> = w.iter().map(String::as_str).collect();
        // The uninterrupted run: how long it takes and what it leaves.
        let reference = tmp.path().join("reference");
        let _ = std::fs::remove_dir_all(&reference);
        copy_dir(&full, &reference);
        let started = Instant::now();
        ok(&reference, &args);
        let took = started.elapsed();
        let new_tables = tables(&reference);
        let (mut saw_old, mut saw_new) = (0, 0);
        for i in 0..kills {
            let store = tmp.path().join(format!("k{i}"));
            let _ = std::fs::remove_dir_all(&store);
            copy_dir(&full, &store);
            let mut child = bin()
                .arg("--store")
                .arg(&store)
                .args(&args)
                .spawn()
                .unwrap();
            let wait = took.mul_f64(rng.random_range(0.0..1.1));
            std::thread::sleep(wait);
            let _ = child.kill(); // SIGKILL
            let _ = child.wait();
            let was_old = visible(&store) == old;
            if was_old {
                saw_old += 1;
            } else {
                let now = tables(&store);
                assert_eq!(
                    now,
                    new_tables,
                    "`{}` killed after {wait:?} of {took:?}: the store is neither as it was nor as the writer leaves it",
                    w.join(" ")
                );
                saw_new += 1;
            }
            if was_old {
                // The next writer sweeps what the killed one left and commits normally.
                ok(&store, &args);
                assert_eq!(tables(&store), new_tables, "`{}` after a kill", w.join(" "));
                assert!(!store.join(".staging").exists());
            }
        }
        eprintln!(
            "{}: {kills} kills, {saw_old} old, {saw_new} new (run {took:?})",
            w.join(" ")
        );
    }
    assert_eq!(tables(&full), old_tables);
}
