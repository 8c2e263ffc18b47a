//! `[score]` in `portrait.toml`: the parameters of every score, with documented defaults.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ScoreConfig {
    pub clv: ClvConfig,
    pub bgnbd: BgNbdConfig,
    pub churn: ChurnConfig,
    pub retention: RetentionConfig,
}

/// CLV as discounted profit: the party's yearly profit (revenue − cost of its holdings) received
/// at the end of each of the next `years` years, discounted at `discount_rate` a year.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ClvConfig {
    pub years: u32,
    pub discount_rate: f64,
}

/// BG/NBD + Gamma-Gamma over the party's activity days (the activity of `[features.rfm]`).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct BgNbdConfig {
    /// Days in the models' time unit (7: weeks, as in the published CDNOW fit).
    pub unit_days: f64,
    /// Horizon of `expected_purchases`, in days.
    pub horizon_days: f64,
    /// CLV horizon in months, each discounted at `monthly_discount_rate`.
    pub clv_months: usize,
    pub monthly_discount_rate: f64,
    /// Share of spend that is profit, applied to the Gamma-Gamma value in `clv_bgnbd`.
    pub margin: f64,
    /// L2 penalty of the fits (0: plain maximum likelihood).
    pub penalizer: f64,
    /// Penalty of the refit when the unpenalised BG/NBD fit does not converge or sends a shape
    /// parameter towards 0 or infinity (0: keep the unpenalised estimate).
    pub boundary_penalizer: f64,
    /// Most optimiser iterations of each fit.
    pub max_iterations: usize,
    /// Wall-clock budget of each fit, in seconds; past it the best estimate so far is used.
    pub max_seconds: f64,
}

/// Churn: what a bank means by a party leaving, judged in the `window_days` after a date.
///
/// The label is one condition or several joined by `+` (all must hold):
/// - `activity`: a silence of `inactive_days` without activity begins within the window (the
///   party's last activity before it falls between the date and the window's end);
/// - `assets`: the party's balances at the window's end are at most (1 − `assets_drop`) of
///   those at the date;
/// - `closed`: the party held an open product at the date and holds none at the window's end.
///
/// A party that cannot churn any more at a date (silent for `inactive_days` already, no balance
/// left, no product left) is not in the population: at the as-of date it is reported as
/// churned rather than scored.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ChurnConfig {
    pub window_days: i64,
    /// `activity`, `assets`, `closed` or a combination such as `activity+assets`; `auto` is
    /// `activity`. The older `activity_and_assets` is `activity+assets`.
    pub label: String,
    /// Days without activity that make a party churned (the `activity` condition).
    pub inactive_days: i64,
    /// What counts as activity for the `activity` condition: `any` (every transaction in
    /// either direction — a salary coming in shows the customer is still here — outside
    /// `features.rfm.exclude_categories`, and every digital event) or `rfm` (the RFM
    /// definition of `features.rfm`: by default the customer's own debits only).
    pub activity: String,
    /// Dates the model learns from: the first is `window_days` before the validation date,
    /// each further one `training_step_days` earlier (a party's rows at several dates show the
    /// model the same departure seen from further away).
    pub training_dates: usize,
    pub training_step_days: i64,
    /// Share of the balances that must go for the `assets` condition (0.3: down by 30 %).
    pub assets_drop: f64,
    /// Older name of the label: `true` is `activity+assets`, `false` is `activity`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub assets_down: Option<bool>,
    /// The model that scores the parties: `gbt` (gradient-boosted trees) or `logistic`; both
    /// are trained and reported.
    pub model: String,
    /// Recency classes at a date that may enter the population (empty: every party that can
    /// still churn).
    pub population: Vec<String>,
    /// How the chosen model's scores become probabilities: `auto` (Platt or isotonic, the one
    /// with the lower log loss on held-out halves of the validation date), `platt`,
    /// `isotonic` or `none`.
    pub calibration: String,
    /// Seed of the tree model.
    pub seed: u64,
    /// Wall-clock budget of each churn model's fit in seconds: the logistic regression keeps
    /// its last iterate, the trees stop growing, and the report says so.
    pub max_seconds: f64,
}

/// The conditions of a churn label.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Label {
    pub activity: bool,
    pub assets: bool,
    pub closed: bool,
}

impl Label {
    /// Canonical name: the conditions in a fixed order joined by `+`.
    pub fn name(self) -> String {
        let mut parts = Vec::new();
        if self.activity {
            parts.push("activity");
        }
        if self.assets {
            parts.push("assets");
        }
        if self.closed {
            parts.push("closed");
        }
        parts.join("+")
    }
}

/// The six retention groups: `churned` for a party that has already churned; `no_value` when
/// the value is ≤ 0; otherwise high-value when the
/// value is in the top `high_value_share` of parties with value, and churn-prone when the churn
/// probability is at least `churn_prone_from`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RetentionConfig {
    /// `clv` (discounted profit) or `clv_bgnbd`.
    pub value: String,
    pub high_value_share: f64,
    pub churn_prone_from: f64,
}

