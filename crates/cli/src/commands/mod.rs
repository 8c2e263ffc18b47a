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
mod report;
mod score;
mod serve;
mod sql;
mod tags;

use std::path::Path;

use anyhow::Result;
use portrait_engine::pipeline::{self, Report, Settings, Stage, Step};

use crate::args::{Cli, Command, ConfigAction, RunArgs};
use crate::settings::ConfigFile;

/// Runs one stage as its own command, with a spinner: a stage whose inputs are absent is an
/// error that names the file to load or the stage to run first.
pub async fn one(
    stage: &dyn Stage,
    store: &Path,
    settings: &Settings,
    label: &str,
    quiet: bool,
) -> Result<Report> {
    let bars = crate::progress::Bars::new(quiet);
    let progress = Spinner {
        label: label.to_string(),
        spinner: bars.spinner(label),
    };
    let step = pipeline::run_stage(stage, store, settings, &progress).await;
    drop(progress);
    match step? {
        Step::Ran(r) => Ok(r),
        Step::Skipped(why) => Err(pipeline::cannot_run(stage, &why).into()),
    }
}

/// `portrait run`: every stage after ingest, in order, over what the store holds; ends with a
/// table of what ran, what was skipped and why.
pub async fn run_stages(
    store: &Path,
    config: &ConfigFile,
    a: RunArgs,
    quiet: bool,
) -> Result<Vec<pipeline::Row>> {
    let mut settings = config.pipeline();
    if let Some(d) = &a.as_of {
        settings.as_of = Some(features::parse_date(d)?);
    }
    let bars = crate::progress::Bars::new(quiet);
    let progress = |name: &'static str| -> Box<dyn pipeline::Progress + '_> {
        Box::new(Spinner {
            label: name.to_string(),
            spinner: bars.spinner(name),
        })
    };
    // The cells of the stages done, for the table printed when a later stage fails.
    let mut done: Vec<Vec<String>> = Vec::new();
    let ran = pipeline::run(store, &settings, &progress, &mut |row| {
        done.push(row_cells(row));
        if quiet {
            return;
        }
        match &row.skipped {
            None => eprintln!(
                "{}: {} ({:.1} s)",
                row.stage,
                row.report.as_ref().map(summary).unwrap_or_default(),
                row.seconds
            ),
            Some(why) => eprintln!(
                "{}: skipped — {}",
                row.stage,
                why.lines().next().unwrap_or_default()
            ),
        }
    })
    .await;
    let rows = match ran {
        Ok(rows) => rows,
        Err(e) => {
            if let Some(failed) = pipeline::STAGES.get(done.len()) {
                let mut body = done;
                body.push(vec![
                    failed.name().to_string(),
                    "failed (below); the stages above stay committed".into(),
                    "0".into(),
                    "-".into(),
                    "-".into(),
                ]);
                eprint!("{}", crate::text::table(RUN_HEADER, &body));
            }
            return Err(e.into());
        }
    };
    match a.format {
        crate::args::ReportFormat::Table => print!("{}", run_table(&rows)),
        crate::args::ReportFormat::Json => {
            let v: Vec<serde_json::Value> = rows
                .iter()
                .map(|r| {
                    serde_json::json!({
                        "stage": r.stage,
                        "ran": r.skipped.is_none(),
                        "skipped": r.skipped,
                        "summary": r.report.as_ref().map(summary),
                        "notes": r.report.as_ref().map(|rep| rep.notes()).unwrap_or_default(),
                        "rows": r.rows,
                        "seconds": r.seconds,
                        "peak_rss_bytes": r.peak_rss,
                    })
                })
                .collect();
            println!("{}", serde_json::to_string_pretty(&v)?);
        }
    }
    Ok(rows)
}

/// A spinner that says what a stage is doing and finishes when the stage is done.
struct Spinner {
    label: String,
    spinner: indicatif::ProgressBar,
}

impl pipeline::Progress for Spinner {
    fn stage(&self, what: &str) {
        self.spinner.set_message(format!("{}: {what}", self.label));
    }
    fn rows(&self, done: u64) {
        self.spinner.set_message(format!(
            "{}: {} rows",
            self.label,
            crate::text::thousands(done)
        ));
    }
}

