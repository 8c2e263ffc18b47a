//! 个人客户 — the people of a unit: names, documents, contacts, education and work, income and
//! the latent traits (wealth, risk appetite, activity, interests, churn) that drive their
//! behaviour; their customer numbers, with the noise a second or third record carries.

use chrono::{Datelike, Days, NaiveDate};
use portrait_types::{Gender, IdCardNo};
use rand::Rng;

use crate::World;
use crate::behaviour::date_between;
use crate::calendar::Calendar;
use crate::categories::Interest;
use crate::jobs::{self, EmployerKind};
use crate::names::{self, GivenChar, Surname};
use crate::places::{self, Address, AddressVariant, RegionId};
use crate::plan::{IdKind, MemberSkel, Role, Skeleton, age_on};
use crate::rng::{Cdf, RngExt};

/// The fictitious bank itself, employer of its own staff (本行员工).
pub(crate) const BANK_NAME: &str = "瑞和银行股份有限公司";

/// 证件 — an identity document.
#[derive(Debug, Clone)]
pub(crate) enum IdDoc {
    Resident(IdCardNo),
    /// 护照 — `E` + 8 digits.
    Passport(String),
    /// 其他 — e.g. a military officer's card.
    Other(String),
}

impl IdDoc {
    pub(crate) fn type_code(&self) -> &'static str {
        match self {
            IdDoc::Resident(_) => "resident_id",
            IdDoc::Passport(_) => "passport",
            IdDoc::Other(_) => "other",
        }
    }

    pub(crate) fn number(&self) -> &str {
        match self {
            IdDoc::Resident(id) => id.expose(),
            IdDoc::Passport(s) | IdDoc::Other(s) => s,
        }
    }
}

/// Latent traits: never exported, they shape everything that is.
#[derive(Debug, Clone)]
pub(crate) struct Traits {
    /// Economic standing, standard normal.
    pub econ: f64,
    /// Financial assets at this bank in CNY before any churn.
    pub wealth: f64,
    /// 风险偏好 in (0, 1).
    pub risk: f64,
    /// Transaction activity relative to the average (mean 1, heavy-tailed).
    pub activity: f64,
    /// Likelihood of using digital channels.
    pub digital: f64,
    pub interests: Vec<Interest>,
    /// 流失 — from this day on the person stops transacting and withdraws assets.
    pub churn: Option<NaiveDate>,
    /// The churned person empties and closes their accounts.
    pub exit: bool,
    /// How the person leaves (or lapses), when they do.
    pub leaving: Option<Leaving>,
    /// Propensity to complain, relative.
    pub grumpy: f64,
}

/// How a person leaves: the days of warning before the last day, and whether they come back.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Leaving {
    pub kind: LeaveKind,
    /// The first day without activity.
    pub from: NaiveDate,
    /// Days before `from` over which activity, balances and logins fade (0: no warning).
    pub warning_days: u32,
    /// The day activity resumes (returners only; may lie past the end date).
    pub back: Option<NaiveDate>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum LeaveKind {
    /// Fades over months, then stops: the usual way to leave a bank.
    Gradual,
    /// Stops with no warning (moved away, died, a better offer taken at once).
    Sudden,
    /// Fades, stops for months, then comes back; accounts stay open.
    Returned,
}

impl LeaveKind {
    pub(crate) fn code(self) -> &'static str {
        match self {
            LeaveKind::Gradual => "gradual",
            LeaveKind::Sudden => "sudden",
            LeaveKind::Returned => "returned",
        }
    }
}

/// Share of normal activity left at the end of the warning period.
const FADED: f64 = 0.15;

impl Traits {
    /// Share of the person's normal activity (transactions, logins) on day `d`: 1 normally,
    /// falling to [`FADED`] over the warning period, 0 while gone.
    pub(crate) fn intensity(&self, d: NaiveDate) -> f64 {
        let Some(l) = self.leaving else {
            return 1.0;
        };
        if d >= l.from {
            return match l.back {
                Some(b) if d >= b => 1.0,
                _ => 0.0,
            };
        }
        let before = (l.from - d).num_days() as f64;
        let w = f64::from(l.warning_days);
        if before >= w {
            1.0
        } else {
            FADED + (1.0 - FADED) * before / w
        }
    }

