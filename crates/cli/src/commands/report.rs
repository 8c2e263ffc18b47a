//! `portrait report KIND --out FILE.xlsx`: report workbooks for people who read them in Excel.
//! Each is an export: on record in the audit log before the file exists, its id on every row
//! (`watermark`) and in the description sheet.

use std::path::Path;

use anyhow::{Context, Result, bail};
use arrow::record_batch::RecordBatch;
use portrait_engine::labels::Lang;
use portrait_engine::open_session;
use portrait_engine::xlsx::{About, Workbook};
use portrait_store::Store;

use crate::args::{ReportArgs, ReportKind};

const LATEST: &str = "(SELECT * FROM features WHERE as_of = (SELECT max(as_of) FROM features))";

/// A sheet: its name in English and Chinese, its rows, and the columns whose coded values are
/// written as labels.
struct Sheet {
    en: &'static str,
    zh: &'static str,
    rows: Vec<RecordBatch>,
    coded: &'static [&'static str],
}

/// Parties a report of a saved audience needs: below, its means describe individuals.
const MIN_AUDIENCE: u64 = 10;

pub async fn run(store_dir: &Path, a: &ReportArgs) -> Result<()> {
    if !a
        .out
        .extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("xlsx"))
    {
        bail!(
            "a report is an Excel workbook: `--out` must end in .xlsx, not `{}`",
            a.out.display()
        );
    }
    if a.kind != ReportKind::Audience && a.name.is_some() {
        bail!("only `report audience NAME` takes a name");
    }
    let (store, _pin) = Store::open_pinned(store_dir)?;
    let zh = a.lang == Lang::Zh;
    let kind = format!("{:?}", a.kind).to_lowercase();
    let (title, mut lines, sheets) = match a.kind {
        ReportKind::Rfm => rfm(&store, zh).await?,
        ReportKind::Segments => segments(&store, zh).await?,
        ReportKind::Coverage => coverage(&store).await?,
        ReportKind::Audience => {
            let Some(name) = &a.name else {
                bail!(
                    "which audience? `portrait report audience NAME` (`portrait audience list` shows them)"
                );
            };
            audience(&store, name, zh).await?
        }
    };
    let privacy = portrait_privacy::Privacy::open(store_dir)?;
    let export_id = portrait_privacy::db::new_export_id();
    let params = serde_json::json!({
        "report": kind, "name": a.name, "out": a.out.display().to_string(),
    });
    let record = |rows: u64, status: u16| {
        privacy.audit(&portrait_privacy::NewAudit {
            user: &a.by,
            role: "cli",
            action: "cli.report",
            params: params.clone(),
            rows,
            status,
            export_id: Some(&export_id),
            request_id: None,
        })
    };
    record(0, 202)?;
    lines.push((say(zh, "Taken by", "导出人"), a.by.clone()));
    let about = About {
        title: if zh { title.1 } else { title.0 }.to_string(),
        lines,
        export_id: Some(export_id.clone()),
    };
    let mut tmp = a.out.as_os_str().to_owned();
    tmp.push(".partial");
    let tmp = std::path::PathBuf::from(tmp);
    let written = (|| {
        let dir = a
            .out
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .unwrap_or(Path::new("."));
        let mut book = Workbook::new(a.lang, dir)?;
        for s in &sheets {
            let rows: Vec<RecordBatch> = s
                .rows
                .iter()
                .map(|b| portrait_engine::tags::watermark_batch(b, &export_id))
                .collect::<portrait_engine::Result<_>>()?;
            let Some(first) = rows.first() else {
                continue;
            };
            book.translate_values(s.coded);
            book.table(if zh { s.zh } else { s.en }, first.schema())?;
            for b in &rows {
                book.write(b)?;
            }
        }
        let rows = book.rows();
        book.save(&about, &tmp)?;
        std::fs::rename(&tmp, &a.out)
            .with_context(|| format!("cannot write `{}`", a.out.display()))?;
        Ok::<u64, anyhow::Error>(rows)
    })();
    match written {
        Ok(rows) => {
            record(rows, 200)?;
            eprintln!(
                "wrote the {kind} report to `{}`, watermarked {export_id}",
                a.out.display()
            );
            Ok(())
        }
        Err(e) => {
            let _ = std::fs::remove_file(&tmp);
            record(0, 500)?;
            Err(e)
        }
    }
}

