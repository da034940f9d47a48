//! The stream's state: open incidents, the settled cube, the watermark, and what has been
//! emitted. Cells are computed by the batch engine's own plan, so a settled window's figures
//! are those `slate run` gives for the same records.

use std::collections::hash_map::DefaultHasher;
use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::hash::{Hash, Hasher};

use serde::{Deserialize, Serialize};
use slate_core::cube::DayRange;
use slate_core::{Cube, GroupKey, MeasureCell, Report, ReportOptions, SlaPolicy, WindowKind};
use slate_engine::{ScorecardOptions, cells_of_batches, cells_of_rows};

use crate::error::Result;
use crate::update::{Update, to_batch};

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
}

/// An update that arrived after its windows were final and was dropped.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LateUpdate {
    /// The incident.
    pub incident_id: String,
    /// Its event time (µs), if it carried a clock.
    pub event_us: Option<i64>,
}

/// One emission: scorecard rows of the windows that changed or became final.
#[derive(Debug, Clone)]
pub struct Emission {
    /// Emission number, from 1.
    pub seq: u64,
    /// The report, restricted to the emitted windows.
    pub report: Report,
    /// Per emitted row: is its window final, and its revision.
    pub flags: Vec<(bool, u32)>,
    /// The whole current report (for the "latest" snapshot).
    pub latest: Report,
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
    open: HashMap<String, Update>,
    /// (deadline, id); entries whose record has moved on are skipped when popped.
    deadlines: BTreeSet<(i64, String)>,
    /// Hashes of settled incident ids (drop mode): a later update for one is late.
    settled_ids: HashSet<u64>,
    /// Settled records (revise mode), to retract their cells when revised.
    settled: HashMap<String, Update>,
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
}

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
            open: HashMap::new(),
            deadlines: BTreeSet::new(),
            settled_ids: HashSet::new(),
            settled: HashMap::new(),
            cells: Vec::new(),
            revisions: BTreeMap::new(),
            announced_final: BTreeSet::new(),
            dirty_units: BTreeSet::new(),
            late: Vec::new(),
            revised: 0,
            done: false,
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
    contrib: HashMap<String, Contribution>,
    changed: HashSet<String>,
    /// The last emission's whole report and the days its data spanned (derived).
    latest: Option<(Report, Option<DayRange>)>,
}

