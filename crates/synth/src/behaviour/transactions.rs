//! 交易流水 — transactions: salaries on payday, bills, loan instalments and investments from
//! the holdings, and everyday spending that follows each person's interests, the calendar
//! (weekends, 春节, 双十一) and their age's channel habits; transfers to family, friends and
//! frequent partners, recorded on both sides when both are in the same unit.

use chrono::{Datelike, Days, Months, NaiveDate, Weekday};
use portrait_types::model::DIRECTION;
use rand::Rng;

use super::Holding;
use crate::World;
use crate::calendar::{Calendar, Hours, Season, Ts};
use crate::categories::{Interest, UTILITIES};
use crate::corporates::{Company, CorpNumber};
use crate::keys::PER_NUMBER_CAP;
use crate::people::Person;
use crate::products::ProductType;
use crate::rng::RngExt;
use crate::unit::Out;
use crate::writer::code;

/// Random (non-scheduled) transactions per person-month at average activity, tuned so that
/// the default config averages 50 transactions per customer number over 24 months.
const PERSON_MONTHLY: f64 = 1.45;
/// The same for companies, which transact far more.
const COMPANY_MONTHLY: f64 = 2.0;

/// One transaction before it gets its id.
#[derive(Debug, Clone)]
pub(crate) struct Txn<'a> {
    pub ts: Ts,
    pub cents: i64,
    pub credit: bool,
    pub channel: &'static str,
    pub category: &'static str,
    pub product: Option<&'static str>,
    pub merchant: Option<&'a str>,
    pub counterparty: Option<u32>,
}

/// When a customer number can transact.
#[derive(Debug, Clone, Copy)]
struct Window {
    lo: NaiveDate,
    hi: NaiveDate,
}

impl Window {
    fn contains(&self, d: NaiveDate) -> bool {
        self.lo <= d && d <= self.hi
    }
}

/// The transactions of one unit, by customer number.
pub(crate) struct Ledger<'a> {
    first: u32,
    books: Vec<Vec<Txn<'a>>>,
    windows: Vec<Option<Window>>,
}

impl<'a> Ledger<'a> {
    pub(crate) fn new(first: u32, count: u32) -> Self {
        Self {
            first,
            books: vec![Vec::new(); count as usize],
            windows: vec![None; count as usize],
        }
    }

    fn local(&self, number: u32) -> Option<usize> {
        number
            .checked_sub(self.first)
            .map(|i| i as usize)
            .filter(|&i| i < self.books.len())
    }

    fn set_window(&mut self, number: u32, w: Option<Window>) {
        if let Some(i) = self.local(number) {
            self.windows[i] = w;
        }
    }

    /// Can `number` of this unit record a transaction on day `d`?
    fn open_on(&self, number: u32, d: NaiveDate) -> bool {
        self.local(number)
            .and_then(|i| self.windows[i])
            .is_some_and(|w| w.contains(d))
    }

    fn push(&mut self, number: u32, t: Txn<'a>) {
        if let Some(i) = self.local(number) {
            self.books[i].push(t);
        }
    }

    /// Sorts each number's transactions by time and writes them with their ids.
    pub(crate) fn write(mut self, world: &World, out: &mut Out) {
        let t = &mut out.transaction;
        let debit = code(DIRECTION, "debit");
        let credit = code(DIRECTION, "credit");
        for (i, book) in self.books.iter_mut().enumerate() {
            let number = self.first + i as u32;
            book.sort_by_key(|x| x.ts);
            book.truncate(PER_NUMBER_CAP as usize);
            let cust = world.keys.cust_no(number);
            for (seq, x) in book.iter().enumerate() {
                t.digits("T", world.keys.txn_id(number, seq as u64), 12);
                t.digits("", cust, 10);
                t.ts(x.ts);
                t.amount(x.cents);
                t.code(if x.credit { credit } else { debit });
                t.plain(x.channel);
                t.plain(x.category);
                match x.product {
                    Some(p) => t.plain(p),
                    None => t.null(),
                }
                t.opt_text(x.merchant);
                t.opt_digits("", x.counterparty.map(|c| world.keys.cust_no(c)), 10);
                t.end_row();
            }
        }
    }
}

