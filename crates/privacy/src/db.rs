//! The privacy database `<store>/privacy.sqlite`: users, their tokens (argon2 hashes only) and
//! the append-only audit log.

use std::path::{Path, PathBuf};
use std::sync::Mutex;

use argon2::Argon2;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use rand::RngCore;
use rusqlite::{Connection, OptionalExtension, params};

use crate::{PrivacyError, Result, Role};

/// The file name of the database inside the store.
pub const FILE: &str = "privacy.sqlite";

/// Tokens read `pt_<id>_<secret>`: the id (8 hex digits) is public and finds the row, the
/// secret (32 random bytes, 64 hex digits) is checked against the argon2 hash.
const PREFIX: &str = "pt_";

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS users (
    name TEXT PRIMARY KEY NOT NULL,
    role TEXT NOT NULL,
    created_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS tokens (
    id TEXT PRIMARY KEY NOT NULL,
    user TEXT NOT NULL REFERENCES users(name),
    hash TEXT NOT NULL,
    created_at TEXT NOT NULL,
    revoked_at TEXT,
    expires_at TEXT
);
CREATE TABLE IF NOT EXISTS audit (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    at TEXT NOT NULL,
    user TEXT NOT NULL,
    role TEXT NOT NULL,
    action TEXT NOT NULL,
    params TEXT NOT NULL,
    rows INTEGER NOT NULL,
    status INTEGER NOT NULL,
    export_id TEXT,
    request_id TEXT
);
CREATE INDEX IF NOT EXISTS audit_export ON audit(export_id);
CREATE TABLE IF NOT EXISTS secrets (
    name TEXT PRIMARY KEY NOT NULL,
    value BLOB NOT NULL
);
CREATE TRIGGER IF NOT EXISTS audit_no_update BEFORE UPDATE ON audit
BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
CREATE TRIGGER IF NOT EXISTS audit_no_delete BEFORE DELETE ON audit
BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
";

/// A user as listed (never with a token).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct UserInfo {
    pub name: String,
    pub role: Role,
    pub created_at: String,
    pub tokens: u32,
}

/// Whom a valid token belongs to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenUser {
    pub token_id: String,
    pub user: String,
    pub role: Role,
}

/// What a token turned out to be.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verified {
    Valid(TokenUser),
    /// Malformed, or no live token has its id (unknown, revoked, expired): nothing was checked.
    Unknown,
    /// A live token id with a wrong secret.
    WrongSecret,
}

/// One audit record to append.
#[derive(Debug, Clone, Default)]
pub struct NewAudit<'a> {
    pub user: &'a str,
    pub role: &'a str,
    pub action: &'a str,
    pub params: serde_json::Value,
    pub rows: u64,
    pub status: u16,
    pub export_id: Option<&'a str>,
    pub request_id: Option<&'a str>,
}

/// One audit record as stored.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct AuditEntry {
    pub seq: i64,
    pub at: String,
    pub user: String,
    pub role: String,
    pub action: String,
    pub params: serde_json::Value,
    pub rows: u64,
    pub status: u16,
    pub export_id: Option<String>,
    pub request_id: Option<String>,
}

/// A filter over the audit log, newest first.
#[derive(Debug, Clone, Default)]
pub struct AuditQuery {
    pub user: Option<String>,
    pub action: Option<String>,
    pub export_id: Option<String>,
    pub limit: u32,
}

/// Audit parameters whose values are free text a user typed to find a person (a name, an
/// e-mail, an address): the log keeps a keyed hash of them, never the text.
pub const SEARCH_PARAMS: &[&str] = &["q"];

/// The privacy database of one store. Safe to share between threads.
pub struct Privacy {
    path: PathBuf,
    conn: Mutex<Connection>,
    /// The store's key for hashing search terms in the audit log.
    search_key: [u8; 32],
}

impl std::fmt::Debug for Privacy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Privacy").field("path", &self.path).finish()
    }
}

