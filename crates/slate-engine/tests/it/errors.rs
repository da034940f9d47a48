//! Bad policies and bad data: clear errors naming the measure, field, file or column; never a
//! panic.

use std::sync::Arc;

use chrono::NaiveDate;
use slate_core::{PercentileMethod, SlaPolicy, TzRules, WindowKind};
use slate_datagen::{GenConfig, write_dataset};
use slate_engine::validate::{ValidationReport, validate};
use slate_engine::{Input, Plan, ScorecardOptions};

fn opts() -> ScorecardOptions {
    ScorecardOptions {
        window: WindowKind::Month,
        group_by: vec!["borough".into(), "grade".into()],
        tz: Arc::new(TzRules::from_name("Europe/London").unwrap()),
        from: None,
        to: None,
        method: PercentileMethod::Linear,
        rollups: true,
        threads: Some(1),
    }
}

fn small_dataset(dirty: f64) -> tempfile::TempDir {
    let d = tempfile::tempdir().unwrap();
    let config = GenConfig {
        rows: 3000,
        seed: 5,
        from: NaiveDate::from_ymd_opt(2020, 1, 1).unwrap(),
        years: 1,
        dirty_rate: dirty,
        promises: false,
    };
    let rules = TzRules::from_name("Europe/London").unwrap();
    write_dataset(&config, &rules, d.path(), 1, false, &|_| {}).unwrap();
    d
}

async fn plan_of(
    dir: &std::path::Path,
    policy: &SlaPolicy,
    opts: &ScorecardOptions,
) -> slate_engine::Result<Plan> {
    let input = Input::open(&[dir.to_string_lossy().into_owned()], None, None)?;
    Plan::new(&input, policy, opts).await
}

async fn validate_of(path: &std::path::Path) -> slate_engine::Result<ValidationReport> {
    validate(&Input::open(
        &[path.to_string_lossy().into_owned()],
        None,
        None,
    )?)
    .await
}

fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

fn plan_err(dir: &std::path::Path, policy: &str, opts: &ScorecardOptions) -> String {
    let policy = SlaPolicy::from_toml(policy, "test").unwrap();
    match rt().block_on(plan_of(dir, &policy, opts)) {
        Ok(_) => panic!("plan accepted a bad policy"),
        Err(e) => e.to_string(),
    }
}

const M: &str = "[[measure]]\nid = \"m1\"\nthreshold = \"10m\"\n";

#[test]
fn policy_mismatches_name_measure_and_field() {
    let d = small_dataset(0.0);
    let o = opts();
    let e = plan_err(
        d.path(),
        &format!("{M}start = \"call_received\"\nstop = \"arival\"\n"),
        &o,
    );
    assert!(
        e.contains("\"m1\"") && e.contains("`stop`") && e.contains("arival"),
        "{e}"
    );
    let e = plan_err(
        d.path(),
        &format!("{M}start = \"borough\"\nstop = \"arrived\"\n"),
        &o,
    );
    assert!(
        e.contains("`start`") && e.contains("not a timestamp"),
        "{e}"
    );
    let e = plan_err(
        d.path(),
        &format!("{M}start = \"call_received\"\nstop = \"arrived\"\nwhere = \"grade = = 'I'\"\n"),
        &o,
    );
    assert!(
        e.contains("`where`") && e.contains("not a valid predicate"),
        "{e}"
    );
    let e = plan_err(
        d.path(),
        &format!("{M}start = \"call_received\"\nstop = \"arrived\"\nwhere = \"grade\"\n"),
        &o,
    );
    assert!(
        e.contains("`where`") && e.contains("not a true/false predicate"),
        "{e}"
    );
    let e = plan_err(
        d.path(),
        &format!("{M}start = \"call_received\"\nstop = \"arrived\"\nwhere = \"no_such = 1\"\n"),
        &o,
    );
    assert!(e.contains("`where`"), "{e}");
    let e = plan_err(
        d.path(),
        &format!(
            "{M}start = \"call_received\"\nstop = \"arrived\"\nexclude = [{{ reason = \"x\", where = \"nope\" }}]\n"
        ),
        &o,
    );
    assert!(e.contains("exclude[0].where"), "{e}");
}

