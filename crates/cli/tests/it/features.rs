//! `portrait features` on hand-made customers whose every figure is worked out by hand.

use std::collections::BTreeMap;
use std::path::Path;

use crate::common::{ok, run};

const AS_OF: &str = "2026-12-01";

/// Customers named after what they test.
fn write_bank(dir: &Path) {
    std::fs::create_dir_all(dir).unwrap();
    let customers = [
        // cust_no, birth_date, open_date, financial_assets, occupation, education
        ("r90", "1986-12-01", "2010-01-15", "", "公务员", "大学本科"),
        ("r91", "1986-12-02", "2010-01-15", "", "", ""),
        ("r180", "", "2010-01-15", "", "", ""),
        ("r181", "", "2010-01-15", "", "", ""),
        ("r360", "", "2010-01-15", "", "", ""),
        ("r361", "", "2010-01-15", "", "", ""),
        ("new", "2020-06-01", "2026-11-01", "", "", ""),
        ("salary", "", "2010-01-15", "7777.00", "", ""),
        ("assets", "", "2026-01-10", "", "", ""),
        ("stale", "", "2026-01-10", "123.00", "", ""),
        ("rich", "", "2010-01-15", "", "", ""),
    ];
    let mut c = String::from(
        "cust_no,cust_type,birth_date,open_date,financial_assets,occupation,education\n",
    );
    for (no, birth, open, fa, occ, edu) in customers {
        c += &format!("{no},individual,{birth},{open},{fa},{occ},{edu}\n");
    }
    std::fs::write(dir.join("customer.csv"), c).unwrap();

    let txns = [
        (
            "r90",
            "2026-09-02 10:00:00",
            "100.00",
            "debit",
            "wine",
            "pos",
        ),
        (
            "r90",
            "2026-08-01 10:00:00",
            "300.00",
            "debit",
            "travel",
            "online",
        ),
        // after the as-of date: ignored
        (
            "r90",
            "2026-12-02 09:00:00",
            "999.00",
            "debit",
            "wine",
            "pos",
        ),
        (
            "r91",
            "2026-09-01 23:59:59",
            "50.00",
            "debit",
            "dining",
            "pos",
        ),
        (
            "r180",
            "2026-06-04 00:00:00",
            "10.00",
            "debit",
            "dining",
            "pos",
        ),
        (
            "r181",
            "2026-06-03 12:00:00",
            "10.00",
            "debit",
            "dining",
            "pos",
        ),
        (
            "r360",
            "2025-12-06 12:00:00",
            "10.00",
            "debit",
            "dining",
            "pos",
        ),
        (
            "r361",
            "2025-12-05 12:00:00",
            "10.00",
            "debit",
            "dining",
            "pos",
        ),
        // salary credits in two of the last six calendar months (May and June are too early);
        // credits are not activity
        (
            "salary",
            "2026-11-30 08:00:00",
            "9000.00",
            "credit",
            "salary",
            "online",
        ),
        (
            "salary",
            "2026-10-15 08:00:00",
            "9000.00",
            "credit",
            "salary",
            "online",
        ),
        (
            "salary",
            "2026-06-15 08:00:00",
            "9000.00",
            "credit",
            "salary",
            "online",
        ),
        (
            "salary",
            "2026-05-15 08:00:00",
            "9000.00",
            "credit",
            "salary",
            "online",
        ),
        (
            "rich",
            "2026-11-20 12:00:00",
            "80.00",
            "debit",
            "dining",
            "pos",
        ),
        (
            "rich",
            "2026-11-21 12:00:00",
            "120.00",
            "debit",
            "wine",
            "pos",
        ),
        (
            "rich",
            "2026-11-22 12:00:00",
            "200.00",
            "debit",
            "travel",
            "mobile",
        ),
        (
            "rich",
            "2026-11-23 12:00:00",
            "5000.00",
            "credit",
            "transfer",
            "online",
        ),
    ];
    let mut t = String::from("txn_id,cust_no,ts,amount,direction,category,channel\n");
    for (i, (no, ts, amt, dir, cat, ch)) in txns.iter().enumerate() {
        t += &format!("T{i},{no},{ts},{amt},{dir},{cat},{ch}\n");
    }
    std::fs::write(dir.join("transaction.csv"), t).unwrap();

    let snaps = "cust_no,product_type,snapshot_date,balance\n\
                 assets,deposit,2026-10-31,1000.00\n\
                 assets,fund,2026-10-31,500.00\n\
                 assets,deposit,2026-11-30,3000.00\n\
                 stale,deposit,2026-09-30,10000.00\n\
                 rich,deposit,2026-10-31,50000.00\n\
                 rich,deposit,2026-11-30,50000.00\n";
    std::fs::write(dir.join("asset_snapshot.csv"), snaps).unwrap();

    let files = [
        (
            "product.csv",
            "product_id,product_type,risk_level\nP1,deposit,R1\nP2,fund,R3\nP3,wealth,R4\n",
        ),
        // The fund was closed before the as-of date; the wealth product is 45 days overdue.
        (
            "holding.csv",
            "cust_no,product_id,product_type,open_date,close_date,amount,revenue,cost,days_overdue\n\
             rich,P1,deposit,2020-01-01,,100000.00,500.00,100.00,0\n\
             rich,P2,fund,2025-01-01,2026-06-01,20000.00,300.00,50.00,0\n\
             rich,P3,wealth,2026-01-01,,300000.00,1000.00,200.00,45\n",
        ),
        (
            "interaction.csv",
            "interaction_id,cust_no,ts,kind,satisfaction\n\
             I1,rich,2026-11-01 09:00:00,complaint,2\n\
             I2,rich,2026-10-01 09:00:00,survey,4\n\
             I3,rich,2025-01-01 09:00:00,complaint,1\n",
        ),
        (
            "event.csv",
            "event_id,cust_no,ts,platform,source_channel,event_type,page,product_id\n\
             E1,rich,2026-11-30 10:00:00,mobile,direct,view,/fund/detail,P2\n\
             E2,rich,2026-11-30 10:05:00,mobile,direct,buy,/fund/buy,P2\n\
             E3,rich,2026-11-29 21:00:00,pc,wechat,view,/life/wine,\n",
        ),
        (
            "campaign_response.csv",
            "campaign_id,cust_no,contact_date,responded,converted\n\
             C1,rich,2026-10-01,true,false\n\
             C2,rich,2026-11-01,true,true\n\
             C3,rich,2025-06-01,false,false\n",
        ),
    ];
    for (name, text) in files {
        std::fs::write(dir.join(name), text).unwrap();
    }
}

