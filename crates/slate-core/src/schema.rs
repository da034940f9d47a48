//! The canonical CAD record: column names, Arrow types, and what each column means.
//!
//! This is the one place that names canonical columns. Readers map sources onto it, the
//! generator writes it, `slate validate` checks against it, and policies name its clocks.
//! [`RecordBuilder`] turns rows of it into Arrow batches, for every writer.

use std::sync::Arc;

use arrow_schema::{DataType, Field, Schema, SchemaRef, TimeUnit};

mod record;
pub use record::RecordBuilder;

/// Unique id of an incident.
pub const INCIDENT_ID: &str = "incident_id";
/// Area the incident is reported under.
pub const BOROUGH: &str = "borough";
/// Response grade as graded (I, S, E, R, or a source's own codes).
pub const GRADE: &str = "grade";
/// How the call came in: 999, 101, online, other.
pub const CHANNEL: &str = "channel";
/// Call reached the control room.
pub const CALL_RECEIVED: &str = "call_received";
/// Call answered by a call handler.
pub const CALL_ANSWERED: &str = "call_answered";
/// Incident record created.
pub const INCIDENT_CREATED: &str = "incident_created";
/// First resource dispatched.
pub const DISPATCHED: &str = "dispatched";
/// First resource arrived on scene.
pub const ARRIVED: &str = "arrived";
/// Incident closed.
pub const CLOSED: &str = "closed";
/// Incident cancelled before attendance.
pub const CANCELLED: &str = "cancelled";

/// Optional: call handling ended (the handler's wrap-up done, or the caller hung up while
/// waiting). With `call_answered` it gives the handling time capacity planning needs.
pub const CALL_ENDED: &str = "call_ended";
/// Optional: the caller hung up before the call was answered.
pub const ABANDONED: &str = "abandoned";
/// Optional: an appointment time was agreed with the caller.
pub const APPOINTMENT_AGREED: &str = "appointment_agreed";
/// Optional: the agreed appointment time.
pub const APPOINTMENT_DUE: &str = "appointment_due";
/// Optional: a message about a local issue that needs a reply (call-back or e-mail) came in.
pub const CALLBACK_REQUESTED: &str = "callback_requested";
/// Optional: the reply was made.
pub const CALLBACK_MADE: &str = "callback_made";
/// Optional: dissatisfaction with the service was reported.
pub const COMPLAINT_RECEIVED: &str = "complaint_received";
/// Optional: the dissatisfaction was acknowledged.
pub const COMPLAINT_ACKNOWLEDGED: &str = "complaint_acknowledged";
/// Optional: a road-traffic collision was reported.
pub const COLLISION_REPORTED: &str = "collision_reported";
/// Optional: the Traffic Criminal Justice Unit contacted the reporter.
pub const COLLISION_CONTACTED: &str = "collision_contacted";
/// Optional: a service user answered the satisfaction survey about this incident.
pub const SURVEYED: &str = "surveyed";
/// Optional: the respondent was satisfied with the service overall.
pub const SATISFIED: &str = "satisfied";
/// Optional: the respondent's group for equality comparisons (e.g. ethnicity as recorded).
pub const RESPONDENT_GROUP: &str = "respondent_group";

/// The optional columns of a call queue (`slate gen --call-queue`).
pub const CALL_QUEUE_COLUMNS: [&str; 2] = [CALL_ENDED, ABANDONED];

/// The optional columns of the wider promises (`slate gen --promises`).
pub const PROMISE_COLUMNS: [&str; 11] = [
    APPOINTMENT_AGREED,
    APPOINTMENT_DUE,
    CALLBACK_REQUESTED,
    CALLBACK_MADE,
    COMPLAINT_RECEIVED,
    COMPLAINT_ACKNOWLEDGED,
    COLLISION_REPORTED,
    COLLISION_CONTACTED,
    SURVEYED,
    SATISFIED,
    RESPONDENT_GROUP,
];

/// The lifecycle clocks, in lifecycle order.
pub const CLOCKS: [&str; 6] = [
    CALL_RECEIVED,
    CALL_ANSWERED,
    INCIDENT_CREATED,
    DISPATCHED,
    ARRIVED,
    CLOSED,
];

/// Default grouping of a scorecard.
pub const DEFAULT_GROUP_BY: [&str; 2] = [BOROUGH, GRADE];

/// Default zone for naive timestamps and for calendar windows.
pub const DEFAULT_TZ: &str = "Europe/London";

/// The Arrow type slate writes for clocks: microseconds, as UTC instants.
pub fn clock_type() -> DataType {
    DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into()))
}

/// What kind of values a canonical column holds; readers accept any Arrow type of the kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ColumnKind {
    /// Utf8, LargeUtf8, Utf8View, or a dictionary of them; `incident_id` also takes integers.
    Text,
    /// A timestamp of any unit; with a zone it is an instant, without one local wall time.
    Clock,
    /// Boolean.
    Flag,
}

