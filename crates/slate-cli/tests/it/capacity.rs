//! `slate capacity`: demand, staffing, roster, what-if and simulation from generated history.

use std::path::Path;

use crate::cli::slate;

fn ok(args: &[&str]) -> (String, String) {
    let o = slate().args(args).output().unwrap();
    let (out, err) = (
        String::from_utf8_lossy(&o.stdout).into_owned(),
        String::from_utf8_lossy(&o.stderr).into_owned(),
    );
    assert!(o.status.success(), "slate {args:?}\n{err}");
    (out, err)
}

fn gen_queued(dir: &Path) {
    ok(&[
        "gen",
        "--rows",
        "60000",
        "--years",
        "1",
        "--from",
        "2024-01-01",
        "--call-queue",
        "--out",
        dir.to_str().unwrap(),
    ]);
}

#[test]
fn capacity_from_generated_history() {
    let d = tempfile::tempdir().unwrap();
    let data = d.path().join("data");
    gen_queued(&data);
    let data = data.to_str().unwrap();
    // The optional columns validate.
    let v = slate()
        .args(["validate", "--input", data])
        .output()
        .unwrap();
    assert_eq!(
        v.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&v.stdout)
    );

    let demand = d.path().join("demand.parquet");
    let staffing = d.path().join("staffing.csv");
    let (out, err) = ok(&[
        "capacity",
        "--input",
        data,
        "--interval",
        "1h",
        "--out",
        demand.to_str().unwrap(),
        "--staffing",
        staffing.to_str().unwrap(),
        "--shrinkage",
        "0.3",
        "--demand",
        "x1.10",
        "--aht",
        "+20s",
    ]);
    assert!(err.contains("estimated from abandoned calls"), "{err}");
    assert!(
        out.contains("Staffing for 90% answered within 10 s (Erlang C and Erlang A)"),
        "{out}"
    );
    assert!(
        out.contains("What-if (demand x1.10, handling time +20 s)"),
        "{out}"
    );
    let csv = std::fs::read_to_string(&staffing).unwrap();
    let header = csv.lines().next().unwrap();
    for c in [
        "interval",
        "agents_c",
        "rostered_c",
        "agents_a",
        "abandon_a",
        "whatif_change_c",
    ] {
        assert!(header.split(',').any(|h| h == c), "{c} missing: {header}");
    }
    assert_eq!(csv.lines().count(), 1 + 168);
    // The what-if never needs fewer agents.
    let idx = header
        .split(',')
        .position(|h| h == "whatif_change_c")
        .unwrap();
    for line in csv.lines().skip(1) {
        let v: f64 = line.split(',').nth(idx).unwrap().parse().unwrap();
        assert!(v >= 0.0, "{line}");
    }
    assert!(demand.exists());
    // Both tables say what made them; the CSV in its sidecar.
    for (file, role) in [(&demand, "demand profile"), (&staffing, "staffing")] {
        let (info, _) = ok(&["info", file.to_str().unwrap()]);
        for want in [
            format!("output             {role}"),
            "policy             builtin:mps-promise-2008".into(),
            "channel            999".into(),
            "shrinkage          0.3".into(),
            "demand_factor      1.1".into(),
            "aht_delta_s        20".into(),
            "measure            answer_999_10s".into(),
            "interval_s         3600".into(),
        ] {
            assert!(info.contains(&want), "{want:?} missing:\n{info}");
        }
    }

    // A roster: 3 on every hour; the reverse calculation reports the day and the week.
    let roster = d.path().join("roster.csv");
    let mut text = String::from("interval,agents\n");
    for line in csv.lines().skip(1) {
        let label = line.split(',').next().unwrap();
        text += &format!("{label},3\n");
    }
    std::fs::write(&roster, text).unwrap();
    let (out, _) = ok(&[
        "capacity",
        "--input",
        data,
        "--roster",
        roster.to_str().unwrap(),
        "--simulate",
    ]);
    assert!(out.contains("Roster (Erlang A"), "{out}");
    assert!(out.contains("Simulation at the Erlang C staffing"), "{out}");
    // Seeded: the same figures again, on one thread or two (the handling-time sample once
    // came in the scan's partition order).
    for threads in ["1", "2"] {
        let (again, _) = ok(&[
            "capacity",
            "--input",
            data,
            "--roster",
            roster.to_str().unwrap(),
            "--simulate",
            "--threads",
            threads,
        ]);
        assert_eq!(again, out, "--threads {threads}");
    }
    // The roster over the whole week, the queue carried across hours.
    assert!(
        out.contains("Roster simulated over the whole period (queue carried across intervals"),
        "{out}"
    );
    assert!(
        out.contains("simulated whole period: service level"),
        "{out}"
    );
    // The model is read at the staffing that was simulated: the two agree closely (they once
    // compared the simulation at Erlang C's staffing with Erlang A at its own, 5 points apart).
    let pct = |after: &str| -> f64 {
        let tail = &out[out.find(after).unwrap() + after.len()..];
        let end = tail.find('%').unwrap();
        tail[..end].trim().parse().unwrap()
    };
    let simulated = pct("each): service level ");
    let model = pct("simulated vs ");
    assert!(
        (simulated - model).abs() < 2.0,
        "{simulated} vs {model}: {out}"
    );

    // Errors name the option.
    let bad = slate()
        .args(["capacity", "--input", data, "--shrinkage", "1.5"])
        .output()
        .unwrap();
    assert_eq!(bad.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&bad.stderr).contains("--shrinkage"));
    let bad = slate()
        .args(["capacity", "--input", data, "--measure", "nope"])
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&bad.stderr).contains("answer_999_10s"));
}

