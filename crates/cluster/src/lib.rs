//! portrait on an Apache Ballista cluster.
//!
//! Three parts, each a thin layer over Ballista:
//! - [`connect`]: a client session whose plans run on the cluster behind a scheduler;
//! - [`run_scheduler`]: a scheduler that plans with portrait's functions;
//! - [`run_executor`]: an executor that runs plans calling portrait's functions.
//!
//! The functions themselves belong to the caller (portrait's engine), passed in as
//! [`ScalarUDF`]s, so the same list reaches the client, the scheduler and every executor.
//! Tables are Parquet directories on a path every process reads the same way.

use std::net::{SocketAddr, ToSocketAddrs};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use ballista::prelude::SessionContextExt;
use ballista_core::config::BALLISTA_ADAPTIVE_PLANNER_ENABLED;
use ballista_core::registry::BallistaFunctionRegistry;
use ballista_executor::executor_process::{ExecutorProcessConfig, start_executor_process};
use ballista_scheduler::cluster::BallistaCluster;
use ballista_scheduler::config::SchedulerConfig;
use ballista_scheduler::scheduler_process::start_server;
use datafusion::execution::SessionState;
use datafusion::logical_expr::ScalarUDF;
use datafusion::prelude::{SessionConfig, SessionContext};

/// The default port of a scheduler, as Ballista's own.
pub const DEFAULT_SCHEDULER_PORT: u16 = 50050;

#[derive(Debug, thiserror::Error)]
pub enum ClusterError {
    #[error(
        "`{url}` is not a scheduler address: {reason}\nhint: write it as df://HOST:PORT, e.g. df://127.0.0.1:50050"
    )]
    BadUrl { url: String, reason: String },
    #[error(
        "no scheduler answers at {addr} ({source})\nhint: start one with `portrait cluster scheduler --bind {addr}`"
    )]
    Unreachable {
        addr: String,
        source: std::io::Error,
    },
    #[error("cannot listen on {addr}: {reason}")]
    Bind { addr: String, reason: String },
    #[error("{0}")]
    Ballista(String),
}

pub type Result<T, E = ClusterError> = std::result::Result<T, E>;

/// `HOST` and `PORT` of a `df://HOST:PORT` URL (the port defaults to 50050).
pub fn parse_url(url: &str) -> Result<(String, u16)> {
    let bad = |reason: &str| ClusterError::BadUrl {
        url: url.to_string(),
        reason: reason.to_string(),
    };
    let rest = url
        .strip_prefix("df://")
        .ok_or_else(|| bad("it must start with df://"))?;
    let rest = rest.trim_end_matches('/');
    let (host, port) = match rest.rsplit_once(':') {
        Some((h, p)) => (
            h,
            p.parse::<u16>()
                .map_err(|_| bad(&format!("`{p}` is not a port number")))?,
        ),
        None => (rest, DEFAULT_SCHEDULER_PORT),
    };
    if host.is_empty() || host.contains('/') {
        return Err(bad("the host is missing"));
    }
    Ok((host.to_string(), port))
}

/// Checks that something listens at the scheduler's address, so a wrong address fails at
/// once with its name rather than at the first query.
pub async fn check_scheduler(url: &str) -> Result<()> {
    let (host, port) = parse_url(url)?;
    let addr = format!("{host}:{port}");
    let connect = tokio::net::TcpStream::connect(addr.clone());
    match tokio::time::timeout(Duration::from_secs(10), connect).await {
        Ok(Ok(_)) => Ok(()),
        Ok(Err(source)) => Err(ClusterError::Unreachable { addr, source }),
        Err(_) => Err(ClusterError::Unreachable {
            addr,
            source: std::io::Error::new(std::io::ErrorKind::TimedOut, "timed out after 10 s"),
        }),
    }
}

/// A client session on the cluster at `url` with `state`'s settings. Register functions and
/// tables on the returned context: plans built from it run on the cluster's executors.
pub async fn connect(url: &str, state: SessionState) -> Result<SessionContext> {
    let (host, port) = parse_url(url)?;
    let ctx = SessionContext::remote_with_state(&format!("df://{host}:{port}"), state)
        .await
        .map_err(|e| ClusterError::Ballista(e.to_string()))?;
    // Ballista's adaptive planner never schedules a stage whose inputs gave no rows (a store
    // without some of the input tables has empty intermediate tables): the job waits for
    // ever. The static planner runs such plans to the end.
    ctx.state_ref()
        .write()
        .config_mut()
        .options_mut()
        .set(BALLISTA_ADAPTIVE_PLANNER_ENABLED, "false")
        .map_err(|e| ClusterError::Ballista(e.to_string()))?;
    Ok(ctx)
}

/// Builds the function registry executors resolve plans against: DataFusion's and
/// Ballista's functions plus `functions`.
fn registry(functions: &[Arc<ScalarUDF>]) -> BallistaFunctionRegistry {
    let mut registry = BallistaFunctionRegistry::default();
    for f in functions {
        registry
            .scalar_functions
            .insert(f.name().to_string(), f.clone());
    }
    registry
}

/// Where a scheduler listens.
#[derive(Debug, Clone)]
pub struct SchedulerOptions {
    pub bind: SocketAddr,
    /// The host name executors and clients reach this scheduler by.
    pub external_host: String,
}

