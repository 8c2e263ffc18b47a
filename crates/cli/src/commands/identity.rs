//! `resolve`, `links`, `party` and `eval`: their reports are the commands' output.
#![allow(clippy::print_stdout)]

use std::path::Path;
use std::time::Instant;

use anyhow::Result;
use portrait_engine::identity;
use portrait_engine::pipeline::Report;
use portrait_resolve::Override;
use portrait_store::Store;

use crate::args::{EvalWhat, LinksArgs, PartyAction, ReportFormat, ResolveArgs};
use crate::settings::ConfigFile;
use crate::text::{table, thousands};

fn config_error(e: portrait_resolve::ConfigError) -> anyhow::Error {
    anyhow::anyhow!("config: {e}")
}

/// `portrait resolve`.
pub async fn resolve(
    store_dir: &Path,
    config: &ConfigFile,
    a: &ResolveArgs,
    quiet: bool,
) -> Result<()> {
    config.resolve.plan().map_err(config_error)?;
    let store = Store::open(store_dir)?;
    if a.explain_blocking {
        let reports = identity::explain_blocking(&store, &config.resolve).await?;
        if a.format == ReportFormat::Json {
            println!("{}", serde_json::to_string_pretty(&reports)?);
            return Ok(());
        }
        print!("{}", blocking_table(&reports));
        return Ok(());
    }
    drop(store);
    run(store_dir, config, a.format, quiet).await
}

async fn run(store: &Path, config: &ConfigFile, format: ReportFormat, quiet: bool) -> Result<()> {
    run_with(store, config, format, None, quiet).await
}

async fn run_with(
    store: &Path,
    config: &ConfigFile,
    format: ReportFormat,
    decision: Option<portrait_resolve::Override>,
    quiet: bool,
) -> Result<()> {
    let started = Instant::now();
    let recorded = decision.is_some();
    let mut settings = config.pipeline();
    settings.new_override = decision;
    let Report::Resolve(o) = super::one(
        &identity::ResolveStage,
        store,
        &settings,
        "resolving identities",
        quiet,
    )
    .await?
    else {
        unreachable!("the resolve stage reports a resolution")
    };
    let s = &o.stats;
    eprintln!(
        "committed store version {}: {}{} customer numbers into {} parties ({} with several numbers) in {:.1} s",
        o.version,
        if recorded {
            "decision recorded in `party_override`; "
        } else {
            ""
        },
        thousands(s.records),
        thousands(s.parties),
        thousands(s.multi_member_parties),
        started.elapsed().as_secs_f64()
    );
    for r in &o.blocking {
        if r.oversized_blocks > 0 {
            eprintln!(
                "warning: blocking rule `{}` skipped {} blocks above resolve.max_block_size ({} records; largest: {})",
                r.rule,
                r.oversized_blocks,
                thousands(r.oversized_records),
                r.largest_oversized
                    .iter()
                    .take(3)
                    .map(|(c, n)| format!("{n} records like customer {c}"))
                    .collect::<Vec<_>>()
                    .join(", ")
            );
        }
    }
    if s.refused_too_large > 0 {
        eprintln!(
            "warning: {} merges refused by resolve.max_party_size = {}; parties at the limit include customers {}",
            s.refused_too_large,
            config.resolve.max_party_size,
            s.size_guard_offenders.join(", ")
        );
    }
    if format == ReportFormat::Json {
        println!("{}", serde_json::to_string_pretty(&o)?);
        return Ok(());
    }
    let rows = vec![
        vec!["customer numbers".into(), thousands(s.records)],
        vec![
            "candidate pairs compared".into(),
            thousands(s.candidate_pairs),
        ],
        vec!["pairs matched".into(), thousands(s.matched_pairs)],
        vec!["merges by rule".into(), thousands(s.rule_merges)],
        vec!["merges by operator".into(), thousands(s.manual_merges)],
        vec![
            "refused: different valid IDs".into(),
            thousands(s.refused_conflicting_ids),
        ],
        vec![
            "refused: split by operator".into(),
            thousands(s.refused_split),
        ],
        vec![
            "refused: party size guard".into(),
            thousands(s.refused_too_large),
        ],
        vec![
            "refused: groups that match only by one pair".into(),
            thousands(s.refused_weak_link),
        ],
        vec!["parties".into(), thousands(s.parties)],
        vec![
            "parties with several numbers".into(),
            thousands(s.multi_member_parties),
        ],
    ];
    print!("{}", table(&["", "count"], &rows));
    if let Some(m) = &o.model {
        println!(
            "\nFellegi–Sunter model: prior match probability {:.3e}, EM {} iterations ({})",
            m.prior,
            m.iterations,
            if m.converged {
                "converged"
            } else {
                "not converged"
            }
        );
        let mut rows = Vec::new();
        for (f, field) in m.fields.iter().enumerate() {
            for (l, label) in field.levels().iter().enumerate().skip(1) {
                rows.push(vec![
                    field.name().to_string(),
                    label.to_string(),
                    format!("{:.4}", m.m[f][l]),
                    format!("{:.2e}", m.u[f][l]),
                    format!("{:+.2}", (m.m[f][l] / m.u[f][l]).log2()),
                ]);
            }
        }
        print!("{}", table(&["field", "level", "m", "u", "weight"], &rows));
    }
    Ok(())
}

