//! Working days: the UK bank-holiday calendars and "within N working days".
//!
//! Promises such as "acknowledge a complaint within two working days" count whole working days
//! on local dates, not elapsed time. The definition slate uses:
//!
//! - a **working day** is a Monday to Friday that is not a bank holiday of the calendar (nor a
//!   closure a service adds in its own calendar file);
//! - the **deadline** of "within N working days" is the end (local midnight) of the N-th working
//!   day after the local date of the start; the start's own date never counts, whatever time of
//!   day the record arrived and whether or not it is a working day;
//! - a record is **within N working days** when its stop's local date is no later than that
//!   deadline day. A stop on a weekend or bank holiday after the deadline day is late: the N-th
//!   working day had ended (a complaint received on Monday 2024-12-23 and acknowledged on
//!   Saturday 2024-12-28 missed "within 2", whose last day was Friday 27th);
//! - the **working days taken** (the value the percentiles describe) agree with that: the working
//!   days after the start's date up to and including the stop's date, where a stop on a day that
//!   is not a working day counts as made on the next working day (unless it is on the start's own
//!   date: taken 0). So "taken <= N" is exactly "stopped by the deadline", and the same
//!   Saturday acknowledgement took 3 working days.
//!
//! This is the reading of deadline-driven procedures (a reply "within 20 working days" is due by
//! the end of the 20th working day after receipt, the day of receipt not counted) and of
//! business-hours SLA clocks in service-desk tools, which stop accruing time outside working hours
//! but still breach once the last working day has ended. Counting only the working days up to the
//! stop's date (so that the Saturday acknowledgement "took 2") would call a reply late by the
//! deadline within the promise.
//!
//! Worked examples (England and Wales): a complaint received on Thursday 2023-12-21 and
//! acknowledged on Wednesday 2023-12-27 took 2 working days (Friday 22nd and Wednesday 27th;
//! Christmas Day and Boxing Day are holidays) and is within 2. One received on Thursday
//! 2024-03-28 (before Good Friday) and acknowledged on Wednesday 2024-04-03 took 2 (Tuesday 2nd,
//! Wednesday 3rd: Good Friday and Easter Monday do not count). One received on Friday
//! 2024-05-24 and acknowledged on Wednesday 2024-05-29 took 2 (the late-May bank holiday,
//! Monday 27th, does not count). One received on Monday 2024-12-23 and acknowledged on Boxing
//! Day (Thursday 26th) took 2 (Tuesday 24th, then Boxing Day counts as Friday 27th's): within 2.
//!
//! The built-in calendars hold the bank holidays of [`FIRST_YEAR`]..=[`LAST_YEAR`], made from
//! the standing rules (the Banking and Financial Dealings Act 1971 and the royal proclamations
//! that move or add days) plus every one-off holiday proclaimed since 1999. Dates outside
//! those years are an error, not a guess; years after the last one gov.uk has published are
//! the standing rules' projection (a one-off holiday announced later is not known).

use std::collections::BTreeSet;

use serde::Deserialize;

use crate::calendar::{day_of_ymd, ymd_of_day};
use crate::error::{Error, Result};

/// First year the built-in calendars cover.
pub const FIRST_YEAR: i32 = 2000;
/// Last year the built-in calendars cover.
pub const LAST_YEAR: i32 = 2035;

/// Names of the built-in calendars.
pub const BUILTIN_CALENDARS: [&str; 3] = ["england-and-wales", "scotland", "northern-ireland"];

/// The UK nations' bank-holiday rules.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Nation {
    EnglandAndWales,
    Scotland,
    NorthernIreland,
}

/// A working-day calendar over [`FIRST_YEAR`]..=[`LAST_YEAR`]: answers "how many working days
/// after this date, up to that one" in constant time from a prefix count.
#[derive(Debug, Clone, PartialEq)]
pub struct WorkCalendar {
    name: String,
    first_day: i32,
    /// `prefix[i]`: working days in `[first_day, first_day + i)`.
    prefix: Vec<u32>,
    holidays: BTreeSet<i32>,
}