    /// Highest product risk level (1–5) that suits the person.
    pub(crate) fn tolerance(&self) -> u8 {
        (1.0 + self.risk * 4.999).floor() as u8
    }

    /// Active on day `d` (has not churned by then).
    pub(crate) fn active_on(&self, d: NaiveDate) -> bool {
        self.churn.is_none_or(|c| d < c)
    }
}

/// One customer number of a person and the record the bank keeps under it.
#[derive(Debug, Clone)]
pub(crate) struct Number {
    pub index: u32,
    pub open: NaiveDate,
    pub branch: RegionId,
    pub channel: &'static str,
    pub manager: Option<u32>,
    pub status: &'static str,
    pub mobile_banking: bool,
    pub online_banking: bool,
    pub phone_banking: bool,
    pub consent: bool,
    /// Share of the person's activity and assets carried by this number.
    pub share: f64,
    /// How this record deviates from the person's true data (empty for the primary).
    pub noise: Vec<&'static str>,
    pub record: Record,
    /// 金融资产余额 at the end date, filled in by the asset model.
    pub assets_cents: i64,
}

/// The identifying fields as written in one customer record.
#[derive(Debug, Clone)]
pub(crate) struct Record {
    pub surname: String,
    pub given: String,
    pub mobile: String,
    pub address: String,
    pub district: Option<&'static str>,
    pub id_no: Option<String>,
    pub birth: NaiveDate,
}

/// A person of the bank.
#[derive(Debug, Clone)]
pub(crate) struct Person {
    /// Global person index, the `true_id` of the ground truth.
    pub index: u32,
    pub role: Role,
    pub gender: Gender,
    pub birth: NaiveDate,
    pub age: u32,
    pub surname: &'static Surname,
    pub given: Vec<&'static GivenChar>,
    pub id: IdDoc,
    pub id_region: RegionId,
    pub address: Address,
    /// Lives away from the rest of the unit.
    pub apart: bool,
    pub phone: Option<String>,
    pub mobile: String,
    pub old_mobile: String,
    pub email: Option<String>,
    pub ethnicity: &'static str,
    pub education: Option<usize>,
    pub occupation: Option<&'static str>,
    pub industry: Option<&'static str>,
    pub employer: Option<String>,
    /// The employer when it is a corporate customer of the bank (company index).
    pub employer_company: Option<u32>,
    /// Salary paid into this bank (代发工资) or pension received here.
    pub payroll: bool,
    /// Monthly income (or pension), CNY.
    pub income: f64,
    pub marital: &'static str,
    pub dependents: u8,
    pub has_property: bool,
    pub has_car: bool,
    pub is_employee: bool,
    pub rating: &'static str,
    pub traits: Traits,
    pub numbers: Vec<Number>,
    /// Contacts in other units this person sends money to (number indices).
    pub contacts: Vec<u32>,
    /// A frequent-transfer partner taking half of the person's transfers.
    pub partner: Option<u32>,
}

impl Person {
    pub(crate) fn name(&self) -> String {
        let mut s = self.surname.0.to_string();
        for g in &self.given {
            s.push_str(g.text);
        }
        s
    }

    pub(crate) fn given_text(&self) -> String {
        self.given.iter().map(|g| g.text).collect()
    }

    pub(crate) fn primary(&self) -> &Number {
        &self.numbers[0]
    }

    pub(crate) fn is_adult(&self) -> bool {
        self.age >= 18
    }

    pub(crate) fn retired(&self) -> bool {
        self.occupation == Some("退休人员")
    }
}

fn mobile_number(world: &World, rng: &mut impl Rng, person: u32, version: u32) -> String {
    #[rustfmt::skip]
    const PREFIXES: &[(&str, u32)] = &[
        ("138", 9), ("139", 9), ("136", 6), ("137", 6), ("135", 7), ("134", 3), ("150", 5), ("151", 5),
        ("152", 4), ("157", 2), ("158", 5), ("159", 5), ("182", 4), ("183", 3), ("187", 4), ("188", 4),
        ("147", 1), ("178", 2), ("130", 4), ("131", 4), ("132", 4), ("155", 3), ("156", 4), ("185", 4),
        ("186", 5), ("166", 2), ("176", 2), ("133", 3), ("153", 2), ("180", 3), ("181", 3), ("189", 4),
        ("177", 2), ("173", 2), ("199", 3), ("191", 1), ("198", 1), ("195", 1), ("170", 1),
    ];
    format!(
        "{}{:08}",
        rng.weighted(PREFIXES),
        world.keys.mobile_body(person, version)
    )
}

