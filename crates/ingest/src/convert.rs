//! Turns rows of text fields into typed Arrow columns of a canonical table, validating every
//! value against its type and domain.
//!
//! Policy: a row is *rejected* when it cannot stand (a required value missing or invalid, a
//! duplicate key, a malformed line). An invalid optional value is *dropped*: the row is kept with
//! that value empty. Both are written to the rejects file and both count against the error budget.

use std::collections::HashMap;
use std::hash::{BuildHasher, Hash, Hasher};
use std::sync::Arc;

use arrow::array::{
    ArrayRef, BooleanBuilder, Date32Builder, Decimal128Builder, Float64Builder, Int64Builder,
    StringBuilder, TimestampMicrosecondBuilder,
};
use arrow::datatypes::{DataType, Field, Schema, SchemaRef, TimeUnit};
use arrow::record_batch::RecordBatch;
use chrono::NaiveDate;
use portrait_types::model::{ColumnDef, ColumnType, Domain, TableDef};
use portrait_types::{IdCardNo, MobileNo, Uscc, region};

use crate::mapping::Mapping;
use crate::parse;

/// The Arrow schema of a canonical table: every model column, in model order.
pub fn arrow_schema(table: &TableDef) -> SchemaRef {
    let fields: Vec<Field> = table
        .columns
        .iter()
        .map(|c| Field::new(c.name, arrow_type(c.ty), true))
        .collect();
    Arc::new(Schema::new(fields))
}

pub fn arrow_type(ty: ColumnType) -> DataType {
    match ty {
        ColumnType::Text => DataType::Utf8,
        ColumnType::Date => DataType::Date32,
        ColumnType::Timestamp => DataType::Timestamp(TimeUnit::Microsecond, None),
        ColumnType::Amount => DataType::Decimal128(18, 2),
        ColumnType::Int => DataType::Int64,
        ColumnType::Float => DataType::Float64,
        ColumnType::Bool => DataType::Boolean,
    }
}

/// `str::trim` without its per-character walk when the ends are plain ASCII.
fn trim(s: &str) -> &str {
    match (s.as_bytes().first(), s.as_bytes().last()) {
        (Some(&a), Some(&z)) if a.is_ascii_graphic() && z.is_ascii_graphic() => s,
        (None, _) | (_, None) => s,
        _ => s.trim(),
    }
}

/// Personal data is never echoed in reasons.
fn is_personal(c: &ColumnDef) -> bool {
    matches!(c.domain, Domain::IdNo | Domain::Mobile | Domain::Email)
        || matches!(
            c.name,
            "name" | "surname" | "given_name" | "phone" | "address" | "birth_date" | "legal_rep"
        )
}

/// One problem with one row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reject {
    pub line: u64,
    /// 1-based source column and its header, when one column is at fault.
    pub column: Option<(usize, String)>,
    pub reason: String,
    /// `rejected` (the row is not loaded) or `dropped` (the row is loaded without this value).
    pub action: Action,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    Rejected,
    Dropped,
}

impl Action {
    pub fn as_str(self) -> &'static str {
        match self {
            Action::Rejected => "rejected",
            Action::Dropped => "dropped",
        }
    }
}

#[derive(Debug, Clone)]
enum Val<'f> {
    Null,
    Str(&'f str),
    Static(&'static str),
    Owned(String),
    Date(i32),
    Ts(i64),
    Amount(i128),
    Int(i64),
    Float(f64),
    Bool(bool),
}

impl Val<'_> {
    fn text(&self) -> Option<&str> {
        match self {
            Val::Str(s) => Some(s),
            Val::Static(s) => Some(s),
            Val::Owned(s) => Some(s),
            _ => None,
        }
    }

    fn hash_into(&self, h: &mut impl Hasher) {
        match self {
            Val::Null => 0u8.hash(h),
            Val::Str(_) | Val::Static(_) | Val::Owned(_) => self.text().hash(h),
            Val::Date(d) => d.hash(h),
            Val::Ts(t) => t.hash(h),
            Val::Amount(a) => a.hash(h),
            Val::Int(i) => i.hash(h),
            Val::Float(f) => f.to_bits().hash(h),
            Val::Bool(b) => b.hash(h),
        }
    }
}

