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
    let df = needed_columns(inputs, threads).await?;
    let mut rows = 0u64;
    let mut stream = df.execute_stream().await?;
    while let Some(batch) = stream.next().await {
        rows += batch?.num_rows() as u64;
    }
    Ok(rows)
}

/// [`NEEDED_COLUMNS`] of the inputs, read as `slate run` reads them (same session settings,
/// reader and partitions).
async fn needed_columns(
    inputs: &[String],
    threads: Option<usize>,
) -> Result<datafusion::dataframe::DataFrame> {
    let paths: Vec<String> = (slate_io::expand_inputs(inputs)?.iter())
        .map(|p| p.to_string_lossy().into_owned())
        .collect();
    let ctx = slate_engine::session(london(), threads);
    Ok(ctx
        .read_parquet(paths, ParquetReadOptions::default().file_extension(""))
        .await?
        .select_columns(&NEEDED_COLUMNS)?)
}

/// A plain, hand-written exact loop: [`scan_floor`] plus only the work exact figures of the
/// built-in scorecard need. Per row, the group (borough, grade, UTC month of `call_received`)
/// through interned strings and one hash probe, and each measured duration (whole seconds)
/// pushed to its group's vector (answer for 999 and for 101 calls, attendance for grades I
/// and S not cancelled); at the end each vector sorted and read at p50/p90/p95/p99 and at its
/// threshold. It measures the same values as `slate run` but skips zones, exclusion reasons
/// and their counts, rollups and output. It is what straightforward exact code costs above
/// the decode, not a proven lower bound (radix-bucketed buffers would beat it). Returns the
/// rows read and the values sorted.
pub async fn exact_floor(inputs: &[String], threads: Option<usize>) -> Result<(u64, u64)> {
    let df = needed_columns(inputs, threads).await?;
    // One accumulator per partition, on the partition's own task, as an engine would.
    let mut tasks = Vec::new();
    for mut stream in df.execute_stream_partitioned().await? {
        tasks.push(tokio::spawn(async move {
            let mut acc = exact::Acc::default();
            while let Some(batch) = stream.next().await {
                acc.add(&batch?)?;
            }
            anyhow::Ok(acc)
        }));
    }
    let mut all = exact::Acc::default();
    for t in tasks {
        all.merge(t.await??);
    }
    Ok((all.rows, all.finish()))
}

mod exact {
    use std::collections::HashMap as StdMap;
    use std::hash::{BuildHasherDefault, Hasher};

    /// rustc's FxHash (multiply-rotate): the cheapest hash a hand loop would pick; SipHash
    /// would make the floor slower than it need be.
    #[derive(Default)]
    struct Fx(u64);

    impl Hasher for Fx {
        fn write(&mut self, bytes: &[u8]) {
            for c in bytes.chunks(8) {
                let mut w = [0u8; 8];
                w[..c.len()].copy_from_slice(c);
                self.write_u64(u64::from_le_bytes(w));
            }
        }
        fn write_u64(&mut self, n: u64) {
            self.0 = (self.0.rotate_left(5) ^ n).wrapping_mul(0x51_7c_c1_b7_27_22_0a_95);
        }
        fn finish(&self) -> u64 {
            self.0
        }
    }

    type HashMap<K, V> = StdMap<K, V, BuildHasherDefault<Fx>>;

    use anyhow::{Result, bail};
    use datafusion::arrow::array::{Array, AsArray, RecordBatch};
    use datafusion::arrow::datatypes::{DataType, Int32Type, TimestampMicrosecondType};

    #[derive(Default)]
    pub(super) struct Acc {
        pub(super) rows: u64,
        names: HashMap<String, u64>,
        groups: HashMap<u64, usize>,
        keys: Vec<u64>,
        /// Per group: answer 999, answer 101, attendance.
        values: Vec<[Vec<i64>; 3]>,
    }

    /// A string column of any layout DataFusion hands over.
    fn text(a: &dyn Array, i: usize) -> Option<&str> {
        if a.is_null(i) {
            return None;
        }
        Some(match a.data_type() {
            DataType::Utf8View => a.as_string_view().value(i),
            DataType::Utf8 => a.as_string::<i32>().value(i),
            DataType::LargeUtf8 => a.as_string::<i64>().value(i),
            DataType::Dictionary(..) => {
                let d = a.as_dictionary::<Int32Type>();
                let k = d.keys().value(i) as usize;
                return text(d.values().as_ref(), k);
            }
            _ => return None,
        })
    }