impl Default for ClvConfig {
    fn default() -> Self {
        Self {
            years: 3,
            discount_rate: 0.08,
        }
    }
}

impl Default for BgNbdConfig {
    fn default() -> Self {
        Self {
            unit_days: 7.0,
            horizon_days: 90.0,
            clv_months: 12,
            monthly_discount_rate: 0.01,
            margin: 1.0,
            penalizer: 0.0,
            boundary_penalizer: 0.001,
            max_iterations: 1000,
            max_seconds: 10.0,
        }
    }
}

impl Default for ChurnConfig {
    fn default() -> Self {
        Self {
            window_days: 90,
            label: "auto".into(),
            inactive_days: 90,
            activity: "any".into(),
            training_dates: 3,
            training_step_days: 30,
            assets_drop: 0.3,
            assets_down: None,
            model: "gbt".into(),
            population: Vec::new(),
            calibration: "auto".into(),
            seed: 42,
            max_seconds: 60.0,
        }
    }
}

impl Default for RetentionConfig {
    fn default() -> Self {
        Self {
            value: "clv".into(),
            high_value_share: 0.2,
            churn_prone_from: 0.3,
        }
    }
}

impl ScoreConfig {
    /// Checks ranges; the error names the offending key.
    pub fn validate(&self) -> Result<(), String> {
        let c = &self.clv;
        if c.years == 0 || !(0.0..1.0).contains(&c.discount_rate) {
            return Err(format!(
                "score.clv: need years ≥ 1 and 0 ≤ discount_rate < 1, found {} and {}",
                c.years, c.discount_rate
            ));
        }
        let b = &self.bgnbd;
        if !(b.unit_days > 0.0 && b.horizon_days > 0.0 && b.clv_months > 0) {
            return Err(
                "score.bgnbd: unit_days, horizon_days and clv_months must be positive".into(),
            );
        }
        if !(0.0..1.0).contains(&b.monthly_discount_rate)
            || b.margin < 0.0
            || b.penalizer < 0.0
            || b.boundary_penalizer < 0.0
        {
            return Err(
                "score.bgnbd: need 0 ≤ monthly_discount_rate < 1, margin ≥ 0, penalizer ≥ 0 and boundary_penalizer ≥ 0"
                    .into(),
            );
        }
        if !(self.churn.max_seconds.is_finite() && self.churn.max_seconds > 0.0) {
            return Err("score.churn.max_seconds must be a positive number of seconds".into());
        }
        if b.max_iterations == 0 || !(b.max_seconds.is_finite() && b.max_seconds > 0.0) {
            return Err("score.bgnbd: max_iterations and max_seconds must be positive".into());
        }
        let k = &self.churn;
        if k.window_days < 30 {
            return Err(format!(
                "score.churn.window_days must be at least 30, found {}",
                k.window_days
            ));
        }
        k.label_parts()?;
        if k.inactive_days < 1 || k.inactive_days > 3650 {
            return Err(format!(
                "score.churn.inactive_days must be between 1 and 3650, found {}",
                k.inactive_days
            ));
        }
        if !(1..=12).contains(&k.training_dates) || !(1..=365).contains(&k.training_step_days) {
            return Err(format!(
                "score.churn: training_dates must be 1–12 and training_step_days 1–365, found {} and {}",
                k.training_dates, k.training_step_days
            ));
        }
        if !matches!(k.activity.as_str(), "any" | "rfm") {
            return Err(format!(
                "score.churn.activity must be any or rfm, found `{}`",
                k.activity
            ));
        }
        if !(k.assets_drop > 0.0 && k.assets_drop <= 1.0) {
            return Err(format!(
                "score.churn.assets_drop must be in (0, 1] (0.3: balances down by 30 %), found {}",
                k.assets_drop
            ));
        }
        if !matches!(
            k.calibration.as_str(),
            "auto" | "platt" | "isotonic" | "none"
        ) {
            return Err(format!(
                "score.churn.calibration must be auto, platt, isotonic or none, found `{}`",
                k.calibration
            ));
        }
        if !matches!(k.model.as_str(), "gbt" | "logistic") {
            return Err(format!(
                "score.churn.model must be gbt or logistic, found `{}`",
                k.model
            ));
        }
        for p in &k.population {
            if !matches!(p.as_str(), "active" | "sleeping" | "pre_churn" | "churned") {
                return Err(format!(
                    "score.churn.population: `{p}` is not a recency class (active, sleeping, pre_churn, churned)"
                ));
            }
        }
        let r = &self.retention;
        if !matches!(r.value.as_str(), "clv" | "clv_bgnbd") {
            return Err(format!(
                "score.retention.value must be clv or clv_bgnbd, found `{}`",
                r.value
            ));
        }
        let share_ok = r.high_value_share > 0.0 && r.high_value_share < 1.0;
        if !(share_ok && (0.0..=1.0).contains(&r.churn_prone_from)) {
            return Err(
                "score.retention: need 0 < high_value_share < 1 and 0 ≤ churn_prone_from ≤ 1"
                    .into(),
            );
        }
        Ok(())
    }

