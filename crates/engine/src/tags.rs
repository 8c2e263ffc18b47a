//! `tags build` and audiences over the store.
//!
//! Tables written by `tags build`, in one commit:
//! - `tag(party_id, tag, value)` — every tag value of every party, long form;
//! - `tag_index(tag, value, parties, bitmap)` — one roaring bitmap per tag value over the dense
//!   party numbering (serialised in the portable roaring format);
//! - `tag_catalog(ord, tag, label_zh, label_en, category, kind, source, description)`;
//! - `tag_party(idx, party_id, marketing_consent, <numeric and boolean features>)` — the dense
//!   numbering and the feature values audiences compare, in that order.
//!
//! Saved audiences live in `audience(name, expr, saved_at, as_of, parties)` and
//! `audience_member(name, party_id)`.

use chrono::NaiveDate;
use std::collections::HashMap;
use std::fs::File;
use std::path::Path;
use std::sync::Arc;

use arrow::array::{
    Array, ArrayRef, AsArray, BooleanArray, RecordBatch, StringArray, UInt32Array, UInt64Array,
};
use arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use datafusion::prelude::SessionContext;
use futures::StreamExt;
use parquet::arrow::ArrowWriter;
use parquet::arrow::ProjectionMask;
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use portrait_store::Store;
use portrait_tags::catalog::{FeatureSchema, FeatureType, TagRule};
use portrait_tags::index::quantile_cuts;
use portrait_tags::{Catalog, Expr, IndexBuilder, NumericColumns, RoaringBitmap, TagIndex};

use crate::{EngineError, Result, open_session};

pub const TAG: &str = "tag";
pub const TAG_INDEX: &str = "tag_index";
pub const TAG_CATALOG: &str = "tag_catalog";
pub const TAG_PARTY: &str = "tag_party";
pub const AUDIENCE: &str = "audience";
pub const AUDIENCE_MEMBER: &str = "audience_member";

/// Columns of the tag source that are not features.
const PARTY_ID: &str = "party_id";
const CONSENT: &str = "marketing_consent";

pub use crate::pipeline::Progress;

/// The rows tags are computed from: the latest as-of date of `features`, one row per party in
/// `party_id` order, with the social features of `party_group` and `link`, the party's
/// marketing consent and the segment of each segmentation model the catalogue publishes.
pub fn source_sql(store: &Store, catalog: &Catalog, as_of: Option<NaiveDate>) -> Result<String> {
    if store.table(crate::features::TABLE).is_none() {
        return Err(EngineError::Usage(
            "no `features` table in the store\nhint: run `portrait run` (or `portrait features` and `portrait score`) first".into(),
        ));
    }
    let date = match as_of {
        Some(d) => format!("DATE '{d}'"),
        None => "(SELECT max(as_of) FROM features)".to_string(),
    };
    let mut with = vec![format!(
        "f AS (SELECT * FROM features WHERE as_of = {date})"
    )];
    let mut cols = vec!["f.*".to_string()];
    // (table, condition) of each per-party lookup joined to `f`.
    let mut joins: Vec<(String, String)> = Vec::new();
    if store.table(crate::links::PARTY_GROUP).is_some() {
        with.push("pg AS (SELECT party_id, household_id, corp_group_id FROM party_group)".into());
        with.push("hs AS (SELECT household_id, count(*) AS n FROM party_group WHERE household_id IS NOT NULL GROUP BY household_id)".into());
        with.push("cs AS (SELECT corp_group_id, count(*) AS n FROM party_group WHERE corp_group_id IS NOT NULL GROUP BY corp_group_id)".into());
        joins.push(("pg".to_string(), "pg.party_id = f.party_id".to_string()));
        joins.push(("hs".into(), "hs.household_id = pg.household_id".into()));
        joins.push(("cs".into(), "cs.corp_group_id = pg.corp_group_id".into()));
        cols.push("CAST(COALESCE(hs.n, 1) AS DOUBLE) AS household_size".into());
        cols.push("CAST(COALESCE(cs.n, 0) AS DOUBLE) AS corp_group_size".into());
    } else {
        cols.push("CAST(1 AS DOUBLE) AS household_size".into());
        cols.push("CAST(0 AS DOUBLE) AS corp_group_size".into());
    }
    if store.table(crate::links::LINK).is_some() {
        with.push("lk AS (SELECT p, count(*) AS n FROM (SELECT party_a AS p FROM link UNION ALL SELECT party_b AS p FROM link) l GROUP BY p)".into());
        joins.push(("lk".into(), "lk.p = f.party_id".into()));
        cols.push("CAST(COALESCE(lk.n, 0) AS DOUBLE) AS links".into());
    } else {
        cols.push("CAST(0 AS DOUBLE) AS links".into());
    }
    // Marketing consent: the golden record's once resolved, else the customer record's.
    let consent_src = if store.table(crate::identity::PARTY).is_some() {
        Some("SELECT party_id AS cid, marketing_consent AS c FROM party")
    } else if store.table("customer").is_some() {
        Some("SELECT cust_no AS cid, marketing_consent AS c FROM customer")
    } else {
        None
    };
    match consent_src {
        Some(src) => {
            with.push(format!("mc AS ({src})"));
            joins.push(("mc".into(), "mc.cid = f.party_id".into()));
            cols.push(format!(
                "COALESCE(CAST(mc.c AS BOOLEAN), false) AS {CONSENT}"
            ));
        }
        None => cols.push(format!("false AS {CONSENT}")),
    }
    for (i, model) in catalog.segment_models().iter().enumerate() {
        if store.table("segment").is_none() {
            return Err(EngineError::Usage(format!(
                "the catalogue publishes the segments of model `{model}`, and the store has no `segment` table\nhint: run `portrait segment --model {model}` first"
            )));
        }
        // The value: the segment's number and generated name, e.g. `2-high_value_churn_prone`.
        with.push(format!(
            "sg{i} AS (SELECT s.party_id, CAST(s.segment AS VARCHAR) || '-' || p.name AS s FROM segment s \
             JOIN segment_profile p ON p.model = s.model AND p.segment = s.segment WHERE s.model = '{}')",
            model.replace('\'', "''")
        ));
        joins.push((format!("sg{i}"), format!("sg{i}.party_id = f.party_id")));
        cols.push(format!(
            "sg{i}.s AS \"{}\"",
            portrait_tags::index::segment_column(model)
        ));
    }
    // Each lookup on the left of a RIGHT JOIN, the growing wide rows on the right: joins are
    // kept as written and a hash join holds its left side, so `f LEFT JOIN …` held every wide
    // feature row once per lookup (24 GB at 1,000,000 customers).
    let mut from = "f".to_string();
    for (i, (table, on)) in joins.iter().enumerate() {
        from = if i == 0 {
            format!("{table} RIGHT JOIN {from} ON {on}")
        } else {
            format!("{table} RIGHT JOIN ({from}) ON {on}")
        };
    }
    Ok(format!(
        "WITH {} SELECT {} FROM {from}{SOURCE_ORDER}",
        with.join(", "),
        cols.join(", "),
    ))
}

