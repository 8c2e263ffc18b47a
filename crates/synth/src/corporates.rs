//! 对公客户 — companies: names `城市 + 字号 + 行业 + 有限公司`, valid unified social credit
//! codes (统一社会信用代码), size, registration type, capital, corporate groups (集团客户) and
//! the duplicate records a company leaves behind (有限公司 vs 有限责任公司, the old 组织机构代码).
//!
//! A company's profile is a pure function of the seed and its index, so a person in another
//! unit can name their employer without generating the company's unit.

use chrono::{Datelike, Days, NaiveDate};
use portrait_types::Uscc;
use portrait_types::model::{CUST_TYPE, ID_TYPE};
use rand::Rng;

use crate::World;
use crate::jobs::{INDUSTRIES, Industry, TRADE_CHARS};
use crate::places::{self, Address, AddressVariant, RegionId};
use crate::plan::CompanyRef;
use crate::rng::{RngExt, Stream, rng_for, splitmix64};
use crate::writer::code;

/// A company of the bank.
#[derive(Debug, Clone)]
pub(crate) struct Company {
    /// Global company index, the `true_id` of the ground truth.
    pub index: u32,
    pub plan: CompanyRef,
    pub name: String,
    pub industry: &'static Industry,
    /// 企业规模 — 大型/中型/小型/微型企业.
    pub size: &'static str,
    /// 登记注册类型.
    pub registration: &'static str,
    pub capital_cents: i64,
    /// 成立日期.
    pub founded: NaiveDate,
    pub uscc: Uscc,
    /// 组织机构代码 (the middle of the credit code).
    pub org_code: String,
    pub address: Address,
    pub phone: String,
    pub email: Option<String>,
    pub supply_chain: bool,
    pub interbank: bool,
    /// Deposits and wealth products at the bank, CNY.
    pub wealth: f64,
    pub activity: f64,
}

impl Company {
    /// 集团客户号 of a group member.
    pub(crate) fn group_id(&self) -> Option<String> {
        self.plan.group.then(|| format!("JT{:08}", self.plan.unit))
    }
}

fn city_key(city: &str) -> u64 {
    city.bytes()
        .fold(0x5151, |h, b| splitmix64(h ^ u64::from(b)))
}

/// 字号 — a trade name unique among the `seq`-th businesses of a city: two characters while
/// they last (3,080 per city), three after that.
fn unique_trade(city: &str, seq: u32) -> (String, String) {
    let k = TRADE_CHARS.len() as u64;
    let off = city_key(city);
    let skip = |x: u64, not: u64| if x >= not { x + 1 } else { x };
    let pairs = k * (k - 1);
    let seq = u64::from(seq);
    let idx: Vec<u64> = if seq < pairs {
        let i = (seq * 1999 + off % pairs) % pairs;
        let a = i / (k - 1);
        vec![a, skip(i % (k - 1), a)]
    } else {
        let n = pairs * (k - 1);
        let i = ((seq - pairs) * 7919 + off % n) % n;
        let a = i / ((k - 1) * (k - 1));
        let b = skip(i / (k - 1) % (k - 1), a);
        vec![a, b, skip(i % (k - 1), b)]
    };
    let text = idx.iter().map(|&i| TRADE_CHARS[i as usize].0).collect();
    let py = idx.iter().map(|&i| TRADE_CHARS[i as usize].1).collect();
    (text, py)
}

/// Industries and name words of a group's members, distinct within the group.
fn group_lines(seed: u64, unit: u32) -> Vec<(&'static Industry, &'static str)> {
    let mut rng = rng_for(seed, Stream::Group, u64::from(unit));
    let mut out: Vec<(&'static Industry, &'static str)> = Vec::new();
    while out.len() < 8 {
        let ind = rng.pick_ref(INDUSTRIES);
        let word = rng.pick(ind.words);
        if out.iter().all(|(_, w)| *w != word) {
            out.push((ind, word));
        }
    }
    out
}

