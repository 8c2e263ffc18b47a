//! Where converted chunks go: duplicate-key checks across the whole load, the rejects file, and
//! the Parquet files of the staged table version.

use std::collections::HashMap;
use std::fs::File;
use std::hash::{BuildHasherDefault, Hasher};
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use arrow::array::BooleanArray;
use arrow::compute::filter_record_batch;
use arrow::record_batch::RecordBatch;
use arrow::util::display::{ArrayFormatter, FormatOptions};
use parquet::arrow::ArrowWriter;
use parquet::basic::Compression;
use parquet::file::properties::WriterProperties;

use crate::convert::{Action, Converted, Reject};
use crate::mapping::Mapping;
use crate::{FileReport, IngestError, io_err};

pub(crate) struct Chunk {
    pub seq: u64,
    pub converted: Converted,
    pub rejects: Vec<Reject>,
    pub rows_read: u64,
}

/// The rejects file: one line per problem, written as problems are found.
pub struct RejectsFile {
    path: PathBuf,
    out: Option<BufWriter<File>>,
    pub count: u64,
}

impl RejectsFile {
    pub fn new(path: impl Into<PathBuf>) -> Self {
        Self {
            path: path.into(),
            out: None,
            count: 0,
        }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    fn write(&mut self, file: &str, r: &Reject) -> Result<(), IngestError> {
        if self.out.is_none() {
            let f = File::create(&self.path).map_err(io_err(&self.path))?;
            let mut w = BufWriter::new(f);
            w.write_all(b"file,line,column,header,action,reason\n")
                .map_err(io_err(&self.path))?;
            self.out = Some(w);
        }
        let w = self.out.as_mut().expect("opened above");
        let (col, header) = r
            .column
            .as_ref()
            .map_or((String::new(), ""), |(c, h)| (c.to_string(), h.as_str()));
        let line = [
            quote(file),
            r.line.to_string(),
            col,
            quote(header),
            r.action.as_str().to_string(),
            quote(&r.reason),
        ]
        .join(",");
        writeln!(w, "{line}").map_err(io_err(&self.path))?;
        self.count += 1;
        Ok(())
    }

    pub fn flush(&mut self) -> Result<(), IngestError> {
        if let Some(w) = self.out.as_mut() {
            w.flush().map_err(io_err(&self.path))?;
        }
        Ok(())
    }
}

fn quote(s: &str) -> String {
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_string()
    }
}

/// Keys seen so far for one table, across every file loaded into it: key hash → (file, line).
#[derive(Default)]
pub struct KeySet {
    pub(crate) files: Vec<String>,
    pub(crate) seen: HashMap<u128, (u32, u32), BuildHasherDefault<KeyHasher>>,
}

/// The keys are 128-bit hashes already; fold them instead of hashing them again.
#[derive(Default)]
pub(crate) struct KeyHasher(u64);

impl Hasher for KeyHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for chunk in bytes.chunks(8) {
            let mut b = [0u8; 8];
            b[..chunk.len()].copy_from_slice(chunk);
            self.0 ^= u64::from_le_bytes(b);
        }
    }

    fn write_u128(&mut self, v: u128) {
        self.0 = (v as u64) ^ ((v >> 64) as u64);
    }
}

struct Encoder {
    tx: crossbeam_channel::Sender<RecordBatch>,
    handle: std::thread::JoinHandle<Result<(), parquet::errors::ParquetError>>,
    path: PathBuf,
}

/// Writes one source file's rows into Parquet files of the staged table.
pub(crate) struct Sink<'a> {
    pub report: FileReport,
    out_dir: PathBuf,
    stem: String,
    encoders: usize,
    props: Option<(arrow::datatypes::SchemaRef, WriterProperties)>,
    batches: usize,
    writers: Vec<Encoder>,
    keys: &'a mut KeySet,
    file_idx: u32,
    rejects: &'a mut RejectsFile,
    examples: Vec<String>,
    last_bad_line: Option<u64>,
}