/// The tag source without its order, for passes over every row that need none (counts,
/// quantiles): the sort of a million wide rows is the most memory of the stage.
fn unordered(source: &str) -> &str {
    source.strip_suffix(SOURCE_ORDER).unwrap_or(source)
}

const SOURCE_ORDER: &str = " ORDER BY f.party_id";

/// The features a catalogue may use: every numeric, text and boolean column of the source.
pub async fn feature_schema(store: &Store, ctx: &SessionContext) -> Result<FeatureSchema> {
    let empty = Catalog { tags: Vec::new() };
    let df = ctx
        .sql(&format!(
            "SELECT * FROM ({}) s LIMIT 0",
            source_sql(store, &empty, None)?
        ))
        .await?;
    let schema: Schema = df.schema().as_arrow().clone();
    let mut s = portrait_tags::eval::schema_of(&schema);
    s.remove(CONSENT);
    s.remove(PARTY_ID);
    Ok(s)
}

/// Loads the catalogue: `path` when given, else the default, checked against the store's
/// features.
pub async fn load_catalog(store: &Store, path: Option<&Path>) -> Result<Catalog> {
    let ctx = open_session(store).await?;
    let schema = feature_schema(store, &ctx).await?;
    let mut catalog = catalog_from(path, &schema)?;
    // Every segmentation model in the store is published as a tag `segment_<model>`, unless
    // the catalogue already publishes it.
    if store.table(crate::segment::SEGMENT).is_some()
        && store.table(crate::segment::SEGMENT_PROFILE).is_some()
    {
        let batches = ctx
            .sql("SELECT DISTINCT model FROM segment_profile ORDER BY model")
            .await?
            .collect()
            .await?;
        let published: Vec<String> = catalog
            .segment_models()
            .iter()
            .map(|m| m.to_string())
            .collect();
        for b in &batches {
            let a = crate::utf8(b.column(0))?;
            let a = a.as_string::<i32>();
            for i in 0..a.len() {
                let model = a.value(i).to_string();
                let name = format!("segment_{model}");
                if published.contains(&model) || catalog.get(&name).is_some() {
                    continue;
                }
                catalog.tags.push(portrait_tags::TagDef {
                    name,
                    label_zh: format!("客户分群 ({model})"),
                    label_en: format!("Segment ({model})"),
                    category: "value".into(),
                    description: format!("segment of the segmentation model `{model}` (portrait segment --model {model})"),
                    source: format!("segment:{model}"),
                    kind: "segment",
                    rule: TagRule::Segment { model },
                });
            }
        }
    }
    Ok(catalog)
}

pub fn catalog_from(path: Option<&Path>, schema: &FeatureSchema) -> Result<Catalog> {
    let (name, text) = match path {
        Some(p) => (
            p.display().to_string(),
            std::fs::read_to_string(p).map_err(|e| EngineError::Io {
                path: p.into(),
                source: e,
            })?,
        ),
        None => (
            "the default catalogue".to_string(),
            portrait_tags::catalog::DEFAULT_CATALOG.to_string(),
        ),
    };
    Catalog::parse(&name, &text, schema).map_err(|e| EngineError::Usage(e.to_string()))
}

