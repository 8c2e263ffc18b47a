//! `portrait cluster scheduler|executor`, and `--cluster` on the commands that run plans.

use anyhow::{Result, bail};

use crate::args::{ClusterAction, Command};

/// Points every session of this process at the cluster of `--cluster`, for the commands whose
/// plans can run there; refuses it on the others.
pub async fn select(url: Option<&str>, command: &Command) -> Result<()> {
    let Some(url) = url else {
        return Ok(());
    };
    let name = match command {
        Command::Demo(_) => Some("demo"),
        Command::Generate(_) => Some("generate"),
        Command::Serve(_) => Some("serve"),
        Command::User { .. } => Some("user"),
        Command::Config { .. } => Some("config"),
        Command::Cluster { .. } => Some("cluster"),
        _ => None,
    };
    if let Some(name) = name {
        bail!(
            "`--cluster` does not apply to `portrait {name}`\nhint: use it with `run` or a stage (ingest, resolve, links, features, score, segment, rules, recommend, tags build, sql)"
        );
    }
    portrait_engine::session::use_cluster(Some(url)).await?;
    tracing::info!("plans run on the cluster at {url}");
    Ok(())
}

#[cfg(feature = "cluster")]
/// `memory_limit`: the global `--memory-limit`, the executor's plans' pool before they spill.
pub async fn run(action: ClusterAction, memory_limit: Option<&str>) -> Result<()> {
    use portrait_cluster::{ExecutorOptions, SchedulerOptions};
    let functions = portrait_engine::functions::all();
    match action {
        ClusterAction::Scheduler {
            bind,
            external_host,
        } => {
            let external_host = external_host.unwrap_or_else(|| bind.ip().to_string());
            eprintln!(
                "scheduler on {bind}; clients use --cluster df://{external_host}:{}",
                bind.port()
            );
            portrait_cluster::run_scheduler(
                SchedulerOptions {
                    bind,
                    external_host,
                },
                functions,
            )
            .await?;
        }
        ClusterAction::Executor {
            scheduler,
            bind,
            grpc_port,
            external_host,
            concurrent_tasks,
            work_dir,
        } => {
            let (scheduler_host, scheduler_port) = portrait_cluster::parse_url(&format!(
                "df://{}",
                scheduler.trim_start_matches("df://")
            ))?;
            let grpc_port = match grpc_port {
                Some(p) => p,
                None => bind.port().checked_add(1).ok_or_else(|| {
                    anyhow::anyhow!(
                        "--bind port {} leaves no room for the gRPC port; give --grpc-port",
                        bind.port()
                    )
                })?,
            };
            let memory_limit = memory_limit.map(parse_bytes).transpose()?;
            let concurrent_tasks = concurrent_tasks
                .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()));
            portrait_cluster::run_executor(
                ExecutorOptions {
                    bind,
                    grpc_port,
                    external_host: external_host.unwrap_or_else(|| bind.ip().to_string()),
                    scheduler_host,
                    scheduler_port,
                    concurrent_tasks,
                    work_dir,
                    memory_limit,
                },
                functions,
            )
            .await?;
        }
    }
    Ok(())
}

#[cfg(not(feature = "cluster"))]
pub async fn run(_action: ClusterAction, _memory_limit: Option<&str>) -> Result<()> {
    bail!(
        "this portrait was built without the `cluster` feature\nhint: build it with its default features: `cargo build --release`"
    )
}

/// `8G`, `512M`, `64K` or a plain number of bytes.
#[cfg_attr(not(feature = "cluster"), allow(dead_code))]
fn parse_bytes(s: &str) -> Result<u64> {
    portrait_engine::memory::parse_bytes(s).map_err(anyhow::Error::msg)
}
