//! `portrait segment`, `portrait rules` and `portrait recommend`.
#![allow(clippy::print_stdout)]

use std::path::Path;
use std::time::Instant;

use anyhow::Result;
use portrait_engine::pipeline::Report;
use portrait_engine::segment::{self, KSetting};
use portrait_engine::{rules as engine_rules, tags as engine_tags};
use portrait_store::Store;

use crate::args::{RecommendArgs, ReportFormat, RulesArgs, SegmentArgs};
use crate::settings::ConfigFile;
use crate::text::{table, thousands};

/// `portrait segment`: fits a model, then rebuilds the tags of a store that has them so the
/// segments are a tag at once.
pub async fn segment(
    store_dir: &Path,
    config: &ConfigFile,
    a: &SegmentArgs,
    quiet: bool,
) -> Result<()> {
    let mut settings = config.pipeline();
    settings.segment_model = a.model.clone();
    let mut cfg = settings.segment_config();
    if let Some(m) = &a.method {
        cfg.method = m.clone();
    }
    if let Some(k) = &a.k {
        cfg.k = match k.parse::<usize>() {
            Ok(k) => KSetting::Fixed(k),
            Err(_) => KSetting::Auto(k.clone()),
        };
    }
    settings.segment_override = Some(cfg);
    let started = Instant::now();
    let Report::Segment(o) = super::one(
        &segment::SegmentStage,
        store_dir,
        &settings,
        "segmenting",
        quiet,
    )
    .await?
    else {
        unreachable!("the segment stage reports segments")
    };
    eprintln!(
        "committed: model `{}` version {} — {} segments of {} parties by {} in {:.1} s",
        o.model,
        o.version,
        o.k,
        thousands(o.parties as u64),
        o.method,
        started.elapsed().as_secs_f64()
    );
    if Store::open(store_dir)?
        .table(engine_tags::TAG_INDEX)
        .is_some()
    {
        super::one(
            &engine_tags::TagsStage,
            store_dir,
            &settings,
            "publishing the segments as tags",
            quiet,
        )
        .await?;
        eprintln!("published as the tag `segment_{}`", o.model);
    }
    if a.format == ReportFormat::Json {
        println!("{}", serde_json::to_string_pretty(&o)?);
        return Ok(());
    }
    if !o.vif.is_empty() {
        let rows: Vec<Vec<String>> = o
            .vif
            .iter()
            .map(|(f, v)| vec![f.clone(), format!("{v:.2}")])
            .collect();
        println!("inputs and their variance inflation factors:");
        print!("{}", table(&["input", "vif"], &rows));
    }
    if !o.dropped.is_empty() {
        println!("inputs dropped for collinearity:");
        for (f, _, why) in &o.dropped {
            println!("  {f}: {why}");
        }
    }
    if !o.k_scores.is_empty() {
        let f =
            |v: Option<f64>, d: usize| v.map(|x| format!("{x:.d$}")).unwrap_or_else(|| "-".into());
        let rows: Vec<Vec<String>> = o
            .k_scores
            .iter()
            .map(|s| {
                vec![
                    format!("{}{}", s.k, if s.k == o.k { " *" } else { "" }),
                    f(s.inertia, 1),
                    f(s.silhouette, 4),
                    f(s.calinski_harabasz, 1),
                    f(s.bic, 1),
                ]
            })
            .collect();
        println!("choice of k (* chosen):");
        print!(
            "{}",
            table(
                &["k", "inertia", "silhouette", "calinski_harabasz", "bic"],
                &rows
            )
        );
        println!();
    }
    if let (Some(s), Some(c)) = (o.silhouette, o.calinski_harabasz) {
        println!(
            "silhouette {s:.4} (sampled), Calinski–Harabasz {c:.1}; inputs: {}",
            o.inputs.join(", ")
        );
    }
    let rows: Vec<Vec<String>> = o
        .profiles
        .iter()
        .map(|p| {
            vec![
                p.segment.to_string(),
                thousands(p.size),
                format!("{:.1}%", p.share * 100.0),
                format!("{:.1}%", p.value_share * 100.0),
                p.action.clone(),
                p.persona_zh.clone(),
            ]
        })
        .collect();
    print!(
        "{}",
        table(
            &[
                "segment",
                "parties",
                "share",
                "value share",
                "action",
                "persona"
            ],
            &rows
        )
    );
    for p in &o.profiles {
        println!("  {}. {}", p.segment, p.persona);
    }
    Ok(())
}