/// One canonical column and its documentation.
#[derive(Debug, Clone, Copy)]
pub struct ColumnSpec {
    /// Column name.
    pub name: &'static str,
    /// Kind of values.
    pub kind: ColumnKind,
    /// What the column means, for `--help` and the README.
    pub meaning: &'static str,
}

/// Every canonical column, in schema order.
pub const COLUMNS: [ColumnSpec; 11] = [
    ColumnSpec {
        name: INCIDENT_ID,
        kind: ColumnKind::Text,
        meaning: "unique per incident (Int64 accepted)",
    },
    ColumnSpec {
        name: BOROUGH,
        kind: ColumnKind::Text,
        meaning: "area the incident is reported under",
    },
    ColumnSpec {
        name: GRADE,
        kind: ColumnKind::Text,
        meaning: "response grade as graded (I, S, E, R)",
    },
    ColumnSpec {
        name: CHANNEL,
        kind: ColumnKind::Text,
        meaning: "how the call came in: 999, 101, online, other",
    },
    ColumnSpec {
        name: CALL_RECEIVED,
        kind: ColumnKind::Clock,
        meaning: "call reached the control room",
    },
    ColumnSpec {
        name: CALL_ANSWERED,
        kind: ColumnKind::Clock,
        meaning: "call answered by a handler",
    },
    ColumnSpec {
        name: INCIDENT_CREATED,
        kind: ColumnKind::Clock,
        meaning: "incident record created",
    },
    ColumnSpec {
        name: DISPATCHED,
        kind: ColumnKind::Clock,
        meaning: "first resource dispatched",
    },
    ColumnSpec {
        name: ARRIVED,
        kind: ColumnKind::Clock,
        meaning: "first resource on scene",
    },
    ColumnSpec {
        name: CLOSED,
        kind: ColumnKind::Clock,
        meaning: "incident closed",
    },
    ColumnSpec {
        name: CANCELLED,
        kind: ColumnKind::Flag,
        meaning: "cancelled before attendance",
    },
];

/// Optional canonical columns: checked by type when present, never required, so data without
/// them still validates. Few real exports have them (none of the built-in mappings); capacity
/// planning and the wider promises (`builtin:*-full` policies) use them when they are there.
pub const OPTIONAL_COLUMNS: [ColumnSpec; 13] = [
    ColumnSpec {
        name: CALL_ENDED,
        kind: ColumnKind::Clock,
        meaning: "call handling ended, or the caller hung up unanswered (optional)",
    },
    ColumnSpec {
        name: ABANDONED,
        kind: ColumnKind::Flag,
        meaning: "caller hung up before an answer (optional)",
    },
    ColumnSpec {
        name: APPOINTMENT_AGREED,
        kind: ColumnKind::Clock,
        meaning: "an appointment time was agreed with the caller (optional)",
    },
    ColumnSpec {
        name: APPOINTMENT_DUE,
        kind: ColumnKind::Clock,
        meaning: "the agreed appointment time (optional)",
    },
    ColumnSpec {
        name: CALLBACK_REQUESTED,
        kind: ColumnKind::Clock,
        meaning: "a call or e-mail about a local issue needing a reply came in (optional)",
    },
    ColumnSpec {
        name: CALLBACK_MADE,
        kind: ColumnKind::Clock,
        meaning: "the reply was made (optional)",
    },
    ColumnSpec {
        name: COMPLAINT_RECEIVED,
        kind: ColumnKind::Clock,
        meaning: "dissatisfaction with the service was reported (optional)",
    },
    ColumnSpec {
        name: COMPLAINT_ACKNOWLEDGED,
        kind: ColumnKind::Clock,
        meaning: "the dissatisfaction was acknowledged (optional)",
    },
    ColumnSpec {
        name: COLLISION_REPORTED,
        kind: ColumnKind::Clock,
        meaning: "a road-traffic collision was reported (optional)",
    },
    ColumnSpec {
        name: COLLISION_CONTACTED,
        kind: ColumnKind::Clock,
        meaning: "the Traffic Criminal Justice Unit contacted the reporter (optional)",
    },
    ColumnSpec {
        name: SURVEYED,
        kind: ColumnKind::Clock,
        meaning: "the satisfaction survey about this incident was answered (optional)",
    },
    ColumnSpec {
        name: SATISFIED,
        kind: ColumnKind::Flag,
        meaning: "the survey respondent was satisfied overall (optional)",
    },
    ColumnSpec {
        name: RESPONDENT_GROUP,
        kind: ColumnKind::Text,
        meaning: "the respondent's group for equality comparisons (optional)",
    },
];

/// The optional column of this name, if it is one.
pub fn optional_column(name: &str) -> Option<&'static ColumnSpec> {
    OPTIONAL_COLUMNS.iter().find(|c| c.name == name)
}