fn interests(rng: &mut impl Rng, p: &Person, minors_in_family: bool) -> Vec<Interest> {
    let w = p.traits.wealth;
    let female = p.gender == Gender::Female;
    let b = |c: bool| if c { 1.0 } else { 0.0 };
    let age = p.age;
    let weights: Vec<f64> = Interest::ALL
        .iter()
        .map(|i| match i {
            Interest::Wine => 0.6 + 2.0 * b(w > 500_000.0) + b(!female && age > 35),
            Interest::Travel => 1.2 + 1.5 * b(w > 200_000.0) + b((25..=45).contains(&age)),
            Interest::Sports => 0.8 + 1.2 * b(age < 40),
            Interest::Luxury => 0.15 + 3.0 * b(w > 1_000_000.0) + 0.4 * b(female),
            Interest::Education => {
                0.4 + 2.0 * b(minors_in_family && matches!(p.role, Role::Head | Role::Spouse))
                    + b((18..=28).contains(&age))
            }
            Interest::Dining => 2.2,
            Interest::Groceries => 1.8 + b(female || age > 35),
            Interest::Entertainment => 1.0 + 1.5 * b(age < 35),
            Interest::Health => 0.6 + 2.0 * b(age > 55),
            Interest::Auto => 0.2 + 2.5 * b(p.has_car),
            Interest::Home => 0.6 + 1.5 * b((28..=45).contains(&age) && p.has_property),
            Interest::Kids => {
                0.05 + 3.0 * b(minors_in_family && matches!(p.role, Role::Head | Role::Spouse))
            }
            Interest::Beauty => 0.2 + 2.5 * b(female && age < 50),
            Interest::Electronics => 0.8 + 1.5 * b(age < 35) + b(!female),
        })
        .collect();
    let n = rng.weighted(&[(1usize, 25), (2, 45), (3, 30)]);
    let mut w = weights;
    let mut out = Vec::with_capacity(n);
    for _ in 0..n {
        let i = rng.weighted_index(&w);
        out.push(Interest::ALL[i]);
        w[i] = 0.0;
    }
    out
}

/// 金融资产 — how much the person keeps at this bank: income saved over a working life,
/// log-normal with a heavy tail (calibrated so that ~0.3% reach private banking, ≥ 8M CNY).
fn wealth(rng: &mut impl Rng, age: u32, income: f64, econ: f64, owner: bool) -> f64 {
    let life = match age {
        0..18 => 0.3,
        18..22 => 0.3,
        22..30 => 0.7,
        30..40 => 1.3,
        40..50 => 2.0,
        50..60 => 2.6,
        60..70 => 3.0,
        _ => 2.8,
    };
    let base = income.max(2_000.0) * 3.5 * life;
    let owner = if owner { 2.5 } else { 1.0 };
    base * owner * (0.45 * econ + 1.1 * rng.normal()).exp()
}

fn marital(rng: &mut impl Rng, role: Role, age: u32, couple: bool) -> &'static str {
    match role {
        Role::Head | Role::Spouse if couple => "已婚",
        Role::Head => match age {
            0..30 => rng.weighted(&[("未婚", 85), ("已婚", 10), ("离异", 5)]),
            30..50 => rng.weighted(&[("未婚", 40), ("已婚", 20), ("离异", 40)]),
            50..65 => rng.weighted(&[("未婚", 10), ("已婚", 35), ("离异", 35), ("丧偶", 20)]),
            _ => rng.weighted(&[("已婚", 30), ("离异", 15), ("丧偶", 55)]),
        },
        Role::Spouse => "已婚",
        Role::Child if age >= 27 => rng.weighted(&[("未婚", 40), ("已婚", 55), ("离异", 5)]),
        Role::Child => "未婚",
        Role::Elder => rng.weighted(&[("已婚", 40), ("丧偶", 60)]),
    }
}