/// What `tags build` did.
#[derive(Debug, Clone)]
pub struct BuildReport {
    pub as_of: String,
    pub parties: u32,
    pub tags: usize,
    pub values: usize,
    pub rows: u64,
    pub consent: u64,
    /// Tags left out because every feature they read is empty for every party, with the
    /// features (a store without balances has no `asset_tier` worth the name).
    pub left_out: Vec<(String, Vec<String>)>,
}

/// The catalogue without the tags whose every feature is empty (NULL) for every party of the
/// source rows, and those tags with their features.
async fn without_empty_tags(
    ctx: &datafusion::prelude::SessionContext,
    source: &str,
    catalog: &Catalog,
) -> Result<(Catalog, Vec<(String, Vec<String>)>)> {
    let features = catalog.features();
    if features.is_empty() {
        return Ok((catalog.clone(), Vec::new()));
    }
    let counts = features
        .iter()
        .enumerate()
        .map(|(i, f)| format!("count(\"{}\") AS c{i}", f.replace('"', "\"\"")))
        .collect::<Vec<_>>()
        .join(", ");
    let batches = ctx
        .sql(&format!("SELECT {counts} FROM ({}) s", unordered(source)))
        .await?
        .collect()
        .await?;
    let mut empty = std::collections::HashSet::new();
    if let Some(b) = batches.first().filter(|b| b.num_rows() > 0) {
        for (i, f) in features.iter().enumerate() {
            let c = arrow::compute::cast(b.column(i), &DataType::Int64)?;
            if c.as_primitive::<arrow::datatypes::Int64Type>().value(0) == 0 {
                empty.insert(f.clone());
            }
        }
    }
    let mut kept = catalog.clone();
    let mut left_out = Vec::new();
    kept.tags.retain(|t| {
        let fs = t.features();
        let keep = fs.is_empty() || fs.iter().any(|f| !empty.contains(f));
        if !keep {
            left_out.push((t.name.clone(), fs));
        }
        keep
    });
    Ok((kept, left_out))
}

/// Computes every tag of every party and writes `tag`, `tag_index`, `tag_catalog` and
/// `tag_party` in one commit.
pub async fn build(
    store: &Store,
    catalog: &Catalog,
    as_of: NaiveDate,
    progress: &dyn Progress,
) -> Result<BuildReport> {
    let ctx = open_session(store).await?;
    let sql = source_sql(store, catalog, Some(as_of))?;
    progress.stage("checking which tags the data can give");
    let (catalog, left_out) = without_empty_tags(&ctx, &sql, catalog).await?;
    let catalog = &catalog;
    let as_of = as_of.to_string();

    // Quantile cut points need every value first: one pass over the source for all of them.
    progress.stage("quantiles");
    let quantiles: Vec<(&str, &str, usize, bool)> = catalog
        .tags
        .iter()
        .filter_map(|t| match &t.rule {
            TagRule::Quantile {
                feature,
                labels,
                skip_zero,
            } => Some((t.name.as_str(), feature.as_str(), labels.len(), *skip_zero)),
            _ => None,
        })
        .collect();
    let mut cuts = HashMap::new();
    if !quantiles.is_empty() {
        let cols: Vec<String> = quantiles
            .iter()
            .enumerate()
            .map(|(i, (_, f, _, _))| {
                format!("CAST(\"{}\" AS DOUBLE) AS q{i}", f.replace('"', "\"\""))
            })
            .collect();
        let batches = ctx
            .sql(&format!(
                "SELECT {} FROM ({}) s",
                cols.join(", "),
                unordered(&sql)
            ))
            .await?
            .collect()
            .await?;
        for (i, (name, _, groups, skip_zero)) in quantiles.iter().enumerate() {
            let mut values = Vec::new();
            for b in &batches {
                let a = b.column(i).as_primitive::<arrow::datatypes::Float64Type>();
                values.extend(
                    (0..a.len()).map(|i| if a.is_valid(i) { a.value(i) } else { f64::NAN }),
                );
            }
            cuts.insert(name.to_string(), quantile_cuts(values, *groups, *skip_zero));
        }
    }

    progress.stage("tagging parties");
    let mut txn = store.begin()?;
    let party_dir = txn.table_dir(TAG_PARTY)?;
    let mut stream = ctx.sql(&sql).await?.execute_stream().await?;
    let mut builder = IndexBuilder::new(catalog, cuts);
    let mut writer: Option<(ArrowWriter<File>, SchemaRef)> = None;
    let mut party_ids: Vec<String> = Vec::new();
    let mut features: FeatureSchema = FeatureSchema::new();
    let mut done = 0u64;
    while let Some(batch) = stream.next().await {
        let batch = portrait_tags::eval::normalize(&batch?)?;
        let n = batch.num_rows();
        let ids = batch
            .column_by_name(PARTY_ID)
            .ok_or_else(|| EngineError::Internal("the tag source has no party_id".into()))?
            .as_string::<i32>()
            .clone();
        let consent = batch
            .column_by_name(CONSENT)
            .map(|c| c.as_boolean().clone())
            .ok_or_else(|| EngineError::Internal("the tag source has no consent".into()))?;
        let consent_v: Vec<bool> = (0..n)
            .map(|i| consent.is_valid(i) && consent.value(i))
            .collect();
        builder
            .add(&batch, &consent_v)
            .map_err(|e| EngineError::Usage(e.to_string()))?;
        // tag_party: the dense numbering and the comparable features.
        let mut fields = vec![
            Field::new("idx", DataType::UInt32, false),
            Field::new(PARTY_ID, DataType::Utf8, false),
            Field::new(CONSENT, DataType::Boolean, false),
        ];
        let base = party_ids.len() as u32;
        let mut cols: Vec<ArrayRef> = vec![
            Arc::new(UInt32Array::from_iter_values(base..base + n as u32)),
            Arc::new(ids.clone()),
            Arc::new(BooleanArray::from(consent_v)),
        ];
        for (f, c) in batch.schema().fields().iter().zip(batch.columns()) {
            let ty = portrait_tags::eval::feature_type(f.data_type());
            if f.name() == PARTY_ID || f.name() == CONSENT {
                continue;
            }
            if matches!(ty, Some(FeatureType::Number | FeatureType::Bool)) {
                fields.push(Field::new(f.name(), f.data_type().clone(), true));
                cols.push(c.clone());
                features.insert(f.name().clone(), ty.expect("matched"));
            }
        }
        let out = RecordBatch::try_new(Arc::new(Schema::new(fields)), cols)?;
        if writer.is_none() {
            let path = party_dir.join("part-0.parquet");
            let f = File::create(&path).map_err(|e| EngineError::Io { path, source: e })?;
            let w = ArrowWriter::try_new(f, out.schema(), None)
                .map_err(|e| EngineError::Internal(e.to_string()))?;
            writer = Some((w, out.schema()));
        }
        let (w, _) = writer.as_mut().expect("opened");
        w.write(&out)
            .map_err(|e| EngineError::Internal(e.to_string()))?;
        party_ids.extend((0..n).map(|i| ids.value(i).to_string()));
        done += n as u64;
        progress.rows(done);
    }
    let Some((w, _)) = writer else {
        return Err(EngineError::Usage(
            "no party has features at the latest as-of date\nhint: run `portrait features` first"
                .into(),
        ));
    };
    w.close()
        .map_err(|e| EngineError::Internal(e.to_string()))?;
    let index = builder.finish(features);
    txn.stage(
        TAG_PARTY,
        party_ids.len() as u64,
        format!("tags as of {as_of}"),
    );

    progress.stage("writing the index");
    let (ib, cb) = index
        .to_batches()
        .map_err(|e| EngineError::Internal(e.to_string()))?;
    crate::output::stage_batches(
        &mut txn,
        TAG_INDEX,
        ib.schema(),
        std::slice::from_ref(&ib),
        format!("tags as of {as_of}"),
    )?;
    crate::output::stage_batches(
        &mut txn,
        TAG_CATALOG,
        cb.schema(),
        std::slice::from_ref(&cb),
        format!("tags as of {as_of}"),
    )?;

    progress.stage("writing tag");
    let rows = write_long_form(&index, &party_ids, &txn.table_dir(TAG)?)?;
    txn.stage(TAG, rows, format!("tags as of {as_of}"));
    txn.commit()?;
    Ok(BuildReport {
        as_of,
        parties: index.parties(),
        tags: index.tags().len(),
        values: index.tags().iter().map(|t| t.values.len()).sum(),
        rows,
        consent: index.consent().len(),
        left_out,
    })
}

