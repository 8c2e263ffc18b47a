//! Evaluating the catalogue's rules over Arrow batches of features, one party per row.

use arrow::array::{Array, ArrayRef, BooleanArray, Float64Array, RecordBatch, StringArray};
use arrow::datatypes::{DataType, Field, Schema};
use std::sync::Arc;

use crate::catalog::{FeatureSchema, FeatureType};
use crate::expr::{CmpOp, Expr, ExprError, Literal};

/// The tag-relevant type of an Arrow column, if it has one.
pub fn feature_type(dt: &DataType) -> Option<FeatureType> {
    match dt {
        DataType::Boolean => Some(FeatureType::Bool),
        DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View => Some(FeatureType::Text),
        DataType::Dictionary(_, v) if matches!(**v, DataType::Utf8 | DataType::LargeUtf8) => {
            Some(FeatureType::Text)
        }
        DataType::Int8
        | DataType::Int16
        | DataType::Int32
        | DataType::Int64
        | DataType::UInt8
        | DataType::UInt16
        | DataType::UInt32
        | DataType::UInt64
        | DataType::Float16
        | DataType::Float32
        | DataType::Float64
        | DataType::Decimal128(_, _)
        | DataType::Decimal256(_, _) => Some(FeatureType::Number),
        _ => None,
    }
}

/// The features of an Arrow schema that tags and audiences can use.
pub fn schema_of(schema: &Schema) -> FeatureSchema {
    schema
        .fields()
        .iter()
        .filter_map(|f| feature_type(f.data_type()).map(|t| (f.name().clone(), t)))
        .collect()
}

/// The batch with numbers as `Float64` and text as `Utf8`, the two forms the evaluator reads.
pub fn normalize(batch: &RecordBatch) -> Result<RecordBatch, arrow::error::ArrowError> {
    let mut fields = Vec::with_capacity(batch.num_columns());
    let mut columns: Vec<ArrayRef> = Vec::with_capacity(batch.num_columns());
    for (f, c) in batch.schema().fields().iter().zip(batch.columns()) {
        let to = match feature_type(f.data_type()) {
            Some(FeatureType::Number) => DataType::Float64,
            Some(FeatureType::Text) => DataType::Utf8,
            _ => f.data_type().clone(),
        };
        let c = if *c.data_type() == to {
            c.clone()
        } else {
            arrow::compute::cast(c, &to)?
        };
        fields.push(Field::new(f.name(), to, true));
        columns.push(c);
    }
    RecordBatch::try_new(Arc::new(Schema::new(fields)), columns)
}

/// A column of a normalised batch.
pub enum Col<'a> {
    Num(&'a Float64Array),
    Text(&'a StringArray),
    Bool(&'a BooleanArray),
}

/// A column of a normalised batch by name.
pub fn column<'a>(batch: &'a RecordBatch, name: &str) -> Option<Col<'a>> {
    let c = batch.column_by_name(name)?;
    let any = c.as_any();
    if let Some(a) = any.downcast_ref::<Float64Array>() {
        Some(Col::Num(a))
    } else if let Some(a) = any.downcast_ref::<StringArray>() {
        Some(Col::Text(a))
    } else {
        any.downcast_ref::<BooleanArray>().map(Col::Bool)
    }
}

/// Evaluates a rule over every row of a normalised batch, with the two-valued logic of
/// [`Expr`]: a comparison on a missing value is false.
pub fn eval_rows(e: &Expr, batch: &RecordBatch) -> Result<Vec<bool>, ExprError> {
    let n = batch.num_rows();
    Ok(match e {
        Expr::And(a, b) => {
            let mut l = eval_rows(a, batch)?;
            let r = eval_rows(b, batch)?;
            l.iter_mut().zip(r).for_each(|(x, y)| *x &= y);
            l
        }
        Expr::Or(a, b) => {
            let mut l = eval_rows(a, batch)?;
            let r = eval_rows(b, batch)?;
            l.iter_mut().zip(r).for_each(|(x, y)| *x |= y);
            l
        }
        Expr::Not(a) => eval_rows(a, batch)?.into_iter().map(|x| !x).collect(),
        leaf => {
            let (name, col) = leaf.leaf_name().expect("a leaf");
            let c = column(batch, name)
                .ok_or_else(|| ExprError::new(col, format!("unknown feature `{name}`")))?;
            (0..n).map(|i| leaf_holds(leaf, &c, i)).collect()
        }
    })
}

fn num(c: &Col, i: usize) -> Option<f64> {
    match c {
        Col::Num(a) if a.is_valid(i) && !a.value(i).is_nan() => Some(a.value(i)),
        _ => None,
    }
}

fn leaf_holds(leaf: &Expr, c: &Col, i: usize) -> bool {
    let literal_cmp = |lit: &Literal| -> Option<std::cmp::Ordering> {
        match (c, lit) {
            (Col::Num(_), Literal::Number(n)) => num(c, i)?.partial_cmp(n),
            (Col::Text(a), Literal::Text(s)) if a.is_valid(i) => Some(a.value(i).cmp(s.as_str())),
            (Col::Bool(a), Literal::Bool(b)) if a.is_valid(i) => Some(a.value(i).cmp(b)),
            _ => None,
        }
    };
    match leaf {
        Expr::Cmp { op, value, .. } => literal_cmp(value).is_some_and(|o| op.holds(o)),
        Expr::Between {
            low, high, negated, ..
        } => num(c, i).is_some_and(|v| (v >= *low && v <= *high) != *negated),
        Expr::In {
            values, negated, ..
        } => {
            let mut valid = false;
            let mut found = false;
            for v in values {
                if let Some(o) = literal_cmp(v) {
                    valid = true;
                    found |= CmpOp::Eq.holds(o);
                }
            }
            valid && found != *negated
        }
        Expr::IsNull { negated, .. } => {
            let null = match c {
                Col::Num(_) => num(c, i).is_none(),
                Col::Text(a) => a.is_null(i),
                Col::Bool(a) => a.is_null(i),
            };
            null != *negated
        }
        Expr::Name { .. } => matches!(c, Col::Bool(a) if a.is_valid(i) && a.value(i)),
        _ => false,
    }
}
