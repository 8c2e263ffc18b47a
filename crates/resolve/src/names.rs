//! 姓名 — personal names prepared for comparison: surname and given name split, case, width and
//! punctuation folded, a toneless pinyin key that makes homophone typos (张/章) agree, and a
//! test for the placeholder text clerks type when they do not know the name.
//!
//! Normalisation runs once per record and may allocate; [`jaro_winkler`] runs once per
//! compared pair.

use pinyin::ToPinyin;

use crate::normal::{halfwidth_char, is_han, squash};

/// 复姓 — the common two-character surnames, in simplified and the usual traditional form.
///
/// A Han name that starts with one of these and has at least three characters is split after
/// the second character, so 欧阳修 is 欧阳 + 修 and not 欧 + 阳修.
#[rustfmt::skip]
pub const COMPOUND_SURNAMES: &[&str] = &[
    "欧阳", "司马", "诸葛", "上官", "东方", "皇甫", "尉迟", "公孙", "慕容", "长孙",
    "宇文", "司徒", "夏侯", "令狐", "端木", "轩辕", "澹台", "独孤", "南宫", "呼延",
    "申屠", "闻人", "西门", "百里", "太史", "万俟", "司空", "钟离", "宗政", "濮阳",
    "公冶", "赫连", "鲜于", "闾丘", "仲孙", "单于", "拓跋", "第五", "公羊", "左丘",
    "梁丘", "东郭", "南门", "羊舌", "微生", "公西", "漆雕", "乐正", "壤驷", "公良",
    "段干", "巫马", "谷梁", "宰父", "夹谷", "亓官", "司寇", "子车", "颛孙", "东门",
    "呼衍", "耶律", "完颜",
    // Traditional forms, as written by customers from Hong Kong, Macao and Taiwan.
    "歐陽", "司馬", "諸葛", "東方", "尉遲", "公孫", "長孫", "軒轅", "獨孤", "南宮",
    "聞人", "萬俟", "鍾離", "鮮于", "閭丘", "東郭", "顓孫",
];

/// Splits a full name into (surname, given name), both normalised with
/// [`normalise_name_part`].
///
/// Han names: the surname is a compound surname from [`COMPOUND_SURNAMES`] when the name
/// starts with one and has at least three characters, else the first character; spaces and
/// middle dots (·, •, ・) are dropped first. Names with ASCII letters are Latin-script:
/// `"Surname, Given"` splits at the comma, otherwise the last word is the surname (FEBRL and
/// Western order). Blank input gives two empty strings.
pub fn split_name(full: &str) -> (String, String) {
    let full = full.trim();
    if full.is_empty() {
        return (String::new(), String::new());
    }
    let latin = full
        .chars()
        .any(|c| halfwidth_char(c).is_ascii_alphabetic());
    if latin {
        let comma = full.find([',', '，']);
        if let Some(at) = comma {
            let comma_len = full[at..].chars().next().map_or(1, char::len_utf8);
            return (
                normalise_name_part(&full[..at]),
                normalise_name_part(&full[at + comma_len..]),
            );
        }
        let norm = normalise_name_part(full);
        return match norm.rsplit_once(' ') {
            Some((given, surname)) => (surname.to_string(), given.to_string()),
            None => (norm, String::new()),
        };
    }
    let norm = normalise_name_part(full);
    let split = if norm.chars().count() >= 3
        && let Some(c) = COMPOUND_SURNAMES.iter().find(|c| norm.starts_with(**c))
    {
        c.len()
    } else {
        norm.chars().next().map_or(0, char::len_utf8)
    };
    let given = norm[split..].to_string();
    let mut surname = norm;
    surname.truncate(split);
    (surname, given)
}

/// Folds one name or name part into the form records are compared in: trimmed, full-width
/// forms made ASCII, lower case, punctuation, spaces and middle dots dropped inside Han text,
/// and one space kept between Latin words (`"  Mary-Jane  O'Brien "` → `"mary jane obrien"`).
///
/// Apostrophes join (O'Brien and OBrien are one name); hyphens and other punctuation separate.
pub fn normalise_name_part(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    squash(s, &mut out);
    out
}