/// `tag(party_id, tag, value)` from the bitmaps, in chunks so memory stays flat.
fn write_long_form(index: &TagIndex, party_ids: &[String], dir: &Path) -> Result<u64> {
    let schema = Arc::new(Schema::new(vec![
        Field::new(PARTY_ID, DataType::Utf8, false),
        Field::new("tag", DataType::Utf8, false),
        Field::new("value", DataType::Utf8, false),
    ]));
    let path = dir.join("part-0.parquet");
    let f = File::create(&path).map_err(|e| EngineError::Io {
        path: path.clone(),
        source: e,
    })?;
    let mut w = ArrowWriter::try_new(f, schema.clone(), None)
        .map_err(|e| EngineError::Internal(e.to_string()))?;
    let mut rows = 0u64;
    const CHUNK: usize = 1 << 20;
    let (mut p, mut t, mut v) = (Vec::new(), Vec::new(), Vec::new());
    let mut flush = |p: &mut Vec<&str>, t: &mut Vec<&str>, v: &mut Vec<&str>| -> Result<()> {
        if p.is_empty() {
            return Ok(());
        }
        let b = RecordBatch::try_new(
            schema.clone(),
            vec![
                Arc::new(StringArray::from(std::mem::take(p))),
                Arc::new(StringArray::from(std::mem::take(t))),
                Arc::new(StringArray::from(std::mem::take(v))),
            ],
        )?;
        w.write(&b)
            .map_err(|e| EngineError::Internal(e.to_string()))
    };
    for tag in index.tags() {
        for (value, bitmap) in &tag.values {
            for i in bitmap {
                p.push(party_ids[i as usize].as_str());
                t.push(tag.info.name.as_str());
                v.push(value.as_str());
                rows += 1;
                if p.len() >= CHUNK {
                    flush(&mut p, &mut t, &mut v)?;
                }
            }
        }
    }
    flush(&mut p, &mut t, &mut v)?;
    w.close()
        .map_err(|e| EngineError::Internal(e.to_string()))?;
    Ok(rows)
}