/// `--report`: the capacity page, read in headless Chromium when it is installed (else from the
/// file), shows per interval the figures of the Parquet staffing table and roster output.
#[test]
fn capacity_report_page_shows_the_staffing_and_roster_figures() {
    use datafusion::arrow::array::{Array, AsArray};
    use datafusion::arrow::datatypes::{Float64Type, UInt32Type};

    let d = tempfile::tempdir().unwrap();
    let data = d.path().join("data");
    gen_queued(&data);
    let data = data.to_str().unwrap();
    let roster = d.path().join("roster.csv");
    let mut text = String::from("interval,agents\n");
    for day in ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"] {
        for h in 0..24 {
            text += &format!("{day} {h:02}:00,{}\n", 3 + h % 3);
        }
    }
    std::fs::write(&roster, text).unwrap();
    let (staffing, roster_out, page) = (
        d.path().join("staffing.parquet"),
        d.path().join("roster.parquet"),
        d.path().join("capacity.html"),
    );
    let p = |x: &Path| x.to_str().unwrap().to_string();
    ok(&[
        "capacity",
        "--input",
        data,
        "--shrinkage",
        "0.25",
        "--staffing",
        &p(&staffing),
        "--roster",
        &p(&roster),
        "--roster-out",
        &p(&roster_out),
        "--report",
        &p(&page),
    ]);
    // The page's figures are checked in the file, and in Chromium's DOM where it is installed.
    let dom = match crate::report::installed_chromium() {
        Some(chrome) => {
            let (dom, log) = crate::report::headless(
                &chrome,
                &d.path().join("profile"),
                &page,
                &["--dump-dom".into()],
            );
            for bad in [
                "CONSOLE",
                "Content Security Policy",
                "net::ERR_",
                "Refused to",
            ] {
                assert!(!log.contains(bad), "chromium logged {bad:?}:\n{log}");
            }
            dom
        }
        None => std::fs::read_to_string(&page).unwrap(),
    };
    assert!(dom.contains("<table id=\"capacity-intervals\">"), "{dom}");
    let read = |f: &Path| {
        let b = slate_io::parquet::read_file(f).unwrap();
        datafusion::arrow::compute::concat_batches(&b[0].schema(), &b).unwrap()
    };
    let (st, ro) = (read(&staffing), read(&roster_out));
    assert_eq!((st.num_rows(), ro.num_rows()), (168, 168));
    let text = |b: &datafusion::arrow::array::RecordBatch, c: &str, i: usize| {
        b.column_by_name(c)
            .unwrap()
            .as_string::<i32>()
            .value(i)
            .to_string()
    };
    let f64_of = |b: &datafusion::arrow::array::RecordBatch, c: &str, i: usize| {
        b.column_by_name(c)
            .unwrap()
            .as_primitive::<Float64Type>()
            .value(i)
    };
    let u32_of = |b: &datafusion::arrow::array::RecordBatch, c: &str, i: usize| {
        let a = b.column_by_name(c).unwrap().as_primitive::<UInt32Type>();
        a.is_valid(i).then(|| a.value(i))
    };
    let shown = |row: usize, class: &str| -> String {
        let end = row + dom[row..].find("</tr>").unwrap();
        let at = row + dom[row..end].find(&format!("class=\"{class}\"")).unwrap();
        crate::report::attr(&dom, at, "data-value").to_string()
    };
    let mut hours_c = 0.0;
    for i in 0..168 {
        let label = text(&st, "interval", i);
        assert_eq!(text(&ro, "interval", i), label);
        let row = dom
            .find(&format!("<tr data-interval=\"{label}\">"))
            .unwrap_or_else(|| panic!("no row {label}"));
        let offered: f64 = shown(row, "offered").parse().unwrap();
        assert_eq!(offered, f64_of(&st, "offered", i), "{label}");
        let agents_c = u32_of(&st, "agents_c", i).unwrap();
        assert_eq!(shown(row, "agents_c"), agents_c.to_string(), "{label}");
        hours_c += f64::from(agents_c);
        let agents_a = u32_of(&st, "agents_a", i).unwrap();
        assert_eq!(shown(row, "agents_a"), agents_a.to_string(), "{label}");
        let staff = u32_of(&st, "rostered_a", i).unwrap();
        assert_eq!(shown(row, "staff"), staff.to_string(), "{label}");
        assert_eq!(
            shown(row, "rostered"),
            u32_of(&ro, "rostered", i).unwrap().to_string()
        );
        let sl: f64 = shown(row, "roster_sl").parse().unwrap();
        assert_eq!(sl, f64_of(&ro, "sl", i), "{label}");
    }
    let at = dom.find("data-figure=\"agent_hours_c\"").unwrap();
    let total: f64 = crate::report::attr(&dom, at, "data-value").parse().unwrap();
    assert_eq!(total, hours_c);
    // One chart per figure, each with a title and a data table.
    for id in ["fig-demand", "fig-staff", "fig-sl"] {
        assert!(dom.contains(&format!("aria-labelledby=\"{id}\"")), "{id}");
    }
}
