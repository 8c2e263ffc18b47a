//! A customer record as read from the store, and its normalised form that matching compares.

use chrono::{Datelike, NaiveDate};
use portrait_types::{IdCardNo, Uscc};

use crate::names::{is_placeholder_name, normalise_name_part, pinyin_key, split_name};
use crate::normal::{
    address_tokens, normalise_address, normalise_email, normalise_id, normalise_mobile,
};

/// One source customer number's identifying fields, as stored in `customer`.
#[derive(Debug, Clone, Default)]
pub struct Input {
    pub cust_no: String,
    pub corporate: bool,
    pub name: Option<String>,
    pub surname: Option<String>,
    pub given_name: Option<String>,
    pub gender: Option<String>,
    pub birth_date: Option<NaiveDate>,
    pub mobile: Option<String>,
    pub email: Option<String>,
    pub province: Option<String>,
    pub city: Option<String>,
    pub district: Option<String>,
    pub address: Option<String>,
    pub postcode: Option<String>,
    pub id_type: Option<String>,
    pub id_no: Option<String>,
    pub uscc: Option<String>,
    /// Survivorship inputs: account status, open date and channel.
    pub status: Option<String>,
    pub open_date: Option<NaiveDate>,
    pub open_channel: Option<String>,
}

/// How trustworthy a record's identity number is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IdKind {
    /// A resident ID number that passes the GB 11643 checksum.
    ValidResident,
    /// A unified social credit code that passes the GB 32100 checksum.
    ValidUscc,
    /// Any other document number (passport, foreign social security, …) or an invalid one:
    /// compared exactly, never trusted on its own.
    Other,
}

/// The normalised fields of one record.
#[derive(Debug, Clone)]
pub struct Record {
    pub cust_no: String,
    pub corporate: bool,
    pub surname: String,
    pub given: String,
    /// Surname + given name, as compared by Jaro–Winkler.
    pub full: String,
    /// Toneless pinyin of the full name (Latin names: the lower-case letters).
    pub pinyin: String,
    /// … of the surname and of the given name.
    pub surname_pinyin: String,
    pub given_pinyin: String,
    pub gender: Option<u8>,
    pub birth: Option<NaiveDate>,
    pub mobile: Option<String>,
    pub email: Option<String>,
    pub id: Option<String>,
    pub id_kind: IdKind,
    pub address: Option<String>,
    pub tokens: Vec<String>,
    pub postcode: Option<String>,
}

impl Record {
    /// Normalises an input record; `today` bounds resident ID birth dates.
    pub fn new(input: &Input, today: NaiveDate, placeholders: &[String]) -> Self {
        let (mut surname, mut given) = match (&input.surname, &input.given_name) {
            (Some(s), Some(g)) if !s.trim().is_empty() || !g.trim().is_empty() => {
                (normalise_name_part(s), normalise_name_part(g))
            }
            _ => input
                .name
                .as_deref()
                .map(|n| {
                    if input.corporate {
                        (company_name(n, input.city.as_deref()), String::new())
                    } else {
                        split_name(n)
                    }
                })
                .unwrap_or_default(),
        };
        let full = format!("{surname}{given}");
        if is_placeholder_name(&full) || placeholders.iter().any(|p| p == &full) {
            surname.clear();
            given.clear();
        }
        let full = if given.is_empty() || surname.is_empty() || !full.is_ascii() {
            format!("{surname}{given}")
        } else {
            format!("{surname} {given}")
        };
        let pinyin = pinyin_key(&full);
        let (surname_pinyin, given_pinyin) = (pinyin_key(&surname), pinyin_key(&given));
        let placeholder = |v: &str| placeholders.iter().any(|p| p == v);
        let id_raw = input
            .id_no
            .as_deref()
            .or(input.uscc.as_deref())
            .map(|s| {
                let id = normalise_id(s);
                // 组织机构代码 as usually written, `12345678-9`.
                match id.as_bytes() {
                    [head @ .., b'-', last] if head.len() == 8 && last.is_ascii_alphanumeric() => {
                        id.replace('-', "")
                    }
                    _ => id,
                }
            })
            .filter(|s| !s.is_empty() && !placeholder(s) && !trivial_id(s));
        let id_kind = match &id_raw {
            Some(id) if IdCardNo::parse(id, today).is_ok() => IdKind::ValidResident,
            Some(id) if Uscc::parse(id).is_ok() => IdKind::ValidUscc,
            _ => IdKind::Other,
        };
        let address = input
            .address
            .as_deref()
            .map(|a| {
                normalise_address(
                    a,
                    input.province.as_deref().unwrap_or(""),
                    input.city.as_deref().unwrap_or(""),
                    input.district.as_deref().unwrap_or(""),
                )
            })
            .filter(|a| !a.is_empty() && !placeholder(a));
        let tokens = address.as_deref().map(address_tokens).unwrap_or_default();
        Self {
            cust_no: input.cust_no.clone(),
            corporate: input.corporate,
            surname,
            given,
            full,
            pinyin,
            surname_pinyin,
            given_pinyin,
            gender: input.gender.as_deref().and_then(gender_code),
            birth: input.birth_date,
            mobile: input
                .mobile
                .as_deref()
                .and_then(normalise_mobile)
                .filter(|m| !placeholder(m)),
            email: input
                .email
                .as_deref()
                .and_then(normalise_email)
                .filter(|e| !placeholder(e)),
            id: id_raw,
            id_kind,
            address,
            tokens,
            postcode: input
                .postcode
                .as_deref()
                .map(|p| p.trim().to_string())
                .filter(|p| !p.is_empty() && !placeholder(p) && !trivial_id(p)),
        }
    }

