//! The stream's state: open incidents, the settled cube, the watermark, and what has been
//! emitted. Cells are computed by the batch engine's own plan, so a settled window's figures
//! are those `slate run` gives for the same records.

use std::cell::Cell;
use std::collections::hash_map::DefaultHasher;
use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::hash::{Hash, Hasher};
use std::sync::atomic::{AtomicU64, Ordering};

use serde::{Deserialize, Serialize};
use slate_core::cube::{DayRange, LedgerRow, ScoreRow};
use slate_core::{Cube, GroupKey, MeasureCell, ScoreOptions, Scores, SlaPolicy, WindowKind};
use slate_engine::{RowCellsEval, ScorecardOptions, cells_of_batches};

use crate::error::Result;
use crate::update::{ALL_CLOCKS, Clocks, N_CLOCKS, Update, clock_index, to_batch, update_schema};

/// What to do with an update whose windows are already final.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum LateMode {
    /// Apply it and emit a new revision of the affected windows (settled records are kept).
    Revise,
    /// Leave the figures alone and count the update in the late-data ledger.
    Drop,
}

/// Settings of a stream.
#[derive(Debug, Clone)]
pub struct StreamConfig {
    /// The policy.
    pub policy: SlaPolicy,
    /// Window, groups, zone, percentile method, rollups (`from`/`to` are ignored).
    pub opts: ScorecardOptions,
    /// Watermark = largest event time seen minus this.
    pub lateness_us: i64,
    /// A window is final once the watermark passes its end plus this.
    pub settle_us: i64,
    /// Provisional results each time the watermark has advanced this much.
    pub emit_every_us: i64,
    /// Late-update handling.
    pub late: LateMode,
    /// How long after a window is final a late update still revises it (`None`: forever).
    /// Past it the window is frozen: its cells and the settled records that fed it are
    /// dropped from memory (its figures stay in its `latest/` file), and an update that would
    /// change it goes to the late ledger ([`LateReason::PastHorizon`]).
    pub revise_horizon_us: Option<i64>,
    /// How a text update's naive clocks in a repeated hour are read, decided per update
    /// ([`crate::source::TextClocks`]); naive Parquet clocks are always the earlier instant.
    pub ambiguous: slate_core::Ambiguous,
}

impl StreamConfig {
    /// Whether window `w` is frozen once windows were last frozen at watermark `frozen_wm`:
    /// final for longer than the revise horizon. A function of the configuration and one
    /// number, so the output writer can ask it on its own thread.
    pub fn frozen_at(&self, w: DayRange, frozen_wm: i64) -> bool {
        self.revise_horizon_us.is_some_and(|h| {
            self.midnight_us(w.1)
                .saturating_add(self.settle_us)
                .saturating_add(h)
                <= frozen_wm
        })
    }

    /// The instant (µs) of local midnight starting `day`.
    fn midnight_us(&self, day: i32) -> i64 {
        self.opts.tz.local_to_instant(i64::from(day) * 86_400).0 * 1_000_000
    }
}

/// Why an update went to the late ledger.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum LateReason {
    /// Its windows were final (drop mode).
    #[default]
    Final,
    /// Its windows were final for longer than the revise horizon.
    PastHorizon,
}

impl LateReason {
    /// The ledger's wording.
    pub fn as_str(self) -> &'static str {
        match self {
            LateReason::Final => "window final",
            LateReason::PastHorizon => "past revise horizon",
        }
    }
}

/// An update that arrived after its windows were final and was dropped.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LateUpdate {
    /// The incident.
    pub incident_id: String,
    /// Its event time (µs), if it carried a clock.
    pub event_us: Option<i64>,
    /// Why.
    #[serde(default)]
    pub reason: LateReason,
}

/// One emission: scorecard rows of the windows that changed or became final, and the
/// windows whose current figures changed.
#[derive(Debug, Clone)]
pub struct Emission {
    /// Emission number, from 1; `None` when no window is emitted (only `changed`).
    pub seq: Option<u64>,
    /// The scores, restricted to the emitted windows.
    pub scores: Scores,
    /// Per emitted row: is its window final, and its revision.
    pub flags: Vec<(bool, u32)>,
    /// Windows whose current rows changed, each as the scores of that window alone (no rows:
    /// the window has none now); `None` is the ledger of records with no start clock.
    pub changed: Vec<(Option<DayRange>, Scores)>,
    /// Whether `changed` holds every window not frozen (the first emission of a run, or, with
    /// rolling windows, the data's span moved): a window not frozen and not in it has no rows.
    pub full: bool,
    /// The watermark at emission (µs).
    pub watermark_us: i64,
}

/// A window, as its `[start, end)` local days.
type WindowId = (i32, i32);

