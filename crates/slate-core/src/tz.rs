//! Time-zone rules as a flat table of UTC offset transitions.
//!
//! Windows are calendar days in a local zone, and naive CAD clocks are local wall time, so
//! every record needs an instant -> local-day or a local -> instant conversion. chrono-tz answers
//! each with a search of its own tables; [`TzRules`] precomputes the transitions of 1900-2100 once
//! so that the per-row work is one binary search (a cache hit for time-ordered data), and
//! falls back to chrono-tz outside that range.

use chrono::{DateTime, NaiveDateTime, Offset, TimeZone};
use chrono_tz::Tz;

use crate::ambiguous::Reading;
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
    /// The local time occurs twice (clocks went back); [`TzRules::local_to_instant`] takes
    /// the earlier instant, [`crate::ambiguous`] decides per record.
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
    ///
    /// Tables are built once per zone and process: building one samples 200 years of offsets
    /// (~25 ms), and `slate run` asked for its zone four times, a tenth of a 1M-row run's
    /// instructions (callgrind).
    pub fn from_name(name: &str) -> Result<Self> {
        use std::collections::HashMap;
        use std::sync::{Mutex, OnceLock};
        static BUILT: OnceLock<Mutex<HashMap<Tz, TzRules>>> = OnceLock::new();
        let tz: Tz = name
            .parse()
            .map_err(|_| Error::UnknownTimeZone(name.to_string()))?;
        let built = BUILT.get_or_init(Default::default);
        if let Some(r) = built.lock().ok().and_then(|m| m.get(&tz).cloned()) {
            return Ok(r);
        }
        let r = Self::new(tz);
        if let Ok(mut m) = built.lock() {
            m.insert(tz, r.clone());
        }
        Ok(r)
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

    /// The instant (UTC seconds) of a naive local reading (seconds since 1970-01-01 local);
    /// the earlier of two in a repeated hour (see [`TzRules::local_readings`] for both).
    pub fn local_to_instant(&self, local: i64) -> (i64, LocalResolution) {
        let (r, res) = self.local_readings(local);
        (r.earlier, res)
    }

    /// Both instants (UTC seconds) a naive local reading may mean: equal unless the reading
    /// is in a repeated hour ([`LocalResolution::Ambiguous`]).
    pub fn local_readings(&self, local: i64) -> (Reading, LocalResolution) {
        // Offsets in force a day either side; no zone changes offset twice within a day.
        let before = self.offset_at(local - SECS_PER_DAY);
        let after = self.offset_at(local + SECS_PER_DAY);
        let valid = |o: i32| self.offset_at(local - i64::from(o)) == o;
        let at = |o: i32| Reading::exact(local - i64::from(o));
        match (valid(before), valid(after), before == after) {
            (true, _, true) => (at(before), LocalResolution::Exact),
            (true, true, false) => {
                let (a, b) = (local - i64::from(before), local - i64::from(after));
                let r = Reading {
                    earlier: a.min(b),
                    later: a.max(b),
                };
                (r, LocalResolution::Ambiguous)
            }
            (true, false, false) => (at(before), LocalResolution::Exact),
            (false, true, _) => (at(after), LocalResolution::Exact),
            (false, false, _) => (at(before), LocalResolution::Skipped),
        }
    }
}

