//! Stream tests: a replay ends with exactly `slate run`'s figures, out-of-order and late
//! updates are handled as documented, and emissions are consistent.

#![allow(clippy::unwrap_used)] // tests may unwrap: a panic is the failure report

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use chrono::NaiveDate;
use slate_core::tables::{ledger_batch, scorecard_batch};
use slate_core::{PercentileMethod, SlaPolicy, TzRules, WindowKind};
use slate_datagen::{GenConfig, write_dataset};
use slate_engine::{ScorecardOptions, run_scorecard};
use slate_stream::clock::SystemClock;
use slate_stream::source::Replay;
use slate_stream::update::{Update, to_batch};
use slate_stream::{LateMode, RunSpec, SinkSpec, SourceSpec, StreamConfig, run_stream};

mod checkpoint;

const DAY_US: i64 = 86_400_000_000;

fn opts(window: WindowKind) -> ScorecardOptions {
    ScorecardOptions {
        window,
        group_by: vec!["borough".into(), "grade".into()],
        tz: Arc::new(TzRules::from_name("Europe/London").unwrap()),
        from: None,
        to: None,
        method: PercentileMethod::Linear,
        rollups: true,
        threads: Some(1),
    }
}

fn config(window: WindowKind, late: LateMode) -> StreamConfig {
    StreamConfig {
        policy: SlaPolicy::builtin("mps-promise-2008").unwrap(),
        opts: opts(window),
        lateness_us: DAY_US,
        settle_us: 30 * DAY_US,
        emit_every_us: 7 * DAY_US,
        late,
        revise_horizon_us: None,
        ambiguous: slate_core::Ambiguous::Order,
    }
}

fn dataset(rows: u64) -> tempfile::TempDir {
    dataset_years(rows, 1)
}

fn dataset_years(rows: u64, years: u32) -> tempfile::TempDir {
    dataset_of(rows, years, false)
}

/// `rows` generated incidents over `years`, with the wider promises' columns if `promises`.
fn dataset_of(rows: u64, years: u32, promises: bool) -> tempfile::TempDir {
    let d = tempfile::tempdir().unwrap();
    let c = GenConfig {
        rows,
        seed: 11,
        from: NaiveDate::from_ymd_opt(2022, 1, 1).unwrap(),
        years,
        dirty_rate: 0.0,
        promises,
    };
    write_dataset(
        &c,
        &TzRules::from_name("Europe/London").unwrap(),
        d.path(),
        2,
        false,
        &|_| {},
    )
    .unwrap();
    d
}

fn spec(source: SourceSpec, out: &Path) -> RunSpec {
    RunSpec {
        source,
        sink: SinkSpec::Dir(out.to_path_buf()),
        state_dir: None,
        checkpoint_every: Duration::from_secs(3600),
        idle: None,
        batch_size: 1024,
        channel_capacity: 4,
        clock: Arc::new(SystemClock),
        on_latest: None,
        provenance: Some(slate_io::Provenance::new()),
    }
}

fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
}

fn read(path: &Path) -> Vec<arrow::array::RecordBatch> {
    slate_io::parquet::read_file(path).unwrap()
}

/// `slate run`'s scorecard and ledger for the same question.
fn batch_figures(
    input: &Path,
    window: WindowKind,
) -> (arrow::array::RecordBatch, arrow::array::RecordBatch) {
    batch_figures_of(
        input,
        window,
        &SlaPolicy::builtin("mps-promise-2008").unwrap(),
    )
}

fn batch_figures_of(
    input: &Path,
    window: WindowKind,
    policy: &SlaPolicy,
) -> (arrow::array::RecordBatch, arrow::array::RecordBatch) {
    let card = rt()
        .block_on(run_scorecard(
            &[input.to_string_lossy().into_owned()],
            policy,
            &opts(window),
        ))
        .unwrap();
    (
        scorecard_batch(&card.scores, policy).unwrap(),
        ledger_batch(&card.scores, policy).unwrap(),
    )
}

