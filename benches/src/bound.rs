//! A tight exact loop: what exact figures of the built-in scorecard cost above the decode when
//! the per-row work is cut to what they cannot do without, written for speed rather than
//! plainly (compare [`crate::exact_floor`]). It is the measure of issue 27's "1.5x the scan
//! floor": slate's run must do at least this, and more (zones, exclusion reasons and their
//! counts, rollups, output files).
//!
//! Per batch: each text column becomes small ids (a dictionary's values once; a `Utf8View`
//! string through a direct-mapped cache of its 16-byte view, so no string is compared per
//! row); each row's cell is one load from a day-to-month table and one from a dense
//! (month, borough, grade) table; each measure's rows are a bitmap (its `where` and both
//! clocks present, 64 rows a word), and only the rows it selects are subtracted and pushed, as
//! whole seconds (`u32`), to their cell's vector. At the end the partitions' cells are joined
//! and every vector is sorted and read on all threads. The phases are timed apart.
//!
//! Months are UTC months: on naive UTC clocks that is the scorecard's month, and elsewhere a
//! zone's months cost more, so the figure stays a floor. Most of what it costs above the
//! decode is the pushes to the cells (a store to one of thousands of places a value) and the
//! ordering; the per-row arithmetic is small.

use std::time::Instant;

use anyhow::{Result, bail};
use datafusion::arrow::array::{
    Array, AsArray, GenericStringArray, OffsetSizeTrait, RecordBatch, TimestampMicrosecondArray,
};
use datafusion::arrow::buffer::{BooleanBuffer, NullBuffer};
use datafusion::arrow::datatypes::{DataType, Int32Type};

use crate::HashMap;
use crate::exact::{month_of_day, order_cell};

/// What [`bound_floor`] read, and how long each phase took (wall seconds).
#[derive(Debug, Clone, PartialEq)]
pub struct BoundFigures {
    /// Rows decoded.
    pub rows: u64,
    /// Measured seconds kept and sorted (equal to the sum of slate's `n_measured`), or
    /// computed when they are not kept.
    pub values: u64,
    /// A checksum of every cell's percentiles and threshold count, equal to
    /// [`crate::exact_floor`]'s on the same input (when not kept, of the seconds computed).
    pub check: i64,
    /// The decode and the per-row step, on every partition at once.
    pub scan_secs: f64,
    /// Joining the partitions' cells.
    pub join_secs: f64,
    /// Sorting every cell's seconds and reading its figures, on all threads.
    pub order_secs: f64,
}

/// [`crate::scan_floor`] plus the tight exact loop described in the module docs. With `keep`
/// false, every step but the last is done: each row's cell is found and each measure's
/// seconds are computed, but they are summed instead of kept, so nothing is ordered. The two
/// runs' difference is what keeping and ordering the seconds costs.
pub async fn bound_floor(
    inputs: &[String],
    threads: Option<usize>,
    keep: bool,
) -> Result<BoundFigures> {
    let t0 = Instant::now();
    let parts = crate::per_partition(inputs, threads, move || Acc::new(keep), Acc::add).await?;
    let scan_secs = t0.elapsed().as_secs_f64();
    let t1 = Instant::now();
    let mut all = Acc::new(keep);
    for p in parts {
        all.join(p)?;
    }
    let join_secs = t1.elapsed().as_secs_f64();
    let t2 = Instant::now();
    let threads =
        threads.unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()));
    let (values, check) = if keep {
        all.order(threads)
    } else {
        (all.counted, all.sum as i64)
    };
    Ok(BoundFigures {
        rows: all.rows,
        values,
        check,
        scan_secs,
        join_secs,
        order_secs: t2.elapsed().as_secs_f64(),
    })
}

/// Entries of a view cache.
const CACHE: usize = 1024;

fn cache_slot(w: u128) -> usize {
    let x = (w as u64) ^ ((w >> 64) as u64).rotate_left(17);
    (x.wrapping_mul(0x9e37_79b9_7f4a_7c15) >> 54) as usize
}

/// Text to small ids (0 is null), interned once per distinct value and layout.
struct Names {
    ids: HashMap<Box<str>, u32>,
    /// Direct-mapped caches of `Utf8View` views to ids: short strings by their whole view
    /// (length and inline bytes), long ones of the current array by theirs (buffer and
    /// offset). A miss costs a string probe, never a wrong id: the whole view is compared.
    short: Vec<(u128, u32)>,
    long: Vec<(u128, u32)>,
    list: Vec<Box<str>>,
}

impl Default for Names {
    fn default() -> Self {
        Names {
            ids: HashMap::default(),
            short: vec![(u128::MAX, 0); CACHE],
            long: Vec::new(),
            list: Vec::new(),
        }
    }
}

