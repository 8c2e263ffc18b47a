//! Domain types of portrait: personal-data newtypes that print masked, the checksums of Chinese
//! identity documents, and the canonical data model every stage reads and writes.

pub mod idcard;
pub mod mobile;
pub mod model;
pub mod region;
pub mod uscc;

pub use idcard::{IdCardError, IdCardNo};
pub use mobile::{MobileError, MobileNo};
pub use uscc::{Uscc, UsccError};

/// 全角转半角 — full-width digits, Latin letters, hyphen-minus, plus and the ideographic space as
/// their ASCII forms, as Chinese input methods type them into ID numbers, codes and phone
/// numbers (`１１０１０５…`, `＋８６`). Everything else is kept.
pub fn half_width(s: &str) -> std::borrow::Cow<'_, str> {
    if s.chars().all(|c| half_width_char(c) == c) {
        return std::borrow::Cow::Borrowed(s);
    }
    std::borrow::Cow::Owned(s.chars().map(half_width_char).collect())
}

/// [`half_width`] for one character.
pub fn half_width_char(c: char) -> char {
    match c {
        // U+FF01..U+FF5E are U+0021..U+007E shifted by 0xFEE0.
        '\u{FF01}'..='\u{FF5E}' => char::from_u32(u32::from(c) - 0xFEE0).unwrap_or(c),
        '\u{3000}' => ' ',
        _ => c,
    }
}

/// 性别 — gender as derived from an ID number or given in the data.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub enum Gender {
    Male,
    Female,
}

impl Gender {
    /// The canonical code stored in `customer.gender`.
    pub fn code(self) -> &'static str {
        match self {
            Gender::Male => "M",
            Gender::Female => "F",
        }
    }
}

/// Keeps the first `head` and last `tail` characters and replaces the rest with `*`.
/// Strings too short to hide anything are fully masked.
pub fn mask_keep(s: &str, head: usize, tail: usize) -> String {
    let chars: Vec<char> = s.chars().collect();
    if chars.len() <= head + tail {
        return "*".repeat(chars.len());
    }
    let mut out = String::with_capacity(s.len());
    out.extend(&chars[..head]);
    out.extend(std::iter::repeat_n('*', chars.len() - head - tail));
    out.extend(&chars[chars.len() - tail..]);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mask_keep_hides_the_middle() {
        assert_eq!(mask_keep("13800138000", 3, 4), "138****8000");
        assert_eq!(mask_keep("张三", 1, 0), "张*");
        assert_eq!(mask_keep("abc", 3, 4), "***");
    }
}
