//! slate's streaming runtime: the same scorecards as `slate run`, over a live feed of CAD
//! updates.
//!
//! An incident arrives in pieces ([`update::Update`]); the processor keeps each open incident's
//! merged record, and once the watermark (largest event time seen minus the lateness) passes
//! the end of the incident's first window plus the settle time, the record is settled: its
//! cells are computed by the batch engine's own plan and merged into the settled cube. Windows
//! are emitted provisionally on an event-time schedule and finally once settled; late updates
//! are revised in or counted in a late ledger. State is checkpointed atomically and a restart
//! resumes from the source position, re-creating the same emissions.
//!
//! - [`update`]: updates and their Arrow form.
//! - [`source`]: replay of historical Parquet, NDJSON, directory files.
//! - [`kafka`]: every partition of a Kafka topic, its offsets checkpointed with the state
//!   (the client behind the `kafka` cargo feature).
//! - [`state`]: the processor.
//! - [`spec`]: what a stream reads and where it writes ([`SourceSpec`], [`SinkSpec`]).
//! - [`runtime`]: the task pipeline and sinks.
//! - [`checkpoint`]: the checkpoints, checksummed and tied to the settings and the source's
//!   identity, and the state directory's lock.
//! - [`clock`]: injected wall clock.

pub mod checkpoint;
pub mod clock;
pub mod error;
mod feed;
pub mod kafka;
pub mod runtime;
pub mod source;
pub mod spec;
pub mod state;
pub mod update;

pub use error::{Error, Result};
pub use runtime::{LatestHook, RunSpec, Summary, run_stream};
pub use spec::{SinkSpec, SourceSpec};
pub use state::{LateMode, StreamConfig};
