//! What the user typed: clap definitions only. Settings are resolved in `settings.rs`.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

#[derive(Debug, Parser)]
#[command(
    name = "portrait",
    version,
    about = "Customer portrait (客户画像) and segmentation engine for banks and retailers",
    long_about = "portrait merges a bank's customer master data, balances and transactions into one \
                  explainable picture of every customer, over a local store queried with SQL.",
    after_help = "Examples:\n  portrait demo\n  portrait generate --customers 5000 --seed 3 --out bank\n  \
                  portrait --store s ingest bank\n  portrait --store s sql \"SELECT count(*) AS n FROM customer\" --format csv"
)]
pub struct Cli {
    /// Store directory.
    #[arg(
        long,
        global = true,
        env = "PORTRAIT_STORE",
        default_value = "./portrait-data"
    )]
    pub store: PathBuf,
    /// Configuration file (mappings and defaults); `./portrait.toml` is read when present.
    #[arg(long, global = true, env = "PORTRAIT_CONFIG")]
    pub config: Option<PathBuf>,
    /// More log output (-v info, -vv debug); `RUST_LOG` overrides.
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,
    /// No progress bars.
    #[arg(short, long, global = true)]
    pub quiet: bool,
    /// Run the stages' DataFusion plans on the Apache Ballista cluster behind this scheduler
    /// (`df://HOST:PORT`) instead of in this process. The store must be on a path every
    /// executor reads (see docs/cluster.md).
    #[arg(
        long,
        global = true,
        env = "PORTRAIT_CLUSTER",
        value_name = "df://HOST:PORT"
    )]
    pub cluster: Option<String>,
    /// Memory this process may use, e.g. 8G or 512M (`none`: no limit): a stage that goes over
    /// it stops with an error naming it (`[engine] query_memory` adds a pool that query plans
    /// spill beyond). Default: `[engine] memory_limit`, else 3/4 of this machine's memory.
    /// On `cluster executor`: the memory the executor's plans use before they spill.
    #[arg(
        long,
        global = true,
        env = "PORTRAIT_MEMORY_LIMIT",
        value_name = "BYTES"
    )]
    pub memory_limit: Option<String>,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Generate a bank, run the whole pipeline over it, summarise it and serve the dashboard.
    #[command(
        after_help = "Examples:\n  portrait demo\n  portrait demo --customers 100000 --dir /tmp/bank\n  portrait demo --addr 127.0.0.1:9000\n  portrait demo --no-serve\n\n\
                      Ends with the server running: it prints the URL and a demo token (role marketer, personal data masked)."
    )]
    Demo(DemoArgs),
    /// Write a seeded, realistic synthetic bank as files, with ground truth.
    #[command(
        after_help = "Examples:\n  portrait generate --customers 5000 --seed 3 --out bank\n  \
                            portrait generate --customers 200000 --out bank --encoding gbk --headers zh"
    )]
    Generate(GenerateArgs),
    /// Load files into the store: a full snapshot per table, or `--append` for daily deltas.
    #[command(after_help = "Examples:\n  portrait --store s ingest bank/\n  \
                            portrait --store s ingest customer=客户信息.csv transaction=流水.xlsx\n  \
                            portrait --store s ingest --append transaction=delta_20261124.csv\n\n\
                            Nothing is written unless every file loads. Problems go to the rejects file with file, line, \
                            column and reason; a file whose share of bad rows exceeds the error budget fails the run.")]
    Ingest(IngestArgs),
    /// Run SQL over the store with Apache DataFusion.
    #[command(
        after_help = "Examples:\n  portrait --store s sql \"SELECT count(*) AS n FROM customer\" --format csv\n  \
                            portrait --store s sql \"SELECT * FROM \\\"transaction\\\" LIMIT 5\"\n  \
                            portrait --store s sql \"SELECT * FROM holding\" --format parquet --out holding.parquet\n  \
                            portrait --store s sql \"SELECT * FROM features\" --format xlsx --out features.xlsx --lang zh"
    )]
    Sql(SqlArgs),
    /// 满足度 — the share of rows with a valid value, for every attribute of every table.
    #[command(
        after_help = "Examples:\n  portrait --store s coverage\n  portrait --store s coverage --format csv > coverage.csv"
    )]
    Coverage(CoverageArgs),
    /// Report workbooks (.xlsx) for people who read them in Excel: RFM, segments, coverage
    /// (满足度) or a saved audience, with headers and coded values in Chinese or English, a
    /// sheet of definitions, and the export id of its audit record.
    #[command(
        after_help = "Examples:\n  portrait --store s report rfm --out rfm.xlsx --lang zh\n  \
                      portrait --store s report segments --out segments.xlsx\n  \
                      portrait --store s report coverage --out coverage.xlsx\n  \
                      portrait --store s report audience wine_lovers --out wine_lovers.xlsx"
    )]
    Report(ReportArgs),
    /// Every stage after ingest, in order, over what is in the store: resolve, links, features, scores, segments, rules, recommendations, tags.
    #[command(
        after_help = "Examples:\n  portrait --store s run\n  portrait --store s run --as-of 2026-12-01\n  portrait --store s run --format json\n\n\
                      Each stage runs when the tables it needs are in the store and is skipped, with the reason and the \
                      file to load, when they are not: a transaction log alone gets parties, RFM, lifetime and churn \
                      scores, segments and tags; a customer master alone gets parties, households and tags. Ends with a \
                      table of every stage: ran or skipped and why, rows written, seconds. Each stage commits on its own."
    )]
    Run(RunArgs),
    /// 客户号合并 — merge customer numbers of one person or company into parties.
    #[command(after_help = "Examples:\n  portrait --store s resolve\n  \
                            portrait --store s resolve --explain-blocking\n  \
                            portrait --store s sql \"SELECT rule, count(*) FROM party_member GROUP BY 1\"\n\n\
                            Same valid resident ID or credit code merges at once; other pairs found by the blocking \
                            rules are compared field by field and merged when their Fellegi–Sunter match probability \
                            reaches the threshold. Writes `party` (golden records), `party_member` (who is in which \
                            party and why) and `match_model` (m, u and weight of every comparison level). Party ids \
                            stay stable from run to run. Settings: `[resolve]` in portrait.toml.")]
    Resolve(ResolveArgs),
    /// 关联客户识别 — typed, scored links between parties, and households, corporate groups and guarantee chains.
    #[command(after_help = "Examples:\n  portrait --store s links\n  \
                            portrait --store s sql \"SELECT kind, count(*) FROM link GROUP BY 1\"\n  \
                            portrait --store s sql \"SELECT household_id, count(*) AS n FROM party_group GROUP BY 1 ORDER BY n DESC LIMIT 5\"\n\n\
                            Writes `link(party_a, party_b, kind, score, evidence)` and `party_group(party_id, household_id, \
                            corp_group_id, guarantee_chain_id)`. Run `resolve` first. Settings: `[links]` in portrait.toml.")]
    Links(LinksArgs),
    /// Override identity resolution: split a customer number off, or merge two.
    #[command(
        after_help = "Examples:\n  portrait --store s party split 1000150215 --reason \"different person, same name\"\n  \
                            portrait --store s party merge 1000150215 1000086592 --reason \"confirmed at branch\" --by zhang.wei\n\n\
                            Decisions are kept in `party_override` and respected by every later `resolve`, which \
                            this command runs at once."
    )]
    Party {
        #[command(subcommand)]
        action: PartyAction,
    },
    /// Measure results against a ground truth.
    #[command(
        after_help = "Examples:\n  portrait --store s eval identity --truth bank/truth/identity.csv\n  \
                            portrait --store s eval identity --truth truth.csv --format json\n  \
                            portrait --store s eval households --truth bank/truth/household.csv --identity bank/truth/identity.csv\n  \
                            portrait --store s eval churn --truth bank/truth/customer_churn.csv --horizon 90d"
    )]
    Eval {
        #[command(subcommand)]
        what: EvalWhat,
    },
    /// Compute the portrait: one row of features per party at an as-of date.
    #[command(
        after_help = "Examples:\n  portrait --store s features --as-of 2026-12-01\n  \
                            portrait --store s features --explain\n  \
                            portrait --store s sql \"SELECT recency_class, count(*) FROM features GROUP BY 1\"\n\n\
                            Definitions and cut-offs come from `[features]` in portrait.toml; --explain shows those in force."
    )]
    Features(FeaturesArgs),
    /// Score every party: CLV, BG/NBD, churn probability, retention groups, value by product.
    #[command(
        after_help = "Examples:\n  portrait --store s score --as-of 2026-12-01\n  \
                            portrait --store s score bgnbd --calibration-end 1997-09-30 --format json\n  \
                            portrait --store s score --as-of 2026-09-01 --churn-rows churn-rows\n\n\
                            Scores are written into the as-of date's rows of `features`; the fitted models go to the \
                            `model` table and revenue and profit per product and group to `product_value`. \
                            Parameters come from `[score]` in portrait.toml."
    )]
    Score(ScoreArgs),
    /// 标签 — compute every tag of every party and its bitmap index; tag affinity.
    #[command(after_help = "Examples:\n  portrait --store s tags build\n  \
                            portrait --store s tags list\n  \
                            portrait --store s tags affinity interest:red_wine\n  \
                            portrait tags catalog > tags.toml\n\n\
                            Tags come from the catalogue (`[tags] catalog` in portrait.toml, else the built-in one) over the \
                            latest as-of date of `features`. `tags build` writes `tag(party_id, tag, value)` and the bitmap \
                            index that `audience` reads.")]
    Tags {
        #[command(subcommand)]
        action: TagsAction,
    },
    /// 人群圈选 — count, break down, export and save audiences selected by tag expressions.
    #[command(
        after_help = "Examples:\n  portrait --store s audience count \"gender:female AND interest:red_wine AND NOT recency_class:churned\"\n  \
                            portrait --store s audience breakdown \"interest:red_wine\" --by gender\n  \
                            portrait --store s audience portrait \"asset_tier:(gold|platinum) AND clv > 10000\"\n  \
                            portrait --store s audience save wine_lovers \"interest:red_wine\"\n  \
                            portrait --store s audience diff wine_lovers\n  \
                            portrait --store s audience export \"interest:red_wine\" --out wine.csv\n\n\
                            Expressions: `tag:value`, `tag:(a|b)`, a bare tag (any value) or boolean feature, comparisons on \
                            numeric features (`clv > 10000`, `age between 25 and 34`, `x IN (1, 2)`, `x IS NULL`), AND, OR, \
                            NOT and parentheses. Run `portrait tags build` first."
    )]
    Audience {
        #[command(subcommand)]
        action: AudienceAction,
    },
    /// 客户分群 — segment the parties with a clustering model; profiles and personas.
    #[command(after_help = "Examples:\n  portrait --store s segment\n  \
                            portrait --store s segment --model value --method kmeans --k auto\n  \
                            portrait --store s segment --model value --method gmm --k 5\n  \
                            portrait --store s segment --model tree --method hierarchical --k 6\n  \
                            portrait --store s sql \"SELECT segment, size, value_share, persona_zh FROM segment_profile WHERE model = 'value'\"\n\n\
                            Models are defined in `[segment.models.NAME]` of portrait.toml (inputs, preprocessing, method); \
                            flags override the method and k. Writes `segment`, `segment_profile` and a new version in \
                            `segment_model`, and publishes the segments as the tag `segment_NAME` when the store has tags.")]
    Segment(SegmentArgs),
    /// 关联规则 — FP-Growth association rules over product holdings and purchase categories.
    #[command(
        after_help = "Examples:\n  portrait --store s rules\n  portrait --store s rules --min-support 0.1 --min-confidence 0.3\n  \
                            portrait --store s sql \"SELECT * FROM rule ORDER BY lift DESC LIMIT 10\""
    )]
    Rules(RulesArgs),
    /// Next-best products per party, from the rules; never above the party's risk level, never
    /// to a party that refused marketing (without a customer table consent is unknown: every
    /// party gets recommendations and exports still require consent).
    #[command(after_help = "Examples:\n  portrait --store s recommend\n  \
                            portrait --store s sql \"SELECT * FROM recommendation WHERE party_id = 'P0000001'\"")]
    Recommend(RecommendArgs),
    /// Serve the HTTP API (and with `--pg` the PostgreSQL protocol): bearer tokens, roles,
    /// masking and an audit log (docs/security.md, docs/bi.md).
    #[command(
        after_help = "Examples:\n  portrait --store s user add ana --role analyst\n  \
                            portrait --store s serve\n  portrait --store s serve --addr 0.0.0.0:8080\n  \
                            curl -H \"Authorization: Bearer $TOKEN\" http://127.0.0.1:8080/api/overview\n  \
                            portrait --store s serve --pg 127.0.0.1:5433\n  \
                            PGPASSWORD=$TOKEN psql \"host=127.0.0.1 port=5433 user=ana dbname=portrait\" -c '\\dt'\n\n\
                            Every route but `/health` needs a token; `/openapi.json` describes them all.\n\
                            Over `--pg` the token is the password and the role's masking applies to every column."
    )]
    Serve(ServeArgs),
    /// Users of the HTTP API and their tokens (stored hashed in `<store>/privacy.sqlite`).
    #[command(
        after_help = "Examples:\n  portrait --store s user add ana --role analyst\n  \
                            portrait --store s user add li --role marketer\n  portrait --store s user list\n\n\
                            Roles: admin, analyst, marketer, auditor. The token is printed once, to stdout."
    )]
    User {
        #[command(subcommand)]
        action: UserAction,
    },
    /// Read the audit log, newest first: every API request, CLI query and export, user change
    /// and erasure.
    #[command(after_help = "Examples:\n  portrait --store s audit --limit 20\n  \
                      portrait --store s audit --export-id EXP-5f0c2a9e1b7d3c44\n  \
                      portrait --store s audit --action cli.sql --format json")]
    Audit {
        /// Only this user's records.
        #[arg(long)]
        user: Option<String>,
        /// Only this action, e.g. `audience.export`, `cli.sql`, `erase`.
        #[arg(long)]
        action: Option<String>,
        /// The record of one export (the watermark of its file).
        #[arg(long)]
        export_id: Option<String>,
        /// Most records.
        #[arg(long, default_value_t = 100)]
        limit: u32,
        #[arg(long, default_value = "table")]
        format: ReportFormat,
    },
    /// The audit log's stand-in for a search term: the log keeps a keyed hash of what was
    /// searched for, never the text; this prints it, to find the searches for a name.
    #[command(after_help = "Examples:\n  portrait --store s audit-term 张伟\n  \
                      curl -H \"Authorization: Bearer $TOKEN\" \"http://127.0.0.1:8080/api/audit?action=customer.search\"")]
    AuditTerm {
        /// The search text.
        text: String,
    },
    /// Erase a customer number from the store and every derived table and index, on request.
    #[command(
        after_help = "Examples:\n  portrait --store s erase 1000150215 --reason \"request 2026-118\" --by li.na\n\n\
                            Removes every input row that names the customer number (customer, transactions, holdings, \
                            events, responses, relations, interactions, transfers to it) and every row of its party in the \
                            derived tables, drops the tag index, then runs the pipeline again so the party's other members \
                            and the index are recomputed. The audit log records the erasure (customer number masked)."
    )]
    Erase(EraseArgs),
    /// Run a node of an Apache Ballista cluster: the scheduler, or an executor.
    #[command(
        after_help = "Examples:\n  portrait cluster scheduler --bind 127.0.0.1:50050\n  \
                            portrait cluster executor --scheduler 127.0.0.1:50050 --bind 127.0.0.1:50051\n  \
                            portrait --store /shared/portrait run --cluster df://127.0.0.1:50050\n\n\
                            Both nodes register portrait's own SQL functions, so every stage's plan runs on them. \
                            Executors read and write the store by its path: mount it at the same path on every node. \
                            Deployment (systemd, Kubernetes, sizing): docs/cluster.md."
    )]
    Cluster {
        #[command(subcommand)]
        action: ClusterAction,
    },
    /// Show the configuration options and their defaults.
    #[command(after_help = "Examples:\n  portrait config list")]
    Config {
        #[command(subcommand)]
        action: ConfigAction,
    },
}

