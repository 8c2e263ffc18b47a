//! The portrait store: every table is a directory of Parquet files, and one manifest names the
//! directory that holds each table's current version.
//!
//! ```text
//! STORE/
//!   manifest.json                  which version of each table is current
//!   tables/<table>/v000042/*.parquet
//!   .staging/<txn>/                work in progress, never read
//!   .lock                          held by the one writer
//!   .readers/<id>.pin              the table versions a live reader is reading
//! ```
//!
//! A write stages new table versions under `.staging`, syncs them, moves them into `tables/`
//! and then replaces `manifest.json` with one atomic rename. A run that fails or is killed at any
//! point before that rename leaves the previous manifest, and so the previous state, in force;
//! leftovers are swept by the next writer. Readers never see a half-written table.
//!
//! A reader that reads for a while (the server's snapshot, a long query) pins the versions it
//! reads ([`Store::open_pinned`]): a lease file under `.readers` that names them, held under a
//! shared file lock. The writer removes an old version only when no live lease names it, so a
//! reader keeps reading the version it opened until it lets go; a lease whose process died
//! has lost its lock, and the next writer removes it.

use std::collections::BTreeMap;
use std::fs::{self, File};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

pub const MANIFEST: &str = "manifest.json";
const STAGING: &str = ".staging";
const TABLES: &str = "tables";
const LOCK: &str = ".lock";
const READERS: &str = ".readers";
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

    /// Opens the store at `root` and pins the table versions of its manifest for as long as the
    /// returned [`ReadPin`] lives: writers that commit meanwhile leave them in place.
    pub fn open_pinned(root: impl Into<PathBuf>) -> Result<(Self, ReadPin)> {
        let root = root.into();
        let mut store = Store::open(&root)?;
        loop {
            let pin = ReadPin::new(&root, &store.manifest)?;
            // A writer that committed before the lease existed may already have removed what
            // it names: read the manifest again and pin the newer one when it moved on.
            let again = Store::open(&root)?;
            if again.manifest.version == store.manifest.version {
                return Ok((store, pin));
            }
            store = again;
        }
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

/// A live reader's claim on the table versions of one manifest; dropping it lets them go.
#[derive(Debug)]
pub struct ReadPin {
    path: PathBuf,
    _file: File,
}

impl ReadPin {
    fn new(root: &Path, manifest: &Manifest) -> Result<Self> {
        let dir = root.join(READERS);
        let dirs: Vec<&str> = manifest.tables.values().map(|e| e.dir.as_str()).collect();
        let body = serde_json::to_vec(&dirs).expect("a list of strings serialises");
        let mut last = None;
        // A writer may remove a lease that is not locked yet (a moment after it is created);
        // then the rename fails and it is made again.
        for attempt in 0..5u32 {
            fs::create_dir_all(&dir).map_err(io_err(&dir))?;
            // Unique across processes (pid) and within one (a counter).
            static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
            let id = format!(
                "{}-{}-{attempt}",
                std::process::id(),
                NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
            );
            let tmp = dir.join(format!("{id}.tmp"));
            let path = dir.join(format!("{id}.pin"));
            let made = (|| {
                let mut f = File::create(&tmp)?;
                f.lock_shared()?;
                f.write_all(&body)?;
                f.sync_all()?;
                fs::rename(&tmp, &path)?;
                Ok::<File, io::Error>(f)
            })();
            match made {
                Ok(f) => return Ok(ReadPin { path, _file: f }),
                Err(e) => {
                    let _ = fs::remove_file(&tmp);
                    last = Some(e);
                }
            }
        }
        Err(StoreError::Io {
            path: dir,
            source: last.unwrap_or_else(|| io::Error::other("cannot pin")),
        })
    }
}

impl Drop for ReadPin {
    fn drop(&mut self) {
        let _ = fs::remove_file(&self.path);
        // The last reader leaves no trace (a store opened for reading is not changed).
        if let Some(dir) = self.path.parent() {
            let _ = fs::remove_dir(dir);
        }
    }
}

/// The table directories live readers hold ([`ReadPin`]); leases of readers that are gone
/// (their lock went with their process) are removed.
fn pinned(root: &Path) -> std::collections::BTreeSet<String> {
    let mut keep = std::collections::BTreeSet::new();
    let Ok(entries) = fs::read_dir(root.join(READERS)) else {
        return keep;
    };
    for e in entries.flatten() {
        let p = e.path();
        let Ok(f) = File::open(&p) else {
            continue;
        };
        match f.try_lock() {
            Ok(()) => {
                let _ = fs::remove_file(&p);
            }
            Err(fs::TryLockError::WouldBlock) => {
                if p.extension().is_some_and(|x| x == "pin")
                    && let Ok(dirs) =
                        fs::read(&p).map(|b| serde_json::from_slice::<Vec<String>>(&b))
                {
                    keep.extend(dirs.unwrap_or_default());
                }
            }
            Err(fs::TryLockError::Error(_)) => {}
        }
    }
    keep
}

/// Removes staging areas and table versions that neither the manifest nor a live reader names
/// (left by killed runs, or replaced by commits).
fn sweep(root: &Path, manifest: &Manifest) -> Result<()> {
    let staging = root.join(STAGING);
    if staging.exists() {
        fs::remove_dir_all(&staging).map_err(io_err(&staging))?;
    }
    let keep = pinned(root);
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
            if live.as_deref() == Some(rel.as_str()) || keep.contains(&rel) {
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
        // Old versions no reader holds are garbage now; a failure to remove them is swept by
        // the next writer.
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
    fn a_pinned_reader_keeps_its_version_until_it_lets_go() {
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path().join("s");
        let mut txn = Store::open(&root).unwrap().begin().unwrap();
        write(&mut txn, "a", "one");
        txn.commit().unwrap();
        let (reader, pin) = Store::open_pinned(&root).unwrap();
        let old = reader.table_files("a").unwrap();
        for content in ["two", "three"] {
            let mut txn = Store::open(&root).unwrap().begin().unwrap();
            write(&mut txn, "a", content);
            txn.commit().unwrap();
        }
        // Two commits later the reader still reads what it opened; the version between,
        // which nobody holds, is gone.
        assert_eq!(fs::read_to_string(&old[0]).unwrap(), "one");
        assert!(!root.join("tables/a/v000002").exists());
        assert_eq!(
            fs::read_to_string(&Store::open(&root).unwrap().table_files("a").unwrap()[0]).unwrap(),
            "three"
        );
        drop(pin);
        drop(Store::open(&root).unwrap().begin().unwrap());
        assert!(!old[0].exists());
        // The last reader leaves no trace.
        assert!(!root.join(READERS).exists());
    }

    #[test]
    fn a_lease_without_its_lock_is_removed() {
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path().join("s");
        let mut txn = Store::open(&root).unwrap().begin().unwrap();
        write(&mut txn, "a", "one");
        txn.commit().unwrap();
        // What a killed reader leaves: the lease, with no process holding its lock.
        fs::create_dir_all(root.join(READERS)).unwrap();
        let lease = root.join(READERS).join("1-x-0.pin");
        fs::write(&lease, br#"["tables/a/v000001"]"#).unwrap();
        let mut txn = Store::open(&root).unwrap().begin().unwrap();
        assert!(!lease.exists());
        write(&mut txn, "a", "two");
        txn.commit().unwrap();
        assert!(!root.join("tables/a/v000001").exists());
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
