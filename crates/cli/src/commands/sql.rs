use std::io::Write;
use std::path::Path;

use anyhow::{Context, Result};
use portrait_engine::open_session;
use portrait_engine::output::write_stream;
use portrait_store::Store;

use crate::args::SqlArgs;

pub async fn run(store_dir: &Path, a: &SqlArgs) -> Result<()> {
    // The versions read stay in place however long the query runs and whatever commits meanwhile.
    let (store, _pin) = Store::open_pinned(store_dir)?;
    let privacy = portrait_privacy::Privacy::open(store_dir)?;
    // Every query is on record, its literals hashed; a file it writes is an export, with an id
    // in a `watermark` column and in the record, which is made before the file is.
    let query = portrait_privacy::db::redact_query(&privacy, &a.query);
    let export_id = a
        .out
        .as_ref()
        .map(|_| portrait_privacy::db::new_export_id());
    let params = serde_json::json!({
        "query": query,
        "format": format!("{:?}", a.format).to_lowercase(),
        "out": a.out.as_ref().map(|p| p.display().to_string()),
    });
    let record = |rows: u64, status: u16| {
        privacy.audit(&portrait_privacy::NewAudit {
            user: &a.by,
            role: "cli",
            action: "cli.sql",
            params: params.clone(),
            rows,
            status,
            export_id: export_id.as_deref(),
            request_id: None,
        })
    };
    if export_id.is_some() {
        record(0, 202)?;
    }
    match execute(&store, &privacy, a, export_id.as_deref()).await {
        Ok(rows) => {
            record(rows, 200)?;
            if let (Some(id), Some(out)) = (&export_id, &a.out) {
                eprintln!(
                    "wrote {rows} rows to `{}`, watermarked {id} (`portrait audit --export-id {id}` shows its record)",
                    out.display()
                );
            }
            Ok(())
        }
        Err(e) => {
            let user = e
                .downcast_ref::<portrait_engine::EngineError>()
                .is_none_or(portrait_engine::EngineError::is_user_error);
            record(0, if user { 400 } else { 500 })?;
            Err(e)
        }
    }
}

async fn execute(
    store: &Store,
    privacy: &portrait_privacy::Privacy,
    a: &SqlArgs,
    export_id: Option<&str>,
) -> Result<u64> {
    let ctx = open_session(store).await?;
    let mut df = portrait_engine::session::read_only_sql(&ctx, &a.query)
        .await
        .map_err(hint_tables(store))?;
    if let Some(id) = export_id {
        df = portrait_engine::session::with_watermark(df, id)?;
    }
    let stream = df
        .execute_stream()
        .await
        .map_err(portrait_engine::EngineError::from)?;
    let Some(out) = &a.out else {
        let mut w = std::io::BufWriter::new(std::io::stdout().lock());
        return Ok(write_stream(stream, a.format, &mut w, None).await?);
    };
    // Written next to the target, then renamed: a failed query leaves no half file and the
    // old file, if any, as it was.
    let mut tmp = out.as_os_str().to_owned();
    tmp.push(".partial");
    let tmp = std::path::PathBuf::from(tmp);
    let written = async {
        let rows = if matches!(a.format, portrait_engine::output::Format::Xlsx) {
            let zh = a.lang == portrait_engine::labels::Lang::Zh;
            let about = portrait_engine::xlsx::About {
                title: (if zh {
                    "portrait 查询结果"
                } else {
                    "portrait query result"
                })
                .into(),
                lines: vec![
                    (
                        (if zh {
                            "查询（字面值已散列）"
                        } else {
                            "Query (literals hashed)"
                        })
                        .into(),
                        portrait_privacy::db::redact_query(privacy, &a.query),
                    ),
                    (
                        (if zh { "导出人" } else { "Exported by" }).into(),
                        a.by.clone(),
                    ),
                ],
                export_id: export_id.map(str::to_string),
            };
            let sheet = if zh { "数据" } else { "data" };
            portrait_engine::output::write_xlsx(stream, &tmp, a.lang, sheet, &about).await?
        } else if matches!(a.format, portrait_engine::output::Format::Parquet) {
            let mut sink = std::io::sink();
            write_stream(stream, a.format, &mut sink, Some(&tmp)).await?
        } else {
            let f = std::fs::File::create(&tmp)
                .with_context(|| format!("cannot create `{}`", tmp.display()))?;
            let mut w = std::io::BufWriter::new(f);
            let n = write_stream(stream, a.format, &mut w, None).await?;
            w.flush()?;
            n
        };
        std::fs::rename(&tmp, out).with_context(|| format!("cannot write `{}`", out.display()))?;
        Ok::<u64, anyhow::Error>(rows)
    }
    .await;
    if written.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    written
}

fn hint_tables(store: &Store) -> impl FnOnce(portrait_engine::EngineError) -> anyhow::Error + '_ {
    move |e| {
        let msg = e.to_string();
        if msg.contains("not found") && msg.contains("table") {
            let names: Vec<&str> = store.manifest().tables.keys().map(String::as_str).collect();
            let have = if names.is_empty() {
                "the store is empty: load data with `portrait ingest`".to_string()
            } else {
                format!("the store has {}", names.join(", "))
            };
            anyhow::anyhow!("{msg}\nhint: {have}")
        } else {
            e.into()
        }
    }
}
