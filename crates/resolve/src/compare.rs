//! Comparison levels: how two records agree on each field, from exact to different.
//!
//! Level 0 of every field means "missing on one side" and carries no evidence; the other
//! levels run from the strongest agreement to plain disagreement.

use chrono::Datelike;
use serde::{Deserialize, Serialize};

use crate::names::jaro_winkler;
use crate::normal::{one_char_off, token_overlap};
use crate::record::Record;

/// A compared field.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Field {
    Name,
    Surname,
    GivenName,
    BirthDate,
    Mobile,
    IdNo,
    Address,
    Postcode,
    Email,
    Gender,
}

impl Field {
    /// Every comparable field, in comparison-vector order.
    pub const ALL: [Field; 10] = [
        Field::Name,
        Field::Surname,
        Field::GivenName,
        Field::BirthDate,
        Field::Mobile,
        Field::IdNo,
        Field::Address,
        Field::Postcode,
        Field::Email,
        Field::Gender,
    ];

    /// The configuration name.
    pub fn name(self) -> &'static str {
        match self {
            Field::Name => "name",
            Field::Surname => "surname",
            Field::GivenName => "given_name",
            Field::BirthDate => "birth_date",
            Field::Mobile => "mobile",
            Field::IdNo => "id_no",
            Field::Address => "address",
            Field::Postcode => "postcode",
            Field::Email => "email",
            Field::Gender => "gender",
        }
    }

    /// Looks a field up by its configuration name.
    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|f| f.name() == name)
    }

    /// The labels of the field's levels; index 0 is "missing".
    pub fn levels(self) -> &'static [&'static str] {
        match self {
            Field::Name => &[
                "missing",
                "exact",
                "same_pinyin",
                "swapped",
                "jaro_winkler_high",
                "jaro_winkler_low",
                "different",
            ],
            Field::Surname | Field::GivenName => &[
                "missing",
                "exact",
                "same_pinyin",
                "jaro_winkler_high",
                "jaro_winkler_low",
                "swapped",
                "different",
            ],
            Field::BirthDate => &[
                "missing",
                "exact",
                "day_month_transposed",
                "one_field_off",
                "different",
            ],
            Field::Mobile => &["missing", "exact", "last_8_digits", "different"],
            Field::IdNo => &[
                "missing",
                "exact",
                "one_char_off",
                "two_chars_off",
                "different",
            ],
            Field::Address => &["missing", "exact", "tokens_high", "tokens_low", "different"],
            Field::Postcode => &["missing", "exact", "one_char_off", "different"],
            Field::Email | Field::Gender => &["missing", "exact", "different"],
        }
    }
}

/// Similarity cut-offs of the fuzzy levels.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Cutoffs {
    /// Jaro–Winkler similarity of full names at or above which names agree strongly.
    pub name_jw_high: f64,
    /// … and weakly.
    pub name_jw_low: f64,
    /// Address token overlap at or above which addresses agree strongly.
    pub address_high: f64,
    /// … and weakly.
    pub address_low: f64,
}

impl Default for Cutoffs {
    fn default() -> Self {
        Self {
            name_jw_high: 0.92,
            name_jw_low: 0.8,
            address_high: 0.7,
            address_low: 0.4,
        }
    }
}

