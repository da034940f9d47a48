//! What is data in a directory, and mapped sources scanned directly: the rules of
//! `slate_io::input` and `slate_engine::Input`, as a user meets them.

use std::path::Path;
use std::sync::Arc;

use datafusion::arrow::array::RecordBatch;
use datafusion::arrow::compute::concat_batches;
use slate_io::parquet::read_file;

use crate::cli::slate;
use crate::realdata::realdata;

fn ok(args: &[&str]) -> String {
    let o = slate().args(args).output().unwrap();
    let stderr = String::from_utf8_lossy(&o.stderr).into_owned();
    assert!(
        o.status.success(),
        "slate {} failed:\n{stderr}",
        args.join(" ")
    );
    stderr
}

fn batch(path: &Path) -> RecordBatch {
    let (schema, _) = slate_io::parquet::read_schema(path).unwrap();
    concat_batches(&schema, &read_file(path).unwrap()).unwrap()
}

fn lfb_csv() -> String {
    realdata()
        .join("lfb-incidents-2023-sample/lfb_incidents_2023_sample10k.csv")
        .to_string_lossy()
        .into_owned()
}

/// The report, literally: import, then run on the import's directory. The rejects file
/// and any stray file in the dataset are not data, and the scorecard equals the one read
/// straight from the CSV with `--source` (the engine's scan of the mapped source).
#[test]
fn an_imported_directory_is_a_dataset_and_equals_the_direct_scan() {
    let t = tempfile::tempdir().unwrap();
    let data = t.path().join("lfb");
    let d = data.to_str().unwrap();
    ok(&[
        "import",
        "--source",
        "lfb",
        "--input",
        &lfb_csv(),
        "--out",
        d,
    ]);
    assert!(data.join("_rejects.csv").is_file());
    // The parts and the rejects say what made them; the rejects' sidecar is not data either.
    let part = slate_io::expand_inputs(&[d.to_string()]).unwrap()[0].clone();
    for (f, role) in [
        (part, "dataset part"),
        (data.join("_rejects.csv"), "rejects"),
    ] {
        let o = slate().arg("info").arg(&f).output().unwrap();
        let info = String::from_utf8_lossy(&o.stdout);
        for want in [
            format!("output             {role}"),
            "source mapping     lfb".into(),
            "zone               Europe/London".into(),
            format!("  {}", lfb_csv()),
        ] {
            assert!(info.contains(&want), "{want:?} missing:\n{info}");
        }
        assert_eq!(info.contains("rows read          10000"), role == "rejects");
    }
    // What other tools and people leave in datasets.
    std::fs::write(data.join("notes.csv"), "who,what\nme,a note\n").unwrap();
    std::fs::write(data.join("README.md"), "# LFB sample\n").unwrap();
    std::fs::write(data.join("_SUCCESS"), "").unwrap();
    std::fs::write(data.join("year=2023/.part-0.parquet.crc"), "crc").unwrap();

    let via_import = t.path().join("a.parquet");
    let via_scan = t.path().join("b.parquet");
    let policy = t.path().join("p.toml");
    std::fs::write(
        &policy,
        "[[measure]]\nid = \"arrive_6m\"\nstart = \"call_received\"\nstop = \"arrived\"\nthreshold = \"6m\"\n",
    )
    .unwrap();
    let common = [
        "--window",
        "month",
        "--by",
        "borough,grade",
        "--policy",
        policy.to_str().unwrap(),
    ];
    let mut a = vec!["run", "--input", d, "--out", via_import.to_str().unwrap()];
    a.extend(common);
    let stderr = ok(&a);
    assert!(stderr.contains("read 10000 rows"), "{stderr}");
    let csv = lfb_csv();
    let mut b = vec!["run", "--source", "lfb", "--input", &csv];
    b.extend(["--out", via_scan.to_str().unwrap()]);
    b.extend(common);
    let stderr = ok(&b);
    assert!(
        stderr.contains("10000 input rows = 10000 imported + 0 rejected"),
        "{stderr}"
    );
    assert!(batch(&via_import).num_rows() > 0);
    assert_eq!(batch(&via_import), batch(&via_scan));
    let ledger = |p: &Path| batch(&slate_io::output::sibling_path(p, "exclusions"));
    assert_eq!(ledger(&via_import), ledger(&via_scan));
}

#[test]
fn a_directory_of_csv_needs_source_and_says_so() {
    let t = tempfile::tempdir().unwrap();
    let input = t.path().join("in");
    std::fs::create_dir(&input).unwrap();
    std::fs::copy(lfb_csv(), input.join("lfb.csv")).unwrap();
    let o = slate()
        .args(["run", "--input", input.to_str().unwrap()])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("no .parquet files") && stderr.contains("--source"),
        "{stderr}"
    );
    // With --source the directory is walked for CSV too; rejects go where asked (outside it:
    // inside, the next read of the directory would take them as an export).
    let rejects = t.path().join("out/rejects.csv");
    let stderr = ok(&[
        "run",
        "--source",
        "lfb",
        "--input",
        input.to_str().unwrap(),
        "--rejects",
        rejects.to_str().unwrap(),
        "--window",
        "year",
        "--by",
        "",
    ]);
    assert!(stderr.contains("source lfb: 10000 input rows"), "{stderr}");
    assert!(rejects.is_file());
}

