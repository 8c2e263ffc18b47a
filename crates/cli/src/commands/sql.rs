use std::io::Write;
use std::path::Path;

use anyhow::{Context, Result};
use portrait_engine::open_session;
use portrait_engine::output::write_stream;
use portrait_store::Store;

use crate::args::SqlArgs;

pub async fn run(store_dir: &Path, a: &SqlArgs) -> Result<()> {
    let store = Store::open(store_dir)?;
    let ctx = open_session(&store).await?;
    let df = portrait_engine::session::read_only_sql(&ctx, &a.query)
        .await
        .map_err(hint_tables(&store))?;
    let stream = df
        .execute_stream()
        .await
        .map_err(portrait_engine::EngineError::from)?;
    let parquet_out = matches!(a.format, portrait_engine::output::Format::Parquet);
    let mut out: Box<dyn Write> = match &a.out {
        Some(p) if !parquet_out => Box::new(std::io::BufWriter::new(
            std::fs::File::create(p).with_context(|| format!("cannot create `{}`", p.display()))?,
        )),
        _ => Box::new(std::io::BufWriter::new(std::io::stdout().lock())),
    };
    write_stream(stream, a.format, &mut out, a.out.as_deref()).await?;
    Ok(())
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
