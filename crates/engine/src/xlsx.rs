//! Excel workbooks of query results, exports and reports: one sheet per table with a bold,
//! frozen, filterable header row in the chosen language and typed cells (numbers, percentages,
//! dates, booleans), then a sheet that describes every column and where the data came from
//! (the query or expression, the as-of date, the masking, the export id of the watermark).
//!
//! Sheets are written row by row in constant memory (their rows go to a temporary file next to
//! the output), so an export of millions of rows does not hold them; a table longer than a
//! sheet's 1,048,575 data rows continues on the next sheet, with the header repeated.

use std::path::Path;

use arrow::array::{Array, AsArray};
use arrow::datatypes::{DataType, SchemaRef, TimeUnit};
use arrow::record_batch::RecordBatch;
use rust_xlsxwriter::{DocProperties, Format, FormatAlign, Workbook as Xlsx, XlsxError};

use crate::labels::{self, Lang};
use crate::{EngineError, Result};

/// Data rows of one sheet: Excel's 1,048,576 rows less the header.
pub const SHEET_ROWS: u32 = 1_048_575;
/// Characters of one cell; longer text is cut there.
pub const CELL_CHARS: usize = 32_767;
/// Days between Excel's day 0 (1899-12-30) and 1970-01-01.
const UNIX_EPOCH_SERIAL: f64 = 25_569.0;
/// Excel serial of 1900-03-01: earlier dates are written as text (Excel's 1900 calendar
/// counts a 29 February 1900 that did not exist).
const FIRST_SERIAL: f64 = 61.0;
/// Excel serial of 10000-01-01: later dates are written as text too.
const LAST_SERIAL: f64 = 2_958_466.0;

/// Where a workbook's data came from, for its description sheet.
#[derive(Debug, Clone, Default)]
pub struct About {
    pub title: String,
    /// `(label, value)` lines: the query or expression, the as-of date, the masking, ….
    pub lines: Vec<(String, String)>,
    /// The export id that the `watermark` column and the audit record carry.
    pub export_id: Option<String>,
}

struct Open {
    name: String,
    schema: SchemaRef,
    sheet: usize,
    part: u32,
    row: u32,
    rows: u64,
    kinds: Vec<Kind>,
}

#[derive(Debug, Clone, Copy)]
enum Kind {
    Text,
    Int,
    Decimal,
    /// A number shown as Excel shows it (test statistics and p-values span many magnitudes).
    Plain,
    Percent,
    Bool,
    Date,
    Timestamp(TimeUnit),
    Other,
}

/// A workbook being written.
pub struct Workbook {
    book: Xlsx,
    lang: Lang,
    header: Format,
    int: Format,
    decimal: Format,
    percent: Format,
    date: Format,
    timestamp: Format,
    sheets: usize,
    open: Option<Open>,
    /// `(table, rows, columns)` of the tables written, for the description sheet.
    done: Vec<(String, u64, SchemaRef)>,
    truncated: u64,
    /// Columns whose coded values are written as their labels.
    translate: Vec<String>,
}

fn xlsx_err(e: XlsxError) -> EngineError {
    EngineError::Internal(format!("writing the Excel workbook: {e}"))
}

impl Workbook {
    /// A new workbook with headers in `lang`; sheet rows are kept in temporary files in
    /// `tempdir` until the workbook is saved.
    pub fn new(lang: Lang, tempdir: &Path) -> Result<Self> {
        if !tempdir.is_dir() {
            return Err(EngineError::Io {
                path: tempdir.into(),
                source: std::io::Error::new(
                    std::io::ErrorKind::NotFound,
                    "no such directory for the workbook",
                ),
            });
        }
        let mut book = Xlsx::new();
        book.set_tempdir(tempdir).map_err(xlsx_err)?;
        Ok(Self {
            book,
            lang,
            header: Format::new()
                .set_bold()
                .set_background_color(0xDDE5F0)
                .set_align(FormatAlign::Center),
            int: Format::new().set_num_format("#,##0"),
            decimal: Format::new().set_num_format("#,##0.00##"),
            percent: Format::new().set_num_format("0.00%"),
            date: Format::new().set_num_format("yyyy-mm-dd"),
            timestamp: Format::new().set_num_format("yyyy-mm-dd hh:mm:ss"),
            sheets: 0,
            open: None,
            done: Vec::new(),
            truncated: 0,
            translate: Vec::new(),
        })
    }