/// Issue 12's kinds over the canonical clocks: working days, a deadline and a share end with
/// the batch figures too (the stream computes cells with the same `sla_hist` kinds).
#[test]
fn replay_of_working_day_deadline_and_share_measures_ends_with_the_batch_figures() {
    let policy = SlaPolicy::from_toml(
        "name = \"kinds\"\n\
         [[measure]]\nid = \"closed_1wd\"\nstart = \"call_received\"\nstop = \"closed\"\n\
         threshold = \"1wd\"\ncalendar = \"england-and-wales\"\n\
         [[measure]]\nid = \"arrived_by_dispatch\"\nkind = \"deadline\"\ndeadline = \"dispatched\"\n\
         stop = \"arrived\"\ngrace = \"15m\"\n\
         [[measure]]\nid = \"not_cancelled\"\nkind = \"share\"\nstart = \"call_received\"\n\
         success = \"NOT cancelled\"\nwhere = \"grade IN ('I', 'S')\"\n",
        "test",
    )
    .unwrap();
    let data = dataset(8_000);
    let out = tempfile::tempdir().unwrap();
    let src = SourceSpec::Replay {
        inputs: vec![data.path().to_string_lossy().into_owned()],
        speed: None,
    };
    let cfg = StreamConfig {
        policy: policy.clone(),
        ..config(WindowKind::Month, LateMode::Drop)
    };
    let s = rt()
        .block_on(run_stream(cfg, spec(src, out.path())))
        .unwrap();
    assert_eq!(s.open, 0);
    let (card, ledger) = batch_figures_of(data.path(), WindowKind::Month, &policy);
    assert!(card.column_by_name("p50_wd").is_some() && card.num_rows() > 30);
    assert_eq!(concat(read(&out.path().join("latest.parquet"))), card);
    assert_eq!(
        concat(read(&out.path().join("latest.exclusions.parquet"))),
        ledger
    );
}

/// The `-full` policies read the optional promise clocks (call-backs, appointments,
/// complaints, collisions, surveys weeks after the close): replayed, and as NDJSON updates in a
/// watched directory, they end with the batch figures and ledger. A clock that comes after its
/// incident settled revises it (within the revise horizon).
#[test]
fn full_policies_end_with_the_batch_figures() {
    let data = dataset_of(3_000, 1, true);
    let ups = updates_of(data.path());
    assert!(ups.iter().any(|u| u.optional.is_some()));
    let feed = tempfile::tempdir().unwrap();
    let lines: Vec<String> = ups.iter().map(Update::to_json_line).collect();
    std::fs::write(feed.path().join("a.ndjson"), lines.join("\n")).unwrap();
    for name in ["mps-promise-2008-full", "policing-pledge-2008-full"] {
        let policy = SlaPolicy::builtin(name).unwrap();
        let (card, ledger) = batch_figures_of(data.path(), WindowKind::Month, &policy);
        // Every promise measured: the later clocks reached the figures.
        let measures = card.column_by_name("measure").unwrap();
        let measures = arrow::compute::cast(measures, &arrow::datatypes::DataType::Utf8).unwrap();
        let measures = arrow::array::AsArray::as_string::<i32>(&measures);
        for m in ["satisfied", "appointment_kept"] {
            assert!(measures.iter().any(|v| v == Some(m)), "{name}: no {m} rows");
        }
        let sources = [
            SourceSpec::Replay {
                inputs: vec![data.path().to_string_lossy().into_owned()],
                speed: None,
            },
            SourceSpec::Dir {
                path: feed.path().to_path_buf(),
                once: true,
            },
        ];
        for src in sources {
            let out = tempfile::tempdir().unwrap();
            let cfg = StreamConfig {
                policy: policy.clone(),
                settle_us: 7 * DAY_US,
                revise_horizon_us: Some(90 * DAY_US),
                ..config(WindowKind::Month, LateMode::Revise)
            };
            let what = format!("{name} from {src:?}");
            let s = rt()
                .block_on(run_stream(cfg, spec(src, out.path())))
                .unwrap();
            assert_eq!((s.open, s.late_dropped), (0, 0), "{what}");
            assert!(s.rejects.is_empty(), "{what}: {:?}", s.rejects.first());
            assert!(s.late_revised > 0, "{what}: later clocks revise");
            assert_eq!(
                concat(read(&out.path().join("latest.parquet"))),
                card,
                "{what}"
            );
            assert_eq!(
                concat(read(&out.path().join("latest.exclusions.parquet"))),
                ledger,
                "{what}"
            );
        }
    }
}

