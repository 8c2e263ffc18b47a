//! `portrait ingest`: loads files into the store in one atomic write.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use portrait_ingest::{FileReport, IngestError, Loader, Options, table_for_file_name};
use portrait_store::Store;
use portrait_types::model::{self, TableDef};

use crate::session::register_dir;
use crate::{EngineError, Result};

/// One file and the table it loads into.
#[derive(Debug, Clone)]
pub struct Source {
    pub table: &'static TableDef,
    pub path: PathBuf,
}

/// Reports progress of long steps to whoever shows it.
pub trait Progress: Sync {
    fn begin(&self, label: &str, total: Option<u64>);
    fn update(&self, done: u64);
    fn end(&self);
}

/// Shows nothing.
pub struct NoProgress;

impl Progress for NoProgress {
    fn begin(&self, _: &str, _: Option<u64>) {}
    fn update(&self, _: u64) {}
    fn end(&self) {}
}

const EXTENSIONS: &[&str] = &["csv", "txt", "tsv", "xlsx", "xlsm", "parquet"];

/// Turns command-line arguments into sources: `DIR` (every file whose name names a table),
/// `TABLE=FILE`, or `FILE` (named after its table). Returns the sources and the files of a
/// directory that were skipped.
pub fn resolve_sources(args: &[String]) -> Result<(Vec<Source>, Vec<PathBuf>)> {
    let mut sources = Vec::new();
    let mut skipped = Vec::new();
    for arg in args {
        if let Some((t, f)) = arg.split_once('=') {
            let table = model::table(t).ok_or_else(|| {
                EngineError::Usage(format!(
                    "unknown table `{t}` in `{arg}`\nhint: tables are {}",
                    model::TABLES
                        .iter()
                        .map(|t| t.name)
                        .collect::<Vec<_>>()
                        .join(", ")
                ))
            })?;
            sources.push(Source {
                table,
                path: existing(f)?,
            });
            continue;
        }
        let path = existing(arg)?;
        if path.is_dir() {
            let mut files: Vec<PathBuf> = std::fs::read_dir(&path)
                .map_err(|e| EngineError::Io {
                    path: path.clone(),
                    source: e,
                })?
                .flatten()
                .map(|e| e.path())
                .filter(|p| p.is_file())
                .collect();
            files.sort();
            let before = sources.len();
            for f in files {
                let ext = f
                    .extension()
                    .and_then(|e| e.to_str())
                    .unwrap_or("")
                    .to_ascii_lowercase();
                let stem = f.file_stem().and_then(|s| s.to_str()).unwrap_or("");
                match table_for_file_name(stem) {
                    Some(table) if EXTENSIONS.contains(&ext.as_str()) => {
                        sources.push(Source { table, path: f })
                    }
                    _ => skipped.push(f),
                }
            }
            if sources.len() == before {
                return Err(EngineError::Usage(format!(
                    "no table files in `{}`\nhint: name files after their tables (customer.csv, transaction.csv, …) or pass `TABLE=FILE`",
                    path.display()
                )));
            }
        } else {
            let stem = path.file_stem().and_then(|s| s.to_str()).unwrap_or("");
            let table = table_for_file_name(stem)
                .ok_or_else(|| IngestError::UnknownTable(path.display().to_string()))?;
            sources.push(Source { table, path });
        }
    }
    if sources.is_empty() {
        return Err(EngineError::Usage(
            "nothing to ingest: pass a directory or files".into(),
        ));
    }
    Ok((sources, skipped))
}

fn existing(p: &str) -> Result<PathBuf> {
    let path = PathBuf::from(p);
    if !path.exists() {
        return Err(EngineError::Usage(format!("`{p}` does not exist")));
    }
    Ok(path)
}

/// What an ingest did.
#[derive(Debug, Clone)]
pub struct Outcome {
    pub files: Vec<FileReport>,
    /// Rows of each table written, after the merge when appending.
    pub tables: BTreeMap<String, u64>,
    pub version: u64,
    pub rejects: Option<PathBuf>,
}

/// Loads every source and commits them together: if any file fails, nothing changes.
pub async fn ingest(
    store: &Store,
    sources: &[Source],
    options: Options,
    append: bool,
    rejects: &Path,
    progress: &dyn Progress,
) -> Result<Outcome> {
    let _marked = crate::memory::running("ingest");
    load(store, sources, options, append, rejects, progress).await
}