enum Builder {
    Text(StringBuilder),
    Date(Date32Builder),
    Ts(TimestampMicrosecondBuilder),
    Amount(Decimal128Builder),
    Int(Int64Builder),
    Float(Float64Builder),
    Bool(BooleanBuilder),
}

impl Builder {
    fn new(ty: ColumnType, cap: usize) -> Self {
        match ty {
            ColumnType::Text => Builder::Text(StringBuilder::with_capacity(cap, cap * 8)),
            ColumnType::Date => Builder::Date(Date32Builder::with_capacity(cap)),
            ColumnType::Timestamp => Builder::Ts(TimestampMicrosecondBuilder::with_capacity(cap)),
            ColumnType::Amount => Builder::Amount(
                Decimal128Builder::with_capacity(cap)
                    .with_precision_and_scale(18, 2)
                    .expect("valid decimal"),
            ),
            ColumnType::Int => Builder::Int(Int64Builder::with_capacity(cap)),
            ColumnType::Float => Builder::Float(Float64Builder::with_capacity(cap)),
            ColumnType::Bool => Builder::Bool(BooleanBuilder::with_capacity(cap)),
        }
    }

    fn push(&mut self, v: &Val) {
        match (self, v) {
            (Builder::Text(b), v) => b.append_option(v.text()),
            (Builder::Date(b), Val::Date(d)) => b.append_value(*d),
            (Builder::Ts(b), Val::Ts(t)) => b.append_value(*t),
            (Builder::Amount(b), Val::Amount(a)) => b.append_value(*a),
            (Builder::Int(b), Val::Int(i)) => b.append_value(*i),
            (Builder::Float(b), Val::Float(f)) => b.append_value(*f),
            (Builder::Bool(b), Val::Bool(x)) => b.append_value(*x),
            (Builder::Date(b), _) => b.append_null(),
            (Builder::Ts(b), _) => b.append_null(),
            (Builder::Amount(b), _) => b.append_null(),
            (Builder::Int(b), _) => b.append_null(),
            (Builder::Float(b), _) => b.append_null(),
            (Builder::Bool(b), _) => b.append_null(),
        }
    }

    fn finish(&mut self) -> ArrayRef {
        match self {
            Builder::Text(b) => Arc::new(b.finish()),
            Builder::Date(b) => Arc::new(b.finish()),
            Builder::Ts(b) => Arc::new(b.finish()),
            Builder::Amount(b) => Arc::new(b.finish()),
            Builder::Int(b) => Arc::new(b.finish()),
            Builder::Float(b) => Arc::new(b.finish()),
            Builder::Bool(b) => Arc::new(b.finish()),
        }
    }
}

/// The typed rows of one chunk, with the source line and key hash of each row.
pub struct Converted {
    pub batch: RecordBatch,
    pub lines: Vec<u64>,
    /// Present when the file carries the table's whole key.
    pub keys: Option<Vec<u128>>,
}

/// What a [`Converter`] needs to know, shared by every worker of one file.
pub struct Plan {
    pub mapping: Mapping,
    pub schema: SchemaRef,
    today: NaiveDate,
    codes: Vec<Option<HashMap<String, &'static str>>>,
    key_cols: Option<Vec<usize>>,
    hasher: (ahash::RandomState, ahash::RandomState),
    idx: KnownColumns,
}

#[derive(Default)]
struct KnownColumns {
    id_type: Option<usize>,
    id_no: Option<usize>,
    gender: Option<usize>,
    birth_date: Option<usize>,
    province: Option<usize>,
}

impl Plan {
    pub fn new(mapping: Mapping, today: NaiveDate) -> Self {
        let table = mapping.table;
        let codes = table
            .columns
            .iter()
            .map(|c| match c.domain {
                Domain::Codes(list) => Some(
                    list.iter()
                        .flat_map(|code| {
                            code.spellings
                                .iter()
                                .map(move |s| (s.to_lowercase(), code.code))
                        })
                        .collect(),
                ),
                _ => None,
            })
            .collect();
        let pos = |n: &str| table.columns.iter().position(|c| c.name == n);
        let key_cols = mapping.has_key().then(|| {
            table
                .key
                .iter()
                .map(|k| pos(k).expect("key column"))
                .collect()
        });
        let idx = KnownColumns {
            id_type: pos("id_type"),
            id_no: pos("id_no"),
            gender: pos("gender"),
            birth_date: pos("birth_date"),
            province: pos("province"),
        };
        let hasher = (
            ahash::RandomState::with_seeds(1, 2, 3, 4),
            ahash::RandomState::with_seeds(5, 6, 7, 8),
        );
        Self {
            schema: arrow_schema(table),
            mapping,
            today,
            codes,
            key_cols,
            hasher,
            idx,
        }
    }

