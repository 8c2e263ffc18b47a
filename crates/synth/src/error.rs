//! Errors of the generator: the caller's fault (a bad config), the machine's (I/O) or ours.

use std::path::PathBuf;

/// Why generating the synthetic bank failed.
#[derive(Debug, thiserror::Error)]
pub enum SynthError {
    /// The configuration cannot be generated, e.g. "customers cannot be 0".
    #[error("{0}")]
    InvalidConfig(String),
    /// Creating or writing an output file failed.
    #[error("cannot write `{}`: {source}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// The Parquet writer refused a batch or could not finish a file.
    #[error("cannot write Parquet file `{}`: {source}", path.display())]
    Parquet {
        path: PathBuf,
        #[source]
        source: parquet::errors::ParquetError,
    },
    /// An invariant of the generator broke; this is a bug.
    #[error("internal error: {0} (this is a bug)")]
    Internal(String),
}

impl SynthError {
    pub(crate) fn io(path: impl Into<PathBuf>) -> impl FnOnce(std::io::Error) -> Self {
        let path = path.into();
        move |source| Self::Io { path, source }
    }
}