/// The profile of company `index` (without its customer numbers).
pub(crate) fn profile(world: &World, index: u32) -> Company {
    let plan = world.plan.companies[index as usize];
    let parent = world.plan.companies[(index - u32::from(plan.pos)) as usize];
    let mut rng = rng_for(world.seed, Stream::Company, u64::from(index));
    let region = places::region(plan.region);
    let (trade, trade_pinyin) = unique_trade(places::region(parent.region).city, plan.trade_seq);
    let city = if rng.chance(0.6) {
        region.city
    } else {
        region.city_short()
    };
    let (industry, name, registration, size) = if plan.group {
        let (ind, word) = group_lines(world.seed, plan.unit)[usize::from(plan.pos)];
        if plan.pos == 0 {
            let name = if rng.chance(0.5) {
                format!("{}{trade}控股集团有限公司", region.province().short)
            } else {
                format!("{city}{trade}集团有限公司")
            };
            let size = rng.weighted(&[("大型企业", 45), ("中型企业", 55)]);
            (ind, name, "有限责任公司", size)
        } else {
            let size = rng.weighted(&[
                ("大型企业", 5),
                ("中型企业", 30),
                ("小型企业", 45),
                ("微型企业", 20),
            ]);
            (
                ind,
                format!("{city}{trade}{word}有限公司"),
                "有限责任公司",
                size,
            )
        }
    } else {
        let ind = rng.pick_ref(INDUSTRIES);
        let word = rng.pick(ind.words);
        let size = rng.weighted(&[
            ("大型企业", 2),
            ("中型企业", 10),
            ("小型企业", 45),
            ("微型企业", 43),
        ]);
        match rng.random_range(0..100) {
            0..76 => {
                let reg = if rng.chance(0.4) {
                    "私营有限责任公司"
                } else {
                    "有限责任公司"
                };
                (ind, format!("{city}{trade}{word}有限公司"), reg, size)
            }
            76..88 => (
                ind,
                format!("{city}{trade}{word}有限责任公司"),
                "有限责任公司",
                size,
            ),
            88..95 => (
                ind,
                format!("{city}{trade}{word}股份有限公司"),
                "股份有限公司",
                size,
            ),
            _ => (
                ind,
                format!("{trade}（{}）{word}有限公司", region.city_short()),
                "外商投资企业",
                size,
            ),
        }
    };
    let capital_wan: f64 = match size {
        "大型企业" => rng.lognormal(50_000.0, 0.9),
        "中型企业" => rng.lognormal(5_000.0, 0.8),
        "小型企业" => rng.lognormal(500.0, 0.8),
        _ => rng.lognormal(50.0, 0.7),
    };
    let capital_cents = (capital_wan.max(3.0).round() as i64) * 10_000 * 100;
    let earliest = NaiveDate::from_ymd_opt(1993, 1, 1).expect("valid");
    let latest = world.end - Days::new(200);
    let span = (latest - earliest).num_days().max(1) as u64;
    // Older companies are larger: parents first, then by size.
    let age_bias = if plan.pos == 0 && plan.group {
        0.3
    } else {
        1.0
    };
    let founded = earliest
        + Days::new((span as f64 * (1.0 - rng.random::<f64>().powf(age_bias * 1.5))) as u64);
    let reform = NaiveDate::from_ymd_opt(2015, 10, 1).expect("valid");
    let org_code = if founded < reform {
        world.keys.org_code(index)
    } else {
        world.keys.org_code_new(index)
    };
    let uscc = Uscc::from_body(&format!("91{}{org_code}", region.code));
    let address = Address::office(&mut rng, plan.region);
    let phone = places::landline(&mut rng, region);
    let email = rng.chance(0.4).then(|| {
        let user = rng.pick(&["info", "service", "hr", "finance", "admin", "contact"]);
        let tld = rng.pick(&[".com", ".com.cn", ".cn"]);
        format!("{user}@{trade_pinyin}{tld}")
    });
    let wealth = match size {
        "大型企业" => rng.lognormal(30_000_000.0, 1.0),
        "中型企业" => rng.lognormal(4_000_000.0, 1.0),
        "小型企业" => rng.lognormal(500_000.0, 1.0),
        _ => rng.lognormal(80_000.0, 1.0),
    };
    Company {
        index,
        plan,
        interbank: industry.name == "金融业" && rng.chance(0.5),
        supply_chain: rng.chance(0.15),
        name,
        industry,
        size,
        registration,
        capital_cents,
        founded,
        uscc,
        org_code,
        address,
        phone,
        email,
        wealth,
        activity: rng.lognormal(1.0, 0.7),
    }
}

/// One customer number of a company and how its record deviates.
#[derive(Debug, Clone)]
pub(crate) struct CorpNumber {
    pub index: u32,
    pub open: NaiveDate,
    pub branch: RegionId,
    pub manager: u32,
    pub name: String,
    pub address: String,
    /// `None`: no credit code on file; `Some(false)`: the old organisation code instead.
    pub uscc: Option<bool>,
    pub noise: Vec<&'static str>,
    pub share: f64,
    pub mobile_banking: bool,
    pub consent: bool,
    pub assets_cents: i64,
}

fn name_variant(rng: &mut impl Rng, c: &Company) -> Option<String> {
    let n = &c.name;
    let region = places::region(c.plan.region);
    let mut options = Vec::new();
    if let Some(stem) = n.strip_suffix("有限责任公司") {
        options.push(format!("{stem}有限公司"));
    } else if let Some(stem) = n.strip_suffix("股份有限公司") {
        options.push(format!("{stem}有限公司"));
    } else if let Some(stem) = n.strip_suffix("有限公司") {
        options.push(format!("{stem}有限责任公司"));
    }
    if let Some(rest) = n.strip_prefix(region.city) {
        options.push(format!("{}{rest}", region.city_short()));
    } else if let Some(rest) = n.strip_prefix(region.city_short()) {
        options.push(format!("{}{rest}", region.city));
    }
    (!options.is_empty()).then(|| rng.pick_ref(&options).clone())
}