    /// The churn label in words.
    fn churn_condition_text(&self) -> String {
        let k = &self.churn;
        let l = k.label_parts().unwrap_or_default();
        let mut parts = Vec::new();
        if l.activity {
            parts.push(format!(
                "a party active on or after the date has its last activity ({}) within the window, then {} days or more of silence",
                if k.activity == "rfm" {
                    "the RFM activity of features.rfm"
                } else {
                    "any transaction or digital event"
                },
                k.inactive_days
            ));
        }
        if l.assets {
            parts.push(format!(
                "balances fall by {:.0}% or more",
                100.0 * k.assets_drop
            ));
        }
        if l.closed {
            parts.push("every product is closed".to_string());
        }
        parts.join(" and ")
    }

    /// Annuity factor of the discounted-profit CLV: Σₜ₌₁ʸ (1 + d)⁻ᵗ.
    pub fn clv_factor(&self) -> f64 {
        (1..=self.clv.years)
            .map(|t| (1.0 + self.clv.discount_rate).powi(-(t as i32)))
            .sum()
    }
}

impl ScoreConfig {
    /// `(column, definition)` of every score column with the parameters in force, for
    /// `portrait features --explain`.
    pub fn explain(&self) -> Vec<(String, String)> {
        let (c, b, k, r) = (&self.clv, &self.bgnbd, &self.churn, &self.retention);
        vec![
            (
                "clv".into(),
                format!(
                    "discounted profit: yearly profit (revenue − cost) at the end of each of the next {} years at {} a year (factor {:.4})",
                    c.years,
                    c.discount_rate,
                    self.clv_factor()
                ),
            ),
            (
                "p_alive, expected_purchases".into(),
                format!(
                    "BG/NBD fitted by maximum likelihood on activity days (time unit {} days, penalizer {}): probability the party is still active; expected activity days in the next {} days",
                    b.unit_days, b.penalizer, b.horizon_days
                ),
            ),
            (
                "expected_value, clv_bgnbd".into(),
                format!(
                    "Gamma-Gamma expected value of an activity day; its discounted value over the next {} months at {} a month, times margin {}",
                    b.clv_months, b.monthly_discount_rate, b.margin
                ),
            ),
            (
                "churn_probability".into(),
                format!(
                    "{} model's calibrated probability ({} calibration) that the party churns — {} — in the next {} days; trained on the features {} days before the as-of date (and {} more dates, {} days apart before that), calibrated out of fold on the latest training date and judged on the features {} days before, each labelled by what happened after; parties that can no longer churn (silent for {} days, nothing left) are reported as churned, not scored",
                    k.model,
                    k.calibration,
                    self.churn_condition_text(),
                    k.window_days,
                    k.window_days * 2 + k.inactive_days,
                    k.training_dates - 1,
                    k.training_step_days,
                    k.window_days + k.inactive_days,
                    k.inactive_days
                ),
            ),
            (
                "retention_group".into(),
                format!(
                    "churned when the party has already churned (see churn_probability); else no_value when {} ≤ 0; else high_value_* in the top {}% of parties with value, *_churn_prone from churn_probability {}: high_value_stable, high_value_churn_prone, low_value_stable, low_value_churn_prone",
                    r.value,
                    100.0 * r.high_value_share,
                    r.churn_prone_from
                ),
            ),
        ]
    }
}

impl ChurnConfig {
    /// The conditions of the label in force.
    ///
    /// # Errors
    /// A message naming `score.churn.label` when it names an unknown condition.
    pub fn label_parts(&self) -> Result<Label, String> {
        if let Some(v) = self.assets_down {
            return Ok(Label {
                activity: true,
                assets: v,
                closed: false,
            });
        }
        let text = match self.label.as_str() {
            "auto" => "activity",
            "activity_and_assets" => "activity+assets",
            other => other,
        };
        let mut l = Label::default();
        for part in text.split('+').map(str::trim) {
            match part {
                "activity" => l.activity = true,
                "assets" => l.assets = true,
                "closed" => l.closed = true,
                _ => {
                    return Err(format!(
                        "score.churn.label: `{part}` is not a churn condition (activity, assets, closed, joined by +, or auto), found `{}`",
                        self.label
                    ));
                }
            }
        }
        Ok(l)
    }

    /// The label in force, by name (`activity` when the configuration is invalid, which
    /// `validate` reports).
    pub fn label_name(&self) -> String {
        self.label_parts()
            .unwrap_or(Label {
                activity: true,
                ..Label::default()
            })
            .name()
    }
}