fn concat(b: Vec<arrow::array::RecordBatch>) -> arrow::array::RecordBatch {
    arrow::compute::concat_batches(&b[0].schema(), &b).unwrap()
}

#[test]
fn replay_ends_with_the_batch_figures() {
    let data = dataset(12_000);
    let out = tempfile::tempdir().unwrap();
    let src = SourceSpec::Replay {
        inputs: vec![data.path().to_string_lossy().into_owned()],
        speed: None,
    };
    let s = rt()
        .block_on(run_stream(
            config(WindowKind::Month, LateMode::Drop),
            spec(src, out.path()),
        ))
        .unwrap();
    assert_eq!(s.open, 0);
    assert_eq!(s.late_dropped, 0);
    assert!(s.updates > 12_000 * 3, "{}", s.updates);
    let (card, ledger) = batch_figures(data.path(), WindowKind::Month);
    assert_eq!(concat(read(&out.path().join("latest.parquet"))), card);
    assert_eq!(
        concat(read(&out.path().join("latest.exclusions.parquet"))),
        ledger
    );
    // Emissions: provisional rows came first, and every window ended final.
    let emissions =
        slate_io::expand_inputs(&[out.path().join("emissions").to_string_lossy().into_owned()])
            .unwrap();
    assert!(emissions.len() > 10, "{}", emissions.len());
    let all: Vec<_> = emissions.iter().flat_map(|p| read(p)).collect();
    let all = concat(all);
    let fin = all.column_by_name("final").unwrap();
    let fin = arrow::array::AsArray::as_boolean(fin);
    assert!(fin.true_count() > 0 && fin.false_count() > 0);
    let final_rows = arrow::compute::filter_record_batch(&all, fin).unwrap();
    assert_eq!(
        final_rows.num_rows(),
        card.num_rows(),
        "each row is final exactly once without late data"
    );
}

/// The output files are written on a thread of their own: a write that fails there still
/// ends the stream with its error, naming the path, instead of being lost or hanging it.
#[test]
fn a_failed_output_write_ends_the_stream_with_its_error() {
    let data = dataset(2_000);
    let out = tempfile::tempdir().unwrap();
    // A file where the emissions directory goes: the first emission cannot be written.
    std::fs::write(out.path().join("emissions"), b"not a directory").unwrap();
    let src = SourceSpec::Replay {
        inputs: vec![data.path().to_string_lossy().into_owned()],
        speed: None,
    };
    let err = rt()
        .block_on(run_stream(
            config(WindowKind::Month, LateMode::Drop),
            spec(src, out.path()),
        ))
        .unwrap_err()
        .to_string();
    assert!(err.contains("emissions"), "{err}");
    assert!(!out.path().join("latest.parquet").exists());
}

/// The replay's updates, in order.
fn updates_of(input: &Path) -> Vec<Update> {
    let tz = Arc::new(TzRules::from_name("Europe/London").unwrap());
    Replay::new(&[input.to_string_lossy().into_owned()], tz)
        .unwrap()
        .map(|u| u.unwrap())
        .collect()
}

fn write_updates(dir: &Path, name: &str, ups: &[Update]) {
    let b = to_batch(ups);
    slate_io::write_batches(&dir.join(name), b.schema(), &[b]).unwrap();
}

#[test]
fn out_of_order_updates_within_the_lateness_change_nothing() {
    let data = dataset(6_000);
    let mut ups = updates_of(data.path());
    // Reverse runs of 200 updates: disorder of minutes to hours, within a day's lateness.
    for chunk in ups.chunks_mut(200) {
        chunk.reverse();
    }
    let feed = tempfile::tempdir().unwrap();
    for (i, part) in ups.chunks(5000).enumerate() {
        write_updates(feed.path(), &format!("part-{i:05}.parquet"), part);
    }
    let out = tempfile::tempdir().unwrap();
    let src = SourceSpec::Dir {
        path: feed.path().to_path_buf(),
        once: true,
    };
    let s = rt()
        .block_on(run_stream(
            config(WindowKind::Week, LateMode::Drop),
            spec(src, out.path()),
        ))
        .unwrap();
    assert_eq!(s.late_dropped, 0);
    let (card, _) = batch_figures(data.path(), WindowKind::Week);
    assert_eq!(concat(read(&out.path().join("latest.parquet"))), card);
}

