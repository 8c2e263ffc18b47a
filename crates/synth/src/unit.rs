//! One unit of the bank from skeleton to rows: its people and companies, their declared
//! relations (关系), assets, transactions, events, campaign contacts, interactions and the
//! ground truth that says who is who.

use chrono::{Days, NaiveDate};
use portrait_types::model::{RELATION_TYPE, TableDef, table};
use rand::Rng;

use crate::SynthError;
use crate::World;
use crate::behaviour::assets::{self, Account, Borrower, Forced, Owner};
use crate::behaviour::campaigns::{self, Contact};
use crate::behaviour::transactions::{self, Ledger};
use crate::behaviour::{Holding, events, interactions};
use crate::corporates::{self, Company, CorpNumber};
use crate::people::{self, Person};
use crate::places;
use crate::plan::Role;
use crate::products::ProductType;
use crate::rng::{RngExt, Stream, rng_for};
use crate::writer::{Encoded, Style, TableBuf, code};

/// The generated tables in [`portrait_types::model::TABLES`] order (the catalogue `product` is
/// written once, apart).
pub(crate) const GENERATED: [&str; 8] = [
    "customer",
    "asset_snapshot",
    "transaction",
    "holding",
    "event",
    "campaign_response",
    "relation",
    "interaction",
];

/// Truth files and their headers.
pub(crate) const TRUTH: [(&str, &str); 6] = [
    ("identity.csv", "cust_no,true_id,noise"),
    ("household.csv", "true_id,household_id"),
    ("corp_group.csv", "true_id,corp_group_id"),
    (
        "churn.csv",
        "true_id,churned,churn_date,kind,warning_days,return_date",
    ),
    ("customer_churn.csv", "cust_no,churn_date,kind"),
    // The interests a person's spending follows, one line per interest and customer number.
    ("interest.csv", "cust_no,interest"),
];

fn def(name: &str) -> &'static TableDef {
    table(name).expect("canonical table")
}

/// Everything a chunk of units produces.
pub(crate) struct Out {
    pub customer: TableBuf,
    pub asset_snapshot: TableBuf,
    pub transaction: TableBuf,
    pub holding: TableBuf,
    pub event: TableBuf,
    pub campaign_response: TableBuf,
    pub relation: TableBuf,
    pub interaction: TableBuf,
    truth: [Vec<u8>; TRUTH.len()],
    persons: u64,
    duplicate_persons: u64,
    numbers: u64,
}

/// A finished chunk, encoded for the files.
pub(crate) struct Chunk {
    /// Encoded rows and row counts in [`GENERATED`] order.
    pub tables: Vec<(Encoded, u64)>,
    pub truth: [Vec<u8>; TRUTH.len()],
    pub persons: u64,
    pub duplicate_persons: u64,
    pub numbers: u64,
}

impl Out {
    /// Buffers for about `numbers` customer numbers at `txn_scale` times the default activity.
    pub(crate) fn new(style: Style, numbers: u32, txn_scale: f64) -> Self {
        // Typical CSV bytes per customer number, from generated banks.
        let t = |name, per_number: f64| {
            let bytes = (f64::from(numbers) * per_number * 1.15) as usize;
            TableBuf::with_capacity(def(name), style, bytes.clamp(1 << 12, 1 << 28))
        };
        let activity = txn_scale.max(0.05);
        Self {
            customer: t("customer", 450.0),
            asset_snapshot: t("asset_snapshot", 720.0),
            transaction: t("transaction", 4_800.0 * activity),
            holding: t("holding", 210.0),
            event: t("event", 1_750.0 * activity),
            campaign_response: t("campaign_response", 50.0),
            relation: t("relation", 30.0),
            interaction: t("interaction", 90.0),
            truth: Default::default(),
            persons: 0,
            duplicate_persons: 0,
            numbers: 0,
        }
    }

    pub(crate) fn finish(self, style: Style) -> Result<Chunk, SynthError> {
        let bufs = [
            self.customer,
            self.asset_snapshot,
            self.transaction,
            self.holding,
            self.event,
            self.campaign_response,
            self.relation,
            self.interaction,
        ];
        let tables = bufs
            .into_iter()
            .map(|b| {
                let rows = b.rows();
                b.finish(style).map(|e| (e, rows))
            })
            .collect::<Result<_, _>>()?;
        Ok(Chunk {
            tables,
            truth: self.truth,
            persons: self.persons,
            duplicate_persons: self.duplicate_persons,
            numbers: self.numbers,
        })
    }

    fn truth_line(&mut self, file: usize, fields: &[&str]) {
        let out = &mut self.truth[file];
        out.extend_from_slice(fields.join(",").as_bytes());
        out.push(b'\n');
    }