fn month_days(from: NaiveDate, to: NaiveDate, day: u32) -> impl Iterator<Item = NaiveDate> {
    let first = from.with_day(1).expect("day 1");
    (0..)
        .map(move |k| first.checked_add_months(Months::new(k)).expect("in range"))
        .take_while(move |m| *m <= to)
        .filter_map(move |m| NaiveDate::from_ymd_opt(m.year(), m.month(), day.min(28)))
        .filter(move |d| *d >= from && *d <= to)
}

/// The working day on or before `d` (payroll never lands on a weekend).
fn working_day(d: NaiveDate) -> NaiveDate {
    match d.weekday() {
        Weekday::Sat => d - Days::new(1),
        Weekday::Sun => d - Days::new(2),
        _ => d,
    }
}

fn round_to(cny: f64, unit: f64) -> i64 {
    (((cny / unit).round() * unit).max(unit) * 100.0).round() as i64
}

fn fen(cny: f64) -> i64 {
    ((cny * 100.0).round() as i64).max(1)
}

/// Context shared by the generators of one owner's transactions.
struct Ctx<'w, 'a, R: Rng> {
    world: &'w World,
    rng: &'w mut R,
    ledger: &'w mut Ledger<'a>,
    /// Probability that a scheduled transaction happens (below 1 for small volumes).
    scheduled: f64,
    /// The person whose activity fades before leaving (none for companies).
    fade: Option<&'w crate::people::Traits>,
}

impl<R: Rng> Ctx<'_, '_, R> {
    fn cal(&self) -> &Calendar {
        &self.world.cal
    }

    fn ts_on(&mut self, d: NaiveDate, hours: Hours) -> Ts {
        let day = self.cal().index(d).clamp(0, i64::from(self.cal().days) - 1) as u32;
        let secs = self.world.cal.sample_secs(hours, self.rng);
        self.cal().ts(day, secs)
    }

    fn ts_in(&mut self, w: Window, season: Season, hours: Hours) -> Option<Ts> {
        let (lo, hi) = self.world.cal.clamp(w.lo, w.hi)?;
        let ts = self.world.cal.sample_ts(season, hours, self.rng, lo, hi);
        self.kept(ts).then_some(ts)
    }

    /// Whether a transaction at `ts` happens given the person's fading activity.
    fn kept(&mut self, ts: Ts) -> bool {
        let Some(t) = self.fade else {
            return true;
        };
        let day = self.world.cal.date(self.world.cal.day_of(ts).max(0) as u32);
        let k = t.intensity(day);
        k >= 1.0 || (k > 0.0 && self.rng.chance(k))
    }
}

fn window(world: &World, open: NaiveDate, until: NaiveDate) -> Option<Window> {
    let lo = open.max(world.cal.start);
    let hi = until.min(world.end);
    (lo <= hi).then_some(Window { lo, hi })
}

/// Registers the windows of a person's numbers in the ledger (before any transfers are drawn).
pub(crate) fn register_person(world: &World, p: &Person, ledger: &mut Ledger) {
    let until = p.traits.churn.map_or(world.end, |c| c - Days::new(1));
    for n in &p.numbers {
        let until = if n.status == "睡眠" {
            until.min(
                world
                    .end
                    .checked_sub_months(Months::new(13))
                    .unwrap_or(world.end),
            )
        } else {
            until
        };
        ledger.set_window(n.index, window(world, n.open, until));
    }
}

/// Registers the windows of a company's numbers.
pub(crate) fn register_company(world: &World, numbers: &[CorpNumber], ledger: &mut Ledger) {
    for n in numbers {
        ledger.set_window(n.index, window(world, n.open, world.end));
    }
}

fn channel_for_transfer(rng: &mut impl Rng, digital: f64) -> &'static str {
    if rng.chance(digital) {
        if rng.chance(0.85) { "mobile" } else { "online" }
    } else if rng.chance(0.5) {
        "counter"
    } else {
        "atm"
    }
}

