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
