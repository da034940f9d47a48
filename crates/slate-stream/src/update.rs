//! Updates: a CAD feed delivers an incident in pieces, each carrying its id and some canonical
//! columns, the optional ones (call queue, wider promises) included. An update is a Rust value
//! from the source to the processor; it becomes Arrow (the canonical schema, every column
//! nullable, null meaning "not in this update") only for the engine's plan.

use std::sync::Arc;

use arrow::array::{Array, AsArray, RecordBatch};
use arrow::compute::cast;
use arrow::datatypes::{DataType, Field, Schema, SchemaRef, TimestampMicrosecondType};
use serde::{Deserialize, Serialize};
use slate_core::schema::{self, CLOCKS, ColumnKind, RecordBuilder};

/// The optional clocks, in [`schema::OPTIONAL_COLUMNS`] order.
pub const OPTIONAL_CLOCKS: [&str; 10] = [
    schema::CALL_ENDED,
    schema::APPOINTMENT_AGREED,
    schema::APPOINTMENT_DUE,
    schema::CALLBACK_REQUESTED,
    schema::CALLBACK_MADE,
    schema::COMPLAINT_RECEIVED,
    schema::COMPLAINT_ACKNOWLEDGED,
    schema::COLLISION_REPORTED,
    schema::COLLISION_CONTACTED,
    schema::SURVEYED,
];

/// How many clocks a record has: the six lifecycle clocks and the optional ones.
pub const N_CLOCKS: usize = 16;

/// Every clock of a record: the lifecycle ([`CLOCKS`]), then [`OPTIONAL_CLOCKS`].
pub const ALL_CLOCKS: [&str; N_CLOCKS] = [
    CLOCKS[0],
    CLOCKS[1],
    CLOCKS[2],
    CLOCKS[3],
    CLOCKS[4],
    CLOCKS[5],
    OPTIONAL_CLOCKS[0],
    OPTIONAL_CLOCKS[1],
    OPTIONAL_CLOCKS[2],
    OPTIONAL_CLOCKS[3],
    OPTIONAL_CLOCKS[4],
    OPTIONAL_CLOCKS[5],
    OPTIONAL_CLOCKS[6],
    OPTIONAL_CLOCKS[7],
    OPTIONAL_CLOCKS[8],
    OPTIONAL_CLOCKS[9],
];

/// A record's clocks, microseconds since the epoch (UTC), in [`ALL_CLOCKS`] order.
pub type Clocks = [Option<i64>; N_CLOCKS];

/// Where `call_ended` sits in [`ALL_CLOCKS`].
pub const CALL_ENDED_AT: usize = 6;
/// Where `appointment_agreed` sits in [`ALL_CLOCKS`].
const APPOINTMENT_AGREED_AT: usize = 7;
/// Where `appointment_due` sits in [`ALL_CLOCKS`]: the agreed time, not when anything
/// happened, so it is no event time (it can be days ahead of the feed) and travels with
/// `appointment_agreed`.
pub const APPOINTMENT_DUE_AT: usize = 8;
/// Where `surveyed` sits in [`ALL_CLOCKS`]: `satisfied` and `respondent_group` travel with it.
const SURVEYED_AT: usize = 15;

/// The position of a clock column in [`ALL_CLOCKS`].
pub fn clock_index(name: &str) -> Option<usize> {
    ALL_CLOCKS.iter().position(|c| *c == name)
}

/// Whether clock `i` (of [`ALL_CLOCKS`]) is when something happened, so an event time.
pub fn is_event_clock(i: usize) -> bool {
    i != APPOINTMENT_DUE_AT
}

/// The optional columns of an update, boxed so that records without them stay small.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Optional {
    /// In [`OPTIONAL_CLOCKS`] order.
    pub clocks: [Option<i64>; 10],
    /// abandoned.
    pub abandoned: Option<bool>,
    /// satisfied.
    pub satisfied: Option<bool>,
    /// respondent_group.
    pub respondent_group: Option<String>,
}

