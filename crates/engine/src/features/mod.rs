//! `portrait features`: one row per party and as-of date, computed by one DataFusion plan over
//! the input tables (see `sql.rs`), and written to the `features` table.

pub mod config;
pub mod explain;
pub mod sql;

use std::sync::Arc;

use chrono::NaiveDate;
use datafusion::prelude::{DataFrame, SessionContext};
use portrait_store::Store;
use portrait_types::model;

pub use config::FeatureConfig;
pub use sql::{FeatureSql, Parties, feature_sql};

use crate::{EngineError, Result};

/// The table features are written to.
pub const TABLE: &str = "features";

/// What a run produced.
#[derive(Debug)]
pub struct Outcome {
    pub as_of: NaiveDate,
    pub parties: u64,
    /// Rows of other as-of dates kept from before.
    pub kept: u64,
    pub version: u64,
    pub per_customer: bool,
}

/// Registers an empty table with the canonical schema for every input table the store lacks,
/// so the feature statement runs on whatever subset was loaded. The tables are views of no
/// rows, which a cluster runs as well as an embedded session.
pub fn register_missing_inputs(ctx: &SessionContext, store: &Store) -> Result<()> {
    use datafusion::catalog::view::ViewTable;
    use datafusion::common::ScalarValue;
    use datafusion::logical_expr::{LogicalPlanBuilder, lit};
    for def in model::TABLES {
        if store.table(def.name).is_none() {
            let schema = portrait_ingest::arrow_schema(def);
            let columns = schema
                .fields()
                .iter()
                .map(|f| Ok(lit(ScalarValue::try_from(f.data_type())?).alias(f.name())))
                .collect::<Result<Vec<_>>>()?;
            let plan = LogicalPlanBuilder::empty(true)
                .project(columns)?
                .filter(lit(false))?
                .build()?;
            ctx.register_table(def.name, Arc::new(ViewTable::new(plan, None)))?;
        }
    }
    Ok(())
}

/// Runs the first statement of the features at `as_of` into `scratch` (a directory of
/// Parquet files, registered as `base_table`) and returns the second, ready to run.
pub async fn compute(
    ctx: &SessionContext,
    store: &Store,
    cfg: &FeatureConfig,
    as_of: NaiveDate,
    parties: Parties,
    scratch: &std::path::Path,
    base_table: &str,
) -> Result<DataFrame> {
    let sql = statements(ctx, cfg, as_of, parties, base_table).await?;
    tracing::debug!("feature statements:\n{}", sql.script(base_table));
    if !crate::session::is_remote() && !by_parts(store) {
        crate::output::write_dir(ctx.sql(&sql.inline).await?, scratch).await?;
        crate::session::register_dir(ctx, base_table, scratch).await?;
        return Ok(ctx.sql(&sql.scored).await?);
    }
    // On a cluster each part is its own job, so no task holds every aggregate at once (one
    // statement made a single final stage that ran out of memory at 1M customers); embedded,
    // large inputs go the same way (see [`by_parts`]). Each part goes beside `scratch`: a
    // table's directory is listed recursively.
    let name = scratch
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    for (table, part) in &sql.parts {
        let dir = scratch.with_file_name(format!("{name}.{table}"));
        let io = |e| EngineError::Io {
            path: dir.clone(),
            source: e,
        };
        if dir.exists() {
            std::fs::remove_dir_all(&dir).map_err(io)?;
        }
        std::fs::create_dir_all(&dir).map_err(io)?;
        let df = ctx.sql(part).await?;
        // The plan's schema, not the files': a part with no rows may leave no file.
        let schema = df.schema().inner().clone();
        crate::output::write_dir(df, &dir).await?;
        crate::session::register_dir_as(ctx, table, &dir, schema).await?;
    }
    crate::output::write_dir(ctx.sql(&sql.base).await?, scratch).await?;
    crate::session::register_dir(ctx, base_table, scratch).await?;
    Ok(ctx.sql(&sql.scored).await?)
}

/// Rows of the activity inputs above which an embedded session materialises each input's
/// per-party aggregate on its own before joining them, as a cluster does: one statement holds
/// every aggregate's hash table at once, and at 1,000,000 customers (89M input rows) that
/// went over an 8 GiB budget. Below it the one statement is faster.
pub const BY_PARTS_ROWS: u64 = 20_000_000;

/// Whether [`compute`] materialises the parts one by one (see [`BY_PARTS_ROWS`]).
pub fn by_parts(store: &Store) -> bool {
    let rows: u64 = [
        "transaction",
        "asset_snapshot",
        "event",
        "interaction",
        "holding",
    ]
    .iter()
    .filter_map(|t| store.table(t))
    .map(|t| t.rows)
    .sum();
    rows > BY_PARTS_ROWS
}