    /// Days since 1970-01-01 to (year * 12 + month - 1), by the civil-from-days algorithm.
    fn month_of_day(z: i64) -> i64 {
        let z = z + 719_468;
        let era = z.div_euclid(146_097);
        let doe = z - era * 146_097;
        let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
        let mp = (5 * doy + 2) / 153;
        let m = if mp < 10 { mp + 3 } else { mp - 9 };
        let y = yoe + era * 400 + i64::from(m <= 2);
        y * 12 + m - 1
    }

    impl Acc {
        fn name(&mut self, s: Option<&str>) -> u64 {
            let Some(s) = s else { return 0 };
            if let Some(&id) = self.names.get(s) {
                return id;
            }
            let id = self.names.len() as u64 + 1;
            self.names.insert(s.to_owned(), id);
            id
        }

        pub(super) fn add(&mut self, b: &RecordBatch) -> Result<()> {
            let col = |n: &str| b.column_by_name(n).expect("selected");
            let (borough, grade, channel) = (col("borough"), col("grade"), col("channel"));
            let cancelled = col("cancelled").as_boolean();
            let clock = |n: &str| match col(n).data_type() {
                DataType::Timestamp(datafusion::arrow::datatypes::TimeUnit::Microsecond, _) => {
                    Ok(col(n).as_primitive::<TimestampMicrosecondType>())
                }
                other => bail!("{n}: {other} is not a microsecond timestamp"),
            };
            let (received, answered, arrived) = (
                clock("call_received")?,
                clock("call_answered")?,
                clock("arrived")?,
            );
            for i in 0..b.num_rows() {
                let (bo, gr) = (text(borough, i), text(grade, i));
                let month = if received.is_null(i) {
                    0
                } else {
                    month_of_day(received.value(i).div_euclid(86_400_000_000))
                };
                let key =
                    (self.name(bo) << 48) | (self.name(gr) << 40) | (month as u64 & 0xff_ffff);
                let n = self.values.len();
                let g = *self.groups.entry(key).or_insert(n);
                if g == n {
                    self.keys.push(key);
                    self.values.push(Default::default());
                }
                let secs = |stop: &datafusion::arrow::array::TimestampMicrosecondArray| {
                    (received.is_valid(i) && stop.is_valid(i))
                        .then(|| (stop.value(i) - received.value(i)).div_euclid(1_000_000))
                        .filter(|&s| s >= 0)
                };
                let m = match text(channel, i) {
                    Some("999") => Some(0),
                    Some("101") => Some(1),
                    _ => None,
                };
                if let (Some(m), Some(s)) = (m, secs(answered)) {
                    self.values[g][m].push(s);
                }
                let attend =
                    matches!(gr, Some("I" | "S")) && !(cancelled.is_valid(i) && cancelled.value(i));
                if let (true, Some(s)) = (attend, secs(arrived)) {
                    self.values[g][2].push(s);
                }
            }
            self.rows += b.num_rows() as u64;
            Ok(())
        }

        /// Another partition's values, joined group by group (names re-interned).
        pub(super) fn merge(&mut self, other: Acc) {
            let back: HashMap<u64, String> =
                other.names.into_iter().map(|(s, id)| (id, s)).collect();
            for (key, vals) in other.keys.into_iter().zip(other.values) {
                let (b, g) = (key >> 48, (key >> 40) & 0xff);
                let b = self.name(back.get(&b).map(String::as_str));
                let g = self.name(back.get(&g).map(String::as_str));
                let key = (b << 48) | (g << 40) | (key & 0xff_ffff);
                let n = self.values.len();
                let at = *self.groups.entry(key).or_insert(n);
                if at == n {
                    self.keys.push(key);
                    self.values.push(Default::default());
                }
                for (mine, theirs) in self.values[at].iter_mut().zip(vals) {
                    mine.extend(theirs);
                }
            }
            self.rows += other.rows;
        }

        /// Sorts every vector and reads its percentiles and threshold share; returns the
        /// values sorted (and keeps the figures from being optimised away).
        pub(super) fn finish(mut self) -> u64 {
            let mut n = 0u64;
            let mut check = 0i64;
            for vals in &mut self.values {
                for (v, threshold) in vals.iter_mut().zip([10, 30, 720]) {
                    if v.is_empty() {
                        continue;
                    }
                    v.sort_unstable();
                    for p in [0.5, 0.9, 0.95, 0.99] {
                        check = check.wrapping_add(v[((v.len() - 1) as f64 * p) as usize]);
                    }
                    check = check.wrapping_add(v.partition_point(|&s| s <= threshold) as i64);
                    n += v.len() as u64;
                }
            }
            std::hint::black_box(check);
            n
        }
    }
}
