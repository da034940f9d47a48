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
use datafusion::arrow::array::{AsArray, RecordBatch, TimestampMicrosecondArray};
use datafusion::arrow::datatypes::{DataType, TimeUnit, TimestampMicrosecondType};
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

/// [`NEEDED_COLUMNS`] of the inputs folded into one accumulator per partition, each on the
/// partition's own task, as an engine would; the accumulators in partition order.
async fn per_partition<A: Send + 'static>(
    inputs: &[String],
    threads: Option<usize>,
    new: impl Fn() -> A,
    add: fn(&mut A, &RecordBatch) -> Result<()>,
) -> Result<Vec<A>> {
    let df = needed_columns(inputs, threads).await?;
    let mut tasks = Vec::new();
    for mut stream in df.execute_stream_partitioned().await? {
        let mut acc = new();
        tasks.push(tokio::spawn(async move {
            while let Some(batch) = stream.next().await {
                add(&mut acc, &batch?)?;
            }
            anyhow::Ok(acc)
        }));
    }
    let mut parts = Vec::with_capacity(tasks.len());
    for t in tasks {
        parts.push(t.await??);
    }
    Ok(parts)
}

/// A plain, hand-written exact loop: [`scan_floor`] plus only the work exact figures of the
/// built-in scorecard need. Per row, the group (borough, grade, UTC month of `call_received`)
/// through interned strings and one hash probe, and each measured duration (whole seconds)
/// pushed to its group's vector (answer for 999 and for 101 calls, attendance for grades I
/// and S not cancelled); at the end each vector sorted and read at p50/p90/p95/p99 and at its
/// threshold. It measures the same values as `slate run` but skips zones, exclusion reasons
/// and their counts, rollups and output. It is what straightforward exact code costs above
/// the decode, not a proven lower bound. Its time is the per-row grouping, not the ordering:
/// on 10M rows the sort at the end is under a tenth of it, and one radix-sorted buffer a
/// partition ([`ExactLayout::Radix`]) was slower than a vector a group (docs/bench/matrix.md,
/// session 14). Returns the rows read, the values sorted and a checksum of the figures read.
pub async fn exact_floor(
    inputs: &[String],
    threads: Option<usize>,
    layout: ExactLayout,
) -> Result<(u64, u64, i64)> {
    let parts = per_partition(
        inputs,
        threads,
        move || exact::Acc::new(layout),
        exact::Acc::add,
    )
    .await?;
    let mut all = exact::Acc::new(layout);
    for p in parts {
        all.merge(p);
    }
    let (values, check) = all.finish();
    Ok((all.rows, values, check))
}

/// Where [`exact_floor`] keeps the measured seconds until the end.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExactLayout {
    /// One vector a group and measure, each sorted at the end.
    PerGroup,
    /// One vector of packed `(group, measure, seconds)` words a partition, radix-sorted once
    /// at the end: no per-group allocation, and the sort is linear.
    Radix,
}

mod bound;
pub use bound::{BoundFigures, bound_floor};

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
    fn write_u128(&mut self, n: u128) {
        self.write_u64(n as u64);
        self.write_u64((n >> 64) as u64);
    }
    fn finish(&self) -> u64 {
        self.0
    }
}

type HashMap<K, V> = StdMap<K, V, BuildHasherDefault<Fx>>;

/// The question's three clocks of a batch of [`NEEDED_COLUMNS`]: call received, answered,
/// arrived.
fn clocks(b: &RecordBatch) -> Result<[&TimestampMicrosecondArray; 3]> {
    let clock = |n: &str| {
        let a = b.column_by_name(n).expect("selected");
        match a.data_type() {
            DataType::Timestamp(TimeUnit::Microsecond, _) => {
                Ok(a.as_primitive::<TimestampMicrosecondType>())
            }
            other => anyhow::bail!("{n}: {other} is not a microsecond timestamp"),
        }
    };
    Ok([
        clock("call_received")?,
        clock("call_answered")?,
        clock("arrived")?,
    ])
}

