//! One module per command; each takes resolved arguments and does the work through the library
//! crates.

mod coverage;
mod demo;
mod features;
mod generate;
mod ingest;
mod score;
mod sql;

use anyhow::Result;

use crate::args::{Cli, Command, ConfigAction};

pub async fn run(cli: Cli) -> Result<()> {
    let config = crate::settings::load_config(cli.config.as_deref())?;
    match cli.command {
        Command::Demo(a) => demo::run(&cli.store, &config, &a, cli.quiet).await,
        Command::Generate(a) => generate::run(&a, cli.quiet),
        Command::Ingest(a) => ingest::run(&cli.store, &config, &a, cli.quiet).await,
        Command::Sql(a) => sql::run(&cli.store, &a).await,
        Command::Features(a) => features::run(&cli.store, &config, &a, cli.quiet).await,
        Command::Score(a) => score::run(&cli.store, &config, &a, cli.quiet).await,
        Command::Coverage(a) => coverage::run(&cli.store, &a).await,
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
