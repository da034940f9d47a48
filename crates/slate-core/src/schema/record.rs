//! Rows of the canonical family into Arrow batches.
//!
//! It sits under [`crate::schema`] because it builds exactly the types that module names
//! (Utf8 text, microsecond clocks, Boolean flags) and nothing else: the importer, the stream's
//! emissions and the generator all write their records through [`RecordBuilder`], so the
//! Arrow form of a record is written once.

use std::sync::Arc;

use arrow_array::builder::{
    ArrayBuilder, BooleanBuilder, StringBuilder, TimestampMicrosecondBuilder,
};
use arrow_array::{ArrayRef, RecordBatch};
use arrow_schema::{ArrowError, DataType, SchemaRef, TimeUnit};

use super::COLUMNS;

/// Bytes reserved per row for each text column; the builders grow past it when needed.
const TEXT_BYTES_PER_ROW: usize = 8;

/// Builds batches of a schema of the canonical family: the canonical columns, any optional
/// ones (as [`super::schema_with`] types them) and extra text columns (a mapping's `keep`).
///
/// Values are appended by column position, each column with its own typed Arrow builder, so a
/// row costs no lookup by name. Columns may be filled in any order (row by row or column by
/// column); [`RecordBuilder::finish`] checks that they all have the same length.
///
/// Appending a value of the wrong kind to a column (text to a clock) is a programming error
/// and panics, naming the column.
#[derive(Debug)]
pub struct RecordBuilder {
    schema: SchemaRef,
    columns: Vec<Column>,
    /// Whether the schema starts with the canonical columns, for
    /// [`RecordBuilder::append_canonical`].
    canonical: bool,
}

#[derive(Debug)]
enum Column {
    Text(StringBuilder),
    Clock(TimestampMicrosecondBuilder),
    Flag(BooleanBuilder),
}

impl RecordBuilder {
    /// A builder for `schema`, with room for `capacity` rows (Arrow's builders start again
    /// empty after each [`finish`](Self::finish), so the room serves the first batch).
    ///
    /// Every column must be Utf8, a microsecond timestamp (its zone, if any, is kept) or
    /// Boolean; the error names the first that is not.
    pub fn new(schema: SchemaRef, capacity: usize) -> Result<Self, ArrowError> {
        let columns = schema
            .fields()
            .iter()
            .map(|f| match f.data_type() {
                DataType::Utf8 => Ok(Column::Text(StringBuilder::with_capacity(
                    capacity,
                    capacity * TEXT_BYTES_PER_ROW,
                ))),
                DataType::Timestamp(TimeUnit::Microsecond, tz) => Ok(Column::Clock(
                    TimestampMicrosecondBuilder::with_capacity(capacity)
                        .with_timezone_opt(tz.clone()),
                )),
                DataType::Boolean => Ok(Column::Flag(BooleanBuilder::with_capacity(capacity))),
                other => Err(ArrowError::SchemaError(format!(
                    "column {:?} is {other}; canonical records hold Utf8, \
                     Timestamp(Microsecond, _) or Boolean",
                    f.name()
                ))),
            })
            .collect::<Result<Vec<_>, _>>()?;
        // The canonical columns by name and kind (incident_id and the texts Utf8, and so on).
        let canonical = schema.fields().len() >= COLUMNS.len()
            && (schema.fields().iter().zip(&columns).zip(&COLUMNS)).all(|((f, b), c)| {
                f.name() == c.name
                    && matches!(
                        (b, c.kind),
                        (Column::Text(_), super::ColumnKind::Text)
                            | (Column::Clock(_), super::ColumnKind::Clock)
                            | (Column::Flag(_), super::ColumnKind::Flag)
                    )
            });
        Ok(RecordBuilder {
            schema,
            columns,
            canonical,
        })
    }

    /// The schema the batches will have.
    pub fn schema(&self) -> &SchemaRef {
        &self.schema
    }

    /// Rows appended since the last [`finish`](Self::finish) (those of the first column).
    pub fn len(&self) -> usize {
        match self.columns.first() {
            None => 0,
            Some(Column::Text(b)) => b.len(),
            Some(Column::Clock(b)) => b.len(),
            Some(Column::Flag(b)) => b.len(),
        }
    }

    /// Whether no row has been appended since the last [`finish`](Self::finish).
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Appends to text column `col`.
    #[inline(always)]
    pub fn append_text(&mut self, col: usize, v: Option<&str>) {
        match &mut self.columns[col] {
            Column::Text(b) => b.append_option(v),
            _ => self.wrong_kind(col, "text"),
        }
    }