fn open_channel(rng: &mut impl Rng, open: NaiveDate, age: u32, payroll: bool) -> &'static str {
    if open.year() < 2013 {
        return rng.weighted(&[("柜面", 88), ("网上银行", 4), ("代发批量", 8)]);
    }
    if payroll && rng.chance(0.35) {
        return "代发批量";
    }
    let mobile = if age < 45 { 45 } else { 15 };
    rng.weighted(&[
        ("柜面", 40),
        ("手机银行", mobile),
        ("网上银行", 5),
        ("第三方合作", 8),
        ("代发批量", 5),
    ])
}

fn adulthood(birth: NaiveDate) -> NaiveDate {
    birth
        .checked_add_months(chrono::Months::new(12 * 18))
        .unwrap_or(birth)
}

/// Builds the people of a unit (without numbers' asset balances).
pub(crate) fn build(world: &World, rng: &mut impl Rng, unit: u32, sk: &Skeleton) -> Vec<Person> {
    let up = world.plan.unit(unit);
    let end = world.end;
    let couple = sk.members.iter().any(|m| m.role == Role::Spouse);
    let minors = sk
        .members
        .iter()
        .any(|m| m.role == Role::Child && age_on(m.birth, end) < 18);
    let head = &sk.members[0];
    let head_surname = names::surname(rng);
    let home_address = Address::home(rng, sk.home);
    let home_phone = rng
        .chance(0.3)
        .then(|| places::landline(rng, places::region(sk.home)));
    let family_econ = rng.normal();
    let business = !sk.companies.is_empty();
    let mut next_number = up.first_number;
    let mut persons = Vec::with_capacity(sk.members.len());
    for (i, m) in sk.members.iter().enumerate() {
        let index = up.first_person + i as u32;
        let age = age_on(m.birth, end);
        let surname = match m.role {
            Role::Head => head_surname,
            Role::Child if head.gender == Gender::Male || rng.chance(0.3) => head_surname,
            // The head's father: the head carries his surname.
            Role::Elder if m.gender == Gender::Male => head_surname,
            _ => names::surname(rng),
        };
        let given = names::given_name(rng, m.gender, m.birth.year());
        let address = if m.apart {
            let region = places::same_city(rng, sk.home);
            Address::home(rng, region)
        } else {
            home_address.clone()
        };
        let id = match m.id_kind {
            IdKind::Resident => IdDoc::Resident(IdCardNo::from_parts(
                places::region(m.id_region).code,
                m.birth,
                m.seq,
            )),
            IdKind::Passport => IdDoc::Passport(format!("E{:08}", world.keys.passport(index))),
            IdKind::Other => {
                IdDoc::Other(format!("军字第{:07}号", rng.random_range(0..10_000_000u32)))
            }
        };
        let econ = if matches!(m.role, Role::Child | Role::Elder) {
            0.5 * family_econ + 0.87 * rng.normal()
        } else {
            0.7 * family_econ + 0.71 * rng.normal()
        };
        let mut p = Person {
            index,
            role: m.role,
            gender: m.gender,
            birth: m.birth,
            age,
            surname,
            given,
            id,
            id_region: m.id_region,
            phone: if m.apart {
                rng.chance(0.2)
                    .then(|| places::landline(rng, address.region()))
            } else {
                home_phone.clone()
            },
            address,
            apart: m.apart,
            mobile: mobile_number(world, rng, index, 0),
            old_mobile: mobile_number(world, rng, index, 1),
            email: None,
            ethnicity: jobs::ethnicity(rng, &places::region(m.id_region).code[..2]),
            education: None,
            occupation: None,
            industry: None,
            employer: None,
            employer_company: None,
            payroll: false,
            income: 0.0,
            marital: marital(rng, m.role, age, couple),
            dependents: 0,
            has_property: false,
            has_car: false,
            is_employee: false,
            rating: "",
            traits: Traits {
                econ,
                wealth: 0.0,
                risk: 0.0,
                activity: 0.0,
                digital: 0.0,
                interests: Vec::new(),
                churn: None,
                exit: false,
                leaving: None,
                grumpy: 0.0,
            },
            numbers: Vec::new(),
            contacts: Vec::new(),
            partner: None,
        };
        let owner = business && i == 0;
        work(world, rng, &mut p, unit, owner);
        economics(world, rng, &mut p, owner, minors);
        numbers(world, rng, &mut p, m, &mut next_number);
        persons.push(p);
    }
    // 供养人口: minor children and live-in elders count for the couple.
    let deps = persons
        .iter()
        .filter(|p| (p.role == Role::Child && p.age < 18) || (p.role == Role::Elder && p.age >= 70))
        .count();
    for p in persons
        .iter_mut()
        .filter(|p| matches!(p.role, Role::Head | Role::Spouse))
    {
        p.dependents =
            deps as u8 + u8::from(p.age >= 30 && p.age < 50 && !minors && rng.chance(0.4));
    }
    persons
}

