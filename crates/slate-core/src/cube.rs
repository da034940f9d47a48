//! The histogram cube: one [`MeasureCell`] per grain unit x group x measure, and the
//! scorecard read off it by merging cells into windows and rollups.

use std::collections::hash_map::Entry;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::atomic::{AtomicUsize, Ordering};

use crate::calendar::{Grain, WindowKind};
use crate::hist::{Exclusion, Histogram, MeasureCell, UnionScratch};
use crate::policy::SlaPolicy;
use crate::stats::{PercentileMethod, Summary};

/// Values of the group-by columns (null stays null; rollups are told apart by `level`).
pub type GroupKey = Vec<Option<String>>;

/// A half-open range of local days, `[start, end)`.
pub type DayRange = (i32, i32);

/// Cells of a policy's measures by grain unit and group.
#[derive(Debug, Clone)]
pub struct Cube {
    grain: Grain,
    group_by: Vec<String>,
    n_measures: usize,
    /// By grain unit, in order, then group. `None` unit: records with no start clock, which
    /// fall in no window. A window's cells are those of its units' range, so reading a few
    /// windows (a stream's changed ones) touches only their cells.
    cells: BTreeMap<Option<i32>, UnitCells>,
}

/// One grain unit's cells, by group.
type UnitCells = HashMap<GroupKey, Vec<MeasureCell>>;

/// A measure's record counts over a whole cube (see [`Cube::totals`]).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Totals {
    /// Records measured.
    pub measured: u64,
    /// Exclusion and naive-clock counts (a cell without durations).
    pub counts: MeasureCell,
}

impl Totals {
    /// Measured plus excluded.
    pub fn n_eligible(&self) -> u64 {
        self.measured + self.counts.n_excluded()
    }
}

/// One scorecard row before it becomes Arrow.
#[derive(Debug, Clone, PartialEq)]
pub struct ScoreRow {
    /// The window's days.
    pub window: DayRange,
    /// Index into [`Scores::levels`].
    pub level: usize,
    /// Group values; `None` both for a null value and for a rolled-up column.
    pub groups: GroupKey,
    /// Index of the measure in the policy.
    pub measure: usize,
    /// Records the measure applied to.
    pub n_eligible: u64,
    /// Records excluded for any reason.
    pub n_excluded: u64,
    /// The figures.
    pub summary: Summary,
    /// Naive local readings in a repeated hour, read as the earlier instant.
    pub ambiguous_local: u64,
    /// Naive local readings in a skipped hour, moved forward.
    pub skipped_local: u64,
}

/// One exclusions-ledger row.
#[derive(Debug, Clone, PartialEq)]
pub struct LedgerRow {
    /// The window; `None` for records with no start clock.
    pub window: Option<DayRange>,
    /// Index into [`Scores::levels`].
    pub level: usize,
    /// Group values.
    pub groups: GroupKey,
    /// Index of the measure in the policy.
    pub measure: usize,
    /// Why the records were left out.
    pub reason: Exclusion,
    /// How many.
    pub count: u64,
}

/// A scorecard's rows and its exclusions ledger over a window family, as read off a cube:
/// the figures before they become Arrow tables ([`crate::tables`]) or a decoded
/// [`crate::card::Card`].
#[derive(Debug, Clone, PartialEq)]
pub struct Scores {
    /// The window family.
    pub window: WindowKind,
    /// Group-by columns.
    pub group_by: Vec<String>,
    /// Levels as masks over `group_by` (bit i set: column i kept), most detailed first.
    pub levels: Vec<u32>,
    /// Scorecard rows, sorted by window, level, groups, measure.
    pub rows: Vec<ScoreRow>,
    /// Ledger rows, sorted likewise.
    pub ledger: Vec<LedgerRow>,
}

impl Scores {
    /// The `level` column's text: kept columns joined by `+`, or [`ALL_LEVEL`].
    pub fn level_name(&self, level: usize) -> String {
        level_name(&self.group_by, self.levels[level])
    }

    /// [`Scores::level_name`] of every level, by index.
    pub fn level_names(&self) -> Vec<String> {
        (self.levels.iter())
            .map(|&mask| level_name(&self.group_by, mask))
            .collect()
    }
}

