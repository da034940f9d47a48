//! Every oddity the SOURCE.md files of `../shared/realdata` list, each with a small fixture of
//! its own (inline CSV, in the source's real header spelling), read through the built-in
//! mapping; plus the dirty-row rules (a bad row is a reject with a reason, never a crash or a
//! silent drop). Expected values are read off the fixture rows themselves.

// Test helpers outside #[test] fns are not covered by clippy's allow-unwrap-in-tests.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use crate::source::DEFAULT_BATCH_ROWS;
use crate::{ImportOptions, ImportSummary, Mapping, Reject, SourceSink};
use arrow::array::{Array, AsArray, RecordBatch};
use arrow::datatypes::{DataType, TimestampMicrosecondType};
use chrono::{DateTime, NaiveDateTime};

/// A record as text: column -> value (clocks as UTC `YYYY-MM-DD hh:mm:ss`).
type Row = HashMap<String, Option<String>>;

#[derive(Default)]
struct Collect {
    batches: Vec<RecordBatch>,
    rejects: Vec<Reject>,
}

impl SourceSink for Collect {
    fn batch(&mut self, batch: RecordBatch) -> crate::Result<()> {
        self.batches.push(batch);
        Ok(())
    }

    fn reject(&mut self, reject: &Reject) -> crate::Result<()> {
        self.rejects.push(reject.clone());
        Ok(())
    }
}

struct Read {
    rows: HashMap<String, Row>,
    rejects: Vec<Reject>,
    summary: ImportSummary,
}

impl Read {
    fn get(&self, id: &str, col: &str) -> Option<String> {
        let row = self
            .rows
            .get(id)
            .unwrap_or_else(|| panic!("no record {id}; have {:?}", self.rows.keys()));
        row.get(col)
            .unwrap_or_else(|| panic!("no column {col}"))
            .clone()
    }
}

fn write_tmp(dir: &Path, name: &str, text: &[u8]) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, text).unwrap();
    p
}

fn read_with(mapping: &Mapping, csv: &[u8]) -> Read {
    let dir = tempfile::tempdir().unwrap();
    let file = write_tmp(dir.path(), "in.csv", csv);
    let mut sink = Collect::default();
    let summary = crate::read_source(&[file], mapping, DEFAULT_BATCH_ROWS, &mut sink).unwrap();
    assert!(summary.balances(), "{}", summary.accounting());
    assert_eq!(summary.rejected_rows as usize, sink.rejects.len());
    let mut rows = HashMap::new();
    for b in &sink.batches {
        for i in 0..b.num_rows() {
            let mut row = Row::new();
            for (f, col) in b.schema().fields().iter().zip(b.columns()) {
                let v = col.is_valid(i).then(|| match col.data_type() {
                    DataType::Timestamp(_, _) => {
                        let us = col.as_primitive::<TimestampMicrosecondType>().value(i);
                        DateTime::from_timestamp_micros(us)
                            .unwrap()
                            .format("%Y-%m-%d %H:%M:%S")
                            .to_string()
                    }
                    DataType::Boolean => col.as_boolean().value(i).to_string(),
                    _ => col.as_string::<i32>().value(i).to_string(),
                });
                row.insert(f.name().clone(), v);
            }
            let id = row["incident_id"].clone().unwrap();
            assert!(
                rows.insert(id.clone(), row).is_none(),
                "two records with id {id}"
            );
        }
    }
    assert_eq!(rows.len() as u64, summary.records);
    Read {
        rows,
        rejects: sink.rejects,
        summary,
    }
}

fn read(mapping: &str, csv: &str) -> Read {
    read_with(&Mapping::load(mapping).unwrap(), csv.as_bytes())
}

/// UTC text of a local wall time in a zone (independent of slate: chrono-tz via chrono).
fn utc(local: &str, fmt: &str, zone: &str) -> String {
    use chrono::TimeZone;
    let tz: chrono_tz::Tz = zone.parse().unwrap();
    let naive = NaiveDateTime::parse_from_str(local, fmt).unwrap();
    let d = tz.from_local_datetime(&naive).earliest().unwrap();
    d.naive_utc().format("%Y-%m-%d %H:%M:%S").to_string()
}

fn plus_secs(ts: &str, secs: i64) -> String {
    let t = NaiveDateTime::parse_from_str(ts, "%Y-%m-%d %H:%M:%S").unwrap();
    (t + chrono::Duration::seconds(secs))
        .format("%Y-%m-%d %H:%M:%S")
        .to_string()
}

// ---------------------------------------------------------------- LFB

const LFB_HEADER: &str = "IncidentNumber,DateOfCall,CalYear,TimeOfCall,IncidentGroup,StopCodeDescription,PropertyCategory,\
IncGeo_BoroughName,IncidentStationGround,FirstPumpArriving_AttendanceTime,SecondPumpArriving_AttendanceTime,NumPumpsAttending,Notional Cost (£)\n";

fn lfb(rows: &str) -> Read {
    read("lfb", &format!("{LFB_HEADER}{rows}"))
}

const UK: &str = "Europe/London";
const YMD_HMS: &str = "%Y-%m-%d %H:%M:%S";

#[test]
fn lfb_missing_first_pump_time_is_no_arrival_even_when_pumps_attended() {
    // 527 rows have no first-pump time (482 Special Service); 426 of them list pumps attending.
    let r = lfb(
        "013803-28012023,2023-01-28,2023,12:51:59,Special Service,Special Service,Dwelling,TOWER HAMLETS,Millwall,,,1.0,364\n",
    );
    assert_eq!(r.summary.rejected_rows, 0);
    assert_eq!(r.get("013803-28012023", "arrived"), None);
    assert_eq!(
        r.get("013803-28012023", "pumps_attending").as_deref(),
        Some("1.0")
    );
    assert_eq!(
        r.get("013803-28012023", "call_received"),
        Some(utc("2023-01-28 12:51:59", YMD_HMS, UK))
    );
}

#[test]
fn lfb_attendance_seconds_count_from_the_call_and_one_second_is_kept() {
    // 166 rows under 60 s, minimum 1 s (195786-13122023); the maximum is 1171 s.
    let r = lfb(
        "195786-13122023,2023-12-13,2023,10:00:00,False Alarm,AFA,Non Residential,CAMDEN,Euston,1.0,,1.0,364\n\
         000001-01072023,2023-07-01,2023,23:59:30,Fire,Primary Fire,Dwelling,BRENT,Wembley,1171.0,,2.0,728\n",
    );
    let call = utc("2023-12-13 10:00:00", YMD_HMS, UK);
    assert_eq!(
        r.get("195786-13122023", "arrived"),
        Some(plus_secs(&call, 1))
    );
    // Summer time, and the arrival falls on the next day.
    let call = utc("2023-07-01 23:59:30", YMD_HMS, UK);
    assert_eq!(call, "2023-07-01 22:59:30");
    assert_eq!(
        r.get("000001-01072023", "arrived"),
        Some(plus_secs(&call, 1171))
    );
}

