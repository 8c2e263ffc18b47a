//! The pipeline as declared stages.
//!
//! Each stage names the tables it requires, the ones it reads when they are there, and the tables
//! it writes; exactly one stage writes each table. [`run`] plans from what the store holds: a
//! stage runs when its required tables exist (in the store or written by a stage before it), and
//! is skipped with the reason and the fix otherwise. `portrait run`, `portrait demo` and the
//! single commands (`portrait resolve`, `portrait score`, …) all call the stage objects of
//! [`STAGES`]; a new stage is one module, one [`Stage`] implementation and one entry there.
//!
//! Every stage commits on its own: a stage that fails leaves the store as the stages before it
//! left it.

use std::path::PathBuf;
use std::time::Instant;

use chrono::NaiveDate;
use futures::future::BoxFuture;
use portrait_resolve::ResolveConfig;
use portrait_store::{Manifest, Store};
use portrait_types::model;

use crate::features::FeatureConfig;
use crate::identity::Survivorship;
use crate::links::LinkConfig;
use crate::rules::RulesConfig;
use crate::score::ScoreConfig;
use crate::segment::{ModelConfig, SegmentConfig};
use crate::{EngineError, Result};

/// Everything the stages take, resolved before any work starts (file < environment < flags).
#[derive(Debug, Clone, Default)]
pub struct Settings {
    pub resolve: ResolveConfig,
    pub survivorship: Survivorship,
    pub links: LinkConfig,
    pub features: FeatureConfig,
    pub score: ScoreConfig,
    pub segment: SegmentConfig,
    /// The segmentation model the `segment` stage fits and recommendations draw on; `None`: the
    /// configured default model.
    pub segment_model: Option<String>,
    /// Overrides of that model's configuration (`--method`, `--k`).
    pub segment_override: Option<ModelConfig>,
    pub rules: RulesConfig,
    /// The tag catalogue file; `None`: the built-in one.
    pub tags_catalog: Option<PathBuf>,
    /// A directory the `score` stage writes the churn model's rows to (`training.csv`,
    /// `validation.csv`, `scoring.csv`), for checking the model with other tools.
    pub churn_rows: Option<PathBuf>,
    /// The as-of date of the portrait; `None`: the day of the latest input row.
    pub as_of: Option<NaiveDate>,
    /// An operator's decision (`party split|merge`) that `resolve` records and applies in the
    /// same commit, so a failure or kill leaves neither.
    pub new_override: Option<portrait_resolve::Override>,
}

impl Settings {
    /// The name of the segmentation model in force.
    pub fn segment_name(&self) -> String {
        self.segment_model
            .clone()
            .unwrap_or_else(|| self.segment.default_model.clone())
    }

    /// The configuration of the segmentation model in force.
    pub fn segment_config(&self) -> ModelConfig {
        self.segment_override
            .clone()
            .unwrap_or_else(|| self.segment.model(&self.segment_name()))
    }
}

/// Tables a stage requires: every group must be satisfied, a group by any one of its tables.
pub type Requirement = &'static [&'static [&'static str]];

/// Progress of a long stage: short labels of what it is doing now.
pub trait Progress: Sync {
    fn stage(&self, label: &str);
    /// Rows done so far, where a stage counts them.
    fn rows(&self, _done: u64) {}
}

impl Progress for () {
    fn stage(&self, _: &str) {}
}

impl<F: Fn(&str) + Sync> Progress for F {
    fn stage(&self, label: &str) {
        self(label)
    }
}

/// What a stage that ran reports: the outcome of its module, for the command that prints it.
#[derive(Debug)]
pub enum Report {
    Resolve(crate::identity::Outcome),
    Links(crate::links::Outcome),
    Features(crate::features::Outcome),
    Score(crate::score::Outcome),
    Segment(crate::segment::Outcome),
    Rules(crate::rules::RulesOutcome),
    Recommend(crate::rules::RecommendOutcome),
    Tags(crate::tags::BuildReport),
}

impl Report {
    /// Rows of other as-of dates that the stage kept in the tables it rewrote: not written by
    /// this run.
    pub fn kept(&self) -> u64 {
        match self {
            Report::Features(o) => o.kept,
            Report::Score(o) => o.kept,
            _ => 0,
        }
    }

    /// What the stage did that a user should know beyond its summary: fits that used their
    /// time budget or reached a boundary, estimates left empty and why.
    pub fn notes(&self) -> &[String] {
        match self {
            Report::Score(o) => &o.notes,
            Report::Segment(o) => &o.notes,
            _ => &[],
        }
    }
}

/// The result of a stage.
#[derive(Debug)]
pub enum Step {
    Ran(Report),
    /// Nothing to work on: the reason, with the fix.
    Skipped(String),
}

/// One stage of the pipeline.
pub trait Stage: Sync {
    /// The stage's name, as `portrait run` reports it.
    fn name(&self) -> &'static str;
    /// The command that runs the stage alone.
    fn command(&self) -> &'static str {
        self.name()
    }
    /// Tables that must exist for the stage to run.
    fn requires(&self) -> Requirement;
    /// Tables read when they exist; without them the stage computes what it can.
    fn uses(&self) -> &'static [&'static str];
    /// Tables the stage writes. No two stages write the same table.
    fn writes(&self) -> &'static [&'static str];
    /// Runs the stage over `store` and commits what it wrote.
    fn run<'a>(
        &'a self,
        store: &'a Store,
        settings: &'a Settings,
        progress: &'a dyn Progress,
    ) -> BoxFuture<'a, Result<Step>>;
}

