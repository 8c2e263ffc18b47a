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
/// which every query appends to by design).
pub fn snapshot(dir: &Path) -> BTreeMap<PathBuf, Vec<u8>> {
    let mut out = BTreeMap::new();
    fn walk(root: &Path, dir: &Path, out: &mut BTreeMap<PathBuf, Vec<u8>>) {
        let Ok(entries) = std::fs::read_dir(dir) else {
            return;
        };
        for e in entries.flatten() {
            let p = e.path();
            if e.file_name()
                .to_string_lossy()
                .starts_with("privacy.sqlite")
            {
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
