//! The commands as a user runs them.

use std::process::Command;

pub(crate) fn slate() -> Command {
    Command::new(env!("CARGO_BIN_EXE_slate"))
}

/// A loopback port that was free a moment ago (a server started next binds it itself).
pub(crate) fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

#[test]
fn help_lists_the_commands() {
    let out = slate().arg("--help").output().unwrap();
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    for c in ["gen", "validate", "run", "policy", "demo"] {
        assert!(text.contains(c), "{c} missing from --help:\n{text}");
    }
}

struct Out {
    code: i32,
    stdout: String,
    stderr: String,
}

fn run(args: &[&str]) -> Out {
    let o = slate().args(args).output().unwrap();
    Out {
        code: o.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&o.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&o.stderr).into_owned(),
    }
}

/// `slate gen` of one year (2023) into `dir`, checked to have written every row.
pub(crate) fn generate(dir: &std::path::Path, rows: &str, dirty: &str) {
    let d = dir.to_str().unwrap();
    let o = run(&[
        "gen",
        "--rows",
        rows,
        "--years",
        "1",
        "--from",
        "2023-01-01",
        "--out",
        d,
        "--dirty-rate",
        dirty,
    ]);
    assert_eq!(o.code, 0, "{}", o.stderr);
    assert!(
        o.stderr.contains(&format!("wrote {rows} rows in 12 files")),
        "{}",
        o.stderr
    );
}

#[test]
fn validate_exit_codes_tell_clean_dirty_and_broken_apart() {
    let t = tempfile::tempdir().unwrap();
    let clean = t.path().join("clean");
    generate(&clean, "2000", "0");
    let o = run(&["validate", "-i", clean.to_str().unwrap()]);
    assert_eq!(o.code, 0, "{}{}", o.stdout, o.stderr);
    assert!(
        o.stdout.contains("rows:  2000") && o.stdout.contains("result: ok"),
        "{}",
        o.stdout
    );

    let dirty = t.path().join("dirty");
    generate(&dirty, "2000", "0.05");
    let o = run(&["validate", "-i", dirty.to_str().unwrap()]);
    assert_eq!(o.code, 1, "{}{}", o.stdout, o.stderr);
    assert!(o.stdout.contains("problems found"), "{}", o.stdout);

    let o = run(&["validate", "-i", t.path().join("nope").to_str().unwrap()]);
    assert_eq!(o.code, 2);
    assert!(
        o.stderr.contains("nope") && o.stderr.contains("no such file"),
        "{}",
        o.stderr
    );

    let bad = t.path().join("bad.parquet");
    std::fs::write(&bad, b"PAR1 this is not parquet").unwrap();
    let o = run(&["validate", "-i", bad.to_str().unwrap()]);
    assert_eq!(o.code, 2);
    assert!(o.stderr.contains("bad.parquet"), "{}", o.stderr);
}

#[test]
fn run_writes_scorecard_and_ledger_in_each_format() {
    let t = tempfile::tempdir().unwrap();
    let data = t.path().join("data");
    generate(&data, "3000", "0.01");
    for ext in ["parquet", "arrow", "csv"] {
        let out = t.path().join(format!("card.{ext}"));
        let o = run(&[
            "run",
            "-i",
            data.to_str().unwrap(),
            "--window",
            "quarter",
            "--out",
            out.to_str().unwrap(),
        ]);
        assert_eq!(o.code, 0, "{}", o.stderr);
        assert!(out.exists(), "{ext}");
        assert!(
            t.path().join(format!("card.exclusions.{ext}")).exists(),
            "{ext}"
        );
        assert!(
            o.stderr.contains("read 3000 rows from 12 files"),
            "{}",
            o.stderr
        );
    }
    let card = slate_io::parquet::read_file(&t.path().join("card.parquet")).unwrap();
    let rows: usize = card.iter().map(|b| b.num_rows()).sum();
    assert!(rows > 100, "{rows}");
    let csv = std::fs::read_to_string(t.path().join("card.csv")).unwrap();
    assert!(
        csv.starts_with("window,window_start,window_end,level,borough,grade,measure,threshold_s"),
        "{csv}"
    );
    assert_eq!(csv.lines().count(), rows + 1);
}

