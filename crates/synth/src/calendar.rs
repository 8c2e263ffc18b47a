//! The data window and its rhythms: weekends, 春节 (Spring Festival), 双十一 and 618, golden
//! weeks, and the hours of the day at which each kind of activity happens.

use chrono::{Datelike, Months, NaiveDate, Weekday};
use rand::Rng;

use crate::rng::Cdf;

pub(crate) const SECS_PER_DAY: i64 = 86_400;

/// A local date-time as seconds since 1970-01-01 00:00 (bank exports carry no time zone).
pub(crate) type Ts = i64;

/// Days since 1970-01-01.
pub(crate) fn epoch_days(d: NaiveDate) -> i64 {
    i64::from(d.num_days_from_ce()) - 719_163
}

/// The civil date of a day count since 1970-01-01 (H. Hinnant's algorithm): cheaper than
/// building a `NaiveDate` for every formatted timestamp.
pub(crate) fn civil(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

/// 春节 — the first day of the lunar year.
fn spring_festival(year: i32) -> NaiveDate {
    #[rustfmt::skip]
    const DATES: [(u32, u32); 36] = [
        (2, 5), (1, 24), (2, 12), (2, 1), (1, 22), (2, 9), (1, 29), (2, 18), (2, 7), (1, 26), (2, 14), (2, 3),
        (1, 23), (2, 10), (1, 31), (2, 19), (2, 8), (1, 28), (2, 16), (2, 5), (1, 25), (2, 12), (2, 1), (1, 22),
        (2, 10), (1, 29), (2, 17), (2, 6), (1, 26), (2, 13), (2, 3), (1, 23), (2, 11), (1, 31), (2, 19), (2, 8),
    ];
    let (m, d) = usize::try_from(year - 2000)
        .ok()
        .and_then(|i| DATES.get(i).copied())
        .unwrap_or((2, 1));
    NaiveDate::from_ymd_opt(year, m, d).expect("valid festival date")
}

/// Seasonal profile of an activity.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Season {
    /// Shops and restaurants: weekends, the weeks before 春节, golden weeks.
    Offline = 0,
    /// Online shopping: 双十一 (11 Nov), 618, 双十二, 年货节.
    Online = 1,
    /// Travel: 春节, 国庆 golden week, 五一, summer holidays.
    Travel = 2,
    /// Banking chores: working days, red envelopes before 春节, bills at month end.
    General = 3,
}

/// Hour-of-day profile of an activity.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Hours {
    /// Lunch and dinner peaks.
    Shopping = 0,
    /// Evening and late-night browsing.
    Evening = 1,
    /// Branch opening hours.
    Office = 2,
    /// Batch payroll runs in the early morning.
    Batch = 3,
    /// Waking hours, flat.
    Anytime = 4,
}

#[rustfmt::skip]
const HOUR_WEIGHTS: [[f64; 24]; 5] = [
    [0.2, 0.1, 0.05, 0.03, 0.03, 0.05, 0.2, 0.6, 1.0, 1.2, 1.5, 2.2, 2.8, 2.0, 1.5, 1.5, 1.6, 2.0, 2.8, 3.0, 2.6, 1.8, 1.0, 0.5],
    [1.0, 0.6, 0.3, 0.15, 0.1, 0.1, 0.2, 0.5, 0.9, 1.2, 1.4, 1.6, 1.8, 1.5, 1.4, 1.4, 1.5, 1.7, 2.0, 2.4, 2.8, 3.0, 2.8, 1.9],
    [0.02, 0.01, 0.01, 0.01, 0.01, 0.02, 0.1, 0.4, 1.2, 2.5, 2.8, 2.5, 1.5, 1.8, 2.4, 2.5, 2.2, 1.6, 0.9, 0.7, 0.6, 0.4, 0.2, 0.08],
    [0.0, 0.2, 1.0, 1.5, 0.6, 0.3, 0.3, 0.6, 1.5, 2.5, 2.0, 1.0, 0.3, 0.2, 0.2, 0.2, 0.1, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0],
    [0.3, 0.2, 0.1, 0.1, 0.1, 0.2, 0.5, 1.0, 1.3, 1.4, 1.4, 1.4, 1.4, 1.4, 1.4, 1.4, 1.4, 1.4, 1.4, 1.4, 1.3, 1.1, 0.8, 0.5],
];

