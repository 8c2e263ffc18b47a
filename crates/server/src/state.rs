//! What the server keeps between requests: the privacy database, the verified tokens, the rate
//! limiter's buckets and a snapshot of the store (session and tag index) per manifest version.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use datafusion::prelude::SessionContext;
use portrait_privacy::{Privacy, TokenUser};
use portrait_store::Store;
use portrait_tags::TagIndex;

use crate::ApiError;

/// Input and rate limits.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Largest request body accepted, in bytes.
    pub body_bytes: usize,
    /// Requests per second each token may sustain.
    pub rate_per_sec: f64,
    /// Requests a token may make at once before the rate applies.
    pub burst: f64,
    /// Largest audience expression or search text, in characters.
    pub text_chars: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            body_bytes: 64 * 1024,
            rate_per_sec: 50.0,
            burst: 200.0,
            text_chars: 2000,
        }
    }
}

/// How long a verified token is trusted without asking the database again: a revoked or
/// expired token is refused within this time.
const TOKEN_TTL: Duration = Duration::from_secs(5);

/// A token id whose secret fails this many times within [`FAILURE_WINDOW`] is refused for the
/// rest of the window without a check: guessing costs no argon2 time and gets nowhere.
const MAX_FAILURES: u32 = 5;
const FAILURE_WINDOW: Duration = Duration::from_secs(60);

/// The answer to a bearer token.
#[derive(Debug, Clone)]
pub enum Login {
    Valid(TokenUser),
    /// Malformed, unknown, revoked, expired or a wrong secret.
    Refused,
    /// Too many failures for this token id lately.
    Throttled,
}

/// The store as of one manifest version: a DataFusion session over it and, loaded on first
/// use, its tag index. Its table versions are pinned: a commit meanwhile leaves them in place
/// until the last request reading this snapshot is done.
pub struct Snapshot {
    pub version: u64,
    pub store: Store,
    pub ctx: SessionContext,
    index: tokio::sync::OnceCell<Arc<TagIndex>>,
    _pin: portrait_store::ReadPin,
}

impl Snapshot {
    pub fn has(&self, table: &str) -> bool {
        self.store.table(table).is_some()
    }

    /// Fails with `not_ready` when a table the route reads is missing.
    pub fn need(&self, tables: &[&str]) -> Result<(), ApiError> {
        for t in tables {
            if !self.has(t) {
                return Err(ApiError::NotReady(format!(
                    "the store has no `{t}` table; run `portrait run` first"
                )));
            }
        }
        Ok(())
    }

    /// The tag index, loaded once per snapshot.
    pub async fn index(self: &Arc<Self>) -> Result<Arc<TagIndex>, ApiError> {
        self.need(&[portrait_engine::tags::TAG_INDEX])?;
        let me = self.clone();
        self.index
            .get_or_try_init(|| async move {
                tokio::task::spawn_blocking(move || {
                    portrait_engine::tags::open_index(&me.store).map(Arc::new)
                })
                .await
                .map_err(|e| ApiError::Internal(e.to_string()))?
                .map_err(ApiError::from)
            })
            .await
            .cloned()
    }
}

struct Bucket {
    tokens: f64,
    at: Instant,
}

/// What rebuilds the derived tables after an erasure over the API (the pipeline, with the
/// settings `serve` was started with). It runs on a thread of its own and blocks.
pub type Rebuild = Arc<dyn Fn(&Path) -> Result<(), String> + Send + Sync>;

struct Inner {
    store_dir: PathBuf,
    rebuild: Mutex<Option<Rebuild>>,
    privacy: Arc<Privacy>,
    limits: Limits,
    snapshot: tokio::sync::Mutex<Option<Arc<Snapshot>>>,
    verified: Mutex<HashMap<String, (String, TokenUser, Instant)>>,
    buckets: Mutex<HashMap<String, Bucket>>,
    /// Failed verifications per token id: how many, since when.
    failures: Mutex<HashMap<String, (u32, Instant)>>,
    /// Lookalikes fit models over every party: one at a time, so that they cannot crowd out
    /// the rest of the server.
    lookalike: Arc<tokio::sync::Semaphore>,
}

/// The shared state of the server.
#[derive(Clone)]
pub struct AppState(Arc<Inner>);

impl AppState {
    /// State over the store at `store_dir`; opens (creating when missing) its privacy database.
    pub fn open(store_dir: &Path, limits: Limits) -> Result<Self, portrait_privacy::PrivacyError> {
        let privacy = Arc::new(Privacy::open(store_dir)?);
        Ok(AppState(Arc::new(Inner {
            store_dir: store_dir.to_path_buf(),
            rebuild: Mutex::new(None),
            privacy,
            limits,
            snapshot: tokio::sync::Mutex::new(None),
            verified: Mutex::new(HashMap::new()),
            buckets: Mutex::new(HashMap::new()),
            failures: Mutex::new(HashMap::new()),
            lookalike: Arc::new(tokio::sync::Semaphore::new(1)),
        })))
    }