fn late_feed(data: &Path) -> (tempfile::TempDir, Vec<String>) {
    // Hold back the arrival of a few early incidents until the very end of the feed.
    let ups = updates_of(data);
    let mut held = Vec::new();
    let mut ids = Vec::new();
    let mut rest = Vec::new();
    for u in ups {
        if u.clocks[4].is_some() && ids.len() < 25 && u.clocks[4].unwrap() < 1_643_000_000_000_000 {
            ids.push(u.id.clone());
            held.push(u);
        } else {
            rest.push(u);
        }
    }
    let feed = tempfile::tempdir().unwrap();
    write_updates(feed.path(), "a-main.parquet", &rest);
    write_updates(feed.path(), "b-late.parquet", &held);
    (feed, ids)
}

#[test]
fn late_updates_are_revised_in() {
    let data = dataset(6_000);
    let (feed, ids) = late_feed(data.path());
    assert_eq!(ids.len(), 25);
    let out = tempfile::tempdir().unwrap();
    let src = SourceSpec::Dir {
        path: feed.path().to_path_buf(),
        once: true,
    };
    let s = rt()
        .block_on(run_stream(
            config(WindowKind::Month, LateMode::Revise),
            spec(src, out.path()),
        ))
        .unwrap();
    assert_eq!(s.late_revised, 25);
    let (card, ledger) = batch_figures(data.path(), WindowKind::Month);
    assert_eq!(concat(read(&out.path().join("latest.parquet"))), card);
    assert_eq!(
        concat(read(&out.path().join("latest.exclusions.parquet"))),
        ledger
    );
    // January's rows were final before the late arrivals, then re-emitted as a new revision.
    let emissions =
        slate_io::expand_inputs(&[out.path().join("emissions").to_string_lossy().into_owned()])
            .unwrap();
    let last = concat(read(emissions.last().unwrap()));
    let rev = arrow::array::AsArray::as_primitive::<arrow::datatypes::Int64Type>(
        last.column_by_name("revision").unwrap(),
    );
    assert!(rev.values().iter().any(|&r| r >= 2));
}

#[test]
fn late_updates_are_dropped_and_counted() {
    let data = dataset(6_000);
    let (feed, ids) = late_feed(data.path());
    let out = tempfile::tempdir().unwrap();
    let src = SourceSpec::Dir {
        path: feed.path().to_path_buf(),
        once: true,
    };
    let s = rt()
        .block_on(run_stream(
            config(WindowKind::Month, LateMode::Drop),
            spec(src, out.path()),
        ))
        .unwrap();
    assert_eq!(s.late_dropped, 25);
    let late = concat(read(&out.path().join("late.parquet")));
    let got: Vec<String> = arrow::array::AsArray::as_string::<i32>(late.column(0))
        .iter()
        .map(|s| s.unwrap().to_string())
        .collect();
    assert_eq!(got, ids);
    // The figures are the batch figures of the records without those arrivals.
    let full = concat(read(&out.path().join("latest.parquet")));
    let (card, _) = batch_figures(data.path(), WindowKind::Month);
    assert_eq!(full.num_rows(), card.num_rows());
    assert_ne!(
        full, card,
        "the held-back arrivals must show as missing_stop"
    );
    let _ = PathBuf::new();
}

fn emitted_finals(out: &Path) -> (usize, usize) {
    let Ok(files) =
        slate_io::expand_inputs(&[out.join("emissions").to_string_lossy().into_owned()])
    else {
        return (0, 0);
    };
    let mut fin = (0, 0);
    for f in files {
        for b in read(&f) {
            let c = arrow::array::AsArray::as_boolean(b.column_by_name("final").unwrap()).clone();
            fin.0 += c.true_count();
            fin.1 += c.false_count();
        }
    }
    fin
}

