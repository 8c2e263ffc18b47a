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
    // A sort that spills keeps this much for merging its spill files (10 MB by default): an
    // eighth of a small budget at most, so such a budget still sorts.
    if let Some(pool) = crate::memory::query_memory() {
        let e = &mut config.options_mut().execution;
        e.sort_spill_reservation_bytes = e.sort_spill_reservation_bytes.min(pool / 8);
    }
    config
}

/// A session with portrait's settings and functions and no tables: embedded, or on the
/// cluster set by [`use_cluster`].
pub async fn new_context() -> Result<SessionContext> {
    context_spilling_to(None).await
}

/// Where the plans of sessions over a store spill: `<store>/.spill`.
pub const SPILL_DIR: &str = ".spill";

/// A session with no tables whose plans spill under `store` (see [`context_spilling_to`]).
pub async fn store_context(store: &Store) -> Result<SessionContext> {
    context_spilling_to(Some(&store.root().join(SPILL_DIR))).await
}

/// [`new_context`] whose embedded plans keep to the memory budget ([`crate::memory`]) and
/// spill into `spill` (the system's temporary directory when `None` or not writable).
pub async fn context_spilling_to(spill: Option<&std::path::Path>) -> Result<SessionContext> {
    let ctx = match cluster() {
        None => SessionContext::new_with_config_rt(session_config(), runtime(spill)?),
        Some(url) => remote_context(&url).await?,
    };
    crate::functions::register(&ctx);
    Ok(ctx)
}

/// The memory pool every embedded session of this process draws on, made once from the budget
/// ([`crate::memory`]): sessions opened side by side (a server's requests, a stage's several
/// plans) share the budget rather than each getting all of it. Greedy: an operator spills when
/// the pool as a whole is full. (A fair pool splits it among every operator that can spill, so
/// a repartition gets a sliver and spills at once, and DataFusion 55's repartition spill path
/// then panics with "partition not used yet": seen in `links` at 1,000,000 customers.)
fn shared_pool() -> Option<Arc<dyn datafusion::execution::memory_pool::MemoryPool>> {
    use datafusion::execution::memory_pool::{GreedyMemoryPool, MemoryPool, TrackConsumersPool};
    static POOL: std::sync::Mutex<Option<(usize, Arc<dyn MemoryPool>)>> =
        std::sync::Mutex::new(None);
    let size = crate::memory::query_memory()?;
    let mut pool = POOL.lock().expect("memory pool");
    match pool.as_ref() {
        Some((s, p)) if *s == size => Some(p.clone()),
        _ => {
            let p: Arc<dyn MemoryPool> = Arc::new(TrackConsumersPool::new(
                GreedyMemoryPool::new(size),
                std::num::NonZeroUsize::new(3).expect("non-zero"),
            ));
            *pool = Some((size, p.clone()));
            Some(p)
        }
    }
}

/// This process's own directory under `spill` (`<host>-<pid>`), made once, with a lease file
/// the process holds locked while it lives. Directories of processes that ended without
/// cleaning up (killed, or stopped by the memory watch) are removed first: their lease is no
/// longer locked, whichever host or PID namespace they ran in. `None` when the directory
/// cannot be made (a store this process may only read).
fn process_spill_dir(spill: &std::path::Path) -> Option<std::path::PathBuf> {
    static OWN: std::sync::OnceLock<Option<(std::path::PathBuf, std::fs::File)>> =
        std::sync::OnceLock::new();
    let own = OWN.get_or_init(|| {
        sweep_spill(spill);
        let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
            .map(|h| h.trim().replace(['/', '-'], "_"))
            .unwrap_or_else(|_| "host".into());
        let dir = spill.join(format!("{host}-{}", std::process::id()));
        std::fs::create_dir_all(&dir).ok()?;
        // Locked before it takes its name, so a sweeper never finds it unlocked.
        let part = dir.join(format!("{LEASE}.new"));
        let lease = std::fs::File::create(&part).ok()?;
        lease.lock().ok()?;
        std::fs::rename(&part, dir.join(LEASE)).ok()?;
        Some((dir, lease))
    });
    match own {
        Some((dir, _)) if dir.starts_with(spill) => Some(dir.clone()),
        // A second store in the same process: its own directory, unleased, not swept.
        _ => {
            let dir = spill.join(format!("unleased-{}", std::process::id()));
            std::fs::create_dir_all(&dir).ok().map(|_| dir)
        }
    }
}

/// The file a process holds locked in its spill directory while it lives.
const LEASE: &str = ".lease";

/// Removes the spill directories under `spill` whose lease nobody holds.
fn sweep_spill(spill: &std::path::Path) {
    let Ok(entries) = std::fs::read_dir(spill) else {
        return;
    };
    for e in entries.flatten() {
        let Ok(lease) = std::fs::File::open(e.path().join(LEASE)) else {
            continue;
        };
        if lease.try_lock().is_ok() {
            drop(lease);
            let _ = std::fs::remove_dir_all(e.path());
        }
    }
}

