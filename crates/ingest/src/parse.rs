//! Parsers for single field values as bank exports write them. Each returns a reason on failure;
//! the caller adds file, line and column.

use chrono::{NaiveDate, NaiveDateTime, NaiveTime};

pub type Reason = String;

/// Days from 0001-01-01 (CE day 1) to 1970-01-01, for `Date32`.
const UNIX_EPOCH_CE_DAYS: i32 = 719_163;

pub fn date_to_days(d: NaiveDate) -> i32 {
    use chrono::Datelike;
    d.num_days_from_ce() - UNIX_EPOCH_CE_DAYS
}

fn num(b: &[u8]) -> Option<u32> {
    // Nine digits fit a u32; longer runs (`20260000000102`) are not a date part.
    if b.is_empty() || b.len() > 9 || !b.iter().all(u8::is_ascii_digit) {
        return None;
    }
    Some(b.iter().fold(0u32, |acc, d| acc * 10 + u32::from(d - b'0')))
}

/// Parses `YYYY-MM-DD`, `YYYYMMDD`, `YYYY/MM/DD`, `YYYY.MM.DD`, single-digit month and day, and
/// `YYYY年MM月DD日`.
pub fn date(s: &str) -> Result<NaiveDate, Reason> {
    let bad = || format!("invalid date `{s}`: expected YYYY-MM-DD or YYYYMMDD");
    let b = s.as_bytes();
    let (y, m, d) = if b.len() == 8 && b.iter().all(u8::is_ascii_digit) {
        (num(&b[..4]), num(&b[4..6]), num(&b[6..8]))
    } else if b.len() == 10 && b[4] == b[7] && matches!(b[4], b'-' | b'/' | b'.') {
        (num(&b[..4]), num(&b[5..7]), num(&b[8..10]))
    } else {
        let t = s.trim_end_matches('日');
        let mut parts = t.split(['-', '/', '.', '年', '月']);
        let y = parts.next().map(str::as_bytes).and_then(num);
        let m = parts.next().map(str::as_bytes).and_then(num);
        let d = parts.next().map(str::as_bytes).and_then(num);
        if parts.next().is_some() {
            return Err(bad());
        }
        (y, m, d)
    };
    let (Some(y), Some(m), Some(d)) = (y, m, d) else {
        return Err(bad());
    };
    // `05-01-2024`: the year written last, day and month in an order no one can tell.
    if y < 100 && d >= 1000 {
        return Err(format!(
            "invalid date `{s}`: the year comes last, so day and month cannot be told apart (day {y} of month {m}, or day {m} of month {y}?); write dates year first (YYYY-MM-DD or YYYYMMDD) in the export"
        ));
    }
    if !(1800..=2200).contains(&y) {
        return Err(format!("invalid date `{s}`: year {y} is out of range"));
    }
    NaiveDate::from_ymd_opt(y as i32, m, d)
        .ok_or_else(|| format!("invalid date `{s}`: no such day"))
}

/// Parses a time of day: `HH:MM:SS`, `HH:MM`, `HHMMSS`, with optional fractional seconds.
pub fn time(s: &str) -> Result<NaiveTime, Reason> {
    let bad = || format!("invalid time `{s}`: expected HH:MM:SS");
    let (main, frac) = match s.split_once('.') {
        Some((m, f)) => (m, Some(f)),
        None => (s, None),
    };
    let b = main.as_bytes();
    let (h, m, sec) = match b.len() {
        8 if b[2] == b':' && b[5] == b':' => (num(&b[..2]), num(&b[3..5]), num(&b[6..8])),
        5 if b[2] == b':' => (num(&b[..2]), num(&b[3..5]), Some(0)),
        6 => (num(&b[..2]), num(&b[2..4]), num(&b[4..6])),
        7 if b[1] == b':' && b[4] == b':' => (num(&b[..1]), num(&b[2..4]), num(&b[5..7])),
        4 if b[1] == b':' => (num(&b[..1]), num(&b[2..4]), Some(0)),
        _ => return Err(bad()),
    };
    let micros = match frac {
        None => 0,
        Some(f) if !f.is_empty() && f.len() <= 9 && f.bytes().all(|c| c.is_ascii_digit()) => {
            let padded = format!("{f:0<6}");
            num(&padded.as_bytes()[..6]).ok_or_else(bad)?
        }
        Some(_) => return Err(bad()),
    };
    let (Some(h), Some(m), Some(sec)) = (h, m, sec) else {
        return Err(bad());
    };
    NaiveTime::from_hms_micro_opt(h, m, sec, micros).ok_or_else(bad)
}

