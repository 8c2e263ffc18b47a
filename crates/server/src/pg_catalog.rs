//! The part of PostgreSQL's system catalog that clients read on connect and to list tables:
//! `pg_catalog.pg_namespace`, `pg_class`, `pg_attribute`, `pg_type`, … built from a session's
//! tables, the functions their queries call (`version()`, `pg_table_is_visible`,
//! `format_type`, …), and [`rewrite`], which turns PostgreSQL-only spellings that such queries
//! use (`OPERATOR(pg_catalog.~)`, `COLLATE pg_catalog.default`, `::regclass`, unqualified
//! `pg_type`) into what DataFusion reads. Nothing here holds data: names and types only.

use std::sync::Arc;

use datafusion::arrow::array::{
    ArrayRef, BooleanArray, Float64Array, Int16Array, Int32Array, Int64Array, RecordBatch,
    StringArray,
};
use datafusion::arrow::datatypes::{DataType, Field, Schema};
use datafusion::catalog::{MemorySchemaProvider, SchemaProvider};
use datafusion::datasource::MemTable;
use datafusion::error::Result;
use datafusion::logical_expr::{
    ColumnarValue, ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl, Signature, TypeSignature,
    Volatility, create_udf,
};
use datafusion::prelude::SessionContext;
use datafusion::scalar::ScalarValue;
use pgwire::api::Type;

/// Object ids: PostgreSQL's own for its namespaces and types, user tables from 16384 on.
const NS_CATALOG: i64 = 11;
const NS_PUBLIC: i64 = 2200;
const NS_INFORMATION: i64 = 13000;
const FIRST_TABLE_OID: i64 = 16384;
const OWNER: i64 = 10;

/// The types a column can be sent as ([`crate::pg`]), with their `pg_type` facts:
/// oid, name, length, category.
fn types() -> Vec<(Type, i16, &'static str)> {
    vec![
        (Type::BOOL, 1, "B"),
        (Type::BYTEA, -1, "U"),
        (Type::CHAR, 1, "Z"),
        (Type::NAME, 64, "S"),
        (Type::INT8, 8, "N"),
        (Type::INT2, 2, "N"),
        (Type::INT4, 4, "N"),
        (Type::TEXT, -1, "S"),
        (Type::OID, 4, "N"),
        (Type::FLOAT4, 4, "N"),
        (Type::FLOAT8, 8, "N"),
        (Type::VARCHAR, -1, "S"),
        (Type::DATE, 4, "D"),
        (Type::TIMESTAMP, 8, "D"),
        (Type::TIMESTAMPTZ, 8, "D"),
        (Type::NUMERIC, -1, "N"),
    ]
}

/// A type's name as `format_type` and psql's `\d` write it.
fn sql_name(t: &Type) -> &'static str {
    match *t {
        Type::BOOL => "boolean",
        Type::INT2 => "smallint",
        Type::INT4 => "integer",
        Type::INT8 => "bigint",
        Type::FLOAT4 => "real",
        Type::FLOAT8 => "double precision",
        Type::VARCHAR => "character varying",
        Type::TIMESTAMP => "timestamp without time zone",
        Type::TIMESTAMPTZ => "timestamp with time zone",
        Type::NUMERIC => "numeric",
        Type::DATE => "date",
        Type::BYTEA => "bytea",
        Type::NAME => "name",
        Type::CHAR => "\"char\"",
        Type::OID => "oid",
        _ => "text",
    }
}

fn int64(v: Vec<i64>) -> ArrayRef {
    Arc::new(Int64Array::from(v))
}
fn int32(v: Vec<i32>) -> ArrayRef {
    Arc::new(Int32Array::from(v))
}
fn int16(v: Vec<i16>) -> ArrayRef {
    Arc::new(Int16Array::from(v))
}
fn text<S: AsRef<str>>(v: Vec<S>) -> ArrayRef {
    Arc::new(StringArray::from_iter_values(v.iter().map(|s| s.as_ref())))
}
fn null_text(n: usize) -> ArrayRef {
    Arc::new(StringArray::from(vec![None::<&str>; n]))
}
fn bools(n: usize, v: bool) -> ArrayRef {
    Arc::new(BooleanArray::from(vec![v; n]))
}

/// A table of `columns` (name and array), registered in `schema`.
fn table(schema: &MemorySchemaProvider, name: &str, columns: Vec<(&str, ArrayRef)>) -> Result<()> {
    let fields: Vec<Field> = columns
        .iter()
        .map(|(n, a)| Field::new(*n, a.data_type().clone(), true))
        .collect();
    let schema_ref = Arc::new(Schema::new(fields));
    let batch = RecordBatch::try_new(
        schema_ref.clone(),
        columns.into_iter().map(|(_, a)| a).collect(),
    )?;
    let t = MemTable::try_new(schema_ref, vec![vec![batch]])?;
    schema.register_table(name.to_string(), Arc::new(t))?;
    Ok(())
}