/// Schedules from holdings: investments bought and redeemed, instalments, regular savings.
fn holding_flows<'a, R: Rng>(
    ctx: &mut Ctx<'_, 'a, R>,
    holdings: &[Holding],
    digital: f64,
    until: NaiveDate,
) {
    for h in holdings {
        let Some(w) = ctx
            .ledger
            .local(h.number)
            .and_then(|i| ctx.ledger.windows[i])
        else {
            continue;
        };
        let w = Window {
            lo: w.lo,
            hi: w.hi.min(until),
        };
        let kind = h.product.kind;
        let product = Some(h.product.id);
        let channel = |rng: &mut R, online: bool| {
            if online {
                if rng.chance(0.85) { "mobile" } else { "online" }
            } else {
                "counter"
            }
        };
        match kind {
            ProductType::Loan | ProductType::CreditCard => {
                let first = h.open.checked_add_months(Months::new(1)).unwrap_or(h.open);
                let last = h.close.unwrap_or(ctx.world.end).min(w.hi);
                let missed =
                    h.days_overdue.unwrap_or(0) / 30 + i64::from(h.days_overdue.unwrap_or(0) > 0);
                let last = last
                    .checked_sub_days(Days::new(missed as u64 * 30))
                    .unwrap_or(last);
                for d in month_days(first.max(w.lo), last, h.open.day()) {
                    if !ctx.rng.chance(ctx.scheduled) {
                        continue;
                    }
                    let amount = if kind == ProductType::CreditCard {
                        if h.monthly <= 0.0 || ctx.rng.chance(0.5) {
                            continue;
                        }
                        ctx.rng.lognormal(h.monthly, 0.5)
                    } else {
                        h.monthly
                    };
                    let ts = ctx.ts_on(d, Hours::Batch);
                    let online = ctx.rng.chance(digital);
                    let ch = if kind == ProductType::CreditCard {
                        channel(ctx.rng, online)
                    } else {
                        "online"
                    };
                    ctx.ledger.push(
                        h.number,
                        Txn {
                            ts,
                            cents: fen(amount),
                            credit: false,
                            channel: ch,
                            category: "loan_repayment",
                            product,
                            merchant: None,
                            counterparty: None,
                        },
                    );
                }
            }
            ProductType::Deposit if matches!(h.product.id, "P001" | "P007") => {}
            _ => {
                if w.contains(h.open) {
                    let ts = ctx.ts_on(
                        h.open,
                        if h.digital {
                            Hours::Evening
                        } else {
                            Hours::Office
                        },
                    );
                    let ch = channel(ctx.rng, h.digital);
                    ctx.ledger.push(
                        h.number,
                        Txn {
                            ts,
                            cents: fen(h.initial),
                            credit: false,
                            channel: ch,
                            category: "investment",
                            product,
                            merchant: None,
                            counterparty: None,
                        },
                    );
                }
                if let Some(c) = h.close
                    && w.contains(c)
                {
                    let ts = ctx.ts_on(c, Hours::Office);
                    let ch = channel(ctx.rng, h.digital);
                    ctx.ledger.push(
                        h.number,
                        Txn {
                            ts,
                            cents: fen(h.amount.max(1.0)),
                            credit: true,
                            channel: ch,
                            category: "investment",
                            product,
                            merchant: None,
                            counterparty: None,
                        },
                    );
                }
                if h.monthly > 0.0 {
                    let last = h.close.unwrap_or(ctx.world.end).min(w.hi);
                    let day = ctx.rng.random_range(1..=28);
                    for d in month_days(h.open.max(w.lo), last, day) {
                        if ctx.rng.chance(ctx.scheduled) {
                            let ts = ctx.ts_on(d, Hours::Batch);
                            ctx.ledger.push(
                                h.number,
                                Txn {
                                    ts,
                                    cents: fen(h.monthly),
                                    credit: false,
                                    channel: "online",
                                    category: "investment",
                                    product,
                                    merchant: None,
                                    counterparty: None,
                                },
                            );
                        }
                    }
                }
            }
        }
    }
}

