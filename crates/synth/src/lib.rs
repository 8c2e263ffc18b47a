//! The seeded synthetic bank: a realistic Chinese retail and corporate bank in portrait's
//! canonical model, with the ground truth needed to test identity resolution, households,
//! corporate groups, features, churn and tags.
//!
//! [`generate`] writes one file per canonical table (`customer.csv`, `transaction.csv`, … or
//! `.parquet`) and the truth under `truth/`:
//!
//! - `identity.csv` — `cust_no,true_id,noise`: the person (`P…`) or company (`E…`) behind every
//!   customer number, and how a duplicate record deviates (`name_typo;old_mobile`, empty for
//!   clean records). Noise labels: `name_typo`, `name_swap`, `old_mobile`, `address_variant`,
//!   `id_missing`, `id_lower_x`, `birth_transposed` (the birth date disagrees with the ID
//!   number: the only records where it does), and for companies `name_variant`,
//!   `uscc_missing`, `org_code` (the pre-2015 organisation code instead of the credit code).
//! - `household.csv` — `true_id,household_id` for every person.
//! - `corp_group.csv` — `true_id,corp_group_id` for every company (standalone companies form a
//!   group of their own).
//! - `churn.csv` — `true_id,churned,churn_date` for every person.
//!
//! A relation row reads "`related_cust_no` is the `relation_type` of `cust_no`": the spouse,
//! parent or child of a person, the legal representative, shareholder or guarantor of a
//! company, a member of a group led by `cust_no`; `employee_of` rows are the exception and
//! read "`cust_no` is an employee of `related_cust_no`".
//!
//! Values: behaviour codes are English in every style — transaction `channel` (`mobile`,
//! `online`, `pos`, `atm`, `counter`, `third_party`), `category` (the interests `wine`,
//! `travel`, `sports`, `luxury`, `education`, `dining`, `groceries`, `entertainment`,
//! `health`, `auto`, `home`, `kids`, `beauty`, `electronics`, and `salary`, `transfer`,
//! `utilities`, `cash_withdrawal`, `investment`, `loan_repayment`), event `source_channel`
//! and `page`, campaign and interaction channels — while master data reads as a Chinese bank
//! keeps it (学历, 职业, 月收入 bands such as `8000-15000元`, 客户状态 `正常`/`睡眠`/`销户`/`冻结`,
//! 开户渠道 `柜面`/`手机银行` …). Model code lists follow [`Headers`].
//!
//! Generation is deterministic for a config: every unit (a household, or a business with its
//! owners' family) draws from its own random stream, chunks of units are generated in
//! parallel and written in order, so memory stays bounded and the bytes do not depend on the
//! number of threads.

mod behaviour;
mod calendar;
mod categories;
mod config;
mod corporates;
mod error;
mod jobs;
mod keys;
mod names;
mod people;
mod places;
mod plan;
mod products;
mod rng;
mod unit;
mod writer;

use std::path::Path;

use chrono::NaiveDate;
use portrait_types::model::table;
use rayon::prelude::*;

pub use config::{Encoding, Format, Headers, MAX_CUSTOMERS, SynthConfig};
pub use error::SynthError;
pub use places::{AddressSample, AddressVariantText, address_samples};

use crate::behaviour::campaigns::{self, Campaign};
use crate::calendar::Calendar;
use crate::keys::Keys;
use crate::plan::Plan;
use crate::unit::{GENERATED, Out, TRUTH};
use crate::writer::{Style, TableBuf, TableFile, TruthFile};

/// Customer numbers per chunk of work.
const CHUNK_CUSTOMERS: u32 = 2_048;

/// Progress after each chunk.
#[derive(Debug, Clone, Copy)]
pub struct Progress {
    pub customers_done: u64,
    pub customers_total: u64,
}