    pub fn lang(&self) -> Lang {
        self.lang
    }

    /// The coded values (`important_value`, `churned`, …) of these columns written as their
    /// labels in the workbook's language: for reports read by people, not for data taken
    /// elsewhere.
    pub fn translate_values(&mut self, columns: &[&str]) {
        self.translate = columns.iter().map(|c| c.to_string()).collect();
    }

    /// Starts a table on a new sheet named `name` (its rows follow with [`Workbook::write`]).
    pub fn table(&mut self, name: &str, schema: SchemaRef) -> Result<()> {
        self.close()?;
        if schema.fields().len() > 16_384 {
            return Err(EngineError::Usage(format!(
                "`{name}` has {} columns; an Excel sheet holds at most 16,384: choose fewer columns or use --format csv",
                schema.fields().len()
            )));
        }
        let kinds = schema
            .fields()
            .iter()
            .map(|f| kind(f.name(), f.data_type()))
            .collect();
        let mut open = Open {
            name: name.to_string(),
            schema,
            sheet: 0,
            part: 1,
            row: 0,
            rows: 0,
            kinds,
        };
        self.start_sheet(&mut open)?;
        self.open = Some(open);
        Ok(())
    }

    fn start_sheet(&mut self, open: &mut Open) -> Result<()> {
        let name = sheet_name(&open.name, open.part);
        let lang = self.lang;
        let ws = self
            .book
            .add_worksheet_with_constant_memory()
            .map_err(xlsx_err)?;
        ws.set_name(name).map_err(xlsx_err)?;
        for (i, f) in open.schema.fields().iter().enumerate() {
            let label = labels::field(f.name(), lang);
            let width = (label.chars().map(char_width).sum::<usize>() + 2).clamp(8, 48);
            ws.set_column_width(i as u16, width as f64)
                .map_err(xlsx_err)?;
            ws.write_string_with_format(0, i as u16, label, &self.header)
                .map_err(xlsx_err)?;
        }
        ws.set_freeze_panes(1, 0).map_err(xlsx_err)?;
        open.sheet = self.sheets;
        open.row = 0;
        self.sheets += 1;
        Ok(())
    }

