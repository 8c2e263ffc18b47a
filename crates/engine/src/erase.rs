//! `erase`: removes a customer number from the store — every input row that names it and every
//! derived row of its party — in one commit. The derived tables of the party's other members
//! are then recomputed by the pipeline (`portrait run`).

use std::collections::BTreeSet;

use arrow::array::{Array, AsArray};
use portrait_store::Store;

use crate::{EngineError, Result, open_session};

/// Columns that name a customer number: rows naming the erased one go.
const CUSTOMER_COLUMNS: [&str; 2] = ["cust_no", "related_cust_no"];
/// Columns that name the other side of another customer's row (a transfer's counterparty):
/// the row stays, the value is blanked.
const BLANKED_COLUMNS: [&str; 1] = ["counterparty"];
/// Columns that name a party.
const PARTY_COLUMNS: [&str; 3] = ["party_id", "party_a", "party_b"];
/// Tables that hold a dense party numbering or bitmaps over it: dropped, rebuilt by `tags build`.
const INDEX_TABLES: [&str; 4] = ["tag", "tag_index", "tag_party", "tag_catalog"];

/// What an erasure removed.
#[derive(Debug, Clone, serde::Serialize)]
pub struct EraseReport {
    pub cust_no: String,
    pub parties: Vec<String>,
    /// Rows removed per table.
    pub removed: Vec<(String, u64)>,
    /// Tables dropped whole (the tag index), to be rebuilt.
    pub dropped: Vec<String>,
}

fn quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', "''"))
}

/// Removes `cust_no` and its party's derived rows. Fails, changing nothing, when no input table
/// holds the customer number.
pub async fn erase(store: &Store, cust_no: &str) -> Result<EraseReport> {
    let ctx = open_session(store).await?;
    let count = |sql: String| {
        let ctx = ctx.clone();
        async move {
            let b = ctx.sql(&sql).await?.collect().await?;
            let a = arrow::compute::cast(b[0].column(0), &arrow::datatypes::DataType::UInt64)?;
            Ok::<u64, EngineError>(a.as_primitive::<arrow::datatypes::UInt64Type>().value(0))
        }
    };
    // The customer number must be somewhere: in the customer master or in any other input
    // that names customers (a store of transactions alone has no master).
    let mut known = false;
    for table in crate::pipeline::CUSTOMER_TABLES
        .iter()
        .chain(&[crate::identity::PARTY_MEMBER])
        .filter(|t| store.table(t).is_some())
    {
        let n = count(format!(
            "SELECT count(*) FROM \"{table}\" WHERE CAST(cust_no AS VARCHAR) = {}",
            quote(cust_no)
        ))
        .await?;
        if n > 0 {
            known = true;
            break;
        }
    }
    if !known {
        let hint = if store.table("customer").is_some() {
            "hint: `portrait sql \"SELECT cust_no, name FROM customer WHERE name LIKE '张%'\"` finds customer numbers"
        } else {
            "hint: `portrait sql \"SELECT DISTINCT cust_no FROM party_member LIMIT 20\"` lists customer numbers"
        };
        return Err(EngineError::Usage(format!(
            "no customer `{cust_no}` in the store\n{hint}"
        )));
    }
    let mut parties: BTreeSet<String> = BTreeSet::new();
    parties.insert(cust_no.to_string());
    if store.table(crate::identity::PARTY_MEMBER).is_some() {
        for b in ctx
            .sql(&format!(
                "SELECT party_id FROM party_member WHERE cust_no = {}",
                quote(cust_no)
            ))
            .await?
            .collect()
            .await?
        {
            let a = crate::utf8(b.column(0))?;
            let a = a.as_string::<i32>();
            parties.extend(
                (0..a.len())
                    .filter(|&i| a.is_valid(i))
                    .map(|i| a.value(i).to_string()),
            );
        }
    }
    let party_list = parties
        .iter()
        .map(|p| quote(p))
        .collect::<Vec<_>>()
        .join(", ");

    let mut txn = store.begin()?;
    let mut removed = Vec::new();
    let mut dropped = Vec::new();
    let names: Vec<String> = store.manifest().tables.keys().cloned().collect();
    for table in names {
        if INDEX_TABLES.contains(&table.as_str()) {
            txn.drop_table(&table);
            dropped.push(table);
            continue;
        }
        let stored = crate::session::stored_name(&table);
        let df = ctx.table(stored.as_str()).await?;
        let columns: Vec<String> = df
            .schema()
            .fields()
            .iter()
            .map(|f| f.name().clone())
            .collect();
        let mut preds = Vec::new();
        let mut blanked = Vec::new();
        let mut select = Vec::new();
        for c in &columns {
            let col = format!("\"{}\"", c.replace('"', "\"\""));
            if BLANKED_COLUMNS.contains(&c.as_str()) {
                blanked.push(format!(
                    "COALESCE(CAST({col} AS VARCHAR) = {}, false)",
                    quote(cust_no)
                ));
                select.push(format!(
                    "CASE WHEN CAST({col} AS VARCHAR) = {} THEN NULL ELSE {col} END AS {col}",
                    quote(cust_no)
                ));
            } else {
                select.push(col.clone());
            }
            if CUSTOMER_COLUMNS.contains(&c.as_str()) {
                preds.push(format!(
                    "COALESCE(CAST({col} AS VARCHAR) = {}, false)",
                    quote(cust_no)
                ));
            }
            if PARTY_COLUMNS.contains(&c.as_str()) {
                preds.push(format!(
                    "COALESCE(CAST({col} AS VARCHAR) IN ({party_list}), false)"
                ));
            }
        }
        if preds.is_empty() && blanked.is_empty() {
            continue;
        }
        let pred = if preds.is_empty() {
            "false".to_string()
        } else {
            preds.join(" OR ")
        };
        let touched = if blanked.is_empty() {
            "false".to_string()
        } else {
            blanked.join(" OR ")
        };
        let quoted = if stored == table {
            format!("\"{}\"", table.replace('"', "\"\""))
        } else {
            stored.clone()
        };
        let n = count(format!(
            "SELECT count(*) FROM {quoted} WHERE ({pred}) OR ({touched})"
        ))
        .await?;
        if n == 0 {
            continue;
        }
        let keep = ctx
            .sql(&format!(
                "SELECT {} FROM {quoted} WHERE NOT ({pred})",
                select.join(", ")
            ))
            .await?;
        let dir = txn.table_dir(&table)?;
        let rows = crate::output::write_dir(keep, &dir).await?;
        if rows == 0 {
            // Nothing left: an empty directory is no table.
            txn.drop_table(&table);
            dropped.push(table.clone());
        } else {
            txn.stage(&table, rows, format!("erase: {n} rows removed"));
        }
        removed.push((table, n));
    }
    txn.commit()?;
    Ok(EraseReport {
        cust_no: cust_no.to_string(),
        parties: parties.into_iter().collect(),
        removed,
        dropped,
    })
}
