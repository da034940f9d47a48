//! Shared pieces of slate's benchmarks: seeded inputs made outside the timed code, and the
//! "scan floor", the cost of only decoding the Parquet columns a scorecard needs.
//!
//! The criterion benches live in `benches/` (`hist.rs`, `io.rs`, `engine.rs`); the
//! `scan-floor` binary is what `scripts/bench` times next to `slate run`, DuckDB and Polars.
//!
//! ```no_run
//! let dir = tempfile::tempdir()?;
//! slate_bench::write_sample(dir.path(), 10_000)?;
//! let rt = slate_engine::runtime(None)?;
//! let rows = rt.block_on(slate_bench::scan_floor(&[dir.path().display().to_string()], None))?;
//! assert_eq!(rows, 10_000);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use std::path::Path;
use std::sync::Arc;

use anyhow::{Context, Result};
use datafusion::prelude::ParquetReadOptions;
use futures::StreamExt;
use slate_core::TzRules;
use slate_datagen::GenConfig;

/// The columns the built-in `mps-promise-2008` scorecard reads: group keys, the `where` and
/// `exclude` predicates, and the start and stop clocks of its four measures.
pub const NEEDED_COLUMNS: [&str; 7] = [
    "borough",
    "grade",
    "channel",
    "cancelled",
    "call_received",
    "call_answered",
    "arrived",
];

/// The zone every bench reads local days in.
pub fn london() -> Arc<TzRules> {
    Arc::new(TzRules::from_name("Europe/London").expect("Europe/London is in the tz database"))
}

/// The generator settings the benches use: seed 42, ten years from 2015, 0.1% defects (so
/// negative durations and null boroughs are exercised too).
pub fn sample_config(rows: u64) -> GenConfig {
    GenConfig {
        rows,
        dirty_rate: 0.001,
        promises: false,
        ..GenConfig::default()
    }
}

/// Writes the seeded sample as hive-partitioned Parquet under `dir` (as `slate gen` does).
pub fn write_sample(dir: &Path, rows: u64) -> Result<()> {
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    slate_datagen::write_dataset(&sample_config(rows), &london(), dir, threads, true, &|_| {})
        .with_context(|| format!("writing {rows} sample rows to {}", dir.display()))?;
    Ok(())
}

/// Decodes [`NEEDED_COLUMNS`] of the inputs with the same reader, session settings and
/// partitions as `slate run`, and does nothing else; returns the rows read. This is the floor
/// under any scorecard computed by DataFusion over these files.
pub async fn scan_floor(inputs: &[String], threads: Option<usize>) -> Result<u64> {
    let files = slate_io::expand_inputs(inputs)?;
    let paths: Vec<String> = files
        .iter()
        .map(|p| p.to_string_lossy().into_owned())
        .collect();
    let ctx = slate_engine::session(london(), threads);
    let df = ctx
        .read_parquet(paths, ParquetReadOptions::default().file_extension(""))
        .await?
        .select_columns(&NEEDED_COLUMNS)?;
    let mut rows = 0u64;
    let mut stream = df.execute_stream().await?;
    while let Some(batch) = stream.next().await {
        rows += batch?.num_rows() as u64;
    }
    Ok(rows)
}