/// Installs `pg_catalog` into `ctx` for its tables `names` (in the default schema).
pub async fn install(ctx: &SessionContext, names: &[String]) -> Result<()> {
    let catalog_name = ctx
        .state()
        .config()
        .options()
        .catalog
        .default_catalog
        .clone();
    let catalog = ctx
        .catalog(&catalog_name)
        .ok_or_else(|| datafusion::error::DataFusionError::Plan("no default catalog".into()))?;
    let schema = Arc::new(MemorySchemaProvider::new());

    table(
        &schema,
        "pg_namespace",
        vec![
            ("oid", int64(vec![NS_CATALOG, NS_PUBLIC, NS_INFORMATION])),
            (
                "nspname",
                text(vec!["pg_catalog", "public", "information_schema"]),
            ),
            ("nspowner", int64(vec![OWNER; 3])),
            ("nspacl", null_text(3)),
        ],
    )?;

    // One row per table; their columns from the session's own schemas.
    let mut rel = Vec::new();
    let mut attrs: Vec<(i64, String, i64, i16, bool)> = Vec::new();
    let mut sorted: Vec<&String> = names.iter().collect();
    sorted.sort();
    for (i, name) in sorted.iter().enumerate() {
        let oid = FIRST_TABLE_OID + i as i64;
        let schema_of = ctx.state().schema_for_ref(name.as_str())?;
        let Some(provider) = schema_of.table(name).await? else {
            continue;
        };
        let s = provider.schema();
        for (n, f) in s.fields().iter().enumerate() {
            attrs.push((
                oid,
                f.name().clone(),
                i64::from(crate::pg::pg_type(f.data_type()).oid()),
                n as i16 + 1,
                !f.is_nullable(),
            ));
        }
        rel.push((oid, name.to_string(), s.fields().len() as i16));
    }
    let n = rel.len();
    table(
        &schema,
        "pg_class",
        vec![
            ("oid", int64(rel.iter().map(|r| r.0).collect())),
            ("relname", text(rel.iter().map(|r| r.1.clone()).collect())),
            ("relnamespace", int64(vec![NS_PUBLIC; n])),
            ("reltype", int64(vec![0; n])),
            ("reloftype", int64(vec![0; n])),
            ("relowner", int64(vec![OWNER; n])),
            ("relam", int64(vec![2; n])),
            ("relfilenode", int64(rel.iter().map(|r| r.0).collect())),
            ("reltablespace", int64(vec![0; n])),
            ("relpages", int32(vec![0; n])),
            (
                "reltuples",
                Arc::new(Float64Array::from(vec![-1.0; n])) as ArrayRef,
            ),
            ("reltoastrelid", int64(vec![0; n])),
            ("relhasindex", bools(n, false)),
            ("relisshared", bools(n, false)),
            ("relpersistence", text(vec!["p"; n])),
            ("relkind", text(vec!["r"; n])),
            ("relnatts", int16(rel.iter().map(|r| r.2).collect())),
            ("relchecks", int16(vec![0; n])),
            ("relhasrules", bools(n, false)),
            ("relhastriggers", bools(n, false)),
            ("relhassubclass", bools(n, false)),
            ("relrowsecurity", bools(n, false)),
            ("relforcerowsecurity", bools(n, false)),
            ("relispopulated", bools(n, true)),
            ("relreplident", text(vec!["d"; n])),
            ("relispartition", bools(n, false)),
            ("relacl", null_text(n)),
            ("reloptions", null_text(n)),
            ("relpartbound", null_text(n)),
        ],
    )?;
    let a = attrs.len();
    table(
        &schema,
        "pg_attribute",
        vec![
            ("attrelid", int64(attrs.iter().map(|r| r.0).collect())),
            ("attname", text(attrs.iter().map(|r| r.1.clone()).collect())),
            ("atttypid", int64(attrs.iter().map(|r| r.2).collect())),
            ("attlen", int16(vec![-1; a])),
            ("attnum", int16(attrs.iter().map(|r| r.3).collect())),
            ("atttypmod", int32(vec![-1; a])),
            ("attndims", int16(vec![0; a])),
            (
                "attnotnull",
                Arc::new(BooleanArray::from(
                    attrs.iter().map(|r| r.4).collect::<Vec<_>>(),
                )) as ArrayRef,
            ),
            ("atthasdef", bools(a, false)),
            ("atthasmissing", bools(a, false)),
            ("attidentity", text(vec![""; a])),
            ("attgenerated", text(vec![""; a])),
            ("attisdropped", bools(a, false)),
            ("attislocal", bools(a, true)),
            ("attinhcount", int16(vec![0; a])),
            ("attcollation", int64(vec![0; a])),
            ("attacl", null_text(a)),
            ("attoptions", null_text(a)),
        ],
    )?;

    let ty = types();
    let t = ty.len();
    table(
        &schema,
        "pg_type",
        vec![
            (
                "oid",
                int64(ty.iter().map(|x| i64::from(x.0.oid())).collect()),
            ),
            (
                "typname",
                text(ty.iter().map(|x| x.0.name().to_string()).collect()),
            ),
            ("typnamespace", int64(vec![NS_CATALOG; t])),
            ("typowner", int64(vec![OWNER; t])),
            ("typlen", int16(ty.iter().map(|x| x.1).collect())),
            ("typbyval", bools(t, false)),
            ("typtype", text(vec!["b"; t])),
            ("typcategory", text(ty.iter().map(|x| x.2).collect())),
            ("typisdefined", bools(t, true)),
            ("typdelim", text(vec![","; t])),
            ("typrelid", int64(vec![0; t])),
            ("typelem", int64(vec![0; t])),
            ("typarray", int64(vec![0; t])),
            ("typbasetype", int64(vec![0; t])),
            ("typtypmod", int32(vec![-1; t])),
            ("typnotnull", bools(t, false)),
            ("typndims", int32(vec![0; t])),
            ("typcollation", int64(vec![0; t])),
            ("typdefault", null_text(t)),
        ],
    )?;
    table(
        &schema,
        "pg_am",
        vec![
            ("oid", int64(vec![2, 403])),
            ("amname", text(vec!["heap", "btree"])),
            ("amtype", text(vec!["t", "i"])),
        ],
    )?;
    table(
        &schema,
        "pg_database",
        vec![
            ("oid", int64(vec![16383])),
            ("datname", text(vec!["portrait"])),
            ("datdba", int64(vec![OWNER])),
            ("encoding", int32(vec![6])),
            ("datcollate", text(vec!["C.UTF-8"])),
            ("datctype", text(vec!["C.UTF-8"])),
            ("datistemplate", bools(1, false)),
            ("datallowconn", bools(1, true)),
            ("datconnlimit", int32(vec![-1])),
            ("dattablespace", int64(vec![1663])),
            ("datacl", null_text(1)),
        ],
    )?;
    table(
        &schema,
        "pg_roles",
        vec![
            ("oid", int64(vec![OWNER])),
            ("rolname", text(vec!["portrait"])),
            ("rolsuper", bools(1, false)),
            ("rolinherit", bools(1, true)),
            ("rolcreaterole", bools(1, false)),
            ("rolcreatedb", bools(1, false)),
            ("rolcanlogin", bools(1, true)),
            ("rolreplication", bools(1, false)),
            ("rolconnlimit", int32(vec![-1])),
            ("rolvaliduntil", null_text(1)),
            ("rolbypassrls", bools(1, false)),
            ("rolconfig", null_text(1)),
        ],
    )?;
    table(
        &schema,
        "pg_settings",
        vec![
            ("name", text(SETTINGS.to_vec())),
            (
                "setting",
                text(
                    SETTINGS
                        .iter()
                        .map(|s| crate::pg::setting(s).unwrap_or_default())
                        .collect(),
                ),
            ),
        ],
    )?;
    // Catalogs clients join to and portrait has nothing in: no indexes, constraints,
    // inheritance, rules, triggers, policies, descriptions, defaults.
    let empty: [(&str, &[(&str, DataType)]); 9] = [
        (
            "pg_collation",
            &[
                ("oid", DataType::Int64),
                ("collname", DataType::Utf8),
                ("collnamespace", DataType::Int64),
            ],
        ),
        (
            "pg_index",
            &[
                ("indexrelid", DataType::Int64),
                ("indrelid", DataType::Int64),
                ("indnatts", DataType::Int16),
                ("indisunique", DataType::Boolean),
                ("indisprimary", DataType::Boolean),
                ("indisclustered", DataType::Boolean),
                ("indisvalid", DataType::Boolean),
                ("indisreplident", DataType::Boolean),
                ("indkey", DataType::Utf8),
            ],
        ),
        (
            "pg_constraint",
            &[
                ("oid", DataType::Int64),
                ("conname", DataType::Utf8),
                ("connamespace", DataType::Int64),
                ("contype", DataType::Utf8),
                ("conrelid", DataType::Int64),
                ("confrelid", DataType::Int64),
                ("conindid", DataType::Int64),
                ("conkey", DataType::Utf8),
                ("confkey", DataType::Utf8),
                ("conparentid", DataType::Int64),
            ],
        ),
        (
            "pg_inherits",
            &[
                ("inhrelid", DataType::Int64),
                ("inhparent", DataType::Int64),
                ("inhseqno", DataType::Int32),
            ],
        ),
        (
            "pg_description",
            &[
                ("objoid", DataType::Int64),
                ("classoid", DataType::Int64),
                ("objsubid", DataType::Int32),
                ("description", DataType::Utf8),
            ],
        ),
        (
            "pg_attrdef",
            &[
                ("oid", DataType::Int64),
                ("adrelid", DataType::Int64),
                ("adnum", DataType::Int16),
                ("adbin", DataType::Utf8),
            ],
        ),
        (
            "pg_trigger",
            &[
                ("oid", DataType::Int64),
                ("tgrelid", DataType::Int64),
                ("tgname", DataType::Utf8),
                ("tgisinternal", DataType::Boolean),
            ],
        ),
        (
            "pg_policy",
            &[
                ("oid", DataType::Int64),
                ("polname", DataType::Utf8),
                ("polrelid", DataType::Int64),
            ],
        ),
        (
            "pg_proc",
            &[
                ("oid", DataType::Int64),
                ("proname", DataType::Utf8),
                ("pronamespace", DataType::Int64),
                ("prorettype", DataType::Int64),
                ("prokind", DataType::Utf8),
            ],
        ),
    ];
    for (name, cols) in empty {
        let fields: Vec<Field> = cols
            .iter()
            .map(|(n, t)| Field::new(*n, t.clone(), true))
            .collect();
        let t = MemTable::try_new(Arc::new(Schema::new(fields)), vec![vec![]])?;
        schema.register_table(name.to_string(), Arc::new(t))?;
    }
    catalog.register_schema("pg_catalog", schema)?;
    for f in functions(&rel) {
        ctx.register_udf(f);
    }
    Ok(())
}

