//! `resolve`, `party split|merge` and `eval identity` over the store: reads `customer`,
//! writes `party`, `party_member`, `match_model` and `party_override` in one commit.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

use ahash::AHashMap;
use arrow::array::{
    Array, ArrayRef, AsArray, Float64Array, Int64Array, RecordBatch, StringArray, UInt32Array,
};
use arrow::datatypes::{DataType, Date32Type, Field, Schema, SchemaRef};
use chrono::NaiveDate;
use datafusion::prelude::SessionContext;
use futures::StreamExt;
use portrait_resolve::block::RuleReport;
use portrait_resolve::em::Model;
use portrait_resolve::eval::{self, Scores};
use portrait_resolve::golden::golden;
use portrait_resolve::{Input, Override, Record, ResolveConfig, Stats};
use portrait_store::Store;
use serde::{Deserialize, Serialize};

use crate::{EngineError, Result};

pub const PARTY: &str = "party";
pub const PARTY_MEMBER: &str = "party_member";
pub const MATCH_MODEL: &str = "match_model";
pub const OVERRIDES: &str = "party_override";

/// Columns of `customer` merged across members rather than taken from the primary record.
const ANY_TRUE: &[&str] = &[
    "mobile_banking",
    "online_banking",
    "phone_banking",
    "has_property",
    "has_car",
];
const ALL_TRUE: &[&str] = &["marketing_consent"];
const SUMMED: &[&str] = &["financial_assets"];
/// Columns whose surviving value comes from the golden record.
const VOTED: &[&str] = &[
    "name",
    "surname",
    "given_name",
    "mobile",
    "email",
    "id_type",
    "id_no",
];

/// Identity-resolution settings beyond matching.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Survivorship {
    /// `open_channel` values in order of trust, for choosing the primary record.
    pub source_priority: Vec<String>,
}

/// What `resolve` did.
#[derive(Debug, Clone, Serialize)]
pub struct Outcome {
    pub stats: Stats,
    pub blocking: Vec<RuleReport>,
    pub model: Option<Model>,
    pub version: u64,
}

fn today() -> NaiveDate {
    chrono::Local::now().date_naive()
}

fn no_customers() -> EngineError {
    EngineError::Usage(
        "the store has no `customer` table\nhint: load one with `portrait ingest customer.csv`"
            .into(),
    )
}

/// Every customer number of the input tables, in order, as records with no identifying
/// fields: the parties of a store without a `customer` table.
async fn customer_numbers(ctx: &SessionContext, store: &Store) -> Result<Vec<Input>> {
    let parts: Vec<String> = crate::pipeline::CUSTOMER_TABLES
        .iter()
        .filter(|t| store.table(t).is_some())
        .map(|t| format!("SELECT CAST(cust_no AS VARCHAR) AS c FROM \"{t}\""))
        .collect();
    if parts.is_empty() {
        return Ok(Vec::new());
    }
    let sql = format!(
        "SELECT DISTINCT c FROM ({}) u WHERE c IS NOT NULL ORDER BY c",
        parts.join(" UNION ALL ")
    );
    let mut out = Vec::new();
    for b in ctx.sql(&sql).await?.collect().await? {
        let c = crate::utf8(b.column(0))?;
        let c = c.as_string::<i32>();
        out.extend((0..c.len()).map(|i| Input {
            cust_no: c.value(i).to_string(),
            ..Input::default()
        }));
    }
    Ok(out)
}

