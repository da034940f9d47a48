//! The generator: deterministic, shaped as documented, and canonical.

#![allow(clippy::unwrap_used)] // tests may unwrap: a panic is the failure report

use std::collections::HashMap;

use arrow::array::{Array, AsArray, RecordBatch};
use arrow::datatypes::TimestampMicrosecondType;
use chrono::{NaiveDate, Timelike};
use slate_core::TzRules;
use slate_core::schema::canonical_schema;
use slate_datagen::{GenConfig, generate_all, plan, profile, write_dataset};

fn config(rows: u64, seed: u64) -> GenConfig {
    GenConfig {
        rows,
        seed,
        from: NaiveDate::from_ymd_opt(2018, 1, 1).unwrap(),
        years: 2,
        dirty_rate: 0.0,
        promises: false,
    }
}

fn london() -> TzRules {
    TzRules::from_name("Europe/London").unwrap()
}

fn read_dir(dir: &std::path::Path) -> Vec<RecordBatch> {
    let files = slate_io::expand_inputs(&[dir.to_string_lossy().into_owned()]).unwrap();
    files
        .iter()
        .flat_map(|f| slate_io::parquet::read_file(f).unwrap())
        .collect()
}

#[test]
fn same_seed_same_data_whatever_the_threads() {
    let a = tempfile::tempdir().unwrap();
    let b = tempfile::tempdir().unwrap();
    let c = config(20_000, 9);
    write_dataset(&c, &london(), a.path(), 1, false, &|_| {}).unwrap();
    write_dataset(&c, &london(), b.path(), 2, false, &|_| {}).unwrap();
    let (ra, rb) = (read_dir(a.path()), read_dir(b.path()));
    assert_eq!(ra, rb);
    assert_eq!(ra.iter().map(|b| b.num_rows()).sum::<usize>(), 20_000);
    // And in memory, the same again; another seed differs.
    let mem: Vec<RecordBatch> = generate_all(&c, &london());
    assert_eq!(mem, ra);
    assert_ne!(generate_all(&config(20_000, 10), &london()), mem);
}

#[test]
fn schema_round_trips_through_parquet() {
    let d = tempfile::tempdir().unwrap();
    write_dataset(&config(500, 1), &london(), d.path(), 1, false, &|_| {}).unwrap();
    let files = slate_io::expand_inputs(&[d.path().to_string_lossy().into_owned()]).unwrap();
    let (schema, rows) = slate_io::parquet::read_schema(&files[0]).unwrap();
    assert_eq!(schema.fields(), canonical_schema().fields());
    assert!(rows > 0);
    let names: Vec<String> = files
        .iter()
        .map(|f| f.strip_prefix(d.path()).unwrap().display().to_string())
        .collect();
    assert_eq!(names[0], "year=2018/month=01/part-0.parquet");
    assert_eq!(names.len(), 24);
}

#[test]
fn rows_split_exactly_over_months() {
    for rows in [0, 1, 7, 1_000_003] {
        let p = plan(&config(rows, 1));
        assert_eq!(p.len(), 24);
        assert_eq!(p.iter().map(|m| m.rows).sum::<u64>(), rows);
    }
}

#[test]
fn distributions_are_as_documented() {
    let batches = generate_all(&config(120_000, 3), &london());
    let n: usize = batches.iter().map(|b| b.num_rows()).sum();
    let mut grades: HashMap<String, usize> = HashMap::new();
    let mut boroughs: HashMap<String, usize> = HashMap::new();
    let mut hours = [0usize; 24];
    let mut cancelled = 0usize;
    let mut answer_999 = Vec::new();
    let mut sorted = true;
    let tz = chrono_tz::Europe::London;
    for b in &batches {
        let g = b.column_by_name("grade").unwrap().as_string::<i32>();
        let bo = b.column_by_name("borough").unwrap().as_string::<i32>();
        let ch = b.column_by_name("channel").unwrap().as_string::<i32>();
        let rcv = b
            .column_by_name("call_received")
            .unwrap()
            .as_primitive::<TimestampMicrosecondType>();
        let ans = b
            .column_by_name("call_answered")
            .unwrap()
            .as_primitive::<TimestampMicrosecondType>();
        let can = b.column_by_name("cancelled").unwrap().as_boolean();
        for i in 0..b.num_rows() {
            *grades.entry(g.value(i).to_string()).or_default() += 1;
            *boroughs.entry(bo.value(i).to_string()).or_default() += 1;
            let local = chrono::DateTime::from_timestamp_micros(rcv.value(i))
                .unwrap()
                .with_timezone(&tz);
            hours[local.hour() as usize] += 1;
            cancelled += usize::from(can.value(i));
            if i > 0 && rcv.value(i) < rcv.value(i - 1) {
                sorted = false;
            }
            if ch.value(i) == "999" && ans.is_valid(i) {
                answer_999.push((ans.value(i) - rcv.value(i)) as f64 / 1e6);
            }
        }
    }
    assert!(sorted, "each month is in call_received order");
    for (grade, share) in profile::GRADES {
        let got = grades[grade] as f64 / n as f64;
        assert!(
            (got - share).abs() < 0.01,
            "grade {grade}: {got} vs {share}"
        );
    }
    assert_eq!(boroughs.len(), 32);
    let westminster = boroughs["Westminster"] as f64;
    let richmond = boroughs["Richmond upon Thames"] as f64;
    assert!(
        westminster / richmond > 4.0,
        "volumes are skewed: {westminster} vs {richmond}"
    );
    // Quiet before dawn, busy in the early evening.
    assert!(hours[18] > 3 * hours[5], "{hours:?}");
    let share_cancelled = cancelled as f64 / n as f64;
    assert!((0.03..0.06).contains(&share_cancelled), "{share_cancelled}");
    // 999 answer times: log-normal with median about 4 s.
    answer_999.sort_by(f64::total_cmp);
    let median = answer_999[answer_999.len() / 2];
    assert!((3.5..4.5).contains(&median), "{median}");
}

