//! Fits the boosted trees and the logistic regression on a churn training file, scores a test
//! file, and prints AUC, precision at the top 10 %, Brier score, log loss and fit times:
//!
//! `cargo run --release -p portrait-model --example churn_csv -- <train.csv> <test.csv> [--json]`
//!
//! Both files have a header row, numeric feature columns and the 0/1 label last; an empty field
//! is a missing value. The trees take missing values as they are; the logistic regression gets
//! them replaced by the training mean of their column. `bench/churn.py` prints the same report
//! for scikit-learn.

use std::io::Write;
use std::time::Instant;

use portrait_model::metrics::{brier_score, log_loss, precision_at, roc_auc};
use portrait_model::{GbtClassifier, GbtParams, LogisticParams, LogisticRegression, Matrix};

type Error = Box<dyn std::error::Error>;

/// A file's rows, row-major, and their labels.
struct Table {
    names: Vec<String>,
    x: Vec<f64>,
    y: Vec<bool>,
    n_cols: usize,
}

impl Table {
    fn read(path: &str) -> Result<Table, Error> {
        let text =
            std::fs::read_to_string(path).map_err(|e| format!("cannot read `{path}`: {e}"))?;
        let mut lines = text.lines();
        let header = lines.next().ok_or_else(|| format!("`{path}` is empty"))?;
        let mut names: Vec<String> = header.split(',').map(|h| h.trim().to_string()).collect();
        let n_fields = names.len();
        if n_fields < 2 {
            return Err(format!("`{path}` needs feature columns and a label column").into());
        }
        let n_cols = n_fields - 1;
        let mut x = Vec::new();
        let mut y = Vec::new();
        for (i, line) in lines.enumerate().filter(|(_, l)| !l.trim().is_empty()) {
            let at = |what: &str| format!("{path}:{}: {what}", i + 2);
            let mut fields = line.split(',');
            for _ in 0..n_cols {
                let field = fields.next().ok_or_else(|| at("too few fields"))?.trim();
                x.push(if field.is_empty() {
                    f64::NAN
                } else {
                    field
                        .parse()
                        .map_err(|_| at(&format!("`{field}` is not a number")))?
                });
            }
            y.push(match fields.next().map(str::trim) {
                Some("1") => true,
                Some("0") => false,
                other => return Err(at(&format!("label {other:?} is not 0 or 1")).into()),
            });
            if fields.next().is_some() {
                return Err(at("too many fields").into());
            }
        }
        names.truncate(n_cols);
        Ok(Table {
            names,
            x,
            y,
            n_cols,
        })
    }

    fn matrix(&self) -> Matrix<'_> {
        Matrix::new(&self.x, self.y.len(), self.n_cols).expect("rows have n_cols fields")
    }

    /// Per column, the mean of the present values (0 when none is).
    fn column_means(&self) -> Vec<f64> {
        let mut sums = vec![(0.0, 0usize); self.n_cols];
        for row in self.x.chunks(self.n_cols) {
            for (s, v) in sums.iter_mut().zip(row) {
                if !v.is_nan() {
                    s.0 += v;
                    s.1 += 1;
                }
            }
        }
        sums.iter()
            .map(|&(sum, n)| if n > 0 { sum / n as f64 } else { 0.0 })
            .collect()
    }

    /// The inputs with every missing value replaced by its column's value in `fill`.
    fn imputed(&self, fill: &[f64]) -> Vec<f64> {
        self.x
            .iter()
            .enumerate()
            .map(|(i, v)| {
                if v.is_nan() {
                    fill[i % self.n_cols]
                } else {
                    *v
                }
            })
            .collect()
    }
}

/// The scores of one model on the test file.
struct Report {
    name: &'static str,
    fit_seconds: f64,
    predict_seconds: f64,
    auc: f64,
    precision_at_10: f64,
    brier: f64,
    log_loss: f64,
    /// Mean predicted probability on the training rows (a calibrated fit gives the base rate).
    train_mean: f64,
}

impl Report {
    fn of(
        name: &'static str,
        fit_seconds: f64,
        predict_seconds: f64,
        train_probs: &[f64],
        probs: &[f64],
        y: &[bool],
    ) -> Result<Report, Error> {
        Ok(Report {
            name,
            fit_seconds,
            predict_seconds,
            auc: roc_auc(probs, y)?,
            precision_at_10: precision_at(probs, y, 0.1)?,
            brier: brier_score(probs, y)?,
            log_loss: log_loss(probs, y)?,
            train_mean: train_probs.iter().sum::<f64>() / train_probs.len() as f64,
        })
    }

