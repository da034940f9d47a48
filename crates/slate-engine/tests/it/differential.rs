//! The key test: on seeded data with random policies, windows, groups, zones and periods,
//! slate's scorecard and ledger equal a naive row-by-row oracle's, to the last count and to
//! 1e-9 on every percentile. A failure prints the seed and the policy.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};

use chrono::{NaiveDate, Offset, TimeZone};
use datafusion::arrow::array::{ArrayRef, AsArray, RecordBatch, TimestampMicrosecondArray};
use datafusion::arrow::datatypes::{DataType, Field, Schema, TimeUnit, TimestampMicrosecondType};
use slate_core::tables::{ledger_batch, scorecard_and_ledger, scorecard_batch};
use slate_core::{PercentileMethod, SlaPolicy, TzRules};
use slate_datagen::{GenConfig, generate_all, write_dataset};
use slate_engine::{ScorecardOptions, run_scorecard};
use slate_testkit::compare::{differences, ledger_rows, scorecard_rows};
use slate_testkit::{Case, Rec, expected, random_case, records_of};

struct Data {
    _dir: tempfile::TempDir,
    instants: PathBuf,
    naive: PathBuf,
    records: Vec<Rec>,
    naive_records: Vec<Rec>,
}

fn config() -> GenConfig {
    GenConfig {
        rows: 24_000,
        seed: 20_240_601,
        from: NaiveDate::from_ymd_opt(2019, 1, 1).unwrap(),
        years: 3,
        dirty_rate: 0.03,
        promises: false,
    }
}

/// Clocks re-expressed as naive London wall time (Timestamp without zone).
fn to_naive_london(batch: &RecordBatch) -> RecordBatch {
    let tz = chrono_tz::Europe::London;
    let mut fields = Vec::new();
    let mut cols: Vec<ArrayRef> = Vec::new();
    for (f, c) in batch.schema().fields().iter().zip(batch.columns()) {
        if let DataType::Timestamp(_, _) = f.data_type() {
            let a = c.as_primitive::<TimestampMicrosecondType>();
            let local: TimestampMicrosecondArray = a.unary_opt(|us| {
                let t = chrono::DateTime::from_timestamp_micros(us)?;
                let off = tz
                    .offset_from_utc_datetime(&t.naive_utc())
                    .fix()
                    .local_minus_utc();
                Some(us + i64::from(off) * 1_000_000)
            });
            fields.push(Field::new(
                f.name(),
                DataType::Timestamp(TimeUnit::Microsecond, None),
                true,
            ));
            cols.push(Arc::new(local));
        } else {
            fields.push(f.as_ref().clone());
            cols.push(c.clone());
        }
    }
    RecordBatch::try_new(Arc::new(Schema::new(fields)), cols).unwrap()
}

fn data() -> &'static Data {
    static DATA: OnceLock<Data> = OnceLock::new();
    DATA.get_or_init(|| {
        let dir = tempfile::tempdir().unwrap();
        let rules = TzRules::from_name("Europe/London").unwrap();
        let instants = dir.path().join("instants");
        write_dataset(&config(), &rules, &instants, 2, false, &|_| {}).unwrap();
        // The oracle reads the files back with the parquet crate, not through DataFusion.
        let files = slate_io::expand_inputs(&[instants.to_string_lossy().into_owned()]).unwrap();
        let batches: Vec<RecordBatch> = files
            .iter()
            .flat_map(|f| slate_io::parquet::read_file(f).unwrap())
            .collect();
        let records = records_of(&batches);
        assert_eq!(records.len() as u64, config().rows);
        let naive = dir.path().join("naive");
        std::fs::create_dir_all(&naive).unwrap();
        let naive_batches: Vec<RecordBatch> = generate_all(&config(), &rules)
            .iter()
            .map(to_naive_london)
            .collect();
        let schema = naive_batches[0].schema();
        slate_io::write_batches(&naive.join("all.parquet"), schema, &naive_batches).unwrap();
        let naive_records = records_of(&naive_batches);
        Data {
            _dir: dir,
            instants,
            naive,
            records,
            naive_records,
        }
    })
}

