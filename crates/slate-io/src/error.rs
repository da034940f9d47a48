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
    #[error("{}: no {looked_for} files found{hint}", dir.display())]
    EmptyDir {
        /// The directory.
        dir: PathBuf,
        /// The extensions looked for.
        looked_for: &'static str,
        /// What else is there and how to read it, or empty.
        hint: String,
    },
    /// The output extension is not one slate writes.
    #[error("{}: unknown output format; use .parquet, .arrow (IPC) or .csv", .0.display())]
    UnknownFormat(PathBuf),
    /// A source mapping is not valid TOML or has unknown fields.
    #[error("mapping {origin}: {reason}")]
    MappingSyntax {
        /// Where the mapping came from (file path or built-in name).
        origin: String,
        /// The parser's message.
        reason: String,
    },
    /// A mapping field is missing or has a value slate cannot use.
    #[error("mapping {mapping:?}, field `{field}`: {reason}")]
    InvalidMapping {
        /// Name of the mapping.
        mapping: String,
        /// The offending field, e.g. `columns.arrived.format`.
        field: String,
        /// What is wrong with it.
        reason: String,
    },
    /// No built-in mapping has that name and no such file exists.
    #[error("{0:?} is neither a built-in source mapping ({1}) nor a readable .toml file")]
    UnknownMapping(String, String),
    /// A source file lacks a column its mapping names (every row would fail, so the file does).
    #[error("{}: {reason}", path.display())]
    SourceColumn {
        /// The file.
        path: PathBuf,
        /// What is missing or ambiguous, with the file's header.
        reason: String,
    },
    /// The CSV reader failed on a file (I/O, not a malformed row: those are rejects).
    #[error("{}: {source}", path.display())]
    Csv {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: csv::Error,
    },
    /// An output directory already holds files.
    #[error("{}: directory is not empty (pass --force to replace its year=*/ partitions{})", .0.display(), .1)]
    NotEmpty(PathBuf, String),
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
