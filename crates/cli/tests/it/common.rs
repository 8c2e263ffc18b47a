use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

pub fn bin() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_portrait"));
    c.arg("--quiet")
        .env_remove("RUST_LOG")
        .env_remove("PORTRAIT_STORE")
        .env_remove("PORTRAIT_CONFIG");
    c
}

/// Runs `portrait --store STORE ARGS…` and insists on success.
pub fn ok(store: &Path, args: &[&str]) -> String {
    let out = run(store, args);
    assert!(
        out.status.success(),
        "portrait {args:?} failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("utf-8 output")
}

pub fn run(store: &Path, args: &[&str]) -> Output {
    bin()
        .arg("--store")
        .arg(store)
        .args(args)
        .output()
        .expect("portrait runs")
}

pub fn generate(out: &Path, customers: u64, seed: u64, extra: &[&str]) {
    let status = bin()
        .args([
            "generate",
            "--customers",
            &customers.to_string(),
            "--seed",
            &seed.to_string(),
            "--out",
        ])
        .arg(out)
        .args(extra)
        .output()
        .expect("portrait runs");
    assert!(
        status.status.success(),
        "generate failed: {}",
        String::from_utf8_lossy(&status.stderr)
    );
}

/// Every file under `dir` with its bytes, but the privacy database (users and the audit log,
/// which every query appends to by design) and the query plans' spill space.
pub fn snapshot(dir: &Path) -> BTreeMap<PathBuf, Vec<u8>> {
    let mut out = BTreeMap::new();
    fn walk(root: &Path, dir: &Path, out: &mut BTreeMap<PathBuf, Vec<u8>>) {
        let Ok(entries) = std::fs::read_dir(dir) else {
            return;
        };
        for e in entries.flatten() {
            let p = e.path();
            let name = e.file_name().to_string_lossy().to_string();
            // Spill space of query plans is scratch, not the store's content.
            if name.starts_with("privacy.sqlite") || name == ".spill" {
                continue;
            }
            if p.is_dir() {
                out.insert(
                    p.strip_prefix(root).unwrap().to_path_buf(),
                    b"<dir>".to_vec(),
                );
                walk(root, &p, out);
            } else {
                out.insert(
                    p.strip_prefix(root).unwrap().to_path_buf(),
                    std::fs::read(&p).unwrap(),
                );
            }
        }
    }
    walk(dir, dir, &mut out);
    out
}

/// One CSV value from `portrait sql … --format csv` with a single cell.
pub fn scalar(store: &Path, sql: &str) -> String {
    let out = ok(store, &["sql", sql, "--format", "csv"]);
    out.lines().nth(1).unwrap_or_default().to_string()
}

pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .unwrap()
}

/// One generated bank through `portrait run` (resolve … segments, rules, recommendations,
/// tags), built once and shared by the tests that only read it.
pub fn pipeline_store() -> &'static Path {
    static STORE: std::sync::OnceLock<(tempfile::TempDir, PathBuf)> = std::sync::OnceLock::new();
    let (_, store) = STORE.get_or_init(|| {
        let tmp = tempfile::tempdir().unwrap();
        let bank = tmp.path().join("bank");
        generate(&bank, 3000, 5, &[]);
        let store = tmp.path().join("store");
        ok(&store, &["ingest", bank.to_str().unwrap()]);
        ok(&store, &["run"]);
        (tmp, store)
    });
    store
}

/// A copy of a store, for tests that write.
pub fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    let entries = match std::fs::read_dir(from) {
        Ok(entries) => entries,
        // A temporary directory that went meanwhile (see below).
        Err(e)
            if e.kind() == std::io::ErrorKind::NotFound
                && from.parent().is_some_and(Path::exists) =>
        {
            return;
        }
        Err(e) => panic!("listing {}: {e}", from.display()),
    };
    for e in entries.flatten() {
        let p = e.path();
        let t = to.join(e.file_name());
        if p.is_dir() {
            copy_dir(&p, &t);
        } else {
            match std::fs::copy(&p, &t) {
                Ok(_) => {}
                // A temporary file of a command reading the store at the same time (another
                // test's `sql`) may go between the listing and the copy: it is not part of it.
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => panic!("copying {}: {e}", p.display()),
            }
        }
    }
}

/// Writes `table`'s file of the generated bank in `bank` to `dir`, keeping only `columns` (all when `None`), and
/// returns the `TABLE=FILE` argument that loads it.
pub fn project(bank: &Path, dir: &Path, table: &str, columns: Option<&[&str]>) -> String {
    let from = bank.join(format!("{table}.csv"));
    let to = dir.join(format!("{table}.csv"));
    match columns {
        None => {
            std::fs::copy(&from, &to).unwrap();
        }
        Some(keep) => {
            let mut r = csv::Reader::from_path(&from).unwrap();
            let headers = r.headers().unwrap().clone();
            let idx: Vec<usize> = keep
                .iter()
                .map(|c| {
                    headers
                        .iter()
                        .position(|h| h == *c)
                        .unwrap_or_else(|| panic!("{table}.csv has no column {c}"))
                })
                .collect();
            let mut w = csv::Writer::from_path(&to).unwrap();
            w.write_record(keep).unwrap();
            for rec in r.records() {
                let rec = rec.unwrap();
                w.write_record(idx.iter().map(|&i| &rec[i])).unwrap();
            }
            w.flush().unwrap();
        }
    }
    format!("{table}={}", to.display())
}