/// A transfer between `from` and `to`, mirrored on `to` when it is a number of this unit.
fn transfer<R: Rng>(
    ctx: &mut Ctx<'_, '_, R>,
    from: u32,
    to: u32,
    ts: Ts,
    cents: i64,
    out: bool,
    channel: &'static str,
) {
    let t = Txn {
        ts,
        cents,
        credit: !out,
        channel,
        category: "transfer",
        product: None,
        merchant: None,
        counterparty: Some(to),
    };
    ctx.ledger.push(from, t);
    let day = ctx.world.cal.date(ctx.world.cal.day_of(ts).max(0) as u32);
    if ctx.ledger.open_on(to, day) {
        let mirror = Txn {
            ts,
            cents,
            credit: out,
            channel,
            category: "transfer",
            product: None,
            merchant: None,
            counterparty: Some(from),
        };
        ctx.ledger.push(to, mirror);
    }
}

/// Everything a person does with money.
pub(crate) fn person<'a>(
    world: &World,
    rng: &mut impl Rng,
    p: &'a Person,
    holdings: &[Holding],
    family: &[u32],
    ledger: &mut Ledger<'a>,
) {
    let scale = world.txn_scale;
    let mut ctx = Ctx {
        world,
        rng,
        ledger,
        scheduled: scale.min(1.0),
        fade: Some(&p.traits),
    };
    let until = p.traits.churn.map_or(world.end, |c| c - Days::new(1));
    let digital = p.traits.digital;
    holding_flows(&mut ctx, holdings, digital, until);
    let primary = p.primary().index;
    let Some(pw) = ctx
        .ledger
        .local(primary)
        .and_then(|i| ctx.ledger.windows[i])
    else {
        return;
    };
    // 代发工资 / 养老金 on payday, and the year-end bonus before 春节.
    if p.payroll && p.income > 0.0 {
        let payday = ctx.rng.pick(&[5, 10, 10, 15, 15, 20]);
        let (merchant, counterparty) = if p.retired() {
            (Some("社会保险基金管理中心"), None)
        } else {
            (
                p.employer.as_deref(),
                p.employer_company
                    .map(|c| world.plan.companies[c as usize].number),
            )
        };
        // A leaver often has the salary paid elsewhere some time before the last day.
        let salary_until = match p.traits.leaving {
            Some(l) if l.warning_days > 0 && ctx.rng.chance(0.5) => {
                let ahead = f64::from(l.warning_days) * ctx.rng.uniform(0.2, 0.9);
                l.from - Days::new(ahead as u64)
            }
            _ => pw.hi,
        };
        for d in month_days(pw.lo, pw.hi, payday)
            .map(working_day)
            .filter(|d| pw.contains(*d))
        {
            if !ctx.rng.chance(ctx.scheduled) || d > salary_until {
                continue;
            }
            let ts = ctx.ts_on(d, Hours::Batch);
            if !ctx.kept(ts) {
                continue;
            }
            let amount = p.income * ctx.rng.uniform(0.92, 1.08);
            ctx.ledger.push(
                primary,
                Txn {
                    ts,
                    cents: fen(amount),
                    credit: true,
                    channel: "online",
                    category: "salary",
                    product: None,
                    merchant,
                    counterparty,
                },
            );
            let bonus_day = d + Days::new(3);
            if d.month() == 1 && !p.retired() && pw.contains(bonus_day) && ctx.rng.chance(0.6) {
                let ts = ctx.ts_on(bonus_day, Hours::Batch);
                let bonus = p.income * ctx.rng.uniform(1.0, 4.0);
                ctx.ledger.push(
                    primary,
                    Txn {
                        ts,
                        cents: round_to(bonus, 100.0),
                        credit: true,
                        channel: "online",
                        category: "salary",
                        product: None,
                        merchant,
                        counterparty,
                    },
                );
            }
        }
    }
    // Household bills.
    let pays_bills = p.is_adult() && (p.role == crate::plan::Role::Head || p.apart);
    if pays_bills {
        let day = ctx.rng.random_range(1..=28);
        let profile = &UTILITIES;
        for d in month_days(pw.lo, pw.hi, day) {
            for _ in 0..ctx.rng.poisson(0.45) {
                if !ctx.rng.chance(ctx.scheduled) {
                    continue;
                }
                let d = (d + Days::new(ctx.rng.random_range(0..5))).min(pw.hi);
                let ts = ctx.ts_on(d, Hours::Anytime);
                if !ctx.kept(ts) {
                    continue;
                }
                let channel = if ctx.rng.chance(digital) {
                    ctx.rng.pick(&["third_party", "mobile"])
                } else {
                    "counter"
                };
                let merchant = ctx.rng.pick(profile.merchants);
                let amount = ctx.rng.lognormal(profile.median, profile.sigma);
                ctx.ledger.push(
                    primary,
                    Txn {
                        ts,
                        cents: fen(amount),
                        credit: false,
                        channel,
                        category: profile.code,
                        product: None,
                        merchant: Some(merchant),
                        counterparty: None,
                    },
                );
            }
        }
    }
    // A leaver moves money to another bank in the weeks before the last day.
    if let Some(l) = p.traits.leaving
        && l.warning_days > 0
        && p.traits.wealth > 10_000.0
    {
        let lo = l.from - Days::new(u64::from(l.warning_days) / 2);
        let w = Window {
            lo: lo.max(pw.lo),
            hi: (l.from - Days::new(1)).min(pw.hi),
        };
        for _ in 0..ctx.rng.random_range(1..=3) {
            if w.lo > w.hi {
                break;
            }
            let day = w.lo + Days::new(ctx.rng.random_range(0..=(w.hi - w.lo).num_days()) as u64);
            let ts = ctx.ts_on(day, Hours::Anytime);
            let amount = p.traits.wealth * ctx.rng.uniform(0.1, 0.35);
            let channel = channel_for_transfer(ctx.rng, digital);
            ctx.ledger.push(
                primary,
                Txn {
                    ts,
                    cents: round_to(amount, 100.0),
                    credit: false,
                    channel,
                    category: "transfer",
                    product: None,
                    merchant: None,
                    counterparty: None,
                },
            );
        }
    }
    // Spending, transfers and cash.
    let age_factor = match p.age {
        0..18 => 0.3,
        18..26 => 0.9,
        26..61 => 1.0,
        61..76 => 0.7,
        _ => 0.4,
    };
    let spend_scale = ((p.income.max(2_500.0) / 7_000.0).powf(0.6)
        * (1.0 + p.traits.wealth / 2_000_000.0).powf(0.15))
    .clamp(0.3, 10.0);
    let cdf = crate::people::spend_cdf(p);
    let p_cash = if p.age > 60 { 0.15 } else { 0.05 };
    let p_transfer = 0.12;
    // Scratch lists of the numbers a transfer can reach on its day.
    let (mut live_family, mut own_other) = (Vec::new(), Vec::new());
    let own: Vec<u32> = p.numbers.iter().map(|n| n.index).collect();
    for n in &p.numbers {
        let Some(w) = ctx
            .ledger
            .local(n.index)
            .and_then(|i| ctx.ledger.windows[i])
        else {
            continue;
        };
        let months = Calendar::months_between(w.lo, w.hi) + 1.0 / 30.44;
        let lambda = PERSON_MONTHLY * scale * p.traits.activity * age_factor * n.share * months;
        let count = ctx.rng.poisson(lambda).min(PER_NUMBER_CAP as u32 - 600);
        for _ in 0..count {
            let u = ctx.rng.random::<f64>();
            if u < p_cash {
                let Some(ts) = ctx.ts_in(w, Season::General, Hours::Office) else {
                    continue;
                };
                let channel = if ctx.rng.chance(0.85) {
                    "atm"
                } else {
                    "counter"
                };
                let amount = round_to(ctx.rng.lognormal(1_000.0 * spend_scale.sqrt(), 0.8), 100.0);
                ctx.ledger.push(
                    n.index,
                    Txn {
                        ts,
                        cents: amount,
                        credit: false,
                        channel,
                        category: "cash_withdrawal",
                        product: None,
                        merchant: None,
                        counterparty: None,
                    },
                );
            } else if u < p_cash + p_transfer {
                let Some(ts) = ctx.ts_in(w, Season::General, Hours::Anytime) else {
                    continue;
                };
                let day = world.cal.date(world.cal.day_of(ts).max(0) as u32);
                let out = ctx.rng.chance(0.6);
                let channel = channel_for_transfer(ctx.rng, digital);
                live_family.clear();
                live_family.extend(
                    family
                        .iter()
                        .copied()
                        .filter(|&o| ctx.ledger.open_on(o, day)),
                );
                own_other.clear();
                own_other.extend(
                    own.iter()
                        .copied()
                        .filter(|&o| o != n.index && ctx.ledger.open_on(o, day)),
                );
                let r = ctx.rng.random::<f64>();
                let to = if !own_other.is_empty() && r < 0.08 {
                    ctx.rng.pick(&own_other)
                } else if !live_family.is_empty() && r < 0.45 {
                    ctx.rng.pick(&live_family)
                } else if let Some(partner) = p.partner.filter(|_| ctx.rng.chance(0.6)) {
                    partner
                } else if !p.contacts.is_empty() && ctx.rng.chance(0.7) {
                    ctx.rng.pick(&p.contacts)
                } else {
                    ctx.rng.random_range(0..world.customers)
                };
                if to == n.index {
                    continue;
                }
                let festive = ctx.rng.chance(0.05);
                let cents = if festive {
                    fen(ctx.rng.pick(&[520.0, 1314.0, 666.0, 888.0, 2000.0, 5200.0]))
                } else if ctx.rng.chance(0.5) {
                    round_to(ctx.rng.lognormal(1_800.0 * spend_scale, 1.1), 100.0)
                } else {
                    fen(ctx.rng.lognormal(1_800.0 * spend_scale, 1.1))
                };
                transfer(&mut ctx, n.index, to, ts, cents, out, channel);
            } else {
                let interest = Interest::ALL[cdf.sample(ctx.rng)];
                spend(&mut ctx, n.index, w, interest, spend_scale, digital);
            }
        }
    }
}