/// A service's own calendar, as written in TOML.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
struct CalendarFile {
    name: Option<String>,
    /// A built-in calendar to start from.
    base: Option<String>,
    /// Extra non-working dates (YYYY-MM-DD).
    #[serde(default)]
    closed: Vec<String>,
    /// Bank holidays of the base that are worked after all.
    #[serde(default)]
    open: Vec<String>,
}

fn weekday(day: i32) -> u32 {
    // 1970-01-01 was a Thursday; 0 = Monday.
    (day + 3).rem_euclid(7) as u32
}

/// Easter Sunday (Gregorian; the anonymous algorithm in Meeus, Astronomical Algorithms).
fn easter(y: i32) -> i32 {
    let a = y % 19;
    let b = y / 100;
    let c = y % 100;
    let d = b / 4;
    let e = b % 4;
    let f = (b + 8) / 25;
    let g = (b - f + 1) / 3;
    let h = (19 * a + b - d - g + 15) % 30;
    let i = c / 4;
    let k = c % 4;
    let l = (32 + 2 * e + 2 * i - h - k) % 7;
    let m = (a + 11 * h + 22 * l) / 451;
    let month = (h + l - 7 * m + 114) / 31;
    let day = (h + l - 7 * m + 114) % 31 + 1;
    day_of_ymd(y, month as u32, day as u32)
}

/// The first Monday on or after `day`.
fn monday_from(day: i32) -> i32 {
    day + ((7 - weekday(day) as i32) % 7)
}

/// The last Monday on or before `day`.
fn monday_until(day: i32) -> i32 {
    day - weekday(day) as i32
}

/// A fixed date that moves to the next weekday not already taken when it falls on a weekend.
fn substitute(holidays: &mut BTreeSet<i32>, day: i32) {
    let mut d = day;
    while weekday(d) >= 5 || holidays.contains(&d) {
        d += 1;
    }
    holidays.insert(d);
}

/// Bank holidays of one year in one nation.
fn bank_holidays(nation: Nation, y: i32) -> BTreeSet<i32> {
    let ymd = |m: u32, d: u32| day_of_ymd(y, m, d);
    let mut h = BTreeSet::new();
    // New Year (and 2 January in Scotland): pairs substitute in order, so a Saturday 1st gives
    // Monday 3rd and Tuesday 4th.
    substitute(&mut h, ymd(1, 1));
    if nation == Nation::Scotland {
        substitute(&mut h, ymd(1, 2));
    }
    if nation == Nation::NorthernIreland {
        substitute(&mut h, ymd(3, 17)); // St Patrick's Day
    }
    let e = easter(y);
    h.insert(e - 2); // Good Friday
    if nation != Nation::Scotland {
        h.insert(e + 1); // Easter Monday
    }
    // Early May: the first Monday, moved to the Friday 8 May for VE Day's 50th and 75th.
    h.insert(match y {
        1995 | 2020 => ymd(5, 8),
        _ => monday_from(ymd(5, 1)),
    });
    // Spring: the last Monday of May, moved for the Golden, Diamond and Platinum Jubilees.
    h.insert(match y {
        2002 => ymd(6, 4),
        2012 => ymd(6, 4),
        2022 => ymd(6, 2),
        _ => monday_until(ymd(5, 31)),
    });
    if nation == Nation::NorthernIreland {
        substitute(&mut h, ymd(7, 12)); // Battle of the Boyne
    }
    // Summer: the first Monday of August in Scotland, the last elsewhere.
    h.insert(match nation {
        Nation::Scotland => monday_from(ymd(8, 1)),
        _ => monday_until(ymd(8, 31)),
    });
    if nation == Nation::Scotland && y >= 2007 {
        // St Andrew's Day Bank Holiday (Scotland) Act 2007.
        substitute(&mut h, ymd(11, 30));
    }
    substitute(&mut h, ymd(12, 25));
    substitute(&mut h, ymd(12, 26));
    // One-off proclamations, the same in every nation.
    let one_offs: &[(u32, u32)] = match y {
        1999 => &[(12, 31)],        // Millennium
        2002 => &[(6, 3)],          // Golden Jubilee
        2011 => &[(4, 29)],         // Royal wedding
        2012 => &[(6, 5)],          // Diamond Jubilee
        2022 => &[(6, 3), (9, 19)], // Platinum Jubilee; State Funeral of Queen Elizabeth II
        2023 => &[(5, 8)],          // Coronation of King Charles III
        _ => &[],
    };
    h.extend(one_offs.iter().map(|&(m, d)| ymd(m, d)));
    h
}

