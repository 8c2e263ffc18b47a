//! Loading a bank's exports into canonical tables: CSV in UTF-8 or GBK, Excel `.xlsx` and
//! Parquet; header aliases and user mappings; domain validation; rejects and the error budget.
//!
//! [`Loader::load_file`] converts one file into one Parquet file in a directory the caller
//! chooses (a staging directory of the store); the caller commits only when every file loaded.

mod convert;
mod csv;
mod mapping;
mod parse;
mod rows;
mod sink;

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

use chrono::NaiveDate;
use portrait_types::model::TableDef;

pub use convert::{Action, Reject, arrow_schema, arrow_type};
pub use mapping::{Mapping, Overrides, table_for_file_name};
pub use sink::RejectsFile;

/// The encoding of CSV input.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Encoding {
    /// UTF-8 unless the bytes say GBK.
    #[default]
    Auto,
    Utf8,
    /// GBK, read as its superset GB18030.
    Gbk,
}

impl Encoding {
    pub fn name(self) -> &'static str {
        match self {
            Encoding::Auto => "auto",
            Encoding::Utf8 => "utf-8",
            Encoding::Gbk => "gbk",
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum IngestError {
    #[error("`{}`: {source}", path.display())]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    /// The file as a whole cannot be read as a table.
    #[error("{file}:{line}: {reason}{}", hint.as_ref().map(|h| format!("\nhint: {h}")).unwrap_or_default())]
    Structure {
        file: String,
        line: u64,
        reason: String,
        hint: Option<String>,
    },
    #[error(
        "{file}: {bad_rows} of {rows} rows ({:.2}%) have errors, more than the error budget of {:.2}%\n{}\nhint: every problem is listed in `{}`; fix the file, or raise the budget with `--max-errors`",
        *bad_rows as f64 * 100.0 / *rows as f64, budget * 100.0,
        examples.iter().map(|e| format!("  {e}")).collect::<Vec<_>>().join("\n"),
        rejects.display()
    )]
    Budget {
        file: String,
        bad_rows: u64,
        rows: u64,
        budget: f64,
        examples: Vec<String>,
        rejects: PathBuf,
    },
    #[error("{0}")]
    Config(String),
    #[error(
        "cannot tell which table `{0}` holds\nhint: name the file after its table (customer.csv, transaction.csv, …) or pass it as `TABLE=FILE`"
    )]
    UnknownTable(String),
    #[error("`{0}`: unsupported file type\nhint: portrait reads .csv, .txt, .xlsx and .parquet")]
    UnsupportedFile(String),
    #[error("internal error (this is a bug): {0}")]
    Internal(String),
}

impl IngestError {
    /// Whether the fault lies with the input rather than with portrait.
    pub fn is_user_error(&self) -> bool {
        !matches!(self, IngestError::Internal(_))
    }
}

pub(crate) fn io_err(path: &Path) -> impl FnOnce(std::io::Error) -> IngestError + '_ {
    move |source| IngestError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// Settings of one ingest run.
#[derive(Debug, Clone)]
pub struct Options {
    pub encoding: Encoding,
    /// Largest share of rows with errors a file may have, in [0, 1].
    pub budget: f64,
    /// Dates after this (birth dates in ID numbers) are impossible.
    pub today: NaiveDate,
    /// Per table: source header → canonical column.
    pub overrides: BTreeMap<String, Overrides>,
    pub threads: usize,
    /// Excel: the sheet to read (default: the first).
    pub sheet: Option<String>,
    /// Whether a load may replace a table of at least [`SHRINK_FROM`] rows with fewer than a
    /// tenth of them (a partial export loaded by mistake); refused otherwise.
    pub allow_shrink: bool,
}

/// Tables at least this large are guarded against shrinking to under a tenth by a full load.
pub const SHRINK_FROM: u64 = 1000;

