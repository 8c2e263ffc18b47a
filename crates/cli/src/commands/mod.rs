//! One module per command; each takes resolved arguments and does the work through the library
//! crates.

mod cluster;
mod coverage;
mod demo;
mod erase;
mod features;
mod generate;
mod identity;
mod ingest;
mod mining;
mod score;
mod serve;
mod sql;
mod tags;

use anyhow::Result;

use crate::args::{Cli, Command, ConfigAction, RunArgs};
use crate::settings::ConfigFile;

/// `portrait run`: every stage after ingest, in order.
pub async fn run_stages(
    store: &std::path::Path,
    config: &ConfigFile,
    a: RunArgs,
    quiet: bool,
) -> Result<()> {
    let as_of = match &a.as_of {
        Some(s) => features::parse_date(s)?,
        None => {
            let store = portrait_store::Store::open(store)?;
            features::latest_transaction_day(&store).await?
        }
    };
    identity::resolve(
        store,
        config,
        &crate::args::ResolveArgs {
            explain_blocking: false,
            format: crate::args::ReportFormat::Table,
        },
        quiet,
    )
    .await?;
    identity::links(
        store,
        config,
        &crate::args::LinksArgs {
            format: crate::args::ReportFormat::Table,
        },
        quiet,
    )
    .await?;
    features::stage(
        &portrait_store::Store::open(store)?,
        &config.features,
        as_of,
        quiet,
    )
    .await?;
    let s = crate::args::ScoreArgs {
        what: None,
        as_of: Some(as_of.to_string()),
        format: crate::args::ReportFormat::Table,
    };
    score::run(store, config, &s, quiet).await?;
    mining::segment_stage(
        store,
        config,
        &crate::args::SegmentArgs {
            model: None,
            method: None,
            k: None,
            format: crate::args::ReportFormat::Table,
        },
        quiet,
        false,
    )
    .await?;
    mining::rules(
        store,
        config,
        &crate::args::RulesArgs {
            min_support: None,
            min_confidence: None,
            max_len: None,
            show: 5,
            format: crate::args::ReportFormat::Table,
        },
    )
    .await?;
    mining::recommend(store, config, &crate::args::RecommendArgs { top: None }).await?;
    tags::tags(
        store,
        config,
        crate::args::TagsAction::Build {
            catalog: None,
            format: crate::args::ReportFormat::Table,
        },
        quiet,
    )
    .await
}

pub async fn run(cli: Cli) -> Result<()> {
    let config = crate::settings::load_config(cli.config.as_deref())?;
    cluster::select(cli.cluster.as_deref(), &cli.command).await?;
    match cli.command {
        Command::Demo(a) => demo::run(&cli.store, &config, &a, cli.quiet).await,
        Command::Generate(a) => generate::run(&a, cli.quiet),
        Command::Ingest(a) => ingest::run(&cli.store, &config, &a, cli.quiet).await,
        Command::Sql(a) => sql::run(&cli.store, &a).await,
        Command::Run(a) => run_stages(&cli.store, &config, a, cli.quiet).await,
        Command::Resolve(a) => identity::resolve(&cli.store, &config, &a, cli.quiet).await,
        Command::Links(a) => identity::links(&cli.store, &config, &a, cli.quiet).await,
        Command::Party { action } => identity::party(&cli.store, &config, action, cli.quiet).await,
        Command::Eval { what } => identity::eval(&cli.store, what).await,
        Command::Features(a) => features::run(&cli.store, &config, &a, cli.quiet).await,
        Command::Score(a) => score::run(&cli.store, &config, &a, cli.quiet).await,
        Command::Coverage(a) => coverage::run(&cli.store, &a).await,
        Command::Segment(a) => mining::segment(&cli.store, &config, &a, cli.quiet).await,
        Command::Rules(a) => mining::rules(&cli.store, &config, &a).await,
        Command::Recommend(a) => mining::recommend(&cli.store, &config, &a).await,
        Command::Erase(a) => erase::run(&cli.store, &config, &a, cli.quiet).await,
        Command::Tags { action } => tags::tags(&cli.store, &config, action, cli.quiet).await,
        Command::Audience { action } => tags::audience(&cli.store, action).await,
        Command::Serve(a) => serve::serve(&cli.store, &a).await,
        Command::User { action } => serve::user(&cli.store, action),
        Command::Cluster { action } => cluster::run(action).await,
        Command::Config {
            action: ConfigAction::List,
        } => {
            let rows: Vec<Vec<String>> = crate::settings::OPTIONS
                .iter()
                .map(|(k, d, m)| vec![k.to_string(), d.to_string(), m.to_string()])
                .collect();
            print!(
                "{}",
                crate::text::table(&["option", "default", "meaning"], &rows)
            );
            Ok(())
        }
    }
}
