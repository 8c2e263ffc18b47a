//! API tests over a generated bank run through the whole pipeline, with `oneshot` (no socket).

mod api;
mod masking;
mod web;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use axum::Router;
use axum::body::Body;
use axum::http::{HeaderMap, Method, Request, StatusCode};
use portrait_privacy::{Privacy, Role};
use portrait_server::{AppState, Limits, app};
use tower::ServiceExt;

/// The `portrait` binary: `PORTRAIT_BIN`, or the workspace's debug build (`cargo test
/// --workspace` builds it first), or built here when missing. Building it from here selects
/// other features than the test build and compiles DataFusion once more, so build the
/// workspace first.
fn portrait_bin() -> PathBuf {
    if let Some(p) = std::env::var_os("PORTRAIT_BIN") {
        return p.into();
    }
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| root.join("target"));
    let bin = target.join("debug").join("portrait");
    if !bin.exists() {
        let status = Command::new(env!("CARGO"))
            .args([
                "build",
                "--quiet",
                "-p",
                "portrait-cli",
                "--bin",
                "portrait",
            ])
            .current_dir(&root)
            .status()
            .expect("cargo runs");
        assert!(status.success(), "building `portrait` failed");
    }
    bin
}

fn portrait(args: &[&str]) {
    let out = Command::new(portrait_bin())
        .arg("--quiet")
        .args(args)
        .env_remove("RUST_LOG")
        .env_remove("PORTRAIT_STORE")
        .env_remove("PORTRAIT_CONFIG")
        .output()
        .expect("portrait runs");
    assert!(
        out.status.success(),
        "portrait {args:?} failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A generated bank (3,000 customers) through `portrait run`, built once.
fn base_store() -> &'static Path {
    static STORE: OnceLock<(tempfile::TempDir, PathBuf)> = OnceLock::new();
    let (_, store) = STORE.get_or_init(|| {
        let tmp = tempfile::tempdir().unwrap();
        let bank = tmp.path().join("bank");
        let store = tmp.path().join("store");
        let (b, s) = (bank.to_str().unwrap(), store.to_str().unwrap());
        portrait(&["generate", "--customers", "3000", "--seed", "5", "--out", b]);
        portrait(&["--store", s, "ingest", b]);
        portrait(&["--store", s, "run"]);
        (tmp, store)
    });
    store
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap().flatten() {
        let p = e.path();
        let t = to.join(e.file_name());
        if p.is_dir() {
            copy_dir(&p, &t);
        } else {
            std::fs::copy(&p, &t).unwrap();
        }
    }
}

/// A private copy of the pipeline store with one user per role, and the app over it.
pub struct Fixture {
    pub _dir: tempfile::TempDir,
    pub store: PathBuf,
    pub app: Router,
    pub privacy: Privacy,
    tokens: Vec<(Role, String)>,
}

impl Default for Fixture {
    fn default() -> Self {
        Self::with_limits(Limits::default())
    }
}

impl Fixture {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn with_limits(limits: Limits) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let store = dir.path().join("store");
        copy_dir(base_store(), &store);
        let privacy = Privacy::open(&store).unwrap();
        let tokens = Role::ALL
            .into_iter()
            .map(|r| (r, privacy.add_user(&format!("u_{r}"), r).unwrap()))
            .collect();
        // A user for the routes that revoke and rotate to act on.
        privacy.add_user("u_spare", Role::Analyst).unwrap();
        let state = AppState::open(&store, limits).unwrap();
        Fixture {
            _dir: dir,
            store,
            app: app(state),
            privacy,
            tokens,
        }
    }

    pub fn token(&self, role: Role) -> &str {
        &self.tokens.iter().find(|(r, _)| *r == role).unwrap().1
    }

    pub async fn call(
        &self,
        method: &str,
        uri: &str,
        token: Option<&str>,
        body: Option<(&str, Vec<u8>)>,
    ) -> Res {
        let mut b = Request::builder()
            .method(Method::from_bytes(method.as_bytes()).unwrap())
            .uri(uri);
        if let Some(t) = token {
            b = b.header("authorization", format!("Bearer {t}"));
        }
        let req = match body {
            Some((ct, bytes)) => b.header("content-type", ct).body(Body::from(bytes)),
            None => b.body(Body::empty()),
        }
        .unwrap();
        let resp = self.app.clone().oneshot(req).await.unwrap();
        let status = resp.status();
        let headers = resp.headers().clone();
        let body = axum::body::to_bytes(resp.into_body(), 64 << 20)
            .await
            .unwrap()
            .to_vec();
        Res {
            status,
            headers,
            body,
        }
    }

    pub async fn get(&self, uri: &str, role: Role) -> Res {
        self.call("GET", uri, Some(self.token(role)), None).await
    }

    pub async fn post_json(&self, uri: &str, role: Role, body: serde_json::Value) -> Res {
        self.call(
            "POST",
            uri,
            Some(self.token(role)),
            Some(("application/json", body.to_string().into_bytes())),
        )
        .await
    }
}

pub struct Res {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Vec<u8>,
}

impl Res {
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|e| {
            panic!(
                "not JSON ({e}): {}",
                String::from_utf8_lossy(&self.body[..self.body.len().min(500)])
            )
        })
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}