/// The stream's whole state; everything in it is checkpointed.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct State {
    /// Updates consumed from the source.
    pub position: u64,
    /// Largest event time seen.
    pub max_event_us: Option<i64>,
    /// Current watermark.
    pub watermark_us: i64,
    last_emit_wm: Option<i64>,
    /// Emissions so far.
    pub seq: u64,
    open: FxMap<String, Update>,
    /// (deadline, id); entries whose record has moved on are skipped when popped.
    deadlines: BTreeSet<(i64, String)>,
    /// Hashes of settled incident ids (drop mode): a later update for one is late.
    settled_ids: HashSet<u64>,
    /// Settled records (revise mode), to retract their cells when revised.
    settled: FxMap<String, Update>,
    /// Settled cells: (unit, groups, per-measure cells, hex-encoded).
    cells: Vec<(Option<i32>, GroupKey, Vec<String>)>,
    #[serde(with = "as_pairs")]
    revisions: BTreeMap<WindowId, u32>,
    announced_final: BTreeSet<WindowId>,
    dirty_units: BTreeSet<i32>,
    /// Dropped late updates.
    pub late: Vec<LateUpdate>,
    /// Late updates applied as revisions.
    pub revised: u64,
    /// Whether the source ended and everything was settled.
    pub done: bool,
    /// (when to forget, id) of settled incidents, with a revise horizon: past it every
    /// window the record feeds is frozen, and the record (or its id) is dropped.
    #[serde(default)]
    forget: BTreeSet<(i64, String)>,
    /// The watermark at which windows were last frozen: a window is frozen once this passes
    /// its end plus settle plus the revise horizon.
    #[serde(default = "min_i64")]
    frozen_wm: i64,
    /// First day of the earliest dropped unit that held records: the data's span still
    /// starts there (it decides which rolling windows show).
    #[serde(default)]
    dropped_from: Option<i32>,
}

fn min_i64() -> i64 {
    i64::MIN
}

/// The multiply-rotate hash rustc uses (FxHash): the id-keyed maps are probed on every update
/// and SipHash was a visible share of that; ids come from the CAD feed, not an adversary.
#[derive(Default, Clone, Copy)]
pub struct FxHasher(u64);

impl Hasher for FxHasher {
    fn write(&mut self, bytes: &[u8]) {
        const K: u64 = 0x51_7c_c1_b7_27_22_0a_95;
        let mut chunks = bytes.chunks_exact(8);
        for c in &mut chunks {
            let w = u64::from_le_bytes(c.try_into().expect("8 bytes"));
            self.0 = (self.0.rotate_left(5) ^ w).wrapping_mul(K);
        }
        for &b in chunks.remainder() {
            self.0 = (self.0.rotate_left(5) ^ u64::from(b)).wrapping_mul(K);
        }
    }

    fn write_u8(&mut self, b: u8) {
        self.write(&[b]);
    }

    fn finish(&self) -> u64 {
        self.0
    }
}

/// Builds [`FxHasher`]s.
pub type FxBuild = std::hash::BuildHasherDefault<FxHasher>;
/// A map keyed by incident id.
pub type FxMap<K, V> = HashMap<K, V, FxBuild>;

fn id_hash(id: &str) -> u64 {
    let mut h = DefaultHasher::new();
    id.hash(&mut h);
    h.finish()
}

impl Default for State {
    fn default() -> Self {
        State {
            position: 0,
            max_event_us: None,
            watermark_us: i64::MIN,
            last_emit_wm: None,
            seq: 0,
            open: FxMap::default(),
            deadlines: BTreeSet::new(),
            settled_ids: HashSet::new(),
            settled: FxMap::default(),
            cells: Vec::new(),
            revisions: BTreeMap::new(),
            announced_final: BTreeSet::new(),
            dirty_units: BTreeSet::new(),
            late: Vec::new(),
            revised: 0,
            done: false,
            forget: BTreeSet::new(),
            frozen_wm: i64::MIN,
            dropped_from: None,
        }
    }
}

/// One open incident's cells as of the last emission.
type Contribution = Vec<(Option<i32>, GroupKey, usize, MeasureCell)>;

/// The live processor: state plus the settled cube, decoded.
pub struct Processor {
    cfg: StreamConfig,
    /// Checkpointable state (the cube is encoded into it on `snapshot`).
    pub state: State,
    cube: Cube,
    start_cols: Vec<usize>,
    /// Cells of the open incidents as of the last emission, and each one's share, so that an
    /// emission recomputes only the incidents changed since (derived, not checkpointed).
    open_cube: Cube,
    contrib: FxMap<String, Contribution>,
    changed: HashSet<String, FxBuild>,
    /// The policy's per-row expressions, planned once for the update schema.
    row_eval: RowCellsEval,
    /// The current rows of every window not frozen, and the days the data spanned (derived).
    latest: Option<Latest>,
    /// This processor's key in the per-thread unit caches (below).
    cache_id: u64,
}

static NEXT_CACHE_ID: AtomicU64 = AtomicU64::new(1);

