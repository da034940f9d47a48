//! The real public samples in `../shared/realdata` through the command line (`import`, `run
//! --source`, `validate --source`). That the figures equal each sample's independent sanity CSV
//! is the engine's test (`crates/slate-engine/tests/it/realdata.rs`).
//!
//! The samples are not in this repository: CI clones it beside a `shared/` folder. If the folder
//! is missing these tests fail, saying where they looked.

// Test helpers outside #[test] fns are not covered by clippy's allow-unwrap-in-tests.
#![allow(clippy::unwrap_used)]

use crate::cli::slate;

pub(crate) use slate_testkit::paths::{fixtures, realdata};

/// The command as a user runs it: `slate import` prints the accounting identity and writes
/// partitions and the rejects file; `run --source` and `validate --source` read the CSV.
#[test]
fn import_run_and_validate_with_a_source_from_the_command_line() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("lfb");
    let csv = realdata().join("lfb-incidents-2023-sample/lfb_incidents_2023_sample10k.csv");
    let o = slate()
        .args(["import", "--source", "lfb", "--input"])
        .arg(&csv)
        .arg("--out")
        .arg(&out)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&o.stdout);
    assert!(
        o.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&o.stderr)
    );
    // Rows in the file: the sanity file's overall count (its first rollup row).
    let total: u64 = {
        let mut r = csv::Reader::from_path(
            realdata().join("lfb-incidents-2023-sample/sanity_lfb_by_borough_group.csv"),
        )
        .unwrap();
        let rec = r.records().next().unwrap().unwrap();
        rec[2].parse().unwrap()
    };
    assert!(
        stdout.contains(&format!(
            "{total} input rows = {total} imported + 0 rejected"
        )),
        "{stdout}"
    );
    assert!(
        stdout.contains("2 ambiguous"),
        "SOURCE.md lists two calls in the repeated hour:\n{stdout}"
    );
    assert!(out.join("year=2023/month=10").is_dir() && out.join("_rejects.csv").is_file());
    // A second import into the same directory needs --force.
    let again = slate()
        .args(["import", "--source", "lfb", "--input"])
        .arg(&csv)
        .arg("--out")
        .arg(&out)
        .output()
        .unwrap();
    assert_eq!(again.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&again.stderr).contains("--force"));

    let seattle = realdata().join("seattle-spd-calls-sample/Call_Data_Subset.csv");
    let policy = fixtures().join("realdata/seattle-spd.toml");
    let o = slate()
        .args([
            "run",
            "--source",
            "seattle-spd",
            "--window",
            "year",
            "--by",
            "borough",
            "--tz",
            "America/Los_Angeles",
            "--input",
        ])
        .arg(&seattle)
        .arg("--policy")
        .arg(&policy)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert!(o.status.success(), "{stderr}");
    assert!(
        stderr.contains("source seattle-spd: 10000 input rows = 10000 imported + 0 rejected"),
        "{stderr}"
    );
    assert!(String::from_utf8_lossy(&o.stdout).contains("respond_7m"));

    let sffd = realdata().join("sffd-calls-2017w1/Fire_Department_Calls_for_Service.csv");
    let o = slate()
        .args(["validate", "--source", "sffd", "--input"])
        .arg(&sffd)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&o.stdout);
    assert!(
        o.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&o.stderr)
    );
    assert!(stdout.contains("rows joined into"), "{stdout}");
    assert!(stdout.contains("duplicate incident_id rows: 0"), "{stdout}");
}
