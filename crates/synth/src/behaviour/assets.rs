//! 资产 — financial assets and credit: how a customer's wealth is spread over product types,
//! products and customer numbers, the month-end balances of the last twelve months (资产快照),
//! the holdings (持有产品) behind them, and loans and cards with their delinquency.

use chrono::{Days, Months, NaiveDate};
use portrait_types::model::PRODUCT_TYPE;
use rand::Rng;

use super::{Holding, cents, date_between};
use crate::World;
use crate::calendar::Calendar;
use crate::categories::Interest;
use crate::products::{self, Product, ProductType};
use crate::rng::RngExt;
use crate::unit::Out;

/// A customer number seen by the asset model.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Account {
    pub index: u32,
    pub open: NaiveDate,
    pub share: f64,
}

/// What the asset model needs to know of the owner.
#[derive(Debug, Clone)]
pub(crate) struct Owner<'a> {
    pub churn: Option<NaiveDate>,
    /// How the owner leaves, when they do: balances move out and products close over the
    /// warning period.
    pub leaving: Option<crate::people::Leaving>,
    pub exit: bool,
    pub tolerance: u8,
    pub interests: &'a [Interest],
    pub corporate: bool,
    pub digital: f64,
}

/// A product a campaign converted the customer to, opened on `open` under `number`.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Forced {
    pub number: u32,
    pub product: &'static Product,
    pub open: NaiveDate,
}

/// How a person's (or company's) financial assets are split over product types.
pub(crate) fn allocation(
    rng: &mut impl Rng,
    wealth: f64,
    risk: f64,
    age: u32,
    digital: f64,
) -> Vec<(ProductType, f64)> {
    let mut w = vec![(ProductType::Deposit, 1.0)];
    let gate = |rng: &mut dyn rand::RngCore, p: f64| rng.random::<f64>() < p;
    if wealth >= 20_000.0
        && risk > 0.15
        && gate(rng, 0.3 + 0.4 * f64::from(u8::from(wealth >= 100_000.0)))
    {
        w.push((
            ProductType::Wealth,
            0.9 * (wealth / 100_000.0).powf(0.25).clamp(0.4, 2.5),
        ));
    }
    if risk > 0.35
        && gate(
            rng,
            (0.2 + 0.3 * f64::from(u8::from(wealth >= 50_000.0))) * (0.4 + 0.6 * digital),
        )
    {
        w.push((ProductType::Fund, 0.7 * risk));
    }
    if (25..=65).contains(&age)
        && wealth >= 10_000.0
        && gate(rng, 0.15 + 0.2 * f64::from(u8::from(wealth >= 100_000.0)))
    {
        w.push((ProductType::Insurance, 0.35));
    }
    if wealth >= 30_000.0 && gate(rng, 0.04 + 0.1 * f64::from(u8::from(wealth >= 300_000.0))) {
        w.push((ProductType::Gold, 0.08));
    }
    if wealth >= 1_500_000.0 && risk > 0.35 && gate(rng, 0.5) {
        w.push((ProductType::Trust, 0.8));
    }
    for e in &mut w {
        e.1 *= rng.lognormal(1.0, 0.4);
    }
    let total: f64 = w.iter().map(|e| e.1).sum();
    w.into_iter()
        .map(|(t, x)| (t, wealth * x / total))
        .collect()
}

