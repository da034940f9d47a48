//! Every output says what made it: `slate run`'s tables carry their provenance in Parquet
//! key-value metadata, Arrow IPC schema metadata and a CSV sidecar; pyarrow (and DuckDB, where
//! installed) read it as any BI developer would, and `slate info` prints it.

use std::path::Path;
use std::process::Command;

use crate::cli::slate;

fn ok(args: &[&str]) -> String {
    let o = slate().args(args).output().unwrap();
    assert!(
        o.status.success(),
        "slate {args:?}\n{}",
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8(o.stdout).unwrap()
}

/// Runs a Python script with `args`; pyarrow must be there (CI installs it with the ADBC
/// driver), DuckDB is used when it is.
fn python(script: &str, args: &[&Path]) -> String {
    let o = Command::new("python3")
        .arg("-c")
        .arg(script)
        .args(args)
        .output()
        .expect("python3 runs");
    assert!(
        o.status.success(),
        "python failed (pyarrow is needed: pip install pyarrow):\n{}",
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8(o.stdout).unwrap()
}

/// Checks, independently of slate, what the outputs say against the inputs themselves: file
/// sizes and modification times from `os.stat`, rows from each file's own footer, the policy
/// hash from `hashlib`, and that the metadata is in every table.
const CHECK: &str = r#"
import hashlib, json, os, sys, datetime
import pyarrow.parquet as pq, pyarrow.ipc as ipc
data, card, ledger, arrow, csv = sys.argv[1:6]
def check(p, role):
    assert p["output"] == role, (p["output"], role)
    assert p["slate_version"], p
    assert p["zone"] == "America/New_York" and p["window"] == "quarter", p
    assert p["group_by"] == ["borough"] and p["percentile_method"] == "nearest-rank", p
    assert p["settings"]["from"] == "2023-02-01", p
    assert p["command"].startswith("slate run --input"), p["command"]
    pol = p["policy"]
    assert pol["spec"] == "builtin:mps-promise-2008" and pol["name"] == "mps-promise-2008", pol
    assert pol["sha256"] == hashlib.sha256(pol["text"].encode()).hexdigest(), pol
    files = sorted(os.path.join(r, f) for r, _, fs in os.walk(data) for f in fs
                   if f.endswith(".parquet"))
    assert [i["path"] for i in p["inputs"]] == files, (p["inputs"], files)
    for i in p["inputs"]:
        st = os.stat(i["path"])
        assert i["bytes"] == st.st_size, i
        mtime = datetime.datetime.fromtimestamp(int(st.st_mtime), datetime.timezone.utc)
        assert i["modified"] == mtime.strftime("%Y-%m-%dT%H:%M:%SZ"), (i, mtime)
        assert i["rows"] == pq.read_metadata(i["path"]).num_rows, i
    assert p["rows_read"] == sum(i["rows"] for i in p["inputs"]), p
    return p
key = b"slate.provenance"
a = check(json.loads(pq.read_metadata(card).metadata[key]), "scorecard")
b = check(json.loads(pq.read_metadata(ledger).metadata[key]), "ledger")
assert a["written_at"] and {k: v for k, v in a.items() if k not in ("output", "written_at")} \
    == {k: v for k, v in b.items() if k not in ("output", "written_at")}
# pyarrow's dataset reader sees it too, as schema metadata.
assert key in pq.read_table(card).schema.metadata
check(json.loads(ipc.open_file(arrow).schema.metadata[key]), "scorecard")
check(json.load(open(csv + ".provenance.json")), "disparity")
try:
    import duckdb
except ImportError:
    print("no duckdb")
else:
    rows = duckdb.sql(f"select key, value from parquet_kv_metadata('{card}')").fetchall()
    got = [json.loads(v) for k, v in rows if k == key]
    assert len(got) == 1 and got[0]["output"] == "scorecard", rows
    print("duckdb ok")
print("ok", a["rows_read"])
"#;

#[test]
fn every_table_says_what_made_it_and_slate_info_prints_it() {
    let d = tempfile::tempdir().unwrap();
    let data = d.path().join("data");
    crate::cli::generate(&data, "6000", "0.02");
    let card = d.path().join("card.parquet");
    let ledger = d.path().join("card.exclusions.parquet");
    let arrow = d.path().join("card.arrow");
    let disparity = d.path().join("disparity.csv");
    let run = |out: &Path, disparity: Option<&Path>| {
        let mut args = vec![
            "run",
            "--input",
            data.to_str().unwrap(),
            "--window",
            "quarter",
            "--by",
            "borough",
            "--tz",
            "America/New_York",
            "--percentile-method",
            "nearest-rank",
            "--from",
            "2023-02-01",
            "--out",
            out.to_str().unwrap(),
        ];
        if let Some(p) = disparity {
            args.extend(["--disparity", p.to_str().unwrap()]);
        }
        ok(&args);
    };
    run(&card, Some(&disparity));
    run(&arrow, None);
    let said = python(CHECK, &[&data, &card, &ledger, &arrow, &disparity]);
    assert!(said.lines().any(|l| l.starts_with("ok ")), "{said}");

    // `slate info`: the same record, for people and as JSON, from each format.
    let info = ok(&["info", card.to_str().unwrap()]);
    for want in [
        "output             scorecard",
        "policy             builtin:mps-promise-2008",
        "zone               America/New_York",
        "window             quarter",
        "group by           borough",
        "percentile method  nearest-rank",
        "from               2023-02-01",
        "[[measure]]",
    ] {
        assert!(info.contains(want), "{want:?} missing:\n{info}");
    }
    let json = ok(&["info", "--json", disparity.to_str().unwrap()]);
    let side = std::fs::read_to_string(d.path().join("disparity.csv.provenance.json")).unwrap();
    assert_eq!(json.trim(), side.trim());
    assert!(ok(&["info", arrow.to_str().unwrap()]).contains("scorecard"));

    // A file slate did not write: a clear error, exit 2.
    let foreign = d.path().join("foreign.parquet");
    python(
        "import sys, pyarrow as pa, pyarrow.parquet as pq; \
         pq.write_table(pa.table({'a': [1]}), sys.argv[1])",
        &[&foreign],
    );
    let o = slate().args(["info"]).arg(&foreign).output().unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(
        err.contains("no slate.provenance key-value metadata")
            && err.contains("not written by slate"),
        "{err}"
    );
    let csv = d.path().join("plain.csv");
    std::fs::write(&csv, "a\n1\n").unwrap();
    let o = slate().args(["info"]).arg(&csv).output().unwrap();
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("no sidecar plain.csv.provenance.json"),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
}

#[test]
fn a_csv_sidecar_never_replaces_an_input_or_another_output() {
    let d = tempfile::tempdir().unwrap();
    let data = d.path().join("data");
    crate::cli::generate(&data, "500", "0");
    let policy = d.path().join("card.csv.provenance.json");
    let text = ok(&["policy", "show", "mps-promise-2008"]);
    std::fs::write(&policy, &text).unwrap();
    let out = d.path().join("card.csv");
    let o = slate()
        .args(["run", "--input"])
        .arg(&data)
        .arg("--policy")
        .arg(&policy)
        .arg("--out")
        .arg(&out)
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(
        err.contains("scorecard provenance output") && err.contains("refusing"),
        "{err}"
    );
    assert!(!out.exists());
    assert_eq!(std::fs::read_to_string(&policy).unwrap(), text);
}