/// Reads the identifying fields of every customer record, in customer-number order.
pub async fn load_inputs(ctx: &SessionContext) -> Result<Vec<Input>> {
    let sql = "SELECT CAST(cust_no AS VARCHAR) AS c0, CAST(cust_type AS VARCHAR) AS c1, CAST(name AS VARCHAR) AS c2, \
               CAST(surname AS VARCHAR) AS c3, CAST(given_name AS VARCHAR) AS c4, CAST(gender AS VARCHAR) AS c5, \
               CAST(birth_date AS DATE) AS c6, CAST(mobile AS VARCHAR) AS c7, CAST(email AS VARCHAR) AS c8, \
               CAST(province AS VARCHAR) AS c9, CAST(city AS VARCHAR) AS c10, CAST(district AS VARCHAR) AS c11, \
               CAST(address AS VARCHAR) AS c12, CAST(postcode AS VARCHAR) AS c13, CAST(id_type AS VARCHAR) AS c14, \
               CAST(id_no AS VARCHAR) AS c15, CAST(uscc AS VARCHAR) AS c16, CAST(status AS VARCHAR) AS c17, \
               CAST(open_date AS DATE) AS c18, CAST(open_channel AS VARCHAR) AS c19 \
               FROM customer ORDER BY c0";
    let mut stream = ctx.sql(sql).await?.execute_stream().await?;
    let mut out = Vec::new();
    while let Some(b) = stream.next().await {
        let b = b?;
        let s: Vec<ArrayRef> = b
            .columns()
            .iter()
            .enumerate()
            .map(|(k, c)| {
                if k == 6 || k == 18 {
                    Ok(c.clone())
                } else {
                    crate::utf8(c)
                }
            })
            .collect::<Result<_>>()?;
        let text = |c: usize, i: usize| {
            let a = s[c].as_string::<i32>();
            (!a.is_null(i)).then(|| a.value(i).to_string())
        };
        let date = |c: usize, i: usize| {
            let a = s[c].as_primitive::<Date32Type>();
            (!a.is_null(i)).then(|| a.value_as_date(i)).flatten()
        };
        for i in 0..b.num_rows() {
            out.push(Input {
                cust_no: text(0, i).unwrap_or_default(),
                corporate: text(1, i).as_deref() == Some("corporate"),
                name: text(2, i),
                surname: text(3, i),
                given_name: text(4, i),
                gender: text(5, i),
                birth_date: date(6, i),
                mobile: text(7, i),
                email: text(8, i),
                province: text(9, i),
                city: text(10, i),
                district: text(11, i),
                address: text(12, i),
                postcode: text(13, i),
                id_type: text(14, i),
                id_no: text(15, i),
                uscc: text(16, i),
                status: text(17, i),
                open_date: date(18, i),
                open_channel: text(19, i),
            });
        }
    }
    Ok(out)
}

async fn string_pairs(ctx: &SessionContext, sql: &str) -> Result<Vec<Vec<Option<String>>>> {
    let batches = ctx.sql(sql).await?.collect().await?;
    let mut rows = Vec::new();
    for b in &batches {
        let cols: Vec<ArrayRef> = b.columns().iter().map(crate::utf8).collect::<Result<_>>()?;
        for i in 0..b.num_rows() {
            rows.push(
                cols.iter()
                    .map(|c| {
                        let a = c.as_string::<i32>();
                        (!a.is_null(i)).then(|| a.value(i).to_string())
                    })
                    .collect(),
            );
        }
    }
    Ok(rows)
}

/// The party ids of the last run, by customer number.
async fn previous_parties(ctx: &SessionContext, store: &Store) -> Result<AHashMap<String, String>> {
    if store.table(PARTY_MEMBER).is_none() {
        return Ok(AHashMap::new());
    }
    Ok(
        string_pairs(ctx, "SELECT cust_no, party_id FROM party_member")
            .await?
            .into_iter()
            .filter_map(|r| Some((r[0].clone()?, r[1].clone()?)))
            .collect(),
    )
}

/// The operator's recorded decisions, oldest first.
pub async fn overrides(ctx: &SessionContext, store: &Store) -> Result<Vec<Override>> {
    if store.table(OVERRIDES).is_none() {
        return Ok(Vec::new());
    }
    let rows = string_pairs(
        ctx,
        "SELECT action, cust_no, other_cust_no, decided_by, reason FROM party_override ORDER BY decided_at, cust_no",
    )
    .await?;
    Ok(rows
        .into_iter()
        .filter_map(|r| {
            let get = |k: usize| r[k].clone().unwrap_or_default();
            match r[0].as_deref()? {
                "merge" => Some(Override::Merge {
                    a: get(1),
                    b: get(2),
                    by: get(3),
                    reason: get(4),
                }),
                "split" => Some(Override::Split {
                    cust_no: get(1),
                    by: get(3),
                    reason: get(4),
                }),
                _ => None,
            }
        })
        .collect())
}

