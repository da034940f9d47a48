//! Errors of the stream runtime.

/// A stream failure.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Reading a source or writing output failed.
    #[error(transparent)]
    Io(#[from] slate_io::Error),
    /// Planning or computing cells failed.
    #[error(transparent)]
    Engine(#[from] slate_engine::Error),
    /// Building output failed.
    #[error(transparent)]
    Core(#[from] slate_core::Error),
    /// The checkpoint is unreadable or from another configuration.
    #[error("checkpoint {path}: {reason}")]
    Checkpoint {
        /// The file.
        path: String,
        /// What is wrong.
        reason: String,
    },
    /// Another stream holds the state directory.
    #[error(
        "state directory {dir} is in use by another stream ({holder}); a state directory serves one stream at a time"
    )]
    Locked {
        /// The state directory.
        dir: String,
        /// Who holds it: the process id written in its lock file.
        holder: String,
    },
    /// The policy needs what the stream does not carry.
    #[error("{0}")]
    Unsupported(String),
    /// A pipeline task failed.
    #[error("{0}")]
    Pipeline(String),
}

impl Error {
    /// The whole message of an error that names request parameters (`from`), for a front end
    /// to render with its own names for them.
    pub fn param_message(&self) -> Option<slate_core::ParamMessage> {
        match self {
            Error::Io(e) => e.param_message(),
            Error::Engine(e) => e.param_message(),
            _ => None,
        }
    }
}

/// Result with the stream [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

pub(crate) fn io(path: &std::path::Path) -> impl FnOnce(std::io::Error) -> Error + '_ {
    move |source| {
        Error::Io(slate_io::Error::Io {
            path: path.to_path_buf(),
            source,
        })
    }
}
