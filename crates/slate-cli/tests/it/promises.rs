//! README "What slate promises": no input overwritten, outputs checked before any work, written
//! only to regular files or new paths, and committed together.

use std::path::{Path, PathBuf};

use crate::cli::{generate, slate};

struct Out {
    code: i32,
    stderr: String,
}

fn run(args: &[&str]) -> Out {
    let o = slate().args(args).output().unwrap();
    Out {
        code: o.status.code().unwrap_or(-1),
        stderr: String::from_utf8_lossy(&o.stderr).into_owned(),
    }
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// Every temporary file left anywhere under `dir`.
fn leftovers(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap().flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else if p.to_string_lossy().ends_with(".tmp") {
                out.push(p);
            }
        }
    }
    out
}

/// A Parquet part of 2023 in a dataset directory (`year=2023/month=MM/part-N.parquet`).
fn first_part(dataset: &Path) -> PathBuf {
    std::fs::read_dir(dataset.join("year=2023"))
        .unwrap()
        .flatten()
        .flat_map(|m| std::fs::read_dir(m.path()).unwrap().flatten())
        .map(|e| e.path())
        .find(|p| p.extension().is_some_and(|e| e == "parquet"))
        .unwrap()
}

/// Runs `args`, which must be refused before any work with a message naming `words`, and
/// checks that `keep` (each file with its bytes before) is untouched.
fn refused(args: &[&str], words: &[&str], keep: &[&Path]) {
    let before: Vec<Vec<u8>> = keep.iter().map(|p| std::fs::read(p).unwrap()).collect();
    let o = run(args);
    assert_eq!(o.code, 2, "slate {args:?} was not refused:\n{}", o.stderr);
    for w in words {
        assert!(
            o.stderr.contains(w),
            "slate {args:?}: {w:?} missing from\n{}",
            o.stderr
        );
    }
    for (p, b) in keep.iter().zip(before) {
        assert_eq!(std::fs::read(p).unwrap(), b, "{} changed", p.display());
    }
}

#[test]
fn no_output_replaces_an_input_or_another_output() {
    let t = tempfile::tempdir().unwrap();
    let data = t.path().join("data");
    generate(&data, "2000", "0.01");
    let d = s(&data);
    // One file as the whole input, named as the output.
    let single = t.path().join("self/data.parquet");
    std::fs::create_dir_all(single.parent().unwrap()).unwrap();
    let first = first_part(&data);
    std::fs::copy(&first, &single).unwrap();
    refused(
        &["run", "--input", s(&single), "--out", s(&single)],
        &["the scorecard output", "is the input", "data.parquet"],
        &[&single],
    );
    // The same file by another spelling, and a file under an input directory.
    let dotted = t.path().join("self/../self/data.parquet");
    refused(
        &["run", "--input", s(&single), "--ledger", s(&dotted)],
        &["the ledger output"],
        &[&single],
    );
    refused(
        &[
            "run",
            "--input",
            d,
            "--out",
            "x.parquet",
            "--ledger",
            s(&first),
        ],
        &["the ledger output", "is the input", s(&data)],
        &[&first],
    );
    // A new file there too: the next run over the directory would read it as records.
    refused(
        &["run", "--input", d, "--out", s(&data.join("card.parquet"))],
        &["the scorecard output", "inside the input directory"],
        &[],
    );
    // Two outputs of one run.
    let same = t.path().join("same.parquet");
    refused(
        &["run", "-i", d, "--out", s(&same), "--ledger", s(&same)],
        &[
            "the scorecard output",
            "the ledger output",
            "are the same file",
        ],
        &[],
    );
    let rep = t.path().join("rep.parquet");
    refused(
        &["run", "-i", d, "--out", s(&rep), "--report", s(&rep)],
        &["the scorecard output", "the report output"],
        &[],
    );
    let dis = t.path().join("dis.csv");
    refused(
        &["run", "-i", d, "--out", s(&dis), "--disparity", s(&dis)],
        &["the disparity output"],
        &[],
    );
    for p in [&same, &rep, &dis] {
        assert!(!p.exists(), "{} was written by a refused run", p.display());
    }
    // `report` over the scorecard it would replace.
    let prev = t.path().join("prev.parquet");
    let o = run(&["run", "-i", d, "--out", s(&prev)]);
    assert_eq!(o.code, 0, "{}", o.stderr);
    refused(
        &["report", "--scorecard", s(&prev), "--out", s(&prev)],
        &["the report output", "is the scorecard"],
        &[&prev],
    );
    let ledger = t.path().join("prev.exclusions.parquet");
    refused(
        &[
            "report",
            "--scorecard",
            s(&prev),
            "--out",
            "r.html",
            "--disparity",
            s(&ledger),
        ],
        &["the disparity output", "is the ledger"],
        &[&ledger],
    );
    // capacity's tables and its roster.
    let cap = t.path().join("cap.csv");
    refused(
        &["capacity", "-i", d, "--out", s(&cap), "--staffing", s(&cap)],
        &["the demand profile output", "the staffing output"],
        &[],
    );
    let roster = t.path().join("r.csv");
    std::fs::write(&roster, "interval,agents\nMon 08:00,3\n").unwrap();
    refused(
        &[
            "capacity",
            "-i",
            d,
            "--roster",
            s(&roster),
            "--roster-out",
            s(&roster),
        ],
        &["the roster figures output", "is the roster"],
        &[&roster],
    );
    // import: the rejects over the export, and a dataset over itself with --force.
    let export = t.path().join("in.csv");
    std::fs::write(
        &export,
        "incident_id,call_received\n1,2024-01-01T00:00:00Z\n",
    )
    .unwrap();
    refused(
        &[
            "import",
            "--source",
            "canonical",
            "--input",
            s(&export),
            "--out",
            s(&t.path().join("imp2")),
            "--rejects",
            s(&export),
        ],
        &["the rejects output", "is the input"],
        &[&export],
    );
    // validate and run with a mapped source: the rejects over the export.
    for cmd in ["validate", "run"] {
        refused(
            &[
                cmd,
                "--source",
                "canonical",
                "--input",
                s(&export),
                "--rejects",
                s(&export),
            ],
            &["the rejects output", "is the input"],
            &[&export],
        );
    }
    let imp1 = t.path().join("imp1");
    let o = run(&[
        "import",
        "--source",
        "canonical",
        "--input",
        d,
        "--out",
        s(&imp1),
    ]);
    assert_eq!(o.code, 0, "{}", o.stderr);
    let part = first_part(&imp1);
    refused(
        &[
            "import",
            "--source",
            "canonical",
            "--input",
            s(&imp1),
            "--out",
            s(&imp1),
            "--force",
        ],
        &["the dataset directory", "holds the input"],
        &[&part],
    );
    // The stream's output directory over its replay input, or inside it.
    refused(
        &["stream", "--replay", d, "--out", d],
        &["the stream directory", "holds the replay input"],
        &[&first],
    );
    refused(
        &["stream", "--replay", d, "--out", s(&data.join("live"))],
        &["inside the replay input directory"],
        &[],
    );
    assert!(!data.join("live").exists());
    assert_eq!(leftovers(t.path()), Vec::<PathBuf>::new());
}

