//! 统一社会信用代码 — the 18-character unified social credit code of GB 32100-2015.
//!
//! Characters come from a 31-symbol alphabet (digits and upper-case letters without I, O, S, V,
//! Z); the last one is a check character over the first 17 with weights 3^i mod 31.

use std::fmt;

use crate::mask_keep;

/// The GB 32100 alphabet; a character's value is its index.
pub const ALPHABET: &[u8; 31] = b"0123456789ABCDEFGHJKLMNPQRTUWXY";
const WEIGHTS: [u32; 17] = [
    1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28,
];

/// Why a string is not a valid credit code.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UsccError {
    #[error("must be 18 characters, found {0}")]
    Length(usize),
    #[error(
        "character `{0}` at position {1} is not allowed (digits and letters except I, O, S, V, Z)"
    )]
    BadChar(char, usize),
    #[error("checksum mismatch: check character should be `{expected}`")]
    Checksum { expected: char },
}

/// A valid unified social credit code. Not personal data, so `Display` prints it in full.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Uscc(String);

fn value(c: u8) -> Option<u32> {
    ALPHABET.iter().position(|&a| a == c).map(|p| p as u32)
}

/// The check character over the first 17 characters (all from [`ALPHABET`]).
pub fn check_char(body17: &[u8]) -> u8 {
    let sum: u32 = body17
        .iter()
        .zip(WEIGHTS)
        .map(|(&c, w)| value(c).expect("alphabet") * w)
        .sum();
    ALPHABET[((31 - sum % 31) % 31) as usize]
}

impl Uscc {
    /// Parses a code; lower-case letters are accepted and upper-cased.
    pub fn parse(s: &str) -> Result<Self, UsccError> {
        let s = crate::half_width(s).trim().to_ascii_uppercase();
        let n = s.chars().count();
        if n != 18 {
            return Err(UsccError::Length(n));
        }
        for (i, c) in s.bytes().enumerate() {
            if value(c).is_none() {
                return Err(UsccError::BadChar(c as char, i + 1));
            }
        }
        let expected = check_char(&s.as_bytes()[..17]);
        if s.as_bytes()[17] != expected {
            return Err(UsccError::Checksum {
                expected: expected as char,
            });
        }
        Ok(Self(s))
    }

    /// Completes a 17-character body with its check character (used by the generator).
    pub fn from_body(body17: &str) -> Self {
        assert_eq!(body17.len(), 17, "a credit code body has 17 characters");
        let c = check_char(body17.as_bytes());
        Self(format!("{body17}{}", c as char))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Uscc {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for Uscc {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Uscc({})", mask_keep(&self.0, 8, 2))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_good_codes_validate() {
        // Published codes of well-known companies.
        for code in ["91440300708461136T", "91330100716105852F"] {
            assert!(Uscc::parse(code).is_ok(), "{code}");
        }
        assert!(Uscc::parse("91440300708461136t").is_ok());
    }

    #[test]
    fn known_bad_codes_are_rejected_with_the_reason() {
        assert_eq!(
            Uscc::parse("91440300708461136A"),
            Err(UsccError::Checksum { expected: 'T' })
        );
        assert_eq!(Uscc::parse("9111000010000396"), Err(UsccError::Length(16)));
        assert_eq!(
            Uscc::parse("91440300I08461136T"),
            Err(UsccError::BadChar('I', 9))
        );
    }

    #[test]
    fn from_body_round_trips() {
        for body in [
            "91310115MA1K3YJ2X",
            "12100000400000624",
            "93440300MA5G0Y1P0",
        ] {
            let code = Uscc::from_body(body);
            assert_eq!(Uscc::parse(code.as_str()).unwrap(), code);
        }
    }
}
