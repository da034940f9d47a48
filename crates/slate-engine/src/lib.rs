//! slate's batch engine on Apache DataFusion.
//!
//! A scorecard is one aggregation: the input grouped by the grain unit of each measure's
//! start clock and by the group columns, with one exact `sla_hist` aggregate per measure
//! (a `GroupsAccumulator` over [`slate_core::MeasureCell`]). The result, a few thousand small
//! histograms, becomes a [`slate_core::Cube`] from which every window and rollup is merged.
//!
//! - [`udf`]: `sla_hist`, `sla_bucket` and the `hist_*` readers, usable from your own
//!   `SessionContext` via [`udf::register_all`].
//! - [`input`]: what a run reads: a Parquet dataset, or a CAD export through a source mapping.
//! - [`scorecard`]: planning (policy checked against the schema before reading) and running.
//! - [`fused`]: the scorecard's aggregate as one operator that computes every measure in one
//!   pass per batch (DataFusion's own aggregate is the fallback).
//! - [`validate`]: the `slate validate` checks.

pub mod error;
pub mod fused;
pub mod input;
pub mod scorecard;
pub mod store;
pub mod udf;
pub mod validate;

pub use error::{Error, Result};
pub use input::Input;
pub use scorecard::{
    MeasureAccount, Plan, RowCells, RowCellsEval, Scorecard, ScorecardOptions, cells_of_batches,
    cells_of_rows, run_scorecard, runtime, session,
};