    /// Appends to clock column `col`: microseconds since the epoch.
    #[inline(always)]
    pub fn append_clock(&mut self, col: usize, v: Option<i64>) {
        match &mut self.columns[col] {
            Column::Clock(b) => b.append_option(v),
            _ => self.wrong_kind(col, "a clock"),
        }
    }

    /// Appends to flag column `col`.
    #[inline(always)]
    pub fn append_flag(&mut self, col: usize, v: Option<bool>) {
        match &mut self.columns[col] {
            Column::Flag(b) => b.append_option(v),
            _ => self.wrong_kind(col, "a flag"),
        }
    }

    /// Appends the canonical columns of one row, in [`COLUMNS`] order: `incident_id`; borough,
    /// grade and channel; the six lifecycle clocks (microseconds since the epoch); cancelled.
    /// Any later columns of the row are appended by position after this.
    ///
    /// # Panics
    /// When the schema does not start with the canonical columns (a programming error).
    pub fn append_canonical(
        &mut self,
        id: &str,
        texts: [Option<&str>; 3],
        clocks: [Option<i64>; 6],
        cancelled: Option<bool>,
    ) {
        assert!(
            self.canonical,
            "the schema starts with the canonical columns"
        );
        // One slice pattern for the eleven columns: cheap in unoptimised builds too, where
        // each indexed append is several calls.
        let [
            Column::Text(i),
            Column::Text(b),
            Column::Text(g),
            Column::Text(c),
            Column::Clock(c0),
            Column::Clock(c1),
            Column::Clock(c2),
            Column::Clock(c3),
            Column::Clock(c4),
            Column::Clock(c5),
            Column::Flag(f),
            ..,
        ] = self.columns.as_mut_slice()
        else {
            unreachable!("canonical columns are of their kinds")
        };
        i.append_value(id);
        let [borough, grade, channel] = texts;
        b.append_option(borough);
        g.append_option(grade);
        c.append_option(channel);
        let [r, a, cr, d, ar, cl] = clocks;
        c0.append_option(r);
        c1.append_option(a);
        c2.append_option(cr);
        c3.append_option(d);
        c4.append_option(ar);
        c5.append_option(cl);
        f.append_option(cancelled);
    }

    /// The batch so far, in schema order; the builders start again empty. Fails when the
    /// columns differ in length or a non-nullable column holds a null.
    pub fn finish(&mut self) -> Result<RecordBatch, ArrowError> {
        let columns: Vec<ArrayRef> = self
            .columns
            .iter_mut()
            .map(|c| match c {
                Column::Text(b) => Arc::new(b.finish()) as ArrayRef,
                Column::Clock(b) => Arc::new(b.finish()) as ArrayRef,
                Column::Flag(b) => Arc::new(b.finish()) as ArrayRef,
            })
            .collect();
        RecordBatch::try_new(self.schema.clone(), columns)
    }

    #[cold]
    fn wrong_kind(&self, col: usize, kind: &str) -> ! {
        panic!(
            "column {col} ({:?}) is {}, not {kind}",
            self.schema.field(col).name(),
            self.schema.field(col).data_type()
        )
    }
}

#[cfg(test)]
mod tests {
    use arrow_array::cast::AsArray;
    use arrow_array::types::TimestampMicrosecondType;
    use arrow_array::{Array, BooleanArray, StringArray, TimestampMicrosecondArray};
    use arrow_schema::{Field, Schema};

    use super::super::{
        CALL_ENDED, INCIDENT_ID, RESPONDENT_GROUP, SATISFIED, canonical_schema, clock_type,
        schema_with_text,
    };
    use super::*;

