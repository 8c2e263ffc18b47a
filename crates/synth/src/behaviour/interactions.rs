//! 服务交互 — complaints (投诉), satisfaction surveys (满意度调查), service calls (来电) and
//! relationship-manager visits (拜访). Complaints cluster in the months before a customer
//! leaves, and surveys of churners and complainers score lower.

use chrono::{Days, Months, NaiveDate};
use portrait_types::model::INTERACTION_KIND;
use rand::Rng;

use crate::World;
use crate::calendar::{Hours, Season, Ts};
use crate::corporates::{Company, CorpNumber};
use crate::keys::INTERACTIONS_CAP;
use crate::people::Person;
use crate::rng::RngExt;
use crate::unit::Out;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Complaint = 0,
    Survey = 1,
    Call = 2,
    Visit = 3,
}

#[derive(Debug, Clone)]
struct Item {
    number: u32,
    ts: Ts,
    kind: Kind,
    satisfaction: Option<i64>,
    channel: &'static str,
    note: &'static str,
}

#[rustfmt::skip]
const COMPLAINTS: &[&str] = &[
    "手机银行转账失败,资金未到账", "理财产品收益低于预期,认为销售时未充分揭示风险", "信用卡年费争议,要求减免",
    "网点排队时间过长,服务态度差", "账户被冻结,未提前通知", "短信营销骚扰,要求退订", "贷款提前还款违约金不合理",
    "ATM吞卡,处理不及时", "手续费收取不透明", "客户经理频繁更换,服务断档",
];
#[rustfmt::skip]
const CALLS: &[&str] = &[
    "咨询理财产品到期日期", "挂失银行卡", "查询信用卡账单", "修改预留手机号", "咨询房贷利率调整",
    "开通手机银行", "咨询大额存单利率", "转账限额调整", "咨询外汇兑换",
];
const VISITS: &[&str] = &[
    "资产配置回顾",
    "新产品推介",
    "生日关怀拜访",
    "家族信托咨询",
    "年度财富规划",
    "授信业务沟通",
];

fn channel(rng: &mut impl Rng, kind: Kind, digital: f64) -> &'static str {
    match kind {
        Kind::Complaint => rng.weighted(&[
            ("phone", 50),
            ("counter", 20),
            ("app", 15),
            ("wechat", 10),
            ("regulator", 5),
        ]),
        Kind::Survey if rng.chance(digital) => rng.pick(&["app", "sms", "wechat"]),
        Kind::Survey => rng.pick(&["phone", "sms"]),
        Kind::Call => "phone",
        Kind::Visit => rng.weighted(&[("rm", 80), ("counter", 20)]),
    }
}

fn items_for(
    world: &World,
    rng: &mut impl Rng,
    numbers: &[(u32, NaiveDate, f64)],
    rates: [f64; 4],
    churn: Option<NaiveDate>,
    gather_before: Option<NaiveDate>,
    digital: f64,
    unhappy: f64,
) -> Vec<Item> {
    let cal = &world.cal;
    let until = churn.map_or(world.end, |c| (c + Days::new(20)).min(world.end));
    let Some((lo, hi)) = cal.clamp(
        numbers.iter().map(|n| n.1).min().unwrap_or(world.end),
        until,
    ) else {
        return Vec::new();
    };
    let years = f64::from(hi - lo + 1) / 365.25;
    let mut out: Vec<Item> = Vec::new();
    let mut complained = false;
    for kind in [Kind::Complaint, Kind::Call, Kind::Visit, Kind::Survey] {
        let count = rng.poisson(rates[kind as usize] * years);
        for _ in 0..count {
            // Warned leavers' complaints gather in the half year before they leave.
            let (a, b) = match gather_before {
                Some(c) if kind == Kind::Complaint && rng.chance(0.7) => {
                    let from = c.checked_sub_months(Months::new(6)).unwrap_or(c);
                    cal.clamp(from, c).unwrap_or((lo, hi))
                }
                _ => (lo, hi),
            };
            let hours = if kind == Kind::Visit {
                Hours::Office
            } else {
                Hours::Anytime
            };
            let ts = cal.sample_ts(Season::General, hours, rng, a, b);
            let day = cal.date(cal.day_of(ts).max(0) as u32);
            let open: Vec<&(u32, NaiveDate, f64)> = numbers.iter().filter(|n| n.1 <= day).collect();
            let number = if open.is_empty() {
                numbers[0].0
            } else {
                let w: Vec<f64> = open.iter().map(|n| n.2).collect();
                open[rng.weighted_index(&w)].0
            };
            let satisfaction = match kind {
                Kind::Survey | Kind::Call if kind == Kind::Survey || rng.chance(0.4) => {
                    let mut s = 4.3 + 0.8 * rng.normal() - unhappy;
                    if complained {
                        s -= 0.8;
                    }
                    Some(s.round().clamp(1.0, 5.0) as i64)
                }
                Kind::Complaint if rng.chance(0.5) => Some(rng.random_range(1..=2)),
                _ => None,
            };
            complained |= kind == Kind::Complaint;
            let note = match kind {
                Kind::Complaint => rng.pick(COMPLAINTS),
                Kind::Survey => "满意度回访",
                Kind::Call => rng.pick(CALLS),
                Kind::Visit => rng.pick(VISITS),
            };
            out.push(Item {
                number,
                ts,
                kind,
                satisfaction,
                channel: channel(rng, kind, digital),
                note,
            });
        }
    }
    out
}