fn choose_products(
    rng: &mut impl Rng,
    kind: ProductType,
    amount: f64,
    owner: &Owner,
) -> Vec<(&'static Product, f64)> {
    let p = products::product;
    if kind == ProductType::Deposit {
        if owner.corporate {
            let mut v = vec![(p("P007"), 1.0)];
            if amount > 500_000.0 && rng.chance(0.5) {
                v.push((p("P008"), 1.5));
            }
            return v;
        }
        let mut v = vec![(p("P001"), 1.0)];
        if amount > 20_000.0 && rng.chance(0.55) {
            v.push((p(rng.pick(&["P002", "P003", "P003", "P004"])), 1.5));
        }
        if amount >= 250_000.0 && rng.chance(0.5) {
            v.push((p("P005"), 2.5));
        }
        if amount >= 60_000.0 && rng.chance(0.1) {
            v.push((p("P006"), 1.0));
        }
        return v;
    }
    let limit = owner.tolerance + u8::from(rng.chance(0.05));
    let candidates: Vec<&'static Product> = products::of_kind(kind, owner.corporate)
        .filter(|x| x.risk <= limit && x.min_amount <= amount)
        .collect();
    if candidates.is_empty() {
        return products::of_kind(kind, owner.corporate)
            .min_by(|a, b| a.min_amount.total_cmp(&b.min_amount))
            .map(|x| vec![(x, 1.0)])
            .unwrap_or_default();
    }
    let weights: Vec<f64> = candidates
        .iter()
        .map(|x| {
            1.0 + 2.0 * f64::from(u8::from(x.fits.iter().any(|f| owner.interests.contains(f))))
        })
        .collect();
    let first = rng.weighted_index(&weights);
    let mut out = vec![(candidates[first], rng.uniform(0.5, 1.5))];
    if candidates.len() > 1 && rng.chance(0.35) {
        let second = loop {
            let i = rng.weighted_index(&weights);
            if i != first {
                break i;
            }
        };
        out.push((candidates[second], rng.uniform(0.3, 1.0)));
    }
    out
}

/// Drift and monthly volatility of balances by type.
fn dynamics(kind: ProductType) -> (f64, f64) {
    match kind {
        ProductType::Deposit => (0.003, 0.07),
        ProductType::Wealth => (0.004, 0.04),
        ProductType::Fund => (0.004, 0.07),
        ProductType::Insurance => (0.003, 0.005),
        ProductType::Gold => (0.006, 0.04),
        _ => (0.004, 0.01),
    }
}