/// The store's search-term key, made at random on first use.
fn search_key(conn: &Connection) -> rusqlite::Result<[u8; 32]> {
    let stored: Option<Vec<u8>> = conn
        .query_row(
            "SELECT value FROM secrets WHERE name = 'audit_search_key'",
            [],
            |r| r.get(0),
        )
        .optional()?;
    if let Some(v) = stored
        && let Ok(k) = <[u8; 32]>::try_from(v.as_slice())
    {
        return Ok(k);
    }
    let mut k = [0u8; 32];
    rand::rng().fill_bytes(&mut k);
    // Two processes opening a new database at once keep the key of whichever wrote first.
    conn.execute(
        "INSERT OR IGNORE INTO secrets (name, value) VALUES ('audit_search_key', ?1)",
        [k.to_vec()],
    )?;
    let v: Vec<u8> = conn.query_row(
        "SELECT value FROM secrets WHERE name = 'audit_search_key'",
        [],
        |r| r.get(0),
    )?;
    Ok(<[u8; 32]>::try_from(v.as_slice()).unwrap_or(k))
}

fn now() -> String {
    stamp(chrono::Utc::now())
}

/// The stored form of a moment: RFC 3339 in UTC to the millisecond, so that text order is time
/// order.
fn stamp(t: chrono::DateTime<chrono::Utc>) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