#[derive(Debug, Subcommand)]
pub enum ConfigAction {
    /// Every option with its default and meaning.
    List,
    /// Check the configuration file (`--config`, else `./portrait.toml`) section by section:
    /// every value every stage would refuse is reported now, before any work starts.
    #[command(after_help = "Examples:\n  portrait --config bank.toml config check")]
    Check,
}

#[derive(Debug, Args)]
pub struct DemoArgs {
    /// Customer numbers to generate.
    #[arg(long, default_value_t = 20_000)]
    pub customers: u64,
    #[arg(long, default_value_t = 42)]
    pub seed: u64,
    /// Where to write the generated files (default: a temporary directory).
    #[arg(long)]
    pub dir: Option<PathBuf>,
    /// Address the server listens on at the end.
    #[arg(long, default_value = "127.0.0.1:8080")]
    pub addr: std::net::SocketAddr,
    /// Stop after the summary instead of serving the API and dashboard.
    #[arg(long)]
    pub no_serve: bool,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum FileFormat {
    Csv,
    Parquet,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum TextEncoding {
    Utf8,
    Gbk,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum HeaderLanguage {
    En,
    Zh,
}

#[derive(Debug, Args)]
pub struct GenerateArgs {
    /// Customer numbers to generate (people with several numbers count once per number).
    #[arg(long, default_value_t = 20_000)]
    pub customers: u64,
    #[arg(long, default_value_t = 42)]
    pub seed: u64,
    /// Output directory; one file per table plus `truth/`.
    #[arg(long)]
    pub out: PathBuf,
    #[arg(long, value_enum, default_value = "csv")]
    pub format: FileFormat,
    #[arg(long, value_enum, default_value = "utf8")]
    pub encoding: TextEncoding,
    /// Header language: canonical English names, or the Chinese headers of core-banking exports.
    #[arg(long, value_enum, default_value = "en")]
    pub headers: HeaderLanguage,
    /// Last day of the data, YYYY-MM-DD.
    #[arg(long)]
    pub end: Option<String>,
    /// Months of history.
    #[arg(long)]
    pub months: Option<u32>,
    /// Mean transactions per customer number over the whole period.
    #[arg(long)]
    pub txns_per_customer: Option<f64>,
}

#[derive(Debug, Clone, Copy, ValueEnum, PartialEq, Eq)]
pub enum EncodingArg {
    Auto,
    Utf8,
    Gbk,
    Gb18030,
}

#[derive(Debug, Args)]
pub struct IngestArgs {
    /// Directories (every file named after a table), `TABLE=FILE` pairs, or files named after
    /// their table.
    #[arg(required = true)]
    pub inputs: Vec<String>,
    /// Add rows to the stored tables, replacing rows with the same key, instead of replacing
    /// the tables.
    #[arg(long, conflicts_with = "replace")]
    pub append: bool,
    /// Replace a stored table even when the new files hold under a tenth of its rows (refused
    /// otherwise, for tables of 1,000 rows or more: usually a partial export).
    #[arg(long)]
    pub replace: bool,
    /// Encoding of CSV files [default: auto, or `ingest.encoding` in the config].
    #[arg(long, value_enum)]
    pub encoding: Option<EncodingArg>,
    /// Largest share of bad rows per file, e.g. `1%` or `0.01` [default: 1%].
    #[arg(long)]
    pub max_errors: Option<String>,
    /// Where to write the rejects file [default: `portrait-rejects.csv` beside the store].
    #[arg(long)]
    pub rejects: Option<PathBuf>,
    /// Excel sheet to read [default: the first].
    #[arg(long)]
    pub sheet: Option<String>,
}

#[derive(Debug, Args)]
pub struct SqlArgs {
    /// The query. Quote `"transaction"`, which is an SQL keyword.
    pub query: String,
    #[arg(long, default_value = "table")]
    pub format: portrait_engine::output::Format,
    /// Write to this file instead of standard output (required for parquet and xlsx). The file
    /// is an export: a `watermark` column holds its export id, also in the audit log.
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Language of an xlsx workbook's headers and description sheet: en or zh.
    #[arg(long, default_value = "en")]
    pub lang: portrait_engine::labels::Lang,
    /// Who asked, kept in the audit log with the query (its literals hashed) [default: $USER].
    #[arg(long, env = "USER", default_value = "operator")]
    pub by: String,
}

#[derive(Debug, Args)]
pub struct RunArgs {
    /// As-of date, YYYY-MM-DD [default: the day of the latest transaction in the store, else of
    /// the latest dated row, else today].
    #[arg(long)]
    pub as_of: Option<String>,
    /// The closing report: a table, or JSON (one object per stage).
    #[arg(long, default_value = "table")]
    pub format: ReportFormat,
}

#[derive(Debug, Args)]
pub struct FeaturesArgs {
    /// As-of date, YYYY-MM-DD: windows end with this day and later data is ignored
    /// [default: the day of the latest transaction in the store].
    #[arg(long)]
    pub as_of: Option<String>,
    /// Print every feature's definition and the cut-offs in force, and compute nothing.
    #[arg(long)]
    pub explain: bool,
    /// Print the SQL statement that computes the features, and compute nothing.
    #[arg(long, conflicts_with = "explain")]
    pub sql: bool,
}

#[derive(Debug, Args)]
#[command(args_conflicts_with_subcommands = true)]
pub struct ScoreArgs {
    #[command(subcommand)]
    pub what: Option<ScoreWhat>,
    /// As-of date of the features to score, YYYY-MM-DD [default: the latest in `features`].
    #[arg(long)]
    pub as_of: Option<String>,
    /// Also write the churn model's rows (training.csv, validation.csv, scoring.csv: party,
    /// date, label and every input) to this directory, to check the model with other tools.
    #[arg(long, value_name = "DIR")]
    pub churn_rows: Option<std::path::PathBuf>,
    /// Output of the run's summary.
    #[arg(long, default_value = "table")]
    pub format: ReportFormat,
}

#[derive(Debug, Subcommand)]
pub enum ScoreWhat {
    /// Fit BG/NBD and Gamma-Gamma on the stored transactions and print the parameters.
    #[command(
        after_help = "Examples:\n  portrait --store cdnow score bgnbd --calibration-end 1997-09-30 --format json"
    )]
    Bgnbd(BgnbdArgs),
}

#[derive(Debug, Args)]
pub struct BgnbdArgs {
    /// Last day of the calibration period, YYYY-MM-DD.
    #[arg(long)]
    pub calibration_end: String,
    #[arg(long, default_value = "table")]
    pub format: ReportFormat,
}

#[derive(Debug, Args)]
pub struct ResolveArgs {
    /// Report every blocking rule's pair count and the oversized blocks, then stop.
    #[arg(long)]
    pub explain_blocking: bool,
    #[arg(long, default_value = "table")]
    pub format: ReportFormat,
}

#[derive(Debug, Subcommand)]
pub enum PartyAction {
    /// Make a customer number a party of its own from now on.
    Split {
        cust_no: String,
        /// Why (kept with the decision).
        #[arg(long)]
        reason: String,
        /// Who decided [default: $USER].
        #[arg(long, env = "USER", default_value = "operator")]
        by: String,
    },
    /// Put two customer numbers in one party from now on.
    Merge {
        a: String,
        b: String,
        #[arg(long)]
        reason: String,
        #[arg(long, env = "USER", default_value = "operator")]
        by: String,
    },
}

#[derive(Debug, Args)]
pub struct LinksArgs {
    #[arg(long, default_value = "table")]
    pub format: ReportFormat,
}

#[derive(Debug, Subcommand)]
pub enum EvalWhat {
    /// Pairwise and cluster precision, recall and F1 of `resolve` against a CSV `cust_no,true_id`.
    Identity {
        /// CSV with a header naming `cust_no` and `true_id` (and optionally `noise`).
        #[arg(long)]
        truth: std::path::PathBuf,
        #[arg(long, default_value = "table")]
        format: ReportFormat,
    },
    /// Pairwise household precision, recall and F1 of `links` against the generator's truth.
    Households {
        /// CSV `true_id,household_id` (the generator's truth/household.csv).
        #[arg(long)]
        truth: std::path::PathBuf,
        /// CSV `cust_no,true_id` (the generator's truth/identity.csv).
        #[arg(long)]
        identity: std::path::PathBuf,
        #[arg(long, default_value = "table")]
        format: ReportFormat,
    },
    /// ROC-AUC, PR-AUC, top-decile lift and capture, Brier score and calibration of the stored
    /// churn probabilities against what happened, by party.
    #[command(
        after_help = "Examples:\n  portrait --store s eval churn --truth bank/truth/customer_churn.csv\n  \
                            portrait --store s eval churn --truth churn.csv --as-of 2026-08-31 --horizon 90d --format json\n\n\
                            The truth is a CSV with a header naming `cust_no` and `churn_date` (YYYY-MM-DD, empty: stayed).\n\
                            Judged are the parties scored at the as-of date that the truth still has as customers then."
    )]
    Churn {
        #[arg(long)]
        truth: std::path::PathBuf,
        /// The scores' as-of date, YYYY-MM-DD (default: the latest scored).
        #[arg(long)]
        as_of: Option<String>,
        /// Days after the as-of date in which a churn counts: `90d` or `90`.
        #[arg(long, default_value = "90d")]
        horizon: String,
        #[arg(long, default_value = "table")]
        format: ReportFormat,
    },
    /// How well `audience lookalike` finds people with a known trait: for each trait, half of its
    /// parties are hidden, the other half is the seed, and the lookalike of as many parties as
    /// were hidden is checked against them, for each method (recall, and a random pick's rate).
    #[command(
        after_help = "Examples:\n  portrait --store s eval lookalike --truth bank/truth/interest.csv\n  \
                            portrait --store s eval lookalike --truth bank/truth/interest.csv --value wine --format json\n\n\
                            The truth is a CSV with a header naming `cust_no` and the trait column (`interest`),\n\
                            one line per customer number and trait held."
    )]
    Lookalike {
        #[arg(long)]
        truth: std::path::PathBuf,
        /// The truth file's trait column.
        #[arg(long, default_value = "interest")]
        column: String,
        /// Only this trait.
        #[arg(long)]
        value: Option<String>,
        #[arg(long, default_value = "table")]
        format: ReportFormat,
    },
}

