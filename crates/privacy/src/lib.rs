//! Privacy of portrait: roles and what they may do, users and their bearer tokens, the masking
//! policy every response passes through, and the append-only audit log.
//!
//! Users, tokens and the audit log live in an embedded SQLite database in the store,
//! `<store>/privacy.sqlite`. Tokens are stored only as argon2 hashes.

pub mod db;
pub mod mask;
pub mod role;

pub use db::{AuditEntry, AuditQuery, NewAudit, Privacy, TokenUser, UserInfo};
pub use mask::{Field, MaskRule, mask_json, mask_text, mask_value, rule};
pub use role::Role;

/// Errors of the privacy layer. Messages never carry personal data or token secrets.
#[derive(Debug, thiserror::Error)]
pub enum PrivacyError {
    #[error("{0}")]
    BadInput(String),
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    Conflict(String),
    #[error("the privacy database `{path}`: {message}")]
    Database { path: String, message: String },
    #[error("internal error (this is a bug): {0}")]
    Internal(String),
}

impl PrivacyError {
    /// Whether the fault lies with the caller's input.
    pub fn is_user_error(&self) -> bool {
        matches!(
            self,
            PrivacyError::BadInput(_) | PrivacyError::NotFound(_) | PrivacyError::Conflict(_)
        )
    }
}

pub type Result<T, E = PrivacyError> = std::result::Result<T, E>;