impl Privacy {
    /// Opens (creating when missing) the privacy database of the store at `store_root`.
    pub fn open(store_root: &Path) -> Result<Self> {
        std::fs::create_dir_all(store_root).map_err(|e| PrivacyError::Database {
            path: store_root.display().to_string(),
            message: e.to_string(),
        })?;
        let path = store_root.join(FILE);
        let conn = Connection::open(&path).map_err(|e| db_err(&path, e))?;
        // Token hashes and the audit trail: readable by the store's owner alone.
        restrict(&path)?;
        conn.busy_timeout(std::time::Duration::from_secs(5))
            .map_err(|e| db_err(&path, e))?;
        // WAL lets the command line add users while a server reads.
        conn.pragma_update(None, "journal_mode", "WAL")
            .map_err(|e| db_err(&path, e))?;
        conn.execute_batch(SCHEMA).map_err(|e| db_err(&path, e))?;
        // Databases made before tokens could expire lack the column.
        let has_expiry: bool = conn
            .prepare("SELECT 1 FROM pragma_table_info('tokens') WHERE name = 'expires_at'")
            .and_then(|mut st| st.exists([]))
            .map_err(|e| db_err(&path, e))?;
        if !has_expiry {
            conn.execute_batch("ALTER TABLE tokens ADD COLUMN expires_at TEXT")
                .map_err(|e| db_err(&path, e))?;
        }
        let search_key = search_key(&conn).map_err(|e| db_err(&path, e))?;
        Ok(Privacy {
            path,
            conn: Mutex::new(conn),
            search_key,
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    fn conn(&self) -> std::sync::MutexGuard<'_, Connection> {
        // A panic while holding the lock leaves SQLite consistent: every write is one statement.
        self.conn.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn err(&self, e: rusqlite::Error) -> PrivacyError {
        db_err(&self.path, e)
    }

    /// Adds a user with a new token and returns the token: the only time it is shown.
    pub fn add_user(&self, name: &str, role: Role) -> Result<String> {
        self.add_user_until(name, role, None)
    }

    /// Adds a user with a new token valid until `expires` (for ever when `None`) and returns
    /// the token: the only time it is shown.
    pub fn add_user_until(
        &self,
        name: &str,
        role: Role,
        expires: Option<chrono::DateTime<chrono::Utc>>,
    ) -> Result<String> {
        let name = name.trim();
        if name.is_empty()
            || name.chars().count() > 64
            || name.chars().any(|c| c.is_control() || c.is_whitespace())
        {
            return Err(PrivacyError::BadInput(
                "a user name must be 1 to 64 characters without spaces".into(),
            ));
        }
        let (id, token, hash) = new_token()?;
        let mut conn = self.conn();
        let tx = conn.transaction().map_err(|e| self.err(e))?;
        if self.user_exists(&tx, name)? {
            return Err(PrivacyError::Conflict(format!(
                "a user `{name}` already exists"
            )));
        }
        let at = now();
        tx.execute(
            "INSERT INTO users (name, role, created_at) VALUES (?1, ?2, ?3)",
            params![name, role.as_str(), at],
        )
        .map_err(|e| self.err(e))?;
        let until = expires.map(stamp);
        tx.execute(
            "INSERT INTO tokens (id, user, hash, created_at, expires_at) VALUES (?1, ?2, ?3, ?4, ?5)",
            params![id, name, hash, at, until],
        )
        .map_err(|e| self.err(e))?;
        tx.execute(
            "INSERT INTO audit (at, user, role, action, params, rows, status) VALUES (?1, 'cli', 'admin', 'user.add', ?2, 1, 200)",
            params![at, serde_json::json!({"name": name, "role": role.as_str(), "token_id": id, "expires_at": until}).to_string()],
        )
        .map_err(|e| self.err(e))?;
        tx.commit().map_err(|e| self.err(e))?;
        Ok(token)
    }

    /// Revokes every live token of `name`, audited as done by `by`; returns how many. The
    /// user stays, with the role, for `rotate` to give a new token.
    pub fn revoke_user(&self, name: &str, by: &str) -> Result<u32> {
        let mut conn = self.conn();
        let tx = conn.transaction().map_err(|e| self.err(e))?;
        let n = self.revoke_in(&tx, name)?;
        let at = now();
        tx.execute(
            "INSERT INTO audit (at, user, role, action, params, rows, status) VALUES (?1, ?2, 'admin', 'user.revoke', ?3, ?4, 200)",
            params![at, by, serde_json::json!({"name": name}).to_string(), n],
        )
        .map_err(|e| self.err(e))?;
        tx.commit().map_err(|e| self.err(e))?;
        Ok(n)
    }

    /// Revokes every live token of `name` and gives a new one (valid until `expires`), audited
    /// as done by `by`; returns the new token, shown this once.
    pub fn rotate_user(
        &self,
        name: &str,
        expires: Option<chrono::DateTime<chrono::Utc>>,
        by: &str,
    ) -> Result<String> {
        let (id, token, hash) = new_token()?;
        let mut conn = self.conn();
        let tx = conn.transaction().map_err(|e| self.err(e))?;
        let revoked = self.revoke_in(&tx, name)?;
        let at = now();
        let until = expires.map(stamp);
        tx.execute(
            "INSERT INTO tokens (id, user, hash, created_at, expires_at) VALUES (?1, ?2, ?3, ?4, ?5)",
            params![id, name, hash, at, until],
        )
        .map_err(|e| self.err(e))?;
        tx.execute(
            "INSERT INTO audit (at, user, role, action, params, rows, status) VALUES (?1, ?2, 'admin', 'user.rotate', ?3, 1, 200)",
            params![at, by, serde_json::json!({"name": name, "token_id": id, "revoked": revoked, "expires_at": until}).to_string()],
        )
        .map_err(|e| self.err(e))?;
        tx.commit().map_err(|e| self.err(e))?;
        Ok(token)
    }

    fn user_exists(&self, tx: &rusqlite::Transaction<'_>, name: &str) -> Result<bool> {
        tx.query_row("SELECT 1 FROM users WHERE name = ?1", [name], |_| Ok(()))
            .optional()
            .map(|r| r.is_some())
            .map_err(|e| self.err(e))
    }

    /// Marks the live tokens of `name` revoked inside `tx`; [`PrivacyError::NotFound`] when
    /// there is no such user.
    fn revoke_in(&self, tx: &rusqlite::Transaction<'_>, name: &str) -> Result<u32> {
        if !self.user_exists(tx, name)? {
            return Err(PrivacyError::NotFound(format!(
                "no user `{name}` (`portrait user list` shows them)"
            )));
        }
        let n = tx
            .execute(
                "UPDATE tokens SET revoked_at = ?1 WHERE user = ?2 AND revoked_at IS NULL",
                params![now(), name],
            )
            .map_err(|e| self.err(e))?;
        Ok(n as u32)
    }

    /// Every user, without tokens.
    pub fn users(&self) -> Result<Vec<UserInfo>> {
        let conn = self.conn();
        let mut st = conn
            .prepare(
                "SELECT u.name, u.role, u.created_at, \
                        (SELECT count(*) FROM tokens t WHERE t.user = u.name AND t.revoked_at IS NULL \
                           AND (t.expires_at IS NULL OR t.expires_at > ?1)) \
                 FROM users u ORDER BY u.name",
            )
            .map_err(|e| self.err(e))?;
        let rows = st
            .query_map([now()], |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, String>(2)?,
                    r.get::<_, u32>(3)?,
                ))
            })
            .map_err(|e| self.err(e))?;
        let mut out = Vec::new();
        for row in rows {
            let (name, role, created_at, tokens) = row.map_err(|e| self.err(e))?;
            let role = role
                .parse()
                .map_err(|_| PrivacyError::Internal(format!("stored role `{role}`")))?;
            out.push(UserInfo {
                name,
                role,
                created_at,
                tokens,
            });
        }
        Ok(out)
    }

