//! Errors of the batch engine.

use datafusion::error::DataFusionError;

/// A failure while planning or running a scorecard.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The policy does not fit the input: a column is missing or has the wrong type, or a
    /// predicate does not parse. Raised before any data is read.
    #[error("policy {policy:?}, measure {measure:?}, field `{field}`: {reason}")]
    PolicyMismatch {
        /// Policy name.
        policy: String,
        /// Measure id.
        measure: String,
        /// The field (`start`, `stop`, `where`, `exclude[0].where`).
        field: String,
        /// What is wrong.
        reason: String,
    },
    /// A `--by` column is missing or clashes with an output column.
    #[error("--by {column:?}: {reason}")]
    BadGroupBy {
        /// The column.
        column: String,
        /// What is wrong.
        reason: String,
    },
    /// Options that cannot be honoured together.
    #[error("{0}")]
    BadOptions(String),
    /// Input listing or reading.
    #[error(transparent)]
    Io(#[from] slate_io::Error),
    /// Domain failures (bad zone, corrupt cell).
    #[error(transparent)]
    Core(#[from] slate_core::Error),
    /// DataFusion failed while reading or aggregating.
    #[error(transparent)]
    DataFusion(#[from] DataFusionError),
}

/// Result with the engine [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;
