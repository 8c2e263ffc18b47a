//! 满足度 — for every attribute of every table, the share of rows with a valid value.
//!
//! Ingest empties invalid values, so a non-null value is a valid one.

use std::sync::Arc;

use arrow::array::{Float64Array, RecordBatch, StringArray, UInt64Array};
use arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use datafusion::prelude::SessionContext;
use portrait_store::Store;
use portrait_types::model;

use crate::Result;

pub fn schema() -> SchemaRef {
    Arc::new(Schema::new(vec![
        Field::new("table", DataType::Utf8, false),
        Field::new("column", DataType::Utf8, false),
        Field::new("label", DataType::Utf8, false),
        Field::new("rows", DataType::UInt64, false),
        Field::new("valid", DataType::UInt64, false),
        Field::new("coverage_pct", DataType::Float64, false),
    ]))
}

/// One row per table column, in store then model order.
pub async fn coverage(store: &Store, ctx: &SessionContext) -> Result<RecordBatch> {
    let (mut t, mut c, mut l, mut n, mut v, mut p) =
        (vec![], vec![], vec![], vec![], vec![], vec![]);
    for table in store.manifest().tables.keys() {
        let df = ctx.table(table.as_str()).await?;
        let cols: Vec<String> = df
            .schema()
            .fields()
            .iter()
            .map(|f| f.name().clone())
            .collect();
        let exprs: Vec<String> = cols.iter().map(|c| format!("count(\"{c}\")")).collect();
        let sql = format!(
            "SELECT count(*){}{} FROM \"{table}\"",
            if exprs.is_empty() { "" } else { ", " },
            exprs.join(", ")
        );
        let batches = ctx.sql(&sql).await?.collect().await?;
        let row = &batches[0];
        let get = |i: usize| {
            arrow::array::AsArray::as_primitive::<arrow::datatypes::Int64Type>(row.column(i))
                .value(0) as u64
        };
        let total = get(0);
        let def = model::table(table);
        for (i, col) in cols.iter().enumerate() {
            let valid = get(i + 1);
            t.push(table.clone());
            c.push(col.clone());
            l.push(
                def.and_then(|d| d.column(col))
                    .map_or(String::new(), |d| d.zh.to_string()),
            );
            n.push(total);
            v.push(valid);
            p.push(if total == 0 {
                0.0
            } else {
                (valid as f64 * 10000.0 / total as f64).round() / 100.0
            });
        }
    }
    Ok(RecordBatch::try_new(
        schema(),
        vec![
            Arc::new(StringArray::from(t)),
            Arc::new(StringArray::from(c)),
            Arc::new(StringArray::from(l)),
            Arc::new(UInt64Array::from(n)),
            Arc::new(UInt64Array::from(v)),
            Arc::new(Float64Array::from(p)),
        ],
    )?)
}