/// `column` of every row of `features`, by party.
fn column(store: &Path, col: &str) -> BTreeMap<String, String> {
    let out = ok(
        store,
        &[
            "sql",
            &format!("SELECT party_id, {col} FROM features ORDER BY party_id"),
            "--format",
            "csv",
        ],
    );
    out.lines()
        .skip(1)
        .map(|l| {
            let (k, v) = l.split_once(',').unwrap();
            (k.to_string(), v.to_string())
        })
        .collect()
}

fn approx(s: &str, want: f64) -> bool {
    s.parse::<f64>().is_ok_and(|v| (v - want).abs() < 1e-6)
}

fn loaded() -> (tempfile::TempDir, std::path::PathBuf) {
    let tmp = tempfile::tempdir().unwrap();
    let bank = tmp.path().join("bank");
    write_bank(&bank);
    let store = tmp.path().join("store");
    ok(&store, &["ingest", bank.to_str().unwrap()]);
    (tmp, store)
}

#[test]
fn recency_classes_at_their_boundaries() {
    let (_tmp, store) = loaded();
    ok(&store, &["features", "--as-of", AS_OF]);
    let days = column(&store, "recency_days");
    let class = column(&store, "recency_class");
    for (who, d, c) in [
        ("r90", "90", "active"),
        ("r91", "91", "sleeping"),
        ("r180", "180", "sleeping"),
        ("r181", "181", "pre_churn"),
        ("r360", "360", "pre_churn"),
        ("r361", "361", "churned"),
        // no activity: counted from the opening 30 days ago
        ("new", "", "active"),
        // salary credits are not the customer's own activity
        ("salary", "", "churned"),
    ] {
        assert_eq!(days[who], d, "recency_days of {who}");
        assert_eq!(class[who], c, "recency_class of {who}");
    }
}