mod exact {
    use super::HashMap;
    use anyhow::Result;
    use datafusion::arrow::array::{Array, AsArray, RecordBatch};
    use datafusion::arrow::datatypes::{DataType, Int32Type};

    use super::ExactLayout;

    pub(super) struct Acc {
        pub(super) rows: u64,
        layout: ExactLayout,
        names: HashMap<String, u64>,
        groups: HashMap<u64, usize>,
        keys: Vec<u64>,
        /// Per group: answer 999, answer 101, attendance (`PerGroup`).
        values: Vec<[Vec<i64>; 3]>,
        /// `group << 40 | measure << 38 | seconds` (`Radix`).
        packed: Vec<u64>,
    }

    /// Bits of a packed word below the group.
    const GROUP_SHIFT: u32 = 40;
    const MEASURE_SHIFT: u32 = 38;
    const SECS_MASK: u64 = (1 << MEASURE_SHIFT) - 1;

    /// LSD radix sort with 11-bit digits, skipping a digit every word shares (most seconds
    /// are small, so most of the middle digits are skipped).
    fn radix_sort(v: &mut Vec<u64>) {
        const BITS: u32 = 11;
        const BUCKETS: usize = 1 << BITS;
        let mut tmp = vec![0u64; v.len()];
        let mut shift = 0;
        while shift < 64 {
            let mut counts = vec![0usize; BUCKETS];
            for &w in v.iter() {
                counts[((w >> shift) as usize) & (BUCKETS - 1)] += 1;
            }
            if counts.contains(&v.len()) {
                shift += BITS;
                continue;
            }
            let mut at = 0;
            for c in &mut counts {
                (at, *c) = (at + *c, at);
            }
            for &w in v.iter() {
                let d = ((w >> shift) as usize) & (BUCKETS - 1);
                tmp[counts[d]] = w;
                counts[d] += 1;
            }
            std::mem::swap(v, &mut tmp);
            shift += BITS;
        }
    }