/// What was generated.
#[derive(Debug, Clone)]
pub struct Summary {
    /// Rows per table, in canonical table order.
    pub rows: Vec<(&'static str, u64)>,
    /// Distinct persons behind the individual customer numbers.
    pub persons: u64,
    /// Persons holding more than one customer number.
    pub duplicate_persons: u64,
}

/// Everything shared, read-only, by the workers of one run.
pub(crate) struct World {
    pub seed: u64,
    pub end: NaiveDate,
    pub customers: u32,
    /// `txns_per_customer / 50`: scales the activity of every customer.
    pub txn_scale: f64,
    pub cal: Calendar,
    pub plan: Plan,
    pub keys: Keys,
    pub campaigns: Vec<Campaign>,
    pub style: Style,
}

impl World {
    fn new(cfg: &config::ValidConfig) -> Self {
        Self {
            seed: cfg.seed,
            end: cfg.end,
            customers: cfg.customers,
            txn_scale: cfg.txns_per_customer / 50.0,
            cal: Calendar::new(cfg.start, cfg.end),
            plan: Plan::new(cfg.seed, cfg.customers, cfg.end),
            keys: Keys::new(cfg.seed, cfg.customers),
            campaigns: campaigns::catalogue(cfg.start, cfg.end),
            style: Style {
                format: cfg.format,
                encoding: cfg.encoding,
                headers: cfg.headers,
            },
        }
    }
}

fn write_products(dir: &Path, style: Style) -> Result<u64, SynthError> {
    let def = table("product").expect("canonical table");
    let mut buf = TableBuf::new(def, style);
    for p in products::PRODUCTS {
        buf.text(p.id);
        buf.text(p.name);
        buf.code(p.kind.code());
        buf.code(p.risk_code());
        buf.end_row();
    }
    let rows = buf.rows();
    let mut file = TableFile::create(dir, def, style)?;
    file.write(buf.finish(style)?)?;
    file.finish()?;
    Ok(rows)
}

/// Generates the synthetic bank described by `cfg` into `out` (created if missing), calling
/// `progress` after each chunk of customers.
pub fn generate(
    cfg: &SynthConfig,
    out: &Path,
    progress: &(dyn Fn(Progress) + Sync),
) -> Result<Summary, SynthError> {
    let cfg = cfg.validate()?;
    let truth_dir = out.join("truth");
    std::fs::create_dir_all(&truth_dir).map_err(SynthError::io(&truth_dir))?;
    let world = World::new(&cfg);
    let style = world.style;
    tracing::debug!(
        customers = cfg.customers,
        units = world.plan.unit_count(),
        persons = world.plan.persons(),
        "synthetic bank planned"
    );

    let product_rows = write_products(out, style)?;
    let mut files = GENERATED
        .iter()
        .map(|name| TableFile::create(out, table(name).expect("canonical table"), style))
        .collect::<Result<Vec<_>, _>>()?;
    let mut truth = TRUTH
        .iter()
        .map(|(name, header)| TruthFile::create(&truth_dir, name, header))
        .collect::<Result<Vec<_>, _>>()?;

    let chunks = world.plan.chunks(CHUNK_CUSTOMERS);
    let window = rayon::current_num_threads().max(1) * 2;
    let mut rows = [0u64; GENERATED.len()];
    let (mut persons, mut duplicate_persons, mut done) = (0u64, 0u64, 0u64);
    for batch in chunks.chunks(window) {
        let results: Vec<Result<unit::Chunk, SynthError>> = batch
            .par_iter()
            .map(|range| {
                let numbers = world.plan.unit(range.end).first_number
                    - world.plan.unit(range.start).first_number;
                let mut o = Out::new(style, numbers, world.txn_scale);
                for u in range.clone() {
                    unit::generate(&world, u, &mut o);
                }
                o.finish(style)
            })
            .collect();
        for result in results {
            let chunk = result?;
            for (i, (encoded, n)) in chunk.tables.into_iter().enumerate() {
                files[i].write(encoded)?;
                rows[i] += n;
            }
            for (f, bytes) in truth.iter_mut().zip(&chunk.truth) {
                f.write(bytes)?;
            }
            persons += chunk.persons;
            duplicate_persons += chunk.duplicate_persons;
            done += chunk.numbers;
            progress(Progress {
                customers_done: done,
                customers_total: u64::from(cfg.customers),
            });
        }
    }
    for f in files {
        f.finish()?;
    }
    for f in truth {
        f.finish()?;
    }
    if done != u64::from(cfg.customers) || rows[0] != done {
        return Err(SynthError::Internal(format!(
            "generated {done} customer numbers of {}",
            cfg.customers
        )));
    }
    let mut summary_rows: Vec<(&'static str, u64)> = GENERATED.iter().copied().zip(rows).collect();
    summary_rows.push(("product", product_rows));
    Ok(Summary {
        rows: summary_rows,
        persons,
        duplicate_persons,
    })
}
