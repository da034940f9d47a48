//! The formats slate writes, chosen by a path's extension. A leaf: the writers
//! ([`crate::output`], [`crate::plan`]) and the provenance reader ([`crate::provenance`]) share it.

use std::path::Path;

use crate::error::{Error, Result};

/// Output formats slate writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// Apache Parquet, zstd-compressed.
    Parquet,
    /// Arrow IPC file (`.arrow`, `.ipc`, `.feather`).
    Ipc,
    /// CSV with a header row.
    Csv,
}

impl Format {
    /// The format for a path's extension.
    pub fn from_path(path: &Path) -> Result<Self> {
        match path
            .extension()
            .and_then(|e| e.to_str())
            .map(str::to_ascii_lowercase)
            .as_deref()
        {
            Some("parquet") => Ok(Format::Parquet),
            Some("arrow" | "ipc" | "feather") => Ok(Format::Ipc),
            Some("csv") => Ok(Format::Csv),
            _ => Err(Error::UnknownFormat(path.to_path_buf())),
        }
    }
}