thread_local! {
    /// For the processor keyed: instants `[from, until)` (µs) known to fall in one grain
    /// unit, and that unit; and the last unit whose end was asked for, with its end (µs).
    /// Updates come roughly in time order, so most look-ups hit: a zone search per clock was
    /// a tenth of a replay. Per thread, so the processor stays `Sync` without a lock.
    static UNIT_CACHE: Cell<(u64, i64, i64, i32)> = const { Cell::new((0, 0, 0, 0)) };
    static END_CACHE: Cell<(u64, i32, i64)> = const { Cell::new((0, 0, 0)) };
}

/// A window's scorecard rows and ledger rows.
type WindowRows = (Vec<ScoreRow>, Vec<LedgerRow>);

/// The current scores, per window (`None`: the no-start ledger).
struct Latest {
    windows: BTreeMap<Option<DayRange>, WindowRows>,
    span: Option<DayRange>,
    /// The scores' shape (window kind, groups, levels).
    shape: Scores,
}

impl Processor {
    /// A processor from a (possibly restored) state.
    pub fn new(cfg: StreamConfig, state: State) -> Result<Self> {
        cfg.opts.check()?;
        // Updates carry every clock a policy can name (the optional promise clocks too); a
        // clock arriving after its incident settled revises it (or is late, in drop mode).
        for m in &cfg.policy.measures {
            for c in [&m.start, &m.stop] {
                if clock_index(c).is_none() {
                    return Err(crate::Error::Unsupported(format!(
                        "policy {:?}, measure {:?}: {c:?} is not a clock the stream carries ({})",
                        cfg.policy.name,
                        m.id,
                        ALL_CLOCKS.join(", ")
                    )));
                }
            }
        }
        let n = cfg.policy.measures.len();
        let mut cube = Cube::new(cfg.opts.window.grain(), cfg.opts.group_by.clone(), n);
        for (unit, groups, cells) in &state.cells {
            for (m, bytes) in cells.iter().enumerate() {
                cube.add(
                    *unit,
                    groups.clone(),
                    m,
                    &MeasureCell::decode(&unhex(bytes)?)?,
                );
            }
        }
        let mut start_cols: Vec<usize> = cfg
            .policy
            .measures
            .iter()
            .filter_map(|m| clock_index(&m.start))
            .collect();
        start_cols.sort_unstable();
        start_cols.dedup();
        let mut state = state;
        state.cells.clear();
        let open_cube = Cube::new(cfg.opts.window.grain(), cfg.opts.group_by.clone(), n);
        let changed = state.open.keys().cloned().collect();
        let row_eval = RowCellsEval::new(update_schema(), &cfg.policy, &cfg.opts)?;
        Ok(Processor {
            row_eval,
            cfg,
            state,
            cube,
            start_cols,
            cache_id: NEXT_CACHE_ID.fetch_add(1, Ordering::Relaxed),
            open_cube,
            contrib: FxMap::default(),
            changed,
            latest: None,
        })
    }

    /// State with the cube encoded, for a checkpoint.
    pub fn snapshot(&self) -> State {
        let mut s = self.state.clone();
        s.cells = self
            .cube
            .cells()
            .map(|(u, g, cells)| {
                let enc = cells
                    .iter()
                    .map(|c| {
                        let mut b = Vec::new();
                        c.encode(&mut b);
                        hex(&b)
                    })
                    .collect();
                (u, g.clone(), enc)
            })
            .collect();
        s
    }

    fn tz(&self) -> &slate_core::TzRules {
        &self.cfg.opts.tz
    }

    fn unit_of_us(&self, us: i64) -> i32 {
        let (id, from, until, unit) = UNIT_CACHE.get();
        if id == self.cache_id && (from..until).contains(&us) {
            return unit;
        }
        let t = us.div_euclid(1_000_000);
        // Within one span of the zone's offset, local time runs with the instant, so the
        // instants of the unit's local days there share the unit (exact even where clocks go
        // back across midnight: that is another span).
        let (off, span_from, span_until) = self.tz().offset_span(t);
        let off = i64::from(off);
        let grain = self.cfg.opts.window.grain();
        let unit = grain.unit_of_day((t + off).div_euclid(86_400) as i32);
        let local = |day: i32| i64::from(day) * 86_400 - off;
        let from = local(grain.first_day(unit)).max(span_from);
        let until = local(grain.first_day(unit + 1)).min(span_until);
        let us_of = |s: i64| s.saturating_mul(1_000_000);
        UNIT_CACHE.set((self.cache_id, us_of(from), us_of(until), unit));
        unit
    }

    /// The instant (µs) of local midnight starting `day`.
    fn midnight_us(&self, day: i32) -> i64 {
        self.cfg.midnight_us(day)
    }

    fn unit_end_us(&self, unit: i32) -> i64 {
        let (id, u, end) = END_CACHE.get();
        if id == self.cache_id && u == unit {
            return end;
        }
        let end = self.midnight_us(self.cfg.opts.window.grain().first_day(unit + 1));
        END_CACHE.set((self.cache_id, unit, end));
        end
    }

