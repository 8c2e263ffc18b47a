//! A DataFusion session with every table of the store registered under its name.

use datafusion::datasource::file_format::parquet::ParquetFormat;
use datafusion::datasource::listing::{
    ListingOptions, ListingTable, ListingTableConfig, ListingTableUrl,
};
use datafusion::prelude::{SessionConfig, SessionContext};
use portrait_store::Store;
use std::sync::{Arc, RwLock};

use crate::{EngineError, Result};

/// Where this process runs its plans: `None` embedded, else a Ballista scheduler's `df://` URL.
static CLUSTER: RwLock<Option<String>> = RwLock::new(None);

/// Runs every session this process opens from now on on the Ballista cluster at `url`
/// (`df://HOST:PORT`), or embedded again with `None`. Checks that the scheduler answers.
pub async fn use_cluster(url: Option<&str>) -> Result<()> {
    if let Some(url) = url {
        check_cluster(url).await?;
    }
    *CLUSTER.write().expect("cluster setting") = url.map(str::to_string);
    Ok(())
}

/// The cluster sessions run on, if any (see [`use_cluster`]).
pub fn cluster() -> Option<String> {
    CLUSTER.read().expect("cluster setting").clone()
}

#[cfg(feature = "cluster")]
async fn check_cluster(url: &str) -> Result<()> {
    portrait_cluster::check_scheduler(url)
        .await
        .map_err(|e| EngineError::Usage(e.to_string()))
}

#[cfg(not(feature = "cluster"))]
async fn check_cluster(_url: &str) -> Result<()> {
    Err(EngineError::Usage(
        "this portrait was built without the `cluster` feature\nhint: build it with its default features: `cargo build --release`".into(),
    ))
}

/// The settings of every portrait session, embedded or on a cluster.
pub fn session_config() -> SessionConfig {
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
    config
}

/// A session with portrait's settings and functions and no tables: embedded, or on the
/// cluster set by [`use_cluster`].
pub async fn new_context() -> Result<SessionContext> {
    let ctx = match cluster() {
        None => SessionContext::new_with_config(session_config()),
        Some(url) => remote_context(&url).await?,
    };
    crate::functions::register(&ctx);
    Ok(ctx)
}

#[cfg(feature = "cluster")]
async fn remote_context(url: &str) -> Result<SessionContext> {
    let state = datafusion::execution::SessionStateBuilder::new()
        .with_default_features()
        .with_config(session_config())
        .build();
    portrait_cluster::connect(url, state)
        .await
        .map_err(|e| EngineError::Usage(e.to_string()))
}

#[cfg(not(feature = "cluster"))]
async fn remote_context(_url: &str) -> Result<SessionContext> {
    check_cluster("").await?;
    unreachable!("check_cluster fails without the cluster feature")
}

/// Whether sessions run on a cluster: tables must then be files every executor can read.
pub fn is_remote() -> bool {
    cluster().is_some()
}

/// A session whose catalogue is the store's current manifest.
pub async fn open_session(store: &Store) -> Result<SessionContext> {
    let ctx = new_context().await?;
    for name in store.manifest().tables.keys() {
        register_table(&ctx, store, name).await?;
    }
    Ok(ctx)
}

/// Registers batches computed by portrait itself as table `name`: in memory when embedded,
/// written as Parquet under `scratch` (inside the store, where executors read) on a cluster.
pub async fn register_batches(
    ctx: &SessionContext,
    name: &str,
    schema: arrow::datatypes::SchemaRef,
    batches: Vec<arrow::record_batch::RecordBatch>,
    scratch: &std::path::Path,
) -> Result<()> {
    if !is_remote() {
        let table = datafusion::datasource::MemTable::try_new(schema, vec![batches])?;
        ctx.register_table(name, Arc::new(table))?;
        return Ok(());
    }
    crate::output::write_parquet_file(&scratch.join("part-0.parquet"), &batches, schema)?;
    register_dir(ctx, name, scratch).await
}

/// Registers one stored table (its current version's directory) in `ctx`.
pub async fn register_table(ctx: &SessionContext, store: &Store, name: &str) -> Result<()> {
    let dir = store.table_dir(name)?;
    register_dir(ctx, name, &dir).await
}

/// Registers a directory of Parquet files as a table.
pub async fn register_dir(ctx: &SessionContext, name: &str, dir: &std::path::Path) -> Result<()> {
    let (url, options) = listing(dir)?;
    let schema = options.infer_schema(&ctx.state(), &url).await?;
    register_listing(ctx, name, url, options, schema)
}

/// Registers a directory of Parquet files of a known schema (none may be there yet).
pub async fn register_dir_as(
    ctx: &SessionContext,
    name: &str,
    dir: &std::path::Path,
    schema: arrow::datatypes::SchemaRef,
) -> Result<()> {
    let (url, options) = listing(dir)?;
    register_listing(ctx, name, url, options, schema)
}

fn listing(dir: &std::path::Path) -> Result<(ListingTableUrl, ListingOptions)> {
    let url = ListingTableUrl::parse(format!("{}/", dir.display()))
        .map_err(|e| EngineError::Internal(e.to_string()))?;
    let options =
        ListingOptions::new(Arc::new(ParquetFormat::default())).with_file_extension(".parquet");
    Ok((url, options))
}

fn register_listing(
    ctx: &SessionContext,
    name: &str,
    url: ListingTableUrl,
    options: ListingOptions,
    schema: arrow::datatypes::SchemaRef,
) -> Result<()> {
    let config = ListingTableConfig::new(url)
        .with_listing_options(options)
        .with_schema(schema);
    let table = ListingTable::try_new(config)?;
    ctx.register_table(name, Arc::new(table))?;
    Ok(())
}