/// 拼音键 — the toneless pinyin of each Han character, concatenated without separators, so
/// that names written with homophones agree: 张静芳 and 章静芳 both give `"zhangjingfang"`.
///
/// ü is written `v` as in Chinese systems (吕 → `"lv"`), so the key is ASCII for every
/// character the pinyin table knows. ASCII letters and digits are kept in lower case; Han
/// characters the pinyin table lacks are kept as they are (dropping them would make different
/// rare names agree); everything else is dropped. Polyphonic characters take their most common reading (单 → `"dan"`), which is
/// consistent across records and so harmless for matching.
pub fn pinyin_key(s: &str) -> String {
    let mut out = String::with_capacity(s.len() * 2);
    for c in s.chars().map(halfwidth_char) {
        if c.is_ascii_alphanumeric() {
            out.push(c.to_ascii_lowercase());
        } else if matches!(c, 'ü' | 'Ü') {
            out.push('v');
        } else if let Some(p) = c.to_pinyin() {
            let py = p.plain();
            if py.is_ascii() {
                out.push_str(py);
            } else {
                out.extend(py.chars().map(|c| if c == 'ü' { 'v' } else { c }));
            }
        } else if is_han(c) {
            out.push(c);
        }
    }
    out
}

/// Jaro–Winkler similarity in [0, 1] by characters (not bytes), so one differing Han
/// character costs as much as one differing Latin letter.
///
/// Strings of up to 64 characters (every name, nearly every address) are compared on the stack
/// with bit sets for the matched characters: this runs on millions of pairs and must not
/// allocate. Longer strings go to `strsim`.
pub fn jaro_winkler(a: &str, b: &str) -> f64 {
    const MAX: usize = 64;
    if a.is_ascii() && b.is_ascii() && a.len() <= MAX && b.len() <= MAX {
        return jaro_winkler_ascii(a.as_bytes(), b.as_bytes());
    }
    let mut ca = ['\0'; MAX];
    let mut cb = ['\0'; MAX];
    let (mut la, mut lb) = (0, 0);
    for c in a.chars() {
        if la == MAX {
            return strsim::jaro_winkler(a, b);
        }
        ca[la] = c;
        la += 1;
    }
    for c in b.chars() {
        if lb == MAX {
            return strsim::jaro_winkler(a, b);
        }
        cb[lb] = c;
        lb += 1;
    }
    jaro_winkler_of(&ca[..la], &cb[..lb])
}

/// Jaro–Winkler of ASCII strings of at most 64 bytes, with a bit set of positions per byte
/// value: the first unused match inside the window is one trailing-zero count away.
fn jaro_winkler_ascii(a: &[u8], b: &[u8]) -> f64 {
    let (la, lb) = (a.len(), b.len());
    if la == 0 && lb == 0 {
        return 1.0;
    }
    if la == 0 || lb == 0 {
        return 0.0;
    }
    let mut positions = [0u64; 128];
    for (j, &y) in b.iter().enumerate() {
        positions[(y & 0x7f) as usize] |= 1 << j;
    }
    let window = (la.max(lb) / 2).saturating_sub(1);
    let (mut used_a, mut used_b) = (0u64, 0u64);
    let mut matches = 0usize;
    for (i, &x) in a.iter().enumerate() {
        let lo = i.saturating_sub(window);
        let hi = (i + window + 1).min(lb);
        if lo >= hi {
            continue;
        }
        let span = if hi - lo == 64 {
            u64::MAX
        } else {
            ((1u64 << (hi - lo)) - 1) << lo
        };
        let free = positions[(x & 0x7f) as usize] & !used_b & span;
        if free != 0 {
            used_a |= 1 << i;
            used_b |= free & free.wrapping_neg();
            matches += 1;
        }
    }
    finish(a, b, used_a, used_b, matches)
}

/// Jaro–Winkler from the matched positions.
fn finish<T: PartialEq + Copy>(a: &[T], b: &[T], used_a: u64, used_b: u64, matches: usize) -> f64 {
    let (la, lb) = (a.len(), b.len());
    if matches == 0 {
        return 0.0;
    }
    let mut transpositions = 0usize;
    let mut j = 0usize;
    for i in 0..la {
        if used_a & (1 << i) != 0 {
            while used_b & (1 << j) == 0 {
                j += 1;
            }
            if a[i] != b[j] {
                transpositions += 1;
            }
            j += 1;
        }
    }
    let m = matches as f64;
    let jaro = (m / la as f64 + m / lb as f64 + (m - (transpositions / 2) as f64) / m) / 3.0;
    // Winkler's boost for a common prefix, above the usual 0.7 only.
    if jaro <= 0.7 {
        return jaro;
    }
    let prefix = a.iter().zip(b).take(4).take_while(|(x, y)| x == y).count();
    jaro + prefix as f64 * 0.1 * (1.0 - jaro)
}

