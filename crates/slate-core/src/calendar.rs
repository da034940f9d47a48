//! Calendar arithmetic on local days: cell grains and reporting windows.
//!
//! Days are counted from 1970-01-01 (Arrow's `Date32`). A record's cell is the *grain unit*
//! (day, ISO week or month) of its measure's start time in the report zone; every window is a
//! union of grain units, so windows are built by merging cells, never by re-reading records.

use std::fmt;
use std::str::FromStr;

/// Civil date of a day number (Howard Hinnant's `civil_from_days`).
pub fn ymd_of_day(day: i32) -> (i32, u32, u32) {
    let z = i64::from(day) + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    ((if m <= 2 { y + 1 } else { y }) as i32, m, d)
}

/// Day number of a civil date (Howard Hinnant's `days_from_civil`).
pub fn day_of_ymd(y: i32, m: u32, d: u32) -> i32 {
    let y = i64::from(if m <= 2 { y - 1 } else { y });
    let era = y.div_euclid(400);
    let yoe = y.rem_euclid(400);
    let m = i64::from(m);
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + i64::from(d) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    (era * 146_097 + doe - 719_468) as i32
}

/// A date written `YYYY-MM-DD` as `(year, month, day)`; `None` unless it is one. The year must
/// have four digits, so `24-06-01` is not read as the year 24 (nor `224-06-01` as 224); month
/// and day may have one digit or two.
pub fn parse_ymd(text: &str) -> Option<(i32, u32, u32)> {
    let mut parts = text.trim().split('-');
    let (y, m, d) = (parts.next()?, parts.next()?, parts.next()?);
    let digits = |p: &str, n: std::ops::RangeInclusive<usize>| {
        n.contains(&p.len()) && p.bytes().all(|b| b.is_ascii_digit())
    };
    if parts.next().is_some() || !digits(y, 4..=4) || !digits(m, 1..=2) || !digits(d, 1..=2) {
        return None;
    }
    let (y, m, d) = (y.parse().ok()?, m.parse().ok()?, d.parse().ok()?);
    (ymd_of_day(day_of_ymd(y, m, d)) == (y, m, d)).then_some((y, m, d))
}

/// [`parse_ymd`] as a chrono date; the error quotes the text and says what a date looks like.
pub fn parse_date(text: &str) -> Result<chrono::NaiveDate, String> {
    parse_ymd(text)
        .and_then(|(y, m, d)| chrono::NaiveDate::from_ymd_opt(y, m, d))
        .ok_or_else(|| {
            format!("{text:?} is not a date YYYY-MM-DD (a four-digit year, e.g. 2024-06-01)")
        })
}

/// The finest unit slate aggregates at for a run; every window of the run is a union of them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Grain {
    /// A local calendar day.
    Day,
    /// An ISO week, Monday to Sunday.
    Week,
    /// A calendar month.
    Month,
}

impl Grain {
    /// The unit (day number, week number or month number) holding local day `day`.
    #[inline]
    pub fn unit_of_day(self, day: i32) -> i32 {
        match self {
            Grain::Day => day,
            // 1970-01-01 was a Thursday: day + 3 counts from Monday 1969-12-29.
            Grain::Week => (day + 3).div_euclid(7),
            Grain::Month => {
                let (y, m, _) = ymd_of_day(day);
                y * 12 + m as i32 - 1
            }
        }
    }

    /// First local day of a unit.
    pub fn first_day(self, unit: i32) -> i32 {
        match self {
            Grain::Day => unit,
            Grain::Week => unit * 7 - 3,
            Grain::Month => day_of_ymd(unit.div_euclid(12), unit.rem_euclid(12) as u32 + 1, 1),
        }
    }
}

/// A family of reporting windows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum WindowKind {
    /// Each local calendar day.
    Day,
    /// Each ISO week (Monday to Sunday).
    Week,
    /// Each calendar month.
    Month,
    /// Each calendar quarter.
    Quarter,
    /// Each UK fiscal year, April to March.
    FiscalYear,
    /// Each calendar year.
    Year,
    /// For each month, the twelve months ending with it, pooled.
    Rolling12m,
}

impl WindowKind {
    /// Every kind, in display order.
    pub const ALL: [WindowKind; 7] = [
        WindowKind::Day,
        WindowKind::Week,
        WindowKind::Month,
        WindowKind::Quarter,
        WindowKind::FiscalYear,
        WindowKind::Year,
        WindowKind::Rolling12m,
    ];

