//! `--input s3://bucket/prefix/` and `--out s3://bucket/key` against a real S3 API: moto's
//! server on a free loopback port. The tests are `#[ignore]`d, so without moto they show as
//! skipped; scripts/ci.sh installs it (`pip install 'moto[server]'`) and runs them. The data is
//! uploaded
//! and the outputs downloaded with boto3 (which moto brings), and every scorecard and ledger row
//! of a run on the objects must equal the run on the same files on disk.

use std::net::TcpStream;
use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use crate::cli::slate;

/// A moto S3 server, stopped when the test ends however it ends.
pub(crate) struct Moto {
    child: Child,
    /// `http://127.0.0.1:PORT`.
    pub(crate) endpoint: String,
}

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Moto {
    /// The environment every slate process of a test reads the server with.
    pub(crate) fn env(&self) -> Vec<(&'static str, String)> {
        aws_env(&self.endpoint)
    }
}

/// The AWS variables for an endpoint (moto takes any credentials).
fn aws_env(endpoint: &str) -> Vec<(&'static str, String)> {
    vec![
        ("AWS_ENDPOINT_URL", endpoint.to_string()),
        ("AWS_ALLOW_HTTP", "true".into()),
        ("AWS_REGION", "us-east-1".into()),
        ("AWS_ACCESS_KEY_ID", "slate-test".into()),
        ("AWS_SECRET_ACCESS_KEY", "slate-test".into()),
    ]
}