/// The stages in the order `portrait run` runs them.
pub static STAGES: &[&dyn Stage] = &[
    &crate::identity::ResolveStage,
    &crate::links::LinksStage,
    &crate::features::FeaturesStage,
    &crate::score::ScoreStage,
    &crate::segment::SegmentStage,
    &crate::rules::RulesStage,
    &crate::rules::RecommendStage,
    &crate::tags::TagsStage,
];

/// The stage named `name`.
pub fn stage(name: &str) -> Option<&'static dyn Stage> {
    STAGES.iter().copied().find(|s| s.name() == name)
}

/// The stage that writes `table`, if a stage does.
pub fn writer_of(table: &str) -> Option<&'static dyn Stage> {
    STAGES.iter().copied().find(|s| s.writes().contains(&table))
}

/// Input tables holding customer numbers (`cust_no`), in the order a user would load them.
pub const CUSTOMER_TABLES: &[&str] = &[
    "customer",
    "transaction",
    "asset_snapshot",
    "holding",
    "event",
    "campaign_response",
    "interaction",
];

/// Tables that commands outside the pipeline write: operator decisions and saved audiences.
pub const OPERATOR_TABLES: &[(&str, &str)] = &[
    ("party_override", "portrait party split|merge"),
    ("audience", "portrait audience save"),
    ("audience_member", "portrait audience save"),
];

/// How to get `table` into the store: the file to load for an input table, the stage that
/// writes it otherwise.
pub fn how_to_get(table: &str) -> String {
    if model::TABLES.iter().any(|d| d.name == table) {
        format!("load `{table}.csv` with `portrait ingest {table}=FILE`")
    } else if let Some(s) = writer_of(table) {
        format!("run `portrait {}`", s.command())
    } else if let Some((_, command)) = OPERATOR_TABLES.iter().find(|(t, _)| *t == table) {
        format!("`{command}` writes it")
    } else {
        format!("`{table}` is written by no stage")
    }
}

/// Why `stage` cannot run over `tables` (the tables present), or `None` when it can.
pub fn missing(stage: &dyn Stage, present: &dyn Fn(&str) -> bool) -> Option<String> {
    let mut why = Vec::new();
    for group in stage.requires() {
        if group.iter().any(|t| present(t)) {
            continue;
        }
        let names = group
            .iter()
            .map(|t| format!("`{t}`"))
            .collect::<Vec<_>>()
            .join(" or ");
        let fix = group
            .iter()
            .map(|t| how_to_get(t))
            .collect::<Vec<_>>()
            .join(", or ");
        why.push(format!("needs {names}\nhint: {fix}"));
    }
    (!why.is_empty()).then(|| why.join("\n"))
}

/// The error of a single command whose stage cannot run.
pub fn cannot_run(stage: &dyn Stage, why: &str) -> EngineError {
    EngineError::Usage(format!("`{}` cannot run: {why}", stage.name()))
}

/// Runs one stage over the store at `root`: checks its requirements first, so a missing table
/// is an error naming the fix rather than a failure deep inside the stage.
pub async fn run_stage(
    stage: &dyn Stage,
    root: &std::path::Path,
    settings: &Settings,
    progress: &dyn Progress,
) -> Result<Step> {
    let store = Store::open(root)?;
    if let Some(why) = missing(stage, &|t| store.table(t).is_some()) {
        return Ok(Step::Skipped(why));
    }
    let marked = crate::memory::running(stage.name());
    let step = stage.run(&store, settings, progress).await;
    drop(marked);
    match step {
        Err(EngineError::NothingToDo(why)) => Ok(Step::Skipped(why)),
        other => other,
    }
}

