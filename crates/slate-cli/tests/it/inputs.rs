//! Inputs read once, as given (issue 24): a symbolic-link loop, dates with short years,
//! group columns named twice, and capacity's rosters, what-ifs and all-abandoned data.

use std::path::Path;
use std::process::Output;

use crate::cli::slate;

fn run(args: &[&str]) -> (Output, String) {
    let o = slate().args(args).output().unwrap();
    let err = String::from_utf8_lossy(&o.stderr).into_owned();
    (o, err)
}

fn ok(args: &[&str]) -> String {
    let (o, err) = run(args);
    assert!(o.status.success(), "slate {args:?}\n{err}");
    err
}

/// A refusal: exit 2 and the error.
fn refused(args: &[&str]) -> String {
    let (o, err) = run(args);
    assert_eq!(o.status.code(), Some(2), "slate {args:?}\n{err}");
    err
}

fn generate(dir: &Path, rows: &str, queue: bool) {
    let mut args = vec![
        "gen",
        "--rows",
        rows,
        "--years",
        "1",
        "--from",
        "2024-01-01",
        "--out",
        dir.to_str().unwrap(),
    ];
    if queue {
        args.push("--call-queue");
    }
    ok(&args);
}

/// The tester's loop (`d/sub/loop -> ..`) made `run` read every file 41 times, exit 0.
#[cfg(unix)]
#[test]
fn a_symlink_loop_is_read_once_with_a_warning() {
    let d = tempfile::tempdir().unwrap();
    let data = d.path().join("data");
    generate(&data, "2000", false);
    let sub = std::fs::read_dir(&data)
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.is_dir())
        .unwrap();
    std::os::unix::fs::symlink("..", sub.join("loop")).unwrap();
    let files = slate_io::expand_inputs(&[data.to_str().unwrap().to_string()]).unwrap();
    let err = ok(&["run", "--input", data.to_str().unwrap()]);
    assert!(
        err.contains(&format!("read 2000 rows from {} files", files.len())),
        "{err}"
    );
    let want = format!(
        "warning: {}: a symbolic link back to {}, which holds it (a loop): not followed, its \
         files are read once",
        sub.join("loop").display(),
        data.display()
    );
    assert!(err.contains(&want), "{err}");
    // A file named twice is read once, and said so.
    let f = files[0].to_str().unwrap();
    let err = ok(&["run", "--input", f, "--input", f]);
    assert!(
        err.contains("read ") && err.contains(" from 1 files"),
        "{err}"
    );
    assert!(
        err.contains(&format!("warning: {f} is named twice: read once")),
        "{err}"
    );
}

/// `--from 24-06-01` was read as the year 24 without a word.
#[test]
fn dates_need_four_digit_years() {
    for cmd in ["run", "capacity"] {
        let err = refused(&[cmd, "--input", "nowhere", "--from", "24-06-01"]);
        assert!(
            err.contains(
                "\"24-06-01\" is not a date YYYY-MM-DD (a four-digit year, e.g. 2024-06-01)"
            ),
            "{cmd}: {err}"
        );
    }
}