#[derive(Debug, Clone, Copy, ValueEnum, PartialEq, Eq)]
pub enum ReportFormat {
    Table,
    Json,
}

#[derive(Debug, Args)]
pub struct ReportArgs {
    /// rfm, segments, coverage or audience.
    pub kind: ReportKind,
    /// The saved audience (`report audience NAME`).
    pub name: Option<String>,
    /// The workbook to write (.xlsx).
    #[arg(long)]
    pub out: PathBuf,
    /// Language of headers, coded values and the description sheet: en or zh.
    #[arg(long, default_value = "en")]
    pub lang: portrait_engine::labels::Lang,
    /// Who took the report, kept in the audit log [default: $USER].
    #[arg(long, env = "USER", default_value = "operator")]
    pub by: String,
}

#[derive(Debug, Clone, Copy, ValueEnum, PartialEq, Eq)]
pub enum ReportKind {
    Rfm,
    Segments,
    Coverage,
    Audience,
}

#[derive(Debug, Args)]
pub struct CoverageArgs {
    #[arg(long, default_value = "table")]
    pub format: portrait_engine::output::Format,
}

#[derive(Debug, Subcommand)]
pub enum TagsAction {
    /// Compute every tag of every party and write `tag` and the bitmap index.
    #[command(
        after_help = "Examples:\n  portrait --store s tags build\n  portrait --store s tags build --catalog my-tags.toml"
    )]
    Build {
        /// Catalogue file (default: `[tags] catalog` of portrait.toml, else the built-in one).
        #[arg(long)]
        catalog: Option<PathBuf>,
        #[arg(long, default_value = "table")]
        format: ReportFormat,
    },
    /// Every tag of the index with its values and how many parties hold each.
    #[command(
        after_help = "Examples:\n  portrait --store s tags list\n  portrait --store s tags list --format csv"
    )]
    List {
        #[arg(long, default_value = "table")]
        format: portrait_engine::output::Format,
    },
    /// Print the built-in catalogue (TOML), to copy and edit.
    #[command(after_help = "Examples:\n  portrait tags catalog > tags.toml")]
    Catalog,
    /// Check a catalogue against the store's features without building anything.
    #[command(after_help = "Examples:\n  portrait --store s tags check my-tags.toml")]
    Check { file: PathBuf },
    /// The tags most over-represented among the parties of a tag (or any expression): lift,
    /// support, confidence.
    #[command(
        after_help = "Examples:\n  portrait --store s tags affinity interest:red_wine\n  \
                            portrait --store s tags affinity \"asset_tier:diamond\" --min-support 0.001 --limit 10"
    )]
    Affinity {
        /// A tag value (`interest:red_wine`), a tag, or any audience expression.
        expr: String,
        /// Smallest share of all parties holding both.
        #[arg(long, default_value_t = 0.0005)]
        min_support: f64,
        #[arg(long, default_value_t = 20)]
        limit: usize,
        #[arg(long, default_value = "table")]
        format: portrait_engine::output::Format,
    },
}