#[test]
fn dirty_rate_injects_each_defect() {
    let mut c = config(20_000, 4);
    c.dirty_rate = 0.05;
    let batches = generate_all(&c, &london());
    let mut null_borough = 0;
    let mut before = 0;
    let mut ids = std::collections::HashSet::new();
    let mut dups = 0;
    for b in &batches {
        let bo = b.column_by_name("borough").unwrap();
        null_borough += bo.null_count();
        let id = b.column_by_name("incident_id").unwrap().as_string::<i32>();
        let rcv = b
            .column_by_name("call_received")
            .unwrap()
            .as_primitive::<TimestampMicrosecondType>();
        let arr = b
            .column_by_name("arrived")
            .unwrap()
            .as_primitive::<TimestampMicrosecondType>();
        for i in 0..b.num_rows() {
            if !ids.insert(id.value(i).to_string()) {
                dups += 1;
            }
            if arr.is_valid(i) && arr.value(i) < rcv.value(i) {
                before += 1;
            }
        }
    }
    // About a third of 5% of 20,000 each.
    for (what, n) in [
        ("null borough", null_borough),
        ("arrived before received", before),
        ("duplicate ids", dups),
    ] {
        assert!((200..500).contains(&n), "{what}: {n}");
    }
}

#[test]
fn refuses_a_non_empty_directory_without_force() {
    let d = tempfile::tempdir().unwrap();
    std::fs::write(d.path().join("keep.txt"), b"mine").unwrap();
    let err = write_dataset(&config(10, 1), &london(), d.path(), 1, false, &|_| {}).unwrap_err();
    assert!(err.to_string().contains("not empty"), "{err}");
    write_dataset(&config(10, 1), &london(), d.path(), 1, true, &|_| {}).unwrap();
    assert!(
        d.path().join("keep.txt").exists(),
        "--force only replaces year=*/ partitions"
    );
}

#[test]
fn call_queue_mode_is_deterministic_and_consistent() {
    use slate_core::schema::extended_schema;
    use slate_datagen::{CallQueue, generate_all_queued};
    let c = config(30_000, 5);
    let q = CallQueue::default();
    let a = generate_all_queued(&c, &london(), &q);
    assert_eq!(a, generate_all_queued(&c, &london(), &q));
    let (mut answered, mut abandoned, mut within10) = (0u64, 0u64, 0u64);
    for b in &a {
        assert_eq!(b.schema().fields(), extended_schema().fields());
        let ch = b.column_by_name("channel").unwrap().as_string::<i32>();
        let rcv = b
            .column_by_name("call_received")
            .unwrap()
            .as_primitive::<TimestampMicrosecondType>();
        let ans = b
            .column_by_name("call_answered")
            .unwrap()
            .as_primitive::<TimestampMicrosecondType>();
        let end = b
            .column_by_name("call_ended")
            .unwrap()
            .as_primitive::<TimestampMicrosecondType>();
        let ab = b.column_by_name("abandoned").unwrap().as_boolean();
        for i in 0..b.num_rows() {
            if ch.value(i) == "online" {
                assert!(ab.is_null(i) && end.is_null(i) && ans.is_null(i));
                continue;
            }
            assert!(ab.is_valid(i) && end.is_valid(i));
            if ab.value(i) {
                assert!(ans.is_null(i));
                assert!(end.value(i) >= rcv.value(i));
                abandoned += 1;
            } else {
                assert!(ans.value(i) >= rcv.value(i) && end.value(i) >= ans.value(i));
                answered += 1;
                within10 += u64::from(ans.value(i) - rcv.value(i) <= 10_000_000);
            }
        }
    }
    // Square-root staffing (beta 1) at these small loads answers most calls at once and
    // loses few.
    let share = within10 as f64 / answered as f64;
    assert!(share > 0.8 && share < 1.0, "{share}");
    let lost = abandoned as f64 / (answered + abandoned) as f64;
    assert!(lost > 0.0 && lost < 0.1, "{lost}");
}