/// Generates the asset holdings of one owner, writes their snapshots and returns the
/// holdings and each account's balance at the end date (fen).
pub(crate) fn portfolio(
    world: &World,
    rng: &mut impl Rng,
    accounts: &[Account],
    owner: &Owner,
    allocation: &[(ProductType, f64)],
    forced: &[Forced],
    out: &mut Out,
) -> (Vec<Holding>, Vec<i64>) {
    let end = world.end;
    let snaps = &world.cal.snapshots;
    let mut holdings = Vec::new();
    let mut finals = vec![0i64; accounts.len()];
    let decay = rng.uniform(0.25, 0.8);
    let close_after_churn = owner
        .churn
        .map(|c| (c + Days::new(rng.random_range(5..60))).min(end));
    let exit_close = close_after_churn.filter(|_| owner.exit);
    let recent = end.checked_sub_months(Months::new(96)).unwrap_or(end);
    // Amounts per (account, type).
    let mut cells: Vec<(usize, ProductType, f64)> = Vec::new();
    for &(kind, amount) in allocation {
        if amount < 1.0 {
            continue;
        }
        if kind == ProductType::Deposit {
            for (i, a) in accounts.iter().enumerate() {
                cells.push((i, kind, amount * a.share));
            }
        } else {
            let shares: Vec<f64> = accounts.iter().map(|a| a.share).collect();
            cells.push((rng.weighted_index(&shares), kind, amount));
        }
    }
    for f in forced {
        if let Some(i) = accounts.iter().position(|a| a.index == f.number)
            && !cells.iter().any(|c| c.0 == i && c.1 == f.product.kind)
        {
            cells.push((
                i,
                f.product.kind,
                f.product.min_amount.max(5_000.0) * rng.uniform(1.0, 3.0),
            ));
        }
    }
    for (ai, kind, amount) in cells {
        let acct = accounts[ai];
        let mut chosen = choose_products(rng, kind, amount, owner);
        let forced_here: Vec<&Forced> = forced
            .iter()
            .filter(|f| f.number == acct.index && f.product.kind == kind)
            .collect();
        for f in &forced_here {
            chosen.retain(|(p, _)| p.id != f.product.id);
        }
        if chosen.is_empty() && forced_here.is_empty() {
            continue;
        }
        let mut opens: Vec<NaiveDate> = chosen
            .iter()
            .map(|(p, _)| {
                if matches!(p.id, "P001" | "P007") {
                    acct.open
                } else {
                    date_between(rng, acct.open.max(recent), end - Days::new(1)).max(acct.open)
                }
            })
            .collect();
        let mut weights: Vec<f64> = chosen.iter().map(|c| c.1).collect();
        let mut prods: Vec<&'static Product> = chosen.iter().map(|c| c.0).collect();
        for f in forced_here {
            prods.push(f.product);
            opens.push(f.open);
            weights.push(1.0);
        }
        let type_open = *opens.iter().min().expect("at least one product");
        // Month-end path backwards from today's pre-churn level.
        let (drift, vol) = dynamics(kind);
        let mut path = vec![0.0; snaps.len()];
        let mut v = amount;
        for i in (0..snaps.len()).rev() {
            path[i] = v;
            v = (v / (1.0 + drift + vol * rng.normal())).max(amount * 0.05);
        }
        // Balances move out over the warning period (to 40 % of their level by the last
        // day), then decay after it; a returner's come back with them.
        let left = 0.4;
        let factor = |d: NaiveDate| {
            let warned = match owner.leaving {
                Some(l) if l.warning_days > 0 => {
                    let start = l.from - Days::new(u64::from(l.warning_days));
                    if d <= start {
                        1.0
                    } else if d < l.from {
                        1.0 - (1.0 - left) * (d - start).num_days() as f64
                            / f64::from(l.warning_days)
                    } else if l.back.is_some_and(|b| d >= b) {
                        1.0
                    } else {
                        left
                    }
                }
                _ => 1.0,
            };
            warned
                * match owner.churn {
                    Some(c) if d > c => (-decay * Calendar::months_between(c, d)).exp(),
                    _ => 1.0,
                }
        };
        // Some of a gradual leaver's investments are redeemed and closed before the end.
        let early_close = match owner.leaving {
            Some(l)
                if l.kind == crate::people::LeaveKind::Gradual
                    && kind != ProductType::Deposit
                    && rng.chance(0.5) =>
            {
                let ahead = f64::from(l.warning_days) * rng.uniform(0.0, 0.8);
                Some((l.from - Days::new(ahead as u64)).max(type_open))
            }
            _ => None,
        };
        let exit_close = match (exit_close, early_close) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        let code = &PRODUCT_TYPE[kind as usize];
        for (i, &d) in snaps.iter().enumerate() {
            if d < type_open || exit_close.is_some_and(|c| d >= c) {
                continue;
            }
            let t = &mut out.asset_snapshot;
            t.digits("", world.keys.cust_no(acct.index), 10);
            t.code(code);
            t.date(d);
            t.amount(cents(path[i] * factor(d)));
            t.end_row();
        }
        let final_value = if exit_close.is_some() {
            0.0
        } else {
            amount * factor(end)
        };
        let at_close = exit_close.map(|c| amount * factor(c));
        finals[ai] += cents(final_value);
        let wsum: f64 = weights.iter().sum();
        for ((p, open), w) in prods.into_iter().zip(opens).zip(weights) {
            let share = w / wsum;
            let close = exit_close.map(|c| c.max(open));
            holdings.push(Holding {
                number: acct.index,
                product: p,
                open,
                close,
                amount: at_close.unwrap_or(final_value) * share,
                initial: amount * share * rng.uniform(0.7, 1.1),
                monthly: if kind == ProductType::Fund && rng.chance(0.25) {
                    rng.lognormal(1_000.0, 0.6).round()
                } else {
                    0.0
                },
                days_overdue: None,
                digital: rng.chance(owner.digital * 0.8),
            });
        }
    }
    // Products bought and sold in the past.
    for a in accounts {
        for _ in 0..rng.poisson(0.6) {
            let kind = rng.pick(&[
                ProductType::Deposit,
                ProductType::Wealth,
                ProductType::Wealth,
                ProductType::Fund,
                ProductType::Gold,
            ]);
            let options: Vec<&'static Product> = products::of_kind(kind, owner.corporate)
                .filter(|p| !matches!(p.id, "P001" | "P007") && p.risk <= owner.tolerance.max(2))
                .collect();
            if options.is_empty() {
                continue;
            }
            let p = rng.pick(&options);
            let hi = end - Days::new(90);
            if a.open >= hi {
                continue;
            }
            let open = date_between(rng, a.open.max(recent), hi);
            let close = date_between(rng, open + Days::new(30), end - Days::new(1));
            let amount = rng.lognormal(p.min_amount.max(20_000.0), 0.8).round();
            holdings.push(Holding {
                number: a.index,
                product: p,
                open,
                close: Some(close),
                amount,
                initial: amount,
                monthly: 0.0,
                days_overdue: None,
                digital: rng.chance(owner.digital * 0.8),
            });
        }
    }
    (holdings, finals)
}