/// The level that keeps no group-by column: the whole force. A group-by column may not have
/// this name, which would make two levels one.
pub const ALL_LEVEL: &str = "all";

/// Text for a level mask.
pub fn level_name(group_by: &[String], mask: u32) -> String {
    let kept: Vec<&str> = group_by
        .iter()
        .enumerate()
        .filter(|(i, _)| mask & (1 << i) != 0)
        .map(|(_, c)| c.as_str())
        .collect();
    if kept.is_empty() {
        ALL_LEVEL.to_string()
    } else {
        kept.join("+")
    }
}

/// Options of [`Cube::scores`].
#[derive(Debug, Clone, Copy)]
pub struct ScoreOptions {
    /// The window family.
    pub window: WindowKind,
    /// Percentile definition.
    pub method: PercentileMethod,
    /// Whether to add rollup levels (every subset of the group-by columns).
    pub rollups: bool,
    /// The period asked for; rolling windows are emitted only when they lie wholly inside it.
    /// `None`: the span of the data's grain units.
    pub period: Option<DayRange>,
    /// Windows read in parallel (at least 1).
    pub threads: usize,
}

impl Cube {
    /// An empty cube.
    pub fn new(grain: Grain, group_by: Vec<String>, n_measures: usize) -> Self {
        Cube {
            grain,
            group_by,
            n_measures,
            cells: BTreeMap::new(),
        }
    }

    /// The grain.
    pub fn grain(&self) -> Grain {
        self.grain
    }

    /// The group-by columns.
    pub fn group_by(&self) -> &[String] {
        &self.group_by
    }

    /// Number of (unit, group) cells held.
    pub fn len(&self) -> usize {
        self.cells.values().map(HashMap::len).sum()
    }

    /// Whether the cube holds no cell.
    pub fn is_empty(&self) -> bool {
        self.cells.is_empty()
    }

    /// Merges a measure's cell into the cube.
    pub fn add(&mut self, unit: Option<i32>, groups: GroupKey, measure: usize, cell: &MeasureCell) {
        debug_assert_eq!(groups.len(), self.group_by.len());
        let n = self.n_measures;
        let slot = (self.cells.entry(unit).or_default())
            .entry(groups)
            .or_insert_with(|| vec![MeasureCell::default(); n]);
        slot[measure].merge(cell);
    }

    /// [`Cube::add`] with the group key borrowed: cloned only when the cube has no cell for
    /// it yet (the stream adds to cells that mostly exist, and a key is a vector of strings).
    pub fn add_at(
        &mut self,
        unit: Option<i32>,
        groups: &GroupKey,
        measure: usize,
        cell: &MeasureCell,
    ) {
        match self.cells.get_mut(&unit).and_then(|g| g.get_mut(groups)) {
            Some(slot) => slot[measure].merge(cell),
            None => self.add(unit, groups.clone(), measure, cell),
        }
    }

    /// [`Cube::add`] for an owned cell: moved in when the cube has none there yet.
    pub fn absorb(
        &mut self,
        unit: Option<i32>,
        groups: GroupKey,
        measure: usize,
        cell: MeasureCell,
    ) {
        debug_assert_eq!(groups.len(), self.group_by.len());
        let n = self.n_measures;
        (self.cells.entry(unit).or_default())
            .entry(groups)
            .or_insert_with(|| vec![MeasureCell::default(); n])[measure]
            .absorb(cell);
    }

    /// Merges another cube of the same shape, moving its cells in where this one has none.
    pub fn absorb_cube(&mut self, other: Cube) {
        debug_assert_eq!(
            (self.grain, &self.group_by, self.n_measures),
            (other.grain, &other.group_by, other.n_measures)
        );
        for (unit, groups) in other.cells {
            let mine = self.cells.entry(unit).or_default();
            for (key, cells) in groups {
                match mine.entry(key) {
                    Entry::Vacant(v) => {
                        v.insert(cells);
                    }
                    Entry::Occupied(mut o) => {
                        for (a, b) in o.get_mut().iter_mut().zip(cells) {
                            a.absorb(b);
                        }
                    }
                }
            }
        }
    }