/// Parses a date-time: a date, optionally followed by a space or `T` and a time.
pub fn timestamp(s: &str) -> Result<NaiveDateTime, Reason> {
    let (d, t) = match s.bytes().position(|c| c == b' ' || c == b'T') {
        Some(i) => (&s[..i], Some(s[i + 1..].trim())),
        None => (s, None),
    };
    let d = date(d)?;
    let t = match t {
        Some(t) if !t.is_empty() => time(t.trim_end_matches('Z'))
            .map_err(|_| format!("invalid timestamp `{s}`: expected YYYY-MM-DD HH:MM:SS"))?,
        _ => NaiveTime::MIN,
    };
    Ok(d.and_time(t))
}

pub fn timestamp_micros(ts: NaiveDateTime) -> i64 {
    ts.and_utc().timestamp_micros()
}

/// Parses an amount into hundredths (`Decimal128(18, 2)`): optional sign, optional `¥`/`￥`,
/// thousands separators, any number of decimals (rounded half away from zero).
pub fn amount(s: &str) -> Result<i128, Reason> {
    let bad = || format!("not an amount `{s}`");
    let mut t = s.trim();
    let neg = if let Some(r) = t.strip_prefix('-') {
        t = r;
        true
    } else {
        t = t.strip_prefix('+').unwrap_or(t);
        false
    };
    t = t
        .trim_start_matches(['¥', '￥'])
        .trim_start_matches("CNY")
        .trim();
    let (int, frac) = match t.split_once('.') {
        Some((i, f)) => (i, f),
        None => (t, ""),
    };
    if int.is_empty() && frac.is_empty() {
        return Err(bad());
    }
    let mut v: i128 = 0;
    let mut digits = 0;
    for c in int.bytes() {
        match c {
            b'0'..=b'9' => {
                v = v * 10 + i128::from(c - b'0');
                digits += 1;
                if digits > 16 {
                    return Err(format!("amount `{s}` is too large"));
                }
            }
            b',' if digits > 0 => {}
            _ => return Err(bad()),
        }
    }
    let fb = frac.as_bytes();
    if !fb.iter().all(u8::is_ascii_digit) {
        return Err(bad());
    }
    let d = |i: usize| fb.get(i).map_or(0, |c| i128::from(c - b'0'));
    let mut cents = v * 100 + d(0) * 10 + d(1);
    if d(2) >= 5 {
        cents += 1;
    }
    Ok(if neg { -cents } else { cents })
}

pub fn int(s: &str) -> Result<i64, Reason> {
    if let Ok(v) = s.parse::<i64>() {
        return Ok(v);
    }
    // Spreadsheets write whole numbers as `3.0`.
    match s.parse::<f64>() {
        Ok(f) if f.fract() == 0.0 && f.abs() < 9e15 => Ok(f as i64),
        _ => Err(format!("not a whole number `{s}`")),
    }
}

pub fn float(s: &str) -> Result<f64, Reason> {
    s.parse::<f64>()
        .ok()
        .filter(|f| f.is_finite())
        .ok_or_else(|| format!("not a number `{s}`"))
}