#[test]
fn rfm_age_balances_and_groups() {
    let (_tmp, store) = loaded();
    ok(&store, &["features", "--as-of", AS_OF]);
    let freq = column(&store, "frequency");
    let monetary = column(&store, "monetary");
    assert_eq!(
        freq["r90"], "2",
        "the transaction after the as-of date is ignored"
    );
    assert!(approx(&monetary["r90"], 400.0), "{}", monetary["r90"]);
    assert_eq!(freq["r361"], "1");
    assert_eq!(freq["salary"], "0");

    // Interests: spend shares over the consumption categories.
    let wine = column(&store, "share_wine");
    assert!(approx(&wine["r90"], 0.25), "{}", wine["r90"]);
    assert_eq!(column(&store, "freq_travel")["r90"], "1");

    // Quintiles: ties share a score, and the scores stay within 1–5.
    let f = column(&store, "f_score");
    assert_eq!(f["new"], f["salary"], "equal frequencies share the score");
    assert_eq!(f["new"], "1");
    assert_eq!(f["r90"], "5");
    let r = column(&store, "r_score");
    assert_eq!(r["r90"], "5");
    assert_eq!(r["new"], "1", "no activity ranks last");

    // Age on and one day before the birthday.
    let age = column(&store, "age");
    assert_eq!(age["r90"], "40");
    assert_eq!(age["r91"], "39");
    assert_eq!(column(&store, "age_group")["r90"], "40-49");
    assert_eq!(column(&store, "life_stage")["new"], "6-15");
    assert_eq!(column(&store, "tenure_months")["new"], "1");

    // Balances: 3,000 for the last 2 days, 1,500 for the 30 before.
    let m = column(&store, "adb_month");
    assert!(
        approx(&m["assets"], (2.0 * 3000.0 + 28.0 * 1500.0) / 30.0),
        "{}",
        m["assets"]
    );
    // The first snapshot is 32 days old, so the quarter's average runs over those 32 days.
    let q = column(&store, "adb_quarter");
    assert!(
        approx(&q["assets"], (2.0 * 3000.0 + 30.0 * 1500.0) / 32.0),
        "{}",
        q["assets"]
    );
    let fa = column(&store, "financial_assets");
    assert!(approx(&fa["assets"], 3000.0));
    // A lone snapshot from two months ago stands for 31 days only.
    assert!(approx(&m["stale"], 0.0), "{}", m["stale"]);
    assert!(approx(&q["stale"], 31.0 * 10000.0 / 63.0), "{}", q["stale"]);
    assert!(
        approx(&fa["stale"], 123.0),
        "falls back to the stated assets"
    );
    assert!(approx(&fa["salary"], 7777.0));

    // Groups.
    assert_eq!(column(&store, "salary_months_6")["salary"], "2");
    assert_eq!(column(&store, "prospect_public_sector")["r90"], "true");
    assert_eq!(column(&store, "prospect_high_education")["r90"], "true");
    assert_eq!(
        column(&store, "prospect_verifiable_income")["salary"],
        "false"
    );
    assert_eq!(column(&store, "asset_tier")["assets"], "ordinary");
}

