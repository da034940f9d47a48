//! Updates: a CAD feed delivers an incident in pieces, each carrying its id and some canonical
//! columns. Between tasks they travel as Arrow batches of the canonical schema (every column
//! nullable; null means "not in this update").

use std::sync::Arc;

use arrow::array::{
    Array, ArrayRef, AsArray, BooleanBuilder, RecordBatch, StringBuilder,
    TimestampMicrosecondBuilder,
};
use arrow::compute::cast;
use arrow::datatypes::{DataType, Field, Schema, SchemaRef, TimeUnit, TimestampMicrosecondType};
use serde::{Deserialize, Serialize};
use slate_core::schema::{self, CLOCKS};

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
    /// The six clocks, microseconds since the epoch (UTC), in [`CLOCKS`] order.
    pub clocks: [Option<i64>; 6],
    /// cancelled.
    pub cancelled: Option<bool>,
}

impl Update {
    /// When the update happened: its latest clock.
    pub fn event_us(&self) -> Option<i64> {
        self.clocks.iter().flatten().copied().max()
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
    }
}

/// The schema of update batches: the canonical columns, all nullable.
pub fn update_schema() -> SchemaRef {
    let fields: Vec<Field> = schema::canonical_schema()
        .fields()
        .iter()
        .map(|f| f.as_ref().clone().with_nullable(true))
        .collect();
    Arc::new(Schema::new(fields))
}

/// Updates (or records) as one batch of the canonical schema.
pub fn to_batch<'a>(updates: impl IntoIterator<Item = &'a Update>) -> RecordBatch {
    let mut id = StringBuilder::new();
    let mut b = StringBuilder::new();
    let mut g = StringBuilder::new();
    let mut c = StringBuilder::new();
    let mut ts: Vec<TimestampMicrosecondBuilder> =
        (0..6).map(|_| TimestampMicrosecondBuilder::new()).collect();
    let mut can = BooleanBuilder::new();
    for u in updates {
        id.append_value(&u.id);
        b.append_option(u.borough.as_deref());
        g.append_option(u.grade.as_deref());
        c.append_option(u.channel.as_deref());
        for (t, v) in ts.iter_mut().zip(u.clocks) {
            t.append_option(v);
        }
        can.append_option(u.cancelled);
    }
    let mut cols: Vec<ArrayRef> = vec![
        Arc::new(id.finish()),
        Arc::new(b.finish()),
        Arc::new(g.finish()),
        Arc::new(c.finish()),
    ];
    cols.extend(
        ts.iter_mut()
            .map(|t| Arc::new(t.finish().with_timezone("UTC")) as ArrayRef),
    );
    cols.push(Arc::new(can.finish()));
    RecordBatch::try_new(update_schema(), cols).expect("columns follow the update schema")
}

/// Reads a batch with canonical column names (any subset; clocks of any unit, with a zone)
/// into updates. Naive clocks must have been resolved by the source.
pub fn from_batch(batch: &RecordBatch) -> Result<Vec<Update>, arrow::error::ArrowError> {
    let n = batch.num_rows();
    let text = |name: &str| -> Result<Option<ArrayRef>, arrow::error::ArrowError> {
        batch
            .column_by_name(name)
            .map(|c| cast(c, &DataType::Utf8))
            .transpose()
    };
    let ids = text(schema::INCIDENT_ID)?
        .ok_or_else(|| arrow::error::ArrowError::SchemaError("updates need incident_id".into()))?;
    let (b, g, c) = (
        text(schema::BOROUGH)?,
        text(schema::GRADE)?,
        text(schema::CHANNEL)?,
    );
    let utc = DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into()));
    let clocks: Vec<Option<ArrayRef>> = CLOCKS
        .iter()
        .map(|name| {
            batch
                .column_by_name(name)
                .map(|a| cast(a, &utc))
                .transpose()
        })
        .collect::<Result<_, _>>()?;
    let can = batch
        .column_by_name(schema::CANCELLED)
        .map(|a| cast(a, &DataType::Boolean))
        .transpose()?;
    let s = |a: &Option<ArrayRef>, i: usize| {
        a.as_ref().and_then(|a| {
            let a = a.as_string::<i32>();
            a.is_valid(i).then(|| a.value(i).to_string())
        })
    };
    let mut out = Vec::with_capacity(n);
    for i in 0..n {
        out.push(Update {
            id: s(&Some(ids.clone()), i).unwrap_or_default(),
            borough: s(&b, i),
            grade: s(&g, i),
            channel: s(&c, i),
            clocks: std::array::from_fn(|k| {
                clocks[k].as_ref().and_then(|a| {
                    let a = a.as_primitive::<TimestampMicrosecondType>();
                    a.is_valid(i).then(|| a.value(i))
                })
            }),
            cancelled: can.as_ref().and_then(|a| {
                let a = a.as_boolean();
                a.is_valid(i).then(|| a.value(i))
            }),
        });
    }
    Ok(out)
}

/// Splits a complete record into the updates a feed would have sent: one per clock, at that
/// clock's time, the first also carrying borough, grade and channel, the last `cancelled`.
pub fn split_record(r: &Update) -> Vec<(i64, Update)> {
    let mut times: Vec<(i64, usize)> = r
        .clocks
        .iter()
        .enumerate()
        .filter_map(|(k, c)| c.map(|t| (t, k)))
        .collect();
    times.sort_unstable();
    if times.is_empty() {
        // No clock at all: one update with no event time, so the record still reaches the state.
        return vec![(i64::MIN, r.clone())];
    }
    let last = times.len() - 1;
    times
        .iter()
        .enumerate()
        .map(|(j, &(t, k))| {
            let mut u = Update {
                id: r.id.clone(),
                ..Default::default()
            };
            u.clocks[k] = Some(t);
            if j == 0 {
                u.borough.clone_from(&r.borough);
                u.grade.clone_from(&r.grade);
                u.channel.clone_from(&r.channel);
            }
            if j == last {
                u.cancelled = r.cancelled;
            }
            (t, u)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn split_then_merge_gives_the_record_back() {
        let r = Update {
            id: "a".into(),
            borough: Some("B".into()),
            grade: Some("I".into()),
            channel: None,
            clocks: [Some(10), Some(12), None, Some(11), Some(30), Some(40)],
            cancelled: Some(false),
        };
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
    }
}