/// `--by borough,borough` wrote two `borough` columns that pandas cannot read.
#[test]
fn group_columns_named_twice_are_refused() {
    let d = tempfile::tempdir().unwrap();
    let data = d.path().join("data");
    generate(&data, "500", false);
    let out = d.path().join("card.csv");
    let err = refused(&[
        "run",
        "--input",
        data.to_str().unwrap(),
        "--by",
        "borough,borough",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert!(
        err.contains(
            "group column \"borough\": named twice in the group columns; each output column must be unique"
        ),
        "{err}"
    );
    assert!(!out.exists());
}

/// Roster lines for intervals the profile lacks were dropped; `--demand x1e9` never ended.
#[test]
fn capacity_names_unknown_roster_labels_and_bounds_the_staffing_search() {
    let d = tempfile::tempdir().unwrap();
    let data = d.path().join("data");
    generate(&data, "20000", true);
    let data = data.to_str().unwrap();
    let roster = d.path().join("roster.csv");
    let mut text = String::from("interval,agents\n");
    for day in ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"] {
        for h in 0..24 {
            text += &format!("{day} {h:02}:00,4\n");
        }
    }
    text += "Mon 8:00,9\nMonday 09:00,9\n";
    std::fs::write(&roster, text).unwrap();
    let err = refused(&[
        "capacity",
        "--input",
        data,
        "--roster",
        roster.to_str().unwrap(),
    ]);
    assert!(
        err.contains(
            "2 interval label(s) the demand profile does not have: \"Mon 8:00\", \"Monday 09:00\"; \
             its intervals are \"Mon 00:00\", \"Mon 01:00\""
        ),
        "{err}"
    );
    let t0 = std::time::Instant::now();
    let err = refused(&["capacity", "--input", data, "--demand", "x1e9"]);
    assert!(
        err.contains("Erlangs needs more than 10000 agents, the most a staffing search tries"),
        "{err}"
    );
    assert!(t0.elapsed().as_secs() < 60, "{:?}", t0.elapsed());
}

/// Every call abandoned: both columns are there; what is missing is an answered call.
#[test]
fn capacity_on_all_abandoned_calls_says_none_was_answered() {
    let d = tempfile::tempdir().unwrap();
    let mapping = d.path().join("acd.toml");
    std::fs::write(
        &mapping,
        "name = \"acd\"\ntz = \"Europe/London\"\n\
         [columns.incident_id]\nfrom = \"id\"\n[columns.channel]\nfrom = \"line\"\n\
         [columns.call_received]\nfrom = \"offered\"\n[columns.call_answered]\nfrom = \"answered\"\n\
         [columns.call_ended]\nfrom = \"ended\"\n\
         [columns.abandoned]\nfrom = \"outcome\"\ntrue-values = [\"ABANDONED\"]\n",
    )
    .unwrap();
    let csv = d.path().join("calls.csv");
    std::fs::write(
        &csv,
        "id,line,offered,answered,ended,outcome\n\
         c1,999,2024-01-10 09:00:00,,2024-01-10 09:01:00,ABANDONED\n\
         c2,999,2024-01-10 09:10:00,,2024-01-10 09:12:00,ABANDONED\n",
    )
    .unwrap();
    let base = [
        "capacity",
        "--input",
        csv.to_str().unwrap(),
        "--source",
        mapping.to_str().unwrap(),
    ];
    let err = refused(&base);
    assert!(
        err.contains(
            "channel 999: none of its 2 calls was answered, so handling time cannot be measured: give --handling-time"
        ),
        "{err}"
    );
    assert!(!err.contains("no call_ended column"), "{err}");
    let mut args = base.to_vec();
    args.extend(["--handling-time", "240s"]);
    let err = ok(&args);
    assert!(
        err.contains("patience 90 s (estimated from abandoned calls)"),
        "{err}"
    );
    assert!(!err.contains("no abandoned column"), "{err}");
}

/// Issue 26: the repeated hour's rule comes from `--ambiguous`, else the mapping's
/// `ambiguous`, else `order`; each decides the same record differently. Created 01:50 and
/// arrived 01:10 on the night London's clocks went back (27 October 2024): read both as the
/// earlier or both as the later instant and the unit arrived before the incident existed; under
/// `order` the creation is the first pass of the hour and the arrival the second (20 min).
#[test]
fn the_ambiguous_rule_comes_from_the_flag_then_the_mapping_then_order() {
    let d = tempfile::tempdir().unwrap();
    let csv = d.path().join("night.csv");
    std::fs::write(
        &csv,
        "id,received,created,arrived\n\
         n1,2024-10-27 00:30:00,2024-10-27 01:50:00,2024-10-27 01:10:00\n\
         n2,2024-10-27 00:10:00,2024-10-27 00:20:00,2024-10-27 00:40:00\n",
    )
    .unwrap();
    let mapping = |key: &str| {
        let m = d.path().join(format!("m-{}.toml", key.len()));
        std::fs::write(
            &m,
            format!(
                "name = \"night\"\ntz = \"Europe/London\"\n{key}\n\
                 [columns.incident_id]\nfrom = \"id\"\n\
                 [columns.incident_created]\nfrom = \"created\"\n\
                 [columns.call_received]\nfrom = \"received\"\n\
                 [columns.arrived]\nfrom = \"arrived\"\n"
            ),
        )
        .unwrap();
        m
    };
    let keyed = mapping("ambiguous = \"exclude\"");
    let plain = mapping("");
    let import = |m: &Path, flag: Option<&str>| {
        let out = d.path().join(format!("out-{}", std::process::id()));
        let mut args = vec![
            "import",
            "--source",
            m.to_str().unwrap(),
            "--input",
            csv.to_str().unwrap(),
            "--out",
            out.to_str().unwrap(),
            "--force",
        ];
        if let Some(f) = flag {
            args.extend(["--ambiguous", f]);
        }
        // The summary is import's output (stdout).
        let o = slate().args(&args).output().unwrap();
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        String::from_utf8_lossy(&o.stdout).into_owned()
    };
    // The mapping's key: the record with ambiguous readings is a reject.
    let err = import(&keyed, None);
    assert!(
        err.contains(
            "2 ambiguous (ambiguous = exclude: 1 records rejected as ambiguous_local_time)"
        ),
        "{err}"
    );
    // The flag wins over the key.
    let err = import(&keyed, Some("later"));
    assert!(
        err.contains("2 ambiguous (ambiguous = later: read as the later instant)"),
        "{err}"
    );
    // Neither: `order`, which keeps the record in lifecycle order (created as the earlier
    // instant, arrived as the later).
    let err = import(&plain, None);
    assert!(
        err.contains(
            "2 ambiguous (ambiguous = order: 1 kept in order as the earlier instant, 1 as the later, 0 could not be ordered"
        ),
        "{err}"
    );
    // And the measured figure follows: `run --source` gives the 20 minutes under `order`, and
    // a negative duration (excluded) under `earlier`.
    for (rule, within) in [("order", "1"), ("earlier", "0")] {
        let card = d.path().join(format!("card-{rule}.csv"));
        let policy = d.path().join("p.toml");
        std::fs::write(
            &policy,
            "[[measure]]\nid = \"attend\"\nstart = \"incident_created\"\nstop = \"arrived\"\nthreshold = \"30m\"\n",
        )
        .unwrap();
        ok(&[
            "run",
            "--input",
            csv.to_str().unwrap(),
            "--source",
            plain.to_str().unwrap(),
            "--ambiguous",
            rule,
            "--policy",
            policy.to_str().unwrap(),
            "--window",
            "year",
            "--by",
            "",
            "--out",
            card.to_str().unwrap(),
        ]);
        let mut rdr = csv::Reader::from_path(&card).unwrap();
        let head = rdr.headers().unwrap().clone();
        let at = |n: &str| head.iter().position(|h| h == n).unwrap();
        let r = rdr.records().next().unwrap().unwrap();
        // n2 (no ambiguity, 20 min) is within under every rule; n1 only under `order`.
        let want_within = if within == "1" { "2" } else { "1" };
        assert_eq!(&r[at("n_within")], want_within, "{rule}: {r:?}");
    }
}

/// `--tz` with a mapped source reads its naive times in that zone (as `import --tz` does) and
/// puts the windows there; before, `run` read them in the mapping's zone (London for
/// `canonical`) and only windowed in `--tz`. 01:00 on 1 March read in London is 20:00 on 29
/// February in New York: the day window tells the two readings apart.
#[test]
fn tz_overrides_a_mapped_sources_zone_for_reading_and_windows() {
    let d = tempfile::tempdir().unwrap();
    let csv = d.path().join("calls.csv");
    std::fs::write(
        &csv,
        "incident_id,borough,grade,channel,call_received,call_answered,incident_created,\
         dispatched,arrived,closed,cancelled\n\
         a,X,I,999,2024-03-01 01:00:00,,2024-03-01 01:01:00,,2024-03-01 01:09:00,,false\n",
    )
    .unwrap();
    let policy = d.path().join("p.toml");
    std::fs::write(
        &policy,
        "[[measure]]\nid = \"attend\"\nstart = \"incident_created\"\nstop = \"arrived\"\nthreshold = \"10m\"\n",
    )
    .unwrap();
    let day = |tz: Option<&str>| {
        let card = d.path().join(format!("card-{}.csv", tz.is_some()));
        let mut args = vec![
            "run",
            "--input",
            csv.to_str().unwrap(),
            "--source",
            "canonical",
            "--policy",
            policy.to_str().unwrap(),
            "--window",
            "day",
            "--by",
            "",
            "--out",
            card.to_str().unwrap(),
        ];
        if let Some(z) = tz {
            args.extend(["--tz", z]);
        }
        ok(&args);
        let mut rdr = csv::Reader::from_path(&card).unwrap();
        let head = rdr.headers().unwrap().clone();
        let at = head.iter().position(|h| h == "window_start").unwrap();
        let r = rdr.records().next().unwrap().unwrap();
        r[at].to_string()
    };
    assert_eq!(day(Some("America/New_York")), "2024-03-01");
    // Without --tz: the mapping's zone (London) for both.
    assert_eq!(day(None), "2024-03-01");
    // And the zone given is the one read in: 01:00 in Los Angeles is still 1 March there.
    assert_eq!(day(Some("America/Los_Angeles")), "2024-03-01");
}