/// A file without a column the run reads is named in the summary, with the column: its
/// records read it as null, which a reader of the scorecard alone could not tell.
#[test]
fn a_file_lacking_a_column_is_named_in_the_summary() {
    let t = tempfile::tempdir().unwrap();
    let data = t.path().join("data");
    crate::cli::generate(&data, "3000", "0");
    let files = slate_io::expand_inputs(&[data.to_string_lossy().into_owned()]).unwrap();
    let victim = &files[2];
    let b = batch(victim);
    let keep: Vec<usize> = (0..b.num_columns())
        .filter(|&i| b.schema().field(i).name() != "grade")
        .collect();
    let without = b.project(&keep).unwrap();
    slate_io::write_batches(victim, Arc::clone(&without.schema()), &[without]).unwrap();
    let stderr = ok(&["run", "--input", data.to_str().unwrap(), "--window", "year"]);
    let expected = format!("{} has no column grade", victim.display());
    assert!(stderr.contains(&expected), "{stderr}");
    assert_eq!(stderr.matches("has no column").count(), 1, "{stderr}");
}

/// A generated dataset of 3,000 rows in `t`: its directory and its files (at least two).
fn generated_files(t: &tempfile::TempDir) -> (std::path::PathBuf, Vec<std::path::PathBuf>) {
    let data = t.path().join("data");
    crate::cli::generate(&data, "3000", "0");
    let files = slate_io::expand_inputs(&[data.to_string_lossy().into_owned()]).unwrap();
    assert!(files.len() >= 2, "{files:?}");
    (data, files)
}

/// What a test's `station` column holds.
enum Station {
    /// `S0`..`S3`, null on every third row.
    Text,
    /// 0..3, null on every third row.
    Numbers,
    /// Text, null on every row.
    Null,
}

/// Rewrites a file with a column `station` added after the others.
fn with_station(file: &Path, station: Station) {
    use datafusion::arrow::array::{ArrayRef, Int64Array, StringArray};
    use datafusion::arrow::datatypes::{Field, Schema};
    let b = batch(file);
    let n = b.num_rows();
    let col: ArrayRef = match station {
        Station::Numbers => Arc::new(Int64Array::from_iter(
            (0..n).map(|i| (i % 3 != 0).then_some((i % 4) as i64)),
        )),
        Station::Text => Arc::new(StringArray::from_iter(
            (0..n).map(|i| (i % 3 != 0).then(|| format!("S{}", i % 4))),
        )),
        Station::Null => Arc::new(StringArray::from(vec![None::<&str>; n])),
    };
    let mut fields: Vec<Field> = b
        .schema()
        .fields()
        .iter()
        .map(|f| f.as_ref().clone())
        .collect();
    fields.push(Field::new("station", col.data_type().clone(), true));
    let mut cols = b.columns().to_vec();
    cols.push(col);
    let b = RecordBatch::try_new(Arc::new(Schema::new(fields)), cols).unwrap();
    slate_io::write_batches(file, b.schema(), &[b]).unwrap();
}

/// A column only later files of a dataset have can be grouped by: the first file reads it as
/// null and is named in the summary. The scorecard equals the one over the same dataset
/// where the first file has the column, all null (DataFusion alone infers the first file's
/// schema, and this run failed with "no column station").
#[test]
fn a_column_only_later_files_have_is_read_under_the_merged_schema() {
    let t = tempfile::tempdir().unwrap();
    let (data, files) = generated_files(&t);
    for f in &files[1..] {
        with_station(f, Station::Text);
    }
    let run = |out: &Path| {
        ok(&[
            "run",
            "--input",
            data.to_str().unwrap(),
            "--window",
            "year",
            "--by",
            "station",
            "--out",
            out.to_str().unwrap(),
        ])
    };
    let merged = t.path().join("merged.parquet");
    let stderr = run(&merged);
    let expected = format!("{} has no column station", files[0].display());
    assert!(stderr.contains(&expected), "{stderr}");

    // The same dataset, the first file given the column explicitly (all null).
    with_station(&files[0], Station::Null);
    let explicit = t.path().join("explicit.parquet");
    let stderr = run(&explicit);
    assert!(!stderr.contains("has no column"), "{stderr}");
    let card = batch(&merged);
    assert!(
        card.num_rows() > 4,
        "a row per station and the null station"
    );
    assert_eq!(card, batch(&explicit));
}

/// Files that disagree on a column's type are an error naming the column, both files and both
/// types, not a guess: text in one file and numbers in another.
#[test]
fn files_disagreeing_on_a_column_type_are_named() {
    let t = tempfile::tempdir().unwrap();
    let (data, files) = generated_files(&t);
    with_station(&files[0], Station::Text);
    with_station(&files[1], Station::Numbers);
    let o = slate()
        .args(["run", "--input", data.to_str().unwrap(), "--window", "year"])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert!(!o.status.success(), "{stderr}");
    for needle in [
        "column `station`".to_string(),
        format!("Utf8 in {}", files[0].display()),
        format!("Int64 in {}", files[1].display()),
    ] {
        assert!(stderr.contains(&needle), "{needle:?} not in {stderr}");
    }
}