async fn load(
    store: &Store,
    sources: &[Source],
    options: Options,
    append: bool,
    rejects: &Path,
    progress: &dyn Progress,
) -> Result<Outcome> {
    let txn = store.begin()?;
    let allow_shrink = options.allow_shrink;
    let mut loader = Loader::new(options, rejects);
    let mut by_table: BTreeMap<&'static str, Vec<&Source>> = BTreeMap::new();
    for s in sources {
        by_table.entry(s.table.name).or_default().push(s);
    }
    let mut files = Vec::new();
    let mut txn = txn;
    let mut tables = BTreeMap::new();
    for (table, srcs) in by_table {
        let merging = append && txn.base().tables.contains_key(table);
        let dir = if merging {
            txn.scratch_dir(&format!("{table}.new"))?
        } else {
            txn.table_dir(table)?
        };
        let mut rows = 0;
        let mut keyed = true;
        for s in &srcs {
            let size = std::fs::metadata(&s.path).map(|m| m.len()).ok();
            let is_csv = s
                .path
                .extension()
                .and_then(|e| e.to_str())
                .is_some_and(|e| {
                    !matches!(e.to_ascii_lowercase().as_str(), "xlsx" | "xlsm" | "parquet")
                });
            progress.begin(
                &format!("{table} ← {}", s.path.display()),
                if is_csv { size } else { None },
            );
            let report = loader.load_file(s.table, &s.path, &dir, &|done| progress.update(done));
            progress.end();
            let report = report?;
            rows += report.rows_loaded;
            keyed &= report.keyed;
            files.push(report);
        }
        if merging {
            progress.begin(&format!("{table}: merging with the stored rows"), None);
            let out = txn.table_dir(table)?;
            rows = merge(store, table, &dir, &out, keyed).await?;
            progress.end();
        }
        if let Some(before) = txn.base().tables.get(table).map(|t| t.rows)
            && !merging
            && !allow_shrink
            && before >= portrait_ingest::SHRINK_FROM
            && rows.saturating_mul(10) < before
        {
            return Err(EngineError::Usage(format!(
                "`{table}` would shrink from {before} rows to {rows}: a load replaces the whole table, and a file this much smaller is usually a partial export; nothing was changed\nhint: to add or update rows pass `--append`; to replace the table anyway pass `--replace`"
            )));
        }
        let names: Vec<String> = srcs.iter().map(|s| s.path.display().to_string()).collect();
        txn.stage(table, rows, names.join(", "));
        tables.insert(table.to_string(), rows);
    }
    let manifest = txn.commit()?;
    let rejects = (loader.rejects().count > 0).then(|| loader.rejects().path().to_path_buf());
    Ok(Outcome {
        files,
        tables,
        version: manifest.version,
        rejects,
    })
}

/// Writes the stored rows of `table` that the new rows do not replace, plus the new rows, into
/// `out`. Rows are matched by the table's key, or by the whole row when the new files lacked it.
async fn merge(store: &Store, table: &str, new_dir: &Path, out: &Path, keyed: bool) -> Result<u64> {
    let ctx = crate::session::store_context(store).await?;
    crate::session::register_table(&ctx, store, table)
        .await
        .map_err(|e| EngineError::Internal(format!("reading stored `{table}`: {e}")))?;
    register_dir(&ctx, "incoming", new_dir).await?;
    let def = model::table(table).expect("input table");
    let q = |c: &str| format!("\"{c}\"");
    let sql = if keyed {
        let on: Vec<String> = def
            .key
            .iter()
            .map(|k| format!("n.{k} IS NOT DISTINCT FROM o.{k}", k = q(k)))
            .collect();
        format!(
            "SELECT * FROM \"{table}\" o WHERE NOT EXISTS (SELECT 1 FROM incoming n WHERE {}) UNION ALL SELECT * FROM incoming",
            on.join(" AND ")
        )
    } else {
        format!(
            "SELECT DISTINCT * FROM (SELECT * FROM \"{table}\" UNION ALL SELECT * FROM incoming)"
        )
    };
    crate::output::write_dir(ctx.sql(&sql).await?, out).await
}

/// The row count that DataFusion's writers report.
pub(crate) fn written_rows(batches: &[arrow::record_batch::RecordBatch]) -> u64 {
    use arrow::array::AsArray;
    use arrow::datatypes::UInt64Type;
    batches
        .iter()
        .filter_map(|b| b.column(0).as_primitive_opt::<UInt64Type>())
        .flat_map(|a| a.values().iter().copied())
        .sum()
}