type Built = (
    (&'static str, &'static str),
    Vec<(String, String)>,
    Vec<Sheet>,
);

async fn query(store: &Store, sql: &str) -> Result<Vec<RecordBatch>> {
    let ctx = open_session(store).await?;
    Ok(ctx
        .sql(sql)
        .await
        .map_err(portrait_engine::EngineError::from)?
        .collect()
        .await
        .map_err(portrait_engine::EngineError::from)?)
}

/// `en` or `zh`.
fn say(zh: bool, en: &str, zh_text: &str) -> String {
    (if zh { zh_text } else { en }).to_string()
}

fn need(store: &Store, table: &str, how: &str) -> Result<()> {
    if store.table(table).is_none() {
        bail!("the store has no `{table}` table\nhint: {how}");
    }
    Ok(())
}

async fn as_of(store: &Store) -> Result<String> {
    let b = query(
        store,
        "SELECT CAST(max(as_of) AS VARCHAR) AS d FROM features",
    )
    .await?;
    Ok(b.first()
        .filter(|b| b.num_rows() > 0)
        .and_then(|b| {
            arrow::compute::cast(b.column(0), &arrow::datatypes::DataType::Utf8)
                .ok()
                .map(|c| {
                    use arrow::array::AsArray;
                    c.as_string::<i32>().value(0).to_string()
                })
        })
        .unwrap_or_default())
}

async fn rfm(store: &Store, zh: bool) -> Result<Built> {
    need(
        store,
        "features",
        "run `portrait features` (or `portrait run`) first",
    )?;
    let day = as_of(store).await?;
    let sheets = vec![
        Sheet {
            en: "RFM classes",
            zh: "RFM类别",
            coded: &["rfm_class"],
            rows: query(
                store,
                &format!(
                    "SELECT rfm_class, count(*) AS parties, CAST(count(*) AS DOUBLE) / sum(count(*)) OVER () AS share, \
                     sum(monetary) AS monetary, avg(recency_days) AS recency_days, avg(frequency) AS frequency \
                     FROM {LATEST} GROUP BY rfm_class ORDER BY parties DESC, rfm_class"
                ),
            )
            .await?,
        },
        Sheet {
            en: "RFM grid",
            zh: "RFM矩阵",
            coded: &[],
            rows: query(
                store,
                &format!(
                    "SELECT r_score, f_score, count(*) AS parties, avg(monetary) AS monetary FROM {LATEST} \
                     WHERE r_score IS NOT NULL AND f_score IS NOT NULL GROUP BY 1, 2 ORDER BY 1, 2"
                ),
            )
            .await?,
        },
        Sheet {
            en: "Activity",
            zh: "活跃状态",
            coded: &["recency_class"],
            rows: query(
                store,
                &format!(
                    "SELECT recency_class, count(*) AS parties, sum(financial_assets) AS financial_assets \
                     FROM {LATEST} GROUP BY 1 ORDER BY 2 DESC, 1"
                ),
            )
            .await?,
        },
    ];
    Ok((
        ("RFM report", "RFM 分析报告"),
        vec![(say(zh, "As of", "数据日期"), day)],
        sheets,
    ))
}

async fn segments(store: &Store, zh: bool) -> Result<Built> {
    need(
        store,
        "segment_profile",
        "run `portrait segment` (or `portrait run`) first",
    )?;
    let (name, persona) = if zh {
        ("name_zh", "persona_zh")
    } else {
        ("name", "persona")
    };
    let rows = query(
        store,
        &format!(
            "SELECT model, segment, {name} AS segment_name, size AS parties, share, value_share, action, \
             {persona} AS persona FROM segment_profile ORDER BY model, segment"
        ),
    )
    .await?;
    Ok((
        ("Segment report", "客群分析报告"),
        Vec::new(),
        vec![Sheet {
            en: "Segments",
            zh: "客群",
            rows,
            coded: &["segment_name", "action"],
        }],
    ))
}

async fn coverage(store: &Store) -> Result<Built> {
    if store.manifest().tables.is_empty() {
        bail!("the store is empty\nhint: load data with `portrait ingest` first");
    }
    let ctx = open_session(store).await?;
    let batch = portrait_engine::coverage::coverage(store, &ctx).await?;
    Ok((
        ("Data coverage report", "数据满足度报告"),
        Vec::new(),
        vec![Sheet {
            en: "Coverage",
            zh: "满足度",
            rows: vec![batch],
            coded: &[],
        }],
    ))
}