    /// A declared relation: `related` is the `kind` of `number` (its spouse, guarantor …).
    fn relation(&mut self, world: &World, number: u32, related: u32, kind: &str) {
        let t = &mut self.relation;
        t.digits("", world.keys.cust_no(number), 10);
        t.digits("", world.keys.cust_no(related), 10);
        t.code(code(RELATION_TYPE, kind));
        t.end_row();
    }
}

/// Any of a person's numbers, usually the primary one (relations are declared on one record).
fn some_number(rng: &mut impl Rng, p: &Person) -> u32 {
    if p.numbers.len() > 1 && rng.chance(0.2) {
        rng.pick_ref(&p.numbers[1..]).index
    } else {
        p.primary().index
    }
}

fn person_assets(
    world: &World,
    rng: &mut impl Rng,
    p: &mut Person,
    contacts: &[Contact],
    out: &mut Out,
) -> Vec<Holding> {
    let accounts: Vec<Account> = p
        .numbers
        .iter()
        .map(|n| Account {
            index: n.index,
            open: n.open,
            share: n.share,
        })
        .collect();
    let converted: Vec<Forced> = contacts
        .iter()
        .filter(|c| c.converted)
        .map(|c| Forced {
            number: c.number,
            product: world.campaigns[c.campaign].product,
            open: (c.date + Days::new(rng.random_range(0..10))).min(world.end),
        })
        .collect();
    let (asset_forced, credit_forced): (Vec<Forced>, Vec<Forced>) = converted
        .into_iter()
        .partition(|f| ProductType::ASSETS.contains(&f.product.kind));
    let owner = Owner {
        churn: p.traits.churn,
        leaving: p.traits.leaving,
        exit: p.traits.exit,
        tolerance: p.traits.tolerance(),
        interests: &p.traits.interests,
        corporate: false,
        digital: p.traits.digital,
    };
    let alloc = assets::allocation(rng, p.traits.wealth, p.traits.risk, p.age, p.traits.digital);
    let (mut holdings, finals) =
        assets::portfolio(world, rng, &accounts, &owner, &alloc, &asset_forced, out);
    for (n, f) in p.numbers.iter_mut().zip(finals) {
        n.assets_cents = f;
    }
    let risk_factor = 1.0
        + 2.0 * f64::from(u8::from(p.traits.churn.is_some()))
        + 1.5 * f64::from(u8::from(p.income < 5_000.0))
        + f64::from(u8::from(matches!(p.rating, "BB" | "B" | "C")));
    let borrower = Borrower {
        age: p.age,
        income: p.income,
        wealth: p.traits.wealth,
        has_property: p.has_property,
        has_car: p.has_car,
        business: matches!(p.occupation, Some("个体工商户" | "私营企业主")),
        tier: p.address.region().tier(),
        digital: p.traits.digital,
        interests: &p.traits.interests,
        churn: p.traits.churn,
        risk_factor,
        corporate_size: None,
    };
    if p.is_adult() {
        holdings.extend(assets::credit(world, rng, &accounts, &borrower));
        for f in credit_forced {
            holdings.push(assets::forced_credit(rng, &f, p.income));
        }
    }
    holdings
}

fn company_assets(
    world: &World,
    rng: &mut impl Rng,
    c: &Company,
    numbers: &mut [CorpNumber],
    out: &mut Out,
) -> Vec<Holding> {
    let accounts: Vec<Account> = numbers
        .iter()
        .map(|n| Account {
            index: n.index,
            open: n.open,
            share: n.share,
        })
        .collect();
    let total: f64 = accounts.iter().map(|a| a.share).sum();
    let accounts: Vec<Account> = accounts
        .into_iter()
        .map(|a| Account {
            share: a.share / total,
            ..a
        })
        .collect();
    let owner = Owner {
        churn: None,
        leaving: None,
        exit: false,
        tolerance: 2,
        interests: &[],
        corporate: true,
        digital: 0.8,
    };
    let mut alloc = vec![(ProductType::Deposit, c.wealth * 0.75)];
    if rng.chance(0.4) {
        alloc.push((ProductType::Wealth, c.wealth * 0.25));
    } else {
        alloc[0].1 = c.wealth;
    }
    let (mut holdings, finals) = assets::portfolio(world, rng, &accounts, &owner, &alloc, &[], out);
    for (n, f) in numbers.iter_mut().zip(finals) {
        n.assets_cents = f;
    }
    let borrower = Borrower {
        age: 40,
        income: 0.0,
        wealth: c.wealth,
        has_property: false,
        has_car: false,
        business: true,
        tier: places::region(c.plan.region).tier(),
        digital: 0.8,
        interests: &[],
        churn: None,
        risk_factor: 0.7,
        corporate_size: Some(c.size),
    };
    holdings.extend(assets::credit(world, rng, &accounts, &borrower));
    holdings
}

