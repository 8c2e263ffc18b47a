//! Writing query results as a table, CSV, JSON, Parquet or an Excel workbook.

use std::io::Write;
use std::path::Path;

use arrow::datatypes::SchemaRef;
use arrow::record_batch::RecordBatch;
use datafusion::physical_plan::SendableRecordBatchStream;
use futures::StreamExt;

use crate::{EngineError, Result};

/// Output formats of `portrait sql` and every report.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Table,
    Csv,
    Json,
    Parquet,
    /// An Excel workbook (always a file): [`crate::xlsx`].
    Xlsx,
}

impl std::str::FromStr for Format {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "table" => Ok(Format::Table),
            "csv" => Ok(Format::Csv),
            "json" => Ok(Format::Json),
            "parquet" => Ok(Format::Parquet),
            "xlsx" => Ok(Format::Xlsx),
            _ => Err(format!(
                "unknown format `{s}`; expected table, csv, json, parquet or xlsx"
            )),
        }
    }
}

/// Rows shown by the `table` format before it stops and says how many more there are.
pub const TABLE_LIMIT: usize = 1000;

/// Streams `stream` to `out` (or to `file` for Parquet). Returns the number of rows.
pub async fn write_stream(
    mut stream: SendableRecordBatchStream,
    format: Format,
    out: &mut dyn Write,
    file: Option<&Path>,
) -> Result<u64> {
    let io = |e: std::io::Error| EngineError::Io {
        path: "<stdout>".into(),
        source: e,
    };
    let schema = stream.schema();
    let mut rows = 0u64;
    match format {
        Format::Table => {
            let mut shown: Vec<RecordBatch> = Vec::new();
            let mut kept = 0usize;
            while let Some(b) = stream.next().await {
                let b = b?;
                rows += b.num_rows() as u64;
                if kept < TABLE_LIMIT {
                    let take = (TABLE_LIMIT - kept).min(b.num_rows());
                    shown.push(b.slice(0, take));
                    kept += take;
                }
            }
            write_table(&schema, &shown, out)?;
            if rows as usize > kept {
                writeln!(
                    out,
                    "… {} more rows (use `--format csv` for all of them)",
                    rows as usize - kept
                )
                .map_err(io)?;
            }
        }
        Format::Csv => {
            let mut w = arrow::csv::WriterBuilder::new()
                .with_header(true)
                .build(&mut *out);
            let mut wrote = false;
            while let Some(b) = stream.next().await {
                let b = b?;
                rows += b.num_rows() as u64;
                w.write(&b)?;
                wrote = true;
            }
            if !wrote {
                w.write(&RecordBatch::new_empty(schema.clone()))?;
            }
        }
        Format::Json => {
            let mut w = arrow::json::ArrayWriter::new(&mut *out);
            while let Some(b) = stream.next().await {
                let b = b?;
                rows += b.num_rows() as u64;
                w.write(&b)?;
            }
            w.finish()?;
            drop(w);
            writeln!(out).map_err(io)?;
        }
        Format::Parquet => {
            let path = file.ok_or_else(|| {
                EngineError::Usage("`--format parquet` writes a file: pass `--out FILE`".into())
            })?;
            let f = std::fs::File::create(path).map_err(|e| EngineError::Io {
                path: path.into(),
                source: e,
            })?;
            let mut w = parquet::arrow::ArrowWriter::try_new(f, schema.clone(), None)
                .map_err(|e| EngineError::Internal(e.to_string()))?;
            while let Some(b) = stream.next().await {
                let b = b?;
                rows += b.num_rows() as u64;
                w.write(&b)
                    .map_err(|e| EngineError::Internal(e.to_string()))?;
            }
            w.close()
                .map_err(|e| EngineError::Internal(e.to_string()))?;
        }
        Format::Xlsx => {
            let path = file.ok_or_else(|| {
                EngineError::Usage("`--format xlsx` writes a file: pass `--out FILE.xlsx`".into())
            })?;
            let about = crate::xlsx::About {
                title: "portrait".into(),
                ..Default::default()
            };
            rows = write_xlsx(stream, path, crate::labels::Lang::En, "data", &about).await?;
        }
    }
    out.flush().map_err(io)?;
    Ok(rows)
}

/// Writes a query's result as an Excel workbook at `path`: the rows on sheet `sheet` (and the
/// next ones past a sheet's rows), headers in `lang`, then the description sheet of `about`.
pub async fn write_xlsx(
    mut stream: SendableRecordBatchStream,
    path: &Path,
    lang: crate::labels::Lang,
    sheet: &str,
    about: &crate::xlsx::About,
) -> Result<u64> {
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let mut book = crate::xlsx::Workbook::new(lang, dir)?;
    book.table(sheet, stream.schema())?;
    while let Some(b) = stream.next().await {
        book.write(&b?)?;
    }
    let rows = book.rows();
    book.save(about, path)?;
    Ok(rows)
}

/// Writes batches already in memory.
pub fn write_batches(
    batches: &[RecordBatch],
    schema: &SchemaRef,
    format: Format,
    out: &mut dyn Write,
) -> Result<()> {
    match format {
        Format::Table => write_table(schema, batches, out),
        Format::Csv => {
            let mut w = arrow::csv::WriterBuilder::new()
                .with_header(true)
                .build(&mut *out);
            if batches.is_empty() {
                w.write(&RecordBatch::new_empty(schema.clone()))?;
            }
            for b in batches {
                w.write(b)?;
            }
            Ok(())
        }
        Format::Json => {
            let mut w = arrow::json::ArrayWriter::new(&mut *out);
            for b in batches {
                w.write(b)?;
            }
            w.finish()?;
            drop(w);
            writeln!(out).map_err(|e| EngineError::Io {
                path: "<stdout>".into(),
                source: e,
            })
        }
        Format::Parquet => Err(EngineError::Usage(
            "this report has no Parquet output; use csv or json".into(),
        )),
        Format::Xlsx => Err(EngineError::Usage(
            "this report is printed: for a workbook use `portrait report … --out FILE.xlsx`, or csv or json".into(),
        )),
    }
}