    /// Appends a batch to the table started last.
    pub fn write(&mut self, batch: &RecordBatch) -> Result<()> {
        let mut open = self
            .open
            .take()
            .ok_or_else(|| EngineError::Internal("xlsx: rows written before a table".into()))?;
        if batch.num_columns() != open.schema.fields().len() {
            let n = open.schema.fields().len();
            self.open = Some(open);
            return Err(EngineError::Internal(format!(
                "xlsx: a batch of {} columns for a sheet of {n}",
                batch.num_columns()
            )));
        }
        let translate: Vec<bool> = open
            .schema
            .fields()
            .iter()
            .map(|f| self.translate.iter().any(|t| t == f.name()))
            .collect();
        let columns: Vec<std::sync::Arc<dyn Array>> = batch
            .columns()
            .iter()
            .zip(&open.kinds)
            .map(|(c, k)| prepare(c, *k))
            .collect::<Result<_>>()?;
        for r in 0..batch.num_rows() {
            if open.row == SHEET_ROWS {
                self.finish_sheet(&open)?;
                open.part += 1;
                self.start_sheet(&mut open)?;
            }
            open.row += 1;
            open.rows += 1;
            let row = open.row;
            let ws = self
                .book
                .worksheet_from_index(open.sheet)
                .map_err(xlsx_err)?;
            for (c, (col, k)) in columns.iter().zip(&open.kinds).enumerate() {
                if col.is_null(r) {
                    continue;
                }
                let c = c as u16;
                let written = match k {
                    Kind::Text | Kind::Other => {
                        let mut s = col.as_string::<i32>().value(r);
                        if translate[c as usize]
                            && let Some(l) = labels::value(s, self.lang)
                        {
                            s = l;
                        }
                        let (s, cut) = fit(s);
                        self.truncated += u64::from(cut);
                        ws.write_string(row, c, s)
                    }
                    Kind::Bool => ws.write_boolean(row, c, col.as_boolean().value(r)),
                    Kind::Int => {
                        let v = col.as_string::<i32>().value(r);
                        // A double holds every integer up to 2^53; beyond, the digits as text.
                        match v.parse::<i128>() {
                            Ok(i) if i.unsigned_abs() <= 1 << 53 => {
                                ws.write_number_with_format(row, c, i as f64, &self.int)
                            }
                            _ => ws.write_string(row, c, v),
                        }
                    }
                    Kind::Plain => {
                        let v = col.as_primitive::<arrow::datatypes::Float64Type>().value(r);
                        if !v.is_finite() {
                            ws.write_string(row, c, non_finite(v))
                        } else {
                            ws.write_number(row, c, v)
                        }
                    }
                    Kind::Decimal | Kind::Percent => {
                        let v = col.as_primitive::<arrow::datatypes::Float64Type>().value(r);
                        if !v.is_finite() {
                            ws.write_string(row, c, non_finite(v)).map_err(xlsx_err)?;
                            continue;
                        }
                        let f = if matches!(k, Kind::Percent) {
                            &self.percent
                        } else {
                            &self.decimal
                        };
                        ws.write_number_with_format(row, c, v, f)
                    }
                    Kind::Date => {
                        let days = col.as_primitive::<arrow::datatypes::Date32Type>().value(r);
                        let serial = days as f64 + UNIX_EPOCH_SERIAL;
                        if !(FIRST_SERIAL..LAST_SERIAL).contains(&serial) {
                            ws.write_string(row, c, date_text(days))
                        } else {
                            ws.write_number_with_format(row, c, serial, &self.date)
                        }
                    }
                    Kind::Timestamp(_) => {
                        let micros = col
                            .as_primitive::<arrow::datatypes::TimestampMicrosecondType>()
                            .value(r);
                        let serial = micros as f64 / 86_400_000_000.0 + UNIX_EPOCH_SERIAL;
                        if !(FIRST_SERIAL..LAST_SERIAL).contains(&serial) {
                            ws.write_string(row, c, timestamp_text(micros))
                        } else {
                            ws.write_number_with_format(row, c, serial, &self.timestamp)
                        }
                    }
                };
                written.map_err(xlsx_err)?;
            }
        }
        self.open = Some(open);
        Ok(())
    }

    fn finish_sheet(&mut self, open: &Open) -> Result<()> {
        let last_col = open.schema.fields().len().saturating_sub(1) as u16;
        let ws = self
            .book
            .worksheet_from_index(open.sheet)
            .map_err(xlsx_err)?;
        if !open.schema.fields().is_empty() {
            ws.autofilter(0, 0, open.row, last_col).map_err(xlsx_err)?;
        }
        Ok(())
    }

    fn close(&mut self) -> Result<()> {
        if let Some(open) = self.open.take() {
            self.finish_sheet(&open)?;
            self.done.push((open.name, open.rows, open.schema));
        }
        Ok(())
    }

    /// Rows written to the tables so far.
    pub fn rows(&self) -> u64 {
        self.done.iter().map(|(_, n, _)| n).sum::<u64>() + self.open.as_ref().map_or(0, |o| o.rows)
    }

    /// Adds the description sheet and writes the workbook to `path`.
    pub fn save(mut self, about: &About, path: &Path) -> Result<()> {
        self.describe(about)?;
        self.book.save(path).map_err(|e| match e {
            XlsxError::IoError(source) => EngineError::Io {
                path: path.into(),
                source,
            },
            e => xlsx_err(e),
        })
    }

    /// Adds the description sheet and returns the workbook's bytes.
    pub fn into_bytes(mut self, about: &About) -> Result<Vec<u8>> {
        self.describe(about)?;
        self.book.save_to_buffer().map_err(xlsx_err)
    }