impl Drop for Spinner {
    fn drop(&mut self) {
        self.spinner.finish_and_clear();
    }
}

const RUN_HEADER: &[&str] = &["stage", "outcome", "rows written", "seconds", "peak MiB"];

/// One line of `portrait run`'s table.
fn row_cells(r: &pipeline::Row) -> Vec<String> {
    let outcome = match &r.skipped {
        None => format!(
            "ran: {}",
            r.report.as_ref().map(summary).unwrap_or_default()
        ),
        Some(why) => format!("skipped: {}", why.lines().next().unwrap_or_default()),
    };
    vec![
        r.stage.to_string(),
        outcome,
        crate::text::thousands(r.rows),
        format!("{:.1}", r.seconds),
        r.peak_rss
            .map(|b| format!("{:.0}", b as f64 / 1048576.0))
            .unwrap_or_else(|| "-".into()),
    ]
}

/// `portrait run`'s closing table: stage, ran or skipped and why, rows written, seconds.
pub fn run_table(rows: &[pipeline::Row]) -> String {
    let body: Vec<Vec<String>> = rows.iter().map(row_cells).collect();
    let mut out = crate::text::table(RUN_HEADER, &body);
    for r in rows {
        let mut hints: Vec<&str> = Vec::new();
        for h in r
            .skipped
            .iter()
            .flat_map(|w| w.lines())
            .filter_map(|l| l.strip_prefix("hint: "))
        {
            if !hints.contains(&h) {
                hints.push(h);
            }
        }
        if !hints.is_empty() {
            out += &format!("{}: {}\n", r.stage, hints.join("; "));
        }
        for note in r.report.iter().flat_map(|rep| rep.notes()) {
            out += &format!("{}: {}\n", r.stage, note.replace("\nhint: ", " — "));
        }
    }
    out
}