#[test]
fn lfb_second_pump_faster_than_the_first_does_not_change_the_first_arrival() {
    // 71 rows have SecondPump < FirstPump: arrival is the first pump's, as LFB reports it.
    let r = lfb(
        "038967-19032023,2023-03-19,2023,14:11:51,False Alarm,False alarm - Good intent,Outdoor,BARNET,Mill Hill,416.0,300.0,2.0,364\n",
    );
    let call = utc("2023-03-19 14:11:51", YMD_HMS, UK);
    assert_eq!(
        r.get("038967-19032023", "arrived"),
        Some(plus_secs(&call, 416))
    );
}

#[test]
fn lfb_calls_in_the_repeated_hour_read_the_earlier_instant_and_are_counted() {
    // Two calls at 2023-10-29 01:xx, when BST ends; and, for the rule, one in the skipped hour.
    let r = lfb(
        "A-29102023,2023-10-29,2023,01:50:00,Fire,Primary Fire,Dwelling,ENFIELD,Enfield,300.0,,1.0,364\n\
         B-29102023,2023-10-29,2023,01:00:05,Fire,Primary Fire,Dwelling,ENFIELD,Enfield,60.0,,1.0,364\n\
         C-26032023,2023-03-26,2023,01:30:00,Fire,Primary Fire,Dwelling,ENFIELD,Enfield,60.0,,1.0,364\n",
    );
    // Earlier instant = still BST (UTC+1).
    assert_eq!(
        r.get("A-29102023", "call_received").as_deref(),
        Some("2023-10-29 00:50:00")
    );
    assert_eq!(
        r.get("A-29102023", "arrived").as_deref(),
        Some("2023-10-29 00:55:00")
    );
    assert_eq!(
        r.get("B-29102023", "call_received").as_deref(),
        Some("2023-10-29 00:00:05")
    );
    // 01:30 on 2023-03-26 never happened: read with GMT, the offset before the change.
    assert_eq!(
        r.get("C-26032023", "call_received").as_deref(),
        Some("2023-03-26 01:30:00")
    );
    assert_eq!(
        (r.summary.local.repeated.ambiguous, r.summary.local.skipped),
        (2, 1)
    );
}

#[test]
fn lfb_non_ascii_header_is_matched_and_kept() {
    let r = lfb(
        "X1,2023-05-01,2023,10:00:00,Fire,Primary Fire,Dwelling,CITY OF LONDON,Dowgate,200.0,,1.0,1092\n",
    );
    assert_eq!(r.get("X1", "notional_cost_gbp").as_deref(), Some("1092"));
    assert_eq!(r.get("X1", "borough").as_deref(), Some("CITY OF LONDON"));
}

#[test]
fn lfb_unknown_incident_group_is_a_reject_naming_the_code() {
    let r = lfb(
        "X1,2023-05-01,2023,10:00:00,Fire,Primary Fire,Dwelling,BRENT,Wembley,200.0,,1.0,364\n\
         X2,2023-05-01,2023,10:00:00,Flood,Flooding,Dwelling,BRENT,Wembley,200.0,,1.0,364\n",
    );
    assert_eq!((r.summary.imported_rows, r.summary.rejected_rows), (1, 1));
    let j = &r.rejects[0];
    assert_eq!((j.row, j.line), (2, Some(3)));
    assert_eq!(
        (
            j.problem.column.as_str(),
            j.problem.value.as_str(),
            j.problem.kind
        ),
        ("IncidentGroup", "Flood", "unknown code")
    );
    assert!(
        j.problem
            .reason()
            .contains("False Alarm, Fire, Special Service"),
        "{}",
        j.problem.reason()
    );
}

// ---------------------------------------------------------------- Seattle

const SPD_HEADER: &str = ",CAD Event Number,Event Clearance Description,Call Type,Priority,Initial Call Type,Final Call Type,\
Original Time Queued,Arrived Time,Precinct,Sector,Beat\n";
const US12: &str = "%m/%d/%Y %I:%M:%S %p";
const SEA: &str = "America/Los_Angeles";

fn spd(rows: &str) -> Read {
    read("seattle-spd", &format!("{SPD_HEADER}{rows}"))
}

#[test]
fn seattle_unnamed_first_column_is_read_by_position() {
    let r = spd(
        "2255988,2017000106644,PROBLEM SOLVING PROJECT,ONVIEW,4,REQUEST TO WATCH,--PREMISE CHECKS,03/27/2017 05:02:47 AM,03/27/2017 05:02:47 AM,SOUTH,OCEAN,O3\n",
    );
    assert_eq!(
        r.get("2017000106644", "source_row").as_deref(),
        Some("2255988")
    );
}

#[test]
fn seattle_1900_arrival_is_no_arrival_not_a_negative_time() {
    // 710 rows have Arrived Time = 01/01/1900 12:00:00 AM.
    let r = spd(
        "717846,2018000405368,DUPLICATED OR CANCELLED BY RADIO,911,1,UNKNOWN,UNKNOWN,10/29/2018 05:54:26 PM,01/01/1900 12:00:00 AM,NORTH,LINCOLN,L2\n",
    );
    assert_eq!(r.summary.rejected_rows, 0);
    assert_eq!(r.get("2018000405368", "arrived"), None);
    assert_eq!(
        r.get("2018000405368", "call_received"),
        Some(utc("10/29/2018 05:54:26 PM", US12, SEA))
    );
}

#[test]
fn seattle_onview_arrival_equal_to_queue_is_zero_seconds_and_keeps_its_call_type() {
    // 3,705 ONVIEW rows have Arrived == Queued; policies leave them out by call_type.
    let r = spd(
        "602424,2022000027644,ASSISTANCE RENDERED,ONVIEW,9,-ASSIGNED DUTY,--MISCHIEF,02/02/2022 09:42:35 AM,02/02/2022 09:42:35 AM,WEST,KING,K1\n",
    );
    assert_eq!(
        r.get("2022000027644", "arrived"),
        r.get("2022000027644", "call_received")
    );
    assert_eq!(
        r.get("2022000027644", "call_type").as_deref(),
        Some("ONVIEW")
    );
}

