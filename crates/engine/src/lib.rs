//! The engine: an Apache DataFusion session over the store, and the stages that read and write
//! it, declared in [`pipeline`].

pub mod config;
pub mod coverage;
pub mod erase;
pub mod features;
pub mod functions;
pub mod identity;
pub mod ingest;
pub mod labels;
pub mod links;
pub mod lookalike;
pub mod memory;
pub mod output;
pub mod pipeline;
pub mod rules;
pub mod score;
pub mod segment;
pub mod session;
pub mod tags;
pub mod xlsx;

pub use session::open_session;

#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    #[error(transparent)]
    Store(#[from] portrait_store::StoreError),
    #[error(transparent)]
    Ingest(#[from] portrait_ingest::IngestError),
    #[error("{0}")]
    Query(String),
    #[error("{0}")]
    Usage(String),
    /// A stage found nothing to work on (no rows, no input that varies): `portrait run` skips
    /// it with this reason; a single command reports it as an error.
    #[error("{0}")]
    NothingToDo(String),
    #[error("`{}`: {source}", path.display())]
    Io {
        path: std::path::PathBuf,
        source: std::io::Error,
    },
    /// A plan needed more memory than the budget's pool holds and could not spill.
    #[error("{0}")]
    OverBudget(String),
    #[error("internal error (this is a bug): {0}")]
    Internal(String),
}

impl EngineError {
    /// Whether the fault lies with the user's input or request rather than with portrait.
    pub fn is_user_error(&self) -> bool {
        match self {
            EngineError::Ingest(e) => e.is_user_error(),
            EngineError::Internal(_) => false,
            _ => true,
        }
    }
}

impl From<datafusion::error::DataFusionError> for EngineError {
    fn from(e: datafusion::error::DataFusionError) -> Self {
        use datafusion::error::DataFusionError as D;
        // Out of memory (the pool), not out of spill disk.
        if let D::ResourcesExhausted(m) = e.find_root()
            && !m.contains("disk")
        {
            // The failed allocation, then the plan's largest holders.
            let (consumers, failed) = m.split_once("\nError: ").unwrap_or(("", m));
            let holders: Vec<&str> = consumers.lines().skip(1).map(str::trim).collect();
            let what = if holders.is_empty() {
                failed.trim().to_string()
            } else {
                format!("{}\nlargest holders: {}", failed.trim(), holders.join(" "))
            };
            let what = what.as_str();
            return EngineError::OverBudget(memory::over_budget(memory::stage(), what));
        }
        match e {
            D::Internal(m) => EngineError::Internal(m),
            D::Context(c, inner) => match EngineError::from(*inner) {
                EngineError::Query(m) => EngineError::Query(format!("{c}: {m}")),
                other => other,
            },
            other => EngineError::Query(other.to_string()),
        }
    }
}

impl From<arrow::error::ArrowError> for EngineError {
    fn from(e: arrow::error::ArrowError) -> Self {
        EngineError::Query(e.to_string())
    }
}

pub type Result<T, E = EngineError> = std::result::Result<T, E>;

/// A string column as plain `Utf8`, whatever string type the plan produced (`Utf8View`,
/// `LargeUtf8`).
pub(crate) fn utf8(a: &arrow::array::ArrayRef) -> Result<arrow::array::ArrayRef> {
    Ok(arrow::compute::cast(a, &arrow::datatypes::DataType::Utf8)?)
}