    /// The user a token belongs to, or `None` when it is malformed, unknown or revoked. The
    /// public id finds the row, so only one argon2 verification runs (slow on purpose: call it
    /// off the async threads and cache the answer).
    pub fn authenticate(&self, token: &str) -> Result<Option<TokenUser>> {
        Ok(match self.verify(token)? {
            Verified::Valid(u) => Some(u),
            Verified::Unknown | Verified::WrongSecret => None,
        })
    }

    /// As [`Privacy::authenticate`], telling an unknown, revoked or expired token id (no hash
    /// checked) from a live one with a wrong secret.
    pub fn verify(&self, token: &str) -> Result<Verified> {
        let Some(id) = token_id(token) else {
            return Ok(Verified::Unknown);
        };
        let row: Option<(String, String, String)> = {
            let conn = self.conn();
            conn.query_row(
                "SELECT t.hash, u.name, u.role FROM tokens t JOIN users u ON u.name = t.user \
                 WHERE t.id = ?1 AND t.revoked_at IS NULL \
                   AND (t.expires_at IS NULL OR t.expires_at > ?2)",
                params![id, now()],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
            )
            .optional()
            .map_err(|e| self.err(e))?
        };
        let Some((hash, user, role)) = row else {
            return Ok(Verified::Unknown);
        };
        let parsed = PasswordHash::new(&hash)
            .map_err(|e| PrivacyError::Internal(format!("stored token hash: {e}")))?;
        if Argon2::default()
            .verify_password(token.as_bytes(), &parsed)
            .is_err()
        {
            return Ok(Verified::WrongSecret);
        }
        let role = role
            .parse()
            .map_err(|_| PrivacyError::Internal(format!("stored role `{role}`")))?;
        Ok(Verified::Valid(TokenUser {
            token_id: id.to_string(),
            user,
            role,
        }))
    }

    /// The audit log's stand-in for a search term: `h:` and 16 hex digits of a hash keyed by
    /// this store's secret. The same term gives the same stand-in, so an auditor can tell how
    /// often one was searched (`portrait audit-term TEXT` computes it) without the log
    /// holding the text.
    pub fn search_term(&self, text: &str) -> String {
        let h = blake3::keyed_hash(&self.search_key, text.trim().as_bytes());
        format!("h:{}", &h.to_hex()[..16])
    }