#[test]
fn seattle_unknown_precinct_and_odd_beats_are_kept_as_they_are() {
    // 95 rows: Precinct UNKNOWN, Sector empty, beats such as 99, HS, DET, CTY.
    let r = spd(
        "1,2015000000001,ASSISTANCE RENDERED,911,2,X,Y,01/02/2015 10:00:00 AM,01/02/2015 10:10:00 AM,UNKNOWN,,99\n\
         2,2015000000002,ASSISTANCE RENDERED,911,2,X,Y,01/02/2015 10:00:00 AM,01/02/2015 10:10:00 AM,UNKNOWN,,DET\n",
    );
    assert_eq!(
        r.get("2015000000001", "borough").as_deref(),
        Some("UNKNOWN")
    );
    assert_eq!(r.get("2015000000001", "sector"), None);
    assert_eq!(r.get("2015000000001", "beat").as_deref(), Some("99"));
    assert_eq!(r.get("2015000000002", "beat").as_deref(), Some("DET"));
}

#[test]
fn seattle_priority_minus_one_is_an_ungraded_call_and_other_codes_are_rejects() {
    let r = spd(
        "1,2015000000001,X,ONVIEW,-1,X,Y,01/02/2015 10:00:00 AM,01/02/2015 10:00:00 AM,EAST,EDWARD,E1\n\
         2,2015000000002,X,911,P1,X,Y,01/02/2015 10:00:00 AM,01/02/2015 10:05:00 AM,EAST,EDWARD,E1\n\
         3,2015000000003,X,911,1,X,Y,01/02/2015 10:00:00 AM,01/02/2015 10:05:00 AM,EAST,EDWARD,E1\n",
    );
    assert_eq!(r.get("2015000000001", "grade"), None);
    assert_eq!(r.get("2015000000003", "grade").as_deref(), Some("1"));
    assert_eq!(r.rejects.len(), 1);
    assert_eq!(
        (r.rejects[0].row, r.rejects[0].problem.value.as_str()),
        (2, "P1")
    );
}

#[test]
fn seattle_twelve_hour_clock_and_quoted_commas() {
    // 12:xx AM is just after midnight, 12:xx PM just after noon; fields hold quoted commas.
    let r = spd(
        "4322263,2020000160933,ASSISTANCE RENDERED,911,3,\"CHILD - ABAND, ABUSED, MOLESTED, NEGLECTED\",--DISTURBANCE,05/15/2020 12:23:01 AM,05/15/2020 12:33:28 PM,SOUTH,ROBERT,R1\n",
    );
    let id = "2020000160933";
    assert_eq!(
        r.get(id, "call_received").as_deref(),
        Some("2020-05-15 07:23:01")
    );
    assert_eq!(r.get(id, "arrived").as_deref(), Some("2020-05-15 19:33:28"));
    assert_eq!(
        r.get(id, "initial_call_type").as_deref(),
        Some("CHILD - ABAND, ABUSED, MOLESTED, NEGLECTED")
    );
}

// ---------------------------------------------------------------- SFFD

const SF_HEADER: &str = "Call Number,Unit ID,Incident Number,Call Type,Received DtTm,Entry DtTm,Dispatch DtTm,Response DtTm,\
On Scene DtTm,Available DtTm,Battalion,Station Area,Original Priority,Priority,Final Priority,Call Type Group,Supervisor District,Neighborhood  District\n";

fn sffd(rows: &str) -> Read {
    read("sffd", &format!("{SF_HEADER}{rows}"))
}

fn sf(local: &str) -> String {
    utc(local, US12, SEA)
}

#[test]
fn sffd_unit_rows_join_into_one_call_with_the_first_unit_on_scene() {
    // One row per unit; a call with no unit on scene (131 calls) has no arrival. The unit rows
    // of a call need not be adjacent. 214 rows lack a Response time, 5 an Available time.
    let r = sffd(
        "163664036,E38,16146989,Medical Incident,12/31/2016 11:52:01 PM,12/31/2016 11:55:04 PM,12/31/2016 11:55:20 PM,12/31/2016 11:55:34 PM,01/01/2017 12:00:32 AM,01/01/2017 12:06:02 AM,B04,16,3,3,3,Potentially Life-Threatening,2,Marina\n\
         170010001,E01,17000001,Alarms,01/01/2017 01:00:00 AM,01/01/2017 01:00:30 AM,01/01/2017 01:01:00 AM,,,,B01,01,3,3,3,Alarm,3,Tenderloin\n\
         163664036,AM30,16146989,Medical Incident,12/31/2016 11:52:01 PM,12/31/2016 11:55:04 PM,12/31/2016 11:55:10 PM,12/31/2016 11:56:13 PM,01/01/2017 12:00:47 AM,,B04,16,3,3,3,Potentially Life-Threatening,2,Marina\n\
         163664036,M12,16146989,Medical Incident,12/31/2016 11:52:01 PM,12/31/2016 11:55:04 PM,12/31/2016 11:57:00 PM,,12/31/2016 11:59:59 PM,01/01/2017 01:12:11 AM,B04,16,3,3,3,Potentially Life-Threatening,2,Marina\n",
    );
    assert_eq!(
        (
            r.summary.input_rows,
            r.summary.imported_rows,
            r.summary.records
        ),
        (4, 4, 2)
    );
    let id = "163664036";
    assert_eq!(
        r.get(id, "call_received"),
        Some(sf("12/31/2016 11:52:01 PM"))
    );
    assert_eq!(r.get(id, "dispatched"), Some(sf("12/31/2016 11:55:10 PM")));
    assert_eq!(r.get(id, "arrived"), Some(sf("12/31/2016 11:59:59 PM")));
    assert_eq!(r.get(id, "closed"), Some(sf("01/01/2017 01:12:11 AM")));
    assert_eq!(r.get("170010001", "arrived"), None);
    assert_eq!(r.get("170010001", "closed"), None);
}

#[test]
fn sffd_on_scene_before_en_route_is_taken_as_recorded() {
    // Call 170062627, unit AM08: en route 16:53:46, on scene 16:53:00. slate does not use the
    // en-route clock, so the on-scene time stands.
    let r = sffd(
        "170062627,AM08,17002600,Medical Incident,01/06/2017 04:50:00 PM,01/06/2017 04:51:00 PM,01/06/2017 04:52:00 PM,01/06/2017 04:53:46 PM,01/06/2017 04:53:00 PM,01/06/2017 05:30:00 PM,B02,07,3,3,3,Potentially Life-Threatening,9,Mission\n",
    );
    assert_eq!(
        r.get("170062627", "arrived"),
        Some(sf("01/06/2017 04:53:00 PM"))
    );
}

