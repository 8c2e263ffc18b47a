//! 居民身份证号码 — the 18-digit resident ID number of GB 11643-1999.
//!
//! Layout: 6-digit region code (GB/T 2260), 8-digit birth date, 3-digit sequence whose last digit
//! is odd for men and even for women, and one check character computed over the first 17 digits
//! with ISO 7064 MOD 11-2.

use std::fmt;

use chrono::{Datelike, NaiveDate};

use crate::region::province_by_code;
use crate::{Gender, mask_keep};

const WEIGHTS: [u32; 17] = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2];
const CHECK: [u8; 11] = *b"10X98765432";

/// Why a string is not a valid resident ID number.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IdCardError {
    #[error("must be 18 characters, found {0}")]
    Length(usize),
    #[error("the first 17 characters must be digits")]
    NotDigits,
    #[error("the check character must be a digit or `X`")]
    BadCheckChar,
    #[error("unknown region code: province prefix `{0}` does not exist")]
    Region(String),
    #[error("impossible birth date `{0}`")]
    BirthDate(String),
    #[error("birth date `{0}` lies in the future")]
    FutureBirthDate(String),
    #[error("checksum mismatch: check character should be `{expected}`")]
    Checksum { expected: char },
}

/// A valid 18-digit resident ID number. `Display` and `Debug` print it masked (first 3 + last 4).
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct IdCardNo(String);

impl IdCardNo {
    /// Parses and validates an ID number; a lower-case `x` check character is accepted and
    /// normalised to `X`. `today` bounds the birth date.
    pub fn parse(s: &str, today: NaiveDate) -> Result<Self, IdCardError> {
        let s = crate::half_width(s);
        let s = s.trim();
        let n = s.chars().count();
        if n != 18 {
            return Err(IdCardError::Length(n));
        }
        let b = s.as_bytes();
        if !b[..17].iter().all(u8::is_ascii_digit) {
            return Err(IdCardError::NotDigits);
        }
        let last = b[17].to_ascii_uppercase();
        if !(last.is_ascii_digit() || last == b'X') {
            return Err(IdCardError::BadCheckChar);
        }
        if province_by_code(&s[..2]).is_none() || &s[2..6] == "0000" {
            return Err(IdCardError::Region(s[..6].to_string()));
        }
        let birth = NaiveDate::parse_from_str(&s[6..14], "%Y%m%d")
            .ok()
            .filter(|d| d.year() >= 1880)
            .ok_or_else(|| IdCardError::BirthDate(s[6..14].to_string()))?;
        if birth > today {
            return Err(IdCardError::FutureBirthDate(s[6..14].to_string()));
        }
        let expected = check_char(&b[..17]);
        if last != expected {
            return Err(IdCardError::Checksum {
                expected: expected as char,
            });
        }
        let mut v = s[..17].to_string();
        v.push(last as char);
        Ok(Self(v))
    }

    /// Builds a valid number from its parts (used by the generator): `region` is 6 digits,
    /// `seq` 0..=999 (its parity decides the gender digit, so pass an odd value for men).
    pub fn from_parts(region: &str, birth: NaiveDate, seq: u16) -> Self {
        let body = format!("{region}{}{:03}", birth.format("%Y%m%d"), seq % 1000);
        let c = check_char(body.as_bytes());
        Self(format!("{body}{}", c as char))
    }

    /// 出生日期 — the birth date encoded in digits 7–14.
    pub fn birth_date(&self) -> NaiveDate {
        NaiveDate::parse_from_str(&self.0[6..14], "%Y%m%d").expect("validated on parse")
    }

    /// 性别 — odd 17th digit for men, even for women.
    pub fn gender(&self) -> Gender {
        if (self.0.as_bytes()[16] - b'0') % 2 == 1 {
            Gender::Male
        } else {
            Gender::Female
        }
    }

    /// 行政区划代码 — the 6-digit region code.
    pub fn region_code(&self) -> &str {
        &self.0[..6]
    }

    /// The province-level prefix (2 digits).
    pub fn province_code(&self) -> &str {
        &self.0[..2]
    }