/// The settings `pg_settings` lists.
const SETTINGS: &[&str] = &[
    "server_version",
    "server_version_num",
    "server_encoding",
    "client_encoding",
    "standard_conforming_strings",
    "DateStyle",
    "TimeZone",
    "search_path",
    "transaction_isolation",
    "max_identifier_length",
    "integer_datetimes",
];

/// A function of any arguments with one answer (`pg_table_is_visible(oid)` is always true
/// here: every table is in `public`).
#[derive(Debug, PartialEq, Eq, Hash)]
struct Constant {
    name: String,
    value: ScalarValue,
    signature: Signature,
}

impl ScalarUDFImpl for Constant {
    fn name(&self) -> &str {
        &self.name
    }
    fn signature(&self) -> &Signature {
        &self.signature
    }
    fn return_type(&self, _: &[DataType]) -> Result<DataType> {
        Ok(self.value.data_type())
    }
    fn invoke_with_args(&self, _: ScalarFunctionArgs) -> Result<ColumnarValue> {
        Ok(ColumnarValue::Scalar(self.value.clone()))
    }
}

fn constant(name: &str, value: ScalarValue) -> ScalarUDF {
    ScalarUDF::new_from_impl(Constant {
        name: name.to_string(),
        value,
        signature: Signature::one_of(
            vec![TypeSignature::Nullary, TypeSignature::VariadicAny],
            Volatility::Stable,
        ),
    })
}

