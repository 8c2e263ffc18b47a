//! 规范化 — contact fields folded into the form records are compared in: addresses without
//! their region prefix and with one spelling of building signs, mobile numbers without
//! country codes, e-mail addresses in lower case, ID numbers in upper case; placeholder values
//! (13800000000, test@…) rejected so that they never count as agreement.
//!
//! The `normalise_*` functions run once per record and may allocate. [`token_overlap`],
//! [`one_char_off`] and [`is_placeholder_number`] run once per compared pair and do not.

use std::borrow::Cow;

use portrait_types::MobileNo;
use portrait_types::region::{Province, province_by_name};

/// 全角转半角 — full-width ASCII forms (U+FF01–FF5E) to ASCII and the ideographic space to a
/// space, so that `１３８` and `138`, `ＡＢ` and `AB` compare equal.
pub fn halfwidth(s: &str) -> String {
    portrait_types::half_width(s).into_owned()
}

/// [`halfwidth`] for one character.
pub(crate) fn halfwidth_char(c: char) -> char {
    portrait_types::half_width_char(c)
}

/// A Han character (CJK unified ideographs, their extensions and compatibility forms, 〇).
pub(crate) fn is_han(c: char) -> bool {
    matches!(c,
        '\u{4E00}'..='\u{9FFF}'
        | '\u{3400}'..='\u{4DBF}'
        | '\u{F900}'..='\u{FAFF}'
        | '\u{20000}'..='\u{2FA1F}'
        | '\u{30000}'..='\u{323AF}'
        | '\u{3007}')
}

/// Characters that keep a space between them: letters and digits of non-Han scripts.
fn spaced(c: char) -> bool {
    c.is_alphanumeric() && !is_han(c)
}

/// Appends one kept character in lower case; a pending separator becomes a single space when
/// it stands between two Latin letters or digits and vanishes elsewhere (Han text has no
/// spaces, and `长江街 650 号` is `长江街650号`).
fn push_folded(out: &mut String, c: char, sep: &mut bool) {
    if *sep && spaced(c) && out.chars().next_back().is_some_and(spaced) {
        out.push(' ');
    }
    *sep = false;
    if c.is_ascii() {
        out.push(c.to_ascii_lowercase());
    } else {
        out.extend(c.to_lowercase());
    }
}

/// Half-width, lower case, letters and digits kept, apostrophes dropped (O'Brien = OBrien),
/// every other character a separator; see [`push_folded`] for where separators stay.
pub(crate) fn squash(s: &str, out: &mut String) {
    let mut sep = false;
    for c in s.chars().map(halfwidth_char) {
        if c.is_alphanumeric() {
            push_folded(out, c, &mut sep);
        } else if !matches!(c, '\'' | '\u{2019}' | '\u{2018}' | '`') {
            sep = true;
        }
    }
}

/// [`squash`] without allocating when the value is already folded, as region names usually are.
fn folded(s: &str) -> Cow<'_, str> {
    let clean = s
        .chars()
        .all(|c| c.is_alphanumeric() && !c.is_uppercase() && halfwidth_char(c) == c);
    if clean {
        Cow::Borrowed(s)
    } else {
        let mut out = String::with_capacity(s.len());
        squash(s, &mut out);
        Cow::Owned(out)
    }
}