impl Names {
    fn of(&mut self, s: &str) -> u32 {
        if let Some(&id) = self.ids.get(s) {
            return id;
        }
        self.list.push(s.into());
        let id = self.list.len() as u32;
        self.ids.insert(s.into(), id);
        id
    }

    /// A `Utf8View` cache: the short strings' or the current array's long ones.
    fn cache(&mut self, short: bool) -> &mut [(u128, u32)] {
        if short {
            &mut self.short
        } else {
            &mut self.long
        }
    }

    /// The id of every row of a `Utf8` or `LargeUtf8` column, into `out` (a run of one
    /// string is interned once).
    fn strings<O: OffsetSizeTrait>(&mut self, a: &GenericStringArray<O>, out: &mut Vec<u32>) {
        let mut last: Option<(&str, u32)> = None;
        for s in a.iter() {
            let Some(s) = s else {
                out.push(0);
                continue;
            };
            let id = match last {
                Some((l, id)) if l == s => id,
                _ => self.of(s),
            };
            last = Some((s, id));
            out.push(id);
        }
    }

    /// The id of every row of a text column, into `out`.
    fn column(&mut self, a: &dyn Array, out: &mut Vec<u32>) -> Result<()> {
        out.clear();
        let nulls = a.logical_nulls();
        let null = |i: usize| nulls.as_ref().is_some_and(|n| n.is_null(i));
        match a.data_type() {
            DataType::Utf8View => {
                let v = a.as_string_view();
                // A long string's view names its bytes' place: within one array the same
                // place is the same string (the reader points every row of a dictionary page
                // at one copy), so its cache lives for one array.
                self.long.clear();
                self.long.resize(CACHE, (u128::MAX, 0));
                for (i, &w) in v.views().iter().enumerate() {
                    if null(i) {
                        out.push(0);
                        continue;
                    }
                    let (slot, short) = (cache_slot(w), (w as u32) <= 12);
                    let (seen, id) = self.cache(short)[slot];
                    out.push(if seen == w {
                        id
                    } else {
                        let id = self.of(v.value(i));
                        self.cache(short)[slot] = (w, id);
                        id
                    });
                }
            }
            DataType::Utf8 => self.strings(a.as_string::<i32>(), out),
            DataType::LargeUtf8 => self.strings(a.as_string::<i64>(), out),
            DataType::Dictionary(k, _) if k.as_ref() == &DataType::Int32 => {
                let d = a.as_dictionary::<Int32Type>();
                let mut of_value = Vec::new();
                self.column(d.values().as_ref(), &mut of_value)?;
                for (i, &k) in d.keys().values().iter().enumerate() {
                    out.push(if null(i) { 0 } else { of_value[k as usize] });
                }
            }
            other => bail!("text column of type {other} is not read by the bound loop"),
        }
        Ok(())
    }
}

/// Borough and grade ids below these index the dense group table; others go to a hash map.
const BOROUGHS: usize = 64;
const GRADES: usize = 8;
/// The dense table's months: 1900-01 to 2199-12.
const MONTH0: i64 = 1900 * 12;
const MONTHS: usize = 300 * 12;
/// The day table's span (days since 1970-01-01): 1900-01-01 to about 2199.
const DAY0: i64 = -25_567;
const DAYS: usize = 300 * 366;

struct Acc {
    /// Keep the seconds (else only sum them into `sum`).
    keep: bool,
    sum: u64,
    counted: u64,
    rows: u64,
    /// Borough, grade and channel names, each column its own ids (so they stay small).
    names: [Names; 3],
    /// Per (month, borough, grade): its cell number + 1, or 0 for none yet. Zeroed lazily by
    /// the allocator, so only the months seen cost memory.
    dense: Vec<u32>,
    /// Groups outside the dense table.
    sparse: HashMap<u64, u32>,
    /// Per day of `DAY0..`: its month (`year * 12 + month - 1`), computed on first sight.
    months: Vec<i32>,
    /// Per cell: its key (borough id << 40 | grade id << 32 | month), and the seconds of
    /// answer (999), answer (101) and attendance (grades I and S, not cancelled).
    keys: Vec<u64>,
    cells: Vec<[Vec<u32>; 3]>,
    ids: [Vec<u32>; 3],
    cell_of: Vec<u32>,
}

impl Acc {
    fn new(keep: bool) -> Self {
        Acc {
            keep,
            sum: 0,
            counted: 0,
            rows: 0,
            names: Default::default(),
            dense: vec![0; MONTHS * BOROUGHS * GRADES],
            sparse: HashMap::default(),
            months: vec![i32::MIN; DAYS],
            keys: Vec::new(),
            cells: Vec::new(),
            ids: Default::default(),
            cell_of: Vec::new(),
        }
    }