pub async fn rules(
    store_dir: &Path,
    config: &ConfigFile,
    a: &RulesArgs,
    quiet: bool,
) -> Result<()> {
    let mut settings = config.pipeline();
    let cfg = &mut settings.rules;
    if let Some(s) = a.min_support {
        cfg.min_support = s;
    }
    if let Some(c) = a.min_confidence {
        cfg.min_confidence = c;
    }
    if let Some(m) = a.max_len {
        cfg.max_len = m;
    }
    let started = Instant::now();
    let Report::Rules(o) = super::one(
        &engine_rules::RulesStage,
        store_dir,
        &settings,
        "mining rules",
        quiet,
    )
    .await?
    else {
        unreachable!("the rules stage reports rules")
    };
    eprintln!(
        "committed: {} rules from {} frequent itemsets of {} items over {} baskets in {:.1} s",
        thousands(o.rules.len() as u64),
        thousands(o.itemsets as u64),
        o.items,
        thousands(o.baskets as u64),
        started.elapsed().as_secs_f64()
    );
    if a.format == ReportFormat::Json {
        println!("{}", serde_json::to_string_pretty(&o)?);
        return Ok(());
    }
    let rows: Vec<Vec<String>> = o
        .rules
        .iter()
        .take(a.show)
        .map(|r| {
            vec![
                r.antecedent.join("|"),
                r.consequent.join("|"),
                format!("{:.4}", r.support),
                format!("{:.3}", r.confidence),
                format!("{:.2}", r.lift),
                if r.conviction.is_finite() {
                    format!("{:.2}", r.conviction)
                } else {
                    "inf".into()
                },
            ]
        })
        .collect();
    print!(
        "{}",
        table(
            &[
                "antecedent",
                "consequent",
                "support",
                "confidence",
                "lift",
                "conviction"
            ],
            &rows
        )
    );
    Ok(())
}

pub async fn recommend(
    store_dir: &Path,
    config: &ConfigFile,
    a: &RecommendArgs,
    quiet: bool,
) -> Result<()> {
    let mut settings = config.pipeline();
    if let Some(t) = a.top {
        settings.rules.top = t;
    }
    let started = Instant::now();
    let Report::Recommend(o) = super::one(
        &engine_rules::RecommendStage,
        store_dir,
        &settings,
        "recommending",
        quiet,
    )
    .await?
    else {
        unreachable!("the recommend stage reports recommendations")
    };
    eprintln!(
        "committed: {} recommendations for {} of {} parties with marketing consent ({} parties in all) in {:.1} s; \
         {} from rules, {} from segment popularity; {} candidates withheld above the party's risk level",
        thousands(o.rows as u64),
        thousands(o.recommended as u64),
        thousands(o.with_consent as u64),
        thousands(o.parties as u64),
        started.elapsed().as_secs_f64(),
        thousands(o.from_rules as u64),
        thousands(o.from_segment as u64),
        thousands(o.withheld_for_risk)
    );
    if !o.consent_known {
        eprintln!(
            "note: the store has no `customer` table, so nobody's marketing consent is known: every party got recommendations; audience exports still leave out parties without consent"
        );
    }
    if !o.risk_rated {
        eprintln!(
            "note: no `product` table: products have no risk level to respect\nhint: load the catalogue with `portrait ingest product=FILE`"
        );
    }
    Ok(())
}