/// The stored tables of a store, by name.
pub fn tables(store: &Path) -> Vec<String> {
    let out = ok(
        store,
        &[
            "sql",
            "SELECT table_name FROM information_schema.tables WHERE table_schema = 'public' ORDER BY 1",
            "--format",
            "csv",
        ],
    );
    out.lines().skip(1).map(str::to_string).collect()
}

/// Every row of `table` as CSV cells, sorted (float cells rounded for the sort only).
pub fn rows(store: &Path, table: &str) -> (Vec<String>, Vec<Vec<String>>) {
    let out = ok(
        store,
        &[
            "sql",
            &format!("SELECT * FROM \"{table}\""),
            "--format",
            "csv",
        ],
    );
    let mut r = csv::ReaderBuilder::new().from_reader(out.as_bytes());
    let header: Vec<String> = r.headers().unwrap().iter().map(str::to_string).collect();
    let mut rows: Vec<Vec<String>> = r
        .records()
        .map(|rec| rec.unwrap().iter().map(str::to_string).collect())
        .collect();
    let key = |row: &Vec<String>| -> Vec<String> {
        row.iter()
            .map(|c| match float(c) {
                Some(v) => format!("{v:.6e}"),
                None => c.clone(),
            })
            .collect()
    };
    rows.sort_by_cached_key(key);
    (header, rows)
}

fn float(c: &str) -> Option<f64> {
    (c.contains('.') || c.contains('e'))
        .then(|| c.parse().ok())
        .flatten()
}

fn close(x: f64, y: f64) -> bool {
    (x - y).abs() <= 1e-9 + 1e-6 * x.abs().max(y.abs())
}

/// Equal, or equal up to float tolerance — also inside JSON documents (fitted models and
/// reports), whose numbers come from sums taken in another order on the cluster.
fn same_cell(a: &str, b: &str) -> bool {
    if a == b {
        return true;
    }
    if let (Some(x), Some(y)) = (float(a), float(b)) {
        return close(x, y);
    }
    match (
        serde_json::from_str::<serde_json::Value>(a),
        serde_json::from_str::<serde_json::Value>(b),
    ) {
        (Ok(x), Ok(y)) if x.is_object() || x.is_array() => same_json(&x, &y),
        _ => false,
    }
}

fn same_json(a: &serde_json::Value, b: &serde_json::Value) -> bool {
    use serde_json::Value as V;
    match (a, b) {
        (V::Number(x), V::Number(y)) => close(x.as_f64().unwrap(), y.as_f64().unwrap()),
        (V::Array(x), V::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(x, y)| same_json(x, y))
        }
        (V::Object(x), V::Object(y)) => {
            x.len() == y.len()
                && x.iter().all(|(k, v)| {
                    // How an optimiser got there is not a result: sums in another order can
                    // cost it steps (or its gradient test) on a flat likelihood; the
                    // parameters and the likelihood it reached are compared.
                    matches!(k.as_str(), "iterations" | "converged" | "method")
                        || y.get(k).is_some_and(|w| same_json(v, w))
                })
        }
        _ => a == b,
    }
}

/// Checks that `a` and `b` hold the same tables with the same rows (floats to a relative
/// 1e-6, the time a model was fitted aside) and returns the tables' names.
pub fn same_tables(what: &str, a: &Path, b: &Path) -> Vec<String> {
    let names = tables(a);
    assert_eq!(names, tables(b), "{what}: the two runs made other tables");
    for table in &names {
        let (ha, ra) = rows(a, table);
        let (hb, rb) = rows(b, table);
        assert_eq!(ha, hb, "{what}: `{table}`: other columns");
        assert_eq!(ra.len(), rb.len(), "{what}: `{table}`: other row counts");
        for (x, y) in ra.iter().zip(&rb) {
            let differ: Vec<String> = ha
                .iter()
                .zip(x.iter().zip(y))
                // When a model was fitted is the one thing that must differ.
                .filter(|(h, _)| h.as_str() != "created_at")
                .filter(|(_, (a, b))| !same_cell(a, b))
                .map(|(h, (a, b))| {
                    let cut = |s: &str| s.chars().take(300).collect::<String>();
                    format!("{h}: {} vs {}", cut(a), cut(b))
                })
                .collect();
            assert!(differ.is_empty(), "{what}: `{table}` differs: {differ:?}");
        }
    }

    names
}