#[test]
fn holdings_service_digital_campaigns_and_groups() {
    let (_tmp, store) = loaded();
    ok(&store, &["features", "--as-of", AS_OF]);
    let get = |col: &str| column(&store, col)["rich"].clone();
    // Channel mix of the year's four transactions.
    assert!(
        approx(&get("ch_pos"), 0.5)
            && approx(&get("ch_mobile"), 0.25)
            && approx(&get("ch_online"), 0.25)
    );
    // Open holdings only; revenue and cost over all holdings.
    assert_eq!(
        (get("n_deposit"), get("n_fund"), get("n_wealth")),
        ("1".into(), "0".into(), "1".into())
    );
    assert_eq!(get("product_types"), "2");
    assert!(
        approx(&get("revenue"), 1800.0)
            && approx(&get("cost"), 350.0)
            && approx(&get("profit"), 1450.0)
    );
    assert_eq!(get("max_days_overdue"), "45");
    assert!(
        approx(&get("invest_risk"), 4.0),
        "only the open wealth product (R4)"
    );
    assert_eq!(get("investment_preference"), "aggressive");
    assert_eq!(get("risk_level"), "medium", "30+ days overdue");
    // Exactly on the silver boundary.
    assert!(approx(&get("adb_month"), 50000.0));
    assert_eq!(get("asset_tier"), "silver");
    // Service: the year's two interactions, one of them a complaint.
    assert!(approx(&get("satisfaction"), 3.0));
    assert_eq!(
        (get("complaints_year"), get("interactions_year")),
        ("1".into(), "2".into())
    );
    // Digital: two days with events, one product view that led to a purchase.
    assert_eq!(
        (get("visits_90d"), get("events_90d")),
        ("2".into(), "3".into())
    );
    assert!(approx(&get("browse_to_buy"), 1.0));
    assert!(approx(&get("mobile_event_share"), 2.0 / 3.0));
    assert_eq!(get("top_source_channel"), "direct");
    assert_eq!(get("views_wine"), "1");
    // Campaigns of the last year.
    assert_eq!(get("campaigns_contacted"), "2");
    assert!(
        approx(&get("campaign_response_rate"), 1.0)
            && approx(&get("campaign_conversion_rate"), 0.5)
    );
    // Loyalty: 30 (tenure ≥ 10 years) + 12.5 (2 of 4 product types) + 3.125 (3 of 24
    // transactions) + 6 (satisfaction 3 of 5) + 0 (a complaint) = 51.625.
    assert!(
        approx(&get("loyalty_score"), 51.625),
        "{}",
        get("loyalty_score")
    );
}

#[test]
fn cut_offs_come_from_the_config_and_are_checked() {
    let (tmp, store) = loaded();
    let cfg = tmp.path().join("portrait.toml");
    std::fs::write(
        &cfg,
        "[features.recency]\nactive_days = 30\n[features.prospects]\nsalary_months = 2\n",
    )
    .unwrap();
    let c = cfg.to_str().unwrap();
    ok(&store, &["--config", c, "features", "--as-of", AS_OF]);
    assert_eq!(column(&store, "recency_class")["r90"], "sleeping");
    assert_eq!(
        column(&store, "prospect_verifiable_income")["salary"],
        "true"
    );
    let explain = ok(&store, &["--config", c, "features", "--explain"]);
    assert!(explain.contains("active R ≤ 30"), "{explain}");

    std::fs::write(&cfg, "[features.recency]\nactive_days = 200\n").unwrap();
    let out = run(&store, &["--config", c, "features", "--as-of", AS_OF]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains("features.recency"), "{err}");

    std::fs::write(&cfg, "[features]\nwindow = 3\n").unwrap();
    let out = run(&store, &["--config", c, "features"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("unknown field `window`") && err.contains("recency"),
        "{err}"
    );

    let out = run(&store, &["features", "--as-of", "1/12/2026"]);
    assert!(String::from_utf8_lossy(&out.stderr).contains("YYYY-MM-DD"));
}

#[test]
fn as_of_dates_accumulate_and_replace() {
    let (_tmp, store) = loaded();
    ok(&store, &["features", "--as-of", "2026-11-01"]);
    ok(&store, &["features", "--as-of", AS_OF]);
    ok(&store, &["features", "--as-of", AS_OF]);
    let out = ok(
        &store,
        &[
            "sql",
            "SELECT CAST(as_of AS VARCHAR) AS d, count(*) AS n FROM features GROUP BY 1 ORDER BY 1",
            "--format",
            "csv",
        ],
    );
    assert_eq!(out, "d,n\n2026-11-01,11\n2026-12-01,11\n");
    // Without --as-of: the day of the latest transaction (the one after 2026-12-01 here).
    ok(&store, &["features"]);
    let days = ok(
        &store,
        &[
            "sql",
            "SELECT count(DISTINCT as_of) AS n FROM features",
            "--format",
            "csv",
        ],
    );
    assert_eq!(days, "n\n3\n");
}