/// 详细地址 — the canonical form of a street address, so that the ways two records write one
/// address compare equal.
///
/// - Half-width, lower case; spaces and punctuation dropped (one space kept between Latin
///   words and numbers).
/// - The region prefix is removed: a leading 中国, then the province (full name, short name,
///   or short name + 省/自治区), then the city (with or without 市), then the district or
///   county (full name, or without 区/县/市/新区). The given `province`, `city` and `district`
///   are used when not empty; an empty `province` is recognised through
///   [`portrait_types::region`], an empty `city` as up to five Han characters ending in 市, and
///   an empty `district` as up to five ending in 区/县/市. A short name is not removed when a
///   road marker follows it (北京路, 浦东大道), because then it names a road.
/// - Building signs have one spelling: `号楼`, `幢`, and `#` before a room number or 楼 become
///   `栋` (`32#3306室` = `32栋3306室`); `#` elsewhere after a number is the street-number sign
///   and becomes `号` (`长江街650#金色家园` = `长江街650号金色家园`).
/// - Room numbers stay: they tell households in one building apart.
///
/// So `金华市义乌市长江街650号金色家园32栋3306室`, `金华义乌市长江街650#金色家园32#3306室` and
/// `金华市长江街650号金色家园32栋3306室` all give `长江街650号金色家园32栋3306室`. An address
/// that names only its region gives the empty string: nothing is left to compare.
pub fn normalise_address(addr: &str, province: &str, city: &str, district: &str) -> String {
    let chars: Vec<char> = addr.chars().map(halfwidth_char).collect();
    let mut out = String::with_capacity(addr.len());
    let mut sep = false;
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        i += 1;
        let c = match c {
            '#' => {
                if !out.ends_with(|p: char| p.is_ascii_digit()) {
                    sep = true;
                    continue;
                }
                let next = chars[i..]
                    .iter()
                    .position(|n| n.is_alphanumeric())
                    .map(|k| (i + k, chars[i + k]));
                match next {
                    Some((_, d)) if d.is_ascii_digit() => '栋',
                    Some((j, '楼' | '栋' | '幢')) => {
                        i = j + 1;
                        '栋'
                    }
                    _ => '号',
                }
            }
            '号' if chars.get(i) == Some(&'楼') => {
                i += 1;
                '栋'
            }
            '幢' => '栋',
            c if c.is_alphanumeric() => c,
            _ => {
                sep = true;
                continue;
            }
        };
        push_folded(&mut out, c, &mut sep);
    }
    let rest = strip_region(&out, &folded(province), &folded(city), &folded(district));
    if rest.len() == out.len() {
        out
    } else {
        rest.to_string()
    }
}

/// Whether the text after a place name shows the name belongs to a road (北京路, 浦东大道,
/// 中山东路) or to a longer place name (吉林 + 市), so the name must stay. A district whose
/// name starts with a road marker (路北区, 道里区) is not a road.
fn blocks(after: &str) -> bool {
    let mut it = after.chars();
    let (a, b, c) = (it.next(), it.next(), it.next());
    if matches!(a, Some('省' | '市' | '县' | '区')) {
        return true;
    }
    let road = |x: Option<char>| matches!(x, Some('路' | '街' | '道' | '巷' | '弄'));
    let big_road =
        |x: Option<char>, y: Option<char>| x == Some('大') && matches!(y, Some('道' | '街'));
    let road_follows = road(a)
        || big_road(a, b)
        || (matches!(a, Some('东' | '西' | '南' | '北' | '中')) && (road(b) || big_road(b, c)));
    road_follows && !looks_like_district(after)
}

/// Up to five Han characters ending in 区 or 县 start the text.
fn looks_like_district(s: &str) -> bool {
    for (k, c) in s.chars().enumerate().take(5) {
        if !is_han(c) {
            return false;
        }
        if k >= 1 && matches!(c, '区' | '县') {
            return true;
        }
    }
    false
}

/// Removes `name`, or `short` when no road marker follows it.
fn strip_name<'a>(rest: &'a str, name: &str, short: &str) -> Option<&'a str> {
    if !name.is_empty()
        && name.chars().all(is_han)
        && let Some(r) = rest.strip_prefix(name)
    {
        return Some(r);
    }
    if short.chars().count() >= 2
        && short.chars().all(is_han)
        && let Some(r) = rest.strip_prefix(short)
    {
        return (!blocks(r)).then_some(r);
    }
    None
}

/// Removes up to five leading Han characters that end in one of `ends` and are not followed by
/// a road marker; the scan gives up at a road marker or at one of `stops`.
fn strip_guessed<'a>(rest: &'a str, ends: &[char], stops: &[char]) -> &'a str {
    for (k, (at, c)) in rest.char_indices().enumerate().take(5) {
        if !is_han(c) {
            break;
        }
        if k == 0 {
            continue;
        }
        if ends.contains(&c) {
            let r = &rest[at + c.len_utf8()..];
            // 青岛市 + 市南区: a district may start with 市.
            return if blocks(r) && !looks_like_district(r) {
                rest
            } else {
                r
            };
        }
        if stops.contains(&c) || matches!(c, '路' | '街' | '道' | '巷' | '弄') {
            break;
        }
    }
    rest
}