/// The company's customer numbers, the first one clean.
pub(crate) fn numbers(
    world: &World,
    rng: &mut impl Rng,
    c: &Company,
    count: u8,
) -> Vec<CorpNumber> {
    let open_lo = c.founded + Days::new(10);
    let open_hi = (world.end - Days::new(14)).max(open_lo);
    let span = (open_hi - open_lo).num_days().max(0) as u64;
    (0..count)
        .map(|k| {
            let open = open_lo + Days::new(rng.random_range(0..=span));
            let mut n = CorpNumber {
                index: c.plan.number + u32::from(k),
                open: if k == 0 {
                    open.min(open_lo + Days::new(span / 3))
                } else {
                    open
                },
                branch: if rng.chance(0.8) {
                    c.plan.region
                } else {
                    places::same_city(rng, c.plan.region)
                },
                manager: (u32::from(c.plan.region) + 101) * 1000 + rng.random_range(61..=99),
                name: c.name.clone(),
                address: c.address.render(AddressVariant::default()),
                uscc: Some(true),
                noise: Vec::new(),
                share: if k == 0 { 1.0 } else { rng.uniform(0.1, 0.5) },
                mobile_banking: rng.chance(0.4),
                consent: rng.chance(0.6),
                assets_cents: 0,
            };
            if k > 0 {
                if let Some(v) = name_variant(rng, c).filter(|_| rng.chance(0.7)) {
                    n.name = v;
                    n.noise.push("name_variant");
                }
                match rng.random_range(0..100) {
                    0..25 => {
                        n.uscc = None;
                        n.noise.push("uscc_missing");
                    }
                    25..40 => {
                        n.uscc = Some(false);
                        n.noise.push("org_code");
                    }
                    _ => {}
                }
                if rng.chance(0.3) {
                    n.address = c.address.render(AddressVariant {
                        hash_sign: true,
                        ..Default::default()
                    });
                    n.noise.push("address_variant");
                }
            }
            n
        })
        .collect()
}

/// Writes a company's customer rows; `legal_rep` is the name of its legal representative and
/// `rep_mobile` their mobile, which small companies often leave as the contact number.
pub(crate) fn write_customers(
    world: &World,
    c: &Company,
    numbers: &[CorpNumber],
    legal_rep: &str,
    rep_mobile: &str,
    out: &mut crate::unit::Out,
) {
    let t = &mut out.customer;
    let reg = places::region(c.plan.region);
    let group_id = c.group_id();
    for (k, n) in numbers.iter().enumerate() {
        t.digits("", world.keys.cust_no(n.index), 10);
        t.code(code(CUST_TYPE, "corporate"));
        t.text(&n.name);
        for _ in 0..5 {
            t.null(); // surname, given name, gender, birth date, ethnicity
        }
        t.null(); // hukou
        for _ in 0..3 {
            t.null(); // education, degree, occupation
        }
        t.text(c.industry.name);
        for _ in 0..7 {
            t.null(); // employer, income band, dependents, marital status, employee, property, car
        }
        let small = matches!(c.size, "小型企业" | "微型企业");
        t.opt_text((small && (c.index + k as u32).is_multiple_of(3)).then_some(rep_mobile));
        t.text(&c.phone);
        t.opt_text(c.email.as_deref());
        t.text(reg.province().name);
        t.text(reg.city);
        t.text(reg.district);
        t.text(&n.address);
        t.text(reg.postcode);
        match n.uscc {
            Some(true) => {
                t.code(code(ID_TYPE, "uscc"));
                t.text(c.uscc.as_str());
            }
            Some(false) => {
                t.code(code(ID_TYPE, "other"));
                t.text(&format!("{}-{}", &c.org_code[..8], &c.org_code[8..]));
            }
            None => {
                t.null();
                t.null();
            }
        }
        t.text(c.size);
        t.text(c.registration);
        t.text(c.industry.code);
        t.opt_text(n.uscc.filter(|u| *u).map(|_| c.uscc.as_str()));
        t.opt_text(
            group_id
                .as_deref()
                .filter(|_| k == 0 || c.index.is_multiple_of(2)),
        );
        t.bool(c.supply_chain);
        t.bool(c.interbank);
        t.text(legal_rep);
        t.amount(c.capital_cents);
        t.date(n.open);
        t.text(&places::region(n.branch).branch());
        t.text("柜面");
        t.digits("", u64::from(n.manager), 6);
        t.text("正常");
        t.text(match c.size {
            "大型企业" => "AAA",
            "中型企业" => "AA",
            _ if c.founded.year() > world.end.year() - 3 => "BBB",
            _ => "A",
        });
        t.bool(n.mobile_banking);
        t.bool(true);
        t.bool(k == 0 && c.index.is_multiple_of(5));
        t.bool(n.consent);
        t.amount(n.assets_cents);
        t.end_row();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn trade_names_are_unique_within_a_city() {
        let mut seen = HashSet::new();
        for seq in 0..6_000 {
            let (t, py) = unique_trade("上海市", seq);
            assert!(seen.insert(t.clone()), "{seq}: {t}");
            assert!(py.is_ascii());
            let n = t.chars().count();
            assert_eq!(n, if seq < 3_080 { 2 } else { 3 });
        }
    }
}
