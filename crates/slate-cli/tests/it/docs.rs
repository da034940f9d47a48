//! The documentation's commands, run as a new user would run them: every ```sh block of
//! README.md and docs/using-your-own-data.md, literally and in order, as one bash script per
//! block (`set -euo pipefail`), with `slate` on the PATH and the real samples of
//! `../shared/realdata` in the working directory under their published file names.
//!
//! Only commands that cannot run inside a test are left out, each by name: the test suite
//! itself and the benchmarks. `cargo run ... --` is the `slate` binary under test.
//! A block that fails names the document, the block's line and what it printed.

use std::path::Path;
use std::process::Command;

use crate::realdata::realdata;

/// Documents whose ```sh blocks are run, in this order, in one working directory.
const DOCS: [&str; 2] = ["README.md", "docs/using-your-own-data.md"];

/// Commands shown in the docs that a test must not run, with why.
const NOT_RUN: [(&str, &str); 2] = [
    ("bash scripts/test.sh", "the test suite itself"),
    (
        "scripts/bench",
        "benchmarks: minutes of release builds, never in CI",
    ),
];

/// The ```sh blocks of a Markdown file: (line of the opening fence, script).
fn sh_blocks(text: &str) -> Vec<(usize, String)> {
    let mut out = Vec::new();
    let mut open: Option<(usize, String)> = None;
    for (i, line) in text.lines().enumerate() {
        let fence = line.trim_start().starts_with("```");
        match (&mut open, fence) {
            (None, true) if line.trim() == "```sh" => open = Some((i + 1, String::new())),
            (Some(_), true) => out.extend(open.take()),
            (Some((_, script)), false) => {
                script.push_str(line);
                script.push('\n');
            }
            (None, _) => {}
        }
    }
    out
}

/// Blocks run by their own test rather than the walk-through, with why: what they start needs
/// a tool outside Rust, so that test is `#[ignore]`d where the tool may be missing.
const OWN_TEST: [(&str, &str); 1] = [(
    "slate stream --kafka",
    "the_kafka_example_runs_as_written: a mock broker from Python's confluent-kafka",
)];

/// The blocks of `doc` whose script contains `marker`.
fn blocks_with(doc: &str, marker: &str) -> Vec<(usize, String)> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let text = std::fs::read_to_string(root.join(doc)).unwrap();
    sh_blocks(&text)
        .into_iter()
        .filter(|(_, s)| s.contains(marker))
        .collect()
}

/// Runs `script` with `slate` (the binary under test) first on the PATH, in `dir`.
fn run_block(doc: &str, line: usize, script: &str, dir: &Path) -> String {
    let bin = tempfile::tempdir().unwrap();
    std::os::unix::fs::symlink(env!("CARGO_BIN_EXE_slate"), bin.path().join("slate")).unwrap();
    let path = format!(
        "{}:{}",
        bin.path().display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let out = Command::new("bash")
        .args(["-euo", "pipefail", "-c", script])
        .current_dir(dir)
        .env("PATH", &path)
        .env("NO_COLOR", "1")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{doc}, the ```sh block at line {line} failed ({}):\n{script}\n--- stdout\n{}\n--- stderr\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// The README's Kafka example, literally: it starts librdkafka's mock broker from Python's
/// confluent-kafka (CI installs it), publishes, and streams the topic with `--exit-at-end`.
#[cfg(feature = "kafka")]
#[test]
#[ignore = "needs Python's confluent-kafka (pip install confluent-kafka)"]
fn the_kafka_example_runs_as_written() {
    let blocks = blocks_with("README.md", OWN_TEST[0].0);
    assert_eq!(blocks.len(), 1, "the README has one Kafka example");
    let work = tempfile::tempdir().unwrap();
    let (line, script) = &blocks[0];
    let stderr = run_block("README.md", *line, &runnable(script), work.path());
    // What the README says the stream prints.
    assert!(stderr.contains("6 updates, "), "{stderr}");
    assert!(stderr.contains("; 1 unreadable lines"), "{stderr}");
    assert!(stderr.contains(":1: not JSON: "), "{stderr}");
    let card = work.path().join("kafka-live/latest.parquet");
    let rows: usize = slate_io::parquet::read_file(&card)
        .unwrap()
        .iter()
        .map(|b| b.num_rows())
        .sum();
    assert!(rows > 0, "{} is empty", card.display());
}

/// The script as run: `cargo run ... -- ARGS` is `slate ARGS`; [`NOT_RUN`] lines become no-ops.
fn runnable(script: &str) -> String {
    script
        .lines()
        .map(|line| {
            let t = line.trim_start();
            if NOT_RUN.iter().any(|(cmd, _)| t.starts_with(cmd)) {
                format!(": not run here: {t}")
            } else if let Some(args) = t
                .strip_prefix("cargo run ")
                .and_then(|r| r.split_once(" -- "))
                .map(|(_, args)| args)
            {
                // `cargo run [cargo's flags] -- ARGS` is the binary under test given ARGS.
                format!("slate {args}")
            } else {
                line.to_string()
            }
        })
        .collect::<Vec<_>>()
        .join("\n")
}