async fn audience(store: &Store, name: &str, zh: bool) -> Result<Built> {
    let saved = portrait_engine::tags::saved_audiences(store)?;
    let Some(info) = saved.into_iter().find(|s| s.name == name) else {
        bail!(
            "no saved audience `{name}`\nhint: `portrait audience list` shows them; `portrait audience save NAME EXPR` saves one"
        );
    };
    let index = portrait_engine::tags::open_index(store)?;
    let parties = portrait_engine::tags::evaluate_saved(store, &index, &info.expr)?;
    if parties.len() < MIN_AUDIENCE {
        bail!(
            "`{name}` holds {} parties today; a report needs at least {MIN_AUDIENCE}, or its means and shares describe individuals\nhint: `portrait audience export` takes the parties themselves, masked and audited",
            parties.len()
        );
    }
    let (portrait, summary) = super::tags::portrait_batches(store, &index, &parties, 50, 0.05)?;
    // Tags by their catalogue labels, measures by their column headers.
    let labels: std::collections::HashMap<&str, &str> = index
        .tags()
        .iter()
        .map(|t| {
            (
                t.info.name.as_str(),
                if zh {
                    t.info.label_zh.as_str()
                } else {
                    t.info.label_en.as_str()
                },
            )
        })
        .collect();
    let portrait = relabel(&portrait, "tag", |t| labels.get(t).map(|l| l.to_string()))?;
    let lang = if zh { Lang::Zh } else { Lang::En };
    let summary = relabel(&summary, "feature", |f| {
        Some(portrait_engine::labels::field(f, lang))
    })?;
    let mut sheets = vec![
        Sheet {
            en: "Portrait",
            zh: "人群画像",
            rows: vec![portrait],
            coded: &["value"],
        },
        Sheet {
            en: "Values",
            zh: "价值指标",
            rows: vec![summary],
            coded: &[],
        },
    ];
    let campaigns = portrait_engine::tags::campaign_report(store, name).await?;
    if portrait_engine::tags::row_count(&campaigns) > 0 {
        sheets.push(Sheet {
            en: "Campaigns",
            zh: "营销效果",
            rows: campaigns,
            coded: &["group"],
        });
    }
    Ok((
        ("Audience report", "人群报告"),
        vec![
            (say(zh, "Audience", "人群"), info.name.clone()),
            (say(zh, "Expression", "表达式"), info.expr.clone()),
            (say(zh, "Saved at", "保存时间"), info.saved_at.clone()),
            (
                say(zh, "Parties when saved", "保存时人数"),
                info.parties.to_string(),
            ),
            (
                say(zh, "Parties now", "当前人数"),
                parties.len().to_string(),
            ),
        ],
        sheets,
    ))
}

/// `batch` with the text column `column` rewritten by `f` where it gives a new value.
fn relabel(
    batch: &RecordBatch,
    column: &str,
    f: impl Fn(&str) -> Option<String>,
) -> Result<RecordBatch> {
    use arrow::array::{Array, AsArray, StringArray};
    let i = batch.schema().index_of(column)?;
    let c = arrow::compute::cast(batch.column(i), &arrow::datatypes::DataType::Utf8)?;
    let c = c.as_string::<i32>();
    let new: StringArray = (0..c.len())
        .map(|r| {
            (!c.is_null(r)).then(|| {
                let v = c.value(r);
                f(v).unwrap_or_else(|| v.to_string())
            })
        })
        .collect();
    let mut cols = batch.columns().to_vec();
    cols[i] = std::sync::Arc::new(new);
    let fields: Vec<arrow::datatypes::Field> = batch
        .schema()
        .fields()
        .iter()
        .enumerate()
        .map(|(j, fl)| {
            let fl = fl.as_ref().clone();
            if j == i {
                fl.with_data_type(arrow::datatypes::DataType::Utf8)
            } else {
                fl
            }
        })
        .collect();
    Ok(RecordBatch::try_new(
        std::sync::Arc::new(arrow::datatypes::Schema::new(fields)),
        cols,
    )?)
}