#[test]
fn sffd_zero_second_clocks_and_long_responses_are_kept() {
    // Entry == Received (1,580 rows), On Scene == Received for B99 priority 2 (median 0 s), and
    // five calls over 100 min, up to 7,713 s (call 170053431, T01).
    let r = sffd(
        "170050001,RS1,17000501,Other,01/05/2017 10:00:00 AM,01/05/2017 10:00:00 AM,01/05/2017 10:00:00 AM,01/05/2017 10:00:00 AM,01/05/2017 10:00:00 AM,01/05/2017 11:00:00 AM,B99,,2,2,2,Other,6,Mission\n\
         170053431,T01,17000531,Structure Fire,01/05/2017 01:00:00 PM,01/05/2017 01:00:10 PM,01/05/2017 01:01:00 PM,01/05/2017 01:02:00 PM,01/05/2017 03:08:33 PM,01/05/2017 05:00:00 PM,B03,01,3,3,3,Fire,3,Tenderloin\n",
    );
    assert_eq!(
        r.get("170050001", "incident_created"),
        r.get("170050001", "call_received")
    );
    assert_eq!(
        r.get("170050001", "arrived"),
        r.get("170050001", "call_received")
    );
    let rcv = r.get("170053431", "call_received").unwrap();
    assert_eq!(r.get("170053431", "arrived"), Some(plus_secs(&rcv, 7713)));
}

#[test]
fn sffd_header_quirks_and_text_codes() {
    // `Neighborhood  District` has two spaces; Supervisor District holds the text "None" in 4
    // rows (missing); Station Area keeps its leading zero.
    let r = sffd(
        "170010002,E01,17000002,Alarms,01/01/2017 01:00:00 AM,,,,,,B01,01,3,3,3,Alarm,None,Financial District/South Beach\n",
    );
    let id = "170010002";
    assert_eq!(
        r.get(id, "neighborhood").as_deref(),
        Some("Financial District/South Beach")
    );
    assert_eq!(r.get(id, "supervisor_district"), None);
    assert_eq!(r.get(id, "station_area").as_deref(), Some("01"));
    assert_eq!(r.get(id, "grade").as_deref(), Some("3"));
}

#[test]
fn sffd_call_crossing_midnight_is_filed_under_the_month_it_was_received() {
    // 19 rows cross midnight; this one also crosses the year.
    let dir = tempfile::tempdir().unwrap();
    let csv = format!(
        "{SF_HEADER}163664050,E39,16146990,Citizen Assist,12/31/2016 11:57:56 PM,12/31/2016 11:59:31 PM,12/31/2016 11:59:42 PM,01/01/2017 12:01:47 AM,01/01/2017 12:04:18 AM,01/01/2017 12:24:11 AM,B08,39,3,3,3,Alarm,7,West of Twin Peaks\n"
    );
    let file = write_tmp(dir.path(), "sf.csv", csv.as_bytes());
    let out = dir.path().join("out");
    let opts = ImportOptions {
        out_dir: out.clone(),
        rejects: None,
        force: false,
        batch_rows: 16,
        provenance: None,
    };
    let report =
        crate::import(&[file], &Mapping::load("sffd").unwrap(), &opts, &mut |_| {}).unwrap();
    assert_eq!(
        report.parts,
        vec![out.join("year=2016/month=12/part-0.parquet")]
    );
    let batches = crate::parquet::read_file(&report.parts[0]).unwrap();
    let rcv = batches[0]
        .column_by_name("call_received")
        .unwrap()
        .as_primitive::<TimestampMicrosecondType>()
        .value(0);
    let arr = batches[0]
        .column_by_name("arrived")
        .unwrap()
        .as_primitive::<TimestampMicrosecondType>()
        .value(0);
    assert_eq!((arr - rcv) / 1_000_000, 6 * 60 + 22);
}

#[test]
fn rows_of_a_call_further_apart_than_the_window_are_rejected_not_duplicated() {
    let text = Mapping::load("sffd")
        .map(|_| crate::mapping::builtin_text("sffd").unwrap())
        .unwrap();
    let narrow = text.replace("window-rows = 100000", "window-rows = 2");
    let m = Mapping::from_toml(&narrow, "narrow").unwrap();
    let row = |call: &str, unit: &str| {
        format!(
            "{call},{unit},1,Alarms,01/01/2017 01:00:00 AM,,,,01/01/2017 01:05:00 AM,,B01,01,3,3,3,Alarm,3,Tenderloin\n"
        )
    };
    let csv = format!(
        "{SF_HEADER}{}{}{}{}{}",
        row("1", "E1"),
        row("2", "E2"),
        row("3", "E3"),
        row("1", "E9"),
        row("2", "E4")
    );
    let r = read_with(&m, csv.as_bytes());
    // Call 1's second row comes 3 rows later: call 1 was already written. Call 2's comes 3 later too.
    assert_eq!(
        (
            r.summary.imported_rows,
            r.summary.rejected_rows,
            r.summary.records
        ),
        (3, 2, 3)
    );
    assert!(
        r.rejects
            .iter()
            .all(|j| j.problem.kind == "incident already written")
    );
    assert_eq!(
        r.rejects.iter().map(|j| j.row).collect::<Vec<_>>(),
        vec![4, 5]
    );
}

// ---------------------------------------------------------------- dirty rows

