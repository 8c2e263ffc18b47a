//! The plan: which units (households, businesses with their owners) make up the bank, which
//! customer numbers, persons and companies each one owns, and the few facts other units need
//! to refer to them. Drawn once, sequentially and cheaply, before the parallel generation.
//!
//! A unit's *skeleton* — who is in it, born when, living where — comes from its own random
//! stream and is drawn again identically during generation, so the plan stores only indices.

use std::collections::{HashMap, HashSet};
use std::ops::Range;

use chrono::{Datelike, Days, NaiveDate};
use portrait_types::Gender;
use rand::Rng;

use crate::calendar::epoch_days;
use crate::places::{self, RegionId};
use crate::rng::{RngExt, Stream, rng_for};

/// A person's place in the family of a unit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Role {
    /// 户主 — the head: the husband of a couple, a single parent, a person living alone.
    Head,
    /// 配偶 — the head's wife.
    Spouse,
    /// 子女 — a child of the head (and of the spouse, when there is one).
    Child,
    /// 父母 — a parent of the head living with or near the family.
    Elder,
}

/// Kind of identity document.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum IdKind {
    Resident,
    Passport,
    Other,
}

/// The core facts of one person, fixed by the skeleton stream.
#[derive(Debug, Clone)]
pub(crate) struct MemberSkel {
    pub role: Role,
    pub gender: Gender,
    pub birth: NaiveDate,
    pub id_region: RegionId,
    pub id_kind: IdKind,
    /// 顺序码 of the resident ID (odd for men); unique together with region and birth date.
    pub seq: u16,
    /// How many customer numbers the person holds (1 for most, 2–3 for duplicates).
    pub numbers: u8,
    /// Lives at an address of their own (adult children, some grandparents).
    pub apart: bool,
}

/// The core facts of one company.
#[derive(Debug, Clone)]
pub(crate) struct CompanySkel {
    pub region: RegionId,
    pub numbers: u8,
}

/// The skeleton of a unit.
#[derive(Debug, Clone)]
pub(crate) struct Skeleton {
    pub home: RegionId,
    pub members: Vec<MemberSkel>,
    /// Empty for households; the first is the main company (the group's parent).
    pub companies: Vec<CompanySkel>,
}

impl Skeleton {
    pub(crate) fn numbers(&self) -> u32 {
        self.members
            .iter()
            .map(|m| u32::from(m.numbers))
            .sum::<u32>()
            + self
                .companies
                .iter()
                .map(|c| u32::from(c.numbers))
                .sum::<u32>()
    }

    pub(crate) fn is_group(&self) -> bool {
        self.companies.len() > 1
    }
}

/// Probability that an adult holds more than one customer number.
const DUPLICATE_ADULT: f64 = 0.155;
/// Share of units that are businesses with their owners' family.
const BUSINESS_UNITS: f64 = 0.14;

fn age_from(rng: &mut impl Rng, bands: &[(u32, u32, u32)]) -> u32 {
    let weights: Vec<f64> = bands.iter().map(|b| f64::from(b.2)).collect();
    let (lo, hi, _) = bands[rng.weighted_index(&weights)];
    rng.random_range(lo..=hi)
}

fn birth_for_age(rng: &mut impl Rng, end: NaiveDate, age: u32) -> NaiveDate {
    let days = u64::from(age) * 365 + u64::from(age / 4) + rng.random_range(0..365);
    end.checked_sub_days(Days::new(days))
        .expect("birth within range")
}

struct Builder<'a, R: Rng> {
    rng: &'a mut R,
    end: NaiveDate,
    home: RegionId,
    members: Vec<MemberSkel>,
}