/// The companies of a unit with their numbers, legal representatives (person positions)
/// and holdings.
struct Firms<'a> {
    companies: &'a [Company],
    numbers: &'a [Vec<CorpNumber>],
    reps: &'a [usize],
    holdings: &'a [Vec<Holding>],
}

/// Declared relations: only some of the real family ties, plus the corporate ones.
fn relations(world: &World, rng: &mut impl Rng, persons: &[Person], firms: &Firms, out: &mut Out) {
    let Firms {
        companies,
        numbers: corp_numbers,
        reps,
        holdings: corp_holdings,
    } = *firms;
    const DECLARED: f64 = 0.6;
    if let Some(head) = persons.first() {
        for p in &persons[1..] {
            match p.role {
                Role::Spouse => {
                    if rng.chance(DECLARED) {
                        let (a, b) = (some_number(rng, head), some_number(rng, p));
                        if rng.chance(0.5) {
                            out.relation(world, a, b, "spouse")
                        } else {
                            out.relation(world, b, a, "spouse")
                        }
                    }
                }
                Role::Child => {
                    let parents: Vec<&Person> = persons
                        .iter()
                        .filter(|q| matches!(q.role, Role::Head | Role::Spouse))
                        .collect();
                    for parent in parents {
                        if rng.chance(DECLARED) {
                            let (c, par) = (some_number(rng, p), some_number(rng, parent));
                            if rng.chance(0.5) {
                                out.relation(world, c, par, "parent")
                            } else {
                                out.relation(world, par, c, "child")
                            }
                        }
                    }
                }
                Role::Elder => {
                    if rng.chance(DECLARED) {
                        let (c, par) = (some_number(rng, head), some_number(rng, p));
                        if rng.chance(0.5) {
                            out.relation(world, c, par, "parent")
                        } else {
                            out.relation(world, par, c, "child")
                        }
                    }
                }
                Role::Head => {}
            }
        }
    }
    // Employees of corporate customers.
    for p in persons {
        if let Some(ci) = p.employer_company
            && rng.chance(if p.payroll { 0.85 } else { 0.5 })
        {
            out.relation(
                world,
                p.primary().index,
                world.plan.companies[ci as usize].number,
                "employee_of",
            );
        }
    }
    for (k, (c, nums)) in companies.iter().zip(corp_numbers).enumerate() {
        let primary = nums[0].index;
        let rep = &persons[reps[k]];
        out.relation(world, primary, rep.primary().index, "legal_rep");
        if k == 0 {
            if rng.chance(0.85) {
                out.relation(world, primary, persons[0].primary().index, "shareholder");
            }
            if let Some(spouse) = persons.iter().find(|p| p.role == Role::Spouse)
                && rng.chance(0.3)
            {
                out.relation(world, primary, spouse.primary().index, "shareholder");
            }
            let has_loan = corp_holdings[k]
                .iter()
                .any(|h| h.product.kind == ProductType::Loan);
            if has_loan && rng.chance(0.35) {
                out.relation(world, primary, persons[0].primary().index, "guarantor");
            }
            // Chains across businesses: the previous company of the bank guarantees this one.
            if c.index > 0 && rng.chance(0.12) {
                let prev = world.plan.companies[(c.index - 1) as usize];
                if prev.unit != c.plan.unit {
                    out.relation(world, primary, prev.number, "guarantor");
                }
            }
        } else {
            let parent = corp_numbers[0][0].index;
            if rng.chance(0.85) {
                out.relation(world, parent, primary, "group_member");
            }
            if rng.chance(0.9) {
                out.relation(world, primary, parent, "shareholder");
            }
            // Guarantee chain inside the group: parent → first member → second member …
            if rng.chance(0.6) {
                out.relation(world, primary, corp_numbers[k - 1][0].index, "guarantor");
            }
        }
    }
}

