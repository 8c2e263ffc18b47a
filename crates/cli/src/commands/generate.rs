use anyhow::{Context, Result};
use portrait_synth::{Encoding, Format, Headers, SynthConfig};

use crate::args::{FileFormat, GenerateArgs, HeaderLanguage, TextEncoding};
use crate::progress::Bars;
use crate::text::{table, thousands};

pub fn config(a: &GenerateArgs) -> Result<SynthConfig> {
    let mut cfg = SynthConfig {
        customers: a.customers,
        seed: a.seed,
        format: match a.format {
            FileFormat::Csv => Format::Csv,
            FileFormat::Parquet => Format::Parquet,
        },
        encoding: match a.encoding {
            TextEncoding::Utf8 => Encoding::Utf8,
            TextEncoding::Gbk => Encoding::Gbk,
        },
        headers: match a.headers {
            HeaderLanguage::En => Headers::En,
            HeaderLanguage::Zh => Headers::Zh,
        },
        ..SynthConfig::default()
    };
    if let Some(end) = &a.end {
        cfg.end = chrono::NaiveDate::parse_from_str(end, "%Y-%m-%d")
            .with_context(|| format!("`--end {end}` is not a date like 2026-11-30"))?;
    }
    if let Some(m) = a.months {
        cfg.months = m;
    }
    if let Some(t) = a.txns_per_customer {
        cfg.txns_per_customer = t;
    }
    Ok(cfg)
}

pub fn generate(
    cfg: &SynthConfig,
    out: &std::path::Path,
    quiet: bool,
) -> Result<portrait_synth::Summary> {
    let bars = Bars::new(quiet);
    let bar = bars.counter("generating customers", cfg.customers);
    let summary = portrait_synth::generate(cfg, out, &|p| bar.set_position(p.customers_done))
        .with_context(|| format!("generating into `{}`", out.display()))?;
    bar.finish_and_clear();
    Ok(summary)
}

pub fn run(a: &GenerateArgs, quiet: bool) -> Result<()> {
    let cfg = config(a)?;
    let summary = generate(&cfg, &a.out, quiet)?;
    let rows: Vec<Vec<String>> = summary
        .rows
        .iter()
        .map(|(t, n)| vec![t.to_string(), thousands(*n)])
        .collect();
    print!("{}", table(&["table", "rows"], &rows));
    println!(
        "{} persons and companies, {} of them with more than one customer number; ground truth in `{}`",
        thousands(summary.persons),
        thousands(summary.duplicate_persons),
        a.out.join("truth").display()
    );
    Ok(())
}