/// A stored table's batches read straight from its Parquet files (optionally some columns).
pub(crate) fn read_parquet(
    store: &Store,
    table: &str,
    columns: Option<&[&str]>,
) -> Result<Vec<RecordBatch>> {
    let mut out = Vec::new();
    for path in store.table_files(table)? {
        let f = File::open(&path).map_err(|e| EngineError::Io {
            path: path.clone(),
            source: e,
        })?;
        let mut b = ParquetRecordBatchReaderBuilder::try_new(f)
            .map_err(|e| EngineError::Internal(format!("{}: {e}", path.display())))?;
        if let Some(cols) = columns {
            let schema = b.parquet_schema();
            let idx: Vec<usize> = cols
                .iter()
                .filter_map(|c| schema.columns().iter().position(|d| d.name() == *c))
                .collect();
            let mask = ProjectionMask::leaves(schema, idx);
            b = b.with_projection(mask);
        }
        let r = b
            .with_batch_size(1 << 16)
            .build()
            .map_err(|e| EngineError::Internal(e.to_string()))?;
        for batch in r {
            out.push(batch?);
        }
    }
    Ok(out)
}

fn no_index() -> EngineError {
    EngineError::Usage("the store has no tag index\nhint: run `portrait tags build` first".into())
}

/// Opens the tag index of the store (bitmaps and catalogue; feature columns load on demand).
pub fn open_index(store: &Store) -> Result<TagIndex> {
    if store.table(TAG_INDEX).is_none() || store.table(TAG_PARTY).is_none() {
        return Err(no_index());
    }
    let index = read_parquet(store, TAG_INDEX, None)?;
    let catalog = read_parquet(store, TAG_CATALOG, None)?;
    // The comparable features: the columns of tag_party.
    let path = store
        .table_files(TAG_PARTY)?
        .into_iter()
        .next()
        .ok_or_else(no_index)?;
    let f = File::open(&path).map_err(|e| EngineError::Io {
        path: path.clone(),
        source: e,
    })?;
    let b = ParquetRecordBatchReaderBuilder::try_new(f)
        .map_err(|e| EngineError::Internal(e.to_string()))?;
    let mut features = FeatureSchema::new();
    for field in b.schema().fields() {
        if ["idx", PARTY_ID, CONSENT].contains(&field.name().as_str()) {
            continue;
        }
        if let Some(t) = portrait_tags::eval::feature_type(field.data_type()) {
            features.insert(field.name().clone(), t);
        }
    }
    TagIndex::from_batches(&index, &catalog, features)
        .map_err(|e| EngineError::Internal(e.to_string()))
}

/// Feature columns in dense party order, as numbers (booleans 0/1, missing NaN).
pub fn load_columns(store: &Store, names: &[String]) -> Result<NumericColumns> {
    let mut out = NumericColumns::new();
    if names.is_empty() {
        return Ok(out);
    }
    let refs: Vec<&str> = names.iter().map(String::as_str).collect();
    let batches = read_parquet(store, TAG_PARTY, Some(&refs))?;
    for name in names {
        let mut v: Vec<f64> = Vec::new();
        for b in &batches {
            let c = b.column_by_name(name).ok_or_else(|| {
                EngineError::Usage(format!("no feature `{name}` in the tag index"))
            })?;
            let c = arrow::compute::cast(c, &DataType::Float64)?;
            let a = c.as_primitive::<arrow::datatypes::Float64Type>();
            v.extend((0..a.len()).map(|i| if a.is_valid(i) { a.value(i) } else { f64::NAN }));
        }
        out.insert(name.clone(), Arc::new(v));
    }
    Ok(out)
}

/// Party ids in dense order.
pub fn party_ids(store: &Store) -> Result<Vec<String>> {
    let batches = read_parquet(store, TAG_PARTY, Some(&[PARTY_ID]))?;
    let mut out = Vec::new();
    for b in &batches {
        let a = crate::utf8(b.column(0))?;
        let a = a.as_string::<i32>();
        out.extend((0..a.len()).map(|i| a.value(i).to_string()));
    }
    Ok(out)
}

/// An audience expression parsed and evaluated against the index.
pub struct Audience {
    pub expr: Expr,
    pub parties: RoaringBitmap,
}

/// Parses and evaluates an expression; errors show the expression with a caret.
pub fn select(store: &Store, index: &TagIndex, text: &str) -> Result<Audience> {
    let expr = Expr::parse(text).map_err(|e| EngineError::Usage(e.render(text)))?;
    let needed = index
        .check(&expr)
        .map_err(|e| EngineError::Usage(e.render(text)))?;
    let columns = load_columns(store, &needed)?;
    let parties = index
        .evaluate(&expr, &columns)
        .map_err(|e| EngineError::Usage(e.render(text)))?;
    Ok(Audience { expr, parties })
}

// ---------------------------------------------------------------------------------------------
// Saved audiences

/// A saved audience.
#[derive(Debug, Clone)]
pub struct Saved {
    pub name: String,
    pub expr: String,
    pub saved_at: String,
    pub as_of: String,
    pub members: Vec<String>,
}