impl<R: Rng> Builder<'_, R> {
    fn id_region_native(&mut self) -> RegionId {
        if self.rng.chance(0.3) {
            places::same_city(self.rng, self.home)
        } else {
            self.home
        }
    }

    fn id_region_adult(&mut self) -> RegionId {
        let migrant = match places::region(self.home).tier() {
            1 => 0.42,
            2 => 0.30,
            _ => 0.12,
        };
        if self.rng.chance(migrant) {
            places::origin(self.rng, self.home)
        } else {
            self.id_region_native()
        }
    }

    fn push(&mut self, role: Role, gender: Gender, age: u32, id_region: RegionId) -> usize {
        let rng = &mut *self.rng;
        let birth = birth_for_age(rng, self.end, age);
        let adult = age >= 18;
        let id_kind = if !adult {
            IdKind::Resident
        } else {
            rng.weighted(&[
                (IdKind::Resident, 965),
                (IdKind::Passport, 25),
                (IdKind::Other, 10),
            ])
        };
        let seq = rng.random_range(0..500u16) * 2 + u16::from(gender == Gender::Male);
        let dup = if adult { DUPLICATE_ADULT } else { 0.02 };
        let numbers = if rng.chance(dup) {
            if adult && rng.chance(0.25) { 3 } else { 2 }
        } else {
            1
        };
        self.members.push(MemberSkel {
            role,
            gender,
            birth,
            id_region,
            id_kind,
            seq,
            numbers,
            apart: false,
        });
        self.members.len() - 1
    }

    fn couple(&mut self, husband_age: u32) -> u32 {
        let id = self.id_region_adult();
        self.push(Role::Head, Gender::Male, husband_age, id);
        let wife_age = husband_age
            .saturating_sub(self.rng.random_range(0..=5))
            .max(20);
        let id = self.id_region_adult();
        self.push(Role::Spouse, Gender::Female, wife_age, id);
        wife_age
    }

    fn children(&mut self, mother_age: u32, count: u32) {
        let mut age = mother_age as i64 - self.rng.random_range(22..=36);
        for _ in 0..count {
            if age < 0 {
                break;
            }
            let a = age as u32;
            // Minors hold accounts less often than adults.
            if a >= 16 || (a >= 1 && self.rng.chance(0.35)) {
                let gender = if self.rng.chance(0.515) {
                    Gender::Male
                } else {
                    Gender::Female
                };
                let id = if self.rng.chance(0.85) {
                    self.id_region_native()
                } else {
                    self.members[0].id_region
                };
                let i = self.push(Role::Child, gender, a, id);
                self.members[i].apart = a >= 25 && self.rng.chance(0.5);
            }
            age -= self.rng.random_range(1..=8);
        }
    }

    fn elder(&mut self, head_age: u32) {
        let age = head_age + self.rng.random_range(24..=34);
        if age > 95 {
            return;
        }
        let gender = if self.rng.chance(0.4) {
            Gender::Male
        } else {
            Gender::Female
        };
        let id = self.members[0].id_region;
        let i = self.push(Role::Elder, gender, age, id);
        self.members[i].apart = self.rng.chance(0.4);
    }

    fn single(&mut self, age: u32, gender: Gender) {
        let id = self.id_region_adult();
        self.push(Role::Head, gender, age, id);
    }
}

/// Draws the skeleton of unit `unit`. A `forced` unit is a single person with one number,
/// used to land exactly on the requested number of customers.
pub(crate) fn skeleton(seed: u64, unit: u32, end: NaiveDate, forced: bool) -> Skeleton {
    let mut rng = rng_for(seed, Stream::Skeleton, u64::from(unit));
    let home = places::residence(&mut rng);
    let mut b = Builder {
        rng: &mut rng,
        end,
        home,
        members: Vec::new(),
    };
    let random_gender = |r: &mut rand_chacha::ChaCha8Rng| {
        if r.chance(0.5) {
            Gender::Male
        } else {
            Gender::Female
        }
    };
    if forced {
        let age = age_from(
            b.rng,
            &[(20, 29, 30), (30, 44, 35), (45, 59, 22), (60, 80, 13)],
        );
        let g = random_gender(b.rng);
        b.single(age, g);
        b.members[0].numbers = 1;
        return Skeleton {
            home,
            members: b.members,
            companies: Vec::new(),
        };
    }
    let business = b.rng.chance(BUSINESS_UNITS);
    if business {
        let age = b.rng.random_range(30..=64);
        if b.rng.chance(0.78) {
            let wife = b.couple(age);
            if b.rng.chance(0.55) {
                let n = b.rng.random_range(1..=2);
                b.children(wife, n);
            }
        } else {
            let g = if b.rng.chance(0.8) {
                Gender::Male
            } else {
                Gender::Female
            };
            b.single(age, g);
        }
        let count = if b.rng.chance(0.06) {
            b.rng.random_range(3..=7)
        } else {
            1
        };
        let companies = (0..count)
            .map(|i| {
                let region = if i == 0 || b.rng.chance(0.6) {
                    home
                } else {
                    places::residence(b.rng)
                };
                CompanySkel {
                    region,
                    numbers: if b.rng.chance(0.06) { 2 } else { 1 },
                }
            })
            .collect();
        return Skeleton {
            home,
            members: b.members,
            companies,
        };
    }
    match b.rng.random_range(0..100) {
        0..30 => {
            let age = age_from(
                b.rng,
                &[
                    (20, 29, 32),
                    (30, 39, 24),
                    (40, 49, 14),
                    (50, 59, 12),
                    (60, 69, 10),
                    (70, 88, 8),
                ],
            );
            let g = random_gender(b.rng);
            b.single(age, g);
        }
        30..52 => {
            let age = age_from(
                b.rng,
                &[
                    (24, 29, 16),
                    (30, 39, 26),
                    (40, 49, 20),
                    (50, 59, 18),
                    (60, 69, 13),
                    (70, 85, 7),
                ],
            );
            b.couple(age);
        }
        52..80 => {
            let age = age_from(
                b.rng,
                &[(28, 34, 20), (35, 44, 35), (45, 54, 30), (55, 64, 15)],
            );
            let wife = b.couple(age);
            let n = if b.rng.chance(0.6) { 1 } else { 2 };
            b.children(wife, n);
        }
        80..88 => {
            let age = age_from(b.rng, &[(30, 39, 45), (40, 49, 40), (50, 58, 15)]);
            let wife = b.couple(age);
            if b.rng.chance(0.6) {
                b.children(wife, 1);
            }
            b.elder(age);
        }
        88..93 => {
            let age = b.rng.random_range(30..=55);
            let g = if b.rng.chance(0.7) {
                Gender::Female
            } else {
                Gender::Male
            };
            b.single(age, g);
            let n = b.rng.random_range(1..=2);
            b.children(age, n);
        }
        _ => {
            let age = b.rng.random_range(60..=82);
            let wife = b.couple(age);
            b.children(wife, 1);
        }
    }
    Skeleton {
        home,
        members: b.members,
        companies: Vec::new(),
    }
}