fn day_weight(season: Season, d: NaiveDate) -> f64 {
    let weekend = matches!(d.weekday(), Weekday::Sat | Weekday::Sun);
    let (m, day) = (d.month(), d.day());
    // Distance to the nearest Spring Festival (the next year's matters in December).
    let sf = [d.year() - 1, d.year(), d.year() + 1]
        .into_iter()
        .map(|y| (d - spring_festival(y)).num_days())
        .min_by_key(|x| x.abs())
        .expect("three candidates");
    let in_sf = |a: i64, b: i64| (a..=b).contains(&sf);
    let golden_week = m == 10 && day <= 7;
    let mut w = 1.0;
    match season {
        Season::Offline => {
            if weekend {
                w *= 1.45;
            }
            if in_sf(-14, -1) {
                w *= 1.8;
            } else if in_sf(0, 6) {
                w *= 0.8;
            }
            if golden_week {
                w *= 1.4;
            }
            if m == 12 && day >= 24 {
                w *= 1.2;
            }
        }
        Season::Online => {
            if weekend {
                w *= 1.15;
            }
            match (m, day) {
                (11, 11) => w *= 6.0,
                (11, 1..=10) => w *= 1.6,
                (6, 18) => w *= 3.0,
                (6, 1..=17) => w *= 1.3,
                (12, 12) => w *= 2.0,
                _ => {}
            }
            if in_sf(-20, -8) {
                w *= 1.4;
            } else if in_sf(-3, 5) {
                w *= 0.5;
            }
        }
        Season::Travel => {
            if weekend {
                w *= 1.3;
            }
            if in_sf(-10, 6) {
                w *= 2.5;
            }
            if golden_week || (m == 9 && day >= 28) {
                w *= 2.8;
            }
            if m == 7 || m == 8 {
                w *= 1.6;
            }
            if (m == 4 && day == 30) || (m == 5 && day <= 5) {
                w *= 2.2;
            }
        }
        Season::General => {
            if weekend {
                w *= 0.55;
            }
            if in_sf(-15, -1) {
                w *= 1.6;
            } else if in_sf(0, 6) {
                w *= 0.5;
            }
            if golden_week {
                w *= 0.5;
            }
            if d.succ_opt().is_some_and(|n| n.month() != m) || day >= 28 {
                w *= 1.2;
            }
        }
    }
    w
}

/// The data window with its sampling tables.
#[derive(Debug)]
pub(crate) struct Calendar {
    pub start: NaiveDate,
    start_day: i64,
    /// Number of days in the window.
    pub days: u32,
    seasons: Vec<Cdf>,
    hours: Vec<Cdf>,
    /// 数据日期 of the asset snapshots: `end` and up to 11 earlier month ends, ascending.
    pub snapshots: Vec<NaiveDate>,
}

impl Calendar {
    pub(crate) fn new(start: NaiveDate, end: NaiveDate) -> Self {
        let days = u32::try_from((end - start).num_days() + 1).expect("end after start");
        let dates: Vec<NaiveDate> = start.iter_days().take(days as usize).collect();
        let seasons = [
            Season::Offline,
            Season::Online,
            Season::Travel,
            Season::General,
        ]
        .map(|s| Cdf::new(dates.iter().map(|&d| day_weight(s, d))))
        .to_vec();
        let hours = HOUR_WEIGHTS
            .iter()
            .map(|w| Cdf::new(w.iter().copied()))
            .collect();
        let mut snapshots = vec![end];
        let first_of_month = end.with_day(1).expect("day 1 exists");
        for i in 1..12 {
            let Some(d) = first_of_month
                .checked_sub_months(Months::new(i - 1))
                .and_then(|d| d.pred_opt())
            else {
                break;
            };
            if d < start {
                break;
            }
            snapshots.push(d);
        }
        snapshots.reverse();
        Self {
            start,
            start_day: epoch_days(start),
            days,
            seasons,
            hours,
            snapshots,
        }
    }

