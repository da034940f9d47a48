//! The histogram cube: one [`MeasureCell`] per grain unit x group x measure, and the
//! scorecard read off it by merging cells into windows and rollups.

use std::collections::{BTreeMap, HashMap};

use crate::calendar::{Grain, WindowKind};
use crate::hist::{Exclusion, MeasureCell};
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
    /// `None` unit: records with no start clock, which fall in no window.
    cells: HashMap<(Option<i32>, GroupKey), Vec<MeasureCell>>,
}

/// One scorecard row before it becomes Arrow.
#[derive(Debug, Clone, PartialEq)]
pub struct ScoreRow {
    /// The window's days.
    pub window: DayRange,
    /// Index into [`Report::levels`].
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
    /// Index into [`Report::levels`].
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

/// A scorecard and its exclusions ledger.
#[derive(Debug, Clone, PartialEq)]
pub struct Report {
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

impl Report {
    /// The `level` column's text: kept columns joined by `+`, or `all`.
    pub fn level_name(&self, level: usize) -> String {
        level_name(&self.group_by, self.levels[level])
    }
}

/// Text for a level mask.
pub fn level_name(group_by: &[String], mask: u32) -> String {
    let kept: Vec<&str> = group_by
        .iter()
        .enumerate()
        .filter(|(i, _)| mask & (1 << i) != 0)
        .map(|(_, c)| c.as_str())
        .collect();
    if kept.is_empty() {
        "all".to_string()
    } else {
        kept.join("+")
    }
}

/// Options of [`Cube::report`].
#[derive(Debug, Clone, Copy)]
pub struct ReportOptions {
    /// The window family.
    pub window: WindowKind,
    /// Percentile definition.
    pub method: PercentileMethod,
    /// Whether to add rollup levels (every subset of the group-by columns).
    pub rollups: bool,
    /// The period asked for; rolling windows are emitted only when they lie wholly inside it.
    /// `None`: the span of the data's grain units.
    pub period: Option<DayRange>,
}

impl Cube {
    /// An empty cube.
    pub fn new(grain: Grain, group_by: Vec<String>, n_measures: usize) -> Self {
        Cube {
            grain,
            group_by,
            n_measures,
            cells: HashMap::new(),
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
        self.cells.len()
    }

    /// Whether the cube holds no cell.
    pub fn is_empty(&self) -> bool {
        self.cells.is_empty()
    }

    /// Merges a measure's cell into the cube.
    pub fn add(&mut self, unit: Option<i32>, groups: GroupKey, measure: usize, cell: &MeasureCell) {
        debug_assert_eq!(groups.len(), self.group_by.len());
        let n = self.n_measures;
        let slot = self
            .cells
            .entry((unit, groups))
            .or_insert_with(|| vec![MeasureCell::default(); n]);
        slot[measure].merge(cell);
    }

    /// Takes a measure's cell out of the cube (see [`MeasureCell::subtract`]); false when the
    /// cell was not part of it.
    pub fn subtract(
        &mut self,
        unit: Option<i32>,
        groups: &GroupKey,
        measure: usize,
        cell: &MeasureCell,
    ) -> bool {
        match self.cells.get_mut(&(unit, groups.clone())) {
            Some(slot) => slot[measure].subtract(cell),
            None => cell.n_eligible() == 0 && cell.ambiguous_local == 0 && cell.skipped_local == 0,
        }
    }

    /// Merges every cell of another cube with the same shape.
    pub fn merge(&mut self, other: &Cube) {
        for ((unit, groups), cells) in &other.cells {
            for (m, c) in cells.iter().enumerate() {
                self.add(*unit, groups.clone(), m, c);
            }
        }
    }

    /// Every (grain unit, group) cell with its per-measure cells, in no particular order: for
    /// figures over spans no window family covers (the whole input, a custom period).
    pub fn cells(&self) -> impl Iterator<Item = (Option<i32>, &GroupKey, &[MeasureCell])> + '_ {
        self.cells
            .iter()
            .map(|((unit, g), c)| (*unit, g, c.as_slice()))
    }

    /// Totals over every cell, per measure (windowed or not).
    pub fn totals(&self) -> Vec<MeasureCell> {
        let mut out = vec![MeasureCell::default(); self.n_measures];
        for cells in self.cells.values() {
            for (o, c) in out.iter_mut().zip(cells) {
                o.merge(c);
            }
        }
        out
    }