#[test]
fn bad_timestamp_too_few_fields_bad_utf8_and_missing_id_are_rejects_with_reasons() {
    let mut csv = SPD_HEADER.as_bytes().to_vec();
    csv.extend_from_slice(b"1,2015000000001,X,911,1,X,Y,01/02/2015 10:00:00 AM,01/02/2015 10:05:00 AM,EAST,EDWARD,E1\n");
    csv.extend_from_slice(
        b"2,2015000000002,X,911,1,X,Y,2015-01-02 10:00,01/02/2015 10:05:00 AM,EAST,EDWARD,E1\n",
    );
    csv.extend_from_slice(b"3,2015000000003,X,911,1,X,Y\n");
    csv.extend_from_slice(b"4,2015000000004,X,911,1,X,Y,01/02/2015 10:00:00 AM,01/02/2015 10:05:00 AM,EAST,EDWARD,E1,extra\n");
    csv.extend_from_slice(b"5,2015000000005,X,911,1,X,Y,01/02/2015 10:00:00 AM,01/02/2015 10:05:00 AM,\xff\xfeEAST,EDWARD,E1\n");
    csv.extend_from_slice(
        b"6,,X,911,1,X,Y,01/02/2015 10:00:00 AM,01/02/2015 10:05:00 AM,EAST,EDWARD,E1\n",
    );
    csv.extend_from_slice(b"7,2015000000007,\"a\nmulti-line\nfield\",911,1,X,Y,01/02/2015 10:00:00 AM,13/45/2015 10:05:00 AM,EAST,EDWARD,E1\n");
    let r = read_with(&Mapping::load("seattle-spd").unwrap(), &csv);
    assert_eq!(
        r.summary.accounting(),
        "7 input rows = 1 imported + 6 rejected"
    );
    let got: Vec<(u64, Option<u64>, &str, &str, &str)> = r
        .rejects
        .iter()
        .map(|j| {
            (
                j.row,
                j.line,
                j.problem.column.as_str(),
                j.problem.value.as_str(),
                j.problem.kind,
            )
        })
        .collect();
    assert_eq!(
        got[0],
        (
            2,
            Some(3),
            "Original Time Queued",
            "2015-01-02 10:00",
            "bad timestamp"
        )
    );
    assert_eq!(
        got[1],
        (
            3,
            Some(4),
            "",
            "3,2015000000003,X,911,1,X,Y",
            "too few fields"
        )
    );
    assert_eq!(
        (got[2].0, got[2].1, got[2].2, got[2].4),
        (4, Some(5), "", "too many fields")
    );
    assert_eq!(
        (got[3].0, got[3].2, got[3].4),
        (5, "Precinct", "invalid UTF-8")
    );
    assert_eq!(
        got[4],
        (6, Some(7), "CAD Event Number", "", "missing incident id")
    );
    // A quoted field over three lines: row 7 starts on line 8.
    assert_eq!(
        got[5],
        (
            7,
            Some(8),
            "Arrived Time",
            "13/45/2015 10:05:00 AM",
            "bad timestamp"
        )
    );
    assert!(
        r.rejects[0]
            .problem
            .reason()
            .contains("%m/%d/%Y %I:%M:%S %p")
    );
    assert!(r.rejects[1].problem.reason().ends_with("7 of 12"));
    assert_eq!(r.summary.reasons["bad timestamp"], 2);
}

#[test]
fn the_rejects_file_lists_file_row_line_column_value_and_reason() {
    let dir = tempfile::tempdir().unwrap();
    let csv = format!(
        "{LFB_HEADER}X1,2023-05-01,2023,10:00,Fire,P,D,BRENT,W,200.0,,1.0,364\nX2,2023-05-01,2023,10:00:00,Fire,P,D,BRENT,W,soon,,1.0,364\n"
    );
    let file = write_tmp(dir.path(), "lfb.csv", csv.as_bytes());
    let rejects = dir.path().join("r/rejects.csv");
    let opts = ImportOptions {
        out_dir: dir.path().join("out"),
        rejects: Some(rejects.clone()),
        force: false,
        batch_rows: 16,
        provenance: None,
    };
    let report = crate::import(
        std::slice::from_ref(&file),
        &Mapping::load("lfb").unwrap(),
        &opts,
        &mut |_| {},
    )
    .unwrap();
    assert_eq!(
        report.summary.accounting(),
        "2 input rows = 0 imported + 2 rejected"
    );
    assert!(report.parts.is_empty());
    let text = std::fs::read_to_string(&rejects).unwrap();
    let f = file.display();
    assert_eq!(
        text,
        format!(
            "file,row,line,column,value,reason\n\
             {f},1,2,TimeOfCall,10:00,\"bad timestamp: expected a time \"\"%H:%M:%S\"\"\"\n\
             {f},2,3,FirstPumpArriving_AttendanceTime,soon,not a number: expected seconds\n"
        )
    );
}

#[test]
fn a_custom_mapping_reads_a_parquet_export_with_its_own_names() {
    use arrow::array::StringArray;
    use arrow::datatypes::{Field, Schema};
    use std::sync::Arc;
    let dir = tempfile::tempdir().unwrap();
    let schema = Arc::new(Schema::new(vec![
        Field::new("ref", DataType::Utf8, true),
        Field::new("opened", DataType::Utf8, true),
        Field::new("on_scene", DataType::Utf8, true),
        Field::new("pri", DataType::Utf8, true),
    ]));
    let batch = RecordBatch::try_new(
        schema.clone(),
        vec![
            Arc::new(StringArray::from(vec![Some("a"), Some("b"), None])),
            Arc::new(StringArray::from(vec![
                Some("2024-02-01T10:00:00Z"),
                Some("2024-02-01 10:00:00"),
                Some("2024-02-01 10:00:00"),
            ])),
            Arc::new(StringArray::from(vec![
                Some("2024-02-01T10:07:00+00:00"),
                None,
                Some("x"),
            ])),
            Arc::new(StringArray::from(vec![Some("1"), Some("2"), Some("1")])),
        ],
    )
    .unwrap();
    let file = dir.path().join("export.parquet");
    crate::write_batches(&file, schema, &[batch]).unwrap();
    let m = Mapping::from_toml(
        "name = \"mine\"\ntz = \"Europe/London\"\n[columns.incident_id]\nfrom = \"ref\"\n[columns.call_received]\nfrom = \"opened\"\n\
         [columns.arrived]\nfrom = \"on_scene\"\n[columns.grade]\nfrom = \"pri\"\ncodes = { \"1\" = \"I\", \"2\" = \"S\" }\n",
        "test",
    )
    .unwrap();
    let mut sink = Collect::default();
    let s = crate::read_source(&[file], &m, 8, &mut sink).unwrap();
    assert_eq!(s.accounting(), "3 input rows = 2 imported + 1 rejected");
    assert_eq!(
        (
            sink.rejects[0].row,
            sink.rejects[0].line,
            sink.rejects[0].problem.kind
        ),
        (3, None, "missing incident id")
    );
    let b = &sink.batches[0];
    let grade = b.column_by_name("grade").unwrap().as_string::<i32>();
    assert_eq!((grade.value(0), grade.value(1)), ("I", "S"));
    let arr = b
        .column_by_name("arrived")
        .unwrap()
        .as_primitive::<TimestampMicrosecondType>();
    let rcv = b
        .column_by_name("call_received")
        .unwrap()
        .as_primitive::<TimestampMicrosecondType>();
    assert_eq!(arr.value(0) - rcv.value(0), 7 * 60 * 1_000_000);
    assert!(arr.is_null(1));
}

// ---------------------------------------------------------------- optional columns