/// One line of `portrait run`'s closing table.
#[derive(Debug)]
pub struct Row {
    pub stage: &'static str,
    /// `None` when the stage ran; the reason when it was skipped.
    pub skipped: Option<String>,
    /// Rows written to the stage's tables.
    pub rows: u64,
    pub seconds: f64,
    /// The process's peak resident memory during the stage, in bytes, where the system tells
    /// (Linux).
    pub peak_rss: Option<u64>,
    pub report: Option<Report>,
}

/// Peak resident memory of this process since the last [`reset_peak_rss`], in bytes (Linux:
/// `VmHWM` of /proc/self/status).
pub fn peak_rss() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb * 1024)
}

/// Starts a new peak-memory measurement (Linux: writing 5 to /proc/self/clear_refs resets
/// `VmHWM` to the current resident size). Returns whether the system allowed it.
pub fn reset_peak_rss() -> bool {
    std::fs::write("/proc/self/clear_refs", "5").is_ok()
}

/// Rows of `tables` that the commit from `before` to `after` wrote.
fn rows_written(before: &Manifest, after: &Manifest, tables: &[&str]) -> u64 {
    tables
        .iter()
        .filter_map(|t| {
            let new = after.tables.get(*t)?;
            (before.tables.get(*t) != Some(new)).then_some(new.rows)
        })
        .sum()
}

