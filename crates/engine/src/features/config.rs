//! Every definition and cut-off of the portrait, as read from `[features]` in `portrait.toml`.
//! The defaults are the documented ones; `portrait features --explain` prints what is in force.

use serde::{Deserialize, Serialize};

/// `[features]`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct FeatureConfig {
    /// Recency classes: active when R ≤ `active_days`, sleeping when R ≤ `sleeping_days`,
    /// pre-churn when R ≤ `pre_churn_days`, churned beyond.
    pub recency: RecencyConfig,
    pub rfm: RfmConfig,
    /// Consumption categories whose spend share, frequency and page views become interests.
    pub interest_categories: Vec<String>,
    /// Transaction channels whose shares form the channel mix.
    pub channels: Vec<String>,
    /// Transaction categories that mark salary (verifiable income).
    pub salary_categories: Vec<String>,
    pub asset_tiers: AssetTierConfig,
    /// Private banking: average daily financial assets over the last year at least this (CNY).
    pub private_banking_adb: f64,
    pub risk: RiskConfig,
    pub prospects: ProspectConfig,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RecencyConfig {
    pub active_days: i64,
    pub sleeping_days: i64,
    pub pre_churn_days: i64,
}

/// RFM over customer-initiated transactions.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RfmConfig {
    /// Frequency and monetary count the transactions of the last `window_days` days.
    pub window_days: i64,
    /// Directions that count as the customer's own activity (`debit`, `credit`); rows without a
    /// direction always count.
    pub directions: Vec<String>,
    /// Categories that never count as activity (e.g. standing orders).
    pub exclude_categories: Vec<String>,
    /// A quintile score at least this is "high" in the named RFM classes.
    pub high_score: i64,
}

/// Asset tiers by average daily financial assets over the last month (CNY); below `silver` is
/// ordinary.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AssetTierConfig {
    pub diamond: f64,
    pub platinum: f64,
    pub gold: f64,
    pub silver: f64,
}

/// Risk level and investment preference.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RiskConfig {
    /// Credit ratings that make the risk level high.
    pub high_ratings: Vec<String>,
    /// Credit ratings that make the risk level at least medium.
    pub medium_ratings: Vec<String>,
    /// Days overdue (worst holding) at which the risk level is high.
    pub high_overdue_days: i64,
    /// Days overdue at which the risk level is at least medium.
    pub medium_overdue_days: i64,
    /// Investment preference from the amount-weighted product risk (R1 = 1 … R5 = 5) of open
    /// investment holdings: conservative up to `growth_from`, growth up to `aggressive_from`,
    /// aggressive from there.
    pub growth_from: f64,
    pub aggressive_from: f64,
}

/// Lending prospect groups (信贷潜客).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ProspectConfig {
    /// Civil servants and public institutions: these occupations …
    pub public_occupations: Vec<String>,
    /// … or an employer whose name contains one of these.
    pub public_employer_words: Vec<String>,
    /// Large state-owned and Fortune-500 employers: employer name contains one of these.
    pub large_employer_words: Vec<String>,
    pub quality_occupations: Vec<String>,
    pub high_education: Vec<String>,
    /// Verifiable income: salary received in at least this many of the last six months.
    pub salary_months: i64,
}

fn strings(v: &[&str]) -> Vec<String> {
    v.iter().map(|s| s.to_string()).collect()
}

impl Default for FeatureConfig {
    fn default() -> Self {
        Self {
            recency: RecencyConfig::default(),
            rfm: RfmConfig::default(),
            interest_categories: strings(&[
                "wine",
                "travel",
                "sports",
                "luxury",
                "education",
                "dining",
                "entertainment",
                "electronics",
                "beauty",
                "home",
                "kids",
                "health",
                "auto",
                "groceries",
            ]),
            channels: strings(&["counter", "atm", "pos", "online", "mobile", "third_party"]),
            salary_categories: strings(&["salary"]),
            asset_tiers: AssetTierConfig::default(),
            private_banking_adb: 8_000_000.0,
            risk: RiskConfig::default(),
            prospects: ProspectConfig::default(),
        }
    }
}

impl Default for RecencyConfig {
    fn default() -> Self {
        Self {
            active_days: 90,
            sleeping_days: 180,
            pre_churn_days: 360,
        }
    }
}

impl Default for RfmConfig {
    fn default() -> Self {
        Self {
            window_days: 365,
            directions: strings(&["debit"]),
            exclude_categories: Vec::new(),
            high_score: 4,
        }
    }
}