#[test]
fn bad_policies_and_options_are_clear_errors() {
    let t = tempfile::tempdir().unwrap();
    let data = t.path().join("data");
    generate(&data, "500", "0");
    let d = data.to_str().unwrap();
    let p = t.path().join("p.toml");
    std::fs::write(&p, "[[measure]]\nid = \"late\"\nstart = \"call_received\"\nstop = \"arrived\"\nthreshold = \"fast\"\n").unwrap();
    let o = run(&["run", "-i", d, "--policy", p.to_str().unwrap()]);
    assert_eq!(o.code, 2);
    assert!(
        o.stderr.contains("\"late\"") && o.stderr.contains("`threshold`"),
        "{}",
        o.stderr
    );
    std::fs::write(&p, "[[measure]]\nid = \"late\"\nstart = \"call_recieved\"\nstop = \"arrived\"\nthreshold = \"1m\"\n").unwrap();
    let o = run(&["run", "-i", d, "--policy", p.to_str().unwrap()]);
    assert_eq!(o.code, 2);
    assert!(
        o.stderr.contains("`start`") && o.stderr.contains("call_recieved"),
        "{}",
        o.stderr
    );
    let o = run(&["run", "-i", d, "--policy", "builtin:nope"]);
    assert_eq!(o.code, 2);
    assert!(o.stderr.contains("slate policy list"), "{}", o.stderr);
    // The zone's table is built beside the footer reads; a bad name is still the error.
    let o = run(&["run", "-i", d, "--tz", "Mars/Olympus_Mons"]);
    assert_eq!(o.code, 2);
    assert!(o.stderr.contains("Mars/Olympus_Mons"), "{}", o.stderr);
    let o = run(&["run", "-i", d, "--window", "fortnight"]);
    assert_eq!(o.code, 2);
    assert!(o.stderr.contains("rolling-12m"), "{}", o.stderr);
    let o = run(&[
        "run",
        "-i",
        d,
        "--out",
        t.path().join("x.xlsx").to_str().unwrap(),
    ]);
    assert_eq!(o.code, 2);
    assert!(o.stderr.contains("unknown output format"), "{}", o.stderr);
    // The libraries name their parameters (`from`, `force`, `source`); the command line says
    // which flag sets each.
    for cmd in ["run", "capacity"] {
        let o = run(&[cmd, "-i", d, "--from", "2023-06-01", "--to", "2023-05-01"]);
        assert_eq!(o.code, 2, "{cmd}: {}", o.stderr);
        assert!(
            o.stderr
                .contains("error: --from 2023-06-01 must be before --to 2023-05-01"),
            "{cmd}: {}",
            o.stderr
        );
    }
    let o = run(&["gen", "--rows", "10", "--out", d]);
    assert_eq!(o.code, 2);
    assert!(
        o.stderr
            .contains("directory is not empty (pass --force to replace"),
        "{}",
        o.stderr
    );
    let csvs = t.path().join("csvs");
    std::fs::create_dir(&csvs).unwrap();
    std::fs::write(csvs.join("a.csv"), "x\n1\n").unwrap();
    let o = run(&["run", "-i", csvs.to_str().unwrap()]);
    assert_eq!(o.code, 2);
    assert!(
        o.stderr
            .contains("read them through a source mapping, --source NAME|FILE.toml"),
        "{}",
        o.stderr
    );
    let o = run(&["capacity", "-i", d, "--shrinkage", "1.5"]);
    assert_eq!(o.code, 2);
    assert!(o.stderr.contains("--shrinkage"), "{}", o.stderr);
}

#[test]
fn policies_list_and_show() {
    let o = run(&["policy", "list"]);
    assert_eq!(o.code, 0);
    assert!(
        o.stdout.contains("builtin:mps-promise-2008")
            && o.stdout.contains("builtin:policing-pledge-2008")
    );
    for name in ["mps-promise-2008", "builtin:policing-pledge-2008"] {
        let o = run(&["policy", "show", name]);
        assert_eq!(o.code, 0);
        slate_core::SlaPolicy::from_toml(&o.stdout, name).unwrap();
    }
    let example = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../fixtures/policy.example.toml"
    );
    let o = run(&["policy", "show", example]);
    assert_eq!(o.code, 0, "{}", o.stderr);
}

const FIXTURE: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../fixtures/canonical-small"
);

#[test]
fn terminal_scorecard_is_stable() {
    let o = run(&[
        "run",
        "-i",
        FIXTURE,
        "--window",
        "year",
        "--by",
        "grade",
        "--max-rows",
        "0",
    ]);
    assert_eq!(o.code, 0, "{}", o.stderr);
    insta::assert_snapshot!(o.stdout);
    // The run summary accounts for every row of every measure.
    for line in o.stderr.lines().filter(|l| l.contains("eligible")) {
        let nums: Vec<u64> = line
            .split(|c: char| !c.is_ascii_digit())
            .filter_map(|t| t.parse().ok())
            .collect();
        // answer_999_10s -> 999, 10 first; then eligible, measured, excluded, not applicable.
        let [.., eligible, measured, excluded, not_applicable] = nums[..] else {
            panic!("{line}")
        };
        assert_eq!(eligible, measured + excluded, "{line}");
        assert_eq!(eligible + not_applicable, 2000, "{line}");
    }
}

#[test]
fn the_committed_fixture_is_dirty_on_purpose() {
    let o = run(&["validate", "-i", FIXTURE]);
    assert_eq!(o.code, 1, "{}{}", o.stdout, o.stderr);
    assert!(o.stdout.contains("rows:  2000"), "{}", o.stdout);
}