/// Compares one field of two records.
pub fn level(field: Field, a: &Record, b: &Record, cut: &Cutoffs) -> u8 {
    match field {
        Field::Name => name_level(a, b, cut),
        Field::Surname => part_level(
            (&a.surname, &a.surname_pinyin, &a.given),
            (&b.surname, &b.surname_pinyin, &b.given),
            cut,
        ),
        Field::GivenName => part_level(
            (&a.given, &a.given_pinyin, &a.surname),
            (&b.given, &b.given_pinyin, &b.surname),
            cut,
        ),
        Field::BirthDate => match (a.birth, b.birth) {
            (Some(x), Some(y)) if x == y => 1,
            (Some(x), Some(y)) => {
                let same = [
                    x.year() == y.year(),
                    x.month() == y.month(),
                    x.day() == y.day(),
                ];
                if x.year() == y.year() && x.month() == y.day() && x.day() == y.month() {
                    2
                } else if same.iter().filter(|s| **s).count() == 2 {
                    3
                } else {
                    4
                }
            }
            _ => 0,
        },
        Field::Mobile => match (&a.mobile, &b.mobile) {
            (Some(x), Some(y)) if x == y => 1,
            (Some(x), Some(y))
                if x.len() >= 8 && y.len() >= 8 && x[x.len() - 8..] == y[y.len() - 8..] =>
            {
                2
            }
            (Some(_), Some(_)) => 3,
            _ => 0,
        },
        Field::IdNo => match (a.id_core(), b.id_core()) {
            (Some(x), Some(y)) if x == y => 1,
            (Some(x), Some(y)) if one_char_off(x, y) => 2,
            (Some(x), Some(y)) if two_chars_off(x, y) => 3,
            (Some(_), Some(_)) => 4,
            _ => 0,
        },
        Field::Address => match (&a.address, &b.address) {
            (Some(x), Some(y)) if x == y => 1,
            (Some(x), Some(y)) => {
                let o = token_overlap(&a.tokens, &b.tokens);
                // Latin addresses mistype inside words; whole-string similarity sees that.
                let jw = if o < cut.address_high && x.is_ascii() && y.is_ascii() {
                    jaro_winkler(x, y)
                } else {
                    0.0
                };
                if o >= cut.address_high || jw >= cut.name_jw_high {
                    2
                } else if o >= cut.address_low || jw >= cut.name_jw_low {
                    3
                } else {
                    4
                }
            }
            _ => 0,
        },
        Field::Postcode => match (&a.postcode, &b.postcode) {
            (Some(x), Some(y)) if x == y => 1,
            (Some(x), Some(y)) if one_char_off(x, y) => 2,
            (Some(_), Some(_)) => 3,
            _ => 0,
        },
        Field::Email => exact(&a.email, &b.email),
        Field::Gender => exact(&a.gender, &b.gender),
    }
}

/// Same length and at most two positions differ (two slips, or a transposition across one).
fn two_chars_off(a: &str, b: &str) -> bool {
    a.len() == b.len()
        && a.len() >= 6
        && a.bytes().zip(b.bytes()).filter(|(x, y)| x != y).count() <= 2
}

fn exact<T: PartialEq>(a: &Option<T>, b: &Option<T>) -> u8 {
    match (a, b) {
        (Some(x), Some(y)) if x == y => 1,
        (Some(_), Some(_)) => 2,
        _ => 0,
    }
}

/// Whether two non-empty strings are close enough in length to be one string with a slip or
/// two (Jaro–Winkler ≥ 0.8 is out of reach beyond that for names).
fn close_in_length(a: &str, b: &str) -> bool {
    !a.is_empty() && !b.is_empty() && a.len().abs_diff(b.len()) <= 3 * a.len().min(b.len()) / 4 + 1
}

/// One part of a name (surname or given name) against the same part of the other record;
/// `swapped` when it equals the other part of the other record instead.
/// Each side is (the part, its pinyin, the other part).
fn part_level(
    (a, a_py, a_other): (&str, &str, &str),
    (b, b_py, b_other): (&str, &str, &str),
    cut: &Cutoffs,
) -> u8 {
    if a.is_empty() || b.is_empty() {
        return 0;
    }
    if a == b {
        return 1;
    }
    if !a.is_ascii() && !a_py.is_empty() && a_py == b_py {
        return 2;
    }
    let jw = jaro_winkler(a, b);
    if jw >= cut.name_jw_high {
        3
    } else if jw >= cut.name_jw_low {
        4
    } else if (close_in_length(a, b_other) && jaro_winkler(a, b_other) >= cut.name_jw_high)
        || (close_in_length(a_other, b) && jaro_winkler(a_other, b) >= cut.name_jw_high)
    {
        5
    } else {
        6
    }
}