/// Monthly payment of an annuity loan.
fn instalment(principal: f64, yearly_rate: f64, months: u32) -> f64 {
    let r = yearly_rate / 12.0;
    principal * r / (1.0 - (1.0 + r).powi(-(months as i32)))
}

/// Outstanding principal after `paid` of `months` instalments.
fn outstanding(principal: f64, yearly_rate: f64, months: u32, paid: u32) -> f64 {
    if paid >= months {
        return 0.0;
    }
    let r = yearly_rate / 12.0;
    let g = |k: u32| (1.0 + r).powi(k as i32);
    principal * (g(months) - g(paid)) / (g(months) - 1.0)
}

/// 逾期天数 — days past due; most loans are current, delinquency rises with risk.
fn overdue(rng: &mut impl Rng, risk_factor: f64) -> i64 {
    if !rng.chance(0.035 * risk_factor) {
        return 0;
    }
    match rng.random_range(0..100) {
        0..62 => rng.random_range(1..=30),
        62..91 => rng.random_range(31..=90),
        _ => rng.random_range(91..=400),
    }
}

/// What the credit model needs to know of the borrower.
#[derive(Debug, Clone)]
pub(crate) struct Borrower<'a> {
    pub age: u32,
    pub income: f64,
    pub wealth: f64,
    pub has_property: bool,
    pub has_car: bool,
    pub business: bool,
    pub tier: u8,
    pub digital: f64,
    pub interests: &'a [Interest],
    pub churn: Option<NaiveDate>,
    /// Multiplier of the delinquency rate.
    pub risk_factor: f64,
    pub corporate_size: Option<&'static str>,
}

