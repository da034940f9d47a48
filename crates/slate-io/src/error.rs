//! Errors of the I/O crate; each names the file it concerns.

use std::path::PathBuf;

/// An I/O failure, with the path it happened on.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The file system refused.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// A Parquet file is unreadable, truncated or not Parquet.
    #[error("{}: not a readable Parquet file: {source}", path.display())]
    Parquet {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: parquet::errors::ParquetError,
    },
    /// Arrow failed on a file's data.
    #[error("{}: {source}", path.display())]
    Arrow {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: arrow::error::ArrowError,
    },
    /// An input path matched nothing.
    #[error("{0}: no such file, directory or matching glob")]
    NoInput(String),
    /// An input directory held no file of a readable kind.
    #[error("{}: no .parquet files found", .0.display())]
    EmptyDir(PathBuf),
    /// The output extension is not one slate writes.
    #[error("{}: unknown output format; use .parquet, .arrow (IPC) or .csv", .0.display())]
    UnknownFormat(PathBuf),
    /// A bad glob pattern.
    #[error("bad glob {pattern:?}: {reason}")]
    Glob {
        /// The pattern.
        pattern: String,
        /// Why.
        reason: String,
    },
}

/// Result with the I/O [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

pub(crate) fn io_err(path: impl Into<PathBuf>) -> impl FnOnce(std::io::Error) -> Error {
    let path = path.into();
    move |source| Error::Io { path, source }
}
