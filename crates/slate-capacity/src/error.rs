//! Errors of the capacity crate.

/// What can go wrong in capacity planning.
#[derive(Debug, thiserror::Error)]
pub enum CapacityError {
    /// A parameter out of range (the message names it and its value).
    #[error("{0}")]
    Invalid(String),
    /// A request parameter with a value it cannot take (the message names it).
    #[error("{0}")]
    Parameter(slate_core::ParamMessage),
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

impl CapacityError {
    /// The whole message of an error that names request parameters (`shrinkage`, `from`), for
    /// a front end to render with its own names for them.
    pub fn param_message(&self) -> Option<slate_core::ParamMessage> {
        match self {
            CapacityError::Parameter(m) => Some(m.clone()),
            CapacityError::Engine(e) => e.param_message(),
            _ => None,
        }
    }
}

/// Result with [`CapacityError`].
pub type Result<T, E = CapacityError> = std::result::Result<T, E>;