impl Default for AssetTierConfig {
    fn default() -> Self {
        Self {
            diamond: 6_000_000.0,
            platinum: 1_000_000.0,
            gold: 200_000.0,
            silver: 50_000.0,
        }
    }
}

impl Default for RiskConfig {
    fn default() -> Self {
        Self {
            high_ratings: strings(&["CCC", "CC", "C", "D"]),
            medium_ratings: strings(&["BB", "B"]),
            high_overdue_days: 90,
            medium_overdue_days: 30,
            growth_from: 2.5,
            aggressive_from: 3.5,
        }
    }
}

impl Default for ProspectConfig {
    fn default() -> Self {
        Self {
            public_occupations: strings(&[
                "公务员",
                "事业单位人员",
                "教师",
                "医生",
                "护士",
                "军人",
            ]),
            public_employer_words: strings(&[
                "人民政府",
                "税务局",
                "公安",
                "人民法院",
                "人民检察院",
                "街道办事处",
                "委员会",
                "中学",
                "小学",
                "学校",
                "学院",
                "大学",
                "人民医院",
                "中医院",
                "妇幼保健院",
                "疾病预防控制中心",
                "研究院",
                "图书馆",
                "气象局",
                "广播电视台",
            ]),
            large_employer_words: strings(&[
                "国网",
                "国家电网",
                "南方电网",
                "中国石化",
                "中国石油",
                "中国海油",
                "中国移动",
                "中国电信",
                "中国联通",
                "中国建筑",
                "中国中铁",
                "中国铁建",
                "中国中车",
                "中国烟草",
                "中粮",
                "招商局",
                "中国银行",
                "工商银行",
                "建设银行",
                "农业银行",
                "交通银行",
                "中国平安",
                "中国人寿",
                "华为",
                "腾讯",
                "阿里巴巴",
                "京东",
            ]),
            quality_occupations: strings(&[
                "医生",
                "律师",
                "工程师",
                "软件工程师",
                "金融从业人员",
                "会计",
                "企业管理人员",
                "教师",
            ]),
            high_education: strings(&["大学本科", "硕士研究生", "博士研究生"]),
            salary_months: 3,
        }
    }
}

impl FeatureConfig {
    /// Checks the cut-offs for order and range; the error names the offending key.
    pub fn validate(&self) -> Result<(), String> {
        let r = &self.recency;
        if !(0 < r.active_days
            && r.active_days < r.sleeping_days
            && r.sleeping_days < r.pre_churn_days)
        {
            return Err(format!(
                "features.recency: need 0 < active_days < sleeping_days < pre_churn_days, found {} / {} / {}",
                r.active_days, r.sleeping_days, r.pre_churn_days
            ));
        }
        if self.rfm.window_days <= 0 {
            return Err(format!(
                "features.rfm.window_days must be positive, found {}",
                self.rfm.window_days
            ));
        }
        if !(1..=5).contains(&self.rfm.high_score) {
            return Err(format!(
                "features.rfm.high_score must be a quintile score 1–5, found {}",
                self.rfm.high_score
            ));
        }
        for d in &self.rfm.directions {
            if !matches!(d.as_str(), "debit" | "credit") {
                return Err(format!(
                    "features.rfm.directions: `{d}` is not a direction; use debit and/or credit"
                ));
            }
        }
        let t = &self.asset_tiers;
        if !(0.0 <= t.silver && t.silver < t.gold && t.gold < t.platinum && t.platinum < t.diamond)
        {
            return Err(format!(
                "features.asset_tiers: need 0 ≤ silver < gold < platinum < diamond, found {} / {} / {} / {}",
                t.silver, t.gold, t.platinum, t.diamond
            ));
        }
        let k = &self.risk;
        if !(k.medium_overdue_days <= k.high_overdue_days && k.growth_from <= k.aggressive_from) {
            return Err(
                "features.risk: need medium_overdue_days ≤ high_overdue_days and growth_from ≤ aggressive_from"
                    .into(),
            );
        }
        for c in self.interest_categories.iter().chain(&self.channels) {
            if c.is_empty() || !c.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
                return Err(format!(
                    "features: `{c}` cannot name a column; categories and channels use letters, digits and _"
                ));
            }
        }
        if !(0..=6).contains(&self.prospects.salary_months) {
            return Err(format!(
                "features.prospects.salary_months must be 0–6, found {}",
                self.prospects.salary_months
            ));
        }
        Ok(())
    }
}