    /// Whether the record carries a checksum-valid resident ID or credit code.
    pub fn valid_id(&self) -> Option<&str> {
        match self.id_kind {
            IdKind::ValidResident | IdKind::ValidUscc => self.id.as_deref(),
            IdKind::Other => None,
        }
    }

    /// The identifying part of the ID number: a credit code's embedded organisation code
    /// (characters 9–17), so that a company filed under its old 组织机构代码 meets its new
    /// code; the number itself otherwise.
    pub fn id_core(&self) -> Option<&str> {
        let id = self.id.as_deref()?;
        Some(match self.id_kind {
            IdKind::ValidUscc => &id[8..17],
            _ => id,
        })
    }

    /// The value of a blocking or exact-rule key, or `None` when the record has none.
    pub fn key(&self, field: KeyField) -> Option<String> {
        let nonempty = |s: &str| (!s.is_empty()).then(|| s.to_string());
        match field {
            KeyField::Surname => nonempty(&self.surname),
            KeyField::GivenName => nonempty(&self.given),
            KeyField::Name => nonempty(&self.full).filter(|_| !self.surname.is_empty()),
            KeyField::NamePinyin => nonempty(&self.pinyin),
            KeyField::BirthDate => self.birth.map(|d| d.to_string()),
            KeyField::BirthYear => self.birth.map(|d| d.year().to_string()),
            KeyField::BirthMonthDay => self.birth.map(|d| format!("{}-{}", d.month(), d.day())),
            KeyField::Gender => self.gender.map(|g| (g as char).to_string()),
            KeyField::Mobile => self.mobile.clone(),
            KeyField::MobileLast8 => self.mobile.as_deref().map(|m| m[m.len() - 8..].to_string()),
            KeyField::Email => self.email.clone(),
            KeyField::IdNo => self.id_core().map(str::to_string),
            KeyField::Address => self.address.clone(),
            KeyField::AddressNumber => self.address.as_deref().and_then(|a| {
                let start = a.find(|c: char| c.is_ascii_digit())?;
                let rest = &a[start..];
                let end = rest
                    .find(|c: char| !c.is_ascii_digit())
                    .unwrap_or(rest.len());
                Some(rest[..end].to_string())
            }),
            KeyField::Postcode => self.postcode.clone(),
        }
    }
}

/// Fields a blocking rule or an exact rule can name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum KeyField {
    Surname,
    GivenName,
    Name,
    NamePinyin,
    BirthDate,
    BirthYear,
    BirthMonthDay,
    Gender,
    Mobile,
    MobileLast8,
    Email,
    IdNo,
    Address,
    /// The first number in the address: the house number of Western addresses, the street
    /// number of Chinese ones.
    AddressNumber,
    Postcode,
}

impl KeyField {
    /// Every key with its configuration name.
    pub const ALL: &[(&str, KeyField)] = &[
        ("surname", KeyField::Surname),
        ("given_name", KeyField::GivenName),
        ("name", KeyField::Name),
        ("name_pinyin", KeyField::NamePinyin),
        ("birth_date", KeyField::BirthDate),
        ("birth_year", KeyField::BirthYear),
        ("birth_month_day", KeyField::BirthMonthDay),
        ("gender", KeyField::Gender),
        ("mobile", KeyField::Mobile),
        ("mobile_last8", KeyField::MobileLast8),
        ("email", KeyField::Email),
        ("id_no", KeyField::IdNo),
        ("address", KeyField::Address),
        ("address_number", KeyField::AddressNumber),
        ("postcode", KeyField::Postcode),
    ];