    /// Canonical columns, an optional clock, flag and text column, and a kept text column,
    /// against arrays built by hand.
    #[test]
    fn builds_every_column_kind_in_schema_order() {
        let schema = schema_with_text(&[CALL_ENDED, SATISFIED, RESPONDENT_GROUP], &["station"]);
        assert_eq!(
            schema.field(14),
            &Field::new("station", DataType::Utf8, true)
        );
        let mut b = RecordBuilder::new(schema.clone(), 1).expect("canonical family");
        assert!(b.is_empty());
        let (call_ended, satisfied, group, station) = (11, 12, 13, 14);
        b.append_canonical(
            "a",
            [Some("Camden"), Some("I"), None],
            [Some(1), Some(2), None, Some(4), Some(5), Some(6)],
            Some(false),
        );
        b.append_clock(call_ended, Some(-7));
        b.append_flag(satisfied, None);
        b.append_text(group, Some("White"));
        b.append_text(station, Some("Soho"));
        // The second row column by column, out of order: positions, not sequence, decide.
        b.append_text(station, None);
        b.append_text(group, None);
        b.append_flag(satisfied, Some(true));
        b.append_clock(call_ended, None);
        b.append_canonical("b", [None, None, Some("999")], [None; 6], None);
        assert_eq!(b.len(), 2);

        let batch = b.finish().expect("rows complete");
        assert_eq!(batch.schema(), schema);
        assert_eq!(batch.num_rows(), 2);
        let text = |name: &str| batch[name].as_string::<i32>().clone();
        let clock = |name: &str| {
            batch[name]
                .as_primitive::<TimestampMicrosecondType>()
                .clone()
        };
        assert_eq!(text(INCIDENT_ID), StringArray::from(vec!["a", "b"]));
        assert_eq!(
            text("borough"),
            StringArray::from(vec![Some("Camden"), None])
        );
        assert_eq!(text("channel"), StringArray::from(vec![None, Some("999")]));
        assert_eq!(
            clock("call_received"),
            TimestampMicrosecondArray::from(vec![Some(1), None]).with_timezone("UTC")
        );
        assert_eq!(
            clock("dispatched"),
            TimestampMicrosecondArray::from(vec![Some(4), None]).with_timezone("UTC")
        );
        assert_eq!(
            clock(CALL_ENDED),
            TimestampMicrosecondArray::from(vec![Some(-7), None]).with_timezone("UTC")
        );
        assert_eq!(batch[CALL_ENDED].data_type(), &clock_type());
        assert_eq!(
            batch["cancelled"].as_boolean(),
            &BooleanArray::from(vec![Some(false), None])
        );
        assert_eq!(
            batch[SATISFIED].as_boolean(),
            &BooleanArray::from(vec![None, Some(true)])
        );
        assert_eq!(
            text(RESPONDENT_GROUP),
            StringArray::from(vec![Some("White"), None])
        );
        assert_eq!(text("station"), StringArray::from(vec![Some("Soho"), None]));
        assert_eq!(batch["station"].null_count(), 1);

        // The builders start again empty, and keep the zone.
        assert!(b.is_empty());
        b.append_canonical("c", [None; 3], [Some(9); 6], Some(true));
        for col in 11..15 {
            match col {
                11 => b.append_clock(col, Some(10)),
                12 => b.append_flag(col, Some(false)),
                _ => b.append_text(col, Some("x")),
            }
        }
        let next = b.finish().expect("rows complete");
        assert_eq!(next.num_rows(), 1);
        assert_eq!(next.schema(), schema);
        assert_eq!(next["closed"].data_type(), &clock_type());
    }

    #[test]
    fn uneven_columns_and_null_ids_are_errors() {
        let mut b = RecordBuilder::new(canonical_schema(), 0).expect("canonical");
        b.append_canonical("a", [None; 3], [None; 6], None);
        b.append_text(0, Some("b"));
        assert!(b.finish().is_err(), "a row without its other columns");

        let mut b = RecordBuilder::new(canonical_schema(), 0).expect("canonical");
        b.append_text(0, None);
        for col in 1..4 {
            b.append_text(col, None);
        }
        for col in 4..10 {
            b.append_clock(col, None);
        }
        b.append_flag(10, None);
        let err = b.finish().expect_err("incident_id is not nullable");
        assert!(err.to_string().contains(INCIDENT_ID), "{err}");
    }

    #[test]
    fn other_types_are_refused_by_name() {
        let schema = Arc::new(Schema::new(vec![Field::new("n", DataType::Int64, true)]));
        let err = RecordBuilder::new(schema, 0).expect_err("not of the family");
        assert!(err.to_string().contains("\"n\" is Int64"), "{err}");
        let ms = Arc::new(Schema::new(vec![Field::new(
            "t",
            DataType::Timestamp(TimeUnit::Millisecond, None),
            true,
        )]));
        assert!(RecordBuilder::new(ms, 0).is_err());
    }

    #[test]
    #[should_panic(expected = "column 4 (\"call_received\")")]
    fn a_value_of_the_wrong_kind_names_the_column() {
        let mut b = RecordBuilder::new(canonical_schema(), 0).expect("canonical");
        b.append_text(4, Some("noon"));
    }

    #[test]
    #[should_panic(expected = "canonical columns")]
    fn canonical_rows_need_a_canonical_schema() {
        let schema = Arc::new(Schema::new(vec![Field::new("x", DataType::Utf8, true)]));
        let mut b = RecordBuilder::new(schema, 0).expect("text");
        b.append_canonical("a", [None; 3], [None; 6], None);
    }
}
