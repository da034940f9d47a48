//! The HTML report and the disparity table end to end, and the report in a real browser
//! (headless Chromium): no console errors, no requests, the headline figures in the DOM equal
//! the Parquet scorecard; a screenshot and an A4 PDF are kept under `target/`.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use datafusion::arrow::array::{Array, AsArray, RecordBatch};
use datafusion::arrow::datatypes::{Date32Type, Float64Type, Int64Type};

use crate::cli::slate;

fn ok(args: &[&str]) -> Output {
    let o = slate().args(args).output().unwrap();
    assert!(
        o.status.success(),
        "slate {args:?}: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    o
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// Two years of records (2023-2024, 1% dirty) in `dir/data`.
fn generated(dir: &Path) -> PathBuf {
    let data = dir.join("data");
    ok(&[
        "gen",
        "--rows",
        "30000",
        "--years",
        "2",
        "--from",
        "2023-01-01",
        "--out",
        s(&data),
        "--dirty-rate",
        "0.01",
    ]);
    data
}

fn read(path: &Path) -> RecordBatch {
    let batches = slate_io::parquet::read_file(path).unwrap();
    let schema = batches[0].schema();
    datafusion::arrow::compute::concat_batches(&schema, &batches).unwrap()
}

#[test]
fn run_writes_the_report_and_the_disparity_table_and_report_reads_them_back() {
    let t = tempfile::tempdir().unwrap();
    let data = generated(t.path());
    let card = t.path().join("card.parquet");
    let (html, disp) = (
        t.path().join("run.html"),
        t.path().join("disparity.parquet"),
    );
    ok(&[
        "run",
        "--input",
        s(&data),
        "--out",
        s(&card),
        "--report",
        s(&html),
        "--disparity",
        s(&disp),
        "--overdispersion",
        "phi",
    ]);
    let page = std::fs::read_to_string(&html).unwrap();
    assert!(page.contains("<table id=\"headline-table\">"));
    assert!(
        page.contains("builtin:mps-promise-2008"),
        "provenance names the policy"
    );
    // Disparity: one row per group of each non-`all` level; Holm never lowers a p-value.
    let d = read(&disp);
    assert!(d.num_rows() > 0);
    let p = d.column_by_name("p").unwrap().as_primitive::<Float64Type>();
    let holm = d
        .column_by_name("holm_p")
        .unwrap()
        .as_primitive::<Float64Type>();
    for i in 0..d.num_rows() {
        if p.is_valid(i) {
            assert!(holm.value(i) >= p.value(i) && holm.value(i) <= 1.0);
        }
    }
    assert!(d.column_by_name("phi").unwrap().null_count() < d.num_rows());
    // `slate report` from the files finds the ledger beside the scorecard.
    let again = t.path().join("again.html");
    let o = ok(&["report", "--scorecard", s(&card), "--out", s(&again)]);
    assert!(String::from_utf8_lossy(&o.stderr).contains("wrote"));
    let page2 = std::fs::read_to_string(&again).unwrap();
    assert!(page2.contains("card.exclusions.parquet"));
    // The same headline as the run's report (only provenance differs).
    let headline = |p: &str| {
        let a = p.find("<section id=\"headline\">").unwrap();
        p[a..a + p[a..].find("</section>").unwrap()].to_string()
    };
    assert_eq!(headline(&page), headline(&page2));
}

#[test]
fn bad_input_gives_a_clear_error_or_an_honest_page() {
    let t = tempfile::tempdir().unwrap();
    let data = generated(t.path());
    let card = t.path().join("card.parquet");
    ok(&["run", "--input", s(&data), "--out", s(&card)]);
    let out = t.path().join("r.html");
    let fail = |args: &[&str]| {
        let o = slate().args(args).output().unwrap();
        assert_eq!(o.status.code(), Some(2), "{args:?}");
        String::from_utf8_lossy(&o.stderr).into_owned()
    };
    // A records file is not a scorecard.
    let records = slate_io::expand_inputs(&[s(&data).to_string()]).unwrap();
    let err = fail(&["report", "--scorecard", s(&records[0]), "--out", s(&out)]);
    assert!(
        err.contains("not a slate scorecard: missing column"),
        "{err}"
    );
    // The ledger of another run (another period).
    let other = t.path().join("other.parquet");
    ok(&[
        "run",
        "--input",
        s(&data),
        "--from",
        "2023-06-01",
        "--out",
        s(&other),
    ]);
    let other_ledger = t.path().join("other.exclusions.parquet");
    let err = fail(&[
        "report",
        "--scorecard",
        s(&card),
        "--ledger",
        s(&other_ledger),
        "--out",
        s(&out),
    ]);
    assert!(err.contains("is it from another run?"), "{err}");
    assert!(!out.exists());
    // An empty scorecard: a page that says so.
    let empty = t.path().join("empty.parquet");
    ok(&[
        "run",
        "--input",
        s(&data),
        "--from",
        "2030-01-01",
        "--to",
        "2030-02-01",
        "--out",
        s(&empty),
    ]);
    ok(&["report", "--scorecard", s(&empty), "--out", s(&out)]);
    assert!(
        std::fs::read_to_string(&out)
            .unwrap()
            .contains("<h2>No data</h2>")
    );
}

/// Chromium, when installed.
pub(crate) fn installed_chromium() -> Option<PathBuf> {
    ["/usr/bin/chromium", "/usr/bin/chromium-browser"]
        .into_iter()
        .map(PathBuf::from)
        .find(|p| p.exists())
}

/// Chromium (a test that calls this is ignored unless run explicitly, as scripts/ci.sh does).
pub(crate) fn chromium() -> PathBuf {
    installed_chromium().expect("this test needs chromium (apt-get install chromium)")
}

/// Runs headless Chromium on a file with `extra` flags; returns (stdout, stderr).
pub(crate) fn headless(
    chrome: &Path,
    profile: &Path,
    page: &Path,
    extra: &[String],
) -> (String, String) {
    let mut cmd = Command::new(chrome);
    cmd.args([
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--disable-dev-shm-usage",
        "--enable-logging=stderr",
        "--v=0",
    ])
    .arg(format!("--user-data-dir={}", profile.display()))
    .args(extra)
    .arg(format!("file://{}", page.display()));
    // Output goes to files, not pipes: a page's DOM is larger than a pipe's buffer, and
    // Chromium blocks writing it while this loop waits for it to exit.
    let out_path = profile.with_extension("stdout");
    let err_path = profile.with_extension("stderr");
    cmd.stdout(std::fs::File::create(&out_path).unwrap())
        .stderr(std::fs::File::create(&err_path).unwrap());
    let mut child = cmd.spawn().unwrap();
    let t0 = Instant::now();
    while child.try_wait().unwrap().is_none() {
        if t0.elapsed() > Duration::from_secs(180) {
            child.kill().unwrap();
            panic!("chromium took more than 180 s");
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let read = |p: &Path| String::from_utf8_lossy(&std::fs::read(p).unwrap()).into_owned();
    (read(&out_path), read(&err_path))
}

/// The value of attribute `name` in the first tag at or after `from`.
pub(crate) fn attr<'a>(dom: &'a str, from: usize, name: &str) -> &'a str {
    let key = format!("{name}=\"");
    let a = from + dom[from..].find(&key).unwrap() + key.len();
    &dom[a..a + dom[a..].find('"').unwrap()]
}

#[test]
#[ignore = "needs chromium (apt-get install chromium); scripts/ci.sh runs it"]
fn the_report_in_headless_chromium_shows_the_scorecard_figures() {
    let chrome = chromium();
    let t = tempfile::tempdir().unwrap();
    let data = generated(t.path());
    let card = t.path().join("card.parquet");
    let page = t.path().join("report.html");
    ok(&[
        "run",
        "--input",
        s(&data),
        "--out",
        s(&card),
        "--report",
        s(&page),
    ]);
    let artifacts = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("browser");
    std::fs::create_dir_all(&artifacts).unwrap();
    let profile = t.path().join("profile");

    let (dom, log) = headless(&chrome, &profile, &page, &["--dump-dom".into()]);
    assert!(
        dom.contains("<table id=\"headline-table\">"),
        "no headline in the DOM:\n{log}"
    );
    // No console messages (errors, CSP violations) and no fetches: the CSP forbids them and
    // a violation would be logged to the console.
    for bad in [
        "CONSOLE",
        "Content Security Policy",
        "net::ERR_",
        "Refused to",
    ] {
        assert!(!log.contains(bad), "chromium logged {bad:?}:\n{log}");
    }

    // The latest window's whole-force rows of the Parquet scorecard.
    let b = read(&card);
    let col = |n: &str| b.column_by_name(n).unwrap().clone();
    let (start, level, measure) = (col("window_start"), col("level"), col("measure"));
    let start = start.as_primitive::<Date32Type>();
    let latest = (0..b.num_rows()).map(|i| start.value(i)).max().unwrap();
    let (compliance, measured) = (col("compliance"), col("n_measured"));
    let mut checked = 0;
    for i in 0..b.num_rows() {
        if start.value(i) != latest || level.as_string::<i32>().value(i) != "all" {
            continue;
        }
        let m = measure.as_string::<i32>().value(i);
        let row = dom.find(&format!("<tr data-measure=\"{m}\">")).unwrap();
        let c = compliance.as_primitive::<Float64Type>().value(i);
        let shown: f64 = attr(
            &dom,
            row + dom[row..].find("class=\"compliance\"").unwrap(),
            "data-value",
        )
        .parse()
        .unwrap();
        assert_eq!(shown, c, "{m}: compliance in the DOM");
        let text = format!("{:.1}%</td>", c * 100.0);
        assert!(
            dom[row..].split("</tr>").next().unwrap().contains(&text),
            "{m}: {text}"
        );
        let n: i64 = attr(
            &dom,
            row + dom[row..].find("class=\"measured\"").unwrap(),
            "data-value",
        )
        .parse()
        .unwrap();
        assert_eq!(
            n,
            measured.as_primitive::<Int64Type>().value(i),
            "{m}: measured"
        );
        checked += 1;
    }
    assert_eq!(checked, 4, "the four measures of mps-promise-2008");

    let png = artifacts.join("report.png");
    let pdf = artifacts.join("report.pdf");
    let _ = std::fs::remove_file(&png);
    let _ = std::fs::remove_file(&pdf);
    headless(
        &chrome,
        &profile,
        &page,
        &[
            format!("--screenshot={}", png.display()),
            "--window-size=1100,1600".into(),
        ],
    );
    headless(
        &chrome,
        &profile,
        &page,
        &[
            format!("--print-to-pdf={}", pdf.display()),
            "--no-pdf-header-footer".into(),
        ],
    );
    let png_bytes = std::fs::read(&png).unwrap();
    assert!(png_bytes.starts_with(b"\x89PNG"), "screenshot is a PNG");
    let pdf_bytes = std::fs::read(&pdf).unwrap();
    assert!(pdf_bytes.starts_with(b"%PDF"), "print is a PDF");
    // A4 is 595 x 842 points.
    let text = String::from_utf8_lossy(&pdf_bytes);
    assert!(
        text.contains("595") && text.contains("842"),
        "PDF pages are A4"
    );
}

/// Issue 12 end to end: every promise of the full policy on generated data is in the scorecard
/// and on the page with its rule in words; the working-day and lateness percentiles are
/// charted in their units; the satisfaction gap reaches the disparity table.
#[test]
fn the_full_promise_policy_reports_every_promise() {
    let t = tempfile::tempdir().unwrap();
    let data = t.path().join("data");
    ok(&[
        "gen",
        "--promises",
        "--rows",
        "60000",
        "--years",
        "2",
        "--from",
        "2023-01-01",
        "--out",
        s(&data),
    ]);
    let (card, html, disp) = (
        t.path().join("card.parquet"),
        t.path().join("full.html"),
        t.path().join("disparity.csv"),
    );
    ok(&[
        "run",
        "--input",
        s(&data),
        "--policy",
        "builtin:mps-promise-2008-full",
        "--window",
        "year",
        "--by",
        "respondent_group",
        "--out",
        s(&card),
        "--report",
        s(&html),
        "--disparity",
        s(&disp),
    ]);
    let b = read(&card);
    let measure = b.column_by_name("measure").unwrap().as_string::<i32>();
    let kind = b.column_by_name("kind").unwrap().as_string::<i32>();
    let level = b.column_by_name("level").unwrap().as_string::<i32>();
    let n = b
        .column_by_name("n_measured")
        .unwrap()
        .as_primitive::<Int64Type>();
    let policy = slate_core::SlaPolicy::builtin("mps-promise-2008-full").unwrap();
    for m in &policy.measures {
        let measured: i64 = (0..b.num_rows())
            .filter(|&i| measure.value(i) == m.id && level.value(i) == "all")
            .map(|i| n.value(i))
            .sum();
        assert!(measured > 0, "{}: nothing measured", m.id);
        let k = (0..b.num_rows())
            .find(|&i| measure.value(i) == m.id)
            .map(|i| kind.value(i))
            .unwrap();
        assert_eq!(k, slate_core::report::kind_column_value(m), "{}", m.id);
    }
    let page = std::fs::read_to_string(&html).unwrap();
    for words in [
        "within 2 working days",
        "within 10 working days",
        "by the deadline + 15.0 min",
        "share of successes",
        "measured working days by window",
        "measured lateness (negative: early)",
    ] {
        assert!(page.contains(words), "the page lacks {words:?}");
    }
    // The share measure's tick labels are not durations: no percentile chart for it.
    assert!(
        !page.contains("satisfied: p50"),
        "a share has no percentiles"
    );
    let d = std::fs::read_to_string(&disp).unwrap();
    assert!(
        d.lines()
            .any(|l| l.contains("satisfied") && l.contains("Black and minority ethnic")),
        "{d}"
    );
}