/// The feature statements at `as_of`, with the store's balance snapshot calendar written in.
pub async fn statements(
    ctx: &SessionContext,
    cfg: &FeatureConfig,
    as_of: NaiveDate,
    parties: Parties,
    base_table: &str,
) -> Result<FeatureSql> {
    let batches = ctx
        .sql(&format!(
            "SELECT DISTINCT snapshot_date FROM asset_snapshot WHERE snapshot_date <= DATE '{}' ORDER BY 1",
            as_of.format("%Y-%m-%d")
        ))
        .await?
        .collect()
        .await?;
    let mut dates = Vec::new();
    for b in &batches {
        use arrow::array::{Array, AsArray};
        let a = b
            .column(0)
            .as_primitive_opt::<arrow::datatypes::Date32Type>()
            .ok_or_else(|| EngineError::Internal("snapshot_date is not a date".into()))?;
        dates.extend(
            (0..a.len())
                .filter(|i| a.is_valid(*i))
                .filter_map(|i| a.value_as_date(i)),
        );
    }
    Ok(feature_sql(cfg, as_of, parties, base_table, &dates))
}

/// Which party mapping the store supports.
pub fn parties(store: &Store) -> Parties {
    Parties::of(store)
}

/// Computes the features at `as_of` and commits them; rows of other as-of dates stay when
/// they have the same columns as the new ones.
pub async fn run(store: &Store, cfg: &FeatureConfig, as_of: NaiveDate) -> Result<Outcome> {
    cfg.validate().map_err(EngineError::Usage)?;
    let parties = parties(store);
    if parties == Parties::PerCustomer && store.table("customer").is_none() {
        return Err(EngineError::Usage(
            "the store has no parties and no `customer` table to take them from\nhint: run `portrait resolve` first: without a customer table every customer number becomes a party".into(),
        ));
    }
    let ctx = crate::open_session(store).await?;
    register_missing_inputs(&ctx, store)?;
    let mut txn = store.begin()?;
    let base_dir = txn.scratch_dir("features.base")?;
    let fresh = compute(&ctx, store, cfg, as_of, parties, &base_dir, "features_base").await?;
    let out = txn.table_dir(TABLE)?;
    let mut kept = 0;
    let df = if store.table(TABLE).is_some() {
        let old = ctx
            .sql(&format!(
                "SELECT * FROM {} WHERE as_of <> DATE '{}'",
                crate::session::stored_name(TABLE),
                as_of.format("%Y-%m-%d")
            ))
            .await?;
        let same = old.schema().fields().len() == fresh.schema().fields().len()
            && old
                .schema()
                .fields()
                .iter()
                .zip(fresh.schema().fields())
                .all(|(a, b)| a.name() == b.name());
        if same {
            kept = old.clone().count().await? as u64;
            fresh.union(old)?
        } else {
            tracing::warn!(
                "the stored features have other columns (the configuration changed); rows of other as-of dates are dropped"
            );
            fresh
        }
    } else {
        fresh
    };
    let rows = crate::output::write_dir(df, &out).await?;
    txn.stage(TABLE, rows, format!("features as of {as_of}"));
    let manifest = txn.commit()?;
    Ok(Outcome {
        as_of,
        parties: rows - kept,
        kept,
        version: manifest.version,
        per_customer: parties == Parties::PerCustomer,
    })
}

/// The `features` stage: one row per party at the as-of date.
pub struct FeaturesStage;

impl crate::pipeline::Stage for FeaturesStage {
    fn name(&self) -> &'static str {
        "features"
    }
    fn requires(&self) -> crate::pipeline::Requirement {
        &[&[crate::identity::PARTY_MEMBER, "customer"]]
    }
    fn uses(&self) -> &'static [&'static str] {
        &[
            crate::identity::PARTY,
            "customer",
            "transaction",
            "asset_snapshot",
            "holding",
            "product",
            "event",
            "interaction",
            "campaign_response",
            TABLE,
        ]
    }
    fn writes(&self) -> &'static [&'static str] {
        &[TABLE]
    }
    fn run<'a>(
        &'a self,
        store: &'a Store,
        settings: &'a crate::pipeline::Settings,
        progress: &'a dyn crate::pipeline::Progress,
    ) -> futures::future::BoxFuture<'a, Result<crate::pipeline::Step>> {
        Box::pin(async move {
            let as_of = match settings.as_of {
                Some(d) => d,
                None => crate::pipeline::default_as_of(store).await?,
            };
            progress.stage(&format!("features as of {as_of}"));
            let o = run(store, &settings.features, as_of).await?;
            Ok(crate::pipeline::Step::Ran(
                crate::pipeline::Report::Features(o),
            ))
        })
    }
}