    /// The plain value. Callers that show it to a person must go through the masking policy.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

/// The GB 11643 check character of 17 leading digits.
pub fn check_char(digits17: &[u8]) -> u8 {
    let sum: u32 = digits17
        .iter()
        .zip(WEIGHTS)
        .map(|(d, w)| u32::from(d - b'0') * w)
        .sum();
    CHECK[(sum % 11) as usize]
}

impl fmt::Display for IdCardNo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&mask_keep(&self.0, 3, 4))
    }
}

impl fmt::Debug for IdCardNo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "IdCardNo({self})")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn today() -> NaiveDate {
        NaiveDate::from_ymd_opt(2026, 11, 25).unwrap()
    }

    #[test]
    fn known_good_numbers_validate_and_derive_fields() {
        // The GB 11643 worked example and a number ending in X.
        let id = IdCardNo::parse("11010519491231002X", today()).unwrap();
        assert_eq!(
            id.birth_date(),
            NaiveDate::from_ymd_opt(1949, 12, 31).unwrap()
        );
        assert_eq!(id.gender(), Gender::Female);
        assert_eq!(id.region_code(), "110105");
        let id = IdCardNo::parse("440524188001010014", today()).unwrap();
        assert_eq!(id.gender(), Gender::Male);
        assert_eq!(
            id.birth_date(),
            NaiveDate::from_ymd_opt(1880, 1, 1).unwrap()
        );
        assert!(IdCardNo::parse("11010519491231002x", today()).is_ok());
    }

    #[test]
    fn full_width_characters_are_read_as_ascii() {
        // As a Chinese input method types them: full-width digits and X, an ideographic space.
        let wide = "\u{3000}１１０１０５１９４９１２３１００２Ｘ";
        let id = IdCardNo::parse(wide, today()).unwrap();
        assert_eq!(id, IdCardNo::parse("11010519491231002X", today()).unwrap());
        let m = crate::MobileNo::parse("＋８６　１３８－００１３－８０００").unwrap();
        assert_eq!(m, crate::MobileNo::parse("13800138000").unwrap());
        assert_eq!(crate::half_width("北京１号ａＢ"), "北京1号aB");
        assert!(matches!(
            crate::half_width("already ascii"),
            std::borrow::Cow::Borrowed(_)
        ));
    }

    #[test]
    fn known_bad_numbers_are_rejected_with_the_reason() {
        let t = today();
        assert_eq!(
            IdCardNo::parse("110105194912310021", t),
            Err(IdCardError::Checksum { expected: 'X' })
        );
        assert_eq!(
            IdCardNo::parse("1101051949123100", t),
            Err(IdCardError::Length(16))
        );
        assert_eq!(
            IdCardNo::parse("11010519491231A02X", t),
            Err(IdCardError::NotDigits)
        );
        assert!(matches!(
            IdCardNo::parse("110105194902300025", t),
            Err(IdCardError::BirthDate(_))
        ));
        assert!(matches!(
            IdCardNo::parse("110105203001010025", t),
            Err(IdCardError::FutureBirthDate(_))
        ));
        assert!(matches!(
            IdCardNo::parse("990105194912310028", t),
            Err(IdCardError::Region(_))
        ));
        assert!(matches!(
            IdCardNo::parse("110000194912310028", t),
            Err(IdCardError::Region(_))
        ));
    }

    #[test]
    fn from_parts_round_trips() {
        let birth = NaiveDate::from_ymd_opt(1987, 2, 28).unwrap();
        for seq in [0u16, 1, 17, 998, 999] {
            let id = IdCardNo::from_parts("310115", birth, seq);
            let back = IdCardNo::parse(id.expose(), today()).unwrap();
            assert_eq!(back.birth_date(), birth);
            assert_eq!(
                back.gender(),
                if seq % 2 == 1 {
                    Gender::Male
                } else {
                    Gender::Female
                }
            );
        }
    }

    #[test]
    fn display_and_debug_are_masked() {
        let id = IdCardNo::parse("11010519491231002X", today()).unwrap();
        assert_eq!(id.to_string(), "110***********002X");
        assert!(!format!("{id:?}").contains("19491231"));
    }
}