impl<'a> Sink<'a> {
    /// Rows go to `encoders` Parquet files named `{stem}-{k}.parquet` in `out_dir`.
    pub fn new(
        report: FileReport,
        out_dir: PathBuf,
        stem: String,
        encoders: usize,
        keys: &'a mut KeySet,
        rejects: &'a mut RejectsFile,
    ) -> Self {
        keys.files.push(report.file.clone());
        let file_idx = (keys.files.len() - 1) as u32;
        Self {
            report,
            out_dir,
            stem,
            encoders: encoders.max(1),
            props: None,
            batches: 0,
            writers: Vec::new(),
            keys,
            file_idx,
            rejects,
            examples: Vec::new(),
            last_bad_line: None,
        }
    }

    /// Opens the Parquet file once the mapping is known.
    pub fn start(&mut self, mapping: &Mapping) -> Result<(), IngestError> {
        self.report.ignored_columns = mapping.ignored().iter().map(|s| s.to_string()).collect();
        self.report.keyed = mapping.has_key();
        let schema = crate::convert::arrow_schema(mapping.table);
        // Dictionaries pay off for repeated text (channels, categories, customer numbers), not
        // for values that are mostly unique.
        let mut props = WriterProperties::builder();
        for c in mapping.table.columns {
            let unique_text = mapping.table.key == [c.name];
            if unique_text
                || !matches!(
                    c.ty,
                    portrait_types::model::ColumnType::Text
                        | portrait_types::model::ColumnType::Bool
                )
            {
                props = props.set_column_dictionary_enabled(c.name.into(), false);
            }
        }
        let props = props
            .set_compression(Compression::SNAPPY)
            .set_max_row_group_row_count(Some(1 << 20))
            .build();
        self.props = Some((schema, props));
        Ok(())
    }

    /// Starts encoder `k` on its own thread: encoding runs beside parsing and the ordered key
    /// checks, one file per encoder.
    fn spawn_encoder(&mut self) -> Result<(), IngestError> {
        let (schema, props) = self.props.clone().expect("sink started");
        let path = self
            .out_dir
            .join(format!("{}-{}.parquet", self.stem, self.writers.len()));
        let f = File::create(&path).map_err(io_err(&path))?;
        let mut w = ArrowWriter::try_new(f, schema, Some(props))
            .map_err(|e| IngestError::Internal(format!("parquet writer: {e}")))?;
        let (tx, rx) = crossbeam_channel::bounded::<RecordBatch>(2);
        let handle = std::thread::spawn(move || -> Result<(), parquet::errors::ParquetError> {
            for batch in rx {
                w.write(&batch)?;
            }
            w.close().map(|_| ())
        });
        self.writers.push(Encoder { tx, handle, path });
        Ok(())
    }

    fn reject(&mut self, r: &Reject) -> Result<(), IngestError> {
        match r.action {
            Action::Rejected => self.report.rejected += 1,
            Action::Dropped => self.report.dropped += 1,
        }
        if self.last_bad_line != Some(r.line) {
            self.report.bad_rows += 1;
            self.last_bad_line = Some(r.line);
        }
        if self.examples.len() < 5 {
            let at = r
                .column
                .as_ref()
                .map_or(String::new(), |(c, h)| format!(":{c}: column `{h}`"));
            self.examples.push(format!(
                "{}:{}{at}: {} ({})",
                self.report.file,
                r.line,
                r.reason,
                r.action.as_str()
            ));
        }
        self.rejects.write(&self.report.file.clone(), r)
    }

