use std::path::Path;
use std::time::Instant;

use anyhow::{Context, Result, bail};
use chrono::NaiveDate;
use portrait_engine::features;
use portrait_store::Store;

use crate::args::FeaturesArgs;
use crate::settings::ConfigFile;
use crate::text::{table, thousands};

pub async fn run(
    store_dir: &Path,
    config: &ConfigFile,
    a: &FeaturesArgs,
    quiet: bool,
) -> Result<()> {
    let cfg = &config.features;
    cfg.validate().map_err(|e| anyhow::anyhow!("config: {e}"))?;
    if a.explain {
        config
            .score
            .validate()
            .map_err(|e| anyhow::anyhow!("config: {e}"))?;
        let rows: Vec<Vec<String>> = features::explain::explain(cfg)
            .into_iter()
            .chain(config.score.explain())
            .map(|(c, d)| vec![c, d])
            .collect();
        print!("{}", table(&["column", "definition"], &rows));
        return Ok(());
    }
    let store = Store::open(store_dir)?;
    let as_of = match &a.as_of {
        Some(s) => parse_date(s)?,
        None => latest_transaction_day(&store).await?,
    };
    if a.sql {
        let ctx = portrait_engine::open_session(&store).await?;
        features::register_missing_inputs(&ctx, &store)?;
        let sql =
            features::statements(&ctx, cfg, as_of, features::parties(&store), "features_base")
                .await?;
        print!("{}", sql.script("features_base"));
        return Ok(());
    }
    stage(&store, cfg, as_of, quiet).await?;
    Ok(())
}

/// Computes and commits the features at `as_of`, reporting on standard error.
pub async fn stage(
    store: &Store,
    cfg: &features::FeatureConfig,
    as_of: NaiveDate,
    quiet: bool,
) -> Result<()> {
    let bars = crate::progress::Bars::new(quiet);
    let spinner = bars.spinner(&format!("features as of {as_of}"));
    let started = Instant::now();
    let outcome = features::run(store, cfg, as_of).await;
    spinner.finish_and_clear();
    let o = outcome?;
    eprintln!(
        "committed store version {}: features of {} parties as of {} in {:.1} s{}",
        o.version,
        thousands(o.parties),
        o.as_of,
        started.elapsed().as_secs_f64(),
        if o.kept > 0 {
            format!(" ({} rows of other as-of dates kept)", thousands(o.kept))
        } else {
            String::new()
        }
    );
    if o.per_customer {
        eprintln!(
            "note: one party per customer number; run `portrait resolve` to merge duplicates"
        );
    }
    Ok(())
}

pub fn parse_date(s: &str) -> Result<NaiveDate> {
    NaiveDate::parse_from_str(s.trim(), "%Y-%m-%d")
        .with_context(|| format!("`{s}` is not a date; expected YYYY-MM-DD, like 2026-12-01"))
}

/// The day of the latest transaction, so that the generated demo bank, whose data ends on a
/// fixed day, gives the same portrait whenever it is run.
pub async fn latest_transaction_day(store: &Store) -> Result<NaiveDate> {
    if store.table("transaction").is_none() {
        bail!(
            "the store has no transactions to take an as-of date from\nhint: give one with --as-of YYYY-MM-DD"
        );
    }
    let ctx = portrait_engine::open_session(store).await?;
    let batches = ctx
        .sql("SELECT CAST(max(ts) AS DATE) AS d FROM \"transaction\"")
        .await
        .map_err(portrait_engine::EngineError::from)?
        .collect()
        .await
        .map_err(portrait_engine::EngineError::from)?;
    let day = batches.first().filter(|b| b.num_rows() > 0).and_then(|b| {
        use arrow::array::{Array, AsArray};
        let a = b
            .column(0)
            .as_primitive_opt::<arrow::datatypes::Date32Type>()?;
        a.is_valid(0).then(|| a.value_as_date(0)).flatten()
    });
    match day {
        Some(d) => Ok(d),
        None => bail!(
            "the transaction table is empty\nhint: give an as-of date with --as-of YYYY-MM-DD"
        ),
    }
}