fn work(world: &World, rng: &mut impl Rng, p: &mut Person, unit: u32, owner: bool) {
    let age = p.age;
    let home = places::region(p.address.region);
    let generation = names::generation(p.birth.year());
    if age < 16 {
        p.occupation = (age >= 6).then_some("学生");
        return;
    }
    let edu = jobs::education(rng, generation, p.traits.econ);
    let retire_age = if p.gender == Gender::Male { 60 } else { 55 };
    if age < 23 && rng.chance(0.65) {
        p.education = Some(edu.min(if age < 19 { 2 } else { 4 }));
        p.occupation = Some("学生");
        return;
    }
    p.education = Some(edu);
    if owner {
        let c = crate::corporates::profile(world, world.plan.unit(unit).first_company);
        p.occupation = Some("私营企业主");
        p.industry = Some(c.industry.name);
        p.employer = Some(c.name.clone());
        p.employer_company = Some(c.index);
        p.income = 30_000.0 * (0.5 * p.traits.econ + 0.4 * rng.normal()).exp();
        return;
    }
    if age >= retire_age && (age >= retire_age + 5 || rng.chance(0.8)) {
        p.occupation = Some("退休人员");
        let tier = match home.tier() {
            1 => 6_500.0,
            2 => 4_500.0,
            _ => 3_200.0,
        };
        p.income = tier * (0.25 * p.traits.econ + 0.15 * rng.normal()).exp();
        p.payroll = rng.chance(0.55);
        return;
    }
    if rng.chance(0.035) {
        p.occupation = Some("无业");
        return;
    }
    let base = match home.tier() {
        1 => 9_500.0,
        2 => 7_200.0,
        _ => 5_600.0,
    };
    let curve = match age {
        0..25 => 0.7,
        25..30 => 0.9,
        30..40 => 1.05,
        40..50 => 1.12,
        _ => 1.0,
    };
    if rng.chance(0.016) {
        p.is_employee = true;
        p.occupation = Some("金融从业人员");
        p.industry = Some("金融业");
        p.employer = Some(format!("{BANK_NAME}{}分行", home.city_short()));
        p.income = base * 1.8 * curve * (0.3 * p.traits.econ + 0.2 * rng.normal()).exp();
        p.payroll = true;
        return;
    }
    let occ = jobs::occupation(rng, edu);
    p.occupation = Some(occ.name);
    p.industry = Some(occ.industry);
    p.income = base * occ.income * curve * (0.35 * p.traits.econ + 0.25 * rng.normal()).exp();
    let local_companies = &world.plan.companies_by_region[usize::from(p.address.region)];
    let at_customer = matches!(occ.employer, EmployerKind::Private | EmployerKind::Tech)
        && !local_companies.is_empty()
        && rng.chance(0.3);
    if at_customer {
        let c = crate::corporates::profile(world, rng.pick(local_companies));
        p.employer = Some(c.name.clone());
        p.industry = Some(c.industry.name);
        p.employer_company = Some(c.index);
        p.payroll = rng.chance(0.7);
    } else {
        let name = jobs::employer(rng, occ.employer, home, occ.industry);
        p.employer = (!name.is_empty()).then_some(name);
        let payroll = match occ.employer {
            EmployerKind::Government
            | EmployerKind::School
            | EmployerKind::Hospital
            | EmployerKind::Institute => 0.5,
            EmployerKind::StateOwned | EmployerKind::Financial => 0.45,
            EmployerKind::None | EmployerKind::Shop => 0.0,
            _ => 0.3,
        };
        p.payroll = p.employer.is_some() && rng.chance(payroll);
    }
}