fn strip_province<'a>(rest: &'a str, p: &Province) -> &'a str {
    if let Some(r) = rest.strip_prefix(p.name) {
        return r;
    }
    if let Some(r) = rest.strip_prefix(p.short) {
        for suffix in ["省", "自治区", "特别行政区"] {
            if let Some(r) = r.strip_prefix(suffix) {
                return r;
            }
        }
        if !blocks(r) {
            return r;
        }
    }
    rest
}

/// The address without its leading province, city and district; see [`normalise_address`].
fn strip_region<'a>(s: &'a str, province: &str, city: &str, district: &str) -> &'a str {
    let mut rest = s;
    for country in ["中华人民共和国", "中国"] {
        if let Some(r) = rest.strip_prefix(country)
            && province_by_name(r).is_some()
        {
            rest = r;
            break;
        }
    }

    let known = if province.is_empty() {
        province_by_name(rest)
    } else {
        province_by_name(province)
    };
    if let Some(p) = known {
        rest = strip_province(rest, p);
    } else if let Some(r) = strip_name(rest, province, "") {
        rest = r;
    }

    if city.is_empty() {
        rest = strip_guessed(rest, &['市'], &['区', '县']);
    } else {
        let base = city.strip_suffix('市').unwrap_or(city);
        if !base.is_empty()
            && base.chars().all(is_han)
            && let Some(r) = rest.strip_prefix(base)
        {
            // 青岛市南区 is 青岛 + 市南区, 青岛市市南区 is 青岛市 + 市南区.
            if !district.is_empty() && r.starts_with(district) {
                rest = r;
            } else if let Some(r) = r.strip_prefix('市') {
                rest = r;
            } else if base.chars().count() >= 2 && !blocks(r) {
                rest = r;
            }
        }
    }

    if district.is_empty() {
        rest = strip_guessed(rest, &['区', '县', '市'], &[]);
    } else {
        let short = ["新区", "区", "县", "市"]
            .iter()
            .find_map(|s| district.strip_suffix(s))
            .unwrap_or(district);
        if let Some(r) = strip_name(rest, district, short) {
            rest = r;
        }
    }
    rest
}

/// Two-character markers that end an address part; checked before the one-character ones so
/// that 新华街道 is one part, not 新华街 + 道.
const MARKERS_2: &[&str] = &[
    "单元", "小区", "花园", "大厦", "广场", "大道", "大街", "街道", "新村", "公寓", "社区",
];
/// One-character markers that end an address part.
const MARKERS_1: &[char] = &[
    '路', '街', '道', '巷', '弄', '号', '栋', '室', '层', '楼', '村', '镇', '乡', '苑', '园', '区',
    '县', '市',
];

/// The length in characters of the structural marker starting at `chars[i]`, if any.
fn marker_at(chars: &[char], i: usize) -> Option<usize> {
    if let (Some(&a), Some(&b)) = (chars.get(i), chars.get(i + 1)) {
        let mut buf = [0u8; 8];
        let la = a.encode_utf8(&mut buf).len();
        let lb = b.encode_utf8(&mut buf[la..]).len();
        let pair = std::str::from_utf8(&buf[..la + lb]).unwrap_or("");
        if MARKERS_2.contains(&pair) {
            return Some(2);
        }
    }
    chars.get(i).filter(|c| MARKERS_1.contains(c)).map(|_| 1)
}