/// What the plan remembers of a unit.
#[derive(Debug, Clone, Copy)]
pub(crate) struct UnitPlan {
    pub first_number: u32,
    pub first_person: u32,
    pub first_company: u32,
    pub forced: bool,
}

/// What other units need to know of a company: its customer number and where it is.
#[derive(Debug, Clone, Copy)]
pub(crate) struct CompanyRef {
    pub unit: u32,
    pub pos: u8,
    pub group: bool,
    pub number: u32,
    pub region: RegionId,
    /// Position of the unit's trade name (字号) among the businesses of the main company's city:
    /// distinct positions give distinct trade names, so company names do not collide.
    pub trade_seq: u32,
}

/// The whole bank at the level of indices.
#[derive(Debug)]
pub(crate) struct Plan {
    /// One entry per unit plus a sentinel holding the totals.
    units: Vec<UnitPlan>,
    pub companies: Vec<CompanyRef>,
    /// Company indices by region, for employers near a person's home.
    pub companies_by_region: Vec<Vec<u32>>,
    /// Resident-ID sequence numbers moved to avoid two persons sharing an ID number.
    seq_overrides: HashMap<u32, u16>,
}

impl Plan {
    pub(crate) fn new(seed: u64, customers: u32, end: NaiveDate) -> Self {
        let mut units = Vec::new();
        let mut companies = Vec::new();
        let mut companies_by_region = vec![Vec::new(); places::REGIONS.len()];
        let mut ids: HashSet<u64> = HashSet::new();
        let mut seq_overrides = HashMap::new();
        let mut trades: HashMap<&'static str, u32> = HashMap::new();
        let (mut number, mut person) = (0u32, 0u32);
        let mut unit = 0u32;
        while number < customers {
            let mut sk = skeleton(seed, unit, end, false);
            let forced = sk.numbers() > customers - number;
            if forced {
                sk = skeleton(seed, unit, end, true);
            }
            let first_company = companies.len() as u32;
            units.push(UnitPlan {
                first_number: number,
                first_person: person,
                first_company,
                forced,
            });
            for m in &sk.members {
                if m.id_kind == IdKind::Resident {
                    let key = |seq: u16| {
                        let region: u64 = places::region(m.id_region).code.parse().expect("digits");
                        let day = (epoch_days(m.birth) + 100_000) as u64;
                        (region << 30) | (day << 10) | u64::from(seq)
                    };
                    let mut seq = m.seq;
                    while !ids.insert(key(seq)) {
                        seq = (seq + 2) % 1000;
                    }
                    if seq != m.seq {
                        seq_overrides.insert(person, seq);
                    }
                }
                number += u32::from(m.numbers);
                person += 1;
            }
            let trade_seq = match sk.companies.first() {
                Some(c) => {
                    let n = trades.entry(places::region(c.region).city).or_default();
                    *n += 1;
                    *n - 1
                }
                None => 0,
            };
            for (pos, c) in sk.companies.iter().enumerate() {
                companies_by_region[usize::from(c.region)].push(companies.len() as u32);
                let group = sk.is_group();
                companies.push(CompanyRef {
                    unit,
                    pos: pos as u8,
                    group,
                    number,
                    region: c.region,
                    trade_seq,
                });
                number += u32::from(c.numbers);
            }
            unit += 1;
        }
        units.push(UnitPlan {
            first_number: number,
            first_person: person,
            first_company: companies.len() as u32,
            forced: false,
        });
        Self {
            units,
            companies,
            companies_by_region,
            seq_overrides,
        }
    }