/// An ACD (telephony) export: one row per call, hang-up time and outcome. None of the real
/// samples has these fields (see docs/using-your-own-data.md), so the fixture is made up.
const ACD_MAPPING: &str = "name = \"acd\"\ntz = \"Europe/London\"\n\
[columns.incident_id]\nfrom = \"Call ID\"\n[columns.channel]\nfrom = \"Line\"\n\
[columns.call_received]\nfrom = \"Offered\"\n[columns.call_answered]\nfrom = \"Answered\"\n\
[columns.call_ended]\nfrom = \"Disconnected\"\n\
[columns.abandoned]\nfrom = \"Outcome\"\ntrue-values = [\"ABANDONED\"]\n";

#[test]
fn mapping_fills_optional_columns_call_ended_and_abandoned() {
    let m = Mapping::from_toml(ACD_MAPPING, "test").unwrap();
    let r = read_with(
        &m,
        b"Call ID,Line,Offered,Answered,Disconnected,Outcome\n\
          c1,999,2024-01-10 09:00:00,2024-01-10 09:00:04,2024-01-10 09:03:30,HANDLED\n\
          c2,999,2024-01-10 09:01:00,,2024-01-10 09:01:50,ABANDONED\n\
          c3,101,2024-01-10 09:02:00,2024-01-10 09:02:09,,\n\
          c4,999,2024-01-10 09:03:00,2024-01-10 09:03:05,soon,HANDLED\n",
    );
    // Winter: London is UTC, so the UTC text equals the export's.
    assert_eq!(
        r.get("c1", "call_ended").as_deref(),
        Some("2024-01-10 09:03:30")
    );
    assert_eq!(r.get("c1", "abandoned").as_deref(), Some("false"));
    assert_eq!(
        r.get("c2", "call_ended").as_deref(),
        Some("2024-01-10 09:01:50")
    );
    assert_eq!(r.get("c2", "abandoned").as_deref(), Some("true"));
    assert_eq!(r.get("c2", "call_answered"), None);
    assert_eq!(
        (r.get("c3", "call_ended"), r.get("c3", "abandoned")),
        (None, None)
    );
    // A bad optional clock rejects the row and names its column, like any clock.
    assert_eq!(r.rejects.len(), 1);
    assert_eq!(
        (
            r.rejects[0].problem.column.as_str(),
            r.rejects[0].problem.kind
        ),
        ("Disconnected", "bad timestamp")
    );
    // Output order: canonical columns, mapped optional columns in the schema's list order.
    let schema = crate::record::output_schema(&m);
    let names: Vec<&str> = schema.fields().iter().map(|f| f.name().as_str()).collect();
    let canonical = slate_core::schema::COLUMNS.len();
    assert_eq!(&names[canonical..], &["call_ended", "abandoned"]);
    let ext = slate_core::schema::extended_schema();
    for n in ["call_ended", "abandoned"] {
        assert_eq!(
            schema.field_with_name(n).unwrap().data_type(),
            ext.field_with_name(n).unwrap().data_type()
        );
    }
}

#[test]
fn mapping_optional_clock_as_seconds_after_a_canonical_clock_and_absent_when_unmapped() {
    let m = Mapping::from_toml(
        "[columns.incident_id]\nfrom = \"id\"\n[columns.call_received]\nfrom = \"in\"\n\
         [columns.call_answered]\nfrom = \"ans\"\n\
         [columns.call_ended]\nseconds = \"talk\"\nafter = \"call_answered\"\n",
        "test",
    )
    .unwrap();
    let r = read_with(
        &m,
        b"id,in,ans,talk\na,2024-01-10 09:00:00,2024-01-10 09:00:07,125.4\nb,2024-01-10 09:00:00,,30\n",
    );
    assert_eq!(
        r.get("a", "call_ended").as_deref(),
        Some(plus_secs("2024-01-10 09:00:07", 125).as_str())
    );
    // No answer clock to count from: no end.
    assert_eq!(r.get("b", "call_ended"), None);
    // `abandoned` is not mapped: the column is absent, as in Parquet data without it.
    let schema = crate::record::output_schema(&m);
    assert!(schema.field_with_name("abandoned").is_err());
    assert!(!r.rows["a"].contains_key("abandoned"));
    // A built-in mapping of an incident export has neither.
    let lfb = crate::record::output_schema(&Mapping::load("lfb").unwrap());
    assert!(lfb.field_with_name("call_ended").is_err());
}

#[test]
fn mapping_errors_name_optional_columns_and_their_rules() {
    let e = |toml: &str| {
        Mapping::from_toml(
            &format!("[columns.incident_id]\nfrom = \"id\"\n{toml}"),
            "t",
        )
        .unwrap_err()
        .to_string()
    };
    let s = e("[columns.hung_up]\nfrom = \"x\"\n");
    assert!(
        s.contains("optional: ") && s.contains("call_ended") && s.contains("abandoned"),
        "{s}"
    );
    let s = e("[columns.abandoned]\nfrom = \"x\"\nformat = \"%Y\"\n");
    assert!(s.contains("columns.abandoned.format"), "{s}");
    let s = e("[columns.call_ended]\nseconds = \"x\"\nafter = \"call_answered\"\n");
    assert!(
        s.contains("columns.call_ended.after") && s.contains("not mapped"),
        "{s}"
    );
    let s = e("[keep]\ncall_ended = \"x\"\n");
    assert!(s.contains("keep.call_ended"), "{s}");
}

/// The promise columns (issue 12) map like the call-handling ones: a clock, a flag and a text
/// column of a survey export, typed as the canonical schema types them.
#[test]
fn mapping_fills_promise_columns_of_each_kind() {
    let m = Mapping::from_toml(
        "name = \"survey\"\ntz = \"Europe/London\"\n\
         [columns.incident_id]\nfrom = \"Ref\"\n[columns.call_received]\nfrom = \"Reported\"\n\
         [columns.surveyed]\nfrom = \"Interviewed\"\n\
         [columns.satisfied]\nfrom = \"Overall\"\ntrue-values = [\"Satisfied\"]\n\
         [columns.respondent_group]\nfrom = \"Ethnicity\"\n",
        "test",
    )
    .unwrap();
    let schema = crate::record::output_schema(&m);
    let names: Vec<&str> = schema.fields().iter().map(|f| f.name().as_str()).collect();
    let canonical = slate_core::schema::COLUMNS.len();
    assert_eq!(
        &names[canonical..],
        &["surveyed", "satisfied", "respondent_group"]
    );
    let r = read_with(
        &m,
        b"Ref,Reported,Interviewed,Overall,Ethnicity\n\
          s1,2024-01-10 09:00:00,2024-03-01 12:00:00,Satisfied,White\n\
          s2,2024-01-11 10:00:00,2024-03-02 12:30:00,Dissatisfied,Black and minority ethnic\n",
    );
    assert_eq!(
        r.get("s1", "surveyed").as_deref(),
        Some("2024-03-01 12:00:00")
    );
    assert_eq!(r.get("s1", "satisfied").as_deref(), Some("true"));
    assert_eq!(r.get("s2", "satisfied").as_deref(), Some("false"));
    assert_eq!(
        r.get("s2", "respondent_group").as_deref(),
        Some("Black and minority ethnic")
    );
}