/// The functions of the catalog queries.
fn functions(rel: &[(i64, String, i16)]) -> Vec<ScalarUDF> {
    let version = format!(
        "PostgreSQL {} (portrait {}) on x86_64, read-only",
        crate::pg::PG_VERSION,
        env!("CARGO_PKG_VERSION")
    );
    let mut f = vec![
        constant("version", ScalarValue::from(version.as_str())),
        constant("current_schema", ScalarValue::from("public")),
        constant("current_database", ScalarValue::from("portrait")),
        constant(
            "current_schemas",
            ScalarValue::List(ScalarValue::new_list_nullable(
                &[ScalarValue::from("pg_catalog"), ScalarValue::from("public")],
                &DataType::Utf8,
            )),
        ),
        constant(
            "pg_backend_pid",
            ScalarValue::Int32(Some(std::process::id() as i32)),
        ),
        constant("pg_table_is_visible", ScalarValue::Boolean(Some(true))),
        constant("pg_type_is_visible", ScalarValue::Boolean(Some(true))),
        constant("pg_get_userbyid", ScalarValue::from("portrait")),
        constant("pg_encoding_to_char", ScalarValue::from("UTF8")),
        constant("obj_description", ScalarValue::Utf8(None)),
        constant("col_description", ScalarValue::Utf8(None)),
        constant("shobj_description", ScalarValue::Utf8(None)),
        constant("pg_get_expr", ScalarValue::Utf8(None)),
        constant("pg_get_indexdef", ScalarValue::Utf8(None)),
        constant("pg_get_constraintdef", ScalarValue::Utf8(None)),
        constant("pg_get_viewdef", ScalarValue::Utf8(None)),
        constant("pg_relation_size", ScalarValue::Int64(Some(0))),
        constant("pg_total_relation_size", ScalarValue::Int64(Some(0))),
        constant("has_table_privilege", ScalarValue::Boolean(Some(true))),
        constant("has_schema_privilege", ScalarValue::Boolean(Some(true))),
        constant("has_database_privilege", ScalarValue::Boolean(Some(true))),
    ];
    // format_type(type oid, typmod): the type's name.
    let names: Vec<(i64, String)> = types()
        .into_iter()
        .map(|(t, ..)| (i64::from(t.oid()), sql_name(&t).to_string()))
        .collect();
    f.push(lookup("format_type", 2, names));
    // to_regtype(name): the type's oid, or null; by its short or its SQL name.
    let by_name: Vec<(String, i64)> = types()
        .into_iter()
        .flat_map(|(t, ..)| {
            let oid = i64::from(t.oid());
            [(t.name().to_string(), oid), (sql_name(&t).to_string(), oid)]
        })
        .collect();
    f.push(create_udf(
        "to_regtype",
        vec![DataType::Utf8],
        DataType::Int64,
        Volatility::Stable,
        Arc::new(move |args: &[ColumnarValue]| {
            let a = ColumnarValue::values_to_arrays(args)?;
            let s = datafusion::arrow::array::AsArray::as_string::<i32>(&a[0]);
            let out: Int64Array = s
                .iter()
                .map(|v| v.and_then(|v| by_name.iter().find(|(n, _)| n == v).map(|(_, o)| *o)))
                .collect();
            Ok(ColumnarValue::Array(Arc::new(out)))
        }),
    ));
    // to_regclass(name): the table's oid, or null.
    let mut tables: Vec<(String, i64)> = rel.iter().map(|(o, n, _)| (n.clone(), *o)).collect();
    tables.extend(
        CATALOG_TABLES
            .iter()
            .map(|n| (format!("pg_catalog.{n}"), catalog_oid(n))),
    );
    tables.extend(
        CATALOG_TABLES
            .iter()
            .map(|n| (n.to_string(), catalog_oid(n))),
    );
    f.push(create_udf(
        "to_regclass",
        vec![DataType::Utf8],
        DataType::Int64,
        Volatility::Stable,
        Arc::new(move |args: &[ColumnarValue]| {
            let a = ColumnarValue::values_to_arrays(args)?;
            let s = datafusion::arrow::array::AsArray::as_string::<i32>(&a[0]);
            let out: Int64Array = s
                .iter()
                .map(|v| {
                    v.and_then(|v| {
                        let v = v.trim_start_matches("public.");
                        tables.iter().find(|(n, _)| n == v).map(|(_, o)| *o)
                    })
                })
                .collect();
            Ok(ColumnarValue::Array(Arc::new(out)))
        }),
    ));
    f
}