/// Resolves the store's customers into parties and commits the result.
pub async fn run(
    store: &Store,
    cfg: &ResolveConfig,
    survivorship: &Survivorship,
    stage: &(dyn Fn(&str) + Sync),
) -> Result<Outcome> {
    run_with(store, cfg, survivorship, None, stage).await
}

/// [`run`], also recording the operator's decision `new` (checked first) in the same commit.
pub async fn run_with(
    store: &Store,
    cfg: &ResolveConfig,
    survivorship: &Survivorship,
    new: Option<&Override>,
    stage: &(dyn Fn(&str) + Sync),
) -> Result<Outcome> {
    cfg.plan().map_err(|e| EngineError::Usage(e.to_string()))?;
    let outer = stage;
    let stage = &|s: &str| {
        tracing::info!(stage = s, "resolve");
        outer(s)
    };
    let ctx = crate::open_session(store).await?;
    let decided = match new {
        Some(o) => Some(override_table(&ctx, store, o).await?),
        None => None,
    };
    let has_customers = store.table("customer").is_some();
    let inputs = if has_customers {
        stage("reading customers");
        load_inputs(&ctx).await?
    } else {
        // No master data: every customer number of the inputs is its own party, with an
        // empty golden record; operator merges still apply.
        stage("reading customer numbers");
        crate::features::register_missing_inputs(&ctx, store)?;
        customer_numbers(&ctx, store).await?
    };
    if inputs.is_empty() {
        return Err(EngineError::Usage(
            "the store's tables hold no customer numbers\nhint: load a file with a `cust_no` column with `portrait ingest`".into(),
        ));
    }
    let previous = previous_parties(&ctx, store).await?;
    let mut overrides = overrides(&ctx, store).await?;
    overrides.extend(new.cloned());
    let res = portrait_resolve::resolve(&inputs, cfg, today(), &previous, &overrides, stage)
        .map_err(|e| EngineError::Usage(e.to_string()))?;

    stage("writing parties");
    let gold = golden(
        &inputs,
        &res.records,
        &res.party_id,
        &survivorship.source_priority,
    );
    stage("writing party_member");
    let mut txn = store.begin()?;

    // party_member
    let member_schema: SchemaRef = Arc::new(Schema::new(vec![
        Field::new("cust_no", DataType::Utf8, false),
        Field::new("party_id", DataType::Utf8, false),
        Field::new("rule", DataType::Utf8, false),
        Field::new("probability", DataType::Float64, true),
        Field::new("evidence", DataType::Utf8, false),
    ]));
    let members = RecordBatch::try_new(
        member_schema.clone(),
        vec![
            Arc::new(StringArray::from_iter_values(
                inputs.iter().map(|i| i.cust_no.as_str()),
            )),
            Arc::new(StringArray::from_iter_values(res.party_id.iter())),
            Arc::new(StringArray::from_iter_values(
                res.members.iter().map(|m| m.rule.as_str()),
            )),
            Arc::new(Float64Array::from_iter(
                res.members.iter().map(|m| m.probability),
            )),
            Arc::new(StringArray::from_iter_values(
                res.members.iter().map(|m| m.evidence.as_str()),
            )),
        ],
    )?;
    crate::output::stage_batches(
        &mut txn,
        PARTY_MEMBER,
        member_schema.clone(),
        std::slice::from_ref(&members),
        "identity resolution",
    )?;

    // match_model
    if let Some(model) = &res.model {
        let batch = model_batch(model)?;
        crate::output::stage_batches(
            &mut txn,
            MATCH_MODEL,
            batch.schema(),
            std::slice::from_ref(&batch),
            "Fellegi–Sunter model of identity resolution",
        )?;
    }

    // party: the golden values joined to the primary record, merged columns aggregated.
    stage("writing party");
    let gold_schema: SchemaRef = Arc::new(Schema::new(
        [
            ("party_id", DataType::Utf8),
            ("primary_cust_no", DataType::Utf8),
            ("cust_count", DataType::Int64),
        ]
        .into_iter()
        .chain(VOTED.iter().map(|c| (*c, DataType::Utf8)))
        .map(|(n, t)| Field::new(n, t, true))
        .collect::<Vec<_>>(),
    ));
    let mut cols: Vec<ArrayRef> = vec![
        Arc::new(StringArray::from_iter_values(
            gold.iter().map(|g| g.party_id.as_str()),
        )),
        Arc::new(StringArray::from_iter_values(
            gold.iter().map(|g| inputs[g.primary].cust_no.as_str()),
        )),
        Arc::new(Int64Array::from_iter_values(
            gold.iter().map(|g| i64::from(g.members)),
        )),
    ];
    for c in VOTED {
        let v: StringArray = gold
            .iter()
            .map(|g| match *c {
                "name" => g.name.clone(),
                "surname" => g.surname.clone(),
                "given_name" => g.given_name.clone(),
                "mobile" => g.mobile.clone(),
                "email" => g.email.clone(),
                "id_type" => g.id_type.clone(),
                _ => g.id_no.clone(),
            })
            .collect();
        cols.push(Arc::new(v));
    }
    let gold_batch = RecordBatch::try_new(gold_schema.clone(), cols)?;
    // The records are in Arrow now; free them before the join that writes `party`.
    let n_gold = gold.len() as u64;
    drop(gold);
    drop(inputs);
    drop(res.records);
    crate::session::register_batches(
        &ctx,
        "resolve_golden",
        gold_schema,
        vec![gold_batch],
        &txn.scratch_dir("resolve.golden")?,
    )
    .await?;
    crate::session::register_batches(
        &ctx,
        "resolve_member",
        member_schema,
        vec![members],
        &txn.scratch_dir("resolve.member")?,
    )
    .await?;
    let customer_schema = ctx.table("customer").await?.schema().clone();
    let mut agg = Vec::new();
    let mut select = vec![
        "g.party_id".to_string(),
        "g.primary_cust_no".to_string(),
        "g.cust_count".to_string(),
    ];
    for f in customer_schema.fields() {
        let c = f.name().as_str();
        if c == "cust_no" {
            continue;
        }
        let ty = f.data_type();
        if ANY_TRUE.contains(&c) {
            agg.push(format!("BOOL_OR(x.\"{c}\") AS \"{c}\""));
            select.push(format!("a.\"{c}\""));
        } else if ALL_TRUE.contains(&c) {
            agg.push(format!("BOOL_AND(x.\"{c}\") AS \"{c}\""));
            select.push(format!("a.\"{c}\""));
        } else if SUMMED.contains(&c) {
            agg.push(format!("SUM(x.\"{c}\") AS \"{c}\""));
            select.push(format!("arrow_cast(a.\"{c}\", '{ty}') AS \"{c}\""));
        } else if VOTED.contains(&c) {
            select.push(format!("arrow_cast(g.\"{c}\", '{ty}') AS \"{c}\""));
        } else {
            select.push(format!("p.\"{c}\""));
        }
    }
    let agg_cte = if agg.is_empty() {
        "SELECT party_id FROM resolve_golden".to_string()
    } else {
        format!(
            "SELECT m.party_id, {} FROM resolve_member m JOIN customer x ON x.cust_no = m.cust_no GROUP BY m.party_id",
            agg.join(", ")
        )
    };
    let sql = format!(
        "WITH a AS ({agg_cte}) SELECT {} FROM resolve_golden g \
         LEFT JOIN customer p ON p.cust_no = g.primary_cust_no \
         LEFT JOIN a ON a.party_id = g.party_id ORDER BY g.party_id",
        select.join(", ")
    );
    let out = txn.table_dir(PARTY)?;
    let parties = crate::output::write_dir(ctx.sql(&sql).await?, &out).await?;
    if parties != n_gold {
        return Err(EngineError::Internal(format!(
            "wrote {parties} golden records for {} parties",
            n_gold
        )));
    }
    txn.stage(PARTY, parties, "golden records");
    if let (Some(batch), Some(o)) = (decided, new) {
        crate::output::stage_batches(
            &mut txn,
            OVERRIDES,
            batch.schema(),
            &[batch],
            override_source(o),
        )?;
    }
    let manifest = txn.commit()?;
    Ok(Outcome {
        stats: res.stats,
        blocking: res.blocking,
        model: res.model,
        version: manifest.version,
    })
}