#[test]
fn an_idle_source_lets_the_wall_clock_advance_the_watermark() {
    let data = dataset(3_000);
    // Only January's updates arrive; then the feed goes quiet.
    let jan: Vec<Update> = updates_of(data.path())
        .into_iter()
        .filter(|u| u.event_us().unwrap() < 1_643_673_600_000_000)
        .collect();
    let feed = tempfile::tempdir().unwrap();
    write_updates(feed.path(), "jan.parquet", &jan);
    let out = tempfile::tempdir().unwrap();
    let clock = slate_stream::clock::ManualClock::at(0);
    let mut s = spec(
        SourceSpec::Dir {
            path: feed.path().to_path_buf(),
            once: false,
        },
        out.path(),
    );
    s.idle = Some(Duration::from_millis(100));
    s.clock = Arc::new(clock.clone());
    let rt = rt();
    let task = rt.spawn(run_stream(config(WindowKind::Month, LateMode::Drop), s));
    let wait_for = |want: &dyn Fn((usize, usize)) -> bool| {
        let t0 = std::time::Instant::now();
        while t0.elapsed() < Duration::from_secs(20) {
            if want(emitted_finals(out.path())) {
                return true;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        false
    };
    assert!(wait_for(&|f| f.1 > 0), "no provisional emission");
    // With the wall clock still, idling moves nothing: January stays provisional.
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(emitted_finals(out.path()).0, 0);
    // 60 days of wall time pass with no updates: the watermark follows, January settles.
    clock.advance_us(60 * DAY_US);
    assert!(wait_for(&|f| f.0 > 0), "January never became final");
    task.abort();
}

/// A correction that moves an open incident's start clock into another month changes both
/// months' provisional figures, so the next emission carries both (and the figures equal a
/// recomputation: debug builds check every emission).
#[test]
fn a_start_clock_moved_to_another_month_re_emits_the_month_it_left() {
    use slate_stream::state::{Emission, Processor, State};
    let us = |s: &str| {
        chrono::DateTime::parse_from_rfc3339(s)
            .unwrap()
            .timestamp_micros()
    };
    let update = |id: &str, received: &str, arrived: &str| Update {
        id: id.into(),
        borough: Some("Camden".into()),
        grade: Some("I".into()),
        channel: Some("999".into()),
        clocks: [
            Some(us(received)),
            None,
            None,
            None,
            Some(us(arrived)),
            None,
        ],
        cancelled: Some(false),
        optional: None,
    };
    let months = |e: &Emission| -> Vec<i32> {
        let mut m: Vec<i32> = e.scores.rows.iter().map(|r| r.window.0).collect();
        m.dedup();
        m
    };
    // Incidents attended in the month of `day`, over every row of the emission's scores.
    let attended_in = |e: &Emission, day: i32| -> u64 {
        (e.scores.rows.iter())
            .filter(|r| r.window.0 == day && r.level == 0 && r.measure == 2)
            .map(|r| r.n_eligible)
            .sum()
    };
    let jan = slate_core::calendar::day_of_ymd(2024, 1, 1);
    let feb = slate_core::calendar::day_of_ymd(2024, 2, 1);
    rt().block_on(async {
        let mut p =
            Processor::new(config(WindowKind::Month, LateMode::Drop), State::default()).unwrap();
        p.apply(update(
            "stays",
            "2024-01-31T22:00:00Z",
            "2024-01-31T22:09:00Z",
        ))
        .await
        .unwrap();
        p.apply(update(
            "moves",
            "2024-01-31T23:50:00Z",
            "2024-01-31T23:59:00Z",
        ))
        .await
        .unwrap();
        p.advance_watermark();
        let first = p.emit().await.unwrap().unwrap();
        assert_eq!(months(&first), vec![jan]);
        assert_eq!(attended_in(&first, jan), 2);
        // The call was in fact received after midnight: the incident moves to February.
        p.apply(update(
            "moves",
            "2024-02-01T00:05:00Z",
            "2024-02-01T00:14:00Z",
        ))
        .await
        .unwrap();
        p.advance_watermark();
        let second = p.emit().await.unwrap().unwrap();
        assert_eq!(months(&second), vec![jan, feb]);
        assert_eq!(
            (attended_in(&second, jan), attended_in(&second, feb)),
            (1, 1)
        );
    });
}

/// Three years replayed with a revise horizon: every emission is checked against a
/// recomputation (debug builds), the end equals `slate run`, and memory held only the windows
/// still open for revision (units and settled records), not the history. Rolling windows are
/// the hard case: their units are shared by twelve windows, and the span decides which show.
#[test]
fn multi_year_replay_with_a_revise_horizon_ends_with_the_batch_figures() {
    let data = dataset_years(9_000, 3);
    // Most months held: settle 30 days + horizon 20 days past a window's end; a rolling
    // window's units stay until the last of the twelve windows holding them freezes. Settled
    // records: about 250 incidents a month over those months.
    for (window, late, max_units, max_settled) in [
        (WindowKind::Month, LateMode::Revise, 4, 1_000),
        (WindowKind::Quarter, LateMode::Drop, 8, 1_800),
        (WindowKind::Rolling12m, LateMode::Revise, 16, 3_600),
    ] {
        let out = tempfile::tempdir().unwrap();
        let src = SourceSpec::Replay {
            inputs: vec![data.path().to_string_lossy().into_owned()],
            speed: None,
        };
        let cfg = StreamConfig {
            revise_horizon_us: Some(20 * DAY_US),
            emit_every_us: 3 * DAY_US,
            ..config(window, late)
        };
        let s = rt()
            .block_on(run_stream(cfg, spec(src, out.path())))
            .unwrap();
        assert_eq!((s.open, s.late_dropped), (0, 0), "{window}");
        let (card, ledger) = batch_figures(data.path(), window);
        assert_eq!(
            concat(read(&out.path().join("latest.parquet"))),
            card,
            "{window}"
        );
        assert_eq!(
            concat(read(&out.path().join("latest.exclusions.parquet"))),
            ledger,
            "{window}"
        );
        assert!(
            s.max_held_units > 0 && s.max_held_units <= max_units,
            "{window}: {} units held",
            s.max_held_units
        );
        assert!(
            s.max_held_settled > 0 && s.max_held_settled <= max_settled,
            "{window}: {} settled held",
            s.max_held_settled
        );
        // One file per window in latest/, as many windows as the batch scorecard has.
        let files = std::fs::read_dir(out.path().join("latest"))
            .unwrap()
            .count();
        let windows = arrow::array::AsArray::as_primitive::<arrow::datatypes::Date32Type>(
            card.column_by_name("window_start").unwrap(),
        )
        .values()
        .iter()
        .collect::<std::collections::BTreeSet<_>>()
        .len();
        assert_eq!(files, windows, "{window}");
    }
}

/// Updates for windows final for longer than the revise horizon are not revised in: they go
/// to the late ledger with that reason, and the figures are those without them.
#[test]
fn updates_past_the_revise_horizon_go_to_the_late_ledger() {
    let data = dataset(6_000);
    let (feed, ids) = late_feed(data.path());
    let run = |late, horizon| {
        let out = tempfile::tempdir().unwrap();
        let src = SourceSpec::Dir {
            path: feed.path().to_path_buf(),
            once: true,
        };
        let cfg = StreamConfig {
            revise_horizon_us: horizon,
            ..config(WindowKind::Month, late)
        };
        let s = rt()
            .block_on(run_stream(cfg, spec(src, out.path())))
            .unwrap();
        (s, out)
    };
    let (s, out) = run(LateMode::Revise, Some(30 * DAY_US));
    assert_eq!((s.late_revised, s.late_dropped), (0, 25));
    let late = concat(read(&out.path().join("late.parquet")));
    let col = |name: &str| -> Vec<String> {
        arrow::array::AsArray::as_string::<i32>(late.column_by_name(name).unwrap())
            .iter()
            .map(|s| s.unwrap().to_string())
            .collect()
    };
    assert_eq!(col("incident_id"), ids);
    assert!(col("reason").iter().all(|r| r == "past revise horizon"));
    // The same figures as dropping them.
    let (_, dropped) = run(LateMode::Drop, None);
    let got = concat(read(&out.path().join("latest.parquet")));
    assert_eq!(got, concat(read(&dropped.path().join("latest.parquet"))));
    // Within a long enough horizon they are revised in, as without one.
    let (s, _) = run(LateMode::Revise, Some(3650 * DAY_US));
    assert_eq!((s.late_revised, s.late_dropped), (25, 0));
}