/// `name(oid, …)`: the text `table` gives the oid, or null.
fn lookup(name: &str, args: usize, table: Vec<(i64, String)>) -> ScalarUDF {
    create_udf(
        name,
        vec![DataType::Int64; args],
        DataType::Utf8,
        Volatility::Stable,
        Arc::new(move |args: &[ColumnarValue]| {
            let a = ColumnarValue::values_to_arrays(args)?;
            let oids = datafusion::arrow::array::AsArray::as_primitive::<
                datafusion::arrow::datatypes::Int64Type,
            >(&a[0]);
            let out: StringArray = oids
                .iter()
                .map(|v| {
                    v.and_then(|v| table.iter().find(|(o, _)| *o == v).map(|(_, n)| n.clone()))
                })
                .collect();
            Ok(ColumnarValue::Array(Arc::new(out)))
        }),
    )
}

/// The oid of a catalog table: PostgreSQL's own.
fn catalog_oid(name: &str) -> i64 {
    match name {
        "pg_type" => 1247,
        "pg_attribute" => 1249,
        "pg_proc" => 1255,
        "pg_class" => 1259,
        "pg_roles" => 1260,
        "pg_database" => 1262,
        "pg_am" => 2601,
        "pg_attrdef" => 2604,
        "pg_constraint" => 2606,
        "pg_description" => 2609,
        "pg_index" => 2610,
        "pg_inherits" => 2611,
        "pg_namespace" => 2615,
        "pg_trigger" => 2620,
        "pg_policy" => 3256,
        "pg_collation" => 3456,
        _ => 12000 + CATALOG_TABLES.iter().position(|t| *t == name).unwrap_or(0) as i64,
    }
}

/// Catalog tables a query may name without `pg_catalog.`, as PostgreSQL's search path allows.
const CATALOG_TABLES: &[&str] = &[
    "pg_namespace",
    "pg_class",
    "pg_attribute",
    "pg_type",
    "pg_am",
    "pg_database",
    "pg_roles",
    "pg_settings",
    "pg_index",
    "pg_constraint",
    "pg_inherits",
    "pg_description",
    "pg_attrdef",
    "pg_trigger",
    "pg_policy",
    "pg_proc",
    "pg_collation",
];

/// Catalogs that are always empty in portrait (no policies, statistics objects, publications,
/// inheritance, triggers, constraints, indexes, sequences, enums …): a query whose rows must
/// come from one of them is answered with no rows even when the planner cannot read it
/// ([`provably_empty`]), and a scalar subquery over one is `NULL`.
const ALWAYS_EMPTY: &[&str] = &[
    "pg_policy",
    "pg_statistic_ext",
    "pg_publication",
    "pg_publication_rel",
    "pg_publication_namespace",
    "pg_inherits",
    "pg_trigger",
    "pg_constraint",
    "pg_index",
    "pg_attrdef",
    "pg_sequence",
    "pg_enum",
    "pg_opclass",
    "pg_rewrite",
    "pg_extension",
    "pg_foreign_table",
    "pg_partitioned_table",
    "pg_collation",
];

