//! `slate stream` end to end: a replay killed with SIGKILL at random points and restarted ends
//! with exactly `slate run`'s figures, with no duplicate or missing emission rows.

use std::path::Path;
use std::process::Stdio;
use std::time::{Duration, Instant};

use datafusion::arrow::array::{AsArray, RecordBatch};
use datafusion::arrow::compute::{concat_batches, filter_record_batch};

use crate::cli::slate;

fn read_all(paths: &[std::path::PathBuf]) -> RecordBatch {
    let batches: Vec<RecordBatch> = paths
        .iter()
        .flat_map(|p| slate_io::parquet::read_file(p).unwrap())
        .collect();
    concat_batches(&batches[0].schema(), &batches).unwrap()
}

fn stream_cmd(data: &Path, out: &Path, state: &Path) -> std::process::Command {
    let mut c = slate();
    c.args([
        "stream",
        "--replay",
        data.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ])
    .args([
        "--state",
        state.to_str().unwrap(),
        "--checkpoint-every",
        "0s",
        "--batch-size",
        "1500",
    ])
    .args([
        "--settle",
        "30d",
        "--lateness",
        "1d",
        "--emit-every",
        "5d",
        "--late",
        "drop",
    ])
    .stdout(Stdio::null())
    .stderr(Stdio::piped());
    c
}

#[test]
fn sigkill_at_random_points_then_restart_gives_the_batch_figures() {
    let t = tempfile::tempdir().unwrap();
    let data = t.path().join("data");
    let o = slate()
        .args([
            "gen",
            "--rows",
            "30000",
            "--years",
            "1",
            "--from",
            "2021-01-01",
            "--seed",
            "3",
            "--out",
        ])
        .arg(&data)
        .output()
        .unwrap();
    assert!(o.status.success());
    let reference = t.path().join("run.parquet");
    let o = slate()
        .args([
            "run",
            "-i",
            data.to_str().unwrap(),
            "--out",
            reference.to_str().unwrap(),
        ])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));

    let (out, state) = (t.path().join("out"), t.path().join("state"));
    // Time an uninterrupted run elsewhere, to aim the kills inside it.
    let t0 = Instant::now();
    let full = stream_cmd(
        &data,
        &t.path().join("out-full"),
        &t.path().join("state-full"),
    )
    .output()
    .unwrap();
    assert!(
        full.status.success(),
        "{}",
        String::from_utf8_lossy(&full.stderr)
    );
    let span = t0.elapsed().as_millis().max(200) as u64;

    let seed = 0x5eed_u64;
    let killed_mid_run = kill_five_times(seed, span, &state, || stream_cmd(&data, &out, &state));
    assert!(
        killed_mid_run >= 3,
        "seed {seed}: only {killed_mid_run} kills landed mid-run (run takes {span} ms)"
    );
    let last = stream_cmd(&data, &out, &state).output().unwrap();
    let stderr = String::from_utf8_lossy(&last.stderr);
    assert!(last.status.success(), "seed {seed}: {stderr}");
    assert!(stderr.contains("resumed from checkpoint"), "{stderr}");

    let want = read_all(&[reference]);
    assert_eq!(read_all(&[out.join("latest.parquet")]), want, "seed {seed}");
    // Emissions are numbered 1..=n with no gap, and every scorecard row is final exactly once.
    let files =
        slate_io::expand_inputs(&[out.join("emissions").to_string_lossy().into_owned()]).unwrap();
    for (i, f) in files.iter().enumerate() {
        assert_eq!(
            f.file_name().unwrap().to_str().unwrap(),
            format!("emission-{:08}.parquet", i + 1)
        );
    }
    let all = read_all(&files);
    let fin = all.column_by_name("final").unwrap().as_boolean().clone();
    let finals = filter_record_batch(&all, &fin).unwrap();
    assert_eq!(
        finals.num_rows(),
        want.num_rows(),
        "seed {seed}: duplicate or missing final rows"
    );
    // The uninterrupted run wrote the same emissions.
    let full_files = slate_io::expand_inputs(&[t
        .path()
        .join("out-full/emissions")
        .to_string_lossy()
        .into_owned()])
    .unwrap();
    assert_eq!(read_all(&full_files), all, "seed {seed}");
    // Each file says what made it: the stream's settings and the updates read by then.
    for (file, role) in [
        (out.join("latest.parquet"), "latest scorecard"),
        (files[0].clone(), "emission"),
    ] {
        let info = slate().arg("info").arg(&file).output().unwrap();
        let text = String::from_utf8_lossy(&info.stdout);
        for want in [
            format!("output             {role}"),
            "settle             30d".to_string(),
            "rows read          ".to_string(),
        ] {
            assert!(text.contains(&want), "{want:?} missing:\n{text}");
        }
    }
}