#[derive(Debug, Subcommand)]
pub enum AudienceAction {
    /// How many parties an expression selects; the count alone on the last line.
    #[command(
        after_help = "Examples:\n  portrait --store s audience count \"gender:female AND interest:red_wine\""
    )]
    Count { expr: String },
    /// An audience split by the values of a tag, with the population beside it.
    #[command(
        after_help = "Examples:\n  portrait --store s audience breakdown \"interest:red_wine\" --by gender\n  \
                            portrait --store s audience breakdown \"clv > 10000\" --by asset_tier --format csv"
    )]
    Breakdown {
        expr: String,
        /// The tag to split by.
        #[arg(long)]
        by: String,
        #[arg(long, default_value = "table")]
        format: portrait_engine::output::Format,
    },
    /// Every tag value in the audience against the whole population (share, lift, chi-square),
    /// and sums and means of value features.
    #[command(
        after_help = "Examples:\n  portrait --store s audience portrait \"retention_group:high_value_churn_prone\""
    )]
    Portrait {
        expr: String,
        /// Rows of tag values shown (most over-represented first).
        #[arg(long, default_value_t = 25)]
        limit: usize,
        /// Only values whose chi-square p-value is below this.
        #[arg(long, default_value_t = 0.05)]
        max_p: f64,
        #[arg(long, default_value = "table")]
        format: portrait_engine::output::Format,
    },
    /// Write the audience's parties to a CSV file for a campaign: only parties with marketing
    /// consent, personal columns masked, every row watermarked with the export id of its audit
    /// record.
    #[command(
        after_help = "Examples:\n  portrait --store s audience export \"interest:red_wine\" --out wine.csv\n  \
                      portrait --store s audience export \"interest:red_wine\" --out wine.xlsx --lang zh\n  \
                      portrait --store s audience export --saved wine_lookalike --out wine_like.csv\n  \
                      portrait --store s audit --export-id EXP-5f0c2a9e1b7d3c44"
    )]
    Export {
        /// The audience, as an expression.
        #[arg(required_unless_present = "saved")]
        expr: Option<String>,
        /// A saved audience instead (a saved lookalike too), found again on today's tags.
        #[arg(long, conflicts_with = "expr")]
        saved: Option<String>,
        #[arg(long)]
        out: PathBuf,
        /// csv or xlsx [default: xlsx when `--out` ends in .xlsx, else csv].
        #[arg(long)]
        format: Option<portrait_engine::output::Format>,
        /// Language of an xlsx workbook's headers and description sheet: en or zh.
        #[arg(long, default_value = "en")]
        lang: portrait_engine::labels::Lang,
        /// Also export parties without marketing consent (e.g. for a service notice).
        #[arg(long)]
        include_no_consent: bool,
        /// Who exported, kept in the audit log [default: $USER].
        #[arg(long, env = "USER", default_value = "operator")]
        by: String,
    },
    /// 相似人群扩展 — the parties most like a seed audience that are not in it, each with a score
    /// and the features that make it similar. Two methods (the seed's centroid, and a classifier
    /// of seed against population) are each judged on a hidden half of the seed; `auto` uses the
    /// one that finds more.
    #[command(
        after_help = "Examples:\n  portrait --store s audience lookalike \"interest:red_wine\" --size 5000\n  \
                      portrait --store s audience lookalike \"holds:fund\" --size 2000 --exclude \"recency_class:churned\" --save fund_lookalike\n  \
                      portrait --store s audience lookalike \"holds:fund\" --size 2000 --method classifier --format csv"
    )]
    Lookalike {
        /// The seed audience, as an expression.
        seed: String,
        /// Parties wanted.
        #[arg(long)]
        size: usize,
        /// auto, centroid or classifier.
        #[arg(long, default_value = "auto")]
        method: portrait_engine::lookalike::Choice,
        /// Parties never returned, as an expression (e.g. those who opted out of a channel).
        #[arg(long)]
        exclude: Option<String>,
        /// Save the lookalike under this name; `audience diff` finds it again on newer tags.
        #[arg(long)]
        save: Option<String>,
        /// Parties listed (all of them with `--format csv` or `json`).
        #[arg(long, default_value_t = 20)]
        show: usize,
        #[arg(long, default_value = "table")]
        format: portrait_engine::output::Format,
    },
    /// Save an audience under a name: its expression and today's members.
    #[command(
        after_help = "Examples:\n  portrait --store s audience save wine_lovers \"interest:red_wine\""
    )]
    Save { name: String, expr: String },
    /// How a saved audience changed since it was saved: who entered, who left.
    #[command(after_help = "Examples:\n  portrait --store s audience diff wine_lovers")]
    Diff {
        name: String,
        /// Party ids listed per direction.
        #[arg(long, default_value_t = 10)]
        show: usize,
    },
    /// Saved audiences.
    #[command(after_help = "Examples:\n  portrait --store s audience list")]
    List {
        #[arg(long, default_value = "table")]
        format: portrait_engine::output::Format,
    },
    /// Campaign responses and conversions of a saved audience against the rest of the parties.
    #[command(after_help = "Examples:\n  portrait --store s audience report wine_lovers")]
    Report {
        name: String,
        #[arg(long, default_value = "table")]
        format: portrait_engine::output::Format,
    },
}

