use std::path::Path;
use std::time::Instant;

use anyhow::{Context, Result};
use chrono::NaiveDate;
use portrait_engine::features;
use portrait_engine::pipeline::Report;
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
        None => portrait_engine::pipeline::default_as_of(&store).await?,
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
    let mut settings = config.pipeline();
    settings.as_of = Some(as_of);
    let started = Instant::now();
    let label = format!("features as of {as_of}");
    let Report::Features(o) = super::one(
        &features::FeaturesStage,
        store_dir,
        &settings,
        &label,
        quiet,
    )
    .await?
    else {
        unreachable!("the features stage reports features")
    };
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