    /// When a record settles: the end of the unit of its earliest start clock (or, with none,
    /// of its earliest clock) plus the settle time. Every clock of an incident is expected
    /// within `settle` of the end of that unit.
    fn deadline(&self, r: &Update) -> i64 {
        self.deadline_of(&r.all_clocks())
    }

    /// [`Processor::deadline`] of a record with these clocks.
    fn deadline_of(&self, clocks: &Clocks) -> i64 {
        let starts = self.start_cols.iter().filter_map(|&k| clocks[k]).min();
        match starts.or_else(|| clocks.iter().flatten().copied().min()) {
            Some(t) => self
                .unit_end_us(self.unit_of_us(t))
                .saturating_add(self.cfg.settle_us),
            None => i64::MIN,
        }
    }

    fn mark_dirty(&mut self, clocks: &Clocks) {
        for &k in &self.start_cols {
            if let Some(t) = clocks[k] {
                let u = self.unit_of_us(t);
                self.state.dirty_units.insert(u);
            }
        }
    }

    /// Whether a window is frozen: final for longer than the revise horizon, as of the last
    /// freeze (windows freeze at emissions, after their final figures are out).
    fn frozen(&self, w: DayRange) -> bool {
        self.cfg.frozen_at(w, self.state.frozen_wm)
    }

    /// Whether a record's cells would fall in a frozen window (any window of any unit of its
    /// start clocks); a record with no start clock falls in none, and is past the horizon
    /// once it would have been forgotten.
    fn touches_frozen(&self, clocks: &Clocks) -> bool {
        if self.cfg.revise_horizon_us.is_none() {
            return false;
        }
        let kind = self.cfg.opts.window;
        let mut any_start = false;
        for &k in &self.start_cols {
            if let Some(t) = clocks[k] {
                any_start = true;
                let u = self.unit_of_us(t);
                if kind.windows_of_unit(u).any(|w| self.frozen(kind.bounds(w))) {
                    return true;
                }
            }
        }
        !any_start && self.forget_at(clocks) <= self.state.frozen_wm
    }

    /// When a settled record can be forgotten: once every window its cells fall in is frozen
    /// (the end of the last window of any of its start clocks' units, or with none of its
    /// clocks' units, plus settle plus the horizon). `i64::MAX` without a horizon.
    fn forget_at(&self, clocks: &Clocks) -> i64 {
        let Some(h) = self.cfg.revise_horizon_us else {
            return i64::MAX;
        };
        let kind = self.cfg.opts.window;
        let starts: Vec<i64> = self.start_cols.iter().filter_map(|&k| clocks[k]).collect();
        let times: Vec<i64> = if starts.is_empty() {
            clocks.iter().flatten().copied().collect()
        } else {
            starts
        };
        let Some(last) = times
            .iter()
            .flat_map(|&t| kind.windows_of_unit(self.unit_of_us(t)))
            .map(|w| kind.bounds(w).1)
            .max()
        else {
            return i64::MIN;
        };
        self.midnight_us(last)
            .saturating_add(self.cfg.settle_us)
            .saturating_add(h)
    }

    fn push_late(&mut self, u: Update, reason: LateReason) {
        let event_us = u.event_us();
        self.state.late.push(LateUpdate {
            incident_id: u.id,
            event_us,
            reason,
        });
    }

    /// Applies one update.
    pub async fn apply(&mut self, u: Update) -> Result<()> {
        self.state.position += 1;
        if let Some(t) = u.event_us() {
            self.state.max_event_us = Some(self.state.max_event_us.map_or(t, |m| m.max(t)));
        }
        let wm = self.state.watermark_us;
        if self.cfg.late == LateMode::Drop
            && !self.state.settled_ids.is_empty()
            && self.state.settled_ids.contains(&id_hash(&u.id))
        {
            self.push_late(u, LateReason::Final);
            return Ok(());
        }
        if let Some(old) = self.state.settled.get(&u.id).cloned() {
            // Revise: take the settled record's cells out, fold the update in, put them back.
            let mut new = old.clone();
            new.merge(&u);
            if self.touches_frozen(&old.all_clocks()) || self.touches_frozen(&new.all_clocks()) {
                self.push_late(u, LateReason::PastHorizon);
                return Ok(());
            }
            self.retract(&old).await?;
            self.settle_records(vec![new]).await?;
            self.state.revised += 1;
            return Ok(());
        }
        // The merged record's clocks decide its deadline; the record itself is merged in
        // place only once the update is known not to be late (no clone per update).
        let prev = self.state.open.get(&u.id);
        let prev_deadline = prev.map(|r| self.deadline(r));
        let mut clocks = prev.map_or([None; N_CLOCKS], Update::all_clocks);
        u.overlay_clocks(&mut clocks);
        let d = self.deadline_of(&clocks);
        if d <= wm {
            if self.touches_frozen(&clocks) {
                self.push_late(u, LateReason::PastHorizon);
                return Ok(());
            }
            match self.cfg.late {
                LateMode::Drop => {
                    self.push_late(u, LateReason::Final);
                    return Ok(());
                }
                LateMode::Revise => {
                    let mut rec = self.state.open.remove(&u.id).unwrap_or_else(|| Update {
                        id: u.id.clone(),
                        ..Default::default()
                    });
                    rec.merge(&u);
                    self.changed.insert(rec.id.clone());
                    self.settle_records(vec![rec]).await?;
                    self.state.revised += 1;
                    return Ok(());
                }
            }
        }
        self.mark_dirty(&clocks);
        if prev_deadline != Some(d) {
            // An unchanged deadline's entry is still queued.
            self.state.deadlines.insert((d, u.id.clone()));
        }
        if !self.changed.contains(&u.id) {
            self.changed.insert(u.id.clone());
        }
        match self.state.open.get_mut(&u.id) {
            Some(rec) => rec.merge(&u),
            None => {
                let mut rec = Update {
                    id: u.id.clone(),
                    ..Default::default()
                };
                rec.merge(&u);
                self.state.open.insert(u.id, rec);
            }
        }
        Ok(())
    }

