//! Time-zone rules as a flat table of UTC offset transitions.
//!
//! Windows are calendar days in a local zone, and naive CAD clocks are local wall time, so
//! every record needs an instant -> local-day or a local -> instant conversion. chrono-tz answers
//! each with a search of its own tables; [`TzRules`] precomputes the transitions of 1900-2100 once
//! so that the per-row work is one binary search (a cache hit for time-ordered data), and
//! falls back to chrono-tz outside that range.

use chrono::{DateTime, NaiveDateTime, Offset, TimeZone};
use chrono_tz::Tz;

use crate::error::{Error, Result};

const SECS_PER_DAY: i64 = 86_400;
/// 1900-01-01T00:00:00Z and 2100-01-01T00:00:00Z.
const TABLE_FROM: i64 = -2_208_988_800;
const TABLE_TO: i64 = 4_102_444_800;

/// How a naive local clock reading was turned into an instant.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LocalResolution {
    /// The local time occurs exactly once.
    Exact,
    /// The local time occurs twice (clocks went back); the earlier instant was taken.
    Ambiguous,
    /// The local time never occurs (clocks went forward); it was moved forward by the gap,
    /// i.e. read with the offset in force before the change.
    Skipped,
}

/// Precomputed UTC offsets of one IANA zone.
#[derive(Debug, Clone)]
pub struct TzRules {
    tz: Tz,
    /// UTC seconds at which the offset changes, ascending.
    transitions: Vec<i64>,
    /// `offsets[i]` is in force on `[transitions[i-1], transitions[i])`; one more than transitions.
    offsets: Vec<i32>,
}

impl TzRules {
    /// Parses an IANA zone name such as `Europe/London`.
    pub fn from_name(name: &str) -> Result<Self> {
        let tz: Tz = name
            .parse()
            .map_err(|_| Error::UnknownTimeZone(name.to_string()))?;
        Ok(Self::new(tz))
    }

    /// Builds the transition table of `tz`.
    pub fn new(tz: Tz) -> Self {
        let offset_at = |t: i64| chrono_offset(tz, t);
        let mut transitions = Vec::new();
        let mut offsets = vec![offset_at(TABLE_FROM)];
        // Every real zone keeps an offset for more than 6 hours, so sampling at that step and
        // bisecting each change finds every transition.
        const STEP: i64 = 6 * 3600;
        let mut t = TABLE_FROM;
        let mut cur = offsets[0];
        while t < TABLE_TO {
            let next = t + STEP;
            let o = offset_at(next);
            if o != cur {
                let (mut lo, mut hi) = (t, next); // offset(lo) == cur, offset(hi) == o
                while hi - lo > 1 {
                    let mid = lo + (hi - lo) / 2;
                    if offset_at(mid) == cur {
                        lo = mid;
                    } else {
                        hi = mid;
                    }
                }
                transitions.push(hi);
                offsets.push(o);
                cur = o;
            }
            t = next;
        }
        TzRules {
            tz,
            transitions,
            offsets,
        }
    }

    /// The zone.
    pub fn tz(&self) -> Tz {
        self.tz
    }

    /// The zone's IANA name.
    pub fn name(&self) -> &'static str {
        self.tz.name()
    }

    /// UTC offset in seconds at UTC instant `t` (seconds since the epoch).
    #[inline]
    pub fn offset_at(&self, t: i64) -> i32 {
        if (TABLE_FROM..TABLE_TO).contains(&t) {
            self.offsets[self.transitions.partition_point(|&x| x <= t)]
        } else {
            chrono_offset(self.tz, t)
        }
    }

    /// The UTC offset at instant `t` (seconds) and the span `[from, until)` of instants
    /// around `t` that share it, for callers that cache per span. Outside the table the
    /// span is `t` alone.
    pub fn offset_span(&self, t: i64) -> (i32, i64, i64) {
        if (TABLE_FROM..TABLE_TO).contains(&t) {
            let i = self.transitions.partition_point(|&x| x <= t);
            let from = if i == 0 {
                TABLE_FROM
            } else {
                self.transitions[i - 1]
            };
            let until = self.transitions.get(i).copied().unwrap_or(TABLE_TO);
            (self.offsets[i], from, until)
        } else {
            (chrono_offset(self.tz, t), t, t + 1)
        }
    }

    /// The local calendar day (days since 1970-01-01) of UTC instant `t` (seconds).
    #[inline]
    pub fn local_day(&self, t: i64) -> i32 {
        (t + i64::from(self.offset_at(t))).div_euclid(SECS_PER_DAY) as i32
    }

    /// The instant (UTC seconds) of a naive local reading (seconds since 1970-01-01 local).
    pub fn local_to_instant(&self, local: i64) -> (i64, LocalResolution) {
        // Offsets in force a day either side; no zone changes offset twice within a day.
        let before = self.offset_at(local - SECS_PER_DAY);
        let after = self.offset_at(local + SECS_PER_DAY);
        let valid = |o: i32| self.offset_at(local - i64::from(o)) == o;
        match (valid(before), valid(after), before == after) {
            (true, _, true) => (local - i64::from(before), LocalResolution::Exact),
            (true, true, false) => {
                let (a, b) = (local - i64::from(before), local - i64::from(after));
                (a.min(b), LocalResolution::Ambiguous)
            }
            (true, false, false) => (local - i64::from(before), LocalResolution::Exact),
            (false, true, _) => (local - i64::from(after), LocalResolution::Exact),
            (false, false, _) => (local - i64::from(before), LocalResolution::Skipped),
        }
    }
}