/// Generates unit `u` into `out`.
pub(crate) fn generate(world: &World, u: u32, out: &mut Out) {
    let up = world.plan.unit(u);
    let count = world.plan.unit(u + 1).first_number - up.first_number;
    let sk = world.plan.skeleton(world.seed, u, world.end);
    let mut rng = rng_for(world.seed, Stream::Unit, u64::from(u));
    let rng = &mut rng;
    let mut persons = people::build(world, rng, u, &sk);
    let companies: Vec<Company> = (0..sk.companies.len() as u32)
        .map(|pos| corporates::profile(world, up.first_company + pos))
        .collect();
    let mut corp_numbers: Vec<Vec<CorpNumber>> = companies
        .iter()
        .zip(&sk.companies)
        .map(|(c, s)| corporates::numbers(world, rng, c, s.numbers))
        .collect();

    let contacts: Vec<Vec<Contact>> = persons
        .iter()
        .map(|p| campaigns::person(world, rng, p))
        .collect();
    let holdings: Vec<Vec<Holding>> = persons
        .iter_mut()
        .zip(&contacts)
        .map(|(p, cs)| person_assets(world, rng, p, cs, out))
        .collect();
    let corp_holdings: Vec<Vec<Holding>> = companies
        .iter()
        .zip(corp_numbers.iter_mut())
        .map(|(c, n)| company_assets(world, rng, c, n, out))
        .collect();

    for p in &persons {
        people::write_customers(world, p, out);
    }
    let spouse = persons.iter().position(|p| p.role == Role::Spouse);
    let reps: Vec<usize> = (0..companies.len())
        .map(|k| match (k, spouse) {
            (0, _) => 0,
            (_, Some(s)) if rng.chance(0.3) => s,
            _ => 0,
        })
        .collect();
    for (k, (c, nums)) in companies.iter().zip(&corp_numbers).enumerate() {
        let rep = &persons[reps[k]];
        corporates::write_customers(world, c, nums, &rep.name(), &rep.mobile, out);
    }
    let firms = Firms {
        companies: &companies,
        numbers: &corp_numbers,
        reps: &reps,
        holdings: &corp_holdings,
    };
    relations(world, rng, &persons, &firms, out);
    for h in holdings.iter().chain(&corp_holdings) {
        assets::write_holdings(world, h, out);
    }

    let mut ledger = Ledger::new(up.first_number, count);
    for p in &persons {
        transactions::register_person(world, p, &mut ledger);
    }
    for nums in &corp_numbers {
        transactions::register_company(world, nums, &mut ledger);
    }
    for (i, p) in persons.iter().enumerate() {
        let family: Vec<u32> = persons
            .iter()
            .enumerate()
            .filter(|(j, _)| *j != i)
            .flat_map(|(_, q)| q.numbers.iter().map(|n| n.index))
            .collect();
        transactions::person(world, rng, p, &holdings[i], &family, &mut ledger);
    }
    let group: Vec<u32> = corp_numbers.iter().map(|n| n[0].index).collect();
    for (k, (c, nums)) in companies.iter().zip(&corp_numbers).enumerate() {
        let partners: Vec<u32> = group
            .iter()
            .copied()
            .filter(|&g| g != nums[0].index)
            .collect();
        let owner = (k == 0).then(|| persons[0].primary().index);
        transactions::company(
            world,
            rng,
            c,
            nums,
            &corp_holdings[k],
            &partners,
            owner,
            &mut ledger,
        );
    }
    ledger.write(world, out);

    for (p, h) in persons.iter().zip(&holdings) {
        events::person(world, rng, p, h, out);
        interactions::person(world, rng, p, out);
    }
    for (c, nums) in companies.iter().zip(&corp_numbers) {
        interactions::company(world, rng, c, nums, out);
    }
    for cs in &contacts {
        campaigns::write(world, cs, out);
    }
    truth(world, u, &persons, &companies, &corp_numbers, out);
    out.numbers += u64::from(count);
}

fn truth(
    world: &World,
    u: u32,
    persons: &[Person],
    companies: &[Company],
    corp_numbers: &[Vec<CorpNumber>],
    out: &mut Out,
) {
    let household = format!("H{u:09}");
    for p in persons {
        let id = format!("P{:09}", p.index);
        for n in &p.numbers {
            let cust = world.keys.cust_no(n.index).to_string();
            out.truth_line(0, &[&cust, &id, &n.noise.join(";")]);
        }
        out.truth_line(1, &[&id, &household]);
        // A person churns on the first day without activity; a returner too, and comes back.
        let day = |d: NaiveDate| d.format("%Y-%m-%d").to_string();
        let (churn, kind, warning, back) = match p.traits.leaving {
            Some(l) => (
                day(l.from),
                l.kind.code(),
                l.warning_days.to_string(),
                l.back
                    .filter(|b| *b <= world.end)
                    .map(day)
                    .unwrap_or_default(),
            ),
            None => Default::default(),
        };
        let churned = if p.traits.leaving.is_some() {
            "true"
        } else {
            "false"
        };
        out.truth_line(3, &[&id, churned, &churn, kind, &warning, &back]);
        for n in &p.numbers {
            let cust = world.keys.cust_no(n.index).to_string();
            out.truth_line(4, &[&cust, &churn, kind]);
            for i in &p.traits.interests {
                out.truth_line(5, &[&cust, i.profile().code]);
            }
        }
        out.persons += 1;
        out.duplicate_persons += u64::from(p.numbers.len() > 1);
    }
    let group = format!("G{u:09}");
    for (c, nums) in companies.iter().zip(corp_numbers) {
        let id = format!("E{:09}", c.index);
        for n in nums {
            let cust = world.keys.cust_no(n.index).to_string();
            out.truth_line(0, &[&cust, &id, &n.noise.join(";")]);
        }
        out.truth_line(2, &[&id, &group]);
    }
}
