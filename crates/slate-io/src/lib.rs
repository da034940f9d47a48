//! slate's readers and writers between files and Arrow record batches.
//!
//! - [`input`]: expanding `--input` files, directories and globs.
//! - [`output`]: writing Parquet (zstd), Arrow IPC and CSV atomically, chosen by extension.
//! - [`parquet`]: reading Parquet schemas and batches outside DataFusion.
//!
//! The batch engine reads through DataFusion's own listing tables; this crate serves the
//! generator, the CLI and the stream runtime.

pub mod error;
pub mod input;
pub mod output;
pub mod parquet;

pub use error::{Error, Result};
pub use input::expand_inputs;
pub use output::{Format, write_batches};