fn sigmoid(x: f64) -> f64 {
    1.0 / (1.0 + (-x).exp())
}

fn economics(world: &World, rng: &mut impl Rng, p: &mut Person, owner: bool, minors: bool) {
    let age = p.age;
    let econ = p.traits.econ;
    if p.is_adult() {
        p.email = rng.chance(if age < 45 { 0.55 } else { 0.3 }).then(|| {
            let py: Vec<&str> = p.given.iter().map(|g| g.pinyin).collect();
            names::email(rng, p.surname.1, &py, p.birth.year())
        });
        p.has_property = age >= 24
            && rng.chance(sigmoid(
                -0.6 + 0.9 * econ + 0.06 * (age.min(60) as f64 - 32.0),
            ));
        p.has_car = (22..75).contains(&age)
            && rng.chance(sigmoid(
                -0.5 + 0.8 * econ + 0.03 * (age.min(50) as f64 - 30.0),
            ));
    }
    let income_for_wealth = if p.income > 0.0 { p.income } else { 2_500.0 };
    let mut w = wealth(rng, age, income_for_wealth, econ, owner);
    if p.role == Role::Child && age < 18 {
        w *= 0.15;
    }
    p.traits.wealth = w;
    p.traits.risk = sigmoid(
        0.9 * rng.normal() + 0.35 * (w / 100_000.0).ln() - 0.03 * (age as f64 - 40.0) - 0.3,
    );
    p.traits.activity = (0.9 * rng.normal() - 0.405).exp();
    p.traits.digital = match age {
        0..18 => 0.3,
        18..26 => 0.93,
        26..36 => 0.95,
        36..46 => 0.9,
        46..56 => 0.8,
        56..66 => 0.58,
        66..76 => 0.34,
        _ => 0.12,
    };
    p.traits.interests = interests(rng, p, minors);
    p.traits.grumpy = rng.lognormal(1.0, 0.7);
    if p.is_adult() {
        let mut churn = 0.11;
        if age < 30 {
            churn *= 1.4;
        } else if age > 60 {
            churn *= 0.7;
        }
        if p.income < 5_000.0 {
            churn *= 1.3;
        }
        if p.is_employee {
            churn = 0.01;
        }
        if rng.chance(churn) {
            let window = Calendar::months_between(world.cal.start, world.end).min(18.0);
            let back = rng.uniform(0.5, window.max(1.0)) * 30.44;
            let d = (world.end - Days::new(back as u64)).max(world.cal.start + Days::new(20));
            // Most leave over months, some at once, some come back.
            let u = rng.random::<f64>();
            let kind = if u < 0.65 {
                LeaveKind::Gradual
            } else if u < 0.88 {
                LeaveKind::Sudden
            } else {
                LeaveKind::Returned
            };
            let warning_days = match kind {
                LeaveKind::Sudden => 0,
                _ => rng.random_range(60..=240),
            };
            let back =
                (kind == LeaveKind::Returned).then(|| d + Days::new(rng.random_range(120..=360)));
            p.traits.leaving = Some(Leaving {
                kind,
                from: d,
                warning_days,
                back,
            });
            if kind != LeaveKind::Returned {
                p.traits.churn = Some(d);
                p.traits.exit = rng.chance(0.25);
            }
            p.traits.grumpy *= if kind == LeaveKind::Sudden { 1.0 } else { 2.5 };
        }
    }
    let score = econ + rng.normal() * 0.6 - if p.traits.churn.is_some() { 0.4 } else { 0.0 };
    p.rating = match score {
        s if s > 1.6 => "AAA",
        s if s > 0.9 => "AA",
        s if s > 0.1 => "A",
        s if s > -0.7 => "BBB",
        s if s > -1.4 => "BB",
        s if s > -2.1 => "B",
        _ => "C",
    };
    let n = world.plan.unit(world.plan.unit_count()).first_number;
    let contacts = rng.random_range(0..=4);
    p.contacts = (0..contacts).map(|_| rng.random_range(0..n)).collect();
    p.partner = rng.chance(0.06).then(|| rng.random_range(0..n));
}