    /// Appends one audit record and returns its sequence number. The values of
    /// [`SEARCH_PARAMS`] are replaced by [`Privacy::search_term`].
    pub fn audit(&self, a: &NewAudit<'_>) -> Result<i64> {
        let mut params = a.params.clone();
        if let serde_json::Value::Object(map) = &mut params {
            for key in SEARCH_PARAMS {
                if let Some(v) = map.get_mut(*key) {
                    let text = v.as_str().map_or_else(|| v.to_string(), str::to_string);
                    *v = serde_json::Value::String(self.search_term(&text));
                }
            }
        }
        let a = &NewAudit {
            params,
            ..a.clone()
        };
        let conn = self.conn();
        conn.execute(
            "INSERT INTO audit (at, user, role, action, params, rows, status, export_id, request_id) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
            params![
                now(),
                a.user,
                a.role,
                a.action,
                a.params.to_string(),
                a.rows as i64,
                a.status,
                a.export_id,
                a.request_id
            ],
        )
        .map_err(|e| self.err(e))?;
        Ok(conn.last_insert_rowid())
    }

    /// Audit records, newest first.
    pub fn audit_log(&self, q: &AuditQuery) -> Result<Vec<AuditEntry>> {
        let conn = self.conn();
        let mut st = conn
            .prepare(
                "SELECT seq, at, user, role, action, params, rows, status, export_id, request_id FROM audit \
                 WHERE (?1 IS NULL OR user = ?1) AND (?2 IS NULL OR action = ?2) AND (?3 IS NULL OR export_id = ?3) \
                 ORDER BY seq DESC LIMIT ?4",
            )
            .map_err(|e| self.err(e))?;
        let rows = st
            .query_map(
                params![q.user, q.action, q.export_id, q.limit.max(1)],
                |r| {
                    let params: String = r.get(5)?;
                    Ok(AuditEntry {
                        seq: r.get(0)?,
                        at: r.get(1)?,
                        user: r.get(2)?,
                        role: r.get(3)?,
                        action: r.get(4)?,
                        params: serde_json::from_str(&params)
                            .unwrap_or(serde_json::Value::String(params)),
                        rows: r.get::<_, i64>(6)? as u64,
                        status: r.get(7)?,
                        export_id: r.get(8)?,
                        request_id: r.get(9)?,
                    })
                },
            )
            .map_err(|e| self.err(e))?;
        rows.collect::<std::result::Result<Vec<_>, _>>()
            .map_err(|e| self.err(e))
    }

    /// Runs one SQL statement against the database: for tests that check the log refuses
    /// changes. Returns the number of rows changed.
    pub fn execute_raw(&self, sql: &str) -> Result<usize> {
        self.conn().execute(sql, []).map_err(|e| self.err(e))
    }
}

#[cfg(unix)]
fn restrict(path: &Path) -> Result<()> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600)).map_err(|e| {
        PrivacyError::Database {
            path: path.display().to_string(),
            message: e.to_string(),
        }
    })
}

#[cfg(not(unix))]
fn restrict(_: &Path) -> Result<()> {
    Ok(())
}

fn db_err(path: &Path, e: rusqlite::Error) -> PrivacyError {
    PrivacyError::Database {
        path: path.display().to_string(),
        message: e.to_string(),
    }
}

/// A new export id, `EXP-` and 16 hex digits: the watermark of an exported file and the key of
/// its audit record.
pub fn new_export_id() -> String {
    format!("EXP-{}", hex::encode(rand::random::<[u8; 8]>()))
}

