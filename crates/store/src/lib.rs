//! The portrait store: every table is a directory of Parquet files, and one manifest names the
//! directory that holds each table's current version.
//!
//! ```text
//! STORE/
//!   manifest.json                  which version of each table is current
//!   tables/<table>/v000042/*.parquet
//!   .staging/<txn>/                work in progress, never read
//!   .lock                          held by the one writer
//! ```
//!
//! A write stages new table versions under `.staging`, syncs them, moves them into `tables/`
//! and then replaces `manifest.json` with one atomic rename. A run that fails or is killed at any
//! point before that rename leaves the previous manifest, and so the previous state, in force;
//! leftovers are swept by the next writer. Readers never see a half-written table.

use std::collections::BTreeMap;
use std::fs::{self, File};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

pub const MANIFEST: &str = "manifest.json";
const STAGING: &str = ".staging";
const TABLES: &str = "tables";
const LOCK: &str = ".lock";
const FORMAT: u32 = 1;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("store `{path}`: {source}")]
    Io { path: PathBuf, source: io::Error },
    #[error(
        "store `{path}` has an unreadable manifest: {reason}\nhint: the store was written by another program or damaged; restore it from a backup"
    )]
    BadManifest { path: PathBuf, reason: String },
    #[error("store `{path}` is in use by another portrait process that is writing to it")]
    Busy { path: PathBuf },
    #[error("table `{0}` is not in the store\nhint: load it with `portrait ingest` first")]
    NoTable(String),
}

pub type Result<T, E = StoreError> = std::result::Result<T, E>;

fn io_err(path: &Path) -> impl FnOnce(io::Error) -> StoreError + '_ {
    move |source| StoreError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// One table's current version.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TableEntry {
    /// Directory relative to the store root.
    pub dir: String,
    pub rows: u64,
    pub files: Vec<String>,
    pub bytes: u64,
    /// Commit time, RFC 3339.
    pub updated_at: String,
    /// Where the rows came from (file names, or the stage that computed them).
    #[serde(default)]
    pub source: String,
}

/// The manifest: which directory holds each table's current version.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Manifest {
    pub format: u32,
    /// Incremented by every commit.
    pub version: u64,
    pub tables: BTreeMap<String, TableEntry>,
}

/// A store opened for reading. Opening never writes.
#[derive(Debug, Clone)]
pub struct Store {
    root: PathBuf,
    manifest: Manifest,
}

impl Store {
    /// Opens the store at `root`. A directory that does not exist yet is an empty store.
    pub fn open(root: impl Into<PathBuf>) -> Result<Self> {
        let root = root.into();
        let manifest = read_manifest(&root)?;
        Ok(Self { root, manifest })
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    pub fn manifest(&self) -> &Manifest {
        &self.manifest
    }

    pub fn table(&self, name: &str) -> Option<&TableEntry> {
        self.manifest.tables.get(name)
    }

    /// The absolute directory of a table's current version.
    pub fn table_dir(&self, name: &str) -> Result<PathBuf> {
        let entry = self
            .table(name)
            .ok_or_else(|| StoreError::NoTable(name.to_string()))?;
        Ok(self.root.join(&entry.dir))
    }

    /// The absolute paths of a table's Parquet files.
    pub fn table_files(&self, name: &str) -> Result<Vec<PathBuf>> {
        let entry = self
            .table(name)
            .ok_or_else(|| StoreError::NoTable(name.to_string()))?;
        Ok(entry
            .files
            .iter()
            .map(|f| self.root.join(&entry.dir).join(f))
            .collect())
    }

    /// Starts a write. Takes the store's writer lock (failing at once if another process holds
    /// it), creates the store if needed and sweeps what killed runs left behind.
    pub fn begin(&self) -> Result<Txn> {
        let created_root = !self.root.exists();
        fs::create_dir_all(&self.root).map_err(io_err(&self.root))?;
        let lock_path = self.root.join(LOCK);
        let lock = File::options()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&lock_path)
            .map_err(io_err(&lock_path))?;
        match lock.try_lock() {
            Ok(()) => {}
            Err(fs::TryLockError::WouldBlock) => {
                return Err(StoreError::Busy {
                    path: self.root.clone(),
                });
            }
            Err(fs::TryLockError::Error(e)) => {
                return Err(StoreError::Io {
                    path: lock_path,
                    source: e,
                });
            }
        }
        // Re-read under the lock: another writer may have committed since we opened.
        let manifest = read_manifest(&self.root)?;
        sweep(&self.root, &manifest)?;
        let id = format!(
            "{}-{}",
            std::process::id(),
            chrono::Utc::now().format("%Y%m%d%H%M%S%f")
        );
        let staging = self.root.join(STAGING).join(&id);
        fs::create_dir_all(&staging).map_err(io_err(&staging))?;
        Ok(Txn {
            root: self.root.clone(),
            manifest,
            staging,
            staged: BTreeMap::new(),
            dropped: Vec::new(),
            created_root,
            done: false,
            _lock: lock,
        })
    }
}

