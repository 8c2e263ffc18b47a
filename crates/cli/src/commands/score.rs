use std::path::Path;
use std::time::Instant;

use anyhow::Result;
use portrait_engine::pipeline::Report;
use portrait_engine::score;
use portrait_store::Store;

use crate::args::{BgnbdArgs, ReportFormat, ScoreArgs, ScoreWhat};
use crate::commands::features::parse_date;
use crate::settings::ConfigFile;
use crate::text::{table, thousands};

pub async fn run(store_dir: &Path, config: &ConfigFile, a: &ScoreArgs, quiet: bool) -> Result<()> {
    config
        .score
        .validate()
        .map_err(|e| anyhow::anyhow!("config: {e}"))?;
    if let Some(ScoreWhat::Bgnbd(b)) = &a.what {
        return bgnbd(store_dir, config, b).await;
    }
    let mut settings = config.pipeline();
    if let Some(s) = &a.as_of {
        settings.as_of = Some(parse_date(s)?);
    }
    let started = Instant::now();
    let Report::Score(o) =
        super::one(&score::ScoreStage, store_dir, &settings, "scoring", quiet).await?
    else {
        unreachable!("the score stage reports scores")
    };
    eprintln!(
        "committed store version {}: scores of {} parties as of {} in {:.1} s",
        o.version,
        thousands(o.parties),
        o.as_of,
        started.elapsed().as_secs_f64()
    );
    for n in &o.notes {
        eprintln!("note: {n}");
    }
    if a.format == ReportFormat::Json {
        println!("{}", serde_json::to_string_pretty(&o)?);
        return Ok(());
    }
    if let Some(f) = &o.bgnbd {
        print!("{}", params_table(f));
    }
    match &o.churn {
        Some(r) => {
            println!(
                "\nchurn within {} days (label {}) — trained as of {} ({} parties, {:.1}% churn), tested as of {} ({} parties, {:.1}% churn); parties scored with {}",
                r.window_days,
                r.label,
                r.train_as_of,
                thousands(r.n_train as u64),
                100.0 * r.train_churn_rate,
                r.test_as_of,
                thousands(r.n_test as u64),
                100.0 * r.test_churn_rate,
                r.scored_with
            );
            let rows: Vec<Vec<String>> = r
                .evaluations
                .iter()
                .map(|e| {
                    vec![
                        e.model.clone(),
                        format!("{:.4}", e.auc),
                        format!("{:.4}", e.precision_at_10pct),
                        format!("{:.4}", e.brier),
                        format!("{:.4}", e.log_loss),
                    ]
                })
                .collect();
            print!(
                "{}",
                table(
                    &["model", "AUC", "precision@10%", "Brier", "log loss"],
                    &rows
                )
            );
            if let Some(e) = r.evaluations.iter().find(|e| e.model == r.scored_with) {
                let rows: Vec<Vec<String>> = e
                    .calibration
                    .iter()
                    .filter(|b| b.count > 0)
                    .map(|b| {
                        vec![
                            format!("{:.1}–{:.1}", b.lower, b.upper),
                            thousands(b.count as u64),
                            format!("{:.3}", b.mean_predicted),
                            format!("{:.3}", b.observed_rate),
                        ]
                    })
                    .collect();
                println!("\ncalibration of {} on the test date", e.model);
                print!(
                    "{}",
                    table(
                        &["predicted", "parties", "mean predicted", "observed"],
                        &rows
                    )
                );
            }
            let top: Vec<String> = r
                .importance
                .iter()
                .take(5)
                .map(|(n, g)| format!("{n} {:.0}%", 100.0 * g))
                .collect();
            println!("strongest inputs (tree gain): {}", top.join(", "));
        }
        None => println!("\nchurn: no model (see the note above)"),
    }
    println!();
    let rows: Vec<Vec<String>> = o
        .retention
        .iter()
        .map(|(g, n)| {
            vec![
                g.clone(),
                thousands(*n),
                format!("{:.1}%", 100.0 * *n as f64 / o.parties.max(1) as f64),
            ]
        })
        .collect();
    print!("{}", table(&["retention group", "parties", "share"], &rows));
    Ok(())
}

fn params_table(f: &score::bgnbd::Fitted) -> String {
    let b = &f.bgnbd.model;
    let mut rows = vec![
        vec!["BG/NBD".into(), "r".into(), format!("{:.4}", b.r)],
        vec!["".into(), "alpha".into(), format!("{:.4}", b.alpha)],
        vec!["".into(), "a".into(), format!("{:.4}", b.a)],
        vec!["".into(), "b".into(), format!("{:.4}", b.b)],
    ];
    if let Some(g) = &f.spend {
        rows.push(vec![
            "Gamma-Gamma".into(),
            "p".into(),
            format!("{:.4}", g.model.p),
        ]);
        rows.push(vec!["".into(), "q".into(), format!("{:.4}", g.model.q)]);
        rows.push(vec!["".into(), "v".into(), format!("{:.4}", g.model.v)]);
    }
    format!(
        "{}fitted on {} parties (time unit {} days), log-likelihood {:.2}{}\n",
        table(&["model", "parameter", "value"], &rows),
        thousands(f.bgnbd.n as u64),
        f.unit_days,
        f.bgnbd.log_likelihood,
        if f.bgnbd.converged {
            String::new()
        } else {
            format!(
                "\nwarning: the BG/NBD fit did not converge in {} iterations{}; the last estimate is used",
                f.bgnbd.iterations,
                if f.bgnbd.timed_out {
                    " (its time budget, score.bgnbd.max_seconds, ran out)"
                } else {
                    ""
                }
            )
        }
    )
}

async fn bgnbd(store_dir: &Path, config: &ConfigFile, b: &BgnbdArgs) -> Result<()> {
    let store = Store::open(store_dir)?;
    let end = parse_date(&b.calibration_end)?;
    let f = score::fit_bgnbd(&store, &config.features, &config.score, end).await?;
    match b.format {
        ReportFormat::Json => {
            let m = &f.bgnbd.model;
            let mut v = serde_json::json!({
                "r": m.r, "alpha": m.alpha, "a": m.a, "b": m.b,
                "customers": f.bgnbd.n,
                "log_likelihood": f.bgnbd.log_likelihood,
                "converged": f.bgnbd.converged,
                "iterations": f.bgnbd.iterations,
                "unit_days": f.unit_days,
                "calibration_end": end.to_string(),
                "notes": f.notes,
            });
            if let Some(g) = &f.spend {
                v["p"] = g.model.p.into();
                v["q"] = g.model.q.into();
                v["v"] = g.model.v.into();
                v["repeat_customers"] = g.n.into();
            }
            println!("{}", serde_json::to_string_pretty(&v)?);
        }
        ReportFormat::Table => {
            print!("{}", params_table(&f));
            for n in &f.notes {
                eprintln!("note: {n}");
            }
        }
    }
    Ok(())
}