    async fn cells_of(&self, records: &[Update]) -> Result<Cube> {
        let (cube, _) =
            cells_of_batches(vec![to_batch(records)], &self.cfg.policy, &self.cfg.opts).await?;
        Ok(cube)
    }

    async fn retract(&mut self, old: &Update) -> Result<()> {
        let cube = self.cells_of(std::slice::from_ref(old)).await?;
        for (unit, groups, cells) in cube.cells() {
            for (m, c) in cells.iter().enumerate() {
                if !self.cube.subtract(unit, groups, m, c) {
                    return Err(crate::error::Error::Pipeline(format!(
                        "incident {}: settled cells do not contain its figures",
                        old.id
                    )));
                }
            }
        }
        self.mark_dirty(&old.all_clocks());
        Ok(())
    }

    /// Folds records into the settled cube.
    async fn settle_records(&mut self, records: Vec<Update>) -> Result<()> {
        if records.is_empty() {
            return Ok(());
        }
        let cube = self.cells_of(&records).await?;
        self.cube.merge(&cube);
        for r in records {
            self.note_settled(r);
        }
        Ok(())
    }

    /// Bookkeeping of a record whose cells joined the settled cube.
    fn note_settled(&mut self, r: Update) {
        let clocks = r.all_clocks();
        self.mark_dirty(&clocks);
        let forget = self.forget_at(&clocks);
        if forget != i64::MAX {
            self.state.forget.insert((forget, r.id.clone()));
        }
        match self.cfg.late {
            LateMode::Drop => {
                self.state.settled_ids.insert(id_hash(&r.id));
            }
            LateMode::Revise => {
                self.state.settled.insert(r.id.clone(), r);
            }
        }
    }

    /// Freezes the windows past the revise horizon at this watermark: drops their rows and
    /// bookkeeping, the cube cells of units all of whose windows are frozen, and the settled
    /// records (or ids) that fed only frozen windows. Runs after an emission, so a window's
    /// final figures are out before it freezes.
    fn freeze(&mut self) {
        if self.cfg.revise_horizon_us.is_none() {
            return;
        }
        self.state.frozen_wm = self.state.watermark_us;
        let kind = self.cfg.opts.window;
        // Windows end in the order they start, and freeze in the order they end: the frozen
        // ones are at the front of each map, so only they are visited.
        let frozen: Vec<DayRange> = (self.state.revisions.keys().copied())
            .take_while(|&w| self.frozen(w))
            .collect();
        for w in &frozen {
            self.state.revisions.remove(w);
            self.state.announced_final.remove(w);
        }
        if let Some(latest) = &self.latest {
            let gone: Vec<Option<DayRange>> = (latest.windows.keys().copied())
                .skip_while(Option::is_none)
                .take_while(|w| w.is_some_and(|w| self.frozen(w)))
                .collect();
            let latest = self.latest.as_mut().expect("checked above");
            for w in gone {
                latest.windows.remove(&w);
            }
        }
        let grain = kind.grain();
        let droppable = |u: i32| {
            // A unit's last window ends last: once it is frozen, all of them are.
            let last = kind.windows_of_unit(u).last().expect("a unit has a window");
            self.frozen(kind.bounds(last))
        };
        // Units in order: the droppable ones come first.
        let dropped: Vec<i32> = self.cube.units().take_while(|&u| droppable(u)).collect();
        if !dropped.is_empty()
            && let Some(lo) = self.cube.remove_units(&dropped)
        {
            let first = grain.first_day(lo);
            self.state.dropped_from = Some(self.state.dropped_from.map_or(first, |d| d.min(first)));
        }
        while let Some((t, id)) = self.state.forget.first().cloned() {
            if t > self.state.frozen_wm {
                break;
            }
            self.state.forget.pop_first();
            match self.cfg.late {
                LateMode::Drop => {
                    self.state.settled_ids.remove(&id_hash(&id));
                }
                LateMode::Revise => {
                    // A revised record may have moved on: only its current entry forgets it.
                    if (self.state.settled.get(&id))
                        .is_some_and(|r| self.forget_at(&r.all_clocks()) == t)
                    {
                        self.state.settled.remove(&id);
                    }
                }
            }
        }
    }