/// Splits a normalised address (from [`normalise_address`]) into the parts compared by
/// [`token_overlap`].
///
/// - Han text is cut after each structural marker (路 街 道 巷 弄 号 栋 单元 室 层 楼 村 镇 乡
///   小区 花园 苑 园 大厦 广场 区 县 市 …). A marker at the very start of a part belongs to the
///   name (道里区, 花园路 stay whole).
/// - A run of ASCII letters and digits is one token (`650`, `12a`); a run of digits directly
///   followed by a marker takes the marker with it, so numbers keep their role: `650号`
///   (street number), `32栋` (building), `3306室` (room). This keeps two unrelated addresses
///   from agreeing on bare 号/栋/室 tokens and a building number from agreeing with a room.
/// - Whitespace and punctuation separate tokens (Latin addresses split on spaces).
///
/// `长江街650号金色家园32栋3306室` → `[长江街, 650号, 金色家园, 32栋, 3306室]`.
pub fn address_tokens(norm: &str) -> Vec<String> {
    let chars: Vec<char> = norm.chars().collect();
    let mut tokens = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c.is_ascii_alphanumeric() {
            let start = i;
            while i < chars.len() && chars[i].is_ascii_alphanumeric() {
                i += 1;
            }
            let mut token: String = chars[start..i].iter().collect();
            if chars[start..i].iter().all(char::is_ascii_digit)
                && let Some(len) = marker_at(&chars, i)
            {
                token.extend(&chars[i..i + len]);
                i += len;
            }
            tokens.push(token);
        } else if c.is_alphanumeric() {
            let start = i;
            while i < chars.len() && chars[i].is_alphanumeric() && !chars[i].is_ascii_alphanumeric()
            {
                if let Some(len) = marker_at(&chars, i) {
                    i += len;
                    if i - len > start {
                        break;
                    }
                } else {
                    i += 1;
                }
            }
            tokens.push(chars[start..i].iter().collect());
        } else {
            i += 1;
        }
    }
    tokens
}

/// Overlap of two token multisets in [0, 1]: shared tokens (counted with multiplicity) over
/// all distinct token occurrences, the Jaccard index of multisets. Two empty lists give 0:
/// missing addresses are no evidence either way.
///
/// Runs on record pairs, so it does not allocate for lists of up to 64 tokens.
pub fn token_overlap(a: &[String], b: &[String]) -> f64 {
    if a.is_empty() || b.is_empty() {
        return 0.0;
    }
    let mut shared = 0usize;
    if b.len() <= 64 {
        let mut used = 0u64;
        for t in a {
            if let Some(j) = (0..b.len()).find(|&j| used & (1 << j) == 0 && b[j] == *t) {
                used |= 1 << j;
                shared += 1;
            }
        }
    } else {
        let mut used = vec![false; b.len()];
        for t in a {
            if let Some(j) = (0..b.len()).find(|&j| !used[j] && b[j] == *t) {
                used[j] = true;
                shared += 1;
            }
        }
    }
    shared as f64 / (a.len() + b.len() - shared) as f64
}

/// 手机号码 — an 11-digit mainland mobile number without spaces, dashes, brackets or the +86 /
/// 0086 / 86 country code, or `None` when the value is not a valid mobile number
/// ([`MobileNo::parse`]) or is a placeholder ([`is_placeholder_number`]).
pub fn normalise_mobile(s: &str) -> Option<String> {
    let mut digits = String::with_capacity(16);
    for c in s.chars().map(halfwidth_char) {
        if !(c.is_whitespace() || matches!(c, '-' | '(' | ')' | '.' | '—' | '–' | '_')) {
            digits.push(c);
        }
    }
    let bare = digits
        .strip_prefix("+86")
        .or_else(|| digits.strip_prefix("0086"))
        .or_else(|| digits.strip_prefix("86").filter(|_| digits.len() == 13))
        .unwrap_or(&digits);
    if bare.len() != 11 || MobileNo::parse(bare).is_err() || is_placeholder_number(bare) {
        return None;
    }
    Some(bare.to_string())
}