    pub fn converter(&self, capacity: usize) -> Converter<'_> {
        let builders = self
            .mapping
            .table
            .columns
            .iter()
            .map(|c| Builder::new(c.ty, capacity))
            .collect();
        Converter {
            plan: self,
            builders,
            lines: Vec::with_capacity(capacity),
            keys: Vec::new(),
        }
    }
}

/// Accumulates rows of one chunk.
pub struct Converter<'p> {
    plan: &'p Plan,
    builders: Vec<Builder>,
    lines: Vec<u64>,
    keys: Vec<u128>,
}

impl Converter<'_> {
    /// Validates one row (`fields` indexed by source column) and appends it, or records why not.
    pub fn push_row(&mut self, fields: &[&str], line: u64, rejects: &mut Vec<Reject>) {
        let plan = self.plan;
        let m = &plan.mapping;
        let table = m.table;
        let n_src = m.headers.len();
        if fields.len() != n_src
            && !(fields.len() > n_src && fields[n_src..].iter().all(|f| f.trim().is_empty()))
        {
            let reason = if fields.len() < n_src {
                format!(
                    "expected {n_src} fields as in the header, found {}",
                    fields.len()
                )
            } else {
                format!(
                    "expected {n_src} fields as in the header, found {} (extra values past the last column)",
                    fields.len()
                )
            };
            rejects.push(Reject {
                line,
                column: None,
                reason,
                action: Action::Rejected,
            });
            return;
        }
        let col_ref = |s: usize| Some((s + 1, m.headers[s].clone()));
        let mut vals: Vec<Val> = Vec::with_capacity(table.columns.len());
        let mut dropped = Vec::new();
        for (i, c) in table.columns.iter().enumerate() {
            let Some(s) = m.source_of[i] else {
                vals.push(Val::Null);
                continue;
            };
            let raw = trim(fields[s]);
            if raw.is_empty() {
                if c.required {
                    rejects.push(Reject {
                        line,
                        column: col_ref(s),
                        reason: format!("required value `{}` is empty", c.name),
                        action: Action::Rejected,
                    });
                    return;
                }
                vals.push(Val::Null);
                continue;
            }
            let time = m.time_source_of[i]
                .map(|t| fields[t].trim())
                .filter(|t| !t.is_empty());
            match self.value(i, c, raw, time) {
                Ok(v) => vals.push(v),
                Err((reason, at_time)) => {
                    let src = if at_time {
                        m.time_source_of[i].unwrap_or(s)
                    } else {
                        s
                    };
                    let reason = format!("`{}`: {reason}", c.name);
                    if c.required {
                        rejects.push(Reject {
                            line,
                            column: col_ref(src),
                            reason,
                            action: Action::Rejected,
                        });
                        return;
                    }
                    dropped.push(Reject {
                        line,
                        column: col_ref(src),
                        reason,
                        action: Action::Dropped,
                    });
                    vals.push(Val::Null);
                }
            }
        }
        self.check_id(&mut vals, line, &mut dropped);
        if let Some(key_cols) = &plan.key_cols {
            let mut a = plan.hasher.0.build_hasher();
            let mut b = plan.hasher.1.build_hasher();
            for &k in key_cols {
                vals[k].hash_into(&mut a);
                vals[k].hash_into(&mut b);
            }
            self.keys
                .push((u128::from(a.finish()) << 64) | u128::from(b.finish()));
        }
        for (b, v) in self.builders.iter_mut().zip(&vals) {
            b.push(v);
        }
        self.lines.push(line);
        rejects.append(&mut dropped);
    }

    fn value<'f>(
        &self,
        i: usize,
        c: &ColumnDef,
        raw: &'f str,
        time: Option<&str>,
    ) -> Result<Val<'f>, (String, bool)> {
        let e = |r: String| (r, false);
        Ok(match c.ty {
            ColumnType::Text => match c.domain {
                Domain::Codes(_) => {
                    let map = self.plan.codes[i].as_ref().expect("code map");
                    match map.get(raw).or_else(|| map.get(&raw.to_lowercase())) {
                        Some(code) => Val::Static(code),
                        None => {
                            let Domain::Codes(list) = c.domain else {
                                unreachable!()
                            };
                            let valid: Vec<&str> = list.iter().map(|c| c.code).collect();
                            let shown = if is_personal(c) {
                                "value".to_string()
                            } else {
                                format!("`{raw}`")
                            };
                            return Err(e(format!(
                                "unknown {shown}; expected one of {}",
                                valid.join(", ")
                            )));
                        }
                    }
                }
                Domain::Mobile => Val::Owned(
                    MobileNo::parse(raw)
                        .map_err(|x| e(format!("not a mainland mobile number: {x}")))?
                        .expose()
                        .to_string(),
                ),
                Domain::Email => {
                    parse::email(raw).map_err(e)?;
                    Val::Str(raw)
                }
                Domain::Uscc => Val::Owned(
                    Uscc::parse(raw)
                        .map_err(|x| e(format!("not a unified social credit code: {x}")))?
                        .as_str()
                        .to_string(),
                ),
                _ => Val::Str(raw),
            },
            ColumnType::Date => Val::Date(parse::date_to_days(parse::date(raw).map_err(e)?)),
            ColumnType::Timestamp => {
                let mut ts = parse::timestamp(raw).map_err(e)?;
                if let Some(t) = time {
                    ts = ts.date().and_time(parse::time(t).map_err(|r| (r, true))?);
                }
                Val::Ts(parse::timestamp_micros(ts))
            }
            ColumnType::Amount => {
                let v = parse::amount(raw).map_err(e)?;
                if c.domain == Domain::NonNegative && v < 0 {
                    return Err(e(format!("must not be negative, found `{raw}`")));
                }
                Val::Amount(v)
            }
            ColumnType::Int => {
                let v = parse::int(raw).map_err(e)?;
                match c.domain {
                    Domain::NonNegative if v < 0 => {
                        return Err(e(format!("must not be negative, found `{raw}`")));
                    }
                    Domain::Range(lo, hi) if !(lo..=hi).contains(&v) => {
                        return Err(e(format!("must be between {lo} and {hi}, found `{raw}`")));
                    }
                    _ => {}
                }
                Val::Int(v)
            }
            ColumnType::Float => Val::Float(parse::float(raw).map_err(e)?),
            ColumnType::Bool => Val::Bool(parse::boolean(raw).map_err(e)?),
        })
    }

    /// Validates a resident ID number and fills birth date, gender and province from it when the
    /// row lacks them (SPEC §2: derived fields).
    fn check_id(&self, vals: &mut [Val], line: u64, dropped: &mut Vec<Reject>) {
        let k = &self.plan.idx;
        let Some(id_i) = k.id_no else { return };
        let Some(raw) = vals[id_i].text().map(str::to_string) else {
            return;
        };
        let resident = match k.id_type.map(|t| &vals[t]) {
            Some(Val::Static(code)) => *code == "resident_id",
            _ => true,
        };
        if !resident {
            return;
        }
        let src = self.plan.mapping.source_of[id_i].expect("id column mapped");
        match IdCardNo::parse(&raw, self.plan.today) {
            Ok(id) => {
                if let Some(b) = k.birth_date {
                    if matches!(vals[b], Val::Null) {
                        vals[b] = Val::Date(parse::date_to_days(id.birth_date()));
                    }
                }
                if let Some(g) = k.gender {
                    if matches!(vals[g], Val::Null) {
                        vals[g] = Val::Static(id.gender().code());
                    }
                }
                if let Some(p) = k.province {
                    if matches!(vals[p], Val::Null) {
                        if let Some(prov) = region::province_by_code(id.province_code()) {
                            vals[p] = Val::Static(prov.name);
                        }
                    }
                }
                vals[id_i] = Val::Owned(id.expose().to_string());
            }
            Err(err) => {
                vals[id_i] = Val::Null;
                dropped.push(Reject {
                    line,
                    column: Some((src + 1, self.plan.mapping.headers[src].clone())),
                    reason: format!("`id_no`: not a valid resident ID number: {err}"),
                    action: Action::Dropped,
                });
            }
        }
    }

    /// Hands over the rows accumulated so far.
    pub fn finish(&mut self) -> Converted {
        let columns = self.builders.iter_mut().map(Builder::finish).collect();
        let batch = RecordBatch::try_new(self.plan.schema.clone(), columns)
            .expect("builders match the schema");
        let keys = self
            .plan
            .key_cols
            .as_ref()
            .map(|_| std::mem::take(&mut self.keys));
        Converted {
            batch,
            lines: std::mem::take(&mut self.lines),
            keys,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow::array::{Array, AsArray};
    use arrow::datatypes::Date32Type;
    use portrait_types::model::table;

    fn plan(table_name: &str, headers: &[&str]) -> Plan {
        let m = Mapping::resolve(
            table(table_name).unwrap(),
            headers.iter().map(|s| s.to_string()).collect(),
            None,
            "f.csv",
        )
        .unwrap();
        Plan::new(m, NaiveDate::from_ymd_opt(2026, 11, 25).unwrap())
    }

    #[test]
    fn derived_fields_fill_from_the_id_number() {
        let p = plan("customer", &["客户号", "证件号码", "性别"]);
        let mut c = p.converter(4);
        let mut rej = Vec::new();
        c.push_row(&["C1", "11010519491231002x", ""], 2, &mut rej);
        c.push_row(&["C2", "110105194912310021", "男"], 3, &mut rej);
        assert_eq!(rej.len(), 1);
        assert_eq!(rej[0].line, 3);
        assert_eq!(rej[0].column, Some((2, "证件号码".into())));
        assert_eq!(rej[0].action, Action::Dropped);
        assert!(
            !rej[0].reason.contains("110105194912310021"),
            "personal data echoed: {}",
            rej[0].reason
        );
        let out = c.finish();
        let b = &out.batch;
        let id = b.column_by_name("id_no").unwrap().as_string::<i32>();
        assert_eq!(id.value(0), "11010519491231002X");
        assert!(id.is_null(1));
        let g = b.column_by_name("gender").unwrap().as_string::<i32>();
        assert_eq!((g.value(0), g.value(1)), ("F", "M"));
        let bd = b
            .column_by_name("birth_date")
            .unwrap()
            .as_primitive::<Date32Type>();
        assert_eq!(
            bd.value(0),
            parse::date_to_days(NaiveDate::from_ymd_opt(1949, 12, 31).unwrap())
        );
        assert_eq!(
            b.column_by_name("province")
                .unwrap()
                .as_string::<i32>()
                .value(0),
            "北京市"
        );
    }

    #[test]
    fn required_values_reject_the_row_and_codes_normalise() {
        let p = plan(
            "transaction",
            &[
                "交易流水号",
                "客户号",
                "交易日期",
                "交易时间",
                "交易金额",
                "借贷标志",
            ],
        );
        let mut c = p.converter(4);
        let mut rej = Vec::new();
        c.push_row(
            &["T1", "C1", "20240102", "10:11:12", "1,000.50", "借"],
            2,
            &mut rej,
        );
        c.push_row(
            &["T2", "C1", "20240230", "10:11:12", "1", "贷"],
            3,
            &mut rej,
        );
        c.push_row(
            &["T3", "C1", "20240102", "10:11:12", "abc", "贷"],
            4,
            &mut rej,
        );
        c.push_row(
            &["T4", "C1", "20240102", "10:11:12", "5", "sideways"],
            5,
            &mut rej,
        );
        c.push_row(&["T5", "C1", "20240102"], 6, &mut rej);
        let lines: Vec<_> = rej.iter().map(|r| (r.line, r.action)).collect();
        assert_eq!(
            lines,
            vec![
                (3, Action::Rejected),
                (4, Action::Rejected),
                (5, Action::Dropped),
                (6, Action::Rejected)
            ]
        );
        assert_eq!(rej[0].column, Some((3, "交易日期".into())));
        let out = c.finish();
        assert_eq!(out.lines, vec![2, 5]);
        let dir = out
            .batch
            .column_by_name("direction")
            .unwrap()
            .as_string::<i32>();
        assert_eq!(dir.value(0), "debit");
        assert!(dir.is_null(1));
        let keys = out.keys.unwrap();
        assert_ne!(keys[0], keys[1]);
    }
}