// ------------------------------------------------- clocks in the repeated hour

/// A made-up export across both clock changes of 2024 in London and New York, the records
/// built so that the four `ambiguous` rules read them differently (see each row's note).
const AMBIGUOUS_HEADER: &str = "id,received,answered,created,dispatched,arrived,closed,ended\n";

/// London: BST ends 2024-10-27 02:00 (01:00-01:59 twice), begins 2024-03-31 01:00 (skipped).
const LONDON_ROWS: &str = "\
L1,2024-10-27 01:40:00,2024-10-27 01:40:30,2024-10-27 01:41:00,2024-10-27 01:43:00,2024-10-27 01:05:00,2024-10-27 02:30:00,
L2,2024-10-27 01:58:00,2024-10-27 01:58:22,2024-10-27 02:01:00,2024-10-27 02:03:00,2024-10-27 02:10:00,2024-10-27 03:00:00,2024-10-27 02:05:54
L3,2024-10-27 01:30:00,2024-10-27 01:31:00,2024-10-27 00:50:00,,,,
L4,2024-10-27 01:10:00,2024-10-27 01:11:00,2024-10-27 01:12:00,2024-10-27 01:15:00,2024-10-27 01:25:00,2024-10-27 01:50:00,
L5,2024-10-27 12:00:00,2024-10-27 12:00:10,2024-10-27 12:01:00,2024-10-27 12:02:00,2024-10-27 12:09:00,2024-10-27 13:00:00,2024-10-27 12:03:00
L6,2024-03-31 01:30:00,2024-03-31 02:31:00,,,,,
";

/// New York: EDT ends 2024-11-03 02:00 (01:00-01:59 twice), begins 2024-03-10 02:00 (skipped);
/// `arrived` is `travel` seconds after `dispatched` here, so it follows dispatch's reading.
const NEW_YORK_ROWS: &str = "\
N1,2024-11-03 01:50:00,2024-11-03 01:50:20,2024-11-03 01:51:00,2024-11-03 01:55:00,420,2024-11-03 01:20:00,
N2,2024-11-03 01:30:00,2024-11-03 01:30:40,2024-11-03 00:45:00,,,,
N3,2024-11-03 01:20:00,2024-11-03 01:20:30,2024-11-03 01:22:00,2024-11-03 01:24:00,300,2024-11-03 01:45:00,2024-11-03 01:26:00
N4,2024-11-03 09:00:00,2024-11-03 09:00:20,2024-11-03 09:01:00,2024-11-03 09:02:00,600,2024-11-03 10:00:00,2024-11-03 09:04:00
N5,2024-03-10 02:30:00,2024-03-10 03:31:00,,,,,
";

fn ambiguous_mapping(zone: &str, arrived_after: bool, rule: Option<&str>) -> Mapping {
    let arrived = if arrived_after {
        "[columns.arrived]\nseconds = \"arrived\"\nafter = \"dispatched\"\n"
    } else {
        "[columns.arrived]\nfrom = \"arrived\"\n"
    };
    let rule = rule.map_or(String::new(), |r| format!("ambiguous = \"{r}\"\n"));
    Mapping::from_toml(
        &format!(
            "name = \"made-up\"\ntz = \"{zone}\"\n{rule}\
             [columns.incident_id]\nfrom = \"id\"\n\
             [columns.call_received]\nfrom = \"received\"\n\
             [columns.call_answered]\nfrom = \"answered\"\n\
             [columns.incident_created]\nfrom = \"created\"\n\
             [columns.dispatched]\nfrom = \"dispatched\"\n{arrived}\
             [columns.closed]\nfrom = \"closed\"\n\
             [columns.call_ended]\nfrom = \"ended\"\n"
        ),
        "made-up",
    )
    .unwrap()
}

/// The oracle, with chrono-tz alone: one export row's clocks (in `AMBIGUOUS_HEADER` order;
/// `arrived` is seconds after dispatch when `arrived_after`) as UTC text under `rule`, or
/// `None` when the record is excluded. For `order` every combination of instants of the
/// ambiguous readings is tried: it keeps order when the present lifecycle clocks do not go
/// backwards and `ended` is not before `answered`; the smallest sum of those gaps wins, ties
/// to the fewest later readings, then to the lowest binary number (first ambiguous clock the
/// lowest bit); none keeping order reads all as earlier.
fn oracle_record(
    fields: &[&str],
    zone: &str,
    arrived_after: bool,
    rule: &str,
) -> Option<Vec<Option<String>>> {
    use chrono::TimeZone;
    let tz: chrono_tz::Tz = zone.parse().unwrap();
    // Per clock: the instants it may mean (one or two), in µs.
    let mut options: Vec<Option<Vec<i64>>> = Vec::new();
    for (i, f) in fields[1..].iter().enumerate() {
        if f.is_empty() || (arrived_after && i == 4) {
            options.push(None);
            continue;
        }
        let naive = NaiveDateTime::parse_from_str(f, YMD_HMS).unwrap();
        options.push(Some(match tz.from_local_datetime(&naive) {
            chrono::LocalResult::Single(d) => vec![d.timestamp_micros()],
            chrono::LocalResult::Ambiguous(a, b) => {
                let (a, b) = (a.timestamp_micros(), b.timestamp_micros());
                vec![a.min(b), a.max(b)]
            }
            // The skipped hour: read with the offset before the change (as documented).
            chrono::LocalResult::None => {
                let before = tz
                    .from_local_datetime(&(naive - chrono::Duration::hours(3)))
                    .single()
                    .unwrap();
                let off = before.offset().fix().local_minus_utc();
                vec![(naive.and_utc().timestamp() - i64::from(off)) * 1_000_000]
            }
        }));
    }
    use chrono::Offset;
    let ambiguous: Vec<usize> = (0..7)
        .filter(|&i| options[i].as_ref().is_some_and(|o| o.len() == 2))
        .collect();
    let travel = (arrived_after && !fields[5].is_empty())
        .then(|| fields[5].parse::<i64>().unwrap() * 1_000_000);
    let value = |choice: &[bool], i: usize| -> Option<i64> {
        if i == 4
            && let Some(t) = travel
        {
            return Some(options[3].as_ref()?[usize::from(choice[3])] + t);
        }
        options[i]
            .as_ref()
            .map(|o| o[usize::from(choice[i]) % o.len()])
    };
    let all = |later: bool| {
        let mut c = [false; 7];
        ambiguous.iter().for_each(|&i| c[i] = later);
        c
    };
    let choice = match rule {
        _ if ambiguous.is_empty() => all(false),
        "earlier" => all(false),
        "later" => all(true),
        "exclude" => return None,
        "order" => {
            let mut best: Option<((i64, usize, u32), [bool; 7])> = None;
            for mask in 0..(1u32 << ambiguous.len()) {
                let mut c = [false; 7];
                for (k, &i) in ambiguous.iter().enumerate() {
                    c[i] = mask >> k & 1 == 1;
                }
                let chain: Vec<i64> = (0..6).filter_map(|i| value(&c, i)).collect();
                let mut ok = chain.windows(2).all(|w| w[0] <= w[1]);
                let mut span = chain.last().zip(chain.first()).map_or(0, |(l, f)| l - f);
                if let (Some(a), Some(e)) = (value(&c, 1), value(&c, 6)) {
                    ok &= a <= e;
                    span += e - a;
                }
                let key = (span, c.iter().filter(|&&x| x).count(), mask);
                if ok && best.as_ref().is_none_or(|(b, _)| key < *b) {
                    best = Some((key, c));
                }
            }
            best.map_or(all(false), |(_, c)| c)
        }
        other => panic!("rule {other}"),
    };
    Some(
        (0..7)
            .map(|i| {
                value(&choice, i).map(|us| {
                    DateTime::from_timestamp_micros(us)
                        .unwrap()
                        .format("%Y-%m-%d %H:%M:%S")
                        .to_string()
                })
            })
            .collect(),
    )
}