/// Issue 24: a predicate that would give another scorecard on another run (a volatile or
/// stable function, a subquery) is refused when planned, naming the measure, the field and the
/// function; a predicate that would build huge strings fails at the string function's cap.
#[test]
fn unrepeatable_and_runaway_predicates_are_refused() {
    let d = small_dataset(0.0);
    let o = opts();
    let base = format!("{M}start = \"call_received\"\nstop = \"arrived\"\n");
    for (pred, field, says) in [
        (
            "random() < 0.5",
            "where",
            "calls random(), which is volatile",
        ),
        ("uuid() <> ''", "where", "calls uuid(), which is volatile"),
        ("arrived < now()", "where", "calls now(), which is stable"),
        ("grade IN (SELECT 'I')", "where", "holds a subquery"),
        ("EXISTS (SELECT 1)", "exclude[0].where", "holds a subquery"),
    ] {
        let policy = if field == "where" {
            format!("{base}where = \"{pred}\"\n")
        } else {
            format!("{base}exclude = [{{ reason = \"x\", where = \"{pred}\" }}]\n")
        };
        let e = plan_err(d.path(), &policy, &o);
        assert!(
            e.contains("\"m1\"") && e.contains(&format!("`{field}`")) && e.contains(says),
            "{pred}: {e}"
        );
    }
    // Immutable functions stay allowed.
    let policy = SlaPolicy::from_toml(
        &format!("{base}where = \"lower(borough) <> '' AND length(grade) = 1\"\n"),
        "test",
    )
    .unwrap();
    assert!(rt().block_on(plan_of(d.path(), &policy, &o)).is_ok());
    // `repeat` over a column, a MB per row: the capped function stops it at its first batch.
    let policy = SlaPolicy::from_toml(
        &format!("{base}where = \"length(repeat(borough, 1000000)) > 0\"\n"),
        "test",
    )
    .unwrap();
    let e = rt()
        .block_on(async { plan_of(d.path(), &policy, &o).await?.run().await })
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default();
    assert!(e.contains("repeat() would return"), "{e}");
}

/// Issue 12: a deadline column that is not a timestamp and a share's `success` that is not
/// true/false are refused before any data is read, naming the measure and field.
#[test]
fn deadline_and_share_mismatches_name_measure_and_field() {
    let d = small_dataset(0.0);
    let o = opts();
    let e = plan_err(
        d.path(),
        "[[measure]]\nid = \"kept\"\nkind = \"deadline\"\ndeadline = \"grade\"\nstop = \"arrived\"\n",
        &o,
    );
    assert!(
        e.contains("\"kept\"") && e.contains("`deadline`") && e.contains("not a timestamp"),
        "{e}"
    );
    let e = plan_err(
        d.path(),
        "[[measure]]\nid = \"kept\"\nkind = \"deadline\"\ndeadline = \"appointment_due\"\nstop = \"arrived\"\n",
        &o,
    );
    assert!(
        e.contains("`deadline`") && e.contains("appointment_due"),
        "{e}"
    );
    let e = plan_err(
        d.path(),
        "[[measure]]\nid = \"happy\"\nkind = \"share\"\nstart = \"closed\"\nsuccess = \"grade\"\n",
        &o,
    );
    assert!(
        e.contains("\"happy\"") && e.contains("`success`") && e.contains("not a true/false"),
        "{e}"
    );
}

#[test]
fn group_by_errors_are_clear() {
    let d = small_dataset(0.0);
    let p = format!("{M}start = \"call_received\"\nstop = \"arrived\"\n");
    let mut o = opts();
    o.group_by = vec!["ward".into()];
    let e = plan_err(d.path(), &p, &o);
    assert!(e.contains("ward") && e.contains("no such column"), "{e}");
    o.group_by = vec!["measure".into()];
    let e = plan_err(d.path(), &p, &o);
    assert!(e.contains("clashes"), "{e}");
    // A column named like the whole-force level would make its level and that one look alike.
    o.group_by = vec!["borough".into(), "all".into()];
    let e = plan_err(d.path(), &p, &o);
    assert_eq!(
        e,
        "group column \"all\": `all` is the `level` column's name for the whole force"
    );
    // Two columns of one name make a file pandas cannot read: refused before any row is read.
    o.group_by = vec!["borough".into(), "grade".into(), "borough".into()];
    let e = plan_err(d.path(), &p, &o);
    assert_eq!(
        e,
        "group column \"borough\": named twice in the group columns; each output column must be unique"
    );
    let mut o = opts();
    o.from = NaiveDate::from_ymd_opt(2021, 1, 1);
    o.to = NaiveDate::from_ymd_opt(2020, 1, 1);
    let e = plan_err(d.path(), &p, &o);
    // The library names its parameters; the CLI names the flags (cli.rs tests that).
    assert_eq!(e, "`from` 2021-01-01 must be before `to` 2020-01-01");
}

#[test]
fn damaged_files_are_named() {
    let d = small_dataset(0.0);
    let files = slate_io::expand_inputs(&[d.path().to_string_lossy().into_owned()]).unwrap();
    let victim = &files[3];
    let bytes = std::fs::read(victim).unwrap();
    std::fs::write(victim, &bytes[..bytes.len() / 2]).unwrap();
    let policy = SlaPolicy::builtin("mps-promise-2008").unwrap();
    let err = rt()
        .block_on(plan_of(d.path(), &policy, &opts()))
        .err()
        .expect("a truncated file is an error")
        .to_string();
    assert!(
        err.contains(&victim.display().to_string()) && err.contains("Parquet"),
        "{err}"
    );
    let err = rt()
        .block_on(validate_of(d.path()))
        .unwrap_err()
        .to_string();
    assert!(err.contains(&victim.display().to_string()), "{err}");
    // Not Parquet at all.
    let junk = d.path().join("junk.parquet");
    std::fs::write(&junk, b"incident_id,borough\n1,x\n").unwrap();
    let err = rt().block_on(validate_of(&junk)).unwrap_err().to_string();
    assert!(err.contains("junk.parquet"), "{err}");
}