    fn describe(&mut self, about: &About) -> Result<()> {
        self.close()?;
        let zh = self.lang == Lang::Zh;
        let mut props = DocProperties::new().set_title(&about.title);
        if let Some(id) = &about.export_id {
            props = props.set_comment(format!("export {id}"));
        }
        self.book.set_properties(&props);
        let bold = Format::new().set_bold();
        let header = self.header.clone();
        let truncated = self.truncated;
        let done = std::mem::take(&mut self.done);
        let lang = self.lang;
        let ws = self.book.add_worksheet();
        ws.set_name(if zh { "说明" } else { "About" })
            .map_err(xlsx_err)?;
        ws.set_column_width(0, 28).map_err(xlsx_err)?;
        ws.set_column_width(1, 36).map_err(xlsx_err)?;
        ws.set_column_width(2, 14).map_err(xlsx_err)?;
        ws.set_column_width(3, 80).map_err(xlsx_err)?;
        let mut row = 0u32;
        ws.write_string_with_format(row, 0, &about.title, &bold)
            .map_err(xlsx_err)?;
        row += 2;
        let mut lines = about.lines.clone();
        if let Some(id) = &about.export_id {
            lines.push((
                (if zh {
                    "导出编号（水印）"
                } else {
                    "Export id (watermark)"
                })
                .to_string(),
                id.clone(),
            ));
        }
        lines.push((
            (if zh { "生成时间" } else { "Written at" }).to_string(),
            chrono::Local::now()
                .format("%Y-%m-%d %H:%M:%S %:z")
                .to_string(),
        ));
        if truncated > 0 {
            lines.push((
                (if zh {
                    "截断的单元格"
                } else {
                    "Cells cut"
                })
                .to_string(),
                format!("{truncated} (longer than {CELL_CHARS} characters)"),
            ));
        }
        for (k, v) in &lines {
            ws.write_string_with_format(row, 0, k, &bold)
                .map_err(xlsx_err)?;
            ws.write_string(row, 1, fit(v).0).map_err(xlsx_err)?;
            row += 1;
        }
        for (table, rows, schema) in &done {
            row += 1;
            let title = if zh {
                format!("表 {table}：{rows} 行")
            } else {
                format!("Table {table}: {rows} rows")
            };
            ws.write_string_with_format(row, 0, title, &bold)
                .map_err(xlsx_err)?;
            row += 1;
            let heads: [&str; 4] = if zh {
                ["列", "表头", "类型", "说明"]
            } else {
                ["Column", "Header", "Type", "Definition"]
            };
            for (i, h) in heads.iter().enumerate() {
                ws.write_string_with_format(row, i as u16, *h, &header)
                    .map_err(xlsx_err)?;
            }
            row += 1;
            for f in schema.fields() {
                ws.write_string(row, 0, f.name()).map_err(xlsx_err)?;
                ws.write_string(row, 1, labels::field(f.name(), lang))
                    .map_err(xlsx_err)?;
                ws.write_string(row, 2, type_name(f.data_type(), zh))
                    .map_err(xlsx_err)?;
                if let Some(doc) = definition(f.name(), zh) {
                    ws.write_string(row, 3, doc).map_err(xlsx_err)?;
                }
                row += 1;
            }
        }
        Ok(())
    }
}

fn definition(column: &str, zh: bool) -> Option<String> {
    if column == "watermark" {
        return Some(
            (if zh {
                "本文件的导出编号，与审计日志中的记录相同"
            } else {
                "the export id of this file, as in its audit record"
            })
            .to_string(),
        );
    }
    labels::input_column(column)
        .map(|c| c.doc.to_string())
        .filter(|d| !d.is_empty())
}

fn type_name(t: &DataType, zh: bool) -> &'static str {
    let (z, e) = match t {
        DataType::Boolean => ("是/否", "yes/no"),
        t if t.is_integer() => ("整数", "integer"),
        t if t.is_numeric() => ("数值", "number"),
        DataType::Date32 | DataType::Date64 => ("日期", "date"),
        DataType::Timestamp(..) => ("时间", "timestamp"),
        _ => ("文本", "text"),
    };
    if zh { z } else { e }
}

/// How a column is written: rates, shares and probabilities as percentages.
fn kind(name: &str, t: &DataType) -> Kind {
    match t {
        DataType::Boolean => Kind::Bool,
        t if t.is_integer() => Kind::Int,
        t if t.is_numeric() && matches!(name, "p_value" | "chi2") => Kind::Plain,
        t if t.is_numeric() => {
            let percent = name.ends_with("_rate")
                || name.ends_with("_share")
                || name.starts_with("share_")
                || name.starts_with("ch_")
                || name == "share"
                || name.contains("probability")
                || name == "p_alive"
                || name == "browse_to_buy";
            if percent {
                Kind::Percent
            } else {
                Kind::Decimal
            }
        }
        DataType::Date32 | DataType::Date64 => Kind::Date,
        DataType::Timestamp(u, _) => Kind::Timestamp(*u),
        DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View => Kind::Text,
        _ => Kind::Other,
    }
}

