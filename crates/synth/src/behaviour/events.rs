//! 行为事件 — app and web sessions of customers with mobile or online banking: where they came
//! from, what they viewed and searched, and the browse → click → apply → buy funnel. Every
//! `buy` belongs to a holding opened that day; browsing follows interests and held products.

use chrono::{Days, Months, NaiveDate};
use portrait_types::model::{EVENT_TYPE, PLATFORM};
use rand::Rng;

use super::Holding;
use crate::World;
use crate::calendar::{Hours, Season, Ts};
use crate::categories::Interest;
use crate::keys::PER_NUMBER_CAP;
use crate::people::{Number, Person};
use crate::products::{PRODUCTS, Product, ProductType};
use crate::rng::RngExt;
use crate::unit::Out;
use crate::writer::code;

/// App sessions per customer-month at full digital affinity and average activity.
const SESSIONS_MONTHLY: f64 = 0.42;

#[rustfmt::skip]
const LIFE: [&str; 14] = [
    "/life/wine", "/life/travel", "/life/sports", "/life/luxury", "/life/education", "/life/dining",
    "/life/groceries", "/life/entertainment", "/life/health", "/life/auto", "/life/home", "/life/kids",
    "/life/beauty", "/life/electronics",
];
#[rustfmt::skip]
const DETAIL: [&str; 8] = [
    "/deposit/detail", "/wealth/detail", "/fund/detail", "/insurance/detail", "/gold/detail", "/trust/detail",
    "/loan/detail", "/card/detail",
];
#[rustfmt::skip]
const APPLY: [&str; 8] = [
    "/deposit/apply", "/wealth/apply", "/fund/apply", "/insurance/apply", "/gold/apply", "/trust/apply",
    "/loan/apply", "/card/apply",
];
#[rustfmt::skip]
const BUY: [&str; 8] = [
    "/deposit/buy", "/wealth/buy", "/fund/buy", "/insurance/buy", "/gold/buy", "/trust/buy", "/loan/buy",
    "/card/buy",
];

#[derive(Debug, Clone, Copy)]
enum Kind {
    View = 0,
    Search = 1,
    Click = 2,
    Apply = 3,
    Buy = 4,
}

#[derive(Debug, Clone)]
struct Ev {
    ts: Ts,
    mobile: bool,
    source: &'static str,
    kind: Kind,
    page: &'static str,
    product: Option<&'static str>,
}

struct Session<'e> {
    events: &'e mut Vec<Ev>,
    ts: Ts,
    mobile: bool,
    source: &'static str,
}

impl Session<'_> {
    fn add(
        &mut self,
        rng: &mut impl Rng,
        kind: Kind,
        page: &'static str,
        product: Option<&'static str>,
    ) {
        self.events.push(Ev {
            ts: self.ts,
            mobile: self.mobile,
            source: self.source,
            kind,
            page,
            product,
        });
        self.ts += rng.random_range(4..150);
    }
}

fn source(rng: &mut impl Rng, first: bool, mobile: bool) -> &'static str {
    if first {
        return if mobile {
            rng.weighted(&[("app_store", 70), ("direct", 30)])
        } else {
            rng.weighted(&[("search", 60), ("direct", 40)])
        };
    }
    rng.weighted(&[
        ("direct", 50),
        ("push", 15),
        ("wechat", 12),
        ("sms", 8),
        ("search", 8),
        ("app_store", 2),
    ])
}