/// One line on what a stage did.
pub fn summary(r: &Report) -> String {
    use crate::text::thousands;
    match r {
        Report::Resolve(o) => format!(
            "{} customer numbers into {} parties",
            thousands(o.stats.records),
            thousands(o.stats.parties)
        ),
        Report::Links(o) => format!(
            "{} links, {} households, {} corporate groups",
            thousands(o.links_by_kind.values().sum()),
            thousands(o.households),
            thousands(o.corp_groups)
        ),
        Report::Features(o) => format!(
            "features of {} parties as of {}",
            thousands(o.parties),
            o.as_of
        ),
        Report::Score(o) => {
            let mut s = format!("scores of {} parties", thousands(o.parties));
            match &o.churn {
                Some(c) => s += &format!("; churn label {}", c.label),
                None => s += "; no churn model",
            }
            if o.bgnbd.is_none() {
                s += "; no BG/NBD fit";
            }
            s
        }
        Report::Segment(o) => format!(
            "model `{}`: {} segments of {} parties",
            o.model,
            o.k,
            thousands(o.parties as u64)
        ),
        Report::Rules(o) => format!(
            "{} rules over {} baskets",
            thousands(o.rules.len() as u64),
            thousands(o.baskets as u64)
        ),
        Report::Recommend(o) => format!(
            "{} recommendations for {} parties{}",
            thousands(o.rows as u64),
            thousands(o.recommended as u64),
            if o.consent_known {
                ""
            } else {
                " (no customer table: consent unknown)"
            }
        ),
        Report::Tags(o) => format!(
            "{} tags of {} parties{}",
            o.tags,
            thousands(u64::from(o.parties)),
            if o.left_out.is_empty() {
                String::new()
            } else {
                format!(
                    "; {} left out for want of data: {}",
                    o.left_out.len(),
                    o.left_out
                        .iter()
                        .map(|(t, _)| t.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                )
            }
        ),
    }
}

pub async fn run(cli: Cli) -> Result<()> {
    let config = crate::settings::load_config(cli.config.as_deref())?;
    portrait_engine::memory::set_budget(crate::settings::memory_budget(
        cli.memory_limit.as_deref(),
        &config,
    )?);
    // A server stays up: its requests are bounded by the query pool, and the rebuilds it runs
    // after an erasure are not stopped mid-way.
    if !matches!(
        cli.command,
        Command::Serve(_) | Command::Demo(_) | Command::Cluster { .. }
    ) {
        portrait_engine::memory::watch();
    }
    cluster::select(cli.cluster.as_deref(), &cli.command).await?;
    match cli.command {
        Command::Demo(a) => demo::run(&cli.store, &config, &a, cli.quiet).await,
        Command::Generate(a) => generate::run(&a, cli.quiet),
        Command::Ingest(a) => ingest::run(&cli.store, &config, &a, cli.quiet).await,
        Command::Sql(a) => sql::run(&cli.store, &a).await,
        Command::Run(a) => run_stages(&cli.store, &config, a, cli.quiet)
            .await
            .map(|_| ()),
        Command::Resolve(a) => identity::resolve(&cli.store, &config, &a, cli.quiet).await,
        Command::Links(a) => identity::links(&cli.store, &config, &a, cli.quiet).await,
        Command::Party { action } => identity::party(&cli.store, &config, action, cli.quiet).await,
        Command::Eval { what } => identity::eval(&cli.store, what).await,
        Command::Features(a) => features::run(&cli.store, &config, &a, cli.quiet).await,
        Command::Score(a) => score::run(&cli.store, &config, &a, cli.quiet).await,
        Command::Coverage(a) => coverage::run(&cli.store, &a).await,
        Command::Report(a) => report::run(&cli.store, &a).await,
        Command::Segment(a) => mining::segment(&cli.store, &config, &a, cli.quiet).await,
        Command::Rules(a) => mining::rules(&cli.store, &config, &a, cli.quiet).await,
        Command::Recommend(a) => mining::recommend(&cli.store, &config, &a, cli.quiet).await,
        Command::Erase(a) => erase::run(&cli.store, &config, &a, cli.quiet).await,
        Command::Tags { action } => tags::tags(&cli.store, &config, action, cli.quiet).await,
        Command::Audience { action } => tags::audience(&cli.store, action).await,
        Command::Serve(a) => serve::serve(&cli.store, &config, &a).await,
        Command::User { action } => serve::user(&cli.store, action),
        Command::Audit {
            user,
            action,
            export_id,
            limit,
            format,
        } => {
            let privacy = portrait_privacy::Privacy::open(&cli.store)?;
            let entries = privacy.audit_log(&portrait_privacy::AuditQuery {
                user,
                action,
                export_id,
                limit: limit.clamp(1, 1_000_000),
            })?;
            if format == crate::args::ReportFormat::Json {
                let mut v = serde_json::to_value(&entries)?;
                // What the log quotes is masked on the way out, as over the API.
                portrait_privacy::mask_json(portrait_privacy::Role::Auditor, &mut v);
                println!("{}", serde_json::to_string_pretty(&v)?);
                return Ok(());
            }
            let rows: Vec<Vec<String>> = entries
                .iter()
                .map(|e| {
                    vec![
                        e.seq.to_string(),
                        e.at.clone(),
                        e.user.clone(),
                        e.role.clone(),
                        e.action.clone(),
                        e.status.to_string(),
                        e.rows.to_string(),
                        e.export_id.clone().unwrap_or_default(),
                        portrait_privacy::mask_text(&e.params.to_string()),
                    ]
                })
                .collect();
            print!(
                "{}",
                crate::text::table(
                    &[
                        "seq",
                        "at",
                        "user",
                        "role",
                        "action",
                        "status",
                        "rows",
                        "export_id",
                        "params"
                    ],
                    &rows
                )
            );
            Ok(())
        }
        Command::AuditTerm { text } => {
            let privacy = portrait_privacy::Privacy::open(&cli.store)?;
            println!("{}", privacy.search_term(&text));
            Ok(())
        }
        Command::Cluster { action } => cluster::run(action, cli.memory_limit.as_deref()).await,
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
        Command::Config {
            action: ConfigAction::Check,
        } => {
            config
                .validate()
                .map_err(|e| anyhow::anyhow!("config: {e}"))?;
            eprintln!("the configuration is valid");
            Ok(())
        }
    }
}
