//! Inputs that arrive as cells rather than bytes: Excel workbooks and Parquet files. Both are
//! turned into rows of text and validated exactly like CSV.

use std::fs::File;
use std::path::Path;

use arrow::array::{Array, AsArray};
use arrow::compute::cast;
use arrow::datatypes::DataType;
use calamine::{Data, Reader, Xlsx, open_workbook};
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;

use crate::convert::{Action, Plan, Reject};
use crate::mapping::Mapping;
use crate::sink::{Chunk, Sink};
use crate::{IngestError, LoadContext, io_err};

const ROWS_PER_CHUNK: usize = 64 * 1024;

/// Feeds rows into the sink in chunks.
struct Feeder<'p> {
    conv: crate::convert::Converter<'p>,
    rejects: Vec<Reject>,
    rows: u64,
    seq: u64,
}

impl<'p> Feeder<'p> {
    fn new(plan: &'p Plan) -> Self {
        Self {
            conv: plan.converter(ROWS_PER_CHUNK),
            rejects: Vec::new(),
            rows: 0,
            seq: 0,
        }
    }

    fn row(&mut self, fields: &[&str], line: u64, sink: &mut Sink) -> Result<(), IngestError> {
        self.rows += 1;
        self.conv.push_row(fields, line, &mut self.rejects);
        if self.rows as usize % ROWS_PER_CHUNK == 0 {
            self.flush(sink)?;
        }
        Ok(())
    }

    fn reject(&mut self, r: Reject) {
        self.rows += 1;
        self.rejects.push(r);
    }

    fn flush(&mut self, sink: &mut Sink) -> Result<(), IngestError> {
        let converted = self.conv.finish();
        let chunk = Chunk {
            seq: self.seq,
            converted,
            rejects: std::mem::take(&mut self.rejects),
            rows_read: std::mem::take(&mut self.rows),
        };
        self.seq += 1;
        sink.write(chunk)
    }
}

/// `A`, `B`, …, `Z`, `AA`, … for a 0-based column.
fn column_letter(mut c: u32) -> String {
    let mut s = Vec::new();
    loop {
        s.push(b'A' + (c % 26) as u8);
        if c < 26 {
            break;
        }
        c = c / 26 - 1;
    }
    s.reverse();
    String::from_utf8(s).expect("ascii")
}

fn cell_ref(row: u32, col: u32) -> String {
    format!("{}{}", column_letter(col), row + 1)
}

pub(crate) fn load_xlsx(
    path: &Path,
    ctx: &LoadContext,
    sink: &mut Sink,
) -> Result<(), IngestError> {
    let file = path.display().to_string();
    let structure = |line: u64, reason: String, hint: &str| IngestError::Structure {
        file: file.clone(),
        line,
        reason,
        hint: Some(hint.to_string()),
    };
    let mut wb: Xlsx<_> = open_workbook(path).map_err(|e| {
        structure(
            1,
            format!("not a readable .xlsx workbook: {e}"),
            "open and save it again in Excel or WPS as .xlsx",
        )
    })?;
    sink.report.encoding = "xlsx";
    let names = wb.sheet_names();
    let sheet = match &ctx.options.sheet {
        Some(s) if names.contains(s) => s.clone(),
        Some(s) => {
            return Err(structure(
                1,
                format!(
                    "no sheet named `{s}`; the workbook has {}",
                    names.join(", ")
                ),
                "pass one of those with `--sheet`",
            ));
        }
        None => names.first().cloned().ok_or_else(|| {
            structure(
                1,
                "the workbook has no sheets".into(),
                "export the table again",
            )
        })?,
    };
    let range = wb.worksheet_range(&sheet).map_err(|e| {
        structure(
            1,
            format!("sheet `{sheet}` cannot be read: {e}"),
            "open and save it again in Excel or WPS",
        )
    })?;
    let formulas = wb.worksheet_formula(&sheet).ok();
    let merged = wb.merge_cells_by_sheet_name(&sheet).unwrap_or_default();
    if let Some(m) = merged.first() {
        let all: Vec<String> = merged
            .iter()
            .take(5)
            .map(|d| {
                format!(
                    "{}:{}",
                    cell_ref(d.start.0, d.start.1),
                    cell_ref(d.end.0, d.end.1)
                )
            })
            .collect();
        return Err(structure(
            u64::from(m.start.0) + 1,
            format!(
                "sheet `{sheet}` has merged cells ({}): a merged cell leaves the rows it covers empty",
                all.join(", ")
            ),
            "unmerge the cells and fill in every value, then save again",
        ));
    }
    let Some((row0, col0)) = range.start() else {
        return Err(structure(
            1,
            format!("sheet `{sheet}` is empty"),
            "export the table again",
        ));
    };
    let mut rows = range.rows();
    let header: Vec<String> = rows
        .next()
        .map(|r| r.iter().map(|c| c.to_string().trim().to_string()).collect())
        .unwrap_or_default();
    let mapping = Mapping::resolve(ctx.table, header, ctx.overrides, &file)?;
    sink.start(&mapping)?;
    let plan = Plan::new(mapping, ctx.options.today);
    let mut feed = Feeder::new(&plan);
    let formula_at = |r: u32, c: u32| -> Option<String> {
        let f = formulas.as_ref()?.get_value((r, c))?;
        (!f.is_empty()).then(|| f.clone())
    };
    let mut texts: Vec<String> = Vec::new();
    for (i, cells) in rows.enumerate() {
        let r = row0 + 1 + i as u32;
        let line = u64::from(r) + 1;
        if cells.iter().all(|c| matches!(c, Data::Empty)) {
            continue;
        }
        texts.clear();
        let mut bad = None;
        for (j, cell) in cells.iter().enumerate() {
            let c = col0 + j as u32;
            let text = match cell {
                Data::Empty => {
                    if let Some(f) = formula_at(r, c) {
                        bad.get_or_insert((
                            j,
                            format!(
                                "cell {} holds the formula `={f}` but no computed value",
                                cell_ref(r, c)
                            ),
                        ));
                    }
                    String::new()
                }
                Data::String(s) => s.clone(),
                Data::Int(v) => v.to_string(),
                Data::Float(f) if f.fract() == 0.0 && f.abs() < 1e15 => format!("{}", *f as i64),
                Data::Float(f) => f.to_string(),
                Data::Bool(b) => b.to_string(),
                Data::DateTime(dt) => match dt.as_datetime() {
                    Some(t) if t.time() == chrono::NaiveTime::MIN => {
                        t.format("%Y-%m-%d").to_string()
                    }
                    Some(t) => t.format("%Y-%m-%d %H:%M:%S").to_string(),
                    None => dt.to_string(),
                },
                Data::DateTimeIso(s) | Data::DurationIso(s) => s.clone(),
                Data::Error(e) => {
                    bad.get_or_insert((
                        j,
                        format!("cell {} holds the Excel error `{e}`", cell_ref(r, c)),
                    ));
                    String::new()
                }
            };
            texts.push(text);
        }
        if let Some((j, reason)) = bad {
            let header = plan.mapping.headers.get(j).cloned().unwrap_or_default();
            feed.reject(Reject {
                line,
                column: Some((j + 1, header)),
                reason,
                action: Action::Rejected,
            });
            continue;
        }
        let fields: Vec<&str> = texts.iter().map(String::as_str).collect();
        feed.row(&fields, line, sink)?;
        (ctx.progress)(line);
    }
    feed.flush(sink)?;
    if sink.report.rows_read == 0 {
        return Err(structure(
            u64::from(row0) + 2,
            format!("sheet `{sheet}` has a header but no data rows"),
            "a full load would empty the table; check the export",
        ));
    }
    Ok(())
}