/// A query as the audit log keeps it: every literal string of any quoting (`'张伟'`, `E'…'`,
/// `$$…$$`, `N'…'`, `X'…'`, raw and byte strings) replaced by its keyed hash (as search terms
/// are), comments dropped, so the log shows what was asked of which table without the values
/// asked for, and [`Privacy::search_term`] still finds the queries for a given value. The query
/// is split by the tokenizer of the SQL dialect DataFusion parses; one it cannot split is kept as
/// a hash alone. Digits outside quotes are masked by the text scan.
pub fn redact_query(privacy: &Privacy, sql: &str) -> String {
    use sqlparser::tokenizer::{Token, Tokenizer, Whitespace};
    let dialect = sqlparser::dialect::GenericDialect {};
    let Ok(tokens) = Tokenizer::new(&dialect, sql).tokenize() else {
        return format!(
            "<a query that does not tokenize, hashed: {}>",
            privacy.search_term(sql)
        );
    };
    let mut out = String::with_capacity(sql.len());
    for t in tokens {
        let literal = match &t {
            Token::SingleQuotedString(v)
            | Token::DoubleQuotedString(v)
            | Token::TripleSingleQuotedString(v)
            | Token::TripleDoubleQuotedString(v)
            | Token::SingleQuotedByteStringLiteral(v)
            | Token::DoubleQuotedByteStringLiteral(v)
            | Token::TripleSingleQuotedByteStringLiteral(v)
            | Token::TripleDoubleQuotedByteStringLiteral(v)
            | Token::SingleQuotedRawStringLiteral(v)
            | Token::DoubleQuotedRawStringLiteral(v)
            | Token::TripleSingleQuotedRawStringLiteral(v)
            | Token::TripleDoubleQuotedRawStringLiteral(v)
            | Token::NationalStringLiteral(v)
            | Token::EscapedStringLiteral(v)
            | Token::UnicodeStringLiteral(v)
            | Token::HexStringLiteral(v) => Some(v.clone()),
            Token::DollarQuotedString(d) => Some(d.value.clone()),
            Token::QuoteDelimitedStringLiteral(q)
            | Token::NationalQuoteDelimitedStringLiteral(q) => Some(q.value.clone()),
            Token::Whitespace(Whitespace::SingleLineComment { .. })
            | Token::Whitespace(Whitespace::MultiLineComment(_)) => {
                out.push_str(" /* … */ ");
                continue;
            }
            _ => None,
        };
        match literal {
            Some(v) => {
                out.push('\'');
                out.push_str(&privacy.search_term(&v));
                out.push('\'');
            }
            None => out.push_str(&t.to_string()),
        }
    }
    crate::mask::mask_text(&out)
}

/// When a token stops working, from `90d` (days from now, 1 to 36500) or a date
/// (`2027-03-31`, the start of that day in UTC); it must be in the future.
pub fn expiry(s: &str) -> Result<chrono::DateTime<chrono::Utc>> {
    let bad = |m: &str| PrivacyError::BadInput(format!("`{s}`: {m}"));
    let now = chrono::Utc::now();
    let t = if let Some(days) = s.strip_suffix('d') {
        let days: i64 = days
            .parse()
            .ok()
            .filter(|d| (1..=36_500).contains(d))
            .ok_or_else(|| bad("the days must be a number from 1 to 36500, e.g. `90d`"))?;
        now + chrono::Duration::days(days)
    } else {
        chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d")
            .map_err(|_| bad("expected days (`90d`) or a date (`2027-03-31`)"))?
            .and_hms_opt(0, 0, 0)
            .ok_or_else(|| bad("no such time"))?
            .and_utc()
    };
    if t <= now {
        return Err(bad("is in the past"));
    }
    Ok(t)
}

/// The public id of a well-formed token.
pub fn token_id(token: &str) -> Option<&str> {
    let rest = token.strip_prefix(PREFIX)?;
    let (id, secret) = rest.split_once('_')?;
    let hex = |s: &str, n: usize| s.len() == n && s.bytes().all(|b| b.is_ascii_hexdigit());
    (hex(id, 8) && hex(secret, 64)).then_some(id)
}