    /// Takes a measure's cell out of the cube (see [`MeasureCell::subtract`]); false when the
    /// cell was not part of it. A (unit, group) left counting nothing is dropped, so the cube
    /// holds what its records hold, not every cell they ever touched (a stream's open
    /// incidents come and go for years).
    pub fn subtract(
        &mut self,
        unit: Option<i32>,
        groups: &GroupKey,
        measure: usize,
        cell: &MeasureCell,
    ) -> bool {
        let Some(slot) = (self.cells.get_mut(&unit)).and_then(|u| u.get_mut(groups)) else {
            return cell.is_empty();
        };
        if !slot[measure].subtract(cell) {
            return false;
        }
        if slot.iter().all(MeasureCell::is_empty) {
            let of_unit = self.cells.get_mut(&unit).expect("found above");
            of_unit.remove(groups);
            if of_unit.is_empty() {
                self.cells.remove(&unit);
            }
        }
        true
    }

    /// The grain units holding cells, ascending, each once (no-start cells left out).
    pub fn units(&self) -> impl Iterator<Item = i32> + '_ {
        self.cells.keys().filter_map(|u| *u)
    }

    /// Removes every cell of these units (a stream's windows past revision); returns the
    /// earliest removed unit that held records.
    pub fn remove_units(&mut self, units: &[i32]) -> Option<i32> {
        let mut first: Option<i32> = None;
        for &u in units {
            let Some(groups) = self.cells.remove(&Some(u)) else {
                continue;
            };
            if groups.values().flatten().any(|c| c.n_eligible() > 0) {
                first = Some(first.map_or(u, |f| f.min(u)));
            }
        }
        first
    }

    /// Merges every cell of another cube with the same shape.
    pub fn merge(&mut self, other: &Cube) {
        for (unit, groups, cells) in other.cells() {
            for (m, c) in cells.iter().enumerate() {
                self.add_at(unit, groups, m, c);
            }
        }
    }

    /// Every (grain unit, group) cell with its per-measure cells, by unit, groups in no
    /// particular order: for figures over spans no window family covers (the whole input, a
    /// custom period).
    pub fn cells(&self) -> impl Iterator<Item = (Option<i32>, &GroupKey, &[MeasureCell])> + '_ {
        (self.cells.iter())
            .flat_map(|(unit, groups)| groups.iter().map(|(g, c)| (*unit, g, c.as_slice())))
    }

    /// Record counts over every cell, per measure (windowed or not); durations are not
    /// merged, which would copy every histogram in the cube.
    pub fn totals(&self) -> Vec<Totals> {
        let mut out = vec![Totals::default(); self.n_measures];
        for cells in self.cells.values().flat_map(HashMap::values) {
            for (o, c) in out.iter_mut().zip(cells) {
                o.measured += c.hist.count();
                o.counts.merge_counts(c);
            }
        }
        out
    }

    /// Reads the scorecard and ledger for a window family.
    ///
    /// Windows are independent, so they are read in parallel (`opts.threads`), each from
    /// the cube's cells without copying them: a window x level x group's figures come from
    /// the union of its members' histograms ([`Histogram::union_entries`]), which borrows
    /// a lone member and otherwise lives in a per-thread buffer. Memory beyond the cube is
    /// the output rows.
    pub fn scores(&self, policy: &SlaPolicy, opts: &ScoreOptions) -> Scores {
        self.scores_with(&[], policy, opts)
    }

    /// [`Cube::scores`] of this cube and `others` together, as if they were merged into one
    /// (the stream's settled and open cells), without merging them.
    pub fn scores_with(&self, others: &[&Cube], policy: &SlaPolicy, opts: &ScoreOptions) -> Scores {
        self.scores_where(others, policy, opts, &|_| true)
    }

    /// [`Cube::scores_with`] restricted to the windows `keep` accepts (window ids of the
    /// family; `None` is the ledger of records with no start clock). Rows of the kept
    /// windows are exactly those [`Cube::scores_with`] gives for them.
    pub fn scores_where(
        &self,
        others: &[&Cube],
        policy: &SlaPolicy,
        opts: &ScoreOptions,
        keep: &dyn Fn(Option<i32>) -> bool,
    ) -> Scores {
        let kind = opts.window;
        let cubes = self.with_others(others, kind);
        let period = opts
            .period
            .unwrap_or_else(|| Cube::span_of(&cubes).unwrap_or((0, 0)));
        // The members of each window (None: records with no start clock), in window order.
        let mut windows: BTreeMap<Option<i32>, Vec<Member<'_>>> = BTreeMap::new();
        for (unit, groups) in cubes.iter().flat_map(|c| &c.cells) {
            match unit {
                None if keep(None) => windows.entry(None).or_default().extend(groups),
                None => {}
                Some(u) => {
                    for w in kind.windows_of_unit(*u).filter(|w| {
                        keep(Some(*w))
                            && (kind != WindowKind::Rolling12m || inside(kind.bounds(*w), period))
                    }) {
                        windows.entry(Some(w)).or_default().extend(groups);
                    }
                }
            }
        }
        self.read_windows(windows, policy, opts)
    }

    /// [`Cube::scores_with`] of the named windows only (ids of the family; `None` is the
    /// ledger of records with no start clock), reading the cells of those windows' units and no
    /// others: the cost follows the windows read, not the cube's size. Rows of the named
    /// windows are exactly those [`Cube::scores_with`] gives for them.
    pub fn scores_in(
        &self,
        others: &[&Cube],
        policy: &SlaPolicy,
        opts: &ScoreOptions,
        named: &BTreeSet<Option<i32>>,
    ) -> Scores {
        let kind = opts.window;
        let cubes = self.with_others(others, kind);
        // Only rolling windows depend on the data's span.
        let period = (kind == WindowKind::Rolling12m).then(|| {
            opts.period
                .unwrap_or_else(|| Cube::span_of(&cubes).unwrap_or((0, 0)))
        });
        let mut windows: BTreeMap<Option<i32>, Vec<Member<'_>>> = BTreeMap::new();
        for &w in named {
            let mut members = Vec::new();
            match w {
                None => members.extend(cubes.iter().filter_map(|c| c.cells.get(&None)).flatten()),
                Some(w) => {
                    if period.is_some_and(|p| !inside(kind.bounds(w), p)) {
                        continue;
                    }
                    let (lo, hi) = kind.units_of_window(w);
                    for c in &cubes {
                        members.extend(c.cells.range(Some(lo)..=Some(hi)).flat_map(|(_, g)| g));
                    }
                }
            }
            if !members.is_empty() {
                windows.insert(w, members);
            }
        }
        self.read_windows(windows, policy, opts)
    }

    /// This cube and `others`, checked to be of one shape and of the window's grain.
    fn with_others<'a>(&'a self, others: &[&'a Cube], kind: WindowKind) -> Vec<&'a Cube> {
        assert_eq!(
            kind.grain(),
            self.grain,
            "window {kind} needs a {:?} cube",
            kind.grain()
        );
        for c in others {
            assert_eq!(
                (c.grain, &c.group_by, c.n_measures),
                (self.grain, &self.group_by, self.n_measures),
                "cubes read together must have one shape"
            );
        }
        std::iter::once(self)
            .chain(others.iter().copied())
            .collect()
    }

    /// The scores of these windows, each from its members' cells.
    fn read_windows(
        &self,
        windows: BTreeMap<Option<i32>, Vec<Member<'_>>>,
        policy: &SlaPolicy,
        opts: &ScoreOptions,
    ) -> Scores {
        let kind = opts.window;
        let k = self.group_by.len();
        let full: u32 = (1u32 << k) - 1;
        let mut levels: Vec<u32> = if opts.rollups {
            (0..=full).rev().collect()
        } else {
            vec![full]
        };
        // Most detailed first: more kept columns first, then by mask for a stable order.
        levels.sort_by_key(|m| (std::cmp::Reverse(m.count_ones()), std::cmp::Reverse(*m)));
        let windows: Vec<(Option<i32>, Vec<Member<'_>>)> = windows.into_iter().collect();
        let reader = WindowReader {
            kind,
            levels: &levels,
            policy,
            method: opts.method,
        };

        // Workers take windows in turn; each result keeps its window's index, so the output
        // is in window order whatever the scheduling.
        let threads = opts.threads.max(1).min(windows.len().max(1));
        let next = AtomicUsize::new(0);
        let work = || {
            let mut buf = UnionScratch::default();
            let mut done = Vec::new();
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                let Some((w, members)) = windows.get(i) else {
                    break;
                };
                done.push((i, reader.read(*w, members, &mut buf)));
            }
            done
        };
        let mut parts: Vec<(usize, WindowRows)> = if threads == 1 {
            work()
        } else {
            std::thread::scope(|s| {
                let handles: Vec<_> = (0..threads).map(|_| s.spawn(work)).collect();
                handles
                    .into_iter()
                    .flat_map(|h| h.join().unwrap_or_else(|e| std::panic::resume_unwind(e)))
                    .collect()
            })
        };
        parts.sort_unstable_by_key(|p| p.0);
        // Sized once: grown by doubling, the rows' vector held up to twice their bytes (tens
        // of MiB at 10M records) at the end of a run, when its memory peaks.
        let mut rows = Vec::with_capacity(parts.iter().map(|p| p.1.0.len()).sum());
        let mut ledger = Vec::with_capacity(parts.iter().map(|p| p.1.1.len()).sum());
        for (_, (r, l)) in parts {
            rows.extend(r);
            ledger.extend(l);
        }
        Scores {
            window: kind,
            group_by: self.group_by.clone(),
            levels,
            rows,
            ledger,
        }
    }

    /// The days the records of several cubes span (see [`Cube::scores`]'s `period`).
    pub fn span_of(cubes: &[&Cube]) -> Option<DayRange> {
        let spans = cubes.iter().filter_map(|c| c.data_span());
        Some((spans.clone().map(|s| s.0).min()?, spans.map(|s| s.1).max()?))
    }

    /// `[first day of the first unit, first day after the last unit)` over windowed cells.
    /// Units are in order, so only the ends are looked at (and any emptied units there).
    fn data_span(&self) -> Option<DayRange> {
        // Cells emptied by `subtract` do not count: the span is where records are.
        let held = |(u, groups): (&Option<i32>, &UnitCells)| {
            u.filter(|_| groups.values().flatten().any(|c| c.n_eligible() > 0))
        };
        let lo = self.cells.iter().find_map(held)?;
        let hi = self.cells.iter().rev().find_map(held)?;
        Some((self.grain.first_day(lo), self.grain.first_day(hi + 1)))
    }
}