fn name_level(a: &Record, b: &Record, cut: &Cutoffs) -> u8 {
    if a.full.is_empty() || b.full.is_empty() {
        return 0;
    }
    if a.surname == b.surname && a.given == b.given {
        return 1;
    }
    if !a.pinyin.is_empty() && a.pinyin == b.pinyin {
        return 2;
    }
    // Surname and given name exchanged (possibly with a slip in one of them), or the two
    // characters of a Chinese given name reversed.
    let crossed = !a.given.is_empty()
        && !b.given.is_empty()
        && ((a.surname == b.given && a.given == b.surname)
            || (a.surname.len() > 2
                && close_in_length(&a.surname, &b.given)
                && close_in_length(&a.given, &b.surname)
                && jaro_winkler(&a.surname, &b.given) >= cut.name_jw_high
                && jaro_winkler(&a.given, &b.surname) >= cut.name_jw_high));
    let reversed = a.surname == b.surname
        && a.given.chars().count() > 1
        && a.given.chars().rev().eq(b.given.chars());
    if crossed || reversed {
        return 3;
    }
    let jw = jaro_winkler(&a.full, &b.full);
    if jw >= cut.name_jw_high {
        4
    } else if jw >= cut.name_jw_low {
        5
    } else {
        6
    }
}

/// The comparison vector of a pair over `fields`, packed into one number (mixed radix).
pub fn pattern(fields: &[Field], a: &Record, b: &Record, cut: &Cutoffs) -> u32 {
    let mut p = 0u32;
    for &f in fields {
        p = p * f.levels().len() as u32 + u32::from(level(f, a, b, cut));
    }
    p
}

/// Unpacks a pattern into one level per field.
pub fn unpack(fields: &[Field], mut p: u32) -> Vec<u8> {
    let mut out = vec![0u8; fields.len()];
    for (i, f) in fields.iter().enumerate().rev() {
        let radix = f.levels().len() as u32;
        out[i] = (p % radix) as u8;
        p /= radix;
    }
    out
}

#[cfg(test)]
mod tests {
    use chrono::NaiveDate;

    use super::*;
    use crate::record::Input;

    fn rec(f: impl FnOnce(&mut Input)) -> Record {
        let mut i = Input {
            cust_no: "1".into(),
            surname: Some("张".into()),
            given_name: Some("静芳".into()),
            birth_date: NaiveDate::from_ymd_opt(1988, 1, 11),
            ..Input::default()
        };
        f(&mut i);
        Record::new(&i, NaiveDate::from_ymd_opt(2026, 1, 1).unwrap(), &[])
    }

    #[test]
    fn name_levels() {
        let c = Cutoffs::default();
        let a = rec(|_| {});
        assert_eq!(level(Field::Name, &a, &rec(|_| {}), &c), 1);
        let homophone = rec(|i| i.surname = Some("章".into()));
        assert_eq!(level(Field::Name, &a, &homophone, &c), 2);
        let swapped = rec(|i| i.given_name = Some("芳静".into()));
        assert_eq!(level(Field::Name, &a, &swapped, &c), 3);
        let other = rec(|i| {
            i.surname = Some("李".into());
            i.given_name = Some("建国".into())
        });
        assert_eq!(level(Field::Name, &a, &other, &c), 6);
        let blank = rec(|i| {
            i.surname = None;
            i.given_name = None
        });
        assert_eq!(level(Field::Name, &a, &blank, &c), 0);
    }

    #[test]
    fn date_levels() {
        let c = Cutoffs::default();
        let a = rec(|_| {});
        let t = rec(|i| i.birth_date = NaiveDate::from_ymd_opt(1988, 11, 1));
        assert_eq!(level(Field::BirthDate, &a, &t, &c), 2);
        let off = rec(|i| i.birth_date = NaiveDate::from_ymd_opt(1989, 1, 11));
        assert_eq!(level(Field::BirthDate, &a, &off, &c), 3);
        let far = rec(|i| i.birth_date = NaiveDate::from_ymd_opt(1970, 5, 3));
        assert_eq!(level(Field::BirthDate, &a, &far, &c), 4);
    }

    #[test]
    fn patterns_round_trip() {
        let c = Cutoffs::default();
        let a = rec(|i| i.mobile = Some("13957114382".into()));
        let b = rec(|i| i.mobile = Some("18657114382".into()));
        let fields = [
            Field::Name,
            Field::BirthDate,
            Field::Mobile,
            Field::IdNo,
            Field::Surname,
        ];
        let p = pattern(&fields, &a, &b, &c);
        let levels = unpack(&fields, p);
        assert_eq!(levels[4], 1);
        assert_eq!(levels[0], 1);
        assert_eq!(levels[1], 1);
        assert_eq!(levels[2], 2);
        assert_eq!(levels[3], 0);
    }
}