/// Numbers clerks type when the customer has none: 13800000000, 13800138000, 13888888888,
/// 00000000000, 12345678901, 000000, 123456 …; in general every number of one repeated digit,
/// every number of seven or more digits whose digits after the first three are all one digit,
/// a whole number of six or more digits counting up or down (1→2→…, 9→0 wraps), and any
/// number containing such a run of eight.
///
/// Empty input is a placeholder; input with other characters than ASCII digits is not judged
/// and gives `false`. Runs on record pairs, so it does not allocate.
pub fn is_placeholder_number(digits: &str) -> bool {
    #[rustfmt::skip]
    const KNOWN: &[&str] = &["13800138000", "12345678901", "13912345678", "10086", "10000"];
    let b = digits.as_bytes();
    if b.is_empty() {
        return true;
    }
    if !b.iter().all(u8::is_ascii_digit) {
        return false;
    }
    if KNOWN.contains(&digits) || b.iter().all(|&d| d == b[0]) {
        return true;
    }
    if b.len() >= 7 && b[3..].iter().all(|&d| d == b[3]) {
        return true;
    }
    let need = if b.len() >= 8 { 8 } else { b.len() };
    if b.len() < 6 {
        return false;
    }
    for step in [1u8, 9] {
        let mut run = 1;
        for w in b.windows(2) {
            if (w[0] - b'0' + step) % 10 == w[1] - b'0' {
                run += 1;
                if run >= need {
                    return true;
                }
            } else {
                run = 1;
            }
        }
    }
    false
}

/// 电子邮箱 — an e-mail address trimmed, half-width (`＠` → `@`, `。` → `.`), without inner
/// spaces and in lower case; `None` unless it has exactly one `@`, a non-empty local part and
/// a dotted domain, or when it is a placeholder: test/noreply/none/unknown… mailboxes,
/// example.com and similar domains, one repeated character on both sides (`a@a.com`), or a
/// placeholder number as the mailbox (`123456@qq.com`).
pub fn normalise_email(s: &str) -> Option<String> {
    #[rustfmt::skip]
    const LOCALS: &[&str] = &[
        "test", "testing", "noreply", "no-reply", "donotreply", "none", "null", "unknown", "xxx",
        "abc", "admin", "nobody", "email", "mail", "user", "name", "na", "n/a",
    ];
    #[rustfmt::skip]
    const DOMAINS: &[&str] = &[
        "example.com", "example.org", "example.net", "example.cn", "test.com", "test.cn",
        "xxx.com", "abc.com", "email.com", "domain.com", "localhost.localdomain",
    ];
    let mut e = String::with_capacity(s.len());
    for c in s.trim().chars().map(halfwidth_char) {
        match c {
            '。' => e.push('.'),
            c if c.is_whitespace() => {}
            c => e.extend(c.to_lowercase()),
        }
    }
    let (local, domain) = e.split_once('@')?;
    if local.is_empty()
        || domain.contains('@')
        || !domain.contains('.')
        || domain.starts_with('.')
        || domain.ends_with('.')
        || domain.contains("..")
    {
        return None;
    }
    let stem = local.trim_end_matches(|c: char| c.is_ascii_digit());
    let host = domain.split('.').next().unwrap_or("");
    let one_char = |t: &str| t.chars().next().is_some_and(|f| t.chars().all(|c| c == f));
    let placeholder = LOCALS.contains(&local)
        || (stem == "test" && stem.len() < local.len())
        || DOMAINS.contains(&domain)
        || (one_char(local) && one_char(host) && local.chars().next() == host.chars().next())
        || (local.bytes().all(|b| b.is_ascii_digit()) && is_placeholder_number(local));
    (!placeholder).then_some(e)
}

/// 证件号码 — an identity document number trimmed, half-width, in upper case and without
/// spaces, so that a resident ID ending in `x` equals the same one ending in `X`.
pub fn normalise_id(s: &str) -> String {
    s.trim()
        .chars()
        .map(halfwidth_char)
        .filter(|c| !c.is_whitespace())
        .map(|c| c.to_ascii_uppercase())
        .collect()
}

