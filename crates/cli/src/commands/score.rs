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
    settings.churn_rows = a.churn_rows.clone();
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
                "\nchurn within {} days (label {}, {} days' silence) — trained as of {} ({} party-dates, {:.1}% churn), validated as of {} ({} parties, {:.1}% churn); parties scored with {}",
                r.window_days,
                r.label,
                r.inactive_days,
                r.train_dates
                    .iter()
                    .map(|d| d.to_string())
                    .collect::<Vec<_>>()
                    .join(", "),
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
                        format!("{:.4}", e.pr_auc),
                        format!("{:.2}", e.lift_at_10pct),
                        format!("{:.1}%", 100.0 * e.capture_at_10pct),
                        format!("{:.4}", e.brier),
                    ]
                })
                .collect();
            print!(
                "{}",
                table(
                    &[
                        "model",
                        "ROC-AUC",
                        "PR-AUC",
                        "lift@10%",
                        "capture@10%",
                        "Brier (raw)"
                    ],
                    &rows
                )
            );
            if let Some(c) = &r.calibration {
                println!(
                    "\ncalibration of {} on {} rows as of {}: {} (held-out log loss {}); Brier {:.4} → {:.4}, calibration error {:.4} → {:.4}",
                    r.scored_with,
                    thousands(c.rows as u64),
                    c.as_of,
                    c.method,
                    c.tried
                        .iter()
                        .map(|(m, l)| format!("{m} {l:.4}"))
                        .collect::<Vec<_>>()
                        .join(", "),
                    c.brier_raw,
                    c.brier_calibrated,
                    c.ece_raw,
                    c.ece_calibrated
                );
                print!("{}", calibration_table(&c.table));
            }
            println!(
                "{} parties had already churned at {} and are reported as churned, not scored",
                thousands(r.churned_at_as_of as u64),
                o.as_of
            );
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

fn calibration_table(bins: &[score::churn::CalibrationBin]) -> String {
    let rows: Vec<Vec<String>> = bins
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
    table(
        &["predicted", "parties", "mean predicted", "observed"],
        &rows,
    )
}

/// `portrait eval churn`.
pub async fn eval_churn(
    store: &Store,
    truth: &Path,
    as_of: Option<String>,
    horizon: &str,
    format: ReportFormat,
) -> Result<()> {
    let days: i64 = horizon
        .strip_suffix('d')
        .unwrap_or(horizon)
        .parse()
        .map_err(|_| {
            anyhow::anyhow!("--horizon: `{horizon}` is not a number of days (such as 90d)")
        })?;
    let as_of = as_of.as_deref().map(parse_date).transpose()?;
    let e = score::eval::churn(store, truth, as_of, days).await?;
    if format == ReportFormat::Json {
        println!("{}", serde_json::to_string_pretty(&e)?);
        return Ok(());
    }
    println!(
        "churn within {} days after {}: {} parties judged, {} churned ({:.2}%)",
        e.horizon_days,
        e.as_of,
        thousands(e.parties as u64),
        thousands(e.churners as u64),
        100.0 * e.churn_rate
    );
    let rows = vec![
        vec!["ROC-AUC".into(), format!("{:.4}", e.roc_auc)],
        vec!["PR-AUC".into(), format!("{:.4}", e.pr_auc)],
        vec![
            "precision in the top 10%".into(),
            format!("{:.4}", e.precision_at_10pct),
        ],
        vec![
            "lift in the top 10%".into(),
            format!("{:.2}", e.lift_at_10pct),
        ],
        vec![
            "capture in the top 10%".into(),
            format!("{:.1}%", 100.0 * e.capture_at_10pct),
        ],
        vec!["Brier score".into(), format!("{:.4}", e.brier)],
    ];
    print!("{}", table(&["measure", "value"], &rows));
    println!("\ncalibration against the truth");
    print!("{}", calibration_table(&e.calibration));
    println!(
        "\nreported as already churned (not scored): {} parties, {} of them gone by the truth within the horizon\nleft out: {} gone before the as-of date, {} with no customer number in the truth; {} customer numbers of the truth are not in the store",
        thousands(e.reported_churned as u64),
        thousands(e.reported_churned_confirmed as u64),
        thousands(e.gone_before as u64),
        thousands(e.not_in_truth as u64),
        thousands(e.unknown_customers as u64)
    );
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