fn options_of(case: &Case) -> ScorecardOptions {
    ScorecardOptions {
        window: case.window,
        group_by: case.group_by.iter().map(|s| s.to_string()).collect(),
        tz: Arc::new(TzRules::new(case.tz)),
        from: case.from,
        to: case.to,
        method: if case.nearest_rank {
            PercentileMethod::NearestRank
        } else {
            PercentileMethod::Linear
        },
        rollups: true,
        threads: Some(2),
    }
}

fn run_case(case: &Case, input: &Path, records: &[Rec]) {
    let toml = case.policy_toml();
    let policy = SlaPolicy::from_toml(&toml, "random")
        .unwrap_or_else(|e| panic!("seed {}: {e}\n{toml}", case.seed));
    let opts = options_of(case);
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let card = rt
        .block_on(async {
            run_scorecard(&[input.to_string_lossy().into_owned()], &policy, &opts).await
        })
        .unwrap_or_else(|e| panic!("seed {}: {e}\n{toml}", case.seed));
    // Both tables at once, as `slate run` makes them.
    let (score, ledger) = scorecard_and_ledger(&card.scores, &policy).unwrap();
    let want = expected(case, records);
    let ps: BTreeMap<String, (Vec<f64>, &'static str)> = case
        .measures
        .iter()
        .map(|m| (m.id.clone(), (m.percentiles.clone(), m.unit())))
        .collect();
    let got_rows = scorecard_rows(&score, &case.group_by, &ps);
    let got_ledger = ledger_rows(&ledger, &case.group_by);
    let diffs = differences(&want, &got_rows, &got_ledger, 8);
    assert!(
        diffs.is_empty(),
        "seed {} window {} by {:?} tz {} from {:?} to {:?} nearest_rank {} naive {}\n{toml}\n{}",
        case.seed,
        case.window,
        case.group_by,
        case.tz,
        case.from,
        case.to,
        case.nearest_rank,
        case.naive,
        diffs.join("\n")
    );
    assert!(
        !want.rows.is_empty() || want.accounts.iter().all(|a| a.eligible == 0),
        "seed {}: empty case",
        case.seed
    );
    // Every input row is accounted for, per measure.
    for (m, (acc, want)) in policy
        .measures
        .iter()
        .zip(card.accounts.iter().zip(&want.accounts))
    {
        let got = (acc.eligible, acc.measured, acc.excluded, acc.outside_period);
        let exp = (
            want.eligible,
            want.measured,
            want.excluded,
            want.outside_period,
        );
        assert_eq!(got, exp, "seed {} measure {}", case.seed, m.id);
        assert_eq!(
            acc.eligible + acc.outside_period + acc.not_applicable,
            records.len() as u64
        );
    }
}

#[test]
fn scorecard_equals_oracle_on_random_questions() {
    let d = data();
    for seed in 0..40 {
        run_case(&random_case(seed), &d.instants, &d.records);
    }
}

/// The stream keeps each open record's own cells (`cells_of_rows`); merged, they must be the
/// cube of the aggregation (`cells_of_batches`), zoned and naive clocks alike.
#[test]
fn row_cells_merge_into_the_aggregated_cube() {
    let d = data();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    for seed in 200..210 {
        let mut case = random_case(seed);
        case.naive = seed % 2 == 1;
        let input = if case.naive { &d.naive } else { &d.instants };
        let policy = SlaPolicy::from_toml(&case.policy_toml(), "random").unwrap();
        let opts = options_of(&case);
        let files = slate_io::expand_inputs(&[input.to_string_lossy().into_owned()]).unwrap();
        let batches: Vec<RecordBatch> = files
            .iter()
            .flat_map(|f| slate_io::parquet::read_file(f).unwrap())
            .collect();
        let batch =
            datafusion::arrow::compute::concat_batches(&batches[0].schema(), &batches).unwrap();
        let (want, _) = rt
            .block_on(slate_engine::cells_of_batches(
                vec![batch.clone()],
                &policy,
                &opts,
            ))
            .unwrap();
        let rows = slate_engine::cells_of_rows(&batch, &policy, &opts).unwrap();
        assert_eq!(
            rows.len(),
            batch.num_rows(),
            "seed {seed}: one entry per row"
        );
        let mut got = slate_core::Cube::new(
            case.window.grain(),
            opts.group_by.clone(),
            policy.measures.len(),
        );
        for cells in rows {
            for (m, unit, groups, cell) in cells {
                got.add(unit, groups, m, &cell);
            }
        }
        let ropts = slate_core::ScoreOptions {
            window: case.window,
            method: opts.method,
            rollups: true,
            period: None,
            threads: 1,
        };
        assert!(!want.is_empty(), "seed {seed}: nothing to compare");
        assert_eq!(
            got.scores(&policy, &ropts),
            want.scores(&policy, &ropts),
            "seed {seed}"
        );
    }
}

#[test]
fn naive_local_clocks_are_read_in_the_zone() {
    let d = data();
    // The data must hold readings in the repeated October hour, or this proves little.
    let ambiguous = d
        .naive_records
        .iter()
        .flat_map(|r| r.clocks.iter().flatten())
        .filter(|&&us| {
            let local = chrono::DateTime::from_timestamp_micros(us)
                .unwrap()
                .naive_utc();
            matches!(
                chrono_tz::Europe::London.from_local_datetime(&local),
                chrono::LocalResult::Ambiguous(..)
            )
        })
        .count();
    assert!(
        ambiguous > 0,
        "no ambiguous local readings in the test data"
    );
    for seed in 100..112 {
        let mut case = random_case(seed);
        case.naive = true;
        case.tz = chrono_tz::Europe::London;
        run_case(&case, &d.naive, &d.naive_records);
    }
}

#[test]
fn the_ledger_balances_every_row() {
    let d = data();
    let case = random_case(7);
    let policy = SlaPolicy::from_toml(&case.policy_toml(), "t").unwrap();
    let opts = ScorecardOptions {
        window: slate_core::WindowKind::Month,
        group_by: vec!["borough".into(), "grade".into()],
        tz: Arc::new(TzRules::from_name("Europe/London").unwrap()),
        from: None,
        to: None,
        method: PercentileMethod::Linear,
        rollups: true,
        threads: Some(2),
    };
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let card = rt
        .block_on(async {
            run_scorecard(&[d.instants.to_string_lossy().into_owned()], &policy, &opts).await
        })
        .unwrap();
    let ledger = ledger_batch(&card.scores, &policy).unwrap();
    let score = scorecard_batch(&card.scores, &policy).unwrap();
    // n_eligible = n_measured + the ledger's counts for the same window, group and measure.
    // (window start, level, borough, grade, measure) -> excluded records.
    type Key = (i32, String, Option<String>, Option<String>, String);
    let mut excluded: BTreeMap<Key, i64> = BTreeMap::new();
    let lb = |c: &str| ledger.column_by_name(c).unwrap().clone();
    for i in 0..ledger.num_rows() {
        let ws = lb("window_start");
        if ws.is_null(i) {
            continue;
        }
        let s = |c: &str| {
            let a = lb(c);
            (!a.is_null(i)).then(|| a.as_string::<i32>().value(i).to_string())
        };
        let key = (
            ws.as_primitive::<datafusion::arrow::datatypes::Date32Type>()
                .value(i),
            s("level").unwrap(),
            s("borough"),
            s("grade"),
            s("measure").unwrap(),
        );
        *excluded.entry(key).or_default() += lb("count")
            .as_primitive::<datafusion::arrow::datatypes::Int64Type>()
            .value(i);
    }
    let sc = |c: &str| score.column_by_name(c).unwrap().clone();
    let mut checked = 0;
    for i in 0..score.num_rows() {
        let s = |c: &str| {
            let a = sc(c);
            (!a.is_null(i)).then(|| a.as_string::<i32>().value(i).to_string())
        };
        let int = |c: &str| {
            sc(c)
                .as_primitive::<datafusion::arrow::datatypes::Int64Type>()
                .value(i)
        };
        let key = (
            sc("window_start")
                .as_primitive::<datafusion::arrow::datatypes::Date32Type>()
                .value(i),
            s("level").unwrap(),
            s("borough"),
            s("grade"),
            s("measure").unwrap(),
        );
        let ex = excluded.get(&key).copied().unwrap_or(0);
        assert_eq!(int("n_eligible"), int("n_measured") + ex, "{key:?}");
        assert_eq!(int("n_excluded"), ex, "{key:?}");
        checked += 1;
    }
    assert!(checked > 100, "too few rows checked: {checked}");
}

/// The fused aggregate (`slate_engine::fused`) and DataFusion's own (`Plan::with_fused(false)`)
/// give the same scorecard, ledger and accounts: every built-in policy, a policy whose
/// predicates the fused path hands to DataFusion and one whose measures share a `where` (which
/// DataFusion's plan shares as a column), on seeded dirty data (null boroughs,
/// negative durations, missing clocks), zoned and naive clocks, group columns as Utf8View (as
/// Parquet is read), dictionaries, integers and plain Utf8 (in-memory batches), rollups on and
/// off, one and two threads. Each fused run is checked to have run the fused operator, and a
/// group column it cannot take to have fallen back to DataFusion's.
#[test]
fn fused_and_plain_aggregates_give_the_same_figures() {
    use datafusion::arrow::array::Int32Array;
    use slate_engine::{Input, Plan};

    let config = GenConfig {
        rows: 12_000,
        seed: 77,
        from: NaiveDate::from_ymd_opt(2020, 1, 1).unwrap(),
        years: 2,
        dirty_rate: 0.05,
        promises: true,
    };
    let rules = TzRules::from_name("Europe/London").unwrap();
    let zoned = generate_all(&config, &rules);
    // Borough, grade and channel as dictionaries (pandas categoricals written by pyarrow), and
    // an integer column with nulls.
    let dictionary = |b: &RecordBatch| {
        let mut fields = Vec::new();
        let mut cols: Vec<ArrayRef> = Vec::new();
        for (f, c) in b.schema().fields().iter().zip(b.columns()) {
            if ["borough", "grade", "channel"].contains(&f.name().as_str()) {
                let t = DataType::Dictionary(Box::new(DataType::Int32), Box::new(DataType::Utf8));
                cols.push(datafusion::arrow::compute::cast(c, &t).unwrap());
                fields.push(Field::new(f.name(), t, true));
            } else {
                cols.push(c.clone());
                fields.push(f.as_ref().clone());
            }
        }
        let n = b.num_rows();
        let shift: Int32Array = (0..n)
            .map(|i| (i % 11 != 0).then_some((i % 3) as i32))
            .collect();
        cols.push(Arc::new(shift));
        fields.push(Field::new("shift", DataType::Int32, true));
        RecordBatch::try_new(Arc::new(Schema::new(fields)), cols).unwrap()
    };
    let dir = tempfile::tempdir().unwrap();
    let write = |name: &str, batches: &[RecordBatch]| {
        let path = dir.path().join(format!("{name}.parquet"));
        slate_io::write_batches(&path, batches[0].schema(), batches).unwrap();
        path.to_string_lossy().into_owned()
    };
    let naive: Vec<RecordBatch> = zoned.iter().map(to_naive_london).collect();
    let dict: Vec<RecordBatch> = zoned.iter().map(dictionary).collect();
    let files = [
        ("zoned", write("zoned", &zoned), vec!["borough", "grade"]),
        ("naive", write("naive", &naive), vec!["borough"]),
        (
            "dictionary",
            write("dictionary", &dict),
            vec!["borough", "shift"],
        ),
    ];
    // Predicates outside the fused path's own forms (IN, AND, NOT, LIKE, a share's success)
    // are evaluated by DataFusion inside the fused operator.
    let other = SlaPolicy::from_toml(
        r#"
name = "other-predicates"
[[measure]]
id = "attend"
start = "call_received"
stop = "arrived"
where = "grade IN ('I', 'S') AND NOT coalesce(cancelled, false)"
threshold = "15m"
exclude = [{ reason = "b", where = "borough LIKE 'B%'" }, { reason = "late", where = "channel = 'online'" }]
[[measure]]
id = "sat"
kind = "share"
start = "surveyed"
success = "satisfied"
where = "surveyed IS NOT NULL"
"#,
        "t",
    )
    .unwrap();
    // One `where` for several thresholds: with DataFusion's common-subexpression rule the
    // first two measures are one aggregate and the condition a column the scan adds. The plain
    // aggregate keeps the rule; the fused one is planned without it.
    let shared = SlaPolicy::from_toml(
        r#"
name = "shared-where"
[[measure]]
id = "answer_10s"
start = "call_received"
stop = "call_answered"
where = "channel = '999'"
threshold = "10s"
[[measure]]
id = "answer_60s"
start = "call_received"
stop = "call_answered"
where = "channel = '999'"
threshold = "60s"
[[measure]]
id = "answer_30s_not_cancelled"
start = "call_received"
stop = "call_answered"
where = "channel = '999'"
threshold = "30s"
exclude = [{ reason = "cancelled", where = "cancelled" }]
"#,
        "t",
    )
    .unwrap();
    let mut policies: Vec<SlaPolicy> = slate_core::policy::BUILTINS
        .iter()
        .map(|(name, _)| SlaPolicy::builtin(name).unwrap())
        .collect();
    policies.push(other);
    policies.push(shared);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let mut compared = 0;
    for policy in &policies {
        for (what, file, groups) in &files {
            // One thread plans a single-stage aggregate, two a partial one.
            for (rollups, threads) in [(true, 2), (false, 2), (true, 1)] {
                {
                    let opts = ScorecardOptions {
                        window: slate_core::WindowKind::Month,
                        group_by: groups.iter().map(|s| s.to_string()).collect(),
                        tz: Arc::new(rules.clone()),
                        from: NaiveDate::from_ymd_opt(2020, 3, 1),
                        to: None,
                        method: PercentileMethod::Linear,
                        rollups,
                        threads: Some(threads),
                    };
                    let at = format!(
                        "{} on {what}, rollups {rollups}, {threads} threads",
                        policy.name
                    );
                    let run = |fused: bool| {
                        rt.block_on(async {
                            let input = Input::open(std::slice::from_ref(file), None, None)?;
                            let plan = Plan::new(&input, policy, &opts).await?.with_fused(fused);
                            let explain = plan.explain().await?;
                            let plan_run =
                                explain.split("plan run:").nth(1).unwrap_or("").to_string();
                            Ok::<_, slate_engine::Error>((plan_run, plan.run().await?))
                        })
                        .unwrap_or_else(|e| panic!("{at}: {e}"))
                    };
                    let (fused_plan, fused) = run(true);
                    let (plain_plan, plain) = run(false);
                    assert!(
                        fused_plan.contains("FusedScorecardExec"),
                        "{at}: not fused\n{fused_plan}"
                    );
                    assert!(
                        !plain_plan.contains("FusedScorecardExec"),
                        "{at}: fused\n{plain_plan}"
                    );
                    assert!(
                        !fused_plan.contains("__common_expr"),
                        "{at}: a shared expression in the fused plan\n{fused_plan}"
                    );
                    // Measures of several start clocks are grouped by their own start's unit.
                    let starts: std::collections::BTreeSet<&str> =
                        policy.measures.iter().map(|m| m.start.as_str()).collect();
                    assert_eq!(
                        fused_plan.contains("each measure by its start's unit"),
                        starts.len() > 1,
                        "{at}: {starts:?}\n{fused_plan}"
                    );
                    if policy.name == "shared-where" {
                        assert!(
                            plain_plan.contains("__common_expr"),
                            "{at}: the plain plan shares nothing\n{plain_plan}"
                        );
                        assert!(
                            fused_plan.contains(&format!("measures={}", policy.measures.len())),
                            "{at}: measures merged\n{fused_plan}"
                        );
                    }
                    assert!(
                        fused.accounts.iter().any(|a| a.measured > 0),
                        "{at}: nothing measured"
                    );
                    assert_eq!(
                        scorecard_batch(&fused.scores, policy).unwrap(),
                        scorecard_batch(&plain.scores, policy).unwrap(),
                        "{at}: scorecards differ"
                    );
                    assert_eq!(
                        ledger_batch(&fused.scores, policy).unwrap(),
                        ledger_batch(&plain.scores, policy).unwrap(),
                        "{at}: ledgers differ"
                    );
                    assert_eq!(fused.accounts, plain.accounts, "{at}: accounts differ");
                    assert_eq!(fused.data_days, plain.data_days, "{at}: data days differ");
                    assert_eq!(fused.rows, plain.rows, "{at}");
                    compared += 1;
                }
            }
        }
    }
    assert_eq!(compared, policies.len() * files.len() * 3);

    // In-memory batches (plain Utf8 group keys, one partition: a single-stage aggregate), as
    // the stream computes its cells.
    let policy = SlaPolicy::builtin("mps-promise-2008").unwrap();
    let opts = ScorecardOptions {
        window: slate_core::WindowKind::Week,
        group_by: vec!["borough".into(), "grade".into()],
        tz: Arc::new(rules.clone()),
        from: None,
        to: None,
        method: PercentileMethod::Linear,
        rollups: true,
        threads: Some(1),
    };
    let cells = |fused: bool| {
        rt.block_on(async {
            let ctx = slate_engine::session(opts.tz.clone(), Some(1));
            let df = ctx.read_batches(zoned.clone()).unwrap();
            let plan = Plan::from_dataframe(df, &policy, &opts, 0, 0)
                .unwrap()
                .with_fused(fused);
            assert_eq!(
                plan.explain().await.unwrap().contains("FusedScorecardExec"),
                fused
            );
            plan.cells().await.unwrap()
        })
    };
    let ((fc, fo), (pc, po)) = (cells(true), cells(false));
    let ropts = slate_core::ScoreOptions {
        window: opts.window,
        method: opts.method,
        rollups: true,
        period: None,
        threads: 1,
    };
    assert!(!pc.is_empty());
    assert_eq!(fc.scores(&policy, &ropts), pc.scores(&policy, &ropts));
    assert_eq!(fo, po);

    // A group column the fused operator does not take (a timestamp): DataFusion's aggregate.
    let opts = ScorecardOptions {
        group_by: vec!["closed".into()],
        threads: Some(2),
        ..opts
    };
    rt.block_on(async {
        let input = Input::open(std::slice::from_ref(&files[0].1), None, None).unwrap();
        let plan = Plan::new(&input, &policy, &opts).await.unwrap();
        let explain = plan.explain().await.unwrap();
        assert!(!explain.contains("FusedScorecardExec"), "{explain}");
        assert!(plan.run().await.unwrap().accounts[0].measured > 0);
    });
}

/// `slate run` gives the page and the disparity table a card taken straight from the scores
/// (`Card::from_scores`, `Ledger::from_scores`); `slate report` reads one back from the files.
/// For every built-in policy (the `-full` ones with working-day, deadline and share measures)
/// over generated data, with rollups and every monthly window family, both ways give the same
/// card and ledger, row by row and field by field, floats exactly.
#[test]
fn cards_from_scores_equal_cards_read_back_from_the_tables() {
    use slate_core::WindowKind;
    use slate_core::card::{Card, Ledger};
    use slate_engine::Plan;

    let config = GenConfig {
        rows: 10_000,
        seed: 4_242,
        from: NaiveDate::from_ymd_opt(2021, 1, 1).unwrap(),
        years: 2,
        dirty_rate: 0.05,
        promises: true,
    };
    let rules = TzRules::from_name("Europe/London").unwrap();
    let batches = generate_all(&config, &rules);
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let windows = [
        WindowKind::Month,
        WindowKind::Quarter,
        WindowKind::FiscalYear,
        WindowKind::Year,
        WindowKind::Rolling12m,
    ];
    let (mut kinds, mut wd_values, mut compared) = (BTreeMap::new(), 0, 0);
    for (name, _) in slate_core::policy::BUILTINS {
        let policy = SlaPolicy::builtin(name).unwrap();
        let opts = ScorecardOptions {
            window: WindowKind::Month,
            group_by: vec!["borough".into(), "grade".into()],
            tz: Arc::new(rules.clone()),
            from: None,
            to: None,
            method: PercentileMethod::Linear,
            rollups: true,
            threads: Some(2),
        };
        let (cube, _) = rt
            .block_on(async {
                let ctx = slate_engine::session(opts.tz.clone(), Some(2));
                let df = ctx.read_batches(batches.clone()).unwrap();
                let plan = Plan::from_dataframe(df, &policy, &opts, 0, 0).unwrap();
                plan.cells().await
            })
            .unwrap();
        for (i, window) in windows.into_iter().enumerate() {
            let method = if i % 2 == 0 {
                PercentileMethod::Linear
            } else {
                PercentileMethod::NearestRank
            };
            let sopts = slate_core::ScoreOptions {
                window,
                method,
                rollups: true,
                period: None,
                threads: 2,
            };
            let at = format!("{name}, {window} windows");
            let scores = cube.scores(&policy, &sopts);
            // Scores without rows (no window kept) decode alike too.
            let empty = cube.scores_where(&[], &policy, &sopts, &|_| false);
            for (scores, at) in [(&scores, at.clone()), (&empty, format!("{at}, empty"))] {
                let table = scorecard_batch(scores, &policy).unwrap();
                let read = Card::from_batches(&table.schema(), std::slice::from_ref(&table))
                    .unwrap_or_else(|e| panic!("{at}: {e}"));
                let direct = Card::from_scores(scores, &policy);
                assert_eq!(direct.window, read.window, "{at}");
                assert_eq!(direct.group_by, read.group_by, "{at}");
                assert_eq!(direct.percentiles, read.percentiles, "{at}");
                assert_eq!(direct.rows.len(), read.rows.len(), "{at}");
                for (j, (d, r)) in direct.rows.iter().zip(&read.rows).enumerate() {
                    assert_eq!(d, r, "{at}: row {j}");
                }
                let table = ledger_batch(scores, &policy).unwrap();
                let read = Ledger::from_batches(&table.schema(), std::slice::from_ref(&table))
                    .unwrap_or_else(|e| panic!("{at}: {e}"));
                let direct = Ledger::from_scores(scores, &policy);
                assert_eq!(direct.window, read.window, "{at}");
                assert_eq!(direct.group_by, read.group_by, "{at}");
                assert_eq!(direct.rows.len(), read.rows.len(), "{at}");
                for (j, (d, r)) in direct.rows.iter().zip(&read.rows).enumerate() {
                    assert_eq!(d, r, "{at}: ledger row {j}");
                }
            }
            assert!(!scores.rows.is_empty() && !scores.ledger.is_empty(), "{at}");
            let card = Card::from_scores(&scores, &policy);
            assert_eq!(card.levels().len(), 4, "{at}: every rollup level");
            for r in &card.rows {
                *kinds.entry(r.kind.clone()).or_insert(0) += 1;
                wd_values += usize::from(
                    r.threshold_wd.is_some() && r.percentiles.iter().any(Option::is_some),
                );
            }
            compared += 1;
        }
    }
    assert_eq!(compared, slate_core::policy::BUILTINS.len() * windows.len());
    // The comparison covered every kind of measure, working days with their percentiles too.
    for kind in ["duration", "working_days", "deadline", "share"] {
        assert!(
            kinds.get(kind).is_some_and(|n| *n > 0),
            "no {kind} rows: {kinds:?}"
        );
    }
    assert!(wd_values > 0);
}