    /// Reads the scorecard and ledger for a window family.
    pub fn report(&self, policy: &SlaPolicy, opts: &ReportOptions) -> Report {
        let kind = opts.window;
        assert_eq!(
            kind.grain(),
            self.grain,
            "window {kind} needs a {:?} cube",
            kind.grain()
        );
        let k = self.group_by.len();
        let full: u32 = (1u32 << k) - 1;
        let mut levels: Vec<u32> = if opts.rollups {
            (0..=full).rev().collect()
        } else {
            vec![full]
        };
        // Most detailed first: more kept columns first, then by mask for a stable order.
        levels.sort_by_key(|m| (std::cmp::Reverse(m.count_ones()), std::cmp::Reverse(*m)));

        let period = opts.period.unwrap_or_else(|| self.data_span());
        // (window id or None, level, groups) -> per-measure cells.
        type Key = (Option<i32>, usize, GroupKey);
        let mut merged: BTreeMap<Key, Vec<MeasureCell>> = BTreeMap::new();
        for ((unit, groups), cells) in &self.cells {
            let windows: Vec<Option<i32>> = match unit {
                None => vec![None],
                Some(u) => kind
                    .windows_of_unit(*u)
                    .filter(|w| kind != WindowKind::Rolling12m || inside(kind.bounds(*w), period))
                    .map(Some)
                    .collect(),
            };
            for (li, &mask) in levels.iter().enumerate() {
                let key: GroupKey = groups
                    .iter()
                    .enumerate()
                    .map(|(i, g)| {
                        if mask & (1 << i) != 0 {
                            g.clone()
                        } else {
                            None
                        }
                    })
                    .collect();
                for w in &windows {
                    let slot = merged
                        .entry((*w, li, key.clone()))
                        .or_insert_with(|| vec![MeasureCell::default(); self.n_measures]);
                    for (s, c) in slot.iter_mut().zip(cells) {
                        s.merge(c);
                    }
                }
            }
        }

        let mut rows = Vec::new();
        let mut ledger = Vec::new();
        for ((w, level, groups), cells) in merged {
            let window = w.map(|w| kind.bounds(w));
            for (mi, (cell, measure)) in cells.iter().zip(&policy.measures).enumerate() {
                for (reason, count) in cell.exclusions() {
                    ledger.push(LedgerRow {
                        window,
                        level,
                        groups: groups.clone(),
                        measure: mi,
                        reason,
                        count,
                    });
                }
                let (Some(window), true) = (window, cell.n_eligible() > 0) else {
                    continue;
                };
                rows.push(ScoreRow {
                    window,
                    level,
                    groups: groups.clone(),
                    measure: mi,
                    n_eligible: cell.n_eligible(),
                    n_excluded: cell.n_excluded(),
                    summary: Summary::of(
                        &cell.hist,
                        measure.threshold_secs,
                        &measure.percentiles,
                        opts.method,
                    ),
                    ambiguous_local: cell.ambiguous_local,
                    skipped_local: cell.skipped_local,
                });
            }
        }
        Report {
            window: kind,
            group_by: self.group_by.clone(),
            levels,
            rows,
            ledger,
        }
    }

    /// `[first day of the first unit, first day after the last unit)` over windowed cells.
    fn data_span(&self) -> DayRange {
        // Cells emptied by `subtract` do not count: the span is where records are.
        let units = self
            .cells
            .iter()
            .filter(|(_, cells)| cells.iter().any(|c| c.n_eligible() > 0))
            .filter_map(|((u, _), _)| *u);
        match (units.clone().min(), units.max()) {
            (Some(lo), Some(hi)) => (self.grain.first_day(lo), self.grain.first_day(hi + 1)),
            _ => (0, 0),
        }
    }
}

fn inside(window: DayRange, period: DayRange) -> bool {
    window.0 >= period.0 && window.1 <= period.1
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::calendar::day_of_ymd;
    use crate::hist::Histogram;

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
        let opts = ReportOptions {
            window: WindowKind::Quarter,
            method: PercentileMethod::Linear,
            rollups: true,
            period: None,
        };
        let r = cube.report(&policy(), &opts);
        assert_eq!(
            (0..r.levels.len())
                .map(|l| r.level_name(l))
                .collect::<Vec<_>>(),
            vec!["borough+grade", "grade", "borough", "all"]
        );
        let all: Vec<_> = r
            .rows
            .iter()
            .filter(|x| r.level_name(x.level) == "all")
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

    #[test]
    fn rolling_windows_must_fit_the_period() {
        let mut cube = Cube::new(Grain::Month, vec![], 1);
        let jan = Grain::Month.unit_of_day(day_of_ymd(2023, 1, 1));
        for u in jan..jan + 14 {
            cube.add(Some(u), vec![], 0, &cell(&[u as i64]));
        }
        let opts = ReportOptions {
            window: WindowKind::Rolling12m,
            method: PercentileMethod::Linear,
            rollups: true,
            period: None,
        };
        let r = cube.report(&policy(), &opts);
        // 14 months of data hold 3 whole rolling years: ending Dec, Jan, Feb.
        assert_eq!(r.rows.len(), 3);
        assert!(r.rows.iter().all(|x| x.summary.n_measured == 12));
    }
}