/// A new token: its id, the token itself and its argon2 hash.
fn new_token() -> Result<(String, String, String)> {
    let mut rng = rand::rng();
    let mut id = [0u8; 4];
    let mut secret = [0u8; 32];
    let mut salt = [0u8; 16];
    rng.fill_bytes(&mut id);
    rng.fill_bytes(&mut secret);
    rng.fill_bytes(&mut salt);
    let id = hex::encode(id);
    let token = format!("{PREFIX}{id}_{}", hex::encode(secret));
    let salt = SaltString::encode_b64(&salt).map_err(|e| PrivacyError::Internal(e.to_string()))?;
    let hash = Argon2::default()
        .hash_password(token.as_bytes(), &salt)
        .map_err(|e| PrivacyError::Internal(e.to_string()))?
        .to_string();
    Ok((id, token, hash))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Regression (review of the Excel exports): `E'…'` and `$$…$$` strings passed the
    /// hand-written scanner in clear, into the audit log and the workbooks' description sheet.
    #[test]
    fn every_kind_of_string_literal_and_comment_is_hashed() {
        let dir = tempfile::tempdir().unwrap();
        let p = Privacy::open(dir.path()).unwrap();
        for sql in [
            "SELECT count(*) FROM customer WHERE name = '张伟'",
            "SELECT count(*) FROM customer WHERE name = 'O''张伟'",
            "SELECT count(*) FROM customer WHERE name = $$张伟$$",
            "SELECT count(*) FROM customer WHERE name = $t$张伟$t$",
            "SELECT count(*) FROM customer WHERE name = E'\\'' OR name = '张伟'",
            "SELECT count(*) FROM customer WHERE name = N'张伟'",
            "SELECT count(*) FROM customer -- 张伟\nWHERE true",
            "SELECT count(*) FROM customer /* 张伟 */ WHERE true",
        ] {
            let r = redact_query(&p, sql);
            assert!(!r.contains("张伟"), "{sql} → {r}");
            assert!(r.contains("customer"), "{sql} → {r}");
        }
        // The same value hashes the same, so `audit-term` still finds the query.
        let a = redact_query(&p, "SELECT * FROM customer WHERE name = '张伟'");
        let b = redact_query(&p, "SELECT * FROM customer WHERE name = $$张伟$$");
        assert_eq!(a, b);
        assert!(a.contains(&p.search_term("张伟")), "{a}");
        assert!(
            a.starts_with("SELECT * FROM customer WHERE name = '"),
            "{a}"
        );
        // What does not tokenize is kept as a hash alone.
        let r = redact_query(&p, "SELECT '张伟");
        assert!(!r.contains("张伟") && r.contains("hashed"), "{r}");
    }

    /// Regression (security review, point 6): privacy.sqlite was created 0644.
    #[cfg(unix)]
    #[test]
    fn the_database_is_readable_by_its_owner_alone() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let p = Privacy::open(dir.path()).unwrap();
        p.add_user("u", crate::Role::Analyst).unwrap();
        for name in [FILE, "privacy.sqlite-wal"] {
            let path = dir.path().join(name);
            if path.exists() {
                let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
                assert_eq!(mode, 0o600, "{name} has mode {mode:o}");
            }
        }
    }

    #[test]
    fn tokens_authenticate_and_are_stored_hashed() {
        let dir = tempfile::tempdir().unwrap();
        let p = Privacy::open(dir.path()).unwrap();
        let token = p.add_user("li", Role::Marketer).unwrap();
        let who = p.authenticate(&token).unwrap().unwrap();
        assert_eq!((who.user.as_str(), who.role), ("li", Role::Marketer));
        // A wrong secret with the right id, and garbage, are refused.
        let mut wrong = token.clone();
        let last = wrong.pop().unwrap();
        wrong.push(if last == '0' { '1' } else { '0' });
        assert!(p.authenticate(&wrong).unwrap().is_none());
        assert!(p.authenticate("Bearer nonsense").unwrap().is_none());
        // The database holds no token in the clear.
        drop(p);
        let secret = token.rsplit('_').next().unwrap();
        for f in std::fs::read_dir(dir.path()).unwrap().flatten() {
            let bytes = std::fs::read(f.path()).unwrap();
            assert!(!bytes.windows(secret.len()).any(|w| w == secret.as_bytes()));
        }
        let p = Privacy::open(dir.path()).unwrap();
        assert!(matches!(
            p.add_user("li", Role::Admin),
            Err(PrivacyError::Conflict(_))
        ));
        assert_eq!(p.users().unwrap()[0].tokens, 1);
    }

    #[test]
    fn tokens_are_revoked_rotated_and_expire() {
        let dir = tempfile::tempdir().unwrap();
        let p = Privacy::open(dir.path()).unwrap();
        let first = p.add_user("li", Role::Analyst).unwrap();
        assert_eq!(p.revoke_user("li", "wang").unwrap(), 1);
        assert!(p.authenticate(&first).unwrap().is_none(), "a revoked token");
        assert_eq!(p.users().unwrap()[0].tokens, 0);
        let second = p.rotate_user("li", None, "wang").unwrap();
        let who = p.authenticate(&second).unwrap().unwrap();
        assert_eq!((who.user.as_str(), who.role), ("li", Role::Analyst));
        assert!(p.authenticate(&first).unwrap().is_none());
        // Rotating again revokes the second token.
        let third = p
            .rotate_user(
                "li",
                Some(chrono::Utc::now() + chrono::Duration::days(1)),
                "wang",
            )
            .unwrap();
        assert!(p.authenticate(&second).unwrap().is_none());
        assert!(p.authenticate(&third).unwrap().is_some());
        // A token past its expiry is refused.
        let soon = p
            .add_user_until(
                "tmp",
                Role::Auditor,
                Some(chrono::Utc::now() + chrono::Duration::milliseconds(300)),
            )
            .unwrap();
        assert!(p.authenticate(&soon).unwrap().is_some());
        std::thread::sleep(std::time::Duration::from_millis(400));
        assert!(p.authenticate(&soon).unwrap().is_none(), "an expired token");
        assert!(matches!(
            p.revoke_user("nobody", "wang"),
            Err(PrivacyError::NotFound(_))
        ));
        // Each change is in the audit log with who made it.
        let log = p
            .audit_log(&AuditQuery {
                limit: 100,
                ..AuditQuery::default()
            })
            .unwrap();
        let actions: Vec<(&str, &str)> = log
            .iter()
            .map(|e| (e.action.as_str(), e.user.as_str()))
            .collect();
        for want in [("user.revoke", "wang"), ("user.rotate", "wang")] {
            assert!(actions.contains(&want), "{actions:?}");
        }
    }

    #[test]
    fn a_database_from_before_expiry_gains_the_column() {
        let dir = tempfile::tempdir().unwrap();
        {
            let c = Connection::open(dir.path().join(FILE)).unwrap();
            c.execute_batch(&SCHEMA.replace(",\n    expires_at TEXT", ""))
                .unwrap();
        }
        let p = Privacy::open(dir.path()).unwrap();
        let t = p.add_user("li", Role::Marketer).unwrap();
        assert!(p.authenticate(&t).unwrap().is_some());
    }

    #[test]
    fn the_audit_log_is_append_only() {
        let dir = tempfile::tempdir().unwrap();
        let p = Privacy::open(dir.path()).unwrap();
        p.audit(&NewAudit {
            user: "li",
            role: "marketer",
            action: "audience.count",
            params: serde_json::json!({"expr": "gender:female"}),
            rows: 1,
            status: 200,
            ..Default::default()
        })
        .unwrap();
        assert!(p.execute_raw("UPDATE audit SET rows = 0").is_err());
        assert!(p.execute_raw("DELETE FROM audit").is_err());
        let log = p
            .audit_log(&AuditQuery {
                limit: 10,
                ..Default::default()
            })
            .unwrap();
        assert_eq!(log.len(), 1);
        assert_eq!(log[0].params["expr"], "gender:female");
    }
}
