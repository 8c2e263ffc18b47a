//! The one error type of the crate.

/// What went wrong in a fit or an evaluation, and whose fault it is.
///
/// Messages name the parameter, row or field at fault and the rule it broke; they never quote the
/// data itself, which may be personal.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ModelError {
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
        /// Zero-based row (customer) index.
        row: usize,
        /// The field or column, e.g. `t_x` or `column 3`.
        field: String,
        /// The rule it broke.
        rule: String,
    },
    /// Two inputs that must agree in length or width do not (the caller's fault).
    #[error("{what}: expected {expected}, found {found}")]
    ShapeMismatch {
        /// What was being compared, e.g. "labels".
        what: &'static str,
        /// The size required.
        expected: usize,
        /// The size given.
        found: usize,
    },
    /// The data are valid but cannot identify the model, e.g. a single class (the caller's fault).
    #[error("insufficient data: {0}")]
    InsufficientData(String),
    /// A numerical method did not reach its tolerance (a limit of the method, not of the data).
    #[error("{method} did not converge: {detail}")]
    NoConvergence {
        /// The method, e.g. "2F1 series".
        method: &'static str,
        /// Why, with the numbers that matter.
        detail: String,
    },
    /// A state the code should never reach: this is a bug.
    #[error("internal error: {0} (this is a bug)")]
    Internal(String),
}

impl ModelError {
    pub(crate) fn param(name: &'static str, rule: impl Into<String>) -> Self {
        ModelError::InvalidParameter {
            name,
            rule: rule.into(),
        }
    }

    pub(crate) fn input(row: usize, field: impl Into<String>, rule: impl Into<String>) -> Self {
        ModelError::InvalidInput {
            row,
            field: field.into(),
            rule: rule.into(),
        }
    }
}

/// The crate's result type.
pub type Result<T, E = ModelError> = std::result::Result<T, E>;