/// Loans and credit cards of a borrower, booked under the given accounts.
pub(crate) fn credit(
    world: &World,
    rng: &mut impl Rng,
    accounts: &[Account],
    b: &Borrower,
) -> Vec<Holding> {
    let end = world.end;
    let mut out = Vec::new();
    let shares: Vec<f64> = accounts.iter().map(|a| a.share).collect();
    let book = |rng: &mut dyn rand::RngCore,
                id: &str,
                principal: f64,
                rate: f64,
                months: u32,
                back_years: u32| {
        let a = accounts[rng.weighted_index(&shares)];
        let earliest = end
            .checked_sub_months(Months::new(12 * back_years))
            .unwrap_or(end)
            .max(a.open);
        let latest = end - Days::new(30);
        if earliest >= latest {
            return None;
        }
        let span = (latest - earliest).num_days() as u64;
        let open = earliest + Days::new(rng.random_range(0..=span));
        let maturity = open.checked_add_months(Months::new(months)).unwrap_or(end);
        let elapsed = (Calendar::months_between(open, end).floor() as u32).min(months);
        let mut close = (maturity <= end).then_some(maturity);
        if let Some(c) = b.churn
            && close.is_none_or(|m| m > c)
            && rng.random::<f64>() < 0.75
        {
            // Churners refinance elsewhere and settle the loan.
            close = Some((c + Days::new(rng.random_range(0..30))).min(end).max(open));
        }
        let paid = close.map_or(elapsed, |c| {
            (Calendar::months_between(open, c).floor() as u32).min(months)
        });
        let amount = if close.is_some() {
            0.0
        } else {
            outstanding(principal, rate, months, paid)
        };
        Some(Holding {
            number: a.index,
            product: products::product(id),
            open,
            close,
            amount,
            initial: principal,
            monthly: instalment(principal, rate, months),
            days_overdue: None,
            digital: rng.random::<f64>() < b.digital * 0.6,
        })
    };
    let tier = match b.tier {
        1 => 1.8,
        2 => 1.0,
        _ => 0.55,
    };
    if let Some(size) = b.corporate_size {
        let scale = match size {
            "大型企业" => 50_000_000.0,
            "中型企业" => 8_000_000.0,
            "小型企业" => 1_500_000.0,
            _ => 300_000.0,
        };
        if rng.chance(0.35) {
            let principal = (rng.lognormal(scale, 0.6) / 10_000.0).round() * 10_000.0;
            let months = 12 * rng.random_range(1..=3);
            out.extend(book(
                rng,
                "P039",
                principal.max(500_000.0),
                0.042,
                months,
                4,
            ));
        }
        if matches!(size, "大型企业" | "中型企业") && rng.chance(0.2) {
            let principal = (rng.lognormal(scale * 2.0, 0.6) / 10_000.0).round() * 10_000.0;
            let months = 12 * rng.random_range(3..=8);
            out.extend(book(
                rng,
                "P040",
                principal.max(2_000_000.0),
                0.045,
                months,
                6,
            ));
        }
    } else {
        let age = b.age;
        if b.has_property && (25..=62).contains(&age) && rng.chance(0.45) {
            let principal = (rng.lognormal(900_000.0 * tier, 0.5) / 1_000.0).round() * 1_000.0;
            let months = 12 * rng.pick(&[20, 25, 30]);
            out.extend(book(rng, "P035", principal, 0.041, months, 15));
        }
        if (22..=55).contains(&age) && rng.chance(if b.income < 8_000.0 { 0.14 } else { 0.07 }) {
            let principal =
                (rng.lognormal(60_000.0, 0.7).clamp(5_000.0, 300_000.0) / 100.0).round() * 100.0;
            let months = 12 * rng.random_range(1..=3);
            out.extend(book(rng, "P036", principal, 0.068, months, 4));
        }
        if b.business && rng.chance(0.4) {
            let principal =
                (rng.lognormal(600_000.0, 0.7).clamp(100_000.0, 5_000_000.0) / 10_000.0).round()
                    * 10_000.0;
            let months = 12 * rng.random_range(1..=3);
            out.extend(book(rng, "P037", principal, 0.045, months, 4));
        }
        if b.has_car && (22..=65).contains(&age) && rng.chance(0.15) {
            let principal = (rng.lognormal(120_000.0, 0.5).clamp(30_000.0, 500_000.0) / 1_000.0)
                .round()
                * 1_000.0;
            let months = 12 * rng.random_range(3..=5);
            out.extend(book(rng, "P038", principal, 0.055, months, 6));
        }
        if (20..=70).contains(&age) && rng.chance(0.5 * b.digital.sqrt()) {
            let id = if b.interests.contains(&Interest::Travel) && rng.chance(0.6) {
                "P043"
            } else if b.interests.contains(&Interest::Auto) && rng.chance(0.5) {
                "P044"
            } else if b.wealth > 800_000.0 {
                "P042"
            } else {
                "P041"
            };
            let limit = (rng.lognormal(30_000.0 * (b.income.max(3_000.0) / 7_000.0).sqrt(), 0.5)
                / 1_000.0)
                .round()
                * 1_000.0;
            if let Some(mut h) = book(rng, id, limit.max(2_000.0), 0.0, 600, 10) {
                h.close = h.close.filter(|_| b.churn.is_some());
                h.amount = if h.close.is_some() || rng.chance(0.2) {
                    0.0
                } else {
                    (limit * rng.uniform(0.0, 0.6)).round()
                };
                h.monthly = rng
                    .lognormal(2_500.0 * (b.income.max(3_000.0) / 7_000.0).sqrt(), 0.6)
                    .round();
                out.push(h);
            }
        }
    }
    for h in &mut out {
        h.days_overdue = Some(if h.close.is_some() {
            0
        } else {
            overdue(rng, b.risk_factor)
        });
    }
    out
}

