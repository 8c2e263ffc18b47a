//! A DataFusion session with every table of the store registered under its name.

use datafusion::datasource::file_format::parquet::ParquetFormat;
use datafusion::datasource::listing::{
    ListingOptions, ListingTable, ListingTableConfig, ListingTableUrl,
};
use datafusion::prelude::{SessionConfig, SessionContext};
use portrait_store::Store;
use std::sync::Arc;

use crate::{EngineError, Result};

/// A session whose catalogue is the store's current manifest.
pub async fn open_session(store: &Store) -> Result<SessionContext> {
    let mut config = SessionConfig::new()
        .with_information_schema(true)
        .with_default_catalog_and_schema("portrait", "public");
    // Plain strings: sorts and joins of `Utf8View` columns keep every source buffer alive,
    // which multiplied the memory of wide per-party plans many times over.
    config
        .options_mut()
        .execution
        .parquet
        .schema_force_view_types = false;
    // Keep joins as written: the feature statements put each per-party aggregate on the build
    // side of its join on purpose, and statistics of the raw input tables (millions of rows
    // before aggregation) would otherwise make the planner build on the wide growing side.
    config.options_mut().optimizer.join_reordering = false;
    let ctx = SessionContext::new_with_config(config);
    for name in store.manifest().tables.keys() {
        register_table(&ctx, store, name).await?;
    }
    Ok(ctx)
}

/// Registers one stored table (its current version's directory) in `ctx`.
pub async fn register_table(ctx: &SessionContext, store: &Store, name: &str) -> Result<()> {
    let dir = store.table_dir(name)?;
    register_dir(ctx, name, &dir).await
}

/// Registers a directory of Parquet files as a table.
pub async fn register_dir(ctx: &SessionContext, name: &str, dir: &std::path::Path) -> Result<()> {
    let url = ListingTableUrl::parse(format!("{}/", dir.display()))
        .map_err(|e| EngineError::Internal(e.to_string()))?;
    let options =
        ListingOptions::new(Arc::new(ParquetFormat::default())).with_file_extension(".parquet");
    let schema = options.infer_schema(&ctx.state(), &url).await?;
    let config = ListingTableConfig::new(url)
        .with_listing_options(options)
        .with_schema(schema);
    let table = ListingTable::try_new(config)?;
    ctx.register_table(name, Arc::new(table))?;
    Ok(())
}
