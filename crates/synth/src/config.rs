//! What the caller asks for ([`SynthConfig`]) and the checked form the generator runs on.

use chrono::{Datelike, Months, NaiveDate};

use crate::SynthError;

/// The most customer numbers one run may ask for: identifiers are sized for it.
pub const MAX_CUSTOMERS: u64 = 100_000_000;

/// File format of the generated tables (the ground truth is always UTF-8 CSV).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Format {
    #[default]
    Csv,
    Parquet,
}

/// Character encoding of CSV output.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Encoding {
    #[default]
    Utf8,
    /// 国标码 — what Chinese core-banking exports are usually written in.
    Gbk,
}

/// Header language of CSV output, and with it the look of the values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Headers {
    /// Canonical English column names, ISO dates, canonical codes.
    #[default]
    En,
    /// Chinese column names, `YYYYMMDD` dates, 是/否 and Chinese code spellings, with the
    /// transaction timestamp split into 交易日期 and 交易时间.
    Zh,
}

/// Everything that decides the generated bank. The same config gives byte-identical files.
#[derive(Debug, Clone)]
pub struct SynthConfig {
    /// Number of customer numbers (rows of `customer`); about 93% individuals.
    pub customers: u64,
    /// Seed of every random draw.
    pub seed: u64,
    pub format: Format,
    pub encoding: Encoding,
    pub headers: Headers,
    /// Last day of data (the generator's "today"); default 2026-11-30.
    pub end: NaiveDate,
    /// Months of history, default 24.
    pub months: u32,
    /// Mean transactions per customer number over the whole period, default 50.
    pub txns_per_customer: f64,
}

impl Default for SynthConfig {
    fn default() -> Self {
        Self {
            customers: 20_000,
            seed: 42,
            format: Format::Csv,
            encoding: Encoding::Utf8,
            headers: Headers::En,
            end: NaiveDate::from_ymd_opt(2026, 11, 30).expect("valid date"),
            months: 24,
            txns_per_customer: 50.0,
        }
    }
}

/// A [`SynthConfig`] whose values have been checked.
#[derive(Debug, Clone)]
pub(crate) struct ValidConfig {
    pub customers: u32,
    pub seed: u64,
    pub format: Format,
    pub encoding: Encoding,
    pub headers: Headers,
    pub end: NaiveDate,
    /// First day of data.
    pub start: NaiveDate,
    pub txns_per_customer: f64,
}

impl SynthConfig {
    pub(crate) fn validate(&self) -> Result<ValidConfig, SynthError> {
        let bad = |m: String| Err(SynthError::InvalidConfig(m));
        if self.customers == 0 {
            return bad("customers cannot be 0".into());
        }
        if self.customers > MAX_CUSTOMERS {
            return bad(format!("customers must be at most {MAX_CUSTOMERS}"));
        }
        if self.months == 0 {
            return bad("months cannot be 0".into());
        }
        if self.months > 240 {
            return bad("months must be at most 240".into());
        }
        if !self.txns_per_customer.is_finite() || self.txns_per_customer < 0.0 {
            return bad("txns_per_customer must be a finite number ≥ 0".into());
        }
        if self.txns_per_customer > 5_000.0 {
            return bad("txns_per_customer must be at most 5000".into());
        }
        if !(1990..=2200).contains(&self.end.year()) {
            return bad("end must lie between 1990 and 2200".into());
        }
        let start = self
            .end
            .checked_sub_months(Months::new(self.months))
            .and_then(|d| d.succ_opt())
            .ok_or_else(|| SynthError::InvalidConfig("end minus months is out of range".into()))?;
        Ok(ValidConfig {
            customers: u32::try_from(self.customers).expect("bounded by MAX_CUSTOMERS"),
            seed: self.seed,
            format: self.format,
            encoding: self.encoding,
            headers: self.headers,
            end: self.end,
            start,
            txns_per_customer: self.txns_per_customer,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_validate_and_span_the_window() {
        let v = SynthConfig::default().validate().unwrap();
        assert_eq!(v.start, NaiveDate::from_ymd_opt(2024, 12, 1).unwrap());
        assert_eq!(v.customers, 20_000);
    }

    #[test]
    fn bad_values_are_refused_with_a_message() {
        let msg = |c: SynthConfig| c.validate().unwrap_err().to_string();
        assert_eq!(
            msg(SynthConfig {
                customers: 0,
                ..Default::default()
            }),
            "customers cannot be 0"
        );
        assert_eq!(
            msg(SynthConfig {
                months: 0,
                ..Default::default()
            }),
            "months cannot be 0"
        );
        assert!(
            msg(SynthConfig {
                txns_per_customer: f64::NAN,
                ..Default::default()
            })
            .contains("txns_per_customer")
        );
    }
}