fn numbers(world: &World, rng: &mut impl Rng, p: &mut Person, m: &MemberSkel, next: &mut u32) {
    let end = world.end;
    let earliest = NaiveDate::from_ymd_opt(1998, 1, 1).expect("valid");
    let lo = if p.is_adult() {
        adulthood(p.birth).max(earliest)
    } else {
        (p.birth + Days::new(30)).max(earliest)
    };
    let lo = lo.min(end - Days::new(30));
    let hi_cap = p
        .traits
        .churn
        .map_or(end - Days::new(7), |c| c - Days::new(120));
    let hi = hi_cap.max(lo);
    let home = p.address.region;
    let count = usize::from(m.numbers);
    for k in 0..count {
        let open = if k == 0 {
            // Long relationships are common: skew the primary's opening towards the past.
            let a = date_between(rng, lo, hi);
            let b = date_between(rng, lo, hi);
            a.min(b)
        } else {
            date_between(rng, lo, hi)
        };
        let branch = match rng.random_range(0..10) {
            0..7 => home,
            7..9 => places::same_city(rng, home),
            _ => p.id_region,
        };
        let primary = k == 0;
        let digital = p.traits.digital * if primary { 1.0 } else { 0.75 };
        let dormant = !primary && rng.chance(0.08);
        let status = if dormant {
            "睡眠"
        } else if p.traits.exit {
            "销户"
        } else if p.traits.churn.is_some_and(|c| (end - c).num_days() > 365) && rng.chance(0.3) {
            "睡眠"
        } else if rng.chance(0.002) {
            "冻结"
        } else {
            "正常"
        };
        let manager = (p.traits.wealth > 500_000.0 || rng.chance(0.2))
            .then(|| (u32::from(branch) + 101) * 1000 + rng.random_range(1..=60));
        let mut num = Number {
            index: *next,
            open,
            branch,
            channel: open_channel(rng, open, p.age, p.payroll && primary),
            manager,
            status,
            mobile_banking: rng.chance(digital),
            online_banking: rng.chance(if p.age < 50 { 0.45 } else { 0.3 }),
            phone_banking: rng.chance(if p.age >= 50 { 0.35 } else { 0.15 }),
            consent: rng.chance(0.8),
            share: if primary {
                1.0
            } else if dormant {
                0.02
            } else {
                rng.uniform(0.15, 0.7)
            },
            noise: Vec::new(),
            record: Record {
                surname: p.surname.0.to_string(),
                given: p.given_text(),
                mobile: p.mobile.clone(),
                address: p.address.render(AddressVariant::default()),
                district: Some(p.address.region().district),
                id_no: Some(p.id.number().to_string()),
                birth: p.birth,
            },
            assets_cents: 0,
        };
        if !primary {
            add_noise(rng, p, &mut num);
        }
        *next += 1;
        p.numbers.push(num);
    }
    let total: f64 = p.numbers.iter().map(|n| n.share).sum();
    for n in &mut p.numbers {
        n.share /= total;
    }
}

