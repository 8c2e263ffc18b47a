//! 标签与人群圈选 — tags and audiences.
//!
//! - [`catalog`]: the declarative tag catalogue (TOML) and its validation.
//! - [`expr`]: the audience expression language (`gender:female AND clv > 10000`).
//! - [`eval`]: the catalogue's rules over Arrow batches of features.
//! - [`index`]: one roaring bitmap per tag value over a dense party numbering, and the audience
//!   arithmetic on it: counts, breakdowns, affinity, the audience portrait.

pub mod catalog;
pub mod eval;
pub mod expr;
pub mod index;

pub use catalog::{Catalog, CatalogError, FeatureSchema, FeatureType, TagDef, TagRule};
pub use expr::{Expr, ExprError};
pub use index::{Affinity, IndexBuilder, NumericColumns, NumericSummary, TagIndex, ValueShare};
pub use roaring::RoaringBitmap;

#[derive(Debug, thiserror::Error)]
pub enum TagsError {
    /// A catalogue that does not parse or refers to what does not exist.
    #[error(transparent)]
    Catalog(#[from] CatalogError),
    /// An audience expression that does not parse or refers to what does not exist.
    #[error("{0}")]
    Expr(#[from] ExprError),
    #[error("{0}")]
    BadInput(String),
    #[error("{0}")]
    NotFound(String),
    #[error("internal error (this is a bug): {0}")]
    Internal(String),
}

impl TagsError {
    pub fn is_user_error(&self) -> bool {
        !matches!(self, TagsError::Internal(_))
    }
}