/// `match_model`: m, u and the weight of every level of every compared field.
fn model_batch(model: &Model) -> Result<RecordBatch> {
    let (mut field, mut level, mut label, mut m, mut u, mut ur, mut w) =
        (vec![], vec![], vec![], vec![], vec![], vec![], vec![]);
    for (f, fld) in model.fields.iter().enumerate() {
        for (l, name) in fld.levels().iter().enumerate().skip(1) {
            field.push(fld.name().to_string());
            level.push(l as u32);
            label.push(name.to_string());
            m.push(model.m[f][l]);
            u.push(model.u[f][l]);
            ur.push(model.u_random[f][l]);
            w.push((model.m[f][l] / model.u[f][l]).log2());
        }
    }
    field.push("prior".into());
    level.push(0);
    label.push(format!(
        "prior match probability (EM {} iterations, {})",
        model.iterations,
        if model.converged {
            "converged"
        } else {
            "not converged"
        }
    ));
    m.push(model.prior);
    u.push(1.0 - model.prior);
    ur.push(f64::NAN);
    w.push((model.prior / (1.0 - model.prior)).log2());
    let schema = Arc::new(Schema::new(vec![
        Field::new("field", DataType::Utf8, false),
        Field::new("level", DataType::UInt32, false),
        Field::new("label", DataType::Utf8, false),
        Field::new("m", DataType::Float64, false),
        Field::new("u", DataType::Float64, false),
        Field::new("u_random", DataType::Float64, false),
        Field::new("weight", DataType::Float64, false),
    ]));
    Ok(RecordBatch::try_new(
        schema,
        vec![
            Arc::new(StringArray::from(field)),
            Arc::new(UInt32Array::from(level)),
            Arc::new(StringArray::from(label)),
            Arc::new(Float64Array::from(m)),
            Arc::new(Float64Array::from(u)),
            Arc::new(Float64Array::from(ur)),
            Arc::new(Float64Array::from(w)),
        ],
    )?)
}