/// Jaro–Winkler over slices of at most 64 symbols.
fn jaro_winkler_of<T: PartialEq + Copy>(a: &[T], b: &[T]) -> f64 {
    let (la, lb) = (a.len(), b.len());
    if a.is_empty() && b.is_empty() {
        return 1.0;
    }
    if a.is_empty() || b.is_empty() {
        return 0.0;
    }
    let window = (la.max(lb) / 2).saturating_sub(1);
    let (mut used_a, mut used_b) = (0u64, 0u64);
    let mut matches = 0usize;
    for (i, &x) in a.iter().enumerate() {
        let lo = i.saturating_sub(window);
        let hi = (i + window + 1).min(lb);
        for j in lo..hi {
            if used_b & (1 << j) == 0 && b[j] == x {
                used_a |= 1 << i;
                used_b |= 1 << j;
                matches += 1;
                break;
            }
        }
    }
    finish(a, b, used_a, used_b, matches)
}

/// Placeholder text in a name field: blank, 无/未知/不详/测试/客户 and their Latin counterparts
/// (test, unknown, n/a, xxx …), optionally followed by digits (`测试1`, `test01`), text with no
/// letter at all (`"***"`, `"123"`), and runs of one repeated character (`"xxxx"`, `"aaa"`).
///
/// Such values must not count as agreement: two records both named 未知 are not evidence of one
/// person. Doubled Han given names (丽丽, 婷婷) are real and are not placeholders.
pub fn is_placeholder_name(s: &str) -> bool {
    const RAW: &[&str] = &["n/a", "n.a.", "n.a", "#n/a", "-", "/"];
    #[rustfmt::skip]
    const FOLDED: &[&str] = &[
        "无", "未知", "不详", "不明", "测试", "客户", "某某", "某", "匿名", "暂无", "空", "待定",
        "待补充", "姓名", "无名", "无名氏", "test", "testing", "unknown", "unk", "none", "null",
        "nil", "xxx", "xx", "x", "customer", "name", "noname", "anonymous", "dummy",
        "tbd", "tba",
    ];
    let trimmed = s.trim();
    if trimmed.is_empty() {
        return true;
    }
    if RAW.iter().any(|r| trimmed.eq_ignore_ascii_case(r)) {
        return true;
    }
    let folded = normalise_name_part(trimmed);
    if !folded.chars().any(char::is_alphabetic) {
        return true;
    }
    let stem = folded
        .trim_end_matches(|c: char| c.is_ascii_digit())
        .trim_end();
    if FOLDED.contains(&stem) {
        return true;
    }
    let mut chars = folded.chars();
    let first = chars.next();
    let rest_same = chars.clone().all(|c| Some(c) == first);
    let len = folded.chars().count();
    rest_same && len >= 3 && !first.is_some_and(is_han)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn split(s: &str) -> (String, String) {
        split_name(s)
    }

    fn pair(a: &str, b: &str) -> (String, String) {
        (a.to_string(), b.to_string())
    }

    #[test]
    fn han_names_split_after_the_first_character() {
        assert_eq!(split("王小明"), pair("王", "小明"));
        assert_eq!(split("  张 三 "), pair("张", "三"));
        assert_eq!(split("李"), pair("李", ""));
        assert_eq!(split(""), pair("", ""));
        assert_eq!(split("   "), pair("", ""));
    }

    #[test]
    fn compound_surnames_need_three_characters() {
        assert_eq!(split("欧阳修"), pair("欧阳", "修"));
        assert_eq!(split("诸葛孔明"), pair("诸葛", "孔明"));
        assert_eq!(split("上官 婉儿"), pair("上官", "婉儿"));
        assert_eq!(split("歐陽娜娜"), pair("歐陽", "娜娜"));
        // Two characters: a single surname and a one-character given name.
        assert_eq!(split("欧阳"), pair("欧", "阳"));
        assert_eq!(split("司马"), pair("司", "马"));
    }

    #[test]
    fn compound_surname_list_has_no_duplicates_and_only_pairs() {
        let mut seen = std::collections::HashSet::new();
        for s in COMPOUND_SURNAMES {
            assert_eq!(s.chars().count(), 2, "{s}");
            assert!(seen.insert(s), "duplicate {s}");
        }
    }

    #[test]
    fn middle_dots_are_dropped_in_han_names() {
        assert_eq!(split("阿依古丽·买买提"), pair("阿", "依古丽买买提"));
        assert_eq!(split("迪丽热巴•迪力木拉提"), pair("迪", "丽热巴迪力木拉提"));
        assert_eq!(normalise_name_part("艾力・库尔班"), "艾力库尔班");
    }

    #[test]
    fn latin_names_take_the_last_word_as_surname() {
        assert_eq!(split("John Smith"), pair("smith", "john"));
        assert_eq!(split("  Mary   Ann  Jones "), pair("jones", "mary ann"));
        assert_eq!(split("Smith, John"), pair("smith", "john"));
        assert_eq!(split("van der Berg , Anna"), pair("van der berg", "anna"));
        assert_eq!(split("Smith，John"), pair("smith", "john"));
        assert_eq!(split("MADONNA"), pair("madonna", ""));
        assert_eq!(split("Ｊｏｈｎ　Ｓｍｉｔｈ"), pair("smith", "john"));
        assert_eq!(split("Wang Xiaoming"), pair("xiaoming", "wang"));
    }

    #[test]
    fn name_parts_fold_width_case_and_punctuation() {
        assert_eq!(
            normalise_name_part("  Mary-Jane  O'Brien "),
            "mary jane obrien"
        );
        assert_eq!(normalise_name_part("J. R. R. Tolkien"), "j r r tolkien");
        assert_eq!(normalise_name_part("ＡＢＣ"), "abc");
        assert_eq!(normalise_name_part(" 张　三 "), "张三");
        assert_eq!(normalise_name_part("José  García"), "josé garcía");
        assert_eq!(normalise_name_part(""), "");
    }

    #[test]
    fn pinyin_keys_make_homophones_agree() {
        assert_eq!(pinyin_key("王小明"), "wangxiaoming");
        assert_eq!(pinyin_key("张静芳"), "zhangjingfang");
        assert_eq!(pinyin_key("张静芳"), pinyin_key("章静芳"));
        assert_eq!(pinyin_key("张·三 A1"), "zhangsana1");
        assert_eq!(pinyin_key("Ｗａｎｇ"), "wang");
        assert_eq!(pinyin_key("欧阳修"), "ouyangxiu");
        assert_eq!(pinyin_key(""), "");
        assert_eq!(pinyin_key("吕绿"), "lvlv");
        assert_eq!(pinyin_key("Lü Bu"), pinyin_key("吕布"));
        assert_ne!(pinyin_key("王小明"), pinyin_key("王晓敏"));
    }

    /// The stack version agrees with `strsim` on random strings, Latin and Han.
    #[test]
    fn jaro_winkler_equals_strsim() {
        use rand::{Rng, SeedableRng};
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(9);
        let alphabets: [&[char]; 2] = [
            &['a', 'b', 'c', 'd', 'e', 'r', 's', 't'],
            &['张', '章', '静', '芳', '伟', '王'],
        ];
        for _ in 0..20_000 {
            let abc = alphabets[rng.random_range(0..2)];
            let word = |rng: &mut rand_chacha::ChaCha8Rng| -> String {
                let n = rng.random_range(0..70);
                (0..n)
                    .map(|_| abc[rng.random_range(0..abc.len())])
                    .collect()
            };
            let (x, y) = (word(&mut rng), word(&mut rng));
            let (ours, theirs) = (jaro_winkler(&x, &y), strsim::jaro_winkler(&x, &y));
            assert!(
                (ours - theirs).abs() < 1e-12,
                "{x} / {y}: {ours} vs {theirs}"
            );
        }
    }

    #[test]
    fn jaro_winkler_counts_characters() {
        assert!((jaro_winkler("张静芳", "张静芳") - 1.0).abs() < 1e-12);
        let han = jaro_winkler("张静芳", "张静方");
        let latin = jaro_winkler("abc", "abd");
        assert!((han - latin).abs() < 1e-12, "{han} vs {latin}");
        assert!(jaro_winkler("martha", "marhta") > 0.95);
        assert_eq!(jaro_winkler("", "abc"), 0.0);
    }

    #[test]
    fn placeholders_are_recognised() {
        for p in [
            "",
            "  ",
            "无",
            "未知",
            "不详",
            "测试",
            "测试1",
            "客户",
            "客户 01",
            "test",
            "TEST02",
            "Unknown",
            "n/a",
            "N/A",
            "xxx",
            "XXXX",
            "***",
            "---",
            "123",
            "aaa",
            "某某",
            "null",
        ] {
            assert!(is_placeholder_name(p), "{p:?} should be a placeholder");
        }
        for real in [
            "张三",
            "王小明",
            "丽丽",
            "婷婷",
            "欧阳修",
            "John Smith",
            "Na",
            "Testa",
            "Xu",
            "Li",
            "阿依古丽·买买提",
        ] {
            assert!(!is_placeholder_name(real), "{real:?} is a real name");
        }
    }
}
