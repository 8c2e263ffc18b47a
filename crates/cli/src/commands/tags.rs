//! `portrait tags …` and `portrait audience …`.
#![allow(clippy::print_stdout)]

use std::path::Path;
use std::sync::Arc;
use std::time::Instant;

use anyhow::{Result, bail};
use arrow::array::{ArrayRef, Float64Array, RecordBatch, StringArray, UInt64Array};
use arrow::datatypes::{DataType, Field, Schema};
use portrait_engine::output::{Format, write_batches};
use portrait_engine::pipeline::Report;
use portrait_engine::tags as engine;
use portrait_store::Store;

use crate::args::{AudienceAction, ReportFormat, TagsAction};
use crate::settings::ConfigFile;
use crate::text::thousands;

/// A report column: its name and its values.
enum Col {
    Text(&'static str, Vec<String>),
    Opt(&'static str, Vec<Option<String>>),
    Int(&'static str, Vec<u64>),
    Num(&'static str, Vec<f64>),
}

fn batch(cols: Vec<Col>) -> Result<RecordBatch> {
    let mut fields = Vec::new();
    let mut arrays: Vec<ArrayRef> = Vec::new();
    for c in cols {
        match c {
            Col::Text(n, v) => {
                fields.push(Field::new(n, DataType::Utf8, false));
                arrays.push(Arc::new(StringArray::from(v)));
            }
            Col::Opt(n, v) => {
                fields.push(Field::new(n, DataType::Utf8, true));
                arrays.push(Arc::new(StringArray::from(v)));
            }
            Col::Int(n, v) => {
                fields.push(Field::new(n, DataType::UInt64, false));
                arrays.push(Arc::new(UInt64Array::from(v)));
            }
            Col::Num(n, v) => {
                fields.push(Field::new(n, DataType::Float64, true));
                arrays.push(Arc::new(Float64Array::from(v)));
            }
        }
    }
    Ok(RecordBatch::try_new(Arc::new(Schema::new(fields)), arrays)?)
}

/// 人群画像 of `parties`: the tag values over-represented against the population (lift and
/// chi-square p-value below `max_p`, at most `limit`), and the means of the value columns.
pub(crate) fn portrait_batches(
    store: &Store,
    index: &portrait_tags::TagIndex,
    parties: &portrait_tags::RoaringBitmap,
    limit: usize,
    max_p: f64,
) -> Result<(RecordBatch, RecordBatch)> {
    let rows: Vec<_> = index
        .portrait(parties)
        .into_iter()
        .filter(|r| r.p_value < max_p && r.count > 0)
        .take(limit)
        .collect();
    let sums = engine::summaries(
        store,
        index,
        parties,
        &[
            "clv",
            "clv_bgnbd",
            "financial_assets",
            "adb_year",
            "profit",
            "churn_probability",
            "age",
        ],
    )?;
    let portrait = batch(vec![
        Col::Text("tag", rows.iter().map(|r| r.tag.clone()).collect()),
        Col::Opt("value", rows.iter().map(|r| r.value.clone()).collect()),
        Col::Int("count", rows.iter().map(|r| r.count).collect()),
        Col::Num("share", rows.iter().map(|r| round(r.share, 4)).collect()),
        Col::Num(
            "population_share",
            rows.iter().map(|r| round(r.population_share, 4)).collect(),
        ),
        Col::Num("lift", rows.iter().map(|r| round(r.lift, 3)).collect()),
        Col::Num("chi2", rows.iter().map(|r| round(r.chi2, 2)).collect()),
        Col::Num("p_value", rows.iter().map(|r| r.p_value).collect()),
    ])?;
    let summary = batch(vec![
        Col::Text("feature", sums.iter().map(|s| s.feature.clone()).collect()),
        Col::Int("parties", sums.iter().map(|s| s.count).collect()),
        Col::Num("sum", sums.iter().map(|s| round(s.sum, 2)).collect()),
        Col::Num("mean", sums.iter().map(|s| round(s.mean, 4)).collect()),
        Col::Num(
            "population_mean",
            sums.iter().map(|s| round(s.population_mean, 4)).collect(),
        ),
    ])?;
    Ok((portrait, summary))
}

fn emit(b: RecordBatch, format: Format) -> Result<()> {
    let mut out = std::io::stdout().lock();
    write_batches(std::slice::from_ref(&b), &b.schema(), format, &mut out)?;
    Ok(())
}

fn round(x: f64, digits: i32) -> f64 {
    let f = 10f64.powi(digits);
    (x * f).round() / f
}

pub async fn tags(
    store_dir: &Path,
    config: &ConfigFile,
    action: TagsAction,
    quiet: bool,
) -> Result<()> {
    match action {
        TagsAction::Catalog => {
            print!("{}", portrait_tags::catalog::DEFAULT_CATALOG);
            Ok(())
        }
        TagsAction::Check { file } => {
            let store = Store::open(store_dir)?;
            let c = engine::load_catalog(&store, Some(&file)).await?;
            let values: usize = c.tags.len();
            println!(
                "{}: {values} tags, every feature known and every rule well typed",
                file.display()
            );
            Ok(())
        }
        TagsAction::Build { catalog, format } => {
            let mut settings = config.pipeline();
            if catalog.is_some() {
                settings.tags_catalog = catalog;
            }
            let started = Instant::now();
            let Report::Tags(r) = super::one(
                &engine::TagsStage,
                store_dir,
                &settings,
                "building tags",
                quiet,
            )
            .await?
            else {
                unreachable!("the tags stage reports tags")
            };
            eprintln!(
                "committed: {} tags ({} values) of {} parties as of {} in {:.1} s",
                r.tags,
                r.values,
                thousands(u64::from(r.parties)),
                r.as_of,
                started.elapsed().as_secs_f64()
            );
            if !r.left_out.is_empty() {
                eprintln!(
                    "note: {} tags left out: every feature they read is empty in this store: {}",
                    r.left_out.len(),
                    r.left_out
                        .iter()
                        .map(|(t, f)| format!("{t} ({})", f.join(", ")))
                        .collect::<Vec<_>>()
                        .join(", ")
                );
            }
            if format == ReportFormat::Json {
                let left_out: serde_json::Map<String, serde_json::Value> = r
                    .left_out
                    .iter()
                    .map(|(t, f)| (t.clone(), serde_json::json!(f)))
                    .collect();
                println!(
                    "{}",
                    serde_json::json!({
                        "as_of": r.as_of, "parties": r.parties, "tags": r.tags,
                        "values": r.values, "tag_rows": r.rows, "with_consent": r.consent,
                        "left_out": left_out,
                    })
                );
            } else {
                println!(
                    "{} parties, {} tags, {} tag values, {} rows in `tag`, {} parties with marketing consent",
                    thousands(u64::from(r.parties)),
                    r.tags,
                    r.values,
                    thousands(r.rows),
                    thousands(r.consent)
                );
            }
            Ok(())
        }
        TagsAction::List { format } => {
            let store = Store::open(store_dir)?;
            let index = engine::open_index(&store)?;
            let total = f64::from(index.parties().max(1));
            let (mut tag, mut cat, mut label, mut value, mut n, mut share) =
                (vec![], vec![], vec![], vec![], vec![], vec![]);
            for t in index.tags() {
                for (v, b) in &t.values {
                    tag.push(t.info.name.clone());
                    cat.push(t.info.category.clone());
                    label.push(format!("{} / {}", t.info.label_zh, t.info.label_en));
                    value.push(v.clone());
                    n.push(b.len());
                    share.push(round(b.len() as f64 / total, 4));
                }
            }
            emit(
                batch(vec![
                    Col::Text("tag", tag),
                    Col::Text("category", cat),
                    Col::Text("label", label),
                    Col::Text("value", value),
                    Col::Int("parties", n),
                    Col::Num("share", share),
                ])?,
                format,
            )
        }
        TagsAction::Affinity {
            expr,
            min_support,
            limit,
            format,
        } => {
            let store = Store::open(store_dir)?;
            let index = engine::open_index(&store)?;
            let a = engine::select(&store, &index, &expr)?;
            if a.parties.is_empty() {
                bail!("`{expr}` selects no party");
            }
            let skip: Vec<&str> = a
                .expr
                .leaves()
                .iter()
                .filter_map(|l| l.leaf_name().map(|(n, _)| n))
                .collect();
            let rows = index.affinity(&a.parties, &skip, min_support);
            let rows: Vec<_> = rows.into_iter().take(limit).collect();
            eprintln!("{} parties hold `{expr}`", thousands(a.parties.len()));
            emit(
                batch(vec![
                    Col::Text("tag", rows.iter().map(|r| r.tag.clone()).collect()),
                    Col::Text("value", rows.iter().map(|r| r.value.clone()).collect()),
                    Col::Int("both", rows.iter().map(|r| r.both).collect()),
                    Col::Num(
                        "support",
                        rows.iter().map(|r| round(r.support, 5)).collect(),
                    ),
                    Col::Num(
                        "confidence",
                        rows.iter().map(|r| round(r.confidence, 4)).collect(),
                    ),
                    Col::Num("lift", rows.iter().map(|r| round(r.lift, 3)).collect()),
                ])?,
                format,
            )
        }
    }
}

pub async fn audience(store_dir: &Path, action: AudienceAction) -> Result<()> {
    let store = Store::open(store_dir)?;
    match action {
        AudienceAction::Count { expr } => {
            let index = engine::open_index(&store)?;
            let started = Instant::now();
            let a = engine::select(&store, &index, &expr)?;
            eprintln!(
                "{} of {} parties ({:.2}%) in {:.1} ms",
                thousands(a.parties.len()),
                thousands(u64::from(index.parties())),
                100.0 * a.parties.len() as f64 / f64::from(index.parties().max(1)),
                started.elapsed().as_secs_f64() * 1e3
            );
            println!("{}", a.parties.len());
            Ok(())
        }
        AudienceAction::Breakdown { expr, by, format } => {
            let index = engine::open_index(&store)?;
            let a = engine::select(&store, &index, &expr)?;
            let rows = index.breakdown(&a.parties, &by)?;
            eprintln!(
                "{} parties in `{expr}`, by `{by}`",
                thousands(a.parties.len())
            );
            emit(
                batch(vec![
                    Col::Opt("value", rows.iter().map(|r| r.value.clone()).collect()),
                    Col::Int("count", rows.iter().map(|r| r.count).collect()),
                    Col::Num("share", rows.iter().map(|r| round(r.share, 4)).collect()),
                    Col::Int("population", rows.iter().map(|r| r.population).collect()),
                    Col::Num(
                        "population_share",
                        rows.iter().map(|r| round(r.population_share, 4)).collect(),
                    ),
                    Col::Num("lift", rows.iter().map(|r| round(r.lift, 3)).collect()),
                ])?,
                format,
            )
        }
        AudienceAction::Portrait {
            expr,
            limit,
            max_p,
            format,
        } => {
            let index = engine::open_index(&store)?;
            let a = engine::select(&store, &index, &expr)?;
            if a.parties.is_empty() {
                bail!("`{expr}` selects no party");
            }
            let (portrait, summary) = portrait_batches(&store, &index, &a.parties, limit, max_p)?;
            eprintln!(
                "{} of {} parties ({:.2}%) in `{expr}`",
                thousands(a.parties.len()),
                thousands(u64::from(index.parties())),
                100.0 * a.parties.len() as f64 / f64::from(index.parties().max(1))
            );
            emit(portrait, format)?;
            if format == Format::Table {
                println!();
            }
            emit(summary, format)
        }
        AudienceAction::Export {
            expr,
            saved,
            out,
            format,
            lang,
            include_no_consent,
            by,
        } => {
            let xlsx = match format {
                None => out
                    .extension()
                    .is_some_and(|e| e.eq_ignore_ascii_case("xlsx")),
                Some(Format::Xlsx) => true,
                Some(Format::Csv) => false,
                Some(f) => anyhow::bail!(
                    "audience export writes csv or xlsx, not {}",
                    format!("{f:?}").to_lowercase()
                ),
            };
            let index = engine::open_index(&store)?;
            let (label, parties) = match (expr, saved) {
                (Some(e), _) => {
                    let a = engine::select(&store, &index, &e)?;
                    (a.expr.to_string(), a.parties)
                }
                (None, Some(name)) => {
                    let Some(info) = engine::saved_audiences(&store)?
                        .into_iter()
                        .find(|s| s.name == name)
                    else {
                        bail!(
                            "no saved audience `{name}`\nhint: `portrait audience list` shows them"
                        );
                    };
                    let parties = engine::evaluate_saved(&store, &index, &info.expr)?;
                    (info.expr, parties)
                }
                (None, None) => bail!("give the audience as an expression or `--saved NAME`"),
            };
            let (rows, withheld) =
                engine::export_rows(&store, &index, &parties, !include_no_consent).await?;
            // The export is on record, with its id, before the file exists; the id is in a
            // `watermark` column of every row.
            let privacy = portrait_privacy::Privacy::open(store.root())?;
            let export_id = portrait_privacy::db::new_export_id();
            let params = serde_json::json!({
                "expr": &label, "include_no_consent": include_no_consent,
                "format": if xlsx { "xlsx" } else { "csv" },
                "withheld_no_consent": withheld, "out": out.display().to_string(),
            });
            let record = |n: u64, status: u16| {
                privacy.audit(&portrait_privacy::NewAudit {
                    user: &by,
                    role: "cli",
                    action: "cli.audience.export",
                    params: params.clone(),
                    rows: n,
                    status,
                    export_id: Some(&export_id),
                    request_id: None,
                })
            };
            record(0, 202)?;
            let rows = engine::watermark_batch(&rows, &export_id)?;
            // Write next to the target, then rename: a failed export leaves no half file.
            let mut tmp = out.as_os_str().to_owned();
            tmp.push(".partial");
            let tmp = std::path::PathBuf::from(tmp);
            let written = (|| {
                if xlsx {
                    let zh = lang == portrait_engine::labels::Lang::Zh;
                    let dir = out
                        .parent()
                        .filter(|p| !p.as_os_str().is_empty())
                        .unwrap_or(std::path::Path::new("."));
                    let mut book = portrait_engine::xlsx::Workbook::new(lang, dir)?;
                    book.table(if zh { "人群" } else { "audience" }, rows.schema())?;
                    book.write(&rows)?;
                    let about = portrait_engine::xlsx::About {
                        title: (if zh {
                            "portrait 人群导出"
                        } else {
                            "portrait audience export"
                        })
                        .into(),
                        lines: vec![
                            (
                                (if zh { "人群表达式" } else { "Audience" }).into(),
                                label.clone(),
                            ),
                            (
                                (if zh {
                                    "营销同意"
                                } else {
                                    "Marketing consent"
                                })
                                .into(),
                                match (include_no_consent, zh) {
                                    (false, true) => {
                                        format!("仅含同意营销的客户（{withheld} 位未同意，未导出）")
                                    }
                                    (false, false) => format!(
                                        "only parties who consented ({withheld} without consent left out)"
                                    ),
                                    (true, true) => "含未同意营销的客户".into(),
                                    (true, false) => "parties without consent included".into(),
                                },
                            ),
                            (
                                (if zh { "个人信息" } else { "Personal data" }).into(),
                                (if zh {
                                    "按字段含义脱敏"
                                } else {
                                    "masked by the meaning of each column"
                                })
                                .into(),
                            ),
                            (
                                (if zh { "导出人" } else { "Exported by" }).into(),
                                by.clone(),
                            ),
                        ],
                        export_id: Some(export_id.clone()),
                    };
                    book.save(&about, &tmp)?;
                } else {
                    let f = std::fs::File::create(&tmp)
                        .map_err(|e| anyhow::anyhow!("`{}`: {e}", tmp.display()))?;
                    let mut w = std::io::BufWriter::new(f);
                    write_batches(
                        std::slice::from_ref(&rows),
                        &rows.schema(),
                        Format::Csv,
                        &mut w,
                    )?;
                    use std::io::Write;
                    w.flush()?;
                }
                std::fs::rename(&tmp, &out)
                    .map_err(|e| anyhow::anyhow!("`{}`: {e}", out.display()))?;
                Ok::<(), anyhow::Error>(())
            })();
            if let Err(e) = written {
                let _ = std::fs::remove_file(&tmp);
                record(0, 500)?;
                return Err(e);
            }
            record(rows.num_rows() as u64, 200)?;
            eprintln!(
                "wrote {} parties to `{}` (personal columns masked), watermarked {export_id}{}",
                thousands(rows.num_rows() as u64),
                out.display(),
                if withheld > 0 {
                    format!(
                        "; {} without marketing consent left out",
                        thousands(withheld)
                    )
                } else {
                    String::new()
                }
            );
            println!("{}", rows.num_rows());
            Ok(())
        }
        AudienceAction::Lookalike {
            seed,
            size,
            method,
            exclude,
            save,
            show,
            format,
        } => {
            let index = engine::open_index(&store)?;
            let spec = portrait_engine::lookalike::Spec {
                seed: engine::select(&store, &index, &seed)?.expr.to_string(),
                size,
                method,
                exclude: match exclude {
                    Some(e) => Some(engine::select(&store, &index, &e)?.expr.to_string()),
                    None => None,
                },
            };
            let started = Instant::now();
            let found = portrait_engine::lookalike::run(&store, &index, &spec)?;
            eprintln!(
                "seed `{}`: {} parties; {} candidates ({} excluded); {} features",
                spec.seed,
                thousands(found.seed_parties),
                thousands(found.candidates),
                thousands(found.excluded),
                found.features.len()
            );
            if !found.dropped.is_empty() {
                eprintln!(
                    "  left out, as the seed is defined by them: {}",
                    found.dropped.join(", ")
                );
            }
            for c in &found.checks {
                eprintln!(
                    "  {:<10} finds {:.1}% of a hidden half ({} parties) from the other {}; a random pick {:.1}%",
                    c.method.code(),
                    100.0 * c.recall,
                    thousands(c.hidden as u64),
                    thousands(c.shown as u64),
                    100.0 * c.base_rate
                );
            }
            if found.checks.is_empty() {
                eprintln!("  (a seed under 20 parties is too small to judge the methods on)");
            }
            eprintln!(
                "{} parties by {}{} in {:.1} s",
                thousands(found.members.len() as u64),
                found.method.code(),
                if found.converged {
                    ""
                } else {
                    " (the classifier did not converge)"
                },
                started.elapsed().as_secs_f64()
            );
            if let Some(name) = save {
                let saved = spec.resolved(found.method).to_saved();
                let n = engine::save_audience(&store, &name, &saved, &found.parties)?;
                eprintln!("saved audience `{name}`: {} parties", thousands(n));
            }
            let rows: Vec<_> = if format == Format::Table {
                found.members.iter().take(show).collect()
            } else {
                found.members.iter().collect()
            };
            emit(
                batch(vec![
                    Col::Text(
                        "party_id",
                        rows.iter().map(|m| m.party_id.clone()).collect(),
                    ),
                    Col::Num("score", rows.iter().map(|m| round(m.score, 4)).collect()),
                    Col::Text(
                        "why",
                        rows.iter()
                            .map(|m| {
                                m.why
                                    .iter()
                                    .map(|(f, c)| format!("{f} {c:+.2}"))
                                    .collect::<Vec<_>>()
                                    .join("; ")
                            })
                            .collect(),
                    ),
                ])?,
                format,
            )
        }
        AudienceAction::Save { name, expr } => {
            let index = engine::open_index(&store)?;
            let a = engine::select(&store, &index, &expr)?;
            let canonical = a.expr.to_string();
            let n = engine::save_audience(&store, &name, &canonical, &a.parties)?;
            eprintln!("saved audience `{name}`: {} parties", thousands(n));
            println!("{n}");
            Ok(())
        }
        AudienceAction::Diff { name, show } => {
            let index = engine::open_index(&store)?;
            let d = engine::diff_audience(&store, &index, &name)?;
            println!("audience `{}`: {}", d.saved.name, d.saved.expr);
            println!(
                "saved {} (tags as of {}): {} parties; now: {} parties",
                d.saved.saved_at,
                d.saved.as_of,
                thousands(d.saved.members.len() as u64),
                thousands(d.now)
            );
            println!(
                "stayed {}, entered {}, left {}",
                thousands(d.stayed),
                thousands(d.entered.len() as u64),
                thousands(d.left.len() as u64)
            );
            if show > 0 {
                for (label, ids) in [("entered", &d.entered), ("left", &d.left)] {
                    if !ids.is_empty() {
                        let more = ids.len().saturating_sub(show);
                        let list: Vec<&str> = ids.iter().take(show).map(String::as_str).collect();
                        println!(
                            "{label}: {}{}",
                            list.join(", "),
                            if more > 0 {
                                format!(" … and {more} more")
                            } else {
                                String::new()
                            }
                        );
                    }
                }
            }
            Ok(())
        }
        AudienceAction::List { format } => {
            let saved = engine::saved_audiences(&store)?;
            emit(
                batch(vec![
                    Col::Text("name", saved.iter().map(|a| a.name.clone()).collect()),
                    Col::Text("expr", saved.iter().map(|a| a.expr.clone()).collect()),
                    Col::Text(
                        "saved_at",
                        saved.iter().map(|a| a.saved_at.clone()).collect(),
                    ),
                    Col::Text("as_of", saved.iter().map(|a| a.as_of.clone()).collect()),
                    Col::Int("parties", saved.iter().map(|a| a.parties).collect()),
                ])?,
                format,
            )
        }
        AudienceAction::Report { name, format } => {
            let batches = engine::campaign_report(&store, &name).await?;
            if batches.is_empty() || engine::row_count(&batches) == 0 {
                bail!(
                    "no campaign in `campaign_response` reached anyone\nhint: load responses with `portrait ingest campaign_response=FILE`"
                );
            }
            let schema = batches[0].schema();
            let mut out = std::io::stdout().lock();
            write_batches(&batches, &schema, format, &mut out)?;
            Ok(())
        }
    }
}

/// `portrait eval lookalike`.
pub async fn eval_lookalike(
    store: &Store,
    truth: &Path,
    column: &str,
    value: Option<String>,
    format: ReportFormat,
) -> Result<()> {
    let index = engine::open_index(store)?;
    let checks =
        portrait_engine::lookalike::eval_truth(store, &index, truth, column, value.as_deref())
            .await?;
    if format == ReportFormat::Json {
        println!("{}", serde_json::to_string_pretty(&checks)?);
        return Ok(());
    }
    let mut rows = Vec::new();
    for t in &checks {
        for c in &t.checks {
            rows.push(vec![
                t.value.clone(),
                thousands(t.parties),
                c.method.code().to_string(),
                thousands(c.hidden as u64),
                format!("{:.3}", c.recall),
                format!("{:.3}", c.base_rate),
                format!("{:.1}", c.recall / c.base_rate.max(f64::MIN_POSITIVE)),
            ]);
        }
    }
    print!(
        "{}",
        crate::text::table(
            &[
                column, "parties", "method", "hidden", "recall", "random", "lift"
            ],
            &rows
        )
    );
    Ok(())
}