/// Runs every stage in order over the store at `root`, skipping those whose inputs are absent.
/// `settings.as_of` is fixed once, before the first stage, so every stage describes the same
/// day. `each` is called after every stage with its row. A stage that fails stops the run with
/// its error; what the stages before it committed stays.
pub async fn run(
    root: &std::path::Path,
    settings: &Settings,
    progress: &dyn Fn(&'static str) -> Box<dyn Progress + '_>,
    each: &mut dyn FnMut(&Row),
) -> Result<Vec<Row>> {
    let mut settings = settings.clone();
    if settings.as_of.is_none() {
        settings.as_of = Some(default_as_of(&Store::open(root)?).await?);
    }
    let mut rows = Vec::new();
    for stage in STAGES {
        let measured = reset_peak_rss();
        let started = Instant::now();
        let before = Store::open(root)?.manifest().clone();
        let p = progress(stage.name());
        let step = run_stage(*stage, root, &settings, p.as_ref()).await;
        drop(p);
        let step = step.map_err(|e| in_stage(stage.name(), e))?;
        let after = Store::open(root)?.manifest().clone();
        let peak_rss = if measured { peak_rss() } else { None };
        let row = match step {
            Step::Ran(report) => Row {
                stage: stage.name(),
                skipped: None,
                rows: rows_written(&before, &after, stage.writes()).saturating_sub(report.kept()),
                seconds: started.elapsed().as_secs_f64(),
                peak_rss,
                report: Some(report),
            },
            Step::Skipped(why) => Row {
                stage: stage.name(),
                skipped: Some(why),
                rows: 0,
                seconds: started.elapsed().as_secs_f64(),
                peak_rss,
                report: None,
            },
        };
        each(&row);
        rows.push(row);
    }
    Ok(rows)
}

/// Names the stage in an error that came from it.
fn in_stage(stage: &str, e: EngineError) -> EngineError {
    match e {
        EngineError::Usage(m) => EngineError::Usage(format!("stage `{stage}`: {m}")),
        EngineError::Query(m) => EngineError::Query(format!("stage `{stage}`: {m}")),
        EngineError::Internal(m) => EngineError::Internal(format!("stage `{stage}`: {m}")),
        other => other,
    }
}

/// The as-of date when none is given: the day of the latest dated row of the inputs
/// (transactions first), so a store whose data ends on a fixed day gives the same portrait
/// whenever it is run; today when no input has a date.
pub async fn default_as_of(store: &Store) -> Result<NaiveDate> {
    const DATED: &[(&str, &str)] = &[
        ("transaction", "ts"),
        ("asset_snapshot", "snapshot_date"),
        ("event", "ts"),
        ("interaction", "ts"),
        ("campaign_response", "contact_date"),
        ("holding", "open_date"),
        ("customer", "open_date"),
    ];
    let present: Vec<&(&str, &str)> = DATED
        .iter()
        .filter(|(t, _)| store.table(t).is_some())
        .collect();
    if present.is_empty() {
        return Ok(chrono::Local::now().date_naive());
    }
    let ctx = crate::open_session(store).await?;
    for (table, column) in present {
        let sql = format!("SELECT CAST(max({column}) AS DATE) AS d FROM \"{table}\"");
        if let Some(d) = first_date(&ctx, &sql).await? {
            return Ok(d);
        }
    }
    Ok(chrono::Local::now().date_naive())
}

/// The first row's first column of `sql`, a date, if there is one.
pub(crate) async fn first_date(
    ctx: &datafusion::prelude::SessionContext,
    sql: &str,
) -> Result<Option<NaiveDate>> {
    use arrow::array::{Array, AsArray};
    let batches = ctx.sql(sql).await?.collect().await?;
    Ok(batches.first().filter(|b| b.num_rows() > 0).and_then(|b| {
        let a = b
            .column(0)
            .as_primitive_opt::<arrow::datatypes::Date32Type>()?;
        a.is_valid(0).then(|| a.value_as_date(0)).flatten()
    }))
}

/// The latest as-of date of the stored features.
pub async fn latest_features(store: &Store) -> Result<Option<NaiveDate>> {
    if store.table(crate::features::TABLE).is_none() {
        return Ok(None);
    }
    let ctx = crate::open_session(store).await?;
    first_date(&ctx, "SELECT max(as_of) AS d FROM features").await
}

/// The skip of a stage that reads features when there are none.
pub(crate) fn no_features() -> Step {
    Step::Skipped("the features table is empty\nhint: run `portrait features`".into())
}

/// The as-of date of the features a stage describes: `settings.as_of` when given (the
/// features must hold that date), the latest stored one otherwise; `None` when there are no
/// features.
///
/// # Errors
/// [`EngineError::Usage`] when `settings.as_of` is a date the features were not computed for.
pub async fn features_date(store: &Store, settings: &Settings) -> Result<Option<NaiveDate>> {
    let Some(latest) = latest_features(store).await? else {
        return Ok(None);
    };
    let Some(d) = settings.as_of else {
        return Ok(Some(latest));
    };
    let ctx = crate::open_session(store).await?;
    let sql = format!("SELECT max(as_of) AS d FROM features WHERE as_of = DATE '{d}'");
    match first_date(&ctx, &sql).await? {
        Some(d) => Ok(Some(d)),
        None => Err(EngineError::Usage(format!(
            "the features hold no rows as of {d} (the latest are as of {latest})\nhint: run `portrait features --as-of {d}` first, or leave out --as-of"
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_table_has_one_writer() {
        let mut seen = std::collections::BTreeMap::new();
        for s in STAGES {
            for t in s.writes() {
                assert!(
                    seen.insert(*t, s.name()).is_none(),
                    "`{t}` is written by `{}` and `{}`",
                    seen[t],
                    s.name()
                );
                assert!(
                    !model::TABLES.iter().any(|d| d.name == *t),
                    "stage `{}` writes the input table `{t}`",
                    s.name()
                );
            }
        }
    }

    #[test]
    fn requirements_come_before_the_stage() {
        // Every required or used table is an input table or written by an earlier stage, so
        // `run` in order never waits on a later stage.
        for (i, s) in STAGES.iter().enumerate() {
            let tables = s.requires().iter().flat_map(|g| g.iter()).chain(s.uses());
            for t in tables {
                let input = model::TABLES.iter().any(|d| d.name == *t)
                    || OPERATOR_TABLES.iter().any(|(o, _)| o == t);
                let earlier = STAGES[..i].iter().any(|e| e.writes().contains(t));
                let own = s.writes().contains(t);
                assert!(
                    input || earlier || own,
                    "stage `{}` needs `{t}`, which no earlier stage writes",
                    s.name()
                );
            }
        }
    }

    #[test]
    fn names_are_unique() {
        for (i, s) in STAGES.iter().enumerate() {
            assert!(
                STAGES[..i].iter().all(|e| e.name() != s.name()),
                "two stages are named `{}`",
                s.name()
            );
        }
    }

    #[test]
    fn a_missing_input_names_the_file_and_an_earlier_stage() {
        let features = stage("features").unwrap();
        let why = missing(features, &|_| false).unwrap();
        assert!(why.contains("`party_member`"), "{why}");
        assert!(why.contains("run `portrait resolve`"), "{why}");
        let resolve = stage("resolve").unwrap();
        let why = missing(resolve, &|_| false).unwrap();
        assert!(why.contains("portrait ingest customer=FILE"), "{why}");
        assert!(missing(resolve, &|t| t == "holding").is_none());
    }
}