    fn json(&self) -> serde_json::Value {
        serde_json::json!({
            "model": self.name,
            "auc": self.auc,
            "precision_at_10": self.precision_at_10,
            "brier": self.brier,
            "log_loss": self.log_loss,
            "train_mean_probability": self.train_mean,
            "fit_seconds": self.fit_seconds,
            "predict_seconds": self.predict_seconds,
        })
    }
}

fn main() -> Result<(), Error> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let json = args.iter().any(|a| a == "--json");
    let paths: Vec<&String> = args.iter().filter(|a| !a.starts_with("--")).collect();
    let [train_path, test_path] = paths[..] else {
        return Err("usage: churn_csv <train.csv> <test.csv> [--json]".into());
    };
    let train = Table::read(train_path)?;
    let test = Table::read(test_path)?;
    if train.names != test.names {
        return Err(format!(
            "train and test have different feature columns: {:?} and {:?}",
            train.names, test.names
        )
        .into());
    }
    let base_rate = train.y.iter().filter(|v| **v).count() as f64 / train.y.len() as f64;

    let start = Instant::now();
    let gbt = GbtClassifier::fit(train.matrix(), &train.y, &GbtParams::default())?;
    let fit_seconds = start.elapsed().as_secs_f64();
    let start = Instant::now();
    let probs = gbt.predict_proba(test.matrix())?;
    let predict_seconds = start.elapsed().as_secs_f64();
    let train_probs = gbt.predict_proba(train.matrix())?;
    let mut importance: Vec<(&str, f64)> = train
        .names
        .iter()
        .map(String::as_str)
        .zip(gbt.feature_importance())
        .collect();
    importance.sort_by(|a, b| b.1.total_cmp(&a.1));
    let gbt_report = Report::of(
        "gbt",
        fit_seconds,
        predict_seconds,
        &train_probs,
        &probs,
        &test.y,
    )?;

    let means = train.column_means();
    let train_x = train.imputed(&means);
    let test_x = test.imputed(&means);
    let train_m = Matrix::new(&train_x, train.y.len(), train.n_cols)?;
    let test_m = Matrix::new(&test_x, test.y.len(), test.n_cols)?;
    let start = Instant::now();
    let logistic = LogisticRegression::fit(train_m, &train.y, &LogisticParams::default())?;
    let fit_seconds = start.elapsed().as_secs_f64();
    let start = Instant::now();
    let probs = logistic.predict_proba(test_m)?;
    let predict_seconds = start.elapsed().as_secs_f64();
    let train_probs = logistic.predict_proba(train_m)?;
    let logistic_report = Report::of(
        "logistic",
        fit_seconds,
        predict_seconds,
        &train_probs,
        &probs,
        &test.y,
    )?;

    let reports = [logistic_report, gbt_report];
    let mut out = std::io::stdout().lock();
    if json {
        let value = serde_json::json!({
            "implementation": "portrait-model",
            "threads": rayon::current_num_threads(),
            "train_rows": train.y.len(),
            "test_rows": test.y.len(),
            "features": train.n_cols,
            "train_base_rate": base_rate,
            "models": reports.iter().map(Report::json).collect::<Vec<_>>(),
            "gbt_importance": importance,
        });
        writeln!(out, "{value:#}")?;
        return Ok(());
    }
    writeln!(
        out,
        "train {} rows, test {} rows, {} features, {} threads, train base rate {base_rate:.4}",
        train.y.len(),
        test.y.len(),
        train.n_cols,
        rayon::current_num_threads(),
    )?;
    writeln!(
        out,
        "{:<10} {:>7} {:>7} {:>7} {:>8} {:>11} {:>8} {:>10}",
        "model", "auc", "p@10%", "brier", "log_loss", "train_mean", "fit_s", "predict_s"
    )?;
    for r in &reports {
        writeln!(
            out,
            "{:<10} {:>7.4} {:>7.4} {:>7.4} {:>8.4} {:>11.4} {:>8.2} {:>10.3}",
            r.name,
            r.auc,
            r.precision_at_10,
            r.brier,
            r.log_loss,
            r.train_mean,
            r.fit_seconds,
            r.predict_seconds
        )?;
    }
    let top: Vec<String> = importance
        .iter()
        .take(5)
        .map(|(name, share)| format!("{name} {share:.3}"))
        .collect();
    writeln!(out, "gbt gain share: {}", top.join(", "))?;
    Ok(())
}