/// Noise of a second or third customer record of the same person.
fn add_noise(rng: &mut impl Rng, p: &Person, n: &mut Number) {
    let r = &mut n.record;
    if rng.chance(0.22) {
        // 错别字 — one character of the name written as a homophone or look-alike.
        let mut chars: Vec<String> = std::iter::once(p.surname.0.to_string())
            .chain(p.given.iter().map(|g| g.text.to_string()))
            .collect();
        let pos = if rng.chance(0.25) {
            0
        } else {
            rng.random_range(0..chars.len())
        };
        if let Some(c) = names::confusable(rng, &chars[pos]) {
            chars[pos] = c.to_string();
            r.surname = chars[0].clone();
            r.given = chars[1..].concat();
            n.noise.push("name_typo");
        }
    }
    if p.given.len() == 2 && rng.chance(0.08) {
        let g: Vec<char> = r.given.chars().collect();
        if g.len() == 2 && g[0] != g[1] {
            r.given = [g[1], g[0]].iter().collect();
            n.noise.push("name_swap");
        }
    }
    if rng.chance(0.35) {
        r.mobile = p.old_mobile.clone();
        n.noise.push("old_mobile");
    }
    if rng.chance(0.45) {
        let mut v = AddressVariant::default();
        match rng.random_range(0..4) {
            0 => v.abbreviate_city = true,
            1 => v.hash_sign = true,
            2 => v.drop_district = true,
            _ => v.other_room = Some(p.address.other_room(rng)),
        }
        if rng.chance(0.3) {
            v.hash_sign = true;
        }
        r.address = p.address.render(v);
        if v.drop_district {
            r.district = None;
        }
        n.noise.push("address_variant");
    }
    if rng.chance(0.15) {
        r.id_no = None;
        n.noise.push("id_missing");
    } else if let Some(id) = &r.id_no
        && id.ends_with('X')
        && rng.chance(0.6)
    {
        r.id_no = Some(id.to_lowercase());
        n.noise.push("id_lower_x");
    }
    let (m, d) = (p.birth.month(), p.birth.day());
    if d <= 12
        && d != m
        && rng.chance(0.06)
        && let Some(t) = NaiveDate::from_ymd_opt(p.birth.year(), d, m)
    {
        r.birth = t;
        n.noise.push("birth_transposed");
    }
}

/// Writes a person's customer rows.
pub(crate) fn write_customers(world: &World, p: &Person, out: &mut crate::unit::Out) {
    use portrait_types::model::{CUST_TYPE, GENDER, ID_TYPE};

    use crate::writer::code;
    let t = &mut out.customer;
    for n in &p.numbers {
        let r = &n.record;
        let reg = p.address.region();
        t.digits("", world.keys.cust_no(n.index), 10);
        t.code(code(CUST_TYPE, "individual"));
        t.text(&format!("{}{}", r.surname, r.given));
        t.text(&r.surname);
        t.text(&r.given);
        t.code(code(GENDER, p.gender.code()));
        t.date(r.birth);
        t.text(p.ethnicity);
        let hukou = places::region(p.id_region);
        t.text(&format!(
            "{}{}",
            hukou.province().name,
            if hukou.is_municipality() {
                ""
            } else {
                hukou.city
            }
        ));
        let sparse = n.index % 13 == 0;
        t.opt_text(p.education.filter(|_| !sparse).map(|e| jobs::EDUCATION[e]));
        t.opt_text(p.education.filter(|_| !sparse).map(jobs::degree));
        t.opt_text(p.occupation);
        t.opt_text(p.industry);
        t.opt_text(p.employer.as_deref());
        t.opt_text((p.age >= 16 && n.index % 11 != 0).then(|| jobs::income_band(p.income)));
        t.int(i64::from(p.dependents));
        t.text(p.marital);
        t.bool(p.is_employee);
        t.bool(p.has_property);
        t.bool(p.has_car);
        t.text(&r.mobile);
        t.opt_text(p.phone.as_deref());
        t.opt_text(p.email.as_deref());
        t.text(reg.province().name);
        t.text(reg.city);
        t.opt_text(r.district);
        t.text(&r.address);
        t.text(reg.postcode);
        t.code(code(ID_TYPE, p.id.type_code()));
        t.opt_text(r.id_no.as_deref());
        for _ in 0..9 {
            t.null(); // corporate columns
        }
        t.date(n.open);
        t.text(&places::region(n.branch).branch());
        t.text(n.channel);
        t.opt_digits("", n.manager.map(u64::from), 6);
        t.text(n.status);
        t.text(p.rating);
        t.bool(n.mobile_banking);
        t.bool(n.online_banking);
        t.bool(n.phone_banking);
        t.bool(n.consent);
        t.amount(n.assets_cents);
        t.end_row();
    }
}

/// Weighted consumption categories of a person: interests first, everyday spending after.
pub(crate) fn spend_cdf(p: &Person) -> Cdf {
    Cdf::new(Interest::ALL.iter().map(|i| {
        let base = match i {
            Interest::Dining | Interest::Groceries => 1.6,
            Interest::Entertainment => 0.6,
            Interest::Health => 0.4,
            _ => 0.12,
        };
        base + if p.traits.interests.contains(i) {
            3.0
        } else {
            0.0
        }
    }))
}