/// One update, or an incident's merged record.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Update {
    /// The incident.
    pub id: String,
    /// borough.
    pub borough: Option<String>,
    /// grade.
    pub grade: Option<String>,
    /// channel.
    pub channel: Option<String>,
    /// The six lifecycle clocks, microseconds since the epoch (UTC), in [`CLOCKS`] order.
    pub clocks: [Option<i64>; 6],
    /// cancelled.
    pub cancelled: Option<bool>,
    /// The optional columns, when the update carries any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub optional: Option<Box<Optional>>,
}

impl Update {
    /// Clock `i` of [`ALL_CLOCKS`].
    pub fn clock(&self, i: usize) -> Option<i64> {
        match i {
            0..6 => self.clocks[i],
            _ => self.optional.as_ref().and_then(|o| o.clocks[i - 6]),
        }
    }

    /// Sets clock `i` of [`ALL_CLOCKS`].
    pub fn set_clock(&mut self, i: usize, v: Option<i64>) {
        match i {
            0..6 => self.clocks[i] = v,
            _ if v.is_none() && self.optional.is_none() => {}
            _ => self.optional_mut().clocks[i - 6] = v,
        }
    }

    /// The optional columns, created empty when the update has none yet.
    pub fn optional_mut(&mut self) -> &mut Optional {
        self.optional.get_or_insert_with(Default::default)
    }

    /// Every clock, in [`ALL_CLOCKS`] order.
    pub fn all_clocks(&self) -> Clocks {
        let mut c = [None; N_CLOCKS];
        c[..6].copy_from_slice(&self.clocks);
        if let Some(o) = &self.optional {
            c[6..].copy_from_slice(&o.clocks);
        }
        c
    }

    /// Puts the clocks this update carries over `clocks`.
    pub fn overlay_clocks(&self, clocks: &mut Clocks) {
        for (a, b) in clocks.iter_mut().zip(self.clocks) {
            if b.is_some() {
                *a = b;
            }
        }
        if let Some(o) = &self.optional {
            for (a, b) in clocks[6..].iter_mut().zip(o.clocks) {
                if b.is_some() {
                    *a = b;
                }
            }
        }
    }

    /// When the update happened: its latest event clock ([`is_event_clock`]).
    pub fn event_us(&self) -> Option<i64> {
        let life = self.clocks.iter().flatten().copied().max();
        let more = self.optional.as_ref().and_then(|o| {
            (o.clocks.iter().enumerate())
                .filter(|(k, _)| is_event_clock(k + 6))
                .filter_map(|(_, c)| *c)
                .max()
        });
        life.max(more)
    }

    /// Folds a later update in: what it carries replaces what was known.
    pub fn merge(&mut self, u: &Update) {
        let pick = |a: &mut Option<String>, b: &Option<String>| {
            if b.is_some() {
                a.clone_from(b);
            }
        };
        pick(&mut self.borough, &u.borough);
        pick(&mut self.grade, &u.grade);
        pick(&mut self.channel, &u.channel);
        for (a, b) in self.clocks.iter_mut().zip(u.clocks) {
            if b.is_some() {
                *a = b;
            }
        }
        if u.cancelled.is_some() {
            self.cancelled = u.cancelled;
        }
        if let Some(o) = &u.optional {
            let mine = self.optional_mut();
            for (a, b) in mine.clocks.iter_mut().zip(o.clocks) {
                if b.is_some() {
                    *a = b;
                }
            }
            for (a, b) in [
                (&mut mine.abandoned, o.abandoned),
                (&mut mine.satisfied, o.satisfied),
            ] {
                if b.is_some() {
                    *a = b;
                }
            }
            pick(&mut mine.respondent_group, &o.respondent_group);
        }
    }
}

impl Update {
    /// The update as an NDJSON line of the form `slate stream --stdin` reads: the columns it
    /// carries, clocks as integer microseconds since the epoch (exact, whatever the zone).
    pub fn to_json_line(&self) -> String {
        let mut m = serde_json::Map::new();
        for f in update_schema().fields() {
            let name = f.name().as_str();
            let v = match column(name).expect("update columns are known") {
                Column::Id => Some(self.id.clone().into()),
                Column::Text(get) => get(self).map(Into::into),
                Column::Clock(i) => self.clock(i).map(Into::into),
                Column::Flag(get) => get(self).map(Into::into),
            };
            if let Some(v) = v {
                m.insert(name.to_string(), v);
            }
        }
        serde_json::Value::Object(m).to_string()
    }
}