#[test]
fn emissions_stream_as_arrow_ipc_on_stdout() {
    // Clean data: the stream merges updates by incident_id, so duplicate ids (which the dirty
    // fixture has on purpose) would be one incident to the stream and two rows to batch.
    let t = tempfile::tempdir().unwrap();
    let data = t.path().join("data");
    let g = slate()
        .args([
            "gen",
            "--rows",
            "2000",
            "--years",
            "1",
            "--from",
            "2023-01-01",
            "--out",
        ])
        .arg(&data)
        .output()
        .unwrap();
    assert!(g.status.success());
    let fixture = data.to_str().unwrap();
    let o = slate()
        .args([
            "stream",
            "--replay",
            fixture,
            "--out",
            "-",
            "--settle",
            "20d",
            "--emit-every",
            "7d",
            "--batch-size",
            "200",
        ])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let reader =
        datafusion::arrow::ipc::reader::StreamReader::try_new(std::io::Cursor::new(o.stdout), None)
            .unwrap();
    let prov = reader.schema().metadata()["slate.provenance"].clone();
    assert!(
        prov.contains("\"output\":\"emission stream\"") && prov.contains("\"settle\":\"20d\""),
        "{prov}"
    );
    let batches: Vec<RecordBatch> = reader.map(|b| b.unwrap()).collect();
    assert!(batches.len() > 5, "{} emissions", batches.len());
    let all = concat_batches(&batches[0].schema(), &batches).unwrap();
    let fin = all.column_by_name("final").unwrap().as_boolean().clone();
    assert!(fin.true_count() > 0 && fin.false_count() > 0);
    // The final rows are `slate run`'s rows for the same records.
    let reference = t.path().join("run.parquet");
    let r = slate()
        .args(["run", "-i", fixture, "--out", reference.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(r.status.success());
    let want = read_all(&[reference]);
    let finals = filter_record_batch(&all, &fin).unwrap();
    let finals = finals
        .project(&(0..want.num_columns()).collect::<Vec<_>>())
        .unwrap();
    let key = |b: &RecordBatch| {
        let mut rows: Vec<String> = (0..b.num_rows())
            .map(|i| {
                b.columns()
                    .iter()
                    .map(|c| datafusion::arrow::util::display::array_value_to_string(c, i).unwrap())
                    .collect::<Vec<_>>()
                    .join("|")
            })
            .collect();
        rows.sort();
        rows
    };
    assert_eq!(key(&finals), key(&want));
}

fn generate(data: &Path, rows: &str) {
    let o = slate()
        .args([
            "gen",
            "--rows",
            rows,
            "--years",
            "1",
            "--from",
            "2023-01-01",
            "--out",
        ])
        .arg(data)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
}

/// The `-full` policies read the optional promise clocks, which come days to weeks after
/// the call: streamed with the default settle, late and revise-horizon settings, from a replay
/// and as the same updates in NDJSON and in CSV on standard input, they end with `slate run`'s scorecard
/// and ledger.
#[test]
fn full_policies_stream_to_the_batch_figures_from_a_replay_and_stdin_as_ndjson_and_csv() {
    let t = tempfile::tempdir().unwrap();
    let data = t.path().join("data");
    let o = slate()
        .args([
            "gen",
            "--rows",
            "4000",
            "--years",
            "1",
            "--from",
            "2023-01-01",
        ])
        .args(["--promises", "--seed", "9", "--out"])
        .arg(&data)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    // The updates a replay feeds, in its order, as NDJSON lines (clocks in microseconds).
    let tz = std::sync::Arc::new(slate_core::TzRules::from_name("Europe/London").unwrap());
    let feed = t.path().join("feed.ndjson");
    let lines: String = slate_stream::source::Replay::new(&[data.to_string_lossy().into()], tz)
        .unwrap()
        .map(|u| u.unwrap().to_json_line() + "\n")
        .collect();
    assert!(lines.contains("\"surveyed\"") && lines.contains("\"appointment_due\""));
    // The same updates as CSV (`--stdin --format csv`): a header of every column, one row each.
    let feed_csv = t.path().join("feed.csv");
    let mut w = csv::Writer::from_path(&feed_csv).unwrap();
    let names: Vec<String> = slate_stream::update::update_schema()
        .fields()
        .iter()
        .map(|f| f.name().clone())
        .collect();
    w.write_record(&names).unwrap();
    for line in lines.lines() {
        let v: serde_json::Value = serde_json::from_str(line).unwrap();
        w.write_record(names.iter().map(|n| match &v[n.as_str()] {
            serde_json::Value::Null => String::new(),
            serde_json::Value::String(s) => s.clone(),
            other => other.to_string(),
        }))
        .unwrap();
    }
    w.flush().unwrap();
    std::fs::write(&feed, lines).unwrap();
    for policy in [
        "builtin:mps-promise-2008-full",
        "builtin:policing-pledge-2008-full",
    ] {
        let reference = t.path().join("run.parquet");
        let o = slate()
            .args(["run", "-i", data.to_str().unwrap(), "--policy", policy])
            .arg("--out")
            .arg(&reference)
            .output()
            .unwrap();
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        for source in ["replay", "stdin", "stdin-csv"] {
            let out = t.path().join(format!("out-{source}"));
            let mut c = slate();
            c.args(["stream", "--policy", policy, "--out"]).arg(&out);
            match source {
                "replay" => c.arg("--replay").arg(&data),
                "stdin" => c
                    .arg("--stdin")
                    .stdin(Stdio::from(std::fs::File::open(&feed).unwrap())),
                _ => c
                    .args(["--stdin", "--format", "csv"])
                    .stdin(Stdio::from(std::fs::File::open(&feed_csv).unwrap())),
            };
            let o = c.stdout(Stdio::null()).output().unwrap();
            let stderr = String::from_utf8_lossy(&o.stderr);
            assert!(o.status.success(), "{policy} {source}: {stderr}");
            assert!(
                stderr.contains(" 0 dropped; 0 unreadable lines"),
                "{policy} {source}: {stderr}"
            );
            for (got, want) in [
                ("latest.parquet", "run.parquet"),
                ("latest.exclusions.parquet", "run.exclusions.parquet"),
            ] {
                assert_eq!(
                    read_all(&[out.join(got)]),
                    read_all(&[t.path().join(want)]),
                    "{policy} {source}: {got}"
                );
            }
            std::fs::remove_dir_all(&out).unwrap();
        }
    }
}

/// Starts `cmd` five times and SIGKILLs each run at a seeded point within the first fifth of
/// a full run's `span_ms`, so several land mid-run; returns how many did (a run that ended
/// first is not counted). The first run's point is counted from its first checkpoint in
/// `state`, so that the restart after the kills has one to resume from: on a loaded machine
/// a run's start-up (a Kafka consumer's assignment) can outlast every seeded point, and five
/// runs killed before any checkpoint once made the restart start afresh (CI, session 16).
fn kill_five_times(
    seed: u64,
    span_ms: u64,
    state: &Path,
    mut cmd: impl FnMut() -> std::process::Command,
) -> usize {
    let mut x = seed;
    let mut killed_mid_run = 0;
    for run in 0..5 {
        x = x
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        let delay = span_ms / 20 + (x >> 33) % (span_ms * 3 / 20);
        let mut child = cmd().spawn().unwrap();
        if run == 0 {
            let t0 = Instant::now();
            while !state.join(slate_stream::checkpoint::CHECKPOINT).exists()
                && child.try_wait().unwrap().is_none()
                && t0.elapsed() < Duration::from_secs(60)
            {
                std::thread::sleep(Duration::from_millis(5));
            }
        }
        std::thread::sleep(Duration::from_millis(delay));
        if child.try_wait().unwrap().is_none() {
            child.kill().unwrap(); // SIGKILL
            killed_mid_run += 1;
        }
        child.wait().unwrap();
    }
    killed_mid_run
}

/// Files under `dir` (recursively) whose names end in `.tmp`.
fn temp_files(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut found = Vec::new();
    for e in std::fs::read_dir(dir).into_iter().flatten() {
        let path = e.unwrap().path();
        if path.is_dir() {
            found.extend(temp_files(&path));
        } else if path.to_string_lossy().ends_with(".tmp") {
            found.push(path);
        }
    }
    found
}

/// Two streams on one `--state`: the second fails at once naming the first's PID; the lock of
/// a stream killed with SIGKILL does not outlive it.
#[test]
fn a_second_stream_on_the_same_state_fails_and_a_killed_ones_lock_is_released() {
    let t = tempfile::tempdir().unwrap();
    let (feed, out, state) = (
        t.path().join("feed"),
        t.path().join("out"),
        t.path().join("state"),
    );
    std::fs::create_dir(&feed).unwrap();
    let watch = |once: bool| {
        let mut c = slate();
        c.args(["stream", "--watch"])
            .args([
                feed.as_path(),
                Path::new("--out"),
                out.as_path(),
                Path::new("--state"),
                state.as_path(),
            ])
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        if once {
            c.arg("--once");
        }
        c
    };
    let mut first = watch(false).spawn().unwrap();
    let pid = first.id().to_string();
    let t0 = Instant::now();
    while std::fs::read_to_string(state.join("lock"))
        .unwrap_or_default()
        .trim()
        != pid
    {
        assert!(
            t0.elapsed() < Duration::from_secs(30),
            "the first stream took no lock"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    let second = watch(true).output().unwrap();
    let stderr = String::from_utf8_lossy(&second.stderr);
    assert!(!second.status.success(), "{stderr}");
    assert!(
        stderr.contains(&format!(
            "state directory {} is in use by another stream (process {pid})",
            state.display()
        )),
        "{stderr}"
    );
    first.kill().unwrap(); // SIGKILL: no destructor runs, the kernel drops the lock
    first.wait().unwrap();
    let third = watch(true).output().unwrap();
    assert!(
        third.status.success(),
        "{}",
        String::from_utf8_lossy(&third.stderr)
    );
}

/// A write that fails part-way (the file size limit standing in for a full disk) fails the
/// stream and leaves no temporary file behind, with or without `--state`.
#[test]
fn a_stream_whose_writes_fail_leaves_no_temp_files() {
    let t = tempfile::tempdir().unwrap();
    let data = t.path().join("data");
    generate(&data, "2000");
    for with_state in [false, true] {
        let (out, state) = (t.path().join("out"), t.path().join("state"));
        let mut c = std::process::Command::new("sh");
        // SIGXFSZ ignored (as exec keeps it), so an oversize write fails with EFBIG.
        c.args(["-c", "trap '' XFSZ; ulimit -f 4; exec \"$0\" \"$@\""])
            .arg(env!("CARGO_BIN_EXE_slate"))
            .args(["stream", "--replay"])
            .args([data.as_path(), Path::new("--out"), out.as_path()])
            .args(["--emit-every", "5d", "--batch-size", "500"]);
        if with_state {
            c.arg("--state")
                .arg(&state)
                .args(["--checkpoint-every", "0s"]);
        }
        let o = c.output().unwrap();
        let stderr = String::from_utf8_lossy(&o.stderr);
        assert!(!o.status.success(), "{stderr}");
        assert!(stderr.contains("too large"), "{stderr}");
        let left = [temp_files(&out), temp_files(&state)].concat();
        assert!(
            left.is_empty(),
            "state {with_state}: left {left:?}; {stderr}"
        );
        let _ = std::fs::remove_dir_all(&out);
        let _ = std::fs::remove_dir_all(&state);
    }
}

/// `--stdin` redirected from a file is identified by size and modification time, so a state
/// directory is not resumed over another file; a pipe cannot be identified, and a resumed run
/// says so.
#[test]
fn stdin_from_another_file_is_refused_and_a_pipe_is_named_unverifiable() {
    let t = tempfile::tempdir().unwrap();
    let (out, state) = (t.path().join("out"), t.path().join("state"));
    let line = |id: u32| {
        format!(
            "{{\"incident_id\": \"i{id}\", \"borough\": \"Camden\", \"grade\": \"I\", \"channel\": \"999\", \
             \"call_received\": \"2024-01-0{id}T10:00:00Z\", \"arrived\": \"2024-01-0{id}T10:09:00Z\"}}\n"
        )
    };
    let (a, b) = (t.path().join("a.ndjson"), t.path().join("b.ndjson"));
    std::fs::write(&a, (1..=3).map(line).collect::<String>()).unwrap();
    std::fs::write(&b, (1..=4).map(line).collect::<String>()).unwrap();
    let stream = |input: Stdio| {
        let o = slate()
            .args(["stream", "--stdin", "--out"])
            .arg(&out)
            .arg("--state")
            .arg(&state)
            .stdin(input)
            .stdout(Stdio::null())
            .output()
            .unwrap();
        (
            o.status.success(),
            String::from_utf8_lossy(&o.stderr).into_owned(),
        )
    };
    let file = |p: &Path| Stdio::from(std::fs::File::open(p).unwrap());
    let (ok, stderr) = stream(file(&a));
    assert!(ok, "{stderr}");
    let (ok, stderr) = stream(file(&a));
    assert!(
        ok && stderr.contains("resumed from checkpoint; "),
        "{stderr}"
    );
    let (ok, stderr) = stream(file(&b));
    assert!(!ok, "{stderr}");
    assert!(
        stderr.contains("written for another input (standard input was a file of "),
        "{stderr}"
    );
    let (ok, stderr) = stream(Stdio::null());
    assert!(ok, "{stderr}");
    // /dev/null is not a regular file: like a pipe, it cannot be identified.
    assert!(
        stderr.contains("resumed from checkpoint (standard input is a pipe or a device"),
        "{stderr}"
    );
}

/// Records in the repeated hour of 2024 (clocks as local wall time on that night; `-` none):
/// created in the first pass and attended in the second, in order either way, out of order
/// whichever way, partly filled, and one in summer.
const REPEATED_HOUR: [(&str, [&str; 6]); 6] = [
    (
        "r1",
        [
            "01:40:00", "01:40:30", "01:41:00", "01:43:00", "01:05:00", "01:30:00",
        ],
    ),
    (
        "r2",
        [
            "00:55:00", "00:55:20", "00:56:00", "00:58:00", "01:10:00", "01:20:00",
        ],
    ),
    (
        "r3",
        [
            "02:30:00", "02:30:10", "02:31:00", "02:35:00", "01:10:00", "02:50:00",
        ],
    ),
    ("r4", ["01:15:00", "-", "01:16:00", "-", "01:25:00", "-"]),
    (
        "r5",
        [
            "01:59:00", "01:59:30", "02:00:30", "02:01:00", "01:12:00", "01:40:00",
        ],
    ),
    (
        "s1",
        [
            "12:00:00", "12:00:20", "12:01:00", "12:02:00", "12:08:00", "12:40:00",
        ],
    ),
];

/// Per rule, an independent reading of [`REPEATED_HOUR`] (chrono-tz): how many readings are
/// ambiguous, read as earlier, as later, unordered, and how many records are excluded.
fn repeated_hour_oracle(zone: &str, night: &str, rule: &str) -> (u64, u64, u64, u64, u64) {
    use chrono::TimeZone;
    let tz: chrono_tz::Tz = zone.parse().unwrap();
    let mut n = (0, 0, 0, 0, 0);
    for (id, clocks) in REPEATED_HOUR {
        let day = if id.starts_with('s') {
            "2024-07-01"
        } else {
            night
        };
        // Each clock's instants (one, or two in the repeated hour).
        let options: Vec<Option<Vec<i64>>> = clocks
            .iter()
            .map(|c| {
                (*c != "-").then(|| {
                    let naive = chrono::NaiveDateTime::parse_from_str(
                        &format!("{day} {c}"),
                        "%Y-%m-%d %H:%M:%S",
                    )
                    .unwrap();
                    match tz.from_local_datetime(&naive) {
                        chrono::LocalResult::Single(t) => vec![t.timestamp()],
                        chrono::LocalResult::Ambiguous(a, b) => {
                            vec![
                                a.timestamp().min(b.timestamp()),
                                a.timestamp().max(b.timestamp()),
                            ]
                        }
                        chrono::LocalResult::None => panic!("{day} {c} skipped"),
                    }
                })
            })
            .collect();
        let amb: Vec<usize> = (0..6)
            .filter(|&i| options[i].as_ref().is_some_and(|o| o.len() == 2))
            .collect();
        let k = amb.len() as u64;
        n.0 += k;
        match rule {
            "earlier" => n.1 += k,
            "later" => n.2 += k,
            "exclude" => n.4 += u64::from(k > 0),
            _ => {
                // Keep the present clocks in order, smallest total span, fewest later, lowest mask.
                let mut best: Option<(i64, u32, u32)> = None;
                for mask in 0..(1u32 << amb.len()) {
                    let at = |i: usize| {
                        let o = options[i].as_ref()?;
                        let later = amb
                            .iter()
                            .position(|&a| a == i)
                            .is_some_and(|k| mask >> k & 1 == 1);
                        Some(o[usize::from(later)])
                    };
                    let chain: Vec<i64> = (0..6).filter_map(at).collect();
                    let key = (chain[chain.len() - 1] - chain[0], mask.count_ones(), mask);
                    if chain.windows(2).all(|w| w[0] <= w[1]) && best.is_none_or(|b| key < b) {
                        best = Some(key);
                    }
                }
                match best {
                    Some((_, later, _)) => {
                        n.2 += u64::from(later);
                        n.1 += k - u64::from(later);
                    }
                    None => n.3 += k,
                }
            }
        }
    }
    n
}

/// NDJSON updates with readings in the repeated hour, streamed under each `--ambiguous`
/// rule, end with the scorecard and ledger of `slate run --source canonical --ambiguous RULE`
/// over the same records as CSV; the summary's counts are an independent reading's; excluded
/// updates are listed rejects; a restart with another rule is refused.
#[test]
fn stream_ambiguous_rules_give_the_batch_figures() {
    let t = tempfile::tempdir().unwrap();
    let s = |p: &Path| p.to_str().unwrap().to_string();
    for (zone, night) in [
        ("Europe/London", "2024-10-27"),
        ("America/New_York", "2024-11-03"),
    ] {
        let dir = t.path().join(zone.replace('/', "-"));
        let watch = dir.join("in");
        std::fs::create_dir_all(&watch).unwrap();
        let mut csv = format!(
            "incident_id,borough,grade,channel,cancelled,{}\n",
            slate_core::schema::CLOCKS.join(",")
        );
        let mut ndjson = String::new();
        for (id, clocks) in REPEATED_HOUR {
            let day = if id.starts_with('s') {
                "2024-07-01"
            } else {
                night
            };
            let text: Vec<String> = clocks
                .iter()
                .map(|c| {
                    if *c == "-" {
                        String::new()
                    } else {
                        format!("{day} {c}")
                    }
                })
                .collect();
            csv.push_str(&format!("{id},North,I,999,false,{}\n", text.join(",")));
            let fields: Vec<String> = slate_core::schema::CLOCKS
                .iter()
                .zip(&text)
                .filter(|(_, v)| !v.is_empty())
                .map(|(k, v)| format!("\"{k}\": \"{v}\""))
                .collect();
            ndjson.push_str(&format!(
                "{{\"incident_id\": \"{id}\", \"borough\": \"North\", \"grade\": \"I\", \"channel\": \"999\", \"cancelled\": false, {}}}\n",
                fields.join(", ")
            ));
        }
        // The canonical mapping in this zone: `run --source` does not apply `--tz` to a
        // mapping's `tz` (only `import` does), so the zone is written into a copy.
        let mapping = dir.join("canonical.toml");
        std::fs::write(
            &mapping,
            include_str!("../../../slate-io/src/mapping/builtin/canonical.toml")
                .replace("tz = \"Europe/London\"", &format!("tz = \"{zone}\"")),
        )
        .unwrap();
        let records = dir.join("records.csv");
        std::fs::write(&records, csv).unwrap();
        std::fs::write(watch.join("updates.ndjson"), ndjson).unwrap();
        for rule in ["earlier", "later", "exclude", "order"] {
            let reference = dir.join(format!("run-{rule}.parquet"));
            let o = slate()
                .args([
                    "run",
                    "--source",
                    &s(&mapping),
                    "--tz",
                    zone,
                    "--ambiguous",
                    rule,
                ])
                .args(["-i", &s(&records), "--out", &s(&reference)])
                .output()
                .unwrap();
            assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
            let (out, state) = (
                dir.join(format!("out-{rule}")),
                dir.join(format!("state-{rule}")),
            );
            let stream = |rule: &str| {
                slate()
                    .args(["stream", "--watch", &s(&watch), "--once", "--tz", zone])
                    .args([
                        "--ambiguous",
                        rule,
                        "--out",
                        &s(&out),
                        "--state",
                        &s(&state),
                    ])
                    .output()
                    .unwrap()
            };
            let o = stream(rule);
            let stderr = String::from_utf8_lossy(&o.stderr);
            assert!(o.status.success(), "{zone} {rule}: {stderr}");
            // Rows of a file, `None` when it has none (a ledger can be empty).
            let rows = |p: std::path::PathBuf| {
                let b: Vec<RecordBatch> = slate_io::parquet::read_file(&p).unwrap();
                let b: Vec<RecordBatch> = b.into_iter().filter(|b| b.num_rows() > 0).collect();
                (!b.is_empty()).then(|| concat_batches(&b[0].schema(), &b).unwrap())
            };
            let card = rows(out.join("latest.parquet"));
            assert!(card.is_some(), "{zone} {rule}");
            assert_eq!(card, rows(reference.clone()), "{zone} {rule}");
            assert_eq!(
                rows(out.join("latest.exclusions.parquet")),
                rows(dir.join(format!("run-{rule}.exclusions.parquet"))),
                "{zone} {rule}"
            );
            let (amb, earlier, later, unordered, excluded) =
                repeated_hour_oracle(zone, night, rule);
            assert!(
                amb > 0 && (rule != "order" || (later > 0 && unordered > 0)),
                "{zone}: {amb}"
            );
            let detail = match rule {
                "earlier" => "ambiguous = earlier: read as the earlier instant".to_string(),
                "later" => "ambiguous = later: read as the later instant".to_string(),
                "exclude" => format!(
                    "ambiguous = exclude: {excluded} updates rejected as ambiguous_local_time"
                ),
                _ => format!(
                    "ambiguous = order: {earlier} kept in order as the earlier instant, {later} as the later, {unordered} could not be ordered (read as the earlier)"
                ),
            };
            assert!(
                stderr.contains(&format!(
                    "{excluded} unreadable lines; {amb} ambiguous local times ({detail})"
                )),
                "{zone} {rule}: {stderr}"
            );
            let rejects = stderr.matches(": ambiguous_local_time: ").count() as u64;
            assert_eq!(rejects, excluded, "{zone} {rule}: {stderr}");
            if rule == "exclude" {
                assert!(excluded > 0);
                assert!(
                    stderr.contains("updates.ndjson:1: ambiguous_local_time: call_received"),
                    "{stderr}"
                );
            }
            // The rule changes the figures: a checkpoint written under one is not resumed
            // under another.
            let other = if rule == "order" { "earlier" } else { "order" };
            let o = stream(other);
            let stderr = String::from_utf8_lossy(&o.stderr);
            assert!(!o.status.success(), "{zone} {rule}: {stderr}");
            assert!(stderr.contains("written with other settings"), "{stderr}");
            assert!(stream(rule).status.success());
        }
    }
}

/// `slate stream --kafka` against a Kafka-protocol broker on loopback: librdkafka's mock
/// cluster, hosted by this test process while it runs, kills and restarts the `slate` binary.
#[cfg(feature = "kafka")]
mod kafka {
    use std::io::{BufRead, BufReader};
    use std::path::Path;
    use std::process::Stdio;
    use std::sync::Arc;
    use std::time::{Duration, Instant};

    use datafusion::arrow::array::AsArray;
    use datafusion::arrow::compute::filter_record_batch;
    use slate_stream::kafka::rdkafka::ClientConfig;
    use slate_stream::kafka::rdkafka::mocking::MockCluster;
    use slate_stream::kafka::rdkafka::producer::{BaseProducer, BaseRecord, Producer};
    use slate_stream::update::Update;

    use super::{generate, read_all};
    use crate::cli::slate;

    const TOPIC: &str = "cad";
    const PARTITIONS: i32 = 3;

    /// An update as the NDJSON a CAD integration would publish (clocks in microseconds).
    fn json(u: &Update) -> String {
        let mut m = serde_json::Map::new();
        m.insert("incident_id".into(), u.id.clone().into());
        for (k, v) in [
            ("borough", &u.borough),
            ("grade", &u.grade),
            ("channel", &u.channel),
        ] {
            if let Some(v) = v {
                m.insert(k.into(), v.clone().into());
            }
        }
        for (name, c) in slate_core::schema::CLOCKS.iter().zip(u.clocks) {
            if let Some(c) = c {
                m.insert((*name).into(), c.into());
            }
        }
        if let Some(c) = u.cancelled {
            m.insert("cancelled".into(), c.into());
        }
        serde_json::Value::Object(m).to_string()
    }

    /// Publishes `data`'s records as their updates in event-time order (the replay's feed),
    /// each to the partition of its incident, after `before` (raw messages for partition 0).
    fn publish(brokers: &str, data: &Path, before: &[&[u8]]) -> usize {
        let producer: BaseProducer = ClientConfig::new()
            .set("bootstrap.servers", brokers)
            .set("linger.ms", "5")
            .set("queue.buffering.max.messages", "1000000")
            .create()
            .unwrap();
        for m in before {
            producer
                .send(BaseRecord::<(), [u8]>::to(TOPIC).payload(m).partition(0))
                .unwrap();
        }
        let tz = Arc::new(slate_core::TzRules::from_name("Europe/London").unwrap());
        let replay =
            slate_stream::source::Replay::new(&[data.to_string_lossy().into_owned()], tz).unwrap();
        let mut n = 0;
        for u in replay {
            let u = u.unwrap();
            let line = json(&u);
            let p = (u.id.bytes().map(i32::from).sum::<i32>()) % PARTITIONS;
            loop {
                match producer.send(BaseRecord::<(), str>::to(TOPIC).payload(&line).partition(p)) {
                    Ok(()) => break,
                    Err(_) => {
                        producer.poll(Duration::from_millis(10));
                    }
                }
            }
            n += 1;
            if n % 10_000 == 0 {
                producer.poll(Duration::ZERO);
            }
        }
        producer.flush(Duration::from_secs(60)).unwrap();
        n
    }

    fn kafka_cmd(brokers: &str, out: &Path, state: &Path) -> std::process::Command {
        let mut c = slate();
        c.args([
            "stream",
            "--kafka",
            brokers,
            "--topic",
            TOPIC,
            "--exit-at-end",
        ])
        .args([
            "--out",
            out.to_str().unwrap(),
            "--state",
            state.to_str().unwrap(),
        ])
        .args(["--checkpoint-every", "0s", "--batch-size", "1500"])
        .args(["--settle", "30d", "--lateness", "1d", "--emit-every", "5d"])
        .args(["--late", "drop"])
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
        c
    }

    fn emission_files(out: &Path) -> Vec<std::path::PathBuf> {
        slate_io::expand_inputs(&[out.join("emissions").to_string_lossy().into_owned()]).unwrap()
    }

    /// A topic of three partitions holding a year of generated updates and one malformed
    /// message: the stream equals `slate run` (scorecard and ledger), lists the bad message
    /// once, and, killed with SIGKILL at random points and restarted, writes the same
    /// emission files and final figures as an uninterrupted run.
    #[test]
    fn kafka_stream_equals_batch_and_sigkill_then_restart_changes_nothing() {
        let t = tempfile::tempdir().unwrap();
        let data = t.path().join("data");
        generate(&data, "8000");
        let reference = t.path().join("run.parquet");
        let o = slate()
            .args(["run", "-i", data.to_str().unwrap(), "--out"])
            .arg(&reference)
            .output()
            .unwrap();
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));

        let cluster = MockCluster::new(1).unwrap();
        cluster.create_topic(TOPIC, PARTITIONS, 1).unwrap();
        let brokers = cluster.bootstrap_servers();
        let n = publish(
            &brokers,
            &data,
            &[b"{\"incident_id\": \"bad\", \"arrived\": \"soon\"}"],
        );
        assert!(n > 30_000, "{n} updates");

        // Uninterrupted.
        let (full_out, full_state) = (t.path().join("out-full"), t.path().join("state-full"));
        let t0 = Instant::now();
        let full = kafka_cmd(&brokers, &full_out, &full_state)
            .output()
            .unwrap();
        let span = t0.elapsed().as_millis().max(200) as u64;
        let stderr = String::from_utf8_lossy(&full.stderr);
        assert!(full.status.success(), "{stderr}");
        assert!(stderr.contains(&format!("{n} updates")), "{stderr}");
        assert!(stderr.contains("1 unreadable lines"), "{stderr}");
        assert!(
            stderr.contains("rejected cad[0]@0:1: arrived: \"soon\" is not a timestamp"),
            "{stderr}"
        );
        assert_eq!(
            read_all(&[full_out.join("latest.parquet")]),
            read_all(std::slice::from_ref(&reference))
        );
        assert_eq!(
            read_all(&[full_out.join("latest.exclusions.parquet")]),
            read_all(&[t.path().join("run.exclusions.parquet")])
        );

        // Killed at random points, then restarted to the end.
        let (out, state) = (t.path().join("out"), t.path().join("state"));
        let killed_mid_run = super::kill_five_times(0x6b61_666b, span, &state, || {
            kafka_cmd(&brokers, &out, &state)
        });
        assert!(
            killed_mid_run >= 3,
            "only {killed_mid_run} kills landed mid-run (run takes {span} ms)"
        );
        let last = kafka_cmd(&brokers, &out, &state).output().unwrap();
        let stderr = String::from_utf8_lossy(&last.stderr);
        assert!(last.status.success(), "{stderr}");
        assert!(stderr.contains("resumed from checkpoint"), "{stderr}");
        // Every update once, the bad message listed once, though read before the kills.
        assert!(stderr.contains(&format!("{n} updates")), "{stderr}");
        assert_eq!(stderr.matches("rejected cad[0]@0:1").count(), 1, "{stderr}");
        assert_eq!(
            read_all(&[out.join("latest.parquet")]),
            read_all(&[reference])
        );
        let files = emission_files(&out);
        for (i, f) in files.iter().enumerate() {
            assert_eq!(
                f.file_name().unwrap().to_str().unwrap(),
                format!("emission-{:08}.parquet", i + 1)
            );
        }
        let all = read_all(&files);
        assert_eq!(read_all(&emission_files(&full_out)), all);
        let fin = all.column_by_name("final").unwrap().as_boolean().clone();
        assert_eq!(
            filter_record_batch(&all, &fin).unwrap().num_rows(),
            read_all(&[full_out.join("latest.parquet")]).num_rows()
        );
    }

    /// Reads `child`'s stderr on a thread, line by line, into a shared buffer.
    fn collect_stderr(child: &mut std::process::Child) -> Arc<std::sync::Mutex<String>> {
        let buf = Arc::new(std::sync::Mutex::new(String::new()));
        let (b, err) = (buf.clone(), child.stderr.take().unwrap());
        std::thread::spawn(move || {
            for line in BufReader::new(err).lines().map_while(Result::ok) {
                let mut b = b.lock().unwrap();
                b.push_str(&line);
                b.push('\n');
            }
        });
        buf
    }

    fn wait_for(buf: &std::sync::Mutex<String>, what: &str, limit: Duration) -> Duration {
        let t0 = Instant::now();
        while !buf.lock().unwrap().contains(what) {
            assert!(
                t0.elapsed() < limit,
                "no {what:?} within {limit:?}:\n{}",
                buf.lock().unwrap()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        t0.elapsed()
    }

    /// A broker that does not answer is named within seconds and retried; once it is back the
    /// stream reads the topic to its end.
    #[test]
    fn an_unreachable_broker_is_named_fast_and_the_stream_resumes_when_it_returns() {
        let t = tempfile::tempdir().unwrap();
        // Nothing listens on a port that was free a moment ago.
        let nobody = format!("127.0.0.1:{}", crate::cli::free_port());
        let mut child = kafka_cmd(&nobody, &t.path().join("o1"), &t.path().join("s1"))
            .spawn()
            .unwrap();
        let err = collect_stderr(&mut child);
        let took = wait_for(
            &err,
            &format!("Kafka brokers {nobody} unreachable"),
            Duration::from_secs(15),
        );
        assert!(took < Duration::from_secs(10), "{took:?}");
        child.kill().unwrap();
        child.wait().unwrap();

        let cluster = MockCluster::new(1).unwrap();
        cluster.create_topic(TOPIC, 2, 1).unwrap();
        let brokers = cluster.bootstrap_servers();
        let producer: BaseProducer = ClientConfig::new()
            .set("bootstrap.servers", &brokers)
            .create()
            .unwrap();
        for (i, p) in [(1, 0), (2, 1), (3, 0)] {
            let line = format!(
                "{{\"incident_id\": \"i{i}\", \"grade\": \"I\", \"call_received\": \"2024-03-0{i}T10:00:00Z\", \"arrived\": \"2024-03-0{i}T10:09:00Z\"}}"
            );
            producer
                .send(BaseRecord::<(), str>::to(TOPIC).payload(&line).partition(p))
                .unwrap();
        }
        producer.flush(Duration::from_secs(10)).unwrap();
        cluster.broker_down(1).unwrap();
        let out = t.path().join("o2");
        let mut child = kafka_cmd(&brokers, &out, &t.path().join("s2"))
            .spawn()
            .unwrap();
        let err = collect_stderr(&mut child);
        wait_for(&err, "unreachable", Duration::from_secs(15));
        cluster.broker_up(1).unwrap();
        let t0 = Instant::now();
        let status = loop {
            if let Some(s) = child.try_wait().unwrap() {
                break s;
            }
            assert!(
                t0.elapsed() < Duration::from_secs(60),
                "still running:\n{}",
                err.lock().unwrap()
            );
            std::thread::sleep(Duration::from_millis(100));
        };
        std::thread::sleep(Duration::from_millis(200));
        assert!(status.success(), "{}", err.lock().unwrap());
        assert!(
            err.lock().unwrap().contains("3 updates"),
            "{}",
            err.lock().unwrap()
        );
        assert!(read_all(&[out.join("latest.parquet")]).num_rows() > 0);
    }

    /// A topic whose oldest messages the broker deleted before the stream began (the mock
    /// broker keeps about 5 MB a partition): the stream reads what is left and says which
    /// offsets it never saw, rather than scoring the rest as if it were everything.
    #[test]
    fn messages_deleted_before_the_stream_began_are_named() {
        let t = tempfile::tempdir().unwrap();
        let cluster = MockCluster::new(1).unwrap();
        cluster.create_topic(TOPIC, 1, 1).unwrap();
        let brokers = cluster.bootstrap_servers();
        let producer: BaseProducer = ClientConfig::new()
            .set("bootstrap.servers", &brokers)
            .set("message.max.bytes", "2000000")
            .create()
            .unwrap();
        // 40 messages of ~300 KB (one update with a long borough): 12 MB in all.
        let pad = "x".repeat(300_000);
        for d in 0..40 {
            let line = format!(
                "{{\"incident_id\": \"m{d}\", \"borough\": \"{pad}\", \"grade\": \"I\", \"call_received\": \"2024-03-01T10:{:02}:00Z\"}}",
                d % 60
            );
            loop {
                match producer.send(BaseRecord::<(), str>::to(TOPIC).payload(&line).partition(0)) {
                    Ok(()) => break,
                    Err(_) => {
                        producer.poll(Duration::from_millis(10));
                    }
                }
            }
        }
        producer.flush(Duration::from_secs(30)).unwrap();
        let consumer: slate_stream::kafka::rdkafka::consumer::BaseConsumer = ClientConfig::new()
            .set("bootstrap.servers", &brokers)
            .create()
            .unwrap();
        use slate_stream::kafka::rdkafka::consumer::Consumer;
        let (low, high) = consumer
            .fetch_watermarks(TOPIC, 0, Duration::from_secs(10))
            .unwrap();
        assert!(
            low > 0 && high == 40,
            "the broker kept offsets {low}..{high}"
        );
        let out = kafka_cmd(&brokers, &t.path().join("o"), &t.path().join("s"))
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "{err}");
        assert!(
            err.contains(&format!(
                "partition 0: the broker holds offsets {low} to {high}; the {low} messages before were deleted"
            )),
            "{err}"
        );
        assert!(err.contains(&format!("{} updates", high - low)), "{err}");
    }

    /// Live (no `--exit-at-end`): partitions that stay empty are not waited for, updates
    /// published while the stream runs are read, and the consumer group named by `--group`
    /// receives the offsets read.
    #[test]
    fn a_live_stream_reads_what_arrives_and_does_not_wait_for_empty_partitions() {
        let t = tempfile::tempdir().unwrap();
        let cluster = MockCluster::new(1).unwrap();
        cluster.create_topic(TOPIC, 4, 1).unwrap();
        let brokers = cluster.bootstrap_servers();
        let out = t.path().join("out");
        let mut child = slate()
            .args([
                "stream", "--kafka", &brokers, "--topic", TOPIC, "--group", "g1",
            ])
            .args(["--out", out.to_str().unwrap()])
            .args(["--settle", "1d", "--lateness", "0s", "--emit-every", "1d"])
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let err = collect_stderr(&mut child);
        std::thread::sleep(Duration::from_secs(2));
        let producer: BaseProducer = ClientConfig::new()
            .set("bootstrap.servers", &brokers)
            .create()
            .unwrap();
        // Ten days of incidents, all in partition 1; partitions 0, 2 and 3 stay empty.
        for d in 1..=10 {
            let line = format!(
                "{{\"incident_id\": \"d{d}\", \"grade\": \"I\", \"call_received\": \"2024-03-{d:02}T10:00:00Z\", \"arrived\": \"2024-03-{d:02}T10:09:00Z\", \"closed\": \"2024-03-{d:02}T11:00:00Z\"}}"
            );
            producer
                .send(BaseRecord::<(), str>::to(TOPIC).payload(&line).partition(1))
                .unwrap();
        }
        producer.flush(Duration::from_secs(10)).unwrap();
        // The watermark passes day after day: emissions follow while the stream runs.
        let t0 = Instant::now();
        let emitted = loop {
            let n = std::fs::read_dir(out.join("emissions"))
                .map(|d| d.count())
                .unwrap_or(0);
            if n >= 5 || t0.elapsed() > Duration::from_secs(30) {
                break n;
            }
            std::thread::sleep(Duration::from_millis(100));
        };
        assert!(
            child.try_wait().unwrap().is_none(),
            "{}",
            err.lock().unwrap()
        );
        assert!(
            emitted >= 5,
            "{emitted} emissions:\n{}",
            err.lock().unwrap()
        );
        // The group's committed offsets (monitoring only) reach the end of partition 1.
        let consumer: slate_stream::kafka::rdkafka::consumer::BaseConsumer = ClientConfig::new()
            .set("bootstrap.servers", &brokers)
            .set("group.id", "g1")
            .create()
            .unwrap();
        use slate_stream::kafka::rdkafka::consumer::Consumer;
        let mut tpl = slate_stream::kafka::rdkafka::TopicPartitionList::new();
        tpl.add_partition(TOPIC, 1);
        let t0 = Instant::now();
        loop {
            let c = consumer
                .committed_offsets(tpl.clone(), Duration::from_secs(5))
                .unwrap();
            let at = c.find_partition(TOPIC, 1).unwrap().offset();
            if at == slate_stream::kafka::rdkafka::Offset::Offset(10) {
                break;
            }
            assert!(t0.elapsed() < Duration::from_secs(20), "committed: {at:?}");
            std::thread::sleep(Duration::from_millis(250));
        }
        child.kill().unwrap();
        child.wait().unwrap();
    }
}