    /// A sorted run's percentiles and threshold share, folded into `check`.
    fn read_run<T: Copy + Into<i64>>(v: &[T], threshold: i64, check: &mut i64) {
        for p in [0.5, 0.9, 0.95, 0.99] {
            *check = check.wrapping_add(v[((v.len() - 1) as f64 * p) as usize].into());
        }
        *check = check.wrapping_add(v.partition_point(|&s| s.into() <= threshold) as i64);
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

    /// The thresholds of the three measures (answer 999, answer 101, attendance), seconds.
    const THRESHOLDS: [i64; 3] = [10, 30, 720];

    /// Sorts a cell's seconds per measure and reads each run's figures into `check`, adding
    /// the values sorted to `n`.
    pub(super) fn order_cell<T: Ord + Copy + Into<i64>>(
        cell: &mut [Vec<T>; 3],
        n: &mut u64,
        check: &mut i64,
    ) {
        for (v, threshold) in cell.iter_mut().zip(THRESHOLDS) {
            if v.is_empty() {
                continue;
            }
            v.sort_unstable();
            read_run(v, threshold, check);
            *n += v.len() as u64;
        }
    }

    /// Days since 1970-01-01 to (year * 12 + month - 1), by the civil-from-days algorithm.
    pub(super) fn month_of_day(z: i64) -> i64 {
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
        pub(super) fn new(layout: ExactLayout) -> Self {
            Acc {
                rows: 0,
                layout,
                names: HashMap::default(),
                groups: HashMap::default(),
                keys: Vec::new(),
                values: Vec::new(),
                packed: Vec::new(),
            }
        }

        fn keep(&mut self, g: usize, m: usize, s: i64) {
            match self.layout {
                ExactLayout::PerGroup => self.values[g][m].push(s),
                ExactLayout::Radix => self
                    .packed
                    .push(((g as u64) << GROUP_SHIFT) | ((m as u64) << MEASURE_SHIFT) | s as u64),
            }
        }

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
            let [received, answered, arrived] = super::clocks(b)?;
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
                    self.keep(g, m, s);
                }
                let attend =
                    matches!(gr, Some("I" | "S")) && !(cancelled.is_valid(i) && cancelled.value(i));
                if let (true, Some(s)) = (attend, secs(arrived)) {
                    self.keep(g, 2, s);
                }
            }
            self.rows += b.num_rows() as u64;
            Ok(())
        }

        /// Another partition's values, joined group by group (names re-interned).
        pub(super) fn merge(&mut self, other: Acc) {
            let back: HashMap<u64, String> =
                other.names.into_iter().map(|(s, id)| (id, s)).collect();
            let mut to = Vec::with_capacity(other.keys.len());
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
                to.push(at as u64);
            }
            // Packed words name the other's groups: renumber them as this one's.
            let low = (1u64 << GROUP_SHIFT) - 1;
            self.packed.extend(
                (other.packed.iter())
                    .map(|&w| (to[(w >> GROUP_SHIFT) as usize] << GROUP_SHIFT) | (w & low)),
            );
            self.rows += other.rows;
        }

        /// Sorts every vector and reads its percentiles and threshold share; returns the
        /// values sorted and a checksum of the figures read.
        pub(super) fn finish(&mut self) -> (u64, i64) {
            let mut n = 0u64;
            let mut check = 0i64;
            for vals in &mut self.values {
                order_cell(vals, &mut n, &mut check);
            }
            radix_sort(&mut self.packed);
            let mut run = Vec::new();
            for chunk in self
                .packed
                .chunk_by(|a, b| a >> MEASURE_SHIFT == b >> MEASURE_SHIFT)
            {
                run.clear();
                run.extend(chunk.iter().map(|&w| (w & SECS_MASK) as i64));
                let m = ((chunk[0] >> MEASURE_SHIFT) & 3) as usize;
                read_run(&run, THRESHOLDS[m], &mut check);
                n += run.len() as u64;
            }
            (n, check)
        }
    }

    #[cfg(test)]
    mod tests {
        use super::*;

        /// Deterministic words shaped like packed ones (few groups, small seconds, a few
        /// large), from a xorshift generator.
        fn words(n: usize) -> Vec<(usize, usize, i64)> {
            let mut x = 0x9e37_79b9_7f4a_7c15u64;
            (0..n)
                .map(|_| {
                    x ^= x << 13;
                    x ^= x >> 7;
                    x ^= x << 17;
                    let secs = if x.is_multiple_of(97) {
                        x >> 30
                    } else {
                        x % 5000
                    } as i64;
                    ((x >> 20) as usize % 300, (x >> 40) as usize % 3, secs)
                })
                .collect()
        }

        #[test]
        fn the_radix_sort_orders_like_the_standard_sort() {
            let mut v: Vec<u64> = words(20_000)
                .into_iter()
                .map(|(g, m, s)| {
                    ((g as u64) << GROUP_SHIFT) | ((m as u64) << MEASURE_SHIFT) | s as u64
                })
                .collect();
            let mut want = v.clone();
            want.sort_unstable();
            radix_sort(&mut v);
            assert_eq!(v, want);
        }

        #[test]
        fn both_layouts_read_the_same_figures() {
            let mut figures = Vec::new();
            for layout in [ExactLayout::PerGroup, ExactLayout::Radix] {
                // Two partitions whose group numbers differ, merged as `exact_floor` merges.
                let mut all = Acc::new(layout);
                for part in [0usize, 1] {
                    let mut acc = Acc::new(layout);
                    for (g, m, s) in words(5_000).into_iter().skip(part * 2_500).take(2_500) {
                        let key = (g as u64 + 7 * part as u64) % 300;
                        let n = acc.values.len();
                        let at = *acc.groups.entry(key).or_insert(n);
                        if at == n {
                            acc.keys.push(key);
                            acc.values.push(Default::default());
                        }
                        acc.keep(at, m, s);
                    }
                    all.merge(acc);
                }
                figures.push(all.finish());
            }
            assert_eq!(figures[0].0, 5_000);
            assert_eq!(figures[0], figures[1]);
        }
    }
}
