//! 营销活动 — eight campaigns of the last year, each reaching 10–30% of the customers who
//! consented to marketing through SMS, app push, phone or WeChat; response and conversion
//! follow how well the product fits the customer (interests, risk appetite, age, wealth).

use chrono::{Datelike, Days, Months, NaiveDate};
use rand::Rng;

use crate::World;
use crate::categories::Interest;
use crate::people::Person;
use crate::products::{self, Product};
use crate::rng::RngExt;
use crate::unit::Out;

/// A marketing campaign.
#[derive(Debug, Clone)]
pub(crate) struct Campaign {
    /// `C` + year + number, e.g. `C202601`.
    pub id: String,
    pub product: &'static Product,
    pub from: NaiveDate,
    pub to: NaiveDate,
    /// Share of consenting customers reached, before targeting.
    reach: f64,
    ages: (u32, u32),
    min_wealth: f64,
}

/// The campaign plan of the year.
struct Spec {
    product: &'static str,
    /// Months before the end month.
    back: u32,
    reach: f64,
    ages: (u32, u32),
    min_wealth: f64,
}

macro_rules! specs {
    ($(($product:literal, $back:literal, $reach:literal, $ages:expr, $min:literal)),* $(,)?) => {
        [$(Spec { product: $product, back: $back, reach: $reach, ages: $ages, min_wealth: $min }),*]
    };
}

#[rustfmt::skip]
const CAMPAIGNS: [Spec; 8] = specs![
    ("P011", 10, 0.25, (25, 75), 50_000.0), // 新春理财节
    ("P018", 9, 0.20, (25, 55), 10_000.0),  // 基金定投季
    ("P025", 8, 0.19, (35, 62), 30_000.0),  // 个人养老金专题
    ("P026", 7, 0.17, (28, 50), 20_000.0),  // 少儿教育金
    ("P036", 5, 0.22, (22, 50), 0.0),       // 618消费分期
    ("P029", 4, 0.17, (25, 65), 20_000.0),  // 积存金开户礼
    ("P043", 3, 0.20, (22, 55), 0.0),       // 旅行联名卡首刷礼
    ("P041", 0, 0.26, (20, 60), 0.0),       // 双十一信用卡满减
];

/// The campaigns that fall inside the data window.
pub(crate) fn catalogue(start: NaiveDate, end: NaiveDate) -> Vec<Campaign> {
    CAMPAIGNS
        .iter()
        .enumerate()
        .filter_map(|(i, spec)| {
            let month = end
                .with_day(1)?
                .checked_sub_months(Months::new(spec.back))?;
            let last = month.checked_add_months(Months::new(1))?.pred_opt()?;
            let from = month.max(start);
            let to = last.min(end - Days::new(1)).min(month + Days::new(19));
            (from <= to).then(|| Campaign {
                id: format!("C{}{:02}", end.year(), i + 1),
                product: products::product(spec.product),
                from,
                to,
                reach: spec.reach,
                ages: spec.ages,
                min_wealth: spec.min_wealth,
            })
        })
        .collect()
}

/// One customer number reached by a campaign.
#[derive(Debug, Clone)]
pub(crate) struct Contact {
    pub campaign: usize,
    pub number: u32,
    pub channel: &'static str,
    pub date: NaiveDate,
    pub responded: bool,
    pub converted: bool,
}

fn fit(p: &Person, product: &Product) -> f64 {
    let mut f = 0.0;
    if product.fits.iter().any(|i| p.traits.interests.contains(i)) {
        f += 0.55;
    }
    if product.risk <= p.traits.tolerance() {
        f += 0.25;
    }
    if product.fits.contains(&Interest::Kids) && p.dependents > 0 {
        f += 0.2;
    }
    f64::min(f + 0.1 * p.traits.digital, 1.0)
}

/// The campaign contacts of a person's numbers.
pub(crate) fn person(world: &World, rng: &mut impl Rng, p: &Person) -> Vec<Contact> {
    let mut out = Vec::new();
    for (ci, c) in world.campaigns.iter().enumerate() {
        if p.age < 18 {
            continue;
        }
        // Targeting favours the campaign's segment without excluding the rest.
        let segment = (c.ages.0..=c.ages.1).contains(&p.age) && p.traits.wealth >= c.min_wealth;
        let target = if segment { 1.25 } else { 0.45 };
        let f = fit(p, c.product);
        for n in p
            .numbers
            .iter()
            .filter(|n| n.consent && n.open < c.from && n.status != "销户")
        {
            if !rng.chance(c.reach * target * (0.6 + 0.8 * f)) {
                continue;
            }
            let date = super::date_between(rng, c.from, c.to);
            let channel = if n.mobile_banking && rng.chance(0.4) {
                "app_push"
            } else if p.traits.wealth > 500_000.0 && rng.chance(0.4) {
                "phone"
            } else {
                rng.weighted(&[("sms", 55), ("wechat", 30), ("phone", 15)])
            };
            let active = p.traits.active_on(date);
            let responded = active && rng.chance(0.02 + 0.13 * f);
            let converted = responded && rng.chance(0.45);
            out.push(Contact {
                campaign: ci,
                number: n.index,
                channel,
                date,
                responded,
                converted,
            });
        }
    }
    out
}

pub(crate) fn write(world: &World, contacts: &[Contact], out: &mut Out) {
    let t = &mut out.campaign_response;
    for c in contacts {
        t.text(&world.campaigns[c.campaign].id);
        t.digits("", world.keys.cust_no(c.number), 10);
        t.text(c.channel);
        t.date(c.date);
        t.bool(c.responded);
        t.bool(c.converted);
        t.end_row();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn eight_campaigns_in_the_default_window() {
        let end = NaiveDate::from_ymd_opt(2026, 11, 30).unwrap();
        let start = NaiveDate::from_ymd_opt(2024, 12, 1).unwrap();
        let cs = catalogue(start, end);
        assert_eq!(cs.len(), 8);
        assert_eq!(cs[0].id, "C202601");
        assert!(cs.iter().all(|c| c.from <= c.to && c.to < end));
        assert_eq!(cs[7].from, NaiveDate::from_ymd_opt(2026, 11, 1).unwrap());
    }
}
