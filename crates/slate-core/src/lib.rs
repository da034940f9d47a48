//! slate's domain core: everything that is true of SLA scorecards whatever the engine.
//!
//! - [`schema`]: the canonical CAD record every reader maps onto.
//! - [`policy`]: SLA policies (TOML) and the built-in ones.
//! - [`hist`]: exact, mergeable duration histograms, one [`MeasureCell`] per measure and cell.
//! - [`stats`]: compliance, Wilson intervals and exact percentiles read off a histogram.
//! - [`tz`] and [`calendar`]: local days, grains and reporting windows; [`ambiguous`]: which
//!   instant a local reading in a repeated hour means.
//! - [`workdays`]: UK bank-holiday calendars and working-day counts.
//! - [`cube`]: cells merged into windows and rollups, read as [`Scores`]; [`tables`]: their
//!   Arrow form; [`card`] reads that form back (for front ends that start from files).
//! - [`disparity`]: groups against the rest of the force: two-proportion z, Holm, funnel
//!   limits and over-dispersion.
//!
//! The batch engine and the stream runtime both fill a [`Cube`]; the figures therefore come
//! from one implementation of the statistics.
//!
//! ```
//! use slate_core::{Histogram, stats::{percentile, PercentileMethod}};
//! let h = Histogram::from_values([1, 2, 3, 10]);
//! let p50 = percentile(&h.entries(), h.count(), 0.5, PercentileMethod::Linear);
//! assert_eq!(p50, Some(2.5));
//! ```

pub mod ambiguous;
pub mod calendar;
pub mod card;
mod columns;
pub mod cube;
pub mod disparity;
pub mod duration;
pub mod error;
pub mod hist;
pub mod policy;
pub mod schema;
pub mod stats;
pub mod tables;
pub mod tz;
pub mod workdays;

pub use ambiguous::{Ambiguous, Reading};
pub use calendar::{Grain, WindowKind};
pub use cube::{Cube, GroupKey, ScoreOptions, Scores, Totals};
pub use error::{Error, ParamMessage, Result};
pub use hist::{Exclusion, Histogram, MeasureCell, Narrow, Pair, Pairs, UnionScratch};
pub use policy::{Measure, SlaPolicy};
pub use stats::{PercentileMethod, Summary};
pub use tz::{LocalResolution, TzRules};