fn write_table(schema: &SchemaRef, batches: &[RecordBatch], out: &mut dyn Write) -> Result<()> {
    let shown = if batches.is_empty() {
        vec![RecordBatch::new_empty(schema.clone())]
    } else {
        batches.to_vec()
    };
    let text = arrow::util::pretty::pretty_format_batches(&shown)?;
    writeln!(out, "{text}").map_err(|e| EngineError::Io {
        path: "<stdout>".into(),
        source: e,
    })
}

/// Writes batches to one Parquet file (used for small tables the engine builds in memory).
pub fn write_parquet_file(path: &Path, batches: &[RecordBatch], schema: SchemaRef) -> Result<()> {
    let f = std::fs::File::create(path).map_err(|e| EngineError::Io {
        path: path.into(),
        source: e,
    })?;
    let mut w = parquet::arrow::ArrowWriter::try_new(f, schema, None)
        .map_err(|e| EngineError::Internal(e.to_string()))?;
    for b in batches {
        w.write(b)
            .map_err(|e| EngineError::Internal(e.to_string()))?;
    }
    w.close()
        .map_err(|e| EngineError::Internal(e.to_string()))?;
    Ok(())
}

/// Writes a query's result as Parquet files into `dir` (a table version's or a scratch
/// directory) and returns the number of rows written. A result of no rows is one Parquet file
/// of no rows with the result's schema: an empty table that reads back, not an empty directory.
pub(crate) async fn write_dir(df: datafusion::dataframe::DataFrame, dir: &Path) -> Result<u64> {
    let schema: SchemaRef = std::sync::Arc::new(df.schema().as_arrow().clone());
    let written = df
        .write_parquet(
            &format!("{}/", dir.display()),
            datafusion::dataframe::DataFrameWriteOptions::new(),
            None,
        )
        .await?;
    let rows = crate::ingest::written_rows(&written);
    if !has_parquet(dir)? {
        write_parquet_file(&dir.join("part-0.parquet"), &[], schema)?;
    }
    Ok(rows)
}

fn has_parquet(dir: &Path) -> Result<bool> {
    let entries = std::fs::read_dir(dir).map_err(|e| EngineError::Io {
        path: dir.into(),
        source: e,
    })?;
    Ok(entries
        .flatten()
        .any(|e| e.path().extension().is_some_and(|x| x == "parquet")))
}

/// Writes `batches` (in memory) as `table`'s next version in `txn` and stages it; returns the
/// rows written. With [`stage_query`], the one way a stage puts a table into its commit.
pub(crate) fn stage_batches(
    txn: &mut portrait_store::Txn,
    table: &str,
    schema: SchemaRef,
    batches: &[RecordBatch],
    source: impl Into<String>,
) -> Result<u64> {
    let dir = txn.table_dir(table)?;
    write_parquet_file(&dir.join("part-0.parquet"), batches, schema)?;
    let rows = batches.iter().map(|b| b.num_rows() as u64).sum();
    txn.stage(table, rows, source);
    Ok(rows)
}

/// Runs `df` into `table`'s next version in `txn` (an empty result is an empty table) and
/// stages it; returns the rows written.
pub(crate) async fn stage_query(
    txn: &mut portrait_store::Txn,
    table: &str,
    df: datafusion::dataframe::DataFrame,
    source: impl Into<String>,
) -> Result<u64> {
    let dir = txn.table_dir(table)?;
    let rows = write_dir(df, &dir).await?;
    txn.stage(table, rows, source);
    Ok(rows)
}

/// Masks a batch for `role` by the meaning of its columns ([`portrait_privacy::Field::of_column`]):
/// personal columns by their rule, every other text column scanned for ID-, mobile- and
/// card-shaped numbers. Admins get the batch as it is. String columns come back as `Utf8`.
pub fn mask_batch(role: portrait_privacy::Role, batch: &RecordBatch) -> Result<RecordBatch> {
    use arrow::array::{Array, ArrayRef, AsArray, StringArray};
    use arrow::datatypes::{DataType, Field, Schema};
    use portrait_privacy::{MaskRule, mask};
    use std::sync::Arc;

    if role == portrait_privacy::Role::Admin {
        return Ok(batch.clone());
    }
    let mut fields = Vec::with_capacity(batch.num_columns());
    let mut cols: Vec<ArrayRef> = Vec::with_capacity(batch.num_columns());
    for (f, c) in batch.schema().fields().iter().zip(batch.columns()) {
        if !matches!(
            f.data_type(),
            DataType::Utf8 | DataType::Utf8View | DataType::LargeUtf8
        ) {
            fields.push(f.as_ref().clone());
            cols.push(c.clone());
            continue;
        }
        let rule = portrait_privacy::Field::of_column(f.name())
            .map(|m| mask::rule(role, m))
            .unwrap_or(MaskRule::Scan);
        let c = crate::utf8(c)?;
        let masked: StringArray = c
            .as_string::<i32>()
            .iter()
            .map(|v| v.map(|s| mask::mask_value(rule, s)))
            .collect();
        fields.push(Field::new(
            f.name(),
            DataType::Utf8,
            f.is_nullable() || masked.null_count() > 0,
        ));
        cols.push(Arc::new(masked));
    }
    Ok(RecordBatch::try_new(
        Arc::new(Schema::new(fields).with_metadata(batch.schema().metadata().clone())),
        cols,
    )?)
}