    /// Grain units whose cells are held in memory (settled cube), for tests and stats.
    pub fn held_units(&self) -> usize {
        self.cube.units().count()
    }

    /// Settled records (revise mode) or ids (drop mode) held for revisions.
    pub fn held_settled(&self) -> usize {
        self.state.settled.len() + self.state.settled_ids.len()
    }

    /// Settles every open record whose deadline the watermark has passed.
    pub async fn settle_due(&mut self) -> Result<()> {
        let wm = self.state.watermark_us;
        let mut due = Vec::new();
        while let Some((d, id)) = self.state.deadlines.first().cloned() {
            if d > wm {
                break;
            }
            self.state.deadlines.pop_first();
            let current = self.state.open.get(&id).map(|r| self.deadline(r));
            if current != Some(d) {
                continue;
            }
            let Some(r) = self.state.open.remove(&id) else {
                continue;
            };
            // Unchanged since its cells were last computed: they move from the open cube to
            // the settled one as they are. Otherwise they are computed with the others.
            match self.contrib.remove(&id) {
                Some(share) if !self.changed.contains(&id) => {
                    self.withdraw(&id, &share)?;
                    for (unit, groups, m, c) in share {
                        self.cube.absorb(unit, groups, m, c);
                    }
                    self.note_settled(r);
                }
                share => {
                    if let Some(share) = share {
                        self.contrib.insert(id.clone(), share);
                    }
                    self.changed.insert(id);
                    due.push(r);
                }
            }
        }
        self.settle_records(due).await
    }

    /// Advances the watermark from the events seen (it never moves back).
    pub fn advance_watermark(&mut self) {
        if let Some(m) = self.state.max_event_us {
            let w = m.saturating_sub(self.cfg.lateness_us);
            self.state.watermark_us = self.state.watermark_us.max(w);
        }
    }

    /// Moves the watermark on by wall time when the source is idle.
    pub fn advance_idle(&mut self, by_us: i64) {
        if self.state.watermark_us > i64::MIN {
            self.state.watermark_us = self.state.watermark_us.saturating_add(by_us);
        }
    }

    /// Whether an emission is due.
    pub fn emission_due(&self) -> bool {
        match self.state.last_emit_wm {
            None => self.state.watermark_us > i64::MIN,
            Some(last) => self.state.watermark_us >= last.saturating_add(self.cfg.emit_every_us),
        }
    }

    /// Marks the source finished: the watermark goes to the end of time.
    pub fn finish(&mut self) {
        self.state.watermark_us = i64::MAX;
        self.state.done = true;
    }

    fn window_final(&self, w: WindowId) -> bool {
        self.midnight_us(w.1).saturating_add(self.cfg.settle_us) <= self.state.watermark_us
    }