fn blocking_table(reports: &[portrait_resolve::block::RuleReport]) -> String {
    let rows: Vec<Vec<String>> = reports
        .iter()
        .map(|r| {
            vec![
                r.rule.clone(),
                thousands(r.keyed_records),
                thousands(r.blocks),
                thousands(r.pairs),
                thousands(r.new_pairs),
                thousands(r.oversized_blocks),
                thousands(r.oversized_records),
            ]
        })
        .collect();
    let total: u64 = reports.iter().map(|r| r.new_pairs).sum();
    format!(
        "{}pairs to compare: {}\n",
        table(
            &[
                "rule",
                "records keyed",
                "blocks",
                "pairs",
                "new pairs",
                "oversized blocks",
                "records in them"
            ],
            &rows
        ),
        thousands(total)
    )
}

/// `portrait party split|merge`: records the decision, then resolves again.
pub async fn party(
    store_dir: &Path,
    config: &ConfigFile,
    action: PartyAction,
    quiet: bool,
) -> Result<()> {
    config.resolve.plan().map_err(config_error)?;
    let store = Store::open(store_dir)?;
    let o = match action {
        PartyAction::Split {
            cust_no,
            reason,
            by,
        } => Override::Split {
            cust_no,
            by,
            reason,
        },
        PartyAction::Merge { a, b, reason, by } => Override::Merge { a, b, by, reason },
    };
    drop(store);
    // The decision and the resolution it changes are one commit.
    run_with(store_dir, config, ReportFormat::Table, Some(o), quiet).await
}

/// `portrait links`.
pub async fn links(
    store_dir: &Path,
    config: &ConfigFile,
    a: &LinksArgs,
    quiet: bool,
) -> Result<()> {
    config
        .links
        .validate()
        .map_err(|e| anyhow::anyhow!("config: {e}"))?;
    let started = Instant::now();
    let Report::Links(o) = super::one(
        &portrait_engine::links::LinksStage,
        store_dir,
        &config.pipeline(),
        "linking parties",
        quiet,
    )
    .await?
    else {
        unreachable!("the links stage reports links")
    };
    let total: u64 = o.links_by_kind.values().sum();
    eprintln!(
        "committed store version {}: {} links, {} households, {} corporate groups, {} guarantee chains in {:.1} s",
        o.version,
        thousands(total),
        thousands(o.households),
        thousands(o.corp_groups),
        thousands(o.guarantee_chains),
        started.elapsed().as_secs_f64()
    );
    for (kind, n) in &o.refused_unions {
        eprintln!(
            "warning: {n} links left out of {kind} groups by the size guard (links.max_{kind})"
        );
    }
    if o.skipped_shared_values > 0 {
        eprintln!(
            "note: {} addresses, mobiles or e-mails shared too widely made no links (links.max_address_parties, links.max_contact_parties)",
            thousands(o.skipped_shared_values)
        );
    }
    if a.format == ReportFormat::Json {
        println!("{}", serde_json::to_string_pretty(&o)?);
        return Ok(());
    }
    let rows: Vec<Vec<String>> = o
        .links_by_kind
        .iter()
        .map(|(k, n)| vec![k.clone(), thousands(*n)])
        .collect();
    print!("{}", table(&["kind", "links"], &rows));
    println!(
        "\n{} households hold {} parties",
        thousands(o.households),
        thousands(o.parties_in_households)
    );
    Ok(())
}