/// The runtime of an embedded session: the process's one memory pool (see [`shared_pool`]),
/// and spill files under `spill`.
fn runtime(
    spill: Option<&std::path::Path>,
) -> Result<Arc<datafusion::execution::runtime_env::RuntimeEnv>> {
    use datafusion::execution::runtime_env::RuntimeEnvBuilder;
    let mut rt = RuntimeEnvBuilder::new();
    if let Some(pool) = shared_pool() {
        rt = rt.with_memory_pool(pool);
    }
    // A store that this process cannot write to (a reader's mount) spills to the system's
    // temporary directory instead.
    if let Some(dir) = spill.and_then(process_spill_dir) {
        rt = rt.with_temp_file_path(dir);
    }
    Ok(rt.build_arc()?)
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

/// A session whose catalogue is the store's current manifest. `features` is the view
/// [`register_features_view`] makes over the features stage's rows and the score stage's.
pub async fn open_session(store: &Store) -> Result<SessionContext> {
    let ctx = store_context(store).await?;
    for name in store.manifest().tables.keys() {
        if name != crate::features::TABLE {
            register_table(&ctx, store, name).await?;
        }
    }
    if store.table(crate::features::TABLE).is_some() {
        register_features_view(&ctx, &store.table_dir(crate::features::TABLE)?).await?;
    }
    Ok(ctx)
}

/// Schema of the tables that SQL users see through a view of the same name.
pub const STORED_SCHEMA: &str = "stored";

/// The name under which a session holds a stored table's own rows: `stored.features` for the
/// table behind the `features` view, the table's name for every other table.
pub fn stored_name(table: &str) -> String {
    if table == crate::features::TABLE {
        format!("{STORED_SCHEMA}.{table}")
    } else {
        table.to_string()
    }
}

/// Registers `features` as SQL users know it: the rows of the features stage (Parquet files in
/// `dir`, registered as `stored.features`) with the columns of the score stage (`score`, when the
/// session has it) joined by party and as-of date. Score columns of stores written before the
/// score stage had its own table are replaced by the joined ones.
pub async fn register_features_view(ctx: &SessionContext, dir: &std::path::Path) -> Result<()> {
    use crate::features::sql::SCORE_COLUMNS;
    let catalog = ctx
        .catalog("portrait")
        .ok_or_else(|| EngineError::Internal("no `portrait` catalog".into()))?;
    if catalog.schema(STORED_SCHEMA).is_none() {
        catalog
            .register_schema(
                STORED_SCHEMA,
                Arc::new(datafusion::catalog::MemorySchemaProvider::new()),
            )
            .map_err(EngineError::from)?;
    }
    let stored = stored_name(crate::features::TABLE);
    ctx.deregister_table(stored.as_str())?;
    register_dir(ctx, &stored, dir).await?;
    let schema = ctx.table(stored.as_str()).await?.schema().clone();
    let mut cols: Vec<String> = schema
        .fields()
        .iter()
        .map(|f| f.name())
        .filter(|c| !SCORE_COLUMNS.iter().any(|(s, _)| s == c))
        .map(|c| format!("f.\"{c}\""))
        .collect();
    let scored = ctx.table_exist(crate::score::SCORE_TABLE)?;
    for (c, ty) in SCORE_COLUMNS {
        cols.push(if scored {
            format!("s.\"{c}\"")
        } else {
            format!("CAST(NULL AS {ty}) AS \"{c}\"")
        });
    }
    // The score rows on the left of a RIGHT JOIN: joins are kept as written and a hash join
    // holds its left side, which as `features LEFT JOIN score` was every wide feature row.
    let from = if scored {
        format!(
            "{} s RIGHT JOIN {stored} f ON s.party_id = f.party_id AND s.as_of = f.as_of",
            crate::score::SCORE_TABLE
        )
    } else {
        format!("{stored} f")
    };
    let df = ctx
        .sql(&format!("SELECT {} FROM {from}", cols.join(", ")))
        .await?;
    ctx.deregister_table(crate::features::TABLE)?;
    ctx.register_table(crate::features::TABLE, df.into_view())?;
    Ok(())
}

/// `batches` as batches of at most `rows` rows, each with buffers of its own: a plan reads a
/// memory table batch by batch and reserves memory for each whole (a million golden records in
/// one batch made a sort ask the budget for 550 MB at once), and a slice would still count the
/// buffers it shares.
fn in_batches_of(
    batches: Vec<arrow::record_batch::RecordBatch>,
    rows: usize,
) -> Result<Vec<arrow::record_batch::RecordBatch>> {
    let mut out = Vec::new();
    for b in batches {
        if b.num_rows() <= rows {
            out.push(b);
            continue;
        }
        let mut start = 0;
        while start < b.num_rows() {
            let n = rows.min(b.num_rows() - start);
            let take =
                arrow::array::UInt32Array::from_iter_values(start as u32..(start + n) as u32);
            out.push(arrow::compute::take_record_batch(&b, &take)?);
            start += n;
        }
    }
    Ok(out)
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
        let rows = ctx.copied_config().batch_size();
        let table = datafusion::datasource::MemTable::try_new(
            schema.clone(),
            vec![in_batches_of(batches, rows)?],
        )?;
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

/// `df` with a `watermark` column holding `export_id` on every row: the mark of an exported
/// file, as the audit log records it.
pub fn with_watermark(
    df: datafusion::dataframe::DataFrame,
    export_id: &str,
) -> Result<datafusion::dataframe::DataFrame> {
    Ok(df.with_column("watermark", datafusion::prelude::lit(export_id))?)
}

/// Runs a user's query read-only: statements that would change the store or write files
/// (INSERT, UPDATE, DELETE, COPY, CREATE, DROP, SET, …) are refused before planning goes
/// further, whatever the session holds.
pub async fn read_only_sql(
    ctx: &SessionContext,
    sql: &str,
) -> Result<datafusion::dataframe::DataFrame> {
    let options = datafusion::execution::context::SQLOptions::new()
        .with_allow_ddl(false)
        .with_allow_dml(false)
        .with_allow_statements(false);
    match ctx.sql_with_options(sql, options).await {
        Ok(df) => Ok(df),
        Err(e) => {
            let m = e.to_string();
            let refused = [
                "DDL not supported",
                "DML not supported",
                "Statement not supported",
            ]
            .iter()
            .any(|k| m.contains(k));
            if refused {
                Err(EngineError::Usage(format!(
                    "`sql` is read-only: {}\nhint: only queries (SELECT, WITH, EXPLAIN, SHOW, DESCRIBE) run; tables change through `portrait ingest` and the stages",
                    m.trim_start_matches("Error during planning: ")
                )))
            } else {
                Err(e.into())
            }
        }
    }
}

/// A session for a caller with `role`: the tables `names` of `ctx`, each registered under its
/// own name as a view whose personal columns are masked by their meaning
/// ([`portrait_privacy::Field::of_column`], the rule of [`portrait_privacy::mask::rule`]) and
/// whose other text columns are scanned for ID-, mobile- and card-shaped numbers. The stored
/// tables themselves are not in the session, so no alias, join or function reaches an unmasked
/// value: a filter on a masked column compares masked values. Admins get the tables as they are.
/// The session has the information schema; its plans share `ctx`'s runtime (memory, spill).
pub async fn masked_session(
    ctx: &SessionContext,
    names: &[String],
    role: portrait_privacy::Role,
) -> Result<SessionContext> {
    let out = SessionContext::new_with_config_rt(session_config(), ctx.runtime_env());
    crate::functions::register(&out);
    for name in names {
        let df = ctx.table(name.as_str()).await?;
        let df = if role == portrait_privacy::Role::Admin {
            df
        } else {
            mask_frame(df, role)?
        };
        out.register_table(name.as_str(), df.into_view())?;
    }
    Ok(out)
}

/// `df` with its columns masked for `role` (see [`masked_session`]); a personal column that is
/// not text (a birth date) becomes text first, so the rule can apply.
fn mask_frame(
    df: datafusion::dataframe::DataFrame,
    role: portrait_privacy::Role,
) -> Result<datafusion::dataframe::DataFrame> {
    use datafusion::arrow::datatypes::DataType;
    use datafusion::common::Column;
    use datafusion::logical_expr::{Expr, cast};
    use portrait_privacy::{Field, MaskRule, mask};

    let schema = df.schema().clone();
    let mut exprs = Vec::with_capacity(schema.fields().len());
    for (q, f) in schema.iter() {
        let c = Expr::Column(Column::from((q, f)));
        let text = matches!(
            f.data_type(),
            DataType::Utf8 | DataType::Utf8View | DataType::LargeUtf8
        );
        let meaning = Field::of_column(f.name());
        let rule = match (meaning, text) {
            (Some(m), _) => mask::rule(role, m),
            (None, true) => MaskRule::Scan,
            (None, false) => {
                exprs.push(c);
                continue;
            }
        };
        let input = if text { c } else { cast(c, DataType::Utf8) };
        exprs.push(mask_udf(rule).call(vec![input]).alias(f.name()));
    }
    Ok(df.select(exprs)?)
}

/// The scalar function applying one masking rule to a text column.
fn mask_udf(rule: portrait_privacy::MaskRule) -> datafusion::logical_expr::ScalarUDF {
    use datafusion::arrow::array::{Array, AsArray, StringArray};
    use datafusion::arrow::datatypes::DataType;
    use datafusion::logical_expr::{ColumnarValue, Volatility, create_udf};

    let name = format!("mask_{}", format!("{rule:?}").to_lowercase())
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
        .collect::<String>();
    create_udf(
        &name,
        vec![DataType::Utf8],
        DataType::Utf8,
        Volatility::Immutable,
        Arc::new(move |args: &[ColumnarValue]| {
            let arrays = ColumnarValue::values_to_arrays(args)?;
            let input = arrays[0].as_string::<i32>();
            let masked: StringArray = input
                .iter()
                .map(|v| v.map(|s| portrait_privacy::mask::mask_value(rule, s)))
                .collect();
            debug_assert_eq!(masked.len(), input.len());
            Ok(ColumnarValue::Array(Arc::new(masked)))
        }),
    )
}