    fn cell(&mut self, key: u64) -> usize {
        let (b, g, m) = (
            key >> 40,
            (key >> 32) & 0xff,
            (key as u32 as i32) as i64 - MONTH0,
        );
        let slot =
            ((b as usize) < BOROUGHS && (g as usize) < GRADES && (0..MONTHS as i64).contains(&m))
                .then(|| (m as usize * BOROUGHS + b as usize) * GRADES + g as usize);
        let found = match slot {
            Some(s) => self.dense[s],
            None => self.sparse.get(&key).copied().unwrap_or(0),
        };
        if found != 0 {
            return found as usize - 1;
        }
        self.keys.push(key);
        self.cells.push(Default::default());
        let n = self.cells.len() as u32;
        match slot {
            Some(s) => self.dense[s] = n,
            None => {
                self.sparse.insert(key, n);
            }
        }
        n as usize - 1
    }

    fn month(&mut self, micros: i64) -> i64 {
        let day = micros.div_euclid(86_400_000_000);
        let at = day - DAY0;
        if !(0..DAYS as i64).contains(&at) {
            return month_of_day(day);
        }
        let m = &mut self.months[at as usize];
        if *m == i32::MIN {
            *m = month_of_day(day) as i32;
        }
        i64::from(*m)
    }

    fn add(&mut self, b: &RecordBatch) -> Result<()> {
        let col = |n: &str| b.column_by_name(n).expect("selected");
        let mut ids = std::mem::take(&mut self.ids);
        for ((out, names), name) in
            (ids.iter_mut().zip(&mut self.names)).zip(["borough", "grade", "channel"])
        {
            names.column(col(name).as_ref(), out)?;
        }
        let [borough, grade, channel] = &ids;
        let (gi, gs) = (self.names[1].of("I"), self.names[1].of("S"));
        self.check_key_room()?;
        let (c999, c101) = (self.names[2].of("999"), self.names[2].of("101"));
        let cancelled = col("cancelled").as_boolean();
        let [received, answered, arrived] = crate::clocks(b)?;
        let (rv, av, tv) = (received.values(), answered.values(), arrived.values());
        let n = b.num_rows();
        // Each row's cell, in one pass.
        let mut cell_of = std::mem::take(&mut self.cell_of);
        cell_of.clear();
        let rnulls = received.nulls();
        for i in 0..n {
            let month = if rnulls.is_none_or(|v| v.is_valid(i)) {
                self.month(rv[i])
            } else {
                0
            };
            let key = (u64::from(borough[i]) << 40)
                | (u64::from(grade[i]) << 32)
                | u64::from(month as i32 as u32);
            cell_of.push(self.cell(key) as u32);
        }
        // Each measure's rows as a bitmap (its `where` and both clocks present), 64 rows a
        // word; then only the selected rows are subtracted and kept.
        let valid = |stop: &TimestampMicrosecondArray| match NullBuffer::union(rnulls, stop.nulls())
        {
            Some(v) => v.into_inner(),
            None => BooleanBuffer::new_set(n),
        };
        let (answer_ok, arrive_ok) = (valid(answered), valid(arrived));
        let not_cancelled = match cancelled.logical_nulls() {
            Some(v) => !&(cancelled.values() & v.inner()),
            None => !cancelled.values(),
        };
        let selections = [
            (
                &BooleanBuffer::collect_bool(n, |i| channel[i] == c999) & &answer_ok,
                av,
                0,
            ),
            (
                &BooleanBuffer::collect_bool(n, |i| channel[i] == c101) & &answer_ok,
                av,
                1,
            ),
            (
                &(&BooleanBuffer::collect_bool(n, |i| grade[i] == gi || grade[i] == gs)
                    & &not_cancelled)
                    & &arrive_ok,
                tv,
                2,
            ),
        ];
        for (rows, stop, m) in selections {
            for i in rows.set_indices() {
                let s = (stop[i] - rv[i]).div_euclid(1_000_000);
                if (0..=i64::from(u32::MAX)).contains(&s) {
                    if self.keep {
                        self.cells[cell_of[i] as usize][m].push(s as u32);
                    } else {
                        self.sum = self.sum.wrapping_add(s as u64 + u64::from(cell_of[i]));
                        self.counted += 1;
                    }
                }
            }
        }
        self.cell_of = cell_of;
        self.ids = ids;
        self.rows += b.num_rows() as u64;
        Ok(())
    }