/// A canonical column as an update holds it.
enum Column {
    Id,
    Text(fn(&Update) -> Option<&str>),
    Clock(usize),
    Flag(fn(&Update) -> Option<bool>),
}

/// How an update holds the canonical or optional column `name`, if it is one.
fn column(name: &str) -> Option<Column> {
    Some(match name {
        schema::INCIDENT_ID => Column::Id,
        schema::BOROUGH => Column::Text(|u| u.borough.as_deref()),
        schema::GRADE => Column::Text(|u| u.grade.as_deref()),
        schema::CHANNEL => Column::Text(|u| u.channel.as_deref()),
        schema::RESPONDENT_GROUP => {
            Column::Text(|u| u.optional.as_ref()?.respondent_group.as_deref())
        }
        schema::CANCELLED => Column::Flag(|u| u.cancelled),
        schema::ABANDONED => Column::Flag(|u| u.optional.as_ref()?.abandoned),
        schema::SATISFIED => Column::Flag(|u| u.optional.as_ref()?.satisfied),
        clock => Column::Clock(clock_index(clock)?),
    })
}

/// Sets text column `name` (not the id) of an update.
pub(crate) fn set_text(u: &mut Update, name: &str, v: Option<&str>) {
    let v = v.map(str::to_string);
    match name {
        schema::BOROUGH => u.borough = v,
        schema::GRADE => u.grade = v,
        schema::CHANNEL => u.channel = v,
        schema::RESPONDENT_GROUP if v.is_some() || u.optional.is_some() => {
            u.optional_mut().respondent_group = v;
        }
        _ => {}
    }
}

/// Sets flag column `name` of an update.
pub(crate) fn set_flag(u: &mut Update, name: &str, v: Option<bool>) {
    match name {
        schema::CANCELLED => u.cancelled = v,
        _ if v.is_none() && u.optional.is_none() => {}
        schema::ABANDONED => u.optional_mut().abandoned = v,
        schema::SATISFIED => u.optional_mut().satisfied = v,
        _ => {}
    }
}

/// The kind of canonical or optional column `name`, if it is one.
pub(crate) fn kind_of(name: &str) -> Option<ColumnKind> {
    (schema::COLUMNS.iter().chain(&schema::OPTIONAL_COLUMNS))
        .find(|c| c.name == name)
        .map(|c| c.kind)
}

/// The schema of update batches: the canonical columns, then every optional one, all nullable.
pub fn update_schema() -> SchemaRef {
    let optional: Vec<&str> = schema::OPTIONAL_COLUMNS.iter().map(|c| c.name).collect();
    let fields: Vec<Field> = schema::schema_with(&optional)
        .fields()
        .iter()
        .map(|f| f.as_ref().clone().with_nullable(true))
        .collect();
    Arc::new(Schema::new(fields))
}

/// Updates (or records) as one batch of [`update_schema`].
pub fn to_batch<'a>(updates: impl IntoIterator<Item = &'a Update>) -> RecordBatch {
    let updates = updates.into_iter();
    let schema = update_schema();
    let columns: Vec<Column> = (schema.fields().iter())
        .map(|f| column(f.name()).expect("update columns are known"))
        .collect();
    let mut b = RecordBuilder::new(schema, updates.size_hint().0)
        .expect("the update schema is of the canonical family");
    for u in updates {
        for (col, c) in columns.iter().enumerate() {
            match c {
                Column::Id => b.append_text(col, Some(&u.id)),
                Column::Text(get) => b.append_text(col, get(u)),
                Column::Clock(i) => b.append_clock(col, u.clock(*i)),
                Column::Flag(get) => b.append_flag(col, get(u)),
            }
        }
    }
    b.finish().expect("columns follow the update schema")
}