fn spend<R: Rng>(
    ctx: &mut Ctx<'_, '_, R>,
    number: u32,
    w: Window,
    interest: Interest,
    scale: f64,
    digital: f64,
) {
    let profile = interest.profile();
    let Some(ts) = ctx.ts_in(w, profile.season, profile.hours) else {
        return;
    };
    let online = ctx
        .rng
        .chance(profile.online * if digital >= 0.7 { 1.0 } else { 0.6 });
    let channel = if online {
        ctx.rng
            .weighted(&[("third_party", 60), ("mobile", 30), ("online", 10)])
    } else {
        "pos"
    };
    // Favourite merchants: earlier ones in each list are more popular.
    let m = profile.merchants;
    let i = ((ctx.rng.random::<f64>().powf(1.6)) * m.len() as f64) as usize;
    let amount = ctx.rng.lognormal(profile.median * scale, profile.sigma);
    ctx.ledger.push(
        number,
        Txn {
            ts,
            cents: fen(amount),
            credit: false,
            channel,
            category: profile.code,
            product: None,
            merchant: Some(m[i.min(m.len() - 1)]),
            counterparty: None,
        },
    );
}

/// Everything a company does with money: payroll, receipts and payments, bills, cash.
#[allow(clippy::too_many_arguments)]
pub(crate) fn company<'a>(
    world: &World,
    rng: &mut impl Rng,
    c: &'a Company,
    numbers: &[CorpNumber],
    holdings: &[Holding],
    partners: &[u32],
    owner: Option<u32>,
    ledger: &mut Ledger<'a>,
) {
    let scale = world.txn_scale;
    let mut ctx = Ctx {
        world,
        rng,
        ledger,
        scheduled: scale.min(1.0),
        fade: None,
    };
    holding_flows(&mut ctx, holdings, 0.9, world.end);
    let size = match c.size {
        "大型企业" => 6.0,
        "中型企业" => 3.0,
        "小型企业" => 1.5,
        _ => 1.0,
    };
    let staff = match c.size {
        "大型企业" => 1_500.0,
        "中型企业" => 180.0,
        "小型企业" => 30.0,
        _ => 6.0,
    } * c.activity;
    let primary = numbers[0].index;
    if let Some(pw) = ctx
        .ledger
        .local(primary)
        .and_then(|i| ctx.ledger.windows[i])
    {
        let payday = ctx.rng.pick(&[5, 10, 15]);
        for d in month_days(pw.lo, pw.hi, payday)
            .map(working_day)
            .filter(|d| pw.contains(*d))
        {
            if ctx.rng.chance(ctx.scheduled) {
                let ts = ctx.ts_on(d, Hours::Batch);
                let amount = staff * 8_000.0 * ctx.rng.uniform(0.95, 1.1);
                ctx.ledger.push(
                    primary,
                    Txn {
                        ts,
                        cents: fen(amount),
                        credit: false,
                        channel: "online",
                        category: "salary",
                        product: None,
                        merchant: None,
                        counterparty: None,
                    },
                );
            }
            // Dividends and the owner's drawings.
            if let Some(o) = owner
                && ctx.rng.chance(0.2 * ctx.scheduled)
            {
                let ts = ctx.ts_on(d, Hours::Office);
                let amount = round_to(ctx.rng.lognormal(30_000.0 * size, 0.8), 1_000.0);
                transfer(&mut ctx, primary, o, ts, amount, true, "online");
            }
        }
    }
    let companies = world.plan.companies.len() as u32;
    for n in numbers {
        let Some(w) = ctx
            .ledger
            .local(n.index)
            .and_then(|i| ctx.ledger.windows[i])
        else {
            continue;
        };
        let months = Calendar::months_between(w.lo, w.hi) + 1.0 / 30.44;
        let lambda = COMPANY_MONTHLY * scale * c.activity * size.sqrt() * n.share * months;
        let count = ctx.rng.poisson(lambda).min(PER_NUMBER_CAP as u32 - 600);
        for _ in 0..count {
            let u = ctx.rng.random::<f64>();
            if u < 0.78 {
                let Some(ts) = ctx.ts_in(w, Season::General, Hours::Office) else {
                    continue;
                };
                let to = if !partners.is_empty() && ctx.rng.chance(0.3) {
                    ctx.rng.pick(partners)
                } else {
                    world.plan.companies[ctx.rng.random_range(0..companies) as usize].number
                };
                if to == n.index {
                    continue;
                }
                let out = ctx.rng.chance(0.47);
                let amount = fen(ctx.rng.lognormal(40_000.0 * size, 1.2));
                let channel = if ctx.rng.chance(0.9) {
                    "online"
                } else {
                    "counter"
                };
                transfer(&mut ctx, n.index, to, ts, amount, out, channel);
            } else if u < 0.9 {
                let Some(ts) = ctx.ts_in(w, Season::General, Hours::Office) else {
                    continue;
                };
                let profile = &UTILITIES;
                let merchant = ctx.rng.pick(profile.merchants);
                let amount = ctx.rng.lognormal(3_000.0 * size, 0.8);
                ctx.ledger.push(
                    n.index,
                    Txn {
                        ts,
                        cents: fen(amount),
                        credit: false,
                        channel: "online",
                        category: profile.code,
                        product: None,
                        merchant: Some(merchant),
                        counterparty: None,
                    },
                );
            } else {
                let Some(ts) = ctx.ts_in(w, Season::General, Hours::Office) else {
                    continue;
                };
                let amount = round_to(ctx.rng.lognormal(20_000.0, 0.8), 1_000.0);
                ctx.ledger.push(
                    n.index,
                    Txn {
                        ts,
                        cents: amount,
                        credit: false,
                        channel: "counter",
                        category: "cash_withdrawal",
                        product: None,
                        merchant: None,
                        counterparty: None,
                    },
                );
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paydays_fall_on_working_days_within_the_range() {
        let from = NaiveDate::from_ymd_opt(2025, 1, 20).unwrap();
        let to = NaiveDate::from_ymd_opt(2025, 6, 30).unwrap();
        let days: Vec<NaiveDate> = month_days(from, to, 10).map(working_day).collect();
        assert_eq!(days.len(), 5);
        assert!(
            days.iter()
                .all(|d| !matches!(d.weekday(), Weekday::Sat | Weekday::Sun))
        );
        assert_eq!(round_to(1234.0, 100.0), 120_000);
    }
}