/// `sql` with every scalar subquery over an always-empty catalog ([`ALWAYS_EMPTY`]) as `NULL`,
/// what it is (psql's `\d` asks for column defaults and collations so); `None` when there is
/// none or `sql` is not one statement.
pub fn empty_subqueries_to_null(sql: &str) -> Option<String> {
    use sqlparser::ast::{Expr, Value, visit_expressions_mut};
    use sqlparser::dialect::PostgreSqlDialect;
    use std::ops::ControlFlow;
    let mut statements = sqlparser::parser::Parser::parse_sql(&PostgreSqlDialect {}, sql).ok()?;
    if statements.len() != 1 {
        return None;
    }
    let mut changed = false;
    let _ = visit_expressions_mut(&mut statements, |e| {
        if let Expr::Subquery(q) = e
            && no_rows(q)
        {
            *e = Expr::value(Value::Null);
            changed = true;
        }
        ControlFlow::<()>::Continue(())
    });
    changed.then(|| statements[0].to_string())
}

/// Whether `sql` reads a catalog that is always empty ([`ALWAYS_EMPTY`]).
pub fn reads_empty_catalog(sql: &str) -> bool {
    use sqlparser::dialect::PostgreSqlDialect;
    use sqlparser::tokenizer::{Token, Tokenizer};
    let Ok(tokens) = Tokenizer::new(&PostgreSqlDialect {}, sql).tokenize() else {
        return false;
    };
    tokens.iter().any(|t| match t {
        Token::Word(w) => ALWAYS_EMPTY.contains(&w.value.to_lowercase().as_str()),
        _ => false,
    })
}

/// Whether `table` names an always-empty catalog.
fn empty_table(f: &sqlparser::ast::TableFactor) -> bool {
    match f {
        sqlparser::ast::TableFactor::Table { name, .. } => name.0.last().is_some_and(|p| {
            p.as_ident()
                .is_some_and(|i| ALWAYS_EMPTY.contains(&i.value.to_lowercase().as_str()))
        }),
        _ => false,
    }
}

/// Whether a query has no rows whatever the data: every branch of its set operations reads,
/// among the relations it joins by comma or inner join, an always-empty catalog.
fn no_rows(q: &sqlparser::ast::Query) -> bool {
    use sqlparser::ast::{JoinOperator, SetExpr, SetOperator};
    fn body(b: &SetExpr) -> bool {
        match b {
            // Comma-joined relations are a cross join: one empty side empties it. Along a
            // chain of joins (left-associative) an inner join with an empty side is empty,
            // a left join keeps its left side, a right join is its right side.
            SetExpr::Select(s) => s.from.iter().any(|t| {
                let mut empty = empty_table(&t.relation);
                for j in &t.joins {
                    let right = empty_table(&j.relation);
                    empty = match j.join_operator {
                        JoinOperator::Join(_)
                        | JoinOperator::Inner(_)
                        | JoinOperator::CrossJoin(_)
                        | JoinOperator::StraightJoin(_)
                        | JoinOperator::Semi(_)
                        | JoinOperator::LeftSemi(_)
                        | JoinOperator::RightSemi(_)
                        | JoinOperator::CrossApply => empty || right,
                        JoinOperator::Left(_)
                        | JoinOperator::LeftOuter(_)
                        | JoinOperator::LeftAnti(_)
                        | JoinOperator::Anti(_)
                        | JoinOperator::OuterApply => empty,
                        JoinOperator::Right(_) | JoinOperator::RightOuter(_) => right,
                        JoinOperator::FullOuter(_) => empty && right,
                        _ => false,
                    };
                }
                empty
            }),
            SetExpr::Query(q) => body(&q.body),
            SetExpr::SetOperation {
                op, left, right, ..
            } => match op {
                SetOperator::Union => body(left) && body(right),
                SetOperator::Intersect => body(left) || body(right),
                SetOperator::Except | SetOperator::Minus => body(left),
            },
            _ => false,
        }
    }
    body(&q.body)
}

/// Whether `sql` is one query that has no rows whatever the data (see [`no_rows`]): psql's
/// `\d` footers ask for policies, statistics objects and publications with arrays and
/// functions DataFusion does not have, and the answer for this store is no rows.
pub fn provably_empty(sql: &str) -> bool {
    use sqlparser::dialect::PostgreSqlDialect;
    let Ok(statements) = sqlparser::parser::Parser::parse_sql(&PostgreSqlDialect {}, sql) else {
        return false;
    };
    matches!(statements.as_slice(), [sqlparser::ast::Statement::Query(q)] if no_rows(q))
}

/// Type names after `::` that DataFusion does not know, as the type it reads instead.
fn cast_type(name: &str) -> Option<&'static str> {
    Some(match name {
        "regclass" | "regtype" | "regproc" | "regprocedure" | "regnamespace" | "regrole"
        | "oid" | "xid" => "bigint",
        "name" | "char" | "text" | "bpchar" | "int2vector" | "oidvector" | "aclitem" => "text",
        _ => return None,
    })
}