impl Default for Options {
    fn default() -> Self {
        Self {
            encoding: Encoding::Auto,
            budget: 0.01,
            today: chrono::Local::now().date_naive(),
            overrides: BTreeMap::new(),
            threads: std::thread::available_parallelism().map_or(2, |n| n.get()),
            sheet: None,
            allow_shrink: false,
        }
    }
}

/// What happened to one file.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct FileReport {
    pub file: String,
    pub table: String,
    pub format: &'static str,
    pub encoding: &'static str,
    pub rows_read: u64,
    pub rows_loaded: u64,
    /// Rows not loaded.
    pub rejected: u64,
    /// Invalid optional values emptied in loaded rows.
    pub dropped: u64,
    /// Rows with at least one problem.
    pub bad_rows: u64,
    pub ignored_columns: Vec<String>,
    /// Whether the file carried the table's key (duplicates checked).
    pub keyed: bool,
}

pub(crate) struct LoadContext<'a> {
    pub table: &'static TableDef,
    pub options: &'a Options,
    pub overrides: Option<&'a Overrides>,
    pub progress: &'a (dyn Fn(u64) + Sync),
}

/// Loads files table by table, keeping duplicate keys in check across files of one table and
/// every problem in one rejects file.
pub struct Loader {
    options: Options,
    rejects: RejectsFile,
    keys: HashMap<&'static str, sink::KeySet>,
    parts: HashMap<&'static str, u32>,
}

impl Loader {
    pub fn new(options: Options, rejects_path: impl Into<PathBuf>) -> Self {
        Self {
            options,
            rejects: RejectsFile::new(rejects_path),
            keys: HashMap::new(),
            parts: HashMap::new(),
        }
    }

    pub fn options(&self) -> &Options {
        &self.options
    }

    pub fn rejects(&self) -> &RejectsFile {
        &self.rejects
    }

    /// Converts `path` into a new Parquet file in `out_dir`. `progress` receives bytes read.
    pub fn load_file(
        &mut self,
        table: &'static TableDef,
        path: &Path,
        out_dir: &Path,
        progress: &(dyn Fn(u64) + Sync),
    ) -> Result<FileReport, IngestError> {
        let ext = path
            .extension()
            .and_then(|e| e.to_str())
            .unwrap_or("")
            .to_ascii_lowercase();
        let format = match ext.as_str() {
            "csv" | "txt" | "tsv" | "dat" => "csv",
            "xlsx" | "xlsm" => "xlsx",
            "parquet" | "pq" => "parquet",
            _ => return Err(IngestError::UnsupportedFile(path.display().to_string())),
        };
        let part = self.parts.entry(table.name).or_default();
        let stem = format!("part-{part:05}");
        *part += 1;
        let report = FileReport {
            file: path.display().to_string(),
            table: table.name.to_string(),
            format,
            encoding: "",
            ..FileReport::default()
        };
        let keys = self.keys.entry(table.name).or_default();
        let encoders = self.options.threads.max(1);
        let mut sink = sink::Sink::new(
            report,
            out_dir.to_path_buf(),
            stem.clone(),
            encoders,
            keys,
            &mut self.rejects,
        );
        let ctx = LoadContext {
            table,
            options: &self.options,
            overrides: self.options.overrides.get(table.name),
            progress,
        };
        let result = match format {
            "csv" => csv::load(path, &ctx, &mut sink),
            "xlsx" => rows::load_xlsx(path, &ctx, &mut sink),
            _ => rows::load_parquet(path, &ctx, &mut sink),
        };
        let result = result.and_then(|()| sink.finish(self.options.budget));
        if result.is_err() {
            // Leave nothing of this file in the staging directory.
            if let Ok(entries) = std::fs::read_dir(out_dir) {
                for e in entries.flatten() {
                    if e.file_name().to_string_lossy().starts_with(&stem) {
                        let _ = std::fs::remove_file(e.path());
                    }
                }
            }
        }
        result
    }
}