/// Whether two ID or phone numbers differ by one typing slip: the same length and exactly one
/// differing position, or exactly one swap of two neighbours. Equal values are not "off".
///
/// Compares bytes, so it is meant for ASCII values; runs on record pairs without allocating.
pub fn one_char_off(a: &str, b: &str) -> bool {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    if a.len() != b.len() {
        return false;
    }
    let mut diffs = [0usize; 2];
    let mut n = 0;
    for (i, (x, y)) in a.iter().zip(b).enumerate() {
        if x != y {
            if n == 2 {
                return false;
            }
            diffs[n] = i;
            n += 1;
        }
    }
    match n {
        1 => true,
        2 => {
            let (i, j) = (diffs[0], diffs[1]);
            j == i + 1 && a[i] == b[j] && a[j] == b[i]
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn toks(s: &str) -> Vec<String> {
        address_tokens(s)
    }

    fn strings(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn halfwidth_folds_full_width_forms() {
        assert_eq!(halfwidth("１３８　ＡＢｃ！＃"), "138 ABc!#");
        assert_eq!(halfwidth("张三"), "张三");
        assert_eq!(halfwidth(""), "");
    }

    #[test]
    fn the_briefs_three_variants_are_equal() {
        let want = "长江街650号金色家园32栋3306室";
        for a in [
            "金华市义乌市长江街650号金色家园32栋3306室",
            "金华义乌市长江街650号金色家园32#3306室",
            "金华市长江街650号金色家园32栋3306室",
            "浙江省金华市义乌市长江街650号金色家园32栋3306室",
            "浙江金华市义乌市 长江街 650 号 金色家园 32 栋 3306 室",
            "金华市义乌市长江街６５０号金色家园３２＃３３０６室",
            "金华市义乌市长江街650#金色家园32号楼3306室",
            "金华市义乌市长江街650号金色家园32幢3306室",
            "金华市义乌市长江街650号金色家园32#楼3306室",
            "金华市义乌市长江街650号，金色家园32栋-3306室",
        ] {
            assert_eq!(
                normalise_address(a, "浙江省", "金华市", "义乌市"),
                want,
                "{a}"
            );
        }
    }

    #[test]
    fn region_prefixes_are_recognised_without_the_fields() {
        let want = "长江街650号金色家园32栋3306室";
        for a in [
            "浙江省金华市义乌市长江街650号金色家园32栋3306室",
            "中国浙江省金华市义乌市长江街650号金色家园32栋3306室",
            "浙江金华市义乌市长江街650号金色家园32栋3306室",
            "金华市义乌市长江街650号金色家园32栋3306室",
            "金华市长江街650号金色家园32栋3306室",
            "义乌市长江街650号金色家园32栋3306室",
        ] {
            assert_eq!(normalise_address(a, "", "", ""), want, "{a}");
        }
        assert_eq!(
            normalise_address("上海市浦东新区世纪大道100号", "", "", ""),
            "世纪大道100号"
        );
        assert_eq!(
            normalise_address("上海浦东新区世纪大道100号", "", "", ""),
            "世纪大道100号"
        );
        assert_eq!(
            normalise_address("广西壮族自治区南宁市青秀区民族大道1号", "", "", ""),
            "民族大道1号"
        );
        assert_eq!(
            normalise_address("广西自治区南宁市青秀区民族大道1号", "", "", ""),
            "民族大道1号"
        );
    }

    #[test]
    fn place_names_that_are_road_names_stay() {
        // 北京路 in 广州, 浦东大道 in 浦东, 上海路 with no region at all.
        assert_eq!(
            normalise_address("广州市北京路12号", "广东省", "广州市", ""),
            "北京路12号"
        );
        assert_eq!(normalise_address("北京路12号", "", "", ""), "北京路12号");
        assert_eq!(
            normalise_address("北京东路12号", "", "", ""),
            "北京东路12号"
        );
        assert_eq!(
            normalise_address("上海浦东大道100号", "上海市", "上海市", "浦东新区"),
            "浦东大道100号"
        );
        assert_eq!(
            normalise_address(
                "上海市浦东新区浦东大道100号",
                "上海市",
                "上海市",
                "浦东新区"
            ),
            "浦东大道100号"
        );
        assert_eq!(normalise_address("新市路8号", "", "", ""), "新市路8号");
        // 吉林 is a province and a city.
        assert_eq!(
            normalise_address("吉林市船营区解放路1号", "吉林省", "吉林市", "船营区"),
            "解放路1号"
        );
        assert_eq!(
            normalise_address("吉林省吉林市船营区解放路1号", "", "", ""),
            "解放路1号"
        );
    }

    #[test]
    fn latin_addresses_keep_word_spaces() {
        assert_eq!(
            normalise_address("  12  Smith   St., Kingsford ", "", "", ""),
            "12 smith st kingsford"
        );
        assert_eq!(
            normalise_address("Unit #5, 3 Main Rd", "", "", ""),
            "unit 5 3 main rd"
        );
        assert_eq!(normalise_address("", "浙江省", "金华市", "义乌市"), "");
        assert_eq!(normalise_address("上海市浦东新区", "", "", ""), "");
    }

    /// The generator's own addresses, in every variant its duplicate records carry.
    fn samples() -> Vec<portrait_synth::AddressSample> {
        portrait_synth::address_samples(60, 7)
    }

    #[test]
    fn every_generator_variant_normalises_to_the_full_form() {
        let mut checked = 0;
        for a in samples() {
            let (province, city, district) = (a.province, a.city, a.district);
            let full = normalise_address(&a.full, province, city, district);
            assert!(
                !full.is_empty() && !full.starts_with(city),
                "{} -> {full}",
                a.full
            );
            for v in &a.variants {
                let text = &v.text;
                assert_eq!(
                    normalise_address(text, province, city, v.district),
                    full,
                    "{text}"
                );
                assert_eq!(
                    normalise_address(text, "", city, v.district),
                    full,
                    "{text} without province"
                );
                if !v.abbreviated_city {
                    // Without any region field the prefix is still recognised, except an
                    // abbreviated city, which needs the city's name.
                    assert_eq!(
                        normalise_address(text, "", "", ""),
                        full,
                        "{text} without fields"
                    );
                }
                checked += 1;
            }
            assert_ne!(
                normalise_address(&a.other_room, province, city, district),
                full
            );
        }
        assert!(checked > 20_000, "{checked}");
    }

    #[test]
    fn generator_variants_share_most_tokens_and_other_rooms_fewer() {
        for a in samples().into_iter().take(500) {
            let full = toks(&normalise_address(&a.full, a.province, a.city, a.district));
            for v in &a.variants {
                let t = toks(&normalise_address(&v.text, a.province, a.city, v.district));
                assert_eq!(token_overlap(&full, &t), 1.0, "{}", v.text);
            }
            let moved = toks(&normalise_address(
                &a.other_room,
                a.province,
                a.city,
                a.district,
            ));
            let o = token_overlap(&full, &moved);
            // Homes differ in the room token only; offices may change floor too.
            assert!((0.4..1.0).contains(&o), "{full:?} {moved:?} {o}");
        }
    }

    #[test]
    fn tokens_follow_the_address_structure() {
        assert_eq!(
            toks("长江街650号金色家园32栋3306室"),
            strings(&["长江街", "650号", "金色家园", "32栋", "3306室"])
        );
        assert_eq!(
            toks("世纪大道100号国际大厦12层1203室"),
            strings(&["世纪大道", "100号", "国际大厦", "12层", "1203室"])
        );
        assert_eq!(
            toks("人民路1号阳光花园3栋2单元1502室"),
            strings(&["人民路", "1号", "阳光花园", "3栋", "2单元", "1502室"])
        );
        assert_eq!(
            toks("道里区花园路8号"),
            strings(&["道里区", "花园路", "8号"])
        );
        assert_eq!(toks("新华街道幸福里"), strings(&["新华街道", "幸福里"]));
        assert_eq!(
            toks("12 smith st kingsford"),
            strings(&["12", "smith", "st", "kingsford"])
        );
        assert_eq!(toks("12a smith st"), strings(&["12a", "smith", "st"]));
        assert_eq!(toks("a座1203"), strings(&["a", "座", "1203"]));
        assert!(toks("").is_empty());
    }

    #[test]
    fn overlap_is_a_multiset_jaccard() {
        let a = strings(&["长江街", "650号", "金色家园", "32栋", "3306室"]);
        let b = strings(&["长江街", "650号", "金色家园", "32栋", "3307室"]);
        assert_eq!(token_overlap(&a, &a), 1.0);
        assert!((token_overlap(&a, &b) - 4.0 / 6.0).abs() < 1e-12);
        assert_eq!(token_overlap(&a, &b), token_overlap(&b, &a));
        assert_eq!(token_overlap(&a, &[]), 0.0);
        assert_eq!(token_overlap(&[], &[]), 0.0);
        let x = strings(&["1", "1", "2"]);
        let y = strings(&["1", "2", "2"]);
        assert!((token_overlap(&x, &y) - 2.0 / 4.0).abs() < 1e-12);
        let long: Vec<String> = (0..100).map(|i| i.to_string()).collect();
        let half: Vec<String> = (0..50).map(|i| i.to_string()).collect();
        assert!((token_overlap(&half, &long) - 0.5).abs() < 1e-12);
        assert!((token_overlap(&long, &half) - 0.5).abs() < 1e-12);
    }

    #[test]
    fn mobiles_lose_country_codes_and_separators() {
        for m in [
            "13912345670",
            " 139 1234 5670 ",
            "139-1234-5670",
            "+86 139 1234 5670",
            "+86-13912345670",
            "(+86)13912345670",
            "008613912345670",
            "8613912345670",
            "１３９１２３４５６７０",
        ] {
            assert_eq!(normalise_mobile(m).as_deref(), Some("13912345670"), "{m}");
        }
        for bad in [
            "",
            "1391234567",
            "139123456701",
            "12912345670",
            "0571-88123456",
            "1391234567a",
            "13800000000",
            "13888888888",
            "13800138000",
            "00000000000",
            "12345678901",
            "+86 138 0000 0000",
            "13912345678",
        ] {
            assert_eq!(normalise_mobile(bad), None, "{bad}");
        }
    }

    #[test]
    fn placeholder_numbers() {
        for p in [
            "13800000000",
            "13888888888",
            "13900000000",
            "00000000000",
            "000000",
            "111111",
            "123456",
            "12345678901",
            "15011111111",
            "99999999999",
            "13912345678",
            "13987654321",
            "654321",
            "1234567890",
            "",
        ] {
            assert!(is_placeholder_number(p), "{p}");
        }
        for real in [
            "13912345670",
            "13800138001",
            "15057912345",
            "18612345609",
            "12345",
            "1234",
            "057188123456",
            "138001380x0",
        ] {
            assert!(!is_placeholder_number(real), "{real}");
        }
    }

    #[test]
    fn emails_fold_and_reject_placeholders() {
        assert_eq!(
            normalise_email("  Zhang.San@QQ.com ").as_deref(),
            Some("zhang.san@qq.com")
        );
        assert_eq!(
            normalise_email("zhangsan＠163。com").as_deref(),
            Some("zhangsan@163.com")
        );
        assert_eq!(
            normalise_email("12345670@qq.com").as_deref(),
            Some("12345670@qq.com")
        );
        assert_eq!(
            normalise_email("testa@qq.com").as_deref(),
            Some("testa@qq.com")
        );
        for bad in [
            "",
            "zhangsan",
            "zhangsan@",
            "@qq.com",
            "a@b@c.com",
            "zhangsan@qq",
            "zhangsan@.com",
            "zhangsan@qq.",
            "zhangsan@qq..com",
            "test@qq.com",
            "test01@163.com",
            "noreply@bank.cn",
            "wang@example.com",
            "a@a.com",
            "xx@x.cn",
            "123456@qq.com",
            "111111@qq.com",
        ] {
            assert_eq!(normalise_email(bad), None, "{bad}");
        }
    }

    #[test]
    fn ids_are_upper_case_without_spaces() {
        assert_eq!(normalise_id(" 33078219900101123x "), "33078219900101123X");
        assert_eq!(normalise_id("330782 19900101 123X"), "33078219900101123X");
        assert_eq!(
            normalise_id("３３０７８２１９９００１０１１２３ｘ"),
            "33078219900101123X"
        );
        assert_eq!(normalise_id(""), "");
    }

    #[test]
    fn one_char_off_allows_one_slip() {
        assert!(one_char_off("13912345670", "13912345671"));
        assert!(one_char_off("13912345670", "13912345607"));
        assert!(one_char_off("31912345670", "13912345670"));
        assert!(!one_char_off("13912345670", "13912345670"));
        assert!(!one_char_off("13912345670", "13912345689"));
        assert!(!one_char_off("13912345670", "1391234567"));
        assert!(!one_char_off("12345", "21354"));
        assert!(!one_char_off("1234", "4231"));
        assert!(!one_char_off("", ""));
    }
}