/// Reads a batch with canonical column names (any subset of the canonical and optional
/// columns; clocks of any unit, with a zone; other columns are not read) into updates. Naive
/// clocks must have been resolved by the source.
pub fn from_batch(batch: &RecordBatch) -> Result<Vec<Update>, arrow::error::ArrowError> {
    let n = batch.num_rows();
    let schema = batch.schema();
    if schema.column_with_name(schema::INCIDENT_ID).is_none() {
        return Err(arrow::error::ArrowError::SchemaError(
            "updates need incident_id".into(),
        ));
    }
    let mut out = vec![Update::default(); n];
    let utc = schema::clock_type();
    for (f, c) in schema.fields().iter().zip(batch.columns()) {
        let name = f.name().as_str();
        let Some(col) = column(name) else { continue };
        match col {
            Column::Id | Column::Text(_) => {
                let a = cast(c, &DataType::Utf8)?;
                let a = a.as_string::<i32>();
                for (i, u) in out.iter_mut().enumerate() {
                    let v = a.is_valid(i).then(|| a.value(i));
                    if matches!(col, Column::Id) {
                        u.id = v.unwrap_or_default().to_string();
                    } else {
                        set_text(u, name, v);
                    }
                }
            }
            Column::Clock(k) => {
                let a = cast(c, &utc)?;
                let a = a.as_primitive::<TimestampMicrosecondType>();
                for (i, u) in out.iter_mut().enumerate() {
                    u.set_clock(k, a.is_valid(i).then(|| a.value(i)));
                }
            }
            Column::Flag(_) => {
                let a = cast(c, &DataType::Boolean)?;
                let a = a.as_boolean();
                for (i, u) in out.iter_mut().enumerate() {
                    set_flag(u, name, a.is_valid(i).then(|| a.value(i)));
                }
            }
        }
    }
    Ok(out)
}

