#![allow(clippy::print_stdout)]

use std::path::Path;

use anyhow::Result;
use portrait_engine::ingest::resolve_sources;
use portrait_engine::open_session;
use portrait_synth::SynthConfig;

use crate::args::DemoArgs;
use crate::settings::ConfigFile;
use crate::text::{table, thousands};

pub async fn run(store_dir: &Path, config: &ConfigFile, a: &DemoArgs, quiet: bool) -> Result<()> {
    let dir = a.dir.clone().unwrap_or_else(|| {
        std::env::temp_dir().join(format!("portrait-demo-{}-{}", a.seed, a.customers))
    });
    let cfg = SynthConfig {
        customers: a.customers,
        seed: a.seed,
        ..SynthConfig::default()
    };
    eprintln!(
        "generating {} customer numbers into `{}`",
        thousands(a.customers),
        dir.display()
    );
    let started = std::time::Instant::now();
    super::generate::generate(&cfg, &dir, quiet)?;
    eprintln!("loading into the store `{}`", store_dir.display());
    let (sources, _) = resolve_sources(&[dir.display().to_string()])?;
    let rejects = super::ingest::default_rejects(store_dir);
    let outcome = super::ingest::load(
        store_dir,
        &sources,
        portrait_ingest::Options::default(),
        false,
        &rejects,
        quiet,
    )
    .await?;
    super::ingest::print_outcome(&outcome);

    eprintln!("\ncomputing the portrait and its scores");
    let run = crate::args::RunArgs {
        as_of: None,
        format: crate::args::ReportFormat::Table,
    };
    super::run_stages(store_dir, config, run, quiet).await?;

    let store = portrait_store::Store::open(store_dir)?;
    let ctx = open_session(&store).await?;
    let facts = [
        ("customer numbers", "SELECT count(*) FROM customer"),
        (
            "parties after identity resolution",
            "SELECT count(*) FROM party",
        ),
        (
            "households of two or more",
            "SELECT count(*) FROM (SELECT household_id FROM party_group \
             WHERE household_id IS NOT NULL GROUP BY 1 HAVING count(*) > 1)",
        ),
        (
            "individuals",
            "SELECT count(*) FROM customer WHERE cust_type = 'individual'",
        ),
        (
            "corporates",
            "SELECT count(*) FROM customer WHERE cust_type = 'corporate'",
        ),
        (
            "with mobile banking",
            "SELECT count(*) FROM customer WHERE mobile_banking",
        ),
        (
            "with marketing consent",
            "SELECT count(*) FROM customer WHERE marketing_consent",
        ),
        ("transactions", "SELECT count(*) FROM \"transaction\""),
        (
            "first transaction",
            "SELECT CAST(min(ts) AS VARCHAR) FROM \"transaction\"",
        ),
        (
            "last transaction",
            "SELECT CAST(max(ts) AS VARCHAR) FROM \"transaction\"",
        ),
        (
            "assets at the last month end, CNY",
            "SELECT CAST(CAST(sum(balance) AS BIGINT) AS VARCHAR) FROM asset_snapshot WHERE snapshot_date = (SELECT max(snapshot_date) FROM asset_snapshot)",
        ),
        (
            "active / sleeping / pre-churn / churned parties",
            "SELECT concat_ws(' / ', CAST(count(*) FILTER (WHERE recency_class = 'active') AS VARCHAR), \
             CAST(count(*) FILTER (WHERE recency_class = 'sleeping') AS VARCHAR), \
             CAST(count(*) FILTER (WHERE recency_class = 'pre_churn') AS VARCHAR), \
             CAST(count(*) FILTER (WHERE recency_class = 'churned') AS VARCHAR)) \
             FROM features WHERE as_of = (SELECT max(as_of) FROM features)",
        ),
        (
            "segments (model `value`)",
            "SELECT count(*) FROM segment_profile WHERE model = 'value'",
        ),
        ("association rules", "SELECT count(*) FROM rule"),
        (
            "parties with recommendations",
            "SELECT count(DISTINCT party_id) FROM recommendation",
        ),
        (
            "tag values in the index",
            "SELECT count(*) FROM tag_index WHERE tag NOT IN ('_parties', '_consent')",
        ),
        (
            "private-banking parties",
            "SELECT count(*) FROM features WHERE private_banking AND as_of = (SELECT max(as_of) FROM features)",
        ),
    ];
    let mut rows = Vec::new();
    for (label, sql) in facts {
        let batches = ctx
            .sql(sql)
            .await
            .map_err(portrait_engine::EngineError::from)?
            .collect()
            .await
            .map_err(portrait_engine::EngineError::from)?;
        let v = batches
            .first()
            .filter(|b| b.num_rows() > 0)
            .map(|b| {
                arrow::util::display::ArrayFormatter::try_new(
                    b.column(0).as_ref(),
                    &Default::default(),
                )
                .map(|f| f.value(0).to_string())
                .unwrap_or_default()
            })
            .unwrap_or_default();
        let v = v.parse::<u64>().map(thousands).unwrap_or(v);
        rows.push(vec![label.to_string(), v]);
    }
    println!();
    print!("{}", table(&["fact", "value"], &rows));
    println!(
        "\ndemo ready in {:.1}s. Try:\n  portrait --store {s} sql \"SELECT gender, count(*) AS n FROM customer GROUP BY gender\"\n  portrait --store {s} sql \"SELECT rule, count(*) AS n FROM party_member GROUP BY 1\"\n  portrait --store {s} sql \"SELECT rfm_class, count(*) AS n, avg(clv) AS clv FROM features GROUP BY 1 ORDER BY 3 DESC\"\n  portrait --store {s} features --explain\n  portrait --store {s} coverage\n  portrait --store {s} audience count \"gender:female AND interest:red_wine AND NOT recency_class:churned\"\n  portrait --store {s} audience breakdown \"interest:red_wine\" --by gender\n  portrait --store {s} tags affinity interest:red_wine\n  portrait --store {s} sql \"SELECT segment, size, value_share, persona_zh FROM segment_profile WHERE model = 'value'\"",
        started.elapsed().as_secs_f64(),
        s = store_dir.display()
    );
    if a.no_serve {
        return Ok(());
    }
    // A marketer sees everything a campaign needs, with personal data masked.
    let privacy = portrait_privacy::Privacy::open(store_dir)?;
    let mut name = "demo".to_string();
    let token = match privacy.add_user(&name, portrait_privacy::Role::Marketer) {
        Ok(t) => t,
        Err(_) => {
            name = format!("demo-{}", chrono::Utc::now().format("%Y%m%d%H%M%S"));
            privacy.add_user(&name, portrait_privacy::Role::Marketer)?
        }
    };
    drop(privacy);
    println!(
        "\ndashboard and API: http://{addr}/\ndemo user `{name}` (marketer) token:\n{token}\n  curl -H \"Authorization: Bearer {token}\" \"http://{addr}/api/audience/count?expr=interest:red_wine\"",
        addr = a.addr
    );
    super::serve::serve(
        store_dir,
        config,
        &crate::args::ServeArgs {
            addr: a.addr,
            rate_limit: 50.0,
            burst: 200.0,
            pg: None,
            pg_plaintext: false,
        },
    )
    .await
}