fn tag_as_of(store: &Store) -> String {
    store
        .table(TAG_PARTY)
        .map(|t| t.source.trim_start_matches("tags as of ").to_string())
        .unwrap_or_default()
}

fn audience_schema() -> SchemaRef {
    Arc::new(Schema::new(vec![
        Field::new("name", DataType::Utf8, false),
        Field::new("expr", DataType::Utf8, false),
        Field::new("saved_at", DataType::Utf8, false),
        Field::new("as_of", DataType::Utf8, false),
        Field::new("parties", DataType::UInt64, false),
    ]))
}

/// A saved audience without its members.
#[derive(Debug, Clone)]
pub struct AudienceInfo {
    pub name: String,
    pub expr: String,
    pub saved_at: String,
    pub as_of: String,
    pub parties: u64,
}

/// Every saved audience without its members.
pub fn saved_audiences(store: &Store) -> Result<Vec<AudienceInfo>> {
    if store.table(AUDIENCE).is_none() {
        return Ok(Vec::new());
    }
    let mut out = Vec::new();
    for b in read_parquet(store, AUDIENCE, None)? {
        let s = |i: usize| -> Result<StringArray> {
            Ok(crate::utf8(b.column(i))?.as_string::<i32>().clone())
        };
        let (n, e, at, of) = (s(0)?, s(1)?, s(2)?, s(3)?);
        let p = arrow::compute::cast(b.column(4), &DataType::UInt64)?;
        let p = p.as_primitive::<arrow::datatypes::UInt64Type>();
        for i in 0..b.num_rows() {
            out.push(AudienceInfo {
                name: n.value(i).to_string(),
                expr: e.value(i).to_string(),
                saved_at: at.value(i).to_string(),
                as_of: of.value(i).to_string(),
                parties: p.value(i),
            });
        }
    }
    Ok(out)
}

/// Saves (or replaces) an audience: its expression and today's members.
pub fn save_audience(
    store: &Store,
    name: &str,
    text: &str,
    parties: &RoaringBitmap,
) -> Result<u64> {
    if name.is_empty() || name.chars().any(|c| c.is_control()) {
        return Err(EngineError::Usage(
            "an audience name cannot be empty".into(),
        ));
    }
    let ids = party_ids(store)?;
    let mut audiences: Vec<_> = saved_audiences(store)?
        .into_iter()
        .filter(|a| a.name != name)
        .collect();
    let now = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    audiences.push(AudienceInfo {
        name: name.to_string(),
        expr: text.to_string(),
        saved_at: now,
        as_of: tag_as_of(store),
        parties: parties.len(),
    });
    let mut members: Vec<(String, String)> = Vec::new();
    if store.table(AUDIENCE_MEMBER).is_some() {
        for b in read_parquet(store, AUDIENCE_MEMBER, None)? {
            let n = crate::utf8(b.column(0))?;
            let p = crate::utf8(b.column(1))?;
            let (n, p) = (n.as_string::<i32>(), p.as_string::<i32>());
            for i in 0..b.num_rows() {
                if n.value(i) != name {
                    members.push((n.value(i).to_string(), p.value(i).to_string()));
                }
            }
        }
    }
    members.extend(
        parties
            .iter()
            .map(|i| (name.to_string(), ids[i as usize].clone())),
    );
    let mut txn = store.begin()?;
    let a = RecordBatch::try_new(
        audience_schema(),
        vec![
            Arc::new(StringArray::from_iter_values(
                audiences.iter().map(|a| a.name.as_str()),
            )),
            Arc::new(StringArray::from_iter_values(
                audiences.iter().map(|a| a.expr.as_str()),
            )),
            Arc::new(StringArray::from_iter_values(
                audiences.iter().map(|a| a.saved_at.as_str()),
            )),
            Arc::new(StringArray::from_iter_values(
                audiences.iter().map(|a| a.as_of.as_str()),
            )),
            Arc::new(UInt64Array::from_iter_values(
                audiences.iter().map(|a| a.parties),
            )),
        ],
    )?;
    crate::output::stage_batches(&mut txn, AUDIENCE, audience_schema(), &[a], "audience save")?;
    let ms = Arc::new(Schema::new(vec![
        Field::new("name", DataType::Utf8, false),
        Field::new(PARTY_ID, DataType::Utf8, false),
    ]));
    let m = RecordBatch::try_new(
        ms.clone(),
        vec![
            Arc::new(StringArray::from_iter_values(
                members.iter().map(|m| m.0.as_str()),
            )),
            Arc::new(StringArray::from_iter_values(
                members.iter().map(|m| m.1.as_str()),
            )),
        ],
    )?;
    crate::output::stage_batches(&mut txn, AUDIENCE_MEMBER, ms, &[m], "audience save")?;
    txn.commit()?;
    Ok(parties.len())
}