/// What every blocking rule would produce, without comparing.
pub async fn explain_blocking(store: &Store, cfg: &ResolveConfig) -> Result<Vec<RuleReport>> {
    if store.table("customer").is_none() {
        return Err(no_customers());
    }
    let ctx = crate::open_session(store).await?;
    let inputs = load_inputs(&ctx).await?;
    portrait_resolve::explain_blocking(&inputs, cfg, today())
        .map_err(|e| EngineError::Usage(e.to_string()))
}

fn override_source(o: &Override) -> String {
    match o {
        Override::Merge { by, .. } => format!("merge by {by}"),
        Override::Split { by, .. } => format!("split by {by}"),
    }
}

/// The `party_override` table with `o` added, after checking `o` against the store.
async fn override_table(ctx: &SessionContext, store: &Store, o: &Override) -> Result<RecordBatch> {
    if store.table("customer").is_none() {
        return Err(no_customers());
    }
    let inputs = load_inputs(ctx).await?;
    let known = |c: &str| inputs.iter().any(|i| i.cust_no == c);
    let (action, a, b, by, reason) = match o {
        Override::Merge { a, b, by, reason } => ("merge", a.as_str(), Some(b.as_str()), by, reason),
        Override::Split {
            cust_no,
            by,
            reason,
        } => ("split", cust_no.as_str(), None, by, reason),
    };
    for c in std::iter::once(a).chain(b) {
        if !known(c) {
            return Err(EngineError::Usage(format!(
                "no customer number `{c}` in the store"
            )));
        }
    }
    if let Some(b) = b {
        let id = |c: &str| {
            inputs
                .iter()
                .find(|i| i.cust_no == c)
                .map(|i| Record::new(i, today(), &[]))
                .and_then(|r| r.valid_id().map(str::to_string))
        };
        if let (Some(x), Some(y)) = (id(a), id(b))
            && x != y
        {
            return Err(EngineError::Usage(format!(
                "`{a}` and `{b}` hold different valid ID numbers; a party never holds two"
            )));
        }
    }
    let mut rows: Vec<Vec<Option<String>>> = if store.table(OVERRIDES).is_some() {
        string_pairs(
            ctx,
            "SELECT action, cust_no, other_cust_no, decided_by, reason, CAST(decided_at AS VARCHAR) FROM party_override",
        )
        .await?
    } else {
        Vec::new()
    };
    rows.push(vec![
        Some(action.into()),
        Some(a.into()),
        b.map(str::to_string),
        Some(by.clone()),
        Some(reason.clone()),
        Some(chrono::Utc::now().format("%Y-%m-%dT%H:%M:%S").to_string()),
    ]);
    let names = [
        "action",
        "cust_no",
        "other_cust_no",
        "decided_by",
        "reason",
        "decided_at",
    ];
    let schema = Arc::new(Schema::new(
        names
            .iter()
            .map(|n| Field::new(*n, DataType::Utf8, true))
            .collect::<Vec<_>>(),
    ));
    let cols: Vec<ArrayRef> = (0..names.len())
        .map(|c| Arc::new(rows.iter().map(|r| r[c].clone()).collect::<StringArray>()) as ArrayRef)
        .collect();
    Ok(RecordBatch::try_new(schema, cols)?)
}