    /// Settles what is due and builds an emission of the changed or newly final windows, or
    /// `None` when nothing changed.
    pub async fn emit(&mut self) -> Result<Option<Emission>> {
        self.settle_due().await?;
        self.state.last_emit_wm = Some(self.state.watermark_us);
        // Provisional figures: settled cells plus the open incidents as they stand.
        self.refresh_open()?;
        let kind = self.cfg.opts.window;
        let mut opts = self.score_options();
        let dirty_ids: BTreeSet<i32> = (self.state.dirty_units.iter())
            .flat_map(|&u| kind.windows_of_unit(u))
            .collect();
        let dirty: BTreeSet<DayRange> = (dirty_ids.iter())
            .map(|&w| kind.bounds(w))
            .filter(|&w| !self.frozen(w))
            .collect();
        let span = self.span();
        opts.period = self.state.dropped_from.and(span);
        let prev = self.latest.take();
        let (policy, open) = (&self.cfg.policy, &self.open_cube);
        let frozen = |w: i32| self.frozen(kind.bounds(w));
        // Only the changed windows (and the no-start ledger) are read again, from their own
        // cells, so an emission's cost follows what changed, not the history held; the rest
        // of the last reading stands. A change of the data's span decides which rolling
        // windows show: then every window not frozen is read.
        let (mut latest, full, part) = match prev {
            Some(prev) if prev.span == span || kind != WindowKind::Rolling12m => {
                let named: BTreeSet<Option<i32>> = std::iter::once(None)
                    .chain(dirty_ids.iter().filter(|&&w| !frozen(w)).map(|&w| Some(w)))
                    .collect();
                let part = self.cube.scores_in(&[open], policy, &opts, &named);
                (prev, false, part)
            }
            _ => {
                let keep = |w: Option<i32>| w.is_none_or(|w| !frozen(w));
                let part = self.cube.scores_where(&[open], policy, &opts, &keep);
                let shape = Scores {
                    rows: Vec::new(),
                    ledger: Vec::new(),
                    window: part.window,
                    group_by: part.group_by.clone(),
                    levels: part.levels.clone(),
                };
                let latest = Latest {
                    windows: BTreeMap::new(),
                    span,
                    shape,
                };
                (latest, true, part)
            }
        };
        latest.span = span;
        // The part, per window; a dirty window it has no rows for has none now.
        let mut fresh: BTreeMap<Option<DayRange>, WindowRows> = BTreeMap::new();
        fresh.entry(None).or_default();
        if !full {
            for &w in &dirty {
                fresh.entry(Some(w)).or_default();
            }
        }
        for r in part.rows {
            fresh.entry(Some(r.window)).or_default().0.push(r);
        }
        for l in part.ledger {
            fresh.entry(l.window).or_default().1.push(l);
        }
        if full {
            latest.windows.clear();
        }
        let mut changed = Vec::new();
        for (w, rows) in fresh {
            let empty = rows.0.is_empty() && rows.1.is_empty();
            let prev = if empty {
                latest.windows.remove(&w)
            } else {
                latest.windows.insert(w, rows.clone())
            };
            // The no-start ledger is read every time; it changed only if it differs.
            if full || w.is_some() || prev.as_ref() != Some(&rows) {
                changed.push((w, latest.shape_with(rows)));
            }
        }
        self.latest = Some(latest);
        #[cfg(debug_assertions)]
        self.check_latest(&opts).await?;
        let latest = self.latest.as_ref().expect("set above");
        let mut chosen: BTreeSet<DayRange> = BTreeSet::new();
        for (w, (rows, _)) in &latest.windows {
            let Some(w) = *w else { continue };
            if !rows.is_empty()
                && (dirty.contains(&w)
                    || (self.window_final(w) && !self.state.announced_final.contains(&w)))
            {
                chosen.insert(w);
            }
        }
        self.state.dirty_units.clear();
        let mut scores = latest.shape_with((Vec::new(), Vec::new()));
        for &w in &chosen {
            let (rows, ledger) = &latest.windows[&Some(w)];
            scores.rows.extend(rows.iter().cloned());
            scores.ledger.extend(ledger.iter().cloned());
        }
        let mut revs: BTreeMap<DayRange, (bool, u32)> = BTreeMap::new();
        for &w in &chosen {
            let fin = self.window_final(w);
            let rev = self.state.revisions.entry(w).or_insert(0);
            *rev += 1;
            revs.insert(w, (fin, *rev));
            if fin {
                self.state.announced_final.insert(w);
            }
        }
        let flags = scores.rows.iter().map(|r| revs[&r.window]).collect();
        let seq = if chosen.is_empty() {
            None
        } else {
            self.state.seq += 1;
            Some(self.state.seq)
        };
        // The final figures are out: windows past the horizon can freeze.
        self.freeze();
        if seq.is_none() && changed.is_empty() {
            return Ok(None);
        }
        Ok(Some(Emission {
            seq,
            scores,
            flags,
            changed,
            full,
            watermark_us: self.state.watermark_us,
        }))
    }

    fn score_options(&self) -> ScoreOptions {
        ScoreOptions {
            window: self.cfg.opts.window,
            method: self.cfg.opts.method,
            rollups: self.cfg.opts.rollups,
            period: None,
            threads: self
                .cfg
                .opts
                .threads
                .unwrap_or_else(slate_engine::scorecard::cores),
        }
    }

    /// The days the data spans; after windows froze, from the first dropped unit's.
    fn span(&self) -> Option<DayRange> {
        let span = Cube::span_of(&[&self.cube, &self.open_cube]);
        match (self.state.dropped_from, span) {
            (Some(d), Some(s)) => Some((d.min(s.0), s.1)),
            (Some(d), None) => Some((d, d)),
            (None, s) => s,
        }
    }

    /// Whether a window's figures are frozen (for the sink: their files stay as they are).
    pub fn is_frozen(&self, w: DayRange) -> bool {
        self.frozen(w)
    }

    /// The watermark at which windows were last frozen (see [`StreamConfig::frozen_at`]).
    pub fn frozen_wm(&self) -> i64 {
        self.state.frozen_wm
    }

    /// Scores with no rows, of the shape this stream's scores have.
    pub fn empty_scores(&self) -> Scores {
        match &self.latest {
            Some(l) => l.shape_with((Vec::new(), Vec::new())),
            None => {
                let opts = self.score_options();
                self.cube
                    .scores_where(&[], &self.cfg.policy, &opts, &|_| false)
            }
        }
    }