    pub(crate) fn unit_count(&self) -> u32 {
        (self.units.len() - 1) as u32
    }

    pub(crate) fn unit(&self, u: u32) -> UnitPlan {
        self.units[u as usize]
    }

    pub(crate) fn persons(&self) -> u32 {
        self.units[self.units.len() - 1].first_person
    }

    /// The skeleton of a unit as generated, with ID sequence numbers made unique.
    pub(crate) fn skeleton(&self, seed: u64, u: u32, end: NaiveDate) -> Skeleton {
        let up = self.unit(u);
        let mut sk = skeleton(seed, u, end, up.forced);
        for (i, m) in sk.members.iter_mut().enumerate() {
            if let Some(&seq) = self.seq_overrides.get(&(up.first_person + i as u32)) {
                m.seq = seq;
            }
        }
        sk
    }

    /// Consecutive unit ranges of at least `target` customer numbers each.
    pub(crate) fn chunks(&self, target: u32) -> Vec<Range<u32>> {
        let mut out = Vec::new();
        let mut start = 0;
        for u in 0..self.unit_count() {
            if self.unit(u + 1).first_number - self.unit(start).first_number >= target {
                out.push(start..u + 1);
                start = u + 1;
            }
        }
        if start < self.unit_count() {
            out.push(start..self.unit_count());
        }
        out
    }
}

/// Age in whole years on `on`.
pub(crate) fn age_on(birth: NaiveDate, on: NaiveDate) -> u32 {
    let mut age = on.year() - birth.year();
    if (on.month(), on.day()) < (birth.month(), birth.day()) {
        age -= 1;
    }
    age.max(0) as u32
}

#[cfg(test)]
mod tests {
    use super::*;

    fn end() -> NaiveDate {
        NaiveDate::from_ymd_opt(2026, 11, 30).unwrap()
    }

    #[test]
    fn plan_lands_exactly_on_the_customer_count() {
        for n in [1, 2, 7, 1000, 5003] {
            let plan = Plan::new(9, n, end());
            assert_eq!(plan.unit(plan.unit_count()).first_number, n);
            let chunks = plan.chunks(256);
            assert_eq!(chunks.first().unwrap().start, 0);
            assert_eq!(chunks.last().unwrap().end, plan.unit_count());
        }
    }

    #[test]
    fn skeletons_are_reproducible_and_plausible() {
        let plan = Plan::new(5, 20_000, end());
        let mut persons = 0;
        let mut dups = 0;
        let mut corporate_numbers = 0;
        for u in 0..plan.unit_count() {
            let a = plan.skeleton(5, u, end());
            let b = plan.skeleton(5, u, end());
            assert_eq!(a.members.len(), b.members.len());
            for m in &a.members {
                persons += 1;
                dups += usize::from(m.numbers > 1);
                assert!(m.birth <= end());
                assert_eq!(m.seq % 2 == 1, m.gender == Gender::Male);
            }
            corporate_numbers += a
                .companies
                .iter()
                .map(|c| c.numbers as usize)
                .sum::<usize>();
        }
        let dup_share = dups as f64 / persons as f64;
        assert!((0.10..0.20).contains(&dup_share), "{dup_share}");
        let corp_share = corporate_numbers as f64 / 20_000.0;
        assert!((0.05..0.09).contains(&corp_share), "{corp_share}");
        assert_eq!(plan.persons() as usize, persons);
    }

    #[test]
    fn age_counts_whole_years() {
        let b = NaiveDate::from_ymd_opt(1990, 12, 1).unwrap();
        assert_eq!(age_on(b, end()), 35);
        assert_eq!(age_on(b, NaiveDate::from_ymd_opt(2026, 12, 1).unwrap()), 36);
    }
}
