//! Generates a synthetic bank and reports how long it took:
//! `cargo run -p portrait-synth --example generate -- <customers> <out-dir> [csv|parquet] [en|zh] [utf8|gbk]`.

use std::time::Instant;

use portrait_synth::{Encoding, Format, Headers, SynthConfig, generate};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let customers = args.first().map_or(Ok(20_000), |s| s.parse())?;
    let out = args.get(1).cloned().unwrap_or_else(|| "synth-out".into());
    let has = |s: &str| args.iter().skip(2).any(|a| a == s);
    let cfg = SynthConfig {
        customers,
        format: if has("parquet") {
            Format::Parquet
        } else {
            Format::Csv
        },
        headers: if has("zh") { Headers::Zh } else { Headers::En },
        encoding: if has("gbk") {
            Encoding::Gbk
        } else {
            Encoding::Utf8
        },
        ..SynthConfig::default()
    };
    let started = Instant::now();
    let summary = generate(&cfg, std::path::Path::new(&out), &|_| {})?;
    let secs = started.elapsed().as_secs_f64();
    for (table, rows) in &summary.rows {
        eprintln!("{table:>18} {rows:>12}");
    }
    eprintln!(
        "persons {} (with duplicates {})",
        summary.persons, summary.duplicate_persons
    );
    let txns = summary
        .rows
        .iter()
        .find(|r| r.0 == "transaction")
        .map_or(0, |r| r.1);
    eprintln!(
        "{customers} customers in {secs:.2} s ({:.0} transactions/s)",
        txns as f64 / secs
    );
    Ok(())
}
