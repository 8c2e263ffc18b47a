//! portrait's own SQL functions. Every session registers them — embedded sessions, the client
//! side of a cluster session, and the scheduler and executors started by `portrait cluster` —
//! so a plan that calls one runs the same wherever it runs.
//!
//! | function | returns |
//! |---|---|
//! | `id_valid(s)` | whether `s` is a valid 18-digit resident ID number (GB 11643-1999) |
//! | `id_birth_date(s)` | the birth date encoded in a valid ID number, else NULL |
//! | `id_gender(s)` | `M` or `F` from a valid ID number's sequence digit, else NULL |
//! | `uscc_valid(s)` | whether `s` is a valid unified social credit code (GB 32100-2015) |
//!
//! NULL in gives NULL out.

use std::sync::Arc;

use arrow::array::{Array, ArrayRef, AsArray, BooleanArray, Date32Array, StringArray};
use arrow::datatypes::DataType;
use chrono::NaiveDate;
use datafusion::common::Result;
use datafusion::logical_expr::{
    ColumnarValue, ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl, Signature, Volatility,
};
use portrait_types::{IdCardNo, Uscc};

/// Every function of this module, ready to register.
pub fn all() -> Vec<Arc<ScalarUDF>> {
    [
        Kind::IdValid,
        Kind::IdBirthDate,
        Kind::IdGender,
        Kind::UsccValid,
    ]
    .into_iter()
    .map(|kind| Arc::new(ScalarUDF::new_from_impl(IdFunction::new(kind))))
    .collect()
}

/// Registers every function of this module in `ctx`.
pub fn register(ctx: &datafusion::prelude::SessionContext) {
    for f in all() {
        ctx.register_udf(f.as_ref().clone());
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Kind {
    IdValid,
    IdBirthDate,
    IdGender,
    UsccValid,
}

#[derive(Debug, PartialEq, Eq, Hash)]
struct IdFunction {
    kind: Kind,
    signature: Signature,
}

impl IdFunction {
    fn new(kind: Kind) -> Self {
        // Stable, not immutable: a birth date after today makes an ID number invalid.
        Self {
            kind,
            signature: Signature::string(1, Volatility::Stable),
        }
    }
}

/// Days from 0001-01-01 (chrono's day 1) to 1970-01-01, Arrow's day 0.
const UNIX_EPOCH_DAYS_CE: i32 = 719_163;

impl ScalarUDFImpl for IdFunction {
    fn name(&self) -> &str {
        match self.kind {
            Kind::IdValid => "id_valid",
            Kind::IdBirthDate => "id_birth_date",
            Kind::IdGender => "id_gender",
            Kind::UsccValid => "uscc_valid",
        }
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, _arg_types: &[DataType]) -> Result<DataType> {
        Ok(match self.kind {
            Kind::IdValid | Kind::UsccValid => DataType::Boolean,
            Kind::IdBirthDate => DataType::Date32,
            Kind::IdGender => DataType::Utf8,
        })
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let input = args.args[0].to_array(args.number_rows)?;
        let input = arrow::compute::cast(&input, &DataType::Utf8)?;
        let s = input.as_string::<i32>();
        let today = chrono::Utc::now().date_naive();
        let id = |i: usize| {
            s.is_valid(i)
                .then(|| IdCardNo::parse(s.value(i), today).ok())
        };
        let out: ArrayRef = match self.kind {
            Kind::IdValid => Arc::new(
                (0..s.len())
                    .map(|i| id(i).map(|v| v.is_some()))
                    .collect::<BooleanArray>(),
            ),
            Kind::UsccValid => Arc::new(
                (0..s.len())
                    .map(|i| s.is_valid(i).then(|| Uscc::parse(s.value(i)).is_ok()))
                    .collect::<BooleanArray>(),
            ),
            Kind::IdBirthDate => Arc::new(
                (0..s.len())
                    .map(|i| id(i).flatten().map(|v| days(v.birth_date())))
                    .collect::<Date32Array>(),
            ),
            Kind::IdGender => Arc::new(
                (0..s.len())
                    .map(|i| id(i).flatten().map(|v| v.gender().code()))
                    .collect::<StringArray>(),
            ),
        };
        Ok(ColumnarValue::Array(out))
    }
}

fn days(d: NaiveDate) -> i32 {
    use chrono::Datelike;
    d.num_days_from_ce() - UNIX_EPOCH_DAYS_CE
}

#[cfg(test)]
mod tests {
    use super::*;
    use datafusion::prelude::SessionContext;

    async fn one(sql: &str) -> String {
        let ctx = SessionContext::new();
        register(&ctx);
        let batches = ctx.sql(sql).await.unwrap().collect().await.unwrap();
        arrow::util::pretty::pretty_format_batches(&batches)
            .unwrap()
            .to_string()
    }

    #[tokio::test]
    async fn id_numbers_are_read_like_the_standard_says() {
        // The worked example of GB 11643-1999: born 1949-12-31, even sequence digit (female);
        // the same number with another check character is invalid.
        let t = one(
            "SELECT id_valid('11010519491231002X') AS v, id_birth_date('11010519491231002X') AS b, \
             id_gender('11010519491231002X') AS g, id_valid('110105194912310021') AS bad, \
             id_gender('110105194912310021') AS bad_g, id_valid(NULL) AS n",
        )
        .await;
        assert!(
            t.contains("| true | 1949-12-31 | F | false |       |   |"),
            "{t}"
        );
        let man = IdCardNo::from_parts("440524", NaiveDate::from_ymd_opt(1988, 2, 29).unwrap(), 13);
        let t = one(&format!(
            "SELECT id_birth_date('{0}') AS b, id_gender('{0}') AS g",
            man.expose()
        ))
        .await;
        assert!(t.contains("| 1988-02-29 | M |"), "{t}");
        let good = Uscc::from_body("91350100M000100Y4");
        let wrong = if good.as_str().ends_with('0') {
            '1'
        } else {
            '0'
        };
        let t = one(&format!(
            "SELECT uscc_valid('{}') AS good, uscc_valid('91350100M000100Y4{wrong}') AS bad",
            good.as_str()
        ))
        .await;
        assert!(t.contains("| true | false |"), "{t}");
    }
}
