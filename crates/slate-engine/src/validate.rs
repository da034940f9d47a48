//! `slate validate`: checks input files against the canonical schema and reports what is in
//! them (rows, nulls, time range, clocks out of order, duplicate ids).

use std::path::PathBuf;

use datafusion::arrow::array::{Array, AsArray};
use datafusion::arrow::datatypes::{DataType, Int64Type, TimestampMicrosecondType};
use datafusion::prelude::{DataFrame, SessionContext};
use slate_core::schema::{self, COLUMNS};

use slate_io::ImportSummary;

use crate::error::Result;
use crate::input::Input;

/// A problem that makes a file unusable.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SchemaProblem {
    /// The file.
    pub file: PathBuf,
    /// The column.
    pub column: String,
    /// What is wrong.
    pub reason: String,
}

impl std::fmt::Display for SchemaProblem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{}: column {:?}: {}",
            self.file.display(),
            self.column,
            self.reason
        )
    }
}

/// Nulls of one column.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ColumnNulls {
    /// Column name.
    pub name: String,
    /// Null values.
    pub nulls: u64,
}

/// What `slate validate` found.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ValidationReport {
    /// Files read.
    pub files: usize,
    /// Rows in all files.
    pub rows: u64,
    /// Problems that make the input unusable (missing columns, wrong types).
    pub schema_problems: Vec<SchemaProblem>,
    /// Columns beyond the canonical ones (kept, usable by policies).
    pub extra_columns: Vec<String>,
    /// Nulls per canonical column.
    pub nulls: Vec<ColumnNulls>,
    /// Earliest and latest `call_received`, microseconds since the epoch (UTC).
    pub time_range: Option<(i64, i64)>,
    /// For each later clock: rows where it is before `call_received`.
    pub order_violations: Vec<(String, u64)>,
    /// Rows whose `incident_id` repeats an earlier row's.
    pub duplicate_ids: u64,
    /// A mapped source's accounting (`input rows = imported + rejected`).
    pub source: Option<ImportSummary>,
}

impl ValidationReport {
    /// Whether anything was found that a scorecard would exclude or miscount.
    pub fn has_findings(&self) -> bool {
        self.duplicate_ids > 0
            || self.source.as_ref().is_some_and(|s| s.rejected_rows > 0)
            || self.order_violations.iter().any(|v| v.1 > 0)
            || self
                .nulls
                .iter()
                .any(|c| c.name == schema::INCIDENT_ID && c.nulls > 0)
    }
}

/// Validates an input. For Parquet, unreadable files are errors naming the file, and schema
/// problems are collected (every file, every column) and returned without scanning data. A
/// mapped source has the canonical schema by construction; its rows are scanned through the
/// mapping, and its accounting is in [`ValidationReport::source`].
pub async fn validate(input: &Input) -> Result<ValidationReport> {
    let files = input.files();
    let mut report = ValidationReport {
        files: files.len(),
        ..Default::default()
    };
    for (f, s) in files.iter().zip(input.parquet_schemas()) {
        for spec in COLUMNS {
            match s.field_with_name(spec.name) {
                Err(_) => report.schema_problems.push(SchemaProblem {
                    file: f.clone(),
                    column: spec.name.to_string(),
                    reason: "missing".into(),
                }),
                Ok(field) => report.schema_problems.extend(wrong_type(f, &spec, field)),
            }
        }
        for field in s.fields() {
            let name = field.name();
            // Optional canonical columns (call_ended, abandoned) are checked only when present.
            if let Some(spec) = schema::optional_column(name) {
                report.schema_problems.extend(wrong_type(f, spec, field));
                continue;
            }
            if !COLUMNS.iter().any(|c| c.name == name) && !report.extra_columns.contains(name) {
                report.extra_columns.push(name.clone());
            }
        }
    }
    if let Some(m) = input.mapping() {
        report.extra_columns = m.keep_names().iter().map(|s| s.to_string()).collect();
    }
    if !report.schema_problems.is_empty() {
        report.rows = input.rows().unwrap_or(0);
        return Ok(report);
    }
    let ctx = SessionContext::new_with_config_rt(Default::default(), crate::store::runtime_env());
    let result = scan(&ctx, input.dataframe(&ctx).await?, &mut report).await;
    report.source = input.summary();
    match result {
        Ok(()) => Ok(report),
        Err(e) if input.mapping().is_some() => Err(e),
        // DataFusion's error may not say which file is damaged: find it by reading each alone.
        Err(e) => {
            for f in files {
                let mut scratch = ValidationReport::default();
                let one = Input::open(&[f.to_string_lossy().into_owned()], None, None)?;
                if let Err(fe) = scan(&ctx, one.dataframe(&ctx).await?, &mut scratch).await {
                    return Err(crate::Error::Io(slate_io::Error::Io {
                        path: f.clone(),
                        source: std::io::Error::other(fe.to_string()),
                    }));
                }
            }
            Err(e)
        }
    }
}