fn inside(window: DayRange, period: DayRange) -> bool {
    window.0 >= period.0 && window.1 <= period.1
}

/// A cube cell that falls in a window: its group and its per-measure cells.
type Member<'a> = (&'a GroupKey, &'a Vec<MeasureCell>);

/// A window's scorecard and ledger rows.
type WindowRows = (Vec<ScoreRow>, Vec<LedgerRow>);

/// What [`Cube::scores`] needs to read one window.
struct WindowReader<'a> {
    kind: WindowKind,
    levels: &'a [u32],
    policy: &'a SlaPolicy,
    method: PercentileMethod,
}

impl WindowReader<'_> {
    /// The rows of one window, by level, then group, then measure.
    fn read(&self, w: Option<i32>, members: &[Member<'_>], buf: &mut UnionScratch) -> WindowRows {
        let window = w.map(|w| self.kind.bounds(w));
        let mut rows = Vec::new();
        let mut ledger = Vec::new();
        for (level, &mask) in self.levels.iter().enumerate() {
            // Keyed by borrowed names, in the order of the owned keys: a key is owned once per
            // group of the level, not once per member cell.
            let mut groups: BTreeMap<Vec<Option<&str>>, Vec<&[MeasureCell]>> = BTreeMap::new();
            for (g, cells) in members {
                let key = (g.iter().enumerate())
                    .map(|(i, v)| v.as_deref().filter(|_| mask & (1 << i) != 0))
                    .collect();
                groups.entry(key).or_default().push(cells.as_slice());
            }
            for (key, parts) in groups {
                let groups: GroupKey = key.iter().map(|v| v.map(str::to_owned)).collect();
                for (mi, measure) in self.policy.measures.iter().enumerate() {
                    let mut counts = MeasureCell::default();
                    let mut hists = Vec::with_capacity(parts.len());
                    for p in &parts {
                        counts.merge_counts(&p[mi]);
                        hists.push(&p[mi].hist);
                    }
                    for (reason, count) in counts.exclusions() {
                        ledger.push(LedgerRow {
                            window,
                            level,
                            groups: groups.clone(),
                            measure: mi,
                            reason,
                            count,
                        });
                    }
                    let n_measured: u64 = hists.iter().map(|h| h.count()).sum();
                    let n_excluded = counts.n_excluded();
                    let Some(window) = window else { continue };
                    if n_measured + n_excluded == 0 {
                        continue;
                    }
                    let entries = Histogram::union_entries(&hists, buf);
                    rows.push(ScoreRow {
                        window,
                        level,
                        groups: groups.clone(),
                        measure: mi,
                        n_eligible: n_measured + n_excluded,
                        n_excluded,
                        summary: Summary::of_entries(
                            entries,
                            n_measured,
                            measure.threshold,
                            &measure.percentiles,
                            self.method,
                        ),
                        ambiguous_local: counts.ambiguous_local,
                        skipped_local: counts.skipped_local,
                    });
                }
            }
        }
        (rows, ledger)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::calendar::day_of_ymd;

    fn policy() -> SlaPolicy {
        SlaPolicy::from_toml(
            "[[measure]]\nid = \"m\"\nstart = \"a\"\nstop = \"b\"\nthreshold = \"10s\"\npercentiles = [0.5]\n",
            "test",
        )
        .unwrap()
    }

    fn cell(values: &[i64]) -> MeasureCell {
        MeasureCell {
            hist: Histogram::from_values(values.iter().copied()),
            ..Default::default()
        }
    }

    #[test]
    fn rollups_and_windows_merge_cells() {
        let mut cube = Cube::new(Grain::Month, vec!["borough".into(), "grade".into()], 1);
        let jan = Grain::Month.unit_of_day(day_of_ymd(2024, 1, 10));
        let g = |b: &str, gr: &str| vec![Some(b.to_string()), Some(gr.to_string())];
        cube.add(Some(jan), g("A", "I"), 0, &cell(&[1, 2]));
        cube.add(Some(jan), g("B", "I"), 0, &cell(&[30]));
        cube.add(Some(jan + 1), g("A", "S"), 0, &cell(&[5]));
        let mut missing = MeasureCell::default();
        missing.exclude(Exclusion::MissingStart);
        cube.add(None, g("A", "I"), 0, &missing);
        let opts = ScoreOptions {
            window: WindowKind::Quarter,
            method: PercentileMethod::Linear,
            rollups: true,
            period: None,
            threads: 2,
        };
        let r = cube.scores(&policy(), &opts);
        assert_eq!(
            (0..r.levels.len())
                .map(|l| r.level_name(l))
                .collect::<Vec<_>>(),
            vec!["borough+grade", "grade", "borough", "all"]
        );
        let all: Vec<_> = r
            .rows
            .iter()
            .filter(|x| r.level_name(x.level) == ALL_LEVEL)
            .collect();
        assert_eq!(all.len(), 1);
        assert_eq!(all[0].summary.n_measured, 4);
        assert_eq!(all[0].summary.n_within, 3);
        assert_eq!(
            all[0].window,
            (day_of_ymd(2024, 1, 1), day_of_ymd(2024, 4, 1))
        );
        // The missing-start record is in the ledger with no window, at every level.
        let unwindowed: Vec<_> = r.ledger.iter().filter(|l| l.window.is_none()).collect();
        assert_eq!(unwindowed.len(), 4);
        assert!(
            unwindowed
                .iter()
                .all(|l| l.reason == Exclusion::MissingStart && l.count == 1)
        );
    }

    /// Adding with a borrowed key gives the cube adding with an owned one gives, for keys
    /// seen before and new ones, in any measure.
    #[test]
    fn adding_with_a_borrowed_key_equals_adding_with_an_owned_one() {
        let g = |b: &str| vec![Some(b.to_string()), None];
        let adds = [
            (Some(3), g("A"), 0, cell(&[1, 2])),
            (Some(3), g("A"), 1, cell(&[9])),
            (Some(3), g("B"), 0, cell(&[4])),
            (Some(4), g("A"), 0, cell(&[5])),
            (None, g("A"), 1, cell(&[])),
            (Some(3), g("A"), 0, cell(&[2, 7])),
        ];
        let (mut owned, mut borrowed) = (
            Cube::new(Grain::Month, vec!["borough".into(), "grade".into()], 2),
            Cube::new(Grain::Month, vec!["borough".into(), "grade".into()], 2),
        );
        for (unit, key, m, c) in &adds {
            owned.add(*unit, key.clone(), *m, c);
            borrowed.add_at(*unit, key, *m, c);
        }
        let all = |c: &Cube| {
            let mut v: Vec<_> = c
                .cells()
                .map(|(u, k, cells)| (u, k.clone(), cells.to_vec()))
                .collect();
            v.sort_by(|a, b| (a.0, &a.1).cmp(&(b.0, &b.1)));
            v
        };
        assert_eq!(all(&owned).len(), 4);
        assert_eq!(all(&owned), all(&borrowed));
    }

    /// Reading named windows reads their units' cells only, and gives the rows the whole
    /// scores have for them; a cell subtracted to nothing leaves the cube.
    #[test]
    fn named_windows_read_only_their_units_and_emptied_cells_leave() {
        let mut cube = Cube::new(Grain::Month, vec!["borough".into()], 1);
        let mut open = Cube::new(Grain::Month, vec!["borough".into()], 1);
        let jan = Grain::Month.unit_of_day(day_of_ymd(2024, 1, 10));
        let g = |b: &str| vec![Some(b.to_string())];
        for u in jan..jan + 9 {
            cube.add(Some(u), g("A"), 0, &cell(&[u as i64, 3]));
            cube.add(Some(u), g("B"), 0, &cell(&[7]));
        }
        open.add(Some(jan + 4), g("C"), 0, &cell(&[1]));
        let mut missing = MeasureCell::default();
        missing.exclude(Exclusion::MissingStop);
        open.add(None, g("A"), 0, &missing);
        for (window, rolling) in [
            (WindowKind::Month, false),
            (WindowKind::Quarter, false),
            (WindowKind::Rolling12m, true),
        ] {
            let opts = ScoreOptions {
                window,
                method: PercentileMethod::Linear,
                rollups: true,
                period: rolling.then_some((day_of_ymd(2023, 1, 1), day_of_ymd(2025, 1, 1))),
                threads: 1,
            };
            let named: BTreeSet<Option<i32>> =
                [None, Some(window.windows_of_unit(jan + 4).next().unwrap())].into();
            let part = cube.scores_in(&[&open], &policy(), &opts, &named);
            let whole = cube.scores_where(&[&open], &policy(), &opts, &|w| named.contains(&w));
            assert_eq!(part, whole, "{window}");
            assert!(!part.rows.is_empty() && !part.ledger.is_empty(), "{window}");
        }
        assert_eq!(open.len(), 2);
        assert!(open.subtract(Some(jan + 4), &g("C"), 0, &cell(&[1])));
        assert!(open.subtract(None, &g("A"), 0, &missing));
        assert!(open.is_empty() && Cube::span_of(&[&open]).is_none());
        // A cell not held subtracts only when it counts nothing.
        assert!(open.subtract(Some(jan), &g("A"), 0, &MeasureCell::default()));
        assert!(!open.subtract(Some(jan), &g("A"), 0, &cell(&[1])));
        assert_eq!(
            cube.units().collect::<Vec<_>>(),
            (jan..jan + 9).collect::<Vec<_>>()
        );
        assert_eq!(cube.remove_units(&[jan, jan + 1, jan + 20]), Some(jan));
        assert_eq!(
            Cube::span_of(&[&cube]),
            Some((day_of_ymd(2024, 3, 1), day_of_ymd(2024, 10, 1)))
        );
    }

    #[test]
    fn rolling_windows_must_fit_the_period() {
        let mut cube = Cube::new(Grain::Month, vec![], 1);
        let jan = Grain::Month.unit_of_day(day_of_ymd(2023, 1, 1));
        for u in jan..jan + 14 {
            cube.add(Some(u), vec![], 0, &cell(&[u as i64]));
        }
        let opts = ScoreOptions {
            window: WindowKind::Rolling12m,
            method: PercentileMethod::Linear,
            rollups: true,
            period: None,
            threads: 2,
        };
        let r = cube.scores(&policy(), &opts);
        // 14 months of data hold 3 whole rolling years: ending Dec, Jan, Feb.
        assert_eq!(r.rows.len(), 3);
        assert!(r.rows.iter().all(|x| x.summary.n_measured == 12));
    }
}