/// A person's interactions with the bank.
pub(crate) fn person(world: &World, rng: &mut impl Rng, p: &Person, out: &mut Out) {
    if !p.is_adult() {
        return;
    }
    let w = p.traits.wealth;
    let churner = p.traits.leaving.is_some_and(|l| l.warning_days > 0);
    let complaints = 0.022 * p.traits.grumpy * if p.traits.digital < 0.5 { 1.3 } else { 1.0 };
    let calls = 0.3 * if p.age > 60 { 1.5 } else { 1.0 };
    let visits = if w >= 8_000_000.0 {
        4.0
    } else if w >= 500_000.0 {
        1.0
    } else {
        0.02
    };
    let numbers: Vec<(u32, NaiveDate, f64)> = p
        .numbers
        .iter()
        .map(|n| (n.index, n.open, n.share))
        .collect();
    let unhappy = if churner { 1.0 } else { 0.0 } + 0.15 * (p.traits.grumpy - 1.0);
    let items = items_for(
        world,
        rng,
        &numbers,
        [complaints, 0.12, calls, visits],
        p.traits.churn,
        p.traits
            .leaving
            .filter(|l| l.warning_days > 0)
            .map(|l| l.from),
        p.traits.digital,
        unhappy,
    );
    write(world, items, out);
}

/// A company's interactions (mostly visits by its relationship manager).
pub(crate) fn company(
    world: &World,
    rng: &mut impl Rng,
    c: &Company,
    numbers: &[CorpNumber],
    out: &mut Out,
) {
    let visits = match c.size {
        "大型企业" => 4.0,
        "中型企业" => 2.0,
        _ => 0.3,
    };
    let nums: Vec<(u32, NaiveDate, f64)> =
        numbers.iter().map(|n| (n.index, n.open, n.share)).collect();
    let items = items_for(
        world,
        rng,
        &nums,
        [0.02, 0.05, 0.5, visits],
        None,
        None,
        0.8,
        0.0,
    );
    write(world, items, out);
}

fn write(world: &World, mut items: Vec<Item>, out: &mut Out) {
    items.sort_by_key(|i| (i.number, i.ts));
    let t = &mut out.interaction;
    let mut seq = 0u64;
    let mut last = None;
    for i in items {
        if last != Some(i.number) {
            seq = 0;
            last = Some(i.number);
        }
        if seq >= INTERACTIONS_CAP {
            continue;
        }
        t.digits("SR", world.keys.interaction_id(i.number, seq), 10);
        t.digits("", world.keys.cust_no(i.number), 10);
        t.ts(i.ts);
        t.code(&INTERACTION_KIND[i.kind as usize]);
        t.opt_int(i.satisfaction);
        t.text(i.channel);
        t.text(i.note);
        t.end_row();
        seq += 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_follow_the_code_list() {
        let codes: Vec<&str> = [Kind::Complaint, Kind::Survey, Kind::Call, Kind::Visit]
            .iter()
            .map(|k| INTERACTION_KIND[*k as usize].code)
            .collect();
        assert_eq!(codes, ["complaint", "survey", "call", "visit"]);
    }
}
