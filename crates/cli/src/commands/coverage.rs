use std::path::Path;

use anyhow::Result;
use portrait_engine::output::write_batches;
use portrait_engine::{coverage, open_session};
use portrait_store::Store;

use crate::args::CoverageArgs;

pub async fn run(store_dir: &Path, a: &CoverageArgs) -> Result<()> {
    let store = Store::open(store_dir)?;
    if store.manifest().tables.is_empty() {
        anyhow::bail!(
            "the store `{}` is empty\nhint: load data with `portrait ingest` first",
            store_dir.display()
        );
    }
    let ctx = open_session(&store).await?;
    let batch = coverage::coverage(&store, &ctx).await?;
    let mut out = std::io::stdout().lock();
    write_batches(&[batch], &coverage::schema(), a.format, &mut out)?;
    Ok(())
}