/// `slate` with the AWS environment of `env` only (none inherited from the caller's).
fn slate_with(env: &[(&'static str, String)]) -> Command {
    let mut c = slate();
    for (k, _) in std::env::vars_os() {
        if k.to_string_lossy().starts_with("AWS_") {
            c.env_remove(k);
        }
    }
    c.envs(env.iter().map(|(k, v)| (k, v)));
    c
}

/// Starts moto's server on a free loopback port (a test that calls this is ignored unless run
/// explicitly, as scripts/ci.sh does).
pub(crate) fn moto() -> Moto {
    let ok = Command::new("python3")
        .args(["-c", "import moto.server, boto3"])
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    assert!(
        ok,
        "this test needs moto's S3 server: python3 cannot import moto.server and boto3 \
         (pip install 'moto[server]')"
    );
    let port = crate::cli::free_port();
    let child = Command::new("python3")
        .args([
            "-m",
            "moto.server",
            "-H",
            "127.0.0.1",
            "-p",
            &port.to_string(),
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let moto = Moto {
        child,
        endpoint: format!("http://127.0.0.1:{port}"),
    };
    let t0 = Instant::now();
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            t0.elapsed() < Duration::from_secs(60),
            "moto's server did not listen on port {port} within 60 s"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    moto
}

/// The start of every boto3 script: `s3`, a client of the moto server at `sys.argv[1]`.
const BOTO3: &str = r#"
import boto3, os, sys
s3 = boto3.client('s3', endpoint_url=sys.argv[1], region_name='us-east-1',
                  aws_access_key_id='slate-test', aws_secret_access_key='slate-test')
"#;

/// Runs `python3 -c BOTO3+script ENDPOINT args...`; panics with its stderr, saying `what`.
fn boto3(moto: &Moto, script: &str, args: &[&std::ffi::OsStr], what: &str) {
    let o = Command::new("python3")
        .args(["-c", &format!("{BOTO3}{script}"), &moto.endpoint])
        .args(args)
        .output()
        .unwrap();
    assert!(
        o.status.success(),
        "{what}: {}",
        String::from_utf8_lossy(&o.stderr)
    );
}

/// Creates `bucket` and uploads every file under `dir` to `s3://bucket/prefix/...`, keeping
/// the relative paths (hive folders, and whatever else is there).
pub(crate) fn upload(moto: &Moto, dir: &Path, bucket: &str, prefix: &str) {
    const UPLOAD: &str = r#"
root, bucket, prefix = sys.argv[2:5]
s3.create_bucket(Bucket=bucket)
for d, _, files in os.walk(root):
    for f in files:
        p = os.path.join(d, f)
        s3.upload_file(p, bucket, prefix + os.path.relpath(p, root).replace(os.sep, '/'))
"#;
    boto3(
        moto,
        UPLOAD,
        &[dir.as_os_str(), bucket.as_ref(), prefix.as_ref()],
        "upload",
    );
}

/// Downloads `s3://bucket/key` into `file`.
fn download(moto: &Moto, bucket: &str, key: &str, file: &Path) {
    const DOWNLOAD: &str = "s3.download_file(*sys.argv[2:5])\n";
    boto3(
        moto,
        DOWNLOAD,
        &[bucket.as_ref(), key.as_ref(), file.as_os_str()],
        &format!("download s3://{bucket}/{key}"),
    );
}

fn ok(o: &Output, what: &str) {
    assert!(
        o.status.success(),
        "{what}: {}",
        String::from_utf8_lossy(&o.stderr)
    );
}

/// The accounting lines of a run's summary (every line but the timing).
fn accounts(o: &Output) -> Vec<String> {
    String::from_utf8_lossy(&o.stderr)
        .lines()
        .filter(|l| l.starts_with("  "))
        .map(str::to_string)
        .collect()
}

/// Runs the question `args` on the files in `disk` and on the objects at `url` (with `extra`
/// arguments, e.g. `--cluster`), writing CSV; asserts the scorecard, the ledger and the
/// accounting are identical row by row.
pub(crate) fn same_on_disk_and_s3(
    env: &[(&'static str, String)],
    out: &Path,
    name: &str,
    disk: &Path,
    url: &str,
    args: &[&str],
    extra: &[&str],
) {
    let csv = |side: &str, file: &str| out.join(format!("{name}.{side}{file}.csv"));
    let local = slate_with(env)
        .args(["run", "-i", disk.to_str().unwrap()])
        .args(args)
        .args(["--out", csv("disk", "").to_str().unwrap()])
        .output()
        .unwrap();
    ok(&local, &format!("{name} on disk"));
    let remote = slate_with(env)
        .args(["run", "-i", url])
        .args(args)
        .args(extra)
        .args(["--out", csv("s3", "").to_str().unwrap()])
        .output()
        .unwrap();
    ok(&remote, &format!("{name} on {url} {extra:?}"));
    for file in ["", ".exclusions"] {
        let read = |side: &str| {
            let p = csv(side, file);
            std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
        };
        let (a, b) = (read("disk"), read("s3"));
        assert!(
            a.lines().count() > 1,
            "{name}{file}: an empty table proves nothing"
        );
        for (i, (x, y)) in a.lines().zip(b.lines()).enumerate() {
            assert_eq!(x, y, "{name}{file}: row {i} differs");
        }
        assert_eq!(a.lines().count(), b.lines().count(), "{name}{file}: rows");
    }
    assert_eq!(accounts(&local), accounts(&remote), "{name}: accounting");
}

/// A generated dataset (hive folders) with the files a walk must skip beside the data.
pub(crate) fn dataset(dir: &Path) {
    let o = slate()
        .args([
            "gen",
            "--rows",
            "30000",
            "--years",
            "2",
            "--from",
            "2022-01-01",
        ])
        .args(["--promises", "--dirty-rate", "0.01", "--out"])
        .arg(dir)
        .output()
        .unwrap();
    ok(&o, "gen");
    // Not data, by the walker's rule: on disk and on S3 alike they must be skipped (each
    // would fail the run if read as Parquet).
    for junk in [
        "_SUCCESS",
        "year=2022/.part-9.parquet.tmp",
        "_delta_log/0.json",
        "notes.csv",
    ] {
        let p = dir.join(junk);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, b"not parquet").unwrap();
    }
}

/// moto, a temporary directory, and [`dataset`] in its `data/`, uploaded to
/// `s3://cad/force/calls/`.
fn uploaded_dataset() -> (Moto, tempfile::TempDir, std::path::PathBuf) {
    let moto = moto();
    let t = tempfile::tempdir().unwrap();
    let data = t.path().join("data");
    dataset(&data);
    upload(&moto, &data, "cad", "force/calls/");
    (moto, t, data)
}

#[test]
#[ignore = "needs moto (pip install 'moto[server]'); scripts/ci.sh runs it"]
fn s3_inputs_equal_the_same_files_on_disk() {
    let (moto, t, data) = uploaded_dataset();
    let env = moto.env();
    let questions: [(&str, Vec<&str>); 2] = [
        ("monthly", vec![]),
        (
            "full-weekly-by-borough-ny",
            vec![
                "--policy",
                "builtin:mps-promise-2008-full",
                "--window",
                "week",
                "--by",
                "borough",
                "--tz",
                "America/New_York",
            ],
        ),
    ];
    for (name, args) in &questions {
        same_on_disk_and_s3(
            &env,
            t.path(),
            name,
            &data,
            "s3://cad/force/calls/",
            args,
            &[],
        );
    }
    // The outputs' provenance lists each object with its ETag, and the size and rows of the
    // same file on disk.
    let remote = slate_io::provenance::read(&t.path().join("monthly.s3.csv")).unwrap();
    let local = slate_io::provenance::read(&t.path().join("monthly.disk.csv")).unwrap();
    assert_eq!(remote.inputs.len(), local.inputs.len());
    assert!(!local.inputs.is_empty());
    for (o, l) in remote.inputs.iter().zip(&local.inputs) {
        let rel = l.path.strip_prefix(data.to_str().unwrap()).unwrap();
        assert!(
            o.path.starts_with("s3://cad/force/calls") && o.path.ends_with(rel),
            "{o:?} {l:?}"
        );
        assert!(o.etag.as_ref().is_some_and(|e| !e.is_empty()), "{o:?}");
        assert_eq!((o.bytes, o.rows), (l.bytes, l.rows), "{o:?} {l:?}");
    }
    assert_eq!(remote.rows_read, local.rows_read);
    // A prefix without the trailing slash, and one object named alone, read as on disk.
    let one = first_parquet(&data);
    let rel = one
        .strip_prefix(&data)
        .unwrap()
        .to_str()
        .unwrap()
        .to_string();
    same_on_disk_and_s3(
        &env,
        t.path(),
        "one-object",
        &one,
        &format!("s3://cad/force/calls/{rel}"),
        &[],
        &[],
    );
    same_on_disk_and_s3(
        &env,
        t.path(),
        "no-slash",
        &data,
        "s3://cad/force/calls",
        &[],
        &[],
    );
}

#[test]
#[ignore = "needs moto (pip install 'moto[server]'); scripts/ci.sh runs it"]
fn s3_outputs_hold_what_a_local_run_writes() {
    let (moto, t, _) = uploaded_dataset();
    let env = moto.env();
    let run = |out: &str, extra: &[&str]| {
        slate_with(&env)
            .args(["run", "-i", "s3://cad/force/calls/", "--out", out])
            .args(extra)
            .output()
            .unwrap()
    };
    let local = t.path().join("card.csv");
    ok(&run(local.to_str().unwrap(), &[]), "local outputs");
    // The scorecard, its ledger beside it, the disparity table and the HTML report, as objects.
    let o = run(
        "s3://cad/cards/card.csv",
        &[
            "--disparity",
            "s3://cad/cards/disparity.parquet",
            "--report",
            "s3://cad/cards/report.html",
        ],
    );
    ok(&o, "outputs on s3");
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("wrote s3://cad/cards/card.csv and s3://cad/cards/card.exclusions.csv"),
        "{err}"
    );
    for name in ["card.csv", "card.exclusions.csv"] {
        let got = t.path().join(format!("got-{name}"));
        download(&moto, "cad", &format!("cards/{name}"), &got);
        let want = std::fs::read_to_string(t.path().join(name)).unwrap();
        assert!(
            want.lines().count() > 1,
            "{name}: an empty table proves nothing"
        );
        assert_eq!(std::fs::read_to_string(&got).unwrap(), want, "{name}");
    }
    let html = t.path().join("report.html");
    download(&moto, "cad", "cards/report.html", &html);
    assert!(std::fs::read_to_string(&html).unwrap().contains("</html>"));
    let disparity = t.path().join("disparity.parquet");
    download(&moto, "cad", "cards/disparity.parquet", &disparity);
    let rows: usize = slate_io::parquet::read_file(&disparity)
        .unwrap()
        .iter()
        .map(|b| b.num_rows())
        .sum();
    assert!(rows > 0, "the disparity table has rows");
    // No key, no extension, or no such bucket: an error naming the URL, and no local file
    // named after it.
    for (out, says) in [
        ("s3://cad/cards/", "needs an object key"),
        ("s3://cad/cards/card", "unknown output format"),
        ("s3://no-such-bucket/card.csv", "NoSuchBucket"),
    ] {
        let o = run(out, &[]);
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(2), "{out}: {err}");
        assert!(err.contains(out) && err.contains(says), "{out}: {err}");
    }
    assert!(
        !Path::new("s3:").exists(),
        "an s3:// output made a local directory"
    );
}

/// The first Parquet file of a generated dataset, depth first.
fn first_parquet(dir: &Path) -> std::path::PathBuf {
    let mut entries: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| {
            !p.file_name()
                .unwrap()
                .to_str()
                .unwrap()
                .starts_with(['.', '_'])
        })
        .collect();
    entries.sort();
    for p in entries {
        if p.is_dir() {
            return first_parquet(&p);
        }
        if p.extension().is_some_and(|e| e == "parquet") {
            return p;
        }
    }
    panic!("no Parquet file in {}", dir.display());
}

/// Runs `slate run -i URL` with `env`; returns its standard error and how long it took.
fn failing_run(env: &[(&'static str, String)], url: &str) -> (String, Duration) {
    let t0 = Instant::now();
    let o = slate_with(env).args(["run", "-i", url]).output().unwrap();
    let took = t0.elapsed();
    assert_eq!(
        o.status.code(),
        Some(2),
        "{url}: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    (String::from_utf8_lossy(&o.stderr).into_owned(), took)
}

#[test]
#[ignore = "needs moto (pip install 'moto[server]'); scripts/ci.sh runs it"]
fn s3_errors_name_the_url_within_seconds() {
    let moto = moto();
    let t = tempfile::tempdir().unwrap();
    let data = t.path().join("data");
    crate::cli::generate(&data, "2000", "0");
    std::fs::write(
        data.join("zz-corrupt.parquet"),
        b"PAR1 this is not parquet PAR1",
    )
    .unwrap();
    upload(&moto, &data, "cad", "bad/");
    let env = moto.env();
    let limit = Duration::from_secs(20);
    for (url, says) in [
        // No such bucket.
        ("s3://no-such-bucket/calls/", "NoSuchBucket"),
        // A prefix with nothing under it.
        ("s3://cad/none/", "no .parquet files"),
        // A corrupt object among the data is named, as a corrupt file on disk is.
        ("s3://cad/bad/", "s3://cad/bad/zz-corrupt.parquet"),
    ] {
        let (err, took) = failing_run(&env, url);
        assert!(err.contains(url) && err.contains(says), "{url}: {err}");
        assert!(took < limit, "{url}: {took:?}");
    }
    // Nothing listens at the endpoint: refused at once, named, not retried for minutes.
    let dead = format!("http://127.0.0.1:{}", crate::cli::free_port());
    let (err, took) = failing_run(&aws_env(&dead), "s3://cad/bad/");
    assert!(err.contains("s3://cad/bad/"), "{err}");
    assert!(took < limit, "unreachable endpoint: {took:?}");
}