#[test]
fn validate_reports_missing_columns_and_wrong_types_per_file() {
    use datafusion::arrow::array::{Int64Array, RecordBatch, StringArray};
    use datafusion::arrow::datatypes::{DataType, Field, Schema};
    let d = tempfile::tempdir().unwrap();
    let schema = Arc::new(Schema::new(vec![
        Field::new("incident_id", DataType::Utf8, false),
        Field::new("borough", DataType::Utf8, true),
        Field::new("call_received", DataType::Int64, true),
    ]));
    let batch = RecordBatch::try_new(
        schema.clone(),
        vec![
            Arc::new(StringArray::from(vec!["a"])),
            Arc::new(StringArray::from(vec!["x"])),
            Arc::new(Int64Array::from(vec![5])),
        ],
    )
    .unwrap();
    let f = d.path().join("odd.parquet");
    slate_io::write_batches(&f, schema, &[batch]).unwrap();
    let r = rt().block_on(validate_of(&f)).unwrap();
    let problems: Vec<String> = r.schema_problems.iter().map(|p| p.to_string()).collect();
    assert!(
        problems
            .iter()
            .any(|p| p.contains("odd.parquet") && p.contains("\"grade\"") && p.contains("missing")),
        "{problems:?}"
    );
    assert!(
        problems.iter().any(|p| p.contains("\"call_received\"")
            && p.contains("Int64")
            && p.contains("timestamp")),
        "{problems:?}"
    );
}

#[test]
fn validate_counts_clean_and_dirty_data() {
    let clean = small_dataset(0.0);
    let r = rt().block_on(validate_of(clean.path())).unwrap();
    assert_eq!(r.rows, 3000);
    assert_eq!(r.files, 12);
    assert!(r.schema_problems.is_empty());
    assert_eq!(r.duplicate_ids, 0);
    assert!(
        r.order_violations.iter().all(|v| v.1 == 0),
        "{:?}",
        r.order_violations
    );
    assert!(!r.has_findings());
    let borough_nulls = r.nulls.iter().find(|c| c.name == "borough").unwrap().nulls;
    assert_eq!(borough_nulls, 0);

    let dirty = small_dataset(0.06);
    let r = rt().block_on(validate_of(dirty.path())).unwrap();
    assert!(r.has_findings());
    // Independent count of the same defects from the records themselves.
    let files = slate_io::expand_inputs(&[dirty.path().to_string_lossy().into_owned()]).unwrap();
    let batches: Vec<_> = files
        .iter()
        .flat_map(|f| slate_io::parquet::read_file(f).unwrap())
        .collect();
    let recs = slate_testkit::records_of(&batches);
    let mut ids = std::collections::HashSet::new();
    let dups = recs.iter().filter(|r| !ids.insert(r.id.clone())).count() as u64;
    let null_borough = recs.iter().filter(|r| r.borough.is_none()).count() as u64;
    let arrived_before = recs
        .iter()
        .filter(|r| matches!((r.clocks[0], r.clocks[4]), (Some(a), Some(b)) if b < a))
        .count() as u64;
    assert!(dups > 0 && null_borough > 0 && arrived_before > 0);
    assert_eq!(r.duplicate_ids, dups);
    assert_eq!(
        r.nulls.iter().find(|c| c.name == "borough").unwrap().nulls,
        null_borough
    );
    assert_eq!(
        r.order_violations
            .iter()
            .find(|v| v.0 == "arrived")
            .unwrap()
            .1,
        arrived_before
    );
}

/// A date outside the working-day calendar's years stops the run with the calendar and the
/// date named, not a number counted against the wrong calendar.
#[test]
fn a_date_outside_the_calendar_is_a_clear_error() {
    let d = tempfile::tempdir().unwrap();
    let config = GenConfig {
        rows: 2_000,
        seed: 3,
        from: NaiveDate::from_ymd_opt(2035, 10, 1).unwrap(),
        years: 1,
        dirty_rate: 0.0,
        promises: false,
    };
    write_dataset(
        &config,
        &TzRules::from_name("Europe/London").unwrap(),
        d.path(),
        1,
        false,
        &|_| {},
    )
    .unwrap();
    let policy = SlaPolicy::from_toml(
        "[[measure]]\nid = \"closed_2wd\"\nstart = \"call_received\"\nstop = \"closed\"\n\
         threshold = \"2wd\"\ncalendar = \"england-and-wales\"\n",
        "test",
    )
    .unwrap();
    let e = rt()
        .block_on(slate_engine::run_scorecard(
            &[d.path().to_string_lossy().into_owned()],
            &policy,
            &opts(),
        ))
        .unwrap_err()
        .to_string();
    assert!(
        e.starts_with("calendar england-and-wales: 2036-") && e.contains("2000-2035"),
        "{e}"
    );
}