fn parse_date(text: &str, origin: &str) -> Result<i32> {
    let (y, m, d) = crate::calendar::parse_ymd(text).ok_or_else(|| Error::InvalidCalendar {
        origin: origin.to_string(),
        reason: format!("{text:?} is not a date (YYYY-MM-DD, a four-digit year)"),
    })?;
    Ok(day_of_ymd(y, m, d))
}

impl WorkCalendar {
    /// A built-in calendar: `england-and-wales`, `scotland` or `northern-ireland`.
    pub fn builtin(name: &str) -> Result<Self> {
        let nation = match name {
            "england-and-wales" => Nation::EnglandAndWales,
            "scotland" => Nation::Scotland,
            "northern-ireland" => Nation::NorthernIreland,
            _ => return Err(Error::UnknownCalendar(name.to_string())),
        };
        let holidays = (FIRST_YEAR..=LAST_YEAR)
            .flat_map(|y| bank_holidays(nation, y))
            .collect();
        Ok(Self::new(name, holidays))
    }

    /// A calendar file's TOML: `name`, `base` (a built-in calendar; none means every weekday
    /// works), `closed` (extra non-working dates) and `open` (holidays worked). `origin` names
    /// the file in errors and is the calendar's name when the file gives none. (Reading the
    /// file is slate-io's `policy` module: slate-core reads no files.)
    pub fn from_toml(text: &str, origin: &str) -> Result<Self> {
        let spec = origin;
        let bad = |reason: String| Error::InvalidCalendar {
            origin: spec.to_string(),
            reason,
        };
        let file: CalendarFile = toml::from_str(text).map_err(|e| bad(e.to_string()))?;
        let mut holidays = match &file.base {
            Some(b) => Self::builtin(b)?.holidays,
            None => BTreeSet::new(),
        };
        for d in &file.closed {
            holidays.insert(parse_date(d, spec)?);
        }
        for d in &file.open {
            holidays.remove(&parse_date(d, spec)?);
        }
        Ok(Self::new(file.name.as_deref().unwrap_or(spec), holidays))
    }

    /// A calendar of these non-working days besides weekends (what [`WorkCalendar::holidays`]
    /// gives back): how a calendar travels to another process.
    pub fn from_holidays(name: &str, holidays: impl IntoIterator<Item = i32>) -> Self {
        Self::new(name, holidays.into_iter().collect())
    }

    fn new(name: &str, holidays: BTreeSet<i32>) -> Self {
        let first_day = day_of_ymd(FIRST_YEAR, 1, 1);
        let end = day_of_ymd(LAST_YEAR + 1, 1, 1);
        let mut prefix = Vec::with_capacity((end - first_day + 1) as usize);
        let mut n = 0u32;
        prefix.push(0);
        for d in first_day..end {
            if weekday(d) < 5 && !holidays.contains(&d) {
                n += 1;
            }
            prefix.push(n);
        }
        WorkCalendar {
            name: name.to_string(),
            first_day,
            prefix,
            holidays,
        }
    }