/// Runs a scheduler until the process is interrupted (Ctrl-C or SIGTERM).
pub async fn run_scheduler(opts: SchedulerOptions, functions: Vec<Arc<ScalarUDF>>) -> Result<()> {
    let builder_functions = functions.clone();
    let session_builder = Arc::new(
        move |config: SessionConfig| -> datafusion::common::Result<SessionState> {
            let state = ballista_core::utils::default_session_builder(config)?;
            let ctx = SessionContext::new_with_state(state);
            for f in &builder_functions {
                ctx.register_udf(f.as_ref().clone());
            }
            Ok(ctx.state())
        },
    );
    let config = SchedulerConfig {
        bind_host: opts.bind.ip().to_string(),
        bind_port: opts.bind.port(),
        external_host: opts.external_host.clone(),
        override_session_builder: Some(session_builder),
        ..Default::default()
    };
    let cluster = BallistaCluster::new_from_config(&config)
        .await
        .map_err(|e| ClusterError::Ballista(e.to_string()))?;
    // Fail with the address when the port is taken, before Ballista starts its services.
    drop(
        tokio::net::TcpListener::bind(opts.bind)
            .await
            .map_err(|e| ClusterError::Bind {
                addr: opts.bind.to_string(),
                reason: e.to_string(),
            })?,
    );
    tracing::info!(
        "scheduler listening on {} ({} portrait functions)",
        opts.bind,
        functions.len()
    );
    tokio::select! {
        r = start_server(cluster, opts.bind, Arc::new(config)) => {
            r.map_err(|e| ClusterError::Ballista(e.to_string()))
        }
        () = shutdown_signal() => {
            tracing::info!("scheduler stopped");
            Ok(())
        }
    }
}

/// Where an executor listens and which scheduler it serves.
#[derive(Debug, Clone)]
pub struct ExecutorOptions {
    /// The Arrow Flight address other executors and clients fetch results from.
    pub bind: SocketAddr,
    /// The port of the executor's gRPC service (on the same host as `bind`).
    pub grpc_port: u16,
    /// The host name others reach this executor by.
    pub external_host: String,
    pub scheduler_host: String,
    pub scheduler_port: u16,
    /// Tasks run at once.
    pub concurrent_tasks: usize,
    /// Where shuffle files go; a temporary directory when `None`.
    pub work_dir: Option<PathBuf>,
    /// Bytes of memory the executor's plans may use before they spill.
    pub memory_limit: Option<u64>,
}

/// Runs an executor until the process is interrupted. Ballista handles Ctrl-C itself: the
/// executor tells the scheduler it is leaving and stops.
pub async fn run_executor(opts: ExecutorOptions, functions: Vec<Arc<ScalarUDF>>) -> Result<()> {
    // The scheduler must answer before the executor registers with it.
    let scheduler = format!("{}:{}", opts.scheduler_host, opts.scheduler_port);
    if scheduler
        .to_socket_addrs()
        .map(|mut a| a.next().is_none())
        .unwrap_or(true)
    {
        return Err(ClusterError::BadUrl {
            url: scheduler,
            reason: "the host name does not resolve".into(),
        });
    }
    check_scheduler(&format!("df://{scheduler}")).await?;
    for (what, port) in [("flight", opts.bind.port()), ("gRPC", opts.grpc_port)] {
        let addr = SocketAddr::new(opts.bind.ip(), port);
        drop(
            std::net::TcpListener::bind(addr).map_err(|e| ClusterError::Bind {
                addr: format!("{addr} ({what})"),
                reason: e.to_string(),
            })?,
        );
    }
    let config = ExecutorProcessConfig {
        bind_host: opts.bind.ip().to_string(),
        external_host: Some(opts.external_host.clone()),
        port: opts.bind.port(),
        grpc_port: opts.grpc_port,
        scheduler_host: opts.scheduler_host.clone(),
        scheduler_port: opts.scheduler_port,
        scheduler_connect_timeout_seconds: 30,
        vcores: opts.concurrent_tasks.max(1),
        work_dir: opts.work_dir.map(|p| p.display().to_string()),
        memory_pool_size: opts.memory_limit,
        print_thread_info: false,
        override_function_registry: Some(Arc::new(registry(&functions))),
        ..Default::default()
    };
    tracing::info!(
        "executor on {} (gRPC port {}) serving the scheduler at {scheduler}, {} task slots",
        opts.bind,
        opts.grpc_port,
        opts.concurrent_tasks
    );
    start_executor_process(Arc::new(config))
        .await
        .map_err(|e| ClusterError::Ballista(e.to_string()))
}

/// Ctrl-C, or SIGTERM (what systemd and Kubernetes send).
async fn shutdown_signal() {
    #[cfg(unix)]
    {
        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
            .expect("a SIGTERM handler");
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scheduler_urls_are_read_or_refused_with_the_reason() {
        assert_eq!(
            parse_url("df://10.0.0.5:50050").unwrap(),
            ("10.0.0.5".into(), 50050)
        );
        assert_eq!(
            parse_url("df://scheduler.bank.internal").unwrap(),
            ("scheduler.bank.internal".into(), DEFAULT_SCHEDULER_PORT)
        );
        let e = parse_url("http://10.0.0.5:50050").unwrap_err().to_string();
        assert!(e.contains("must start with df://"), "{e}");
        let e = parse_url("df://10.0.0.5:port").unwrap_err().to_string();
        assert!(e.contains("`port` is not a port number"), "{e}");
        let e = parse_url("df://:50050").unwrap_err().to_string();
        assert!(e.contains("host is missing"), "{e}");
    }

    #[tokio::test]
    async fn an_absent_scheduler_is_named() {
        // A port nobody listens on: bind one, then let it go.
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let e = check_scheduler(&format!("df://127.0.0.1:{port}"))
            .await
            .unwrap_err()
            .to_string();
        assert!(
            e.contains(&format!("no scheduler answers at 127.0.0.1:{port}")),
            "{e}"
        );
        assert!(e.contains("portrait cluster scheduler"), "{e}");
    }
}
