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
    /// A group column is missing, named twice or clashes with an output column.
    #[error("group column {column:?}: {reason}")]
    BadGroupBy {
        /// The column.
        column: String,
        /// What is wrong.
        reason: String,
    },
    /// Options that cannot be honoured together.
    #[error("{0}")]
    BadOptions(String),
    /// A request parameter with a value it cannot take (the message names it).
    #[error("{0}")]
    Parameter(slate_core::ParamMessage),
    /// Two files of one Parquet dataset give a column types that cannot be read as one.
    #[error(
        "column `{column}` is {first_type} in {first} but {other_type} in {other}: \
         a dataset's files must agree on each column's type (rewrite one of them, or read them \
         as separate inputs)",
        first = first.display(),
        other = other.display()
    )]
    SchemaConflict {
        /// The column.
        column: String,
        /// The first file that has it.
        first: std::path::PathBuf,
        /// Its type there.
        first_type: String,
        /// A later file with a type that does not fit.
        other: std::path::PathBuf,
        /// Its type there.
        other_type: String,
    },
    /// Input listing or reading.
    #[error(transparent)]
    Io(#[from] slate_io::Error),
    /// Domain failures (bad zone, corrupt cell).
    #[error(transparent)]
    Core(#[from] slate_core::Error),
    /// A mapped source failed while DataFusion scanned it (a file unreadable, a mapped
    /// column missing), or a row failed in slate's own functions (a date outside a working-day
    /// calendar): the message, without DataFusion's wrapping.
    #[error("{0}")]
    Source(String),
    /// DataFusion failed while reading or aggregating.
    #[error(transparent)]
    DataFusion(DataFusionError),
}

impl From<DataFusionError> for Error {
    fn from(e: DataFusionError) -> Self {
        let mut cause: Option<&(dyn std::error::Error + 'static)> = Some(&e);
        while let Some(c) = cause {
            if let Some(io) = c.downcast_ref::<slate_io::Error>() {
                return Error::Source(io.to_string());
            }
            // Raised per row by slate's own functions (a date outside a working-day calendar).
            if let Some(core) = c.downcast_ref::<slate_core::Error>() {
                return Error::Source(core.to_string());
            }
            cause = c.source();
        }
        Error::DataFusion(e)
    }
}

impl Error {
    /// The whole message of an error that names request parameters (`from`, `source`), for a
    /// front end to render with its own names for them.
    pub fn param_message(&self) -> Option<slate_core::ParamMessage> {
        match self {
            Error::Parameter(m) => Some(m.clone()),
            Error::Io(e) => e.param_message(),
            _ => None,
        }
    }
}

/// Result with the engine [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;