    /// The current scores of the windows not frozen, as one [`Scores`].
    pub fn latest_scores(&self) -> Option<Scores> {
        let latest = self.latest.as_ref()?;
        let mut r = latest.shape_with((Vec::new(), Vec::new()));
        for (rows, ledger) in latest.windows.values() {
            r.rows.extend(rows.iter().cloned());
            r.ledger.extend(ledger.iter().cloned());
        }
        Some(r)
    }

    /// Debug builds: the incrementally kept scores equal ones computed from scratch, with the
    /// open incidents' cells recomputed by one plan over all of them.
    #[cfg(debug_assertions)]
    async fn check_latest(&self, opts: &ScoreOptions) -> Result<()> {
        let all_open: Vec<Update> = self.state.open.values().cloned().collect();
        let open = self.cells_of(&all_open).await?;
        let kind = self.cfg.opts.window;
        let keep = |w: Option<i32>| w.is_none_or(|w| !self.frozen(kind.bounds(w)));
        let fresh = self
            .cube
            .scores_where(&[&open], &self.cfg.policy, opts, &keep);
        let latest = self.latest_scores().expect("kept");
        assert!(
            latest == fresh,
            "incremental stream scores differ from a recomputation at seq {}",
            self.state.seq
        );
        Ok(())
    }

    /// Takes an open incident's share out of the open cube.
    fn withdraw(&mut self, id: &str, share: &Contribution) -> Result<()> {
        for (unit, groups, m, c) in share {
            if !self.open_cube.subtract(*unit, groups, *m, c) {
                return Err(crate::error::Error::Pipeline(format!(
                    "incident {id}: open cells out of step"
                )));
            }
        }
        Ok(())
    }

    /// Brings the open incidents' cells up to date: takes out the shares of incidents changed
    /// or settled since the last emission and adds those of the changed ones still open, each
    /// record's cells computed by the batch plan's per-row expressions (`RowCellsEval`).
    fn refresh_open(&mut self) -> Result<()> {
        let ids: Vec<String> = self.changed.drain().collect();
        for id in &ids {
            let share = self.contrib.remove(id).unwrap_or_default();
            self.withdraw(id, &share)?;
            // The incident's cells leave these units (its start clock may have moved).
            self.state
                .dirty_units
                .extend(share.iter().filter_map(|(unit, ..)| *unit));
        }
        let open = &self.state.open;
        let records: Vec<&Update> = ids.iter().filter_map(|id| open.get(id)).collect();
        if records.is_empty() {
            return Ok(());
        }
        // Each record's own cells (no aggregation by incident id), in record order.
        let per_row = self
            .row_eval
            .row_cells(&to_batch(records.iter().copied()))?;
        for (r, cells) in records.iter().zip(per_row) {
            let share = self.contrib.entry(r.id.clone()).or_default();
            for (m, unit, groups, c) in cells {
                self.open_cube.add_at(unit, &groups, m, &c);
                share.push((unit, groups, m, c));
            }
        }
        Ok(())
    }

    /// Open incidents.
    pub fn open_incidents(&self) -> usize {
        self.state.open.len()
    }

    /// The configuration.
    pub fn config(&self) -> &StreamConfig {
        &self.cfg
    }
}

impl Latest {
    /// Scores of this shape holding these rows.
    fn shape_with(&self, (rows, ledger): WindowRows) -> Scores {
        Scores {
            rows,
            ledger,
            window: self.shape.window,
            group_by: self.shape.group_by.clone(),
            levels: self.shape.levels.clone(),
        }
    }
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

fn unhex(s: &str) -> Result<Vec<u8>> {
    let bad = || crate::error::Error::Checkpoint {
        path: "state".into(),
        reason: "bad cell encoding".into(),
    };
    if !s.len().is_multiple_of(2) {
        return Err(bad());
    }
    (0..s.len())
        .step_by(2)
        .map(|i| {
            s.get(i..i + 2)
                .and_then(|h| u8::from_str_radix(h, 16).ok())
                .ok_or_else(bad)
        })
        .collect()
}

/// JSON maps need string keys: a map with tuple keys is stored as a list of pairs.
mod as_pairs {
    use std::collections::BTreeMap;

    use serde::{Deserialize, Deserializer, Serialize, Serializer};

    pub(super) fn serialize<S: Serializer, K: Serialize, V: Serialize>(
        m: &BTreeMap<K, V>,
        s: S,
    ) -> Result<S::Ok, S::Error> {
        s.collect_seq(m.iter())
    }

    pub(super) fn deserialize<'de, D, K, V>(d: D) -> Result<BTreeMap<K, V>, D::Error>
    where
        D: Deserializer<'de>,
        K: Deserialize<'de> + Ord,
        V: Deserialize<'de>,
    {
        Ok(Vec::<(K, V)>::deserialize(d)?.into_iter().collect())
    }
}