/// `sql` with the PostgreSQL-only spellings of catalog queries replaced (see the module);
/// `current_user` and `session_user` are `user`. Anything it cannot tokenize is left as it is,
/// for the planner to report.
pub fn rewrite(sql: &str, user: &str) -> String {
    use sqlparser::tokenizer::{Token, Word};
    let Some(spans) = tokens_with_ranges(sql) else {
        return sql.to_string();
    };
    let (tokens, ranges): (Vec<Token>, Vec<std::ops::Range<usize>>) = spans.into_iter().unzip();
    // Unquoted words, lower-cased: a quoted identifier is the user's and stays as it is.
    let word = |t: &Token| match t {
        Token::Word(Word {
            value,
            quote_style: None,
            ..
        }) => Some(value.to_lowercase()),
        _ => None,
    };
    let solid: Vec<usize> = (0..tokens.len())
        .filter(|i| !matches!(tokens[*i], Token::Whitespace(_)))
        .collect();
    let mut rank = vec![usize::MAX; tokens.len()];
    for (r, &i) in solid.iter().enumerate() {
        rank[i] = r;
    }
    // The position (into `tokens`) of the k-th non-blank token after `i`.
    let next = |i: usize, k: usize| -> Option<usize> {
        let r = *rank.get(i)?;
        if r == usize::MAX {
            return None;
        }
        solid.get(r + k).copied()
    };
    let is = |j: Option<usize>, t: &Token| j.is_some_and(|j| tokens[j] == *t);
    let is_word =
        |j: Option<usize>, w: &str| j.is_some_and(|j| word(&tokens[j]).as_deref() == Some(w));
    let mut out = String::with_capacity(sql.len());
    let mut skip_to: Option<usize> = None;
    let mut prev_solid: Option<&Token> = None;
    for (i, t) in tokens.iter().enumerate() {
        if let Some(s) = skip_to {
            if i <= s {
                continue;
            }
            skip_to = None;
        }
        let w = word(t);
        // OPERATOR(pg_catalog.~) → ~
        if w.as_deref() == Some("operator") && is(next(i, 1), &Token::LParen) {
            let mut j = next(i, 2);
            if is_word(j, "pg_catalog") && is(j.and_then(|j| next(j, 1)), &Token::Period) {
                j = j.and_then(|j| next(j, 2));
            }
            if let Some(op) = j
                && let Some(close) = next(op, 1)
                && tokens[close] == Token::RParen
            {
                out.push_str(&tokens[op].to_string());
                skip_to = Some(close);
                prev_solid = Some(&tokens[op]);
                continue;
            }
        }
        // COLLATE pg_catalog.default / COLLATE "C" → nothing
        if w.as_deref() == Some("collate")
            && let Some(a) = next(i, 1)
        {
            let end = if is_word(Some(a), "pg_catalog") && is(next(a, 1), &Token::Period) {
                next(a, 2)
            } else {
                Some(a)
            };
            if let Some(end) = end {
                skip_to = Some(end);
                continue;
            }
        }
        // 'name'::regclass → to_regclass('name')
        if let Token::SingleQuotedString(_) = t
            && is(next(i, 1), &Token::DoubleColon)
        {
            let mut ty = next(i, 2);
            if is_word(ty, "pg_catalog") && is(ty.and_then(|j| next(j, 1)), &Token::Period) {
                ty = ty.and_then(|j| next(j, 2));
            }
            if is_word(ty, "regclass") {
                out.push_str(&format!("to_regclass({})", &sql[ranges[i].clone()]));
                skip_to = ty;
                prev_solid = Some(t_static());
                continue;
            }
        }
        if let Some(name) = &w {
            let after_cast = matches!(prev_solid, Some(Token::DoubleColon));
            let after_period = matches!(prev_solid, Some(Token::Period));
            let dot_next = is(next(i, 1), &Token::Period);
            let call = is(next(i, 1), &Token::LParen);
            // pg_catalog.f( → f(   and   ::pg_catalog.t → ::t
            if name == "pg_catalog" && dot_next {
                let target = next(i, 2);
                let target_call = is(target.and_then(|t| next(t, 1)), &Token::LParen);
                if target_call || after_cast {
                    skip_to = next(i, 1);
                    continue;
                }
            }
            if after_cast && let Some(t) = cast_type(name) {
                out.push_str(t);
                prev_solid = Some(t_static());
                continue;
            }
            if !after_period
                && !dot_next
                && !call
                && matches!(
                    name.as_str(),
                    "current_user" | "session_user" | "current_role"
                )
            {
                out.push_str(&format!("'{}'", user.replace('\'', "''")));
                prev_solid = Some(t_static());
                continue;
            }
            if !after_period && !dot_next && !call && CATALOG_TABLES.contains(&name.as_str()) {
                out.push_str("pg_catalog.");
                out.push_str(name);
                prev_solid = Some(t);
                continue;
            }
        }
        // Unchanged tokens as written: a token printed back is not always the same text
        // (`'O''Brien'` prints as `'O'Brien'`).
        out.push_str(&sql[ranges[i].clone()]);
        if !matches!(t, Token::Whitespace(_)) {
            prev_solid = Some(t);
        }
    }
    out
}