fn browse_product(rng: &mut impl Rng, p: &Person, held: &[&'static Product]) -> &'static Product {
    let r = rng.random::<f64>();
    if !held.is_empty() && r < 0.35 {
        return rng.pick(held);
    }
    let tol = p.traits.tolerance();
    let fits: Vec<&'static Product> = PRODUCTS
        .iter()
        .filter(|x| !x.corporate && x.fits.iter().any(|f| p.traits.interests.contains(f)))
        .collect();
    if !fits.is_empty() && r < 0.65 {
        return rng.pick(&fits);
    }
    let suitable: Vec<&'static Product> = PRODUCTS
        .iter()
        .filter(|x| !x.corporate && x.risk <= tol + 1)
        .collect();
    rng.pick(&suitable)
}

fn digital_window(world: &World, p: &Person, n: &Number) -> Option<(u32, u32)> {
    if !(n.mobile_banking || n.online_banking) {
        return None;
    }
    let until = p.traits.churn.map_or(world.end, |c| c - Days::new(1));
    let until = if n.status == "睡眠" {
        until.min(world.end.checked_sub_months(Months::new(13))?)
    } else {
        until
    };
    world
        .cal
        .clamp(n.open.max(NaiveDate::from_ymd_opt(2011, 1, 1)?), until)
}

/// Generates and writes the events of a person's numbers.
pub(crate) fn person(
    world: &World,
    rng: &mut impl Rng,
    p: &Person,
    holdings: &[Holding],
    out: &mut Out,
) {
    for n in &p.numbers {
        let Some((lo, hi)) = digital_window(world, p, n) else {
            continue;
        };
        let mut events: Vec<Ev> = Vec::new();
        let held: Vec<&'static Product> = holdings
            .iter()
            .filter(|h| h.number == n.index)
            .map(|h| h.product)
            .collect();
        let months = f64::from(hi - lo + 1) / 30.44;
        let lambda = SESSIONS_MONTHLY
            * world.txn_scale
            * p.traits.digital
            * p.traits.activity.sqrt()
            * n.share.sqrt()
            * months;
        let sessions = rng.poisson(lambda).min(2_000);
        let mobile_pref = if n.mobile_banking && n.online_banking {
            0.8
        } else if n.mobile_banking {
            1.0
        } else {
            0.0
        };
        for s in 0..sessions {
            let ts = world
                .cal
                .sample_ts(Season::Online, Hours::Evening, rng, lo, hi);
            // Logins fade with the rest of a leaver's activity.
            let k = p
                .traits
                .intensity(world.cal.date(world.cal.day_of(ts).max(0) as u32));
            if k < 1.0 && !rng.chance(k) {
                continue;
            }
            let mobile = rng.chance(mobile_pref);
            let src = source(rng, s == 0, mobile);
            let mut sess = Session {
                events: &mut events,
                ts,
                mobile,
                source: src,
            };
            sess.add(rng, Kind::View, "/home", None);
            if rng.chance(0.3) {
                sess.add(rng, Kind::Search, "/search", None);
            }
            if rng.chance(0.3) {
                let i = rng.pick(&p.traits.interests);
                sess.add(
                    rng,
                    Kind::View,
                    LIFE[Interest::ALL.iter().position(|x| *x == i).unwrap_or(0)],
                    None,
                );
            }
            let views = rng.random_range(1..=3);
            let mut last = None;
            for _ in 0..views {
                let prod = browse_product(rng, p, &held);
                sess.add(rng, Kind::View, DETAIL[prod.kind as usize], Some(prod.id));
                last = Some(prod);
            }
            if let Some(prod) = last
                && rng.chance(0.45)
            {
                sess.add(rng, Kind::Click, DETAIL[prod.kind as usize], Some(prod.id));
                if rng.chance(0.15) {
                    sess.add(rng, Kind::Apply, APPLY[prod.kind as usize], Some(prod.id));
                }
            }
        }
        // Purchases made online: the session that ends in a `buy` (or an application).
        for h in holdings.iter().filter(|h| h.number == n.index && h.digital) {
            let day = world.cal.index(h.open);
            if day < i64::from(lo) || day > i64::from(hi) {
                continue;
            }
            let ts = world
                .cal
                .ts(day as u32, world.cal.sample_secs(Hours::Evening, rng));
            let mobile = rng.chance(mobile_pref);
            let src = rng.weighted(&[("direct", 55), ("push", 20), ("sms", 10), ("wechat", 15)]);
            let mut sess = Session {
                events: &mut events,
                ts,
                mobile,
                source: src,
            };
            let k = h.product.kind as usize;
            sess.add(rng, Kind::View, "/home", None);
            sess.add(rng, Kind::View, DETAIL[k], Some(h.product.id));
            sess.add(rng, Kind::Click, DETAIL[k], Some(h.product.id));
            sess.add(rng, Kind::Apply, APPLY[k], Some(h.product.id));
            if !matches!(h.product.kind, ProductType::Loan | ProductType::CreditCard) {
                sess.add(rng, Kind::Buy, BUY[k], Some(h.product.id));
            }
        }
        write(world, n.index, events, out);
    }
}

fn write(world: &World, number: u32, mut events: Vec<Ev>, out: &mut Out) {
    events.sort_by_key(|e| e.ts);
    events.truncate(PER_NUMBER_CAP as usize);
    let t = &mut out.event;
    let cust = world.keys.cust_no(number);
    let (mobile, pc) = (code(PLATFORM, "mobile"), code(PLATFORM, "pc"));
    for (seq, e) in events.iter().enumerate() {
        t.digits("EV", world.keys.event_id(number, seq as u64), 12);
        t.digits("", cust, 10);
        t.ts(e.ts);
        t.code(if e.mobile { mobile } else { pc });
        t.text(e.source);
        t.code(&EVENT_TYPE[e.kind as usize]);
        t.text(e.page);
        t.opt_text(e.product);
        t.end_row();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn event_kinds_follow_the_code_list() {
        let kinds = [
            Kind::View,
            Kind::Search,
            Kind::Click,
            Kind::Apply,
            Kind::Buy,
        ];
        let codes: Vec<&str> = kinds.iter().map(|k| EVENT_TYPE[*k as usize].code).collect();
        assert_eq!(codes, ["view", "search", "click", "apply", "buy"]);
        assert_eq!(DETAIL[ProductType::CreditCard as usize], "/card/detail");
    }
}