/// Scores of `resolve` against a ground truth.
#[derive(Debug, Clone, Serialize)]
pub struct IdentityEval {
    /// Customer numbers in both the store and the truth.
    pub records: u64,
    /// Customer numbers of the truth missing from the store.
    pub missing: u64,
    pub pairwise: Scores,
    pub cluster: Scores,
    /// Parties holding two different checksum-valid ID numbers (never more than 0).
    pub parties_with_two_valid_ids: u64,
    /// Recall of the pairs whose second record carries each noise kind (when the truth file
    /// has a `noise` column, as the generator's does).
    pub recall_by_noise: BTreeMap<String, NoiseRecall>,
}

/// How many noisy records of one kind landed in the party of their entity's clean record.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct NoiseRecall {
    pub records: u64,
    pub recalled: u64,
    pub recall: f64,
}

/// Reads the named columns of a CSV file with a header (UTF-8, quoted fields allowed):
/// every `required` column must be present and non-empty on every row; an `optional` column
/// may be missing (empty strings). Errors name the file, line and column.
fn read_columns(path: &Path, required: &[&str], optional: &[&str]) -> Result<Vec<Vec<String>>> {
    let bad =
        |line: u64, what: String| EngineError::Usage(format!("{}:{line}: {what}", path.display()));
    let mut reader = csv::ReaderBuilder::new()
        .trim(csv::Trim::All)
        .flexible(true)
        .from_path(path)
        .map_err(|e| bad(1, e.to_string()))?;
    let header: Vec<String> = reader
        .headers()
        .map_err(|e| bad(1, e.to_string()))?
        .iter()
        .map(|h| h.trim_start_matches('\u{feff}').to_string())
        .collect();
    let position = |name: &str| header.iter().position(|h| h == name);
    let mut columns = Vec::new();
    for name in required {
        columns.push(position(name).ok_or_else(|| {
            bad(
                1,
                format!(
                    "the header must name the columns {}; found {}",
                    required.join(", "),
                    header.join(", ")
                ),
            )
        })?);
    }
    let extra: Vec<Option<usize>> = optional.iter().map(|n| position(n)).collect();
    let mut out = Vec::new();
    for record in reader.records() {
        let record = record.map_err(|e| {
            let line = e.position().map_or(0, |p| p.line());
            bad(line, e.to_string())
        })?;
        let line = record.position().map_or(0, |p| p.line());
        let mut row = Vec::with_capacity(required.len() + optional.len());
        for (name, &c) in required.iter().zip(&columns) {
            match record.get(c) {
                Some(v) if !v.is_empty() => row.push(v.to_string()),
                _ => return Err(bad(line, format!("column {} (`{name}`) is empty", c + 1))),
            }
        }
        row.extend(
            extra
                .iter()
                .map(|c| c.and_then(|c| record.get(c)).unwrap_or("").to_string()),
        );
        out.push(row);
    }
    Ok(out)
}

