//! Mines frequent itemsets from a baskets file (one basket a line, item ids separated by spaces)
//! and prints the itemset count and the mining time as one JSON line; `bench/fpgrowth.sh` runs it
//! beside pyfim and mlxtend:
//!
//! `cargo run --release -p portrait-mining --example fpgrowth_baskets -- <baskets.txt>
//!  [--min-support 0.001] [--max-len N] [--threads 0] [--min-confidence C]`
//!
//! The time covers FP-Growth alone on the baskets in memory, not the reading of the file; with
//! `--min-confidence` the rules are generated too and timed apart.

use std::io::Write;
use std::time::Instant;

use portrait_mining::{FpGrowthParams, association_rules};

type Error = Box<dyn std::error::Error>;

fn main() -> Result<(), Error> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let path = args
        .first()
        .ok_or("usage: fpgrowth_baskets <baskets.txt> [options]")?;
    let opt = |name: &str| -> Option<String> {
        args.iter()
            .position(|a| a == name)
            .and_then(|i| args.get(i + 1))
            .cloned()
    };
    let min_support: f64 = opt("--min-support").as_deref().unwrap_or("0.001").parse()?;
    let threads: usize = opt("--threads").as_deref().unwrap_or("0").parse()?;
    let max_len: Option<usize> = opt("--max-len").map(|v| v.parse()).transpose()?;
    let min_confidence: Option<f64> = opt("--min-confidence").map(|v| v.parse()).transpose()?;
    rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build_global()?;

    let text = std::fs::read_to_string(path).map_err(|e| format!("cannot read `{path}`: {e}"))?;
    let mut baskets: Vec<Vec<u32>> = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let basket = line
            .split_ascii_whitespace()
            .map(str::parse)
            .collect::<Result<Vec<u32>, _>>()
            .map_err(|_| format!("{path}:{}: not an item id", i + 1))?;
        baskets.push(basket);
    }

    let mut params = FpGrowthParams::new(min_support);
    params.max_len = max_len;
    let params = params.validate()?;
    let start = Instant::now();
    let itemsets = params.fit(&baskets);
    let seconds = start.elapsed().as_secs_f64();
    let (rules, rules_seconds) = match min_confidence {
        Some(c) => {
            let start = Instant::now();
            let rules = association_rules(&itemsets, c)?;
            (rules.len() as i64, start.elapsed().as_secs_f64())
        }
        None => (-1, 0.0),
    };
    let max_len_found = itemsets
        .itemsets
        .iter()
        .map(|s| s.items.len())
        .max()
        .unwrap_or(0);
    writeln!(
        std::io::stdout().lock(),
        "{{\"tool\":\"portrait\",\"baskets\":{},\"threads\":{},\"min_support\":{min_support},\"min_count\":{},\"itemsets\":{},\"longest\":{max_len_found},\"seconds\":{seconds:.4},\"rules\":{rules},\"rules_seconds\":{rules_seconds:.4}}}",
        baskets.len(),
        rayon::current_num_threads(),
        itemsets.min_count,
        itemsets.itemsets.len()
    )?;
    Ok(())
}
