//! The pipeline on an Apache Ballista cluster: a scheduler and two executors on 127.0.0.1,
//! started with `portrait cluster`, give the tables of the embedded run.

use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::common::{bin, copy_dir, generate, ok, project, run, same_tables};

/// A node of the test cluster, stopped when dropped.
struct Node {
    name: String,
    child: Child,
    log: std::path::PathBuf,
}

impl Node {
    fn start(name: &str, args: &[&str], dir: &Path) -> Node {
        let log = dir.join(format!("{name}.log"));
        let file = std::fs::File::create(&log).unwrap();
        let child = Command::new(env!("CARGO_BIN_EXE_portrait"))
            .env("RUST_LOG", "info")
            .env_remove("PORTRAIT_STORE")
            .env_remove("PORTRAIT_CLUSTER")
            .args(["cluster"])
            .args(args)
            .stdout(Stdio::null())
            .stderr(file)
            .spawn()
            .expect("portrait cluster starts");
        Node {
            name: name.to_string(),
            child,
            log,
        }
    }

    /// Waits until the node accepts connections on `port`, failing with its log if it exits.
    fn wait_for(&mut self, port: u16) {
        let start = Instant::now();
        loop {
            if TcpStream::connect(("127.0.0.1", port)).is_ok() {
                return;
            }
            if let Some(status) = self.child.try_wait().unwrap() {
                panic!(
                    "{} exited with {status} before listening on {port}:\n{}",
                    self.name,
                    std::fs::read_to_string(&self.log).unwrap_or_default()
                );
            }
            assert!(
                start.elapsed() < Duration::from_secs(60),
                "{} does not listen on {port} after 60 s",
                self.name
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Runs `portrait --store STORE ARGS…`, insisting on success within `limit`: a stalled
/// cluster job fails the test instead of hanging it.
fn within(limit: Duration, what: &str, store: &Path, args: &[&str]) {
    let mut child = bin()
        .arg("--store")
        .arg(store)
        .args(args)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("portrait runs");
    let start = Instant::now();
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            let mut err = String::new();
            std::io::Read::read_to_string(child.stderr.as_mut().unwrap(), &mut err).unwrap();
            assert!(status.success(), "{what}: portrait {args:?} failed:\n{err}");
            return;
        }
        if start.elapsed() > limit {
            let _ = child.kill();
            panic!(
                "{what}: portrait {args:?} did not finish in {} s",
                limit.as_secs()
            );
        }
        std::thread::sleep(Duration::from_millis(200));
    }
}

#[test]
fn the_pipeline_on_a_cluster_equals_the_embedded_run() {
    let tmp = tempfile::tempdir().unwrap();
    let bank = tmp.path().join("bank");
    generate(&bank, 1500, 11, &[]);
    let base = tmp.path().join("base");
    ok(&base, &["ingest", bank.to_str().unwrap()]);
    let embedded = tmp.path().join("embedded");
    let clustered = tmp.path().join("clustered");
    copy_dir(&base, &embedded);
    copy_dir(&base, &clustered);

    // A scheduler and two executors, as an operator would start them.
    let sched_port = free_port();
    let mut scheduler = Node::start(
        "scheduler",
        &["scheduler", "--bind", &format!("127.0.0.1:{sched_port}")],
        tmp.path(),
    );
    scheduler.wait_for(sched_port);
    let mut executors = Vec::new();
    let mut work_dirs = Vec::new();
    for i in 0..2 {
        let (flight, grpc) = (free_port(), free_port());
        let work = tmp.path().join(format!("work{i}"));
        std::fs::create_dir_all(&work).unwrap();
        let mut node = Node::start(
            &format!("executor{i}"),
            &[
                "executor",
                "--scheduler",
                &format!("127.0.0.1:{sched_port}"),
                "--bind",
                &format!("127.0.0.1:{flight}"),
                "--grpc-port",
                &grpc.to_string(),
                "--concurrent-tasks",
                "2",
                "--work-dir",
                work.to_str().unwrap(),
            ],
            tmp.path(),
        );
        node.wait_for(flight);
        node.wait_for(grpc);
        executors.push(node);
        work_dirs.push(work);
    }
    let url = format!("df://127.0.0.1:{sched_port}");

    ok(&embedded, &["run"]);
    within(
        Duration::from_secs(600),
        "the nine tables",
        &clustered,
        &["--cluster", &url, "run"],
    );

    // The executors did the work: their shuffle files are there.
    let shuffled: usize = work_dirs
        .iter()
        .map(|d| std::fs::read_dir(d).map_or(0, |e| e.count()))
        .sum();
    assert!(shuffled > 0, "no executor wrote shuffle files");

    let names = same_tables("the nine tables", &embedded, &clustered);
    for wanted in [
        "party",
        "party_member",
        "link",
        "features",
        "segment",
        "rule",
        "recommendation",
        "tag",
    ] {
        assert!(
            names.iter().any(|n| n == wanted),
            "no `{wanted}` table: {names:?}"
        );
    }

    // Stores that lack some input tables have empty intermediate tables; those plans run
    // to the end on the cluster too, and give the embedded run's tables.
    for (shape, files) in [
        (
            "a transaction log",
            vec![("transaction", Some(&["cust_no", "ts", "amount"][..]))],
        ),
        (
            "baskets",
            vec![("holding", Some(&["cust_no", "product_id"][..]))],
        ),
        (
            "customers and transactions",
            vec![("customer", None), ("transaction", None)],
        ),
    ] {
        let dir = tmp.path().join(shape.replace(' ', "-"));
        std::fs::create_dir_all(&dir).unwrap();
        let args: Vec<String> = files
            .iter()
            .map(|(t, cols)| project(&bank, &dir, t, *cols))
            .collect();
        let mut ingest = vec!["ingest"];
        ingest.extend(args.iter().map(String::as_str));
        let (here, there) = (dir.join("embedded"), dir.join("clustered"));
        ok(&here, &ingest);
        copy_dir(&here, &there);
        ok(&here, &["run"]);
        within(
            Duration::from_secs(300),
            shape,
            &there,
            &["--cluster", &url, "run"],
        );
        same_tables(shape, &here, &there);
    }

    // Ad hoc SQL runs there too.
    let q = "SELECT recency_class, count(*) AS n FROM features GROUP BY 1 ORDER BY 1";
    assert_eq!(
        ok(
            &clustered,
            &["--cluster", &url, "sql", q, "--format", "csv"]
        ),
        ok(&embedded, &["sql", q, "--format", "csv"])
    );
    drop(executors);
    drop(scheduler);
}

#[test]
fn a_missing_scheduler_or_a_misplaced_flag_is_named() {
    let tmp = tempfile::tempdir().unwrap();
    let port = free_port();
    let out = run(
        tmp.path(),
        &["--cluster", &format!("df://127.0.0.1:{port}"), "features"],
    );
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains(&format!("no scheduler answers at 127.0.0.1:{port}")),
        "{err}"
    );
    let out = run(tmp.path(), &["--cluster", "http://x:1", "run"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("must start with df://"), "{err}");
    let out = bin()
        .args(["--cluster", "df://127.0.0.1:1", "serve"])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("`--cluster` does not apply to `portrait serve`"),
        "{err}"
    );
    // The store is untouched by a refused run.
    assert!(!tmp.path().join("manifest.json").exists());
}