#[derive(Debug, Args)]
pub struct SegmentArgs {
    /// The model: `[segment.models.NAME]` of portrait.toml, else the built-in inputs.
    #[arg(long)]
    pub model: Option<String>,
    /// kmeans, minibatch, hierarchical, gmm or kprototypes (overrides the model's).
    #[arg(long)]
    pub method: Option<String>,
    /// Number of segments, or `auto` (overrides the model's).
    #[arg(long)]
    pub k: Option<String>,
    #[arg(long, default_value = "table")]
    pub format: ReportFormat,
}

#[derive(Debug, Args)]
pub struct RulesArgs {
    /// Smallest share of parties holding an itemset.
    #[arg(long)]
    pub min_support: Option<f64>,
    /// Smallest confidence of a rule.
    #[arg(long)]
    pub min_confidence: Option<f64>,
    /// Longest itemset.
    #[arg(long)]
    pub max_len: Option<usize>,
    /// Rules shown (all are written to `rule`).
    #[arg(long, default_value_t = 15)]
    pub show: usize,
    #[arg(long, default_value = "table")]
    pub format: ReportFormat,
}

#[derive(Debug, Args)]
pub struct RecommendArgs {
    /// Recommendations per party.
    #[arg(long)]
    pub top: Option<usize>,
}