    /// Index of a date in the window (negative before it, ≥ `days` after it).
    pub(crate) fn index(&self, d: NaiveDate) -> i64 {
        epoch_days(d) - self.start_day
    }

    /// The date of a day index.
    pub(crate) fn date(&self, day: u32) -> NaiveDate {
        self.start + chrono::Days::new(u64::from(day))
    }

    /// The part of `from..=to` inside the window, as day indices.
    pub(crate) fn clamp(&self, from: NaiveDate, to: NaiveDate) -> Option<(u32, u32)> {
        let lo = self.index(from).max(0);
        let hi = self.index(to).min(i64::from(self.days) - 1);
        (lo <= hi).then_some((lo as u32, hi as u32))
    }

    pub(crate) fn sample_day(&self, season: Season, rng: &mut impl Rng, lo: u32, hi: u32) -> u32 {
        self.seasons[season as usize].sample_in(rng, lo as usize, hi as usize) as u32
    }

    /// Seconds after midnight drawn from an hour profile.
    pub(crate) fn sample_secs(&self, hours: Hours, rng: &mut impl Rng) -> u32 {
        let h = self.hours[hours as usize].sample(rng) as u32;
        h * 3600 + rng.random_range(0..3600)
    }

    pub(crate) fn ts(&self, day: u32, secs: u32) -> Ts {
        (self.start_day + i64::from(day)) * SECS_PER_DAY + i64::from(secs)
    }

    /// A timestamp in days `lo..=hi` with the given rhythms.
    pub(crate) fn sample_ts(
        &self,
        season: Season,
        hours: Hours,
        rng: &mut impl Rng,
        lo: u32,
        hi: u32,
    ) -> Ts {
        let day = self.sample_day(season, rng, lo, hi);
        self.ts(day, self.sample_secs(hours, rng))
    }

    /// The day index of a timestamp.
    pub(crate) fn day_of(&self, ts: Ts) -> i64 {
        ts.div_euclid(SECS_PER_DAY) - self.start_day
    }

    /// Months from `from` to `to` as a fraction (30.44-day months).
    pub(crate) fn months_between(from: NaiveDate, to: NaiveDate) -> f64 {
        (to - from).num_days() as f64 / 30.44
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rng::{Stream, rng_for};

    fn d(y: i32, m: u32, day: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, day).unwrap()
    }

    #[test]
    fn civil_matches_chrono() {
        for date in [
            d(1970, 1, 1),
            d(2000, 2, 29),
            d(2026, 11, 30),
            d(1949, 12, 31),
            d(2100, 3, 1),
        ] {
            let (y, m, day) = civil(epoch_days(date));
            assert_eq!((y as i32, m, day), (date.year(), date.month(), date.day()));
        }
    }

    #[test]
    fn snapshots_are_the_last_twelve_month_ends() {
        let cal = Calendar::new(d(2024, 12, 1), d(2026, 11, 30));
        assert_eq!(cal.snapshots.len(), 12);
        assert_eq!(cal.snapshots[0], d(2025, 12, 31));
        assert_eq!(cal.snapshots[11], d(2026, 11, 30));
        let short = Calendar::new(d(2026, 9, 1), d(2026, 11, 30));
        assert_eq!(
            short.snapshots,
            vec![d(2026, 9, 30), d(2026, 10, 31), d(2026, 11, 30)]
        );
    }

    #[test]
    fn double_eleven_is_the_online_peak() {
        let cal = Calendar::new(d(2025, 1, 1), d(2025, 12, 31));
        let mut rng = rng_for(3, Stream::Unit, 0);
        let mut counts = vec![0u32; cal.days as usize];
        for _ in 0..50_000 {
            counts[cal.sample_day(Season::Online, &mut rng, 0, cal.days - 1) as usize] += 1;
        }
        let peak = counts
            .iter()
            .enumerate()
            .max_by_key(|(_, c)| **c)
            .unwrap()
            .0;
        assert_eq!(cal.date(peak as u32), d(2025, 11, 11));
    }
}