pub(crate) fn load_parquet(
    path: &Path,
    ctx: &LoadContext,
    sink: &mut Sink,
) -> Result<(), IngestError> {
    let file_name = path.display().to_string();
    let f = File::open(path).map_err(io_err(path))?;
    let bad = |e: &dyn std::fmt::Display| IngestError::Structure {
        file: file_name.clone(),
        line: 1,
        reason: format!("not a readable Parquet file: {e}"),
        hint: None,
    };
    let builder = ParquetRecordBatchReaderBuilder::try_new(f).map_err(|e| bad(&e))?;
    sink.report.encoding = "parquet";
    let headers: Vec<String> = builder
        .schema()
        .fields()
        .iter()
        .map(|f| f.name().clone())
        .collect();
    let mapping = Mapping::resolve(ctx.table, headers, ctx.overrides, &file_name)?;
    sink.start(&mapping)?;
    let plan = Plan::new(mapping, ctx.options.today);
    let reader = builder
        .with_batch_size(ROWS_PER_CHUNK)
        .build()
        .map_err(|e| bad(&e))?;
    let mut feed = Feeder::new(&plan);
    let mut row_no = 0u64;
    for batch in reader {
        let batch = batch.map_err(|e| bad(&e))?;
        let cols: Vec<arrow::array::ArrayRef> = batch
            .columns()
            .iter()
            .map(|c| cast(c, &DataType::Utf8))
            .collect::<Result<_, _>>()
            .map_err(|e| IngestError::Structure {
                file: file_name.clone(),
                line: 1,
                reason: format!("a column cannot be read as text: {e}"),
                hint: None,
            })?;
        let strs: Vec<_> = cols.iter().map(|c| c.as_string::<i32>()).collect();
        let mut fields: Vec<&str> = Vec::with_capacity(strs.len());
        for r in 0..batch.num_rows() {
            row_no += 1;
            fields.clear();
            fields.extend(
                strs.iter()
                    .map(|a| if a.is_null(r) { "" } else { a.value(r) }),
            );
            feed.row(&fields, row_no, sink)?;
        }
        (ctx.progress)(row_no);
    }
    feed.flush(sink)?;
    if sink.report.rows_read == 0 {
        return Err(IngestError::Structure {
            file: file_name,
            line: 1,
            reason: "the file has no rows".into(),
            hint: Some("a full load would empty the table; check the export".into()),
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    #[test]
    fn column_letters() {
        assert_eq!(super::column_letter(0), "A");
        assert_eq!(super::column_letter(25), "Z");
        assert_eq!(super::column_letter(26), "AA");
        assert_eq!(super::cell_ref(4, 27), "AB5");
    }
}
