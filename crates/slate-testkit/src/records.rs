//! Canonical records as plain Rust values, read from Arrow batches without slate's readers.

use arrow::array::{Array, AsArray, RecordBatch};
use arrow::datatypes::{DataType, TimeUnit, TimestampMicrosecondType};
use slate_core::schema;

/// Clock columns in [`Rec::clocks`] order.
pub const CLOCKS: [&str; 6] = schema::CLOCKS;

/// One canonical record.
#[derive(Debug, Clone, PartialEq)]
pub struct Rec {
    /// incident_id.
    pub id: String,
    /// borough.
    pub borough: Option<String>,
    /// grade.
    pub grade: Option<String>,
    /// channel.
    pub channel: Option<String>,
    /// The six clocks in microseconds (instants, or naive local wall time if `naive`).
    pub clocks: [Option<i64>; 6],
    /// cancelled.
    pub cancelled: Option<bool>,
}

impl Rec {
    /// A text column by name.
    pub fn text(&self, col: &str) -> Option<&str> {
        match col {
            schema::BOROUGH => self.borough.as_deref(),
            schema::GRADE => self.grade.as_deref(),
            schema::CHANNEL => self.channel.as_deref(),
            schema::INCIDENT_ID => Some(&self.id),
            other => panic!("no text column {other}"),
        }
    }

    /// A clock by name.
    pub fn clock(&self, col: &str) -> Option<i64> {
        let i = CLOCKS
            .iter()
            .position(|c| *c == col)
            .unwrap_or_else(|| panic!("no clock {col}"));
        self.clocks[i]
    }
}

/// Reads canonical batches (clocks must be microsecond timestamps).
pub fn records_of(batches: &[RecordBatch]) -> Vec<Rec> {
    let mut out = Vec::new();
    for b in batches {
        let text = |name: &str| {
            let c = b
                .column_by_name(name)
                .unwrap_or_else(|| panic!("missing {name}"));
            let c = arrow::compute::cast(c, &DataType::Utf8).expect("text column");
            let s = c.as_string::<i32>().clone();
            (0..b.num_rows()).map(move |i| s.is_valid(i).then(|| s.value(i).to_string()))
        };
        let ids: Vec<_> = text(schema::INCIDENT_ID).collect();
        let boroughs: Vec<_> = text(schema::BOROUGH).collect();
        let grades: Vec<_> = text(schema::GRADE).collect();
        let channels: Vec<_> = text(schema::CHANNEL).collect();
        let clocks: Vec<Vec<Option<i64>>> = CLOCKS
            .iter()
            .map(|name| {
                let c = b
                    .column_by_name(name)
                    .unwrap_or_else(|| panic!("missing {name}"));
                assert!(matches!(
                    c.data_type(),
                    DataType::Timestamp(TimeUnit::Microsecond, _)
                ));
                let a = c.as_primitive::<TimestampMicrosecondType>();
                (0..b.num_rows())
                    .map(|i| a.is_valid(i).then(|| a.value(i)))
                    .collect()
            })
            .collect();
        let cancelled = b
            .column_by_name(schema::CANCELLED)
            .expect("cancelled")
            .as_boolean()
            .clone();
        for i in 0..b.num_rows() {
            out.push(Rec {
                id: ids[i].clone().unwrap_or_default(),
                borough: boroughs[i].clone(),
                grade: grades[i].clone(),
                channel: channels[i].clone(),
                clocks: std::array::from_fn(|k| clocks[k][i]),
                cancelled: cancelled.is_valid(i).then(|| cancelled.value(i)),
            });
        }
    }
    out
}