    /// The calendar's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    fn index(&self, day: i32) -> Result<usize> {
        let i = i64::from(day) - i64::from(self.first_day);
        if i < 0 || i >= self.prefix.len() as i64 - 1 {
            let (y, m, d) = ymd_of_day(day);
            return Err(Error::OutsideCalendar {
                calendar: self.name.clone(),
                date: format!("{y:04}-{m:02}-{d:02}"),
            });
        }
        Ok(i as usize)
    }

    /// Whether local day `day` (days since 1970-01-01) is a working day.
    pub fn is_working_day(&self, day: i32) -> Result<bool> {
        let i = self.index(day)?;
        Ok(self.prefix[i + 1] > self.prefix[i])
    }

    /// The bank holidays and closures of the calendar (weekends aside), as day numbers.
    pub fn holidays(&self) -> impl Iterator<Item = i32> + '_ {
        self.holidays.iter().copied()
    }

    /// Working days after `start` up to and including `stop` (negative when `stop` is before
    /// `start`: minus the working days after `stop` up to and including `start`).
    pub fn working_days_between(&self, start: i32, stop: i32) -> Result<i64> {
        let (a, b) = (self.index(start)?, self.index(stop)?);
        Ok(i64::from(self.prefix[b + 1]) - i64::from(self.prefix[a + 1]))
    }

    /// The working days a record took from local day `start` to local day `stop >= start`: the
    /// working days after `start` up to and including `stop`, where a `stop` that is not a working
    /// day (and not `start` itself) counts as the next working day. `taken <= n` exactly when
    /// `stop` is no later than [`WorkCalendar::nth_working_day_after`]`(start, n)`; see the module
    /// docs for why. A `stop` before `start` gives the negative count of
    /// [`WorkCalendar::working_days_between`].
    pub fn working_days_taken(&self, start: i32, stop: i32) -> Result<i64> {
        let n = self.working_days_between(start, stop)?;
        // The next working day after a non-working stop adds one, whether or not it falls
        // inside the calendar's years.
        Ok(n + i64::from(stop > start && !self.is_working_day(stop)?))
    }

    /// The `n`-th working day after `start` (`n >= 1`): a deadline of "within n working days"
    /// ends with this day.
    pub fn nth_working_day_after(&self, start: i32, n: u32) -> Result<i32> {
        let a = self.index(start)?;
        let target = self.prefix[a + 1] + n;
        // The first index whose prefix reaches the target is one past that working day.
        let i = self.prefix.partition_point(|&p| p < target);
        if i >= self.prefix.len() {
            return Err(Error::OutsideCalendar {
                calendar: self.name.clone(),
                date: format!("{n} working days after day {start}"),
            });
        }
        Ok(self.first_day + i as i32 - 1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn day(s: &str) -> i32 {
        parse_date(s, "test").unwrap()
    }

    fn listed(cal: &WorkCalendar, year: i32) -> Vec<String> {
        cal.holidays()
            .filter(|&d| ymd_of_day(d).0 == year)
            .map(|d| {
                let (y, m, dd) = ymd_of_day(d);
                format!("{y:04}-{m:02}-{dd:02}")
            })
            .collect()
    }

    /// The dates gov.uk publishes (www.gov.uk/bank-holidays), typed from it: an independent list,
    /// not the rules above.
    #[test]
    fn bank_holidays_match_the_published_lists() {
        let ew = WorkCalendar::builtin("england-and-wales").unwrap();
        let published: &[(i32, &[&str])] = &[
            (
                2019,
                &[
                    "01-01", "04-19", "04-22", "05-06", "05-27", "08-26", "12-25", "12-26",
                ],
            ),
            (
                2020,
                &[
                    "01-01", "04-10", "04-13", "05-08", "05-25", "08-31", "12-25", "12-28",
                ],
            ),
            (
                2021,
                &[
                    "01-01", "04-02", "04-05", "05-03", "05-31", "08-30", "12-27", "12-28",
                ],
            ),
            (
                2022,
                &[
                    "01-03", "04-15", "04-18", "05-02", "06-02", "06-03", "08-29", "09-19",
                    "12-26", "12-27",
                ],
            ),
            (
                2023,
                &[
                    "01-02", "04-07", "04-10", "05-01", "05-08", "05-29", "08-28", "12-25", "12-26",
                ],
            ),
            (
                2024,
                &[
                    "01-01", "03-29", "04-01", "05-06", "05-27", "08-26", "12-25", "12-26",
                ],
            ),
            (
                2025,
                &[
                    "01-01", "04-18", "04-21", "05-05", "05-26", "08-25", "12-25", "12-26",
                ],
            ),
            (
                2026,
                &[
                    "01-01", "04-03", "04-06", "05-04", "05-25", "08-31", "12-25", "12-28",
                ],
            ),
        ];
        let sc = WorkCalendar::builtin("scotland").unwrap();
        let scotland: &[(i32, &[&str])] = &[
            (
                2021,
                &[
                    "01-01", "01-04", "04-02", "05-03", "05-31", "08-02", "11-30", "12-27", "12-28",
                ],
            ),
            (
                2022,
                &[
                    "01-03", "01-04", "04-15", "05-02", "06-02", "06-03", "08-01", "09-19",
                    "11-30", "12-26", "12-27",
                ],
            ),
            (
                2023,
                &[
                    "01-02", "01-03", "04-07", "05-01", "05-08", "05-29", "08-07", "11-30",
                    "12-25", "12-26",
                ],
            ),
        ];
        let ni = WorkCalendar::builtin("northern-ireland").unwrap();
        let northern_ireland: &[(i32, &[&str])] = &[
            (
                2022,
                &[
                    "01-03", "03-17", "04-15", "04-18", "05-02", "06-02", "06-03", "07-12",
                    "08-29", "09-19", "12-26", "12-27",
                ],
            ),
            (
                2023,
                &[
                    "01-02", "03-17", "04-07", "04-10", "05-01", "05-08", "05-29", "07-12",
                    "08-28", "12-25", "12-26",
                ],
            ),
        ];
        for (cal, lists) in [(&ew, published), (&sc, scotland), (&ni, northern_ireland)] {
            for (y, dates) in lists {
                let want: Vec<String> = dates.iter().map(|d| format!("{y}-{d}")).collect();
                assert_eq!(listed(cal, *y), want, "{} {y}", cal.name());
            }
        }
    }

    #[test]
    fn worked_examples_around_christmas_easter_and_late_may() {
        let ew = WorkCalendar::builtin("england-and-wales").unwrap();
        let wd = |a: &str, b: &str| ew.working_days_between(day(a), day(b)).unwrap();
        assert_eq!(wd("2023-12-21", "2023-12-27"), 2);
        assert_eq!(wd("2023-12-21", "2023-12-25"), 1); // the plain count of working days
        assert_eq!(wd("2024-03-28", "2024-04-03"), 2);
        assert_eq!(wd("2024-05-24", "2024-05-29"), 2);
        assert_eq!(wd("2024-05-24", "2024-05-24"), 0);
        assert_eq!(wd("2024-05-29", "2024-05-24"), -2);
        assert_eq!(
            ew.nth_working_day_after(day("2023-12-21"), 2).unwrap(),
            day("2023-12-27")
        );
        assert_eq!(
            ew.nth_working_day_after(day("2024-03-28"), 1).unwrap(),
            day("2024-04-02")
        );
        // Saturday start: the first working day after it is Monday.
        assert_eq!(
            ew.nth_working_day_after(day("2024-06-01"), 1).unwrap(),
            day("2024-06-03")
        );
        assert!(!ew.is_working_day(day("2022-09-19")).unwrap());
        assert!(ew.is_working_day(day("2022-09-20")).unwrap());
    }

    /// The edges where "working days up to the stop's date" and "by the end of the N-th working
    /// day" used to disagree: each value agrees with the deadline.
    #[test]
    fn working_days_taken_agree_with_the_deadline_at_the_edges() {
        let ew = WorkCalendar::builtin("england-and-wales").unwrap();
        let taken = |a: &str, b: &str| ew.working_days_taken(day(a), day(b)).unwrap();
        // Received Monday 23 December 2024: 2 working days end with Friday 27th (Tuesday 24th,
        // then Christmas and Boxing Day are holidays).
        assert_eq!(
            ew.nth_working_day_after(day("2024-12-23"), 2).unwrap(),
            day("2024-12-27")
        );
        assert_eq!(taken("2024-12-23", "2024-12-27"), 2); // Friday: the last day, within
        assert_eq!(taken("2024-12-23", "2024-12-28"), 3); // Saturday after the deadline: late
        assert_eq!(taken("2024-12-23", "2024-12-29"), 3); // Sunday: the same
        assert_eq!(taken("2024-12-23", "2024-12-30"), 3); // Monday, any hour: late
        assert_eq!(taken("2024-12-23", "2024-12-26"), 2); // Boxing Day: counts as Friday's
        assert_eq!(taken("2024-12-23", "2024-12-25"), 2); // Christmas Day: the same
        assert_eq!(taken("2024-12-23", "2024-12-24"), 1);
        assert_eq!(taken("2024-12-23", "2024-12-23"), 0); // the same day
        // Received Christmas Eve, acknowledged Boxing Day: the next working day is Friday.
        assert_eq!(taken("2024-12-24", "2024-12-26"), 1);
        // Started on a non-working day (Saturday 28th): Monday 30th is the first working day,
        // Wednesday 1 January a holiday, so 2 working days end with Thursday 2nd.
        assert_eq!(
            ew.nth_working_day_after(day("2024-12-28"), 2).unwrap(),
            day("2024-12-31")
        );
        assert_eq!(taken("2024-12-28", "2024-12-28"), 0); // handled the same Saturday
        assert_eq!(taken("2024-12-28", "2024-12-29"), 1); // Sunday counts as Monday's
        assert_eq!(taken("2024-12-28", "2024-12-31"), 2);
        assert_eq!(taken("2024-12-28", "2025-01-01"), 3); // New Year's Day, after Tuesday 31st
        assert_eq!(taken("2024-12-28", "2025-01-02"), 3);
        // Before the start: the negative count, as working_days_between.
        assert_eq!(taken("2024-05-29", "2024-05-24"), -2);
    }

    /// A naive count, day by day, against the prefix arithmetic; "taken <= n" against the
    /// deadline day for every n.
    #[test]
    fn counts_equal_a_day_by_day_walk() {
        let sc = WorkCalendar::builtin("scotland").unwrap();
        let base = day("2021-12-01");
        for a in 0..60 {
            for b in a..a + 30 {
                let mut n = 0;
                for d in base + a + 1..=base + b {
                    if weekday(d) < 5 && !sc.holidays.contains(&d) {
                        n += 1;
                    }
                }
                assert_eq!(sc.working_days_between(base + a, base + b).unwrap(), n);
                let taken = sc.working_days_taken(base + a, base + b).unwrap();
                for k in 1..12 {
                    let deadline = sc.nth_working_day_after(base + a, k).unwrap();
                    assert_eq!(taken <= i64::from(k), base + b <= deadline, "{a} {b} {k}");
                }
                // Taken 0 only on the start's own date: "within 0" is "the same day".
                assert_eq!(taken == 0, a == b);
                if n > 0 {
                    let nth = sc.nth_working_day_after(base + a, n as u32).unwrap();
                    assert!(nth <= base + b && sc.is_working_day(nth).unwrap());
                }
            }
        }
    }

    #[test]
    fn bad_names_and_dates_are_clear_errors() {
        let e = WorkCalendar::builtin("wales").unwrap_err().to_string();
        assert!(
            e.contains("wales") && e.contains("england-and-wales"),
            "{e}"
        );
        let ew = WorkCalendar::builtin("england-and-wales").unwrap();
        let e = ew
            .working_days_between(day("1999-12-01"), day("2000-01-05"))
            .unwrap_err();
        assert!(e.to_string().contains("1999-12-01"), "{e}");
        let own = WorkCalendar::from_toml(
            "name = \"service\"\nbase = \"england-and-wales\"\nclosed = [\"2024-12-24\"]\nopen = [\"2024-12-26\"]\n",
            "service.toml",
        )
        .unwrap();
        assert_eq!(own.name(), "service");
        assert!(!own.is_working_day(day("2024-12-24")).unwrap());
        assert!(own.is_working_day(day("2024-12-26")).unwrap());
        let e = WorkCalendar::from_toml("closed = [\"2024-02-30\"]\n", "c.toml")
            .unwrap_err()
            .to_string();
        assert!(e.contains("2024-02-30") && e.contains("c.toml"), "{e}");
        // A two-digit year is not the year 24.
        let e = WorkCalendar::from_toml("closed = [\"24-12-24\"]\n", "c.toml")
            .unwrap_err()
            .to_string();
        assert!(e.contains("\"24-12-24\" is not a date"), "{e}");
    }
}
