//! `portrait features --explain`: every column of `features` with its definition and the
//! cut-offs in force.

use super::config::FeatureConfig;
use super::sql::{
    ADB_WINDOWS, INTEREST_PAGE_PREFIX, INVESTMENT_TYPES, SNAPSHOT_VALID_DAYS, holding_types,
};

/// `(column, definition)` in output order (per-category and per-channel columns grouped).
pub fn explain(cfg: &FeatureConfig) -> Vec<(String, String)> {
    let r = &cfg.recency;
    let t = &cfg.asset_tiers;
    let k = &cfg.risk;
    let p = &cfg.prospects;
    let j = |v: &[String]| v.join(", ");
    let activity = format!(
        "transactions with direction {} (or none){}",
        j(&cfg.rfm.directions),
        if cfg.rfm.exclude_categories.is_empty() {
            String::new()
        } else {
            format!(", category not {}", j(&cfg.rfm.exclude_categories))
        }
    );
    let mut v: Vec<(String, String)> = vec![
        ("party_id".into(), "the party (one per customer number until `portrait resolve` has run)".into()),
        ("as_of".into(), "the as-of date; every window ends with this day, and later rows are ignored".into()),
        ("cust_count".into(), "customer numbers in the party".into()),
        ("age".into(), "whole years from birth date to the as-of date".into()),
        ("age_group".into(), "<18, 18-24, 25-29, 30-34, 35-39, 40-49, 50-59, 60+".into()),
        ("life_stage".into(), "by age, lower bound inclusive: 0-6, 6-15, 15-30, 30-45, 45-59, 60-74, 75-89, 90+".into()),
        ("province, city".into(), "from the address, or from the ID number's region when the address has none".into()),
        ("tenure_months".into(), "whole months since the earliest account opening of the party".into()),
        ("recency_days".into(), format!("days from the last activity to the as-of date; activity = {activity}")),
        ("frequency".into(), format!("activity transactions in the last {} days", cfg.rfm.window_days)),
        ("monetary".into(), format!("their total amount (CNY) in the last {} days", cfg.rfm.window_days)),
        ("recency_class".into(), format!(
            "active R ≤ {}, sleeping {} < R ≤ {}, pre_churn {} < R ≤ {}, churned R > {}; without any activity R counts from the account opening, and without that the party is churned",
            r.active_days, r.active_days, r.sleeping_days, r.sleeping_days, r.pre_churn_days, r.pre_churn_days
        )),
        ("r_score, f_score, m_score".into(), "quintile scores 1–5: 1 + ⌊5 × percent rank⌋ over all parties, capped at 5; R ranks recency descending (most recent scores 5, no activity scores 1). Ties share the rank of the first of them, so equal values always get the same score".into()),
        ("rfm_cell".into(), "the three scores as text, e.g. 545".into()),
        ("rfm_class".into(), format!(
            "a score ≥ {} is high. R high: M high → important_value (重要价值, F high) / important_develop (重要发展); M low → general_value (一般价值, F high) / general_develop (一般发展). R low: M high → important_keep (重要保持, F high) / important_retain (重要挽留); M low → general_keep (一般保持, F high) / general_retain (一般挽留)",
            cfg.rfm.high_score
        )),
        ("txn_count_year".into(), "all transactions in the last 365 days".into()),
        (format!("ch_<{}>", j(&cfg.channels)), "share of the last 365 days' transactions made in each channel".into()),
        ("mobile_banking_user".into(), "mobile banking signed, or any mobile-app event in the last 365 days".into()),
        (format!("share_<{}>", j(&cfg.interest_categories)), "the category's share of the spend (debits) over all these categories in the last 365 days".into()),
        ("freq_<category>".into(), "debit transactions in the category in the last 365 days".into()),
        ("views_<category>".into(), format!("page views of {INTEREST_PAGE_PREFIX}<category> in the last 365 days")),
        (format!("n_<{}>", holding_types().collect::<Vec<_>>().join(", ")), "open holdings of each product type at the as-of date".into()),
        ("product_types, n_holdings".into(), "product types held, and open holdings in all".into()),
    ];
    for (name, days) in ADB_WINDOWS {
        v.push((
            format!("adb_{name}"),
            format!(
                "average daily financial assets over the last {days} days, or since the party's first balance snapshot when that is later: each balance snapshot (summed over product types) holds until the next snapshot date of the table, at most {SNAPSHOT_VALID_DAYS} days; a party without a row on a snapshot date had nothing then"
            ),
        ));
    }
    v.extend([
        ("financial_assets".into(), "balance on the as-of date by the same rule, else the customer table's stated assets".into()),
        ("revenue, cost, profit".into(), "sums over the party's holdings; profit = revenue − cost".into()),
        ("max_days_overdue".into(), "worst days overdue among open holdings".into()),
        ("invest_risk".into(), format!("amount-weighted product risk (R1 = 1 … R5 = 5) of open {} holdings", INVESTMENT_TYPES.join(", "))),
        ("satisfaction".into(), "mean satisfaction score (1–5) of the last 365 days' interactions".into()),
        ("complaints_year, interactions_year".into(), "complaints and all service interactions in the last 365 days".into()),
        ("visits_90d, events_90d".into(), "days with digital activity, and events, in the last 91 days".into()),
        ("events_year, mobile_event_share".into(), "events in the last 365 days and the mobile app's share of them".into()),
        ("top_source_channel".into(), "the most frequent source channel of the last 365 days' events (ties: alphabetical)".into()),
        ("browse_to_buy".into(), "purchases ÷ product-page views in the last 365 days".into()),
        ("campaigns_contacted, campaign_response_rate, campaign_conversion_rate".into(), "campaign contacts in the last 365 days and the shares that responded and converted".into()),
        ("salary_months_6".into(), format!("of the last six calendar months (this one included), those with a credit in {}", j(&cfg.salary_categories))),
        ("asset_tier".into(), format!(
            "by adb_month: diamond ≥ {}, platinum ≥ {}, gold ≥ {}, silver ≥ {}, else ordinary (CNY)",
            t.diamond, t.platinum, t.gold, t.silver
        )),
        ("private_banking".into(), format!("adb_year ≥ {} CNY", cfg.private_banking_adb)),
        ("risk_level".into(), format!(
            "high when max_days_overdue ≥ {} or credit rating in {}; medium when ≥ {} or rating in {}; else low",
            k.high_overdue_days, j(&k.high_ratings), k.medium_overdue_days, j(&k.medium_ratings)
        )),
        ("investment_preference".into(), format!(
            "by invest_risk: conservative (稳健型) below {} or without investments, growth (成长型) below {}, else aggressive (激进型)",
            k.growth_from, k.aggressive_from
        )),
        ("loyalty_score".into(), "0–100: 30 × min(tenure/120 months, 1) + 25 × min(product types/4, 1) + 25 × min(frequency/24, 1) + 10 × satisfaction/5 (3 when unknown) + 10 without complaints in the last 365 days".into()),
        ("prospect_public_sector".into(), format!("occupation in {} or employer naming {}", j(&p.public_occupations), j(&p.public_employer_words))),
        ("prospect_large_employer".into(), format!("employer naming {}", j(&p.large_employer_words))),
        ("prospect_quality_occupation".into(), format!("occupation in {}", j(&p.quality_occupations))),
        ("prospect_high_education".into(), format!("education in {}", j(&p.high_education))),
        ("prospect_local_property".into(), "owns property and the household registration (户籍) is in the province of residence".into()),
        ("prospect_verifiable_income".into(), format!("salary_months_6 ≥ {}", p.salary_months)),
    ]);
    v
}
