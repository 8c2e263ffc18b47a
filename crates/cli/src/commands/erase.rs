//! `portrait erase CUST_NO`: the right to erasure.
#![allow(clippy::print_stdout)]

use std::path::Path;

use anyhow::Result;
use portrait_store::Store;

use crate::args::{EraseArgs, RunArgs};
use crate::settings::ConfigFile;
use crate::text::thousands;

pub async fn run(store_dir: &Path, config: &ConfigFile, a: &EraseArgs, quiet: bool) -> Result<()> {
    let store = Store::open(store_dir)?;
    if a.reason.trim().is_empty() {
        anyhow::bail!("an erasure needs a `--reason` (the request's reference) for the audit log");
    }
    // The audit log keeps that an erasure happened, not whom it erased in clear. The request
    // is recorded before anything changes, so a crash part-way leaves a record of it.
    let masked = portrait_types::mask_keep(&a.cust_no, 2, 2);
    let privacy = portrait_privacy::Privacy::open(store_dir)?;
    let record = |action: &str, params: serde_json::Value, rows: u64, status: u16| {
        privacy.audit(&portrait_privacy::NewAudit {
            user: &a.by,
            role: "cli",
            action,
            params,
            rows,
            status,
            export_id: None,
            request_id: None,
        })
    };
    record(
        "erase.request",
        serde_json::json!({"cust_no": masked, "reason": a.reason}),
        0,
        202,
    )?;
    let r = match portrait_engine::erase::erase(&store, &a.cust_no).await {
        Ok(r) => r,
        Err(e) => {
            let status = if e.is_user_error() { 404 } else { 500 };
            record(
                "erase",
                serde_json::json!({"cust_no": masked, "reason": a.reason}),
                0,
                status,
            )?;
            return Err(e.into());
        }
    };
    let total: u64 = r.removed.iter().map(|(_, n)| n).sum();
    privacy.audit(&portrait_privacy::NewAudit {
        user: &a.by,
        role: "cli",
        action: "erase",
        params: serde_json::json!({
            "cust_no": masked, "reason": a.reason, "parties": r.parties.len(),
            "tables": r.removed.iter().map(|(t, n)| serde_json::json!({"table": t, "rows": n})).collect::<Vec<_>>(),
            "dropped": r.dropped,
        }),
        rows: total,
        status: 200,
        export_id: None,
        request_id: None,
    })?;
    drop(privacy);
    eprintln!(
        "erased customer {masked}: {} rows from {} tables; dropped {}",
        thousands(total),
        r.removed.len(),
        if r.dropped.is_empty() {
            "nothing".to_string()
        } else {
            r.dropped.join(", ")
        }
    );
    for (t, n) in &r.removed {
        println!("{t}\t{n}");
    }
    if a.no_rebuild
        || Store::open(store_dir)?
            .table(portrait_engine::features::TABLE)
            .is_none()
    {
        return Ok(());
    }
    eprintln!("recomputing the derived tables and the tag index");
    let run = RunArgs {
        as_of: None,
        format: crate::args::ReportFormat::Table,
    };
    super::run_stages(store_dir, config, run, quiet).await?;
    Ok(())
}
