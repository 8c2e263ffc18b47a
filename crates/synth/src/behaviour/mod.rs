//! 客户行为 — what customers do with the bank: hold products and balances, transact, use the
//! app, answer campaigns and call the service centre. Everything here is driven by the latent
//! traits of [`crate::people::Traits`] so that features computed from the tables find them.

pub(crate) mod assets;
pub(crate) mod campaigns;
pub(crate) mod events;
pub(crate) mod interactions;
pub(crate) mod transactions;

use chrono::{Days, NaiveDate};
use rand::Rng;

use crate::products::Product;

/// 持有产品 — one product held under one customer number.
#[derive(Debug, Clone)]
pub(crate) struct Holding {
    pub number: u32,
    pub product: &'static Product,
    pub open: NaiveDate,
    pub close: Option<NaiveDate>,
    /// Amount held at the end date, or at closing for closed holdings, CNY. For loans the
    /// outstanding principal, for credit cards the balance owed.
    pub amount: f64,
    /// Amount at opening (principal of loans, credit limit of cards).
    pub initial: f64,
    /// Monthly instalment (loans, card bills) or regular investment (基金定投), CNY.
    pub monthly: f64,
    pub days_overdue: Option<i64>,
    /// Bought through the app or online banking.
    pub digital: bool,
}

impl Holding {
    /// Revenue and cost to the bank over the life of the holding up to `end`, in fen.
    pub(crate) fn economics(&self, end: NaiveDate) -> (i64, i64) {
        let until = self.close.unwrap_or(end).min(end);
        let years = ((until - self.open).num_days().max(0) as f64 / 365.25).min(30.0);
        let avg = (self.initial + self.amount) / 2.0;
        let p = self.product;
        let revenue = avg * p.revenue_rate * years + self.initial * p.upfront;
        let mut cost = avg * p.cost_rate * years + 20.0;
        if let Some(d) = self.days_overdue {
            // Provisions grow with the stage of delinquency.
            cost += self.amount
                * match d {
                    0 => 0.0,
                    1..=30 => 0.02,
                    31..=90 => 0.15,
                    _ => 0.5,
                };
        }
        (cents(revenue), cents(cost))
    }
}

/// CNY to fen.
pub(crate) fn cents(cny: f64) -> i64 {
    (cny * 100.0).round() as i64
}

/// A date uniformly in `lo..=hi` (`lo` when the range is empty).
pub(crate) fn date_between(rng: &mut impl Rng, lo: NaiveDate, hi: NaiveDate) -> NaiveDate {
    let span = (hi - lo).num_days().max(0) as u64;
    lo + Days::new(rng.random_range(0..=span))
}