pub fn boolean(s: &str) -> Result<bool, Reason> {
    const TRUE: &[&str] = &["1", "y", "yes", "true", "t", "是", "有", "已开通", "同意"];
    const FALSE: &[&str] = &["0", "n", "no", "false", "f", "否", "无", "未开通", "不同意"];
    let l = s.to_ascii_lowercase();
    if TRUE.contains(&l.as_str()) {
        Ok(true)
    } else if FALSE.contains(&l.as_str()) {
        Ok(false)
    } else {
        Err(format!(
            "not a yes/no value `{s}`: expected 是/否, Y/N, 1/0 or true/false"
        ))
    }
}

pub fn email(s: &str) -> Result<(), Reason> {
    let ok = s.split_once('@').is_some_and(|(user, domain)| {
        !user.is_empty()
            && domain.contains('.')
            && !domain.starts_with('.')
            && !domain.ends_with('.')
            && !s.contains(char::is_whitespace)
    });
    if ok {
        Ok(())
    } else {
        Err("not an email address".to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_in_export_formats() {
        let d = NaiveDate::from_ymd_opt(2024, 3, 9).unwrap();
        for s in [
            "2024-03-09",
            "20240309",
            "2024/3/9",
            "2024.03.09",
            "2024年3月9日",
        ] {
            assert_eq!(date(s), Ok(d), "{s}");
        }
        assert!(date("2024-02-30").unwrap_err().contains("no such day"));
        assert!(date("20241301").is_err());
        assert!(date("09/03/2024").is_err());
        // Found by fuzzing: a run of digits too long for a number was an overflow panic.
        assert!(date("20260000000102").is_err());
        assert!(date("2026-0000000001-02").is_err());
        // Year last: the message says so instead of "year 5 is out of range".
        let e = date("05-01-2024").unwrap_err();
        assert!(
            e.contains("the year comes last") && e.contains("YYYY-MM-DD"),
            "{e}"
        );
        assert!(!e.contains("out of range"), "{e}");
        assert!(date("abc").is_err());
        assert_eq!(
            date_to_days(NaiveDate::from_ymd_opt(1970, 1, 2).unwrap()),
            1
        );
    }

    #[test]
    fn times_and_timestamps() {
        assert_eq!(
            time("09:05:01").unwrap(),
            NaiveTime::from_hms_opt(9, 5, 1).unwrap()
        );
        assert_eq!(
            time("090501").unwrap(),
            NaiveTime::from_hms_opt(9, 5, 1).unwrap()
        );
        assert_eq!(
            time("9:05").unwrap(),
            NaiveTime::from_hms_opt(9, 5, 0).unwrap()
        );
        assert!(time("25:00:00").is_err());
        let ts = timestamp("2024-03-09T09:05:01.5").unwrap();
        assert_eq!(
            ts.format("%F %T%.3f").to_string(),
            "2024-03-09 09:05:01.500"
        );
        assert_eq!(
            timestamp("20240309").unwrap().format("%F %T").to_string(),
            "2024-03-09 00:00:00"
        );
    }

    #[test]
    fn amounts_to_cents() {
        assert_eq!(amount("1,234.56"), Ok(123_456));
        assert_eq!(amount("-12.5"), Ok(-1250));
        assert_eq!(amount("￥8"), Ok(800));
        assert_eq!(amount("0.005"), Ok(1));
        assert_eq!(amount(".5"), Ok(50));
        assert!(amount("12a").is_err());
        assert!(amount("").is_err());
        assert!(amount(",1").is_err());
        assert!(amount("99999999999999999").is_err());
    }

    #[test]
    fn booleans_ints_emails() {
        assert_eq!(boolean("是"), Ok(true));
        assert_eq!(boolean("N"), Ok(false));
        assert!(boolean("maybe").is_err());
        assert_eq!(int("3.0"), Ok(3));
        assert!(int("3.5").is_err());
        assert!(email("a@b.cn").is_ok());
        assert!(email("a@b").is_err());
    }
}