    /// Looks a key up by its configuration name.
    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.iter().find(|(n, _)| *n == name).map(|(_, k)| *k)
    }

    /// Whether agreeing on this key says something about comparison field `f` (pairs
    /// blocked on the key agree on it whether they match or not).
    pub fn informs(self, f: crate::compare::Field) -> bool {
        use crate::compare::Field as F;
        match self {
            KeyField::Surname => matches!(f, F::Name | F::Surname),
            KeyField::GivenName => matches!(f, F::Name | F::GivenName),
            KeyField::Name | KeyField::NamePinyin => {
                matches!(f, F::Name | F::Surname | F::GivenName)
            }
            KeyField::BirthDate | KeyField::BirthYear | KeyField::BirthMonthDay => {
                f == F::BirthDate
            }
            KeyField::Gender => f == F::Gender,
            KeyField::Mobile | KeyField::MobileLast8 => f == F::Mobile,
            KeyField::Email => f == F::Email,
            KeyField::IdNo => f == F::IdNo,
            KeyField::Address | KeyField::AddressNumber => f == F::Address,
            KeyField::Postcode => f == F::Postcode,
        }
    }

    /// The configuration name.
    pub fn name(self) -> &'static str {
        Self::ALL
            .iter()
            .find(|(_, k)| *k == self)
            .map(|(n, _)| *n)
            .expect("every key is listed")
    }
}

/// A company name in a comparable form: 股份有限公司 and 有限责任公司 become 有限公司, and a
/// leading city name (with or without 市) is dropped.
fn company_name(name: &str, city: Option<&str>) -> String {
    let mut n = normalise_name_part(name);
    for long in ["股份有限公司", "有限责任公司"] {
        if let Some(stem) = n.strip_suffix(long) {
            n = format!("{stem}有限公司");
            break;
        }
    }
    if let Some(city) = city.map(str::trim).filter(|c| !c.is_empty()) {
        let short = city.trim_end_matches('市');
        for prefix in [city, short] {
            if !prefix.is_empty() && n.len() > prefix.len() && n.starts_with(prefix) {
                n = n[prefix.len()..].to_string();
                break;
            }
        }
    }
    n
}

fn gender_code(g: &str) -> Option<u8> {
    match g.trim() {
        "M" | "m" | "男" | "1" | "male" => Some(b'M'),
        "F" | "f" | "女" | "2" | "female" => Some(b'F'),
        _ => None,
    }
}

/// Identity-like values that carry no information: one repeated character, or all zeros.
fn trivial_id(s: &str) -> bool {
    let mut chars = s.chars();
    let first = chars.next();
    first.is_none() || chars.all(|c| Some(c) == first)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn today() -> NaiveDate {
        NaiveDate::from_ymd_opt(2026, 1, 1).unwrap()
    }

    #[test]
    fn splits_names_and_checks_ids() {
        let r = Record::new(
            &Input {
                cust_no: "1".into(),
                name: Some("欧阳娜娜".into()),
                id_no: Some(" 11010519491231002x ".into()),
                mobile: Some("139-5711-4382".into()),
                ..Input::default()
            },
            today(),
            &[],
        );
        assert_eq!((r.surname.as_str(), r.given.as_str()), ("欧阳", "娜娜"));
        assert_eq!(r.id.as_deref(), Some("11010519491231002X"));
        assert_eq!(r.id_kind, IdKind::ValidResident);
        assert_eq!(r.mobile.as_deref(), Some("13957114382"));
    }

    #[test]
    fn company_variants_agree() {
        let firm = |cust: &str, name: &str, id: &str| {
            Record::new(
                &Input {
                    cust_no: cust.into(),
                    corporate: true,
                    name: Some(name.into()),
                    city: Some("金华市".into()),
                    id_no: Some(id.into()),
                    ..Input::default()
                },
                today(),
                &[],
            )
        };
        let uscc = portrait_types::Uscc::from_body("91330782MA2E8X3K1")
            .as_str()
            .to_string();
        let org = format!("{}-{}", &uscc[8..16], &uscc[16..17]);
        let a = firm("1", "金华市顺达建材有限责任公司", &uscc);
        let b = firm("2", "金华顺达建材有限公司", &org);
        assert_eq!(a.surname, b.surname);
        assert_eq!(a.id_kind, IdKind::ValidUscc);
        assert_eq!(a.id_core(), b.id_core());
    }

    #[test]
    fn placeholders_are_blank() {
        let r = Record::new(
            &Input {
                cust_no: "1".into(),
                surname: Some("张".into()),
                given_name: Some("三".into()),
                id_no: Some("000000000000000000".into()),
                mobile: Some("13800000000".into()),
                ..Input::default()
            },
            today(),
            &["张三".to_string()],
        );
        assert!(r.surname.is_empty() && r.id.is_none() && r.mobile.is_none());
    }
}