/// The column cast to the one type its kind is written from.
fn prepare(c: &std::sync::Arc<dyn Array>, k: Kind) -> Result<std::sync::Arc<dyn Array>> {
    let to = match k {
        Kind::Text | Kind::Other => DataType::Utf8,
        Kind::Bool => return Ok(c.clone()),
        // Integers as their digits: exact whatever their width.
        Kind::Int => DataType::Utf8,
        Kind::Decimal | Kind::Plain | Kind::Percent => DataType::Float64,
        Kind::Date => DataType::Date32,
        Kind::Timestamp(_) => DataType::Timestamp(TimeUnit::Microsecond, None),
    };
    // A time zone is dropped: the instant is written as the wall time of UTC.
    let c = match (k, c.data_type()) {
        (Kind::Timestamp(u), DataType::Timestamp(_, Some(_))) => {
            arrow::compute::cast(c, &DataType::Timestamp(u, None))?
        }
        _ => c.clone(),
    };
    if c.data_type() == &to {
        return Ok(c);
    }
    Ok(arrow::compute::cast(&c, &to)?)
}

/// `s` cut to what a cell holds (Excel counts UTF-16 units), and whether it was cut.
fn fit(s: &str) -> (String, bool) {
    if s.len() <= CELL_CHARS || s.encode_utf16().count() <= CELL_CHARS {
        return (s.to_string(), false);
    }
    let mut units = 0;
    let cut: String = s
        .chars()
        .take_while(|c| {
            units += c.len_utf16();
            units <= CELL_CHARS
        })
        .collect();
    (cut, true)
}

/// NaN and the infinities as the CSV writes them: a cell cannot hold them as numbers.
fn non_finite(v: f64) -> &'static str {
    if v.is_nan() {
        "NaN"
    } else if v > 0.0 {
        "inf"
    } else {
        "-inf"
    }
}

fn date_text(days: i32) -> String {
    chrono::DateTime::from_timestamp(days as i64 * 86_400, 0)
        .map(|d| d.format("%Y-%m-%d").to_string())
        .unwrap_or_default()
}

fn timestamp_text(micros: i64) -> String {
    chrono::DateTime::from_timestamp_micros(micros)
        .map(|d| d.format("%Y-%m-%d %H:%M:%S").to_string())
        .unwrap_or_default()
}

/// Excel's sheet name: at most 31 characters, none of `[]:*?/\`, a part number after the
/// first sheet of a table.
fn sheet_name(table: &str, part: u32) -> String {
    let clean: String = table
        .chars()
        .map(|c| if "[]:*?/\\".contains(c) { '_' } else { c })
        .collect();
    let suffix = if part > 1 {
        format!(" ({part})")
    } else {
        String::new()
    };
    let keep = 31 - suffix.chars().count();
    let mut name: String = clean.chars().take(keep).collect();
    if name.trim().is_empty() {
        name = "data".into();
    }
    name + &suffix
}

/// Column width units of a character: CJK characters take two.
fn char_width(c: char) -> usize {
    if c.len_utf8() >= 3 { 2 } else { 1 }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sheet_names_are_valid_and_numbered() {
        assert_eq!(sheet_name("a/b:c", 1), "a_b_c");
        assert_eq!(sheet_name("", 1), "data");
        let long = "x".repeat(40);
        assert_eq!(sheet_name(&long, 1).chars().count(), 31);
        let n = sheet_name(&long, 12);
        assert!(n.ends_with(" (12)") && n.chars().count() == 31, "{n}");
    }

    #[test]
    fn cells_are_cut_by_excel_units() {
        let (s, cut) = fit(&"😀".repeat(20_000));
        assert!(cut && s.encode_utf16().count() <= CELL_CHARS, "{}", s.len());
        let (s, cut) = fit("短");
        assert!(!cut && s == "短");
    }

    #[test]
    fn rates_and_probabilities_are_percentages() {
        assert!(matches!(
            kind("churn_probability", &DataType::Float64),
            Kind::Percent
        ));
        assert!(matches!(
            kind("campaign_response_rate", &DataType::Float64),
            Kind::Percent
        ));
        assert!(matches!(kind("clv", &DataType::Float64), Kind::Decimal));
        assert!(matches!(kind("frequency", &DataType::Int64), Kind::Int));
    }
}