fn read_manifest(root: &Path) -> Result<Manifest> {
    let path = root.join(MANIFEST);
    match fs::read(&path) {
        Ok(bytes) => {
            let m: Manifest =
                serde_json::from_slice(&bytes).map_err(|e| StoreError::BadManifest {
                    path: path.clone(),
                    reason: e.to_string(),
                })?;
            if m.format != FORMAT {
                return Err(StoreError::BadManifest {
                    path,
                    reason: format!(
                        "format {} is not supported (this build reads {FORMAT})",
                        m.format
                    ),
                });
            }
            Ok(m)
        }
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(Manifest {
            format: FORMAT,
            ..Manifest::default()
        }),
        Err(e) => Err(StoreError::Io { path, source: e }),
    }
}

/// Removes staging areas and table versions that no manifest names (left by killed runs).
fn sweep(root: &Path, manifest: &Manifest) -> Result<()> {
    let staging = root.join(STAGING);
    if staging.exists() {
        fs::remove_dir_all(&staging).map_err(io_err(&staging))?;
    }
    let tables = root.join(TABLES);
    let Ok(dirs) = fs::read_dir(&tables) else {
        return Ok(());
    };
    for table in dirs.flatten() {
        let name = table.file_name().to_string_lossy().into_owned();
        let live = manifest.tables.get(&name).map(|e| e.dir.clone());
        let Ok(versions) = fs::read_dir(table.path()) else {
            continue;
        };
        let mut empty = true;
        for v in versions.flatten() {
            let rel = format!("{TABLES}/{name}/{}", v.file_name().to_string_lossy());
            if live.as_deref() == Some(rel.as_str()) {
                empty = false;
            } else {
                fs::remove_dir_all(v.path()).map_err(io_err(&v.path()))?;
            }
        }
        if empty {
            let _ = fs::remove_dir(table.path());
        }
    }
    Ok(())
}

/// A table written into the staging area, waiting for commit.
#[derive(Debug, Clone)]
struct Staged {
    rows: u64,
    source: String,
}

/// A write in progress. Nothing it does is visible until [`Txn::commit`]; dropping it without
/// committing removes everything it staged.
#[derive(Debug)]
pub struct Txn {
    root: PathBuf,
    manifest: Manifest,
    staging: PathBuf,
    staged: BTreeMap<String, Staged>,
    dropped: Vec<String>,
    created_root: bool,
    done: bool,
    _lock: File,
}