/// Reads a truth CSV: `cust_no,true_id[,noise]` with a header.
fn read_truth(path: &Path) -> Result<Vec<(String, String, String)>> {
    Ok(read_columns(path, &["cust_no", "true_id"], &["noise"])?
        .into_iter()
        .map(|mut r| {
            let noise = r.pop().unwrap_or_default();
            let id = r.pop().unwrap_or_default();
            (r.pop().unwrap_or_default(), id, noise)
        })
        .collect())
}

/// Pairwise and cluster precision, recall and F1 of the stored parties against `truth`.
pub async fn eval_identity(store: &Store, truth: &Path) -> Result<IdentityEval> {
    let truth = read_truth(truth)?;
    let ctx = crate::open_session(store).await?;
    let party: AHashMap<String, String> = if store.table(PARTY_MEMBER).is_some() {
        previous_parties(&ctx, store).await?
    } else if store.table("customer").is_some() {
        // Not resolved yet: every customer number is its own party.
        load_inputs(&ctx)
            .await?
            .into_iter()
            .map(|i| (i.cust_no.clone(), i.cust_no))
            .collect()
    } else {
        return Err(no_customers());
    };
    let mut pred = Vec::new();
    let mut actual = Vec::new();
    let mut noise = Vec::new();
    let mut missing = 0;
    for (cust, id, n) in &truth {
        match party.get(cust) {
            Some(p) => {
                pred.push(p.as_str());
                actual.push(id.as_str());
                noise.push(n.as_str());
            }
            None => missing += 1,
        }
    }
    let mut recall_by_noise = BTreeMap::new();
    // Per noise kind: recall of the pairs between each noisy record and the clean first
    // record of its true entity.
    let mut clean: AHashMap<&str, &str> = AHashMap::new();
    for ((p, t), n) in pred.iter().zip(&actual).zip(&noise) {
        if n.is_empty() {
            clean.entry(t).or_insert(p);
        }
    }
    let mut per_kind: BTreeMap<&str, (u64, u64)> = BTreeMap::new();
    for ((p, t), n) in pred.iter().zip(&actual).zip(&noise) {
        if n.is_empty() {
            continue;
        }
        if let Some(cp) = clean.get(t) {
            for kind in n.split(';').filter(|k| !k.is_empty()) {
                let e = per_kind.entry(kind).or_default();
                e.1 += 1;
                e.0 += u64::from(cp == p);
            }
        }
    }
    for (kind, (tp, total)) in per_kind {
        recall_by_noise.insert(
            kind.to_string(),
            NoiseRecall {
                records: total,
                recalled: tp,
                recall: tp as f64 / total.max(1) as f64,
            },
        );
    }
    let mut conflicting = 0;
    if store.table("customer").is_some() {
        let mut ids: AHashMap<&str, String> = AHashMap::new();
        let inputs = load_inputs(&ctx).await?;
        let mut bad: ahash::AHashSet<&str> = ahash::AHashSet::new();
        for i in &inputs {
            let r = Record::new(i, today(), &[]);
            if let (Some(id), Some(p)) = (r.valid_id(), party.get(&i.cust_no)) {
                match ids.get(p.as_str()) {
                    Some(other) if other != id => {
                        bad.insert(p.as_str());
                    }
                    Some(_) => {}
                    None => {
                        ids.insert(p.as_str(), id.to_string());
                    }
                }
            }
        }
        conflicting = bad.len() as u64;
    }
    Ok(IdentityEval {
        parties_with_two_valid_ids: conflicting,
        records: pred.len() as u64,
        missing,
        pairwise: eval::pairwise(&pred, &actual),
        cluster: eval::clusters(&pred, &actual),
        recall_by_noise,
    })
}

