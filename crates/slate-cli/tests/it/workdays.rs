//! "Within N working days" end to end (issue 26): one record per edge case, read from a CSV
//! export through a mapping, each in its own group, so the scorecard's `within` and `max_wd`
//! give that record's verdict (`n_within`) and working days taken. The README's worked examples.

use std::collections::BTreeMap;

use crate::cli::slate;

#[test]
fn working_days_are_counted_to_the_deadline_at_every_edge() {
    let d = tempfile::tempdir().unwrap();
    let mapping = d.path().join("complaints.toml");
    std::fs::write(
        &mapping,
        "name = \"complaints\"\ntz = \"Europe/London\"\n\
         [columns.incident_id]\nfrom = \"id\"\n[columns.borough]\nfrom = \"case\"\n\
         [columns.call_received]\nfrom = \"received\"\n\
         [columns.complaint_received]\nfrom = \"received\"\n\
         [columns.complaint_acknowledged]\nfrom = \"acknowledged\"\n",
    )
    .unwrap();
    let policy = d.path().join("ack.toml");
    std::fs::write(
        &policy,
        "[[measure]]\nid = \"ack_2wd\"\nstart = \"complaint_received\"\n\
         stop = \"complaint_acknowledged\"\nthreshold = \"2wd\"\ncalendar = \"england-and-wales\"\n",
    )
    .unwrap();
    // (case, received, acknowledged, working days taken, within 2). Received Monday 23 December
    // 2024: the 2nd working day after it is Friday 27th (Christmas and Boxing Day are holidays).
    let cases = [
        (
            "friday",
            "2024-12-23 10:00:00",
            "2024-12-27 16:59:00",
            2,
            true,
        ),
        (
            "boxing_day",
            "2024-12-23 10:00:00",
            "2024-12-26 12:00:00",
            2,
            true,
        ),
        (
            "saturday_after",
            "2024-12-23 10:00:00",
            "2024-12-28 09:00:00",
            3,
            false,
        ),
        (
            "early_monday",
            "2024-12-23 23:30:00",
            "2024-12-30 00:30:00",
            3,
            false,
        ),
        // 19:30 in New York is 00:30 on Monday in London: the local day is the zone's.
        (
            "offset_monday",
            "2024-12-23 10:00:00",
            "2024-12-29T19:30:00-05:00",
            3,
            false,
        ),
        // Received on a Saturday: Monday 30th is the first working day, Tuesday 31st the 2nd.
        (
            "saturday_start",
            "2024-12-28 11:00:00",
            "2024-12-31 17:00:00",
            2,
            true,
        ),
        (
            "new_years_day",
            "2024-12-28 11:00:00",
            "2025-01-01 10:00:00",
            3,
            false,
        ),
        (
            "sunday_reply",
            "2024-12-28 11:00:00",
            "2024-12-29 10:00:00",
            1,
            true,
        ),
        (
            "same_saturday",
            "2024-12-28 11:00:00",
            "2024-12-28 15:00:00",
            0,
            true,
        ),
    ];
    let mut csv = String::from("id,case,received,acknowledged\n");
    for (i, (case, a, b, _, _)) in cases.iter().enumerate() {
        csv.push_str(&format!("c{i},{case},{a},{b}\n"));
    }
    let input = d.path().join("complaints.csv");
    std::fs::write(&input, csv).unwrap();
    let card = d.path().join("card.csv");
    let o = slate()
        .args(["run", "--input"])
        .arg(&input)
        .arg("--source")
        .arg(&mapping)
        .arg("--policy")
        .arg(&policy)
        .args(["--window", "year", "--by", "borough", "--out"])
        .arg(&card)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));

    let mut rdr = csv::Reader::from_path(&card).unwrap();
    let head = rdr.headers().unwrap().clone();
    let col = |name: &str| head.iter().position(|h| h == name).unwrap();
    let (borough, measured, within, max_wd) = (
        col("borough"),
        col("n_measured"),
        col("n_within"),
        col("max_wd"),
    );
    let mut got = BTreeMap::new();
    for r in rdr.records() {
        let r = r.unwrap();
        if r[borough].is_empty() {
            continue; // the rollup over every case
        }
        assert_eq!(&r[measured], "1", "{r:?}");
        let taken: i64 = r[max_wd].parse().unwrap();
        got.insert(r[borough].to_string(), (taken, &r[within] == "1"));
    }
    let want: BTreeMap<String, (i64, bool)> = cases
        .iter()
        .map(|(case, _, _, taken, within)| (case.to_string(), (*taken, *within)))
        .collect();
    assert_eq!(got, want);
}