/// The canonical schema followed by the call queue's optional columns (what
/// `slate gen --call-queue` writes).
pub fn extended_schema() -> SchemaRef {
    schema_with(&CALL_QUEUE_COLUMNS)
}

/// The canonical schema followed by the named optional columns, in the order given.
///
/// # Panics
/// When a name is not an optional column (a programming error).
pub fn schema_with(optional: &[&str]) -> SchemaRef {
    schema_with_text(optional, &[])
}

/// [`schema_with`] followed by nullable Utf8 columns of the names in `text` (columns a mapping
/// keeps from its source as they are).
///
/// # Panics
/// When a name of `optional` is not an optional column (a programming error).
pub fn schema_with_text(optional: &[&str], text: &[&str]) -> SchemaRef {
    let mut fields: Vec<Field> = canonical_schema()
        .fields()
        .iter()
        .map(|f| f.as_ref().clone())
        .collect();
    fields.extend(optional.iter().map(|name| {
        let c = optional_column(name).expect("an optional column");
        match c.kind {
            ColumnKind::Clock => Field::new(c.name, clock_type(), true),
            ColumnKind::Flag => Field::new(c.name, DataType::Boolean, true),
            ColumnKind::Text => Field::new(c.name, DataType::Utf8, true),
        }
    }));
    fields.extend(text.iter().map(|n| Field::new(*n, DataType::Utf8, true)));
    Arc::new(Schema::new(fields))
}

/// The canonical schema as slate writes it (every column nullable but `incident_id`).
pub fn canonical_schema() -> SchemaRef {
    let fields: Vec<Field> = COLUMNS
        .iter()
        .map(|c| match c.kind {
            ColumnKind::Text => Field::new(c.name, DataType::Utf8, c.name != INCIDENT_ID),
            ColumnKind::Clock => Field::new(c.name, clock_type(), true),
            ColumnKind::Flag => Field::new(c.name, DataType::Boolean, true),
        })
        .collect();
    Arc::new(Schema::new(fields))
}

/// Whether an Arrow type is acceptable for a column of this kind.
pub fn kind_accepts(kind: ColumnKind, name: &str, dt: &DataType) -> bool {
    match kind {
        ColumnKind::Text => {
            is_text(dt) || (name == INCIDENT_ID && matches!(dt, DataType::Int64 | DataType::Int32))
        }
        ColumnKind::Clock => matches!(dt, DataType::Timestamp(_, _)),
        ColumnKind::Flag => matches!(dt, DataType::Boolean),
    }
}

/// Whether a type holds text (plain, large, view, or dictionary-encoded).
pub fn is_text(dt: &DataType) -> bool {
    match dt {
        DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View => true,
        DataType::Dictionary(_, v) => is_text(v),
        _ => false,
    }
}

/// A readable name of the kind, for error messages.
pub fn kind_name(kind: ColumnKind) -> &'static str {
    match kind {
        ColumnKind::Text => "text (Utf8)",
        ColumnKind::Clock => "a timestamp",
        ColumnKind::Flag => "a boolean",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn canonical_schema_accepts_itself() {
        let s = canonical_schema();
        assert_eq!(s.fields().len(), COLUMNS.len());
        for (f, c) in s.fields().iter().zip(COLUMNS) {
            assert_eq!(f.name(), c.name);
            assert!(kind_accepts(c.kind, c.name, f.data_type()), "{}", c.name);
        }
        assert!(kind_accepts(
            ColumnKind::Text,
            INCIDENT_ID,
            &DataType::Int64
        ));
        assert!(!kind_accepts(ColumnKind::Text, BOROUGH, &DataType::Int64));
        assert!(!kind_accepts(ColumnKind::Clock, ARRIVED, &DataType::Utf8));
    }

    #[test]
    fn optional_columns_extend_the_schema() {
        let names: Vec<&str> = OPTIONAL_COLUMNS.iter().map(|c| c.name).collect();
        let e = schema_with(&names);
        assert_eq!(e.fields().len(), COLUMNS.len() + OPTIONAL_COLUMNS.len());
        assert_eq!(
            extended_schema().fields().len(),
            COLUMNS.len() + CALL_QUEUE_COLUMNS.len()
        );
        for c in CALL_QUEUE_COLUMNS.iter().chain(&PROMISE_COLUMNS) {
            assert!(optional_column(c).is_some(), "{c}");
        }
        for c in OPTIONAL_COLUMNS {
            assert!(!COLUMNS.iter().any(|r| r.name == c.name));
            let f = e.field_with_name(c.name).expect("present");
            assert!(f.is_nullable() && kind_accepts(c.kind, c.name, f.data_type()));
            assert!(optional_column(c.name).is_some());
        }
        assert!(optional_column(ARRIVED).is_none());
    }
}