#[cfg(unix)]
#[test]
fn outputs_go_only_to_regular_files_or_new_paths_and_through_links() {
    let t = tempfile::tempdir().unwrap();
    let data = t.path().join("data");
    generate(&data, "1000", "0");
    let d = s(&data);
    let card = t.path().join("card.parquet");
    let o = run(&["run", "-i", d, "--out", s(&card)]);
    assert_eq!(o.code, 0, "{}", o.stderr);
    // A device: as root the rename that commits an output would replace the node itself.
    refused(
        &["report", "--scorecard", s(&card), "--out", "/dev/full"],
        &[
            "the report output /dev/full",
            "a character device",
            "regular files or new paths",
        ],
        &[],
    );
    use std::os::unix::fs::FileTypeExt;
    assert!(
        std::fs::metadata("/dev/full")
            .unwrap()
            .file_type()
            .is_char_device()
    );
    let fifo = t.path().join("pipe.csv");
    assert!(
        Command::new("mkfifo")
            .arg(&fifo)
            .status()
            .unwrap()
            .success()
    );
    refused(&["run", "-i", d, "--out", s(&fifo)], &["a fifo"], &[]);
    let dir = t.path().join("dir.parquet");
    std::fs::create_dir(&dir).unwrap();
    refused(&["run", "-i", d, "--out", s(&dir)], &["a directory"], &[]);
    // A link is written through, and stays a link.
    let target = t.path().join("kept/report.html");
    std::fs::create_dir_all(target.parent().unwrap()).unwrap();
    std::fs::write(&target, "old").unwrap();
    let link = t.path().join("latest.html");
    std::os::unix::fs::symlink(&target, &link).unwrap();
    let o = run(&["report", "--scorecard", s(&card), "--out", s(&link)]);
    assert_eq!(o.code, 0, "{}", o.stderr);
    assert!(link.symlink_metadata().unwrap().file_type().is_symlink());
    assert!(std::fs::read_to_string(&target).unwrap().contains("<html"));
    assert_eq!(leftovers(t.path()), Vec::<PathBuf>::new());
}

/// A run's outputs stand together or not at all: when the ledger cannot be written (here an
/// object store that refuses connections), the scorecard of the last run stays as it was, and
/// no temporary file is left.
#[test]
fn a_failed_output_leaves_the_earlier_outputs_as_they_were() {
    let t = tempfile::tempdir().unwrap();
    let data = t.path().join("data");
    generate(&data, "1000", "0");
    let card = t.path().join("card.parquet");
    let o = run(&["run", "-i", s(&data), "--window", "year", "--out", s(&card)]);
    assert_eq!(o.code, 0, "{}", o.stderr);
    let before = std::fs::read(&card).unwrap();
    let port = crate::cli::free_port();
    let o = slate()
        .args(["run", "-i", s(&data), "--out", s(&card)])
        .args(["--ledger", "s3://nobucket/ledger.parquet"])
        .env("AWS_ENDPOINT_URL", format!("http://127.0.0.1:{port}"))
        .env("AWS_ALLOW_HTTP", "true")
        .env("AWS_ACCESS_KEY_ID", "x")
        .env("AWS_SECRET_ACCESS_KEY", "x")
        .env("AWS_REGION", "us-east-1")
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(err.contains("s3://nobucket/ledger.parquet"), "{err}");
    assert_eq!(
        std::fs::read(&card).unwrap(),
        before,
        "the scorecard changed alone"
    );
    assert_eq!(leftovers(t.path()), Vec::<PathBuf>::new());
}

use std::process::Command;

/// Mapping and policy files a user names are read as capped regular files, as policies and
/// calendars are: a device is refused, never read until memory runs out.
#[test]
fn named_text_files_are_regular_files_only() {
    for args in [
        &["policy", "show", "/dev/zero"][..],
        &[
            "import",
            "--source",
            "/dev/zero",
            "--input",
            "x.csv",
            "--out",
            "never",
        ][..],
    ] {
        let o = run(args);
        assert_eq!(o.code, 2, "slate {args:?}:\n{}", o.stderr);
        assert!(
            o.stderr.contains("/dev/zero") && o.stderr.contains("not a regular file"),
            "slate {args:?}:\n{}",
            o.stderr
        );
    }
}