/// The loan or card a campaign converted the customer to.
pub(crate) fn forced_credit(rng: &mut impl Rng, f: &Forced, income: f64) -> Holding {
    let scale = (income.max(3_000.0) / 7_000.0).sqrt();
    let (initial, amount, monthly) = if f.product.kind == ProductType::CreditCard {
        let limit = (rng.lognormal(20_000.0 * scale, 0.5) / 1_000.0).round() * 1_000.0;
        (
            limit,
            (limit * rng.uniform(0.0, 0.5)).round(),
            rng.lognormal(2_500.0 * scale, 0.6).round(),
        )
    } else {
        let principal = (rng
            .lognormal(50_000.0 * scale, 0.6)
            .clamp(5_000.0, 300_000.0)
            / 100.0)
            .round()
            * 100.0;
        (
            principal,
            principal * 0.95,
            instalment(principal, 0.068, 24),
        )
    };
    Holding {
        number: f.number,
        product: f.product,
        open: f.open,
        close: None,
        amount,
        initial,
        monthly,
        days_overdue: Some(0),
        digital: rng.chance(0.6),
    }
}

/// Writes holding rows.
pub(crate) fn write_holdings(world: &World, holdings: &[Holding], out: &mut Out) {
    let t = &mut out.holding;
    for h in holdings {
        let (revenue, cost) = h.economics(world.end);
        t.digits("", world.keys.cust_no(h.number), 10);
        t.text(h.product.id);
        t.code(h.product.kind.code());
        t.date(h.open);
        t.opt_date(h.close);
        t.amount(cents(h.amount));
        t.amount(revenue);
        t.amount(cost);
        t.opt_int(h.days_overdue);
        t.end_row();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn annuity_pays_off_the_principal() {
        let m = instalment(1_000_000.0, 0.041, 360);
        assert!((m - 4_831.8).abs() < 1.0, "{m}");
        assert!((outstanding(1_000_000.0, 0.041, 360, 0) - 1_000_000.0).abs() < 1e-6);
        assert_eq!(outstanding(1_000_000.0, 0.041, 360, 360), 0.0);
        assert!(outstanding(1_000_000.0, 0.041, 360, 120) > 700_000.0);
    }

    #[test]
    fn most_loans_are_current() {
        let mut rng = crate::rng::rng_for(1, crate::rng::Stream::Unit, 0);
        let n = 20_000;
        let d: Vec<i64> = (0..n).map(|_| overdue(&mut rng, 1.0)).collect();
        let late = d.iter().filter(|&&x| x > 0).count() as f64 / n as f64;
        let severe = d.iter().filter(|&&x| x > 90).count() as f64 / n as f64;
        assert!((0.02..0.05).contains(&late), "{late}");
        assert!(severe < 0.01, "{severe}");
    }
}
