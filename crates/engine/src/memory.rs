//! The memory budget of a process (`--memory-limit`, `[engine] memory_limit`,
//! `PORTRAIT_MEMORY_LIMIT`).
//!
//! Two bounds hold it:
//! - With `[engine] query_memory` set, DataFusion's plans share one memory pool of that size.
//!   Beyond it, sorts, aggregates and sort-merge joins spill to `<store>/.spill`; a plan that
//!   cannot spill fails with an error that names the stage and the setting. There is no pool
//!   by default: DataFusion 55 counts a slice of a batch as all the buffers it shares, so at
//!   1,000,000 customers a pool of 14 GB filled in `rules` while the process held 2 GB.
//! - [`watch`] reads the process's resident memory while a stage runs and stops the process with
//!   such an error when it goes over the whole budget, before the kernel would kill it. Every
//!   stage commits on its own, so the store is left as the stages before it left it.
//!
//! The rest of the budget is for what the stages hold themselves (the matcher's records, the
//! models' rows, the tag index) and for Parquet readers and writers.

use std::sync::RwLock;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

/// Share of the machine's memory that is the budget when none is set.
pub const DEFAULT_SHARE: f64 = 0.75;

/// The budget in force and where it was set.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Budget {
    /// Bytes of resident memory the process may use.
    pub limit: u64,
    /// Where the limit comes from, as the user would set it (`--memory-limit`, …).
    pub source: &'static str,
    /// Bytes of DataFusion's memory pool (`[engine] query_memory`); `None`: no pool.
    pub query_memory: Option<u64>,
}

impl Budget {
    /// Bytes of DataFusion's memory pool, when there is one.
    pub fn pool(&self) -> Option<usize> {
        self.query_memory.map(|q| q as usize)
    }

    /// The default: [`DEFAULT_SHARE`] of the machine's memory (or of the control group's limit,
    /// when lower); `None` where the system does not tell.
    pub fn default_for_machine() -> Option<Budget> {
        machine_memory().map(|m| Budget {
            limit: (m as f64 * DEFAULT_SHARE) as u64,
            source: "the default (3/4 of this machine's memory)",
            query_memory: None,
        })
    }
}

static BUDGET: RwLock<Option<Budget>> = RwLock::new(None);
static STAGE: RwLock<Option<&'static str>> = RwLock::new(None);

/// Sets the budget of every session this process opens from now on (`None`: unbounded).
pub fn set_budget(budget: Option<Budget>) {
    *BUDGET.write().expect("budget") = budget;
}

/// The budget in force, if any.
pub fn budget() -> Option<Budget> {
    *BUDGET.read().expect("budget")
}

/// Bytes of DataFusion's memory pool in force, if any.
pub fn query_memory() -> Option<usize> {
    budget().and_then(|b| b.pool())
}

/// Marks the stage this process is running (`None` between stages), for [`watch`] and errors.
fn set_stage(stage: Option<&'static str>) {
    *STAGE.write().unwrap_or_else(|e| e.into_inner()) = stage;
}

/// Marks `stage` as running until the guard is dropped (also when the stage panics or its
/// future is dropped).
pub fn running(stage: &'static str) -> StageGuard {
    set_stage(Some(stage));
    StageGuard
}

/// See [`running`].
pub struct StageGuard;

impl Drop for StageGuard {
    fn drop(&mut self) {
        set_stage(None);
    }
}

/// The stage this process is running, if any.
pub fn stage() -> Option<&'static str> {
    *STAGE.read().unwrap_or_else(|e| e.into_inner())
}

/// `8G`, `512M`, `1.5GiB`, `64K` or a plain number of bytes.
pub fn parse_bytes(s: &str) -> Result<u64, String> {
    let bad = || format!("`{s}` is not an amount of memory; write e.g. 8G, 512M or 1073741824");
    let t = s.trim();
    let (digits, unit) = match t.char_indices().find(|(_, c)| c.is_ascii_alphabetic()) {
        Some((i, _)) => t.split_at(i),
        None => (t, ""),
    };
    let mult: u64 = match unit
        .to_ascii_uppercase()
        .trim_end_matches('B')
        .trim_end_matches('I')
    {
        "" => 1,
        "K" => 1 << 10,
        "M" => 1 << 20,
        "G" => 1 << 30,
        "T" => 1 << 40,
        _ => return Err(bad()),
    };
    let n: f64 = digits.trim().parse().map_err(|_| bad())?;
    if !(n > 0.0) || !n.is_finite() {
        return Err(format!("`{s}`: the memory limit must be more than zero"));
    }
    Ok((n * mult as f64) as u64)
}

