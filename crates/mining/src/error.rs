//! The one error type of the crate.

/// What went wrong in a fit, and whose fault it is.
///
/// Messages name the parameter, row or column at fault and the rule it broke; they never quote the
/// data itself, which may be personal.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum MiningError {
    /// A parameter given by the caller is outside its range (the caller's fault).
    #[error("{name} {rule}")]
    InvalidParameter {
        /// The parameter, as spelt in the API.
        name: &'static str,
        /// The rule it broke, e.g. "must be in (0, 1]".
        rule: String,
    },
    /// A value of the input data cannot be used (the caller's fault).
    #[error("row {row}: {field} {rule}")]
    InvalidInput {
        /// Zero-based row index.
        row: usize,
        /// The field or column, e.g. `column 3`.
        field: String,
        /// The rule it broke.
        rule: String,
    },
    /// Two inputs that must agree in length or width do not (the caller's fault).
    #[error("{what}: expected {expected}, found {found}")]
    ShapeMismatch {
        /// What was being compared, e.g. "columns of the points".
        what: &'static str,
        /// The size required.
        expected: usize,
        /// The size given.
        found: usize,
    },
    /// The data are valid but too few or too uniform for the method, e.g. fewer points than
    /// clusters (the caller's fault).
    #[error("insufficient data: {0}")]
    InsufficientData(String),
    /// The input is larger than the method can take in memory, e.g. hierarchical clustering of
    /// more points than its distance matrix allows (the caller's choice of method).
    #[error("resources exhausted: {0}")]
    ResourcesExhausted(String),
    /// A state the code should never reach: this is a bug.
    #[error("internal error: {0} (this is a bug)")]
    Internal(String),
}

impl MiningError {
    pub(crate) fn param(name: &'static str, rule: impl Into<String>) -> Self {
        MiningError::InvalidParameter {
            name,
            rule: rule.into(),
        }
    }

    pub(crate) fn input(row: usize, field: impl Into<String>, rule: impl Into<String>) -> Self {
        MiningError::InvalidInput {
            row,
            field: field.into(),
            rule: rule.into(),
        }
    }
}

/// The crate's result type.
pub type Result<T, E = MiningError> = std::result::Result<T, E>;