/// `sql`'s tokens (PostgreSQL's dialect) with the byte range of `sql` each was read from; `None`
/// when it does not tokenize.
pub fn tokens_with_ranges(
    sql: &str,
) -> Option<Vec<(sqlparser::tokenizer::Token, std::ops::Range<usize>)>> {
    use sqlparser::dialect::PostgreSqlDialect;
    use sqlparser::tokenizer::Tokenizer;
    let tokens = Tokenizer::new(&PostgreSqlDialect {}, sql)
        .tokenize_with_location()
        .ok()?;
    // Locations are (line, character) from 1; walk the text forward to their byte offsets.
    let mut starts = Vec::with_capacity(tokens.len());
    let mut chars = sql.chars();
    let (mut line, mut col, mut byte) = (1u64, 1u64, 0usize);
    for t in &tokens {
        let at = (t.span.start.line, t.span.start.column);
        while (line, col) < at {
            let c = chars.next()?;
            byte += c.len_utf8();
            if c == '\n' {
                line += 1;
                col = 1;
            } else {
                col += 1;
            }
        }
        if (line, col) != at {
            return None;
        }
        starts.push(byte);
    }
    let mut out = Vec::with_capacity(tokens.len());
    for (i, t) in tokens.into_iter().enumerate() {
        let end = starts.get(i + 1).copied().unwrap_or(sql.len());
        out.push((t.token, starts[i]..end));
    }
    // The ranges cover the text from its start, in order.
    (out.first().is_none_or(|(_, r)| r.start == 0)).then_some(out)
}

/// A placeholder for "the previous token was a type name".
fn t_static() -> &'static sqlparser::tokenizer::Token {
    static T: std::sync::OnceLock<sqlparser::tokenizer::Token> = std::sync::OnceLock::new();
    T.get_or_init(|| sqlparser::tokenizer::Token::make_word("type", None))
}

#[cfg(test)]
mod tests {
    use super::rewrite;

    #[test]
    fn only_queries_whose_rows_come_from_an_empty_catalog_are_empty() {
        use super::provably_empty;
        assert!(provably_empty(
            "SELECT pol.polname FROM pg_catalog.pg_policy pol WHERE pol.polrelid = '1' ORDER BY 1"
        ));
        assert!(provably_empty(
            "SELECT pubname FROM pg_publication p JOIN pg_class c ON true UNION SELECT pubname FROM pg_publication p"
        ));
        // A left join keeps the table's rows; a union with a real table has rows.
        assert!(!provably_empty(
            "SELECT c.relname FROM pg_catalog.pg_class c LEFT JOIN pg_catalog.pg_description d ON c.oid = d.objoid"
        ));
        assert!(!provably_empty(
            "SELECT relname FROM pg_class UNION SELECT polname FROM pg_policy"
        ));
        assert!(!provably_empty("SELECT * FROM party"));
        assert!(!provably_empty(
            "SELECT * FROM pg_policy p JOIN pg_class c ON true RIGHT JOIN party x ON true"
        ));
        assert!(provably_empty(
            "SELECT * FROM pg_class c LEFT JOIN party x ON true JOIN pg_index i ON true"
        ));
        assert!(!provably_empty("SELECT 1; SELECT * FROM pg_policy"));
    }

    #[test]
    fn catalog_spellings_become_datafusion_sql() {
        let q = rewrite(
            "WHERE c.relname OPERATOR(pg_catalog.~) '^(features)$' COLLATE pg_catalog.default AND pg_catalog.pg_table_is_visible(c.oid)",
            "ana",
        );
        assert_eq!(
            q,
            "WHERE c.relname ~ '^(features)$'  AND pg_table_is_visible(c.oid)"
        );
        assert_eq!(
            rewrite(
                "select c.reloftype::pg_catalog.regtype::pg_catalog.text from pg_type t",
                "ana"
            ),
            "select c.reloftype::bigint::text from pg_catalog.pg_type t"
        );
        assert_eq!(
            rewrite(
                "select 'pg_type' as x, a.pg_type, \"pg_class\".x from pg_catalog.pg_class",
                "ana"
            ),
            "select 'pg_type' as x, a.pg_type, \"pg_class\".x from pg_catalog.pg_class"
        );
        // Literals and quoted names stay as written.
        for q in [
            "SELECT 'O''Brien', E'\\'', \"a\"\"b\", $$x'y$$ FROM pg_class",
            "SELECT 'x'' OR ''1''=''1' AS v",
            "SELECT '张伟' AS 名字 -- 注释\n FROM t",
        ] {
            let r = rewrite(q, "ana");
            assert_eq!(r.replace("pg_catalog.pg_class", "pg_class"), q);
        }
        assert_eq!(
            rewrite(
                "select current_user, session_user, 'pg_class'::regclass, x.current_user from t x",
                "o'neil"
            ),
            "select 'o''neil', 'o''neil', to_regclass('pg_class'), x.current_user from t x"
        );
    }
}