#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:8080")]
    pub addr: std::net::SocketAddr,
    /// Requests per second each token may sustain (more answer 429).
    #[arg(long, default_value_t = 50.0)]
    pub rate_limit: f64,
    /// Requests a token may make at once before the rate applies.
    #[arg(long, default_value_t = 200.0)]
    pub burst: f64,
    /// Also serve the store over the PostgreSQL protocol on this address (read-only; user name
    /// and API token as the credentials; e.g. `127.0.0.1:5433`). See docs/bi.md.
    #[arg(long, value_name = "ADDR")]
    pub pg: Option<std::net::SocketAddr>,
    /// Let `--pg` listen on an address other than loopback although tokens then cross the
    /// network in clear (the protocol server has no TLS: put a TLS proxy in front instead).
    #[arg(long, requires = "pg")]
    pub pg_plaintext: bool,
}

#[derive(Debug, Subcommand)]
pub enum ClusterAction {
    /// The scheduler: plans each job's stages and hands their tasks to executors.
    Scheduler {
        /// Address to listen on (gRPC for clients and executors).
        #[arg(long, default_value = "127.0.0.1:50050")]
        bind: std::net::SocketAddr,
        /// Host name executors and clients reach this scheduler by; defaults to the bind address.
        #[arg(long)]
        external_host: Option<String>,
    },
    /// An executor: runs tasks and serves their results to other executors and to clients.
    Executor {
        /// The scheduler, as HOST:PORT.
        #[arg(long, default_value = "127.0.0.1:50050")]
        scheduler: String,
        /// Address of the executor's Arrow Flight service (results and shuffle data).
        #[arg(long, default_value = "127.0.0.1:50051")]
        bind: std::net::SocketAddr,
        /// Port of the executor's gRPC service; defaults to the Flight port + 1.
        #[arg(long)]
        grpc_port: Option<u16>,
        /// Host name others reach this executor by; defaults to the bind address.
        #[arg(long)]
        external_host: Option<String>,
        /// Tasks run at once; defaults to the number of cores.
        #[arg(long)]
        concurrent_tasks: Option<usize>,
        /// Directory for shuffle files; a temporary directory by default.
        #[arg(long)]
        work_dir: Option<PathBuf>,
    },
}