/// `8.0 GiB`, `512 MiB`.
pub fn human(bytes: u64) -> String {
    let b = bytes as f64;
    if b >= (1u64 << 30) as f64 {
        format!("{:.1} GiB", b / (1u64 << 30) as f64)
    } else if b >= (1u64 << 20) as f64 {
        format!("{:.0} MiB", b / (1u64 << 20) as f64)
    } else {
        format!("{:.0} KiB", b / 1024.0)
    }
}

/// The machine's memory, or its control group's limit when that is lower (Linux).
pub fn machine_memory() -> Option<u64> {
    let meminfo = std::fs::read_to_string("/proc/meminfo").ok()?;
    let total = kb_field(&meminfo, "MemTotal:")?;
    // cgroup v2 ("max" when unlimited), else v1 (a huge number when unlimited).
    let cgroup = [
        "/sys/fs/cgroup/memory.max",
        "/sys/fs/cgroup/memory/memory.limit_in_bytes",
    ]
    .iter()
    .filter_map(|p| std::fs::read_to_string(p).ok())
    .filter_map(|s| s.trim().parse::<u64>().ok())
    .find(|&c| c < 1 << 60);
    Some(cgroup.map_or(total, |c| c.min(total)))
}

/// Resident memory of this process now, in bytes (Linux: `VmRSS`).
pub fn resident() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    kb_field(&status, "VmRSS:")
}

fn kb_field(text: &str, key: &str) -> Option<u64> {
    let line = text.lines().find(|l| l.starts_with(key))?;
    let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb * 1024)
}

/// The error of a stage (or, outside any, a query) whose plan went over the budget, with the
/// setting that raises it.
pub fn over_budget(stage: Option<&str>, what: &str) -> String {
    over_budget_kept(stage, what, None)
}

fn over_budget_kept(stage: Option<&str>, what: &str, kept: Option<&str>) -> String {
    let plans = |b: &Budget| match b.pool() {
        Some(p) => format!(
            ", query plans {} from [engine] query_memory",
            human(p as u64)
        ),
        None => String::new(),
    };
    let budget = match budget() {
        Some(b) if b.limit == u64::MAX => format!("no limit{}", plans(&b)),
        Some(b) => format!("{} from {}{}", human(b.limit), b.source, plans(&b)),
        None => "no limit".to_string(),
    };
    let (who, default_kept) = match stage {
        Some(s) => (
            format!("stage `{s}`"),
            "nothing of this stage was committed",
        ),
        None => (
            "the query".to_string(),
            "the query was stopped and its output is incomplete",
        ),
    };
    let kept = kept.unwrap_or(default_kept);
    format!(
        "{who} went over the memory budget ({budget}): {what}\n\
         hint: raise `--memory-limit` (or `[engine] memory_limit` / `query_memory` in \
         portrait.toml, or PORTRAIT_MEMORY_LIMIT); {kept}"
    )
}

static WATCHING: AtomicBool = AtomicBool::new(false);

/// Watches this process's resident memory while a stage runs (see [`set_stage`]) and, when it
/// goes over the budget, prints the error of [`over_budget`] and exits with status 1 before the
/// kernel would kill the process. Starts one watcher per process; later calls do nothing.
pub fn watch() {
    if budget().is_none() || WATCHING.swap(true, Ordering::SeqCst) {
        return;
    }
    std::thread::Builder::new()
        .name("memory-watch".into())
        .spawn(|| {
            loop {
                std::thread::sleep(Duration::from_millis(50));
                let (Some(stage), Some(b)) = (stage(), budget()) else {
                    continue;
                };
                let Some(rss) = resident() else { continue };
                if rss > b.limit {
                    // The stage may be anywhere, even past its commit: say what holds.
                    eprintln!(
                        "error: {}",
                        over_budget_kept(
                            Some(stage),
                            &format!("{} resident", human(rss)),
                            Some("the store keeps what was committed before this moment (a stage commits all or nothing)"),
                        )
                    );
                    std::process::exit(1);
                }
            }
        })
        .expect("memory watcher thread");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn memory_amounts() {
        assert_eq!(parse_bytes("8G").unwrap(), 8 << 30);
        assert_eq!(parse_bytes("512m").unwrap(), 512 << 20);
        assert_eq!(parse_bytes("1.5GiB").unwrap(), 3 << 29);
        assert_eq!(parse_bytes("4096").unwrap(), 4096);
        assert!(parse_bytes("lots").is_err());
        assert!(parse_bytes("0G").is_err());
        assert!(parse_bytes("-1G").is_err());
        assert!(parse_bytes("8X").is_err());
    }

    #[test]
    fn the_machine_has_memory() {
        // Linux tells; the budget's default is a share of it.
        let m = machine_memory().expect("meminfo");
        assert!(m > 64 << 20);
        let b = Budget::default_for_machine().expect("default");
        assert!(b.limit < m && b.pool().is_none());
        assert!(resident().expect("VmRSS") > 0);
    }
}