/// Household pairing of the stored groups against the generator's truth.
#[derive(Debug, Clone, Serialize)]
pub struct HouseholdEval {
    /// Customer numbers of people in both truths and the store.
    pub records: u64,
    /// Pairs of customer numbers of different people: together in a household or not.
    pub pairwise: Scores,
}

/// Pairwise household precision, recall and F1 of `party_group` against `household`
/// (`true_id,household_id`) through `identity` (`cust_no,true_id`): pairs of one person's own
/// customer numbers are left out, they say nothing about households.
pub async fn eval_households(
    store: &Store,
    household: &Path,
    identity: &Path,
) -> Result<HouseholdEval> {
    if store.table(crate::links::PARTY_GROUP).is_none() {
        return Err(EngineError::Usage(
            "the store has no `party_group` table\nhint: run `portrait links` first".into(),
        ));
    }
    let home: AHashMap<String, String> =
        read_columns(household, &["true_id", "household_id"], &[])?
            .into_iter()
            .map(|mut r| {
                let h = r.pop().unwrap_or_default();
                (r.pop().unwrap_or_default(), h)
            })
            .collect();
    let people = read_truth(identity)?;
    let ctx = crate::open_session(store).await?;
    let rows = string_pairs(
        &ctx,
        "SELECT m.cust_no, g.household_id FROM party_member m JOIN party_group g ON g.party_id = m.party_id",
    )
    .await?;
    let predicted: AHashMap<String, String> = rows
        .into_iter()
        .filter_map(|r| Some((r[0].clone()?, r[1].clone()?)))
        .collect();
    let (mut pred, mut truth, mut person) = (Vec::new(), Vec::new(), Vec::new());
    for (cust, id, _) in &people {
        if let (Some(h), Some(p)) = (home.get(id), predicted.get(cust)) {
            pred.push(p.as_str());
            truth.push(h.as_str());
            person.push(id.as_str());
        }
    }
    Ok(HouseholdEval {
        records: pred.len() as u64,
        pairwise: eval::pairwise_across(&pred, &truth, &person),
    })
}

/// The `resolve` stage: customer numbers into parties. Without a `customer` table every
/// customer number of the inputs is its own party.
pub struct ResolveStage;

impl crate::pipeline::Stage for ResolveStage {
    fn name(&self) -> &'static str {
        "resolve"
    }
    fn requires(&self) -> crate::pipeline::Requirement {
        &[crate::pipeline::CUSTOMER_TABLES]
    }
    fn uses(&self) -> &'static [&'static str] {
        &["customer", PARTY_MEMBER, OVERRIDES]
    }
    fn writes(&self) -> &'static [&'static str] {
        &[PARTY, PARTY_MEMBER, MATCH_MODEL]
    }
    fn run<'a>(
        &'a self,
        store: &'a Store,
        settings: &'a crate::pipeline::Settings,
        progress: &'a dyn crate::pipeline::Progress,
    ) -> futures::future::BoxFuture<'a, Result<crate::pipeline::Step>> {
        Box::pin(async move {
            let o = run_with(
                store,
                &settings.resolve,
                &settings.survivorship,
                settings.new_override.as_ref(),
                &|s: &str| progress.stage(s),
            )
            .await?;
            Ok(crate::pipeline::Step::Ran(
                crate::pipeline::Report::Resolve(o),
            ))
        })
    }
}
