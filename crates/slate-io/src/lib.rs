//! slate's readers and writers between files and Arrow record batches.
//!
//! - [`input`]: expanding `--input` files, directories and globs: the one rule for what is data.
//! - [`location`]: a local path or an object ([`location::Location`]) and the rule for what a
//!   walk takes as data; a leaf that [`input`] and [`object`] share.
//! - [`object`]: `s3://bucket/prefix/` inputs: the store from the AWS environment, and the
//!   Parquet objects under a prefix by the same rule.
//! - [`mod@format`]: the formats slate writes (Parquet, Arrow IPC, CSV), by extension; a leaf.
//! - [`output`]: writing Parquet (zstd), Arrow IPC and CSV atomically, chosen by extension.
//! - [`plan`]: a command's inputs and outputs resolved before any work, collisions refused,
//!   outputs written together ([`OutputPlan`]).
//! - [`provenance`]: what made an output, in its metadata (or a CSV's sidecar), and reading it
//!   back (`slate info`).
//! - [`parquet`]: reading Parquet schemas and batches outside DataFusion.
//! - [`mapping`]: source mappings (TOML) from a CAD export's columns to canonical ones, and
//!   the built-in ones (`canonical`, `lfb`, `sffd`, `seattle-spd`).
//! - [`source`]: reading CSV or Parquet through a mapping as canonical batches, every row
//!   imported or rejected with a reason.
//! - [`policy`]: SLA policies and working-day calendars read from files (slate-core parses
//!   them and reads no files); [`textfile`]: the size-capped reading of such small files.
//! - [`mod@import`]: writing a mapped source as partitioned canonical Parquet plus `rejects.csv`.
//!
//! The batch engine scans Parquet with DataFusion and mapped sources through [`read_source`];
//! this crate also serves the generator, the CLI and the stream runtime.

pub mod error;
pub mod format;
pub mod import;
pub mod input;
pub mod location;
pub mod mapping;
pub mod object;
#[cfg(test)]
mod oddities;
pub mod output;
pub mod parquet;
pub mod plan;
pub mod policy;
pub mod provenance;
pub mod record;
pub mod source;
pub mod textfile;

pub use error::{Error, Result};
pub use format::Format;
pub use import::{ImportOptions, ImportReport, REJECTS_FILE, RejectsWriter, import};
pub use input::{DataKind, expand, expand_inputs, expand_noted};
pub use mapping::Mapping;
pub use output::{prepare_output_dir, write_batches};
pub use plan::OutputPlan;
pub use provenance::Provenance;
pub use source::{ImportSummary, Reject, SourceSink, read_source};