/// A saved audience with its members.
pub fn load_saved(store: &Store, name: &str) -> Result<Saved> {
    let Some(a) = saved_audiences(store)?.into_iter().find(|a| a.name == name) else {
        let known: Vec<String> = saved_audiences(store)?
            .into_iter()
            .map(|a| a.name)
            .collect();
        return Err(EngineError::Usage(if known.is_empty() {
            format!(
                "no saved audience `{name}`\nhint: save one with `portrait audience save {name} \"EXPR\"`"
            )
        } else {
            format!("no saved audience `{name}`; saved: {}", known.join(", "))
        }));
    };
    let mut members = Vec::new();
    for b in read_parquet(store, AUDIENCE_MEMBER, None)? {
        let n = crate::utf8(b.column(0))?;
        let p = crate::utf8(b.column(1))?;
        let (n, p) = (n.as_string::<i32>(), p.as_string::<i32>());
        for i in 0..b.num_rows() {
            if n.value(i) == name {
                members.push(p.value(i).to_string());
            }
        }
    }
    Ok(Saved {
        name: a.name,
        expr: a.expr,
        saved_at: a.saved_at,
        as_of: a.as_of,
        members,
    })
}

/// Today's members of a saved audience's expression; a saved lookalike is found again on
/// today's tags.
pub fn evaluate_saved(store: &Store, index: &TagIndex, expr: &str) -> Result<RoaringBitmap> {
    match crate::lookalike::Spec::from_saved(expr) {
        Some(spec) => Ok(crate::lookalike::run(store, index, &spec?)?.parties),
        None => Ok(select(store, index, expr)?.parties),
    }
}

/// How a saved audience changed: members then and now.
#[derive(Debug, Clone)]
pub struct Diff {
    pub saved: Saved,
    pub now: u64,
    pub stayed: u64,
    pub entered: Vec<String>,
    pub left: Vec<String>,
}

pub fn diff_audience(store: &Store, index: &TagIndex, name: &str) -> Result<Diff> {
    let saved = load_saved(store, name)?;
    let now = evaluate_saved(store, index, &saved.expr)?;
    let ids = party_ids(store)?;
    let then: std::collections::HashSet<&str> = saved.members.iter().map(String::as_str).collect();
    let mut entered = Vec::new();
    let mut stayed = 0u64;
    let mut current = std::collections::HashSet::new();
    for i in &now {
        let id = ids[i as usize].as_str();
        current.insert(id);
        if then.contains(id) {
            stayed += 1;
        } else {
            entered.push(id.to_string());
        }
    }
    let left = saved
        .members
        .iter()
        .filter(|m| !current.contains(m.as_str()))
        .cloned()
        .collect();
    Ok(Diff {
        saved,
        now: now.len(),
        stayed,
        entered,
        left,
    })
}

// ---------------------------------------------------------------------------------------------
// Campaign loop

/// Responses and conversions per campaign, inside a saved audience and in the rest.
pub async fn campaign_report(store: &Store, name: &str) -> Result<Vec<RecordBatch>> {
    let saved = load_saved(store, name)?;
    if store.table("campaign_response").is_none() {
        return Err(EngineError::Usage(
            "the store has no `campaign_response` table\nhint: load one with `portrait ingest campaign_response=FILE`".into(),
        ));
    }
    let ctx = open_session(store).await?;
    let schema = Arc::new(Schema::new(vec![Field::new(
        PARTY_ID,
        DataType::Utf8,
        false,
    )]));
    let members = RecordBatch::try_new(
        schema.clone(),
        vec![Arc::new(StringArray::from(saved.members.clone())) as ArrayRef],
    )?;
    let mem = datafusion::datasource::MemTable::try_new(schema, vec![vec![members]])?;
    ctx.register_table("audience_parties", Arc::new(mem))?;
    let party_of = if store.table(crate::identity::PARTY_MEMBER).is_some() {
        "LEFT JOIN party_member pm ON pm.cust_no = r.cust_no"
    } else {
        "LEFT JOIN (SELECT DISTINCT cust_no, cust_no AS party_id FROM campaign_response) pm ON pm.cust_no = r.cust_no"
    };
    let sql = format!(
        "WITH r AS (SELECT r.campaign_id, COALESCE(pm.party_id, r.cust_no) AS party_id, \
                COALESCE(CAST(r.responded AS BOOLEAN), false) AS responded, \
                COALESCE(CAST(r.converted AS BOOLEAN), false) AS converted \
              FROM campaign_response r {party_of}), \
         p AS (SELECT campaign_id, party_id, bool_or(responded) AS responded, bool_or(converted) AS converted \
              FROM r GROUP BY campaign_id, party_id), \
         g AS (SELECT p.*, CASE WHEN a.party_id IS NULL THEN 'rest' ELSE 'audience' END AS grp \
              FROM p LEFT JOIN audience_parties a ON a.party_id = p.party_id) \
         SELECT campaign_id, grp AS \"group\", count(*) AS contacted, \
                sum(CASE WHEN responded THEN 1 ELSE 0 END) AS responded, \
                sum(CASE WHEN converted THEN 1 ELSE 0 END) AS converted, \
                round(avg(CASE WHEN responded THEN 1.0 ELSE 0.0 END), 4) AS response_rate, \
                round(avg(CASE WHEN converted THEN 1.0 ELSE 0.0 END), 4) AS conversion_rate \
         FROM g GROUP BY campaign_id, grp ORDER BY campaign_id, grp"
    );
    Ok(ctx.sql(&sql).await?.collect().await?)
}

// ---------------------------------------------------------------------------------------------
// Export

