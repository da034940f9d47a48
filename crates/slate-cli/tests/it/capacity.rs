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