    /// The permit to compute a lookalike, or `None` while another one is being computed.
    pub fn lookalike_permit(&self) -> Option<tokio::sync::OwnedSemaphorePermit> {
        self.0.lookalike.clone().try_acquire_owned().ok()
    }

    /// Sets what rebuilds the derived tables after an erasure (`portrait serve` passes the
    /// pipeline); without it an erasure over the API leaves that to the next `portrait run`.
    pub fn set_rebuild(&self, r: Rebuild) {
        *self.0.rebuild.lock().unwrap_or_else(|p| p.into_inner()) = Some(r);
    }

    pub fn rebuild(&self) -> Option<Rebuild> {
        self.0
            .rebuild
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    pub fn store_dir(&self) -> &Path {
        &self.0.store_dir
    }

    /// Forgets the verified tokens of `user`: after a revocation on this server they are
    /// checked (and refused) on their next request.
    pub fn forget_user(&self, user: &str) {
        self.0
            .verified
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .retain(|_, (_, u, _)| u.user != user);
    }

    pub fn limits(&self) -> Limits {
        self.0.limits
    }

    pub fn privacy(&self) -> &Arc<Privacy> {
        &self.0.privacy
    }

    /// The current snapshot of the store, rebuilt when the manifest moved on.
    pub async fn snapshot(&self) -> Result<Arc<Snapshot>, ApiError> {
        let store =
            Store::open(&self.0.store_dir).map_err(|e| ApiError::Internal(e.to_string()))?;
        let mut slot = self.0.snapshot.lock().await;
        if let Some(s) = slot.as_ref()
            && s.version == store.manifest().version
        {
            return Ok(s.clone());
        }
        let (store, pin) =
            Store::open_pinned(&self.0.store_dir).map_err(|e| ApiError::Internal(e.to_string()))?;
        let ctx = portrait_engine::open_session(&store).await?;
        let s = Arc::new(Snapshot {
            version: store.manifest().version,
            store,
            ctx,
            index: tokio::sync::OnceCell::new(),
            _pin: pin,
        });
        *slot = Some(s.clone());
        Ok(s)
    }

    /// The user of a bearer token, or `None`. Verified tokens are remembered for five seconds ([`TOKEN_TTL`]) so
    /// the argon2 check runs once per token, not once per request.
    pub async fn authenticate(&self, token: &str) -> Result<Login, ApiError> {
        let Some(id) = portrait_privacy::db::token_id(token) else {
            return Ok(Login::Refused);
        };
        {
            let cache = self.0.verified.lock().unwrap_or_else(|p| p.into_inner());
            if let Some((known, user, at)) = cache.get(id)
                && at.elapsed() < TOKEN_TTL
                && constant_time_eq(known.as_bytes(), token.as_bytes())
            {
                return Ok(Login::Valid(user.clone()));
            }
        }
        {
            let mut failures = self.0.failures.lock().unwrap_or_else(|p| p.into_inner());
            failures.retain(|_, (_, since)| since.elapsed() < FAILURE_WINDOW);
            if failures.get(id).is_some_and(|(n, _)| *n >= MAX_FAILURES) {
                return Ok(Login::Throttled);
            }
        }
        let privacy = self.0.privacy.clone();
        let owned = token.to_string();
        let verified = tokio::task::spawn_blocking(move || privacy.verify(&owned))
            .await
            .map_err(|e| ApiError::Internal(e.to_string()))??;
        let u = match verified {
            portrait_privacy::db::Verified::Valid(u) => u,
            portrait_privacy::db::Verified::Unknown => return Ok(Login::Refused),
            portrait_privacy::db::Verified::WrongSecret => {
                let mut failures = self.0.failures.lock().unwrap_or_else(|p| p.into_inner());
                failures
                    .entry(id.to_string())
                    .or_insert((0, Instant::now()))
                    .0 += 1;
                return Ok(Login::Refused);
            }
        };
        self.0
            .verified
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(
                id.to_string(),
                (token.to_string(), u.clone(), Instant::now()),
            );
        Ok(Login::Valid(u))
    }

    /// Takes one request from the token's bucket; false when it is empty.
    pub fn allow(&self, token_id: &str) -> bool {
        let l = self.0.limits;
        let mut buckets = self.0.buckets.lock().unwrap_or_else(|p| p.into_inner());
        let now = Instant::now();
        let b = buckets.entry(token_id.to_string()).or_insert(Bucket {
            tokens: l.burst,
            at: now,
        });
        let refill = now.duration_since(b.at).as_secs_f64() * l.rate_per_sec;
        b.tokens = (b.tokens + refill).min(l.burst);
        b.at = now;
        if b.tokens >= 1.0 {
            b.tokens -= 1.0;
            true
        } else {
            false
        }
    }
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}