fn chrono_offset(tz: Tz, t: i64) -> i32 {
    let utc = DateTime::from_timestamp(t, 0)
        .unwrap_or(DateTime::UNIX_EPOCH)
        .naive_utc();
    tz.offset_from_utc_datetime(&utc).fix().local_minus_utc()
}

/// Seconds since the epoch of a naive date-time (as if it were UTC).
pub fn naive_secs(dt: NaiveDateTime) -> i64 {
    dt.and_utc().timestamp()
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{LocalResult, NaiveDate};

    fn ndt(s: &str) -> NaiveDateTime {
        NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M:%S").unwrap()
    }

    #[test]
    fn london_transitions_and_days() {
        let r = TzRules::from_name("Europe/London").unwrap();
        // 2023-03-26 01:00Z clocks go forward; 2023-10-29 01:00Z they go back.
        let spring = naive_secs(ndt("2023-03-26 01:00:00"));
        assert_eq!(r.offset_at(spring - 1), 0);
        assert_eq!(r.offset_at(spring), 3600);
        // 23:30Z on a summer day is 00:30 local the next day.
        let t = naive_secs(ndt("2023-07-01 23:30:00"));
        let next_day = NaiveDate::from_ymd_opt(2023, 7, 2).unwrap();
        let epoch = NaiveDate::from_ymd_opt(1970, 1, 1).unwrap();
        assert_eq!(
            r.local_day(t),
            next_day.signed_duration_since(epoch).num_days() as i32
        );
    }

    #[test]
    fn ambiguous_and_skipped_local_times_follow_the_rule() {
        let r = TzRules::from_name("Europe/London").unwrap();
        // 01:30 on 2023-10-29 happens twice: the earlier is 00:30Z (BST).
        let (t, res) = r.local_to_instant(naive_secs(ndt("2023-10-29 01:30:00")));
        assert_eq!(res, LocalResolution::Ambiguous);
        assert_eq!(t, naive_secs(ndt("2023-10-29 00:30:00")));
        // 01:30 on 2023-03-26 never happens: read with GMT, it is 01:30Z = 02:30 BST.
        let (t, res) = r.local_to_instant(naive_secs(ndt("2023-03-26 01:30:00")));
        assert_eq!(res, LocalResolution::Skipped);
        assert_eq!(t, naive_secs(ndt("2023-03-26 01:30:00")));
        let (t, res) = r.local_to_instant(naive_secs(ndt("2023-07-01 12:00:00")));
        assert_eq!(res, LocalResolution::Exact);
        assert_eq!(t, naive_secs(ndt("2023-07-01 11:00:00")));
    }

    #[test]
    fn table_agrees_with_chrono_tz_everywhere_sampled() {
        for name in [
            "Europe/London",
            "America/Los_Angeles",
            "Australia/Lord_Howe",
            "Asia/Kolkata",
        ] {
            let r = TzRules::from_name(name).unwrap();
            let tz = r.tz();
            // A prime step walks through every time of day across 1900..2100 and beyond.
            let mut t = TABLE_FROM - 86_400 * 400;
            while t < TABLE_TO + 86_400 * 400 {
                assert_eq!(r.offset_at(t), chrono_offset(tz, t), "{name} at {t}");
                // The span holds t, keeps the offset throughout, and ends at a change.
                let (o, from, until) = r.offset_span(t);
                assert!(from <= t && t < until, "{name} at {t}: [{from}, {until})");
                assert_eq!(o, chrono_offset(tz, t));
                assert_eq!(chrono_offset(tz, from), o, "{name} span start {from}");
                assert_eq!(chrono_offset(tz, until - 1), o, "{name} span end {until}");
                let local = t + 7_919;
                let (inst, res) = r.local_to_instant(local);
                let naive = DateTime::from_timestamp(local, 0).unwrap().naive_utc();
                match tz.from_local_datetime(&naive) {
                    LocalResult::Single(d) => {
                        assert_eq!(
                            (inst, res),
                            (d.timestamp(), LocalResolution::Exact),
                            "{name} {naive}"
                        )
                    }
                    LocalResult::Ambiguous(a, b) => assert_eq!(
                        (inst, res),
                        (a.timestamp().min(b.timestamp()), LocalResolution::Ambiguous)
                    ),
                    LocalResult::None => {
                        assert_eq!(res, LocalResolution::Skipped, "{name} {naive}")
                    }
                }
                t += 86_400 * 3 + 3_607;
            }
        }
    }

    #[test]
    fn unknown_zone_is_an_error() {
        assert!(TzRules::from_name("Mars/Olympus").is_err());
    }
}