impl Txn {
    /// The manifest as of the start of this write.
    pub fn base(&self) -> &Manifest {
        &self.manifest
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    /// A fresh, empty staging directory for a new version of `table`; write Parquet files into
    /// it, then call [`Txn::stage`]. Calling it again for the same table starts over.
    pub fn table_dir(&self, table: &str) -> Result<PathBuf> {
        self.scratch_dir(table)
    }

    /// Where the staged version of `table` is (after [`Txn::table_dir`]), to read it back
    /// before the commit. Touches nothing.
    pub fn staged_dir(&self, table: &str) -> PathBuf {
        self.staging.join(table)
    }

    /// A fresh, empty directory under the staging area for intermediate files; removed with the
    /// staging area whether or not the write commits.
    pub fn scratch_dir(&self, name: &str) -> Result<PathBuf> {
        let dir = self.staging.join(name);
        if dir.exists() {
            fs::remove_dir_all(&dir).map_err(io_err(&dir))?;
        }
        fs::create_dir_all(&dir).map_err(io_err(&dir))?;
        Ok(dir)
    }

    /// Declares the files in `table_dir(table)` as the table's next version.
    pub fn stage(&mut self, table: &str, rows: u64, source: impl Into<String>) {
        self.dropped.retain(|t| t != table);
        self.staged.insert(
            table.to_string(),
            Staged {
                rows,
                source: source.into(),
            },
        );
    }

    /// Removes a table at commit.
    pub fn drop_table(&mut self, table: &str) {
        self.staged.remove(table);
        self.dropped.push(table.to_string());
    }

    /// Makes every staged table current at once and returns the new manifest.
    pub fn commit(mut self) -> Result<Manifest> {
        let mut next = self.manifest.clone();
        next.format = FORMAT;
        next.version += 1;
        let now = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
        let mut moves = Vec::new();
        for (table, staged) in &self.staged {
            let from = self.staging.join(table);
            let mut files = Vec::new();
            let mut bytes = 0;
            for f in fs::read_dir(&from).map_err(io_err(&from))?.flatten() {
                let path = f.path();
                let file = File::open(&path).map_err(io_err(&path))?;
                file.sync_all().map_err(io_err(&path))?;
                bytes += file.metadata().map_err(io_err(&path))?.len();
                files.push(f.file_name().to_string_lossy().into_owned());
            }
            files.sort();
            sync_dir(&from)?;
            let rel = format!("{TABLES}/{table}/v{:06}", next.version);
            moves.push((from, self.root.join(&rel)));
            next.tables.insert(
                table.clone(),
                TableEntry {
                    dir: rel,
                    rows: staged.rows,
                    files,
                    bytes,
                    updated_at: now.clone(),
                    source: staged.source.clone(),
                },
            );
        }
        for table in &self.dropped {
            next.tables.remove(table);
        }
        for (from, to) in &moves {
            let parent = to.parent().expect("versioned dir has a parent");
            fs::create_dir_all(parent).map_err(io_err(parent))?;
            fs::rename(from, to).map_err(io_err(to))?;
            sync_dir(parent)?;
        }
        let tmp = self.root.join(format!("{MANIFEST}.tmp"));
        {
            let mut f = File::create(&tmp).map_err(io_err(&tmp))?;
            f.write_all(&serde_json::to_vec_pretty(&next).expect("manifest serialises"))
                .map_err(io_err(&tmp))?;
            f.sync_all().map_err(io_err(&tmp))?;
        }
        // The commit point.
        fs::rename(&tmp, self.root.join(MANIFEST)).map_err(io_err(&tmp))?;
        sync_dir(&self.root)?;
        self.done = true;
        let _ = fs::remove_dir_all(&self.staging);
        let _ = fs::remove_dir(self.root.join(STAGING));
        // Old versions are garbage now; a failure to remove them is swept by the next writer.
        if let Err(e) = sweep(&self.root, &next) {
            tracing::warn!("could not remove old table versions: {e}");
        }
        Ok(next)
    }
}

impl Drop for Txn {
    fn drop(&mut self) {
        if self.done {
            return;
        }
        let _ = fs::remove_dir_all(&self.staging);
        let _ = fs::remove_dir(self.root.join(STAGING));
        if self.created_root {
            // The store did not exist before this failed write: leave no trace of it.
            let _ = fs::remove_file(self.root.join(LOCK));
            let _ = fs::remove_dir(&self.root);
        }
    }
}

fn sync_dir(dir: &Path) -> Result<()> {
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(io_err(dir))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(txn: &mut Txn, table: &str, content: &str) {
        let dir = txn.table_dir(table).unwrap();
        fs::write(dir.join("part-0.parquet"), content).unwrap();
        txn.stage(table, content.len() as u64, "test");
    }

    #[test]
    fn commit_swaps_all_tables_at_once() {
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path().join("s");
        let store = Store::open(&root).unwrap();
        assert!(store.manifest().tables.is_empty());
        let mut txn = store.begin().unwrap();
        write(&mut txn, "a", "one");
        write(&mut txn, "b", "two");
        let m = txn.commit().unwrap();
        assert_eq!(m.version, 1);
        let store = Store::open(&root).unwrap();
        assert_eq!(
            fs::read_to_string(&store.table_files("a").unwrap()[0]).unwrap(),
            "one"
        );

        let mut txn = store.begin().unwrap();
        write(&mut txn, "a", "uno");
        txn.drop_table("b");
        txn.commit().unwrap();
        let store = Store::open(&root).unwrap();
        assert_eq!(
            fs::read_to_string(&store.table_files("a").unwrap()[0]).unwrap(),
            "uno"
        );
        assert!(store.table("b").is_none());
        // The old version of `a` and all of `b` are gone from disk.
        assert_eq!(fs::read_dir(root.join("tables/a")).unwrap().count(), 1);
        assert!(!root.join("tables/b").exists());
    }

    #[test]
    fn an_abandoned_write_leaves_nothing() {
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path().join("s");
        {
            let mut txn = Store::open(&root).unwrap().begin().unwrap();
            write(&mut txn, "a", "one");
        }
        assert!(
            !root.exists(),
            "a failed first write must not create the store"
        );
        let mut txn = Store::open(&root).unwrap().begin().unwrap();
        write(&mut txn, "a", "one");
        txn.commit().unwrap();
        {
            let mut txn = Store::open(&root).unwrap().begin().unwrap();
            write(&mut txn, "a", "two");
        }
        let store = Store::open(&root).unwrap();
        assert_eq!(
            fs::read_to_string(&store.table_files("a").unwrap()[0]).unwrap(),
            "one"
        );
        assert!(!root.join(STAGING).exists());
    }

    #[test]
    fn one_writer_at_a_time() {
        let tmp = tempfile::tempdir().unwrap();
        let store = Store::open(tmp.path()).unwrap();
        let _first = store.begin().unwrap();
        assert!(matches!(store.begin(), Err(StoreError::Busy { .. })));
    }

    #[test]
    fn leftovers_of_a_killed_run_are_swept_by_the_next_writer() {
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path();
        let mut txn = Store::open(root).unwrap().begin().unwrap();
        write(&mut txn, "a", "one");
        txn.commit().unwrap();
        fs::create_dir_all(root.join("tables/a/v000009")).unwrap();
        fs::create_dir_all(root.join(".staging/x/a")).unwrap();
        let txn = Store::open(root).unwrap().begin().unwrap();
        drop(txn);
        assert!(!root.join("tables/a/v000009").exists());
        assert!(!root.join(".staging").exists());
        assert_eq!(Store::open(root).unwrap().table("a").unwrap().rows, 3);
    }
}