impl TzRules {
    /// The span of naive local readings around `local` (seconds, local wall time) that all
    /// resolve [`LocalResolution::Exact`] with one UTC offset, as `(offset, from, until)`:
    /// every `x` in `[from, until)` has `local_to_instant(x) == (x - offset, Exact)`. For
    /// callers that cache per span, so that naive clocks cost two comparisons a row instead
    /// of three table searches. `None` when `local` is ambiguous or skipped, when the
    /// offsets around it change within 3 days (the reasoning below needs longer spans), or
    /// near and outside the table's ends (there chrono-tz decides, row by row).
    ///
    /// Why the span is exact: let the offset `o` be in force on the instants `[a, b)`, with
    /// `p` before `a` and `n` from `b` on, each of the three spans at least 3 days long.
    /// A local `x` with `a + max(o, p) <= x < b + min(o, n)` has `x - o` in `[a, b)`, so `o`
    /// is valid for it; `p` is not (`x - p` lies in `[a, b)` whenever `local_to_instant`
    /// looks at `p`, i.e. `x - 1 day < a`), nor is `n`, symmetrically; and the offsets a
    /// day either side are `{p, o}` and `{o, n}`, not both the neighbours. So exactly one
    /// reading exists and it is `x - o`.
    pub fn local_span(&self, local: i64) -> Option<(i32, i64, i64)> {
        const MIN_SPAN: i64 = 3 * SECS_PER_DAY;
        const MARGIN: i64 = 2 * SECS_PER_DAY;
        let (lo_ok, hi_ok) = (TABLE_FROM + MARGIN, TABLE_TO - MARGIN);
        if !(lo_ok..hi_ok).contains(&local) {
            return None;
        }
        let (inst, res) = self.local_to_instant(local);
        if res != LocalResolution::Exact {
            return None;
        }
        let i = self.transitions.partition_point(|&x| x <= inst);
        let o = self.offsets[i];
        if i64::from(o) != local - inst {
            return None;
        }
        // Instants [from, until) of offset o, and the spans either side.
        let bound = |k: usize| -> i64 {
            match k {
                0 => TABLE_FROM,
                k if k > self.transitions.len() => TABLE_TO,
                k => self.transitions[k - 1],
            }
        };
        let (from, until) = (bound(i), bound(i + 1));
        let long = |k: usize| bound(k + 1) - bound(k) >= MIN_SPAN;
        if !long(i) || (i > 0 && !long(i - 1)) || (i + 1 < self.offsets.len() && !long(i + 1)) {
            return None;
        }
        let prev = if i > 0 { self.offsets[i - 1] } else { o };
        let next = self.offsets.get(i + 1).copied().unwrap_or(o);
        let lo = (from + i64::from(o.max(prev))).max(lo_ok);
        let hi = (until + i64::from(o.min(next))).min(hi_ok);
        (lo <= local && local < hi).then_some((o, lo, hi))
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
        let (both, _) = r.local_readings(naive_secs(ndt("2023-10-29 01:30:00")));
        assert_eq!(both.later, naive_secs(ndt("2023-10-29 01:30:00")));
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
                    LocalResult::Ambiguous(a, b) => {
                        assert_eq!(
                            (inst, res),
                            (a.timestamp().min(b.timestamp()), LocalResolution::Ambiguous)
                        );
                        let (both, _) = r.local_readings(local);
                        assert_eq!(both.later, a.timestamp().max(b.timestamp()));
                    }
                    LocalResult::None => {
                        assert_eq!(res, LocalResolution::Skipped, "{name} {naive}")
                    }
                }
                t += 86_400 * 3 + 3_607;
            }
        }
    }

    /// Every reading of a local span resolves exactly with the span's offset, the span ends
    /// next to a reading that does not (or at a limit), and readings that are not exact get
    /// no span; around DST changes (London, Lord Howe's 30 minutes, Sao Paulo at midnight,
    /// Samoa skipping a day), for fixed zones and near the table's ends.
    #[test]
    fn local_spans_agree_with_local_to_instant() {
        let mut seed = 0x5eed_u64;
        let mut next = move || {
            seed = seed
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            seed >> 33
        };
        for name in [
            "Europe/London",
            "Australia/Lord_Howe",
            "America/Sao_Paulo",
            "Pacific/Apia",
            "Asia/Kolkata",
            "UTC",
            "Etc/GMT+5",
        ] {
            let r = TzRules::from_name(name).unwrap();
            // Transitions (and table ends) give the edges; random readings near each.
            let mut centres: Vec<i64> = r.transitions.clone();
            centres.extend([TABLE_FROM, TABLE_TO, 0, 1_700_000_000]);
            for &c in &centres {
                for _ in 0..8 {
                    let local = c + (next() % (6 * 86_400)) as i64 - 3 * 86_400;
                    let exact = r.local_to_instant(local);
                    let Some((o, lo, hi)) = r.local_span(local) else {
                        continue;
                    };
                    assert!(lo <= local && local < hi, "{name} {local}: [{lo}, {hi})");
                    assert_eq!(exact, (local - i64::from(o), LocalResolution::Exact));
                    let width = (hi - lo) as u64;
                    for x in [
                        lo,
                        hi - 1,
                        lo + (next() % width) as i64,
                        lo + (next() % width) as i64,
                    ] {
                        assert_eq!(
                            r.local_to_instant(x),
                            (x - i64::from(o), LocalResolution::Exact),
                            "{name}: {x} in [{lo}, {hi}) offset {o}"
                        );
                    }
                    // Every second next to the ends, where the offsets change.
                    for x in (lo..(lo + 60).min(hi)).chain((hi - 60).max(lo)..hi) {
                        assert_eq!(
                            r.local_to_instant(x),
                            (x - i64::from(o), LocalResolution::Exact),
                            "{name}: {x} in [{lo}, {hi}) offset {o}"
                        );
                    }
                }
            }
            // Ambiguous and skipped readings never get a span.
            for &t in &r.transitions {
                for d in [-5_400i64, -1_800, -1, 0, 1, 1_800, 5_400] {
                    let local = t + d + i64::from(r.offset_at(t));
                    if r.local_to_instant(local).1 != LocalResolution::Exact {
                        assert!(r.local_span(local).is_none(), "{name} {local}");
                    }
                }
            }
        }
        // A fixed zone is one span over the table.
        let utc = TzRules::from_name("UTC").unwrap();
        let (o, lo, hi) = utc.local_span(1_700_000_000).unwrap();
        assert_eq!(o, 0);
        assert!(lo < -2_000_000_000 && hi > 4_000_000_000);
    }

    #[test]
    fn unknown_zone_is_an_error() {
        assert!(TzRules::from_name("Mars/Olympus").is_err());
    }
}