/// `portrait eval identity|households`.
pub async fn eval(store_dir: &Path, what: EvalWhat) -> Result<()> {
    let store = Store::open(store_dir)?;
    let (truth, format) = match what {
        EvalWhat::Identity { truth, format } => (truth, format),
        EvalWhat::Churn {
            truth,
            as_of,
            horizon,
            format,
        } => return super::score::eval_churn(&store, &truth, as_of, &horizon, format).await,
        EvalWhat::Lookalike {
            truth,
            column,
            value,
            format,
        } => return super::tags::eval_lookalike(&store, &truth, &column, value, format).await,
        EvalWhat::Households {
            truth,
            identity,
            format,
        } => {
            let e = identity::eval_households(&store, &truth, &identity).await?;
            if format == ReportFormat::Json {
                println!("{}", serde_json::to_string_pretty(&e)?);
                return Ok(());
            }
            println!(
                "{} customer numbers of people evaluated",
                thousands(e.records)
            );
            print!("{}", scores_table(&[("household pairs", &e.pairwise)]));
            return Ok(());
        }
    };
    let e = identity::eval_identity(&store, &truth).await?;
    if format == ReportFormat::Json {
        println!("{}", serde_json::to_string_pretty(&e)?);
        return Ok(());
    }
    println!(
        "{} customer numbers evaluated{}",
        thousands(e.records),
        if e.missing > 0 {
            format!(
                " ({} of the truth are not in the store)",
                thousands(e.missing)
            )
        } else {
            String::new()
        }
    );
    print!(
        "{}",
        scores_table(&[("pairs", &e.pairwise), ("clusters", &e.cluster)])
    );
    println!(
        "parties holding two different valid ID numbers: {}",
        thousands(e.parties_with_two_valid_ids)
    );
    if !e.recall_by_noise.is_empty() {
        println!("\nrecall by noise of the duplicate record");
        let rows: Vec<Vec<String>> = e
            .recall_by_noise
            .iter()
            .map(|(k, n)| {
                vec![
                    k.clone(),
                    thousands(n.records),
                    thousands(n.recalled),
                    format!("{:.4}", n.recall),
                ]
            })
            .collect();
        print!(
            "{}",
            table(&["noise", "records", "recalled", "recall"], &rows)
        );
    }
    Ok(())
}

/// Precision, recall and F1 with their counts, one row per level.
fn scores_table(rows: &[(&str, &portrait_resolve::eval::Scores)]) -> String {
    let rows: Vec<Vec<String>> = rows
        .iter()
        .map(|(name, s)| {
            vec![
                name.to_string(),
                format!("{:.4}", s.precision),
                format!("{:.4}", s.recall),
                format!("{:.4}", s.f1),
                thousands(s.tp),
                thousands(s.predicted),
                thousands(s.truth),
            ]
        })
        .collect();
    table(
        &[
            "level",
            "precision",
            "recall",
            "F1",
            "correct",
            "predicted",
            "true",
        ],
        &rows,
    )
}
