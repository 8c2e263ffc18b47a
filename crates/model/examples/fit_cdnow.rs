//! Times the BG/NBD and Gamma-Gamma fits on the CDNOW summary (best of 5) and prints the
//! parameters and seconds as JSON, in the shape `bench/bgnbd.py` prints for lifetimes:
//!
//! `cargo run --release -p portrait-model --example fit_cdnow [-- <csv> [runs]]`
//!
//! The default file is the one `tests/fetch-references.sh` extracts:
//! `target/references/lifetimes/datasets/cdnow_customers_summary_with_transactions.csv`
//! (columns ID, x, t_x, T, zbar; times in weeks).

use std::io::Write;
use std::path::PathBuf;
use std::time::Instant;

use portrait_model::{BgNbd, GammaGamma, Rfm, Spend};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let path = args.first().map_or_else(
        || {
            let manifest = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
            let root = manifest
                .ancestors()
                .nth(2)
                .unwrap_or(&manifest)
                .to_path_buf();
            root.join("target/references/lifetimes/datasets")
                .join("cdnow_customers_summary_with_transactions.csv")
        },
        PathBuf::from,
    );
    let runs: usize = args.get(1).map_or(Ok(5), |s| s.parse())?;
    let text = std::fs::read_to_string(&path).map_err(|e| {
        format!(
            "cannot read {}: {e}\nhint: run tests/fetch-references.sh first",
            path.display()
        )
    })?;
    let mut lines = text.lines();
    let header: Vec<&str> = lines.next().ok_or("empty file")?.split(',').collect();
    let col = |name: &str| {
        header
            .iter()
            .position(|h| *h == name)
            .ok_or_else(|| format!("no column `{name}`"))
    };
    let (ix, itx, it, im) = (col("x")?, col("t_x")?, col("T")?, col("zbar")?);
    let mut rfm = Vec::new();
    let mut spend = Vec::new();
    for line in lines.filter(|l| !l.trim().is_empty()) {
        let v: Vec<f64> = line
            .split(',')
            .map(|s| s.trim().parse())
            .collect::<Result<_, _>>()?;
        rfm.push(Rfm {
            x: v[ix],
            t_x: v[itx],
            t: v[it],
        });
        spend.push(Spend { x: v[ix], m: v[im] });
    }

    let (mut best_bg, mut best_gg, mut best_total) = (f64::MAX, f64::MAX, f64::MAX);
    let mut fits = None;
    for _ in 0..runs.max(1) {
        let start = Instant::now();
        let bg = BgNbd::fit(&rfm)?;
        let mid = Instant::now();
        let gg = GammaGamma::fit(&spend)?;
        let end = Instant::now();
        best_bg = best_bg.min((mid - start).as_secs_f64());
        best_gg = best_gg.min((end - mid).as_secs_f64());
        best_total = best_total.min((end - start).as_secs_f64());
        fits = Some((bg, gg));
    }
    let (bg, gg) = fits.ok_or("no run")?;
    let report = serde_json::json!({
        "implementation": "portrait-model",
        "customers": rfm.len(),
        "runs": runs.max(1),
        "bgnbd": {
            "r": bg.model.r,
            "alpha": bg.model.alpha,
            "a": bg.model.a,
            "b": bg.model.b,
            "log_likelihood": bg.log_likelihood,
            "iterations": bg.iterations,
        },
        "gamma_gamma": {
            "p": gg.model.p,
            "q": gg.model.q,
            "v": gg.model.v,
            "log_likelihood": gg.log_likelihood,
            "iterations": gg.iterations,
        },
        "seconds": {
            "bgnbd": best_bg,
            "gamma_gamma": best_gg,
            "total": best_total,
        },
    });
    writeln!(std::io::stdout().lock(), "{report:#}")?;
    Ok(())
}