impl Processor {
    /// A processor from a (possibly restored) state.
    pub fn new(cfg: StreamConfig, state: State) -> Result<Self> {
        // Updates carry the canonical record (six clocks); the optional promise clocks
        // (appointments, call-backs, complaints, surveys) arrive days or weeks after an incident
        // settles, which the stream's settling rule does not yet wait for.
        for m in &cfg.policy.measures {
            for c in [&m.start, &m.stop] {
                if !slate_core::schema::CLOCKS.contains(&c.as_str()) {
                    return Err(crate::Error::Unsupported(format!(
                        "policy {:?}, measure {:?}: the stream measures the canonical clocks ({}) only, \
                         not {c:?}; use `slate run` for this measure",
                        cfg.policy.name,
                        m.id,
                        slate_core::schema::CLOCKS.join(", ")
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
        let clocks = slate_core::schema::CLOCKS;
        let mut start_cols: Vec<usize> = cfg
            .policy
            .measures
            .iter()
            .filter_map(|m| clocks.iter().position(|c| *c == m.start))
            .collect();
        start_cols.sort_unstable();
        start_cols.dedup();
        let mut state = state;
        state.cells.clear();
        let open_cube = Cube::new(cfg.opts.window.grain(), cfg.opts.group_by.clone(), n);
        let changed = state.open.keys().cloned().collect();
        Ok(Processor {
            cfg,
            state,
            cube,
            start_cols,
            open_cube,
            contrib: HashMap::new(),
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
        let day = self.tz().local_day(us.div_euclid(1_000_000));
        self.cfg.opts.window.grain().unit_of_day(day)
    }

    /// The instant (µs) of local midnight starting `day`.
    fn midnight_us(&self, day: i32) -> i64 {
        self.tz().local_to_instant(i64::from(day) * 86_400).0 * 1_000_000
    }

    fn unit_end_us(&self, unit: i32) -> i64 {
        self.midnight_us(self.cfg.opts.window.grain().first_day(unit + 1))
    }

    /// When a record settles: the end of the unit of its earliest start clock (or, with none,
    /// of its earliest clock) plus the settle time. Every clock of an incident is expected
    /// within `settle` of the end of that unit.
    fn deadline(&self, r: &Update) -> i64 {
        self.deadline_of(&r.clocks)
    }

    /// [`Processor::deadline`] of a record with these clocks.
    fn deadline_of(&self, clocks: &[Option<i64>; 6]) -> i64 {
        let starts = self.start_cols.iter().filter_map(|&k| clocks[k]).min();
        match starts.or_else(|| clocks.iter().flatten().copied().min()) {
            Some(t) => self
                .unit_end_us(self.unit_of_us(t))
                .saturating_add(self.cfg.settle_us),
            None => i64::MIN,
        }
    }

    fn mark_dirty(&mut self, clocks: &[Option<i64>; 6]) {
        for &k in &self.start_cols {
            if let Some(t) = clocks[k] {
                let u = self.unit_of_us(t);
                self.state.dirty_units.insert(u);
            }
        }
    }

    /// Applies one update.
    pub async fn apply(&mut self, u: Update) -> Result<()> {
        self.state.position += 1;
        if let Some(t) = u.event_us() {
            self.state.max_event_us = Some(self.state.max_event_us.map_or(t, |m| m.max(t)));
        }
        let wm = self.state.watermark_us;
        let h = id_hash(&u.id);
        if self.cfg.late == LateMode::Drop && self.state.settled_ids.contains(&h) {
            let event_us = u.event_us();
            self.state.late.push(LateUpdate {
                incident_id: u.id,
                event_us,
            });
            return Ok(());
        }
        if let Some(old) = self.state.settled.get(&u.id).cloned() {
            // Revise: take the settled record's cells out, fold the update in, put them back.
            let mut new = old.clone();
            new.merge(&u);
            self.retract(&old).await?;
            self.settle_records(vec![new.clone()]).await?;
            self.state.settled.insert(u.id.clone(), new);
            self.state.revised += 1;
            return Ok(());
        }
        // The merged record's clocks decide its deadline; the record itself is merged in
        // place only once the update is known not to be late (no clone per update).
        let prev = self.state.open.get(&u.id);
        let prev_deadline = prev.map(|r| self.deadline(r));
        let mut clocks = prev.map_or([None; 6], |r| r.clocks);
        for (a, b) in clocks.iter_mut().zip(u.clocks) {
            if b.is_some() {
                *a = b;
            }
        }
        let d = self.deadline_of(&clocks);
        if d <= wm {
            match self.cfg.late {
                LateMode::Drop => {
                    let event_us = u.event_us();
                    self.state.late.push(LateUpdate {
                        incident_id: u.id,
                        event_us,
                    });
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
        self.mark_dirty(&old.clocks);
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
        self.mark_dirty(&r.clocks);
        match self.cfg.late {
            LateMode::Drop => {
                self.state.settled_ids.insert(id_hash(&r.id));
            }
            LateMode::Revise => {
                self.state.settled.insert(r.id.clone(), r);
            }
        }
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
        self.refresh_open().await?;
        let kind = self.cfg.opts.window;
        let opts = ReportOptions {
            window: kind,
            method: self.cfg.opts.method,
            rollups: self.cfg.opts.rollups,
            period: None,
            threads: self
                .cfg
                .opts
                .threads
                .unwrap_or_else(slate_engine::scorecard::cores),
        };
        let dirty_ids: BTreeSet<i32> = (self.state.dirty_units.iter())
            .flat_map(|&u| kind.windows_of_unit(u))
            .collect();
        let dirty: BTreeSet<WindowId> = dirty_ids.iter().map(|&w| kind.bounds(w)).collect();
        let span = Cube::span_of(&[&self.cube, &self.open_cube]);
        let (policy, open) = (&self.cfg.policy, &self.open_cube);
        // Only the changed windows (and the no-start ledger) are read again; the rest of the
        // last report stands. Rolling windows, and any change of the data's span (which
        // decides the rolling windows shown), read everything.
        let latest = match self.latest.take() {
            Some((prev, prev_span)) if prev_span == span && kind != WindowKind::Rolling12m => {
                let keep = |w: Option<i32>| w.is_none_or(|w| dirty_ids.contains(&w));
                splice(
                    prev,
                    self.cube.report_windows(&[open], policy, &opts, &keep),
                    &dirty,
                )
            }
            _ => self.cube.report_with(&[open], policy, &opts),
        };
        #[cfg(debug_assertions)]
        self.check_latest(&latest, &opts).await?;
        self.latest = Some((latest.clone(), span));
        let mut chosen: BTreeSet<WindowId> = BTreeSet::new();
        for r in &latest.rows {
            let w = r.window;
            if dirty.contains(&w)
                || (self.window_final(w) && !self.state.announced_final.contains(&w))
            {
                chosen.insert(w);
            }
        }
        self.state.dirty_units.clear();
        if chosen.is_empty() {
            return Ok(None);
        }
        let mut revs: BTreeMap<WindowId, (bool, u32)> = BTreeMap::new();
        for &w in &chosen {
            let fin = self.window_final(w);
            let rev = self.state.revisions.entry(w).or_insert(0);
            *rev += 1;
            revs.insert(w, (fin, *rev));
            if fin {
                self.state.announced_final.insert(w);
            }
        }
        let report = Report {
            rows: (latest.rows.iter())
                .filter(|r| chosen.contains(&r.window))
                .cloned()
                .collect(),
            ledger: (latest.ledger.iter())
                .filter(|l| l.window.is_some_and(|w| chosen.contains(&w)))
                .cloned()
                .collect(),
            window: latest.window,
            group_by: latest.group_by.clone(),
            levels: latest.levels.clone(),
        };
        let flags = report.rows.iter().map(|r| revs[&r.window]).collect();
        self.state.seq += 1;
        Ok(Some(Emission {
            seq: self.state.seq,
            report,
            flags,
            latest,
            watermark_us: self.state.watermark_us,
        }))
    }

    /// Debug builds: the incrementally kept report equals one computed from scratch, with the
    /// open incidents' cells recomputed by one plan over all of them.
    #[cfg(debug_assertions)]
    async fn check_latest(&self, latest: &Report, opts: &ReportOptions) -> Result<()> {
        let all_open: Vec<Update> = self.state.open.values().cloned().collect();
        let open = self.cells_of(&all_open).await?;
        let fresh = self.cube.report_with(&[&open], &self.cfg.policy, opts);
        assert!(
            *latest == fresh,
            "incremental stream report differs from a recomputation at seq {}",
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
    /// record's cells computed by one projection of the batch plan (`cells_of_rows`).
    async fn refresh_open(&mut self) -> Result<()> {
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
        let per_row = cells_of_rows(
            to_batch(records.iter().copied()),
            &self.cfg.policy,
            &self.cfg.opts,
        )
        .await?;
        for (r, cells) in records.iter().zip(per_row) {
            let share = self.contrib.entry(r.id.clone()).or_default();
            for (m, unit, groups, c) in cells {
                self.open_cube.add(unit, groups.clone(), m, &c);
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

/// `prev` with the rows of the windows in `dirty` (and the no-start ledger) replaced by
/// `part`'s, in report order.
fn splice(prev: Report, part: Report, dirty: &BTreeSet<WindowId>) -> Report {
    let mut rows: Vec<_> = (prev.rows.into_iter())
        .filter(|r| !dirty.contains(&r.window))
        .chain(part.rows)
        .collect();
    // Stable: each window's rows keep their order, whichever report they came from.
    rows.sort_by_key(|r| r.window);
    let mut ledger: Vec<_> = (prev.ledger.into_iter())
        .filter(|l| l.window.is_some_and(|w| !dirty.contains(&w)))
        .chain(part.ledger)
        .collect();
    ledger.sort_by_key(|l| l.window);
    Report {
        rows,
        ledger,
        ..part
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
