//! 手机号码 — mainland China mobile numbers: 11 digits starting with 13–19.

use std::fmt;

use crate::mask_keep;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MobileError {
    #[error("must be 11 digits, found `{0}` characters")]
    Length(usize),
    #[error("must contain only digits")]
    NotDigits,
    #[error("must start with 13–19")]
    Prefix,
}

/// A mainland mobile number, stored without the `+86` prefix. `Display` prints it masked.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct MobileNo(String);

impl MobileNo {
    /// Parses a number, accepting a `+86`/`86`/`0086` prefix and spaces or dashes between digits.
    pub fn parse(s: &str) -> Result<Self, MobileError> {
        let digits: String = crate::half_width(s)
            .chars()
            .filter(|c| !matches!(c, ' ' | '-' | '+'))
            .collect();
        let digits = digits
            .strip_prefix("0086")
            .or_else(|| digits.strip_prefix("86").filter(|d| d.len() == 11))
            .unwrap_or(&digits);
        if !digits.bytes().all(|b| b.is_ascii_digit()) {
            return Err(MobileError::NotDigits);
        }
        if digits.len() != 11 {
            return Err(MobileError::Length(digits.len()));
        }
        let b = digits.as_bytes();
        if b[0] != b'1' || !(b'3'..=b'9').contains(&b[1]) {
            return Err(MobileError::Prefix);
        }
        Ok(Self(digits.to_string()))
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for MobileNo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&mask_keep(&self.0, 3, 4))
    }
}

impl fmt::Debug for MobileNo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "MobileNo({self})")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_masks() {
        let m = MobileNo::parse("+86 138-0013-8000").unwrap();
        assert_eq!(m.expose(), "13800138000");
        assert_eq!(m.to_string(), "138****8000");
        assert_eq!(MobileNo::parse("12800138000"), Err(MobileError::Prefix));
        assert_eq!(MobileNo::parse("1380013800"), Err(MobileError::Length(10)));
        assert_eq!(MobileNo::parse("1380013800a"), Err(MobileError::NotDigits));
    }
}
