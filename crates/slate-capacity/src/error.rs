//! Errors of the capacity crate.

/// What can go wrong in capacity planning.
#[derive(Debug, thiserror::Error)]
pub enum CapacityError {
    /// A parameter out of range (the message names it and its value).
    #[error("{0}")]
    Invalid(String),
    /// A roster file that cannot be read or parsed (the message names the file and line).
    #[error("roster {path}: {message}")]
    Roster {
        /// The roster file.
        path: String,
        /// What is wrong.
        message: String,
    },
    /// The demand query failed.
    #[error("demand profile: {0}")]
    Engine(#[from] slate_engine::Error),
    /// DataFusion failed while computing the demand profile.
    #[error("demand profile: {0}")]
    DataFusion(#[from] datafusion::error::DataFusionError),
    /// Arrow failed while building output batches.
    #[error("building output: {0}")]
    Arrow(#[from] arrow::error::ArrowError),
}

/// Result with [`CapacityError`].
pub type Result<T, E = CapacityError> = std::result::Result<T, E>;