    /// A cell's key holds a borough id in 24 bits and a grade id in 8.
    fn check_key_room(&self) -> Result<()> {
        if self.names[0].list.len() > 0xff_ffff || self.names[1].list.len() > 0xff {
            bail!("more boroughs or grades than the bound loop's cell keys hold");
        }
        Ok(())
    }

    /// Another partition's cells, joined by key (its ids re-interned as this one's).
    fn join(&mut self, other: Acc) -> Result<()> {
        let [bt, gt] = [0, 1].map(|c| {
            std::iter::once(0)
                .chain(other.names[c].list.iter().map(|s| self.names[c].of(s)))
                .collect::<Vec<u32>>()
        });
        self.check_key_room()?;
        for (key, cell) in other.keys.into_iter().zip(other.cells) {
            let (b, g) = (bt[(key >> 40) as usize], gt[((key >> 32) & 0xff) as usize]);
            let at = self.cell((u64::from(b) << 40) | (u64::from(g) << 32) | (key & 0xffff_ffff));
            for (mine, theirs) in self.cells[at].iter_mut().zip(cell) {
                if mine.is_empty() {
                    *mine = theirs;
                } else {
                    mine.extend(theirs);
                }
            }
        }
        self.rows += other.rows;
        self.sum = self.sum.wrapping_add(other.sum);
        self.counted += other.counted;
        Ok(())
    }

    /// Sorts every cell's seconds and reads its figures, the cells split over `threads`;
    /// returns the values sorted and the checksum.
    fn order(&mut self, threads: usize) -> (u64, i64) {
        let chunk = self.cells.len().div_ceil(threads.max(1)).max(1);
        std::thread::scope(|s| {
            let parts: Vec<_> = (self.cells.chunks_mut(chunk))
                .map(|cells| {
                    s.spawn(move || {
                        let (mut n, mut check) = (0u64, 0i64);
                        for cell in cells {
                            order_cell(cell, &mut n, &mut check);
                        }
                        (n, check)
                    })
                })
                .collect();
            (parts.into_iter())
                .map(|p| p.join().expect("an ordering thread panicked"))
                .fold((0, 0i64), |(n, c), (pn, pc)| (n + pn, c.wrapping_add(pc)))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use datafusion::arrow::array::{ArrayRef, BooleanArray, StringArray};
    use std::sync::Arc;

    /// More grades than a cell key holds is an error, not cells silently merged.
    #[test]
    fn too_many_grades_are_refused() -> Result<()> {
        let n = 300;
        let text = |f: &dyn Fn(usize) -> String| -> ArrayRef {
            Arc::new(StringArray::from_iter_values((0..n).map(f)))
        };
        let clock = || -> ArrayRef {
            Arc::new(TimestampMicrosecondArray::from_iter_values(
                (0..n).map(|i| i as i64 * 1_000_000),
            ))
        };
        let batch = RecordBatch::try_from_iter([
            ("borough", text(&|_| "Camden".into())),
            ("grade", text(&|i| format!("G{i}"))),
            ("channel", text(&|_| "999".into())),
            (
                "cancelled",
                Arc::new(BooleanArray::from(vec![false; n])) as ArrayRef,
            ),
            ("call_received", clock()),
            ("call_answered", clock()),
            ("arrived", clock()),
        ])?;
        let err = Acc::new(true)
            .add(&batch)
            .expect_err("300 grades do not fit");
        assert!(err.to_string().contains("grades"), "{err}");
        let fits = batch.slice(0, 100);
        Acc::new(true).add(&fits)?;
        Ok(())
    }

    /// The bound loop keeps and orders exactly the seconds the plain loop does, and reads the
    /// same figures from them, on seeded data with defects (null boroughs, negative times).
    #[test]
    fn the_bound_loop_reads_what_the_plain_loop_reads() -> Result<()> {
        let dir = tempfile::tempdir()?;
        crate::write_sample(dir.path(), 30_000)?;
        let inputs = [dir.path().display().to_string()];
        let rt = slate_engine::runtime(Some(2))?;
        let plain = rt.block_on(crate::exact_floor(
            &inputs,
            Some(2),
            crate::ExactLayout::PerGroup,
        ))?;
        let bound = rt.block_on(bound_floor(&inputs, Some(2), true))?;
        assert_eq!((bound.rows, bound.values, bound.check), plain);
        assert!(plain.1 > 20_000, "{} seconds measured", plain.1);
        // Not keeping them, the same seconds are still computed.
        let unkept = rt.block_on(bound_floor(&inputs, Some(2), false))?;
        assert_eq!(unkept.values, plain.1);
        Ok(())
    }
}
