use std::path::{Path, PathBuf};

use anyhow::Result;
use portrait_engine::ingest::{Outcome, ingest, resolve_sources};
use portrait_store::Store;

use crate::args::IngestArgs;
use crate::progress::Bars;
use crate::settings::{ConfigFile, ingest_options};
use crate::text::{table, thousands};

/// `portrait-data` → `portrait-data-rejects.csv` beside it.
pub fn default_rejects(store: &Path) -> PathBuf {
    let name = store
        .file_name()
        .map_or("portrait".into(), |n| n.to_string_lossy().into_owned());
    store.with_file_name(format!("{name}-rejects.csv"))
}

pub async fn run(store_dir: &Path, config: &ConfigFile, a: &IngestArgs, quiet: bool) -> Result<()> {
    let options = ingest_options(config, a)?;
    let (sources, skipped) = resolve_sources(&a.inputs)?;
    for s in &skipped {
        tracing::warn!("skipped `{}`: its name names no table", s.display());
    }
    let rejects = a
        .rejects
        .clone()
        .unwrap_or_else(|| default_rejects(store_dir));
    let outcome = load(store_dir, &sources, options, a.append, &rejects, quiet).await?;
    print_outcome(&outcome);
    Ok(())
}

pub async fn load(
    store_dir: &Path,
    sources: &[portrait_engine::ingest::Source],
    options: portrait_ingest::Options,
    append: bool,
    rejects: &Path,
    quiet: bool,
) -> Result<Outcome> {
    // A rejects file from an earlier run would mislead.
    let _ = std::fs::remove_file(rejects);
    let store = Store::open(store_dir)?;
    let bars = Bars::new(quiet);
    Ok(ingest(&store, sources, options, append, rejects, &bars).await?)
}

pub fn print_outcome(o: &Outcome) {
    let rows: Vec<Vec<String>> = o
        .files
        .iter()
        .map(|f| {
            vec![
                f.table.clone(),
                Path::new(&f.file)
                    .file_name()
                    .map_or(f.file.clone(), |n| n.to_string_lossy().into_owned()),
                if f.format == "csv" {
                    f.encoding.to_string()
                } else {
                    f.format.to_string()
                },
                thousands(f.rows_read),
                thousands(f.rows_loaded),
                thousands(f.rejected),
                thousands(f.dropped),
                if f.ignored_columns.is_empty() {
                    "-".into()
                } else {
                    f.ignored_columns.join(" ")
                },
            ]
        })
        .collect();
    print!(
        "{}",
        table(
            &[
                "table",
                "file",
                "format",
                "read",
                "loaded",
                "rejected",
                "values dropped",
                "ignored columns"
            ],
            &rows
        )
    );
    let totals: Vec<String> = o
        .tables
        .iter()
        .map(|(t, n)| format!("{t} {}", thousands(*n)))
        .collect();
    println!(
        "committed store version {}: {}",
        o.version,
        totals.join(", ")
    );
    if let Some(r) = &o.rejects {
        println!("problems are listed in `{}`", r.display());
    }
}