/// The columns of an audience export, personal data masked.
pub async fn export_rows(
    store: &Store,
    index: &TagIndex,
    parties: &RoaringBitmap,
    with_consent_only: bool,
) -> Result<(RecordBatch, u64)> {
    let mut chosen = parties.clone();
    let before = chosen.len();
    if with_consent_only {
        chosen &= index.consent();
    }
    let withheld = before - chosen.len();
    let ids = party_ids(store)?;
    let wanted: Vec<String> = chosen.iter().map(|i| ids[i as usize].clone()).collect();
    let ctx = open_session(store).await?;
    let schema = Arc::new(Schema::new(vec![Field::new(
        PARTY_ID,
        DataType::Utf8,
        false,
    )]));
    let list = RecordBatch::try_new(
        schema.clone(),
        vec![Arc::new(StringArray::from(wanted)) as ArrayRef],
    )?;
    ctx.register_table(
        "export_parties",
        Arc::new(datafusion::datasource::MemTable::try_new(
            schema,
            vec![vec![list]],
        )?),
    )?;
    let person = if store.table(crate::identity::PARTY).is_some() {
        "SELECT party_id AS pid, name, mobile, province, city FROM party"
    } else {
        "SELECT cust_no AS pid, name, mobile, province, city FROM customer"
    };
    let sql = format!(
        "SELECT e.party_id, p.name, p.mobile, p.province, p.city, f.age_group, f.asset_tier, f.recency_class, f.retention_group \
         FROM export_parties e \
         LEFT JOIN ({person}) p ON p.pid = e.party_id \
         LEFT JOIN (SELECT * FROM features WHERE as_of = (SELECT max(as_of) FROM features)) f ON f.party_id = e.party_id \
         ORDER BY e.party_id"
    );
    let batches = ctx.sql(&sql).await?.collect().await?;
    let schema = batches
        .first()
        .map(|b| b.schema())
        .unwrap_or_else(|| Arc::new(Schema::empty()));
    let batch = arrow::compute::concat_batches(&schema, &batches)?;
    if batch.num_columns() == 0 {
        return Ok((batch, withheld));
    }
    // Exports are masked for every role, admins included: by the meaning of each column.
    Ok((
        crate::output::mask_batch(portrait_privacy::Role::Marketer, &batch)?,
        withheld,
    ))
}

/// `batch` with a `watermark` column holding `export_id` on every row.
pub fn watermark_batch(batch: &RecordBatch, export_id: &str) -> Result<RecordBatch> {
    let mut fields: Vec<Field> = batch
        .schema()
        .fields()
        .iter()
        .map(|f| f.as_ref().clone())
        .collect();
    fields.push(Field::new("watermark", DataType::Utf8, false));
    let mut cols = batch.columns().to_vec();
    cols.push(Arc::new(StringArray::from(vec![export_id; batch.num_rows()])) as ArrayRef);
    Ok(RecordBatch::try_new(Arc::new(Schema::new(fields)), cols)?)
}

/// Number of rows in a batch list.
pub fn row_count(batches: &[RecordBatch]) -> usize {
    batches.iter().map(|b| b.num_rows()).sum()
}

/// A numeric summary needs the feature's column; helper for callers that show several.
pub fn summaries(
    store: &Store,
    index: &TagIndex,
    set: &RoaringBitmap,
    features: &[&str],
) -> Result<Vec<portrait_tags::NumericSummary>> {
    let names: Vec<String> = features
        .iter()
        .filter(|f| index.features.contains_key(**f))
        .map(|f| f.to_string())
        .collect();
    let cols = load_columns(store, &names)?;
    Ok(names
        .iter()
        .map(|n| index.summarise(set, n, &cols[n]))
        .collect())
}

/// The `tags` stage: every tag of the catalogue for every party, and the bitmap index.
pub struct TagsStage;

impl crate::pipeline::Stage for TagsStage {
    fn name(&self) -> &'static str {
        "tags"
    }
    fn command(&self) -> &'static str {
        "tags build"
    }
    fn requires(&self) -> crate::pipeline::Requirement {
        &[&[crate::features::TABLE]]
    }
    fn uses(&self) -> &'static [&'static str] {
        &[
            crate::identity::PARTY,
            "customer",
            crate::links::PARTY_GROUP,
            crate::links::LINK,
            crate::segment::SEGMENT,
            crate::segment::SEGMENT_PROFILE,
        ]
    }
    fn writes(&self) -> &'static [&'static str] {
        &[TAG, TAG_INDEX, TAG_CATALOG, TAG_PARTY]
    }
    fn run<'a>(
        &'a self,
        store: &'a Store,
        settings: &'a crate::pipeline::Settings,
        progress: &'a dyn crate::pipeline::Progress,
    ) -> futures::future::BoxFuture<'a, Result<crate::pipeline::Step>> {
        Box::pin(async move {
            progress.stage("loading the tag catalogue");
            let catalog = load_catalog(store, settings.tags_catalog.as_deref()).await?;
            let Some(as_of) = crate::pipeline::features_date(store, settings).await? else {
                return Ok(crate::pipeline::no_features());
            };
            let o = build(store, &catalog, as_of, progress).await?;
            Ok(crate::pipeline::Step::Ran(crate::pipeline::Report::Tags(o)))
        })
    }
}