const CLOCK_COLUMNS: [&str; 7] = [
    "call_received",
    "call_answered",
    "incident_created",
    "dispatched",
    "arrived",
    "closed",
    "call_ended",
];

/// Each rule, in London and New York: every clock of every record equals the oracle's, and
/// excluded records are rejects (one per row) with reason `ambiguous_local_time`.
#[test]
fn ambiguous_rules_agree_with_an_independent_reading() {
    for (zone, rows, after) in [
        ("Europe/London", LONDON_ROWS, false),
        ("America/New_York", NEW_YORK_ROWS, true),
    ] {
        for rule in ["earlier", "later", "exclude", "order"] {
            let m = ambiguous_mapping(zone, after, Some(rule));
            let r = read_with(&m, format!("{AMBIGUOUS_HEADER}{rows}").as_bytes());
            let mut excluded = 0;
            for line in rows.lines() {
                let fields: Vec<&str> = line.split(',').collect();
                let id = fields[0];
                match oracle_record(&fields, zone, after, rule) {
                    None => {
                        excluded += 1;
                        assert!(!r.rows.contains_key(id), "{zone} {rule} {id} read");
                    }
                    Some(expected) => {
                        for (col, want) in CLOCK_COLUMNS.iter().zip(expected) {
                            assert_eq!(r.get(id, col), want, "{zone} {rule} {id} {col}");
                        }
                    }
                }
            }
            let s = &r.summary;
            assert_eq!(
                s.local.repeated.ambiguous,
                s.local.repeated.earlier
                    + s.local.repeated.later
                    + s.local.repeated.unordered
                    + s.local.repeated.excluded,
                "{zone} {rule}"
            );
            assert_eq!(s.local.skipped, 1, "{zone} {rule}");
            // Records without an ambiguous reading are read under every rule; the others
            // are rejects, one per row, under `exclude` only.
            let n = if rule == "exclude" { excluded } else { 0 };
            let with_ambiguous = if zone == "Europe/London" { 4 } else { 3 };
            assert_eq!(excluded, if rule == "exclude" { with_ambiguous } else { 0 });
            assert_eq!(r.rejects.len(), n, "{zone} {rule}: {:?}", r.rejects);
            assert_eq!(s.local.repeated.excluded_records, n as u64);
            assert!(
                r.rejects
                    .iter()
                    .all(|j| j.problem.kind == "ambiguous_local_time" && j.row > 0)
            );
            let counts = (
                s.local.repeated.ambiguous,
                s.local.repeated.earlier,
                s.local.repeated.later,
                s.local.repeated.unordered,
            );
            let want = match (zone, rule) {
                ("Europe/London", "order") => (15, 10, 3, 2),
                ("Europe/London", "earlier") => (15, 15, 0, 0),
                ("Europe/London", "later") => (15, 0, 15, 0),
                ("Europe/London", _) => (15, 0, 0, 0),
                (_, "order") => (13, 10, 1, 2),
                (_, "earlier") => (13, 13, 0, 0),
                (_, "later") => (13, 0, 13, 0),
                _ => (13, 0, 0, 0),
            };
            assert_eq!(counts, want, "{zone} {rule}");
        }
    }
    // The records as built, read off the rows by hand (London is UTC+1 before the change).
    let m = ambiguous_mapping("Europe/London", false, None);
    let r = read_with(&m, format!("{AMBIGUOUS_HEADER}{LONDON_ROWS}").as_bytes());
    // L1: created in the first pass, attended in the second.
    assert_eq!(r.get("L1", "dispatched").unwrap(), "2024-10-27 00:43:00");
    assert_eq!(r.get("L1", "arrived").unwrap(), "2024-10-27 01:05:00");
    // L2: a call answered at 01:58:22 and ended at 02:05:54 lasted 7 min 32 s, not 67.
    assert_eq!(r.get("L2", "call_answered").unwrap(), "2024-10-27 01:58:22");
    // L3: out of order whichever way; L4: in order either way, so the earlier.
    assert_eq!(r.get("L3", "call_received").unwrap(), "2024-10-27 00:30:00");
    assert_eq!(r.get("L4", "closed").unwrap(), "2024-10-27 00:50:00");
    assert_eq!(r.summary.ambiguous, slate_core::Ambiguous::Order);
    let lines = r.summary.describe("Europe/London");
    assert!(
        lines.iter().any(|l| l.contains(
            "15 ambiguous (ambiguous = order: 10 kept in order as the earlier instant, 3 as the later, 2 could not be ordered (read as the earlier))"
        )),
        "{lines:?}"
    );
}