#[derive(Debug, Subcommand)]
pub enum UserAction {
    /// Add a user and print their new token (once).
    #[command(
        after_help = "Examples:\n  portrait --store s user add li.na --role marketer\n  \
                            portrait --store s user add temp.audit --role auditor --expires 30d"
    )]
    Add {
        /// User name (no spaces).
        name: String,
        /// admin, analyst, marketer or auditor.
        #[arg(long)]
        role: String,
        /// When the token stops working: a number of days (`90d`) or a date (`2027-03-31`, the
        /// start of that day in UTC). Without it the token works until revoked.
        #[arg(long)]
        expires: Option<String>,
    },
    /// Every user with their role and live tokens (never a token).
    List,
    /// Revoke every token of a user at once (a running server refuses them within 5 s); the
    /// user stays, for `rotate` to give a new token.
    #[command(after_help = "Examples:\n  portrait --store s user revoke li.na")]
    Revoke {
        name: String,
        /// Who did it, kept in the audit log.
        #[arg(long, default_value = "cli")]
        by: String,
    },
    /// Replace a user's tokens with a new one, printed once.
    #[command(after_help = "Examples:\n  portrait --store s user rotate li.na\n  \
                            portrait --store s user rotate li.na --expires 2027-03-31")]
    Rotate {
        name: String,
        /// As for `user add`.
        #[arg(long)]
        expires: Option<String>,
        /// Who did it, kept in the audit log.
        #[arg(long, default_value = "cli")]
        by: String,
    },
}

#[derive(Debug, Args)]
pub struct EraseArgs {
    /// The customer number to erase.
    pub cust_no: String,
    /// Why (the request's reference), kept in the audit log.
    #[arg(long)]
    pub reason: String,
    /// Who asked or approved, kept in the audit log.
    #[arg(long, default_value = "cli")]
    pub by: String,
    /// Only remove the rows; leave the recomputation to the next `portrait run`.
    #[arg(long)]
    pub no_rebuild: bool,
}