    pub fn write(&mut self, chunk: Chunk) -> Result<(), IngestError> {
        self.report.rows_read += chunk.rows_read;
        let Converted { batch, lines, keys } = chunk.converted;
        // Rejects and kept rows interleave by line; keep the rejects file in line order.
        let mut rejects = chunk.rejects;
        let mut keep: Option<Vec<bool>> = None;
        if let Some(keys) = keys {
            let key_cols: Vec<usize> = self.report_key_columns(&batch);
            for (row, (k, line)) in keys.iter().zip(&lines).enumerate() {
                if let Some(&(f, first)) = self.keys.seen.get(k) {
                    let where_ = if f == self.file_idx {
                        format!("line {first}")
                    } else {
                        format!("{} line {first}", self.keys.files[f as usize])
                    };
                    let shown = describe_key(&batch, &key_cols, row);
                    rejects.push(Reject {
                        line: *line,
                        column: None,
                        reason: format!("duplicate key ({shown}) first seen on {where_}"),
                        action: Action::Rejected,
                    });
                    keep.get_or_insert_with(|| vec![true; lines.len()])[row] = false;
                } else {
                    self.keys.seen.insert(
                        *k,
                        (self.file_idx, u32::try_from(*line).unwrap_or(u32::MAX)),
                    );
                }
            }
        }
        rejects.sort_by_key(|r| r.line);
        for r in &rejects {
            self.reject(r)?;
        }
        let batch = match keep {
            Some(mask) => filter_record_batch(&batch, &BooleanArray::from(mask))
                .map_err(|e| IngestError::Internal(e.to_string()))?,
            None => batch,
        };
        self.report.rows_loaded += batch.num_rows() as u64;
        if batch.num_rows() > 0 {
            let k = self.batches % self.encoders;
            self.batches += 1;
            if k == self.writers.len() {
                self.spawn_encoder()?;
            }
            if self.writers[k].tx.send(batch).is_err() {
                // The encoder stopped: `close` reports its error.
                return self.close();
            }
        }
        Ok(())
    }

    /// Waits for every encoder to write everything and close its file.
    fn close(&mut self) -> Result<(), IngestError> {
        if self.writers.is_empty() && self.props.is_some() {
            // No rows: still write one file, so the table has a schema.
            self.spawn_encoder()?;
        }
        let mut result = Ok(());
        for Encoder { tx, handle, path } in self.writers.drain(..) {
            drop(tx);
            let r = match handle.join() {
                Ok(r) => r.map_err(|e| IngestError::Io {
                    path,
                    source: std::io::Error::other(e),
                }),
                Err(_) => Err(IngestError::Internal("the Parquet encoder panicked".into())),
            };
            result = result.and(r);
        }
        result
    }

    fn report_key_columns(&self, batch: &arrow::record_batch::RecordBatch) -> Vec<usize> {
        let table = portrait_types::model::table(&self.report.table).expect("known table");
        table
            .key
            .iter()
            .filter_map(|k| batch.schema().index_of(k).ok())
            .collect()
    }

    /// Closes the Parquet file and applies the error budget.
    pub fn finish(mut self, budget: f64) -> Result<FileReport, IngestError> {
        self.close()?;
        self.rejects.flush()?;
        let r = &self.report;
        if r.rows_read > 0 && r.bad_rows as f64 > budget * r.rows_read as f64 {
            return Err(IngestError::Budget {
                file: r.file.clone(),
                bad_rows: r.bad_rows,
                rows: r.rows_read,
                budget,
                examples: self.examples,
                rejects: self.rejects.path().to_path_buf(),
            });
        }
        Ok(self.report)
    }
}

fn describe_key(batch: &arrow::record_batch::RecordBatch, cols: &[usize], row: usize) -> String {
    let opts = FormatOptions::default();
    cols.iter()
        .map(|&c| {
            let name = batch.schema().field(c).name().clone();
            let v = ArrayFormatter::try_new(batch.column(c).as_ref(), &opts)
                .map(|f| f.value(row).to_string())
                .unwrap_or_default();
            format!("{name} = {v}")
        })
        .collect::<Vec<_>>()
        .join(", ")
}