    /// Name on the command line and in the `window` output column.
    pub fn name(self) -> &'static str {
        match self {
            WindowKind::Day => "day",
            WindowKind::Week => "week",
            WindowKind::Month => "month",
            WindowKind::Quarter => "quarter",
            WindowKind::FiscalYear => "fiscal-year",
            WindowKind::Year => "year",
            WindowKind::Rolling12m => "rolling-12m",
        }
    }

    /// The grain whose units tile this kind's windows.
    pub fn grain(self) -> Grain {
        match self {
            WindowKind::Day => Grain::Day,
            WindowKind::Week => Grain::Week,
            _ => Grain::Month,
        }
    }

    /// Windows (by id) that a grain unit belongs to: one, or twelve for rolling-12m.
    pub fn windows_of_unit(self, unit: i32) -> std::ops::RangeInclusive<i32> {
        let w = match self {
            WindowKind::Day | WindowKind::Week | WindowKind::Month => unit,
            WindowKind::Quarter => unit.div_euclid(3),
            // Month numbers count from January; a fiscal year starts in April (month 3).
            WindowKind::FiscalYear => (unit - 3).div_euclid(12),
            WindowKind::Year => unit.div_euclid(12),
            WindowKind::Rolling12m => return unit..=unit + 11,
        };
        w..=w
    }

    /// The grain units making up a window, first and last inclusive.
    pub fn units_of_window(self, window: i32) -> (i32, i32) {
        match self {
            WindowKind::Day | WindowKind::Week | WindowKind::Month => (window, window),
            WindowKind::Quarter => (window * 3, window * 3 + 2),
            WindowKind::FiscalYear => (window * 12 + 3, window * 12 + 14),
            WindowKind::Year => (window * 12, window * 12 + 11),
            WindowKind::Rolling12m => (window - 11, window),
        }
    }

    /// First local day of a window and the day after its last (`[start, end)`).
    pub fn bounds(self, window: i32) -> (i32, i32) {
        let (first, last) = self.units_of_window(window);
        let g = self.grain();
        (g.first_day(first), g.first_day(last + 1))
    }
}

impl fmt::Display for WindowKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for WindowKind {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        WindowKind::ALL
            .into_iter()
            .find(|k| k.name() == s)
            .ok_or_else(|| {
                let names: Vec<_> = WindowKind::ALL.iter().map(|k| k.name()).collect();
                format!("unknown window {s:?}; expected one of {}", names.join(", "))
            })
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn dates_need_four_digit_years() {
        assert_eq!(parse_ymd("2024-06-01"), Some((2024, 6, 1)));
        assert_eq!(parse_ymd(" 2024-6-1 "), Some((2024, 6, 1)));
        assert_eq!(parse_ymd("2024-02-29"), Some((2024, 2, 29)));
        for bad in [
            "24-06-01",
            "224-06-01",
            "02024-06-01",
            "+2024-06-01",
            "2023-02-29",
            "2024-13-01",
            "2024-00-10",
            "2024-06-001",
            "2024-06",
            "2024-06-01-",
            "",
            "2024/06/01",
            "２０２４-06-01",
        ] {
            assert_eq!(parse_ymd(bad), None, "{bad:?}");
        }
        let e = parse_date("24-06-01").unwrap_err();
        assert_eq!(
            e,
            "\"24-06-01\" is not a date YYYY-MM-DD (a four-digit year, e.g. 2024-06-01)"
        );
        assert_eq!(
            parse_date("2024-06-01"),
            Ok(chrono::NaiveDate::from_ymd_opt(2024, 6, 1).unwrap())
        );
    }

    use super::*;
    use chrono::{Datelike, NaiveDate};
    use proptest::prelude::*;

    fn epoch() -> NaiveDate {
        NaiveDate::from_ymd_opt(1970, 1, 1).unwrap()
    }

    proptest! {
        #[test]
        fn civil_conversions_agree_with_chrono(day in -200_000i32..200_000) {
            let date = epoch() + chrono::Days::new(0) + chrono::TimeDelta::days(i64::from(day));
            prop_assert_eq!(ymd_of_day(day), (date.year(), date.month(), date.day()));
            prop_assert_eq!(day_of_ymd(date.year(), date.month(), date.day()), day);
        }

        #[test]
        fn every_day_lies_in_its_windows(day in -50_000i32..50_000) {
            let date = epoch() + chrono::TimeDelta::days(i64::from(day));
            for kind in WindowKind::ALL {
                let unit = kind.grain().unit_of_day(day);
                for w in kind.windows_of_unit(unit) {
                    let (s, e) = kind.bounds(w);
                    prop_assert!(s <= day && day < e, "{kind} {date}");
                }
            }
            let week = Grain::Week.first_day(Grain::Week.unit_of_day(day));
            let monday = epoch() + chrono::TimeDelta::days(i64::from(week));
            prop_assert_eq!(monday.weekday(), chrono::Weekday::Mon);
            prop_assert_eq!(monday.iso_week(), date.iso_week());
        }
    }

    #[test]
    fn fiscal_year_runs_april_to_march() {
        let march = Grain::Month.unit_of_day(day_of_ymd(2024, 3, 31));
        let april = Grain::Month.unit_of_day(day_of_ymd(2024, 4, 1));
        let fy_march = *WindowKind::FiscalYear.windows_of_unit(march).start();
        let fy_april = *WindowKind::FiscalYear.windows_of_unit(april).start();
        assert_eq!(fy_april, fy_march + 1);
        assert_eq!(
            WindowKind::FiscalYear.bounds(fy_april),
            (day_of_ymd(2024, 4, 1), day_of_ymd(2025, 4, 1))
        );
        let r = WindowKind::Rolling12m.bounds(april);
        assert_eq!(r, (day_of_ymd(2023, 5, 1), day_of_ymd(2024, 5, 1)));
    }
}