/// Splits a complete record into the updates a feed would have sent: one per event clock, at
/// that clock's time, the first also carrying borough, grade and channel, the last
/// `cancelled`. A column that is no event of its own travels with the clock that makes it
/// known: `appointment_due` with `appointment_agreed`, `satisfied` and `respondent_group` with
/// `surveyed`, `abandoned` with `call_ended` (each with the first update when that clock is
/// missing).
pub fn split_record(r: &Update) -> Vec<(i64, Update)> {
    let all = r.all_clocks();
    let mut times: Vec<(i64, usize)> = all
        .iter()
        .enumerate()
        .filter(|&(k, _)| is_event_clock(k))
        .filter_map(|(k, c)| c.map(|t| (t, k)))
        .collect();
    times.sort_unstable();
    if times.is_empty() {
        // No event clock at all: one update with no event time, so the record still reaches
        // the state.
        return vec![(i64::MIN, r.clone())];
    }
    let last = times.len() - 1;
    let opt = r.optional.as_deref();
    // The update each companion travels with: its clock's, else the first.
    let with = |clock: usize| {
        (all[clock].is_some())
            .then(|| times.iter().position(|&(_, k)| k == clock))
            .flatten()
            .unwrap_or(0)
    };
    let (due_at, survey_at, ended_at) = (
        with(APPOINTMENT_AGREED_AT),
        with(SURVEYED_AT),
        with(CALL_ENDED_AT),
    );
    times
        .iter()
        .enumerate()
        .map(|(j, &(t, k))| {
            let mut u = Update {
                id: r.id.clone(),
                ..Default::default()
            };
            u.set_clock(k, Some(t));
            if j == 0 {
                u.borough.clone_from(&r.borough);
                u.grade.clone_from(&r.grade);
                u.channel.clone_from(&r.channel);
            }
            if j == last {
                u.cancelled = r.cancelled;
            }
            if let Some(o) = opt {
                if j == due_at {
                    u.set_clock(APPOINTMENT_DUE_AT, all[APPOINTMENT_DUE_AT]);
                }
                if j == survey_at {
                    set_flag(&mut u, schema::SATISFIED, o.satisfied);
                    set_text(
                        &mut u,
                        schema::RESPONDENT_GROUP,
                        o.respondent_group.as_deref(),
                    );
                }
                if j == ended_at {
                    set_flag(&mut u, schema::ABANDONED, o.abandoned);
                }
            }
            (t, u)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record() -> Update {
        Update {
            id: "a".into(),
            borough: Some("B".into()),
            grade: Some("I".into()),
            channel: None,
            clocks: [Some(10), Some(12), None, Some(11), Some(30), Some(40)],
            cancelled: Some(false),
            optional: None,
        }
    }

    #[test]
    fn split_then_merge_gives_the_record_back() {
        let r = record();
        let parts = split_record(&r);
        assert_eq!(parts.len(), 5);
        assert!(parts.windows(2).all(|w| w[0].0 <= w[1].0));
        let mut m = Update {
            id: "a".into(),
            ..Default::default()
        };
        for (_, u) in &parts {
            m.merge(u);
        }
        assert_eq!(m, r);
        let back = from_batch(&to_batch(parts.iter().map(|p| &p.1))).unwrap();
        assert_eq!(back.len(), 5);
        assert_eq!(back[0].borough.as_deref(), Some("B"));
        assert!(back.iter().all(|u| u.optional.is_none()));
    }

    /// The optional columns: each clock its own update, the due time with the agreement and
    /// the survey's answer with the survey; every column survives Arrow and back.
    #[test]
    fn optional_columns_split_merge_and_round_trip() {
        let mut r = record();
        let o = r.optional_mut();
        o.clocks[1] = Some(20); // appointment_agreed
        o.clocks[2] = Some(500); // appointment_due: ahead of everything
        o.clocks[9] = Some(90); // surveyed
        o.satisfied = Some(true);
        o.respondent_group = Some("White".into());
        o.abandoned = Some(false);
        assert_eq!(r.event_us(), Some(90), "the due time is no event");
        let parts = split_record(&r);
        assert_eq!(parts.len(), 7);
        assert!(parts.iter().all(|(t, _)| *t < 500));
        let agreed = parts.iter().find(|(t, _)| *t == 20).unwrap();
        assert_eq!(agreed.1.clock(APPOINTMENT_DUE_AT), Some(500));
        let survey = &parts.last().unwrap().1;
        assert_eq!(survey.clock(SURVEYED_AT), Some(90));
        let so = survey.optional.as_deref().unwrap();
        assert_eq!(
            (so.satisfied, so.respondent_group.as_deref()),
            (Some(true), Some("White"))
        );
        // No call_ended: `abandoned` travels with the first update.
        assert_eq!(parts[0].1.optional.as_ref().unwrap().abandoned, Some(false));
        let mut m = Update {
            id: "a".into(),
            ..Default::default()
        };
        for (_, u) in &parts {
            m.merge(u);
        }
        assert_eq!(m, r);
        let b = to_batch([&r, &record()]);
        assert_eq!(b.schema(), update_schema());
        let back = from_batch(&b).unwrap();
        assert_eq!(back, vec![r, record()]);
    }

    /// The update's columns are exactly the schema's canonical and optional ones.
    #[test]
    fn every_schema_column_is_carried() {
        let schema = update_schema();
        assert_eq!(
            schema.fields().len(),
            schema::COLUMNS.len() + schema::OPTIONAL_COLUMNS.len()
        );
        let clocks: Vec<&str> = (schema::COLUMNS.iter().chain(&schema::OPTIONAL_COLUMNS))
            .filter(|c| c.kind == ColumnKind::Clock)
            .map(|c| c.name)
            .collect();
        assert_eq!(clocks, ALL_CLOCKS);
        for f in schema.fields() {
            assert!(column(f.name()).is_some(), "{}", f.name());
            assert!(kind_of(f.name()).is_some(), "{}", f.name());
        }
        assert_eq!(ALL_CLOCKS[CALL_ENDED_AT], schema::CALL_ENDED);
        assert_eq!(
            ALL_CLOCKS[APPOINTMENT_AGREED_AT],
            schema::APPOINTMENT_AGREED
        );
        assert_eq!(ALL_CLOCKS[APPOINTMENT_DUE_AT], schema::APPOINTMENT_DUE);
        assert_eq!(ALL_CLOCKS[SURVEYED_AT], schema::SURVEYED);
    }
}