fn copy_samples(to: &Path) {
    for dir in std::fs::read_dir(realdata()).unwrap() {
        let dir = dir.unwrap().path();
        if !dir.is_dir() {
            continue;
        }
        for f in std::fs::read_dir(&dir).unwrap() {
            let f = f.unwrap().path();
            let name = f.file_name().unwrap().to_string_lossy().into_owned();
            if name.ends_with(".csv") && !name.starts_with("sanity") {
                std::fs::copy(&f, to.join(&name)).unwrap();
            }
        }
    }
}

#[test]
fn every_documented_command_runs_as_written() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let work = tempfile::tempdir().unwrap();
    copy_samples(work.path());
    let mut ran = 0;
    let mut names: Vec<String> = Vec::new();
    for doc in DOCS {
        let text = std::fs::read_to_string(root.join(doc)).unwrap();
        let blocks = sh_blocks(&text);
        assert!(!blocks.is_empty(), "{doc} has no ```sh block");
        for (line, script) in blocks {
            if OWN_TEST.iter().any(|(marker, _)| script.contains(marker)) {
                continue;
            }
            let script = runnable(&script);
            run_block(doc, line, &script, work.path());
            for l in script.lines() {
                if let Some(rest) = l.trim_start().strip_prefix("slate ") {
                    names.push(rest.split_whitespace().next().unwrap_or("").to_string());
                }
            }
            ran += 1;
        }
    }
    // The walk-through really went through: every command family the docs teach was run, and
    // the files they promise are there.
    for cmd in [
        "demo", "gen", "validate", "run", "policy", "stream", "import",
    ] {
        assert!(
            names.iter().any(|n| n == cmd),
            "no documented `slate {cmd}` ran"
        );
    }
    for mapping in ["lfb", "sffd", "seattle-spd"] {
        let imported = work.path().join("data").join(mapping);
        assert!(
            imported.join("_rejects.csv").is_file(),
            "the docs' import of {mapping} left no {}/_rejects.csv",
            imported.display()
        );
    }
    for f in [
        "card.parquet",
        "card.exclusions.parquet",
        "live/latest.parquet",
    ] {
        assert!(work.path().join(f).is_file(), "{f} was not written");
    }
    assert!(ran >= 5, "only {ran} blocks ran");
}

#[test]
fn sh_blocks_are_found_and_rewritten() {
    let md = "text\n```sh\ncargo run --locked -p slate-cli --all-features -- demo  # note\nbash scripts/test.sh\n```\n```text\nslate nope\n```\n";
    let blocks = sh_blocks(md);
    assert_eq!(blocks.len(), 1);
    assert_eq!(blocks[0].0, 2);
    let s = runnable(&blocks[0].1);
    assert_eq!(
        s,
        "slate demo  # note\n: not run here: bash scripts/test.sh"
    );
}