/// The problem of a column whose type is not of its canonical kind, if it is not.
fn wrong_type(
    file: &std::path::Path,
    spec: &schema::ColumnSpec,
    field: &datafusion::arrow::datatypes::Field,
) -> Option<SchemaProblem> {
    (!schema::kind_accepts(spec.kind, spec.name, field.data_type())).then(|| SchemaProblem {
        file: file.to_path_buf(),
        column: spec.name.to_string(),
        reason: format!(
            "is {}, expected {}",
            field.data_type(),
            schema::kind_name(spec.kind)
        ),
    })
}

async fn scan(ctx: &SessionContext, df: DataFrame, report: &mut ValidationReport) -> Result<()> {
    ctx.register_table("input", df.into_view())?;
    let q = |s: &str| format!("\"{s}\"");
    let mut select: Vec<String> = vec!["count(*)".into()];
    for c in COLUMNS {
        select.push(format!("count(*) - count({})", q(c.name)));
    }
    let utc = |c: &str| {
        format!(
            "arrow_cast({}, 'Timestamp(Microsecond, Some(\"UTC\"))')",
            q(c)
        )
    };
    select.push(format!(
        "CAST(min({}) AS BIGINT)",
        utc(schema::CALL_RECEIVED)
    ));
    select.push(format!(
        "CAST(max({}) AS BIGINT)",
        utc(schema::CALL_RECEIVED)
    ));
    let later: Vec<&str> = schema::CLOCKS[1..].to_vec();
    for c in &later {
        select.push(format!(
            "count(*) FILTER (WHERE {} < {})",
            utc(c),
            utc(schema::CALL_RECEIVED)
        ));
    }
    select.push(format!(
        "count({}) - count(DISTINCT {})",
        q(schema::INCIDENT_ID),
        q(schema::INCIDENT_ID)
    ));
    let sql = format!("SELECT {} FROM input", select.join(", "));
    let batches = ctx.sql(&sql).await?.collect().await;
    ctx.deregister_table("input")?;
    let batches = batches?;
    let b = &batches[0];
    let int = |i: usize| -> u64 {
        let c = b.column(i);
        if c.is_null(0) {
            return 0;
        }
        match c.data_type() {
            DataType::Int64 => c.as_primitive::<Int64Type>().value(0).max(0) as u64,
            _ => 0,
        }
    };
    report.rows = int(0);
    let mut i = 1;
    report.nulls = COLUMNS
        .iter()
        .map(|c| {
            let n = ColumnNulls {
                name: c.name.to_string(),
                nulls: int(i),
            };
            i += 1;
            n
        })
        .collect();
    let ts = |i: usize| {
        let c = b.column(i);
        if c.is_null(0) {
            return None;
        }
        match c.data_type() {
            DataType::Int64 => Some(c.as_primitive::<Int64Type>().value(0)),
            DataType::Timestamp(_, _) => {
                Some(c.as_primitive::<TimestampMicrosecondType>().value(0))
            }
            _ => None,
        }
    };
    report.time_range = ts(i).zip(ts(i + 1));
    i += 2;
    report.order_violations = later
        .iter()
        .map(|c| {
            let v = (c.to_string(), int(i));
            i += 1;
            v
        })
        .collect();
    report.duplicate_ids = int(i);
    Ok(())
}
